"""The planners' HTML report opens in headless Chromium (Debian's `chromium`,
driven by Playwright from PyPI; no browser download) with no console error, no
failed or external request, draws one map shape per commune and the zone chart,
and a screenshot is saved for a person to look at."""

from __future__ import annotations

import shutil

import pytest

import oracle_lib as ol

SHOTS = ol.REPO / "target" / "screenshots"


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        pytest.fail("chromium is not installed: scripts/setup.sh --python installs Debian's chromium")
    return exe


def test_html_report_renders_offline_in_chromium(sample_store, tmp_path):
    from playwright.sync_api import sync_playwright

    html = tmp_path / "report.html"
    ol.run_canopy("report", "--store", sample_store, "--format", "html", "-o", html)
    communes = len(ol.read_communes_table(sample_store))
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / "report.png"
    errors, requests = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("requestfailed", lambda r: errors.append(f"failed: {r.url}"))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(html.as_uri(), wait_until="load")
        shapes = page.locator("svg.map path").count()
        bars = page.locator("svg.chart rect.bar").count()
        ranges = page.locator("svg.chart rect.range").count()
        title = page.title()
        rows = page.locator("table tr.commune").count()
        page.screenshot(path=str(shot), full_page=True)
        page.emulate_media(media="print")
        pdf_ok = page.pdf(path=str(tmp_path / "report.pdf"), format="A4", landscape=True)
        browser.close()
    ol.REPORTS.append(f"report screenshot: {shot}")
    assert errors == [], errors
    assert [u for u in requests if not u.startswith("file:")] == [], "the report loads nothing from the network"
    assert shapes == communes, (shapes, communes)
    assert rows == communes
    assert bars == 4 and ranges == 4, "one bar and one target range per species"
    assert "Lạng Sơn" in title
    assert shot.stat().st_size > 50_000, "a real screenshot"
    assert pdf_ok[:4] == b"%PDF", "printable"
