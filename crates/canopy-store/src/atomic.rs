//! Files replaced whole or not at all: the one routine that every writer of a
//! finished file uses (the store's GeoPackage, `canopy report --output`, the sample
//! generator's JSON and GeoJSON).
//!
//! The new content is written to a temporary file in the target's directory (so the
//! rename cannot cross file systems), synced, renamed over the target, and the
//! directory synced: a reader sees the old file or the new one, never a part, and
//! after a crash the new file is either all there or not there.

use std::io::Write;
use std::path::Path;

/// The directory of `path` (`.` for a bare file name).
fn dir_of(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Writes `bytes` to `path` atomically (a `tempfile` beside it, synced, persisted
/// over `path`). The directory must exist.
pub fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let prefix = format!(".{name}.");
    let mut b = tempfile::Builder::new();
    b.prefix(&prefix).suffix(".part");
    // As `std::fs::write` would create it (0666 less the umask), not tempfile's 0600:
    // a report or sample file stays readable by whoever could read it before.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = b.tempfile_in(dir_of(path))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(path);
    Ok(())
}

/// Replaces `path` by `tmp`, a file written whole beside it by someone else (GDAL
/// writing a GeoPackage): `tmp` is synced, renamed over `path`, the directory synced.
pub fn replace(tmp: &Path, path: &Path) -> std::io::Result<()> {
    std::fs::File::open(tmp)?.sync_all()?;
    std::fs::rename(tmp, path)?;
    sync_dir(path);
    Ok(())
}

/// Syncs the directory of `path` (the rename's entry); best effort (not every
/// platform can open a directory).
fn sync_dir(path: &Path) {
    if let Ok(d) = std::fs::File::open(dir_of(path)) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("report.html");
        std::fs::write(&p, "old").unwrap();
        write_file(&p, "new content".as_bytes()).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new content");
        let names: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["report.html"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_ne!(
                mode & 0o044,
                0,
                "readable beyond the owner (umask 022): {mode:o}"
            );
        }
    }

    #[test]
    fn a_failed_write_leaves_the_old_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("missing-dir").join("x.json");
        assert!(write_file(&p, b"{}").is_err());
        assert!(!p.exists());
        let tmp = d.path().join(".x.tmp");
        std::fs::write(&tmp, "whole").unwrap();
        let target = d.path().join("x");
        std::fs::write(&target, "old").unwrap();
        replace(&tmp, &target).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "whole");
        assert!(!tmp.exists());
    }
}
