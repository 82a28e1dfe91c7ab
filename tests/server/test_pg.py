"""`canopy serve` on a PostgreSQL/PostGIS store (issue 15): several servers on one
database, concurrent triage with one ETag, reload when a run swaps new results in,
GDAL's OAPIF driver reading the same features as from a GeoPackage server.

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
