//! Incremental runs (`canopy run … --cache DIR`): a strip pass whose inputs did
//! not change is answered from the cache instead of read again.
//!
//! The cache holds, per strip pass (`cover:E`, `change:A:B` with its burned
//! area), the pass's *per-strip outputs* (the same values a shard's partial
//! holds, see [`crate::shard`]), and, per pair (`chips:A:B`, not listed in the
//! report), the alerts' evidence chips, so a reused pair's chips are not
//! rendered again (an alert without a cached chip is rendered). An entry's key
//! is the SHA-256 of everything its outputs depend on: the canopy version, the
//! run's settings (less the thread count and the list of pairs), the legend, the
//! fingerprints of the polygon inputs (communes, zones, hotspot files: they make
//! the pass's polygons), and for each epoch of the pass its configuration (tiles,
//! bands, compositing) and its tiles' fingerprints; plus the pass's strip count.
//! Adding an epoch to the region file therefore reads only the new epoch and the
//! pairs it forms; changing a tile, a setting or a commune recomputes what
//! depends on it. The reductions then run on the cached strips in strip order,
//! so the store is bit-identical to a full run's.
//!
//! Input fingerprints (BLAKE3 of whole files, `fingerprint`, for the `runs` table) are cached
//! too, by path, size and modification time (`fingerprints.json`), so an
//! unchanged tile is not even hashed again.
//!
//! Layout: `DIR/fingerprints.json`, `DIR/passes/<key>.canopy-cache` (the partial
//! file format of `shard`: magic, length, CBOR, SHA-256; written atomically). A
//! damaged entry is ignored (recomputed) with a warning. The cache is never
//! required: deleting it only costs time. Entries are not pruned; the folder
//! grows by one entry per new pass.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Region;

/// What a run reused and what it computed, for the CLI to print.
#[derive(Debug, Clone, Default)]
pub struct CacheReport {
    pub reused: Vec<String>,
    pub computed: Vec<String>,
    /// Input files hashed again / taken from the cache.
    pub hashed: usize,
    pub hash_reused: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct FpEntry {
    size: u64,
    mtime_ns: u128,
    fingerprint: String,
}

/// A cached pass: the key it was stored under (checked) and its strips.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    key: String,
    items: Vec<ciborium::Value>,
}

/// An open cache for one run.
pub struct Cache {
    dir: PathBuf,
    /// Digest of what every pass depends on (version, settings, polygons).
    base: String,
    /// Epoch id → digest of its configuration and tiles.
    epochs: BTreeMap<String, String>,
    /// Every input's fingerprint (path as in the region → `blake3:…`).
    fps: BTreeMap<String, String>,
    report: Mutex<CacheReport>,
}

fn hex_digest(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())
}

impl Cache {
    /// Opens (creates) the cache at `dir` for `region`: fingerprints every
    /// input, hashing only files whose size or mtime changed since the cache
    /// saw them. `settings`: the run's settings (JSON).
    pub fn open(
        dir: &Path,
        region: &Region,
        settings: &serde_json::Value,
        files: &[&PathBuf],
    ) -> std::io::Result<Cache> {
        std::fs::create_dir_all(dir.join("passes"))?;
        let fp_file = dir.join("fingerprints.json");
        let mut known: BTreeMap<String, FpEntry> = std::fs::read(&fp_file)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let mut report = CacheReport::default();
        let mut todo = Vec::new();
        let mut fps = BTreeMap::new();
        for f in files {
            let key = f.display().to_string();
            let st = crate::framed::stat(f);
            match (st, known.get(&key)) {
                (Some(s), Some(e))
                    if s.size == e.size
                        && s.mtime_ns == e.mtime_ns
                        && e.fingerprint.starts_with(crate::fingerprint::FILE_PREFIX) =>
                {
                    fps.insert(key, e.fingerprint.clone());
                    report.hash_reused += 1;
                }
                _ => todo.push(*f),
            }
        }
        for (f, fp) in todo.iter().zip(crate::fingerprint::fingerprints(&todo)) {
            let key = f.display().to_string();
            if let Some(s) = crate::framed::stat(f) {
                known.insert(
                    key.clone(),
                    FpEntry {
                        size: s.size,
                        mtime_ns: s.mtime_ns,
                        fingerprint: fp.clone(),
                    },
                );
            }
            fps.insert(key, fp);
        }
        report.hashed = todo.len();
        if !todo.is_empty() {
            let bytes = serde_json::to_vec_pretty(&known).map_err(std::io::Error::other)?;
            canopy_store::atomic::write_file(&fp_file, &bytes)?;
        }
        let fp = |p: &PathBuf| {
            fps.get(&p.display().to_string())
                .cloned()
                .unwrap_or_default()
        };
        let mut s = settings.clone();
        if let Some(o) = s.as_object_mut() {
            o.remove("threads");
            o.remove("pairs");
        }
        let mut polygons = vec![fp(&region.communes.path)];
        if let Some(z) = &region.zones {
            polygons.push(fp(&z.path));
        }
        if let Some(f) = &region.fire {
            polygons.extend(f.hotspots.iter().map(fp));
        }
        let base = hex_digest(&[
            env!("CARGO_PKG_VERSION"),
            crate::shard::STRIP_FORMAT,
            &s.to_string(),
            &format!("{:?}", region.legend),
            &format!("{:?}", region.communes),
            &format!("{:?}", region.zones),
            &polygons.join(","),
        ]);
        let epochs = region
            .epochs
            .iter()
            .map(|e| {
                let tiles: Vec<String> = e.tiles.iter().map(fp).collect();
                let d = hex_digest(&[&format!("{e:?}"), &tiles.join(",")]);
                (e.id.clone(), d)
            })
            .collect();
        Ok(Cache {
            dir: dir.to_path_buf(),
            base,
            epochs,
            fps,
            report: Mutex::new(report),
        })
    }

    /// The fingerprint of every input (for the `runs` table).
    pub fn fingerprints(&self, files: &[&PathBuf]) -> Vec<String> {
        files
            .iter()
            .map(|f| {
                self.fps
                    .get(&f.display().to_string())
                    .cloned()
                    .unwrap_or_default()
            })
            .collect()
    }

    fn key(&self, pass: &str, epochs: &[&str], strips: usize) -> String {
        let mut parts = vec![self.base.as_str(), pass];
        for e in epochs {
            parts.push(self.epochs.get(*e).map_or("?", |d| d.as_str()));
        }
        let n = strips.to_string();
        parts.push(&n);
        hex_digest(&parts)
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join("passes").join(format!("{key}.canopy-cache"))
    }

    /// The cached strips of a pass, if any (a damaged entry is a warning and a miss).
    pub fn get(&self, pass: &str, epochs: &[&str], strips: usize) -> Option<Vec<ciborium::Value>> {
        let items = self.read(pass, epochs, strips)?;
        if let Ok(mut r) = self.report.lock() {
            r.reused.push(pass.to_string());
        }
        Some(items)
    }

    /// A cached entry that is not a strip pass (a pair's chips), not listed in
    /// the report (the report lists the passes read again or not).
    pub fn get_quiet(&self, pass: &str, epochs: &[&str]) -> Option<Vec<ciborium::Value>> {
        self.read(pass, epochs, 0)
    }

    /// An entry's items when it exists and is whole (a damaged entry is a warning
    /// and a miss).
    fn read(&self, pass: &str, epochs: &[&str], strips: usize) -> Option<Vec<ciborium::Value>> {
        let key = self.key(pass, epochs, strips);
        let path = self.path(&key);
        if !path.exists() {
            return None;
        }
        let entry: Result<Entry, String> = crate::framed::read_framed(&path)
            .and_then(|body| ciborium::from_reader(&body[..]).map_err(|e| e.to_string()));
        match entry {
            Ok(e) if e.key == key => Some(e.items),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(entry = %path.display(), "cache entry ignored: {e}");
                None
            }
        }
    }

    /// Stores an entry of [`Cache::get_quiet`].
    pub fn put_quiet(&self, pass: &str, epochs: &[&str], items: Vec<ciborium::Value>) {
        self.write(self.key(pass, epochs, 0), items);
    }

    fn write(&self, key: String, items: Vec<ciborium::Value>) {
        let path = self.path(&key);
        let entry = Entry { key, items };
        let mut body = Vec::new();
        let written = ciborium::into_writer(&entry, &mut body)
            .map_err(|e| e.to_string())
            .and_then(|_| {
                canopy_store::atomic::write_file(&path, &crate::framed::frame(&body))
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = written {
            tracing::warn!(entry = %path.display(), "cache entry not written: {e}");
        }
    }

    /// Stores a pass's strips (best effort: a cache that cannot be written is a warning).
    pub fn put(&self, pass: &str, epochs: &[&str], strips: usize, items: Vec<ciborium::Value>) {
        self.write(self.key(pass, epochs, strips), items);
        if let Ok(mut r) = self.report.lock() {
            r.computed.push(pass.to_string());
        }
    }

    /// What this run reused and computed so far.
    pub fn report(&self) -> CacheReport {
        self.report.lock().map(|r| r.clone()).unwrap_or_default()
    }
}
