//! End-to-end: composite epochs (max-NDVI over dated scenes) and priority epochs
//! with dated tiles, on a hand-built region of 200 × 700 pixels (three strips of
//! 256 rows, so threads have strips to share): the figures and alerts do not
//! depend on the thread count, each alert's confirming observations and first
//! clear date are the ones planted, and the per-commune scenes and clear
//! observations are shown by `canopy stats` and `GET /stats/observations`.

mod common;

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use canopy_pipeline::gdal::raster::Buffer;
use canopy_pipeline::gdal::spatial_ref::SpatialRef;
use canopy_pipeline::gdal::{DriverManager, Metadata};
use common::*;
use http_body_util::BodyExt;
use tower::ServiceExt;

const ROWS: usize = 700;
const COLS: usize = 200;

/// Commune A (x 55..1003 m, y 97..6905 m below the top) and B (x 953..1917.5,
/// y 402.5..6803), overlapping by 50 m.
const CA: [f64; 4] = [X0 + 55.0, Y0 - 6_905.0, X0 + 1_003.0, Y0 - 97.0];
const CB: [f64; 4] = [X0 + 953.0, Y0 - 6_803.0, X0 + 1_917.5, Y0 - 402.5];

type Pred = dyn Fn(usize, usize) -> bool;

/// A pixel state of one scene: masked cloud, unmasked haze (low NDVI), or the land.
struct Scene<'a> {
    date: &'a str,
    cloud: &'a Pred,
    haze: &'a Pred,
    forest: &'a Pred,
}

/// A full-grid 3-band tile (red, NIR, cloud mask) dated `scene.date`.
fn write_scene(path: &Path, s: &Scene) {
    let driver = DriverManager::get_driver_by_name("GTiff").unwrap();
    let mut ds = driver
        .create_with_band_type::<u16, _>(path, COLS, ROWS, 3)
        .unwrap();
    ds.set_geo_transform(&[X0, PX, 0.0, Y0, 0.0, -PX]).unwrap();
    ds.set_spatial_ref(&SpatialRef::from_epsg(32648).unwrap())
        .unwrap();
    ds.set_metadata_item("ACQUISITIONDATETIME", &format!("{}T03:30:00Z", s.date), "")
        .unwrap();
    let (mut red, mut nir, mut mask) = (vec![], vec![], vec![]);
    for r in 0..ROWS {
        for c in 0..COLS {
            let cl = (s.cloud)(c, r);
            let (rr, nn) = if cl {
                (0.35, 0.38)
            } else if (s.haze)(c, r) {
                (0.06, 0.15)
            } else if (s.forest)(c, r) {
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
        let mut buf = Buffer::new((COLS, ROWS), data);
        b.write((0, 0), (COLS, ROWS), &mut buf).unwrap();
    }
}

fn rect(c: usize, r: usize, cols: std::ops::Range<usize>, rows: std::ops::Range<usize>) -> bool {
    cols.contains(&c) && rows.contains(&r)
}

/// Clearing 1: cols 60..80, rows 20..30 (2 ha, inside A). Clearing 2: cols
/// 100..120, rows 500..520 (4 ha, across the strip boundary at row 512 and the
/// communes' overlap). Both forest on the checkerboard, cut before the 2025 scenes.
fn forest_2025(c: usize, r: usize) -> bool {
    is_forest(c, r) && !rect(c, r, 60..80, 20..30) && !rect(c, r, 100..120, 500..520)
}

fn ring(r: [f64; 4]) -> String {
    let [x0, y0, x1, y1] = r;
    format!("[[[{x0},{y0}],[{x1},{y0}],[{x1},{y1}],[{x0},{y1}],[{x0},{y0}]]]")
}

fn epoch(id: &str, date: &str, glob: &str, composite: Option<&str>) -> String {
    let c = composite
        .map(|m| format!("composite = \"{m}\"\n"))
        .unwrap_or_default();
    format!(
        "\n[[epochs]]\nid = \"{id}\"\ndate = \"{date}\"\ntiles = [\"{glob}\"]\n\
         red_band = 1\nnir_band = 2\nmask_band = 3\n{c}"
    )
}

fn base(d: &Path) {
    std::fs::write(
        d.join("communes.geojson"),
        communes_geojson(&[
            ("00001", "Lộc Bình", ring(CA)),
            ("00002", "Đình Lập", ring(CB)),
        ]),
    )
    .unwrap();
}

const HEAD: &str = "name = \"Composite fixture\"\narea_crs = \"EPSG:32648\"\n\n[communes]\n\
path = \"communes.geojson\"\ncode_field = \"code\"\nname_field = \"name\"\n\n[forest]\nndvi_min = 0.55\n";

fn no(_: usize, _: usize) -> bool {
    false
}

// 2024: clouds moving between scenes; 2025: clouds over the clearings on the
// first dates, and haze the mask misses over rows 300..340 on the second.
fn cloud24(k: usize) -> impl Fn(usize, usize) -> bool {
    move |c, r| match k {
        0 => rect(c, r, 0..50, 0..100),
        1 => rect(c, r, 100..200, 200..260),
        3 => rect(c, r, 0..200, 600..700),
        _ => false,
    }
}
fn cloud25(k: usize) -> impl Fn(usize, usize) -> bool {
    move |c, r| (k == 0 && rect(c, r, 55..85, 15..35)) || (k <= 1 && rect(c, r, 95..125, 495..525))
}
const DATES24: [&str; 4] = ["2024-06-10", "2024-06-20", "2024-07-05", "2024-07-25"];
const DATES25: [&str; 4] = ["2025-06-12", "2025-06-22", "2025-07-07", "2025-07-27"];

/// Two max-NDVI epochs of four dated scenes each.
fn composite_region() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    base(d.path());
    for (y, dates) in [("2024", DATES24), ("2025", DATES25)] {
        std::fs::create_dir_all(d.path().join(y)).unwrap();
        for (k, date) in dates.iter().enumerate() {
            let cloud: Box<Pred> = if y == "2024" {
                Box::new(cloud24(k))
            } else {
                Box::new(cloud25(k))
            };
            let haze =
                move |c: usize, r: usize| y == "2025" && k == 1 && rect(c, r, 0..200, 300..340);
            let forest: &Pred = if y == "2024" {
                &is_forest
            } else {
                &forest_2025
            };
            write_scene(
                &d.path().join(format!("{y}/s{k}.tif")),
                &Scene {
                    date,
                    cloud: &cloud,
                    haze: &haze,
                    forest,
                },
            );
        }
    }
    let text = format!(
        "{HEAD}{}{}",
        epoch("2024", "2024-12-31", "2024/*.tif", Some("max-ndvi")),
        epoch("2025", "2025-12-31", "2025/*.tif", Some("max-ndvi"))
    );
    std::fs::write(d.path().join("region.toml"), text).unwrap();
    d
}

fn run_threads(d: &Path, store: &Path, threads: &str) {
    let o = canopy()
        .args([
            "run",
            &path_str(&d.join("region.toml")),
            "--store",
            &path_str(store),
        ])
        .env("RAYON_NUM_THREADS", threads)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

fn out_ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(o.status.success(), "{}", stderr(&o));
    String::from_utf8(o.stdout).unwrap()
}

fn alerts(store: &Path) -> serde_json::Value {
    serde_json::from_str(&out_ok(&[
        "alerts",
        "--store",
        &path_str(store),
        "--format",
        "geojson",
    ]))
    .unwrap()
}

/// The stored alerts sorted by area: (area ha, clear_obs, first_seen).
fn alert_facts(store: &Path) -> Vec<(f64, i64, String)> {
    let mut out: Vec<_> = canopy_store::read_alerts(store)
        .unwrap()
        .into_iter()
        .map(|a| (a.area_ha, a.clear_obs, a.first_seen))
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// Area (m²) of rectangle `r` ∩ the pixels where `pred` holds.
fn area_where(r: [f64; 4], pred: &dyn Fn(usize, usize) -> bool) -> f64 {
    let mut a = 0.0;
    for row in 0..ROWS {
        for col in 0..COLS {
            if pred(col, row) {
                let px0 = X0 + col as f64 * PX;
                let py1 = Y0 - row as f64 * PX;
                let ox = (r[2].min(px0 + PX) - r[0].max(px0)).max(0.0);
                let oy = (r[3].min(py1) - r[1].max(py1 - PX)).max(0.0);
                a += ox * oy;
            }
        }
    }
    a
}

#[test]
fn composite_run_is_bit_identical_on_one_and_two_threads() {
    let d = composite_region();
    let mut seen = Vec::new();
    for t in ["1", "2"] {
        let store = d.path().join(format!("out/t{t}.gpkg"));
        run_threads(d.path(), &store, t);
        let s = path_str(&store);
        let stats = out_ok(&["stats", "--store", &s, "--format", "json"]);
        let table = out_ok(&["stats", "--store", &s]);
        let obs = canopy_store::read_observations(&store).unwrap();
        let change = canopy_store::read_change(&store).unwrap().0;
        // Every figure as its bits, alert ids and outlines as stored.
        let obs_bits: Vec<_> = obs
            .iter()
            .map(|o| {
                (
                    o.commune_code.clone(),
                    o.epoch.clone(),
                    o.scenes,
                    o.clear_obs.to_bits(),
                )
            })
            .collect();
        let change_bits: Vec<_> = change
            .iter()
            .map(|r| {
                (
                    r.commune_code.clone(),
                    r.loss_ha.to_bits(),
                    r.gain_ha.to_bits(),
                    r.unobserved_ha.to_bits(),
                )
            })
            .collect();
        seen.push((
            stats,
            table,
            format!("{obs_bits:?}"),
            format!("{change_bits:?}"),
            alerts(&store).to_string(),
            // Stored alerts in full (f64 Debug is the shortest exact form).
            format!("{:?}", canopy_store::read_alerts(&store).unwrap()),
        ));
    }
    assert_eq!(seen[0].0, seen[1].0, "stats JSON");
    assert_eq!(seen[0].1, seen[1].1, "stats table");
    assert_eq!(seen[0].2, seen[1].2, "observations");
    assert_eq!(seen[0].3, seen[1].3, "change rows");
    assert_eq!(seen[0].4, seen[1].4, "alerts (ids, outlines, properties)");
    assert_eq!(seen[0].5, seen[1].5, "stored alerts");
    assert!(
        seen[0].5.contains("first_seen: \"2025-06-22\""),
        "{}",
        seen[0].5
    );
}

#[test]
fn composite_alerts_carry_their_confirming_observations_and_first_date() {
    let d = composite_region();
    let (store, _) = run_region(d.path());
    // The haze over rows 300..340 (second 2025 date) raises nothing: the max NDVI
    // of the other dates sees the forest. Clearing 1 is under cloud on the first
    // date: 3 clear dates confirm it, first on the second date. Clearing 2 is
    // under cloud on the first two dates: 2 confirm it, first on the third.
    let facts = alert_facts(&store);
    assert_eq!(
        facts
            .iter()
            .map(|f| (f.1, f.2.as_str()))
            .collect::<Vec<_>>(),
        vec![(3, DATES25[1]), (2, DATES25[2])],
        "{facts:?}"
    );
    assert!((facts[0].0 - 2.0).abs() < 1e-9, "{facts:?}");
    assert!((facts[1].0 - 4.0).abs() < 1e-9, "{facts:?}");

    // Scenes and clear observations per commune: 4 scenes; the mean clear
    // observations per pixel is 4 less the clouds' share, by hand.
    let obs = canopy_store::read_observations(&store).unwrap();
    for (code, r) in [("00001", CA), ("00002", CB)] {
        for (ep, cloud) in [
            (
                "2024",
                (0..4)
                    .map(|k| Box::new(cloud24(k)) as Box<Pred>)
                    .collect::<Vec<_>>(),
            ),
            (
                "2025",
                (0..4).map(|k| Box::new(cloud25(k)) as Box<Pred>).collect(),
            ),
        ] {
            let area = (r[2] - r[0]) * (r[3] - r[1]);
            let clouded: f64 = cloud.iter().map(|c| area_where(r, c.as_ref())).sum();
            let want = 4.0 - clouded / area;
            let o = obs
                .iter()
                .find(|o| o.commune_code == code && o.epoch == ep)
                .unwrap_or_else(|| panic!("no row {code} {ep}: {obs:?}"));
            assert_eq!(o.scenes, 4, "{o:?}");
            assert!((o.clear_obs - want).abs() < 1e-9, "{o:?} vs {want}");
        }
    }
    // `canopy stats` shows them (the last epoch by default).
    let table = out_ok(&["stats", "--store", &path_str(&store)]);
    assert!(
        table.contains("Scenes and clear observations, epoch 2025"),
        "{table}"
    );
    let a = obs
        .iter()
        .find(|o| o.commune_code == "00001" && o.epoch == "2025")
        .unwrap();
    let line = table
        .lines()
        .find(|l| l.starts_with("00001") && l.contains(&format!("{:.2}", a.clear_obs)))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(line.split_whitespace().any(|w| w == "4"), "{line}");
}

#[tokio::test]
async fn http_stats_observations() {
    let d = composite_region();
    let (store, _) = run_region(d.path());
    let state = Arc::new(
        canopy_server::AppState::open(
            store.clone(),
            canopy_server::auth::Tokens::none(),
            canopy_server::Settings::default(),
        )
        .unwrap(),
    );
    let app = canopy_server::router(state);
    let get = |uri: &str| {
        Request::get(uri)
            .header("host", "canopy.test")
            .body(Body::empty())
            .unwrap()
    };
    let r = app
        .clone()
        .oneshot(get("/stats/observations?epoch=2025&commune=00002"))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: serde_json::Value =
        serde_json::from_slice(&r.into_body().collect().await.unwrap().to_bytes()).unwrap();
    let rows = v["observations"].as_array().unwrap();
    let stored = canopy_store::read_observations(&store).unwrap();
    let want = stored
        .iter()
        .find(|o| o.commune_code == "00002" && o.epoch == "2025")
        .unwrap();
    assert_eq!(rows.len(), 1, "{v}");
    assert_eq!(rows[0]["scenes"], 4);
    assert!((rows[0]["clear_obs"].as_f64().unwrap() - want.clear_obs).abs() < 1e-12);
    // All rows: 2 communes + the province, 2 epochs.
    let r = app
        .clone()
        .oneshot(get("/stats/observations"))
        .await
        .unwrap();
    let v: serde_json::Value =
        serde_json::from_slice(&r.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(v["observations"].as_array().unwrap().len(), 6, "{v}");
    // An unknown epoch is a 400 naming it.
    let r = app
        .oneshot(get("/stats/observations?epoch=1999"))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

/// Priority epochs: the first clear tile wins, and an alert's first_seen is the
/// date of the tile that saw the clearing, not the epoch's date.
#[test]
fn priority_alerts_are_first_seen_on_their_scene_date() {
    let d = tempfile::tempdir().unwrap();
    base(d.path());
    std::fs::create_dir_all(d.path().join("2024")).unwrap();
    std::fs::create_dir_all(d.path().join("2025")).unwrap();
    write_scene(
        &d.path().join("2024/a.tif"),
        &Scene {
            date: "2024-06-01",
            cloud: &no,
            haze: &no,
            forest: &is_forest,
        },
    );
    // The first 2025 tile (in the region file's order) is clouded over clearing 1
    // only; the second sees it.
    let c1 = |c: usize, r: usize| rect(c, r, 55..85, 15..35);
    write_scene(
        &d.path().join("2025/a_0301.tif"),
        &Scene {
            date: "2025-03-01",
            cloud: &c1,
            haze: &no,
            forest: &forest_2025,
        },
    );
    write_scene(
        &d.path().join("2025/b_0501.tif"),
        &Scene {
            date: "2025-05-01",
            cloud: &no,
            haze: &no,
            forest: &forest_2025,
        },
    );
    let text = format!(
        "{HEAD}{}{}",
        epoch("2024", "2024-12-31", "2024/*.tif", None),
        epoch("2025", "2025-12-31", "2025/*.tif", None)
    );
    std::fs::write(d.path().join("region.toml"), text).unwrap();
    let (store, _) = run_region(d.path());
    let facts = alert_facts(&store);
    assert_eq!(
        facts
            .iter()
            .map(|f| (f.1, f.2.as_str()))
            .collect::<Vec<_>>(),
        vec![(1, "2025-05-01"), (1, "2025-03-01")],
        "{facts:?}"
    );
    assert!((facts[0].0 - 2.0).abs() < 1e-9 && (facts[1].0 - 4.0).abs() < 1e-9);
}
