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
    """The sample region's region.toml, its imagery generated once (as scripts/demo.sh)."""
    if (not (SAMPLE_DIR / "zones.geojson").exists() or not list((SAMPLE_DIR / "tiles").glob("*/scenes/*.tif"))
            or not (SAMPLE_DIR / "weather" / "stations.csv").exists()):
        canopy("synth", SAMPLE_DIR, "--communes", SAMPLE_DIR / "communes.geojson", "--name", "Lạng Sơn",
               "--pixel-size", "30", "--seed", "7", "--scenes", "3", "--targets", SAMPLE_DIR / "targets.toml",
               "--parcels")
    if not (SAMPLE_DIR / "parcels.geojson").exists():
        # A sample from before forest plots: only parcels.geojson is written.
        canopy("synth", SAMPLE_DIR, "--communes", SAMPLE_DIR / "communes.geojson", "--name", "Lạng Sơn",
               "--pixel-size", "30", "--seed", "7", "--scenes", "3", "--targets", SAMPLE_DIR / "targets.toml",
               "--parcels-only")
    return SAMPLE_DIR / "region.toml"


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
    region = ensure_sample()
    store = tmp_path_factory.mktemp("served") / "lang-son.gpkg"
    canopy("run", region, "--store", store)
    return store


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
