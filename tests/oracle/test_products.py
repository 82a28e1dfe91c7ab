"""Satellite products as distributed (issue 13, part A): STAC Items, a Sentinel-2 L2A
SAFE (folder and .zip) and a Landsat Collection 2 Level-2 scene, each read by `canopy run`
and checked against numpy/rasterio on the same pixels (the mask at 20 m brought to 10 m
by index arithmetic, the scaling from the product's own metadata), plus bad input.

The STAC series is the real Sentinel-2 NDVI of data/timeseries/slovenia_s2_stac (copied
from ../shared with its provenance, see its README).
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import oracle_lib as ol
import pytest
import rasterio

SERIES = ol.REPO / "data" / "timeseries" / "slovenia_s2_stac"
COMMUNES = ol.REPO / "data" / "regions" / "slovenia" / "communes.geojson"
NDVI_MIN = 0.55
SCL_INVALID = {0, 1, 3, 8, 9, 10, 11}

pytestmark = pytest.mark.skipif(not SERIES.is_dir(), reason=f"{SERIES} is absent")


def _region(d: Path, epochs: list[tuple[str, list[str], str]]) -> Path:
    shutil.copy(COMMUNES, d / "communes.geojson")
    text = textwrap.dedent(
        f"""\
        name = "Slovenia products"
        area_crs = "EPSG:32633"
        [communes]
        path = "communes.geojson"
        code_field = "code"
        name_field = "name"
        [forest]
        ndvi_min = {NDVI_MIN}
        """
    )
    for eid, tiles, extra in epochs:
        tl = ", ".join(f'"{t}"' for t in tiles)
        text += f'\n[[epochs]]\nid = "{eid}"\ndate = "{eid[:10]}"\ntiles = [{tl}]\n{extra}\n'
    f = d / "region.toml"
    f.write_text(text)
    return f


def _run(region: Path) -> Path:
    store = region.parent / "out.gpkg"
    ol.run_canopy("run", region, "--store", store)
    return store


def _fail(region: Path) -> str:
    store = region.parent / "out.gpkg"
    r = subprocess.run([str(ol.ensure_binary()), "run", str(region), "--store", str(store)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode != 0, f"expected a failure, got success:\n{r.stdout}"
    assert "panicked" not in r.stderr, r.stderr
    assert not store.exists(), "a store was written despite the error"
    return r.stderr


def _read(p: Path) -> tuple[np.ndarray, rasterio.Affine]:
    with rasterio.open(p) as ds:
        return ds.read(1), ds.transform


def _expect(ndvi: np.ndarray, observed: np.ndarray, t) -> dict[str, float]:
    """Province and half-patch figures (ha): the communes are the west/east halves."""
    px = abs(t.a * t.e) / 10_000.0
    forest = observed & (ndvi >= NDVI_MIN)
    h, w = ndvi.shape
    out = {"province": (forest.sum() * px, observed.sum() * px)}
    out["W"] = (forest[:, : w // 2].sum() * px, observed[:, : w // 2].sum() * px)
    out["E"] = (forest[:, w // 2 :].sum() * px, observed[:, w // 2 :].sum() * px)
    return out


def _ndvi(red_refl, nir_refl) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        s = red_refl + nir_refl
        return np.where(s > 0, (nir_refl - red_refl) / s, np.nan)


def _stac_oracle(date: str) -> dict[str, float]:
    red, t = _read(SERIES / date / "red.tif")
    nir, _ = _read(SERIES / date / "nir.tif")
    scl, _ = _read(SERIES / date / "scl.tif")
    h, w = red.shape
    # 20 m SCL over the 10 m grid (same origin, pixel size exactly twice): pixel (r, c)
    # lies in SCL pixel (r // 2, c // 2).
    scl10 = scl[np.arange(h)[:, None] // 2, np.arange(w)[None, :] // 2]
    ndvi = _ndvi(red * 1e-4 - 0.1, nir * 1e-4 - 0.1)
    observed = ~np.isin(scl10, list(SCL_INVALID)) & (red != 0) & (nir != 0) & ~np.isnan(ndvi)
    return _expect(ndvi, observed, t)


def _check(store: Path, epoch: str, want: dict[str, float]):
    """Equal up to float rounding of the area sums (1e-7 relative: one pixel is 1e-4 of the patch)."""
    prov = ol.read_province(store)[epoch]
    cover = ol.read_cover(store)
    got = {"province": (prov["forest_ha"], prov["observed_ha"])}
    for c in ("W", "E"):
        got[c] = (cover[(c, epoch)]["forest_ha"], cover[(c, epoch)]["observed_ha"])
    for k, (f, o) in want.items():
        assert got[k][0] == pytest.approx(f, rel=1e-7, abs=1e-9), f"{epoch} {k} forest: {got[k]} vs {(f, o)}"
        assert got[k][1] == pytest.approx(o, rel=1e-7, abs=1e-9), f"{epoch} {k} observed: {got[k]} vs {(f, o)}"


# Clear summer, partly cloudy spring (SCL 9 over half the patch), a leaf-off winter date.
STAC_DATES = ["2015-07-11", "2016-03-17", "2016-06-25", "2016-01-07"]


def test_stac_items_match_numpy(tmp_path):
    region = _region(tmp_path, [(d, [str(SERIES / f"{d}.json")], "") for d in sorted(STAC_DATES)])
    store = _run(region)
    partly = 0
    for d in STAC_DATES:
        want = _stac_oracle(d)
        _check(store, d, want)
        if 0 < want["province"][1] < 100:
            partly += 1
    assert partly >= 2, "the cloudy dates must exercise the 20 m mask"
    dates = {r["id"]: r for r in ol.read_epochs(store)}
    assert set(dates) == set(STAC_DATES)


def test_stac_planetary_computer_names_and_scl_override(tmp_path):
    """Assets keyed B04/B08/SCL (Planetary Computer), `format = "stac"` forced on a
    file without the .json suffix, and `scl_invalid` replacing the default classes."""
    d = "2016-03-17"
    item = (SERIES / f"{d}.json").read_text()
    import json

    j = json.loads(item)
    a = j["assets"]
    j["assets"] = {"B04": a["red"], "B08": a["nir"], "SCL": a["scl"]}
    for v in j["assets"].values():
        v["href"] = str(SERIES / v["href"])
        v.pop("eo:bands", None)
    (tmp_path / "item.stac").write_text(json.dumps(j))
    region = _region(tmp_path, [(d, ["item.stac"], 'format = "stac"\nscl_invalid = [0]')])
    store = _run(region)
    red, t = _read(SERIES / d / "red.tif")
    nir, _ = _read(SERIES / d / "nir.tif")
    ndvi = _ndvi(red * 1e-4 - 0.1, nir * 1e-4 - 0.1)
    # Only class 0 is invalid now: the clouds (SCL 9) count as observed.
    _check(store, d, _expect(ndvi, ~np.isnan(ndvi), t))


# --------------------------------------------------------------------------- SAFE

SAFE_NAME = "S2A_MSIL2A_20160317T100032_N{bl}_R122_T33TVM_20160317T100034.SAFE"


def _mtd(baseline: str, offsets: bool) -> str:
    offs = ""
    if offsets:
        offs = "<BOA_ADD_OFFSET_VALUES_LIST>" + "".join(
            f'<BOA_ADD_OFFSET band_id="{i}">-1000</BOA_ADD_OFFSET>' for i in range(13)
        ) + "</BOA_ADD_OFFSET_VALUES_LIST>"
    return textwrap.dedent(
        f"""\
        <?xml version="1.0" encoding="UTF-8"?>
        <n1:Level-2A_User_Product xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-2A.xsd">
          <n1:General_Info>
            <Product_Info>
              <PRODUCT_START_TIME>2016-03-17T10:00:32.026Z</PRODUCT_START_TIME>
              <PRODUCT_STOP_TIME>2016-03-17T10:00:32.026Z</PRODUCT_STOP_TIME>
              <PRODUCT_TYPE>S2MSI2A</PRODUCT_TYPE>
              <PROCESSING_LEVEL>Level-2A</PROCESSING_LEVEL>
              <PROCESSING_BASELINE>{baseline}</PROCESSING_BASELINE>
              <Datatake datatakeIdentifier="GS2A_20160317T100032_003839_N{baseline}">
                <SPACECRAFT_NAME>Sentinel-2A</SPACECRAFT_NAME>
                <DATATAKE_SENSING_START>2016-03-17T10:00:32.026Z</DATATAKE_SENSING_START>
              </Datatake>
            </Product_Info>
            <Product_Image_Characteristics>
              <QUANTIFICATION_VALUES_LIST>
                <BOA_QUANTIFICATION_VALUE unit="none">10000</BOA_QUANTIFICATION_VALUE>
              </QUANTIFICATION_VALUES_LIST>
              {offs}
            </Product_Image_Characteristics>
          </n1:General_Info>
        </n1:Level-2A_User_Product>
        """
    )


def _jp2(src: Path, dst: Path):
    dst.parent.mkdir(parents=True, exist_ok=True)
    ol.gdal_tool("gdal_translate", "-q", "-of", "JP2OpenJPEG", "-co", "REVERSIBLE=YES", "-co", "QUALITY=100",
                 src, dst)


def _build_safe(root: Path, date: str, baseline: str, offsets: bool, scl: bool = True) -> Path:
    safe = root / SAFE_NAME.format(bl=baseline.replace(".", ""))
    gran = safe / "GRANULE" / "L2A_T33TVM_A003839_20160317T100034" / "IMG_DATA"
    stem = "T33TVM_20160317T100032"
    _jp2(SERIES / date / "red.tif", gran / "R10m" / f"{stem}_B04_10m.jp2")
    _jp2(SERIES / date / "nir.tif", gran / "R10m" / f"{stem}_B08_10m.jp2")
    if scl:
        _jp2(SERIES / date / "scl.tif", gran / "R20m" / f"{stem}_SCL_20m.jp2")
    (safe / "MTD_MSIL2A.xml").write_text(_mtd(baseline, offsets))
    return safe


def _zip(folder: Path) -> Path:
    z = folder.with_suffix(".zip")
    with zipfile.ZipFile(z, "w", zipfile.ZIP_STORED) as zf:
        for p in sorted(folder.rglob("*")):
            zf.write(p, p.relative_to(folder.parent))
    return z


def test_safe_folder_and_zip(tmp_path):
    """A baseline 04.00 SAFE of the 2016-03-17 scene (−1000 offset) as a folder and as
    a zip gives the figures of the STAC item; a baseline 02.04 SAFE of the same DN
    (no offset) gives those of DN / 10 000, a different answer."""
    d = "2016-03-17"
    src = tmp_path / "src"
    new = _build_safe(src, d, "04.00", offsets=True)
    old = _build_safe(src, d, "02.04", offsets=False)
    z = _zip(new)
    region = _region(tmp_path, [
        ("2016-03-17", [str(new)], ""),
        ("2016-03-17-zip", [str(z)], ""),
        ("2016-03-17-old", [str(old)], 'format = "sentinel2-safe"'),
    ])
    store = _run(region)
    want = _stac_oracle(d)
    _check(store, "2016-03-17", want)
    _check(store, "2016-03-17-zip", want)
    red, t = _read(SERIES / d / "red.tif")
    nir, _ = _read(SERIES / d / "nir.tif")
    scl, _ = _read(SERIES / d / "scl.tif")
    h, w = red.shape
    scl10 = scl[np.arange(h)[:, None] // 2, np.arange(w)[None, :] // 2]
    ndvi = _ndvi(red * 1e-4, nir * 1e-4)
    want_old = _expect(ndvi, ~np.isin(scl10, list(SCL_INVALID)) & ~np.isnan(ndvi), t)
    _check(store, "2016-03-17-old", want_old)
    assert want_old["province"][0] != pytest.approx(want["province"][0], rel=1e-3)
    ep = {r["id"]: r for r in ol.read_epochs(store)}
    assert len(ep) == 3


# --------------------------------------------------------------------------- Landsat

LS_ID = "LC08_L2SP_190028_20160804_20200906_02_T1"
CLEAR, WATER = 21824, 21952  # QA_PIXEL of clear land / clear water (Collection 2)


def _build_landsat(root: Path, mtl: bool = True) -> tuple[Path, dict]:
    d = "2016-08-04"
    scene = root / LS_ID
    scene.mkdir(parents=True)
    red, t = _read(SERIES / d / "red.tif")
    nir, _ = _read(SERIES / d / "nir.tif")
    h, w = red.shape
    # Landsat DN for the same reflectance: DN = (refl + 0.2) / 2.75e-5, rounded.
    def dn(v):
        return np.round((v * 1e-4 - 0.1 + 0.2) / 2.75e-5).astype(np.uint16)
    sr4, sr5 = dn(red), dn(nir)
    qa = np.full((h, w), CLEAR, np.uint16)
    rr, cc = np.mgrid[0:h, 0:w]
    qa[(rr < 20) & (cc < 30)] = CLEAR | (1 << 3) | (1 << 1)  # cloud + dilated
    qa[(rr >= 20) & (rr < 30) & (cc < 30)] = CLEAR | (1 << 4)  # cloud shadow
    qa[(rr >= 30) & (rr < 35)] = CLEAR | (1 << 2)  # cirrus
    qa[(rr >= 60) & (rr < 64) & (cc >= 60)] = CLEAR | (1 << 5)  # snow
    qa[(rr >= 40) & (rr < 50) & (cc >= 70)] = WATER  # water: observed
    fill = (rr >= 95) & (cc >= 90)
    qa[fill], sr4[fill], sr5[fill] = 1, 0, 0
    prof = dict(driver="GTiff", height=h, width=w, count=1, dtype="uint16", crs="EPSG:32633", transform=t)
    for name, a in (("SR_B4", sr4), ("SR_B5", sr5), ("QA_PIXEL", qa), ("SR_B2", sr4)):
        with rasterio.open(scene / f"{LS_ID}_{name}.TIF", "w", **prof) as ds:
            ds.write(a, 1)
    if mtl:
        (scene / f"{LS_ID}_MTL.txt").write_text(textwrap.dedent(f"""\
            GROUP = LANDSAT_METADATA_FILE
              GROUP = PRODUCT_CONTENTS
                LANDSAT_PRODUCT_ID = "{LS_ID}"
                PROCESSING_LEVEL = "L2SP"
                FILE_NAME_BAND_4 = "{LS_ID}_SR_B4.TIF"
                FILE_NAME_BAND_5 = "{LS_ID}_SR_B5.TIF"
                FILE_NAME_QUALITY_L1_PIXEL = "{LS_ID}_QA_PIXEL.TIF"
              END_GROUP = PRODUCT_CONTENTS
              GROUP = IMAGE_ATTRIBUTES
                SPACECRAFT_ID = "LANDSAT_8"
                DATE_ACQUIRED = 2016-08-04
              END_GROUP = IMAGE_ATTRIBUTES
              GROUP = LEVEL2_SURFACE_REFLECTANCE_PARAMETERS
                REFLECTANCE_MULT_BAND_4 = 2.75E-05
                REFLECTANCE_ADD_BAND_4 = -0.200000
                REFLECTANCE_MULT_BAND_5 = 2.75E-05
                REFLECTANCE_ADD_BAND_5 = -0.200000
              END_GROUP = LEVEL2_SURFACE_REFLECTANCE_PARAMETERS
            END_GROUP = LANDSAT_METADATA_FILE
            END
            """))
    ndvi = _ndvi(sr4 * 2.75e-5 - 0.2, sr5 * 2.75e-5 - 0.2)
    observed = (qa & 0b111111) == 0
    observed &= (sr4 != 0) & (sr5 != 0) & ~np.isnan(ndvi)
    return scene, _expect(ndvi, observed, t)


def test_landsat_c2_l2_scene(tmp_path):
    scene, want = _build_landsat(tmp_path / "src")
    mtl = scene / f"{LS_ID}_MTL.txt"
    region = _region(tmp_path, [("2016-08-04", [str(scene)], ""), ("2016-08-04-mtl", [str(mtl)], "")])
    store = _run(region)
    _check(store, "2016-08-04", want)
    _check(store, "2016-08-04-mtl", want)
    # The mask did something: 30x20 cloud, 30x10 shadow, 100x5 cirrus, 40x4 snow, 10x6 fill.
    px = 9.99479222007154 * 9.997448467363668 / 1e4
    assert want["province"][1] == pytest.approx((100 * 101 - 600 - 300 - 500 - 160 - 60) * px)


# --------------------------------------------------------------------------- bad input


def test_bad_products_are_named(tmp_path):
    import json

    j = json.loads((SERIES / "2015-07-11.json").read_text())
    no_nir = dict(j, assets={k: v for k, v in j["assets"].items() if k != "nir"})
    for v in no_nir["assets"].values():
        v["href"] = str(SERIES / v["href"])
    (tmp_path / "no_nir.json").write_text(json.dumps(no_nir))
    err = _fail(_region(tmp_path, [("2015-07-11", ["no_nir.json"], "")]))
    assert "no_nir.json" in err and "NIR" in err, err

    (tmp_path / "missing_href.json").write_text((SERIES / "2015-07-11.json").read_text())
    err = _fail(_region(tmp_path, [("2015-07-11", ["missing_href.json"], "")]))
    assert "missing_href.json" in err and "2015-07-11/red.tif" in err and "does not exist" in err, err

    no_scl = _build_safe(tmp_path / "safe", "2015-07-11", "04.00", True, scl=False)
    err = _fail(_region(tmp_path, [("2015-07-11", [str(no_scl)], "")]))
    assert no_scl.name in err and "SCL" in err, err

    scene, _ = _build_landsat(tmp_path / "ls", mtl=False)
    err = _fail(_region(tmp_path, [("2016-08-04", [str(scene)], "")]))
    assert LS_ID in err and "MTL" in err, err

    # Epochs listed newest first: their scenes' dates say so.
    err = _fail(_region(tmp_path, [
        ("2015-01-01", [str(SERIES / "2016-08-04.json")], ""),
        ("2015-01-02", [str(SERIES / "2015-07-11.json")], ""),
    ]))
    assert "out of order" in err and "2015-07-11.json" in err, err

    err = _fail(_region(tmp_path, [("2015-07-11", [str(SERIES / "2015-07-11.json")], 'format = "landsat"')]))
    assert "format" in err and "landsat-c2-l2" in err, err


# --------------------------------------------------------------------------- SWIR2 (burned area)

BURN = (slice(60, 90), slice(10, 40))  # rows, cols of the burned patch (10 m pixels)


def _swir_refl(nir_refl: np.ndarray, burned: bool) -> np.ndarray:
    """SWIR2 reflectance of the fixtures: 0.2 × NIR (NBR 0.667), 1.5 × NIR on the
    burned patch of the later scene (NBR −0.2)."""
    s = 0.2 * nir_refl
    if burned:
        s[BURN] = 1.5 * nir_refl[BURN]
    return s


def _burned_oracle(nir_a, nir_b, swir_a, swir_b, obs_a, obs_b, forest_a, t) -> tuple[float, float]:
    """(burned ha, forest without dNBR ha) of the province, by numpy."""
    with np.errstate(divide="ignore", invalid="ignore"):
        nbr_a = ((nir_a - swir_a) / (nir_a + swir_a)).astype(np.float32)
        nbr_b = ((nir_b - swir_b) / (nir_b + swir_b)).astype(np.float32)
    nbr_a[~obs_a], nbr_b[~obs_b] = np.nan, np.nan
    d = np.round((nbr_a.astype(np.float64) - nbr_b.astype(np.float64)) * 1000.0)
    px = abs(t.a * t.e) / 10_000.0
    burned = forest_a & ~np.isnan(d) & (d >= 100)
    return burned.sum() * px, (forest_a & np.isnan(d)).sum() * px


def _province_burned(store: Path) -> tuple[float, float]:
    rows = ol.query(store, "SELECT burned_ha, no_dnbr_ha FROM burned_area WHERE unit = 'province'")
    assert len(rows) == 1, rows
    return rows[0]["burned_ha"], rows[0]["no_dnbr_ha"]


def test_swir_from_landsat_sr_b7(tmp_path):
    """Two Landsat C2 L2 scenes with SR_B7 (scaled by the MTL's band-7 factors): the
    later one burned on a 30 × 30 px patch; the burned ha is numpy's."""
    scenes = []
    for k, (date, burned) in enumerate((("2016-08-04", False), ("2016-08-20", True))):
        scene, _ = _build_landsat(tmp_path / f"src{k}")
        mtl = scene / f"{LS_ID}_MTL.txt"
        text = mtl.read_text().replace("2016-08-04", date)
        text = text.replace(
            '    FILE_NAME_QUALITY_L1_PIXEL', f'    FILE_NAME_BAND_7 = "{LS_ID}_SR_B7.TIF"\n    FILE_NAME_QUALITY_L1_PIXEL'
        ).replace(
            "REFLECTANCE_ADD_BAND_5 = -0.200000",
            "REFLECTANCE_ADD_BAND_5 = -0.200000\n    REFLECTANCE_MULT_BAND_7 = 2.75E-05\n    REFLECTANCE_ADD_BAND_7 = -0.200000",
        )
        mtl.write_text(text)
        with rasterio.open(scene / f"{LS_ID}_SR_B5.TIF") as ds:
            sr5, prof = ds.read(1), ds.profile
        nir = sr5 * 2.75e-5 - 0.2
        sr7 = np.round((_swir_refl(nir, burned) + 0.2) / 2.75e-5).astype(np.uint16)
        sr7[sr5 == 0] = 0
        with rasterio.open(scene / f"{LS_ID}_SR_B7.TIF", "w", **prof) as ds:
            ds.write(sr7, 1)
        scenes.append((scene, sr5, sr7))
    region = _region(tmp_path, [("2016-08-04", [str(scenes[0][0])], ""), ("2016-08-20", [str(scenes[1][0])], "")])
    store = _run(region)
    with rasterio.open(scenes[0][0] / f"{LS_ID}_QA_PIXEL.TIF") as ds:
        qa, t = ds.read(1), ds.transform
    with rasterio.open(scenes[0][0] / f"{LS_ID}_SR_B4.TIF") as ds:
        sr4 = ds.read(1)
    refl = lambda a: a * 2.75e-5 - 0.2  # noqa: E731
    obs = ((qa & 0b111111) == 0) & (sr4 != 0) & (scenes[0][1] != 0)
    ndvi = _ndvi(refl(sr4), refl(scenes[0][1]))
    forest = obs & (ndvi >= NDVI_MIN)
    want = _burned_oracle(
        refl(scenes[0][1]), refl(scenes[1][1]), refl(scenes[0][2]), refl(scenes[1][2]), obs, obs, forest, t
    )
    assert want[0] > 1.0, "the patch must burn some forest"
    got = _province_burned(store)
    assert got[0] == pytest.approx(want[0], rel=1e-7), (got, want)
    assert got[1] == pytest.approx(want[1], rel=1e-7, abs=1e-9), (got, want)


def test_swir_from_stac_swir22_and_safe_b12(tmp_path):
    """A STAC item (2015-07-11) with a `swir22` asset, then a SAFE (2016-03-17) with
    a 20 m B12 burned on a patch: B12 resampled to 10 m by nearest neighbour like
    SCL; burned ha and forest without dNBR (the SAFE's clouds) are numpy's."""
    import json

    d0, d1 = "2015-07-11", "2016-03-17"
    src = tmp_path / "src"
    src.mkdir()
    # STAC: swir22 at 10 m beside the item (hrefs resolved against the item).
    nir0, t = _read(SERIES / d0 / "nir.tif")
    with rasterio.open(SERIES / d0 / "nir.tif") as ds:
        prof = ds.profile
    swir0 = _swir_refl(nir0 * 1e-4 - 0.1, False)
    dn0 = np.round((swir0 + 0.1) * 1e4).astype(np.uint16)
    dn0[nir0 == 0] = 0
    item = json.loads((SERIES / f"{d0}.json").read_text())
    for k, a in item["assets"].items():
        a["href"] = str(SERIES / a["href"])
    with rasterio.open(src / "swir22.tif", "w", **prof) as ds:
        ds.write(dn0, 1)
    item["assets"]["swir22"] = dict(item["assets"]["nir"], href=str(src / "swir22.tif"))
    item["assets"]["swir22"]["eo:bands"] = [{"name": "B12", "common_name": "swir22"}]
    (src / f"{d0}.json").write_text(json.dumps(item))
    # SAFE: B12 at 20 m from every other NIR pixel, burned on the patch.
    safe = _build_safe(src, d1, "04.00", offsets=True)
    nir1, _ = _read(SERIES / d1 / "nir.tif")
    h, w = nir1.shape
    nir20 = nir1[::2, ::2] * 1e-4 - 0.1
    s20 = 0.2 * nir20
    rr, cc = np.mgrid[0 : nir20.shape[0], 0 : nir20.shape[1]]
    patch20 = (rr * 2 >= BURN[0].start) & (rr * 2 < BURN[0].stop) & (cc * 2 >= BURN[1].start) & (cc * 2 < BURN[1].stop)
    s20[patch20] = 1.5 * nir20[patch20]
    b12 = np.round((s20 + 0.1) * 1e4).astype(np.uint16)
    b12[nir1[::2, ::2] == 0] = 0
    t20 = rasterio.Affine(t.a * 2, 0, t.c, 0, t.e * 2, t.f)
    p20 = dict(prof, height=b12.shape[0], width=b12.shape[1], transform=t20)
    tif = src / "b12.tif"
    with rasterio.open(tif, "w", **p20) as ds:
        ds.write(b12, 1)
    gran = next((safe / "GRANULE").iterdir()) / "IMG_DATA" / "R20m"
    _jp2(tif, gran / "T33TVM_20160317T100032_B12_20m.jp2")
    region = _region(tmp_path, [(d0, [str(src / f"{d0}.json")], ""), (d1, [str(safe)], "")])
    store = _run(region)
    # Oracle: 2015-07-11 forest and NBR (10 m SWIR), 2016-03-17 NBR (B12 at r//2, c//2, its SCL).
    red0, _ = _read(SERIES / d0 / "red.tif")
    scl0, _ = _read(SERIES / d0 / "scl.tif")
    red1, _ = _read(SERIES / d1 / "red.tif")
    scl1, _ = _read(SERIES / d1 / "scl.tif")
    up = lambda a: a[np.arange(h)[:, None] // 2, np.arange(w)[None, :] // 2]  # noqa: E731
    ndvi0 = _ndvi(red0 * 1e-4 - 0.1, nir0 * 1e-4 - 0.1)
    obs0 = ~np.isin(up(scl0), list(SCL_INVALID)) & (red0 != 0) & (nir0 != 0) & ~np.isnan(ndvi0)
    ndvi1 = _ndvi(red1 * 1e-4 - 0.1, nir1 * 1e-4 - 0.1)
    obs1 = ~np.isin(up(scl1), list(SCL_INVALID)) & (red1 != 0) & (nir1 != 0) & ~np.isnan(ndvi1)
    forest = obs0 & (ndvi0 >= NDVI_MIN)
    sw1 = up(b12) * 1e-4 - 0.1
    obs1 &= up(b12) != 0
    want = _burned_oracle(nir0 * 1e-4 - 0.1, nir1 * 1e-4 - 0.1, dn0 * 1e-4 - 0.1, sw1, obs0 & (dn0 != 0), obs1, forest, t)
    assert want[0] > 1.0 and want[1] > 1.0, f"the patch must burn forest and the clouds hide some: {want}"
    got = _province_burned(store)
    assert got[0] == pytest.approx(want[0], rel=1e-7), (got, want)
    assert got[1] == pytest.approx(want[1], rel=1e-7, abs=1e-9), (got, want)
