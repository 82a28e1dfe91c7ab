//! End-to-end: change, alerts and triage on the hand-built two-epoch region.

mod common;
use common::*;

fn run_ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(o.status.success(), "{}", stderr(&o));
    String::from_utf8(o.stdout).unwrap()
}

fn alerts_json(store: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&run_ok(&[
        "alerts",
        "--store",
        &path_str(store),
        "--format",
        "geojson",
    ]))
    .unwrap()
}

#[test]
fn planted_clearing_gives_one_alert_and_the_loss_by_hand() {
    let d = region_two_epochs();
    let (store, out) = run_region(d.path());
    assert!(out.contains("Change 2024 → 2025"), "{out}");
    assert!(out.contains("alerts: 1 (1 high, 0 medium, 0 low)"), "{out}");

    // Commune A is x 55..1003 m, y 97..1505 m below the top: the clearing
    // (cols 60..80 → x 600..800, rows 20..30 → y 200..300) lies fully inside it.
    // Loss = 2 ha − the part under 2024's cloud (none: cloud is cols 150..170).
    // The 2-pixel clearing at the grid corner is outside both communes.
    let v = alerts_json(&store);
    let feats = v["features"].as_array().unwrap();
    assert_eq!(feats.len(), 1, "{v}");
    let a = &feats[0]["properties"];
    assert!((a["area_ha"].as_f64().unwrap() - 2.0).abs() < 1e-9, "{a}");
    assert_eq!(a["commune_code"], "00001");
    assert_eq!(a["severity"], "high", "loss outside every zone is high");
    // The outline is the 200 m × 100 m rectangle: 4 corners (+ closing point).
    let ring = &feats[0]["geometry"]["coordinates"][0][0];
    assert_eq!(ring.as_array().unwrap().len(), 5, "{ring}");

    // The change table: loss of commune A is exactly the clearing (2 ha); B has none.
    let db = store.clone();
    let rows = canopy_store::read_change(&db).unwrap().0;
    let a_row = rows.iter().find(|r| r.commune_code == "00001").unwrap();
    assert!((a_row.loss_ha - 2.0).abs() < 1e-9, "{a_row:?}");
    assert_eq!(a_row.gain_ha, 0.0);
    assert!((a_row.net_ha + 2.0).abs() < 1e-9);
    // Unobserved in either epoch = the 2024 cloud's share of A (none) → 0.
    assert_eq!(a_row.unobserved_ha, 0.0);
    let b_row = rows.iter().find(|r| r.commune_code == "00002").unwrap();
    assert_eq!(b_row.loss_ha, 0.0);
    // B lies under the 2024 cloud for cols 150..170, rows 30..50: by hand.
    let cloud_in_b = expected(B, &|c, r| is_cloud(c, r)).1;
    assert!(
        (b_row.unobserved_ha - cloud_in_b).abs() < 1e-9,
        "{b_row:?} vs {cloud_in_b}"
    );
}

#[test]
fn alert_ids_are_stable_and_triage_survives_a_rerun() {
    let d = region_two_epochs();
    let store = store_in(d.path());
    let region = path_str(&d.path().join("region.toml"));
    run_ok(&["run", &region, "--store", &path_str(&store)]);
    let id = alerts_json(&store)["features"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = run_ok(&[
        "triage",
        "--store",
        &path_str(&store),
        &id,
        "--status",
        "confirmed",
        "--note",
        "chặt phá, đã lập biên bản",
        "--by",
        "Nông Văn A",
    ]);
    assert!(out.contains("confirmed"), "{out}");
    run_ok(&["run", &region, "--store", &path_str(&store)]);
    let v = alerts_json(&store);
    assert_eq!(
        v["features"][0]["id"].as_str().unwrap(),
        id,
        "same inputs, same id"
    );
    assert_eq!(v["features"][0]["properties"]["status"], "confirmed");
    let history = canopy_store::read_triage(&store).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].by, "Nông Văn A");
    assert_eq!(history[0].note, "chặt phá, đã lập biên bản");
    // A writer that decided on a stale read (0 events seen, the store has 1) is
    // refused under the store's lock and writes nothing; a fresh one is appended.
    let ev = canopy_store::TriageEvent {
        alert_id: id.clone(),
        status: canopy_core::triage::TriageStatus::Dismissed,
        note: "stale".into(),
        by: "Hoàng Thị B".into(),
        at: "2026-11-23T00:00:00Z".into(),
    };
    let err = canopy_store::append_triage(&store, &ev, Some(0)).unwrap_err();
    assert!(
        matches!(err, canopy_store::StoreError::Conflict(_)),
        "{err}"
    );
    assert_eq!(canopy_store::read_triage(&store).unwrap().len(), 1);
    canopy_store::append_triage(&store, &ev, Some(1)).unwrap();
    let history = canopy_store::read_triage(&store).unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].status, "dismissed");
    // Unknown alert and unknown status are refused.
    let o = run(&[
        "triage",
        "--store",
        &path_str(&store),
        "nope",
        "--status",
        "confirmed",
        "--by",
        "x",
    ]);
    assert!(
        !o.status.success() && stderr(&o).contains("no alert \"nope\""),
        "{}",
        stderr(&o)
    );
    let o = run(&[
        "triage",
        "--store",
        &path_str(&store),
        &id,
        "--status",
        "maybe",
        "--by",
        "x",
    ]);
    assert!(!o.status.success());
}

#[test]
fn alerts_cli_filters() {
    let d = region_two_epochs();
    let (store, _) = run_region(d.path());
    let table = run_ok(&["alerts", "--store", &path_str(&store)]);
    assert!(table.contains("1 alerts: 1 high"), "{table}");
    let csv = run_ok(&[
        "alerts",
        "--store",
        &path_str(&store),
        "--format",
        "csv",
        "--commune",
        "00002",
    ]);
    assert_eq!(
        csv.lines().count(),
        1,
        "only the header: the alert is in 00001\n{csv}"
    );
    let csv = run_ok(&[
        "alerts",
        "--store",
        &path_str(&store),
        "--format",
        "csv",
        "--since",
        "2024",
        "--min-severity",
        "high",
    ]);
    assert_eq!(csv.lines().count(), 2, "{csv}");
    let o = run(&["alerts", "--store", &path_str(&store), "--since", "1999"]);
    assert!(
        !o.status.success() && stderr(&o).contains("1999"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn min_area_keeps_small_clearings_out() {
    let d = region_two_epochs();
    let p = d.path().join("region.toml");
    let mut t = std::fs::read_to_string(&p).unwrap();
    t.push_str("\n[alerts]\nmin_area_ha = 2.5\n");
    std::fs::write(&p, t).unwrap();
    let store = store_in(d.path());
    let out = run_ok(&["run", &path_str(&p), "--store", &path_str(&store)]);
    assert!(out.contains("alerts: 0 (0 high"), "{out}");
}

#[test]
fn bad_pairs_and_single_epoch() {
    let d = region_two_epochs();
    let two = path_str(&d.path().join("region.toml"));
    let store = path_str(&store_in(d.path()));
    let o = run(&["run", &two, "--store", &store, "--pair", "2024:2031"]);
    assert!(
        !o.status.success() && stderr(&o).contains("no epoch \"2031\""),
        "{}",
        stderr(&o)
    );
    let o = run(&["run", &two, "--store", &store, "--pair", "2025:2024"]);
    assert!(
        !o.status.success() && stderr(&o).contains("must come before"),
        "{}",
        stderr(&o)
    );
    let o = run(&["run", &two, "--store", &store, "--pair", "2024-2025"]);
    assert!(
        !o.status.success() && stderr(&o).contains("FROM:TO"),
        "{}",
        stderr(&o)
    );

    let single = region();
    let r1 = path_str(&single.path().join("region.toml"));
    let s1 = path_str(&store_in(single.path()));
    let o = run(&["run", &r1, "--store", &s1, "--pair", "2024:2024"]);
    assert!(
        !o.status.success() && stderr(&o).contains("only one"),
        "{}",
        stderr(&o)
    );
    let out = run_ok(&["run", &r1, "--store", &s1]);
    assert!(out.contains("single epoch"), "{out}");
    let o = run(&["alerts", "--store", &s1]);
    assert!(
        !o.status.success() && stderr(&o).contains("two epochs"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn epochs_that_do_not_overlap() {
    let d = region_two_epochs();
    // The 2025 tile moves 50 km east: nothing to compare with 2024.
    let p = d.path().join("tiles2025/a.tif");
    std::fs::remove_file(&p).unwrap();
    write_tile(&p, 5000, 0, 100, 100, &|_, _| false);
    let o = run_into(d.path(), &store_in(d.path()));
    assert!(!o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("2025"), "{}", stderr(&o));
}

#[test]
fn class_epochs_give_the_transition_matrix_and_natural_loss() {
    let d = class_region();
    let (store, _) = run_region(d.path());
    let db = transitions_by_commune(&store);
    // Commune A (x 55..1003 m) lies in the west half (natural forest, class 1).
    // By hand: every transition area is the rectangle's overlap with the pixels
    // of that (2024 class, 2025 class) pair.
    let t = &db["00001"];
    let all = |_: usize, _: usize| true;
    let by_pair = |a: u8, b: u8| {
        expected_where(A, &|c, r| {
            all(c, r) && class_2024(c, r) == a && class_2025(c, r) == b
        })
    };
    for (a, b) in [(1, 1), (1, 10), (10, 10)] {
        let got = t
            .iter()
            .find(|x| x.0 == a as i64 && x.1 == b as i64)
            .map(|x| x.2)
            .unwrap_or(0.0);
        assert!(
            (got - by_pair(a, b)).abs() < 1e-9,
            "({a}→{b}) {got} vs {}",
            by_pair(a, b)
        );
    }
    assert!(
        (by_pair(1, 10) - 2.0).abs() < 1e-9,
        "the 2 ha clearing is natural forest lost"
    );
    let v = alerts_json(&store);
    let a = &v["features"][0]["properties"];
    assert_eq!(a["natural_lost"], true);
    assert_eq!(a["severity"], "high");
}

#[test]
fn class_code_missing_from_the_legend_is_named() {
    let d = class_region();
    write_class_tile(&d.path().join("2025/lc.tif"), &|c, r| {
        if (c, r) == (120, 130) {
            7
        } else {
            class_2025(c, r)
        }
    });
    let o = run_into(d.path(), &store_in(d.path()));
    let e = stderr(&o);
    assert!(!o.status.success());
    assert!(
        e.contains("class code 7") && e.contains("lc.tif") && e.contains("[legend]"),
        "{e}"
    );
    assert!(!store_in(d.path()).exists(), "nothing written");
}

/// Transitions per commune from the store's `change` table (JSON column).
fn transitions_by_commune(
    store: &std::path::Path,
) -> std::collections::HashMap<String, Vec<(i64, i64, f64)>> {
    use canopy_pipeline::gdal::vector::LayerAccess;
    let ds = canopy_pipeline::gdal::Dataset::open(store).unwrap();
    let mut l = ds.layer_by_name("change").unwrap();
    let mut out = std::collections::HashMap::new();
    for f in l.features() {
        let field = |n: &str| {
            f.field_as_string(f.field_index(n).unwrap())
                .unwrap()
                .unwrap()
        };
        let code = field("commune_code");
        let t: Vec<serde_json::Value> = serde_json::from_str(&field("transitions")).unwrap();
        out.insert(
            code,
            t.iter()
                .map(|x| {
                    (
                        x["from"].as_i64().unwrap(),
                        x["to"].as_i64().unwrap(),
                        x["ha"].as_f64().unwrap(),
                    )
                })
                .collect(),
        );
    }
    out
}
