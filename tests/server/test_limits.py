"""The server's resource bounds under a bounded slowloris (loopback only).

The server runs with a low open-file limit (128). More slow clients than that
trickle their headers; meanwhile a normal client keeps asking. Every normal
request must get an answer in time (200, or the JSON 503 of the connection cap,
never a hang), the slow clients are closed by the header timeout, and an idle
connection by the idle timeout. Before the bounds, the normal client timed out
(every descriptor held by slow clients, no timeout).
"""

from __future__ import annotations

import hashlib
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import threading
import time

import requests

from conftest import BINARY, RANGER, TOKEN

FD_LIMIT = 128
HEADER_TIMEOUT_S = 2.0
IDLE_TIMEOUT_S = 3.0
SLOW_CLIENTS = 160  # more than the process may open
STORM_S = 6.0


def start_limited(store):
    env = dict(os.environ)
    env["CANOPY_TOKENS"] = f"{RANGER}:{hashlib.sha256(TOKEN.encode()).hexdigest()}"

    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))

    proc = subprocess.Popen(
        [str(BINARY), "serve", "--store", str(store), "--bind", "127.0.0.1:0",
         "--header-timeout-s", str(HEADER_TIMEOUT_S), "--idle-timeout-s", str(IDLE_TIMEOUT_S)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, preexec_fn=limit,
    )
    line = proc.stdout.readline()
    m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
    assert m, f"canopy serve did not start: {line!r}"
    return proc, int(m.group(1))


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def slow_client(port: int, closed_after: list, stop: threading.Event):
    """Sends a request head one header line every 0.3 s; notes when the server closes."""
    t0 = time.monotonic()
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=1)
    except OSError:
        return  # refused or reset while the server's descriptors are all taken
    try:
        s.sendall(b"GET /collections HTTP/1.1\r\nHost: x\r\n")
        s.settimeout(0.3)
        while not stop.is_set():
            try:
                if s.recv(1024) == b"":
                    closed_after.append(time.monotonic() - t0)
                    return
            except socket.timeout:
                pass
            except OSError:
                closed_after.append(time.monotonic() - t0)
                return
            try:
                s.sendall(b"X-Slow: 1\r\n")
            except OSError:
                closed_after.append(time.monotonic() - t0)
                return
    finally:
        s.close()


def test_slowloris_against_a_low_fd_limit_does_not_lock_out_normal_clients(sample_store, tmp_path):
    store = tmp_path / "lang-son.gpkg"
    shutil.copy(sample_store, store)
    proc, port = start_limited(store)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(50):
            try:
                if requests.get(url + "/", timeout=2).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        rss_before = rss_kb(proc.pid)
        stop = threading.Event()
        closed_after: list[float] = []
        threads = [threading.Thread(target=slow_client, args=(port, closed_after, stop), daemon=True)
                   for _ in range(SLOW_CLIENTS)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        answers = []
        t_end = time.monotonic() + STORM_S
        while time.monotonic() < t_end:
            t0 = time.monotonic()
            try:
                r = requests.get(url + "/collections", timeout=5)
                answers.append((r.status_code, r.headers.get("content-type", ""), time.monotonic() - t0))
            except requests.RequestException as e:
                answers.append((None, repr(e), time.monotonic() - t0))
            time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join(timeout=5)
        failed = [a for a in answers if a[0] not in (200, 503)]
        assert not failed, f"normal requests without an answer: {failed[:5]}"
        assert all("json" in a[1] for a in answers), answers
        ok = [a for a in answers if a[0] == 200]
        assert len(ok) >= len(answers) // 2, f"only {len(ok)} of {len(answers)} served: {answers}"
        # The slow clients that got a connection were closed by the header timeout.
        assert closed_after, "no slow client was ever closed"
        assert max(closed_after) < HEADER_TIMEOUT_S + 1.5, sorted(closed_after)[-5:]
        assert proc.poll() is None, "the server is still running"
        # Memory returns once the storm is over (allow the allocator some slack).
        time.sleep(1.0)
        rss_after = rss_kb(proc.pid)
        assert rss_after < rss_before + 30_000, (rss_before, rss_after)
        # An idle keep-alive connection is closed by the idle timeout.
        s = socket.create_connection(("127.0.0.1", port), timeout=IDLE_TIMEOUT_S + 3)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        t0 = time.monotonic()
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        assert data.startswith(b"HTTP/1.1 200"), data[:100]
        assert time.monotonic() - t0 < IDLE_TIMEOUT_S + 2.5
        s.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()


def test_oversized_requests_get_json_errors(server):
    r = requests.get(server.url + "/" + "a" * 9000, timeout=10)
    assert r.status_code == 414 and r.json()["code"] == "URITooLong"
    r = requests.get(server.url + "/", headers={"X-Big": "b" * 20000}, timeout=10)
    assert r.status_code == 431 and r.json()["code"] == "HeadersTooLarge"
    r = requests.get(server.url + "/collections/%ff%fe/items", timeout=10)
    assert r.status_code == 400 and r.json()["code"] == "InvalidPath"


def test_pages_carry_a_content_security_policy(server):
    for path in ["/map", "/collections?f=html", "/collections/alerts/items?f=html"]:
        r = requests.get(server.url + path, timeout=10)
        assert r.status_code == 200
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        assert r.headers["x-content-type-options"] == "nosniff"
