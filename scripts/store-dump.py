#!/usr/bin/env python3
"""Prints every row of every table of a GeoPackage store, exactly (floats by repr,
blobs as hex), so two stores can be compared with `diff` / `==`: what `canopy run`
and `canopy merge` wrote must be identical. Left out, as they differ between any two
runs: the run's timestamps and timings (`runs`), GeoPackage `last_change` times,
the QGIS styles' `update_time`.

    scripts/store-dump.py STORE.gpkg > dump.txt
"""
import sqlite3
import sys

SKIP = {"started_at", "finished_at", "timings", "last_change", "update_time"}


def dump(path, out):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    tables = [r[0] for r in db.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
        "AND name NOT LIKE 'rtree_%' ORDER BY name")]
    for t in tables:
        cols = [r[1] for r in db.execute(f'PRAGMA table_info("{t}")') if r[1] not in SKIP]
        sel = ", ".join(f'"{c}"' for c in cols)
        rows = db.execute(f'SELECT {sel} FROM "{t}" ORDER BY rowid').fetchall()
        out.write(f"## {t} ({len(rows)} rows) {cols}\n")
        for r in rows:
            out.write("\t".join(v.hex() if isinstance(v, bytes) else repr(v) for v in r) + "\n")


if __name__ == "__main__":
    dump(sys.argv[1], sys.stdout)
