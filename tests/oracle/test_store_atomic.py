"""A run that is killed half-way leaves the previous store exactly as it was."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import time

import oracle_lib as ol


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_killed_run_leaves_the_previous_store(sample_region_file, sample_store, tmp_path):
    store = tmp_path / "store.gpkg"
    shutil.copy(sample_store, store)
    before = sha(store)
    proc = subprocess.Popen(
        [str(ol.ensure_binary()), "run", str(sample_region_file), "--store", str(store)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "RAYON_NUM_THREADS": "1"},
    )
    # The sample takes seconds on one thread; kill it while it is computing.
    time.sleep(1.0)
    assert proc.poll() is None, "the run ended before it could be killed: the test proves nothing"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert sha(store) == before, "a killed run changed the store"
    # The next run cleans up whatever temporary file the killed run left.
    ol.run_canopy("run", sample_region_file, "--store", store)
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]
    assert ol.read_cover(store), "the next run wrote a store"
