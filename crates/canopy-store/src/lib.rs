//! Canopy's results store: one GeoPackage per region (an SQLite database QGIS and
//! GDAL open directly).
//!
//! The schema lives here and only here: **one module per table**, each with a typed
//! row struct, its field list, its writer (`pub(crate) fn write`) and its reader (a
//! method on [`Reader`]). Rows are written as their field list and one list of
//! values per record ([`rows`]) and read back by field name.
//!
//! - [`Store`]: a handle on a store (by path); [`Store::read`] opens **one** GDAL
//!   dataset, the [`Reader`], and every typed read goes through it, so what one
//!   reader returns is one consistent state of the file;
//! - [`write::write`]: a run's [`Tables`], written to a new file in one transaction,
//!   read back, then renamed over the old store under the store's lock ([`file`]);
//! - [`triage::append`]: a ranger's check, appended under the same lock.
//!
//! # Adding a table
//!
//! 1. a module `src/<table>.rs` with `pub const LAYER`, its field list, a row struct
//!    (`#[derive(Debug, Clone)]`, plus `Serialize` if the API serves it), a
//!    `pub(crate) fn write(ds, rows) -> GResult<()>` using [`rows::write_table`] or
//!    `write_shapes`, and an `impl Reader { pub fn <table>(&self) }` using
//!    `rows::read_rows` (an absent table reads as empty, so older stores still open);
//! 2. `pub mod <table>;` below and a field in [`Tables`];
//! 3. one line in `write::write_tables` (the only place that lists every table).
//!
//! # Backends
//!
//! A store is named by a path string and opened by GDAL, so a PostgreSQL/PostGIS
//! store (GDAL's `PG:` datasource, issue 15) is a second variant of [`Location`]:
//! [`Store::read`] opens it the same way; [`write::write`] and [`triage::append`]
//! dispatch on the variant (a database has transactions and advisory locks instead
//! of the temporary file, rename and lock file). Callers do not change.

pub mod alerts;
pub mod atomic;
pub mod burned_area;
pub mod change;
pub mod chips;
pub mod communes;
pub mod cover;
pub mod epochs;
pub mod error;
pub mod file;
pub mod fire_danger;
pub mod fire_events;
pub mod format;
pub(crate) mod gpkg;
pub mod hotspots;
pub mod merge;
pub mod observations;
pub mod parcels;
pub mod pg;
pub(crate) mod pg_triage;
pub mod photos;
pub mod qgis;
pub(crate) mod rows;
pub(crate) mod rtree;
pub mod runs;
pub mod targets;
pub mod transfer;
pub mod triage;
pub mod write;
pub mod zones;

use std::path::{Path, PathBuf};

use gdal::vector::Layer;
use gdal::Dataset;

pub use alerts::{shares_json, Alert, AlertCause, AlertKind, StoredAlert};
pub use burned_area::BurnedAreaRow;
pub use change::ChangeRow;
pub use communes::{CommuneOut, StoredCommune};
pub use cover::{CoverRow, StoredCover, PROVINCE_CODE};
pub use epochs::EpochRecord;
pub use error::StoreError;
pub use file::FileId;
pub use fire_events::FireEventRow;
pub use hotspots::HotspotRow;
pub use observations::ObservationRow;
pub use parcels::ParcelTables;
pub use runs::{now, RunRecord};
pub use triage::{TriageEvent, TriageWrite};
pub use write::Tables;
pub use zones::{StoredZones, ZoneTables};

use error::Result;

/// Where a store lives: a GeoPackage file, or a schema of a PostgreSQL/PostGIS
/// database ([`pg`]; named by a `PG:` string or a `postgresql://` URL where a path
/// is expected, so callers pass it as they pass a path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    GeoPackage(PathBuf),
    /// The `--store` string as given (see [`pg::parse`]).
    Postgres(PathBuf),
}

/// A handle on a store. Opening it reads nothing; [`Store::read`] opens the dataset.
#[derive(Debug, Clone)]
pub struct Store {
    location: Location,
}

impl Store {
    /// The store at `path` (a GeoPackage file). Errors when there is none.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref();
        if pg::is_pg(path) {
            pg::parse(path)?;
            return Ok(Store::at(path));
        }
        if !path.exists() {
            return Err(not_found(path));
        }
        Ok(Store::at(path))
    }

    /// The store at `path`, which need not exist yet (a run creates it).
    pub fn at(path: impl AsRef<Path>) -> Store {
        let path = path.as_ref().to_path_buf();
        Store {
            location: if pg::is_pg(&path) {
                Location::Postgres(path)
            } else {
                Location::GeoPackage(path)
            },
        }
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The store file (or the `PG:` string / URL, for PostgreSQL).
    pub fn path(&self) -> &Path {
        match &self.location {
            Location::GeoPackage(p) | Location::Postgres(p) => p,
        }
    }

    /// One open dataset for typed reads (a hot journal is recovered first).
    pub fn read(&self) -> Result<Reader> {
        Reader::open(self.path())
    }

    /// A run's write: every table, atomically replacing the previous store.
    pub fn write(&self, tables: &Tables) -> Result<()> {
        write::write(self.path(), tables)
    }

    /// Appends a triage event under the store's lock (see [`triage::append`]).
    pub fn append_triage(&self, e: &TriageEvent, seen: Option<usize>) -> Result<TriageWrite> {
        triage::append(self.path(), e, seen)
    }

    /// The store file's identity now (none when it cannot be read).
    pub fn file_id(&self) -> Option<FileId> {
        FileId::of(self.path())
    }
}

fn not_found(path: &Path) -> StoreError {
    StoreError::invalid(
        path,
        "not found; run `canopy run REGION.toml --store PATH` first",
    )
}

/// One open dataset of a store: every read through it sees the same state.
pub struct Reader {
    pub(crate) ds: Dataset,
    pub(crate) path: PathBuf,
    /// PostgreSQL: the readers' lock, released after the dataset (field order).
    _pg: Option<pg::ReadGuard>,
}

impl Reader {
    pub(crate) fn open(path: &Path) -> Result<Reader> {
        if pg::is_pg(path) {
            let (ds, path, guard) = pg::open_reader(path)?;
            format::check(&ds, &path)?;
            return Ok(Reader {
                ds,
                path,
                _pg: Some(guard),
            });
        }
        if !path.exists() {
            return Err(not_found(path));
        }
        file::recover(path)?;
        let ds = Dataset::open(path)
            .map_err(StoreError::gdal(path, "cannot be opened as a GeoPackage"))?;
        format::check(&ds, path)?;
        Ok(Reader {
            ds,
            path: path.to_path_buf(),
            _pg: None,
        })
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The reader's one open dataset, for tools that read a layer generically
    /// (the backend-comparison tests); the typed readers are the API.
    pub fn dataset(&self) -> &Dataset {
        &self.ds
    }

    /// Whether the store has table `name`.
    pub fn has_table(&self, name: &str) -> bool {
        self.ds.layer_by_name(name).is_ok()
    }

    /// Layer `name`, or an error naming it.
    pub(crate) fn layer(&self, name: &str) -> Result<Layer<'_>> {
        self.ds
            .layer_by_name(name)
            .map_err(|_| StoreError::invalid(&self.path, format!("no {name} layer")))
    }
}

// One-call reads (each opens the store once), for the CLI and tests.

/// The cover figures of the store at `path`.
pub fn read_cover(path: &Path) -> Result<StoredCover> {
    Reader::open(path)?.cover()
}
/// The alerts of the store at `path`, with their triage status.
pub fn read_alerts(path: &Path) -> Result<Vec<StoredAlert>> {
    Reader::open(path)?.alerts()
}
/// The triage history of the store at `path`, oldest first.
pub fn read_triage(path: &Path) -> Result<Vec<TriageEvent>> {
    Reader::open(path)?.triage()
}
/// The runs of the store at `path`, oldest first.
pub fn read_runs(path: &Path) -> Result<Vec<RunRecord>> {
    Reader::open(path)?.runs()
}
/// The change rows (communes, province) of the store at `path`.
pub fn read_change(path: &Path) -> Result<(Vec<ChangeRow>, Vec<ChangeRow>)> {
    Reader::open(path)?.change()
}
/// The zone tables of the store at `path`.
pub fn read_zones(path: &Path) -> Result<StoredZones> {
    Reader::open(path)?.zones()
}
/// Target progress measured on the store at `path`.
pub fn read_progress(path: &Path) -> Result<Option<canopy_core::targets::Progress>> {
    Reader::open(path)?.progress()
}
/// The fire danger rows of the store at `path` (of one day if `date` is given).
pub fn read_danger(path: &Path, date: Option<&str>) -> Result<Vec<canopy_core::fire::DangerRow>> {
    Reader::open(path)?.fire_danger(date)
}
/// Scenes and clear observations per commune and epoch of the store at `path`.
pub fn read_observations(path: &Path) -> Result<Vec<ObservationRow>> {
    Reader::open(path)?.observations()
}
/// Appends a triage event to the store at `path` (see [`triage::append`]).
pub fn append_triage(path: &Path, e: &TriageEvent, seen: Option<usize>) -> Result<TriageWrite> {
    triage::append(path, e, seen)
}

/// How to show the store at `path` to a user: the path, or for PostgreSQL the
/// `PG:` string GDAL/ogrinfo open (`schemas=`), without the password.
pub fn display_name(path: &Path) -> String {
    if pg::is_pg(path) {
        return match pg::parse(path) {
            Ok(l) => l.gdal_display(),
            Err(_) => "PG:(unparsable connection string)".into(),
        };
    }
    path.display().to_string()
}

/// Opens the store's dataset read-only (GeoPackage or PostgreSQL), for the
/// modules that read one table without the typed [`Reader`] (chips, photos).
pub(crate) fn open_dataset(path: &Path) -> Result<Dataset> {
    if pg::is_pg(path) {
        return pg::open_dataset(path);
    }
    file::recover(path)?;
    Dataset::open(path).map_err(StoreError::gdal(path, "cannot be opened as a GeoPackage"))
}
pub use file::{lock, recover};
pub use write::{check_is_store, check_replaceable};
