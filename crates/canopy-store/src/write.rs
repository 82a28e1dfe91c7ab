//! A run's write: a complete new store, replacing the previous one atomically.
//!
//! [`Tables`] is everything a run writes, one field per table module; [`write`]
//! writes them in one transaction (the one place a new table is registered).

use std::path::{Path, PathBuf};

use canopy_core::fire::DangerRow;
use canopy_core::targets::Targets;
use gdal::DriverManager;

use crate::alerts::Alert;
use crate::change::ChangeRow;
use crate::communes::CommuneOut;
use crate::cover::CoverRow;
use crate::epochs::EpochRecord;
use crate::error::{Result, StoreError};
use crate::file::{
    check_header, gdal_err, journal_files, lock, not_a_store, recover, remove_stale_temps,
    TempGuard,
};
use crate::observations::ObservationRow;
use crate::runs::RunRecord;
use crate::triage::TriageEvent;
use crate::zones::ZoneTables;
use crate::Reader;

/// Everything one run writes (the run and triage history are carried over from
/// the previous store by [`write`]).
#[derive(Debug, Clone, Copy)]
pub struct Tables<'a> {
    pub communes: &'a [CommuneOut],
    pub cover: &'a [CoverRow],
    pub province_cover: &'a [CoverRow],
    pub epochs: &'a [EpochRecord],
    pub observations: &'a [ObservationRow],
    pub change: &'a [ChangeRow],
    pub province_change: &'a [ChangeRow],
    pub alerts: &'a [Alert],
    /// When the region has zones.
    pub zones: Option<&'a ZoneTables>,
    pub targets: Option<&'a Targets>,
    /// (source, message): everything the run warned about.
    pub warnings: &'a [(String, String)],
    /// When the region has `[fire]`.
    pub fire_danger: Option<&'a [DangerRow]>,
    /// When the region has `[fire] hotspots`.
    pub hotspots: Option<(&'a [crate::HotspotRow], &'a [crate::FireEventRow])>,
    /// When some epoch pair has SWIR bands (burned area).
    pub burned_area: Option<&'a [crate::BurnedAreaRow]>,
    /// When the region has `[parcels]` (forest plots).
    pub parcels: Option<&'a crate::ParcelTables>,
    /// This run's record (appended to the previous store's).
    pub run: &'a RunRecord,
    /// Each alert's evidence chips (`chips`).
    pub chips: &'a [crate::chips::Chip],
}

/// Writes every table into `ds` (in one transaction, by the caller).
/// `triage` is `None` for PostgreSQL, where triage lives in its own table
/// (`pg`), which runs do not rewrite.
pub(crate) fn write_tables(
    ds: &mut gdal::Dataset,
    t: &Tables,
    triage: Option<&[TriageEvent]>,
    runs: &[RunRecord],
) -> Result<(), (&'static str, gdal::errors::GdalError)> {
    let at = |l: &'static str| move |e| (l, e);
    crate::communes::write(ds, t.communes).map_err(at("communes"))?;
    crate::cover::write(ds, crate::cover::LAYER, t.cover, true).map_err(at("cover"))?;
    crate::cover::write(ds, crate::cover::PROVINCE_LAYER, t.province_cover, false)
        .map_err(at("province_cover"))?;
    crate::epochs::write(ds, t.epochs).map_err(at("epochs"))?;
    crate::observations::write(ds, t.observations).map_err(at("observations"))?;
    crate::change::write(ds, crate::change::LAYER, t.change, true).map_err(at("change"))?;
    crate::change::write(ds, crate::change::PROVINCE_LAYER, t.province_change, false)
        .map_err(at("province_change"))?;
    crate::alerts::write(ds, t.alerts).map_err(at("alerts"))?;
    if let Some(z) = t.zones {
        crate::zones::write(ds, z)?;
    }
    crate::targets::write(ds, t.targets).map_err(at("targets"))?;
    crate::targets::write_warnings(ds, t.warnings).map_err(at("warnings"))?;
    if let Some(rows) = t.fire_danger {
        crate::fire_danger::write(ds, rows).map_err(at("fire_danger"))?;
    }
    if let Some((hotspots, events)) = t.hotspots {
        crate::hotspots::write(ds, hotspots).map_err(at("hotspots"))?;
        crate::fire_events::write(ds, events).map_err(at("fire_events"))?;
    }
    if let Some(rows) = t.burned_area {
        crate::burned_area::write(ds, rows).map_err(at("burned_area"))?;
    }
    if let Some(p) = t.parcels {
        crate::parcels::write(ds, p)?;
    }
    if let Some(triage) = triage {
        crate::triage::write(ds, triage).map_err(at("alert_triage"))?;
    }
    crate::chips::write(ds, t.chips).map_err(at("alert_chips"))?;
    crate::runs::write(ds, runs).map_err(at("runs"))?;
    crate::format::write(ds).map_err(at("store_format"))?;
    Ok(())
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
pub fn write(path: &Path, t: &Tables) -> Result<()> {
    if crate::pg::is_pg(path) {
        return crate::pg::write(path, t);
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(StoreError::io(
        path,
        format!("cannot create {}", dir.display()),
    ))?;
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
    // The rangers' photos go with the triage history (`photos`).
    let previous_photos = if path.exists() {
        crate::photos::read_all(path)?
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
        .map_err(StoreError::gdal(path, "no GPKG driver"))?;
    let mut ds = driver
        .create_vector_only(&tmp)
        .map_err(gdal_err(path, format!("cannot create {}", tmp.display())))?;
    let mut runs = previous_runs;
    runs.push(t.run.clone());
    {
        let mut txn = ds
            .start_transaction()
            .map_err(gdal_err(path, "cannot start a transaction"))?;
        write_tables(&mut txn, t, Some(&previous_triage), &runs)
            .map_err(|(l, e)| gdal_err(path, format!("layer {l}"))(e))?;
        if !previous_photos.is_empty() {
            crate::photos::write(&mut txn, &previous_photos)
                .map_err(gdal_err(path, format!("layer {}", crate::photos::TABLE)))?;
        }
        crate::qgis::write_gpkg(&txn)
            .map_err(gdal_err(path, "the communes_cover view and QGIS styles"))?;
        txn.commit().map_err(gdal_err(path, "commit failed"))?;
    }
    ds.close()
        .map_err(gdal_err(path, format!("closing {}", tmp.display())))?;

    // Read the new store back before it replaces anything.
    verify_written(
        &tmp,
        &runs,
        Some(&previous_triage),
        t.cover.len(),
        t.alerts.len(),
    )
    .map_err(|m| {
        StoreError::invalid(
            path,
            format!(
                "the new store did not read back as written ({m}); the previous store is untouched"
            ),
        )
    })?;
    // The old file's journal must not end up beside the new file: `previous_history`
    // had SQLite roll back a hot one; one that is still there is not hot (no writer
    // runs: we hold the lock) and belongs to the old file.
    for j in journal_files(path) {
        if j.exists() {
            tracing::warn!(file = %j.display(), "removing a stale journal of the previous store (not hot: nothing to roll back)");
            std::fs::remove_file(&j).map_err(StoreError::io(
                path,
                format!("cannot remove {}", j.display()),
            ))?;
        }
    }
    crate::atomic::replace(&tmp, path).map_err(StoreError::io(
        path,
        format!("cannot replace the store by {}", tmp.display()),
    ))?;
    guard.1 = true;
    Ok(())
}

/// Errors (as [`write`] would, before any work) when the file at `path` is not a
/// Canopy store or its history cannot be read.
pub fn check_replaceable(path: &Path) -> Result<()> {
    if crate::pg::is_pg(path) {
        return crate::pg::check_replaceable(path);
    }
    previous_history(path).map(|_| ())
}

/// The run and triage history of the store a run is about to replace. Refuses
/// (error, nothing written) when the file is not a Canopy store, or when its
/// history cannot be read: a run never writes a store with less history.
fn previous_history(path: &Path) -> Result<(Vec<RunRecord>, Vec<TriageEvent>)> {
    check_header(path)?;
    let refuse = |what: &str, e: StoreError| {
        StoreError::invalid(
            path,
            format!(
                "the previous store's {what} cannot be read ({}); nothing was written, \
                 because a run never drops the triage and run history. To recover: if another \
                 process is using the store, wait for it and run again; if the file is damaged, \
                 restore it from a backup (or export its history with `ogr2ogr` if GDAL still \
                 reads it), or move it aside (`mv {p} {p}.damaged`) to start a new store without \
                 that history",
                e.chain(),
                p = path.display()
            ),
        )
    };
    recover(path).map_err(|e| refuse("history", e))?;
    let r = Reader::open(path).map_err(|e| refuse("history", e))?;
    if r.ds.layer_by_name(crate::runs::LAYER).is_err() {
        return Err(not_a_store(path, "a GeoPackage without a `runs` table"));
    }
    let runs = r.runs().map_err(|e| refuse("run history", e))?;
    let triage = r.triage().map_err(|e| refuse("triage history", e))?;
    Ok((runs, triage))
}

/// Errors unless `path` looks like a store written by `canopy run`: an SQLite
/// GeoPackage with a `runs` table. A region file, a GeoTIFF, a GeoJSON or another
/// GeoPackage given as `--store` is never replaced.
pub fn check_is_store(path: &Path) -> Result<()> {
    if crate::pg::is_pg(path) {
        return crate::Reader::open(path).map(|_| ());
    }
    check_header(path)?;
    let r = Reader::open(path)?;
    if r.ds.layer_by_name(crate::runs::LAYER).is_err() {
        return Err(not_a_store(path, "a GeoPackage without a `runs` table"));
    }
    Ok(())
}

/// Reads a freshly written store back: what the CLI, report and server will read.
pub(crate) fn verify_written(
    tmp: &Path,
    runs: &[RunRecord],
    triage: Option<&[TriageEvent]>,
    cover_rows: usize,
    alerts: usize,
) -> Result<(), String> {
    let r = Reader::open(tmp).map_err(|e| e.chain())?;
    let got_runs = r.runs().map_err(|e| e.chain())?;
    if got_runs.len() != runs.len()
        || got_runs.last().map(|r| &r.started_at) != runs.last().map(|r| &r.started_at)
    {
        return Err(format!("{} runs instead of {}", got_runs.len(), runs.len()));
    }
    let got_triage = r.triage().map_err(|e| e.chain())?;
    if let Some(triage) = triage.filter(|t| *t != got_triage) {
        return Err(format!(
            "{} triage events instead of {}",
            got_triage.len(),
            triage.len()
        ));
    }
    let cover = r.cover().map_err(|e| e.chain())?;
    if cover.rows.len() != cover_rows {
        return Err(format!(
            "{} cover rows instead of {cover_rows}",
            cover.rows.len()
        ));
    }
    let got_alerts = r.alerts().map_err(|e| e.chain())?;
    if got_alerts.len() != alerts {
        return Err(format!("{} alerts instead of {alerts}", got_alerts.len()));
    }
    drop(r);
    if journal_files(tmp).iter().any(|j| j.exists()) {
        return Err("a journal was left beside it".into());
    }
    Ok(())
}
