"""PostGIS store against the GeoPackage store (issue 15): a benchmark, not a test.

Three measurements, each on both stores of one region:

1. `canopy run REGION --store …`: wall time, CPU time and peak RSS (GNU time) of a run
   writing a GeoPackage and of the same run writing a PostgreSQL schema.
2. HTTP reads: `canopy serve` on each store (one at a time, same flags), wrk on the same
   URLs (`wrk -t1 -c8 -d10s --latency`): requests per second and p99 latency, and
   PostGIS ÷ GeoPackage. Both servers answer reads from their in-memory snapshot.
3. Triage writes: 16 writers at once, each on alerts of its own in turn, PATCH with
   the ETag of its previous answer for `--write-seconds` (wrk with
   benches/triage_writers.lua):
   latency p50/p90/p99/max of the PATCHes (each one an If-Match check and an append
   in one transaction on PostGIS).

    benches/pg_bench.sh [REGION.toml] [-- options of this script]

Runs inside `scripts/pg-test-cluster.sh run` (a throwaway PostgreSQL 15 + PostGIS 3),
which sets CANOPY_TEST_PG. Prints Markdown tables; never fails on speed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import requests

TOKEN = "bench-token"
RANGER = "Bench"


def timed_run(canopy: str, region: str, store: str) -> dict:
    out = subprocess.run(
        ["/usr/bin/time", "-f", "%e %U %S %M", canopy, "run", region, "--store", store],
        capture_output=True, text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"canopy run --store {store} failed:\n{out.stderr[-3000:]}")
    wall, user, sys_, rss = out.stderr.strip().splitlines()[-1].split()
    return {"wall": float(wall), "cpu": float(user) + float(sys_), "rss_mib": int(rss) / 1024}


class Server:
    def __init__(self, canopy: str, store: str, extra: list[str]):
        env = dict(os.environ)
        env["CANOPY_TOKENS"] = f"{RANGER}:{hashlib.sha256(TOKEN.encode()).hexdigest()}"
        env["CANOPY_LOG"] = "warn"
        self.proc = subprocess.Popen(
            [canopy, "serve", "--store", store, "--bind", "127.0.0.1:0", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
        )
        line = self.proc.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:\d+", line)
        if not m:
            self.proc.kill()
            raise SystemExit(f"canopy serve --store {store} did not start: {line!r}")
        self.url = m.group(0)
        for _ in range(200):
            try:
                if requests.get(self.url + "/", timeout=2).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def wrk(url: str, duration: str) -> dict:
    out = subprocess.run(["wrk", "-t1", "-c8", f"-d{duration}", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"rps": rps, "p99_ms": float(p99.group(1)) * scale, "errors": int(non2xx.group(1)) if non2xx else 0}


def read_urls(server: Server) -> dict[str, str]:
    """The same queries for both servers, from the first server's data."""
    s = requests.Session()
    alerts = s.get(server.url + "/collections/alerts/items", params={"limit": 1000}).json()["features"]
    xs = [c[0] for f in alerts for c in _coords(f["geometry"])]
    ys = [c[1] for f in alerts for c in _coords(f["geometry"])]
    midx, midy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    sw = f"{min(xs)},{min(ys)},{midx},{midy}"
    urls = {
        "communes, 100 items": "/collections/communes/items?limit=100",
        "alerts, bbox (south-west quarter)": f"/collections/alerts/items?limit=100&bbox={sw}",
        "one alert": f"/collections/alerts/items/{alerts[0]['id']}",
        "stats per commune": "/stats/communes",
    }
    if s.get(server.url + "/collections/parcels").ok:
        # A ~2 km box around the first alert: the plots a ranger's map asks for.
        x, y = _coords(alerts[0]["geometry"])[0]
        urls["plots, 2 km bbox"] = f"/collections/parcels/items?limit=100&bbox={x - 0.01},{y - 0.01},{x + 0.01},{y + 0.01}"
    return urls


def _coords(g: dict) -> list:
    t, c = g["type"], g["coordinates"]
    if t == "Point":
        return [c]
    if t == "Polygon":
        return c[0]
    if t == "MultiPolygon":
        return [p for poly in c for p in poly[0]]
    raise ValueError(t)


def write_latency(server: Server, writers: int, seconds: float) -> dict:
    """`writers` wrk threads, one connection each, PATCHing alerts of their own in
    turn (every alert of the store, dealt round-robin; benches/triage_writers.lua):
    a client in C, so the writers' own CPU does not weigh on the latency measured on
    a 2-core machine."""
    alerts = requests.get(server.url + "/collections/alerts/items", params={"limit": 10000}).json()["features"]
    if len(alerts) < writers:
        raise SystemExit(f"the store has {len(alerts)} alerts, fewer than {writers} writers")
    s = requests.Session()
    ids = [a["id"] for a in alerts]
    tags = [f"{i}={s.get(f'{server.url}/collections/alerts/items/{i}').headers['ETag']}" for i in ids]
    env = dict(os.environ, ALERTS=" ".join(tags), TOKEN=TOKEN, WRITERS=str(writers))
    script = str(Path(__file__).with_name("triage_writers.lua"))
    out = subprocess.run(["wrk", f"-t{writers}", f"-c{writers}", f"-d{seconds:.0f}s", "-s", script, server.url],
                         capture_output=True, text=True, env=env, check=True).stdout
    m = re.search(r"writes n=(\d+) p50=([\d.]+) p90=([\d.]+) p99=([\d.]+) max=([\d.]+) ok=(\d+) failed=(\d+)", out)
    if not m:
        raise SystemExit(f"wrk gave no write figures:\n{out}")
    n, ok, failed = int(m.group(1)), int(m.group(6)), int(m.group(7))
    p50, p90, p99, mx = (float(m.group(i)) for i in range(2, 6))
    return {"n": n, "p50": p50, "p90": p90, "p99": p99, "max": mx, "codes": {200: ok, "other": failed},
            "per_s": n / seconds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("region")
    ap.add_argument("--canopy", default="target/release/canopy")
    ap.add_argument("--work", default="/tmp/canopy-bench-pg")
    ap.add_argument("--schema", default="bench")
    ap.add_argument("--duration", default="10s", help="wrk duration per URL")
    ap.add_argument("--writers", type=int, default=16)
    ap.add_argument("--write-seconds", type=float, default=15)
    ap.add_argument("--skip-runs", action="store_true", help="reuse the stores of an earlier call")
    ap.add_argument("--skip-reads", action="store_true", help="measure the triage writes only")
    a = ap.parse_args()
    conn = os.environ.get("CANOPY_TEST_PG") or ap.error("CANOPY_TEST_PG is not set (run through benches/pg_bench.sh)")
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    gpkg = str(work / "bench.gpkg")
    pg = f"PG:{conn} schema={a.schema}"
    print(f"load average before: {os.getloadavg()[0]:.2f}\n")

    if not a.skip_runs:
        Path(gpkg).unlink(missing_ok=True)
        g = timed_run(a.canopy, a.region, gpkg)
        p = timed_run(a.canopy, a.region, pg)
        print("| run writes | wall (s) | CPU (s) | peak RSS (MiB) |\n|---|---|---|---|")
        print(f"| GeoPackage | {g['wall']:.1f} | {g['cpu']:.1f} | {g['rss_mib']:.0f} |")
        print(f"| PostGIS | {p['wall']:.1f} ({p['wall'] / g['wall']:.2f}×) | {p['cpu']:.1f} | {p['rss_mib']:.0f} |\n")

    results = {}
    for name, store in (("GeoPackage", gpkg), ("PostGIS", pg)):
        # Writes go to a copy of the GeoPackage (and are undone on PostGIS by the next run).
        if name == "GeoPackage":
            shutil.copy(gpkg, work / "served.gpkg")
            store = str(work / "served.gpkg")
        srv = Server(a.canopy, store, [])
        try:
            urls = results.setdefault("urls", read_urls(srv))
            results[name] = {} if a.skip_reads else {
                label: wrk(srv.url + path, a.duration) for label, path in urls.items()}
            results[name]["writes"] = write_latency(srv, a.writers, a.write_seconds)
        finally:
            srv.stop()

    if a.skip_reads:
        results["urls"] = {}
    print("| read | GeoPackage req/s | PostGIS req/s | PostGIS ÷ GeoPackage | p99 ms (GPKG / PG) |")
    print("|---|---|---|---|---|")
    for label in results["urls"]:
        g, p = results["GeoPackage"][label], results["PostGIS"][label]
        err = " (errors!)" if g["errors"] or p["errors"] else ""
        print(f"| {label} | {g['rps']:,.0f} | {p['rps']:,.0f} | {p['rps'] / g['rps']:.2f}{err} "
              f"| {g['p99_ms']:.1f} / {p['p99_ms']:.1f} |")
    print(f"\n| triage writes, {a.writers} writers, {a.write_seconds:.0f} s | PATCHes | per s | p50 ms | p90 ms "
          "| p99 ms | max ms | statuses |\n|---|---|---|---|---|---|---|---|")
    for name in ("GeoPackage", "PostGIS"):
        w = results[name]["writes"]
        print(f"| {name} | {w['n']} | {w['per_s']:.0f} | {w['p50']:.1f} | {w['p90']:.1f} | {w['p99']:.1f} "
              f"| {w['max']:.1f} | {w['codes']} |")


if __name__ == "__main__":
    main()
