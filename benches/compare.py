"""Canopy against its peers, on one machine, in one run (driven by compare.sh).

For each size: generate a region with `canopy synth`, then time with hyperfine

  1. the GDAL read floor (every block of both forest masks, 1 and 2 threads),
  2. exactextract 0.3.0 (feature-sequential, raster-sequential, and our own
     2-process split: 0.3.0 has no parallel strategy),
  3. rasterstats 0.21 (centre-in),
  4. `canopy run` on a region file that reads the same masks as class epochs,

check that the figures agree, and print wall time (median, spread), CPU time, peak
RSS and the ratios. A second table times `canopy run` on the spectral tiles against
the floor of reading those tiles. `--scaling` adds sizes and ~6,000 polygons.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import shlex
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TOL = 1e-4  # 0.01 %


def log(msg: str) -> None:
    print(f"\033[1m== {msg}\033[0m", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- measuring


def cpu_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    hz = os.sysconf("SC_CLK_TCK")
    idle = v[3] + v[4]
    total = sum(v[:8])
    return (total - idle) / hz, total / hz


def tree_rss_kib(pid: int) -> int:
    """Summed VmRSS of a process and its descendants (KiB)."""
    total, stack, seen = 0, [pid], set()
    while stack:
        p = stack.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/children") as f:
                    stack.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            pass
    return total


def peak_rss_mib(cmd: list[str], out_dir: Path) -> float:
    """Runs cmd once; its peak RSS: the kernel's high-water mark of the process
    (GNU time's %M: measured from a small parent, so a fork of this Python does not
    count), or the summed RSS of its process tree sampled every 20 ms when larger
    (multi-process tools)."""
    mfile = out_dir / "maxrss.txt"
    proc = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", str(mfile), *cmd],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss_kib(proc.pid))
            done.wait(0.02)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    err = proc.stderr.read().decode(errors="replace")
    proc.wait()
    done.set()
    th.join()
    proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {shlex.join(cmd)}\n{err[-3000:]}")
    maxrss = int(mfile.read_text().split()[-1])
    return max(maxrss, peak) / 1024.0


@dataclass
class Timing:
    name: str
    cmd: list[str]
    median: float = math.nan
    mean: float = math.nan
    stddev: float = math.nan
    tmin: float = math.nan
    tmax: float = math.nan
    cpu: float = math.nan  # user + system, mean per run
    rss_mib: float = math.nan
    others_cores: float = math.nan  # other processes' CPU use while we measured
    load: tuple[float, float] = (math.nan, math.nan)
    runs: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def spread(self) -> str:
        return f"{self.tmin:.2f}–{self.tmax:.2f}"


def measure(name: str, cmd: list[str], runs: int, out_dir: Path) -> Timing:
    """hyperfine (1 warm-up, `runs` runs) then one more run for the peak RSS."""
    log(f"timing {name}: {shlex.join(cmd)}")
    t = Timing(name, cmd)
    key = hashlib.sha1(shlex.join(cmd).encode()).hexdigest()[:8]
    js = out_dir / f"hyperfine-{name.replace(' ', '_').replace('/', '_')}-{key}.json"
    load0 = os.getloadavg()[0]
    b0, _ = cpu_busy()
    w0 = time.monotonic()
    subprocess.run(
        [
            "hyperfine", "-N", "--style", "basic", "--warmup", "1", "--runs", str(runs),
            "--export-json", str(js), "--command-name", name, shlex.join(cmd),
        ],
        check=True,
        stdout=sys.stderr,
    )
    wall = time.monotonic() - w0
    b1, _ = cpu_busy()
    r = json.loads(js.read_text())["results"][0]
    t.median, t.mean, t.stddev = r["median"], r["mean"], r.get("stddev") or 0.0
    t.tmin, t.tmax = r["min"], r["max"]
    t.cpu = r["user"] + r["system"]
    t.runs = len(r["times"])
    ours = t.cpu * (t.runs + 1)  # the runs and the warm-up
    t.others_cores = max(0.0, (b1 - b0 - ours) / wall)
    t.rss_mib = peak_rss_mib(cmd, out_dir)
    t.load = (load0, os.getloadavg()[0])
    return t


# ---------------------------------------------------------------- data


def sh(*cmd, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def synth(canopy: str, region_dir: Path, communes: Path, pixel: float) -> float | None:
    if (region_dir / "truth" / "truth.json").exists() and list(region_dir.glob("truth/forest_*.tif")):
        return None
    if region_dir.exists():
        shutil.rmtree(region_dir)
    log(f"canopy synth --pixel-size {pixel:g} into {region_dir}")
    t0 = time.monotonic()
    sh(canopy, "synth", region_dir, "--communes", communes, "--name", "Lạng Sơn",
       "--pixel-size", f"{pixel:g}", "--seed", "7", "--epochs", "2")
    return time.monotonic() - t0


def mask_epochs(region_dir: Path) -> list[tuple[str, Path]]:
    return [(p.stem.removeprefix("forest_"), p) for p in sorted(region_dir.glob("truth/forest_*.tif"))]


def write_mask_region(region_dir: Path, communes: Path, code: str, name: str, out: Path) -> None:
    """A region file reading the truth masks as class epochs (1 = forest)."""
    lines = [
        '# Written by benches/compare.py: the synth truth masks read as class epochs,',
        '# so canopy, exactextract and rasterstats compute the same quantity.',
        'name = "Lạng Sơn (forest masks)"',
        'area_crs = "EPSG:32648"',
        "",
        "[communes]",
        f"path = {json.dumps(str(communes.resolve()))}",
        f'code_field = "{code}"',
        f'name_field = "{name}"',
        "",
        "[forest]",
        "forest_classes = [1]",
    ]
    for epoch, tif in mask_epochs(region_dir):
        lines += [
            "",
            "[[epochs]]",
            f'id = "{epoch}"',
            f'date = "{epoch}-12-31"',
            f"tiles = [{json.dumps(str(tif.resolve()))}]",
            "class_band = 1",
        ]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


def grid_mpx(tif: Path) -> float:
    import rasterio

    with rasterio.open(tif) as ds:
        return ds.width * ds.height / 1e6


def make_pieces(communes_utm: Path, out: Path, target: int, code: str, name: str) -> int:
    """Cuts the communes with a square fishnet (EPSG:32648) into ~target pieces,
    each with a unique code, written as GeoJSON in EPSG:32648."""
    import shapely
    from shapely.geometry import box, mapping, shape

    feats = json.loads(communes_utm.read_text(encoding="utf-8"))["features"]
    geoms = [shapely.make_valid(shape(f["geometry"])) for f in feats]
    union_area = sum(g.area for g in geoms)
    x0 = min(g.bounds[0] for g in geoms)
    y0 = min(g.bounds[1] for g in geoms)
    x1 = max(g.bounds[2] for g in geoms)
    y1 = max(g.bounds[3] for g in geoms)

    def cut(size: float):
        pieces = []
        nx, ny = math.ceil((x1 - x0) / size), math.ceil((y1 - y0) / size)
        for f, g in zip(feats, geoms):
            gx0, gy0, gx1, gy1 = g.bounds
            shapely.prepare(g)
            for i in range(int((gx0 - x0) // size), min(nx, int((gx1 - x0) // size) + 1)):
                for j in range(int((gy0 - y0) // size), min(ny, int((gy1 - y0) // size) + 1)):
                    cell = box(x0 + i * size, y0 + j * size, x0 + (i + 1) * size, y0 + (j + 1) * size)
                    if not g.intersects(cell):
                        continue
                    p = g.intersection(cell)
                    polys = [q for q in getattr(p, "geoms", [p]) if q.geom_type == "Polygon" and q.area > 1.0]
                    if not polys:
                        continue
                    mp = shapely.MultiPolygon(polys)
                    props = f["properties"]
                    pieces.append({
                        "type": "Feature",
                        "properties": {code: f"{props[code]}-{i:03d}-{j:03d}", name: props[name]},
                        "geometry": mapping(mp),
                    })
        return pieces

    size = math.sqrt(union_area / target)
    for _ in range(8):
        pieces = cut(size)
        if abs(len(pieces) - target) <= target * 0.03:
            break
        size *= math.sqrt(len(pieces) / target)
    fc = {
        "type": "FeatureCollection",
        "name": "pieces",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32648"}},
        "features": pieces,
    }
    out.write_text(json.dumps(fc), encoding="utf-8")
    log(f"{len(pieces)} pieces (fishnet {size:.0f} m) written to {out}")
    return len(pieces)


# ---------------------------------------------------------------- figures


def canopy_figures(store: Path) -> dict[str, dict[str, float]]:
    con = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    out: dict[str, dict[str, float]] = {}
    for code, epoch, forest in con.execute("SELECT commune_code, epoch, forest_ha FROM cover"):
        out.setdefault(str(code), {})[str(epoch)] = float(forest or 0.0)
    return out


def canopy_timings(store: Path) -> dict:
    con = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    row = con.execute("SELECT timings FROM runs ORDER BY rowid DESC LIMIT 1").fetchone()
    return json.loads(row[0]) if row and row[0] else {}


def tool_figures(path: Path) -> dict[str, dict[str, float]]:
    return json.loads(path.read_text())["forest_ha"]


@dataclass
class Agreement:
    max_rel: float
    worst: str
    total_rel: float
    n: int

    def ok(self) -> bool:
        return self.max_rel <= TOL and self.n > 0


def compare_figures(got: dict, ref: dict, floor_ha: float) -> Agreement:
    """Largest |got − ref| / max(ref, floor_ha) over communes and epochs."""
    worst, max_rel, n = "", 0.0, 0
    tg = tr = 0.0
    for code, epochs in ref.items():
        for epoch, r in epochs.items():
            g = got.get(code, {}).get(epoch)
            if g is None:
                return Agreement(math.inf, f"{code}/{epoch} missing", math.inf, n)
            n += 1
            tg += g
            tr += r
            rel = abs(g - r) / max(abs(r), floor_ha)
            if rel > max_rel:
                max_rel, worst = rel, f"{code}/{epoch}"
    if set(got) - set(ref):
        return Agreement(math.inf, "extra codes", math.inf, n)
    return Agreement(max_rel, worst, abs(tg - tr) / tr if tr else 0.0, n)


# ---------------------------------------------------------------- tables


def fmt_pct(x: float) -> str:
    if math.isinf(x) or math.isnan(x):
        return "—"
    return f"{100 * x:.2g} %" if x >= 1e-4 else f"{100 * x:.1e} %"


def table(headers: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def timing_rows(ts: list[Timing], mpx: float, floor: float, ee_best: float | None, agree: dict) -> list[list[str]]:
    rows = []
    for t in ts:
        rows.append([
            t.name,
            f"{t.median:.2f}",
            f"{t.spread} (σ {t.stddev:.2f})",
            f"{t.cpu:.2f}",
            f"{t.rss_mib:.0f}",
            f"{1000 * t.median / mpx:.2f}",
            f"{t.median / floor:.2f}",
            f"{t.median / ee_best:.2f}" if ee_best else "—",
            agree.get(t.name, ""),
            f"{t.others_cores:.2f} / {t.load[0]:.1f}",
        ])
    return rows


TIMING_HEADERS = [
    "what", "wall median s", "min–max s", "CPU s", "peak RSS MiB", "ms/Mpx",
    "× floor", "× ee best", "figures vs exactextract", "others' load: cores / loadavg",
]


# ---------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--canopy", required=True)
    ap.add_argument("--floor", required=True, help="the gdal_floor example binary")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--communes", type=Path, default=REPO / "data/regions/lang-son/communes.geojson")
    ap.add_argument("--code-field", default="ma_xa")
    ap.add_argument("--name-field", default="ten_xa")
    ap.add_argument("--pixel-size", type=float, default=10.0)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--scaling", action="store_true")
    ap.add_argument("--scaling-sizes", default="20,10,7")
    ap.add_argument("--pieces", type=int, default=6000)
    ap.add_argument("--keep-large", action="store_true", help="keep data of pixel sizes < 10 m")
    ap.add_argument("--skip-slow", action="store_true", help="only the floor, canopy and the best exactextract")
    a = ap.parse_args()

    work: Path = a.work.resolve()
    out_dir = work / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    py = a.python
    canopy = str(Path(a.canopy).resolve())
    floor_bin = str(Path(a.floor).resolve())
    code, name = a.code_field, a.name_field

    sizes = [a.pixel_size]
    if a.scaling:
        sizes = sorted({float(s) for s in a.scaling_sizes.split(",")} | {a.pixel_size}, reverse=True)

    import exactextract
    import rasterio
    import rasterstats

    gdal_version = subprocess.run(["gdal-config", "--version"], capture_output=True, text=True).stdout.strip()
    rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout.strip()
    cpu_model = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    header = [
        f"Machine: {os.cpu_count()} cores ({cpu_model}), {mem_gib:.0f} GiB, {platform.platform()}; "
        f"started {time.strftime('%Y-%m-%d %H:%M')}, load average {os.getloadavg()[0]:.1f}.",
        f"Versions: canopy `{canopy}` (work tree at {rev}{', with uncommitted changes' if dirty else ''}), "
        f"GDAL {gdal_version}, "
        f"exactextract {exactextract.__version__ if hasattr(exactextract, '__version__') else '0.3.0'}, "
        f"rasterio {rasterio.__version__}, rasterstats {rasterstats.__version__}; hyperfine, "
        f"{a.runs} runs after 1 warm-up, warm page cache.",
    ]

    communes_utm = work / "communes_32648.geojson"
    if not communes_utm.exists():
        log("reprojecting the communes to EPSG:32648 (ogr2ogr)")
        sh("ogr2ogr", "-f", "GeoJSON", "-t_srs", "EPSG:32648", communes_utm, a.communes)

    md: list[str] = ["# Canopy vs its peers", "", *header, ""]
    failures: list[str] = []
    scaling_rows: list[list[str]] = []
    all_timings: list[Timing] = []
    goal_data: dict = {"sizes": {}}

    def figures_check(name, got, ref, label_rows, fail=True, floor_ha=1.0):
        ag = compare_figures(got, ref, floor_ha)
        label_rows[name] = f"max {fmt_pct(ag.max_rel)} (total {fmt_pct(ag.total_rel)})"
        if fail and not ag.ok():
            failures.append(f"{name}: differs from exactextract by {fmt_pct(ag.max_rel)} at {ag.worst}")
        return ag

    for pixel in sizes:
        tag = f"p{pixel:g}"
        region_dir = work / tag
        synth_s = synth(canopy, region_dir, a.communes, pixel)
        epochs = mask_epochs(region_dir)
        mask_toml = region_dir / "mask.toml"
        write_mask_region(region_dir, a.communes, code, name, mask_toml)
        mpx1 = grid_mpx(epochs[0][1])
        mpx = mpx1 * len(epochs)
        rargs = [arg for e, p in epochs for arg in ("--raster", f"{e}={p}")]

        def ee(strategy, procs, vec=communes_utm, suffix=""):
            o = out_dir / f"ee-{strategy}-x{procs}-{tag}{suffix}.json"
            return o, [py, str(HERE / "tool_exactextract.py"), "--vec", str(vec), "--code-field", code,
                       *rargs, "--strategy", strategy, "--procs", str(procs), "--out", str(o)]

        store = out_dir / f"canopy-mask-{tag}.gpkg"
        cases = [
            ("GDAL floor, 1 thread", [floor_bin, "--threads", "1", *[str(p) for _, p in epochs]], None),
            ("GDAL floor, 2 threads", [floor_bin, "--threads", "2", *[str(p) for _, p in epochs]], None),
            ("canopy run", [canopy, "run", str(mask_toml), "--store", str(store)], ("canopy", store)),
        ]
        ee_variants = [("feature-sequential", 1), ("raster-sequential", 1), ("feature-sequential", 2)]
        if a.skip_slow and pixel != a.pixel_size:
            ee_variants = [("feature-sequential", 2)]
        for s, n in ee_variants:
            o, cmd = ee(s, n)
            label = f"exactextract {s}" + (f", {n} processes" if n > 1 else "")
            cases.append((label, cmd, ("ee", o)))
        if not (a.skip_slow and pixel != a.pixel_size):
            o = out_dir / f"rasterstats-{tag}.json"
            cases.append(("rasterstats (centre-in)", [py, str(HERE / "tool_rasterstats.py"), "--vec", str(communes_utm),
                                                      "--code-field", code, *rargs, "--out", str(o)], ("rs", o)))
        timings: list[Timing] = []
        outputs = {}
        for label, cmd, outp in cases:
            t = measure(f"{label}", cmd, a.runs, out_dir)
            timings.append(t)
            if outp:
                outputs[label] = outp
        # figures
        agree: dict[str, str] = {}
        ref_label = next(lbl for lbl, (k, _) in outputs.items() if k == "ee")
        ref = tool_figures(outputs[ref_label][1])
        for label, (kind, path) in outputs.items():
            got = canopy_figures(path) if kind == "canopy" else tool_figures(path)
            if label == ref_label:
                agree[label] = "reference"
            else:
                figures_check(label, got, ref, agree, fail=(kind != "rs"), floor_ha=1.0)
        ct = canopy_timings(store)
        floor = min(t.median for t in timings if t.name.startswith("GDAL floor"))
        ee_ts = [t for t in timings if t.name.startswith("exactextract")]
        ee_best = min(ee_ts, key=lambda t: t.median)
        can = next(t for t in timings if t.name == "canopy run")
        md += [
            f"## Forest masks at {pixel:g} m: {mpx1:.0f} Mpx × {len(epochs)} epochs, "
            f"{len(ref)} communes",
            "",
            f"Same quantity for every tool: forest ha per commune and epoch = Σ coverage × mask × "
            f"pixel area over `truth/forest_<epoch>.tif` (Byte 0/1, tiled 256, DEFLATE). "
            + (f"Data generated in {synth_s:.0f} s. " if synth_s else "")
            + f"canopy's own timings (last run): {json.dumps(ct)}.",
            "",
            table(TIMING_HEADERS, timing_rows(timings, mpx, floor, ee_best.median, agree)),
            "",
            f"canopy / exactextract best ({ee_best.name}) = **{can.median / ee_best.median:.3f}** "
            f"(exactextract best is {ee_best.median / can.median:.1f}× slower); "
            f"canopy / GDAL floor = **{can.median / floor:.2f}**.",
            "",
        ]
        # Time of the raster passes: the run's total less reading the communes.
        epoch_s = max(float(ct.get("total", 0.0)) - float(ct.get("communes", 0.0)), 1e-9)
        goal_data["sizes"][pixel] = dict(mpx=mpx, canopy=can.median, rss=can.rss_mib, floor=floor,
                                         ee_best=ee_best.median, ee_best_name=ee_best.name, cpu=can.cpu,
                                         epoch_s=epoch_s)
        all_timings.extend(timings)

        # spectral tiles: canopy on the synth region itself, and the floor of its tiles
        tiles = sorted(str(p) for p in region_dir.glob("tiles/*/*.tif"))
        sstore = out_dir / f"canopy-spectral-{tag}.gpkg"
        st = [
            measure("GDAL floor (tiles, red+NIR+mask), 1 thread", [floor_bin, "--threads", "1", *tiles], a.runs, out_dir),
            measure("GDAL floor (tiles, red+NIR+mask), 2 threads", [floor_bin, "--threads", "2", *tiles], a.runs, out_dir),
            measure("canopy run (spectral)", [canopy, "run", str(region_dir / "region.toml"), "--store", str(sstore)], a.runs, out_dir),
        ]
        sfloor = min(t.median for t in st[:2])
        tile_mpx = 0.0
        for p in tiles:
            with rasterio.open(p) as ds:
                tile_mpx += ds.width * ds.height / 1e6
        md += [
            f"### Spectral tiles at {pixel:g} m: {len(tiles)} tiles (4 UTM + 1 EPSG:4326 warped, per epoch), "
            f"{tile_mpx:.0f} Mpx per band in all, UInt16 × 3 bands, pixel-interleaved, DEFLATE",
            "",
            f"canopy's own timings (last run): {json.dumps(canopy_timings(sstore))}.",
            "",
            table(TIMING_HEADERS[:7] + TIMING_HEADERS[-1:],
                  [r[:7] + r[-1:] for r in timing_rows(st, mpx, sfloor, None, {})]),
            "",
            f"canopy / floor of its tiles = **{st[2].median / sfloor:.2f}** (ms/Mpx per working-grid Mpx × epochs).",
            "",
        ]
        all_timings.extend(st)
        g = goal_data["sizes"][pixel]
        g.update(spectral=st[2].median, spectral_floor=sfloor, spectral_rss=st[2].rss_mib)
        scaling_rows.append([
            f"{pixel:g} m", f"{mpx1:.0f} × {len(epochs)}", f"{floor:.2f}", f"{can.median:.2f}",
            f"{1000 * can.median / mpx:.2f}", f"{1000 * can.cpu / mpx:.2f}", f"{1000 * g['epoch_s'] / mpx:.2f}",
            f"{1000 * floor / mpx:.2f}",
            f"{1000 * ee_best.median / mpx:.1f}", f"{can.rss_mib:.0f}", f"{can.median / floor:.2f}",
            f"{ee_best.median / can.median:.1f}",
            f"{1000 * st[2].median / mpx:.2f}", f"{st[2].median / sfloor:.2f}", f"{st[2].rss_mib:.0f}",
        ])

        # ~6,000 polygons at the main size
        if a.scaling and pixel == a.pixel_size:
            pieces = work / f"pieces_{a.pieces}_32648.geojson"
            if not pieces.exists():
                make_pieces(communes_utm, pieces, a.pieces, code, name)
            npieces = len(json.loads(pieces.read_text())["features"])
            ptoml = region_dir / "mask-pieces.toml"
            write_mask_region(region_dir, pieces, code, name, ptoml)
            pstore = out_dir / f"canopy-pieces-{tag}.gpkg"
            pcases = [("canopy run", [canopy, "run", str(ptoml), "--store", str(pstore)], ("canopy", pstore))]
            for s, n in [("feature-sequential", 1), ("raster-sequential", 1), ("feature-sequential", 2)]:
                o, cmd = ee(s, n, vec=pieces, suffix="-pieces")
                pcases.append((f"exactextract {s}" + (f", {n} processes" if n > 1 else ""), cmd, ("ee", o)))
            pts, pouts = [], {}
            for label, cmd, outp in pcases:
                pts.append(measure(f"{label} ({npieces} polygons)", cmd, a.runs, out_dir))
                pouts[pts[-1].name] = outp
            pagree: dict[str, str] = {}
            pref_label = next(lbl for lbl, (k, _) in pouts.items() if k == "ee")
            pref = tool_figures(pouts[pref_label][1])
            for label, (kind, path) in pouts.items():
                if label == pref_label:
                    pagree[label] = "reference"
                    continue
                got = canopy_figures(path) if kind == "canopy" else tool_figures(path)
                figures_check(label, got, pref, pagree, floor_ha=1.0)
            pee = min((t for t in pts if t.name.startswith("exactextract")), key=lambda t: t.median)
            pcan = pts[0]
            md += [
                f"### {npieces} polygons at {pixel:g} m (the communes cut by a square fishnet, EPSG:32648)",
                "",
                f"canopy's own timings (last run): {json.dumps(canopy_timings(pstore))}.",
                "",
                table(TIMING_HEADERS, timing_rows(pts, mpx, floor, pee.median, pagree)),
                "",
                f"{npieces} vs {len(ref)} polygons: canopy {pcan.median / can.median:.2f}× the time, "
                f"exactextract best {pee.median / ee_best.median:.2f}×; canopy / exactextract best = "
                f"{pcan.median / pee.median:.3f}.",
                "",
            ]
            goal_data["pieces"] = dict(n=npieces, n0=len(ref), canopy=pcan.median, canopy0=can.median,
                                       ee=pee.median, ee0=ee_best.median, rss=pcan.rss_mib)

        if pixel < 10 and not a.keep_large:
            log(f"deleting {region_dir} (large)")
            shutil.rmtree(region_dir)

    if len(scaling_rows) > 1:
        md += [
            "## Scaling with raster size (forest masks, 65 communes)",
            "",
            table(["pixel", "Mpx × epochs", "floor s", "canopy s", "canopy ms/Mpx", "canopy CPU ms/Mpx",
                   "canopy epochs only ms/Mpx", "floor ms/Mpx", "ee best ms/Mpx", "canopy peak RSS MiB",
                   "canopy × floor", "ee best / canopy", "spectral: canopy ms/Mpx", "spectral: × its floor",
                   "spectral: canopy peak RSS MiB"], scaling_rows),
            "",
            "\"epochs only\": canopy's own `total` timing (the raster passes: reading, rules, zonal sums, "
            "change), without process start, reading the communes, input fingerprints and the store. "
            "\"CPU\": user + system seconds of the whole run per Mpx, the measure least disturbed by "
            "other processes on a shared machine.",
            "",
        ]

    # goals
    main_g = goal_data["sizes"][a.pixel_size]
    goals = []
    r = main_g["ee_best"] / main_g["canopy"]
    goals.append((f"canopy ≥ 2× faster than exactextract's best ({main_g['ee_best_name']}) at {a.pixel_size:g} m",
                  f"{r:.1f}× faster", r >= 2))
    r = main_g["canopy"] / main_g["floor"]
    goals.append((f"canopy within 1.5× of the GDAL read floor (masks, {a.pixel_size:g} m)", f"{r:.2f}×", r <= 1.5))
    r = main_g["spectral"] / main_g["spectral_floor"]
    goals.append((f"spectral tiles: canopy within 1.5× of the floor of its tiles ({a.pixel_size:g} m)", f"{r:.2f}×", r <= 1.5))
    if len(goal_data["sizes"]) > 1:
        ss = sorted(goal_data["sizes"].items(), key=lambda kv: kv[1]["mpx"])
        mpxs = ", ".join("%.0f" % v["mpx"] for _, v in ss)
        big = ss[-1][1]
        for key, what in (("rss", "masks"), ("spectral_rss", "spectral tiles")):
            rss = ", ".join("%.0f" % v[key] for _, v in ss)
            goals.append((f"peak memory flat, < 1 GiB at the largest size ({what})",
                          f"{rss} MiB for {mpxs} Mpx (× epochs)",
                          big[key] < 1024 and big[key] < 2 * ss[0][1][key] + 64))
        per = [v["canopy"] / v["mpx"] * 1000 for _, v in ss]
        own = [v["epoch_s"] / v["mpx"] * 1000 for _, v in ss]
        cpu = [v["cpu"] / v["mpx"] * 1000 for _, v in ss]
        goals.append(("time per Mpx constant (max/min over sizes, within 25 %)",
                      ", ".join("%.2f" % x for x in per) + f" ms/Mpx wall (max/min {max(per) / min(per):.2f}); "
                      + ", ".join("%.2f" % x for x in own) + f" epochs only (max/min {max(own) / min(own):.2f}); "
                      + ", ".join("%.2f" % x for x in cpu) + f" CPU (max/min {max(cpu) / min(cpu):.2f})",
                      max(per) / min(per) <= 1.25))
    if "pieces" in goal_data:
        p = goal_data["pieces"]
        r = p["canopy"] / p["canopy0"]
        goals.append((f"{p['n'] / p['n0']:.0f}× more polygons < 2× more time", f"{r:.2f}× the time", r < 2))
    md += ["## Goals", "", table(["goal", "measured (ratios within this run)", "met"],
                                 [[g, m, "yes" if ok else "**no**"] for g, m, ok in goals]), ""]
    others = [t.others_cores for t in all_timings if not math.isnan(t.others_cores)]
    if others:
        md += [f"Other processes used {min(others):.1f}–{max(others):.1f} cores (mean "
               f"{sum(others) / len(others):.1f}) of the {os.cpu_count()} while the rows were measured: "
               f"wall times and 2-thread speed-ups are those of a shared machine; CPU seconds are "
               f"the less disturbed measure.", ""]
    md += [f"Finished {time.strftime('%Y-%m-%d %H:%M')}, load average {os.getloadavg()[0]:.1f} "
           f"(the machine is shared: the last column of each table is the CPU other processes used "
           f"while that row was measured, in cores, and the 1-min load average before it)."]
    if failures:
        md += ["", "## FIGURES DISAGREE", "", *[f"- {f}" for f in failures]]
    text = "\n".join(md) + "\n"
    (work / "results.md").write_text(text, encoding="utf-8")
    print(text)
    print(f"(written to {work / 'results.md'})", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
