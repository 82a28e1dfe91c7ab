"""A running `canopy serve` over a fresh store of the Lạng Sơn sample region, for the
real-client tests (GDAL's OAPIF driver, OWSLib, schemathesis, plain HTTP)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
# As in the oracle tests: CANOPY_BIN / CANOPY_SAMPLE_DIR point at another build or
# another copy of the generated sample region.
BINARY = Path(os.environ.get("CANOPY_BIN", REPO / "target" / "release" / "canopy"))
SAMPLE_DIR = Path(os.environ.get("CANOPY_SAMPLE_DIR", REPO / "data" / "regions" / "lang-son"))

TOKEN = "ranger-test-token"
RANGER = "Kiểm lâm Test"


def canopy(*args) -> subprocess.CompletedProcess:
    """Runs the canopy binary (built by scripts/test.sh); raises with its output if it fails."""
    assert BINARY.exists(), f"{BINARY} is missing: run `cargo build --release` first"
    r = subprocess.run([str(BINARY), *map(str, args)], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"canopy {' '.join(map(str, args))} failed:\n{r.stdout}\n{r.stderr}"
    return r


def ensure_sample() -> Path:
    """The sample region's region.toml, its imagery generated once by scripts/sample.sh
    (the one owner of how the sample is made; it regenerates a stale sample)."""
    env = {**os.environ, "CANOPY_BIN": str(BINARY), "CANOPY_SAMPLE_DIR": str(SAMPLE_DIR)}
    r = subprocess.run([str(REPO / "scripts" / "sample.sh"), "--no-run"], capture_output=True, text=True, env=env, timeout=1800)
    assert r.returncode == 0, f"scripts/sample.sh failed:\n{r.stdout}\n{r.stderr}"
    return SAMPLE_DIR / "region.toml"


def fresh_sample_store(store: Path) -> Path:
    """A fresh store of the sample region at `store`: a copy of CANOPY_TEST_STORE (one
    `canopy run` of the sample made by scripts/test.sh), or a `canopy run` of its own."""
    region = ensure_sample()
    pristine = os.environ.get("CANOPY_TEST_STORE")
    if pristine:
        shutil.copy(pristine, store)
    else:
        canopy("run", region, "--store", store)
    return store


@dataclass
class Server:
    url: str
    store: Path
    proc: subprocess.Popen

    def get(self, path: str, **kw) -> requests.Response:
        return requests.get(self.url + path, timeout=30, **kw)


def start_server(store: Path, *extra: str) -> Server:
    env = dict(os.environ)
    env["CANOPY_TOKENS"] = f"{RANGER}:{hashlib.sha256(TOKEN.encode()).hexdigest()}"
    env.setdefault("CANOPY_LOG", "info")
    proc = subprocess.Popen(
        [str(BINARY), "serve", "--store", str(store), "--bind", "127.0.0.1:0", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )
    line = proc.stdout.readline()
    m = re.search(r"http://127\.0\.0\.1:\d+", line)
    if not m:
        proc.kill()
        raise AssertionError(f"canopy serve did not start: {line!r}")
    url = m.group(0)
    for _ in range(100):
        try:
            if requests.get(url + "/", timeout=2).ok:
                break
        except requests.ConnectionError:
            time.sleep(0.1)
    return Server(url=url, store=store, proc=proc)


def stop_server(s: Server) -> int:
    """SIGTERM, then the exit status (0 after a graceful shutdown)."""
    s.proc.send_signal(signal.SIGTERM)
    try:
        return s.proc.wait(timeout=20)
    finally:
        if s.proc.poll() is None:
            s.proc.kill()


@pytest.fixture(scope="session")
def sample_store(tmp_path_factory) -> Path:
    """A store of the sample region written by `canopy run` (imagery generated once)."""
    return fresh_sample_store(tmp_path_factory.mktemp("served") / "lang-son.gpkg")


@pytest.fixture(scope="session")
def server(sample_store, tmp_path_factory):
    """`canopy serve` on a free port over a read-mostly copy of the sample store."""
    store = tmp_path_factory.mktemp("ro") / "lang-son.gpkg"
    shutil.copy(sample_store, store)
    s = start_server(store)
    yield s
    assert stop_server(s) == 0, "canopy serve exits 0 on SIGTERM"


@pytest.fixture()
def own_server(sample_store, tmp_path):
    """A server of this test's own (writes, reloads), with a fast store poll and CORS."""
    store = tmp_path / "lang-son.gpkg"
    shutil.copy(sample_store, store)
    s = start_server(store, "--poll-ms", "100", "--cors", "https://maps.example.org")
    yield s
    assert stop_server(s) == 0
