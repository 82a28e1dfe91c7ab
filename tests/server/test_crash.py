"""Crash test: kill -9 `canopy triage`, `canopy serve` (under PATCH traffic) and
`canopy run` at random points, many times. After every kill, every tool still works
on the store and no acknowledged triage event (CLI exit 0, HTTP 200) is missing.

Short by default (10 rounds × 3 kills, about a minute and a half); the long version:

    CANOPY_CRASH_ROUNDS=200 .venv/bin/python -m pytest -q tests/server/test_crash.py

CANOPY_CRASH_SEED fixes the random points (default: random, printed on failure).
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import threading
import time

import requests

from conftest import BINARY, TOKEN, ensure_sample, fresh_sample_store, start_server

ROUNDS = int(os.environ.get("CANOPY_CRASH_ROUNDS", "10"))
SEED = int(os.environ.get("CANOPY_CRASH_SEED", str(random.randrange(1 << 30))))


def canopy(*args, timeout=300):
    return subprocess.run([str(BINARY), *map(str, args)], capture_output=True, text=True, timeout=timeout)


def notes_in(store) -> set[str]:
    # Read-only, after the canopy tools ran (they roll a hot journal back first).
    c = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        return {r[0] for r in c.execute("SELECT note FROM alert_triage")}
    finally:
        c.close()


def check_tools(store, acknowledged: set[str], what: str):
    for cmd in (["alerts", "--store", store], ["stats", "--store", store], ["report", "--store", store]):
        r = canopy(*cmd)
        assert r.returncode == 0, f"after {what}: canopy {cmd[0]} failed:\n{r.stderr[-2000:]}"
    missing = acknowledged - notes_in(store)
    assert not missing, f"after {what}: acknowledged triage events lost: {sorted(missing)[:10]}"
    # A journal left by a killed writer must have been rolled back (a hot journal
    # starts with SQLite's magic); a non-hot leftover is ignored by SQLite and
    # removed by the next run.
    journal = store.parent / (store.name + "-journal")
    if journal.exists():
        with open(journal, "rb") as f:
            assert f.read(8) != HOT_MAGIC, f"after {what}: a hot journal is still beside the store"


HOT_MAGIC = bytes.fromhex("d9d505f920a163d7")


def patch_traffic(url: str, ids: list[str], acknowledged: set[str], stop: threading.Event, rng: random.Random, tag: str):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    n = 0
    while not stop.is_set():
        a = rng.choice(ids)
        note = f"{tag}-http-{n}"
        n += 1
        try:
            r = requests.get(f"{url}/collections/alerts/items/{a}", timeout=5)
            if r.status_code != 200:
                continue
            r = requests.patch(f"{url}/collections/alerts/items/{a}",
                               json={"status": rng.choice(["confirmed", "dismissed", "new"]), "note": note},
                               headers={**auth, "If-Match": r.headers["ETag"]}, timeout=5)
            if r.status_code == 200:
                acknowledged.add(note)
        except requests.RequestException:
            return  # the server was killed


def test_kill_9_anywhere_loses_nothing(tmp_path):
    rng = random.Random(SEED)
    region = ensure_sample()
    store = fresh_sample_store(tmp_path / "crash.gpkg")
    c = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    ids = [row[0] for row in c.execute("SELECT alert_id FROM alerts ORDER BY alert_id LIMIT 8")]
    c.close()
    assert ids, "the sample has alerts"
    acknowledged: set[str] = set()
    kills = 0
    for rnd in range(ROUNDS):
        where = f"round {rnd} (seed {SEED})"
        # 1. canopy triage, killed at a random point (acknowledged if it exited 0 first).
        note = f"r{rnd}-cli"
        p = subprocess.Popen([str(BINARY), "triage", "--store", str(store), rng.choice(ids),
                              "--status", "confirmed", "--note", note, "--by", "crash-test"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.0, 0.12))
        p.send_signal(signal.SIGKILL)
        if p.wait() == 0:
            acknowledged.add(note)
        kills += 1
        check_tools(store, acknowledged, f"{where}: killed triage")

        # 2. canopy serve under PATCH traffic, killed at a random point.
        s = start_server(store, "--poll-ms", "100")
        stop = threading.Event()
        workers = [threading.Thread(target=patch_traffic, args=(s.url, ids, acknowledged, stop,
                                                                random.Random(rng.random()), f"r{rnd}w{i}"))
                   for i in range(3)]
        for w in workers:
            w.start()
        time.sleep(rng.uniform(0.2, 1.2))
        s.proc.send_signal(signal.SIGKILL)
        s.proc.wait()
        stop.set()
        for w in workers:
            w.join(timeout=10)
        kills += 1
        check_tools(store, acknowledged, f"{where}: killed serve")

        # 3. canopy run, killed at a random point (it may also finish).
        p = subprocess.Popen([str(BINARY), "run", str(region), "--store", str(store)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.0, 4.0))
        p.send_signal(signal.SIGKILL)
        p.wait()
        kills += 1
        check_tools(store, acknowledged, f"{where}: killed run")

    # Finally everything works: a full run keeps every event, the server serves it.
    r = canopy("run", region, "--store", store)
    assert r.returncode == 0, r.stderr
    check_tools(store, acknowledged, "the final run")
    assert not (tmp_path / "crash.gpkg-journal").exists(), "a run leaves no journal beside the store"
    s = start_server(store)
    try:
        assert requests.get(s.url + "/collections/alerts/items", timeout=10).status_code == 200
    finally:
        s.proc.send_signal(signal.SIGTERM)
        s.proc.wait(timeout=20)
    assert not [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name]
    print(f"crash test: {kills} kills, {len(acknowledged)} acknowledged triage events, none lost (seed {SEED})")
    assert kills == 3 * ROUNDS
    assert len(acknowledged) >= ROUNDS, "the test acknowledged too few events to prove anything"
