"""`canopy serve` on a PostgreSQL/PostGIS store (issue 15): several servers on one
database, concurrent triage with one ETag, reload when a run swaps new results in,
GDAL's OAPIF driver reading the same features as from a GeoPackage server, OWSLib's
checks on a PostGIS server.

The database is `CANOPY_TEST_PG` (a libpq connection string; scripts/test.sh runs
these tests inside `scripts/pg-test-cluster.sh run`, a throwaway cluster). Without it
the tests fail, unless CANOPY_SKIP_PG=1 (local machines only)."""

from __future__ import annotations

import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import SAMPLE_DIR, TOKEN, canopy, ensure_sample, start_server, stop_server


@pytest.fixture(scope="module")
def pg_conn() -> str:
    conn = os.environ.get("CANOPY_TEST_PG")
    if not conn:
        if os.environ.get("CANOPY_SKIP_PG") == "1":
            pytest.skip("CANOPY_SKIP_PG=1: PostgreSQL store tests skipped")
        pytest.fail("CANOPY_TEST_PG is not set: run through scripts/pg-test-cluster.sh run ... "
                    "(scripts/test.sh does), or set CANOPY_SKIP_PG=1 to skip locally")
    return conn


def psql(conn: str, sql: str) -> str:
    r = subprocess.run(["psql", conn, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def wait_for(pred, seconds=15.0) -> bool:
    end = time.time() + seconds
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def pg_store(pg_conn) -> str:
    """The sample region run into schema `served` of the test database."""
    store = f"PG:{pg_conn} schema=served"
    canopy("run", ensure_sample(), "--store", store)
    return store


def test_two_servers_200_concurrent_patches_with_one_etag(pg_conn, pg_store):
    a = start_server(pg_store, "--poll-ms", "100")
    b = start_server(pg_store, "--poll-ms", "100")
    try:
        alerts = a.get("/collections/alerts/items", params={"limit": 5}).json()["features"]
        fid = alerts[-1]["id"]
        etag = a.get(f"/collections/alerts/items/{fid}").headers["ETag"]
        assert b.get(f"/collections/alerts/items/{fid}").headers["ETag"] == etag, "both serve one state"
        events_before = int(psql(pg_conn, f"SELECT count(*) FROM served_triage.alert_triage WHERE alert_id = '{fid}'"))

        def patch(i: int) -> int:
            s = (a, b)[i % 2]
            r = requests.patch(f"{s.url}/collections/alerts/items/{fid}",
                               json={"status": "confirmed", "note": f"writer {i}"},
                               headers={"Authorization": f"Bearer {TOKEN}", "If-Match": etag}, timeout=60)
            return r.status_code

        t0 = time.time()
        with ThreadPoolExecutor(max_workers=32) as pool:
            codes = list(pool.map(patch, range(200)))
        took = time.time() - t0
        print(f"200 concurrent PATCHes through two servers: {took:.2f} s; codes {sorted(set(codes))}")
        assert codes.count(200) == 1, sorted(codes)
        assert codes.count(412) == 199, sorted(codes)
        assert int(psql(pg_conn, f"SELECT count(*) FROM served_triage.alert_triage WHERE alert_id = '{fid}'")) \
            == events_before + 1, "exactly one event stored"
        # Both servers serve the winner's event (the loser's server re-reads within its poll).
        for s in (a, b):
            assert wait_for(lambda: s.get(f"/collections/alerts/items/{fid}").json()["properties"]["status"]
                            == "confirmed")
            hist = s.get(f"/collections/alerts/items/{fid}/history").json()["events"]
            assert len(hist) == events_before + 1
    finally:
        assert stop_server(a) == 0
        assert stop_server(b) == 0


def test_server_reloads_when_a_run_swaps_new_results_in(pg_conn, pg_store):
    s = start_server(pg_store, "--poll-ms", "100")
    try:
        fid = s.get("/collections/alerts/items", params={"limit": 1}).json()["features"][0]["id"]
        # Another process (the CLI) triages: the server sees it within its poll.
        canopy("triage", "--store", pg_store, fid, "--status", "dismissed", "--by", "CLI")
        assert wait_for(lambda: s.get(f"/collections/alerts/items/{fid}").json()["properties"]["status"]
                        == "dismissed")
        before = s.get("/stats/province").json()["last_run"]
        canopy("run", SAMPLE_DIR / "region.toml", "--store", pg_store)
        assert wait_for(lambda: s.get("/stats/province").json()["last_run"] != before)
        assert s.get(f"/collections/alerts/items/{fid}").json()["properties"]["status"] == "dismissed"
    finally:
        assert stop_server(s) == 0


def test_gdal_oapif_reads_the_same_features_from_a_postgis_server(pg_store, sample_store):
    """GDAL's OAPIF driver gets the same features from a server on PostGIS as from
    one on the GeoPackage of the same run (the same feature ids per collection)."""
    servers = [start_server(pg_store), start_server(sample_store)]
    try:
        got = []
        for s in servers:
            per = {}
            for name in ("communes", "alerts", "zones"):
                r = subprocess.run(["ogrinfo", "-ro", "-al", "-nogeomtype", f"OAPIF:{s.url}", name],
                                   capture_output=True, text=True, timeout=300)
                assert r.returncode == 0, r.stderr
                # the features' ids (every attribute of every layer is compared at the
                # store level by tests/store_pg.rs)
                per[name] = sorted(ln.strip() for ln in r.stdout.splitlines()
                                   if ln.startswith("  id (String) = ") or ln.startswith("  code (String) = "))
            got.append(per)
        assert got[0]["communes"] and got[0]["alerts"]
        assert got[0] == got[1]
    finally:
        for s in servers:
            stop_server(s)


def test_owslib_against_a_postgis_server(pg_store):
    """OWSLib's checks of tests/server/test_owslib.py (landing page, conformance,
    collections, queryables, items with bbox, filters and paging), run on a server
    whose store is the PostGIS schema: what a GeoPackage server passes, this passes."""
    import test_owslib

    s = start_server(pg_store)
    try:
        test_owslib.test_landing_conformance_collections(s)
        test_owslib.test_items_with_bbox_filters_and_paging(s)
    finally:
        stop_server(s)


def _close(a, b, path="") -> None:
    """Equal JSON, numbers to 1e-12 relative (GDAL's PostgreSQL driver writes
    doubles with 15 significant digits; SQLite keeps all 17)."""
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        assert a == b, f"{path}: {a!r} vs {b!r}"
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-9), f"{path}: {a!r} vs {b!r}"
    elif isinstance(a, dict) and isinstance(b, dict):
        assert sorted(a) == sorted(b), f"{path}: keys {sorted(a)} vs {sorted(b)}"
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"{path}: {len(a)} vs {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{path}[{i}]")
    else:
        assert a == b, f"{path}: {a!r} vs {b!r}"


def test_items_are_identical_from_a_geopackage_and_a_postgis_server_of_one_run(pg_conn, sample_store, tmp_path):
    """The GeoPackage of one run imported into PostGIS (`canopy import`): every
    collection's items (ids, every attribute, geometry) are the same from a server on
    either store."""
    gpkg = tmp_path / "one-run.gpkg"
    gpkg.write_bytes(sample_store.read_bytes())
    store = f"PG:{pg_conn} schema=one_run"
    t0 = time.time()
    canopy("import", gpkg, "--store", store)
    print(f"import of the sample store into PostGIS: {time.time() - t0:.1f} s")
    servers = [start_server(gpkg), start_server(store)]
    try:
        cols = [[c["id"] for c in s.get("/collections").json()["collections"]
                 if c.get("itemType", "feature") == "feature"] for s in servers]
        assert cols[0] == cols[1] and "alerts" in cols[0] and "communes" in cols[0], cols
        compared = 0
        for cid in cols[0]:
            pages = []
            for s in servers:
                r = s.get(f"/collections/{cid}/items", params={"limit": 500})
                assert r.status_code == 200, (cid, r.text)
                body = r.json()
                pages.append((body.get("numberMatched"), body["features"]))
            _close(pages[0][0], pages[1][0], f"{cid}.numberMatched")
            _close(pages[0][1], pages[1][1], cid)
            compared += len(pages[0][1])
        assert compared > 50, compared
    finally:
        for s in servers:
            assert stop_server(s) == 0


def _png() -> bytes:
    """A real 1×1 PNG."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\x22\x8b\x22")) + chunk(b"IEND", b""))


def test_a_triage_and_a_photo_on_one_server_reach_the_other_by_notify(pg_conn, pg_store):
    """Two servers whose poll is 10 minutes: only LISTEN/NOTIFY can tell the second
    one of the first one's triage and photo, within seconds."""
    a = start_server(pg_store, "--poll-ms", "600000")
    b = start_server(pg_store, "--poll-ms", "600000")
    try:
        fid = a.get("/collections/alerts/items", params={"limit": 5}).json()["features"][2]["id"]
        item = f"/collections/alerts/items/{fid}"
        n0 = len(b.get(f"{item}/history").json()["events"])
        auth = {"Authorization": f"Bearer {TOKEN}"}
        r = requests.patch(a.url + item, json={"status": "dismissed", "note": "cloud shadow"},
                           headers={**auth, "If-Match": a.get(item).headers["ETag"]}, timeout=60)
        assert r.status_code == 200, r.text
        t0 = time.time()
        assert wait_for(lambda: b.get(item).json()["properties"]["status"] == "dismissed", 5.0), \
            "the other server did not see the triage within 5 s (its poll is 10 min: NOTIFY)"
        print(f"triage seen by the other server after {time.time() - t0:.2f} s")
        assert b.get(f"{item}/history").json()["events"][-1]["note"] == "cloud shadow"
        assert len(b.get(f"{item}/history").json()["events"]) == n0 + 1

        png = _png()
        r = requests.post(a.url + f"{item}/photos", data=png,
                          headers={**auth, "If-Match": r.headers["ETag"], "Content-Type": "image/png"},
                          timeout=60)
        assert r.status_code == 201, r.text
        href = r.json()["href"]
        assert href.endswith(f"/photos/{n0 + 1}-1"), href
        assert int(psql(pg_conn, "SELECT count(*) FROM served_triage.triage_photos "
                                 f"WHERE alert_id = '{fid}' AND event = {n0 + 1}")) == 1
        assert psql(pg_conn, "SELECT encode(data, 'hex') FROM served_triage.triage_photos "
                             f"WHERE alert_id = '{fid}' AND event = {n0 + 1}") == png.hex()

        def photo_on_b() -> bool:
            ev = b.get(f"{item}/history").json()["events"][-1]
            return len(ev.get("photos", [])) == 1
        assert wait_for(photo_on_b, 5.0)
        g = b.get(f"{item}/photos/{n0 + 1}-1")
        assert g.status_code == 200 and g.headers["Content-Type"] == "image/png"
        assert g.content == png
    finally:
        assert stop_server(a) == 0
        assert stop_server(b) == 0


def test_an_exhausted_pg_pool_answers_503_with_retry_after(pg_store):
    """`--pg-pool 1`: of many concurrent chip reads (each a database read) those that
    wait longer than `--pg-pool-wait-ms` get a JSON 503 with Retry-After; the rest,
    and every read from memory meanwhile, succeed; afterwards all succeed."""
    s = start_server(pg_store, "--pg-pool", "1", "--pg-pool-wait-ms", "1")
    try:
        fids = [f["id"] for f in s.get("/collections/alerts/items", params={"limit": 8}).json()["features"]]

        def chip(i: int):
            r = requests.get(f"{s.url}/collections/alerts/items/{fids[i % len(fids)]}/chips/after.png", timeout=60)
            return r.status_code, r.headers.get("Retry-After"), r.headers.get("Content-Type")

        def from_memory(_):
            return requests.get(f"{s.url}/collections/communes/items", timeout=60).status_code

        with ThreadPoolExecutor(max_workers=16) as pool:
            chips = pool.submit(lambda: list(ThreadPoolExecutor(max_workers=12).map(chip, range(60))))
            mem = list(pool.map(from_memory, range(20)))
            got = chips.result()
        codes = [c for c, _, _ in got]
        print(f"--pg-pool 1, 60 concurrent chip reads: {codes.count(200)} × 200, {codes.count(503)} × 503")
        assert set(codes) <= {200, 503}, codes
        assert codes.count(503) > 0 and codes.count(200) > 0, codes
        assert all(ra == "1" for c, ra, _ in got if c == 503)
        assert all(ct == "image/png" for c, _, ct in got if c == 200)
        assert all(m == 200 for m in mem), mem
        r = requests.get(f"{s.url}/collections/alerts/items/{fids[0]}/chips/after.png", timeout=60)
        assert r.status_code == 200
        busy = next(c for c in got if c[0] == 503)
        assert busy[2].startswith("application/json")
        for f in fids:
            assert requests.get(f"{s.url}/collections/alerts/items/{f}/chips/after.png", timeout=60).status_code == 200
    finally:
        assert stop_server(s) == 0
