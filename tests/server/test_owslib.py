"""OWSLib (PyPI) lists the collections and gets items with bbox and filters."""

from __future__ import annotations

from owslib.ogcapi.features import Features


def test_landing_conformance_collections(server):
    w = Features(server.url)
    conf = w.conformance()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conf
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in conf
    ids = [c["id"] for c in w.collections()["collections"]]
    assert ids == ["communes", "alerts", "zones", "hotspots", "fire_events", "parcels"]
    c = w.collection("alerts")
    assert c["extent"]["spatial"]["bbox"][0][0] < c["extent"]["spatial"]["bbox"][0][2]
    assert c["extent"]["temporal"]["interval"][0][0].startswith("20")
    q = w.collection_queryables("alerts")
    assert {"severity", "status", "species", "commune"} <= set(q["properties"])


def test_items_with_bbox_filters_and_paging(server):
    w = Features(server.url)
    all_alerts = w.collection_items("alerts", limit=10000)
    n = all_alerts["numberMatched"]
    assert n == all_alerts["numberReturned"] == len(all_alerts["features"]) > 0
    high = w.collection_items("alerts", severity="high", limit=10000)
    assert 0 < high["numberMatched"] < n
    assert all(f["properties"]["severity"] == "high" for f in high["features"])
    # a bbox around the first alert finds it
    f0 = all_alerts["features"][0]
    b = f0["bbox"]
    near = w.collection_items("alerts", bbox=[b[0] - 1e-4, b[1] - 1e-4, b[2] + 1e-4, b[3] + 1e-4])
    assert f0["id"] in [f["id"] for f in near["features"]]
    # pages of 5 cover the collection once
    page = w.collection_items("alerts", limit=5, offset=5)
    assert page["numberReturned"] == min(5, n - 5)
    assert [f["id"] for f in page["features"]] == [f["id"] for f in all_alerts["features"][5:10]]
    # RFC 7946: lon/lat in WGS84 (the sample is in Lạng Sơn)
    lon, lat = f0["geometry"]["coordinates"][0][0][0]
    assert 105.5 < lon < 107.5 and 21 < lat < 23
    communes = w.collection_items("communes", name="loc binh")
    assert [f["properties"]["name"] for f in communes["features"]] == ["Lộc Bình"]
