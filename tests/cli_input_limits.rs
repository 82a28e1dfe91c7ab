//! Issue 11, smaller items: inputs that used to be accepted silently or answered
//! with a misleading message now fail up front, naming the feature or tile.

mod common;
use common::*;
use std::path::Path;

/// Runs the fixture region after `breaker`; expects exit 1, no store, and stderr
/// mentioning every `must_mention`.
fn refused(breaker: impl FnOnce(&Path), must_mention: &[&str]) -> String {
    let d = region();
    breaker(d.path());
    let store = store_in(d.path());
    let t0 = std::time::Instant::now();
    let o = run_into(d.path(), &store);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    for m in must_mention {
        assert!(err.contains(m), "stderr should mention {m:?}: {err}");
    }
    assert!(!store.exists(), "a store was written");
    assert!(
        t0.elapsed().as_secs() < 20,
        "refused only after {:?}",
        t0.elapsed()
    );
    err
}

#[test]
fn an_empty_commune_name_is_refused_naming_the_feature() {
    refused(
        |d| {
            let t = default_communes().replace("Đình Lập", "");
            std::fs::write(d.join("communes.geojson"), t).unwrap();
        },
        &["feature 1", "00002", "empty name"],
    );
}

#[test]
fn a_commune_name_that_is_not_utf8_is_refused_naming_the_feature() {
    refused(
        |d| {
            let t = default_communes().replace("Đình Lập", "D\u{1}nh");
            let bytes: Vec<u8> = t
                .into_bytes()
                .into_iter()
                .map(|b| if b == 1 { 0xff } else { b })
                .collect();
            std::fs::write(d.join("communes.geojson"), bytes).unwrap();
        },
        &["00002", "not valid UTF-8"],
    );
}

#[test]
fn a_communes_layer_without_features_says_so() {
    refused(
        |d| std::fs::write(d.join("communes.geojson"), communes_geojson(&[])).unwrap(),
        &["has no features"],
    );
}

#[test]
fn a_huge_grid_is_refused_before_allocating_naming_the_tile_and_size() {
    // The fixture tile as a 10⁶ × 10⁶ pixel VRT over the same extent (0.002 m pixels;
    // the working grid, cut to the communes, is 931,250 × 853,000 of them).
    let err = refused(
        |d| {
            let st = std::process::Command::new("gdal_translate")
                .args(["-q", "-of", "VRT", "-outsize", "1000000", "1000000"])
                .arg(d.join("tiles/a.tif"))
                .arg(d.join("tiles/b.vrt"))
                .status()
                .unwrap();
            assert!(st.success());
            std::fs::remove_file(d.join("tiles/a.tif")).unwrap();
            let r = std::fs::read_to_string(d.join("region.toml"))
                .unwrap()
                .replace("tiles/*.tif", "tiles/*.vrt");
            std::fs::write(d.join("region.toml"), r).unwrap();
        },
        &["b.vrt", "931250 × 853000 pixels", "the limit is"],
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// The fixture tile as a VRT whose `<GeoTransform>` is replaced by `gt`.
fn with_geotransform(gt: &'static str) -> impl FnOnce(&Path) {
    move |d: &Path| {
        let st = std::process::Command::new("gdal_translate")
            .args(["-q", "-of", "VRT"])
            .arg(d.join("tiles/a.tif"))
            .arg(d.join("tiles/b.vrt"))
            .status()
            .unwrap();
        assert!(st.success());
        let vrt = std::fs::read_to_string(d.join("tiles/b.vrt")).unwrap();
        let start = vrt.find("<GeoTransform>").expect("VRT has a GeoTransform");
        let end = vrt.find("</GeoTransform>").unwrap() + "</GeoTransform>".len();
        let vrt = format!(
            "{}<GeoTransform>{gt}</GeoTransform>{}",
            &vrt[..start],
            &vrt[end..]
        );
        // the VRT points at a.tif by a relative path, so a.tif stays; only the VRT is listed
        std::fs::write(d.join("tiles/b.vrt"), vrt).unwrap();
        let r = std::fs::read_to_string(d.join("region.toml"))
            .unwrap()
            .replace("tiles/*.tif", "tiles/*.vrt");
        std::fs::write(d.join("region.toml"), r).unwrap();
    }
}

#[test]
fn a_pixel_size_of_zero_is_named_as_such_not_as_rotation() {
    let err = refused(
        with_geotransform("500000, 0, 0, 2400000, 0, -10"),
        &["b.vrt", "pixel size is 0"],
    );
    assert!(!err.contains("rotated"), "{err}");
}

#[test]
fn a_nan_geotransform_is_named_on_the_tile_not_the_epochs() {
    let err = refused(
        with_geotransform("nan, 10, 0, 2400000, 0, -10"),
        &["b.vrt", "non-finite"],
    );
    assert!(!err.contains("rotated"), "{err}");
}
