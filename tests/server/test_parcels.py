"""GET /stats/parcels on the sample store (forest plots, issue 14): the stored
change-tracking rows, their filters, and 400s naming the accepted values. The
figures are checked against the store's own table read with sqlite3."""

from __future__ import annotations

import sqlite3


def _stored(store):
    con = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute("SELECT * FROM parcel_summary")]
    finally:
        con.close()


def test_parcel_summary_is_served_as_stored(server, sample_store):
    stored = _stored(sample_store)
    assert stored, "the sample has plots"
    doc = server.get("/stats/parcels").json()
    assert doc["groupings"] == ["owner_category", "function", "commune_function", "commune"]
    assert len(doc["summary"]) == len(stored)
    by_function = server.get("/stats/parcels", params={"grouping": "function"}).json()["summary"]
    want = {r["function"]: r for r in stored if r["grouping"] == "function"}
    assert {r["function"] for r in by_function} == set(want) == {"special-use", "protection", "production"}
    for r in by_function:
        w = want[r["function"]]
        assert r["plots"] == w["plots"]
        for q in ("area_ha", "start_forest_ha", "loss_ha", "gain_ha", "end_forest_ha"):
            assert r[q] == w[q], (q, r[q], w[q])
    # Labels in Vietnamese select the same rows as codes.
    vi = server.get("/stats/parcels", params={"grouping": "function", "function": "Phòng hộ"}).json()["summary"]
    assert [r["function"] for r in vi] == ["protection"]
    # Commune rows carry the commune's own figures beside the plots' sums.
    communes = server.get("/stats/parcels", params={"grouping": "commune"}).json()["summary"]
    assert communes and all(r["commune_area_ha"] > 0 for r in communes)


def test_parcel_summary_rejects_unknown_values(server):
    for params, needle in (
        ({"grouping": "owner"}, "commune_function"),
        ({"function": "mixed"}, "special-use"),
        ({"owner_category": "company"}, "commune-committee"),
        ({"nonsense": "1"}, "nonsense"),
    ):
        r = server.get("/stats/parcels", params=params)
        assert r.status_code == 400, (params, r.status_code)
        assert needle in r.text, (params, r.text)
