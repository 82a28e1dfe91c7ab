//! The results store: one GeoPackage per region.
//!
//! A run writes a complete new GeoPackage next to the old one, in one SQLite
//! transaction, then renames it over the old file. A run that fails or is killed
//! therefore leaves the previous store exactly as it was (at worst a stale
//! `.tmp-*.gpkg` file, removed by the next run). The history of runs is carried
//! over from the previous store into the new one.
//!
//! Layers (names are a contract; see the README):
//! `communes` (MultiPolygon, EPSG:4326: code, name, natural_ha),
//! `cover` (commune_code, epoch, forest_ha, observed_ha, unobserved_ha, cover_pct, observed_pct),
//! `province_cover` (the same per epoch for the union of the communes),
//! `epochs` (id, date, working grid), `runs` (one row per run);
//! `change`, `province_change`, `alerts`, `alert_triage`; the zone, target and
//! warning tables of [`crate::zone_store`].
//!
//! Every layer is written as its field list and one list of values per record,
//! and read back by field name, through the helpers of `store_rows`.

use std::path::{Path, PathBuf};

use canopy_core::stats::CoverFigures;
use gdal::vector::{Feature, FieldValue, LayerAccess, OGRFieldType};
use gdal::{Dataset, DriverManager};

use crate::change::{Alert, ChangeResult, ChangeRow};
use crate::cover::{CoverResult, CoverRow};
use crate::error::PipelineError;
use crate::store_rows::Val::{Int, Int64, Null, Real, Str, Text};
use crate::store_rows::{
    add_feature, geojson, idx, indices, opt, opt_string, read_rows, real, string, write_shapes,
    write_table, Field, Fields, GResult, Val,
};

/// One row of the `runs` table.
#[derive(Debug, Clone, Default)]
pub struct RunRecord {
    pub started_at: String,
    pub finished_at: String,
    pub canopy_version: String,
    pub region_file: String,
    pub region_name: String,
    /// JSON: rules, threads, strip size.
    pub settings: String,
    /// JSON: file → checksum.
    pub inputs: String,
    /// JSON: step → seconds.
    pub timings: String,
}

/// An epoch as recorded in the store.
#[derive(Debug, Clone)]
pub struct EpochRecord {
    pub id: String,
    pub date: String,
    pub tiles: usize,
    pub pixels: u64,
}

/// Removes the temporary file unless the write succeeded.
struct TempGuard(PathBuf, bool);
impl Drop for TempGuard {
    fn drop(&mut self) {
        if !self.1 {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

/// Writes a complete store to `path`, atomically replacing any previous one.
///
/// The protocol (all under the store's lock, so one run at a time per store, and no
/// triage write in between):
/// 1. temporary stores (and their journals) left by killed runs are removed;
/// 2. an existing file at `path` must be a Canopy store (else nothing is written);
///    a hot journal a killed writer left beside it is rolled back by SQLite
///    ([`recover`]); its run and triage history are read, and a run refuses (writes
///    nothing) when they cannot be read: it never drops history;
/// 3. the new store is written to a temporary file unique to this run, in one
///    transaction, closed, and read back: its triage history must equal the old
///    one and its runs be the old ones plus this one;
/// 4. only then is it synced and renamed over the old file (whose journal, if any
///    is left, is dealt with before), and the directory synced.
pub fn write(
    path: &Path,
    result: &CoverResult,
    change: &ChangeResult,
    epochs: &[EpochRecord],
    run: &RunRecord,
    extras: &crate::zone_store::Extras,
) -> Result<(), PipelineError> {
    let err = |m: String| PipelineError::store(path, m);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| err(format!("cannot create {}: {e}", dir.display())))?;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("store");

    // Held until the new store has replaced the old one, so a triage written
    // meanwhile (`canopy triage`, the server) is neither lost nor half-copied, and a
    // second run on the same store waits for this one.
    let _lock = lock(path)?;
    remove_stale_temps(&dir, stem);
    let (previous_runs, previous_triage) = if path.exists() {
        previous_history(path)?
    } else {
        (Vec::new(), Vec::new())
    };
    // The rangers' photos go with the triage history (`photo_store`).
    let previous_photos = if path.exists() {
        crate::photo_store::read_all(path)?
    } else {
        Vec::new()
    };
    let tmp = dir.join(format!(
        ".{stem}.tmp-{}-{}.gpkg",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    let mut guard = TempGuard(tmp.clone(), false);

    let driver = DriverManager::get_driver_by_name("GPKG")
        .map_err(|e| err(format!("no GPKG driver: {e}")))?;
    let mut ds = driver.create_vector_only(&tmp).map_err(|e| {
        err(format!(
            "cannot create {}: {}",
            tmp.display(),
            disk_hint(&e)
        ))
    })?;
    let mut runs = previous_runs;
    runs.push(run.clone());
    {
        let mut txn = ds
            .start_transaction()
            .map_err(|e| err(format!("cannot start a transaction: {}", disk_hint(&e))))?;
        let layer_err =
            |l: &str, e: gdal::errors::GdalError| err(format!("layer {l}: {}", disk_hint(&e)));
        write_communes(&mut txn, result).map_err(|e| layer_err("communes", e))?;
        write_cover(&mut txn, "cover", &result.rows, true).map_err(|e| layer_err("cover", e))?;
        write_cover(&mut txn, "province_cover", &result.province, false)
            .map_err(|e| layer_err("province_cover", e))?;
        write_epochs(&mut txn, epochs).map_err(|e| layer_err("epochs", e))?;
        write_observations(&mut txn, &result.observations)
            .map_err(|e| layer_err("observations", e))?;
        write_change(&mut txn, "change", &change.rows, true).map_err(|e| layer_err("change", e))?;
        write_change(&mut txn, "province_change", &change.province, false)
            .map_err(|e| layer_err("province_change", e))?;
        write_alerts(&mut txn, &change.alerts).map_err(|e| layer_err("alerts", e))?;
        crate::chip_store::write(&mut txn, &change.chips)
            .map_err(|e| layer_err(crate::chip_store::TABLE, e))?;
        crate::zone_store::write(&mut txn, extras)
            .map_err(|(l, e)| err(format!("layer {l}: {}", disk_hint(&e))))?;
        crate::fire_store::write(&mut txn, extras.fire)
            .map_err(|(l, e)| err(format!("layer {l}: {}", disk_hint(&e))))?;
        write_triage(&mut txn, &previous_triage).map_err(|e| layer_err("alert_triage", e))?;
        if !previous_photos.is_empty() {
            crate::photo_store::write(&mut txn, &previous_photos)
                .map_err(|e| layer_err(crate::photo_store::TABLE, e))?;
        }
        write_runs(&mut txn, &runs).map_err(|e| layer_err("runs", e))?;
        txn.commit()
            .map_err(|e| err(format!("commit failed: {}", disk_hint(&e))))?;
    }
    ds.close()
        .map_err(|e| err(format!("closing {}: {}", tmp.display(), disk_hint(&e))))?;

    // Read the new store back before it replaces anything.
    verify_written(
        &tmp,
        &runs,
        &previous_triage,
        result.rows.len(),
        change.alerts.len(),
    )
    .map_err(|m| {
        err(format!(
            "the new store did not read back as written ({m}); the previous store is untouched"
        ))
    })?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| err(format!("syncing {}: {e}", tmp.display())))?;
    // The old file's journal must not end up beside the new file: `previous_history`
    // had SQLite roll back a hot one; one that is still there is not hot (no writer
    // runs: we hold the lock) and belongs to the old file.
    for j in journal_files(path) {
        if j.exists() {
            tracing::warn!(file = %j.display(), "removing a stale journal of the previous store (not hot: nothing to roll back)");
            std::fs::remove_file(&j)
                .map_err(|e| err(format!("cannot remove {}: {e}", j.display())))?;
        }
    }
    std::fs::rename(&tmp, path).map_err(|e| err(format!("cannot replace the store: {e}")))?;
    guard.1 = true;
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// "disk full" and "read-only" in plain words instead of SQLite's error numbers.
fn disk_hint(e: &gdal::errors::GdalError) -> String {
    let m = e.to_string();
    let l = m.to_lowercase();
    if l.contains("disk is full") || l.contains("no space left") || l.contains("disk i/o error") {
        format!("the disk is full ({m})")
    } else {
        m
    }
}

/// Errors (as [`write`] would, before any work) when the file at `path` is not a
/// Canopy store or its history cannot be read.
pub fn check_replaceable(path: &Path) -> Result<(), PipelineError> {
    previous_history(path).map(|_| ())
}

/// The run and triage history of the store a run is about to replace. Refuses
/// (error, nothing written) when the file is not a Canopy store, or when its
/// history cannot be read: a run never writes a store with less history.
fn previous_history(path: &Path) -> Result<(Vec<RunRecord>, Vec<TriageEvent>), PipelineError> {
    check_header(path)?;
    let refuse = |what: &str, e: PipelineError| {
        PipelineError::store(
            path,
            format!(
                "the previous store's {what} cannot be read ({e}); nothing was written, \
                 because a run never drops the triage and run history. To recover: if another \
                 process is using the store, wait for it and run again; if the file is damaged, \
                 restore it from a backup (or export its history with `ogr2ogr` if GDAL still \
                 reads it), or move it aside (`mv {p} {p}.damaged`) to start a new store without \
                 that history",
                p = path.display()
            ),
        )
    };
    recover(path).map_err(|e| refuse("history", e))?;
    let ds = open_store(path).map_err(|e| refuse("history", e))?;
    if ds.layer_by_name("runs").is_err() {
        return Err(not_a_store(path, "a GeoPackage without a `runs` table"));
    }
    drop(ds);
    let runs = read_runs(path).map_err(|e| refuse("run history", e))?;
    let triage = read_triage(path).map_err(|e| refuse("triage history", e))?;
    Ok((runs, triage))
}

/// Errors unless `path` looks like a store written by `canopy run`: an SQLite
/// GeoPackage with a `runs` table. A region file, a GeoTIFF, a GeoJSON or another
/// GeoPackage given as `--store` is never replaced.
pub fn check_is_store(path: &Path) -> Result<(), PipelineError> {
    check_header(path)?;
    let ds = open_store(path)?;
    if ds.layer_by_name("runs").is_err() {
        return Err(not_a_store(path, "a GeoPackage without a `runs` table"));
    }
    Ok(())
}

fn not_a_store(path: &Path, why: &str) -> PipelineError {
    PipelineError::store(
        path,
        format!(
            "exists and is not a Canopy store ({why}); refusing to replace it. Give \
             `--store` a new path or an existing store (a .gpkg written by `canopy run`)"
        ),
    )
}

/// The first 100 bytes must be an SQLite header with GeoPackage's application id.
fn check_header(path: &Path) -> Result<(), PipelineError> {
    use std::io::Read;
    let mut head = Vec::with_capacity(100);
    std::fs::File::open(path)
        .and_then(|f| f.take(100).read_to_end(&mut head))
        .map_err(|e| PipelineError::store(path, format!("cannot be read: {e}")))?;
    if head.len() < 100 || &head[..16] != b"SQLite format 3\0" {
        return Err(not_a_store(path, "not an SQLite database"));
    }
    if &head[68..72] != b"GPKG" {
        return Err(not_a_store(path, "an SQLite database but not a GeoPackage"));
    }
    Ok(())
}

/// Reads a freshly written store back: what the CLI, report and server will read.
fn verify_written(
    tmp: &Path,
    runs: &[RunRecord],
    triage: &[TriageEvent],
    cover_rows: usize,
    alerts: usize,
) -> Result<(), String> {
    let got_runs = read_runs(tmp).map_err(|e| e.to_string())?;
    if got_runs.len() != runs.len()
        || got_runs.last().map(|r| &r.started_at) != runs.last().map(|r| &r.started_at)
    {
        return Err(format!("{} runs instead of {}", got_runs.len(), runs.len()));
    }
    let got_triage = read_triage(tmp).map_err(|e| e.to_string())?;
    if got_triage != triage {
        return Err(format!(
            "{} triage events instead of {}",
            got_triage.len(),
            triage.len()
        ));
    }
    let cover = read_cover(tmp).map_err(|e| e.to_string())?;
    if cover.rows.len() != cover_rows {
        return Err(format!(
            "{} cover rows instead of {cover_rows}",
            cover.rows.len()
        ));
    }
    let got_alerts = read_alerts(tmp).map_err(|e| e.to_string())?;
    if got_alerts.len() != alerts {
        return Err(format!("{} alerts instead of {alerts}", got_alerts.len()));
    }
    if journal_files(tmp).iter().any(|j| j.exists()) {
        return Err("a journal was left beside it".into());
    }
    Ok(())
}

/// The rollback journal and WAL files SQLite may keep beside a database.
fn journal_files(path: &Path) -> [PathBuf; 3] {
    ["-journal", "-wal", "-shm"].map(|sfx| {
        let mut n = path.as_os_str().to_os_string();
        n.push(sfx);
        PathBuf::from(n)
    })
}

/// Lets SQLite recover the store if a killed writer left a hot journal beside it:
/// a read-write open rolls the unfinished transaction back (a read-only open cannot,
/// and fails with "attempt to write a readonly database"). The journal is never
/// deleted by hand; a journal of a live writer is not hot and SQLite leaves it.
pub fn recover(path: &Path) -> Result<(), PipelineError> {
    let [journal, wal, _] = journal_files(path);
    if !journal.exists() && !wal.exists() {
        return Ok(());
    }
    tracing::info!(store = %path.display(), "a journal is beside the store: letting SQLite recover it");
    let ds = Dataset::open_ex(
        path,
        gdal::DatasetOptions {
            open_flags: gdal::GdalOpenFlags::GDAL_OF_UPDATE | gdal::GdalOpenFlags::GDAL_OF_VECTOR,
            ..Default::default()
        },
    )
    .map_err(|e| {
        PipelineError::store(
            path,
            format!(
                "a journal left by an interrupted write ({}) needs a read-write open to be \
                 rolled back, which failed: {e}. Make the store and its directory writable \
                 and run any canopy command on it again",
                journal.display()
            ),
        )
    })?;
    // A read makes SQLite check (and roll back) the journal, whatever GDAL read at open.
    let _ = ds.execute_sql(
        "SELECT count(*) FROM gpkg_contents",
        None,
        gdal::vector::sql::Dialect::DEFAULT,
    );
    drop(ds);
    Ok(())
}

/// Removes temporary stores (and their journals) left by killed runs. Called
/// under the store's lock, so no live run's temporary file is touched.
fn remove_stale_temps(dir: &Path, stem: &str) {
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

fn write_communes(ds: &mut Dataset, result: &CoverResult) -> GResult<()> {
    write_shapes(
        ds,
        "communes",
        &["FID=fid", "GEOMETRY_NAME=geom"],
        &[
            ("code", OGRFieldType::OFTString),
            ("name", OGRFieldType::OFTString),
            ("natural_ha", OGRFieldType::OFTReal),
        ],
        result.communes.iter().map(|c| {
            let values = [Str(&c.code), Str(&c.name), Real(c.natural_ha)];
            (values, &c.geom_wgs84)
        }),
    )
}

/// The fields of a table of per-commune rows (`with_code`) or province rows:
/// `commune_code` first when with code, then `fields`.
fn unit_fields<'a>(with_code: bool, fields: &Fields<'a>) -> Vec<Field<'a>> {
    let mut all = vec![];
    if with_code {
        all.push(("commune_code", OGRFieldType::OFTString));
    }
    all.extend_from_slice(fields);
    all
}

/// A row of a [`unit_fields`] table: the code when with code, then `values`.
fn unit_values<'a>(
    with_code: bool,
    code: &'a str,
    values: impl IntoIterator<Item = Val<'a>>,
) -> impl Iterator<Item = Val<'a>> {
    with_code.then_some(Str(code)).into_iter().chain(values)
}

fn write_cover(ds: &mut Dataset, name: &str, rows: &[CoverRow], with_code: bool) -> GResult<()> {
    let fields = [
        ("epoch", OGRFieldType::OFTString),
        ("natural_ha", OGRFieldType::OFTReal),
        ("forest_ha", OGRFieldType::OFTReal),
        ("observed_ha", OGRFieldType::OFTReal),
        ("unobserved_ha", OGRFieldType::OFTReal),
        ("cover_pct", OGRFieldType::OFTReal),
        ("observed_pct", OGRFieldType::OFTReal),
    ];
    let values = rows.iter().map(|r| {
        let x: &CoverFigures = &r.figures;
        let figures = [
            Str(&r.epoch),
            Real(x.natural_ha),
            Real(x.forest_ha),
            Real(x.observed_ha),
            Real(x.unobserved_ha),
            opt(x.cover_pct.map(Real)),
            Real(x.observed_pct),
        ];
        unit_values(with_code, &r.commune_code, figures)
    });
    let fields = unit_fields(with_code, &fields);
    write_table(ds, name, &fields, values)
}

/// Scenes and mean clear observations per pixel, per commune and epoch.
fn write_observations(ds: &mut Dataset, rows: &[crate::cover::ObservationRow]) -> GResult<()> {
    write_table(
        ds,
        "observations",
        &[
            ("commune_code", OGRFieldType::OFTString),
            ("epoch", OGRFieldType::OFTString),
            ("scenes", OGRFieldType::OFTInteger),
            ("clear_obs", OGRFieldType::OFTReal),
        ],
        rows.iter().map(|r| {
            [
                Str(&r.commune_code),
                Str(&r.epoch),
                Int(r.scenes as i32),
                Real(r.clear_obs),
            ]
        }),
    )
}

/// The `observations` table of a store: (commune code, epoch, scenes, mean
/// clear observations per pixel); empty for a store written before it existed.
pub fn read_observations(path: &Path) -> Result<Vec<crate::cover::ObservationRow>, PipelineError> {
    let ds = open_store(path)?;
    let Ok(mut l) = ds.layer_by_name("observations") else {
        return Ok(Vec::new());
    };
    let ix = indices(&l, &["commune_code", "epoch", "scenes", "clear_obs"], path)?;
    Ok(l.features()
        .map(|f| crate::cover::ObservationRow {
            commune_code: string(&f, ix[0]),
            epoch: string(&f, ix[1]),
            scenes: f.field_as_integer(ix[2]).ok().flatten().unwrap_or(0) as u32,
            clear_obs: real(&f, ix[3]).unwrap_or(0.0),
        })
        .collect())
}

fn write_epochs(ds: &mut Dataset, epochs: &[EpochRecord]) -> GResult<()> {
    write_table(
        ds,
        "epochs",
        &[
            ("id", OGRFieldType::OFTString),
            ("date", OGRFieldType::OFTString),
            ("tiles", OGRFieldType::OFTInteger),
            ("pixels", OGRFieldType::OFTInteger64),
        ],
        epochs.iter().map(|e| {
            [
                Str(&e.id),
                Str(&e.date),
                Int(e.tiles as i32),
                Int64(e.pixels as i64),
            ]
        }),
    )
}

const RUN_FIELDS: [&str; 8] = [
    "started_at",
    "finished_at",
    "canopy_version",
    "region_file",
    "region_name",
    "settings",
    "inputs",
    "timings",
];

fn run_values(r: &RunRecord) -> [&str; 8] {
    [
        &r.started_at,
        &r.finished_at,
        &r.canopy_version,
        &r.region_file,
        &r.region_name,
        &r.settings,
        &r.inputs,
        &r.timings,
    ]
}

/// String fields named `names`.
fn string_fields<'a>(names: &[&'a str]) -> Vec<Field<'a>> {
    names
        .iter()
        .map(|n| (*n, OGRFieldType::OFTString))
        .collect()
}

fn write_runs(ds: &mut Dataset, runs: &[RunRecord]) -> GResult<()> {
    let rows = runs.iter().map(|r| run_values(r).map(Str));
    write_table(ds, "runs", &string_fields(&RUN_FIELDS), rows)
}

pub(crate) fn open_store(path: &Path) -> Result<Dataset, PipelineError> {
    if !path.exists() {
        return Err(PipelineError::store(
            path,
            "not found; run `canopy run REGION.toml --store PATH` first",
        ));
    }
    recover(path)?;
    Dataset::open(path)
        .map_err(|e| PipelineError::store(path, format!("cannot be opened as a GeoPackage: {e}")))
}

/// The runs recorded in a store, oldest first.
pub fn read_runs(path: &Path) -> Result<Vec<RunRecord>, PipelineError> {
    let ds = open_store(path)?;
    let mut layer = ds
        .layer_by_name("runs")
        .map_err(|_| PipelineError::store(path, "no runs layer"))?;
    let ix = indices(&layer, &RUN_FIELDS, path)?;
    let mut out = Vec::new();
    for f in layer.features() {
        let v: Vec<String> = ix.iter().map(|&i| string(&f, i)).collect();
        out.push(RunRecord {
            started_at: v[0].clone(),
            finished_at: v[1].clone(),
            canopy_version: v[2].clone(),
            region_file: v[3].clone(),
            region_name: v[4].clone(),
            settings: v[5].clone(),
            inputs: v[6].clone(),
            timings: v[7].clone(),
        });
    }
    Ok(out)
}

/// A commune's stored figures.
#[derive(Debug, Clone)]
pub struct StoredCommune {
    pub code: String,
    pub name: String,
    pub natural_ha: f64,
}

/// What `canopy stats` prints: communes, their cover rows and the province rows.
#[derive(Debug, Clone)]
pub struct StoredCover {
    pub region_name: String,
    pub communes: Vec<StoredCommune>,
    pub epochs: Vec<String>,
    pub rows: Vec<CoverRow>,
    pub province: Vec<CoverRow>,
}

fn read_figures(f: &Feature, ix: &[usize]) -> CoverFigures {
    let d = |i: usize| real(f, ix[i]);
    CoverFigures {
        natural_ha: d(0).unwrap_or(0.0),
        forest_ha: d(1).unwrap_or(0.0),
        observed_ha: d(2).unwrap_or(0.0),
        unobserved_ha: d(3).unwrap_or(0.0),
        cover_pct: d(4),
        observed_pct: d(5).unwrap_or(0.0),
    }
}

const FIGURE_FIELDS: [&str; 6] = [
    "natural_ha",
    "forest_ha",
    "observed_ha",
    "unobserved_ha",
    "cover_pct",
    "observed_pct",
];

/// Reads the cover figures back from a store.
pub fn read_cover(path: &Path) -> Result<StoredCover, PipelineError> {
    let ds = open_store(path)?;
    let layer_of = |n: &str| {
        ds.layer_by_name(n)
            .map_err(|_| PipelineError::store(path, format!("no {n} layer")))
    };
    let mut communes = Vec::new();
    {
        let mut l = layer_of("communes")?;
        let ix = indices(&l, &["code", "name", "natural_ha"], path)?;
        for f in l.features() {
            communes.push(StoredCommune {
                code: string(&f, ix[0]),
                name: string(&f, ix[1]),
                natural_ha: real(&f, ix[2]).unwrap_or(0.0),
            });
        }
    }
    let cover_rows = |name: &str, with_code: bool| -> Result<Vec<CoverRow>, PipelineError> {
        let mut l = layer_of(name)?;
        let ix = indices(&l, &FIGURE_FIELDS, path)?;
        let e = idx(&l, "epoch", path)?;
        let c = if with_code {
            Some(idx(&l, "commune_code", path)?)
        } else {
            None
        };
        let mut rows = Vec::new();
        for f in l.features() {
            rows.push(CoverRow {
                commune_code: c
                    .map(|c| string(&f, c))
                    .unwrap_or_else(|| crate::cover::PROVINCE_CODE.into()),
                epoch: string(&f, e),
                figures: read_figures(&f, &ix),
            });
        }
        Ok(rows)
    };
    let rows = cover_rows("cover", true)?;
    let province = cover_rows("province_cover", false)?;
    let mut epochs = Vec::new();
    {
        let mut l = layer_of("epochs")?;
        let i = idx(&l, "id", path)?;
        for f in l.features() {
            epochs.push(string(&f, i));
        }
    }
    let region_name = read_runs(path)?
        .last()
        .map(|r| r.region_name.clone())
        .unwrap_or_default();
    Ok(StoredCover {
        region_name,
        communes,
        epochs,
        rows,
        province,
    })
}

/// Values of a field, for tests and tools.
pub fn field_values(
    path: &Path,
    layer: &str,
    field: &str,
) -> Result<Vec<FieldValue>, PipelineError> {
    let ds = open_store(path)?;
    let mut l = ds
        .layer_by_name(layer)
        .map_err(|_| PipelineError::store(path, format!("no {layer} layer")))?;
    let i = idx(&l, field, path)?;
    Ok(l.features()
        .filter_map(|f| f.field(i).ok().flatten())
        .collect())
}

/// An exclusive lock on the store (a `.lock` file beside it), for writers.
pub fn lock(path: &Path) -> Result<std::fs::File, PipelineError> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    let lock_path = path.with_file_name(name);
    if let Some(d) = lock_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(d).map_err(|e| {
            PipelineError::store(path, format!("cannot create {}: {e}", d.display()))
        })?;
    }
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| {
            PipelineError::store(path, format!("cannot open {}: {e}", lock_path.display()))
        })?;
    match f.try_lock() {
        Ok(()) => return Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => {
            tracing::info!(lock = %lock_path.display(), "another canopy process is writing the store: waiting for it");
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(PipelineError::store(
                path,
                format!("cannot lock {}: {e}", lock_path.display()),
            ))
        }
    }
    f.lock().map_err(|e| {
        PipelineError::store(path, format!("cannot lock {}: {e}", lock_path.display()))
    })?;
    Ok(f)
}

fn write_change(ds: &mut Dataset, name: &str, rows: &[ChangeRow], with_code: bool) -> GResult<()> {
    let fields = [
        ("from_epoch", OGRFieldType::OFTString),
        ("to_epoch", OGRFieldType::OFTString),
        ("loss_ha", OGRFieldType::OFTReal),
        ("gain_ha", OGRFieldType::OFTReal),
        ("net_ha", OGRFieldType::OFTReal),
        ("unobserved_ha", OGRFieldType::OFTReal),
        ("transitions", OGRFieldType::OFTString),
    ];
    let values = rows.iter().map(|r| {
        let change = [
            Str(&r.from_epoch),
            Str(&r.to_epoch),
            Real(r.loss_ha),
            Real(r.gain_ha),
            Real(r.net_ha),
            Real(r.unobserved_ha),
            transitions(r),
        ];
        unit_values(with_code, &r.commune_code, change)
    });
    let fields = unit_fields(with_code, &fields);
    write_table(ds, name, &fields, values)
}

/// The class transitions as JSON (NULL when there are none).
fn transitions(r: &ChangeRow) -> Val<'static> {
    if r.transitions.is_empty() {
        return Null;
    }
    let t: Vec<serde_json::Value> = r
        .transitions
        .iter()
        .map(|(a, b, ha)| serde_json::json!({"from": a, "to": b, "ha": ha}))
        .collect();
    Text(serde_json::Value::Array(t).to_string())
}

const ALERT_FIELDS: [Field; 19] = [
    ("alert_id", OGRFieldType::OFTString),
    ("from_epoch", OGRFieldType::OFTString),
    ("to_epoch", OGRFieldType::OFTString),
    ("from_date", OGRFieldType::OFTString),
    ("to_date", OGRFieldType::OFTString),
    ("area_ha", OGRFieldType::OFTReal),
    ("pixels", OGRFieldType::OFTInteger64),
    ("centroid_lon", OGRFieldType::OFTReal),
    ("centroid_lat", OGRFieldType::OFTReal),
    ("commune_code", OGRFieldType::OFTString),
    ("communes", OGRFieldType::OFTString),
    ("zone_species", OGRFieldType::OFTString),
    ("zone_code", OGRFieldType::OFTString),
    ("natural_lost", OGRFieldType::OFTInteger),
    ("natural_lost_ha", OGRFieldType::OFTReal),
    ("severity", OGRFieldType::OFTString),
    ("clear_obs", OGRFieldType::OFTInteger),
    ("first_seen", OGRFieldType::OFTString),
    ("season_mismatch", OGRFieldType::OFTInteger),
];

fn write_alerts(ds: &mut Dataset, alerts: &[Alert]) -> GResult<()> {
    write_shapes(
        ds,
        "alerts",
        &["FID=fid", "GEOMETRY_NAME=geom", "SPATIAL_INDEX=YES"],
        &ALERT_FIELDS,
        alerts.iter().map(|a| (alert_values(a), &a.geom_wgs84)),
    )
}

/// An alert's values, in [`ALERT_FIELDS`] order.
fn alert_values(a: &Alert) -> [Val<'_>; 19] {
    let shares: Vec<serde_json::Value> = a
        .communes
        .iter()
        .map(|(c, ha)| serde_json::json!({"code": c, "ha": ha}))
        .collect();
    [
        Str(&a.id),
        Str(&a.from_epoch),
        Str(&a.to_epoch),
        Str(&a.from_date),
        Str(&a.to_date),
        Real(a.area_ha),
        Int64(a.pixels as i64),
        Real(a.centroid.0),
        Real(a.centroid.1),
        Str(&a.commune_code),
        Text(serde_json::Value::Array(shares).to_string()),
        opt(a.zone_species.as_deref().map(Str)),
        opt(a.zone_code.as_deref().map(Str)),
        opt(a.natural_lost.map(|b| Int(b as i32))),
        Real(a.natural_lost_ha),
        Str(a.severity.as_str()),
        Int(a.clear_obs as i32),
        Str(&a.first_seen),
        Int(a.season_mismatch as i32),
    ]
}

/// One triage event of an alert (the table keeps the full history).
#[derive(Debug, Clone, PartialEq)]
pub struct TriageEvent {
    pub alert_id: String,
    /// new, confirmed or dismissed.
    pub status: String,
    pub note: String,
    pub by: String,
    /// RFC 3339, UTC.
    pub at: String,
}

/// Triage statuses.
pub const TRIAGE_STATUSES: [&str; 3] = ["new", "confirmed", "dismissed"];

const TRIAGE_FIELDS: [&str; 5] = ["alert_id", "status", "note", "by", "at"];

/// An event's values, in [`TRIAGE_FIELDS`] order.
fn triage_values(e: &TriageEvent) -> [Val<'_>; 5] {
    [&e.alert_id, &e.status, &e.note, &e.by, &e.at].map(|v| Str(v))
}

fn write_triage(ds: &mut Dataset, events: &[TriageEvent]) -> GResult<()> {
    let rows = events.iter().map(triage_values);
    write_table(ds, "alert_triage", &string_fields(&TRIAGE_FIELDS), rows)
}

/// The triage history of a store, oldest first (empty for stores without one).
pub fn read_triage(path: &Path) -> Result<Vec<TriageEvent>, PipelineError> {
    let ds = open_store(path)?;
    read_rows(&ds, "alert_triage", &TRIAGE_FIELDS, path, |f, ix| {
        TriageEvent {
            alert_id: string(f, ix[0]),
            status: string(f, ix[1]),
            note: string(f, ix[2]),
            by: string(f, ix[3]),
            at: string(f, ix[4]),
        }
    })
}

/// Appends a triage event to the store, under the store's lock. The alert must
/// exist and the status be one of [`TRIAGE_STATUSES`].
///
/// `seen` is the number of events of this alert the writer based its decision on
/// (the server's If-Match): it is compared under the lock, so an event appended
/// meanwhile by another process (`canopy triage`, a second server) makes this write
/// fail with [`PipelineError::Conflict`] instead of silently overriding it. `None`
/// appends unconditionally (the CLI, which reads nothing first).
///
/// Returns the store file's identity just before and just after the write (both
/// taken under the lock): a reader that holds a snapshot of `before` can apply the
/// event and label it `after`; any other reader must read the file again.
pub fn append_triage(
    path: &Path,
    e: &TriageEvent,
    seen: Option<usize>,
) -> Result<TriageWrite, PipelineError> {
    if !TRIAGE_STATUSES.contains(&e.status.as_str()) {
        return Err(PipelineError::Input(format!(
            "status \"{}\" is not one of {}",
            e.status,
            TRIAGE_STATUSES.join(", ")
        )));
    }
    let _lock = lock(path)?;
    recover(path)?;
    let before = FileId::of(path);
    if !read_alerts(path)?.iter().any(|a| a.id == e.alert_id) {
        return Err(PipelineError::NotFound(format!(
            "store {}: has no alert \"{}\"",
            path.display(),
            e.alert_id
        )));
    }
    if let Some(seen) = seen {
        let now = read_triage(path)?
            .iter()
            .filter(|t| t.alert_id == e.alert_id)
            .count();
        if now != seen {
            return Err(PipelineError::Conflict(format!(
                "alert \"{}\" has {now} triage events in the store, the writer saw {seen}: \
                 it changed meanwhile",
                e.alert_id
            )));
        }
    }
    let ds = Dataset::open_ex(
        path,
        gdal::DatasetOptions {
            open_flags: gdal::GdalOpenFlags::GDAL_OF_UPDATE | gdal::GdalOpenFlags::GDAL_OF_VECTOR,
            ..Default::default()
        },
    )
    .map_err(|e| PipelineError::store(path, format!("cannot open for update: {e}")))?;
    let layer = ds.layer_by_name("alert_triage").map_err(|_| {
        PipelineError::store(path, "has no alert_triage table; re-run `canopy run`")
    })?;
    add_feature(&layer, triage_values(e), None).map_err(|err| {
        PipelineError::store(path, format!("writing triage: {}", disk_hint(&err)))
    })?;
    drop(layer);
    ds.close().map_err(|err| {
        PipelineError::store(path, format!("writing triage: {}", disk_hint(&err)))
    })?;
    Ok(TriageWrite {
        before,
        after: FileId::of(path),
    })
}

/// The store file's identity before and after a triage write ([`append_triage`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TriageWrite {
    pub before: Option<FileId>,
    pub after: Option<FileId>,
}

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
    pub fn of(path: &Path) -> Option<FileId> {
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

/// An alert as stored, with its current triage status.
#[derive(Debug, Clone)]
pub struct StoredAlert {
    pub id: String,
    pub from_epoch: String,
    pub to_epoch: String,
    pub from_date: String,
    pub to_date: String,
    pub area_ha: f64,
    pub centroid: (f64, f64),
    pub commune_code: String,
    /// Every commune the alert touches (largest share first).
    pub communes: Vec<String>,
    pub zone_species: Option<String>,
    pub zone_code: Option<String>,
    pub natural_lost: Option<bool>,
    pub severity: String,
    /// Clear observations of the later epoch confirming the loss, the first's date,
    /// and the phenology-guard flag.
    pub clear_obs: i64,
    pub first_seen: String,
    pub season_mismatch: bool,
    /// Latest triage status ("new" when never triaged).
    pub status: String,
    /// GeoJSON geometry.
    pub geometry: String,
}

/// The alerts of a store, in stored order, with their latest triage status.
pub fn read_alerts(path: &Path) -> Result<Vec<StoredAlert>, PipelineError> {
    let ds = open_store(path)?;
    let mut layer = ds.layer_by_name("alerts").map_err(|_| {
        PipelineError::store(
            path,
            "has no alerts layer (written by canopy run with two epochs or more)",
        )
    })?;
    let names: Vec<&str> = ALERT_FIELDS.iter().map(|(n, _)| *n).collect();
    let ix = indices(&layer, &names, path)?;
    let mut status: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for e in read_triage(path)? {
        status.insert(e.alert_id, e.status);
    }
    let mut out = Vec::new();
    for f in layer.features() {
        let id = string(&f, ix[0]);
        out.push(StoredAlert {
            status: status.get(&id).cloned().unwrap_or_else(|| "new".into()),
            id,
            from_epoch: string(&f, ix[1]),
            to_epoch: string(&f, ix[2]),
            from_date: string(&f, ix[3]),
            to_date: string(&f, ix[4]),
            area_ha: real(&f, ix[5]).unwrap_or(0.0),
            centroid: (
                real(&f, ix[7]).unwrap_or(0.0),
                real(&f, ix[8]).unwrap_or(0.0),
            ),
            commune_code: string(&f, ix[9]),
            communes: serde_json::from_str::<Vec<serde_json::Value>>(&string(&f, ix[10]))
                .unwrap_or_default()
                .iter()
                .filter_map(|v| v["code"].as_str().map(String::from))
                .collect(),
            zone_species: opt_string(&f, ix[11]),
            zone_code: opt_string(&f, ix[12]),
            natural_lost: f.field_as_integer(ix[13]).ok().flatten().map(|v| v != 0),
            severity: string(&f, ix[15]),
            clear_obs: f.field_as_integer(ix[16]).ok().flatten().unwrap_or(0) as i64,
            first_seen: string(&f, ix[17]),
            season_mismatch: f.field_as_integer(ix[18]).ok().flatten().unwrap_or(0) != 0,
            geometry: geojson(&f),
        });
    }
    Ok(out)
}

/// The change rows of a store (communes, then the province under `PROVINCE`).
pub fn read_change(path: &Path) -> Result<(Vec<ChangeRow>, Vec<ChangeRow>), PipelineError> {
    let ds = open_store(path)?;
    let read = |name: &str, with_code: bool| {
        let mut names = vec![
            "from_epoch",
            "to_epoch",
            "loss_ha",
            "gain_ha",
            "net_ha",
            "unobserved_ha",
        ];
        names.extend(with_code.then_some("commune_code"));
        read_rows(&ds, name, &names, path, |f, ix| {
            let d = |i: usize| real(f, ix[i]).unwrap_or(0.0);
            ChangeRow {
                commune_code: ix
                    .get(6)
                    .map(|&c| string(f, c))
                    .unwrap_or_else(|| crate::cover::PROVINCE_CODE.into()),
                from_epoch: string(f, ix[0]),
                to_epoch: string(f, ix[1]),
                loss_ha: d(2),
                gain_ha: d(3),
                net_ha: d(4),
                unobserved_ha: d(5),
                transitions: Vec::new(),
            }
        })
    };
    Ok((read("change", true)?, read("province_change", false)?))
}

/// The communes' outlines as stored (EPSG:4326, lon/lat), by code.
pub fn read_commune_shapes(
    path: &Path,
) -> Result<Vec<(String, geo::MultiPolygon<f64>)>, PipelineError> {
    let ds = open_store(path)?;
    let mut l = ds
        .layer_by_name("communes")
        .map_err(|_| PipelineError::store(path, "no communes layer"))?;
    let c = idx(&l, "code", path)?;
    let mut out = Vec::new();
    for f in l.features() {
        let shape = match f.geometry().map(|g| g.to_geo()) {
            Some(Ok(geo::Geometry::MultiPolygon(m))) => m,
            Some(Ok(geo::Geometry::Polygon(p))) => geo::MultiPolygon(vec![p]),
            _ => continue,
        };
        out.push((string(&f, c), shape));
    }
    Ok(out)
}
