//! The store file: its identity ([`FileId`]), the writers' lock, hot-journal
//! recovery, the header check that keeps `--store` from replacing a file that is
//! not a store, and the clean-up of temporary files of killed runs.
//!
//! These are the GeoPackage backend's guarantees (issue 11); a database backend
//! gets the same ones from its server (transactions, advisory locks).

use std::path::{Path, PathBuf};

use gdal::Dataset;

use crate::error::{Result, StoreError};

/// Which version of which file a store is: device, inode, modification time, size
/// and SQLite's file change counter (header bytes 24..28, bumped by every committed
/// transaction in rollback-journal mode). A rename changes the inode, an in-place
/// write the counter, whatever the clock's granularity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
    pub mtime_ns: i128,
    pub len: u64,
    pub change_counter: u32,
}

impl FileId {
    /// The identity of the file at `path` now (none if it cannot be read).
    ///
    /// For a PostgreSQL store it is the version the server polls instead:
    /// `ino` the results schema's oid (a run's swap changes it), `len` the number of
    /// triage events and `mtime_ns` the last one's sequence number (`pg`).
    pub fn of(path: &Path) -> Option<FileId> {
        if crate::pg::is_pg(path) {
            return crate::pg::stamp(path);
        }
        use std::io::Read;
        use std::os::unix::fs::MetadataExt;
        let mut f = std::fs::File::open(path).ok()?;
        let m = f.metadata().ok()?;
        let mut head = [0u8; 28];
        let change_counter = match f.read_exact(&mut head) {
            Ok(()) => u32::from_be_bytes([head[24], head[25], head[26], head[27]]),
            Err(_) => 0,
        };
        Some(FileId {
            dev: m.dev(),
            ino: m.ino(),
            mtime_ns: m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
            len: m.len(),
            change_counter,
        })
    }
}

/// An exclusive lock on the store (a `.lock` file beside it), for writers. Held
/// until the returned file is dropped.
pub fn lock(path: &Path) -> Result<std::fs::File> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    let lock_path = path.with_file_name(name);
    if let Some(d) = lock_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(d).map_err(StoreError::io(
            path,
            format!("cannot create {}", d.display()),
        ))?;
    }
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(StoreError::io(
            path,
            format!("cannot open {}", lock_path.display()),
        ))?;
    match f.try_lock() {
        Ok(()) => return Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => {
            tracing::info!(lock = %lock_path.display(), "another canopy process is writing the store: waiting for it");
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(StoreError::io(
                path,
                format!("cannot lock {}", lock_path.display()),
            )(e))
        }
    }
    f.lock().map_err(StoreError::io(
        path,
        format!("cannot lock {}", lock_path.display()),
    ))?;
    Ok(f)
}

/// "disk full" in plain words instead of SQLite's error numbers (a message prefix
/// for a GDAL error whose text says so).
pub(crate) fn disk_hint(e: &gdal::errors::GdalError) -> &'static str {
    let l = e.to_string().to_lowercase();
    if l.contains("disk is full") || l.contains("no space left") || l.contains("disk i/o error") {
        "the disk is full"
    } else {
        ""
    }
}

/// `StoreError::Gdal` with `msg`, plus "the disk is full" when GDAL's error says so.
pub(crate) fn gdal_err(
    path: &Path,
    msg: impl std::fmt::Display,
) -> impl FnOnce(gdal::errors::GdalError) -> StoreError {
    let (path, msg) = (path.to_path_buf(), msg.to_string());
    move |source| {
        let hint = disk_hint(&source);
        let msg = if hint.is_empty() {
            msg
        } else {
            format!("{msg}: {hint}")
        };
        StoreError::Gdal { path, msg, source }
    }
}

/// The rollback journal and WAL files SQLite may keep beside a database.
pub(crate) fn journal_files(path: &Path) -> [PathBuf; 3] {
    ["-journal", "-wal", "-shm"].map(|sfx| {
        let mut n = path.as_os_str().to_os_string();
        n.push(sfx);
        PathBuf::from(n)
    })
}

/// Opens the store read-write (appends, recovery).
pub(crate) fn open_update(path: &Path) -> gdal::errors::Result<Dataset> {
    Dataset::open_ex(
        path,
        gdal::DatasetOptions {
            open_flags: gdal::GdalOpenFlags::GDAL_OF_UPDATE | gdal::GdalOpenFlags::GDAL_OF_VECTOR,
            ..Default::default()
        },
    )
}

/// Lets SQLite recover the store if a killed writer left a hot journal beside it:
/// a read-write open rolls the unfinished transaction back (a read-only open cannot,
/// and fails with "attempt to write a readonly database"). The journal is never
/// deleted by hand; a journal of a live writer is not hot and SQLite leaves it.
pub fn recover(path: &Path) -> Result<()> {
    if crate::pg::is_pg(path) {
        return Ok(()); // the database server recovers itself
    }
    let [journal, wal, _] = journal_files(path);
    if !journal.exists() && !wal.exists() {
        return Ok(());
    }
    tracing::info!(store = %path.display(), "a journal is beside the store: letting SQLite recover it");
    let ds = open_update(path).map_err(StoreError::gdal(
        path,
        format!(
            "a journal left by an interrupted write ({}) needs a read-write open to be \
             rolled back, which failed. Make the store and its directory writable \
             and run any canopy command on it again",
            journal.display()
        ),
    ))?;
    // A read makes SQLite check (and roll back) the journal, whatever GDAL read at open.
    let _ = ds.execute_sql(
        "SELECT count(*) FROM gpkg_contents",
        None,
        gdal::vector::sql::Dialect::DEFAULT,
    );
    drop(ds);
    Ok(())
}

pub(crate) fn not_a_store(path: &Path, why: &str) -> StoreError {
    StoreError::invalid(
        path,
        format!(
            "exists and is not a Canopy store ({why}); refusing to replace it. Give \
             `--store` a new path or an existing store (a .gpkg written by `canopy run`)"
        ),
    )
}

/// The first 100 bytes must be an SQLite header with GeoPackage's application id.
pub(crate) fn check_header(path: &Path) -> Result<()> {
    use std::io::Read;
    let mut head = Vec::with_capacity(100);
    std::fs::File::open(path)
        .and_then(|f| f.take(100).read_to_end(&mut head))
        .map_err(StoreError::io(path, "cannot be read"))?;
    if head.len() < 100 || &head[..16] != b"SQLite format 3\0" {
        return Err(not_a_store(path, "not an SQLite database"));
    }
    if &head[68..72] != b"GPKG" {
        return Err(not_a_store(path, "an SQLite database but not a GeoPackage"));
    }
    Ok(())
}

/// Removes temporary stores (and their journals) left by killed runs. Called
/// under the store's lock, so no live run's temporary file is touched.
pub(crate) fn remove_stale_temps(dir: &Path, stem: &str) {
    let prefix = format!(".{stem}.tmp-");
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            let temp_or_journal = [".gpkg", ".gpkg-journal", ".gpkg-wal", ".gpkg-shm"]
                .iter()
                .any(|sfx| name.ends_with(sfx));
            if name.starts_with(&prefix) && temp_or_journal {
                tracing::info!(file = %e.path().display(), "removing a temporary store left by an interrupted run");
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// Removes the temporary file unless the write succeeded.
pub(crate) struct TempGuard(pub PathBuf, pub bool);
impl Drop for TempGuard {
    fn drop(&mut self) {
        if !self.1 {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}
