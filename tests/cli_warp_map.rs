//! Warped scenes of one source grid read through a shared warp map
//! (`pipeline::raster::warp_map`) give the store that warping each scene
//! through its own VRT gives, every byte: the generated Lạng Sơn sample at
//! 100 m, three scenes per epoch, each with an EPSG:4326 tile on the same grid
//! (warped onto the UTM working grid), read in 256-row strips with change,
//! burned area and zones.

mod common;

use common::{assert_same, canopy, dump, sample_at_100m, stderr};

#[test]
fn shared_warp_maps_change_no_figure() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    sample_at_100m(dir, 3);
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
