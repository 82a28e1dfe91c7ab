"""Fixtures of the oracle tests (see oracle_lib.py for the oracle itself)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))

import oracle_lib as ol  # noqa: E402


@pytest.fixture(scope="session")
def canopy_bin() -> Path:
    return ol.ensure_binary()


@pytest.fixture(scope="session")
def sample_region_file(canopy_bin) -> Path:
    """The Lạng Sơn sample region, its imagery generated once (as scripts/demo.sh)."""
    f = ol.ensure_sample(ol.SAMPLE_DIR)
    assert f.exists(), f"{f} is missing after `canopy synth`"
    return f


@pytest.fixture(scope="session")
def sample_store(sample_region_file, tmp_path_factory) -> Path:
    """A fresh store of the sample region written by `canopy run`: a copy of
    CANOPY_TEST_STORE (the one run of the sample scripts/test.sh makes), or a run of its own."""
    store = tmp_path_factory.mktemp("sample_store") / "lang-son.gpkg"
    pristine = os.environ.get("CANOPY_TEST_STORE")
    if pristine:
        shutil.copy(pristine, store)
    else:
        ol.run_canopy("run", sample_region_file, "--store", store)
    return store


@pytest.fixture(scope="session")
def sample_oracle(sample_region_file, tmp_path_factory) -> dict:
    """Everything the oracle expects for the sample region, computed without Canopy:
    natural areas, and per epoch the composite and the exact zonal sums of every
    commune and of the province (the union of the communes)."""
    region = ol.load_region(sample_region_file)
    communes, layer_crs = ol.read_communes(region)
    union = shapely.union_all([c.geom for c in communes])
    workdir = tmp_path_factory.mktemp("sample_oracle")
    out = {
        "region": region,
        "communes": communes,
        "layer_crs": layer_crs,
        "natural_ha": {c.code: ol.planar_area_ha(c.geom, layer_crs, region.area_crs) for c in communes},
        "province_natural_ha": ol.planar_area_ha(union, layer_crs, region.area_crs),
        "epochs": {},
        "zone_pieces": {},
        "parcels": {},
    }
    if ol.has_parcels(sample_region_file):
        plots, plots_crs = ol.read_parcels(sample_region_file)
        to_area = ol.transformer(plots_crs, region.area_crs)
        out["parcels"] = {pid: dict(p, geom_area=ol.transform_geom(p["geom"], to_area)) for pid, p in plots.items()}
    if ol.has_zones(sample_region_file):
        out["zone_pieces"] = ol.zone_pieces(sample_region_file, communes, layer_crs, region.area_crs)
    # The working grid is cut to the communes' bounding box (that of their union).
    bbox = shapely.bounds(shapely.GeometryCollection([c.geom for c in communes])).tolist()
    for epoch in region.epochs:
        plan, states = ol.composite(region, epoch, bbox, layer_crs, workdir / epoch.id)
        to_work = ol.transformer(layer_crs, plan.crs)
        polys = {c.code: ol.transform_geom(c.geom, to_work) for c in communes}
        polys[ol.PROVINCE_KEY] = ol.transform_geom(union, to_work)
        area_to_work = ol.transformer(region.area_crs, plan.crs)
        for pid, piece in out["zone_pieces"].items():
            polys["zone:" + pid] = ol.transform_geom(piece["geom"], area_to_work)
        for pid, plot in out["parcels"].items():
            polys["parcel:" + pid] = ol.transform_geom(plot["geom_area"], area_to_work)
        out["epochs"][epoch.id] = {
            "plan": plan,
            "sums": ol.exact_sums(states, plan.grid, plan.crs.to_wkt(), polys),
            "observed_px": int((states != ol.UNOBSERVED).sum()),
            "warped_tiles": [pt.meta.path.name for pt in plan.tiles if pt.shift is None],
            # Kept for the burned-area oracle (forest in the earlier epoch).
            "forest": states == ol.FOREST,
        }
        del states
    return out


def pytest_terminal_summary(terminalreporter):
    if ol.REPORTS:
        terminalreporter.section("oracle: max errors measured")
        for r in ol.REPORTS:
            terminalreporter.write_line(r)
