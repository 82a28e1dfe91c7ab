//! The store never loses history and is never written over something else:
//! a hot journal left by a killed writer is rolled back by the next opener, a run
//! refuses (writing nothing) when the previous history cannot be read, and
//! `--store` never replaces a file that is not a Canopy store.
//!
//! The hot journal is made the way a killed writer makes it: a real SQLite
//! connection (Python's `sqlite3`) spills an unfinished transaction into the file
//! and is killed with SIGKILL.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A two-epoch store with two triage events. Returns (dir, store, alert id).
fn store_with_triage() -> (tempfile::TempDir, PathBuf, String) {
    let d = region_two_epochs();
    let (store, _) = run_region(d.path());
    let id = canopy_store::read_alerts(&store).unwrap()[0].id.clone();
    for status in ["confirmed", "dismissed"] {
        let o = run(&[
            "triage",
            "--store",
            &path_str(&store),
            &id,
            "--status",
            status,
            "--by",
            "lan",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    (d, store, id)
}

fn triage_count(store: &Path) -> usize {
    canopy_store::read_triage(store).unwrap().len()
}

fn rerun(d: &Path, store: &Path) -> std::process::Output {
    run_into(d, store)
}

fn journal(store: &Path) -> PathBuf {
    PathBuf::from(format!("{}-journal", store.display()))
}

/// Leaves a hot journal: 3,000 triage rows in an unfinished transaction spill into
/// the file (cache of one page), then the writer is killed.
fn leave_hot_journal(store: &Path) {
    let script = r#"
import os, signal, sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("PRAGMA cache_size=1")
c.execute("BEGIN IMMEDIATE")
for i in range(3000):
    c.execute("INSERT INTO alert_triage(alert_id,status,note,by,at) VALUES ('x','new',?,'crash','t')", ("n" * 200,))
os.kill(os.getpid(), signal.SIGKILL)
"#;
    let st = Command::new("python3")
        .args(["-c", script, &path_str(store)])
        .status()
        .expect("python3 runs");
    assert!(!st.success(), "the writer was killed");
    assert!(journal(store).exists(), "a hot journal is left");
}

#[test]
fn a_hot_journal_is_rolled_back_by_the_next_reader_and_the_run_keeps_history() {
    let (d, store, _) = store_with_triage();
    leave_hot_journal(&store);
    // Read-only tools work (before: "attempt to write a readonly database").
    for cmd in ["alerts", "stats"] {
        let o = run(&[cmd, "--store", &path_str(&store)]);
        assert!(o.status.success(), "{cmd}: {}", stderr(&o));
    }
    assert!(!journal(&store).exists(), "SQLite rolled the journal back");
    assert_eq!(
        triage_count(&store),
        2,
        "the unfinished rows are gone, the two events kept"
    );
    leave_hot_journal(&store);
    // A run straight after a crash keeps the history and leaves no journal beside the
    // new file (before: 0 events carried, exit 1 after the rename, journal left).
    let o = rerun(d.path(), &store);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(triage_count(&store), 2);
    assert_eq!(canopy_store::read_runs(&store).unwrap().len(), 2);
    assert!(!journal(&store).exists());
    let o = run(&["alerts", "--store", &path_str(&store)]);
    assert!(o.status.success(), "{}", stderr(&o));
}

fn assert_refused(d: &Path, store: &Path, must_mention: &[&str]) {
    let before = std::fs::read(store).unwrap();
    let o = rerun(d, store);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    for m in must_mention {
        assert!(err.contains(m), "stderr should mention {m:?}: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(std::fs::read(store).unwrap(), before, "the file changed");
    let leftovers: Vec<_> = std::fs::read_dir(store.parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn a_run_refuses_when_the_previous_history_cannot_be_read() {
    let (d, store, _) = store_with_triage();
    // Truncated: before, the run silently wrote a store with no triage history.
    let bytes = std::fs::read(&store).unwrap();
    let cut = store.with_file_name("cut.gpkg");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    assert_refused(
        d.path(),
        &cut,
        &["cannot be read", "never drops the triage", "damaged"],
    );
}

/// A store written by a newer Canopy (its `store_format` above ours): readers and
/// runs refuse it with one line naming the format and the writer; the run leaves
/// it byte for byte.
#[test]
fn a_store_of_a_newer_canopy_is_refused_by_readers_and_runs() {
    let (d, store, _) = store_with_triage();
    let ours = canopy_store::format::FORMAT;
    let o = std::process::Command::new("ogrinfo")
        .arg(&store)
        .args(["-q", "-sql"])
        .arg(format!(
            "UPDATE store_format SET format = {}, written_by = 'canopy 9.0.0'",
            ours + 1
        ))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run(&["stats", "--store", &path_str(&store)]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    for m in [
        "newer Canopy",
        "canopy 9.0.0",
        &format!("store format {}", ours + 1),
    ] {
        assert!(err.contains(m), "stderr should mention {m:?}: {err}");
    }
    assert_refused(d.path(), &store, &["newer Canopy", "upgrade canopy"]);
}

/// Holds an exclusive SQLite lock on the store until killed.
fn hold_sqlite_lock(store: &Path) -> Child {
    let script = r#"
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
c.execute("SELECT count(*) FROM alert_triage").fetchone()
print("locked", flush=True)
time.sleep(60)
"#;
    let mut child = Command::new("python3")
        .args(["-c", script, &path_str(store)])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut line = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "locked");
    child
}

#[test]
fn a_run_refuses_while_another_process_holds_the_database_lock() {
    let (d, store, _) = store_with_triage();
    let mut holder = hold_sqlite_lock(&store);
    let before = std::fs::read(&store).unwrap();
    let o = rerun(d.path(), &store);
    let _ = holder.kill();
    let _ = holder.wait();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("another process"), "{err}");
    assert_eq!(std::fs::read(&store).unwrap(), before);
    assert_eq!(triage_count(&store), 2, "history intact");
    // and once the lock is gone the run goes through with the history
    let o = rerun(d.path(), &store);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(triage_count(&store), 2);
}

#[test]
fn store_never_replaces_a_file_that_is_not_a_canopy_store() {
    let d = region_two_epochs();
    let dir = d.path();
    // A plain GeoPackage that is not a store (GDAL writes one from the communes).
    let gpkg = dir.join("communes.gpkg");
    let st = Command::new("ogr2ogr")
        .args([
            "-f",
            "GPKG",
            &path_str(&gpkg),
            &path_str(&dir.join("communes.geojson")),
        ])
        .status()
        .expect("ogr2ogr runs");
    assert!(st.success());
    std::fs::write(dir.join("notes.txt"), "rangers' notes\n").unwrap();
    let targets = [
        dir.join("region.toml"),
        dir.join("communes.geojson"),
        dir.join("tiles/a.tif"),
        dir.join("notes.txt"),
        gpkg,
    ];
    for t in &targets {
        let before = std::fs::read(t).unwrap();
        let o = rerun(dir, t);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{}: {err}", t.display());
        assert!(err.contains("is not a Canopy store"), "{err}");
        assert_eq!(
            std::fs::read(t).unwrap(),
            before,
            "{} was changed",
            t.display()
        );
    }
    // The normal case needs no --force: a store is replaced.
    let (store, _) = run_region(dir);
    let o = rerun(dir, &store);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(canopy_store::read_runs(&store).unwrap().len(), 2);
}

#[test]
fn two_runs_started_together_both_succeed_and_keep_every_run() {
    let (d, store, _) = store_with_triage();
    let region = path_str(&d.path().join("region.toml"));
    let spawn = || {
        canopy()
            .args(["run", &region, "--store", &path_str(&store)])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    for _ in 0..3 {
        let (a, b) = (spawn(), spawn());
        for c in [a, b] {
            let o = c.wait_with_output().unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
    }
    assert_eq!(canopy_store::read_runs(&store).unwrap().len(), 7);
    assert_eq!(triage_count(&store), 2);
    let left: Vec<_> = std::fs::read_dir(store.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-") || n.ends_with("-journal"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn journals_of_killed_runs_are_cleaned_by_the_next_run() {
    let (d, store, _) = store_with_triage();
    let dir = store.parent().unwrap();
    let stale = [
        dir.join(".store.tmp-999999-1.gpkg"),
        dir.join(".store.tmp-999999-1.gpkg-journal"),
        dir.join(".store.tmp-4242.gpkg-journal"),
    ];
    for s in &stale {
        std::fs::write(s, b"left by a killed run").unwrap();
    }
    let o = rerun(d.path(), &store);
    assert!(o.status.success(), "{}", stderr(&o));
    for s in &stale {
        assert!(!s.exists(), "{} is left", s.display());
    }
}
