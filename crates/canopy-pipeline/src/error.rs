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
    /// The results store could not be written or read.
    #[error(transparent)]
    Store(#[from] canopy_store::StoreError),
    /// Fire inputs (weather stations, hotspots) are missing or malformed: a
    /// `fire::FireError` (boxed, and converted in `fire`, so that this module, which
    /// `fire` uses, does not import `fire` back).
    #[error(transparent)]
    Fire(Box<dyn std::error::Error + Send + Sync>),
    /// A shard or merge failed (`shard::ShardError`, boxed and converted in
    /// `shard` for the same reason as `Fire`): names the partial at fault.
    #[error(transparent)]
    Shard(Box<dyn std::error::Error + Send + Sync>),
    /// The forest plot layer is missing or malformed (`parcels::ParcelError`,
    /// boxed and converted in `parcels` for the same reason as `Fire`).
    #[error(transparent)]
    Parcels(Box<dyn std::error::Error + Send + Sync>),
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
}
