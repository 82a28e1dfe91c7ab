"""Burned area of the Lạng Sơn sample (issue 17) against a numpy/rasterio oracle.

The oracle reads every tile's NIR and SWIR2 (band 4, B12) with rasterio (Debian's
gdalwarp for the EPSG:4326 tile, as oracle_lib does for NDVI), computes
NBR = (NIR − SWIR2) / (NIR + SWIR2) on L2A reflectance, composites it as the README
documents (priority: the first clear tile; max-/median-NDVI epochs: the per-pixel
median of the clear observations' NBR), takes dNBR = NBR(2024) − NBR(2025), the
Key & Benson (2006) classes (burned: dNBR ≥ 0.100), keeps the pixels that are forest
in 2024 (oracle_lib's own composite), and sums each class per commune and for the
province with exactextract. Same tolerance as test_sample_oracle (0.01 %, floor
0.01 ha).

It also checks each loss alert's cause: `fire` exactly when exactextract finds more
than half of its outline burned, and that the sample's burned clearing gives one.
"""

from __future__ import annotations

import dataclasses
import tomllib
import warnings

import numpy as np
import oracle_lib as ol
import pytest
import shapely
from exactextract import exact_extract
from exactextract.raster import NumPyRasterSource
from shapely.geometry import mapping

REL = 1e-4
FLOOR_HA = 0.01


def _swir_bands(region_file) -> dict[str, int]:
    raw = tomllib.loads(region_file.read_text(encoding="utf-8"))
    return {e["id"]: e.get("swir_band") for e in raw["epochs"]}


def _nbr(region, epoch, swir: int, bbox, layer_crs, workdir):
    """The epoch's composite NBR on its working grid (NaN where no clear observation)."""
    e = dataclasses.replace(epoch, red=swir)
    plan = ol.plan_epoch(e, bbox, layer_crs)
    g = plan.grid
    if e.composite == "priority":
        out = np.full((g.height, g.width), np.nan, dtype=np.float32)
        for pt in plan.tiles:
            col, row, w, h = pt.window
            st, nb = ol.tile_states(pt, plan, e, region, workdir, with_ndvi=True)
            view = out[row : row + h, col : col + w]
            fill = np.isnan(view) & (st != ol.UNOBSERVED)
            view[fill] = nb[fill]
        return plan, out
    # Composite epochs: median of the clear observations' NBR, min_clear of the epoch.
    # Every tile is one observation; tiles go into the first layer of the stack
    # where none of their clear pixels is taken yet (the same values per pixel as
    # one layer per tile, in a few layers instead of one per tile).
    stack = []
    for pt in plan.tiles:
        col, row, w, h = pt.window
        st, nb = ol.tile_states(pt, plan, e, region, workdir, with_ndvi=True)
        clear = st != ol.UNOBSERVED
        for layer in stack:
            view = layer[row : row + h, col : col + w]
            if np.isnan(view[clear]).all():
                break
        else:
            layer = np.full((g.height, g.width), np.nan, dtype=np.float32)
            stack.append(layer)
            view = layer[row : row + h, col : col + w]
        view[clear] = nb[clear].astype(np.float32)
    arr = np.stack(stack)
    clear = (~np.isnan(arr)).sum(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels
        med = np.nanmedian(arr.astype(np.float64), axis=0)
    med[clear < max(e.min_clear, 1)] = np.nan
    return plan, med.astype(np.float32)


@pytest.fixture(scope="session")
def burn_oracle(sample_region_file, sample_oracle, tmp_path_factory):
    region = sample_oracle["region"]
    swir = _swir_bands(sample_region_file)
    ea, eb = region.epochs[0], region.epochs[1]
    assert swir[ea.id] and swir[eb.id], "the sample's epochs have no swir_band"
    communes, layer_crs = sample_oracle["communes"], sample_oracle["layer_crs"]
    bbox = shapely.bounds(shapely.GeometryCollection([c.geom for c in communes])).tolist()
    work = tmp_path_factory.mktemp("burn_oracle")
    # The earlier epoch's forest: the sample oracle's own composite of it.
    plan_a, forest = sample_oracle["epochs"][ea.id]["plan"], sample_oracle["epochs"][ea.id]["forest"]
    pa, nbr_a = _nbr(region, ea, swir[ea.id], bbox, layer_crs, work / "na")
    pb, nbr_b = _nbr(region, eb, swir[eb.id], bbox, layer_crs, work / "nb")
    assert pa.grid == plan_a.grid and pb.grid == plan_a.grid, "the oracle assumes one working grid"
    with np.errstate(invalid="ignore"):
        d = (nbr_a.astype(np.float64) - nbr_b.astype(np.float64)) * 1000.0
    d = np.round(d)
    valid = forest & ~np.isnan(d)
    burned = valid & (d >= 100)
    high = valid & (d >= 660)
    unburned = valid & (d >= -100) & (d < 100)
    no_dnbr = forest & np.isnan(d)
    g = plan_a.grid
    xmin, ymin, xmax, ymax = g.bounds
    wkt = plan_a.crs.to_wkt()
    src = lambda a, n: NumPyRasterSource(a.astype(np.uint8), xmin, ymin, xmax, ymax, name=n, srs_wkt=wkt)  # noqa: E731
    rasters = [src(burned, "burned"), src(high, "high"), src(unburned, "unburned"), src(no_dnbr, "nodnbr")]
    to_work = ol.transformer(layer_crs, plan_a.crs)
    polys = {c.code: ol.transform_geom(c.geom, to_work) for c in communes}
    polys[ol.PROVINCE_KEY] = ol.transform_geom(shapely.union_all([c.geom for c in communes]), to_work)
    feats = [{"type": "Feature", "properties": {"key": k}, "geometry": mapping(p)} for k, p in polys.items()]
    px_ha = g.dx * g.dy / ol.M2_PER_HA
    sums = {}
    for r in exact_extract(rasters, feats, ["sum"], include_cols=["key"]):
        p = r["properties"]
        sums[p["key"]] = {k: p[f"{k}_sum"] * px_ha for k in ("burned", "high", "unburned", "nodnbr")}
    return {
        "pair": (ea.id, eb.id),
        "sums": sums,
        "burned_src": rasters[0],
        "sources": dict(zip(("burned", "high", "unburned", "nodnbr"), rasters)),
        "px_ha": px_ha,
        "crs": plan_a.crs,
        "burned_px": int(burned.sum()),
    }


def test_burned_ha_per_commune_match_numpy(sample_store, burn_oracle):
    rows = ol.query(sample_store, "SELECT * FROM burned_area")
    a, b = burn_oracle["pair"]
    got = {
        (ol.PROVINCE_KEY if r["unit"] == "province" else r["code"]): r
        for r in rows
        if r["from_epoch"] == a and r["to_epoch"] == b and r["unit"] in ("commune", "province")
    }
    assert burn_oracle["burned_px"] > 100, "the oracle finds no burned patch in the sample"
    t = ol.ErrorTracker(REL)
    for key, want in burn_oracle["sums"].items():
        code = "province" if key == ol.PROVINCE_KEY else key
        row = got.get(key)
        assert row is not None, f"no burned_area row for {code}"
        t.check("burned_ha", code, row["burned_ha"], want["burned"], FLOOR_HA)
        t.check("high_ha", code, row["high_ha"], want["high"], FLOOR_HA)
        t.check("unburned_ha", code, row["unburned_ha"], want["unburned"], FLOOR_HA)
        t.check("no_dnbr_ha", code, row["no_dnbr_ha"], want["nodnbr"], FLOOR_HA)
        parts = sum(row[f"{k}_ha"] for k in ("low", "moderate_low", "moderate_high", "high"))
        assert abs(parts - row["burned_ha"]) < 1e-9, f"{code}: classes do not add up to burned_ha"
    ol.REPORTS.append(t.report("burned area vs numpy/exactextract"))
    t.assert_ok("burned area")


def test_loss_alert_cause_fire_when_mostly_burned(sample_store, burn_oracle):
    a, b = burn_oracle["pair"]
    rows = ol.query(
        sample_store,
        f"SELECT alert_id, area_ha, cause, kind, geom FROM alerts WHERE kind = 'loss' AND from_epoch = '{a}' AND to_epoch = '{b}'",
    )
    assert rows, "no loss alerts"
    to_work = ol.transformer("EPSG:4326", burn_oracle["crs"])
    feats = []
    for r in rows:
        g = ol.transform_geom(ol.gpkg_geometry(r["geom"]), to_work)
        feats.append({"type": "Feature", "properties": {"aid": r["alert_id"]}, "geometry": mapping(g)})
    res = exact_extract(burn_oracle["burned_src"], feats, ["sum", "count"], include_cols=["aid"])
    share = {x["properties"]["aid"]: x["properties"]["sum"] / max(x["properties"]["count"], 1e-12) for x in res}
    fire = [r for r in rows if r["cause"] == "fire"]
    assert len(fire) == 1, f"expected the sample's one burned clearing, got {[(r['alert_id'], r['cause']) for r in fire]}"
    for r in rows:
        s = share[r["alert_id"]]
        # Outlines are pixel edges: the share is exact up to reprojection round trips.
        if abs(s - 0.5) > 0.01:
            assert (r["cause"] == "fire") == (s > 0.5), f"{r['alert_id']}: burned share {s:.3f}, cause {r['cause']}"
        assert r["cause"] in ("fire", "unknown")
    assert share[fire[0]["alert_id"]] > 0.99


def test_burned_area_served_and_printed(sample_store, canopy_bin):
    r = ol.run_canopy("alerts", "--store", sample_store, "--format", "csv")
    header = r.stdout.splitlines()[0].split(",")
    assert header[-2:] == ["kind", "cause"]
    causes = [line.split(",")[-1] for line in r.stdout.splitlines()[1:]]
    assert "fire" in causes and "unknown" in causes
    n = ol.query(sample_store, "SELECT COUNT(*) AS n FROM burned_area WHERE unit = 'zone_piece'")[0]["n"]
    assert n > 0, "zone pieces have burned-area rows"


def test_burned_ha_per_plot_match_exactextract(sample_store, sample_oracle, burn_oracle):
    """Burn classes per forest plot (lô rừng): the `parcel` rows of burned_area
    against exactextract's sums of the oracle's masks (burned, unburned, no dNBR)
    over every plot (the plots as the oracle reads them, moved onto the working
    grid). A plot has a row when it holds forest in the earlier epoch; the others
    must have none of it. (The sample's burned clearing lies outside its plots, so
    burned_ha is 0 in every plot here: unburned and no-dNBR forest carry the check;
    burned ha in plots is the same sum of the same pass.)"""
    plots = sample_oracle["parcels"]
    if not plots:
        pytest.skip("the sample has no plots")
    a, b = burn_oracle["pair"]
    rows = {r["code"]: r for r in ol.query(
        sample_store,
        f"SELECT * FROM burned_area WHERE unit = 'parcel' AND from_epoch = '{a}' AND to_epoch = '{b}'")}
    to_work = ol.transformer(sample_oracle["region"].area_crs, burn_oracle["crs"])
    feats = [{"type": "Feature", "properties": {"key": pid},
              "geometry": mapping(ol.transform_geom(p["geom_area"], to_work))} for pid, p in plots.items()]
    names = ("burned", "unburned", "nodnbr")
    want = {r["properties"]["key"]: {n: r["properties"][f"{n}_sum"] * burn_oracle["px_ha"] for n in names}
            for r in exact_extract([burn_oracle["sources"][n] for n in names], feats, ["sum"], include_cols=["key"])}
    assert set(rows) <= set(plots), sorted(set(rows) - set(plots))[:5]
    assert len(rows) > 0.5 * len(plots), (len(rows), len(plots))
    t = ol.ErrorTracker(REL)
    for pid, w in want.items():
        row = rows.get(pid)
        if row is None:
            assert sum(w.values()) < 1e-9, f"plot {pid}: {w} but no burned_area row"
            continue
        t.check("plot burned_ha", pid, row["burned_ha"], w["burned"], FLOOR_HA)
        t.check("plot unburned_ha", pid, row["unburned_ha"], w["unburned"], FLOOR_HA)
        t.check("plot no_dnbr_ha", pid, row["no_dnbr_ha"], w["nodnbr"], FLOOR_HA)
    assert sum(w["unburned"] for w in want.values()) > 100, "forest in the plots"
    print(f"burn classes of {len(rows)} plots with forest; burned in plots: "
          f"{sum(r['burned_ha'] for r in rows.values()):.2f} ha")
    ol.REPORTS.append(t.report("burn classes per plot vs exactextract"))
    t.assert_ok("burn classes per plot")
