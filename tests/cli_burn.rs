//! Burned area (issue 17) end to end on hand-built tiles: NBR, dNBR and the
//! burn-severity classes per commune against figures worked by hand, the cause
//! `fire` of a burned clearing's loss alert, and the warning of a pair without
//! SWIR (not a silent zero).

mod common;

use std::path::Path;

use canopy_pipeline::gdal::raster::Buffer;
use canopy_pipeline::gdal::spatial_ref::SpatialRef;
use canopy_pipeline::gdal::DriverManager;
use common::*;

/// The burned clearing of 2025: the fixture's planted clearing (60..80 × 20..30,
/// forest in 2024), 2 ha.
fn burned(c: usize, r: usize) -> bool {
    (60..80).contains(&c) && (20..30).contains(&r)
}

/// A 4-band tile (red, NIR, mask, SWIR2) over the whole fixture grid. Forest:
/// red 0.03, NIR 0.30, SWIR2 0.05 (NBR 0.25 / 0.35 = 0.714); other land: red
/// 0.08, NIR 0.20, SWIR2 0.10; with `burn`, the burned clearing: red 0.10,
/// NIR 0.12, SWIR2 0.20 (NDVI 0.09: non-forest; NBR −0.25: dNBR 0.964, high).
fn write_swir_tile(path: &Path, burn: bool) {
    let driver = DriverManager::get_driver_by_name("GTiff").unwrap();
    let mut ds = driver
        .create_with_band_type::<u16, _>(path, N, N, 4)
        .unwrap();
    ds.set_geo_transform(&[X0, PX, 0.0, Y0, 0.0, -PX]).unwrap();
    ds.set_spatial_ref(&SpatialRef::from_epsg(32648).unwrap())
        .unwrap();
    let mut bands = vec![Vec::with_capacity(N * N); 4];
    for r in 0..N {
        for c in 0..N {
            let (rd, ni, sw) = if burn && burned(c, r) {
                (0.10, 0.12, 0.20)
            } else if is_forest(c, r) {
                (0.03, 0.30, 0.05)
            } else {
                (0.08, 0.20, 0.10)
            };
            bands[0].push(dn(rd));
            bands[1].push(dn(ni));
            bands[2].push(0);
            bands[3].push(dn(sw));
        }
    }
    for (i, data) in bands.into_iter().enumerate() {
        let mut b = ds.rasterband(i + 1).unwrap();
        if i != 2 {
            b.set_scale(1e-4).unwrap();
            b.set_offset(-0.1).unwrap();
            b.set_no_data_value(Some(0.0)).unwrap();
        }
        let mut buf = Buffer::new((N, N), data);
        b.write((0, 0), (N, N), &mut buf).unwrap();
    }
}

fn swir_region() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for y in ["2024", "2025"] {
        std::fs::create_dir_all(d.path().join(y)).unwrap();
        write_swir_tile(&d.path().join(y).join("a.tif"), y == "2025");
    }
    std::fs::write(d.path().join("communes.geojson"), default_communes()).unwrap();
    let mut text = REGION.replace("tiles/*.tif", "2024/*.tif");
    text.push_str("swir_band = 4\n");
    text.push_str(
        "\n[[epochs]]\nid = \"2025\"\ndate = \"2025-12-31\"\ntiles = [\"2025/*.tif\"]\n\
         red_band = 1\nnir_band = 2\nmask_band = 3\nswir_band = 4\n",
    );
    std::fs::write(d.path().join("region.toml"), text).unwrap();
    d
}

#[test]
fn burned_ha_by_class_and_alert_cause_by_hand() {
    let d = swir_region();
    let (store, stdout) = run_region(d.path());
    let r = canopy_store::Store::open(&store).unwrap().read().unwrap();
    let rows = r.burned_area().unwrap();
    let row = |unit: &str, code: &str| {
        rows.iter()
            .find(|x| x.unit == unit && x.code == code)
            .unwrap_or_else(|| panic!("no burned_area row {unit} {code}: {rows:?}"))
    };
    use canopy_core::burn::BurnClass;
    // Commune A holds the whole 2 ha clearing: all of it high severity.
    let a = row("commune", "00001");
    assert!((a.burned_ha() - 2.0).abs() < 1e-9, "{a:?}");
    assert!((a.ha(BurnClass::High) - 2.0).abs() < 1e-9, "{a:?}");
    // The rest of A's 2024 forest has dNBR 0: unburned (exact coverage by hand).
    let forest_a = expected_where(A, &|c, r| is_forest(c, r) && !burned(c, r));
    assert!(
        (a.ha(BurnClass::Unburned) - forest_a).abs() < 1e-6,
        "{a:?} vs {forest_a}"
    );
    assert_eq!(a.no_dnbr_ha, 0.0);
    let b = row("commune", "00002");
    assert_eq!(b.burned_ha(), 0.0);
    let forest_b = expected_where(B, &|c, r| is_forest(c, r));
    assert!((b.ha(BurnClass::Unburned) - forest_b).abs() < 1e-6);
    let p = row("province", canopy_store::PROVINCE_CODE);
    assert!((p.burned_ha() - 2.0).abs() < 1e-9);
    // The clearing's loss alert is wholly burned: cause fire.
    let alerts = r.alerts().unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!((alerts[0].area_ha - 2.0).abs() < 1e-9);
    assert_eq!(alerts[0].cause, canopy_store::AlertCause::Fire);
    assert!(stdout.contains("Burned forest 2024 → 2025"), "{stdout}");
    let o = run(&["alerts", "--store", &path_str(&store)]);
    let table = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        table.lines().nth(1).unwrap().contains(" loss  fire "),
        "{table}"
    );
}

#[test]
fn no_burn_measures_zero() {
    // 2025 as 2024: no burn, no loss; the burned area is zero, measured (rows
    // exist), not absent.
    let d = swir_region();
    write_swir_tile(&d.path().join("2025/a.tif"), false);
    let (store, _) = run_region(d.path());
    let r = canopy_store::Store::open(&store).unwrap().read().unwrap();
    let rows = r.burned_area().unwrap();
    assert_eq!(rows.len(), 3, "two communes and the province: {rows:?}");
    assert!(rows.iter().all(|x| x.burned_ha() == 0.0), "{rows:?}");
    assert!(r.alerts().unwrap().is_empty());
}

#[test]
fn pair_without_swir_warns() {
    let d = region_two_epochs();
    let store = store_in(d.path());
    let o = run_into(d.path(), &store);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("\"2024\" → \"2025\": no burned area") && err.contains("has no swir_band"),
        "{err}"
    );
    let r = canopy_store::Store::open(&store).unwrap().read().unwrap();
    assert!(r.burned_area().unwrap().is_empty());
    let w = r.warnings().unwrap();
    assert!(
        w.iter()
            .any(|(src, m)| src == "burn" && m.contains("no burned area")),
        "{w:?}"
    );
    let alerts = r.alerts().unwrap();
    assert!(!alerts.is_empty());
    assert!(alerts
        .iter()
        .all(|a| a.cause == canopy_store::AlertCause::Unknown));
}

#[test]
fn swir_band_out_of_range_names_the_tile() {
    let d = swir_region();
    let text = std::fs::read_to_string(d.path().join("region.toml"))
        .unwrap()
        .replacen("swir_band = 4", "swir_band = 5", 1);
    std::fs::write(d.path().join("region.toml"), text).unwrap();
    let o = run_into(d.path(), &store_in(d.path()));
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("a.tif") && err.contains("swir_band = 5"),
        "{err}"
    );
}

#[tokio::test]
async fn stats_burned_area_serves_the_stored_rows() {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let d = swir_region();
    let (store, _) = run_region(d.path());
    let st = std::sync::Arc::new(
        canopy_server::AppState::open(
            store.clone(),
            canopy_server::auth::Tokens::none(),
            canopy_server::Settings::default(),
        )
        .unwrap(),
    );
    let app = canopy_server::router(st);
    let get = |uri: &str| {
        let app = app.clone();
        let req = Request::get(uri)
            .header("host", "canopy.test")
            .body(Body::empty())
            .unwrap();
        async move {
            let r = app.oneshot(req).await.unwrap();
            let status = r.status();
            let bytes = r.into_body().collect().await.unwrap().to_bytes();
            (
                status,
                serde_json::from_slice::<serde_json::Value>(&bytes).unwrap_or_default(),
            )
        }
    };
    let (s, j) = get("/stats/burned-area").await;
    assert_eq!(s, StatusCode::OK, "{j}");
    assert_eq!(j["from_epoch"], "2024");
    assert_eq!(j["to_epoch"], "2025");
    assert!(
        (j["province"]["burned_ha"].as_f64().unwrap() - 2.0).abs() < 1e-9,
        "{j}"
    );
    assert!((j["province"]["classes"]["high_ha"].as_f64().unwrap() - 2.0).abs() < 1e-9);
    let a = j["communes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "00001")
        .unwrap();
    assert!((a["burned_ha"].as_f64().unwrap() - 2.0).abs() < 1e-9);
    let (s, j) = get("/stats/burned-area?from=2025").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{j}");
    // A store without burned area: 404 that says why.
    let d2 = region_two_epochs();
    let (store2, _) = run_region(d2.path());
    let st2 = std::sync::Arc::new(
        canopy_server::AppState::open(
            store2,
            canopy_server::auth::Tokens::none(),
            canopy_server::Settings::default(),
        )
        .unwrap(),
    );
    let r = canopy_server::router(st2)
        .oneshot(
            Request::get("/stats/burned-area")
                .header("host", "canopy.test")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}
