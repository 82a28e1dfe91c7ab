//! Sharded runs (`canopy run --shard K/N --partial DIR`, `canopy merge`): one
//! region's strip passes split over N processes, merged bit-identically.
//!
//! **The split.** Every strip pass of a run (the cover pass of an epoch, the
//! change pass of a pair, with its burned area) streams its working grid in
//! the strips of [`crate::strips::strip_rows`]. Shard K of N computes, in every
//! pass, the contiguous range of strips `[K·S/N, (K+1)·S/N)` (S: the pass's strip
//! count; integer division), so each shard reads about 1/N of every epoch's
//! rows. Everything that is not a strip pass (planning, coverages, zone geometry,
//! hotspot plans) is cheap and done by every shard and by the merge alike.
//!
//! **The partial.** A shard writes one file, `shard-K-of-N.canopy-part`: for each
//! pass (keyed `cover:E`, `change:A:B`) the *per-strip* outputs of
//! its strips, exactly as the pass's reduction consumes them (per polygon sums,
//! transition sums, every loss run, burned runs, confirming-observation runs);
//! plus the region's name, the settings (those of the `runs` table, less the
//! thread count), every input's size and mtime, and the fingerprints (BLAKE3) of the inputs
//! whose index is K modulo N (so the N shards hash the inputs once between
//! them); and per pair (`chips:A:B`) the evidence chips of the alerts lying
//! wholly inside the shard's rows (a patch off the shard's first and last rows
//! cannot join another shard's runs, so it is a whole alert, whose id the shard
//! can compute: `change::run`). The file is `CANOPYP1`, the body's length (u64 LE), the body (CBOR,
//! `ciborium`, floats stored exactly) and the body's SHA-256; it is written
//! atomically (`canopy_store::atomic`), so a killed shard leaves no partial, and
//! a truncated or altered one fails its length or checksum.
//!
//! **The merge** checks every partial (all N present, no index twice, same N,
//! region, settings and input identities, inputs unchanged since), then runs the
//! ordinary run ([`crate::job::run`]) with the strip passes answered from the
//! partials: the reductions see the same strip outputs in the same global strip
//! order as a single process, so every sum is added in the same order and every
//! figure, alert id and outline is bit-identical, whatever N. Alerts are
//! labelled from all loss runs at the merge, so patches crossing shard borders
//! are stitched exactly; the merge takes the shards' chips by alert id and
//! renders only those of the alerts crossing a shard border (a chip depends only
//! on its alert's patch, so the chips are the same either way).
//!
//! The mode is process-wide (set by `job::run_shard` / `job::merge` for the
//! length of the call, [`ModeGuard`]); an ordinary run computes every strip.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use rayon::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::PipelineError;

/// File name suffix of a partial.
pub const SUFFIX: &str = ".canopy-part";
/// The layout of the strip passes' outputs in partials and cache entries (see
/// `crate::touched`); part of the settings shards compare and of the cache key, so
/// outputs of another layout are refused or recomputed, never misread.
pub const STRIP_FORMAT: &str = "strips 3: touched polygons only, rows by width";

/// Errors of sharded runs and merges; each names the shard (its file) at fault.
#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    #[error("--shard {0}: expected K/N with 0 ≤ K < N (e.g. 2/4), or auto/N")]
    Spec(String),
    #[error(
        "--shard auto/{0}: neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set \
         (auto takes the index from a Slurm array task or a Kubernetes Indexed Job)"
    )]
    NoIndex(usize),
    #[error("--shard auto/{n}: {var}={value} is not a shard index below {n}")]
    BadIndex {
        var: &'static str,
        value: String,
        n: usize,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("partial {}: {msg}", file.display())]
    Partial { file: PathBuf, msg: String },
    #[error("partials in {}: {msg}", dir.display())]
    Dir { dir: PathBuf, msg: String },
    #[error("encoding pass {key}: {msg}")]
    Encode { key: String, msg: String },
}

impl From<ShardError> for PipelineError {
    fn from(e: ShardError) -> Self {
        PipelineError::Shard(Box::new(e))
    }
}

/// Which shard: `K/N`, or `auto/N` (K from the environment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardSpec {
    Fixed { k: usize, n: usize },
    Auto { n: usize },
}

impl std::str::FromStr for ShardSpec {
    type Err = ShardError;
    fn from_str(s: &str) -> Result<Self, ShardError> {
        let bad = || ShardError::Spec(s.to_string());
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let n: usize = n.trim().parse().map_err(|_| bad())?;
        if n == 0 {
            return Err(bad());
        }
        if k.trim() == "auto" {
            return Ok(ShardSpec::Auto { n });
        }
        let k: usize = k.trim().parse().map_err(|_| bad())?;
        if k >= n {
            return Err(bad());
        }
        Ok(ShardSpec::Fixed { k, n })
    }
}

impl ShardSpec {
    /// (K, N): `auto` reads `SLURM_ARRAY_TASK_ID`, else `JOB_COMPLETION_INDEX`.
    pub fn resolve(self) -> Result<(usize, usize), ShardError> {
        self.resolve_with(|v| std::env::var(v).ok())
    }

    fn resolve_with(
        self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<(usize, usize), ShardError> {
        match self {
            ShardSpec::Fixed { k, n } => Ok((k, n)),
            ShardSpec::Auto { n } => {
                for var in ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"] {
                    if let Some(v) = env(var) {
                        return match v.trim().parse::<usize>() {
                            Ok(k) if k < n => Ok((k, n)),
                            _ => Err(ShardError::BadIndex { var, value: v, n }),
                        };
                    }
                }
                Err(ShardError::NoIndex(n))
            }
        }
    }
}

/// The strips `[start, end)` of shard `k` of `n` in a pass of `strips` strips.
pub fn range(k: usize, n: usize, strips: usize) -> std::ops::Range<usize> {
    (k * strips / n)..((k + 1) * strips / n)
}

/// The file name of shard `k` of `n`.
pub fn file_name(k: usize, n: usize) -> String {
    format!("shard-{k}-of-{n}{SUFFIX}")
}

pub use crate::framed::{stat, FileStat};

/// One pass's strips computed by one shard.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PassPart {
    /// The pass's strip count (the same for every shard).
    pub strips: u32,
    /// The first strip of this shard's range.
    pub first: u32,
    /// Per strip of the range, the pass's strip output, CBOR (decoded
    /// straight into the pass's type by the merge: no `Value` tree between).
    pub items: Vec<serde_bytes::ByteBuf>,
}

/// A shard's partial result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Partial {
    pub k: u32,
    pub n: u32,
    pub region: String,
    /// The run's settings (JSON), less the thread count.
    pub settings: String,
    /// Every input path → its size and mtime (None: not a local file).
    pub inputs: BTreeMap<String, Option<FileStat>>,
    /// This shard's share of the inputs' fingerprints (path → `blake3:…`).
    pub hashes: BTreeMap<String, String>,
    /// Pass key → this shard's strips.
    pub passes: BTreeMap<String, PassPart>,
    /// Pair key (`chips:A:B`) → the evidence chips of the pair's alerts that lie
    /// wholly inside this shard's rows (`chips::to_values`).
    #[serde(default)]
    pub chips: BTreeMap<String, Vec<ciborium::Value>>,
    /// This shard's share of the region's forest plots as placed, so the merge
    /// need not read the plot layer again (`crate::plot_share`; CBOR).
    #[serde(default)]
    pub plots: Option<serde_bytes::ByteBuf>,
    /// Seconds the shard took (for the merge's log).
    pub seconds: f64,
}

impl Partial {
    pub fn new(k: usize, n: usize) -> Self {
        Partial {
            k: k as u32,
            n: n as u32,
            region: String::new(),
            settings: String::new(),
            inputs: BTreeMap::new(),
            hashes: BTreeMap::new(),
            passes: BTreeMap::new(),
            chips: BTreeMap::new(),
            plots: None,
            seconds: 0.0,
        }
    }

    /// The file's bytes (`framed`: magic, body length, CBOR body, SHA-256).
    pub fn encode(&self) -> Result<Vec<u8>, ShardError> {
        let mut body = Vec::new();
        ciborium::into_writer(self, &mut body).map_err(|e| ShardError::Encode {
            key: "partial".into(),
            msg: e.to_string(),
        })?;
        Ok(crate::framed::frame(&body))
    }

    /// Reads and checks a partial file (magic, length, checksum, decoding).
    pub fn read(file: &Path) -> Result<Self, ShardError> {
        let bad = |msg: String| ShardError::Partial {
            file: file.to_path_buf(),
            msg,
        };
        let body = crate::framed::read_framed(file).map_err(bad)?;
        ciborium::from_reader(&body[..]).map_err(|e| bad(undecodable(e)))
    }
}

/// What the merge says of a part of a partial it cannot decode.
pub(crate) fn undecodable(e: impl std::fmt::Display) -> String {
    format!(
        "cannot be decoded ({e}): written by another version of canopy? Run the shards \
         again with this one"
    )
}

/// The process-wide mode of the strip passes.
enum Mode {
    /// Compute shard K of N and record the strips.
    Shard {
        k: usize,
        n: usize,
        sink: Mutex<Partial>,
    },
    /// Answer every pass from the shards' partials (ordered by K).
    Merge { parts: Vec<(PathBuf, Partial)> },
    /// An ordinary run with a cache of passes (`crate::cache`), opened by [`begin`].
    Cache {
        dir: PathBuf,
        cache: std::sync::OnceLock<crate::cache::Cache>,
    },
}

static MODE: RwLock<Option<Arc<Mode>>> = RwLock::new(None);

fn mode() -> Option<Arc<Mode>> {
    MODE.read().map(|m| m.clone()).unwrap_or(None)
}

/// Resets the mode to an ordinary run when dropped.
pub struct ModeGuard(());

impl Drop for ModeGuard {
    fn drop(&mut self) {
        if let Ok(mut m) = MODE.write() {
            *m = None;
        }
    }
}

fn set(mode: Mode) -> ModeGuard {
    if let Ok(mut m) = MODE.write() {
        *m = Some(Arc::new(mode));
    }
    ModeGuard(())
}

/// Enters shard mode (shard `k` of `n`) until the guard drops.
pub fn enter_shard(k: usize, n: usize) -> ModeGuard {
    set(Mode::Shard {
        k,
        n,
        sink: Mutex::new(Partial::new(k, n)),
    })
}

/// Enters merge mode on checked partials (see [`load_dir`]) until the guard drops.
pub fn enter_merge(parts: Vec<(PathBuf, Partial)>) -> ModeGuard {
    set(Mode::Merge { parts })
}

/// Enters an incremental run with the cache at `dir` until the guard drops.
pub fn enter_cache(dir: &Path) -> ModeGuard {
    set(Mode::Cache {
        dir: dir.to_path_buf(),
        cache: std::sync::OnceLock::new(),
    })
}

/// What the cache of this run reused and computed (incremental runs only).
pub fn cache_report() -> Option<crate::cache::CacheReport> {
    match mode().as_deref() {
        Some(Mode::Cache { cache, .. }) => cache.get().map(|c| c.report()),
        _ => None,
    }
}

/// Whether this process merges partials (every pass's strips come from them).
pub fn merging() -> bool {
    matches!(mode().as_deref(), Some(Mode::Merge { .. }))
}

/// Whether this process computes a shard (no alerts, chips nor store then).
pub fn computing_shard() -> bool {
    matches!(mode().as_deref(), Some(Mode::Shard { .. }))
}

/// Shard mode: the rows of the working grid this shard computes in a pass of
/// `strips` (the rows of its range of strips). `None` outside shard mode.
pub fn own_rows(strips: &[(usize, usize)]) -> Option<std::ops::Range<usize>> {
    match mode().as_deref() {
        Some(Mode::Shard { k, n, .. }) => {
            let r = range(*k, *n, strips.len());
            Some(
                match (
                    strips.get(r.start),
                    r.end.checked_sub(1).and_then(|e| strips.get(e)),
                ) {
                    (Some(a), Some(b)) if !r.is_empty() => a.0..b.0 + b.1,
                    _ => 0..0,
                },
            )
        }
        _ => None,
    }
}

/// Shard mode: records the chips a shard rendered for a pair (`chips:A:B`).
pub fn record_chips(key: &str, chips: &[crate::chips::Chip]) {
    if let Some(Mode::Shard { sink, .. }) = mode().as_deref() {
        if let Ok(mut p) = sink.lock() {
            p.chips
                .insert(key.to_string(), crate::chips::to_values(chips));
        }
    }
}

/// Shard mode: this shard's index and the shard count.
pub fn shard_index() -> Option<(usize, usize)> {
    match mode().as_deref() {
        Some(Mode::Shard { k, n, .. }) => Some((*k, *n)),
        _ => None,
    }
}

/// Shard mode: records this shard's share of the plots (`crate::plot_share`).
pub fn record_plots(bytes: Vec<u8>) {
    if let Some(Mode::Shard { sink, .. }) = mode().as_deref() {
        if let Ok(mut p) = sink.lock() {
            p.plots = Some(serde_bytes::ByteBuf::from(bytes));
        }
    }
}

/// Merge mode: every shard's share of the plots (file, bytes), in shard
/// order; `None` outside a merge or when a partial holds none (then the merge
/// reads the plot layer itself).
pub fn plot_shares() -> Option<Vec<(PathBuf, Vec<u8>)>> {
    match mode().as_deref() {
        Some(Mode::Merge { parts }) => parts
            .iter()
            .map(|(f, p)| p.plots.as_ref().map(|b| (f.clone(), b.to_vec())))
            .collect(),
        _ => None,
    }
}

/// Chips rendered before for a pair (`chips:A:B` of `epochs`), by alert id: at
/// a merge, those of every shard (each rendered the alerts wholly inside its
/// rows); in an incremental run, the cached ones; else none.
pub fn known_chips(
    key: &str,
    epochs: &[&str],
) -> Result<std::collections::HashMap<String, Vec<crate::chips::Chip>>, PipelineError> {
    let mut out = std::collections::HashMap::new();
    match mode().as_deref() {
        Some(Mode::Merge { parts }) => {
            for (file, p) in parts {
                if let Some(values) = p.chips.get(key) {
                    let chips =
                        crate::chips::from_values(values).map_err(|msg| ShardError::Partial {
                            file: file.clone(),
                            msg: format!("shard {}/{}: {key}: {msg}", p.k, p.n),
                        })?;
                    out.extend(chips);
                }
            }
        }
        Some(Mode::Cache { cache, .. }) => {
            if let Some(values) = cache.get().and_then(|c| c.get_quiet(key, epochs)) {
                match crate::chips::from_values(&values) {
                    Ok(chips) => out = chips,
                    Err(e) => tracing::warn!(pass = key, "cached chips unreadable ({e}); rendered"),
                }
            }
        }
        _ => {}
    }
    Ok(out)
}

/// An incremental run: caches a pair's chips (`chips:A:B`) when some were rendered.
pub fn remember_chips(key: &str, epochs: &[&str], chips: &[crate::chips::Chip], rendered: usize) {
    if rendered == 0 {
        return;
    }
    if let Some(Mode::Cache { cache, .. }) = mode().as_deref() {
        if let Some(c) = cache.get() {
            c.put_quiet(key, epochs, crate::chips::to_values(chips));
        }
    }
}

/// Takes the shard's partial out of the sink (shard mode only).
pub fn take_partial() -> Option<Partial> {
    match mode().as_deref() {
        Some(Mode::Shard { sink, .. }) => sink
            .lock()
            .ok()
            .map(|mut p| std::mem::replace(&mut *p, Partial::new(0, 1))),
        _ => None,
    }
}

/// Runs `f` on the strips of a pass (`key` names it: `change:A:B`, …; `epochs`
/// are the ids of the epochs it reads), in parallel, results in strip order (the
/// first error in strip order wins). An ordinary run computes every strip; a
/// shard computes its range and records it; a merge computes nothing and returns
/// the shards' strips, in order; an incremental run takes the pass from its
/// cache when its inputs did not change, else computes and caches it.
pub fn map_strips<T, F>(
    key: &str,
    epochs: &[&str],
    strips: &[(usize, usize)],
    f: F,
) -> Result<Vec<T>, PipelineError>
where
    T: Serialize + DeserializeOwned + Send,
    F: Fn(&(usize, usize)) -> Result<T, PipelineError> + Sync + Send,
{
    let all = || -> Result<Vec<T>, PipelineError> {
        strips
            .par_iter()
            .map(&f)
            .collect::<Vec<_>>()
            .into_iter()
            .collect()
    };
    match mode().as_deref() {
        None => all(),
        Some(Mode::Cache { cache, .. }) => {
            let Some(cache) = cache.get() else {
                return all();
            };
            if let Some(items) = cache.get(key, epochs, strips.len()) {
                let back: Result<Vec<T>, _> = items.iter().map(|v| v.deserialized::<T>()).collect();
                match back {
                    Ok(v) if v.len() == strips.len() => return Ok(v),
                    _ => tracing::warn!(pass = key, "cache entry unreadable; recomputed"),
                }
            }
            let outs = all()?;
            let items = outs
                .iter()
                .map(ciborium::Value::serialized)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ShardError::Encode {
                    key: key.to_string(),
                    msg: e.to_string(),
                })?;
            cache.put(key, epochs, strips.len(), items);
            Ok(outs)
        }
        Some(Mode::Shard { k, n, sink }) => {
            let r = range(*k, *n, strips.len());
            let outs: Vec<T> = strips[r.clone()]
                .par_iter()
                .map(&f)
                .collect::<Vec<_>>()
                .into_iter()
                .collect::<Result<_, _>>()?;
            let items = outs
                .iter()
                .map(|o| {
                    let mut b = Vec::new();
                    ciborium::into_writer(o, &mut b).map(|()| serde_bytes::ByteBuf::from(b))
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ShardError::Encode {
                    key: key.to_string(),
                    msg: e.to_string(),
                })?;
            let part = PassPart {
                strips: strips.len() as u32,
                first: r.start as u32,
                items,
            };
            if let Ok(mut p) = sink.lock() {
                p.passes.insert(key.to_string(), part);
            }
            Ok(outs)
        }
        Some(Mode::Merge { parts }) => {
            let mut out = Vec::with_capacity(strips.len());
            for (file, p) in parts {
                let bad = |msg: String| ShardError::Partial {
                    file: file.clone(),
                    msg: format!("shard {}/{}: {msg}", p.k, p.n),
                };
                let part = p.passes.get(key).ok_or_else(|| {
                    bad(format!(
                        "has no pass \"{key}\" (written from other inputs or settings?)"
                    ))
                })?;
                let r = range(p.k as usize, p.n as usize, strips.len());
                if part.strips as usize != strips.len()
                    || part.first as usize != r.start
                    || part.items.len() != r.len()
                {
                    return Err(bad(format!(
                        "pass \"{key}\" holds strips {}..{} of {}, expected {}..{} of {}",
                        part.first,
                        part.first as usize + part.items.len(),
                        part.strips,
                        r.start,
                        r.end,
                        strips.len()
                    ))
                    .into());
                }
                for (i, v) in part.items.iter().enumerate() {
                    out.push(
                        ciborium::from_reader::<T, _>(&v[..]).map_err(|e| {
                            bad(format!("pass \"{key}\", strip {}: {e}", r.start + i))
                        })?,
                    );
                }
            }
            Ok(out)
        }
    }
}

/// The run's settings as shards compare them: the `runs` table's, less `threads`.
fn comparable_settings(settings: &serde_json::Value) -> String {
    let mut s = settings.clone();
    if let Some(o) = s.as_object_mut() {
        o.remove("threads");
    }
    format!("{STRIP_FORMAT} {s}")
}

/// At the start of a run (after the region is read): a shard records the
/// region, settings and input identities; a merge checks every partial against
/// them, naming the shard that differs. An ordinary run does nothing.
pub fn begin(
    region_cfg: &crate::config::Region,
    settings: &serde_json::Value,
    files: &[&PathBuf],
) -> Result<(), PipelineError> {
    let Some(m) = mode() else { return Ok(()) };
    if let Mode::Cache { dir, cache } = &*m {
        let c = crate::cache::Cache::open(dir, region_cfg, settings, files).map_err(|source| {
            ShardError::Io {
                path: dir.clone(),
                source,
            }
        })?;
        let _ = cache.set(c);
        return Ok(());
    }
    let region = region_cfg.name.as_str();
    let settings = comparable_settings(settings);
    let inputs: BTreeMap<String, Option<FileStat>> = files
        .iter()
        .map(|f| (f.display().to_string(), stat(f)))
        .collect();
    match &*m {
        Mode::Cache { .. } => {}
        Mode::Shard { sink, .. } => {
            if let Ok(mut p) = sink.lock() {
                p.region = region.to_string();
                p.settings = settings;
                p.inputs = inputs;
            }
        }
        Mode::Merge { parts } => {
            for (file, p) in parts {
                let bad = |msg: String| ShardError::Partial {
                    file: file.clone(),
                    msg: format!("shard {}/{}: {msg}; nothing written", p.k, p.n),
                };
                if p.region != region {
                    return Err(bad(format!(
                        "is a partial of region \"{}\", not \"{region}\"",
                        p.region
                    ))
                    .into());
                }
                if p.settings != settings {
                    return Err(bad(format!(
                        "was computed with other settings ({}) than the region file's now ({settings})",
                        p.settings
                    ))
                    .into());
                }
                if let Some(msg) = diff_inputs(&p.inputs, &inputs) {
                    return Err(bad(format!("was computed from other inputs: {msg}")).into());
                }
            }
        }
    }
    Ok(())
}

/// The first difference between a shard's inputs and the merge's, in words.
fn diff_inputs(
    shard: &BTreeMap<String, Option<FileStat>>,
    now: &BTreeMap<String, Option<FileStat>>,
) -> Option<String> {
    for (path, s) in shard {
        match now.get(path) {
            None => return Some(format!("{path} is not an input of the region file now")),
            Some(n) if n != s => {
                return Some(format!(
                    "{path} changed since (size/mtime {} → {})",
                    show(s),
                    show(n)
                ))
            }
            _ => {}
        }
    }
    now.keys()
        .find(|p| !shard.contains_key(*p))
        .map(|p| format!("{p} was not an input of the shard"))
}

fn show(s: &Option<FileStat>) -> String {
    match s {
        Some(s) => format!("{} B, {} ns", s.size, s.mtime_ns),
        None => "not a local file".into(),
    }
}

/// The inputs' fingerprints (`path → blake3:…`) for the `runs` table: an
/// ordinary run hashes every file; shard K hashes the files whose index is K
/// modulo N (and records them); a merge collects the shards' hashes.
pub fn fingerprints(files: &[&PathBuf]) -> Result<Vec<String>, PipelineError> {
    match mode().as_deref() {
        None => Ok(crate::fingerprint::fingerprints(files)),
        Some(Mode::Cache { cache, .. }) => Ok(match cache.get() {
            Some(c) => c.fingerprints(files),
            None => crate::fingerprint::fingerprints(files),
        }),
        Some(Mode::Shard { k, n, sink }) => {
            let mine: Vec<&PathBuf> = files
                .iter()
                .enumerate()
                .filter(|(i, _)| i % n == *k)
                .map(|(_, f)| *f)
                .collect();
            let fps = crate::fingerprint::fingerprints(&mine);
            if let Ok(mut p) = sink.lock() {
                for (f, fp) in mine.iter().zip(&fps) {
                    p.hashes.insert(f.display().to_string(), fp.clone());
                }
            }
            Ok(files.iter().map(|_| String::new()).collect())
        }
        Some(Mode::Merge { parts }) => {
            let mut all: BTreeMap<&str, &str> = BTreeMap::new();
            for (_, p) in parts {
                for (f, h) in &p.hashes {
                    all.insert(f, h);
                }
            }
            files
                .iter()
                .map(|f| {
                    let key = f.display().to_string();
                    all.get(key.as_str()).map(|h| h.to_string()).ok_or_else(|| {
                        let n = parts.first().map_or(1, |p| p.1.n as usize);
                        let i = files.iter().position(|g| g == f).unwrap_or(0);
                        let (file, _) = &parts[(i % n).min(parts.len() - 1)];
                        ShardError::Partial {
                            file: file.clone(),
                            msg: format!("lacks the fingerprint of {key}"),
                        }
                        .into()
                    })
                })
                .collect()
        }
    }
}

/// Reads every `*.canopy-part` of `dir` and checks that they form one whole
/// set: same N, every K in 0..N once. Returns them ordered by K.
pub fn load_dir(dir: &Path) -> Result<Vec<(PathBuf, Partial)>, ShardError> {
    let rd = std::fs::read_dir(dir).map_err(|source| ShardError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(SUFFIX) && !n.starts_with('.'))
        })
        .collect();
    files.sort();
    let dir_err = |msg: String| ShardError::Dir {
        dir: dir.to_path_buf(),
        msg,
    };
    if files.is_empty() {
        return Err(dir_err(format!(
            "no partials (*{SUFFIX}); run `canopy run REGION --shard K/N --partial {}` first",
            dir.display()
        )));
    }
    let parts = files
        .par_iter()
        .map(|f| Partial::read(f).map(|p| (f.clone(), p)))
        .collect::<Vec<_>>()
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    // The split most partials agree on (ties: the larger N); the others are named.
    let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
    for (_, p) in &parts {
        *counts.entry(p.n as usize).or_default() += 1;
    }
    let n = counts
        .iter()
        .max_by_key(|(n, c)| (**c, **n))
        .map_or(1, |(n, _)| *n);
    for (f, p) in &parts {
        if p.n as usize != n {
            let (rf, _) = parts
                .iter()
                .find(|(_, q)| q.n as usize == n)
                .unwrap_or(&parts[0]);
            return Err(ShardError::Partial {
                file: f.clone(),
                msg: format!(
                    "is shard {}/{}, but the other partials ({} …) are of {n} shards",
                    p.k,
                    p.n,
                    rf.display()
                ),
            });
        }
    }
    let mut by_k: BTreeMap<usize, &PathBuf> = BTreeMap::new();
    for (f, p) in &parts {
        if let Some(other) = by_k.insert(p.k as usize, f) {
            return Err(ShardError::Partial {
                file: f.clone(),
                msg: format!(
                    "is shard {}/{n}, and so is {}: two partials with the same index",
                    p.k,
                    other.display()
                ),
            });
        }
    }
    let missing: Vec<String> = (0..n)
        .filter(|k| !by_k.contains_key(k))
        .map(|k| format!("{k}/{n} ({})", file_name(k, n)))
        .collect();
    if !missing.is_empty() {
        return Err(dir_err(format!(
            "missing shard(s) {} (did the shard fail, or is it still running?); nothing written",
            missing.join(", ")
        )));
    }
    let mut parts = parts;
    parts.sort_by_key(|(_, p)| p.k);
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_every_strip_once_in_order() {
        for s in 0..20 {
            for n in 1..9 {
                let all: Vec<usize> = (0..n).flat_map(|k| range(k, n, s)).collect();
                assert_eq!(all, (0..s).collect::<Vec<_>>(), "s={s} n={n}");
            }
        }
        assert_eq!(range(1, 4, 6), 1..3);
    }

    #[test]
    fn specs_parse_and_auto_reads_the_environment() {
        assert_eq!(
            "2/4".parse::<ShardSpec>().unwrap(),
            ShardSpec::Fixed { k: 2, n: 4 }
        );
        for bad in ["4/4", "x/4", "1/0", "3", "-1/2"] {
            assert!(bad.parse::<ShardSpec>().is_err(), "{bad}");
        }
        let auto: ShardSpec = "auto/4".parse().unwrap();
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |v: &str| pairs.iter().find(|p| p.0 == v).map(|p| p.1.to_string())
        };
        assert_eq!(
            auto.resolve_with(env(&[("SLURM_ARRAY_TASK_ID", "3")]))
                .unwrap(),
            (3, 4)
        );
        assert_eq!(
            auto.resolve_with(env(&[("JOB_COMPLETION_INDEX", "0")]))
                .unwrap(),
            (0, 4)
        );
        assert!(matches!(
            auto.resolve_with(env(&[("SLURM_ARRAY_TASK_ID", "4")])),
            Err(ShardError::BadIndex { .. })
        ));
        assert!(matches!(
            auto.resolve_with(env(&[])),
            Err(ShardError::NoIndex(4))
        ));
    }

    #[test]
    fn transition_maps_with_pair_keys_round_trip() {
        // change::StripOut's class transitions: a map keyed by (from, to) classes.
        let mut m: BTreeMap<(i32, i32), f64> = BTreeMap::new();
        m.insert((1, 2), 0.1 + 0.2);
        m.insert((-9999, 3), 1e-12);
        let v = ciborium::Value::serialized(&vec![m.clone()]).unwrap();
        let mut body = Vec::new();
        ciborium::into_writer(&v, &mut body).unwrap();
        let back: ciborium::Value = ciborium::from_reader(&body[..]).unwrap();
        let back: Vec<BTreeMap<(i32, i32), f64>> = back.deserialized().unwrap();
        assert_eq!(back, vec![m]);
    }

    #[test]
    fn partials_round_trip_exactly_and_damage_is_caught() {
        let mut p = Partial::new(1, 3);
        let x = [0.1f64 + 0.2, 1e-300, f64::MAX, -0.0];
        p.passes.insert(
            "cover:2024".into(),
            PassPart {
                strips: 5,
                first: 1,
                items: vec![{
                    let mut b = Vec::new();
                    ciborium::into_writer(&x.to_vec(), &mut b).unwrap();
                    serde_bytes::ByteBuf::from(b)
                }],
            },
        );
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join(file_name(1, 3));
        std::fs::write(&f, p.encode().unwrap()).unwrap();
        let back = Partial::read(&f).unwrap();
        let y: Vec<f64> = ciborium::from_reader(&back.passes["cover:2024"].items[0][..]).unwrap();
        assert_eq!(
            x.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            y.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        let bytes = std::fs::read(&f).unwrap();
        std::fs::write(&f, &bytes[..bytes.len() - 10]).unwrap();
        assert!(Partial::read(&f)
            .unwrap_err()
            .to_string()
            .contains("truncated"));
        let mut flipped = bytes.clone();
        flipped[20] ^= 1;
        std::fs::write(&f, &flipped).unwrap();
        assert!(Partial::read(&f)
            .unwrap_err()
            .to_string()
            .contains("checksum"));
    }
}
