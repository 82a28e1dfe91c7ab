"""rasterstats (PyPI) forest ha per commune: Σ mask × pixel area over the pixels
whose centre is inside the polygon (rasterstats' default, not exact coverage).

Timed by compare.py; its error against the exact figures is reported, not checked.
"""

import argparse
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import load_features, parse_epoch_rasters, write_result  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vec", required=True, help="GeoJSON in the rasters' CRS")
    ap.add_argument("--code-field", required=True)
    ap.add_argument("--raster", action="append", required=True, help="EPOCH=PATH (repeat)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    import rasterio
    from rasterstats import zonal_stats

    warnings.simplefilter("ignore")  # "Setting nodata to -999": the masks declare none
    feats = load_features(Path(a.vec))
    out = {str(f["properties"][a.code_field]): {} for f in feats}
    for epoch, path in parse_epoch_rasters(a.raster):
        with rasterio.open(path) as ds:
            t = ds.transform
            area = abs(t.a * t.e)
        stats = zonal_stats(feats, path, stats="sum", nodata=255)
        for f, s in zip(feats, stats):
            out[str(f["properties"][a.code_field])][epoch] = (s["sum"] or 0.0) * area / 10_000.0
    write_result(Path(a.out), "rasterstats", out)


if __name__ == "__main__":
    main()
