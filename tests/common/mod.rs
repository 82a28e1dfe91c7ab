//! Shared fixtures for the end-to-end tests: a tiny region written from scratch
//! (GDAL for the tiles, GeoJSON for the communes) whose true figures are known by
//! hand, and helpers to run the `canopy` binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use canopy_pipeline::gdal::raster::Buffer;
use canopy_pipeline::gdal::spatial_ref::SpatialRef;
use canopy_pipeline::gdal::DriverManager;

pub const X0: f64 = 600_000.0;
pub const Y0: f64 = 2_400_000.0;
pub const PX: f64 = 10.0;
pub const N: usize = 200;

/// Sentinel-2 L2A digital numbers for reflectance r: DN = (r + 0.1) × 10000.
pub fn dn(reflectance: f64) -> u16 {
    ((reflectance + 0.1) * 10_000.0).round() as u16
}

/// The planted truth: forest on a checkerboard of 20-pixel squares.
pub fn is_forest(col: usize, row: usize) -> bool {
    (col / 20 + row / 20).is_multiple_of(2)
}

/// Cloud over pixels with col in 150..170 and row in 30..50.
pub fn is_cloud(col: usize, row: usize) -> bool {
    (150..170).contains(&col) && (30..50).contains(&row)
}

pub fn canopy() -> Command {
    Command::new(env!("CARGO_BIN_EXE_canopy"))
}

pub fn run(args: &[&str]) -> Output {
    canopy().args(args).output().expect("canopy runs")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes a 3-band tile (red, NIR, cloud mask) covering pixels
/// `[c0, c0+w) × [r0, r0+h)` of the fixture grid, with `cloud` as its mask.
pub fn write_tile(
    path: &Path,
    c0: usize,
    r0: usize,
    w: usize,
    h: usize,
    cloud: &dyn Fn(usize, usize) -> bool,
) {
    write_tile_with(path, c0, r0, w, h, cloud, &is_forest)
}

/// [`write_tile`] with another forest pattern.
pub fn write_tile_with(
    path: &Path,
    c0: usize,
    r0: usize,
    w: usize,
    h: usize,
    cloud: &dyn Fn(usize, usize) -> bool,
    forest: &dyn Fn(usize, usize) -> bool,
) {
    let driver = DriverManager::get_driver_by_name("GTiff").unwrap();
    let mut ds = driver
        .create_with_band_type::<u16, _>(path, w, h, 3)
        .unwrap();
    ds.set_geo_transform(&[X0 + c0 as f64 * PX, PX, 0.0, Y0 - r0 as f64 * PX, 0.0, -PX])
        .unwrap();
    ds.set_spatial_ref(&SpatialRef::from_epsg(32648).unwrap())
        .unwrap();
    let mut red = Vec::with_capacity(w * h);
    let mut nir = Vec::with_capacity(w * h);
    let mut mask = Vec::with_capacity(w * h);
    for r in r0..r0 + h {
        for c in c0..c0 + w {
            let cl = cloud(c, r);
            let (rr, nn) = if cl {
                (0.35, 0.38)
            } else if forest(c, r) {
                (0.03, 0.30)
            } else {
                (0.08, 0.20)
            };
            red.push(dn(rr));
            nir.push(dn(nn));
            mask.push(cl as u16);
        }
    }
    for (i, data) in [red, nir, mask].into_iter().enumerate() {
        let mut b = ds.rasterband(i + 1).unwrap();
        if i < 2 {
            b.set_scale(1e-4).unwrap();
            b.set_offset(-0.1).unwrap();
            b.set_no_data_value(Some(0.0)).unwrap();
        }
        let mut buf = Buffer::new((w, h), data);
        b.write((0, 0), (w, h), &mut buf).unwrap();
    }
}

/// Commune A: an axis-aligned rectangle not on pixel edges; B: a rectangle
/// overlapping A's east side by 50 m (so the province must count it once).
pub const A: [f64; 4] = [X0 + 55.0, Y0 - 1_505.0, X0 + 1_003.0, Y0 - 97.0];
pub const B: [f64; 4] = [X0 + 953.0, Y0 - 1_803.0, X0 + 1_917.5, Y0 - 402.5];

fn rect_ring(r: [f64; 4]) -> String {
    let [x0, y0, x1, y1] = r;
    format!("[[[{x0},{y0}],[{x1},{y0}],[{x1},{y1}],[{x0},{y1}],[{x0},{y0}]]]")
}

pub fn communes_geojson(features: &[(&str, &str, String)]) -> String {
    let feats: Vec<String> = features
        .iter()
        .map(|(code, name, coords)| {
            format!(
                r#"{{"type":"Feature","properties":{{"code":"{code}","name":"{name}"}},"geometry":{{"type":"Polygon","coordinates":{coords}}}}}"#
            )
        })
        .collect();
    format!(
        r#"{{"type":"FeatureCollection","crs":{{"type":"name","properties":{{"name":"urn:ogc:def:crs:EPSG::32648"}}}},"features":[{}]}}"#,
        feats.join(",")
    )
}

pub fn default_communes() -> String {
    communes_geojson(&[
        ("00001", "Lộc Bình", rect_ring(A)),
        ("00002", "Đình Lập", rect_ring(B)),
    ])
}

pub const REGION: &str = r#"name = "Fixture"
area_crs = "EPSG:32648"

[communes]
path = "communes.geojson"
code_field = "code"
name_field = "name"

[forest]
ndvi_min = 0.55

[[epochs]]
id = "2024"
date = "2024-12-31"
tiles = ["tiles/*.tif"]
red_band = 1
nir_band = 2
mask_band = 3
"#;

/// A clearing planted between the fixture's two epochs: pixels with col in
/// 60..80 and row in 20..30 (20 × 10 px = 2 ha), forest in 2024 (checkerboard
/// square (3, 1) is forest) and cleared in 2025; plus a 2-px clearing (0.02 ha,
/// below the alert minimum) at col 0..2, row 0.
pub fn is_forest_2025(col: usize, row: usize) -> bool {
    let cleared = ((60..80).contains(&col) && (20..30).contains(&row)) || (col < 2 && row == 0);
    is_forest(col, row) && !cleared
}

/// The fixture region with a second epoch (2025) with the planted clearings.
pub fn region_two_epochs() -> tempfile::TempDir {
    let d = region();
    std::fs::create_dir_all(d.path().join("tiles2025")).unwrap();
    write_tile_with(
        &d.path().join("tiles2025/a.tif"),
        0,
        0,
        N,
        N,
        &|_, _| false,
        &is_forest_2025,
    );
    let mut text = std::fs::read_to_string(d.path().join("region.toml")).unwrap();
    text.push_str(
        "\n[[epochs]]\nid = \"2025\"\ndate = \"2025-12-31\"\ntiles = [\"tiles2025/*.tif\"]\nred_band = 1\nnir_band = 2\nmask_band = 3\n",
    );
    std::fs::write(d.path().join("region.toml"), text).unwrap();
    d
}

/// A fixture region: one 200×200 tile, two communes. Returns its directory.
pub fn region() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("tiles")).unwrap();
    write_tile(&d.path().join("tiles/a.tif"), 0, 0, N, N, &is_cloud);
    std::fs::write(d.path().join("communes.geojson"), default_communes()).unwrap();
    std::fs::write(d.path().join("region.toml"), REGION).unwrap();
    d
}

pub fn path_str(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

pub fn store_in(d: &Path) -> PathBuf {
    d.join("out/store.gpkg")
}

/// Area of the overlap of rectangle `r` with pixel (c, r) of the fixture grid.
fn overlap(rect: [f64; 4], col: usize, row: usize) -> f64 {
    let px0 = X0 + col as f64 * PX;
    let py1 = Y0 - row as f64 * PX;
    let ox = (rect[2].min(px0 + PX) - rect[0].max(px0)).max(0.0);
    let oy = (rect[3].min(py1) - rect[1].max(py1 - PX)).max(0.0);
    ox * oy
}

/// Hand-computed (forest, observed) area in ha of a rectangle over the fixture:
/// the overlap of a rectangle and a pixel is the product of two 1-D overlaps.
pub fn expected(rect: [f64; 4], observed: &dyn Fn(usize, usize) -> bool) -> (f64, f64) {
    let (mut f, mut o) = (0.0, 0.0);
    for row in 0..N {
        for col in 0..N {
            let a = overlap(rect, col, row);
            if a > 0.0 && observed(col, row) {
                o += a;
                if is_forest(col, row) {
                    f += a;
                }
            }
        }
    }
    (f / 10_000.0, o / 10_000.0)
}

/// Reads `cover` rows as (code, epoch, forest_ha, observed_ha, natural_ha) via the CLI's CSV.
pub fn cover_csv(store: &Path) -> Vec<(String, String, f64, f64, f64)> {
    let o = run(&["stats", "--store", &path_str(store), "--format", "csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    // code,name,epoch,natural,forest,observed,unobserved,cover,observed_pct
    csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(|r| {
            let v = r.unwrap();
            (
                v[0].to_string(),
                v[2].to_string(),
                v[4].parse().unwrap(),
                v[5].parse().unwrap(),
                v[3].parse().unwrap(),
            )
        })
        .collect()
}

/// Writes a one-band Byte class tile over the whole fixture grid.
pub fn write_class_tile(path: &Path, class: &dyn Fn(usize, usize) -> u8) {
    let driver = DriverManager::get_driver_by_name("GTiff").unwrap();
    let mut ds = driver
        .create_with_band_type::<u8, _>(path, N, N, 1)
        .unwrap();
    ds.set_geo_transform(&[X0, PX, 0.0, Y0, 0.0, -PX]).unwrap();
    ds.set_spatial_ref(&SpatialRef::from_epsg(32648).unwrap())
        .unwrap();
    let data: Vec<u8> = (0..N)
        .flat_map(|r| (0..N).map(move |c| class(c, r)))
        .collect();
    let mut b = ds.rasterband(1).unwrap();
    b.set_no_data_value(Some(0.0)).unwrap();
    b.write((0, 0), (N, N), &mut Buffer::new((N, N), data))
        .unwrap();
}

/// Land-cover classes of the fixture: 1 natural forest on the checkerboard's
/// forest squares of the west half, 2 acacia plantation on those of the east
/// half, 10 cropland elsewhere.
pub fn class_2024(c: usize, r: usize) -> u8 {
    match (is_forest(c, r), c < 100) {
        (true, true) => 1,
        (true, false) => 2,
        _ => 10,
    }
}

pub fn class_2025(c: usize, r: usize) -> u8 {
    if is_forest(c, r) && !is_forest_2025(c, r) {
        10
    } else {
        class_2024(c, r)
    }
}

/// A two-epoch class region with a legend.
pub fn class_region() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (y, f) in [
        ("2024", class_2024 as fn(usize, usize) -> u8),
        ("2025", class_2025),
    ] {
        std::fs::create_dir_all(d.path().join(y)).unwrap();
        write_class_tile(&d.path().join(format!("{y}/lc.tif")), &f);
    }
    std::fs::write(d.path().join("communes.geojson"), default_communes()).unwrap();
    std::fs::write(
        d.path().join("region.toml"),
        r#"name = "Classes"
area_crs = "EPSG:32648"

[communes]
path = "communes.geojson"
code_field = "code"
name_field = "name"

[forest]
forest_classes = [1, 2]
natural_classes = [1]

[legend]
1 = "natural forest"
2 = "acacia plantation"
10 = "cropland"

[[epochs]]
id = "2024"
date = "2024-12-31"
tiles = ["2024/*.tif"]
class_band = 1

[[epochs]]
id = "2025"
date = "2025-12-31"
tiles = ["2025/*.tif"]
class_band = 1
"#,
    )
    .unwrap();
    d
}

/// Hand-computed area (ha) of a rectangle over the pixels where `pred` holds.
pub fn expected_where(rect: [f64; 4], pred: &dyn Fn(usize, usize) -> bool) -> f64 {
    let mut a = 0.0;
    for row in 0..N {
        for col in 0..N {
            if pred(col, row) {
                a += overlap(rect, col, row);
            }
        }
    }
    a / 10_000.0
}

/// `canopy run DIR/region.toml --store STORE`, whatever its outcome.
pub fn run_into(d: &Path, store: &Path) -> Output {
    run(&[
        "run",
        &path_str(&d.join("region.toml")),
        "--store",
        &path_str(store),
    ])
}

/// `canopy run DIR/region.toml --store DIR/out/store.gpkg`, which must succeed;
/// returns the store and stdout.
pub fn run_region(d: &Path) -> (PathBuf, String) {
    let store = store_in(d);
    let o = run_into(d, &store);
    assert!(o.status.success(), "{}", stderr(&o));
    (store, String::from_utf8(o.stdout).unwrap())
}

/// `scripts/store-dump.py` of a store: every table, every row and byte (floats by
/// repr, blobs in hex), less the run's timestamps and timings.
pub fn dump(store: &Path) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/store-dump.py");
    let o = Command::new("python3")
        .arg(script)
        .arg(store)
        .output()
        .expect("python3 runs");
    assert!(o.status.success(), "{}", stderr(&o));
    String::from_utf8(o.stdout).unwrap()
}

/// Two [`dump`]s are equal, else a panic at the first line that differs.
pub fn assert_same(a: &str, b: &str, what: &str) {
    if a != b {
        let (la, lb): (Vec<_>, Vec<_>) = (a.lines().collect(), b.lines().collect());
        let i = la
            .iter()
            .zip(&lb)
            .position(|(x, y)| x != y)
            .unwrap_or(la.len().min(lb.len()));
        panic!(
            "{what}: stores differ at dump line {i}:\n first: {:?}\n second: {:?}",
            la.get(i),
            lb.get(i)
        );
    }
}

/// The Lạng Sơn sample generated in `dir` at 100 m (`canopy synth`, `scenes`
/// scenes per epoch, planting zones, targets, forest plots, fire inputs), with
/// its region file: every strip pass of a run on a small grid.
pub fn sample_at_100m(dir: &Path, scenes: usize) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/regions/lang-son");
    for f in ["region.toml", "communes.geojson", "targets.toml"] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    let o = canopy()
        .current_dir(dir)
        .env("RAYON_NUM_THREADS", "2")
        .args([
            "synth",
            ".",
            "--communes",
            "communes.geojson",
            "--name",
            "Lạng Sơn",
        ])
        .args(["--pixel-size", "100", "--scenes", &scenes.to_string()])
        .args(["--targets", "targets.toml", "--parcels"])
        .output()
        .expect("canopy runs");
    assert!(o.status.success(), "synth failed:\n{}", stderr(&o));
}
