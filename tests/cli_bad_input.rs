//! Bad input: each case gets a clear message naming the culprit, a non-zero
//! exit, and leaves the previous store untouched.

mod common;
use common::*;
use std::path::Path;

/// Runs a good region first (so a store exists), breaks it with `breaker`, runs
/// again and checks the failure. Returns stderr of the failing run.
fn fails_cleanly(breaker: impl FnOnce(&Path), must_mention: &[&str]) -> String {
    let d = region();
    let region_file = path_str(&d.path().join("region.toml"));
    let store = store_in(d.path());
    let o = run(&["run", &region_file, "--store", &path_str(&store)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let before = std::fs::read(&store).unwrap();
    breaker(d.path());
    let o = run(&["run", &region_file, "--store", &path_str(&store)]);
    let err = stderr(&o);
    assert!(
        !o.status.success(),
        "expected a failure, got success; stderr: {err}"
    );
    assert_eq!(o.status.code(), Some(1), "{err}");
    for m in must_mention {
        assert!(err.contains(m), "stderr should mention {m:?}: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(std::fs::read(&store).unwrap(), before, "the store changed");
    let leftovers: Vec<_> = std::fs::read_dir(store.parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    err
}

fn edit_region(dir: &Path, from: &str, to: &str) {
    let p = dir.join("region.toml");
    let t = std::fs::read_to_string(&p).unwrap();
    assert!(t.contains(from), "fixture has no {from:?}");
    std::fs::write(p, t.replace(from, to)).unwrap();
}

#[test]
fn missing_tile() {
    fails_cleanly(
        |d| edit_region(d, "tiles/*.tif", "tiles/missing.tif"),
        &["tiles/missing.tif", "matches no file"],
    );
}

#[test]
fn empty_glob() {
    fails_cleanly(
        |d| edit_region(d, "tiles/*.tif", "tiles/2031/*.tif"),
        &["tiles/2031/*.tif", "matches no file"],
    );
}

#[test]
fn truncated_geotiff() {
    fails_cleanly(
        |d| {
            let p = d.join("tiles/a.tif");
            let bytes = std::fs::read(&p).unwrap();
            std::fs::write(&p, &bytes[..bytes.len() / 3]).unwrap();
        },
        &["a.tif"],
    );
}

#[test]
fn garbage_file_as_tile() {
    fails_cleanly(
        |d| std::fs::write(d.join("tiles/a.tif"), b"not a tiff at all").unwrap(),
        &["a.tif"],
    );
}

#[test]
fn raster_without_crs() {
    fails_cleanly(
        |d| {
            let p = d.join("tiles/a.tif");
            let driver = canopy_pipeline::gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
            std::fs::remove_file(&p).unwrap();
            let mut ds = driver
                .create_with_band_type::<u16, _>(&p, 10, 10, 3)
                .unwrap();
            ds.set_geo_transform(&[X0, PX, 0.0, Y0, 0.0, -PX]).unwrap();
        },
        &["a.tif", "no CRS"],
    );
}

#[test]
fn tiles_that_overlap_no_commune() {
    fails_cleanly(
        |d| {
            // Same tile, 50 km east.
            let p = d.join("tiles/a.tif");
            std::fs::remove_file(&p).unwrap();
            write_tile(&p, 5000, 0, 100, 100, &|_, _| false);
        },
        &["none of its 1 tile(s) overlaps the communes", "a.tif"],
    );
}

#[test]
fn band_that_does_not_exist() {
    fails_cleanly(
        |d| edit_region(d, "nir_band = 2", "nir_band = 9"),
        &["a.tif", "nir_band = 9", "3 band(s)"],
    );
}

#[test]
fn self_intersecting_polygon_is_named() {
    fails_cleanly(
        |d| {
            let bowtie = format!(
                "[[[{x0},{y0}],[{x1},{y1}],[{x1},{y0}],[{x0},{y1}],[{x0},{y0}]]]",
                x0 = X0 + 100.0,
                y0 = Y0 - 900.0,
                x1 = X0 + 900.0,
                y1 = Y0 - 100.0
            );
            let ok = format!(
                "[[[{x},{y}],[{x2},{y}],[{x2},{y2}],[{x},{y2}],[{x},{y}]]]",
                x = X0 + 1000.0,
                y = Y0 - 1000.0,
                x2 = X0 + 1500.0,
                y2 = Y0 - 500.0
            );
            std::fs::write(
                d.join("communes.geojson"),
                communes_geojson(&[("00009", "Good", ok), ("00007", "Bowtie", bowtie)]),
            )
            .unwrap();
        },
        &[
            "communes.geojson",
            "feature 1",
            "00007",
            "Bowtie",
            "invalid polygon",
        ],
    );
}

#[test]
fn commune_layer_without_the_named_field() {
    fails_cleanly(
        |d| edit_region(d, "code_field = \"code\"", "code_field = \"ma_xa\""),
        &["communes.geojson", "no field \"ma_xa\""],
    );
}

#[test]
fn duplicate_commune_codes() {
    fails_cleanly(
        |d| {
            let t = std::fs::read_to_string(d.join("communes.geojson")).unwrap();
            std::fs::write(d.join("communes.geojson"), t.replace("00002", "00001")).unwrap();
        },
        &["communes.geojson", "duplicate code \"00001\""],
    );
}

#[test]
fn unknown_toml_key() {
    fails_cleanly(
        |d| edit_region(d, "mask_band = 3", "mask_bnd = 3"),
        &["region.toml", "mask_bnd"],
    );
}

#[test]
fn malformed_toml() {
    fails_cleanly(
        |d| edit_region(d, "ndvi_min = 0.55", "ndvi_min = = 0.55"),
        &["region.toml"],
    );
}

#[test]
fn area_crs_in_degrees_is_refused() {
    fails_cleanly(
        |d| edit_region(d, "area_crs = \"EPSG:32648\"", "area_crs = \"EPSG:4326\""),
        &["area_crs", "not a projected CRS in metres"],
    );
}

#[test]
fn stats_on_a_missing_store() {
    let o = run(&["stats", "--store", "/nonexistent/canopy.gpkg"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("/nonexistent/canopy.gpkg"),
        "{}",
        stderr(&o)
    );
}
