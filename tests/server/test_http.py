"""Plain HTTP against a running server: triage with ETag / If-Match, hot reload of a
store changed by another process, CORS, graceful shutdown."""

from __future__ import annotations

import time

import requests

from conftest import RANGER, SAMPLE_DIR, TOKEN, canopy


def wait_for(pred, seconds=15.0):
    end = time.time() + seconds
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.1)
    return False


def test_triage_over_http_and_reload(own_server):
    s = own_server
    alerts = s.get("/collections/alerts/items", params={"limit": 2}).json()["features"]
    a, b = alerts[0]["id"], alerts[1]["id"]
    url = f"{s.url}/collections/alerts/items/{a}"
    r = requests.get(url, timeout=10)
    etag = r.headers["ETag"]
    body = {"status": "dismissed", "note": "harvest, checked on the ground"}
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert requests.patch(url, json=body, headers={"If-Match": etag}, timeout=10).status_code == 401
    assert requests.patch(url, json=body, headers={**auth}, timeout=10).status_code == 428
    assert requests.patch(url, json=body, headers={**auth, "If-Match": '"old"'}, timeout=10).status_code == 412
    r = requests.patch(url, json=body, headers={**auth, "If-Match": etag}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["properties"]["status_by"] == RANGER
    assert r.headers["ETag"] != etag
    assert len(requests.get(url + "/history", timeout=10).json()["events"]) == 1

    # another process writes into the store: the server picks it up without a restart
    canopy("triage", "--store", s.store, b, "--status", "confirmed", "--by", "CLI")
    assert wait_for(lambda: s.get(f"/collections/alerts/items/{b}").json()["properties"]["status"] == "confirmed")
    # a re-run replaces the store; triage is kept and the new store is served
    before = s.get("/stats/province").json()["last_run"]
    canopy("run", SAMPLE_DIR / "region.toml", "--store", s.store)
    assert wait_for(lambda: s.get("/stats/province").json()["last_run"] != before)
    assert s.get(f"/collections/alerts/items/{a}").json()["properties"]["status"] == "dismissed"
    assert s.get(f"/collections/alerts/items/{b}").json()["properties"]["status"] == "confirmed"


def test_cors(own_server):
    r = requests.options(
        f"{own_server.url}/collections/alerts/items/x",
        headers={"Origin": "https://maps.example.org", "Access-Control-Request-Method": "PATCH",
                 "Access-Control-Request-Headers": "authorization,if-match,content-type"},
        timeout=10,
    )
    assert r.headers.get("access-control-allow-origin") == "https://maps.example.org"
    assert "PATCH" in r.headers.get("access-control-allow-methods", "")
    r = own_server.get("/collections", headers={"Origin": "https://evil.example.com"})
    assert "access-control-allow-origin" not in r.headers


def test_errors_are_json(server):
    for path, code in [("/collections/alerts/items?bbox=1,2", 400), ("/collections/nope", 404),
                       ("/collections/alerts/items?limit=-3", 400), ("/collections/alerts/items?foo=1", 400)]:
        r = server.get(path)
        assert r.status_code == code, path
        assert r.headers["content-type"].startswith("application/json")
        assert r.json()["description"]
    big = requests.patch(f"{server.url}/collections/alerts/items/x", data="x" * 100_000,
                         headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}",
                                  "If-Match": '"x"'}, timeout=10)
    assert big.status_code == 413 and big.json()["code"] == "PayloadTooLarge"


def test_planner_endpoints_on_the_sample(server):
    species = server.get("/stats/species", params={"commune": "PROVINCE"}).json()["species"]
    assert {"pine", "anise", "acacia", "cinnamon"} <= {r["species"] for r in species}
    assert all(r["commune_code"] == "PROVINCE" for r in species)
    targets = server.get("/stats/targets").json()
    assert targets["has_targets"] and targets["progress"]["cover"]
    csv = server.get("/stats/report", params={"f": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    n_communes = server.get("/collections/communes/items", params={"limit": 1}).json()["numberMatched"]
    assert len(csv.text.strip().splitlines()) >= n_communes + 1
    html = server.get("/stats/report", params={"f": "html"})
    assert html.headers["content-type"].startswith("text/html") and "<svg" in html.text
    series = server.get("/stats/communes/loc binh").json()
    assert series["name"] == "Lộc Bình" and len(series["cover"]) >= 2
    zones = server.get("/collections/zones/items", params={"species": "acacia", "limit": 10000}).json()
    assert zones["numberMatched"] > 0
    assert all(f["properties"]["species"] == "acacia" for f in zones["features"])
