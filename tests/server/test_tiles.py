"""Vector tiles (OGC API - Tiles, MVT; issues 19 and 14) on the sample store.

Tiles are decoded by an independent MVT reader (`mapbox-vector-tile`, PyPI) and compared
with the store's own features read by GDAL (`ogr2ogr` to GeoJSON), projected to Web
Mercator by PROJ (pyproj) and put in tile space by hand: which features a tile holds
(an STRtree query of the buffered tile, shapely), their attributes, and their outlines
within a fraction of a tile pixel. Then the protocol: limits (400/404), empty tiles
(204), ETag/304, gzip, the tileset and tile matrix set documents."""

from __future__ import annotations

import json
import math
import subprocess

import mapbox_vector_tile
import pytest
from pyproj import Transformer
from shapely import STRtree, affinity, box, hausdorff_distance
from shapely.geometry import shape
from shapely.ops import transform

EXTENT = 4096
BUFFER = 64  # tile units drawn beyond each edge
HALF = 20037508.342789244  # half the Web Mercator square, metres
TO_MERC = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)


def _features(store, layer):
    """The store's layer as GeoJSON features, read by GDAL."""
    out = subprocess.run(
        ["ogr2ogr", "-f", "GeoJSON", "/vsistdout/", str(store), layer],
        capture_output=True, text=True, check=True, timeout=300,
    ).stdout
    return json.loads(out)["features"]


def _tile_of(lon, lat, z):
    x, y = TO_MERC.transform(lon, lat)
    size = 2 * HALF / 2**z
    return int((x + HALF) // size), int((HALF - y) // size)


def _to_tile(geom_merc, z, col, row):
    """A Web Mercator geometry in the tile's space (EXTENT units, y down)."""
    size = 2 * HALF / 2**z
    left, top = -HALF + col * size, HALF - row * size
    k = EXTENT / size
    return affinity.affine_transform(geom_merc, [k, 0, 0, -k, -left * k, top * k])


def _decode(body):
    tile = mapbox_vector_tile.decode(body, default_options={"y_coord_down": True})
    return tile


@pytest.fixture(scope="module")
def plots(sample_store):
    feats = _features(sample_store, "parcels")
    assert len(feats) > 1000, "the sample has a few thousand plots"
    merc = [transform(TO_MERC.transform, shape(f["geometry"])) for f in feats]
    return feats, merc, STRtree(merc)


def _check_tile(server, feats, merc, tree, z, col, row, layer="parcels", key="parcel_id"):
    r = server.get(f"/collections/{layer}/tiles/WebMercatorQuad/{z}/{row}/{col}", params={"f": "mvt"})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/vnd.mapbox-vector-tile"
    assert r.headers.get("ETag")
    tile = _decode(r.content)
    assert list(tile) == [layer]
    got = {f["properties"]["id"]: f for f in tile[layer]["features"]}
    assert tile[layer]["extent"] == EXTENT
    # Which features: the independent R-tree's candidates for the buffered tile, kept
    # when their part inside it is more than a sliver (2 tile units²).
    size = 2 * HALF / 2**z
    left, top = -HALF + col * size, HALF - row * size
    pad = BUFFER * size / EXTENT
    buffered = box(left - pad, top - size - pad, left + size + pad, top + pad)
    cand = tree.query(buffered, predicate="intersects")
    ids = {feats[i]["properties"][key] for i in cand}
    clear = {
        feats[i]["properties"][key]
        for i in cand
        if _to_tile(merc[i].intersection(buffered), z, col, row).area > 2.0
    }
    assert clear <= set(got) <= ids, (sorted(clear - set(got))[:5], sorted(set(got) - ids)[:5])
    # Outlines within a quarter of a screen pixel (4 units of 4096), compared inside
    # the buffered square the tile is cut to: cutting both at the tile's own edge
    # instead would move where a nearly parallel edge crosses it by many units for
    # a rounding of half a unit, and measure that rather than the outline.
    inner = box(-BUFFER, -BUFFER, EXTENT + BUFFER, EXTENT + BUFFER)
    by_id = {feats[i]["properties"][key]: i for i in cand}
    worst = 0.0
    for fid, f in got.items():
        i = by_id[fid]
        want = _to_tile(merc[i], z, col, row).intersection(inner)
        have = shape(f["geometry"]).buffer(0).intersection(inner)
        if want.area < 50:  # slivers along the edge: compared by membership above
            continue
        worst = max(worst, hausdorff_distance(want, have))
        assert abs(have.area - want.area) <= 2.0 * want.length + 4.0, (fid, have.area, want.area)
        props = feats[i]["properties"]
        for k in ("owner", "function", "owner_category", "commune_code") if layer == "parcels" else ("name", "code"):
            assert f["properties"][k] == props[k], (fid, k)
        for k in ("area_ha", "forest_ha", "cover_pct", "loss_ha") if layer == "parcels" else ("forest_ha",):
            if props.get(k) is not None:
                assert f["properties"][k] == pytest.approx(props[k], rel=1e-12), (fid, k)
    assert worst <= 4.0, f"outline off by {worst:.2f} tile units"
    return got


def test_plot_tiles_match_the_store(server, plots):
    feats, merc, tree = plots
    # The largest plot's tiles at z14 (a few hundred plots) and z16, and a z12 tile
    # (the shallowest served: thousands of plots, many clipped).
    big = max(range(len(feats)), key=lambda i: feats[i]["properties"]["area_ha"])
    p = shape(feats[big]["geometry"]).representative_point()
    total = 0
    for z in (12, 14, 16):
        col, row = _tile_of(p.x, p.y, z)
        got = _check_tile(server, feats, merc, tree, z, col, row)
        assert feats[big]["properties"]["parcel_id"] in got
        total += len(got)
    assert total > 50


def test_commune_tiles_match_the_store(server, sample_store):
    feats = _features(sample_store, "communes")
    merc = [transform(TO_MERC.transform, shape(f["geometry"])) for f in feats]
    tree = STRtree(merc)
    c = shape(feats[0]["geometry"]).representative_point()
    col, row = _tile_of(c.x, c.y, 10)
    got = _check_tile(server, feats, merc, tree, 10, col, row, layer="communes", key="code")
    assert feats[0]["properties"]["code"] in got


def test_tile_protocol(server, sample_store, plots):
    feats, _, _ = plots
    p = shape(feats[0]["geometry"]).representative_point()
    col, row = _tile_of(p.x, p.y, 14)
    url = f"/collections/parcels/tiles/WebMercatorQuad/14/{row}/{col}"
    r = server.get(url, headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers.get("Content-Encoding") == "gzip"
    again = server.get(url, headers={"If-None-Match": r.headers["ETag"], "Accept-Encoding": "gzip"})
    assert again.status_code == 304 and again.content == b""
    # Errors: a JSON exception naming what is wrong.
    for path, status, words in [
        ("/collections/parcels/tiles/WebMercatorQuad/23/0/0", 400, "0 to 22"),
        ("/collections/parcels/tiles/WebMercatorQuad/x/0/0", 400, "tileMatrix=x"),
        (f"/collections/parcels/tiles/WebMercatorQuad/14/{row}/-1", 400, "tileCol=-1"),
        (f"/collections/parcels/tiles/WebMercatorQuad/14/{2**14}/{col}", 404, "outside tile matrix 14"),
        ("/collections/parcels/tiles/WebMercatorQuad/11/0/0", 404, "start at tile matrix 12"),
        ("/collections/parcels/tiles/WorldCRS84Quad/14/0/0", 404, "WebMercatorQuad"),
        ("/collections/alerts/tiles/WebMercatorQuad/14/0/0", 404, "communes, zones, parcels"),
        (f"{url}?f=json", 400, "mvt"),
        (f"{url}?limit=3", 400, "limit"),
    ]:
        e = server.get(path)
        assert e.status_code == status, (path, e.status_code, e.text)
        assert words in e.json()["description"], (path, e.json())
    # A tile in the ocean: no content, as OGC API - Tiles allows.
    assert server.get("/collections/parcels/tiles/WebMercatorQuad/14/0/0").status_code == 204
    # The tileset: the plots' count and limits that hold the tile above.
    ts = server.get("/collections/parcels/tiles").json()["tilesets"][0]
    assert ts["layers"][0]["featureCount"] == len(feats)
    assert ts["tileMatrixSetURI"].endswith("/WebMercatorQuad")
    lim = next(l for l in ts["tileMatrixSetLimits"] if l["tileMatrix"] == "14")
    assert lim["minTileRow"] <= row <= lim["maxTileRow"] and lim["minTileCol"] <= col <= lim["maxTileCol"]
    assert [l["tileMatrix"] for l in ts["tileMatrixSetLimits"]][0] == "12"
    item = next(l for l in ts["links"] if l["rel"] == "item")
    assert item["href"].endswith("/collections/parcels/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}?f=mvt")
    tms = server.get("/tileMatrixSets/WebMercatorQuad").json()
    m = tms["tileMatrices"]
    assert len(m) == 23 and m[0]["matrixWidth"] == 1 and m[22]["matrixWidth"] == 2**22
    # cell size at zoom 0: the equator's length over 256 pixels
    assert m[0]["cellSize"] == pytest.approx(2 * math.pi * 6378137 / 256, rel=1e-12)
    assert m[0]["pointOfOrigin"] == pytest.approx([-HALF, HALF])
