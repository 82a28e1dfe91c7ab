//! Files written whole or not at all: under a temporary name (`.part`), then renamed.

use std::path::{Path, PathBuf};

use crate::SynthError;

/// The temporary name a file is written under before it is renamed to `path`.
pub(crate) fn partial_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".part");
    PathBuf::from(s)
}

/// Writes `contents` to `path` through a temporary name.
pub(crate) fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), SynthError> {
    let tmp = partial_path(path);
    let io = |source| SynthError::Io {
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(&tmp, contents).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}
