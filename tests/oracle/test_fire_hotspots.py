"""Satellite hotspots (issue 17) against independent computations.

A region is built here: a 30 m Sentinel-2-like tile in UTM 48N with a random
forest pattern and a cloud, two communes in WGS84 (so Canopy reprojects them),
and FIRMS files in the real VIIRS and MODIS CSV layouts with detections at random
points (a few outside the region). After `canopy run`:

- each stored hotspot's footprint forest (ha) and forest fraction equal
  exactextract's coverage-weighted sum of the forest mask (computed here with
  numpy from the bands) over the footprint built here with pyproj
  (scan × track km around the point in EPSG:32648);
- the fire events equal the connected groups of an independent union of
  "within 24 h and footprints within 1 km" (shapely distances);
- the detections outside the communes are counted, not stored;
- with a plot layer tiling the communes (holes, a multipolygon, plots cut by the
  communes' edge), each hotspot's and event's plots and their areas equal
  shapely's footprint (outline) ∩ plot, the hotspot's `plot` the largest.
"""

from __future__ import annotations

import csv
import datetime as dt
import json

import numpy as np
import pyproj
import rasterio
import shapely
import shapely.ops
from rasterio.transform import from_origin
from shapely.geometry import box, mapping

import oracle_lib as ol

X0, Y0, PX, N = 600_000.0, 2_410_000.0, 30.0, 400
REL_TOL = 1e-6
FLOOR_HA = 1.0  # relative errors are taken against max(want, 1 ha)


def _forest_mask(rng, n: int = N) -> np.ndarray:
    # Smooth random field: sums of blobs, thresholded (irregular patches).
    yy, xx = np.mgrid[0:n, 0:n]
    f = np.zeros((n, n))
    for _ in range(40):
        cx, cy, r = rng.uniform(0, n), rng.uniform(0, n), rng.uniform(8, 40)
        f += np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
    return f > np.quantile(f, 0.5)


def _states(forest, cloud):
    ndvi = (np.where(forest, 0.30, 0.20) - np.where(forest, 0.03, 0.08)) / (
        np.where(forest, 0.30, 0.20) + np.where(forest, 0.03, 0.08)
    )
    s = np.where(ndvi >= 0.55, ol.FOREST, ol.NON_FOREST).astype(np.uint8)
    s[cloud] = ol.UNOBSERVED
    return s


def _region(tmp_path, rng):
    forest = _forest_mask(rng)
    cloud = np.zeros((N, N), bool)
    cloud[60:110, 250:320] = True
    (tmp_path / "tiles").mkdir()
    # Sentinel-2 L2A digital numbers: reflectance = DN × 1e-4 − 0.1 (band scale/offset).
    red = np.where(forest, 0.03, 0.08)
    nir = np.where(forest, 0.30, 0.20)
    dn = lambda r: np.round((r + 0.1) * 10_000).astype(np.uint16)  # noqa: E731
    src = tmp_path / "tiles" / "t.tif"
    with rasterio.open(
        src, "w", driver="GTiff", width=N, height=N, count=3, dtype="uint16",
        crs="EPSG:32648", transform=from_origin(X0, Y0, PX, PX),
    ) as ds:
        ds.write(dn(red), 1)
        ds.write(dn(nir), 2)
        ds.write(cloud.astype(np.uint16), 3)
        ds.scales = (1e-4, 1e-4, 1.0)
        ds.offsets = (-0.1, -0.1, 0.0)
    to_wgs = pyproj.Transformer.from_crs("EPSG:32648", "EPSG:4326", always_xy=True)
    # Two communes sharing an edge, inset 1 km from the tile's edges, a notch cut out.
    a = shapely.Polygon([(X0 + 1000, Y0 - 1000), (X0 + 6000, Y0 - 1500), (X0 + 6200, Y0 - 11000), (X0 + 1200, Y0 - 10500)])
    b = shapely.Polygon([(X0 + 6000, Y0 - 1500), (X0 + 11000, Y0 - 1000), (X0 + 10800, Y0 - 11000), (X0 + 6200, Y0 - 11000)])
    b = b.difference(box(X0 + 9000, Y0 - 4000, X0 + 11000, Y0 - 1000))
    feats = []
    for code, name, g in [("00001", "Xã A", a), ("00002", "Xã B", b)]:
        gw = shapely.ops.transform(to_wgs.transform, shapely.segmentize(g, 100.0))
        feats.append({"type": "Feature", "properties": {"code": code, "name": name}, "geometry": mapping(gw)})
    (tmp_path / "communes.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    union_utm = shapely.union_all([a, b])
    return forest, cloud, union_utm, to_wgs


def _hotspots(tmp_path, rng, union_utm, to_wgs):
    inner = union_utm.buffer(-1200.0)  # every footprint (≤ 2 km) lies inside the communes' bbox
    minx, miny, maxx, maxy = inner.bounds
    pts = []
    while len(pts) < 60:
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if inner.contains(shapely.Point(x, y)):
            pts.append((x, y))
    # Clusters: some detections near earlier ones (same fire), hours later.
    for k in range(15):
        x, y = pts[k]
        pts.append((x + rng.uniform(-900, 900), y + rng.uniform(-900, 900)))
    outside = [(X0 - 5000, Y0 - 5000), (X0 + 30_000, Y0), (X0 + 5000, Y0 + 8000)]
    base = dt.datetime(2026, 1, 3, 0, 0)
    rows = []
    for i, (x, y) in enumerate(pts + outside):
        modis = i % 2 == 1
        scan = rng.uniform(1.0, 2.0) if modis else rng.uniform(0.32, 0.8)
        track = rng.uniform(1.0, 1.5) if modis else rng.uniform(0.36, 0.7)
        when = base + dt.timedelta(minutes=int(rng.integers(0, 5 * 1440)))
        if i >= 60 and i < 75:
            when = rows[i - 60]["when"] + dt.timedelta(hours=float(rng.uniform(1, 30)))
        lon, lat = to_wgs.transform(x, y)
        rows.append({"lon": lon, "lat": lat, "scan": round(scan, 2), "track": round(track, 2), "when": when,
                     "modis": modis, "frp": 100.0 + i, "outside": i >= 75})
    viirs = tmp_path / "viirs.csv"
    with open(viirs, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["latitude", "longitude", "bright_ti4", "scan", "track", "acq_date", "acq_time", "satellite",
                    "instrument", "confidence", "version", "bright_ti5", "frp", "daynight"])
        for r in rows:
            if not r["modis"]:
                t = r["when"]
                w.writerow([f"{r['lat']:.10f}", f"{r['lon']:.10f}", 330.1, r["scan"], r["track"], t.date().isoformat(),
                            str(t.hour * 100 + t.minute), "N20", "VIIRS", "n", "2.0NRT", 290.2, r["frp"], "N"])
    modis = tmp_path / "modis.csv"
    with open(modis, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["latitude", "longitude", "brightness", "scan", "track", "acq_date", "acq_time", "satellite",
                    "instrument", "confidence", "version", "bright_t31", "frp", "daynight", "type"])
        for r in rows:
            if r["modis"]:
                t = r["when"]
                w.writerow([f"{r['lat']:.10f}", f"{r['lon']:.10f}", 318.4, r["scan"], r["track"], t.date().isoformat(),
                            f"{t.hour * 100 + t.minute:04d}", "Terra", "MODIS", 64, "6.03", 291.0, r["frp"], "D", 0])
    return rows


def _key(acquired: str, lon: float, lat: float):
    return (acquired, round(lon, 5), round(lat, 5))


def _check(store, inside, states, grid, epsg, label):
    """Stored hotspots and events of `store` against the oracle; `inside` are the
    input detections in the region (dicts: lon, lat, scan, track, when, frp)."""
    stored, geoms, _ = ol.read_gpkg_layer(store, "hotspots")
    assert len(stored) == len(inside)
    by_key = {_key(s["acquired"], g.x, g.y): s for s, g in zip(stored, geoms)}
    to_utm = pyproj.Transformer.from_crs("EPSG:4326", epsg, always_xy=True)
    footprints, keys = {}, []
    for x in inside:
        k = _key(x["when"].strftime("%Y-%m-%dT%H:%MZ"), x["lon"], x["lat"])
        assert k in by_key, k
        keys.append(k)
        cx, cy = to_utm.transform(x["lon"], x["lat"])
        hx, hy = x["scan"] * 500.0, x["track"] * 500.0
        footprints[k] = box(cx - hx, cy - hy, cx + hx, cy + hy)
    wkt = pyproj.CRS(epsg).to_wkt()
    sums = ol.exact_sums(states, grid, wkt, {str(k): g for k, g in footprints.items()})
    t = ol.ErrorTracker(REL_TOL)
    some_forest = 0
    for k in keys:
        s, o = by_key[k], sums[str(k)]
        area_ha = footprints[k].area / ol.M2_PER_HA
        t.check("hotspot footprint_ha", str(k), s["footprint_ha"], area_ha, FLOOR_HA)
        t.check("hotspot forest_ha", str(k), s["forest_ha"], o["forest_ha"], FLOOR_HA)
        t.check("hotspot observed_ha", str(k), s["observed_ha"], o["observed_ha"], FLOOR_HA)
        assert abs(s["forest_fraction"] - o["forest_ha"] / area_ha) < 1e-6
        some_forest += 0 < s["forest_fraction"] < 1
    assert some_forest > 10, "footprints straddle forest edges"
    t.finish(f"{label}: hotspot footprint forest vs exactextract")

    # Events: connected groups of (|Δt| ≤ 24 h and footprint distance ≤ 1 km).
    parent = {k: k for k in keys}

    def find(k):
        while parent[k] != k:
            k = parent[k]
        return k

    when = {k: x["when"] for k, x in zip(keys, inside)}
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            if abs((when[a] - when[b]).total_seconds()) <= 24 * 3600 and footprints[a].distance(footprints[b]) <= 1000.0:
                parent[find(a)] = find(b)
    want = {}
    for k in keys:
        want.setdefault(find(k), set()).add(k)
    got = {}
    for k, s in by_key.items():
        got.setdefault(s["event_id"], set()).add(k)
    assert sorted(map(sorted, got.values())) == sorted(map(sorted, want.values()))
    assert len(want) < len(keys), "some detections were grouped"
    events, outlines, _ = ol.read_gpkg_layer(store, "fire_events")
    assert len(events) == len(want)
    unions = {}
    for e in events:
        members = got[e["event_id"]]
        assert e["hotspots"] == len(members)
        assert e["max_frp_mw"] == max(by_key[m]["frp_mw"] for m in members)
        union = shapely.union_all([footprints[m] for m in members])
        assert abs(e["area_ha"] - union.area / ol.M2_PER_HA) < 1e-6 * max(1.0, e["area_ha"])
        unions[e["event_id"]] = union
    ev_sums = ol.exact_sums(states, grid, wkt, unions)
    t = ol.ErrorTracker(REL_TOL)
    for e in events:
        t.check("fire event forest_ha", e["event_id"], e["forest_ha"], ev_sums[e["event_id"]]["forest_ha"], FLOOR_HA)
    t.finish(f"{label}: fire-event outline forest vs exactextract")
    return events


FUNCTIONS = ["Đặc dụng", "Phòng hộ", "Sản xuất"]
CODES = {"Đặc dụng": "special-use", "Phòng hộ": "protection", "Sản xuất": "production"}


def _plots(tmp_path, union_utm, to_wgs):
    """Forest plots tiling the communes: a 700 m grid cut by the communes' union
    (cells on the edge and around the notch are clipped; one plot gets a hole and
    one is two squares: a multipolygon), in WGS84. Returns {id: (UTM geometry as
    Canopy sees it: the written vertices moved back with pyproj, function code,
    owner)}."""
    minx, miny, maxx, maxy = union_utm.bounds
    to_utm = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32648", always_xy=True)
    feats, plots = [], {}
    k = 0
    for i, x in enumerate(np.arange(minx, maxx, 700.0)):
        for j, y in enumerate(np.arange(miny, maxy, 700.0)):
            cell = box(x, y, x + 700.0, y + 700.0)
            if (i, j) == (3, 3):
                cell = cell.difference(box(x + 200, y + 200, x + 500, y + 500))
            if (i, j) == (5, 2):
                cell = shapely.union_all([box(x, y, x + 300, y + 300), box(x + 400, y + 400, x + 700, y + 700)])
            g = cell.intersection(union_utm)
            if g.area < 1.0:
                continue
            g = shapely.MultiPolygon([p for p in getattr(g, "geoms", [g]) if p.geom_type == "Polygon"])
            k += 1
            fn = FUNCTIONS[(i + 2 * j) % 3]
            pid = f"P{k:03d}"
            gw = shapely.ops.transform(to_wgs.transform, g)
            feats.append({"type": "Feature", "geometry": mapping(gw), "properties": {
                "ma_lo": pid, "chuc_nang": fn, "chu_rung": f"Chủ {k}", "loai_chu_rung": "Hộ gia đình, cá nhân"}})
            plots[pid] = (shapely.ops.transform(to_utm.transform, shapely.from_geojson(json.dumps(mapping(gw)))),
                          CODES[fn], f"Chủ {k}")
    (tmp_path / "plots.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return plots


PLOTS_SECTION = (
    '[parcels]\npath = "plots.geojson"\nid_field = "ma_lo"\nfunction_field = "chuc_nang"\n'
    'owner_field = "chu_rung"\nowner_category_field = "loai_chu_rung"\n'
)


def _check_plots(store, plots, epsg):
    """Each hotspot's and fire event's plots (`fire_parcels`, the hotspot's `plot`,
    the fire alerts' `alert_parcels`) against shapely: footprint (outline) ∩ plot."""
    stored, geoms, _ = ol.read_gpkg_layer(store, "hotspots")
    to_utm = pyproj.Transformer.from_crs("EPSG:4326", epsg, always_xy=True)
    tree_ids = list(plots)
    tree = shapely.STRtree([plots[p][0] for p in tree_ids])
    links = ol.query(store, "SELECT * FROM fire_parcels")
    got = {}
    for r in links:
        got.setdefault((r["kind"], r["feature_id"]), {})[r["parcel_id"]] = r
    t = ol.ErrorTracker(REL_TOL)
    fps = {}
    n_multi = 0
    for s, g in zip(stored, geoms):
        cx, cy = to_utm.transform(g.x, g.y)
        hx, hy = s["scan_km"] * 500.0, s["track_km"] * 500.0
        fp = box(cx - hx, cy - hy, cx + hx, cy + hy)
        fps[s["hotspot_id"]] = fp
        want = {tree_ids[i]: plots[tree_ids[i]][0].intersection(fp).area for i in tree.query(fp)}
        want = {k: v for k, v in want.items() if v > 1e-3}
        have = got.get(("hotspot", s["hotspot_id"]), {})
        assert set(want) == {k for k, v in have.items() if v["area_ha"] * ol.M2_PER_HA > 1e-3}, s["hotspot_id"]
        n_multi += len(want) > 1
        for pid, m2 in want.items():
            r = have[pid]
            t.check("hotspot plot ha", f"{s['hotspot_id']} {pid}", r["area_ha"], m2 / ol.M2_PER_HA, FLOOR_HA)
            assert abs(r["share"] - m2 / fp.area) < 1e-6
            assert r["function"] == plots[pid][1] and r["owner"] == plots[pid][2]
        # The largest part (equal parts, to 1e-6, are tied: Canopy takes the smaller id).
        best = max(want.values())
        tied = sorted(k for k, v in want.items() if v >= best * (1 - 1e-6))
        assert s["plot"] == tied[0], (s["hotspot_id"], s["plot"], want)
    assert n_multi > 10, "footprints straddle plot edges"
    events = ol.query(store, "SELECT * FROM fire_events")
    fire_alerts = {r["alert_id"] for r in ol.query(store, "SELECT alert_id FROM alerts WHERE kind = 'fire'")}
    alert_links = ol.query(store, "SELECT * FROM alert_parcels")
    for e in events:
        members = [h for h in stored if h["event_id"] == e["event_id"]]
        outline = shapely.union_all([fps[h["hotspot_id"]] for h in members])
        want = {tree_ids[i]: plots[tree_ids[i]][0].intersection(outline).area for i in tree.query(outline)}
        want = {k: v for k, v in want.items() if v > 1e-3}
        have = got.get(("event", e["event_id"]), {})
        assert set(want) == {k for k, v in have.items() if v["area_ha"] * ol.M2_PER_HA > 1e-3}, e["event_id"]
        for pid, m2 in want.items():
            t.check("event plot ha", f"{e['event_id']} {pid}", have[pid]["area_ha"], m2 / ol.M2_PER_HA, FLOOR_HA)
        # A fire alert names the same plots as its event.
        mine = {r["parcel_id"]: r["area_ha"] for r in alert_links if r["alert_id"] == e["event_id"]}
        assert mine == ({k: v["area_ha"] for k, v in have.items()} if e["event_id"] in fire_alerts else {})
        # Severity: high whenever the event lies in special-use or protection plots.
        main = min(k for k, v in want.items() if v >= max(want.values()) * (1 - 1e-6))
        if plots[main][1] != "production" and e["forest_ha"] > 0:
            assert e["severity"] == "high", e
    t.finish("hotspot and fire-event plots vs shapely")


def test_hotspot_footprints_and_events_against_exactextract(tmp_path):
    rng = np.random.default_rng(17)
    forest, cloud, union_utm, to_wgs = _region(tmp_path, rng)
    rows = _hotspots(tmp_path, rng, union_utm, to_wgs)
    plots = _plots(tmp_path, union_utm, to_wgs)
    (tmp_path / "region.toml").write_text(
        'name = "Fire oracle"\narea_crs = "EPSG:32648"\n'
        '[communes]\npath = "communes.geojson"\ncode_field = "code"\nname_field = "name"\n'
        "[forest]\nndvi_min = 0.55\n"
        '[[epochs]]\nid = "2025"\ndate = "2025-12-31"\ntiles = ["tiles/*.tif"]\nred_band = 1\nnir_band = 2\nmask_band = 3\n'
        '[fire]\nhotspots = ["viirs.csv", "modis.csv"]\n' + PLOTS_SECTION
    )
    store = tmp_path / "out.gpkg"
    r = ol.run_canopy("run", tmp_path / "region.toml", "--store", store)
    inside = [x for x in rows if not x["outside"]]
    assert "3 outside" in r.stdout, r.stdout[-2000:]
    grid = ol.Grid(X0, Y0, PX, PX, N, N)
    events = _check(store, inside, _states(forest, cloud), grid, "EPSG:32648", "generated hotspots")
    # Every event with forest ≥ 0.3 ha became a fire alert with its id (all detections are nominal).
    alerts = {a["alert_id"] for a in ol.query(store, "SELECT * FROM alerts WHERE kind = 'fire'")}
    assert alerts == {e["event_id"] for e in events if e["forest_ha"] >= 0.3}
    _check_plots(store, plots, "EPSG:32648")


REAL_NRT = ol.REPO / "data" / "fire" / "firms_modis_nrt_sumatra_2026.csv"


def test_real_modis_nrt_file_on_a_region_around_a_cluster(tmp_path):
    """The real FIRMS NRT file, read as it is, on a region drawn around its densest
    cluster (Riau, 1.75° N 101.75° E) with a generated forest tile in UTM 47N."""
    rng = np.random.default_rng(5)
    lon0, lat0, lon1, lat1 = 101.60, 1.60, 101.90, 1.90
    to_utm = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32647", always_xy=True)
    to_wgs = pyproj.Transformer.from_crs("EPSG:32647", "EPSG:4326", always_xy=True)
    region_wgs = box(lon0, lat0, lon1, lat1)
    region_utm = shapely.ops.transform(to_utm.transform, shapely.segmentize(region_wgs, 0.001))
    bx0, by0, bx1, by1 = region_utm.bounds
    px, x0, y0 = 100.0, np.floor(bx0 / 100) * 100 - 3000, np.ceil(by1 / 100) * 100 + 3000
    n = int(np.ceil((bx1 - bx0 + 6000) / px))
    forest = _forest_mask(rng, n)
    cloud = np.zeros((n, n), bool)
    (tmp_path / "tiles").mkdir()
    dn = lambda r: np.round((r + 0.1) * 10_000).astype(np.uint16)  # noqa: E731
    with rasterio.open(
        tmp_path / "tiles" / "t.tif", "w", driver="GTiff", width=n, height=n, count=3, dtype="uint16",
        crs="EPSG:32647", transform=from_origin(x0, y0, px, px),
    ) as ds:
        ds.write(dn(np.where(forest, 0.03, 0.08)), 1)
        ds.write(dn(np.where(forest, 0.30, 0.20)), 2)
        ds.write(cloud.astype(np.uint16), 3)
        ds.scales = (1e-4, 1e-4, 1.0)
        ds.offsets = (-0.1, -0.1, 0.0)
    west = box(lon0, lat0, (lon0 + lon1) / 2, lat1)
    east = box((lon0 + lon1) / 2, lat0, lon1, lat1)
    feats = [{"type": "Feature", "properties": {"code": c, "name": c}, "geometry": mapping(g)}
             for c, g in [("W", west), ("E", east)]]
    (tmp_path / "communes.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    (tmp_path / "region.toml").write_text(
        'name = "Riau cluster"\narea_crs = "EPSG:32647"\n'
        '[communes]\npath = "communes.geojson"\ncode_field = "code"\nname_field = "name"\n'
        "[forest]\nndvi_min = 0.55\n"
        '[[epochs]]\nid = "2026"\ndate = "2026-01-01"\ntiles = ["tiles/*.tif"]\nred_band = 1\nnir_band = 2\nmask_band = 3\n'
        f'[fire]\nhotspots = ["{REAL_NRT}"]\n'
    )
    store = tmp_path / "out.gpkg"
    r = ol.run_canopy("run", tmp_path / "region.toml", "--store", store)
    with open(REAL_NRT, newline="") as f:
        rows = list(csv.DictReader(f))
    inside = []
    for x in rows:
        lon, lat = float(x["longitude"]), float(x["latitude"])
        if region_wgs.contains(shapely.Point(lon, lat)):
            t = x["acq_time"].zfill(4)
            inside.append({
                "lon": lon, "lat": lat, "scan": float(x["scan"]), "track": float(x["track"]),
                "when": dt.datetime.fromisoformat(x["acq_date"]) + dt.timedelta(hours=int(t[:2]), minutes=int(t[2:])),
            })
    assert len(inside) > 100, len(inside)
    assert f"{len(rows)} detections read, {len(inside)} in the region, {len(rows) - len(inside)} outside" in r.stdout, r.stdout[-1500:]
    grid = ol.Grid(x0, y0, px, px, n, n)
    _check(store, inside, _states_n(forest, cloud), grid, "EPSG:32647", "real MODIS NRT (Riau)")


def _states_n(forest, cloud):
    s = np.where(forest, ol.FOREST, ol.NON_FOREST).astype(np.uint8)
    s[cloud] = ol.UNOBSERVED
    return s


def test_sample_fire(sample_store, sample_region_file):
    """The sample's hotspots (canopy synth: one fire of eight VIIRS detections in
    natural forest, one low-confidence detection, two outside the region, and
    three detections over the burned clearing eight days after the earlier epoch)."""
    with open(sample_region_file.parent / "fire" / "firms_viirs.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 14
    hs = ol.query(sample_store, "SELECT * FROM hotspots")
    assert len(hs) == 12, "two detections lie outside the communes"
    events = ol.query(sample_store, "SELECT * FROM fire_events")
    assert len(events) == 3
    fire = [e for e in events if e["alert"]]
    assert len(fire) == 1 and fire[0]["hotspots"] == 8 and fire[0]["severity"] == "high", events
    assert fire[0]["forest_ha"] >= 0.3
    low = [h for h in hs if h["confidence"] == "low"]
    assert len(low) == 1 and low[0]["alertable"] == 0
    alerts = ol.query(sample_store, "SELECT alert_id, severity FROM alerts WHERE kind = 'fire'")
    assert alerts == [{"alert_id": fire[0]["event_id"], "severity": "high"}]
    # Most of the fire's footprints are forest (the site was chosen ≥ 70 % forest).
    members = [h for h in hs if h["event_id"] == fire[0]["event_id"]]
    assert sum(h["forest_fraction"] for h in members) / len(members) > 0.5
    # The fire that burned the clearing: its event lies on the loss alert whose cause
    # is fire (dNBR), dated between that alert's epochs; no forest is left in its
    # footprints in the latest epoch, so it raises no alert of its own.
    rows_e, geoms_e, _ = ol.read_gpkg_layer(sample_store, "fire_events")
    rows_a, geoms_a, _ = ol.read_gpkg_layer(sample_store, "alerts")
    burned = [(r, g) for r, g in zip(rows_a, geoms_a) if r["kind"] == "loss" and r["cause"] == "fire"]
    assert len(burned) == 1, [r["alert_id"] for r, _ in burned]
    (ba, bg), = burned
    over = [(r, g) for r, g in zip(rows_e, geoms_e) if g.intersects(bg)]
    assert len(over) == 1, [r["event_id"] for r, _ in over]
    (ev, eg), = over
    assert not ev["alert"] and ev["hotspots"] == 3 and ev["forest_ha"] < 0.3, ev
    assert ba["from_date"] < ev["first_detection"][:10] <= ev["last_detection"][:10] < ba["to_date"], (ev, ba)
    # Its outline lies within the clearing (to a pixel's width, in degrees ~ 3e-4).
    assert eg.difference(bg.buffer(3e-4)).area < 1e-12
