//! Fingerprints of a run's input files, for the `runs` table.
//!
//! Every input is hashed whole with SHA-256 (`sha256:<hex>`, the same digest
//! `sha256sum` prints), whatever its size: any change of content changes it, and
//! the cost is linear in the bytes read (about 1.7 GB/s per core with the CPU's
//! SHA instructions), with no threshold above which the answer changes kind.
//! Files are hashed in parallel, one file per task; a tile of a province at 10 m
//! is a few hundred MB, so a run's tiles keep both cores busy. On the sample
//! region at 10 m the ~1.3 GB of tiles take about 5 % of the run's CPU time.
//!
//! A folder input (a Sentinel-2 `.SAFE` product named as a tile) is fingerprinted
//! by its files, not their bytes (a SAFE holds ~1 GB of JPEG 2000): `files-sha256:<hex>`
//! of one line per regular file below it, sorted by relative path, giving the path,
//! size and modification time (nanoseconds since 1970). Adding, removing, renaming,
//! resizing or touching a file changes it; rewriting a file in place to the same
//! size and time does not.

use std::io::Read;
use std::path::Path;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

/// `sha256:<hex>` of a file, `files-sha256:<hex>` of a folder (see the module
/// docs), or `unreadable: <why>`.
pub fn fingerprint(path: &Path) -> String {
    if path.is_dir() {
        return folder_fingerprint(path);
    }
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return format!("unreadable: {e}"),
    };
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return format!("unreadable: {e}"),
        }
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

/// The fingerprint of a folder by its files' relative paths, sizes and mtimes.
fn folder_fingerprint(dir: &Path) -> String {
    let mut lines = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => return format!("unreadable: {e}"),
        };
        if !entry.file_type().is_file() {
            continue;
        }
        let meta = match entry.metadata() {
            Ok(m) => m,
            Err(e) => return format!("unreadable: {}: {e}", entry.path().display()),
        };
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let rel = entry.path().strip_prefix(dir).unwrap_or(entry.path());
        // Components joined by '/', whatever the platform, so the digest is portable.
        let rel: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        lines.push(format!("{}\t{}\t{mtime}\n", rel.join("/"), meta.len()));
    }
    lines.sort();
    let mut h = Sha256::new();
    for l in &lines {
        h.update(l.as_bytes());
    }
    format!("files-sha256:{}", hex::encode(h.finalize()))
}

/// [`fingerprint`] of each file, in parallel, in the order given.
pub fn fingerprints<P: AsRef<Path> + Sync>(paths: &[P]) -> Vec<String> {
    paths.par_iter().map(|p| fingerprint(p.as_ref())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_file_digest_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, b"abc").unwrap();
        // Larger than the read buffer, so several reads feed the digest.
        std::fs::write(&b, vec![7u8; (1 << 20) + 5]).unwrap();
        let got = fingerprints(&[&a, &b, &dir.path().join("missing")]);
        assert_eq!(
            got[0],
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(got[1], fingerprint(&b));
        assert!(got[1].starts_with("sha256:") && got[1] != got[0]);
        assert!(got[2].starts_with("unreadable"), "{}", got[2]);
        // A change of content changes the fingerprint, even at the same size.
        std::fs::write(&a, b"abd").unwrap();
        assert_ne!(fingerprint(&a), got[0]);
    }

    /// A folder (a `.SAFE` product as a tile) is fingerprinted by its files' names,
    /// sizes and times: the digest of the sorted lines, computed here by hand.
    #[test]
    fn folder_by_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let safe = dir.path().join("S2A_MSIL2A_X.SAFE");
        let img = safe.join("GRANULE").join("L2A_T48QYJ").join("IMG_DATA");
        std::fs::create_dir_all(&img).unwrap();
        std::fs::write(safe.join("MTD_MSIL2A.xml"), b"<xml/>").unwrap();
        std::fs::write(img.join("B04.jp2"), vec![1u8; 300]).unwrap();
        let t = std::time::UNIX_EPOCH + std::time::Duration::new(1_700_000_000, 5);
        for f in [safe.join("MTD_MSIL2A.xml"), img.join("B04.jp2")] {
            std::fs::File::options()
                .write(true)
                .open(&f)
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
        let fp = fingerprint(&safe);
        let expected = "GRANULE/L2A_T48QYJ/IMG_DATA/B04.jp2\t300\t1700000000000000005\n\
                        MTD_MSIL2A.xml\t6\t1700000000000000005\n";
        assert_eq!(
            fp,
            format!("files-sha256:{}", hex::encode(Sha256::digest(expected)))
        );
        // Same files elsewhere: same fingerprint (paths are relative).
        let copy = dir.path().join("copy.SAFE");
        std::fs::rename(&safe, &copy).unwrap();
        assert_eq!(fingerprint(&copy), fp);
        // A new file, or a file of another size, changes it.
        std::fs::write(copy.join("extra.txt"), b"x").unwrap();
        let fp2 = fingerprint(&copy);
        assert_ne!(fp2, fp);
        std::fs::write(copy.join("extra.txt"), b"xy").unwrap();
        assert_ne!(fingerprint(&copy), fp2);
        assert!(!fingerprint(&copy).starts_with("unreadable"));
    }
}
