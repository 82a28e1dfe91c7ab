//! Rows written straight into a GeoPackage table through GDAL's own SQLite
//! connection: the store's big tables (the 10 m sample's plots, 582,332 plot
//! cover rows, 291,465 burned-area rows) in a fraction of OGR's time.
//!
//! GDAL 3.6 inserts a feature per `sqlite3_step` of a one-row `INSERT`, and each
//! step of a table with `AUTOINCREMENT` also reads and rewrites its
//! `sqlite_sequence` row: 6 of the 10 seconds the 10 m sample's store took to
//! write. Here GDAL still creates the table ([`Table::new`]: its DDL,
//! `gpkg_contents`, `gpkg_geometry_columns`, `gpkg_ogr_contents` and
//! feature-count triggers, exactly as for any layer), then the rows go in as
//! `INSERT`s of [`ROWS_PER_INSERT`] rows each, prepared once, on the same
//! connection and inside the run's transaction. What GDAL does per feature is
//! done once at the end ([`Table::finish`]): the feature count in
//! `gpkg_ogr_contents` (its triggers are dropped for the load and put back word
//! for word, as GDAL does during its own bulk inserts) and the extent in
//! `gpkg_contents`. Geometries are GeoPackage binary as GDAL's
//! `GPkgGeometryFromOGR` writes them: magic, version 0, flags (little-endian;
//! an x/y envelope, or the empty bit and no envelope), the SRS id, then ISO WKB.
//!
//! Architecture invariant: a table written here holds, row for row and byte for
//! byte, what the same rows written feature by feature through OGR hold, and
//! the same `gpkg_contents`/`gpkg_ogr_contents` rows (the tests below compare
//! both ways of writing); readers cannot tell. Tables with date fields stay on
//! OGR (it parses and reformats dates), as does PostgreSQL.

use std::borrow::Cow;
use std::ffi::{CStr, CString};

use gdal::vector::{Layer, LayerAccess};
use gdal::Dataset;
use geo::{BoundingRect, MultiPolygon};
use libsqlite3_sys as ffi;

use crate::rows::GResult;

/// Rows per `INSERT` statement: enough to spread SQLite's per-statement work
/// (the `AUTOINCREMENT` bookkeeping), few enough that a statement of the
/// widest table stays far below SQLite's 32,766 parameters.
pub(crate) const ROWS_PER_INSERT: usize = 256;

/// GDAL's own SQLite connection to the GeoPackage `ds` (its `SQLITE_HANDLE`;
/// `None` for another driver): statements on it run inside GDAL's
/// transaction, rather than as SQL text through GDAL (which scans each
/// statement for its layers' names).
pub(crate) fn connection(ds: &Dataset) -> Option<*mut ffi::sqlite3> {
    if ds.driver().short_name() != "GPKG" {
        return None;
    }
    let key = CString::new("SQLITE_HANDLE").ok()?;
    // SAFETY: a live dataset handle; GDAL returns its connection (or NULL),
    // which stays open while `ds` lives.
    let h = unsafe { gdal_sys::GDALGetInternalHandle(ds.c_dataset(), key.as_ptr()) };
    (!h.is_null()).then_some(h.cast())
}

/// `"name"`, quoted for SQL.
pub(crate) fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// `'text'`, quoted for SQL.
pub(crate) fn quote_text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// An error of the GeoPackage's SQLite, as GDAL's error type.
pub(crate) fn failed(what: &str, msg: &str) -> gdal::errors::GdalError {
    gdal::errors::GdalError::CplError {
        class: gdal_sys::CPLErr::CE_Failure,
        number: 0,
        msg: format!("GeoPackage ({what}): {msg}"),
    }
}

fn errmsg(db: *mut ffi::sqlite3) -> String {
    // SAFETY: a live connection; the message is copied at once.
    unsafe {
        CStr::from_ptr(ffi::sqlite3_errmsg(db))
            .to_string_lossy()
            .into_owned()
    }
}

/// Runs `sql` (statements without results) on the connection.
pub(crate) fn exec(db: *mut ffi::sqlite3, sql: &str) -> GResult<()> {
    let q = CString::new(sql)?;
    // SAFETY: a live connection and a NUL-terminated statement.
    let rc = unsafe {
        ffi::sqlite3_exec(
            db,
            q.as_ptr(),
            None,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    if rc != ffi::SQLITE_OK {
        return Err(failed(sql, &errmsg(db)));
    }
    Ok(())
}

/// One value bound to a statement's parameter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param<'v> {
    Null,
    Int(i64),
    Real(f64),
    Text(Cow<'v, str>),
    Blob(Cow<'v, [u8]>),
}

/// A prepared statement, finalized on drop.
pub(crate) struct Statement {
    db: *mut ffi::sqlite3,
    stmt: *mut ffi::sqlite3_stmt,
    what: String,
}

impl Statement {
    pub(crate) fn prepare(db: *mut ffi::sqlite3, sql: String) -> GResult<Statement> {
        let q = CString::new(sql.as_str())?;
        let mut stmt = std::ptr::null_mut();
        // SAFETY: a live connection; the statement is finalized on drop.
        let rc =
            unsafe { ffi::sqlite3_prepare_v2(db, q.as_ptr(), -1, &mut stmt, std::ptr::null_mut()) };
        let s = Statement {
            db,
            stmt,
            what: sql,
        };
        s.check(rc)?;
        Ok(s)
    }

    fn check(&self, rc: i32) -> GResult<()> {
        if rc == ffi::SQLITE_OK || rc == ffi::SQLITE_DONE {
            return Ok(());
        }
        let mut what = self.what.clone();
        if what.len() > 120 {
            let cut = (0..=120)
                .rev()
                .find(|&i| what.is_char_boundary(i))
                .unwrap_or(0);
            what.truncate(cut);
            what.push('…');
        }
        Err(failed(&what, &errmsg(self.db)))
    }

    /// Runs the statement once with `params` (parameter `i + 1` is
    /// `params[i]`), expecting no result rows.
    pub(crate) fn run(&mut self, params: &[Param]) -> GResult<()> {
        // SAFETY: a prepared statement; texts and blobs are bound as
        // SQLITE_STATIC: `params` outlives the step, and the bindings are
        // cleared before this returns, so SQLite keeps no pointer into them.
        unsafe {
            for (i, p) in params.iter().enumerate() {
                let i = i as i32 + 1;
                let rc = match p {
                    Param::Null => ffi::sqlite3_bind_null(self.stmt, i),
                    Param::Int(x) => ffi::sqlite3_bind_int64(self.stmt, i, *x),
                    Param::Real(x) => ffi::sqlite3_bind_double(self.stmt, i, *x),
                    Param::Text(s) => ffi::sqlite3_bind_text(
                        self.stmt,
                        i,
                        s.as_ptr().cast(),
                        s.len() as i32,
                        ffi::SQLITE_STATIC(),
                    ),
                    Param::Blob(b) => ffi::sqlite3_bind_blob(
                        self.stmt,
                        i,
                        b.as_ptr().cast(),
                        b.len() as i32,
                        ffi::SQLITE_STATIC(),
                    ),
                };
                self.check(rc)?;
            }
            let rc = ffi::sqlite3_step(self.stmt);
            ffi::sqlite3_reset(self.stmt);
            ffi::sqlite3_clear_bindings(self.stmt);
            self.check(rc)
        }
    }

    /// The first column of each result row, as text (statements with results).
    pub(crate) fn texts(&mut self, params: &[Param]) -> GResult<Vec<String>> {
        let mut out = vec![];
        // SAFETY: as in `run`; each row's text is copied before the next step.
        unsafe {
            for (i, p) in params.iter().enumerate() {
                if let Param::Text(s) = p {
                    let rc = ffi::sqlite3_bind_text(
                        self.stmt,
                        i as i32 + 1,
                        s.as_ptr().cast(),
                        s.len() as i32,
                        ffi::SQLITE_STATIC(),
                    );
                    self.check(rc)?;
                }
            }
            let rc = loop {
                let rc = ffi::sqlite3_step(self.stmt);
                if rc != ffi::SQLITE_ROW {
                    break rc;
                }
                let t = ffi::sqlite3_column_text(self.stmt, 0);
                if !t.is_null() {
                    out.push(CStr::from_ptr(t.cast()).to_string_lossy().into_owned());
                }
            };
            ffi::sqlite3_reset(self.stmt);
            ffi::sqlite3_clear_bindings(self.stmt);
            self.check(rc)?;
        }
        Ok(out)
    }
}

impl Drop for Statement {
    fn drop(&mut self) {
        // SAFETY: the statement prepared by `prepare` (finalizing NULL is a no-op).
        unsafe { ffi::sqlite3_finalize(self.stmt) };
    }
}

/// `INSERT INTO table (columns) VALUES (?, …), …` for `rows` rows.
fn insert_sql(table: &str, columns: &[String], rows: usize) -> String {
    let cols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    let one = format!("({})", vec!["?"; columns.len()].join(","));
    format!(
        "INSERT INTO {} ({}) VALUES {}",
        quote_ident(table),
        cols.join(","),
        vec![one; rows].join(",")
    )
}

/// A table GDAL created, filled here: rows are gathered and inserted
/// [`ROWS_PER_INSERT`] at a time; [`Table::finish`] inserts the rest and
/// writes the table's feature count and extent.
pub(crate) struct Table<'v> {
    db: *mut ffi::sqlite3,
    layer: gdal_sys::OGRLayerH,
    name: String,
    /// The geometry column when the table has one, then the attribute columns.
    columns: Vec<String>,
    geom: bool,
    /// The SRS id of the geometry column (known once started).
    srs_id: Option<i32>,
    /// Whether the first row came ([`Table::start`]).
    started: bool,
    full: Option<Statement>,
    pending: Vec<Param<'v>>,
    rows: i64,
    extent: Option<[f64; 4]>,
    /// GDAL's feature-count triggers, dropped for the load.
    triggers: Vec<String>,
}

impl<'v> Table<'v> {
    /// The empty table of `layer`, just created by GDAL on the GeoPackage
    /// connection `db`, with attribute columns `fields` and, when `geom` names
    /// it, a geometry column.
    pub(crate) fn new(
        db: *mut ffi::sqlite3,
        layer: &Layer,
        fields: &[&str],
        geom: Option<&str>,
    ) -> Table<'v> {
        Table {
            db,
            // SAFETY: only the handle is taken; `start` uses it while the
            // layer lives (the caller's `Rows` borrows it).
            layer: unsafe { layer.c_layer() },
            name: layer.name(),
            columns: geom
                .into_iter()
                .chain(fields.iter().copied())
                .map(str::to_string)
                .collect(),
            geom: geom.is_some(),
            srs_id: None,
            started: false,
            full: None,
            pending: vec![],
            rows: 0,
            extent: None,
            triggers: vec![],
        }
    }

    /// Before the first row: has GDAL create the table (at a layer's first
    /// feature or sync; a table without rows is left to GDAL altogether),
    /// reads its SRS id and drops its feature-count triggers.
    fn start(&mut self) -> GResult<()> {
        self.started = true;
        let (db, name) = (self.db, self.name.as_str());
        // SAFETY: the layer `new` was given outlives this table (`Rows`
        // borrows it), on the dataset whose connection `db` is.
        let err = unsafe { gdal_sys::OGR_L_SyncToDisk(self.layer) };
        if err != gdal_sys::OGRErr::OGRERR_NONE {
            return Err(gdal::errors::GdalError::OgrError {
                err,
                method_name: "OGR_L_SyncToDisk",
            });
        }
        if self.geom {
            let mut q = Statement::prepare(
                db,
                "SELECT srs_id FROM gpkg_geometry_columns \
                 WHERE lower(table_name) = lower(?1) AND lower(column_name) = lower(?2)"
                    .into(),
            )?;
            let id = q.texts(&[
                Param::Text(name.into()),
                Param::Text(self.columns[0].as_str().into()),
            ])?;
            let id = id.first().and_then(|s| s.parse().ok());
            self.srs_id = Some(id.ok_or_else(|| failed(name, "no SRS id of its geometry column"))?);
        }
        // GDAL's `trigger_insert_feature_count_…` and `trigger_delete_…`.
        let pattern = format!("trigger_%_feature_count_{name}");
        let select = |col: &str| -> GResult<Vec<String>> {
            Statement::prepare(
                db,
                format!(
                    "SELECT {col} FROM sqlite_master WHERE type = 'trigger' \
                     AND tbl_name = ?1 AND name LIKE ?2 ORDER BY name"
                ),
            )?
            .texts(&[
                Param::Text(name.into()),
                Param::Text(pattern.as_str().into()),
            ])
        };
        let names = select("name")?;
        self.triggers = select("sql")?;
        for t in &names {
            exec(db, &format!("DROP TRIGGER {}", quote_ident(t)))?;
        }
        Ok(())
    }

    /// Adds a row: `values` are the attribute columns', in order (fewer
    /// values leave the rest NULL), then the geometry when the table has one.
    /// Returns the row's feature id.
    pub(crate) fn add(
        &mut self,
        values: impl IntoIterator<Item = Param<'v>>,
        geom: Option<&MultiPolygon<f64>>,
    ) -> GResult<i64> {
        if !self.started {
            self.start()?;
        }
        let start = self.pending.len();
        if let Some(srs) = self.srs_id {
            let blob = match geom {
                Some(g) => {
                    if let Some(b) = canopy_core::bbox::of(g) {
                        self.extent = Some(canopy_core::bbox::union(self.extent, b));
                    }
                    Param::Blob(geometry_blob(g, srs).into())
                }
                None => Param::Null,
            };
            self.pending.push(blob);
        }
        self.pending.extend(values);
        let n = self.columns.len();
        if self.pending.len() - start > n {
            return Err(failed(&self.name, "a row of more values than columns"));
        }
        self.pending.resize(start + n, Param::Null);
        self.rows += 1;
        if self.pending.len() == n * ROWS_PER_INSERT {
            if self.full.is_none() {
                let sql = insert_sql(&self.name, &self.columns, ROWS_PER_INSERT);
                self.full = Some(Statement::prepare(self.db, sql)?);
            }
            let stmt = self.full.as_mut().expect("prepared above");
            stmt.run(&self.pending)?;
            self.pending.clear();
            self.check_ids()?;
        }
        Ok(self.rows)
    }

    /// The table was empty: its feature ids are 1, 2, … in the order of the rows.
    fn check_ids(&self) -> GResult<()> {
        // SAFETY: a live connection.
        let last = unsafe { ffi::sqlite3_last_insert_rowid(self.db) };
        if last != self.rows {
            return Err(failed(
                &self.name,
                &format!(
                    "row {} got feature id {last}: the table was not new",
                    self.rows
                ),
            ));
        }
        Ok(())
    }

    /// Inserts the rows left, puts GDAL's feature-count triggers back and
    /// writes the feature count and (geometry tables) the extent.
    pub(crate) fn finish(mut self) -> GResult<()> {
        if !self.started {
            return Ok(());
        }
        let n = self.columns.len();
        if !self.pending.is_empty() {
            let sql = insert_sql(&self.name, &self.columns, self.pending.len() / n);
            Statement::prepare(self.db, sql)?.run(&self.pending)?;
            self.pending.clear();
            self.check_ids()?;
        }
        for t in &self.triggers {
            exec(self.db, t)?;
        }
        let name = Param::Text(self.name.as_str().into());
        Statement::prepare(
            self.db,
            "UPDATE gpkg_ogr_contents SET feature_count = ?1 \
             WHERE lower(table_name) = lower(?2)"
                .into(),
        )?
        .run(&[Param::Int(self.rows), name.clone()])?;
        if let Some([x0, y0, x1, y1]) = self.extent {
            Statement::prepare(
                self.db,
                // As GDAL writes it: through SQLite's `printf`, whose `%.18g`
                // keeps 16 digits (so readers see GDAL's extent to the bit).
                "UPDATE gpkg_contents SET min_x = CAST(printf('%.18g', ?1) AS REAL), \
                 min_y = CAST(printf('%.18g', ?2) AS REAL), \
                 max_x = CAST(printf('%.18g', ?3) AS REAL), \
                 max_y = CAST(printf('%.18g', ?4) AS REAL) \
                 WHERE lower(table_name) = lower(?5) AND lower(data_type) = 'features'"
                    .into(),
            )?
            .run(&[
                Param::Real(x0),
                Param::Real(y0),
                Param::Real(x1),
                Param::Real(y1),
                name,
            ])?;
        }
        Ok(())
    }
}

/// `mp` as GeoPackage binary of SRS `srs_id`: the header (an x/y envelope,
/// min x, max x, min y, max y; none when empty) and little-endian ISO WKB.
pub(crate) fn geometry_blob(mp: &MultiPolygon<f64>, srs_id: i32) -> Vec<u8> {
    let points: usize =
        mp.0.iter()
            .map(|p| p.exterior().0.len() + p.interiors().iter().map(|r| r.0.len()).sum::<usize>())
            .sum();
    let mut out = Vec::with_capacity(40 + 9 + mp.0.len() * 9 + points * 16);
    out.extend_from_slice(b"GP");
    out.push(0);
    let rect = mp.bounding_rect();
    // Flags: bit 0 little-endian; bits 1-3 the envelope (1: x/y); bit 4 empty.
    out.push(if rect.is_some() { 0b0011 } else { 0b1_0001 });
    out.extend_from_slice(&srs_id.to_le_bytes());
    if let Some(b) = rect {
        for v in [b.min().x, b.max().x, b.min().y, b.max().y] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    let u32le = |out: &mut Vec<u8>, v: usize| out.extend_from_slice(&(v as u32).to_le_bytes());
    out.push(1);
    u32le(&mut out, 6);
    u32le(&mut out, mp.0.len());
    for p in &mp.0 {
        out.push(1);
        u32le(&mut out, 3);
        u32le(&mut out, 1 + p.interiors().len());
        for r in std::iter::once(p.exterior()).chain(p.interiors()) {
            u32le(&mut out, r.0.len());
            for c in &r.0 {
                out.extend_from_slice(&c.x.to_le_bytes());
                out.extend_from_slice(&c.y.to_le_bytes());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use gdal::spatial_ref::{AxisMappingStrategy, SpatialRef};
    use gdal::vector::{LayerOptions, OGRFieldType as T, OGRwkbGeometryType};
    use gdal::{Dataset, DriverManager};
    use geo::{polygon, MultiPolygon};

    use super::*;
    use crate::rows::{create_fields, write_shapes, write_table, Field, Rows, Val, BOOLEAN};

    const ATTRS: [Field; 6] = [
        ("s", T::OFTString),
        ("r", T::OFTReal),
        ("i", T::OFTInteger),
        ("b", BOOLEAN),
        ("big", T::OFTInteger64),
        ("t", T::OFTString),
    ];

    /// Row `k` of the attribute table: every kind of value, NULLs, odd
    /// reals, and every 7th row short (the fields past it unset).
    fn attr_row(k: usize) -> Vec<Val<'static>> {
        let r = [f64::NAN, -0.0, 1e300, 0.1 + 0.2, -123.456e-7][k % 5] + k as f64;
        let mut v = vec![
            if k % 3 == 0 {
                Val::Str("Lộc Bình 'q\" ;")
            } else {
                Val::Null
            },
            Val::Real(r),
            Val::Int(k as i32 - 60),
            Val::Int((k % 2) as i32),
            Val::Int64(i64::MAX - k as i64),
            Val::Text(format!("row {k}")),
        ];
        if k % 7 == 0 {
            v.truncate(3);
        }
        v
    }

    fn shape(k: usize) -> MultiPolygon<f64> {
        let (x, y) = (106.0954 + k as f64 * 1e-3, 21.32526 + (k % 9) as f64 * 7e-4);
        match k % 4 {
            0 => MultiPolygon(vec![]),
            1 => MultiPolygon(vec![polygon![
                exterior: [(x: x, y: y), (x: x + 0.01, y: y), (x: x + 0.01, y: y + 0.01), (x: x, y: y)],
                interiors: [[(x: x + 0.002, y: y + 0.001), (x: x + 0.004, y: y + 0.001), (x: x + 0.004, y: y + 0.003), (x: x + 0.002, y: y + 0.001)]],
            ]]),
            _ => MultiPolygon(vec![
                polygon![(x: x, y: y), (x: x + 0.1 / 3.0, y: y), (x: x, y: y - 0.02)],
                polygon![(x: -x, y: -y), (x: -x + 0.5, y: -y), (x: -x, y: -y + 0.5)],
            ]),
        }
    }

    /// A store-like GeoPackage of four tables (`attrs` of 150 rows, `one`,
    /// `none` and `shapes` of 70 features), written through this module
    /// (`fast`) or feature by feature through OGR.
    fn write(path: &std::path::Path, fast: bool) {
        let mut ds = DriverManager::get_driver_by_name("GPKG")
            .unwrap()
            .create_vector_only(path)
            .unwrap();
        let mut txn = ds.start_transaction().unwrap();
        let shapes: Vec<MultiPolygon<f64>> = (0..70).map(shape).collect();
        let options = ["FID=fid", "GEOMETRY_NAME=geom", "SPATIAL_INDEX=YES"];
        if fast {
            write_table(&mut txn, "attrs", &ATTRS, (0..150).map(attr_row)).unwrap();
            write_table(&mut txn, "one", &ATTRS[..2], [[Val::Str("x"), Val::Int(2)]]).unwrap();
            write_table(&mut txn, "none", &ATTRS, Vec::<Vec<Val>>::new()).unwrap();
            let rows = shapes.iter().enumerate().map(|(k, g)| (attr_row(k), g));
            write_shapes(&mut txn, "shapes", &options, &ATTRS, rows).unwrap();
        } else {
            let mut srs = SpatialRef::from_epsg(4326).unwrap();
            srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
            let tables: [(&str, &[Field], usize); 4] = [
                ("attrs", &ATTRS, 150),
                ("one", &ATTRS[..2], 1),
                ("none", &ATTRS, 0),
                ("shapes", &ATTRS, 70),
            ];
            for (name, fields, n) in tables {
                let geom = name == "shapes";
                let layer = txn
                    .create_layer(LayerOptions {
                        name,
                        srs: geom.then_some(&srs),
                        ty: if geom {
                            OGRwkbGeometryType::wkbMultiPolygon
                        } else {
                            OGRwkbGeometryType::wkbNone
                        },
                        options: Some(if geom { &options } else { &[] }),
                    })
                    .unwrap();
                create_fields(&layer, fields).unwrap();
                let mut rows = Rows::new(&layer).unwrap();
                for k in 0..n {
                    let values = if name == "one" {
                        vec![Val::Str("x"), Val::Int(2)]
                    } else {
                        attr_row(k)
                    };
                    rows.add(values, geom.then(|| &shapes[k])).unwrap();
                }
                rows.finish().unwrap();
            }
        }
        txn.commit().unwrap();
    }

    fn open(path: &std::path::Path) -> *mut ffi::sqlite3 {
        let p = CString::new(path.to_str().unwrap()).unwrap();
        let mut db = std::ptr::null_mut();
        // SAFETY: a NUL-terminated path; the connection is closed by the test.
        let rc = unsafe { ffi::sqlite3_open(p.as_ptr(), &mut db) };
        assert_eq!(rc, ffi::SQLITE_OK);
        db
    }

    fn texts(db: *mut ffi::sqlite3, q: &str) -> Vec<String> {
        Statement::prepare(db, q.into())
            .unwrap()
            .texts(&[])
            .unwrap()
    }

    /// The rows of every table of `main` and attached `b` that differ in
    /// value or type (NULLs alike), and the tables whose row counts differ.
    fn differences(db: *mut ffi::sqlite3) -> Vec<String> {
        let tables = texts(
            db,
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'rtree_%' ORDER BY name",
        );
        let mut out = vec![];
        for t in tables {
            let cols = texts(
                db,
                &format!("SELECT name FROM pragma_table_info({})", quote_text(&t)),
            );
            let same: Vec<String> = cols
                .iter()
                .filter(|c| *c != "last_change")
                .map(|c| {
                    let c = quote_ident(c);
                    format!("(x.{c} IS y.{c} AND typeof(x.{c}) = typeof(y.{c}))")
                })
                .collect();
            let t = quote_ident(&t);
            let count = |q: &str| texts(db, q)[0].clone();
            let (a, b) = (
                count(&format!("SELECT count(*) FROM main.{t}")),
                count(&format!("SELECT count(*) FROM b.{t}")),
            );
            let equal = count(&format!(
                "SELECT count(*) FROM main.{t} x JOIN b.{t} y ON x.rowid = y.rowid WHERE {}",
                same.join(" AND ")
            ));
            if a != b || a != equal {
                out.push(format!("{t}: {a} rows, {b} rows, {equal} equal"));
            }
        }
        out
    }

    #[test]
    fn tables_equal_ogrs_own() {
        let dir = tempfile::tempdir().unwrap();
        let (fast, ogr) = (dir.path().join("fast.gpkg"), dir.path().join("ogr.gpkg"));
        write(&fast, true);
        write(&ogr, false);
        let db = open(&fast);
        exec(
            db,
            &format!("ATTACH {} AS b", quote_text(ogr.to_str().unwrap())),
        )
        .unwrap();
        assert_eq!(differences(db), Vec::<String>::new());
        // The same schema (tables, triggers, the R-tree's), order aside.
        let schema = |s: &str| {
            texts(
                db,
                &format!(
                    "SELECT type || ' ' || name || ': ' || coalesce(sql, '') FROM {s}.sqlite_master \
                     WHERE name != 'sqlite_sequence' ORDER BY type, name"
                ),
            )
        };
        assert_eq!(schema("main"), schema("b"));
        // They do say something: the counts, an extent, an empty geometry.
        let one = |q: &str| texts(db, q).join(" ");
        assert_eq!(
            one("SELECT table_name || '=' || coalesce(feature_count, 'NULL') FROM gpkg_ogr_contents ORDER BY table_name"),
            "attrs=150 none=NULL one=1 shapes=70"
        );
        let min_x = one("SELECT min_x FROM gpkg_contents WHERE table_name = 'shapes'");
        assert!(min_x.starts_with("-106.1"), "{min_x}");
        assert_eq!(
            one("SELECT count(*) FROM shapes WHERE substr(geom, 4, 1) = x'11'"),
            "18"
        );
        assert_eq!(one("SELECT rtreecheck('rtree_shapes_geom')"), "ok");
        // SAFETY: no statement is left on the connection.
        unsafe { ffi::sqlite3_close(db) };
        // GDAL reads what it did not write: same features, same geometries.
        let read = |p: &std::path::Path| {
            let ds = Dataset::open(p).unwrap();
            let mut l = ds.layer_by_name("shapes").unwrap();
            let wkt: Vec<String> = l
                .features()
                .map(|f| f.geometry().map(|g| g.wkt().unwrap()).unwrap_or_default())
                .collect();
            (l.feature_count(), wkt)
        };
        assert_eq!(read(&fast), read(&ogr));
        assert_eq!(read(&fast).0, 70);
    }

    #[test]
    fn a_table_written_before_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.gpkg");
        let mut ds = DriverManager::get_driver_by_name("GPKG")
            .unwrap()
            .create_vector_only(&path)
            .unwrap();
        let db = connection(&ds).unwrap();
        let layer = ds
            .create_layer(LayerOptions {
                name: "t",
                ty: OGRwkbGeometryType::wkbNone,
                ..Default::default()
            })
            .unwrap();
        create_fields(&layer, &ATTRS[..1]).unwrap();
        let mut rows = Rows::new(&layer).unwrap();
        rows.add([Val::Str("written by OGR")], None).unwrap();
        rows.finish().unwrap();
        let mut t = Table::new(db, &layer, &["s"], None);
        let mut err = None;
        for _ in 0..ROWS_PER_INSERT {
            if let Err(e) = t.add([Param::Text("x".into())], None) {
                err = Some(e);
                break;
            }
        }
        let err = err.expect("ids of a table that was not empty are refused");
        assert!(err.to_string().contains("not new"), "{err}");
    }
}
