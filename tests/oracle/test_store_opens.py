"""The store is a GeoPackage that GDAL/OGR (Debian's gdal-bin) opens as such."""

from __future__ import annotations

import re

import oracle_lib as ol


def _ogrinfo_so(store, layer) -> str:
    return ol.gdal_tool("ogrinfo", "-so", store, layer).stdout


def _feature_count(text: str) -> int:
    m = re.search(r"^Feature Count: (\d+)$", text, re.M)
    assert m, text
    return int(m.group(1))


def test_communes_layer(sample_store):
    out = _ogrinfo_so(sample_store, "communes")
    assert "using driver `GPKG' successful" in out, out
    assert _feature_count(out) == 65, out
    assert re.search(r"^Geometry: (Multi Polygon|Polygon)$", out, re.M), out
    # The layer's CRS is EPSG:4326 (the WKT ogrinfo prints ends with its EPSG id).
    wkt = out.split("Layer SRS WKT:", 1)[1]
    assert 'ID["EPSG",4326]' in wkt.split("Data axis", 1)[0], wkt
    for f in ("code", "name", "natural_ha"):
        assert re.search(rf"^{f}: ", out, re.M), f"communes has no field {f}:\n{out}"


def test_communes_geometries_are_the_input_in_lonlat(sample_store, sample_oracle):
    """Read back with sqlite3 (no GDAL): the stored polygons are the input's, lon/lat."""
    rows, geoms, crs = ol.read_gpkg_layer(sample_store, "communes")
    assert crs.to_epsg() == 4326
    stored = {r["code"]: g for r, g in zip(rows, geoms)}
    for c in sample_oracle["communes"]:
        g = stored[c.code]
        assert g.geom_type in ("Polygon", "MultiPolygon")
        # Input and store are both EPSG:4326: the same polygon to ~1 cm.
        assert ol.shapely.hausdorff_distance(g, c.geom) < 1e-7, c.code


def test_cover_layer(sample_store, sample_region_file):
    n_epochs = len(ol.load_region(sample_region_file).epochs)
    out = _ogrinfo_so(sample_store, "cover")
    assert "using driver `GPKG' successful" in out, out
    assert _feature_count(out) == 65 * n_epochs, out
    for f in ("commune_code", "epoch", "natural_ha", "forest_ha", "observed_ha", "unobserved_ha", "cover_pct", "observed_pct"):
        assert re.search(rf"^{f}: ", out, re.M), f"cover has no field {f}:\n{out}"


def test_province_cover_layer(sample_store, sample_region_file):
    n_epochs = len(ol.load_region(sample_region_file).epochs)
    out = _ogrinfo_so(sample_store, "province_cover")
    assert _feature_count(out) == n_epochs, out
