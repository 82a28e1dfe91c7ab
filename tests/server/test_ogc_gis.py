"""OGC API items for GIS staff (issues 14 and 19) on the sample store: the `parcels`
collection (forest plots), `crs`/`bbox-crs` (Part 2, VN-2000), `?f=` exports,
`sortby` and CQL2 text `filter`. Expected values come from the store read
independently (sqlite3, pyogrio, shapely), coordinates from pyproj, and every export
is opened by GDAL (pyogrio) or openpyxl."""

from __future__ import annotations

import io
import re
import sqlite3
import subprocess
import zipfile
from urllib.parse import quote

import openpyxl
import pyogrio
import pytest
import shapely
from owslib.ogcapi.features import Features
from pyproj import Transformer

VN2000_LS = "http://www.opengis.net/def/crs/EPSG/0/9215"


def rows(store, sql, *args):
    con = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute(sql, args)]
    finally:
        con.close()


def read(path, **kw):
    """The attributes (name -> array) and shapely geometries of a file, read by GDAL."""
    meta, _, geom, data = pyogrio.raw.read(path, **kw)
    return dict(zip(meta["fields"], data)), (shapely.from_wkb(geom) if geom is not None else None)


def matched(server, collection="parcels", **params):
    r = server.get(f"/collections/{collection}/items", params={"limit": 1, **params})
    assert r.status_code == 200, (params, r.text)
    return r.json()["numberMatched"]


def all_items(server, collection="parcels", **params):
    r = server.get(f"/collections/{collection}/items", params={"limit": 10000, **params})
    assert r.status_code == 200, (params, r.text)
    doc = r.json()
    assert doc["numberReturned"] == doc["numberMatched"], "one page holds them"
    return doc["features"]


def test_parcels_collection(server, sample_store):
    plots = rows(sample_store, "SELECT * FROM parcels")
    assert len(plots) > 1000, "the sample has a few thousand plots"
    assert matched(server) == len(plots)
    # Filters, each against the stored rows.
    communes = sorted({p["commune_code"] for p in plots})
    for params, want in (
        ({"function": "protection"}, [p for p in plots if p["function"] == "protection"]),
        ({"owner_category": "household,community"}, [p for p in plots if p["owner_category"] in ("household", "community")]),
        ({"commune": communes[0]}, [p for p in plots if p["commune_code"] == communes[0]]),
        ({"plot_id": plots[7]["parcel_id"]}, [plots[7]]),
        ({"function": "special-use", "commune": ",".join(communes[:5])},
         [p for p in plots if p["function"] == "special-use" and p["commune_code"] in communes[:5]]),
    ):
        assert want, params
        assert matched(server, **params) == len(want), params
    # One plot as served: every stored figure, the id as the feature id.
    p = plots[7]
    f = server.get(f"/collections/parcels/items/{quote(p['parcel_id'], safe='')}").json()
    assert f["id"] == p["parcel_id"]
    for k in ("owner", "owner_category", "function", "commune_code", "forest_type", "area_ha", "forest_ha", "loss_ha"):
        assert f["properties"][k] == p[k], k
    assert f["geometry"]["type"] in ("Polygon", "MultiPolygon")
    # bbox: the plots whose geometry intersects it (shapely on the stored geometries).
    attrs, geoms = read(sample_store, layer="parcels", columns=["parcel_id"])
    c = shapely.centroid(geoms[0])
    box = (c.x - 0.03, c.y - 0.03, c.x + 0.03, c.y + 0.03)
    want = set(attrs["parcel_id"][shapely.intersects(geoms, shapely.box(*box))])
    assert want, "the box holds plots"
    got = {x["id"] for x in all_items(server, bbox=",".join(map(str, box)))}
    assert got == want
    # Paging: pages of 1000 cover every plot once.
    seen, url = [], "/collections/parcels/items?limit=1000&function=production"
    while url:
        doc = server.get(url.replace(server.url, "")).json()
        seen += [x["id"] for x in doc["features"]]
        url = next((l["href"] for l in doc["links"] if l["rel"] == "next"), None)
    assert len(seen) == len(set(seen)) == sum(p["function"] == "production" for p in plots)
    # Queryables and schema name the filters and properties; bad values are 400s.
    q = server.get("/collections/parcels/queryables").json()["properties"]
    assert {"commune", "owner_category", "function", "plot_id"} <= set(q)
    assert q["function"]["enum"] == ["special-use", "protection", "production"]
    r = server.get("/collections/parcels/items", params={"function": "forest"})
    assert r.status_code == 400 and "special-use" in r.text
    # Real clients: OWSLib and GDAL's OAPIF driver count the same plots.
    w = Features(server.url)
    assert "parcels" in [c["id"] for c in w.collections()["collections"]]
    page = w.collection_items("parcels", limit=5, function="protection")
    assert page["numberMatched"] == sum(p["function"] == "protection" for p in plots)
    out = subprocess.run(["ogrinfo", "-ro", "-so", "-oo", "PAGE_SIZE=1000", f"OAPIF:{server.url}", "parcels"],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    assert re.search(rf"Feature Count: {len(plots)}\b", out), out


def test_crs_and_bbox_crs(server, sample_store):
    coll = server.get("/collections/parcels").json()
    assert coll["storageCrs"] == "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    assert VN2000_LS in coll["crs"] and "http://www.opengis.net/def/crs/EPSG/0/4326" in coll["crs"]
    plot = quote(rows(sample_store, "SELECT parcel_id FROM parcels LIMIT 1 OFFSET 11")[0]["parcel_id"], safe="")
    base = server.get(f"/collections/parcels/items/{plot}")
    assert base.headers["Content-Crs"] == "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"
    lonlat = shapely.get_coordinates(shapely.geometry.shape(base.json()["geometry"]))
    for code, tol in ((9215, 0.002), (9210, 0.002), (3857, 0.002), (4326, 1e-7)):
        uri = f"http://www.opengis.net/def/crs/EPSG/0/{code}"
        r = server.get(f"/collections/parcels/items/{plot}", params={"crs": uri})
        assert r.status_code == 200 and r.headers["Content-Crs"] == f"<{uri}>"
        got = shapely.get_coordinates(shapely.geometry.shape(r.json()["geometry"]))
        # pyproj in the CRS's own axis order (EPSG:4326: latitude first).
        t = Transformer.from_crs("OGC:CRS84", f"EPSG:{code}", always_xy=False)
        a, b = t.transform(lonlat[:, 0], lonlat[:, 1])
        assert abs(got[:, 0] - a).max() < tol and abs(got[:, 1] - b).max() < tol, code
    assert abs(got[0, 0] - lonlat[0, 1]) < 1e-7, "EPSG:4326 is lat, lon"
    # Items pages too, with OWSLib passing crs; the bbox member is in the CRS.
    page = Features(server.url).collection_items("parcels", limit=3, crs=VN2000_LS)
    e, n = page["features"][0]["geometry"]["coordinates"][0][0][:2] if page["features"][0]["geometry"]["type"] == "Polygon" \
        else page["features"][0]["geometry"]["coordinates"][0][0][0][:2]
    assert 300_000 < e < 700_000 and 2_300_000 < n < 2_600_000, (e, n)
    # bbox-crs: a VN-2000 box (5 km around that plot) selects what its CRS84
    # envelope (pyproj) selects.
    box = (e - 5000, n - 5000, e + 5000, n + 5000)
    env = Transformer.from_crs("EPSG:9215", "OGC:CRS84", always_xy=True).transform_bounds(*box, densify_pts=21)
    in_vn = {f["id"] for f in all_items(server, bbox=",".join(map(str, box)), **{"bbox-crs": "EPSG:9215"})}
    in_84 = {f["id"] for f in all_items(server, bbox=",".join(f"{x:.9f}" for x in env))}
    assert in_vn and in_vn == in_84
    for params, needle in (
        ({"crs": "EPSG:32648"}, "crs=EPSG:32648: unsupported CRS"),
        ({"bbox": "1,2,3,4", "bbox-crs": "EPSG:2000"}, "bbox-crs=EPSG:2000"),
        ({"bbox-crs": "EPSG:9215"}, "without bbox"),
    ):
        r = server.get("/collections/parcels/items", params=params)
        assert r.status_code == 400 and needle in r.text, (params, r.text)


def test_exports(server, sample_store, tmp_path):
    plots = rows(sample_store, "SELECT parcel_id, owner FROM parcels WHERE function = 'protection'")
    ids = {p["parcel_id"] for p in plots}

    def fetch(f, collection="parcels", **params):
        r = server.get(f"/collections/{collection}/items", params={"f": f, **params})
        assert r.status_code == 200, (f, r.text)
        ext = "shp.zip" if f == "shp" else f
        assert r.headers["Content-Disposition"] == f'attachment; filename="{collection}.{ext}"'
        path = tmp_path / f"{collection}-{f}.{ext}"
        path.write_bytes(r.content)
        return r, path

    r, gpkg = fetch("gpkg", function="protection", crs=VN2000_LS)
    assert r.headers["Content-Type"] == "application/geopackage+sqlite3"
    assert r.headers["Content-Crs"] == f"<{VN2000_LS}>"
    info = pyogrio.read_info(gpkg, layer="parcels")
    assert info["features"] == len(plots) and "9215" in info["crs"]
    assert set(read(gpkg, columns=["parcel_id"])[0]["parcel_id"]) == ids
    # Shapefile: one zip with the .cpg; Vietnamese owners survive byte for byte.
    r, shz = fetch("shp", function="protection")
    assert r.headers["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert "parcels.cpg" in names and "parcels.shp" in names, names
    df, _ = read(f"/vsizip/{shz}/parcels.shp")
    id_col = next(c for c in df if c.startswith("parcel_i"))
    assert len(df[id_col]) == len(plots)
    owners = dict(zip(df[id_col], df["owner"]))
    assert all(owners[p["parcel_id"]].encode() == p["owner"].encode() for p in plots)
    assert any(any(ord(c) > 127 for c in o) for o in owners.values()), "Vietnamese names present"
    # KML and CSV; GPX of the alerts as waypoints; XLSX opened by openpyxl.
    _, kml = fetch("kml", function="protection")
    assert pyogrio.read_info(kml)["features"] == len(plots)
    _, csv = fetch("csv", function="protection")
    assert pyogrio.read_info(csv)["features"] == len(plots)
    high = matched(server, "alerts", severity="high")
    _, gpx = fetch("gpx", "alerts", severity="high")
    assert high and len(read(gpx, layer="waypoints")[1]) == high
    r, xlsx = fetch("xlsx", function="protection", filter="area_ha > 5")
    sheet = openpyxl.load_workbook(xlsx).active
    header = [c.value for c in sheet[1]]
    big = rows(sample_store, "SELECT parcel_id FROM parcels WHERE function = 'protection' AND area_ha > 5")
    got = {row[header.index("parcel_id")] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert got == {p["parcel_id"] for p in big}
    # limit/offset make a page; caching headers as on every collection response.
    _, page = fetch("csv", function="protection", limit=7, offset=3)
    assert pyogrio.read_info(page)["features"] == 7
    r = server.get("/collections/parcels/items", params={"f": "csv", "function": "protection"})
    assert r.headers.get("ETag")
    again = server.get("/collections/parcels/items", params={"f": "csv", "function": "protection"},
                       headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304
    r = server.get("/collections/alerts/items", params={"f": "kml", "crs": "EPSG:3857"})
    assert r.status_code == 400 and "WGS 84" in r.text


def test_sortby_and_cql2_filter(server, sample_store):
    plots = rows(sample_store, "SELECT * FROM parcels")
    top = server.get("/collections/parcels/items", params={"sortby": "-area_ha,id", "limit": 10}).json()["features"]
    want = sorted(plots, key=lambda p: (-p["area_ha"], p["parcel_id"]))[:10]
    assert [f["id"] for f in top] == [p["parcel_id"] for p in want]
    # Ascending owner, paged: the second page continues the first.
    a = all_items(server, sortby="+owner,id", owner_category="community")
    want = sorted((p for p in plots if p["owner_category"] == "community"), key=lambda p: (p["owner"], p["parcel_id"]))
    assert want
    assert [f["id"] for f in a] == [p["parcel_id"] for p in want]
    two = server.get("/collections/parcels/items", params={"sortby": "-area_ha,id", "limit": 5, "offset": 5}).json()
    assert [f["id"] for f in two["features"]] == [f["id"] for f in server.get(
        "/collections/parcels/items", params={"sortby": "-area_ha,id", "limit": 10}).json()["features"]][5:]
    # CQL2 text, each count from SQL on the store.
    owner = next(p["owner"] for p in plots if "'" not in p["owner"] and " " in p["owner"])
    prefix = owner.split(" ")[0]
    for cql, sql in (
        ("function = 'protection' AND area_ha > 5", "function = 'protection' AND area_ha > 5"),
        ("(function = 'special-use' OR owner_category IN ('household', 'community')) AND NOT loss_ha > 0",
         "(function = 'special-use' OR owner_category IN ('household', 'community')) AND NOT loss_ha > 0"),
        ("area_ha BETWEEN 2 AND 3.5", "area_ha BETWEEN 2 AND 3.5"),
        (f"owner LIKE '{prefix} %'", f"owner LIKE '{prefix} %'"),
        ("forest_ha IS NULL", "forest_ha IS NULL"),
        ("cover_pct >= 50 and origin <> 'planted'", "cover_pct >= 50 AND origin <> 'planted'"),
    ):
        n = rows(sample_store, f"SELECT count(*) AS n FROM parcels WHERE {sql}")[0]["n"]
        got = matched(server, filter=cql, **{"filter-lang": "cql2-text"})
        if "LIKE" in sql:  # SQLite's LIKE ignores ASCII case; CQL2's does not
            n = sum(p["owner"].startswith(prefix + " ") for p in plots)
        assert got == n, (cql, got, n)
    # Alerts: the triage status and dates are filterable.
    assert matched(server, "alerts", filter="status = 'new' AND to_date >= DATE('2000-01-01')") == matched(server, "alerts")
    for params, needle in (
        ({"filter": "area_ha > 5 AND"}, "at character 16"),
        ({"filter": "size > 5"}, "\\\"size\\\" is not a property of parcels"),
        ({"filter": "area_ha > 'x'"}, "is a number"),
        ({"filter": "area_ha > 5", "filter-lang": "cql2-json"}, "cql2-text"),
        ({"sortby": "-size"}, "\\\"size\\\" is not a property"),
    ):
        r = server.get("/collections/parcels/items", params=params)
        assert r.status_code == 400, (params, r.status_code)
        assert needle.replace("\\\"", '"') in r.json()["description"], (params, r.text)
    conf = server.get("/conformance").json()["conformsTo"]
    for c in ("ogcapi-features-2/1.0/conf/crs", "ogcapi-features-3/1.0/conf/features-filter", "cql2/1.0/conf/cql2-text"):
        assert any(x.endswith(c) for x in conf), c
