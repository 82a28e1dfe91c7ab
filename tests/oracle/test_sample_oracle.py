"""Canopy's figures for the Lạng Sơn sample region against an independent oracle.

The oracle (oracle_lib.py) rebuilds each epoch's composite with numpy and Debian's
gdalwarp, and takes the exact pixel coverage of every commune from exactextract.

Tolerances: 0.01 % relative. Both sides compute exact coverage fractions over the same
pixel states, so the only legitimate differences are floating-point rounding (~1e-12
relative); 1e-4 catches any rule difference bigger than a few pixels per commune (a
Lạng Sơn commune covers 60 000 - 500 000 pixels of 30 m). For figures close to zero a
relative error is meaningless, so the error is taken relative to max(|oracle|, 0.01 ha):
0.01 ha is 1/9 of one 30 m pixel (0.09 ha), smaller than any real rule difference (a
single misclassified pixel, or a misplaced polygon edge across a row of pixels), and
large against rounding noise.
"""

from __future__ import annotations

import oracle_lib as ol
import pytest

REL = 1e-4  # 0.01 %
FLOOR_HA = 0.01


def test_cover_rows_exist_for_every_commune_and_epoch(sample_store, sample_oracle):
    cover = ol.read_cover(sample_store)
    codes = [c.code for c in sample_oracle["communes"]]
    epochs = [e.id for e in sample_oracle["region"].epochs]
    assert len(codes) == 65 and len(set(codes)) == 65
    expected = {(c, e) for c in codes for e in epochs}
    missing = sorted(expected - cover.keys())
    extra = sorted(cover.keys() - expected)
    assert not missing, f"cover rows missing: {missing[:10]} ({len(missing)} in all)"
    assert not extra, f"unexpected cover rows: {extra[:10]}"
    n = ol.query(sample_store, "SELECT COUNT(*) AS n FROM cover")[0]["n"]
    assert n == len(expected), f"cover has {n} rows, expected {len(expected)} (duplicates?)"
    assert sorted(ol.read_province(sample_store)) == sorted(epochs)
    assert [e["id"] for e in ol.read_epochs(sample_store)] == epochs


def test_oracle_sees_the_sample(sample_oracle):
    """Guards the comparisons below against agreeing on nothing: the sample's tiles are
    mostly clear sky (the generator plants ~8 % cloud), so the oracle composite must
    observe most of the province and find forest in it."""
    nat = sample_oracle["province_natural_ha"]
    for eid, e in sample_oracle["epochs"].items():
        p = e["sums"][ol.PROVINCE_KEY]
        assert p["observed_ha"] > 0.5 * nat, f"epoch {eid}: oracle observes only {p['observed_ha']:.1f} of {nat:.1f} ha"
        assert 0.1 * p["observed_ha"] < p["forest_ha"] < 0.95 * p["observed_ha"], f"epoch {eid}: {p}"
        # The sample has a tile on another CRS (wgs84.tif): the warp path is exercised.
        assert e["warped_tiles"], f"epoch {eid}: no warped tile in the sample"


@pytest.mark.parametrize("quantity", ["forest_ha", "observed_ha"])
def test_commune_figures_match_exactextract(sample_store, sample_oracle, quantity):
    cover = ol.read_cover(sample_store)
    t = ol.ErrorTracker(REL)
    for eid, e in sample_oracle["epochs"].items():
        for c in sample_oracle["communes"]:
            row = cover.get((c.code, eid))
            assert row is not None, f"no cover row for {c.code} {eid}"
            t.check(quantity, f"{c.code} {c.name} {eid}", row[quantity], e["sums"][c.code][quantity], FLOOR_HA)
    rep = t.report(f"sample communes, {quantity}")
    ol.REPORTS.append(rep)
    print("\n" + rep)
    t.assert_ok(f"sample communes, {quantity}")


def test_unobserved_and_percentages_are_consistent(sample_store, sample_oracle):
    """unobserved = natural - observed, cover % = forest / observed, observed % = observed /
    natural, all from the oracle's own figures."""
    cover = ol.read_cover(sample_store)
    t = ol.ErrorTracker(REL)
    for eid, e in sample_oracle["epochs"].items():
        for c in sample_oracle["communes"]:
            row, s, nat = cover[(c.code, eid)], e["sums"][c.code], sample_oracle["natural_ha"][c.code]
            label = f"{c.code} {c.name} {eid}"
            t.check("unobserved_ha", label, row["unobserved_ha"], max(nat - s["observed_ha"], 0.0), FLOOR_HA)
            t.check("observed_pct", label, row["observed_pct"], 100 * s["observed_ha"] / nat, 1e-2)
            if s["observed_ha"] > 0:
                assert row["cover_pct"] is not None, f"{label}: cover_pct is NULL"
                t.check("cover_pct", label, row["cover_pct"], 100 * s["forest_ha"] / s["observed_ha"], 1e-2)
    rep = t.report("sample communes, derived figures")
    ol.REPORTS.append(rep)
    print("\n" + rep)
    t.assert_ok("sample communes, derived figures")


def test_natural_ha_matches_pyproj_shapely(sample_store, sample_oracle):
    cover = ol.read_cover(sample_store)
    table = ol.read_communes_table(sample_store)
    t = ol.ErrorTracker(REL)
    for c in sample_oracle["communes"]:
        want = sample_oracle["natural_ha"][c.code]
        assert c.code in table, f"commune {c.code} missing from the communes layer"
        t.check("natural_ha (communes)", f"{c.code} {c.name}", table[c.code]["natural_ha"], want, FLOOR_HA)
        for eid in sample_oracle["epochs"]:
            t.check("natural_ha (cover)", f"{c.code} {c.name} {eid}", cover[(c.code, eid)]["natural_ha"], want, FLOOR_HA)
    rep = t.report("sample natural areas")
    ol.REPORTS.append(rep)
    print("\n" + rep)
    t.assert_ok("sample natural areas")


def test_province_natural_ha_is_the_union_area(sample_store, sample_oracle):
    prov = ol.read_province(sample_store)
    want = sample_oracle["province_natural_ha"]
    total = sum(sample_oracle["natural_ha"].values())
    # The real boundaries overlap (~2.5 km² per province): the union is smaller.
    assert want < total
    t = ol.ErrorTracker(REL)
    for eid, row in prov.items():
        t.check("province natural_ha", eid, row["natural_ha"], want, FLOOR_HA)
    rep = t.report(f"province natural area (sum of communes {total:.2f} ha, union {want:.2f} ha)")
    ol.REPORTS.append(rep)
    print("\n" + rep)
    t.assert_ok("province natural area")


def test_province_counts_overlaps_once(sample_store, sample_oracle):
    prov = ol.read_province(sample_store)
    cover = ol.read_cover(sample_store)
    t = ol.ErrorTracker(REL)
    for eid, e in sample_oracle["epochs"].items():
        row = prov[eid]
        communes_sum = sum(cover[(c.code, eid)]["forest_ha"] for c in sample_oracle["communes"])
        oracle_sum = sum(e["sums"][c.code]["forest_ha"] for c in sample_oracle["communes"])
        # Overlapping communes share forest: the union has strictly less.
        assert e["sums"][ol.PROVINCE_KEY]["forest_ha"] < oracle_sum
        assert row["forest_ha"] < communes_sum, (
            f"epoch {eid}: province forest {row['forest_ha']:.3f} ha is not less than the sum of the "
            f"communes' {communes_sum:.3f} ha: overlaps counted twice?"
        )
        for q in ("forest_ha", "observed_ha"):
            t.check(f"province {q}", eid, row[q], e["sums"][ol.PROVINCE_KEY][q], FLOOR_HA)
    rep = t.report("province (union) figures")
    ol.REPORTS.append(rep)
    print("\n" + rep)
    t.assert_ok("province (union) figures")
