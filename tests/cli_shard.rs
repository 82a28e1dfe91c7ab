//! Sharded runs (issue 16): `canopy run --shard K/N --partial DIR` then
//! `canopy merge` give a store identical to a single-process run's, for N = 1..4,
//! and the merge refuses every bad set of partials (naming the shard) without
//! writing anything.
//!
//! One test on one small generated region (the Lạng Sơn sample at 100 m, two
//! scenes per epoch, planting zones, fire inputs: every strip pass of a run —
//! cover, change, burned area — and alerts crossing strip borders), so the
//! sample is generated once. Stores are compared table by table, every row and
//! every byte (`scripts/store-dump.py`: floats by repr, blobs in hex), less the
//! run's timestamps and timings.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{assert_same, canopy, dump, sample_at_100m, stderr};

fn ok(o: Output, what: &str) -> String {
    assert!(o.status.success(), "{what} failed:\n{}", stderr(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs canopy in `dir` with two threads (the thread count is part of the
/// stored settings, so the single run and the merges use the same).
fn canopy_in(dir: &Path, args: &[&str]) -> Output {
    canopy()
        .current_dir(dir)
        .env("RAYON_NUM_THREADS", "2")
        .args(args)
        .output()
        .expect("canopy runs")
}

fn shard(dir: &Path, region: &str, k: usize, n: usize, partials: &str, threads: &str) {
    let o = canopy()
        .current_dir(dir)
        .env("RAYON_NUM_THREADS", threads)
        .args([
            "run",
            region,
            "--shard",
            &format!("{k}/{n}"),
            "--partial",
            partials,
        ])
        .output()
        .unwrap();
    let out = ok(o, &format!("shard {k}/{n}"));
    assert!(out.contains(&format!("Shard {k}/{n}")), "{out}");
}

/// Copies the partials of `from` into a new folder `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// A merge that must fail: non-zero exit, the message names `names`, and the
/// existing store is left byte for byte as it was.
fn refused(dir: &Path, partials: &Path, store: &Path, names: &[&str]) -> String {
    let before = std::fs::read(store).unwrap();
    let o = canopy_in(
        dir,
        &[
            "merge",
            "region.toml",
            "--partials",
            partials.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
        ],
    );
    let err = stderr(&o);
    assert!(
        !o.status.success(),
        "merge of {} succeeded",
        partials.display()
    );
    assert_eq!(o.status.code(), Some(1), "{err}");
    for n in names {
        assert!(err.contains(n), "message lacks {n:?}:\n{err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(std::fs::read(store).unwrap(), before, "store changed");
    err
}

#[test]
fn sharded_runs_merge_identically_and_bad_partials_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    sample_at_100m(dir, 2);
    ok(
        canopy_in(dir, &["run", "region.toml", "--store", "single.gpkg"]),
        "single run",
    );
    let single = dump(&dir.join("single.gpkg"));
    // The region must exercise what the merge has to get right.
    let alerts = single
        .lines()
        .find(|l| l.starts_with("## alerts ("))
        .unwrap()
        .to_string();
    assert!(!alerts.starts_with("## alerts (0 rows)"), "{alerts}");
    // Plots under alerts: the merge rasterises only the plots near its alerts.
    let touched = single
        .lines()
        .find(|l| l.starts_with("## alert_parcels ("))
        .unwrap_or("## alert_parcels missing");
    assert!(
        !touched.starts_with("## alert_parcels (0 rows)") && !touched.contains("missing"),
        "{touched}"
    );
    for t in [
        "## burned_area (",
        "## zone_cover (",
        "## alert_chips (",
        "## hotspots (",
    ] {
        assert!(single.contains(t), "{t} missing");
    }

    let mut chip_total: Option<usize> = None;
    for n in 1..=4usize {
        let partials = format!("parts{n}");
        for k in 0..n {
            // Shards with different thread counts: results do not depend on them.
            shard(
                dir,
                "region.toml",
                k,
                n,
                &partials,
                if k % 2 == 0 { "1" } else { "2" },
            );
        }
        let store = format!("merged{n}.gpkg");
        let out = ok(
            canopy_in(
                dir,
                &[
                    "merge",
                    "region.toml",
                    "--partials",
                    &partials,
                    "--store",
                    &store,
                ],
            ),
            &format!("merge of {n}"),
        );
        assert!(out.contains("Store:"), "{out}");
        assert_same(&single, &dump(&dir.join(&store)), &format!("N = {n}"));
        // The shards render the chips of the alerts inside their rows; the merge
        // only those crossing a shard border (none with one shard).
        let line = out
            .lines()
            .find(|l| l.starts_with("Evidence chips: "))
            .unwrap_or_else(|| panic!("{out}"));
        let nums: Vec<usize> = line.split(' ').filter_map(|w| w.parse().ok()).collect();
        let (by_shards, at_merge) = (nums[0], nums[1]);
        let total = *chip_total.get_or_insert(by_shards + at_merge);
        assert_eq!(by_shards + at_merge, total, "N = {n}: {line}");
        assert!(by_shards > 0, "N = {n}: {line}");
        if n == 1 {
            assert_eq!(at_merge, 0, "{line}");
        }
    }

    // Incremental epochs: a third epoch added to the region file (the 2025 scenes
    // again, a year later); the run with the cache reads only the new pair's
    // passes, and its store is identical to a full run's.
    let out = ok(
        canopy_in(
            dir,
            &[
                "run",
                "region.toml",
                "--store",
                "inc2.gpkg",
                "--cache",
                "cache",
            ],
        ),
        "first cached run",
    );
    assert!(
        out.contains("reused none; computed change:2024:2025;")
            && out.contains("Evidence chips: 0 alert(s) from the cache"),
        "{out}"
    );
    assert_same(&single, &dump(&dir.join("inc2.gpkg")), "cached run");
    let toml = std::fs::read_to_string(dir.join("region.toml")).unwrap();
    let block =
        &toml[toml.find("[[epochs]]\nid = \"2025\"").unwrap()..toml.find("[fire]").unwrap()];
    let three = toml.replace(
        "[fire]",
        &format!(
            "{}[fire]",
            block
                .replace("\"2025\"", "\"2026\"")
                .replace("2025-12-31", "2026-12-31")
        ),
    );
    std::fs::write(dir.join("three.toml"), three).unwrap();
    let out = ok(
        canopy_in(
            dir,
            &[
                "run",
                "three.toml",
                "--store",
                "inc3.gpkg",
                "--cache",
                "cache",
            ],
        ),
        "incremental run",
    );
    assert!(
        out.contains("reused change:2024:2025; computed change:2025:2026; input fingerprints: ")
            && out.contains(" reused, 1 hashed"),
        "{out}"
    );
    // The first pair's chips come from the cache (not rendered again).
    assert!(
        out.contains(&format!(
            "Evidence chips: {} alert(s) from the cache",
            chip_total.unwrap_or(0)
        )),
        "{out}"
    );
    ok(
        canopy_in(dir, &["run", "three.toml", "--store", "full3.gpkg"]),
        "full run",
    );
    let full3 = dump(&dir.join("full3.gpkg"));
    assert!(full3.contains("2025:2026"), "the third epoch was compared");
    assert_same(&full3, &dump(&dir.join("inc3.gpkg")), "incremental vs full");

    // Bad partials, each against an existing store that must stay untouched.
    let store = dir.join("merged4.gpkg");
    let p4 = dir.join("parts4");
    // A missing shard (killed before it wrote, or never ran).
    let missing = dir.join("missing");
    copy_dir(&p4, &missing);
    std::fs::remove_file(missing.join("shard-2-of-4.canopy-part")).unwrap();
    refused(
        dir,
        &missing,
        &store,
        &["missing shard(s) 2/4", "shard-2-of-4.canopy-part"],
    );
    // A truncated shard (killed while copying it, disk full).
    let trunc = dir.join("truncated");
    copy_dir(&p4, &trunc);
    let f = trunc.join("shard-3-of-4.canopy-part");
    let bytes = std::fs::read(&f).unwrap();
    std::fs::write(&f, &bytes[..bytes.len() / 2]).unwrap();
    refused(
        dir,
        &trunc,
        &store,
        &["shard-3-of-4.canopy-part", "truncated"],
    );
    // Two shards with the same index.
    let dup = dir.join("duplicate");
    copy_dir(&p4, &dup);
    std::fs::copy(
        p4.join("shard-1-of-4.canopy-part"),
        dup.join("again.canopy-part"),
    )
    .unwrap();
    refused(
        dir,
        &dup,
        &store,
        &["shard 1/4", "same index", "again.canopy-part"],
    );
    // A shard of another split.
    let mixed = dir.join("mixed");
    copy_dir(&p4, &mixed);
    std::fs::copy(
        dir.join("parts3/shard-0-of-3.canopy-part"),
        mixed.join("shard-0-of-3.canopy-part"),
    )
    .unwrap();
    refused(
        dir,
        &mixed,
        &store,
        &["shard-0-of-3.canopy-part", "of 4 shards"],
    );
    // A partial of another region (its region file names another province).
    std::fs::write(
        dir.join("other.toml"),
        toml.replace("name = \"Lạng Sơn\"", "name = \"Cao Bằng\""),
    )
    .unwrap();
    let other = dir.join("other");
    copy_dir(&p4, &other);
    shard(dir, "other.toml", 1, 4, "other", "2");
    refused(
        dir,
        &other,
        &store,
        &["shard-1-of-4.canopy-part", "region \"Cao Bằng\""],
    );
    // A shard run with other settings (another minimum alert area).
    std::fs::write(
        dir.join("settings.toml"),
        toml.replace("min_area_ha = 0.3", "min_area_ha = 0.5"),
    )
    .unwrap();
    let settings = dir.join("settings");
    copy_dir(&p4, &settings);
    shard(dir, "settings.toml", 2, 4, "settings", "2");
    refused(
        dir,
        &settings,
        &store,
        &["shard-2-of-4.canopy-part", "other settings", "min_area_ha"],
    );
    // Inputs changed since the shards ran (a tile rewritten): refused, naming it.
    let tile: PathBuf = std::fs::read_dir(dir.join("tiles/2025"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "tif"))
        .unwrap();
    let mut b = std::fs::read(&tile).unwrap();
    b.push(0);
    std::fs::write(&tile, &b).unwrap();
    let name = tile.file_name().unwrap().to_str().unwrap();
    refused(
        dir,
        &p4,
        &store,
        &["shard-0-of-4.canopy-part", "other inputs", name],
    );
    // Bad --shard values are refused before any work.
    for bad in ["4/4", "auto/4", "two/4"] {
        let o = canopy()
            .current_dir(dir)
            .env_remove("SLURM_ARRAY_TASK_ID")
            .env_remove("JOB_COMPLETION_INDEX")
            .args(["run", "region.toml", "--shard", bad, "--partial", "x"])
            .output()
            .unwrap();
        assert!(!o.status.success(), "--shard {bad} accepted");
        assert!(stderr(&o).contains(bad), "{}", stderr(&o));
        assert!(!dir.join("x").exists());
    }
}
