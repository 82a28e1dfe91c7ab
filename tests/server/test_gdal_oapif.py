"""GDAL's OGC API - Features driver (Debian's gdal-bin) opens, pages and filters every
collection of a running `canopy serve`."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

COLLECTIONS = ["communes", "alerts", "zones"]


def ogrinfo_run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    r = subprocess.run(["ogrinfo", "-ro", *args], capture_output=True, text=True, timeout=300,
                       env={**os.environ, **(env or {})})
    assert r.returncode == 0, f"ogrinfo {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}"
    return r


def ogrinfo(*args: str) -> str:
    return ogrinfo_run(*args).stdout


def features(out: str) -> list[str]:
    return re.findall(r"^OGRFeature\(\w+\):\d+", out, flags=re.M)


def test_lists_every_collection(server):
    out = ogrinfo("-so", f"OAPIF:{server.url}")
    for c in COLLECTIONS:
        assert re.search(rf"^\d+: {c} ", out, flags=re.M), out


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_reads_every_feature_with_small_pages(server, collection):
    expected = server.get(f"/collections/{collection}/items", params={"limit": 1}).json()["numberMatched"]
    if collection != "zones":
        assert expected > 0
    # PAGE_SIZE=7: GDAL must follow our next links through several pages
    out = ogrinfo("-al", "-oo", "PAGE_SIZE=7", f"OAPIF:{server.url}", collection)
    assert len(features(out)) == expected
    summary = ogrinfo("-so", f"OAPIF:{server.url}", collection)
    if expected:
        assert f"Feature Count: {expected}" in summary, summary


def test_typed_fields_from_the_schema(server):
    out = ogrinfo("-so", f"OAPIF:{server.url}", "communes")
    assert re.search(r"^cover_pct: Real", out, flags=re.M), out
    assert re.search(r"^name: String", out, flags=re.M), out


def test_attribute_filter_is_served(server):
    api = server.get("/collections/alerts/items", params={"severity": "high", "limit": 1}).json()
    r = ogrinfo_run("-al", "-oo", "PAGE_SIZE=5", "-where", "severity = 'high'", f"OAPIF:{server.url}", "alerts",
                    env={"CPL_DEBUG": "ON"})
    out = r.stdout
    got = features(out)
    # GDAL read the filter parameters from /api and sent the filter to the server
    fetched = re.findall(r"HTTP: Fetch\((\S+)\)", r.stderr)
    assert any("/collections/alerts/items?" in u and "severity=high" in u for u in fetched), fetched
    assert len(got) == api["numberMatched"] > 0
    assert "severity (String) = medium" not in out and "severity (String) = low" not in out


def test_spatial_filter(server):
    communes = server.get("/collections/communes/items", params={"limit": 1}).json()
    b = communes["features"][0]["bbox"]
    api = server.get("/collections/communes/items", params={"bbox": ",".join(map(str, b)), "limit": 1}).json()
    out = ogrinfo("-al", "-q", "-spat", *map(str, b), f"OAPIF:{server.url}", "communes")
    assert len(features(out)) == api["numberMatched"] >= 1
