"""`canopy export` read back by independent tools: pyogrio (its own bundled GDAL),
the shapefile's DBF header and records parsed byte by byte, the KML and GPX as XML,
CSV with Python's csv module, XLSX with openpyxl. The expected values come from the
store itself, read with sqlite3."""

from __future__ import annotations

import csv
import struct
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pyproj
import pytest
import shapely

import openpyxl  # tests/oracle/requirements.txt: a missing reader fails, never skips
import pyogrio

import oracle_lib as ol


def _export(store: Path, layer: str, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return ol.run_canopy("export", "--store", store, "--layer", layer, "-o", out, *extra)


def _dbf(path: Path) -> tuple[list[bytes], list[list[bytes]]]:
    """Field names (raw bytes) and raw records of a DBF file (dBASE III layout)."""
    data = path.read_bytes()
    n_records, header_len, record_len = struct.unpack("<IHH", data[4:12])
    names, widths = [], []
    off = 32
    while data[off] != 0x0D:
        desc = data[off : off + 32]
        names.append(desc[:11].split(b"\0", 1)[0])
        widths.append(desc[16])
        off += 32
    records = []
    for i in range(n_records):
        rec = data[header_len + i * record_len : header_len + (i + 1) * record_len]
        cells, pos = [], 1  # byte 0: deletion flag
        for w in widths:
            cells.append(rec[pos : pos + w])
            pos += w
        records.append(cells)
    return names, records


def test_shapefile_keeps_vietnamese_names_and_maps_long_fields(sample_store, tmp_path):
    communes = ol.read_communes_table(sample_store)
    shp = tmp_path / "communes.shp"
    _export(sample_store, "communes", shp)
    assert (tmp_path / "communes.cpg").read_text().strip().upper() in ("UTF-8", "UTF8")
    assert (tmp_path / "communes.prj").exists()
    names, records = _dbf(tmp_path / "communes.dbf")
    assert names == [b"code", b"name", b"natural_ha"]
    got = {r[0].decode("utf-8").strip(): r[1].decode("utf-8").strip() for r in records}
    # Byte for byte: the names as the store has them (NFC UTF-8), none cut.
    assert {c: v["name"] for c, v in communes.items()} == got
    assert any(not n.isascii() for n in got.values())
    # pyogrio (its own GDAL) reads the same names and the polygons.
    meta, _, geoms, fields = pyogrio.raw.read(shp)
    assert list(meta["fields"]) == ["code", "name", "natural_ha"]
    assert sorted(fields[1]) == sorted(v["name"] for v in communes.values())
    assert len(geoms) == len(communes)

    alerts = ol.query(sample_store, "SELECT alert_id, commune_code, natural_lost_ha, season_mismatch FROM alerts")
    _export(sample_store, "alerts", tmp_path / "alerts.shp")
    names, records = _dbf(tmp_path / "alerts.dbf")
    names = [n.decode() for n in names]
    for short in ["alert_id", "commune_cd", "cent_lon", "cent_lat", "zone_spec", "nat_lost_h", "season_mis", "status"]:
        assert short in names, (short, names)
    assert all(len(n) <= 10 for n in names)
    by_id = {r[names.index("alert_id")].decode().strip(): r for r in records}
    assert set(by_id) == {a["alert_id"] for a in alerts}
    for a in alerts:
        r = by_id[a["alert_id"]]
        assert r[names.index("commune_cd")].decode().strip() == a["commune_code"]
        cell = r[names.index("nat_lost_h")].strip()
        if a["natural_lost_ha"] is None:
            assert cell == b"" or set(cell) == {ord("*")}, cell
        else:
            assert float(cell) == pytest.approx(a["natural_lost_ha"], abs=1e-6)
        assert r[names.index("status")].decode().strip() == "new"


def test_geopackage_export_reads_back_with_the_same_rows(sample_store, tmp_path):
    alerts = ol.query(sample_store, "SELECT alert_id, area_ha, severity FROM alerts ORDER BY alert_id")
    out = tmp_path / "alerts.gpkg"
    _export(sample_store, "alerts", out)
    meta, _, geoms, fields = pyogrio.raw.read(out)
    cols = list(meta["fields"])
    rows = sorted(zip(*(fields[cols.index(c)] for c in ["alert_id", "area_ha", "severity"])))
    assert [r[0] for r in rows] == [a["alert_id"] for a in alerts]
    for r, a in zip(rows, alerts):
        assert r[1] == a["area_ha"] and r[2] == a["severity"]
    assert meta["crs"] in ("EPSG:4326", "OGC:CRS84")
    assert "status" in cols and len(geoms) == len(alerts)


def test_kml_placemarks_are_the_communes(sample_store, tmp_path):
    communes = ol.read_communes_table(sample_store)
    out = tmp_path / "communes.kml"
    _export(sample_store, "communes", out)
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    root = ET.parse(out).getroot()
    marks = root.findall(".//k:Placemark", ns)
    assert sorted(m.findtext("k:name", namespaces=ns) for m in marks) == sorted(v["name"] for v in communes.values())
    assert all(m.find(".//k:Polygon", ns) is not None for m in marks)
    # Each placemark's fields are its own (the commune's code and natural area).
    for m in marks:
        data = {d.get("name"): d.text for d in m.findall(".//k:SimpleData", ns)}
        c = communes[data["code"]]
        assert c["name"] == m.findtext("k:name", namespaces=ns)
        assert float(data["natural_ha"]) == pytest.approx(c["natural_ha"], rel=1e-12)
    # pyogrio reads it too.
    meta, _, geoms, _ = pyogrio.raw.read(out)
    assert len(geoms) == len(communes)


def test_gpx_waypoints_are_the_alert_centroids(sample_store, tmp_path):
    alerts = ol.query(sample_store, "SELECT alert_id, centroid_lon, centroid_lat, severity FROM alerts")
    out = tmp_path / "alerts.gpx"
    _export(sample_store, "alerts", out)
    ns = {"g": "http://www.topografix.com/GPX/1/1"}
    wpts = ET.parse(out).getroot().findall("g:wpt", ns)
    got = {w.findtext("g:name", namespaces=ns): (float(w.get("lon")), float(w.get("lat")), w.findtext("g:type", namespaces=ns)) for w in wpts}
    assert set(got) == {a["alert_id"] for a in alerts}
    for a in alerts:
        lon, lat, ty = got[a["alert_id"]]
        assert lon == pytest.approx(a["centroid_lon"], abs=1e-9)
        assert lat == pytest.approx(a["centroid_lat"], abs=1e-9)
        assert ty == a["severity"]


def test_csv_and_xlsx_tables(sample_store, tmp_path):
    cover = ol.query(sample_store, "SELECT commune_code, epoch, forest_ha, cover_pct FROM cover ORDER BY commune_code, epoch")
    out = tmp_path / "cover.csv"
    _export(sample_store, "cover", out)
    assert out.read_bytes()[:3] == b"\xef\xbb\xbf", "a BOM, so spreadsheets read UTF-8"
    with out.open(encoding="utf-8-sig", newline="") as f:
        rows = sorted(csv.DictReader(f), key=lambda r: (r["commune_code"], r["epoch"]))
    assert [(r["commune_code"], r["epoch"]) for r in rows] == [(c["commune_code"], c["epoch"]) for c in cover]
    for r, c in zip(rows, cover):
        assert float(r["forest_ha"]) == pytest.approx(c["forest_ha"], rel=1e-12)

    communes = ol.read_communes_table(sample_store)
    xlsx = tmp_path / "communes.xlsx"
    _export(sample_store, "communes", xlsx)
    ws = openpyxl.load_workbook(xlsx, read_only=True).worksheets[0]
    table = list(ws.iter_rows(values_only=True))
    assert list(table[0]) == ["code", "name", "natural_ha"]
    got = {str(r[0]): (r[1], r[2]) for r in table[1:]}
    assert set(got) == set(communes)
    for code, c in communes.items():
        assert got[code][0] == c["name"]
        assert isinstance(got[code][1], float) and got[code][1] == pytest.approx(c["natural_ha"], rel=1e-12)


def test_bad_exports_name_the_culprit_and_write_nothing(sample_store, tmp_path):
    def fails(*args: str) -> str:
        r = subprocess.run([str(ol.ensure_binary()), "export", "--store", str(sample_store), *args], capture_output=True, text=True)
        assert r.returncode != 0 and "panicked" not in r.stderr, r.stderr
        return r.stderr

    err = fails("--layer", "nope", "-o", str(tmp_path / "x.gpkg"))
    assert '"nope"' in err and "communes" in err and "alerts" in err, err
    err = fails("--layer", "communes", "-o", str(tmp_path / "x.geojson"))
    assert "x.geojson" in err and "format" in err, err
    err = fails("--layer", "cover", "-o", str(tmp_path / "x.kml"))
    assert "cover" in err and "geometry" in err, err
    err = fails("--layer", "communes", "-o", str(tmp_path / "x.csv"), "--format", "pdf")
    assert '"pdf"' in err, err
    assert list(tmp_path.iterdir()) == [], "nothing half-written"


@pytest.mark.parametrize("epsg", [9215, 9210])
def test_vn2000_export_matches_pyproj(sample_store, tmp_path, epsg):
    """`--crs EPSG:9215` (VN-2000 / TM-3 107-15, Lạng Sơn's zone) and EPSG:9210
    (105-45, Cao Bằng's): every vertex where pyproj's own transform of the stored
    WGS 84 polygon puts it (PROJ's best operation: the official 7-parameter
    VN-2000 shift), and each commune's area as shapely computes it on those."""
    rows, geoms, _ = ol.read_gpkg_layer(sample_store, "communes")
    out = tmp_path / f"communes_{epsg}.gpkg"
    _export(sample_store, "communes", out, "--crs", f"EPSG:{epsg}")
    got_rows, got_geoms, got_crs = ol.read_gpkg_layer(out, "communes")
    assert got_crs.to_epsg() == epsg
    # GDAL (pyogrio's own) reads the CRS too.
    assert pyogrio.read_info(out)["crs"] == f"EPSG:{epsg}"
    t = pyproj.Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)
    by_code = {r["code"]: g for r, g in zip(got_rows, got_geoms)}
    assert len(by_code) == len(rows)
    worst_m, worst_rel = 0.0, 0.0
    for r, g in zip(rows, geoms):
        want = shapely.transform(g, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))
        have = by_code[r["code"]]
        a, b = shapely.get_coordinates(want), shapely.get_coordinates(have)
        assert a.shape == b.shape, r["code"]
        worst_m = max(worst_m, float(np.abs(a - b).max()))
        worst_rel = max(worst_rel, abs(have.area - want.area) / want.area)
    ol.REPORTS.append(
        f"export --crs EPSG:{epsg} vs pyproj: max vertex difference {worst_m:.2e} m, "
        f"max relative area difference {worst_rel:.1e} ({len(rows)} communes)"
    )
    assert worst_m < 1e-3 and worst_rel < 1e-9


def test_crs_refused_where_the_format_is_wgs84(sample_store, tmp_path):
    for args in (("--layer", "communes", "-o", str(tmp_path / "x.kml"), "--crs", "EPSG:9215"),
                 ("--layer", "communes", "-o", str(tmp_path / "x.gpkg"), "--crs", "EPSG:99999999")):
        r = subprocess.run([str(ol.ensure_binary()), "export", "--store", str(sample_store), *args],
                           capture_output=True, text=True)
        assert r.returncode != 0 and "panicked" not in r.stderr and "--crs" in r.stderr, r.stderr
    assert list(tmp_path.iterdir()) == [], "nothing written"
