//! Warped scenes of one source grid read through a shared warp map
//! (`pipeline::raster::warp_map`) give the store that warping each scene
//! through its own VRT gives, every byte: the generated Lạng Sơn sample at
//! 100 m, three scenes per epoch, each with an EPSG:4326 tile on the same grid
//! (warped onto the UTM working grid), read in 256-row strips with change,
//! burned area and zones.

mod common;

use std::path::Path;

use common::{assert_same, canopy, dump, stderr};

#[test]
fn shared_warp_maps_change_no_figure() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/regions/lang-son");
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    for f in ["region.toml", "communes.geojson", "targets.toml"] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    let synth = canopy()
        .current_dir(dir)
        .args([
            "synth",
            ".",
            "--communes",
            "communes.geojson",
            "--name",
            "Lạng Sơn",
        ])
        .args([
            "--pixel-size",
            "100",
            "--scenes",
            "3",
            "--targets",
            "targets.toml",
        ])
        .arg("--parcels")
        .output()
        .unwrap();
    assert!(synth.status.success(), "{}", stderr(&synth));
    let run = |store: &str, maps: &str| {
        let o = canopy()
            .current_dir(dir)
            .env("RAYON_NUM_THREADS", "2")
            .env("CANOPY_WARP_MAPS", maps)
            .env("CANOPY_LOG", "canopy_pipeline=debug")
            .args(["run", "region.toml", "--store", store])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        stderr(&o).matches("warp map built").count()
    };
    let built = run("maps.gpkg", "1");
    let none = run("warped.gpkg", "0");
    // The maps were used (one per strip window and grid), and only when enabled.
    assert!(built > 0, "no warp map was built");
    assert_eq!(none, 0);
    let (a, b) = (dump(&dir.join("maps.gpkg")), dump(&dir.join("warped.gpkg")));
    assert!(a.contains("## alerts (") && !a.contains("## alerts (0 rows)"));
    assert_same(&a, &b, "warp maps vs warped VRTs");
}
