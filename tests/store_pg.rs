//! The PostgreSQL/PostGIS store (issue 15) against a real PostgreSQL 15 + PostGIS 3.
//!
//! The database: `CANOPY_TEST_PG` (a libpq connection string, as
//! `scripts/pg-test-cluster.sh run` sets it), or else a throwaway cluster this test
//! binary starts itself (`scripts/pg-test-cluster.sh start-for`: a temporary
//! directory, a free port, stopped and removed when the tests end). Without
//! PostgreSQL the tests fail; `CANOPY_SKIP_PG=1` skips them (local machines only).
//! Every test uses its own schema, so they run in parallel on one database.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use canopy_pipeline::gdal::vector::LayerAccess;
use canopy_pipeline::gdal::Dataset;

/// The test database's connection string (None: skipped on purpose).
fn pg() -> Option<&'static str> {
    static CONN: OnceLock<Option<String>> = OnceLock::new();
    CONN.get_or_init(|| {
        if let Ok(c) = std::env::var("CANOPY_TEST_PG") {
            return Some(c);
        }
        if std::env::var("CANOPY_SKIP_PG").is_ok_and(|v| v == "1") {
            eprintln!("CANOPY_SKIP_PG=1: the PostgreSQL store tests are skipped");
            return None;
        }
        let dir = std::env::temp_dir().join(format!("canopy-pg-test-{}", std::process::id()));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pg-test-cluster.sh");
        let o = Command::new("bash")
            .arg(&script)
            .args(["start-for", &std::process::id().to_string()])
            .arg(&dir)
            .stdin(Stdio::null())
            .output()
            .expect("bash runs");
        assert!(
            o.status.success(),
            "cannot start a throwaway PostgreSQL cluster (install postgresql-15-postgis-3: \
             scripts/setup.sh; or set CANOPY_SKIP_PG=1 to skip these tests locally): {}",
            String::from_utf8_lossy(&o.stderr)
        );
        Some(String::from_utf8(o.stdout).unwrap().trim().to_string())
    })
    .as_deref()
}

/// The store string of schema `schema` of the test database.
fn store(conn: &str, schema: &str) -> PathBuf {
    PathBuf::from(format!("PG:{conn} schema={schema}"))
}

/// [`store`], with whatever an earlier test run left in that schema dropped.
fn fresh(conn: &str, schema: &str) -> PathBuf {
    psql(
        conn,
        &format!(
            "DO $$ DECLARE s text; BEGIN FOR s IN SELECT nspname FROM pg_namespace \
             WHERE nspname = '{schema}' OR starts_with(nspname, '{schema}_') LOOP \
             EXECUTE format('DROP SCHEMA %I CASCADE', s); END LOOP; END $$"
        ),
    );
    store(conn, schema)
}

/// The two-epoch region run into a fresh schema `schema`: (its directory, the
/// store, the first alert's id).
fn ran(conn: &str, schema: &str) -> (tempfile::TempDir, PathBuf, String) {
    let d = region_two_epochs();
    let pgs = fresh(conn, schema);
    let o = run_into(d.path(), &pgs);
    assert!(o.status.success(), "{}", stderr(&o));
    let id = canopy_store::read_alerts(&pgs).unwrap()[0].id.clone();
    (d, pgs, id)
}

fn psql(conn: &str, sql: &str) -> String {
    let o = Command::new("psql")
        .args([conn, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("psql runs");
    assert!(
        o.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

/// Every layer of the GeoPackage `gpkg` by name.
fn layer_names(gpkg: &Path) -> Vec<String> {
    let ds = Dataset::open(gpkg).unwrap();
    ds.layers().map(|l| l.name()).collect()
}

/// One row: its fields and its geometry (as WKT-like debug text).
type Rows = BTreeMap<String, Vec<(BTreeMap<String, serde_json::Value>, String)>>;

/// A field's value as JSON (`Null` when unset).
fn json(v: Option<canopy_pipeline::gdal::vector::FieldValue>) -> serde_json::Value {
    use canopy_pipeline::gdal::vector::FieldValue;
    use serde_json::Value;
    match v {
        None => Value::Null,
        Some(FieldValue::IntegerValue(i)) => Value::from(i),
        Some(FieldValue::Integer64Value(i)) => Value::from(i),
        Some(FieldValue::RealValue(x)) => {
            serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
        }
        Some(FieldValue::StringValue(s)) => Value::String(s),
        Some(other) => other.into_string().map_or(Value::Null, Value::String),
    }
}

/// Every row of the layers of a store (`runs` without its times), read generically
/// through the store's own open dataset, so any table a later version adds is compared.
fn rows(store: &Path, names: &[String]) -> Rows {
    let reader = canopy_store::Store::open(store).unwrap().read().unwrap();
    let ds = reader.dataset();
    let mut out = Rows::new();
    for n in names {
        let Ok(mut layer) = ds.layer_by_name(n) else {
            continue;
        };
        let field_names: Vec<String> = layer.defn().fields().map(|f| f.name()).collect();
        let mut rows = Vec::new();
        for f in layer.features() {
            let mut fields = BTreeMap::new();
            for (i, k) in field_names.iter().enumerate() {
                fields.insert(k.clone(), json(f.field(i).ok().flatten()));
            }
            if n == "runs" {
                fields.retain(|k, _| {
                    !k.ends_with("_at")
                        && !k.ends_with("_s")
                        && !k.contains("second")
                        && k != "timings"
                });
            }
            let geometry = f.geometry().map(|g| g.to_geo().expect("a valid geometry"));
            rows.push((fields, format!("{geometry:?}")));
        }
        out.insert(n.clone(), rows);
    }
    out
}

/// Equal, numbers to 1e-13 relative: GDAL's PostgreSQL driver sends doubles as
/// text with 15 significant digits (and keeps the sign of -0.0, which SQLite drops).
fn same_value(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y || (x - y).abs() <= 1e-13 * x.abs().max(y.abs()),
        _ => a == b,
    }
}

fn assert_same_rows(a: &Rows, b: &Rows) {
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (n, ra) in a {
        let rb = &b[n];
        assert_eq!(ra.len(), rb.len(), "layer {n}: row count");
        for (i, ((fa, ga), (fb, gb))) in ra.iter().zip(rb).enumerate() {
            assert_eq!(
                fa.keys().collect::<Vec<_>>(),
                fb.keys().collect::<Vec<_>>(),
                "layer {n}: fields"
            );
            for (k, va) in fa {
                assert!(
                    same_value(va, &fb[k]),
                    "layer {n}, row {i}, field {k}: {va} vs {}",
                    fb[k]
                );
            }
            assert_eq!(ga, gb, "layer {n}, row {i}: geometry");
        }
    }
}

fn out(args: &[&str]) -> String {
    let o = run(args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn a_run_into_postgis_stores_what_a_geopackage_stores() {
    let Some(conn) = pg() else { return };
    let d = region_two_epochs();
    let (gpkg, gpkg_stdout) = run_region(d.path());
    let pgs = fresh(conn, "same_rows");
    let o = run_into(d.path(), &pgs);
    assert!(o.status.success(), "{}", stderr(&o));
    // The run's printed figures are read back from the store it wrote.
    assert_eq!(
        String::from_utf8(o.stdout)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("Store:"))
            .collect::<Vec<_>>(),
        gpkg_stdout
            .lines()
            .filter(|l| !l.starts_with("Store:"))
            .collect::<Vec<_>>()
    );

    // The QGIS styles (`layer_styles`) are GeoPackage-only (canopy-store::qgis;
    // documented); the `communes_cover` view is in both (compared below as SQL):
    // every other layer is in both.
    let names: Vec<String> = layer_names(&gpkg)
        .into_iter()
        .filter(|n| n != canopy_store::qgis::VIEW && n != "layer_styles")
        .collect();
    assert!(names.len() >= 10, "{names:?}");
    assert_same_rows(&rows(&gpkg, &names), &rows(&pgs, &names));
    // The CLI reads both the same way.
    let p = path_str(&pgs);
    let g = path_str(&gpkg);
    for cmd in [
        vec!["stats", "--store"],
        vec!["alerts", "--store"],
        vec!["stats", "--format", "csv", "--store"],
        vec!["alerts", "--format", "csv", "--store"],
    ] {
        let mut ga = cmd.clone();
        ga.push(&g);
        let mut pa = cmd.clone();
        pa.push(&p);
        let (a, b) = (out(&ga), out(&pa));
        if cmd.contains(&"csv") {
            // Full-precision CSV: the same to 15 significant digits.
            let cells =
                |t: &str| -> Vec<String> { t.split([',', '\n']).map(String::from).collect() };
            let (ca, cb) = (cells(&a), cells(&b));
            assert_eq!(ca.len(), cb.len(), "{cmd:?}");
            for (x, y) in ca.iter().zip(&cb) {
                match (x.parse::<f64>(), y.parse::<f64>()) {
                    (Ok(x), Ok(y)) => assert!(
                        (x - y).abs() <= 1e-13 * x.abs().max(y.abs()),
                        "{cmd:?}: {x} vs {y}"
                    ),
                    _ => assert_eq!(x, y, "{cmd:?}"),
                }
            }
        } else {
            assert_eq!(a, b, "{cmd:?}: the printed figures are identical");
        }
    }
    // PostGIS geometry with a GiST index, as QGIS and ogrinfo expect.
    assert_eq!(
        psql(conn, "SELECT type FROM geometry_columns WHERE f_table_schema = 'same_rows' AND f_table_name = 'alerts'"),
        "MULTIPOLYGON"
    );
    let idx = psql(
        conn,
        "SELECT indexdef FROM pg_indexes WHERE schemaname = 'same_rows' AND tablename = 'alerts'",
    );
    assert!(idx.to_lowercase().contains("gist"), "{idx}");
    // The communes_cover view and the layer descriptions, as in the GeoPackage.
    let view_pg = psql(
        conn,
        "SELECT string_agg(code || ':' || coalesce(round(cover_pct::numeric, 9)::text, '-'), ',' ORDER BY code) \
         FROM same_rows.communes_cover",
    );
    let g_ds = Dataset::open(&gpkg).unwrap();
    let mut view_g = Vec::new();
    let mut v = g_ds.layer_by_name(canopy_store::qgis::VIEW).unwrap();
    for f in v.features() {
        let code = f
            .field_as_string(f.field_index("code").unwrap())
            .unwrap()
            .unwrap();
        let pct = f
            .field_as_double(f.field_index("cover_pct").unwrap())
            .unwrap()
            .map_or("-".to_string(), |x| format!("{x:.9}"));
        view_g.push(format!("{code}:{pct}"));
    }
    view_g.sort();
    assert!(
        view_g.len() >= 2 && view_g.iter().all(|c| !c.ends_with(":-")),
        "{view_g:?}"
    );
    assert_eq!(view_pg, view_g.join(","));
    assert!(
        psql(conn, "SELECT obj_description('same_rows.alerts'::regclass)")
            .starts_with("Forest-loss and fire alerts"),
    );
    assert!(psql(
        conn,
        "SELECT obj_description('same_rows.communes_cover'::regclass)"
    )
    .starts_with("Communes with their latest epoch"));
}

#[test]
fn triage_survives_runs_and_each_run_replaces_the_results_whole() {
    let Some(conn) = pg() else { return };
    let (d, pgs, id) = ran(conn, "triage_kept");
    let p = path_str(&pgs);
    for status in ["confirmed", "dismissed"] {
        out(&[
            "triage", "--store", &p, &id, "--status", status, "--by", "lan",
        ]);
    }
    let oid_before = psql(
        conn,
        "SELECT oid FROM pg_namespace WHERE nspname = 'triage_kept'",
    );
    let o = run_into(d.path(), &pgs);
    assert!(o.status.success(), "{}", stderr(&o));
    let oid_after = psql(
        conn,
        "SELECT oid FROM pg_namespace WHERE nspname = 'triage_kept'",
    );
    assert_ne!(oid_before, oid_after, "a new schema was swapped in");
    let t = canopy_store::read_triage(&pgs).unwrap();
    assert_eq!(t.len(), 2);
    assert_eq!(t[1].status.as_str(), "dismissed");
    assert_eq!(canopy_store::read_runs(&pgs).unwrap().len(), 2);
    // Triage is stored once, never copied into the results schema.
    assert_eq!(
        psql(conn, "SELECT count(*) FROM triage_kept_triage.alert_triage"),
        "2"
    );
    assert_eq!(
        psql(conn, "SELECT table_type FROM information_schema.tables WHERE table_schema = 'triage_kept' AND table_name = 'alert_triage'"),
        "VIEW"
    );
    let alerts = canopy_store::read_alerts(&pgs).unwrap();
    assert_eq!(
        alerts.iter().find(|a| a.id == id).unwrap().status.as_str(),
        "dismissed"
    );
    // No temporary or old schema is left.
    assert_eq!(
        psql(conn, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'triage\\_kept\\_%' AND nspname <> 'triage_kept_triage'"),
        "0"
    );
}

/// The one-round-trip append (`<schema>_triage.append_event`): the writer's event
/// count is checked, an unknown alert is refused, a run swapping the results in
/// between does not confuse the connection's prepared statement, and a store of an
/// older Canopy (no function) gets it at its first write.
#[test]
fn triage_appends_check_the_count_and_survive_a_swap_and_an_older_store() {
    let Some(conn) = pg() else { return };
    let (d, pgs, id) = ran(conn, "triage_fn");
    let ev = |status: &str| event(&id, status, "lan", "2026-11-29T10:00:00Z");
    let w1 = canopy_store::append_triage(&pgs, &ev("confirmed"), Some(0)).unwrap();
    let w2 = canopy_store::append_triage(&pgs, &ev("dismissed"), Some(1)).unwrap();
    // Each write's "after" is the next write's "before": a server holding the first
    // version may apply the event without reading the store again.
    assert_eq!(w1.after, w2.before);
    assert_ne!(w1.before, w1.after);
    // A writer that saw one event while the store has two: refused, nothing added.
    match canopy_store::append_triage(&pgs, &ev("new"), Some(1)) {
        Err(canopy_store::StoreError::Conflict(m)) => assert!(m.contains("has 2"), "{m}"),
        other => panic!("a stale count must conflict, got {other:?}"),
    }
    match canopy_store::append_triage(&pgs, &event("no-such-alert", "new", "lan", "x"), None) {
        Err(canopy_store::StoreError::NotFound(m)) => assert!(m.contains("no-such-alert"), "{m}"),
        other => panic!("an unknown alert must be NotFound, got {other:?}"),
    }
    // A run replaces the results (and the alerts table the function reads).
    assert!(run_into(d.path(), &pgs).status.success());
    let w3 = canopy_store::append_triage(&pgs, &ev("confirmed"), Some(2)).unwrap();
    assert_ne!(w3.before, w2.after, "a new results schema is a new version");
    // An older store: no function. The first write creates it.
    psql(conn, "DROP FUNCTION triage_fn_triage.append_event");
    canopy_store::append_triage(&pgs, &ev("dismissed"), Some(3)).unwrap();
    let t = canopy_store::read_triage(&pgs).unwrap();
    let mine: Vec<&str> = t
        .iter()
        .filter(|e| e.alert_id == id)
        .map(|e| e.status.as_str())
        .collect();
    assert_eq!(mine, ["confirmed", "dismissed", "confirmed", "dismissed"]);
}

#[test]
fn a_run_killed_mid_write_leaves_the_previous_results_identical() {
    let Some(conn) = pg() else { return };
    let (d, pgs, id) = ran(conn, "killed");
    out(&[
        "triage",
        "--store",
        &path_str(&pgs),
        &id,
        "--status",
        "confirmed",
        "--by",
        "lan",
    ]);
    let names: Vec<String> = psql(conn, "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables WHERE table_schema = 'killed'")
        .split(',')
        .map(String::from)
        .collect();
    let before = rows(&pgs, &names);

    // A second run, killed with SIGKILL as soon as its new schema exists (it is
    // writing the tables into it).
    let mut child = canopy()
        .args([
            "run",
            &path_str(&d.path().join("region.toml")),
            "--store",
            &path_str(&pgs),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    loop {
        if psql(
            conn,
            "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'killed\\_new\\_%'",
        ) != "0"
        {
            break;
        }
        assert!(t0.elapsed().as_secs() < 60, "the run never started writing");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it was killed"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    assert_eq!(
        rows(&pgs, &names),
        before,
        "the previous results are untouched (exactly)"
    );
    assert_eq!(canopy_store::read_runs(&pgs).unwrap().len(), 1);
    // The next run drops the killed run's schema and keeps the history.
    let o = run_into(d.path(), &pgs);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        psql(
            conn,
            "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'killed\\_new\\_%'"
        ),
        "0"
    );
    assert_eq!(canopy_store::read_runs(&pgs).unwrap().len(), 2);
    assert_eq!(canopy_store::read_triage(&pgs).unwrap().len(), 1);
}

/// One line on stderr, exit status 1, naming what is wrong.
fn assert_clear_failure(o: &std::process::Output, must: &[&str]) {
    assert_eq!(o.status.code(), Some(1), "{}", stderr(o));
    let e = stderr(o);
    let lines: Vec<&str> = e
        .lines()
        .filter(|l| l.starts_with("error") || l.starts_with("Error"))
        .collect();
    assert_eq!(lines.len(), 1, "one error line: {e}");
    for m in must {
        assert!(e.contains(m), "{m:?} not in: {e}");
    }
    assert!(
        !e.contains("password=secret"),
        "the password is not printed: {e}"
    );
}

#[test]
fn bad_connections_fail_with_one_clear_line_and_write_nothing() {
    let Some(conn) = pg() else { return };
    let d = region_two_epochs();
    let region = path_str(&d.path().join("region.toml"));
    // Nobody listens on port 1.
    let o = run(&[
        "run",
        &region,
        "--store",
        "PG:host=127.0.0.1 port=1 dbname=x password=secret schema=a",
    ]);
    assert_clear_failure(&o, &["cannot connect to PostgreSQL", "port='1'"]);
    // A wrong password (the throwaway cluster has a role that needs one).
    if let Ok(role) = std::env::var("CANOPY_TEST_PG_PASSWORD_ROLE") {
        let user = conn
            .split_whitespace()
            .find(|kv| kv.starts_with("user="))
            .unwrap();
        let wrong = conn.replace(user, &format!("user={role} password=secret"));
        let o = run(&["run", &region, "--store", &format!("PG:{wrong} schema=pw")]);
        assert_clear_failure(
            &o,
            &[
                "cannot connect to PostgreSQL",
                "password authentication failed",
            ],
        );
        assert_eq!(
            psql(
                conn,
                "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'pw%'"
            ),
            "0"
        );
    }
    // A database without PostGIS.
    psql(conn, "DROP DATABASE IF EXISTS nopostgis");
    psql(conn, "CREATE DATABASE nopostgis");
    let nopg = conn.replace("dbname=canopy", "dbname=nopostgis");
    let o = run(&["run", &region, "--store", &format!("PG:{nopg} schema=a")]);
    assert_clear_failure(&o, &["CREATE EXTENSION postgis"]);
    assert_eq!(
        psql(
            &nopg,
            "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'a%'"
        ),
        "0"
    );
    // A schema that is not a Canopy store is never replaced.
    psql(
        conn,
        "CREATE SCHEMA IF NOT EXISTS other; CREATE TABLE IF NOT EXISTS other.t (x int)",
    );
    let o = run(&["run", &region, "--store", &path_str(&store(conn, "other"))]);
    assert_clear_failure(&o, &["not a Canopy store"]);
    assert_eq!(
        psql(
            conn,
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'other'"
        ),
        "1"
    );
    // A user without the right to create schemas.
    psql(conn, "DO $$ BEGIN CREATE ROLE reader LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$; REVOKE CREATE ON DATABASE canopy FROM PUBLIC");
    let user = conn
        .split_whitespace()
        .find(|kv| kv.starts_with("user="))
        .unwrap();
    let ro = conn.replace(user, "user=reader");
    let o = run(&["run", &region, "--store", &format!("PG:{ro} schema=ro")]);
    assert_clear_failure(&o, &["permission denied"]);
    // A bad schema name, and reading a schema no run wrote.
    let o = run(&["stats", "--store", &format!("PG:{conn} schema=Bad-Name")]);
    assert_clear_failure(&o, &["not a plain schema name"]);
    let o = run(&[
        "stats",
        "--store",
        &format!("PG:{conn} schema=never_written"),
    ]);
    assert_clear_failure(&o, &["schema never_written does not exist"]);
}

/// A schema written by a newer Canopy (`store_format` above ours): reads and runs
/// refuse with one line, and the run leaves the schema as it was.
#[test]
fn a_schema_of_a_newer_canopy_is_refused() {
    let Some(conn) = pg() else { return };
    let d = region_two_epochs();
    let pgs = fresh(conn, "newer");
    assert!(run_into(d.path(), &pgs).status.success());
    psql(
        conn,
        &format!(
            "UPDATE newer.store_format SET format = {}, written_by = 'canopy 9.0.0'",
            canopy_store::format::FORMAT + 1
        ),
    );
    let oid = psql(conn, "SELECT oid FROM pg_namespace WHERE nspname = 'newer'");
    let o = run(&["stats", "--store", &path_str(&pgs)]);
    assert_clear_failure(&o, &["newer Canopy", "canopy 9.0.0"]);
    let o = run_into(d.path(), &pgs);
    assert_clear_failure(&o, &["newer Canopy", "nothing was written"]);
    assert_eq!(
        psql(conn, "SELECT oid FROM pg_namespace WHERE nspname = 'newer'"),
        oid
    );
}

#[test]
fn a_postgresql_url_names_the_same_store() {
    let Some(conn) = pg() else { return };
    let d = region_two_epochs();
    let kv: BTreeMap<&str, &str> = conn
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let url = format!(
        "postgresql://{}@{}:{}/{}?schema=by_url",
        kv["user"], kv["host"], kv["port"], kv["dbname"]
    );
    fresh(conn, "by_url");
    let o = run_into(d.path(), Path::new(&url));
    assert!(o.status.success(), "{}", stderr(&o));
    let a = out(&["stats", "--format", "csv", "--store", &url]);
    let b = out(&[
        "stats",
        "--format",
        "csv",
        "--store",
        &path_str(&store(conn, "by_url")),
    ]);
    assert_eq!(a, b);
    assert!(a.lines().count() > 2, "{a}");
}

/// A PNG's first bytes (what the photo check sniffs), then `tag`.
fn png(tag: &str) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
    b.extend_from_slice(tag.as_bytes());
    b
}

fn event(id: &str, status: &str, by: &str, at: &str) -> canopy_store::TriageEvent {
    canopy_store::TriageEvent {
        alert_id: id.into(),
        status: canopy_core::triage::TriageStatus::parse(status).unwrap(),
        note: format!("{by} at {at}"),
        by: by.into(),
        at: at.into(),
    }
}

fn photo(store: &Path, id: &str, by: &str, at: &str, data: &[u8], seen: usize) {
    canopy_store::photos::append(
        store,
        &canopy_store::photos::NewPhoto {
            alert_id: id,
            by,
            at,
            data,
        },
        seen,
    )
    .unwrap();
}

/// (alert, event, seq, by, bytes) of every photo.
fn photo_list(store: &Path) -> Vec<(String, usize, usize, String, Vec<u8>)> {
    canopy_store::photos::read_all(store)
        .unwrap()
        .into_iter()
        .map(|p| (p.meta.alert_id, p.meta.event, p.meta.seq, p.meta.by, p.data))
        .collect()
}

#[test]
fn photos_on_postgis_keep_the_geopackage_limits() {
    let Some(conn) = pg() else { return };
    let d = region_two_epochs();
    let pgs = fresh(conn, "photos_pg");
    let p = path_str(&pgs);
    assert!(run_into(d.path(), &pgs).status.success());
    let ids: Vec<String> = canopy_store::read_alerts(&pgs)
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    let a = &ids[0];
    // Before the export: one event and a photo in the shared store (PostGIS photos).
    let t0 = "2026-11-02T08:00:00Z";
    canopy_store::append_triage(&pgs, &event(a, "confirmed", "lan", t0), Some(0)).unwrap();
    photo(&pgs, a, "lan", t0, &png("office"), 1);
    // The photo limits hold on PostGIS as on a GeoPackage.
    let refuse = |data: &[u8], by: &str, seen: usize| {
        canopy_store::photos::append(
            &pgs,
            &canopy_store::photos::NewPhoto {
                alert_id: a,
                by,
                at: t0,
                data,
            },
            seen,
        )
        .unwrap_err()
    };
    let too_big = png(&"x".repeat(canopy_store::photos::MAX_PHOTO_BYTES));
    assert!(matches!(
        refuse(&too_big, "lan", 1),
        canopy_store::StoreError::Input(_)
    ));
    assert!(matches!(
        refuse(b"GIF89a..", "lan", 1),
        canopy_store::StoreError::Input(_)
    ));
    assert!(matches!(
        refuse(&png("y"), "someone", 1),
        canopy_store::StoreError::Conflict(_)
    ));
    assert!(matches!(
        refuse(&png("y"), "lan", 0),
        canopy_store::StoreError::Conflict(_)
    ));
    for i in 2..=canopy_store::photos::MAX_PHOTOS_PER_EVENT {
        photo(&pgs, a, "lan", t0, &png(&format!("office {i}")), 1);
    }
    assert!(matches!(
        refuse(&png("one too many"), "lan", 1),
        canopy_store::StoreError::Input(_)
    ));
    let photos = photo_list(&pgs);
    assert_eq!(photos.len(), canopy_store::photos::MAX_PHOTOS_PER_EVENT);
    assert_eq!(photos[0], (a.clone(), 1, 1, "lan".into(), png("office")));
    // Stored once, in the triage schema; a new run keeps them.
    assert_eq!(
        psql(conn, "SELECT count(*) FROM photos_pg_triage.triage_photos"),
        "4"
    );
    assert!(run_into(d.path(), &pgs).status.success());
    assert_eq!(photo_list(&pgs), photos);
    assert!(out(&["stats", "--store", &p]).lines().count() > 2);
}

/// PostGIS → GeoPackage → PostGIS: every layer equal (read generically through
/// `Reader::dataset()`), a field edited in the GeoPackage comes back, the triage
/// events of both sides are merged by time (importing twice = importing once).
#[test]
fn export_to_a_geopackage_triage_in_the_field_and_import_back() {
    let Some(conn) = pg() else { return };
    let (d, pgs, a) = ran(conn, "field_trip");
    let a = &a;
    let p = path_str(&pgs);
    let t0 = "2026-11-02T08:00:00Z";
    canopy_store::append_triage(&pgs, &event(a, "confirmed", "lan", t0), Some(0)).unwrap();
    for i in 1..=canopy_store::photos::MAX_PHOTOS_PER_EVENT {
        let tag = if i == 1 {
            "office".to_string()
        } else {
            format!("office {i}")
        };
        photo(&pgs, a, "lan", t0, &png(&tag), 1);
    }
    let stats_before = out(&["stats", "--format", "csv", "--store", &p]);

    // The whole store to a GeoPackage: every layer as it is, triage and photos too.
    let gpkg = d.path().join("field.gpkg");
    let g = path_str(&gpkg);
    let o = run(&["export", "--store", &p, "-o", &g]);
    assert!(o.status.success(), "{}", stderr(&o));
    let names: Vec<String> = layer_names(&gpkg)
        .into_iter()
        .filter(|n| {
            ![
                "alert_triage",
                "triage_photos",
                "layer_styles",
                canopy_store::qgis::VIEW,
            ]
            .contains(&n.as_str())
        })
        .collect();
    // The GeoPackage is a store as a run writes it: its QGIS view and styles too.
    assert!(layer_names(&gpkg).contains(&canopy_store::qgis::VIEW.to_string()));
    assert!(layer_names(&gpkg).contains(&"layer_styles".to_string()));
    assert!(names.len() >= 10, "{names:?}");
    assert!(names.contains(&"alerts".to_string()) && names.contains(&"runs".to_string()));
    assert_same_rows(&rows(&pgs, &names), &rows(&gpkg, &names));
    assert_eq!(
        canopy_store::read_triage(&gpkg).unwrap(),
        canopy_store::read_triage(&pgs).unwrap()
    );
    assert_eq!(photo_list(&gpkg), photo_list(&pgs));
    assert_eq!(photo_list(&gpkg).len(), 4);
    assert_eq!(
        out(&["stats", "--format", "csv", "--store", &g]),
        stats_before
    );
    // An export never overwrites a file.
    let o = run(&["export", "--store", &p, "-o", &g]);
    assert_clear_failure(&o, &["field.gpkg", "exists"]);
    let o = run(&[
        "export",
        "--store",
        &p,
        "-o",
        &path_str(&d.path().join("x.csv")),
    ]);
    assert_clear_failure(&o, &["--layer"]);
    // One layer of a PostGIS store, as of a GeoPackage one (with triage status).
    for layer in ["alerts", "communes"] {
        let (a, b) = (
            d.path().join(format!("{layer}-pg.csv")),
            d.path().join(format!("{layer}-gpkg.csv")),
        );
        out(&[
            "export",
            "--store",
            &p,
            "--layer",
            layer,
            "-o",
            &path_str(&a),
        ]);
        out(&[
            "export",
            "--store",
            &g,
            "--layer",
            layer,
            "-o",
            &path_str(&b),
        ]);
        let (ta, tb) = (
            std::fs::read_to_string(&a).unwrap(),
            std::fs::read_to_string(&b).unwrap(),
        );
        assert!(ta.lines().count() >= 2, "{ta}");
        // PostgreSQL keeps the sign of -0.0, SQLite drops it (see `same_value`).
        assert_eq!(ta.replace(",-0,", ",0,"), tb, "export --layer {layer}");
    }
    let original = rows(&pgs, &names);

    // A field edited in the GeoPackage (a commune renamed in the field).
    {
        let ds = canopy_pipeline::gdal::Dataset::open_ex(
            &gpkg,
            canopy_pipeline::gdal::DatasetOptions {
                open_flags: canopy_pipeline::gdal::GdalOpenFlags::GDAL_OF_UPDATE
                    | canopy_pipeline::gdal::GdalOpenFlags::GDAL_OF_VECTOR,
                ..Default::default()
            },
        )
        .unwrap();
        let code = original["communes"][0].0["code"].as_str().unwrap();
        ds.execute_sql(
            format!("UPDATE communes SET name = 'Xã Đổi Tên' WHERE code = '{code}'"),
            None,
            canopy_pipeline::gdal::vector::sql::Dialect::DEFAULT,
        )
        .unwrap();
    }

    // In the field (the GeoPackage): an event at 09:00 with a photo, one at 11:00;
    // at the office meanwhile (PostGIS): one at 10:00.
    let (t1, t2, t3) = (
        "2026-11-02T09:00:00Z",
        "2026-11-02T10:00:00Z",
        "2026-11-02T11:00:00Z",
    );
    canopy_store::append_triage(&gpkg, &event(a, "dismissed", "field", t1), Some(1)).unwrap();
    photo(&gpkg, a, "field", t1, &png("field"), 2);
    canopy_store::append_triage(&gpkg, &event(a, "dismissed", "field", t3), Some(2)).unwrap();
    canopy_store::append_triage(&pgs, &event(a, "confirmed", "office", t2), Some(1)).unwrap();

    let o = run(&["import", &g, "--store", &p]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("2 triage events and 1 photos added (interleaved by time)"),
        "{}",
        stderr(&o)
    );
    // Both sides' events exactly once, in time order; the photos on their events.
    let whos = |s: &Path| -> Vec<(String, String, String)> {
        canopy_store::read_triage(s)
            .unwrap()
            .into_iter()
            .map(|e| (e.alert_id, e.by, e.at))
            .collect()
    };
    let want: Vec<(String, String, String)> = [
        (a, "lan", t0),
        (a, "field", t1),
        (a, "office", t2),
        (a, "field", t3),
    ]
    .iter()
    .map(|(i, by, at)| (i.to_string(), by.to_string(), at.to_string()))
    .collect();
    assert_eq!(whos(&pgs), want);
    let photos = photo_list(&pgs);
    assert_eq!(photos.len(), 5);
    assert_eq!(
        photos.iter().filter(|p| p.3 == "lan" && p.1 == 1).count(),
        4,
        "the office's photos stay on event 1"
    );
    assert!(photos.contains(&(a.clone(), 2, 1, "field".into(), png("field"))));
    // The latest status by time is the field's (11:00).
    let status = |s: &Path, id: &str| {
        canopy_store::read_alerts(s)
            .unwrap()
            .into_iter()
            .find(|x| x.id == id)
            .unwrap()
            .status
            .as_str()
            .to_string()
    };
    assert_eq!(status(&pgs, a), "dismissed");
    // The results are the GeoPackage's: the same figures, the renamed commune.
    let stats_after = out(&["stats", "--format", "csv", "--store", &p]);
    assert_eq!(
        stats_after,
        out(&["stats", "--format", "csv", "--store", &g])
    );
    assert!(stats_after.contains("Xã Đổi Tên") && !stats_before.contains("Xã Đổi Tên"));
    let old_name = original["communes"][0].0["name"].as_str().unwrap();
    assert_eq!(stats_after.replace("Xã Đổi Tên", old_name), stats_before);
    let back = rows(&pgs, &names);
    assert_same_rows(&rows(&gpkg, &names), &back);
    // The round trip changed only the edited field.
    let mut edited = original.clone();
    let commune = &mut edited.get_mut("communes").unwrap()[0].0;
    assert_ne!(commune["name"], "Xã Đổi Tên");
    commune.insert("name".into(), "Xã Đổi Tên".into());
    assert_same_rows(&edited, &back);
    assert_eq!(
        psql(
            conn,
            &format!(
                "SELECT name FROM field_trip.communes WHERE code = '{}'",
                original["communes"][0].0["code"].as_str().unwrap()
            )
        ),
        "Xã Đổi Tên"
    );
    // The imported schema has its view and descriptions too.
    assert!(psql(conn, "SELECT count(*) FROM field_trip.communes_cover")
        .parse::<u32>()
        .is_ok_and(|n| n >= 2));
    assert!(
        psql(conn, "SELECT obj_description('field_trip.cover'::regclass)")
            .starts_with("Forest cover per commune")
    );
    assert_eq!(
        psql(conn, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'field\\_trip\\_%' AND nspname <> 'field_trip_triage'"),
        "0"
    );

    // Importing again adds nothing.
    let o = run(&["import", &g, "--store", &p]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("0 triage events and 0 photos added"),
        "{}",
        stderr(&o)
    );
    assert_eq!(whos(&pgs), want);
    assert_eq!(photo_list(&pgs), photos);
    // Not a PostgreSQL target, or not a store: one clear line.
    let o = run(&["import", &g, "--store", &g]);
    assert_clear_failure(&o, &["is not a PostgreSQL store"]);
    let o = run(&[
        "import",
        &path_str(&d.path().join("region.toml")),
        "--store",
        &p,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(whos(&pgs), want);
}
