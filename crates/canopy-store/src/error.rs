//! The store's errors. Each names the store file (and, in the message, the table or
//! field); GDAL and I/O failures keep their error as the `source`, so the chain
//! (`{:#}` in the CLI) reads "store PATH: what failed: why".

use std::path::{Path, PathBuf};

/// An error reading or writing a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store is missing, is not a Canopy store, lacks a table or field, or
    /// refuses a write that would lose history.
    #[error("store {}: {msg}", path.display())]
    Invalid { path: PathBuf, msg: String },
    /// GDAL failed on the store.
    #[error("store {}: {msg}", path.display())]
    Gdal {
        path: PathBuf,
        msg: String,
        #[source]
        source: gdal::errors::GdalError,
    },
    /// The PostgreSQL server refused or failed (connect, lock, swap, triage).
    #[error("store {}: {msg}", path.display())]
    Postgres {
        path: PathBuf,
        msg: String,
        #[source]
        source: postgres::Error,
    },
    /// The file system failed (create, sync, rename, lock).
    #[error("store {}: {msg}", path.display())]
    Io {
        path: PathBuf,
        msg: String,
        #[source]
        source: std::io::Error,
    },
    /// A write's precondition failed: the store changed since the writer read it
    /// (a triage appended meanwhile by another process).
    #[error("{0}")]
    Conflict(String),
    /// The record a write refers to is not in the store (e.g. an alert a re-run removed).
    #[error("{0}")]
    NotFound(String),
    /// What a client sent is refused (a photo that is not an image, too large, one too many).
    #[error("{0}")]
    Input(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    pub fn invalid(path: &Path, msg: impl std::fmt::Display) -> Self {
        StoreError::Invalid {
            path: path.to_path_buf(),
            msg: msg.to_string(),
        }
    }
    pub(crate) fn gdal(
        path: &Path,
        msg: impl std::fmt::Display,
    ) -> impl FnOnce(gdal::errors::GdalError) -> Self {
        let (path, msg) = (path.to_path_buf(), msg.to_string());
        move |source| StoreError::Gdal { path, msg, source }
    }
    pub(crate) fn io(
        path: &Path,
        msg: impl std::fmt::Display,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let (path, msg) = (path.to_path_buf(), msg.to_string());
        move |source| StoreError::Io { path, msg, source }
    }

    /// The message with every source, as one line ("a: b: c").
    pub fn chain(&self) -> String {
        let mut s = self.to_string();
        let mut cur = std::error::Error::source(self);
        while let Some(e) = cur {
            s.push_str(": ");
            s.push_str(&e.to_string());
            cur = e.source();
        }
        s
    }
}
