//! Typed rows written by `Store::write` read back equal, through one `Reader`;
//! triage appends check the alert by attribute filter and the writer's event count.

use canopy_core::change::Severity;
use canopy_core::stats::CoverFigures;
use canopy_core::triage::TriageStatus;
use canopy_store::{
    Alert, AlertKind, ChangeRow, CommuneOut, CoverRow, EpochRecord, RunRecord, Store, StoreError,
    Tables, TriageEvent,
};
use geo::{polygon, MultiPolygon};

fn square(x: f64, y: f64) -> MultiPolygon<f64> {
    MultiPolygon(vec![polygon![
        (x: x, y: y), (x: x + 0.01, y: y), (x: x + 0.01, y: y + 0.01), (x: x, y: y + 0.01)
    ]])
}

fn alert(id: &str, severity: Severity) -> Alert {
    Alert {
        id: id.into(),
        from_epoch: "2020".into(),
        to_epoch: "2025".into(),
        from_date: "2020-12-31".into(),
        to_date: "2025-12-31".into(),
        geom_wgs84: square(106.0, 21.0),
        area_ha: 1.25,
        pixels: 14,
        centroid: (106.005, 21.005),
        commune_code: "001".into(),
        communes: vec![("001".into(), 1.0), ("002".into(), 0.25)],
        zone_species: None,
        zone_code: None,
        natural_lost: Some(true),
        natural_lost_ha: 1.0,
        severity,
        clear_obs: 3,
        first_seen: "2025-03-01".into(),
        season_mismatch: false,
        kind: AlertKind::Loss,
        cause: canopy_store::alerts::AlertCause::Fire,
    }
}

fn write(path: &std::path::Path, alerts: &[Alert]) {
    let communes = [CommuneOut {
        code: "001".into(),
        name: "Lộc Bình".into(),
        geom_wgs84: square(106.0, 21.0),
        natural_ha: 123.5,
    }];
    let fig = |f: f64| CoverFigures {
        natural_ha: 123.5,
        forest_ha: f,
        observed_ha: 120.0,
        unobserved_ha: 3.5,
        cover_pct: Some(f / 123.5 * 100.0),
        observed_pct: 120.0 / 123.5 * 100.0,
    };
    let cover = [
        CoverRow {
            commune_code: "001".into(),
            epoch: "2020".into(),
            figures: fig(80.0),
        },
        CoverRow {
            commune_code: "001".into(),
            epoch: "2025".into(),
            figures: fig(78.75),
        },
    ];
    let epochs = ["2020", "2025"].map(|e| EpochRecord {
        id: e.into(),
        date: format!("{e}-12-31"),
        tiles: 1,
        pixels: 100,
    });
    let change = [ChangeRow {
        commune_code: "001".into(),
        from_epoch: "2020".into(),
        to_epoch: "2025".into(),
        loss_ha: 1.25,
        gain_ha: 0.0,
        net_ha: -1.25,
        unobserved_ha: 3.5,
        transitions: vec![],
    }];
    let run = RunRecord {
        region_name: "Test".into(),
        started_at: "2026-01-02T03:04:05Z".into(),
        ..Default::default()
    };
    Store::at(path)
        .write(&Tables {
            communes: &communes,
            cover: &cover,
            province_cover: &[],
            epochs: &epochs,
            observations: &[],
            change: &change,
            province_change: &[],
            alerts,
            zones: None,
            targets: None,
            warnings: &[],
            fire_danger: None,
            hotspots: None,
            burned_area: Some(&[canopy_store::BurnedAreaRow {
                unit: "commune".into(),
                code: "001".into(),
                from_epoch: "2020".into(),
                to_epoch: "2025".into(),
                class_ha: [0.0, 0.5, 10.0, 1.25, 2.0, 0.0, 0.75],
                no_dnbr_ha: 3.0,
            }]),
            chips: &[],
            parcels: None,
            run: &run,
        })
        .unwrap();
}

#[test]
fn typed_rows_read_back_through_one_reader() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("s.gpkg");
    write(
        &path,
        &[alert("a'1", Severity::Medium), alert("b", Severity::High)],
    );
    let r = Store::open(&path).unwrap().read().unwrap();
    let cover = r.cover().unwrap();
    assert_eq!(cover.region_name, "Test");
    assert_eq!(cover.epochs, ["2020", "2025"]);
    assert_eq!(cover.communes[0].name, "Lộc Bình");
    assert_eq!(cover.rows[1].figures.forest_ha, 78.75);
    assert_eq!(cover.rows[1].figures.cover_pct, Some(78.75 / 123.5 * 100.0));
    let alerts = r.alerts().unwrap();
    assert_eq!(alerts.len(), 2);
    assert_eq!(alerts[0].severity, Severity::Medium);
    assert_eq!(alerts[1].severity, Severity::High);
    assert_eq!(alerts[0].status, TriageStatus::New);
    assert_eq!(alerts[0].communes, ["001", "002"]);
    assert_eq!(alerts[0].cause, canopy_store::AlertCause::Fire);
    let burned = r.burned_area().unwrap();
    assert_eq!(burned.len(), 1);
    assert_eq!(burned[0].class_ha, [0.0, 0.5, 10.0, 1.25, 2.0, 0.0, 0.75]);
    assert_eq!(burned[0].burned_ha(), 4.0); // low + moderate-low + high
    assert_eq!(burned[0].no_dnbr_ha, 3.0);
    assert_eq!(r.burned_area_of(&["commune", "province"]).unwrap(), burned);
    assert!(r.burned_area_of(&["parcel"]).unwrap().is_empty());
    assert!(
        r.burned_area_of(&["x' OR '1'='1"]).unwrap().is_empty(),
        "a unit name is a value, not SQL"
    );
    assert!(r.has_alert("a'1").unwrap(), "an id with a quote is found");
    assert!(!r.has_alert("a").unwrap());
    assert!(
        !r.has_alert("' OR '1'='1").unwrap(),
        "the id is a value, not SQL"
    );
    let (change, _) = r.change().unwrap();
    assert_eq!(change[0].net_ha, -1.25);
    assert!(
        r.zones().unwrap().pieces.is_empty(),
        "no zone tables: empty"
    );
    assert!(r.progress().unwrap().is_none());
}

#[test]
fn triage_appends_are_typed_and_checked() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("s.gpkg");
    write(&path, &[alert("a'1", Severity::Low)]);
    let store = Store::open(&path).unwrap();
    let ev = |id: &str, status| TriageEvent {
        alert_id: id.into(),
        status,
        note: "<b>note</b>".into(),
        by: "Nông Văn A".into(),
        at: "2026-11-29T00:00:00Z".into(),
    };
    let w = store
        .append_triage(&ev("a'1", TriageStatus::Confirmed), Some(0))
        .unwrap();
    assert_ne!(
        w.before, w.after,
        "the file's identity changes with a write"
    );
    match store.append_triage(&ev("a'1", TriageStatus::Dismissed), Some(0)) {
        Err(StoreError::Conflict(m)) => assert!(m.contains("1 triage events"), "{m}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    match store.append_triage(&ev("zz", TriageStatus::Dismissed), None) {
        Err(StoreError::NotFound(m)) => assert!(m.contains("\"zz\""), "{m}"),
        other => panic!("expected not found, got {other:?}"),
    }
    let r = store.read().unwrap();
    let history = r.triage().unwrap();
    assert_eq!(history, [ev("a'1", TriageStatus::Confirmed)]);
    assert_eq!(r.alerts().unwrap()[0].status, TriageStatus::Confirmed);
    // A re-run keeps the history.
    drop(r);
    write(&path, &[alert("a'1", Severity::Low)]);
    assert_eq!(store.read().unwrap().triage().unwrap().len(), 1);
    assert_eq!(store.read().unwrap().runs().unwrap().len(), 2);
}

#[test]
fn a_missing_store_and_a_non_store_are_named() {
    let d = tempfile::tempdir().unwrap();
    let missing = d.path().join("none.gpkg");
    let e = Store::open(&missing).unwrap_err().to_string();
    assert!(e.contains("none.gpkg") && e.contains("not found"), "{e}");
    let text = d.path().join("region.toml");
    std::fs::write(&text, "name = \"x\"\n".repeat(20)).unwrap();
    let e = canopy_store::check_is_store(&text).unwrap_err().to_string();
    assert!(e.contains("not a Canopy store"), "{e}");
}
