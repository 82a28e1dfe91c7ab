"""For GIS software (issue 19's server parts, issue 17's alert cause), against a running
`canopy serve` on the sample store: compression negotiated by Accept-Encoding, strong
ETags with 304 on If-None-Match, the typed fields as GDAL's OAPIF driver reads them,
and the alerts' `cause` property and filter (checked against the store read by OGR)."""

from __future__ import annotations

import re
import sqlite3
import subprocess

import requests

ITEMS = "/collections/communes/items?limit=10000"


def raw(server, path: str, encoding: str, **headers) -> requests.Response:
    """The response with its body as sent (not decoded)."""
    r = requests.get(server.url + path, headers={"Accept-Encoding": encoding, **headers}, stream=True, timeout=60)
    r.raw_bytes = r.raw.read(decode_content=False)
    return r


def test_compression_is_negotiated_and_shrinks(server):
    plain = raw(server, ITEMS, "identity")
    gz = raw(server, ITEMS, "gzip")
    br = raw(server, ITEMS, "br")
    assert plain.status_code == gz.status_code == br.status_code == 200
    assert "Content-Encoding" not in plain.headers
    assert gz.headers["Content-Encoding"] == "gzip" and br.headers["Content-Encoding"] == "br"
    assert "accept-encoding" in gz.headers.get("Vary", "").lower()
    import gzip
    assert gzip.decompress(gz.raw_bytes) == plain.raw_bytes
    n, g, b = len(plain.raw_bytes), len(gz.raw_bytes), len(br.raw_bytes)
    print(f"communes items: identity {n} B, gzip {g} B, br {b} B")
    assert g < n / 3 and b < n / 3, (n, g, b)


def test_etag_and_not_modified(server):
    for path in [ITEMS, "/collections", "/collections/alerts/items?limit=5", "/stats/province"]:
        r = raw(server, path, "gzip")
        tag = r.headers["ETag"]
        assert re.fullmatch(r'"[0-9a-f]{32}"', tag), tag
        assert r.headers["Cache-Control"] == "no-cache"
        again = raw(server, path, "gzip", **{"If-None-Match": tag})
        assert again.status_code == 304 and again.raw_bytes == b"" and again.headers["ETag"] == tag
        other = raw(server, path, "gzip", **{"If-None-Match": '"0000"'})
        assert other.status_code == 200 and other.raw_bytes == r.raw_bytes
        # a strong tag names one representation: identity and gzip differ
        assert raw(server, path, "identity").headers["ETag"] != tag
    # an alert keeps its triage ETag (the one PATCH's If-Match checks)
    a = server.get("/collections/alerts/items?limit=1").json()["features"][0]["id"]
    r = server.get(f"/collections/alerts/items/{a}")
    assert server.get(f"/collections/alerts/items/{a}", headers={"If-None-Match": r.headers["ETag"]}).status_code == 304


def test_alert_cause_property_and_filter(server, sample_store):
    con = sqlite3.connect(sample_store)
    want = dict(con.execute("SELECT cause, count(*) FROM alerts GROUP BY cause").fetchall())
    con.close()
    total = server.get("/collections/alerts/items?limit=1").json()["numberMatched"]
    assert sum(want.values()) == total
    for cause in ["fire", "unknown"]:
        doc = server.get(f"/collections/alerts/items?cause={cause}&limit=10000").json()
        assert doc["numberMatched"] == want.get(cause, 0), cause
        assert all(f["properties"]["cause"] == cause for f in doc["features"])
    bad = server.get("/collections/alerts/items?cause=arson")
    assert bad.status_code == 400 and "cause" in bad.json()["description"]
    q = server.get("/collections/alerts/queryables").json()["properties"]
    assert q["cause"]["enum"] == ["unknown", "fire"]
    s = server.get("/collections/alerts/schema").json()["properties"]
    assert s["cause"]["enum"] == ["unknown", "fire"]
    assert s["status_at"]["format"] == "date-time" and s["first_seen"]["format"] == "date"


def test_gdal_reads_typed_fields(server):
    out = subprocess.run(["ogrinfo", "-ro", "-so", f"OAPIF:{server.url}", "alerts"], capture_output=True,
                         text=True, timeout=300).stdout
    fields = dict(re.findall(r"^(\w+): (\w+(?:\(\w+\))?)", out, flags=re.M))
    assert fields.get("from_date") == "Date", out
    assert fields.get("first_seen") == "Date", out
    assert fields.get("season_mismatch") == "Integer(Boolean)", out
    # GDAL 3.6 infers types from the first page of features: status_at (null until a
    # triage) and natural_lost (null for spectral epochs) still read as String.
