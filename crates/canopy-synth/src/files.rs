//! Files written whole or not at all: JSON through `canopy_store::atomic`; rasters
//! (which GDAL writes by name) under a temporary name (`.part`), then renamed.

use std::path::{Path, PathBuf};

use crate::SynthError;

/// The temporary name a file is written under before it is renamed to `path`.
pub(crate) fn partial_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".part");
    PathBuf::from(s)
}

/// Writes `contents` to `path` whole or not at all (`canopy_store::atomic`, the
/// routine every writer of a finished file uses).
pub(crate) fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), SynthError> {
    canopy_store::atomic::write_file(path, contents).map_err(|source| SynthError::Io {
        path: path.to_path_buf(),
        source,
    })
}
