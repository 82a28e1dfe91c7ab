"""Shared code of the oracle tests: an independent re-implementation of Canopy's rule.

Nothing here calls into Canopy's code. The oracle reads the same inputs (region file,
tiles, commune polygons) and recomputes every figure with numpy (pixel states and
compositing), GDAL's command-line tools (the warp of tiles that are not on the working
lattice; Debian's gdal-bin, the same GDAL library Canopy links) and exactextract (the
exact pixel coverage of the polygons). Canopy's only role is to produce the store
being checked.

The rule (mosaic.rs, forest.rs, cover.rs):

* Per epoch the working grid has the CRS, pixel size and pixel lattice of the epoch's
  first tile (tiles in region-file order, each glob sorted by name); its extent is the
  union of the tiles' footprints cut to the communes' bounding box and snapped outward
  to the lattice.
* A tile on that lattice is read pixel for pixel; any other tile is warped onto the
  part of the working grid its footprint covers (footprint snapped outward to the
  lattice), nearest neighbour, with an alpha band marking its true footprint.
* A pixel is unobserved if red or NIR is nodata/NaN, the mask band is non-zero, the
  warped alpha is 0, or red + NIR reflectance <= 0; otherwise NDVI on reflectance
  (raw x scale + offset) >= ndvi_min means forest. Class epochs: nodata -> unobserved,
  a code in forest_classes -> forest, anything else -> observed non-forest.
* The first tile (priority order) with an observed pixel wins.
* forest/observed area = sum of coverage fraction x pixel area; natural area = polygon
  area in area_crs (vertices transformed with PROJ, planar area); the province is the
  union of the communes.
"""

from __future__ import annotations

import glob
import json
import math
import os
import signal
import sqlite3
import subprocess
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyproj
import rasterio
import shapely
from exactextract import exact_extract
from exactextract.raster import NumPyRasterSource
from shapely.geometry import mapping, shape

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
# CANOPY_BIN / CANOPY_SAMPLE_DIR point the suite at another build or another copy of
# the sample region (e.g. to check a fix without touching the working tree).
_DEFAULT_BINARY = REPO / "target" / "release" / "canopy"
BINARY = Path(os.environ.get("CANOPY_BIN", _DEFAULT_BINARY))
SAMPLE_DIR = Path(os.environ.get("CANOPY_SAMPLE_DIR", REPO / "data" / "regions" / "lang-son"))

# Max errors measured by the tests, printed in pytest's terminal summary.
REPORTS: list[str] = []

UNOBSERVED, NON_FOREST, FOREST = 0, 1, 2
PROVINCE_KEY = "__province__"
M2_PER_HA = 10_000.0


# --------------------------------------------------------------------------- binary


def ensure_binary() -> Path:
    """The release binary, built if it is missing (scripts/test.sh builds it first)."""
    if BINARY.exists():
        return BINARY
    if BINARY != _DEFAULT_BINARY:
        raise RuntimeError(f"CANOPY_BIN={BINARY} does not exist")
    r = subprocess.run(["cargo", "build", "--release"], cwd=REPO, capture_output=True, text=True)
    if r.returncode == 0 and BINARY.exists():
        return BINARY
    raise RuntimeError(f"cargo build --release failed:\n{r.stderr[-4000:]}")


def _describe_rc(rc: int) -> str:
    if rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit status {rc}"


def run_canopy(*args: str, cwd: Path | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """Runs the canopy binary; raises with its output if it fails."""
    cmd = [str(ensure_binary()), *map(str, args)]
    r = subprocess.run(cmd, cwd=cwd or REPO, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise AssertionError(
            f"`{' '.join(cmd)}` failed ({_describe_rc(r.returncode)}).\n"
            f"stdout (tail):\n{r.stdout[-2000:]}\nstderr (tail):\n{r.stderr[-4000:]}"
        )
    return r


def ensure_sample(region_dir: Path = SAMPLE_DIR) -> Path:
    """The sample region's region.toml, its imagery generated once by scripts/sample.sh
    (the one owner of how the sample is made; it regenerates a stale sample)."""
    env = {**os.environ, "CANOPY_BIN": str(ensure_binary()), "CANOPY_SAMPLE_DIR": str(region_dir)}
    r = subprocess.run([str(REPO / "scripts" / "sample.sh"), "--no-run"], capture_output=True, text=True, env=env, timeout=1800)
    if r.returncode != 0:
        raise AssertionError(f"scripts/sample.sh failed:\n{r.stdout}\n{r.stderr}")
    return region_dir / "region.toml"


def gdal_tool(*args: str) -> subprocess.CompletedProcess:
    """Runs one of Debian's gdal-bin tools; raises with its stderr if it fails."""
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"`{' '.join(map(str, args))}` failed ({_describe_rc(r.returncode)}):\n{r.stderr}")
    return r


# --------------------------------------------------------------------------- region


@dataclass
class Epoch:
    id: str
    date: str
    tiles: list[Path]
    red: int | None = None
    nir: int | None = None
    mask: int | None = None
    klass: int | None = None
    composite: str = "priority"
    min_clear: int = 1

    @property
    def spectral(self) -> bool:
        return self.red is not None


@dataclass
class Region:
    file: Path
    name: str
    area_crs: str
    communes_path: Path
    communes_layer: str | None
    code_field: str
    name_field: str
    ndvi_min: float | None
    forest_classes: list[int]
    epochs: list[Epoch] = field(default_factory=list)


def expand_tiles(region_dir: Path, patterns: list[str]) -> list[Path]:
    """Tiles in priority order: patterns in file order, each glob sorted by name,
    a file listed twice kept at its first place."""
    out: list[Path] = []
    for pat in patterns:
        full = region_dir / pat
        if any(ch in pat for ch in "*?["):
            found = sorted(Path(p) for p in glob.glob(str(full)) if Path(p).is_file())
        else:
            found = [full] if full.exists() else []
        assert found, f"tile pattern {pat!r} matches nothing in {region_dir}"
        for f in found:
            if f not in out:
                out.append(f)
    return out


def load_region(path: Path) -> Region:
    path = Path(path)
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    d = path.parent
    forest = raw.get("forest", {})
    reg = Region(
        file=path,
        name=raw["name"],
        area_crs=raw["area_crs"],
        communes_path=d / raw["communes"]["path"],
        communes_layer=raw["communes"].get("layer"),
        code_field=raw["communes"]["code_field"],
        name_field=raw["communes"]["name_field"],
        ndvi_min=forest.get("ndvi_min"),
        forest_classes=list(forest.get("forest_classes", [])),
    )
    for e in raw["epochs"]:
        reg.epochs.append(
            Epoch(
                id=e["id"], date=e["date"], tiles=expand_tiles(d, e["tiles"]),
                red=e.get("red_band"), nir=e.get("nir_band"), mask=e.get("mask_band"),
                klass=e.get("class_band"),
                composite=e.get("composite", "priority"), min_clear=e.get("min_clear", 1),
            )
        )
    return reg


# --------------------------------------------------------------------------- communes


@dataclass
class Commune:
    code: str
    name: str
    geom: shapely.Geometry  # in the layer's CRS


def gpkg_geometry(blob: bytes) -> shapely.Geometry:
    """Decodes a GeoPackage geometry blob (header + envelope + WKB), no GDAL needed."""
    assert blob[:2] == b"GP", "not a GeoPackage geometry blob"
    flags = blob[3]
    env = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[(flags >> 1) & 7]
    return shapely.from_wkb(bytes(blob[8 + env :]))


def read_gpkg_layer(path: Path, layer: str | None = None) -> tuple[list[dict], shapely.Geometry, pyproj.CRS]:
    """Features of a GeoPackage layer as (attributes, geometry) read with sqlite3; the
    first feature layer if `layer` is None. Returns (rows, geometries, crs)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        con.row_factory = sqlite3.Row
        q = "SELECT table_name, column_name, srs_id FROM gpkg_geometry_columns"
        cols = {r["table_name"]: r for r in con.execute(q)}
        if layer is None:
            first = con.execute(
                "SELECT table_name FROM gpkg_contents WHERE data_type = 'features' ORDER BY rowid LIMIT 1"
            ).fetchone()
            layer = first["table_name"]
        gcol, srs_id = cols[layer]["column_name"], cols[layer]["srs_id"]
        org = con.execute(
            "SELECT organization, organization_coordsys_id, definition FROM gpkg_spatial_ref_sys WHERE srs_id = ?",
            (srs_id,),
        ).fetchone()
        crs = (
            pyproj.CRS.from_authority(org["organization"], org["organization_coordsys_id"])
            if org["organization"] and org["organization"].upper() == "EPSG"
            else pyproj.CRS.from_wkt(org["definition"])
        )
        rows, geoms = [], []
        for r in con.execute(f'SELECT * FROM "{layer}"'):
            d = dict(r)
            geoms.append(gpkg_geometry(d.pop(gcol)))
            rows.append(d)
        return rows, geoms, crs
    finally:
        con.close()


def read_communes(region: Region) -> tuple[list[Commune], pyproj.CRS]:
    """Reads the commune polygons without GDAL: GeoJSON with the json module (a legacy
    "crs" member is honoured, as GDAL does), GeoPackage with sqlite3."""
    p = region.communes_path
    if p.suffix.lower() == ".gpkg":
        rows, geoms, crs = read_gpkg_layer(p, region.communes_layer)
        feats = [(r, g) for r, g in zip(rows, geoms)]
    else:
        doc = json.loads(p.read_text(encoding="utf-8"))
        crs_name = (doc.get("crs") or {}).get("properties", {}).get("name", "EPSG:4326")
        crs = pyproj.CRS.from_user_input(crs_name)
        feats = [(f["properties"], shape(f["geometry"])) for f in doc["features"]]
    out = [Commune(str(a[region.code_field]).strip(), str(a[region.name_field]).strip(), g) for a, g in feats]
    return out, crs


def transformer(src, dst) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(pyproj.CRS.from_user_input(src), pyproj.CRS.from_user_input(dst), always_xy=True)


def transform_geom(geom: shapely.Geometry, tr: pyproj.Transformer) -> shapely.Geometry:
    """Transforms every vertex (straight edges stay straight, as in Canopy)."""

    def f(xy: np.ndarray) -> np.ndarray:
        x, y = tr.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, f)


def planar_area_ha(geom: shapely.Geometry, layer_crs, area_crs) -> float:
    return transform_geom(geom, transformer(layer_crs, area_crs)).area / M2_PER_HA


# --------------------------------------------------------------------------- grids


@dataclass(frozen=True)
class Grid:
    x0: float  # left edge
    y0: float  # top edge
    dx: float
    dy: float  # positive
    width: int
    height: int

    @property
    def bounds(self):
        return (self.x0, self.y0 - self.height * self.dy, self.x0 + self.width * self.dx, self.y0)

    def col_of(self, x):
        return (x - self.x0) / self.dx

    def row_of(self, y):
        return (self.y0 - y) / self.dy


@dataclass
class TileMeta:
    path: Path
    crs: rasterio.crs.CRS
    grid: Grid
    nodata: list  # per band (1-based index - 1)
    scales: list
    offsets: list


def tile_meta(path: Path) -> TileMeta:
    with rasterio.open(path) as ds:
        t = ds.transform
        assert t.b == 0 and t.d == 0 and t.a > 0 and t.e < 0, f"{path}: rotated or south-up"
        return TileMeta(
            path=Path(path), crs=ds.crs, grid=Grid(t.c, t.f, t.a, -t.e, ds.width, ds.height),
            nodata=list(ds.nodatavals), scales=list(ds.scales), offsets=list(ds.offsets),
        )


def densified_bounds(tr: pyproj.Transformer, x0, y0, x1, y1, n: int = 20):
    """Bounding box of a rectangle's image: n + 1 points on each edge (as mosaic.rs)."""
    t = np.arange(n + 1) / n
    xs = x0 + t * (x1 - x0)
    ys = y0 + t * (y1 - y0)
    px = np.concatenate([xs, xs, np.full_like(ys, x0), np.full_like(ys, x1)])
    py = np.concatenate([np.full_like(xs, y0), np.full_like(xs, y1), ys, ys])
    qx, qy = tr.transform(px, py)
    assert np.all(np.isfinite(qx)) and np.all(np.isfinite(qy))
    return float(qx.min()), float(qy.min()), float(qx.max()), float(qy.max())


def _near_int(v: float):
    r = round(v)
    return r if abs(v - r) < 1e-6 else None


@dataclass
class PlacedTile:
    meta: TileMeta
    window: tuple[int, int, int, int]  # col, row, width, height on the working grid
    shift: tuple[int, int] | None  # direct placement: tile (0,0) at working (col, row)


@dataclass
class Plan:
    crs: rasterio.crs.CRS
    grid: Grid
    tiles: list[PlacedTile]


def plan_epoch(epoch: Epoch, communes_bbox_layer, layer_crs) -> Plan:
    """The working grid and each tile's window, following the rule of mosaic.rs."""
    metas = [tile_meta(p) for p in epoch.tiles]
    first = metas[0]
    crs, lat = first.crs, first.grid
    fps, shifts = [], []
    for m in metas:
        same_crs = m.crs == crs
        shift = None
        if same_crs and abs((m.grid.dx - lat.dx) / lat.dx) < 1e-9 and abs((m.grid.dy - lat.dy) / lat.dy) < 1e-9:
            c, r = _near_int((m.grid.x0 - lat.x0) / lat.dx), _near_int((lat.y0 - m.grid.y0) / lat.dy)
            if c is not None and r is not None:
                shift = (c, r)
        if same_crs:
            fp = m.grid.bounds
        else:
            fp = densified_bounds(transformer(m.crs, crs), *m.grid.bounds)
        fps.append(fp)
        shifts.append(shift)
    if pyproj.CRS.from_user_input(layer_crs) == pyproj.CRS.from_user_input(crs):
        area = communes_bbox_layer
    else:
        area = densified_bounds(transformer(layer_crs, crs), *communes_bbox_layer)
    ux0, uy0 = min(f[0] for f in fps), min(f[1] for f in fps)
    ux1, uy1 = max(f[2] for f in fps), max(f[3] for f in fps)
    x0, y0, x1, y1 = max(ux0, area[0]), max(uy0, area[1]), min(ux1, area[2]), min(uy1, area[3])
    assert x0 < x1 and y0 < y1, "no tile overlaps the communes"
    c0 = math.floor((x0 - lat.x0) / lat.dx)
    c1 = math.ceil((x1 - lat.x0) / lat.dx)
    r0 = math.floor((lat.y0 - y1) / lat.dy)
    r1 = math.ceil((lat.y0 - y0) / lat.dy)
    grid = Grid(lat.x0 + c0 * lat.dx, lat.y0 - r0 * lat.dy, lat.dx, lat.dy, c1 - c0, r1 - r0)
    placed = []
    for m, fp, shift in zip(metas, fps, shifts):
        wc0 = max(math.floor(grid.col_of(fp[0])), 0)
        wc1 = min(math.ceil(grid.col_of(fp[2])), grid.width)
        wr0 = max(math.floor(grid.row_of(fp[3])), 0)
        wr1 = min(math.ceil(grid.row_of(fp[1])), grid.height)
        if wc0 >= wc1 or wr0 >= wr1:
            continue
        placed.append(
            PlacedTile(m, (wc0, wr0, wc1 - wc0, wr1 - wr0), None if shift is None else (shift[0] - c0, shift[1] - r0))
        )
    return Plan(crs, grid, placed)


# --------------------------------------------------------------------------- pixel states


def spectral_states(red_raw, nir_raw, mask_raw, red_meta, nir_meta, ndvi_min: float, with_ndvi: bool = False):
    """Pixel states of a red/NIR (+ mask) stack. `*_meta` = (scale, offset, nodata).

    Mask band: any non-zero (or NaN) value is unusable, 0 is clear. A mask band's own
    declared nodata is not consulted separately: a non-zero nodata value is already
    "non-zero", and a declared nodata of 0 would contradict "0 = clear" (GeoTIFF
    stores one nodata value for all bands, so a tile with nodata 0 on red/NIR
    necessarily reports it on its mask band too)."""
    # Canopy reads bands as float32; UInt16 and Float32 data convert exactly.
    red = np.asarray(red_raw, dtype=np.float32).astype(np.float64)
    nir = np.asarray(nir_raw, dtype=np.float32).astype(np.float64)
    bad = np.isnan(red) | np.isnan(nir)
    for arr, (_, _, nd) in ((red, red_meta), (nir, nir_meta)):
        if nd is not None and not np.isnan(nd):
            bad |= arr == nd
    if mask_raw is not None:
        m = np.asarray(mask_raw, dtype=np.float32)
        bad |= (m != 0) | np.isnan(m)
    r = red * red_meta[0] + red_meta[1]
    n = nir * nir_meta[0] + nir_meta[1]
    s = n + r
    bad |= ~(s > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ndvi = (n - r) / s
    out = np.where(ndvi >= ndvi_min, FOREST, NON_FOREST).astype(np.uint8)
    out[bad] = UNOBSERVED
    if with_ndvi:
        return out, np.where(bad, np.nan, ndvi)
    return out


def class_states(codes_raw, nodata, forest_classes) -> np.ndarray:
    codes = np.asarray(codes_raw, dtype=np.float64)
    bad = np.isnan(codes)
    if nodata is not None and not np.isnan(nodata):
        bad |= codes == nodata
    ints = np.trunc(np.where(bad, 0, codes)).astype(np.int64)
    out = np.where(np.isin(ints, forest_classes), FOREST, NON_FOREST).astype(np.uint8)
    out[bad] = UNOBSERVED
    return out


def _used_bands(epoch: Epoch) -> list[int]:
    if epoch.spectral:
        return [epoch.red, epoch.nir] + ([epoch.mask] if epoch.mask else [])
    return [epoch.klass]


def warp_tile(pt: PlacedTile, plan: Plan, bands: list[int], workdir: Path) -> np.ndarray:
    """Brings a tile onto its window of the working grid with Debian's gdal-bin,
    exactly as Canopy does in-process: band subset (gdal_translate -of VRT -b ...),
    then gdalwarp -of VRT onto the window (-te, -ts, -r near, -dstalpha), then the
    warped VRT is materialised with gdal_translate (GDAL warps a VRT block by block,
    and Canopy reads the same kind of warped VRT). Returns (bands + alpha) x h x w.

    Why this much care: nearest neighbour is decided per destination pixel centre, but
    gdalwarp maps the centres with an approximate (piecewise-linear, 0.125 px error)
    transformer laid over the chunk being warped, so the chosen source pixel near a
    source pixel edge depends on the output window and chunking. On the sample's
    EPSG:4326 tile, a plain `gdalwarp` to GeoTIFF onto the same window picks another
    source pixel for 2.2 % of the window's pixels (-et 0: 4 %), which moved commune
    figures by up to 2.4e-5 (9.6e-5 with -et 0) relative; warping onto exactly
    Canopy's window through a warped VRT agrees with Canopy to ~1e-11."""
    workdir.mkdir(parents=True, exist_ok=True)
    stem = f"{pt.meta.path.parent.name}_{pt.meta.path.stem}"
    sub, vrt, tif = workdir / f"{stem}_sub.vrt", workdir / f"{stem}_warp.vrt", workdir / f"{stem}_warp.tif"
    args = ["gdal_translate", "-q", "-of", "VRT"]
    for b in bands:
        args += ["-b", str(b)]
    gdal_tool(*args, pt.meta.path, sub)
    g = plan.grid
    col, row, w, h = pt.window
    xmin, ymax = g.x0 + col * g.dx, g.y0 - row * g.dy
    xmax, ymin = xmin + w * g.dx, ymax - h * g.dy
    gdal_tool(
        "gdalwarp", "-q", "-overwrite", "-of", "VRT", "-t_srs", plan.crs.to_wkt(),
        "-te", f"{xmin:.10f}", f"{ymin:.10f}", f"{xmax:.10f}", f"{ymax:.10f}",
        "-ts", str(w), str(h), "-r", "near", "-dstalpha", sub, vrt,
    )
    gdal_tool("gdal_translate", "-q", "-of", "GTiff", vrt, tif)
    with rasterio.open(tif) as ds:
        assert (ds.width, ds.height) == (w, h)
        t = ds.transform
        assert abs(t.c - xmin) < 1e-6 * g.dx and abs(t.f - ymax) < 1e-6 * g.dy
        assert ds.count == len(bands) + 1
        return ds.read()


def tile_states(pt: PlacedTile, plan: Plan, epoch: Epoch, region: Region, workdir: Path, with_ndvi: bool = False):
    """States of one tile on its window of the working grid (and its NDVI, NaN
    where unobserved, with `with_ndvi`)."""
    bands = _used_bands(epoch)
    col, row, w, h = pt.window
    m = pt.meta
    if pt.shift is not None:
        # Direct: working (c, r) is tile (c - shift_c, r - shift_r); outside the
        # tile's pixels the window is unobserved.
        sc, sr = pt.shift
        data = np.zeros((len(bands), h, w), dtype=np.float64)
        inside = np.zeros((h, w), dtype=bool)
        tc0, tr0 = col - sc, row - sr
        a0, b0 = max(tc0, 0), max(tr0, 0)
        a1, b1 = min(tc0 + w, m.grid.width), min(tr0 + h, m.grid.height)
        with rasterio.open(m.path) as ds:
            if a0 < a1 and b0 < b1:
                win = rasterio.windows.Window(a0, b0, a1 - a0, b1 - b0)
                arr = ds.read(bands, window=win)
                data[:, b0 - tr0 : b1 - tr0, a0 - tc0 : a1 - tc0] = arr
                inside[b0 - tr0 : b1 - tr0, a0 - tc0 : a1 - tc0] = True
        alpha = inside
    else:
        arr = warp_tile(pt, plan, bands, workdir)
        data, alpha = arr[:-1], arr[-1] != 0
    meta = lambda b: (m.scales[b - 1], m.offsets[b - 1], m.nodata[b - 1])  # noqa: E731
    ndvi = None
    if epoch.spectral:
        states, ndvi = spectral_states(
            data[0], data[1], data[2] if epoch.mask else None, meta(epoch.red), meta(epoch.nir), region.ndvi_min,
            with_ndvi=True,
        )
        ndvi[~alpha] = np.nan
    else:
        states = class_states(data[0], m.nodata[epoch.klass - 1], region.forest_classes)
    states[~alpha] = UNOBSERVED
    return (states, ndvi) if with_ndvi else states


def composite(region: Region, epoch: Epoch, communes_bbox, layer_crs, workdir: Path) -> tuple[Plan, np.ndarray]:
    """The epoch's composite states: the first tile with an observed pixel wins
    (priority), or the state of the largest NDVI (float32, as Canopy keeps it;
    ties to forest) of at least `min_clear` clear observations (max-ndvi)."""
    plan = plan_epoch(epoch, communes_bbox, layer_crs)
    g = plan.grid
    if epoch.composite == "max-ndvi":
        best = np.full((g.height, g.width), -np.inf, dtype=np.float32)
        state = np.zeros((g.height, g.width), dtype=np.uint8)
        clear = np.zeros((g.height, g.width), dtype=np.int32)
        for pt in plan.tiles:
            col, row, w, h = pt.window
            st, nd = tile_states(pt, plan, epoch, region, workdir, with_ndvi=True)
            obs = st != UNOBSERVED
            v = np.where(obs, nd, -np.inf).astype(np.float32)
            bv, bs = best[row : row + h, col : col + w], state[row : row + h, col : col + w]
            better = obs & ((v > bv) | ((v == bv) & (st > bs)))
            bv[better] = v[better]
            bs[better] = st[better]
            clear[row : row + h, col : col + w] += obs
        state[clear < max(epoch.min_clear, 1)] = UNOBSERVED
        return plan, state
    if epoch.composite != "priority":
        raise NotImplementedError(f"oracle composite {epoch.composite}")
    acc = np.zeros((g.height, g.width), dtype=np.uint8)
    for pt in plan.tiles:
        col, row, w, h = pt.window
        st = tile_states(pt, plan, epoch, region, workdir)
        view = acc[row : row + h, col : col + w]
        fill = view == UNOBSERVED
        view[fill] = st[fill]
    return plan, acc


# --------------------------------------------------------------------------- zonal sums


def exact_sums(states: np.ndarray, grid: Grid, crs_wkt: str, polygons: dict[str, shapely.Geometry]) -> dict[str, dict]:
    """Per polygon (already in the grid's CRS): exactextract's coverage-weighted sums of
    the forest and observed masks, times the (constant) pixel area, in ha; and the
    coverage-weighted mean of the forest mask over observed pixels."""
    xmin, ymin, xmax, ymax = grid.bounds
    forest = NumPyRasterSource((states == FOREST).astype(np.uint8), xmin, ymin, xmax, ymax, name="forest", srs_wkt=crs_wkt)
    observed = NumPyRasterSource(
        (states != UNOBSERVED).astype(np.uint8), xmin, ymin, xmax, ymax, name="observed", srs_wkt=crs_wkt
    )
    feats = [{"type": "Feature", "properties": {"key": k}, "geometry": mapping(g)} for k, g in polygons.items()]
    res = exact_extract([forest, observed], feats, ["sum"], include_cols=["key"])
    px_ha = grid.dx * grid.dy / M2_PER_HA
    out = {}
    for r in res:
        p = r["properties"]
        out[p["key"]] = {"forest_ha": p["forest_sum"] * px_ha, "observed_ha": p["observed_sum"] * px_ha}
    return out


# --------------------------------------------------------------------------- store


def query(store: Path, sql: str) -> list[dict]:
    con = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute(sql)]
    finally:
        con.close()


def read_cover(store: Path) -> dict[tuple[str, str], dict]:
    rows = query(
        store,
        "SELECT commune_code, epoch, natural_ha, forest_ha, observed_ha, unobserved_ha, cover_pct, observed_pct FROM cover",
    )
    return {(r["commune_code"], r["epoch"]): r for r in rows}


def read_province(store: Path) -> dict[str, dict]:
    rows = query(
        store, "SELECT epoch, natural_ha, forest_ha, observed_ha, unobserved_ha, cover_pct, observed_pct FROM province_cover"
    )
    return {r["epoch"]: r for r in rows}


def read_communes_table(store: Path) -> dict[str, dict]:
    return {r["code"]: r for r in query(store, "SELECT code, name, natural_ha FROM communes")}


def read_epochs(store: Path) -> list[dict]:
    return query(store, "SELECT * FROM epochs")


# --------------------------------------------------------------------------- comparison


class ErrorTracker:
    """Collects relative errors |got - want| / max(|want|, floor) and failures."""

    def __init__(self, rel_tol: float):
        self.rel_tol = rel_tol
        self.max = {}  # quantity -> (error, label, got, want)
        self.failures = []

    def check(self, quantity: str, label: str, got: float, want: float, floor: float) -> None:
        err = abs(got - want) / max(abs(want), floor)
        if err > self.max.get(quantity, (-1.0,))[0]:
            self.max[quantity] = (err, label, got, want)
        if not err <= self.rel_tol:
            self.failures.append(f"{quantity} {label}: canopy {got!r}, oracle {want!r}, relative error {err:.3e}")

    def report(self, title: str) -> str:
        lines = [f"{title}: max relative error per quantity (tolerance {self.rel_tol:.0e})"]
        for q, (e, label, got, want) in sorted(self.max.items()):
            lines.append(f"  {q:<22} {e:.3e}  at {label} (canopy {got:.6f}, oracle {want:.6f})")
        return "\n".join(lines)

    def assert_ok(self, title: str) -> None:
        if self.failures:
            shown = "\n  ".join(self.failures[:40])
            more = f"\n  ... and {len(self.failures) - 40} more" if len(self.failures) > 40 else ""
            raise AssertionError(f"{title}: {len(self.failures)} disagreement(s) beyond {self.rel_tol:.0e}:\n  {shown}{more}")

    def finish(self, title: str) -> None:
        """Records the report for the summary, then fails on any disagreement."""
        REPORTS.append(self.report(title))
        self.assert_ok(title)



# --------------------------------------------------------------------------- zones


def read_zones(region_file: Path) -> tuple[list[tuple[str, str, shapely.Geometry]], pyproj.CRS]:
    """The region's planting zones (code, lower-case species, geometry) read with the
    json module, and their CRS."""
    raw = tomllib.loads(Path(region_file).read_text(encoding="utf-8"))
    z = raw["zones"]
    doc = json.loads((Path(region_file).parent / z["path"]).read_text(encoding="utf-8"))
    crs = pyproj.CRS.from_user_input((doc.get("crs") or {}).get("properties", {}).get("name", "EPSG:4326"))
    out = []
    for i, f in enumerate(doc["features"]):
        p = f["properties"]
        code = p.get(z.get("code_field", ""), None) or f"zone-{i}"
        out.append((str(code), str(p[z["species_field"]]).lower(), shape(f["geometry"])))
    return out, crs


def zone_pieces(region_file: Path, communes: list[Commune], layer_crs, area_crs) -> dict[str, dict]:
    """Every zone cut by every commune with shapely, in `area_crs`:
    piece id (zone_code@commune_code) → {species, commune, geom}. Slivers under
    1e-3 m² (shared boundaries) are not pieces, as in Canopy."""
    zones, zcrs = read_zones(region_file)
    to_area_z = transformer(zcrs, area_crs)
    to_area_c = transformer(layer_crs, area_crs)
    cgeoms = [(c, transform_geom(c.geom, to_area_c)) for c in communes]
    out = {}
    for code, species, g in zones:
        zg = transform_geom(g, to_area_z)
        for c, cg in cgeoms:
            if not zg.intersects(cg):
                continue
            piece = zg.intersection(cg)
            if piece.area > 1e-3:
                out[f"{code}@{c.code}"] = {"species": species, "commune": c.code, "geom": piece}
    return out


def has_zones(region_file: Path) -> bool:
    raw = tomllib.loads(Path(region_file).read_text(encoding="utf-8"))
    return "zones" in raw and (Path(region_file).parent / raw["zones"]["path"]).exists()


# --------------------------------------------------------------------------- forest plots


def has_parcels(region_file: Path) -> bool:
    raw = tomllib.loads(Path(region_file).read_text(encoding="utf-8"))
    return "parcels" in raw and (Path(region_file).parent / raw["parcels"]["path"]).exists()


def read_parcels(region_file: Path) -> tuple[dict[str, dict], pyproj.CRS]:
    """The region's forest plots read with the json module: plot id (built from the
    tiểu khu / khoảnh / lô fields as `tk/khoảnh/lô`, or the id field) → {properties,
    geom}, and the layer's CRS."""
    raw = tomllib.loads(Path(region_file).read_text(encoding="utf-8"))
    p = raw["parcels"]
    doc = json.loads((Path(region_file).parent / p["path"]).read_text(encoding="utf-8"))
    crs = pyproj.CRS.from_user_input((doc.get("crs") or {}).get("properties", {}).get("name", "EPSG:4326"))
    out = {}
    for f in doc["features"]:
        a = f["properties"]
        if "id_field" in p:
            pid = str(a[p["id_field"]]).strip()
        else:
            pid = "/".join(str(a[p[k]]).strip() for k in ("compartment_field", "sub_compartment_field", "plot_field"))
        out[pid] = {"properties": a, "geom": shape(f["geometry"])}
    return out, crs
