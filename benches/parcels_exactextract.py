"""exactextract (PyPI) on the forest plots (issue 14): forest ha per plot and epoch
over the synth truth masks (`truth/forest_<epoch>.tif`, 1 = forest), timed, and
compared with the `parcel_cover` rows of a Canopy store made from the same masks
(class epochs; benches/parcels.sh writes that region).

    parcels_exactextract.py --plots PARCELS.geojson --raster EPOCH=PATH ... --store STORE.gpkg

Prints the wall time of exact_extract (one call, every epoch) and the largest
difference against the store (ha, and relative over plots with ≥ 1 ha of forest).
"""

import argparse
import json
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import parse_epoch_rasters  # noqa: E402


BATCH = 5000


def plot_id(p: dict) -> str:
    return "/".join(str(p[k]).strip() for k in ("tieu_khu", "khoanh", "lo"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--plots", required=True, help="GeoJSON in the rasters' CRS")
    ap.add_argument("--raster", action="append", required=True, help="EPOCH=PATH (repeat)")
    ap.add_argument("--store", required=True)
    a = ap.parse_args()
    import rasterio
    from exactextract import exact_extract
    from exactextract.raster import RasterioRasterSource

    t0 = time.monotonic()
    feats = json.loads(Path(a.plots).read_text(encoding="utf-8"))["features"]
    for f in feats:
        f["properties"] = {"pid": plot_id(f["properties"])}
    load_s = time.monotonic() - t0
    rasters = parse_epoch_rasters(a.raster)
    sources, px = [], {}
    for epoch, path in rasters:
        ds = rasterio.open(path)
        px[epoch] = abs(ds.transform.a * ds.transform.e) / 10_000.0
        sources.append(RasterioRasterSource(ds, 1, name=f"e{epoch}"))
    # In batches: exactextract 0.3.0 stops a whole call with "Never get here" on some
    # geometries; such a batch is redone one plot at a time and the plots it refuses
    # are listed (and left out of the comparison) instead of ending the benchmark.
    res, refused = [], []
    t0 = time.monotonic()
    for i in range(0, len(feats), BATCH):
        batch = feats[i : i + BATCH]
        try:
            res += exact_extract(sources, batch, "sum", include_cols=["pid"])
        except RuntimeError:
            for f in batch:
                try:
                    res += exact_extract(sources, [f], "sum", include_cols=["pid"])
                except RuntimeError as e:
                    refused.append((f["properties"]["pid"], str(e)))
    ee_s = time.monotonic() - t0
    key = {e: (f"e{e}_sum" if len(rasters) > 1 else "sum") for e, _ in rasters}
    want = {}
    for f in res:
        p = f["properties"]
        for e, _ in rasters:
            want[(p["pid"], e)] = (p[key[e]] or 0.0) * px[e]
    con = sqlite3.connect(f"file:{a.store}?mode=ro", uri=True)
    got = {(r[0], r[1]): r[2] for r in con.execute("SELECT parcel_id, epoch, forest_ha FROM parcel_cover")}
    missing = [k for k in want if k not in got]
    dmax = max((abs(got[k] - v) for k, v in want.items() if k in got), default=0.0)
    rmax = max((abs(got[k] - v) / v for k, v in want.items() if k in got and v >= 1.0), default=0.0)
    print(f"plots: {len(feats)}, epochs: {len(rasters)}")
    print(f"exactextract: {ee_s:.1f} s (GeoJSON load {load_s:.1f} s)")
    if refused:
        print(f"exactextract refused {len(refused)} plot(s), left out: "
              + ", ".join(f"{pid} ({err})" for pid, err in refused[:10]))
    print(f"agreement: max |Δ| {dmax:.6f} ha, max relative {rmax:.2e} (plots ≥ 1 ha forest), "
          f"{len(missing)} plot×epoch missing in the store")


if __name__ == "__main__":
    main()
