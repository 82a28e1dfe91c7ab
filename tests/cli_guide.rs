//! The CLI as the README's guide uses it (issue 19): `canopy alerts --commune`
//! by name as the API takes it, a closed pipe (`canopy alerts | head`) ending
//! quietly, `canopy report REGION.toml` finding the store the run wrote from
//! another directory, and the missing-tiles error pointing at `canopy synth`.

mod common;
use common::*;

/// One run of the two-epoch fixture (one 2 ha alert in 00001 "Lộc Bình"), its
/// default store written from the region's directory (`out/<dir name>.gpkg`).
#[test]
fn alerts_by_name_closed_pipe_and_report_from_elsewhere() {
    let d = region_two_epochs();
    let region = path_str(&d.path().join("region.toml"));
    let o = canopy()
        .current_dir(d.path())
        .args(["run", "region.toml"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let slug = d.path().file_name().unwrap().to_string_lossy().into_owned();
    assert!(d.path().join("out").join(format!("{slug}.gpkg")).exists());

    // From another directory: the store is found beside the region file.
    let elsewhere = tempfile::tempdir().unwrap();
    let here = |args: &[&str]| {
        canopy()
            .current_dir(elsewhere.path())
            .args(args)
            .output()
            .unwrap()
    };
    let o = here(&["report", &region, "--format", "csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = String::from_utf8(o.stdout).unwrap();
    assert!(csv.contains("00001") && csv.contains("00002"), "{csv}");

    // --commune by name, without diacritics or case, as /stats/communes/{key}.
    let csv_for = |c: &str| {
        let o = here(&["alerts", &region, "--format", "csv", "--commune", c]);
        assert!(o.status.success(), "--commune {c}: {}", stderr(&o));
        String::from_utf8(o.stdout).unwrap().lines().count() - 1
    };
    assert_eq!(csv_for("00001"), 1);
    assert_eq!(csv_for("Lộc Bình"), 1);
    assert_eq!(csv_for("loc binh"), 1);
    assert_eq!(csv_for("  LOC   BINH "), 1);
    assert_eq!(csv_for("dinh lap"), 0, "the alert is in Lộc Bình");
    let o = here(&["alerts", &region, "--commune", "Hà Nội"]);
    assert!(
        !o.status.success() && stderr(&o).contains("--commune Hà Nội"),
        "{}",
        stderr(&o)
    );

    // A reader that has gone (`| head` after its lines): no error, success.
    for args in [
        vec!["alerts", region.as_str()],
        vec!["report", region.as_str()],
        vec!["alerts", region.as_str(), "--format", "geojson"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o = canopy()
            .current_dir(elsewhere.path())
            .args(&args)
            .stdout(writer)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {:?} {}",
            o.status,
            stderr(&o)
        );
        assert!(stderr(&o).trim().is_empty(), "{args:?}: {}", stderr(&o));
    }

    // No store anywhere: says where it looked and what to run.
    let fresh = region_two_epochs();
    let o = here(&["report", &path_str(&fresh.path().join("region.toml"))]);
    let e = stderr(&o);
    assert!(
        !o.status.success() && e.contains("canopy run") && e.contains("--store"),
        "{e}"
    );
}

#[test]
fn missing_tiles_suggest_canopy_synth() {
    let d = region();
    std::fs::remove_file(d.path().join("tiles/a.tif")).unwrap();
    let o = run(&[
        "run",
        &path_str(&d.path().join("region.toml")),
        "--store",
        &path_str(&store_in(d.path())),
    ]);
    let e = stderr(&o);
    assert!(
        !o.status.success() && e.contains("matches no file") && e.contains("canopy synth"),
        "{e}"
    );
    assert!(e.contains("communes.geojson"), "{e}");
    assert!(!store_in(d.path()).exists());
}
