//! End to end: a region with `[fire]` → `canopy run` → the `fire_danger` table and
//! the printed bulletin; bad station files fail the run and write nothing.

mod common;

use common::*;

/// Station W sits near commune 00001 (Lộc Bình, west), station E near 00002.
/// W: five dry days at 30 °C / 50 % (hand-worked: 635.06 each, see
/// `canopy_core::fire::tests`) → 3175.29 on 2026-01-05. E: the same, but 7 mm
/// of rain on 2026-01-04 → 0, then 635.06 on 2026-01-05.
fn stations() -> String {
    let mut s = String::from("station,lon,lat,date,t13,rh13,rain_mm\n");
    for d in 1..=5 {
        s.push_str(&format!("W,105.9700,21.6960,2026-01-0{d},30,50,0\n"));
        let rain = if d == 4 { 7.0 } else { 0.0 };
        s.push_str(&format!("E,105.9830,21.6930,2026-01-0{d},30,50,{rain}\n"));
    }
    s
}

fn fire_region(stations: &str) -> tempfile::TempDir {
    let d = region();
    std::fs::write(d.path().join("stations.csv"), stations).unwrap();
    let mut text = std::fs::read_to_string(d.path().join("region.toml")).unwrap();
    // Low thresholds so the fixture's five days reach level V.
    text.push_str("\n[fire]\nstations = \"stations.csv\"\nthresholds = [500, 1000, 2000, 3000]\n");
    std::fs::write(d.path().join("region.toml"), text).unwrap();
    d
}

#[test]
fn run_stores_the_daily_levels_and_prints_the_bulletin() {
    let d = fire_region(&stations());
    let (store, out) = run_region(d.path());
    let rows = canopy_store::read_danger(&store, None).unwrap();
    assert_eq!(rows.len(), 10, "2 communes × 5 days");
    let last: Vec<_> = rows.iter().filter(|r| r.date == "2026-01-05").collect();
    let (a, b) = (last[0], last[1]);
    assert_eq!(
        (a.commune_code.as_str(), a.station.as_str()),
        ("00001", "W")
    );
    assert!((a.index - 3175.29).abs() < 0.01, "{a:?}");
    assert_eq!(a.level, 5);
    assert_eq!(
        (b.commune_code.as_str(), b.station.as_str()),
        ("00002", "E")
    );
    assert!((b.index - 635.06).abs() < 0.01, "{b:?}");
    assert_eq!(b.level, 2);
    // Rain day: 0, level I.
    let b4 = rows
        .iter()
        .find(|r| r.commune_code == "00002" && r.date == "2026-01-04")
        .unwrap();
    assert_eq!((b4.index, b4.level), (0.0, 1));
    // Forest exposed = the commune's stored forest ha of the (only) epoch.
    let cover = cover_csv(&store);
    let forest_a = cover.iter().find(|c| c.0 == "00001").unwrap().2;
    assert!(
        (a.forest_ha - forest_a).abs() < 0.01,
        "{} vs {forest_a}",
        a.forest_ha
    );
    assert!(out.contains("Fire danger bulletin, 2026-01-05"), "{out}");
    assert!(out.contains("level V   00001 Lộc Bình"), "{out}");
    assert!(!out.contains("level II"), "only IV and V are listed: {out}");
}

#[test]
fn bad_station_files_fail_the_run_and_write_nothing() {
    for (text, want) in [
        (
            stations().replace("2026-01-05,30,50,0\n", "2026-01-05,30,101,0\n"),
            "0–100 %",
        ),
        (
            stations().replace("rain_mm", "rain"),
            "missing column \"rain_mm\"",
        ),
        (
            stations() + "W,105.9700,21.6960,2026-01-03,30,50,0\n",
            "dates must increase",
        ),
    ] {
        let d = fire_region(&text);
        let store = store_in(d.path());
        let o = run_into(d.path(), &store);
        assert!(!o.status.success());
        let e = stderr(&o);
        assert!(e.contains("stations.csv") && e.contains(want), "{e}");
        assert!(!store.exists());
    }
}

#[test]
fn a_bad_scheme_is_a_config_error() {
    let d = fire_region(&stations());
    let text = std::fs::read_to_string(d.path().join("region.toml"))
        .unwrap()
        .replace("[500, 1000, 2000, 3000]", "[500, 400, 2000, 3000]");
    std::fs::write(d.path().join("region.toml"), text).unwrap();
    let o = run(&["run", &path_str(&d.path().join("region.toml"))]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("[fire]: thresholds must be positive and increasing"));
}

// ---------------------------------------------------------------- hotspots

/// UTM 48N (the fixture's CRS) → WGS84 lon/lat, through GDAL/PROJ.
fn lonlat(x: f64, y: f64) -> (f64, f64) {
    use canopy_pipeline::gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
    let utm = SpatialRef::from_epsg(32648).unwrap();
    let mut wgs = SpatialRef::from_epsg(4326).unwrap();
    wgs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let t = CoordTransform::new(&utm, &wgs).unwrap();
    let (mut xs, mut ys, mut zs) = ([x], [y], [0.0]);
    t.transform_coords(&mut xs, &mut ys, &mut zs).unwrap();
    (xs[0], ys[0])
}

const VIIRS_HEADER: &str = "latitude,longitude,bright_ti4,scan,track,acq_date,acq_time,satellite,instrument,confidence,version,bright_ti5,frp,daynight\n";

fn viirs_row(x: f64, y: f64, date: &str, time: &str, conf: &str, frp: f64) -> String {
    let (lon, lat) = lonlat(x, y);
    format!(
        "{lat:.9},{lon:.9},335.2,0.39,0.36,{date},{time},N20,VIIRS,{conf},2.0NRT,291.4,{frp},N\n"
    )
}

/// Two touching VIIRS detections in commune A at the same overpass (one event,
/// alert), one low-confidence detection in B two days later (its own event, no
/// alert), one far outside the region; a GeoJSON file in the MODIS layout with
/// one more detection in B on the same day as the low one (within 1 km: joins
/// its event).
fn hotspot_region() -> tempfile::TempDir {
    let d = region();
    let mut csv = String::from(VIIRS_HEADER);
    csv += &viirs_row(600_300.0, 2_399_500.0, "2026-01-05", "618", "n", 4.5);
    csv += &viirs_row(600_690.0, 2_399_500.0, "2026-01-05", "618", "h", 9.25);
    csv += &viirs_row(601_500.0, 2_398_500.0, "2026-01-07", "1830", "l", 1.0);
    csv += &viirs_row(610_000.0, 2_399_000.0, "2026-01-05", "618", "h", 3.0);
    std::fs::write(d.path().join("viirs.csv"), csv).unwrap();
    let (lon, lat) = lonlat(601_700.0, 2_398_300.0);
    let gj = format!(
        r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{{"LATITUDE":{lat},"LONGITUDE":{lon},"BRIGHTNESS":318.0,"SCAN":1.0,"TRACK":1.0,"ACQ_DATE":"2026-01-07","ACQ_TIME":"0345","SATELLITE":"Terra","INSTRUMENT":"MODIS","CONFIDENCE":45,"VERSION":"6.1NRT","BRIGHT_T31":290.0,"FRP":12.0,"DAYNIGHT":"D"}},"geometry":{{"type":"Point","coordinates":[{lon},{lat}]}}}}]}}"#
    );
    std::fs::write(d.path().join("modis.geojson"), gj).unwrap();
    let mut text = std::fs::read_to_string(d.path().join("region.toml")).unwrap();
    text.push_str("\n[fire]\nhotspots = [\"viirs.csv\", \"modis.geojson\"]\n");
    std::fs::write(d.path().join("region.toml"), text).unwrap();
    d
}

fn footprint(x: f64, y: f64, scan_km: f64, track_km: f64) -> [f64; 4] {
    let (hx, hy) = (scan_km * 500.0, track_km * 500.0);
    [x - hx, y - hy, x + hx, y + hy]
}

#[test]
fn hotspots_get_footprints_forest_events_and_fire_alerts() {
    let d = hotspot_region();
    let (store, out) = run_region(d.path());
    let hs = canopy_store::Store::open(&store)
        .unwrap()
        .read()
        .unwrap()
        .hotspots()
        .unwrap();
    assert_eq!(hs.len(), 4, "4 of 5 detections are in the region: {hs:#?}");
    let observed = |c: usize, r: usize| !is_cloud(c, r);
    // Hand-computed forest of each footprint: rectangle × checkerboard.
    let want = [
        (footprint(600_300.0, 2_399_500.0, 0.39, 0.36), "00001"),
        (footprint(600_690.0, 2_399_500.0, 0.39, 0.36), "00001"),
        (footprint(601_700.0, 2_398_300.0, 1.0, 1.0), "00002"),
        (footprint(601_500.0, 2_398_500.0, 0.39, 0.36), "00002"),
    ];
    // Forest is measured on the working grid: the tile cut to the communes'
    // bounding box, snapped outward to whole pixels.
    let grid = [600_050.0, 2_398_190.0, 601_920.0, 2_399_910.0];
    let clip = |r: [f64; 4]| {
        [
            r[0].max(grid[0]),
            r[1].max(grid[1]),
            r[2].min(grid[2]),
            r[3].min(grid[3]),
        ]
    };
    for (h, (rect, commune)) in hs.iter().zip(want) {
        let (forest, _) = expected(clip(rect), &observed);
        let area = (rect[2] - rect[0]) * (rect[3] - rect[1]) / 10_000.0;
        assert!((h.footprint_ha - area).abs() < 1e-6, "{h:?} vs {area}");
        assert!(
            (h.forest_ha - forest).abs() < 1e-4,
            "{h:?}: want forest {forest}"
        );
        assert!((h.forest_fraction - forest / area).abs() < 1e-6, "{h:?}");
        assert_eq!(h.commune_code, commune);
    }
    assert_eq!(
        hs.iter().map(|h| h.alertable).collect::<Vec<_>>(),
        [true, true, true, false],
        "MODIS 45 is nominal; VIIRS l is low"
    );
    // Events: {0, 1} (touching, same overpass), {2, 3} (same day, 0 m apart).
    let ev = canopy_store::Store::open(&store)
        .unwrap()
        .read()
        .unwrap()
        .fire_events()
        .unwrap();
    assert_eq!(ev.len(), 2, "{ev:#?}");
    assert_eq!((hs[0].event_id == hs[1].event_id), true);
    assert_eq!(hs[2].event_id, hs[3].event_id);
    assert_ne!(hs[0].event_id, hs[2].event_id);
    let e0 = ev.iter().find(|e| e.event_id == hs[0].event_id).unwrap();
    let union = [600_105.0, 2_399_320.0, 600_885.0, 2_399_680.0];
    let (forest, _) = expected(union, &observed);
    assert!((e0.forest_ha - forest).abs() < 1e-4, "{e0:?} vs {forest}");
    assert!((e0.area_ha - 780.0 * 360.0 / 1e4).abs() < 1e-6);
    assert_eq!(
        (
            e0.hotspots,
            e0.max_frp_mw,
            e0.first_detection.as_str(),
            e0.severity.as_str()
        ),
        (2, 9.25, "2026-01-05T06:18Z", "high")
    );
    assert!(e0.alert);
    // The alert: kind fire, in the same table and triage flow as loss alerts.
    let alerts = canopy_store::read_alerts(&store).unwrap();
    let fire: Vec<_> = alerts
        .iter()
        .filter(|a| a.kind == canopy_store::AlertKind::Fire)
        .collect();
    assert_eq!(
        fire.len(),
        2,
        "both events touch forest and have a nominal+ detection"
    );
    let a = fire.iter().find(|a| a.id == e0.event_id).unwrap();
    assert_eq!(
        (a.from_date.as_str(), a.to_date.as_str()),
        ("2026-01-05", "2026-01-05")
    );
    assert!((a.area_ha - forest).abs() < 1e-4);
    assert_eq!((a.severity.as_str(), a.status.as_str()), ("high", "new"));
    let o = run(&[
        "triage",
        "--store",
        &path_str(&store),
        &a.id,
        "--status",
        "confirmed",
        "--by",
        "ranger",
        "--note",
        "smoke seen",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let again = canopy_store::read_alerts(&store).unwrap();
    assert_eq!(
        again.iter().find(|x| x.id == a.id).unwrap().status,
        "confirmed"
    );
    // Ids are stable: a re-run keeps the events' ids and the triage.
    let o = run_into(d.path(), &store);
    assert!(o.status.success(), "{}", stderr(&o));
    let third = canopy_store::read_alerts(&store).unwrap();
    assert_eq!(
        third.iter().find(|x| x.id == a.id).unwrap().status,
        "confirmed"
    );
    // Printed: the events and the detections outside.
    assert!(
        out.contains("5 detections read, 4 in the region, 1 outside; 2 events, 2 alerts"),
        "{out}"
    );
    assert!(out.contains(&e0.event_id), "{out}");
}

#[test]
fn low_confidence_alone_does_not_alert_unless_asked() {
    let d = region();
    let mut csv = String::from(VIIRS_HEADER);
    csv += &viirs_row(600_300.0, 2_399_500.0, "2026-01-05", "0618", "l", 4.5);
    std::fs::write(d.path().join("viirs.csv"), &csv).unwrap();
    let base = std::fs::read_to_string(d.path().join("region.toml")).unwrap();
    std::fs::write(
        d.path().join("region.toml"),
        format!("{base}\n[fire]\nhotspots = [\"viirs.csv\"]\n"),
    )
    .unwrap();
    let (store, _) = run_region(d.path());
    let n_fire = |s: &std::path::Path| {
        canopy_store::read_alerts(s)
            .map(|a| {
                a.iter()
                    .filter(|a| a.kind == canopy_store::AlertKind::Fire)
                    .count()
            })
            .unwrap_or(0)
    };
    assert_eq!(
        canopy_store::Store::open(&store)
            .unwrap()
            .read()
            .unwrap()
            .fire_events()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(n_fire(&store), 0);
    std::fs::write(
        d.path().join("region.toml"),
        format!("{base}\n[fire]\nhotspots = [\"viirs.csv\"]\nalert_low_confidence = true\n"),
    )
    .unwrap();
    let (store, _) = run_region(d.path());
    assert_eq!(n_fire(&store), 1);
}

#[test]
fn a_firms_file_of_unknown_layout_fails_naming_the_file() {
    let d = hotspot_region();
    std::fs::write(d.path().join("viirs.csv"), "lat,lon,frp\n21.7,106.0,3\n").unwrap();
    let store = store_in(d.path());
    let o = run_into(d.path(), &store);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("viirs.csv") && e.contains("unknown layout"),
        "{e}"
    );
    assert!(!store.exists());
    // A bad row: named by line.
    let mut csv = String::from(VIIRS_HEADER);
    csv += &viirs_row(600_300.0, 2_399_500.0, "2026-01-05", "2461", "n", 4.5);
    std::fs::write(d.path().join("viirs.csv"), csv).unwrap();
    let o = run_into(d.path(), &store);
    let e = stderr(&o);
    assert!(
        e.contains("viirs.csv, line 2") && e.contains("acq_time \"2461\""),
        "{e}"
    );
    assert!(!store.exists());
}
