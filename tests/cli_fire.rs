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
