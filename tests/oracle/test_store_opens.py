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


def test_communes_cover_view_styles_and_descriptions(sample_store):
    """QGIS users: GDAL lists `communes_cover` (a view: the communes with their
    latest epoch's cover) as a polygon layer with every commune, and reads its
    cover_pct equal to the cover table's latest rows (joined here with sqlite3);
    layers have descriptions; `layer_styles` holds default QML styles whose cover
    classes and colours are the web map's (map.js) and the report's."""
    listing = ol.gdal_tool("ogrinfo", "-ro", "-q", sample_store).stdout
    assert re.search(r"communes_cover \((Multi Polygon|Polygon)\)", listing), listing
    assert "layer_styles" in listing, listing
    out = _ogrinfo_so(sample_store, "communes_cover")
    assert _feature_count(out) == 65, out
    for f in ("code", "name", "epoch", "forest_ha", "cover_pct"):
        assert re.search(rf"^{f}: ", out, re.M), f"communes_cover has no field {f}:\n{out}"
    # GDAL's reading of the view, as CSV (ogr2ogr to stdout), vs sqlite3's own join.
    csv_text = ol.gdal_tool("ogr2ogr", "-f", "CSV", "/vsistdout/", sample_store, "communes_cover",
                            "-select", "code,epoch,cover_pct").stdout
    got = {}
    for line in csv_text.strip().splitlines()[1:]:
        code, epoch, pct = line.split(",")
        got[code.strip('"')] = (epoch.strip('"'), float(pct) if pct else None)
    last = ol.query(sample_store, "SELECT id FROM epochs ORDER BY date DESC LIMIT 1")[0]["id"]
    want = {r["commune_code"]: (r["epoch"], r["cover_pct"])
            for r in ol.query(sample_store, f"SELECT commune_code, epoch, cover_pct FROM cover WHERE epoch = '{last}'")}
    assert got.keys() == want.keys()
    for k, (e, p) in want.items():
        assert got[k][0] == e and abs(got[k][1] - p) < 1e-9, (k, got[k], (e, p))
    # Descriptions (GDAL shows gpkg_contents.description as the layer's DESCRIPTION).
    desc = {r["table_name"]: r["description"] for r in ol.query(sample_store, "SELECT table_name, description FROM gpkg_contents")}
    for t in ("communes", "communes_cover", "alerts", "zones", "cover", "layer_styles"):
        assert desc.get(t), (t, desc)
    assert "DESCRIPTION=" in _ogrinfo_so(sample_store, "alerts"), "GDAL reads the description"
    # Styles: one default per layer, the cover one with the map's classes and colours.
    styles = {r["f_table_name"]: r for r in ol.query(sample_store, "SELECT * FROM layer_styles")}
    assert set(styles) == {"communes_cover", "communes", "alerts", "zones"}
    assert all(s["useAsDefault"] == 1 and s["styleQML"].startswith("<!DOCTYPE qgis") for s in styles.values())
    map_js = (ol.REPO / "crates/canopy-server/static/map/map.js").read_text()
    breaks = [float(x) for x in re.search(r"const COVER_BREAKS = \[([^\]]*)\]", map_js).group(1).split(",")]
    colors = re.findall(r"'(#[0-9a-f]{6})'", re.search(r"const COVER_COLORS = \[([^\]]*)\]", map_js).group(1))
    qml = styles["communes_cover"]["styleQML"]
    ranges = re.findall(r'<range lower="([0-9.]+)" upper="([0-9.]+)"', qml)
    assert [float(hi) for _, hi in ranges[:-1]] == breaks
    rgb = [",".join(str(int(c[i:i + 2], 16)) for i in (1, 3, 5)) + ",255" for c in colors]
    assert re.findall(r'<prop k="color" v="([0-9,]+)"/>', qml) == rgb


def test_typed_fields_in_the_geopackage(sample_store):
    """Dates are DATE, run times DATETIME, yes/no fields BOOLEAN (issue 19), as GDAL
    reads the GeoPackage: Date, DateTime, Integer(Boolean)."""
    want = {
        "alerts": {"from_date": "Date", "to_date": "Date", "first_seen": "Date",
                   "natural_lost": "Integer(Boolean)", "season_mismatch": "Integer(Boolean)"},
        "epochs": {"date": "Date"},
        "fire_danger": {"date": "Date"},
        "hotspots": {"acq_date": "Date", "alertable": "Integer(Boolean)"},
        "fire_events": {"alert": "Integer(Boolean)"},
        "runs": {"started_at": "DateTime", "finished_at": "DateTime"},
    }
    for layer, fields in want.items():
        out = _ogrinfo_so(sample_store, layer)
        got = dict(re.findall(r"^(\w+): ([\w()]+) ", out, re.M))
        for f, ty in fields.items():
            assert got.get(f) == ty, f"{layer}.{f}: {got.get(f)} (want {ty})\n{out}"
    # The values read back as written: ISO dates, 0/1 (sqlite3 sees the same text).
    rows = ol.query(sample_store, "SELECT from_date, first_seen, season_mismatch FROM alerts")
    assert rows and all(re.fullmatch(r"\d{4}-\d\d-\d\d", r["from_date"]) for r in rows), rows[:3]
    assert {r["season_mismatch"] for r in rows} <= {0, 1}
    runs = ol.query(sample_store, "SELECT started_at FROM runs")
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", r["started_at"]) for r in runs), runs
