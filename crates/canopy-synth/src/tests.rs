//! End-to-end tests of the generator at coarse pixel sizes on the real Lạng Sơn
//! communes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gdal::raster::GdalDataType;
use gdal::{Dataset, Metadata};
use serde_json::Value;

use super::*;

fn communes_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/regions/lang-son/communes.geojson")
}

fn targets_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/regions/lang-son/targets.toml")
}

fn opts(out: &Path, pixel: f64) -> SynthOptions {
    SynthOptions {
        pixel_size: pixel,
        ..SynthOptions::new(out, communes_path())
    }
}

fn truth(out: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("truth/truth.json")).unwrap()).unwrap()
}

fn read_band<T: gdal::raster::GdalType + Copy>(path: &Path, band: usize) -> (usize, usize, Vec<T>) {
    let ds = Dataset::open(path).unwrap();
    let (w, h) = ds.raster_size();
    let b = ds.rasterband(band).unwrap();
    let buf = b.read_as::<T>((0, 0), (w, h), (w, h), None).unwrap();
    (w, h, buf.data().to_vec())
}

fn all_files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

#[test]
fn synth_forest_fraction_over_communes_is_about_62_percent() {
    let dir = tempfile::tempdir().unwrap();
    let s = generate(&opts(dir.path(), 400.0)).unwrap();
    for f in &s.forest_fraction {
        assert!((0.5..0.75).contains(f), "grid forest fraction {f}");
    }
    let c = communes::read(&communes_path(), "ma_xa", None, &[]).unwrap();
    let (w, h, forest) = read_band::<u8>(&dir.path().join("truth/forest_2025.tif"), 1);
    assert_eq!((w, h), (s.grid.width, s.grid.height));
    let l = Layout::new(s.grid).unwrap();
    let (mut n, mut f) = (0usize, 0usize);
    for r in 0..h {
        for col in 0..w {
            let (x, y) = l.centre(col, r);
            if c.locate(x, y).is_some() {
                n += 1;
                f += forest[r * w + col] as usize;
            }
        }
    }
    let frac = f as f64 / n as f64;
    assert!((0.55..=0.70).contains(&frac), "forest over communes {frac}");
}

#[test]
fn synth_edges_are_patchy_not_noisy() {
    let dir = tempfile::tempdir().unwrap();
    let s = generate(&opts(dir.path(), 120.0)).unwrap();
    let (w, h, f) = read_band::<u8>(&dir.path().join("truth/forest_2024.tif"), 1);
    assert_eq!((w, h), (s.grid.width, s.grid.height));
    let (mut same, mut pairs) = (0usize, 0usize);
    for r in 0..h {
        for c in 0..w - 1 {
            pairs += 1;
            same += (f[r * w + c] == f[r * w + c + 1]) as usize;
        }
    }
    let agree = same as f64 / pairs as f64;
    assert!(agree > 0.85, "neighbour agreement {agree}");
}

#[test]
fn synth_tiles_have_crs_overlap_scale_offset_nodata() {
    let dir = tempfile::tempdir().unwrap();
    let s = generate(&opts(dir.path(), 400.0)).unwrap();
    assert_eq!(s.tiles, 10);
    let tdir = dir.path().join("tiles/2025");
    let mut names: Vec<String> = std::fs::read_dir(&tdir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "utm_r0_c0.tif",
            "utm_r0_c1.tif",
            "utm_r1_c0.tif",
            "utm_r1_c1.tif",
            "wgs84.tif"
        ]
    );
    let mut bounds = Vec::new();
    for name in &names {
        let ds = Dataset::open(tdir.join(name)).unwrap();
        let epsg = ds.spatial_ref().unwrap().auth_code().unwrap();
        assert_eq!(
            epsg,
            if name == "wgs84.tif" { 4326 } else { 32648 },
            "{name}"
        );
        assert_eq!(ds.raster_count(), 4);
        assert_eq!(
            ds.metadata_item("COMPRESSION", "IMAGE_STRUCTURE")
                .as_deref(),
            Some("DEFLATE")
        );
        for (i, desc) in ["B4", "B8", "cloud", "B12"].iter().enumerate() {
            let b = ds.rasterband(i + 1).unwrap();
            assert_eq!(b.band_type(), GdalDataType::UInt16);
            assert_eq!(b.description().unwrap(), *desc);
            assert_eq!(b.block_size(), (256, 256));
            if i != 2 {
                assert_eq!(b.scale(), Some(0.0001));
                assert_eq!(b.offset(), Some(-0.1));
                assert_eq!(b.no_data_value(), Some(0.0));
            } else {
                // GeoTIFF keeps one nodata value per file, so the mask band reports
                // nodata 0 too: readers must take nodata from the red/NIR bands only.
                assert!(b.scale().is_none_or(|s| s == 1.0));
                assert!(b.offset().is_none_or(|o| o == 0.0));
            }
        }
        let gt = ds.geo_transform().unwrap();
        let (w, h) = ds.raster_size();
        bounds.push((
            gt[0],
            gt[3] + h as f64 * gt[5],
            gt[0] + w as f64 * gt[1],
            gt[3],
        ));
        if name != "wgs84.tif" {
            // On the working lattice.
            assert_eq!(((gt[0] - s.grid.x0) / 400.0).fract(), 0.0);
            assert_eq!(((s.grid.y0 - gt[3]) / 400.0).fract(), 0.0);
            assert_eq!(gt[1], 400.0);
        } else {
            // Half the working pixel size (200 m of 400 m), in degrees.
            assert!(gt[1] > 0.0015 && gt[1] < 0.0025 && (gt[5] + 200.0 / 110_574.0).abs() < 1e-12);
        }
    }
    let ov = |a: (f64, f64, f64, f64), b: (f64, f64, f64, f64)| {
        (
            (a.2.min(b.2) - a.0.max(b.0)) / 400.0,
            (a.3.min(b.3) - a.1.max(b.1)) / 400.0,
        )
    };
    // West/east and north/south neighbours overlap by >= 16 px.
    assert!(ov(bounds[0], bounds[1]).0 >= 16.0);
    assert!(ov(bounds[0], bounds[2]).1 >= 16.0);
    assert!(ov(bounds[2], bounds[3]).0 >= 16.0);
    // The WGS84 tile reaches west of the UTM tiles' east edge and east of the grid.
    let t = truth(dir.path());
    let wgs = t["tiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["file"] == "tiles/2025/wgs84.tif")
        .unwrap();
    assert_eq!(wgs["crs"], "EPSG:4326");
    let foot = s.grid.x0 + s.grid.width as f64 * 400.0;
    let utm_east = bounds[1].2;
    assert!(utm_east < foot);
    let to_utm = proj::Proj::new_known_crs("EPSG:4326", "EPSG:32648", None).unwrap();
    let (x_w, _) = to_utm
        .convert((bounds[4].0, 0.5 * (bounds[4].1 + bounds[4].3)))
        .unwrap();
    let (x_e, _) = to_utm
        .convert((bounds[4].2, 0.5 * (bounds[4].1 + bounds[4].3)))
        .unwrap();
    assert!(
        x_w < utm_east - 16.0 * 400.0 && x_e >= foot,
        "{x_w} {x_e} {utm_east} {foot}"
    );
}

#[test]
fn synth_pixels_decode_to_the_truth_with_clouds_and_nodata() {
    let dir = tempfile::tempdir().unwrap();
    let s = generate(&opts(dir.path(), 400.0)).unwrap();
    let (gw, _, truth_f) = read_band::<u8>(&dir.path().join("truth/forest_2024.tif"), 1);
    let t = truth(dir.path());
    let mut triangles = 0;
    for tile in t["tiles"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["epoch"] == "2024")
    {
        let path = dir.path().join(tile["file"].as_str().unwrap());
        let (w, h, red) = read_band::<u16>(&path, 1);
        let (_, _, nir) = read_band::<u16>(&path, 2);
        let (_, _, mask) = read_band::<u16>(&path, 3);
        let (mut cloud, mut valid, mut nodata) = (0usize, 0usize, 0usize);
        for i in 0..w * h {
            if red[i] == 0 {
                assert_eq!(nir[i], 0);
                nodata += 1;
                continue;
            }
            valid += 1;
            if mask[i] == 1 {
                cloud += 1;
                continue;
            }
            let r = red[i] as f64 * 0.0001 - 0.1;
            let n = nir[i] as f64 * 0.0001 - 0.1;
            let ndvi = (n - r) / (n + r);
            if let Some(win) = tile["window"].as_array() {
                let (c0, r0) = (
                    win[0].as_u64().unwrap() as usize,
                    win[1].as_u64().unwrap() as usize,
                );
                let (c, rr) = (c0 + i % w, r0 + i / w);
                assert_eq!(ndvi >= 0.55, truth_f[rr * gw + c] == 1);
            }
        }
        assert_eq!(nodata as u64, tile["nodata_pixels"].as_u64().unwrap());
        let cf = cloud as f64 / valid as f64;
        assert!((0.03..0.15).contains(&cf), "{} cloud {cf}", tile["file"]);
        if tile["nodata_triangle"].is_object() {
            triangles += 1;
            assert!(nodata > 0);
        } else if tile["crs"] == "EPSG:32648" {
            assert_eq!(nodata, 0);
        }
    }
    assert_eq!(triangles, 1);
    assert_eq!(s.grid.dx, 400.0);
}

#[test]
fn synth_overlapping_tiles_have_different_clouds() {
    let dir = tempfile::tempdir().unwrap();
    generate(&opts(dir.path(), 200.0)).unwrap();
    let t = truth(dir.path());
    let tiles: Vec<&Value> = t["tiles"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["epoch"] == "2025")
        .collect();
    let win = |v: &Value| -> Vec<usize> {
        v["window"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as usize)
            .collect()
    };
    let (a, b) = (win(tiles[0]), win(tiles[1]));
    let (_, _, ma) = read_band::<u16>(&dir.path().join(tiles[0]["file"].as_str().unwrap()), 3);
    let (_, _, mb) = read_band::<u16>(&dir.path().join(tiles[1]["file"].as_str().unwrap()), 3);
    // Overlap columns [b0, a0 + aw).
    let (mut both, mut either) = (0, 0);
    for r in 0..a[3] {
        for c in b[0]..a[0] + a[2] {
            let ca = ma[r * a[2] + (c - a[0])] == 1;
            let cb = mb[r * b[2] + (c - b[0])] == 1;
            both += (ca && cb) as usize;
            either += (ca || cb) as usize;
        }
    }
    assert!(either > 0);
    assert!(
        (both as f64) < 0.5 * either as f64,
        "both {both} either {either}"
    );
}

#[test]
fn synth_is_deterministic_whatever_the_thread_count() {
    let run = |threads: usize| {
        let dir = tempfile::tempdir().unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| generate(&opts(dir.path(), 500.0))).unwrap();
        let mut files = all_files(dir.path());
        files.remove(Path::new("region.toml"));
        (dir, files)
    };
    let (_d1, a) = run(1);
    let (_d2, b) = run(3);
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    assert!(a.keys().any(|k| k.ends_with("wgs84.tif")));
    for (k, v) in &a {
        assert!(v == &b[k], "{} differs", k.display());
    }
}

#[test]
fn synth_planted_changes_appear_exactly_in_the_truth() {
    let dir = tempfile::tempdir().unwrap();
    let o = SynthOptions {
        epochs: 3,
        ..opts(dir.path(), 300.0)
    };
    let s = generate(&o).unwrap();
    let t = truth(dir.path());
    let ids: Vec<&str> = t["epochs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["2023", "2024", "2025"]);
    let rasters: Vec<Vec<u8>> = ids
        .iter()
        .map(|id| read_band::<u8>(&dir.path().join(format!("truth/forest_{id}.tif")), 1).2)
        .collect();
    let w = s.grid.width;
    let changes = t["changes"].as_array().unwrap();
    assert_eq!(changes.len(), s.changes);
    // Per pair: the classes, one clouded, one straddling, three regrowth.
    for pair in [("2023", "2024"), ("2024", "2025")] {
        let of: Vec<&Value> = changes
            .iter()
            .filter(|c| c["from"] == pair.0 && c["to"] == pair.1)
            .collect();
        assert!(of.len() >= 25, "{} changes in {pair:?}", of.len());
        assert_eq!(
            of.iter()
                .filter(|c| c["cloud_covered_in_to_epoch"] == true)
                .count(),
            1
        );
        assert_eq!(
            of.iter().filter(|c| c["straddles_tiles"] == true).count(),
            1
        );
        assert_eq!(of.iter().filter(|c| c["kind"] == "regrowth").count(), 3);
    }
    let mut planted = [0usize; 2];
    for c in changes {
        let px: Vec<usize> = c["px"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let from = ids.iter().position(|i| *i == c["from"]).unwrap();
        let to = from + 1;
        let rect = c["rect"].as_array().unwrap();
        assert_eq!(rect[0].as_f64().unwrap(), s.grid.x0 + px[0] as f64 * 300.0);
        assert_eq!(rect[3].as_f64().unwrap(), s.grid.y0 - px[1] as f64 * 300.0);
        let n = (px[2] - px[0]) * (px[3] - px[1]);
        assert_eq!(c["pixels"].as_u64().unwrap() as usize, n);
        assert!((c["area_ha"].as_f64().unwrap() - n as f64 * 9.0).abs() < 1e-9);
        let clearing = c["kind"] == "clearing";
        for r in px[1]..px[3] {
            for col in px[0]..px[2] {
                let i = r * w + col;
                assert_eq!(rasters[from][i] == 1, clearing, "change {} from", c["id"]);
                assert_eq!(rasters[to][i] == 1, !clearing, "change {} to", c["id"]);
            }
        }
        planted[from] += n;
    }
    // Nothing else changes.
    for e in 0..2 {
        let diff = rasters[e]
            .iter()
            .zip(&rasters[e + 1])
            .filter(|(a, b)| a != b)
            .count();
        assert!(
            diff <= planted[e],
            "{diff} changed px, {} planted",
            planted[e]
        );
        assert!(diff > 0);
    }
    // The clouded clearing is under a cloud in every UTM tile of the later epoch.
    for c in changes
        .iter()
        .filter(|c| c["cloud_covered_in_to_epoch"] == true)
    {
        let px: Vec<usize> = c["px"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let mut seen = 0;
        for tile in t["tiles"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["epoch"] == c["to"] && x["window"].is_array())
        {
            let win: Vec<usize> = tile["window"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect();
            if !(px[0] >= win[0]
                && px[2] <= win[0] + win[2]
                && px[1] >= win[1]
                && px[3] <= win[1] + win[3])
            {
                continue;
            }
            seen += 1;
            let (tw, _, mask) =
                read_band::<u16>(&dir.path().join(tile["file"].as_str().unwrap()), 3);
            for r in px[1]..px[3] {
                for col in px[0]..px[2] {
                    assert_eq!(mask[(r - win[1]) * tw + col - win[0]], 1);
                }
            }
        }
        assert!(seen >= 1);
    }
}

#[test]
fn synth_region_toml_is_written_once_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let communes = dir.path().join("communes.geojson");
    std::fs::copy(communes_path(), &communes).unwrap();
    let o = SynthOptions {
        pixel_size: 500.0,
        ..SynthOptions::new(dir.path(), &communes)
    };
    generate(&o).unwrap();
    let text = std::fs::read_to_string(dir.path().join("region.toml")).unwrap();
    let v: toml::Table = text.parse().unwrap();
    assert_eq!(v["name"].as_str(), Some("Lạng Sơn"));
    assert_eq!(v["area_crs"].as_str(), Some("EPSG:32648"));
    assert_eq!(v["communes"]["path"].as_str(), Some("communes.geojson"));
    assert_eq!(v["communes"]["code_field"].as_str(), Some("ma_xa"));
    let ep = v["epochs"].as_array().unwrap();
    assert_eq!(ep[0]["id"].as_str(), Some("2024"));
    assert_eq!(ep[1]["date"].as_str(), Some("2025-12-31"));
    assert_eq!(ep[1]["mask_band"].as_integer(), Some(3));
    let g = glob::glob(dir.path().join("tiles/2024/*.tif").to_str().unwrap())
        .unwrap()
        .count();
    assert_eq!(g, 5);

    std::fs::write(dir.path().join("region.toml"), "# mine\n").unwrap();
    generate(&o).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("region.toml")).unwrap(),
        "# mine\n"
    );
    // No partial files are left behind.
    assert!(all_files(dir.path())
        .keys()
        .all(|k| !k.to_string_lossy().ends_with(".part")));
}

#[test]
fn synth_errors_name_the_culprit() {
    let dir = tempfile::tempdir().unwrap();
    let e = generate(&SynthOptions {
        pixel_size: 0.0,
        ..opts(dir.path(), 1.0)
    })
    .unwrap_err();
    assert!(matches!(e, SynthError::PixelSize(_)) && e.to_string().contains("pixel_size"));
    let e = generate(&SynthOptions {
        epochs: 1,
        ..opts(dir.path(), 500.0)
    })
    .unwrap_err();
    assert!(e.to_string().contains("epochs"));
    let missing = dir.path().join("nope.geojson");
    let e = generate(&SynthOptions::new(dir.path(), &missing)).unwrap_err();
    assert!(e.to_string().contains("nope.geojson"), "{e}");
    let e = generate(&SynthOptions {
        code_field: "code".into(),
        ..opts(dir.path(), 500.0)
    })
    .unwrap_err();
    assert!(e.to_string().contains("\"code\""), "{e}");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let e = generate(&opts(&file.join("region"), 500.0)).unwrap_err();
    assert!(
        matches!(e, SynthError::OutDir { .. }) && e.to_string().contains("a-file"),
        "{e}"
    );
    let empty = dir.path().join("empty.geojson");
    std::fs::write(&empty, r#"{"type":"FeatureCollection","features":[]}"#).unwrap();
    let e = generate(&SynthOptions {
        code_field: "x".into(),
        ..SynthOptions::new(dir.path(), &empty)
    });
    assert!(e.is_err());
}

#[test]
fn synth_small_hand_made_polygon_in_another_crs() {
    let dir = tempfile::tempdir().unwrap();
    // A 20 km square in EPSG:32648 (written as GeoJSON with a projected CRS).
    let gj = r#"{"type":"FeatureCollection",
      "crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::32648"}},
      "features":[{"type":"Feature","properties":{"ma_xa":"00001","ten_xa":"Thử"},
      "geometry":{"type":"Polygon","coordinates":[[[650000,2400000],[670000,2400000],[670000,2420000],[650000,2420000],[650000,2400000]]]}}]}"#;
    let path = dir.path().join("square.geojson");
    std::fs::write(&path, gj).unwrap();
    let s = generate(&SynthOptions {
        pixel_size: 100.0,
        ..SynthOptions::new(dir.path(), &path)
    })
    .unwrap();
    assert_eq!(s.grid.x0, 649_000.0);
    assert_eq!(s.grid.y0, 2_421_000.0);
    assert_eq!((s.grid.width, s.grid.height), (220, 220));
    assert!(s.changes > 20, "{} changes", s.changes);
}

/// Times the full-size sample region: `cargo test -p canopy-synth --release
/// synth_time_30m -- --ignored --nocapture` (writes /tmp/canopy-synth-30m).
#[test]
#[ignore]
fn synth_time_30m() {
    let out = std::env::var("CANOPY_SYNTH_OUT").unwrap_or_else(|_| "/tmp/canopy-synth-30m".into());
    let p: f64 = std::env::var("CANOPY_SYNTH_PIXEL")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30.0);
    // The real targets unless CANOPY_SYNTH_TARGETS is set ("" for none).
    let targets = match std::env::var("CANOPY_SYNTH_TARGETS") {
        Ok(t) if t.is_empty() => None,
        Ok(t) => Some(PathBuf::from(t)),
        Err(_) => Some(targets_path()),
    };
    let t = std::time::Instant::now();
    let s = generate(&SynthOptions {
        targets,
        ..opts(Path::new(&out), p)
    })
    .unwrap();
    eprintln!(
        "{p} m: {:.1} s, grid {}×{}, {} tiles, {} px/band/epoch, forest {:?}, {} changes, {} zones",
        t.elapsed().as_secs_f64(),
        s.grid.width,
        s.grid.height,
        s.tiles,
        s.pixels_per_band_per_epoch,
        s.forest_fraction,
        s.changes,
        s.zones
    );
}

/// A zone read back from zones.geojson, in EPSG:32648.
struct FileZone {
    code: String,
    species: String,
    commune: String,
    poly: geo::Polygon<f64>,
}

fn read_zones(out: &Path) -> Vec<FileZone> {
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("zones.geojson")).unwrap()).unwrap();
    assert_eq!(
        v["crs"]["properties"]["name"],
        "urn:ogc:def:crs:OGC:1.3:CRS84"
    );
    let to_utm = proj::Proj::new_known_crs("EPSG:4326", "EPSG:32648", None).unwrap();
    v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let p = &f["properties"];
            assert_eq!(f["geometry"]["type"], "Polygon");
            let rings = f["geometry"]["coordinates"].as_array().unwrap();
            assert_eq!(rings.len(), 1);
            let mut pts: Vec<(f64, f64)> = rings[0]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| (c[0].as_f64().unwrap(), c[1].as_f64().unwrap()))
                .collect();
            assert_eq!(pts.first(), pts.last());
            to_utm.convert_array(&mut pts).unwrap();
            FileZone {
                code: p["zone_code"].as_str().unwrap().to_string(),
                species: p["species"].as_str().unwrap().to_string(),
                commune: p["commune_code"].as_str().unwrap().to_string(),
                poly: geo::Polygon::new(geo::LineString::from(pts), vec![]),
            }
        })
        .collect()
}

fn px_of(c: &Value) -> [usize; 4] {
    let v: Vec<usize> = c["px"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect();
    [v[0], v[1], v[2], v[3]]
}

/// The pixels of `px` grown by `m` pixels, as an EPSG:32648 rectangle.
fn px_rect(g: &Grid, px: [usize; 4], m: f64) -> geo::Rect<f64> {
    geo::Rect::new(
        (
            g.x0 + (px[0] as f64 - m) * g.dx,
            g.y0 - (px[3] as f64 + m) * g.dy,
        ),
        (
            g.x0 + (px[2] as f64 + m) * g.dx,
            g.y0 - (px[1] as f64 - m) * g.dy,
        ),
    )
}

#[test]
fn synth_zones_end_to_end_on_the_real_targets() {
    use geo::{Area, Contains, Distance, Euclidean, Intersects, Validation};
    let dir = tempfile::tempdir().unwrap();
    let o = SynthOptions {
        epochs: 3,
        targets: Some(targets_path()),
        ..opts(dir.path(), 100.0)
    };
    let s = generate(&o).unwrap();
    let t = truth(dir.path());
    let g = s.grid;
    let zones = read_zones(dir.path());
    assert_eq!(zones.len(), s.zones);
    let tz = &t["zones"];
    let items = tz["items"].as_array().unwrap();
    assert_eq!(items.len(), zones.len());

    // Codes, species, validity, size, and the areas the truth gives.
    let mut codes = std::collections::BTreeSet::new();
    for (z, it) in zones.iter().zip(items) {
        assert!(codes.insert(z.code.clone()), "duplicate {}", z.code);
        let sp = z.species.to_uppercase();
        assert!(["pine", "anise", "acacia", "cinnamon"].contains(&z.species.as_str()));
        let num = z.code.strip_prefix(&format!("LS-{sp}-")).unwrap();
        assert!(
            num.len() == 4 && num.chars().all(|c| c.is_ascii_digit()),
            "{}",
            z.code
        );
        assert!(z.poly.is_valid(), "{} invalid", z.code);
        assert!(
            z.poly.signed_area() > 0.0,
            "{} not counter-clockwise",
            z.code
        );
        let ha = z.poly.unsigned_area() / 1e4;
        assert!((50.0..=600.0).contains(&ha), "{} {ha} ha", z.code);
        assert_eq!(it["zone_code"].as_str(), Some(z.code.as_str()));
        assert!(
            (it["area_ha"].as_f64().unwrap() - ha).abs() < 1e-6,
            "{}",
            z.code
        );
    }

    // Inside their communes, >= 300 m from the boundary.
    let communes = communes::read(&communes_path(), "ma_xa", Some("ten_xa"), &[]).unwrap();
    for z in &zones {
        let c = communes.items.iter().find(|c| c.code == z.commune).unwrap();
        assert!(c.geom.contains(&z.poly), "{} outside {}", z.code, c.name);
        let boundary = geo::MultiLineString(
            c.geom
                .0
                .iter()
                .flat_map(|p| std::iter::once(p.exterior().clone()).chain(p.interiors().to_vec()))
                .collect(),
        );
        let d = Euclidean.distance(&boundary, z.poly.exterior());
        assert!(d >= 300.0, "{} only {d} m inside {}", z.code, c.name);
    }

    // Per species: 2-4 zones in every named commune, all names matched (the plan's
    // tone marks and "Lợi Bác"), and the truth's totals.
    let targets: toml::Table = std::fs::read_to_string(targets_path())
        .unwrap()
        .parse()
        .unwrap();
    let zt = targets["zone_target"].as_table().unwrap();
    assert_eq!(tz["unmatched"].as_array().unwrap().len(), 0);
    assert_eq!(tz["shortfalls"].as_array().unwrap().len(), 0);
    for (sp, v) in zt {
        let named = v["communes"].as_array().unwrap();
        let st = &tz["species"][sp];
        let used = st["communes"].as_array().unwrap();
        assert_eq!(used.len(), named.len(), "{sp}");
        let mine: Vec<&FileZone> = zones.iter().filter(|z| &z.species == sp).collect();
        assert_eq!(st["zones"].as_u64().unwrap() as usize, mine.len());
        let total: f64 = mine.iter().map(|z| z.poly.unsigned_area() / 1e4).sum();
        assert!((st["area_ha"].as_f64().unwrap() - total).abs() < 1e-6);
        for u in used {
            let n = mine
                .iter()
                .filter(|z| z.commune == u["code"].as_str().unwrap())
                .count();
            assert!((2..=4).contains(&n), "{sp} in {}: {n} zones", u["name"]);
            assert_eq!(u["zones"].as_u64().unwrap() as usize, n);
        }
        if sp == "pine" {
            assert!(used.iter().any(|u| u["name"] == "Lợi Bác"));
        }
    }

    // Same species never overlap; exactly two cross-species pairs do, partly, as
    // the truth says.
    let mut overlaps = Vec::new();
    for i in 0..zones.len() {
        for j in i + 1..zones.len() {
            let (a, b) = (&zones[i], &zones[j]);
            if !a.poly.intersects(&b.poly) {
                continue;
            }
            assert_ne!(a.species, b.species, "{} meets {}", a.code, b.code);
            let inter = geo::BooleanOps::intersection(&a.poly, &b.poly).unsigned_area() / 1e4;
            let smaller = (a.poly.unsigned_area() / 1e4).min(b.poly.unsigned_area() / 1e4);
            assert!(
                inter > 0.05 * smaller && inter < 0.6 * smaller,
                "{inter} of {smaller}"
            );
            overlaps.push((a.code.clone(), b.code.clone(), inter));
        }
    }
    assert_eq!(overlaps.len(), 2, "{overlaps:?}");
    let to = tz["overlaps"].as_array().unwrap();
    assert_eq!(to.len(), 2);
    for (a, b, inter) in &overlaps {
        let o = to
            .iter()
            .find(|o| {
                let (x, y) = (o["zone_a"].as_str().unwrap(), o["zone_b"].as_str().unwrap());
                (x == a && y == b) || (x == b && y == a)
            })
            .unwrap();
        assert!((o["area_ha"].as_f64().unwrap() - inter).abs() < 0.01);
    }

    // Zones are (nearly) all forest.
    let inside = tz["pixels_inside"].as_u64().unwrap() as f64;
    let forced = tz["pixels_forced"].as_u64().unwrap() as f64;
    assert!(
        (0.85..0.97).contains(&(forced / inside)),
        "{forced} / {inside}"
    );
    let (_, _, f0) = read_band::<u8>(&dir.path().join("truth/forest_2023.tif"), 1);
    let (mut n, mut f) = (0usize, 0usize);
    for z in &zones {
        let b = geo::BoundingRect::bounding_rect(&z.poly).unwrap();
        let c0 = ((b.min().x - g.x0) / g.dx) as usize;
        let r0 = ((g.y0 - b.max().y) / g.dy) as usize;
        let c1 = ((b.max().x - g.x0) / g.dx) as usize + 1;
        let r1 = ((g.y0 - b.min().y) / g.dy) as usize + 1;
        for r in r0..r1 {
            for c in c0..c1 {
                let p = geo::Point::new(
                    g.x0 + (c as f64 + 0.5) * g.dx,
                    g.y0 - (r as f64 + 0.5) * g.dy,
                );
                if z.poly.contains(&p) {
                    n += 1;
                    f += f0[r * g.width + c] as usize;
                }
            }
        }
    }
    assert!(f as f64 >= 0.9 * n as f64, "forest {f} of {n} zone pixels");

    // Planted changes against the zones, per epoch pair.
    let changes = t["changes"].as_array().unwrap();
    for (from, to) in [("2023", "2024"), ("2024", "2025")] {
        let of: Vec<&Value> = changes
            .iter()
            .filter(|c| c["from"] == from && c["to"] == to)
            .collect();
        let count = |kind: &str, sp: &str| {
            of.iter()
                .filter(|c| c["kind"] == kind && c["zone_species"] == sp)
                .count()
        };
        assert!(count("harvest", "acacia") >= 3);
        assert!(count("harvest", "pine") >= 2);
        assert!(count("clearing", "anise") >= 2);
        assert!(count("clearing", "cinnamon") >= 2);
        assert_eq!(
            of.iter()
                .filter(|c| c["cloud_covered_in_to_epoch"] == true)
                .count(),
            1
        );
        assert_eq!(
            of.iter().filter(|c| c["straddles_tiles"] == true).count(),
            1
        );
        let exp = t["alerts"]["expected"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["from"] == from)
            .unwrap();
        assert_eq!(
            exp["low"].as_u64().unwrap() as usize,
            count("harvest", "acacia") + count("harvest", "pine")
        );
    }
    for c in changes {
        let px = px_of(c);
        let area = c["area_ha"].as_f64().unwrap();
        let kind = c["kind"].as_str().unwrap();
        let sev = c["expected_severity"].as_str();
        let grown = px_rect(&g, px, 2.0);
        match c["zone_species"].as_str() {
            Some(sp) => {
                let code = c["zone_code"].as_str().unwrap();
                let z = zones.iter().find(|z| z.code == code).unwrap();
                assert_eq!(z.species, sp);
                assert!(
                    z.poly.contains(&grown),
                    "change {} not 2 px inside {code}",
                    c["id"]
                );
                for o in zones.iter().filter(|o| o.code != code) {
                    assert!(
                        !o.poly.intersects(&grown),
                        "change {} near {}",
                        c["id"],
                        o.code
                    );
                }
                match sp {
                    "acacia" | "pine" => {
                        assert_eq!(kind, "harvest");
                        assert!((0.9..=10.0).contains(&area), "harvest of {area} ha");
                        assert_eq!(sev, Some("low"));
                    }
                    _ => {
                        assert_eq!(kind, "clearing");
                        assert!(area >= 0.5);
                        assert_eq!(sev, Some("medium"));
                    }
                }
            }
            None => {
                assert!(c["zone_code"].is_null());
                assert_ne!(kind, "harvest");
                for z in &zones {
                    assert!(
                        !z.poly.intersects(&grown),
                        "change {} near {}",
                        c["id"],
                        z.code
                    );
                }
                let want =
                    if kind == "regrowth" || c["cloud_covered_in_to_epoch"] == true || area < 0.3 {
                        None
                    } else {
                        Some("high")
                    };
                assert_eq!(sev, want, "change {}", c["id"]);
            }
        }
    }
    // At least 3 px between any two planted changes.
    for (i, a) in changes.iter().enumerate() {
        for b in &changes[i + 1..] {
            let (p, q) = (px_of(a), px_of(b));
            let gap_c = q[0].saturating_sub(p[2]).max(p[0].saturating_sub(q[2]));
            let gap_r = q[1].saturating_sub(p[3]).max(p[1].saturating_sub(q[3]));
            assert!(gap_c.max(gap_r) >= 3, "changes {} and {}", a["id"], b["id"]);
        }
    }
    // Nothing but the planted changes changes.
    let (_, _, f1) = read_band::<u8>(&dir.path().join("truth/forest_2024.tif"), 1);
    let planted: usize = changes
        .iter()
        .filter(|c| c["from"] == "2023")
        .map(|c| c["pixels"].as_u64().unwrap() as usize)
        .sum();
    assert_eq!(f0.iter().zip(&f1).filter(|(a, b)| a != b).count(), planted);

    let rt: toml::Table = std::fs::read_to_string(dir.path().join("region.toml"))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(rt["zones"]["path"].as_str(), Some("zones.geojson"));
    assert_eq!(rt["zones"]["species_field"].as_str(), Some("species"));
    assert_eq!(rt["zones"]["code_field"].as_str(), Some("zone_code"));
    assert_eq!(rt["alerts"]["min_area_ha"].as_float(), Some(0.3));
}

#[test]
fn synth_zone_outputs_are_deterministic() {
    let run = |threads: usize| {
        let dir = tempfile::tempdir().unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let o = SynthOptions {
            targets: Some(targets_path()),
            ..opts(dir.path(), 250.0)
        };
        pool.install(|| generate(&o)).unwrap();
        let files = all_files(dir.path());
        (dir, files)
    };
    let (_d1, a) = run(1);
    let (_d2, b) = run(2);
    assert!(a.contains_key(Path::new("zones.geojson")));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (k, v) in &a {
        if k != Path::new("region.toml") {
            assert!(v == &b[k], "{} differs", k.display());
        }
    }
}

#[test]
fn synth_without_targets_has_no_zones() {
    let dir = tempfile::tempdir().unwrap();
    let s = generate(&opts(dir.path(), 500.0)).unwrap();
    assert_eq!(s.zones, 0);
    assert!(!dir.path().join("zones.geojson").exists());
    let t = truth(dir.path());
    assert!(t["zones"].is_null());
    for c in t["changes"].as_array().unwrap() {
        assert!(c["zone_species"].is_null() && c["zone_code"].is_null());
        assert_ne!(c["kind"], "harvest");
    }
    let rt: toml::Table = std::fs::read_to_string(dir.path().join("region.toml"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(rt.get("zones").is_none());
    assert_eq!(rt["alerts"]["min_area_ha"].as_float(), Some(0.3));
}
