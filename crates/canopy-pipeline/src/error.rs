//! Errors of the I/O edge. Each variant carries the file (and inside the message the
//! layer, feature, band or key) that caused it, because the user's next step is to
//! open that file.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The region file is unreadable, malformed, or inconsistent.
    #[error("{}: {msg}", file.display())]
    Config { file: PathBuf, msg: String },
    /// A raster tile is missing, corrupt or unusable.
    #[error("tile {}: {msg}", path.display())]
    Raster { path: PathBuf, msg: String },
    /// The commune (or zone) vector layer is missing, malformed or invalid.
    #[error("{}: {msg}", path.display())]
    Vector { path: PathBuf, msg: String },
    /// A coordinate reference system could not be understood or transformed.
    #[error("CRS: {0}")]
    Crs(String),
    /// The inputs do not fit together (e.g. no tile overlaps any commune).
    #[error("{0}")]
    Input(String),
    /// The GeoPackage store could not be written or read.
    #[error("store {}: {msg}", path.display())]
    Store { path: PathBuf, msg: String },
    /// A write's precondition failed: the store changed since the writer read it
    /// (a triage appended meanwhile by another process).
    #[error("{0}")]
    Conflict(String),
    /// The record a write refers to is not in the store (e.g. an alert a re-run removed).
    #[error("{0}")]
    NotFound(String),
    /// Fire inputs (weather stations) are missing or malformed.
    #[error(transparent)]
    Fire(#[from] crate::fire::FireError),
}

impl PipelineError {
    pub(crate) fn raster(path: impl Into<PathBuf>, msg: impl std::fmt::Display) -> Self {
        PipelineError::Raster {
            path: path.into(),
            msg: msg.to_string(),
        }
    }
    pub(crate) fn vector(path: impl Into<PathBuf>, msg: impl std::fmt::Display) -> Self {
        PipelineError::Vector {
            path: path.into(),
            msg: msg.to_string(),
        }
    }
    pub(crate) fn store(path: impl Into<PathBuf>, msg: impl std::fmt::Display) -> Self {
        PipelineError::Store {
            path: path.into(),
            msg: msg.to_string(),
        }
    }
}
