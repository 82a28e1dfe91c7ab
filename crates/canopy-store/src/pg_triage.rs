//! The rangers' part of a PostgreSQL store, in `<schema>_triage` (which runs never
//! rewrite): the `alert_triage` events (see [`crate::pg`]) and the `triage_photos`
//! table (photo bytes as `bytea`, with the GeoPackage path's limits: at most
//! [`MAX_PHOTO_BYTES`] per photo, [`MAX_PHOTOS_PER_EVENT`] per event, JPEG/PNG/WebP
//! by their first bytes, checked by [`crate::photos::append`] before it comes here).
//!
//! A photo append takes the same table lock as a triage append, so the event count
//! the writer saw (its ETag) and the photo's event are checked and written in one
//! transaction; it NOTIFYs `canopy_store` like a triage append.

use std::path::Path;

use postgres::{GenericClient, Transaction};

use crate::error::{Result, StoreError};
use crate::merge::Merged;
use crate::pg::{parse, PgLocation};
use crate::photos::{NewPhoto, Photo, PhotoMeta};
use crate::triage::{TriageEvent, TriageWrite};

/// `"<schema>_triage".triage_photos`.
pub(crate) fn photos_table(loc: &PgLocation) -> String {
    format!("\"{}\".triage_photos", loc.triage_schema())
}

/// Creates `<schema>_triage` with its two tables when missing.
pub(crate) fn ensure_tables(loc: &PgLocation, c: &mut impl GenericClient) -> Result<()> {
    let ts = loc.triage_schema();
    c.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS \"{ts}\";
         CREATE TABLE IF NOT EXISTS \"{ts}\".alert_triage (
           seq bigserial PRIMARY KEY, alert_id text NOT NULL, status text NOT NULL,
           note text NOT NULL DEFAULT '', \"by\" text NOT NULL, at text NOT NULL);
         CREATE INDEX IF NOT EXISTS alert_triage_alert_id ON \"{ts}\".alert_triage (alert_id);
         CREATE TABLE IF NOT EXISTS \"{ts}\".triage_photos (
           id bigserial PRIMARY KEY, alert_id text NOT NULL, event integer NOT NULL,
           seq integer NOT NULL, content_type text NOT NULL, \"by\" text NOT NULL,
           at text NOT NULL, data bytea NOT NULL);
         CREATE INDEX IF NOT EXISTS triage_photos_alert_id ON \"{ts}\".triage_photos (alert_id);"
    ))
    .map_err(loc.err(format!("creating the triage tables in schema {ts}")))
}

/// `"<schema>_triage".append_event`: the triage append as one function, so a write
/// is one round trip to the database (see [`crate::pg::append_triage`]).
pub(crate) fn append_function(loc: &PgLocation) -> String {
    format!("\"{}\".append_event", loc.triage_schema())
}

/// (Re)creates [`append_function`], under the triage table's lock (so writers and
/// another server doing the same wait). Its steps, in the caller's transaction
/// (a single `SELECT` is one): lock the triage table against other writers, read
/// the version (results schema oid, last sequence number), look the alert up,
/// count its events, and only when the alert exists and the writer saw that many
/// events, insert and NOTIFY. Each statement of a PL/pgSQL function takes a new
/// snapshot, so what it reads after the lock includes every write before it.
pub(crate) fn ensure_function(loc: &PgLocation, c: &mut postgres::Client) -> Result<()> {
    let (schema, table, f) = (&loc.schema, loc.triage_table(), append_function(loc));
    let alerts = format!("\"{schema}\".alerts");
    let mut tx = c.transaction().map_err(loc.err("starting a transaction"))?;
    lock(loc, &mut tx)?;
    tx.batch_execute(&format!(
        "CREATE OR REPLACE FUNCTION {f}(
           p_alert text, p_status text, p_note text, p_by text, p_at text, p_seen bigint,
           OUT results_oid bigint, OUT last_seq bigint, OUT known boolean,
           OUT events bigint, OUT new_seq bigint)
         LANGUAGE plpgsql AS $fn$
         BEGIN
           LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE;
           SELECT oid::int8 INTO results_oid FROM pg_namespace WHERE nspname = '{schema}';
           SELECT coalesce(max(seq), 0) INTO last_seq FROM {table};
           known := false;
           IF to_regclass('{alerts}') IS NULL THEN RETURN; END IF;
           known := EXISTS (SELECT 1 FROM {alerts} WHERE alert_id = p_alert);
           IF NOT known THEN RETURN; END IF;
           SELECT count(*) INTO events FROM {table} WHERE alert_id = p_alert;
           IF p_seen IS NOT NULL AND events <> p_seen THEN RETURN; END IF;
           INSERT INTO {table} (alert_id, status, note, \"by\", at)
             VALUES (p_alert, p_status, p_note, p_by, p_at) RETURNING seq INTO new_seq;
           PERFORM pg_notify('{channel}', '{schema}');
         END $fn$;",
        channel = crate::pg::CHANNEL
    ))
    .map_err(loc.err(format!("creating the function {f}")))?;
    tx.commit()
        .map_err(loc.err(format!("creating the function {f}")))
}

/// The triage events, oldest first (by sequence number).
pub(crate) fn events(loc: &PgLocation, c: &mut impl GenericClient) -> Result<Vec<TriageEvent>> {
    let table = loc.triage_table();
    if !loc.table_exists(c, &table)? {
        return Ok(Vec::new());
    }
    let rows = c
        .query(
            &format!("SELECT alert_id, status, note, \"by\", at FROM {table} ORDER BY seq"),
            &[],
        )
        .map_err(loc.err(format!("reading {table}")))?;
    rows.iter()
        .map(|r| {
            let status: String = r.get(1);
            Ok(TriageEvent {
                alert_id: r.get(0),
                status: canopy_core::triage::TriageStatus::parse(&status).ok_or_else(|| {
                    StoreError::invalid(
                        &loc.path(),
                        format!("{table}: unknown status \"{status}\""),
                    )
                })?,
                note: r.get(2),
                by: r.get(3),
                at: r.get(4),
            })
        })
        .collect()
}

/// The photos (with their bytes if `with_data`), by alert, event, number.
pub(crate) fn photos(
    loc: &PgLocation,
    c: &mut impl GenericClient,
    with_data: bool,
    alert: Option<(&str, usize, usize)>,
) -> Result<Vec<Photo>> {
    let table = photos_table(loc);
    if !loc.table_exists(c, &table)? {
        return Ok(Vec::new());
    }
    let data = if with_data {
        "data"
    } else {
        "''::bytea AS data"
    };
    let sql = format!(
        "SELECT alert_id, event, seq, content_type, \"by\", at, octet_length(data), {data} \
         FROM {table} WHERE ($1::text IS NULL OR (alert_id = $1 AND event = $2 AND seq = $3)) \
         ORDER BY alert_id, event, seq"
    );
    let (a, e, s) = match alert {
        Some((a, e, s)) => (Some(a), e as i32, s as i32),
        None => (None, 0, 0),
    };
    let rows = c
        .query(&sql, &[&a, &e, &s])
        .map_err(loc.err(format!("reading {table}")))?;
    Ok(rows
        .iter()
        .map(|r| Photo {
            meta: PhotoMeta {
                alert_id: r.get(0),
                event: r.get::<_, i32>(1).max(0) as usize,
                seq: r.get::<_, i32>(2).max(0) as usize,
                content_type: r.get(3),
                by: r.get(4),
                at: r.get(5),
                bytes: r.get::<_, i32>(6).max(0) as usize,
            },
            data: r.get(7),
        })
        .collect())
}

/// The photos of the store at `path` (see [`crate::photos::index`] and friends).
pub(crate) fn read_photos(
    path: &Path,
    with_data: bool,
    alert: Option<(&str, usize, usize)>,
) -> Result<Vec<Photo>> {
    let loc = parse(path)?;
    let mut c = loc.connect()?;
    photos(&loc, &mut c, with_data, alert)
}

/// The triage events and photos of the store at `path`, as one consistent state.
pub(crate) fn history(path: &Path) -> Result<(Vec<TriageEvent>, Vec<Photo>)> {
    let loc = parse(path)?;
    let mut c = loc.connect()?;
    let mut tx = c
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(loc.err("starting a transaction"))?;
    let ev = events(&loc, &mut tx)?;
    let ph = photos(&loc, &mut tx, true, None)?;
    tx.commit().map_err(loc.err("reading the triage history"))?;
    Ok((ev, ph))
}

/// Locks the triage table against other writers (triage and photo appends, imports).
pub(crate) fn lock(loc: &PgLocation, tx: &mut Transaction) -> Result<()> {
    let table = loc.triage_table();
    tx.batch_execute(&format!("LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))
        .map_err(loc.err(format!("locking {table}")))
}

/// Adds a photo (already checked: type and size) to the alert's latest event, in
/// one transaction (see [`crate::photos::append`] for the rules).
pub(crate) fn append_photo(
    path: &Path,
    p: &NewPhoto,
    content_type: &str,
    seen: usize,
) -> Result<(TriageWrite, PhotoMeta)> {
    let loc = parse(path)?;
    let mut c = loc.pooled()?;
    let table = loc.triage_table();
    if !loc.table_exists(&mut *c, &table)? {
        return Err(StoreError::invalid(
            &loc.path(),
            format!("has no triage table {table}; run `canopy run` on this store first"),
        ));
    }
    ensure_tables(&loc, &mut *c)?;
    let mut tx = c.transaction().map_err(loc.err("starting a transaction"))?;
    lock(&loc, &mut tx)?;
    let before =
        crate::pg::stamp_with(&mut tx, &loc).map_err(loc.err("reading the store's version"))?;
    loc.require_alert(&mut tx, p.alert_id)?;
    let bys: Vec<String> = tx
        .query(
            &format!("SELECT \"by\" FROM {table} WHERE alert_id = $1 ORDER BY seq"),
            &[&p.alert_id],
        )
        .map_err(loc.err("reading the alert's events"))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    crate::photos::check_join(p, &bys, seen)?;
    let photos = photos_table(&loc);
    let existing: i64 = tx
        .query_one(
            &format!("SELECT count(*) FROM {photos} WHERE alert_id = $1 AND event = $2"),
            &[&p.alert_id, &(seen as i32)],
        )
        .map_err(loc.err("counting the event's photos"))?
        .get(0);
    let existing = existing as usize;
    crate::photos::check_room(p, seen, existing)?;
    let meta = p.meta(seen, existing + 1, content_type);
    insert_photo(&loc, &mut tx, &meta, p.data)?;
    tx.execute("SELECT pg_notify('canopy_store', $1)", &[&loc.schema])
        .map_err(loc.err("notifying"))?;
    let after =
        crate::pg::stamp_with(&mut tx, &loc).map_err(loc.err("reading the store's version"))?;
    tx.commit().map_err(loc.err("committing the photo"))?;
    Ok((TriageWrite { before, after }, meta))
}

fn insert_photo(
    loc: &PgLocation,
    tx: &mut impl GenericClient,
    m: &PhotoMeta,
    data: &[u8],
) -> Result<()> {
    tx.execute(
        &format!(
            "INSERT INTO {} (alert_id, event, seq, content_type, \"by\", at, data) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            photos_table(loc)
        ),
        &[
            &m.alert_id,
            &(m.event as i32),
            &(m.seq as i32),
            &m.content_type,
            &m.by,
            &m.at,
            &data,
        ],
    )
    .map_err(loc.err("writing a photo"))?;
    Ok(())
}

fn insert_event(loc: &PgLocation, tx: &mut impl GenericClient, e: &TriageEvent) -> Result<()> {
    tx.execute(
        &format!(
            "INSERT INTO {} (alert_id, status, note, \"by\", at) VALUES ($1, $2, $3, $4, $5)",
            loc.triage_table()
        ),
        &[&e.alert_id, &e.status.as_str(), &e.note, &e.by, &e.at],
    )
    .map_err(loc.err("writing triage"))?;
    Ok(())
}

/// Merges `incoming` events and photos (a GeoPackage's) into the store's, in the
/// caller's transaction (which holds [`lock`]): see [`crate::merge`].
pub(crate) fn merge_into(
    loc: &PgLocation,
    tx: &mut Transaction,
    incoming: &[TriageEvent],
    incoming_photos: &[Photo],
) -> Result<Merged> {
    let have = events(loc, tx)?;
    let have_photos = photos(loc, tx, true, None)?;
    let m = crate::merge::merge(&have, &have_photos, incoming, incoming_photos);
    let out = Merged {
        events_added: m.events.len() - have.len(),
        photos_added: m.photos.len() - have_photos.len(),
        reordered: !m.append_only,
    };
    if m.append_only {
        for e in &m.events[have.len()..] {
            insert_event(loc, tx, e)?;
        }
        for p in m.photos.iter().filter(|p| p.new) {
            insert_photo(loc, tx, &p.photo.meta, &p.photo.data)?;
        }
    } else {
        // Interleaved by time: the tables are rewritten in the merged order (in this
        // transaction: readers see the old history or the new one).
        tx.batch_execute(&format!(
            "DELETE FROM {}; DELETE FROM {};",
            loc.triage_table(),
            photos_table(loc)
        ))
        .map_err(loc.err("rewriting the triage history"))?;
        for e in &m.events {
            insert_event(loc, tx, e)?;
        }
        for p in &m.photos {
            insert_photo(loc, tx, &p.photo.meta, &p.photo.data)?;
        }
    }
    Ok(out)
}
