"""exactextract (PyPI) forest ha per commune: Σ coverage × mask × pixel area.

Timed by compare.py. One call computes every epoch (a list of rasters, one "sum"
per raster), which is the fastest way to use the Python package.

exactextract 0.3.0 has two strategies, "feature-sequential" and
"raster-sequential"; "raster-parallel" exists only in the C++ command-line tool of
later releases, not in the 0.3.0 Python package. `--procs 2` is our own
parallelisation for a fair 2-core anchor: the features are split into N groups of
about equal pixel count and each group runs in its own process (fork).
"""

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import load_features, parse_epoch_rasters, write_result  # noqa: E402


def bbox_area(geom: dict) -> float:
    xs, ys = [], []

    def walk(c):
        if isinstance(c[0], (int, float)):
            xs.append(c[0])
            ys.append(c[1])
        else:
            for x in c:
                walk(x)

    walk(geom["coordinates"])
    return (max(xs) - min(xs)) * (max(ys) - min(ys))


def run(feats, rasters, code_field, strategy):
    import rasterio
    from exactextract import exact_extract
    from exactextract.raster import RasterioRasterSource

    sources, areas = [], {}
    for epoch, path in rasters:
        ds = rasterio.open(path)
        t = ds.transform
        areas[epoch] = abs(t.a * t.e)
        sources.append(RasterioRasterSource(ds, 1, name=f"e{epoch}"))
    res = exact_extract(sources, feats, "sum", include_cols=[code_field], strategy=strategy)
    # One raster: the field is "sum"; several: "<raster name>_sum".
    key = {epoch: f"e{epoch}_sum" if len(rasters) > 1 else "sum" for epoch, _ in rasters}
    out = {}
    for f in res:
        p = f["properties"]
        out[str(p[code_field])] = {
            epoch: (p[key[epoch]] or 0.0) * areas[epoch] / 10_000.0 for epoch, _ in rasters
        }
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vec", required=True, help="GeoJSON in the rasters' CRS")
    ap.add_argument("--code-field", required=True)
    ap.add_argument("--raster", action="append", required=True, help="EPOCH=PATH (repeat)")
    ap.add_argument("--strategy", default="feature-sequential")
    ap.add_argument("--procs", type=int, default=1)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    feats = load_features(Path(a.vec))
    rasters = parse_epoch_rasters(a.raster)
    if a.procs <= 1:
        out = run(feats, rasters, a.code_field, a.strategy)
    else:
        # Balance the groups by bounding-box area (≈ pixels read), largest first.
        groups = [[] for _ in range(a.procs)]
        load = [0.0] * a.procs
        for f in sorted(feats, key=lambda f: -bbox_area(f["geometry"])):
            i = load.index(min(load))
            groups[i].append(f)
            load[i] += bbox_area(f["geometry"])
        import multiprocessing as mp

        ctx = mp.get_context("fork")
        with ctx.Pool(a.procs) as pool:
            parts = pool.starmap(run, [(g, rasters, a.code_field, a.strategy) for g in groups])
        out = {}
        for p in parts:
            out.update(p)
    write_result(Path(a.out), f"exactextract {a.strategy} x{a.procs}", out)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
