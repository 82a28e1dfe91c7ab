"""Canopy on real imagery (GPL/MIT files kept outside the repository, in ../shared).

(a) A real Sentinel-2 L2A scene over Amazon forest (Pará, Brazil) with 25 labelled
    polygons: per-polygon cover % against exactextract on a numpy NDVI mask, the
    labels as a sanity check, and proof that the L2A offset (-0.1) matters.
(b) A real land-cover class raster (Slovenia, eo-learn) with hand-made polygons:
    forest area against exactextract.
"""

from __future__ import annotations

import json
import textwrap

import numpy as np
import oracle_lib as ol
import pytest
import rasterio
import shapely
from exactextract import exact_extract
from exactextract.raster import NumPyRasterSource
from shapely.geometry import mapping

RASTERS = ol.SHARED / "data" / "rasters"
S2_TIF = RASTERS / "sentinel2_l2a_para_brazil_12band.tif"
S2_POLYGONS = RASTERS / "sentinel2_para_brazil_training_polygons.geojson"
LULC_TIF = RASTERS / "eolearn_slovenia_lulc_reference.tif"

pytestmark = pytest.mark.skipif(
    not RASTERS.is_dir(),
    reason=f"real rasters not available: {RASTERS} is absent (the GPL test data is kept outside the repository, "
    "in <repo>/../shared/data/rasters)",
)

S2_RED, S2_NIR, S2_NDVI_MIN = 4, 8, 0.6


def _grid_and_extent(ds) -> tuple[ol.Grid, tuple]:
    t = ds.transform
    g = ol.Grid(t.c, t.f, t.a, -t.e, ds.width, ds.height)
    return g, g.bounds


def _mean_of_mask(mask: np.ndarray, observed: np.ndarray, extent, wkt, polygons: dict) -> dict[str, float]:
    """exactextract's coverage-weighted mean of a 0/1 mask over observed pixels."""
    arr = np.ma.masked_array(mask.astype(np.float64), mask=~observed)
    src = NumPyRasterSource(arr, *extent, name="m", srs_wkt=wkt)
    feats = [{"type": "Feature", "properties": {"key": k}, "geometry": mapping(g)} for k, g in polygons.items()]
    res = exact_extract(src, feats, ["mean"], include_cols=["key"])
    return {r["properties"]["key"]: r["properties"]["mean"] for r in res}


# --------------------------------------------------------------------------- (a) Sentinel-2


@pytest.fixture(scope="module")
def s2_case(canopy_bin, tmp_path_factory):
    for f in (S2_TIF, S2_POLYGONS):
        if not f.exists():
            pytest.skip(f"{f} is absent")
    d = tmp_path_factory.mktemp("s2_para")
    gpkg = d / "polygons.gpkg"
    # A unique code per polygon: its rowid.
    ol.gdal_tool(
        "ogr2ogr", "-f", "GPKG", gpkg, S2_POLYGONS, "-nln", "polygons", "-dialect", "sqlite",
        "-sql", "SELECT rowid AS code, class AS name, geometry FROM sentinel2_para_brazil_training_polygons",
    )
    region = d / "region.toml"
    region.write_text(
        textwrap.dedent(
            f"""\
            name = "Pará (Sentinel-2 L2A)"
            area_crs = "EPSG:32721"

            [communes]
            path = "polygons.gpkg"
            layer = "polygons"
            code_field = "code"
            name_field = "name"

            [forest]
            ndvi_min = {S2_NDVI_MIN}

            [[epochs]]
            id = "s2"
            date = "2020-01-01"
            tiles = ["{S2_TIF}"]
            red_band = {S2_RED}
            nir_band = {S2_NIR}
            """
        ),
        encoding="utf-8",
    )
    store = d / "s2.gpkg"
    ol.run_canopy("run", region, "--store", store)
    reg = ol.load_region(region)
    polys, layer_crs = ol.read_communes(reg)
    assert len(polys) == 25 and len({p.code for p in polys}) == 25

    with rasterio.open(S2_TIF) as ds:
        assert ds.crs.to_epsg() == 4326
        red, nir = ds.read(S2_RED), ds.read(S2_NIR)
        meta = lambda b: (ds.scales[b - 1], ds.offsets[b - 1], ds.nodatavals[b - 1])  # noqa: E731
        red_meta, nir_meta = meta(S2_RED), meta(S2_NIR)
        grid, extent = _grid_and_extent(ds)
        wkt = ds.crs.to_wkt()
    assert red_meta[:2] == (0.0001, -0.1) and nir_meta[:2] == (0.0001, -0.1), "scale/offset not declared"
    states = ol.spectral_states(red, nir, None, red_meta, nir_meta, S2_NDVI_MIN)
    # The same rule on raw digital numbers (no scale, no offset).
    raw_states = ol.spectral_states(red, nir, None, (1.0, 0.0, red_meta[2]), (1.0, 0.0, nir_meta[2]), S2_NDVI_MIN)
    # The scene and the polygons are both EPSG:4326: no reprojection.
    assert ol.pyproj.CRS.from_user_input(layer_crs) == ol.pyproj.CRS.from_user_input(wkt)
    by_code = {p.code: p.geom for p in polys}
    observed = states != ol.UNOBSERVED
    return {
        "store": store,
        "polys": polys,
        "oracle_pct": {k: 100 * v for k, v in _mean_of_mask(states == ol.FOREST, observed, extent, wkt, by_code).items()},
        "raw_pct": {
            k: 100 * v
            for k, v in _mean_of_mask(raw_states == ol.FOREST, raw_states != ol.UNOBSERVED, extent, wkt, by_code).items()
        },
    }


def test_s2_cover_pct_matches_exactextract(s2_case):
    """cover % per polygon within 0.05 percentage points of exactextract's mean.

    Canopy weights each pixel by its true area in EPSG:32721, exactextract by coverage
    only. Over this 2 km scene the pixel area varies by ~1e-5 relative (the scale
    factor of UTM barely changes over 2 km, the lon/lat pixel area with cos(latitude)
    at 1.47°S by ~1e-5 over 0.02°), which moves a cover % by far less than 0.001 pp;
    0.05 pp is the tolerance of the brief and leaves room for nothing else."""
    cover = ol.read_cover(s2_case["store"])
    worst = (0.0, None)
    bad = []
    for p in s2_case["polys"]:
        row = cover.get((p.code, "s2"))
        assert row is not None, f"no cover row for polygon {p.code}"
        assert row["cover_pct"] is not None, f"polygon {p.code} ({p.name}): cover_pct is NULL"
        want = s2_case["oracle_pct"][p.code]
        err = abs(row["cover_pct"] - want)
        if err > worst[0]:
            worst = (err, f"{p.code} {p.name}: canopy {row['cover_pct']:.6f} %, oracle {want:.6f} %")
        if not err <= 0.05:
            bad.append(f"polygon {p.code} ({p.name}): canopy {row['cover_pct']:.4f} %, oracle {want:.4f} %")
    rep = f"Sentinel-2 Pará: max |cover_pct - exactextract| = {worst[0]:.2e} pp ({worst[1]})"
    ol.REPORTS.append(rep)
    print("\n" + rep)
    assert not bad, "cover % differs beyond 0.05 pp:\n  " + "\n  ".join(bad)


# Village polygon rowid 24 (the last feature, 0.34 ha) holds a few trees: 6 of the ~45
# pixels it touches have NDVI 0.62 - 0.66, so Canopy and the oracle both find 12.17 %
# forest in it at ndvi_min 0.6. That is the data, not a defect; it keeps a bound of its own.
VILLAGE_WITH_TREES = {"24": 15.0}


def test_s2_labels(s2_case):
    """The labels agree with the figures: forest polygons >= 95 %, villages <= 10 %
    (one documented exception, above)."""
    cover = ol.read_cover(s2_case["store"])
    classes = {p.name for p in s2_case["polys"]}
    assert {"forest", "village"} <= classes, classes
    bad = []
    for p in s2_case["polys"]:
        pct, want = cover[(p.code, "s2")]["cover_pct"], s2_case["oracle_pct"][p.code]
        if p.name == "forest" and not (pct >= 95 and want >= 95):
            bad.append(f"forest polygon {p.code}: canopy {pct:.2f} %, oracle {want:.2f} % (< 95 %)")
        elif p.name == "village":
            limit = VILLAGE_WITH_TREES.get(p.code, 10.0)
            if not (pct <= limit and want <= limit):
                bad.append(f"village polygon {p.code}: canopy {pct:.2f} %, oracle {want:.2f} % (> {limit} %)")
    assert not bad, "\n".join(bad)


def test_s2_offset_matters(s2_case):
    """Ignoring the L2A offset (NDVI on raw DN, which carry +1000) changes the answer:
    the forest polygons would no longer be forest. So the agreement above proves that
    Canopy applies scale and offset before the NDVI."""
    forest = [p for p in s2_case["polys"] if p.name == "forest"]
    with_offset = np.mean([s2_case["oracle_pct"][p.code] for p in forest])
    raw = np.mean([s2_case["raw_pct"][p.code] for p in forest])
    print(f"\nforest polygons: mean cover {with_offset:.2f} % with the offset, {raw:.2f} % on raw DN")
    assert with_offset - raw > 20, (with_offset, raw)
    cover = ol.read_cover(s2_case["store"])
    for p in forest:
        assert abs(cover[(p.code, "s2")]["cover_pct"] - s2_case["raw_pct"][p.code]) > 5, (
            f"forest polygon {p.code}: canopy's cover % is the raw-DN answer"
        )


# --------------------------------------------------------------------------- (b) classes


# Hand-made polygons in EPSG:32633 over the Slovenian class raster (extent x 465181.05
# .. 466180.53, y 5079244.89 .. 5080254.63, pixels ~9.995 x 9.997 m): none follows the
# pixel edges.
LULC_POLYGONS = {
    "rect": shapely.box(465233.3, 5079301.7, 465511.9, 5079577.2),
    "triangle": shapely.Polygon([(465600.5, 5079350.2), (466050.7, 5079420.9), (465790.3, 5079800.4)]),
    "holed": shapely.Polygon(
        [(465300.7, 5079700.3), (465700.2, 5079700.3), (465700.2, 5080100.8), (465300.7, 5080100.8)],
        [[(465420.1, 5079820.6), (465420.1, 5079960.4), (465560.9, 5079960.4), (465560.9, 5079820.6)]],
    ),
    # Crosses the raster's right edge (x 466180.53) and top edge (y 5080254.63).
    "edge": shapely.Polygon([(466000.4, 5079900.2), (466350.6, 5079950.3), (466250.9, 5080400.7), (465950.2, 5080200.1)]),
}
# 0.01 % relative, floored at 1e-4 ha (1 m², 1 % of one 10 m pixel): these polygons hold
# 100 - 2 000 pixels, so 1e-4 relative is already well below one pixel.
LULC_REL, LULC_FLOOR_HA = 1e-4, 1e-4


@pytest.fixture(scope="module")
def lulc_case(canopy_bin, tmp_path_factory):
    if not LULC_TIF.exists():
        pytest.skip(f"{LULC_TIF} is absent")
    d = tmp_path_factory.mktemp("lulc_slovenia")
    feats = [
        {"type": "Feature", "properties": {"code": k, "name": k}, "geometry": mapping(g)} for k, g in LULC_POLYGONS.items()
    ]
    doc = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32633"}},
        "features": feats,
    }
    (d / "polygons.geojson").write_text(json.dumps(doc), encoding="utf-8")
    region = d / "region.toml"
    region.write_text(
        textwrap.dedent(
            f"""\
            name = "Slovenia (eo-learn land cover)"
            area_crs = "EPSG:32633"

            [communes]
            path = "polygons.geojson"
            code_field = "code"
            name_field = "name"

            [forest]
            forest_classes = [2]

            [[epochs]]
            id = "lulc"
            date = "2017-01-01"
            tiles = ["{LULC_TIF}"]
            class_band = 1
            """
        ),
        encoding="utf-8",
    )
    store = d / "lulc.gpkg"
    ol.run_canopy("run", region, "--store", store)
    with rasterio.open(LULC_TIF) as ds:
        assert ds.crs.to_epsg() == 32633
        codes = ds.read(1)
        nodata = ds.nodatavals[0]
        grid, extent = _grid_and_extent(ds)
        wkt = ds.crs.to_wkt()
    # What the file declares decides: a declared nodata is unobserved, otherwise 0 would
    # be an ordinary (non-forest) class.
    states = ol.class_states(codes, nodata, [2])
    # The polygons are in the raster's CRS, so exactextract reads them as they are.
    sums = ol.exact_sums(states, grid, wkt, LULC_POLYGONS)
    for k, g in LULC_POLYGONS.items():
        sums[k]["natural_ha"] = g.area / ol.M2_PER_HA
    return {"store": store, "sums": sums, "nodata": nodata, "codes": codes, "grid": grid}


def test_lulc_declares_its_nodata(lulc_case):
    # The file declares nodata 0 ("0 no data" in its CLASSES metadata): 0 is unobserved.
    assert lulc_case["nodata"] == 0, f"declared nodata changed: {lulc_case['nodata']}"


def test_lulc_forest_matches_exactextract(lulc_case):
    cover = ol.read_cover(lulc_case["store"])
    t = ol.ErrorTracker(LULC_REL)
    for k in LULC_POLYGONS:
        row = cover.get((k, "lulc"))
        assert row is not None, f"no cover row for polygon {k}"
        want = lulc_case["sums"][k]
        for q in ("forest_ha", "observed_ha", "natural_ha"):
            t.check(q, k, row[q], want[q], LULC_FLOOR_HA)
    # The edge polygon is partly outside the raster: that part is unobserved land.
    e = lulc_case["sums"]["edge"]
    assert e["observed_ha"] < 0.9 * e["natural_ha"]
    assert cover[("edge", "lulc")]["unobserved_ha"] > 0.1 * e["natural_ha"]
    # The holed polygon lies inside the raster (no nodata there): all of it is observed,
    # and its hole (12 % of the outer square) is not.
    holed = LULC_POLYGONS["holed"]
    got = cover[("holed", "lulc")]["observed_ha"]
    assert abs(got - holed.area / ol.M2_PER_HA) <= 1e-6 * got, (got, holed.area / ol.M2_PER_HA)
    rep = t.report("Slovenia classes (forest_classes = [2])")
    ol.REPORTS.append(rep)
    print("\n" + rep)
    t.assert_ok("Slovenia classes")
