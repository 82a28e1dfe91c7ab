//! End-to-end: the `canopy` binary on a hand-built region whose figures are known.

mod common;
use common::*;

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-12)
}

#[test]
fn figures_match_the_hand_computation() {
    let d = region();
    let (store, stdout) = run_region(d.path());
    let rows = cover_csv(&store);
    assert_eq!(rows.len(), 2);
    let clear = |c: usize, r: usize| !is_cloud(c, r);
    for (code, rect) in [("00001", A), ("00002", B)] {
        let row = rows.iter().find(|r| r.0 == code).unwrap();
        let (f, ob) = expected(rect, &clear);
        let natural = (rect[2] - rect[0]) * (rect[3] - rect[1]) / 10_000.0;
        assert!(rel(row.2, f) < 1e-9, "{code} forest {} vs {f}", row.2);
        assert!(rel(row.3, ob) < 1e-9, "{code} observed {} vs {ob}", row.3);
        assert!(
            rel(row.4, natural) < 1e-12,
            "{code} natural {} vs {natural}",
            row.4
        );
    }
    // The table names every commune in NFC and ends with the province total.
    assert!(
        stdout.contains("Lộc Bình") && stdout.contains("Đình Lập"),
        "{stdout}"
    );
    assert!(stdout.contains("Province"), "{stdout}");
}

#[test]
fn province_counts_the_overlap_once() {
    let d = region();
    let (store, _) = run_region(d.path());
    let o = run(&["stats", "--store", &path_str(&store), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let p = &v["province"][0]["figures"];
    // Union area = A + B − (A ∩ B); A ∩ B is 50 m × (1505 − 402.5 ... ) by hand:
    let ix = [
        B[0].max(A[0]),
        B[1].max(A[1]),
        B[2].min(A[2]),
        B[3].min(A[3]),
    ];
    let inter = (ix[2] - ix[0]) * (ix[3] - ix[1]);
    let area = |r: [f64; 4]| (r[2] - r[0]) * (r[3] - r[1]);
    let union_ha = (area(A) + area(B) - inter) / 10_000.0;
    assert!(
        rel(p["natural_ha"].as_f64().unwrap(), union_ha) < 1e-9,
        "{p}"
    );
    // Forest of the union = forest(A) + forest(B) − forest(A ∩ B), all by hand.
    let clear = |c: usize, r: usize| !is_cloud(c, r);
    let f = expected(A, &clear).0 + expected(B, &clear).0 - expected(ix, &clear).0;
    assert!(
        rel(p["forest_ha"].as_f64().unwrap(), f) < 1e-9,
        "{p} vs {f}"
    );
}

#[test]
fn four_overlapping_tiles_give_the_figures_of_the_one_raster() {
    let whole = region();
    let tiled = region();
    std::fs::remove_file(tiled.path().join("tiles/a.tif")).unwrap();
    // Four tiles overlapping by 30 px; each has its own cloud, and the overlaps
    // must be filled by whichever tile sees the ground.
    let none = |_: usize, _: usize| false;
    write_tile(
        &tiled.path().join("tiles/t1.tif"),
        0,
        0,
        115,
        115,
        &is_cloud,
    );
    write_tile(
        &tiled.path().join("tiles/t2.tif"),
        85,
        0,
        115,
        115,
        &is_cloud,
    );
    write_tile(&tiled.path().join("tiles/t3.tif"), 0, 85, 115, 115, &none);
    write_tile(&tiled.path().join("tiles/t4.tif"), 85, 85, 115, 115, &none);
    let mut figures = Vec::new();
    for d in [&whole, &tiled] {
        let store = store_in(d.path());
        let o = run_into(d.path(), &store);
        assert!(o.status.success(), "{}", stderr(&o));
        figures.push(cover_csv(&store));
    }
    assert_eq!(figures[0], figures[1]);
}

#[test]
fn clear_observation_wins_over_a_cloud_in_an_earlier_tile() {
    let d = region();
    // A second, lower-priority tile that sees under the first tile's cloud.
    write_tile(&d.path().join("tiles/b.tif"), 140, 20, 40, 40, &|_, _| {
        false
    });
    let (store, _) = run_region(d.path());
    let rows = cover_csv(&store);
    let row = rows.iter().find(|r| r.0 == "00002").unwrap();
    let (f, ob) = expected(B, &|_, _| true);
    assert!(
        rel(row.2, f) < 1e-9 && rel(row.3, ob) < 1e-9,
        "{row:?} vs {f} {ob}"
    );
}

#[test]
fn one_and_two_threads_agree_to_the_last_bit() {
    let d = region();
    let mut out = Vec::new();
    for t in ["1", "2"] {
        let store = d.path().join(format!("out/{t}.gpkg"));
        let o = canopy()
            .args([
                "run",
                &path_str(&d.path().join("region.toml")),
                "--store",
                &path_str(&store),
            ])
            .env("RAYON_NUM_THREADS", t)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let o = run(&["stats", "--store", &path_str(&store), "--format", "json"]);
        let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["region"] = serde_json::Value::Null;
        out.push(v.to_string());
    }
    assert_eq!(out[0], out[1]);
}

#[test]
fn a_second_run_keeps_the_run_history() {
    let d = region();
    let store = store_in(d.path());
    for _ in 0..2 {
        let o = run_into(d.path(), &store);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let runs = canopy_store::read_runs(&store).unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs[1].inputs.contains("blake3:"), "{}", runs[1].inputs);
}
