//! The PostgreSQL/PostGIS backend (issue 15): a store is a schema of a database.
//!
//! `--store` takes GDAL's `PG:` syntax (`PG:host=h port=5432 dbname=d user=u
//! schema=lang_son`) or a URL (`postgresql://u:pw@h:5432/d?schema=lang_son`);
//! the schema (one per region) defaults to `canopy`. The tables are the
//! GeoPackage's, written by the same table modules through GDAL's PostgreSQL driver
//! (PostGIS geometry, GiST spatial indexes, `fid` and `geom` columns), so QGIS and
//! `ogrinfo PG:... schemas=lang_son` open them as they are. The few things GDAL
//! cannot do go through the `postgres` client:
//!
//! - **the atomic replace**: a run (holding a session advisory lock per schema, so
//!   one run at a time) writes every table into a new schema `<schema>_new_<pid>`
//!   in one GDAL transaction, reads it back, and then, in one SQL transaction,
//!   renames the old schema away, the new one into place and drops the old one.
//!   Readers hold a shared advisory lock while they read ([`ReadGuard`]), the swap
//!   takes it exclusively, so a reader sees the old results or the new ones, never
//!   a mix. A killed run leaves the old schema untouched (its temporary schema is
//!   dropped by the next run);
//! - **triage**: the events live in `<schema>_triage.alert_triage`, which runs never
//!   rewrite; each results schema has a view `alert_triage` over it (so readers and
//!   `ogrinfo` see the same table as in a GeoPackage). An append locks that table,
//!   checks the alert and the writer's event count (the server's If-Match) and
//!   inserts, in one transaction: of concurrent writers with the same ETag exactly
//!   one wins, the others get [`StoreError::Conflict`];
//! - **notifications**: the swap and every triage/photo append NOTIFY
//!   [`CHANNEL`] with the schema as payload, in their transaction; servers
//!   [`listen`] and reload at once (their poll stays as the fallback);
//! - **the version** the server polls ([`stamp`]): the results schema's oid (a
//!   swap changes it) and the triage table's last sequence number.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use gdal::Dataset;
use postgres::error::SqlState;
use postgres::types::Type;
use postgres::{Client, GenericClient, NoTls, Statement};

use crate::error::{Result, StoreError};
use crate::file::FileId;
use crate::triage::{TriageEvent, TriageWrite};

/// The schema used when the store names none.
pub const DEFAULT_SCHEMA: &str = "canopy";

/// Whether `path` names a PostgreSQL store (`PG:...`, `postgresql://...`).
pub fn is_pg(path: &Path) -> bool {
    path.to_str().is_some_and(|s| {
        s.starts_with("PG:") || s.starts_with("postgresql://") || s.starts_with("postgres://")
    })
}

/// A store in a PostgreSQL database: libpq connection parameters and a schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgLocation {
    /// libpq `key=value` pairs (no schema).
    params: Vec<(String, String)>,
    /// The region's schema.
    pub schema: String,
}

/// Splits a libpq `key=value ...` string (values may be 'quoted').
fn kv_pairs(s: &str) -> std::result::Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut it = s.chars().peekable();
    let skip_ws = |it: &mut std::iter::Peekable<std::str::Chars>| {
        while it.peek().is_some_and(|c| c.is_whitespace()) {
            it.next();
        }
    };
    loop {
        skip_ws(&mut it);
        if it.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(&c) = it.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            it.next();
        }
        skip_ws(&mut it);
        if it.next() != Some('=') {
            return Err(format!("\"{key}\" has no value (write key=value)"));
        }
        skip_ws(&mut it);
        let mut val = String::new();
        if it.peek() == Some(&'\'') {
            it.next();
            loop {
                match it.next() {
                    None => return Err(format!("the value of {key} has no closing quote")),
                    Some('\\') => val.extend(it.next()),
                    Some('\'') => break,
                    Some(c) => val.push(c),
                }
            }
        } else {
            while let Some(&c) = it.peek() {
                if c.is_whitespace() {
                    break;
                }
                it.next();
                if c == '\\' {
                    val.extend(it.next());
                } else {
                    val.push(c);
                }
            }
        }
        out.push((key, val));
    }
}

fn quote(v: &str) -> String {
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn bad(path: &Path, msg: impl std::fmt::Display) -> StoreError {
    StoreError::invalid(&redact(path), msg)
}

/// `path` without its password (for messages).
fn redact(path: &Path) -> PathBuf {
    match parse_inner(path) {
        Ok(l) => l.display_path(),
        Err(_) => PathBuf::from("PG:(unparsable connection string)"),
    }
}

/// Parses a `PG:` string or a `postgresql://` URL (with `schema=` / `?schema=`).
pub fn parse(path: &Path) -> Result<PgLocation> {
    parse_inner(path).map_err(|m| bad(path, m))
}

fn parse_inner(path: &Path) -> std::result::Result<PgLocation, String> {
    let s = path.to_str().ok_or("is not UTF-8")?;
    let mut schema = None;
    let mut params = Vec::new();
    if let Some(rest) = s.strip_prefix("PG:") {
        for (k, v) in kv_pairs(rest)? {
            match k.as_str() {
                "schema" | "active_schema" | "schemas" => schema = Some(v),
                "tables" => return Err("`tables=` is not allowed in a store's PG: string".into()),
                _ => params.push((k, v)),
            }
        }
        // Checked here so a typo is one clear line, not a driver error later.
        postgres::Config::from_str(&join(&params))
            .map_err(|e| format!("not a PostgreSQL connection string: {e}"))?;
    } else {
        let (base, query) = s.split_once('?').unwrap_or((s, ""));
        let mut rest = Vec::new();
        for kv in query.split('&').filter(|q| !q.is_empty()) {
            match kv.split_once('=') {
                Some(("schema", v)) => schema = Some(v.to_string()),
                _ => rest.push(kv),
            }
        }
        let url = if rest.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        let c =
            postgres::Config::from_str(&url).map_err(|e| format!("not a PostgreSQL URL: {e}"))?;
        for h in c.get_hosts() {
            match h {
                postgres::config::Host::Tcp(h) => params.push(("host".into(), h.clone())),
                postgres::config::Host::Unix(p) => {
                    params.push(("host".into(), p.display().to_string()))
                }
            }
        }
        if let Some(p) = c.get_ports().first() {
            params.push(("port".into(), p.to_string()));
        }
        if let Some(u) = c.get_user() {
            params.push(("user".into(), u.to_string()));
        }
        if let Some(p) = c.get_password() {
            params.push(("password".into(), String::from_utf8_lossy(p).into_owned()));
        }
        if let Some(d) = c.get_dbname() {
            params.push(("dbname".into(), d.to_string()));
        }
        if let Some(t) = c.get_connect_timeout() {
            params.push(("connect_timeout".into(), t.as_secs().to_string()));
        }
    }
    if !params.iter().any(|(k, _)| k == "connect_timeout") {
        params.push(("connect_timeout".into(), "10".into()));
    }
    let schema = schema.unwrap_or_else(|| DEFAULT_SCHEMA.to_string());
    let ok = !schema.is_empty()
        && schema.len() <= 40
        && schema.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !ok {
        return Err(format!(
            "schema \"{schema}\" is not a plain schema name (a-z, 0-9, _; at most 40 characters, not starting with a digit)"
        ));
    }
    if schema.starts_with("pg_") {
        return Err(format!(
            "schema \"{schema}\" starts with pg_, which PostgreSQL reserves for its system schemas; choose another schema name"
        ));
    }
    if RESERVED_SCHEMAS.contains(&schema.as_str()) {
        return Err(format!(
            "schema \"{schema}\" belongs to the database (PostGIS and the SQL standard's \
             catalog live there; a run replaces its schema whole); choose another schema name"
        ));
    }
    Ok(PgLocation { params, schema })
}

/// Schemas a store never is: a run renames and drops its schema, and these hold
/// the database's own objects (PostGIS is installed in `public`).
const RESERVED_SCHEMAS: [&str; 5] = [
    "public",
    "information_schema",
    "topology",
    "tiger",
    "tiger_data",
];

fn join(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{k}={}", quote(v)))
        .collect::<Vec<_>>()
        .join(" ")
}

impl PgLocation {
    /// Refuses, for a run, a schema name Canopy uses for its own schemas.
    pub(crate) fn check_not_reserved(&self) -> Result<()> {
        let s = &self.schema;
        if s.ends_with("_triage") || s.contains("_new_") || s.contains("_old_") {
            return Err(StoreError::invalid(
                &self.path(),
                format!(
                    "schema \"{s}\" is reserved (Canopy keeps triage in <schema>_triage and \
                     writes runs to <schema>_new_<n>); choose another schema name"
                ),
            ));
        }
        Ok(())
    }

    /// How the store is named in messages: `PG:` parameters without the password.
    pub fn display_path(&self) -> PathBuf {
        let shown: Vec<(String, String)> = self
            .params
            .iter()
            .filter(|(k, _)| k != "password" && k != "connect_timeout")
            .cloned()
            .collect();
        PathBuf::from(format!("PG:{} schema={}", join(&shown), self.schema))
    }

    /// The `PG:` string ogrinfo and QGIS open, without the password.
    pub fn gdal_display(&self) -> String {
        let shown: Vec<(String, String)> = self
            .params
            .iter()
            .filter(|(k, _)| k != "password" && k != "connect_timeout")
            .cloned()
            .collect();
        format!("PG:{} schemas={}", join(&shown), self.schema)
    }

    /// The store name of the same database with another schema.
    pub(crate) fn with_schema(&self, schema: &str) -> PathBuf {
        PathBuf::from(format!("PG:{} schema={schema}", join(&self.params)))
    }

    pub(crate) fn path(&self) -> PathBuf {
        self.display_path()
    }

    pub(crate) fn err(
        &self,
        msg: impl std::fmt::Display,
    ) -> impl FnOnce(postgres::Error) -> StoreError {
        let (path, msg) = (self.path(), msg.to_string());
        move |source| StoreError::Postgres { path, msg, source }
    }

    /// A connection from the idle ones kept by [`Pooled`] (or a new one), for
    /// short requests that leave no session state behind: the store's version,
    /// triage and photo appends. Back to the idle ones when dropped.
    pub(crate) fn pooled(&self) -> Result<Pooled> {
        let key = join(&self.params);
        let idle = {
            let mut idle = IDLE.lock().unwrap_or_else(|e| e.into_inner());
            idle.iter()
                .position(|s| s.key == key)
                .map(|i| idle.swap_remove(i))
        };
        let session = match idle.filter(|s| !s.client.is_closed()) {
            Some(s) => s,
            None => Session {
                client: self.connect()?,
                key,
                prepared: HashMap::new(),
            },
        };
        Ok(Pooled(Some(session)))
    }

    /// Connects (the client for locks, the swap and triage).
    pub(crate) fn connect(&self) -> Result<Client> {
        let mut cfg = postgres::Config::from_str(&join(&self.params))
            .map_err(self.err("not a PostgreSQL connection string"))?;
        if cfg.get_connect_timeout().is_none() {
            cfg.connect_timeout(Duration::from_secs(10));
        }
        cfg.application_name("canopy");
        cfg.connect(NoTls)
            .map_err(self.err("cannot connect to PostgreSQL"))
    }

    /// GDAL's name of schema `schema` of this database.
    pub(crate) fn gdal_name(&self, schema: &str) -> String {
        format!("PG:{} schemas={schema}", join(&self.params))
    }

    /// Opens schema `schema` with GDAL's PostgreSQL driver.
    pub(crate) fn open_dataset(&self, schema: &str, update: bool) -> gdal::errors::Result<Dataset> {
        let mut flags = gdal::GdalOpenFlags::GDAL_OF_VECTOR;
        if update {
            flags |= gdal::GdalOpenFlags::GDAL_OF_UPDATE;
        }
        Dataset::open_ex(
            self.gdal_name(schema),
            gdal::DatasetOptions {
                open_flags: flags,
                allowed_drivers: Some(&["PostgreSQL"]),
                // Every table, not only those with geometry (GDAL's default lists
                // only spatial tables when there are some): a whole-store copy and
                // generic readers see the store's tables as in a GeoPackage.
                open_options: Some(&["LIST_ALL_TABLES=YES"]),
                ..Default::default()
            },
        )
    }

    pub(crate) fn triage_schema(&self) -> String {
        format!("{}_triage", self.schema)
    }

    /// `"<schema>_triage".alert_triage`.
    pub(crate) fn triage_table(&self) -> String {
        format!("\"{}\".alert_triage", self.triage_schema())
    }

    pub(crate) fn write_key(&self) -> String {
        format!("canopy-write:{}", self.schema)
    }

    pub(crate) fn read_key(&self) -> String {
        format!("canopy-read:{}", self.schema)
    }

    pub(crate) fn schema_exists(&self, c: &mut impl GenericClient, schema: &str) -> Result<bool> {
        c.query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &[&schema])
            .map(|r| r.is_some())
            .map_err(self.err("reading the schemas"))
    }

    /// `NotFound` unless the store's `alerts` table has `alert_id`.
    pub(crate) fn require_alert(&self, c: &mut impl GenericClient, alert_id: &str) -> Result<()> {
        let alerts = format!("\"{}\".alerts", self.schema);
        let found = self.table_exists(c, &alerts)?
            && c.query_opt(
                &format!("SELECT 1 FROM {alerts} WHERE alert_id = $1 LIMIT 1"),
                &[&alert_id],
            )
            .map_err(self.err("looking up the alert"))?
            .is_some();
        if !found {
            return Err(self.no_alert(alert_id));
        }
        Ok(())
    }

    /// `NotFound`: the store has no alert `alert_id`.
    pub(crate) fn no_alert(&self, alert_id: &str) -> StoreError {
        StoreError::NotFound(format!(
            "store {}: has no alert \"{}\"",
            self.display_path().display(),
            alert_id
        ))
    }

    pub(crate) fn table_exists(&self, c: &mut impl GenericClient, table: &str) -> Result<bool> {
        c.query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
            .map(|r| r.get(0))
            .map_err(self.err(format!("looking up {table}")))
    }

    pub(crate) fn check_postgis(&self, c: &mut Client) -> Result<()> {
        let has = c
            .query_opt("SELECT 1 FROM pg_extension WHERE extname = 'postgis'", &[])
            .map_err(self.err("reading the extensions"))?
            .is_some();
        if !has {
            return Err(StoreError::invalid(
                &self.path(),
                "the database has no PostGIS extension; a superuser must run \
                 `CREATE EXTENSION postgis;` in it first",
            ));
        }
        Ok(())
    }

    /// Refuses a schema that exists but is not a Canopy store (no `runs` table).
    pub(crate) fn check_is_store(&self, c: &mut Client) -> Result<bool> {
        if !self.schema_exists(c, &self.schema)? {
            return Ok(false);
        }
        if !self.table_exists(c, &format!("\"{}\".runs", self.schema))? {
            let n: i64 = c
                .query_one(
                    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname = $1",
                    &[&self.schema],
                )
                .map_err(self.err("reading the schema"))?
                .get(0);
            if n > 0 {
                return Err(StoreError::invalid(
                    &self.path(),
                    format!(
                        "schema {} exists and is not a Canopy store (no runs table); refusing to \
                         replace it. Give another schema (schema=NAME)",
                        self.schema
                    ),
                ));
            }
            return Ok(false);
        }
        Ok(true)
    }
}

/// Held by a [`crate::Reader`] on a PostgreSQL store: a shared advisory lock, so a
/// run's swap waits until the reader is done (one reader, one state).
pub(crate) struct ReadGuard(#[allow(dead_code)] Client);

/// Opens schema `loc.schema` for reading: the shared lock, then GDAL's dataset.
pub(crate) fn open_reader(path: &Path) -> Result<(Dataset, PathBuf, ReadGuard)> {
    let loc = parse(path)?;
    let mut c = loc.connect()?;
    if !loc.schema_exists(&mut c, &loc.schema)? {
        return Err(StoreError::invalid(
            &loc.path(),
            format!(
                "schema {} does not exist; run `canopy run REGION.toml --store '{}'` first",
                loc.schema,
                loc.display_path().display()
            ),
        ));
    }
    c.execute(
        "SELECT pg_advisory_lock_shared(hashtextextended($1, 0))",
        &[&loc.read_key()],
    )
    .map_err(loc.err("taking the readers' lock"))?;
    let ds = loc
        .open_dataset(&loc.schema, false)
        .map_err(StoreError::gdal(
            &loc.path(),
            "cannot be opened by GDAL's PostgreSQL driver",
        ))?;
    Ok((ds, loc.path(), ReadGuard(c)))
}

/// Opens the store's dataset (chips, photos: reads without the typed reader).
pub(crate) fn open_dataset(path: &Path) -> Result<Dataset> {
    let loc = parse(path)?;
    loc.open_dataset(&loc.schema, false)
        .map_err(StoreError::gdal(
            &loc.path(),
            "cannot be opened by GDAL's PostgreSQL driver",
        ))
}

/// The version the server polls: the results schema's oid (a swap changes it) and
/// the triage table's last sequence number (every append and every history
/// rewrite takes new numbers: `bigserial` never gives one out twice).
pub(crate) fn stamp_with(
    c: &mut impl GenericClient,
    loc: &PgLocation,
) -> std::result::Result<Option<FileId>, postgres::Error> {
    let row = c.query_one(
        "SELECT (SELECT oid::int8 FROM pg_namespace WHERE nspname = $1), to_regclass($2) IS NOT NULL",
        &[&loc.schema, &loc.triage_table()],
    )?;
    let Some(oid) = row.get::<_, Option<i64>>(0) else {
        return Ok(None);
    };
    let last = if row.get::<_, bool>(1) {
        c.query_one(&last_seq_sql(loc), &[])?.get(0)
    } else {
        0
    };
    Ok(Some(version(oid, last)))
}

fn last_seq_sql(loc: &PgLocation) -> String {
    format!("SELECT coalesce(max(seq), 0) FROM {}", loc.triage_table())
}

/// The [`FileId`] of results schema `oid` with triage up to sequence number `last`.
fn version(oid: i64, last: i64) -> FileId {
    FileId {
        dev: 0,
        ino: oid as u64,
        mtime_ns: last as i128,
        len: 0,
        change_counter: 0,
    }
}

/// Idle connections kept for reuse by [`PgLocation::pooled`], with their
/// connection strings: connecting costs a server process and a few round trips,
/// more than a triage append itself. At most [`IDLE_MAX`], whatever the databases.
static IDLE: std::sync::Mutex<Vec<Session>> = std::sync::Mutex::new(Vec::new());
const IDLE_MAX: usize = 4;

/// A pooled connection with the statements it prepared (by SQL text): the
/// database parses and plans a prepared statement once per connection, not at
/// every triage write. PostgreSQL re-plans one by itself when a run replaces the
/// tables it names.
struct Session {
    key: String,
    client: Client,
    prepared: HashMap<String, Statement>,
}

/// A connection of [`PgLocation::pooled`]; kept for reuse when dropped (a
/// transaction it began and did not commit is rolled back by then).
pub(crate) struct Pooled(Option<Session>);

impl Pooled {
    fn session(&mut self) -> &mut Session {
        self.0.as_mut().expect("a pooled connection until dropped")
    }

    /// `sql` prepared on this connection (once; then from its cache).
    pub(crate) fn prepared(
        &mut self,
        sql: &str,
        types: &[Type],
    ) -> std::result::Result<Statement, postgres::Error> {
        let s = self.session();
        if let Some(st) = s.prepared.get(sql) {
            return Ok(st.clone());
        }
        let st = s.client.prepare_typed(sql, types)?;
        s.prepared.insert(sql.to_string(), st.clone());
        Ok(st)
    }

    /// Drops `sql` from this connection's prepared statements (its objects changed).
    pub(crate) fn forget(&mut self, sql: &str) {
        self.session().prepared.remove(sql);
    }
}

impl std::ops::Deref for Pooled {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self
            .0
            .as_ref()
            .expect("a pooled connection until dropped")
            .client
    }
}

impl std::ops::DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.session().client
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let Some(s) = self.0.take().filter(|s| !s.client.is_closed()) else {
            return;
        };
        let mut idle = IDLE.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < IDLE_MAX {
            idle.push(s);
        }
    }
}

/// The store's version now (none when it cannot be read): one round trip on an
/// idle connection in the common case (the server asks before every write).
///
/// On a thread of its own: the server asks from async code, where the blocking
/// `postgres` client (which runs a runtime of its own) must not run.
pub(crate) fn stamp(path: &Path) -> Option<FileId> {
    let loc = parse(path).ok()?;
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut c = loc.pooled().ok()?;
            let sql = format!(
                "SELECT (SELECT oid::int8 FROM pg_namespace WHERE nspname = $1), ({})",
                last_seq_sql(&loc)
            );
            let one = c
                .prepared(&sql, &[Type::TEXT])
                .and_then(|st| c.query_one(&st, &[&loc.schema]));
            match one {
                Ok(row) => Some(version(row.get::<_, Option<i64>>(0)?, row.get(1))),
                // No triage table yet (a store of an older run): the long way.
                Err(_) => stamp_with(&mut *c, &loc).ok().flatten(),
            }
        })
        .join()
        .ok()
        .flatten()
    })
}

/// The channel a run's swap, a triage append, a photo and an import NOTIFY on
/// (the payload is the schema).
pub const CHANNEL: &str = "canopy_store";

/// LISTENs for changes of the store at `path` and calls `changed` for each
/// NOTIFY about its schema, until the connection fails (the error is returned;
/// callers reconnect, and keep polling meanwhile). Blocking: run it on a thread
/// of its own.
pub fn listen(path: &Path, mut changed: impl FnMut()) -> Result<()> {
    use postgres::fallible_iterator::FallibleIterator;
    let loc = parse(path)?;
    let mut c = loc.connect()?;
    c.batch_execute(&format!("LISTEN {CHANNEL}"))
        .map_err(loc.err("LISTEN"))?;
    tracing::debug!(schema = %loc.schema, "listening for store changes");
    let mut n = c.notifications();
    let mut it = n.blocking_iter();
    loop {
        match it.next() {
            Ok(Some(note)) => {
                if note.payload() == loc.schema {
                    changed();
                }
            }
            Ok(None) => {
                return Err(StoreError::invalid(
                    &loc.path(),
                    "the LISTEN connection was closed",
                ))
            }
            Err(e) => return Err(loc.err("waiting for notifications")(e)),
        }
    }
}

/// Errors (as [`write`] would, before any work) when the database cannot be
/// reached, has no PostGIS, or the schema is not a Canopy store.
pub(crate) fn check_replaceable(path: &Path) -> Result<()> {
    let loc = parse(path)?;
    loc.check_not_reserved()?;
    let mut c = loc.connect()?;
    loc.check_postgis(&mut c)?;
    loc.check_is_store(&mut c)?;
    Ok(())
}

/// A replace of a store's results in progress (a run, `canopy import`): the
/// writers' lock is held, the triage tables exist, and `tmp` is a new empty schema.
pub(crate) struct Replace {
    pub loc: PgLocation,
    pub c: Client,
    /// Whether the results schema exists (a previous run).
    pub exists: bool,
    /// The new schema, `<schema>_new_<pid>`.
    pub tmp: String,
}

/// Starts a replace: checks, the writers' lock, stale temporary schemas dropped,
/// the temporary schema created.
pub(crate) fn begin_replace(path: &Path) -> Result<Replace> {
    let loc = parse(path)?;
    loc.check_not_reserved()?;
    let mut c = loc.connect()?;
    loc.check_postgis(&mut c)?;
    c.execute(
        "SELECT pg_advisory_lock(hashtextextended($1, 0))",
        &[&loc.write_key()],
    )
    .map_err(loc.err("taking the writers' lock"))?;
    let exists = loc.check_is_store(&mut c)?;
    crate::pg_triage::ensure_tables(&loc, &mut c)?;
    crate::pg_triage::ensure_function(&loc, &mut c)?;

    // Temporary schemas of killed runs (no live run has one: we hold the lock).
    let prefix = format!("{}_new_", loc.schema);
    let stale: Vec<String> = c
        .query(
            "SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname, $1)",
            &[&prefix],
        )
        .map_err(loc.err("reading the schemas"))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for s in stale {
        tracing::info!(schema = %s, "dropping a temporary schema left by an interrupted run");
        c.batch_execute(&format!("DROP SCHEMA \"{s}\" CASCADE"))
            .map_err(loc.err(format!("dropping {s}")))?;
    }
    let tmp = format!("{prefix}{}", std::process::id());
    c.batch_execute(&format!("CREATE SCHEMA \"{tmp}\""))
        .map_err(loc.err(format!("cannot create schema {tmp}")))?;
    Ok(Replace {
        loc,
        c,
        exists,
        tmp,
    })
}

impl Replace {
    /// Drops the temporary schema (the replace failed; the old results stay).
    pub(crate) fn abort(mut self) {
        let _ = self
            .c
            .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.tmp));
    }

    /// Adds the `alert_triage` view to the temporary schema, and an index on
    /// `alerts.alert_id` (when the results have alerts): a triage write looks its
    /// alert up by id, and must not scan every alert of the province to do so.
    pub(crate) fn add_triage_view(&mut self) -> Result<()> {
        let (tmp, loc) = (&self.tmp, &self.loc);
        self.c
            .batch_execute(&format!(
                "CREATE VIEW \"{tmp}\".alert_triage AS
                   SELECT alert_id, status, note, \"by\", at FROM {} ORDER BY seq;
                 DO $$ BEGIN
                   IF to_regclass('\"{tmp}\".alerts') IS NOT NULL THEN
                     CREATE INDEX alerts_alert_id ON \"{tmp}\".alerts (alert_id);
                   END IF;
                 END $$;",
                loc.triage_table()
            ))
            .map_err(loc.err("creating the alert_triage view"))
    }

    /// Adds the `communes_cover` view and the layer descriptions ([`crate::qgis`])
    /// to the temporary schema.
    pub(crate) fn add_qgis_extras(&mut self) -> Result<()> {
        crate::qgis::write_pg(&mut self.c, &self.tmp).map_err(
            self.loc
                .err("creating the communes_cover view and layer descriptions"),
        )
    }

    /// The swap: one transaction, after every reader of the old results is done;
    /// `also` runs in it first (an import's triage merge), then the NOTIFY.
    pub(crate) fn commit<T>(
        mut self,
        also: impl FnOnce(&PgLocation, &mut postgres::Transaction) -> Result<T>,
    ) -> Result<T> {
        let loc = self.loc.clone();
        let (tmp, exists) = (self.tmp.clone(), self.exists);
        let result = (|| {
            let old = format!("{}_old_{}", loc.schema, std::process::id());
            let s = &loc.schema;
            let mut tx = self.c.transaction().map_err(loc.err("starting the swap"))?;
            let out = also(&loc, &mut tx)?;
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                &[&loc.read_key()],
            )
            .map_err(loc.err("waiting for readers"))?;
            let sql = if exists {
                format!(
                    "ALTER SCHEMA \"{s}\" RENAME TO \"{old}\";
                     ALTER SCHEMA \"{tmp}\" RENAME TO \"{s}\";
                     DROP SCHEMA \"{old}\" CASCADE;"
                )
            } else {
                format!("ALTER SCHEMA \"{tmp}\" RENAME TO \"{s}\";")
            };
            tx.batch_execute(&sql)
                .map_err(loc.err("swapping the new results in"))?;
            tx.execute("SELECT pg_notify('canopy_store', $1)", &[&loc.schema])
                .map_err(loc.err("notifying"))?;
            tx.commit().map_err(loc.err("committing the swap"))?;
            Ok(out)
        })();
        if result.is_err() {
            self.abort();
        }
        result
    }
}

/// A run's write: a new schema, read back, swapped in (see the module doc).
pub(crate) fn write(path: &Path, t: &crate::Tables) -> Result<()> {
    let mut r = begin_replace(path)?;
    let loc = r.loc.clone();
    let runs = if r.exists {
        crate::Reader::open(path)
            .and_then(|rd| rd.runs())
            .map_err(|e| {
                StoreError::invalid(
                    &loc.path(),
                    format!(
                    "the previous results' run history cannot be read ({}); nothing was written",
                    e.chain()
                ),
                )
            })
    } else {
        Ok(Vec::new())
    };
    let written = runs.and_then(|mut runs| {
        runs.push(t.run.clone());
        write_new(&loc, &mut r, t, &runs)
    });
    if let Err(e) = written {
        r.abort();
        return Err(e);
    }
    r.commit(|_, _| Ok(()))
}

/// Writes every table into the temporary schema (one GDAL transaction), adds the
/// triage view, and reads it back.
fn write_new(
    loc: &PgLocation,
    r: &mut Replace,
    t: &crate::Tables,
    runs: &[crate::RunRecord],
) -> Result<()> {
    let path = loc.path();
    let tmp = r.tmp.clone();
    let err = |m: String| crate::file::gdal_err(&path, m);
    let mut ds = loc
        .open_dataset(&tmp, true)
        .map_err(err(format!("cannot open schema {tmp} for writing")))?;
    {
        let mut txn = ds
            .start_transaction()
            .map_err(err("cannot start a transaction".into()))?;
        crate::write::write_tables(&mut txn, t, None, runs)
            .map_err(|(l, e)| err(format!("layer {l}"))(e))?;
        txn.commit().map_err(err("commit failed".into()))?;
    }
    ds.close().map_err(err("closing".into()))?;
    r.add_triage_view()?;
    r.add_qgis_extras()?;
    crate::write::verify_written(&loc.with_schema(&tmp), runs, None, t.cover.len(), t.alerts.len())
        .map_err(|m| {
            StoreError::invalid(
                &loc.path(),
                format!("the new results did not read back as written ({m}); the previous results are untouched"),
            )
        })
}

/// Appends a triage event in one transaction (see the module doc and
/// [`crate::triage::append`]): one call of [`crate::pg_triage::append_function`],
/// which locks the triage table, checks the alert and the writer's event count,
/// inserts and NOTIFYs. One round trip: the lock is held for as short a time as
/// the database allows, which is what concurrent writers wait for. A store of an
/// older Canopy gets the function at its first write.
pub(crate) fn append_triage(
    path: &Path,
    e: &TriageEvent,
    seen: Option<usize>,
) -> Result<TriageWrite> {
    let loc = parse(path)?;
    let mut c = loc.pooled()?;
    let sql = format!(
        "SELECT results_oid, last_seq, known, events, new_seq FROM {}($1, $2, $3, $4, $5, $6)",
        crate::pg_triage::append_function(&loc)
    );
    let mut types = vec![Type::TEXT; 5];
    types.push(Type::INT8);
    let seen_i64 = seen.map(|s| s as i64);
    let mut created = false;
    let row = loop {
        let done = c.prepared(&sql, &types).and_then(|stmt| {
            c.query_one(
                &stmt,
                &[
                    &e.alert_id,
                    &e.status.as_str(),
                    &e.note,
                    &e.by,
                    &e.at,
                    &seen_i64,
                ],
            )
        });
        match done {
            Ok(row) => break row,
            Err(err) if !created && err.code() == Some(&SqlState::UNDEFINED_FUNCTION) => {
                crate::pg_triage::ensure_function(&loc, &mut c)?;
                c.forget(&sql);
                created = true;
            }
            Err(err)
                if matches!(
                    err.code(),
                    Some(&SqlState::UNDEFINED_TABLE)
                        | Some(&SqlState::INVALID_SCHEMA_NAME)
                        | Some(&SqlState::UNDEFINED_FUNCTION)
                ) =>
            {
                return Err(StoreError::invalid(
                    &loc.path(),
                    format!(
                        "has no triage table {}; run `canopy run` on this store first",
                        loc.triage_table()
                    ),
                ));
            }
            Err(err) => return Err(loc.err("writing triage")(err)),
        }
    };
    let oid: Option<i64> = row.get(0);
    if !row.get::<_, bool>(2) {
        return Err(loc.no_alert(&e.alert_id));
    }
    let (now, seq): (Option<i64>, Option<i64>) = (row.get(3), row.get(4));
    let Some(seq) = seq else {
        return Err(StoreError::Conflict(format!(
            "alert \"{}\" has {} triage events in the store, the writer saw {}: \
             it changed meanwhile",
            e.alert_id,
            now.unwrap_or_default(),
            seen.unwrap_or_default()
        )));
    };
    Ok(TriageWrite {
        before: oid.map(|o| version(o, row.get(1))),
        after: oid.map(|o| version(o, seq)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pg_strings_and_urls() {
        let l = parse(Path::new(
            "PG:host=db port=5433 dbname='my db' user=u password=s schema=lang_son",
        ))
        .unwrap();
        assert_eq!(l.schema, "lang_son");
        let shown = l.display_path().display().to_string();
        assert_eq!(
            shown,
            "PG:host='db' port='5433' dbname='my db' user='u' schema=lang_son"
        );
        let u = parse(Path::new("postgresql://u:s@db:5433/canopy?schema=x1")).unwrap();
        assert_eq!(u.schema, "x1");
        assert!(u.params.contains(&("password".into(), "s".into())));
        assert!(u.params.contains(&("port".into(), "5433".into())));
        assert_eq!(
            parse(Path::new("PG:dbname=d")).unwrap().schema,
            DEFAULT_SCHEMA
        );
        assert!(parse(Path::new("PG:dbname=d schema=x_triage"))
            .unwrap()
            .check_not_reserved()
            .is_err());
        for bad in [
            "PG:dbname=d schema=Bad-Name",
            "PG:dbname",
            "PG:nokey=1",
            "PG:dbname=d schema=pg_temp",
            "PG:dbname=d schema=public",
            "postgresql://h/d?schema=pg_x",
        ] {
            let e = parse(Path::new(bad)).unwrap_err().to_string();
            assert!(e.starts_with("store PG:"), "{bad}: {e}");
        }
        assert!(is_pg(Path::new("postgres://h/d")));
        assert!(!is_pg(Path::new("out/x.gpkg")));
    }
}
