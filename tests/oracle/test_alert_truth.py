"""Forest-loss alerts against the generator's planted truth (truth/truth.json).

The expected values come from the generator, never from the pipeline: which
changes it planted, their exact pixel rectangles, and the severity the rule in
the README gives them (natural-forest clearing outside zones: high; clear-cut in
an acacia or pine zone: low; clearing in an anise or cinnamon zone: medium; no
alert for regrowth, for clearings under the later epoch's clouds, or below
0.3 ha)."""

from __future__ import annotations

import json

import pyproj
import pytest

import oracle_lib as ol


@pytest.fixture(scope="module")
def truth(sample_region_file):
    path = sample_region_file.parent / "truth" / "truth.json"
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def alerts(sample_store):
    # Loss alerts: fire alerts (kind 'fire', from the sample's hotspots) are checked
    # in test_fire_hotspots.py.
    return ol.query(sample_store, "SELECT * FROM alerts WHERE kind = 'loss'")


def _match(truth, alerts):
    """For each planted change, the alerts whose centroid lies inside its rectangle
    (widened by one pixel)."""
    tr = pyproj.Transformer.from_crs(4326, truth["crs"], always_xy=True)
    p = truth["pixel_size"]
    pos = {a["alert_id"]: tr.transform(a["centroid_lon"], a["centroid_lat"]) for a in alerts}
    found = {}
    for c in truth["changes"]:
        x0, y0, x1, y1 = c["rect"]
        found[c["id"]] = [a for a in alerts if x0 - p <= pos[a["alert_id"]][0] <= x1 + p and y0 - p <= pos[a["alert_id"]][1] <= y1 + p]
    return found


def test_recall_and_precision(truth, alerts):
    found = _match(truth, alerts)
    expected = [c for c in truth["changes"] if c["expected_severity"]]
    silent = [c for c in truth["changes"] if not c["expected_severity"]]
    assert expected, "the sample plants changes that must raise alerts"
    hits = [c for c in expected if len(found[c["id"]]) == 1]
    doubles = [c["id"] for c in expected if len(found[c["id"]]) > 1]
    recall = len(hits) / len(expected)
    matched = {a["alert_id"] for c in expected for a in found[c["id"]]}
    precision = len(matched) / len(alerts) if alerts else 1.0
    ol.REPORTS.append(
        f"alerts vs truth: {len(alerts)} alerts, {len(expected)} planted to find, "
        f"recall {recall:.1%}, precision {precision:.1%}"
    )
    assert not doubles, f"planted changes split into several alerts: {doubles}"
    assert recall == 1.0, f"missed: {[c['id'] for c in expected if not found[c['id']]]}"
    assert precision == 1.0, f"alerts with no planted change: {sorted({a['alert_id'] for a in alerts} - matched)}"
    for c in silent:
        assert not found[c["id"]], f"change {c['id']} ({c['kind']}, {c['area_ha']} ha, cloud {c['cloud_covered_in_to_epoch']}) raised an alert"


def test_area_severity_commune_and_zone(truth, alerts):
    found = _match(truth, alerts)
    p = truth["pixel_size"]
    for c in truth["changes"]:
        if not c["expected_severity"]:
            continue
        (a,) = found[c["id"]]
        c0, r0, c1, r1 = c["px"]
        # Within one pixel-row of the truth (the generator's rectangles are exact,
        # so in practice the areas are equal).
        row_ha = max(c1 - c0, r1 - r0) * p * p / 10_000
        assert abs(a["area_ha"] - c["area_ha"]) <= row_ha, (c, a["area_ha"])
        assert a["severity"] == c["expected_severity"], (c, a["severity"])
        assert a["zone_code"] == c["zone_code"], (c, a["zone_code"])
        assert a["zone_species"] == c["zone_species"], (c, a["zone_species"])
        if not c["straddles_tiles"]:
            assert a["commune_code"] == c["commune"], (c, a["commune_code"])
        assert a["natural_lost"] is None, "spectral epochs cannot tell natural forest"


def test_straddling_clearing_is_one_alert(truth, alerts):
    found = _match(truth, alerts)
    straddlers = [c for c in truth["changes"] if c["straddles_tiles"]]
    assert straddlers, "the sample plants a clearing across a tile seam"
    for c in straddlers:
        assert len(found[c["id"]]) == 1, c


def test_alert_geometries_are_valid_and_exact(truth, alerts, sample_store):
    """Each outline is a valid polygon whose area in UTM equals the pixel area."""
    import shapely

    tr = pyproj.Transformer.from_crs(4326, truth["crs"], always_xy=True)
    rows = ol.query(sample_store, "SELECT alert_id, area_ha, geom FROM alerts WHERE kind = 'loss'")
    for r in rows:
        g = ol.gpkg_geometry(r["geom"])
        assert g.is_valid, r["alert_id"]
        utm = shapely.transform(g, lambda xy: __import__("numpy").column_stack(tr.transform(xy[:, 0], xy[:, 1])))
        assert abs(utm.area / 10_000 - r["area_ha"]) < 1e-6 * max(1.0, r["area_ha"]), (r["alert_id"], utm.area)
        assert shapely.get_num_geometries(g) >= 1
