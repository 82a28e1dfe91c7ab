//! Whole-store copies: `canopy export --store PG:... -o region.gpkg` (a shared
//! PostgreSQL store to a normal Canopy GeoPackage an office takes to the field) and
//! `canopy import region.gpkg --store PG:...` (back).
//!
//! - [`export_store`]: every layer of the store is copied by GDAL (fields, types,
//!   feature ids and geometries as they are) into a new GeoPackage, plus the triage
//!   history and the photos as real tables (in a PostgreSQL store they live in
//!   `<schema>_triage`). The file is written beside the target, read back, and
//!   renamed into place; an existing file is never overwritten. `canopy serve`,
//!   `canopy triage` and `canopy run` accept the result as any store.
//! - [`import_store`]: the GeoPackage's results (every layer but the triage ones)
//!   replace the PostgreSQL schema's as a run does (a new schema, read back,
//!   swapped in, under the writers' lock), and in the swap's transaction its triage
//!   events and photos are merged into `<schema>_triage` ([`crate::merge`]: none
//!   lost, none doubled, re-importing adds nothing).

use std::path::{Path, PathBuf};

use gdal::vector::LayerAccess;
use gdal::{Dataset, DriverManager};

use crate::error::{Result, StoreError};
use crate::file::{gdal_err, TempGuard};
use crate::merge::Merged;
use crate::photos::Photo;
use crate::triage::TriageEvent;
use crate::Reader;

/// The tables copied as typed history, not layer by layer.
const HISTORY: [&str; 2] = [crate::triage::LAYER, crate::photos::TABLE];

/// What a whole-store export wrote.
#[derive(Debug, Clone)]
pub struct Exported {
    /// Each layer and its feature count.
    pub layers: Vec<(String, u64)>,
    pub events: usize,
    pub photos: usize,
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct Imported {
    pub layers: Vec<(String, u64)>,
    pub merged: Merged,
    /// Runs the store had that the GeoPackage has not (their results are replaced).
    pub runs_replaced: Vec<String>,
}

/// Whether layer `name` is copied layer by layer: not the triage history (copied
/// as typed rows) nor what a writer derives from the other tables (the QGIS view
/// and styles, re-created on the target).
fn copied(name: &str) -> bool {
    !HISTORY.contains(&name) && name != crate::qgis::VIEW && name != crate::qgis::STYLES
}

/// Copies every [`copied`] layer of `src` into `dst`, feature by feature
/// ([`crate::rows::copy_layer`]: fields by their declared OGR types, ids,
/// geometries, SRS), in the caller's transaction.
fn copy_layers(src: &Dataset, dst: &mut Dataset, path: &Path) -> Result<Vec<(String, u64)>> {
    let names: Vec<String> = src
        .layers()
        .map(|l| l.name())
        .filter(|n| copied(n))
        .collect();
    let mut out = Vec::new();
    for name in names {
        let mut layer = src
            .layer_by_name(&name)
            .map_err(gdal_err(path, format!("layer {name}")))?;
        let n = crate::rows::copy_layer(&mut layer, dst)
            .map_err(gdal_err(path, format!("copying layer {name}")))?;
        tracing::debug!(layer = %name, features = n, "copied");
        out.push((name, n));
    }
    Ok(out)
}

/// Errors unless `ds` has every layer of `expected` with the same feature count.
fn check_counts(ds: &Dataset, expected: &[(String, u64)]) -> std::result::Result<(), String> {
    for (name, n) in expected {
        let got = ds
            .layer_by_name(name)
            .map_err(|_| format!("layer {name} is missing"))?
            .feature_count();
        if got != *n {
            return Err(format!("layer {name} has {got} features instead of {n}"));
        }
    }
    Ok(())
}

/// The triage events and photos of a store (one consistent state).
fn history(path: &Path, r: &Reader) -> Result<(Vec<TriageEvent>, Vec<Photo>)> {
    if crate::pg::is_pg(path) {
        crate::pg_triage::history(path)
    } else {
        Ok((r.triage()?, crate::photos::read_all(path)?))
    }
}

/// Copies the whole store `src` (PostgreSQL or GeoPackage) into a new GeoPackage `out`.
pub fn export_store(src: &Path, out: &Path) -> Result<Exported> {
    if out.exists() {
        return Err(StoreError::invalid(
            out,
            "exists; a whole-store export never overwrites a file (remove it or choose another name)",
        ));
    }
    crate::write::check_is_store(src)?;
    // Counted on a reader of their own: the copy reads `r`'s layers from the start.
    let runs = crate::read_runs(src)?.len();
    let r = Reader::open(src)?;
    let (events, photos) = history(src, &r)?;

    let name = out
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| StoreError::invalid(out, "has no file name"))?;
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = dir.join(format!(".{name}.tmp-{}.gpkg", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut guard = TempGuard(tmp.clone(), false);
    let driver = DriverManager::get_driver_by_name("GPKG")
        .map_err(StoreError::gdal(out, "no GPKG driver"))?;
    let mut ds = driver
        .create_vector_only(&tmp)
        .map_err(gdal_err(out, format!("cannot create {}", tmp.display())))?;
    // One transaction: every layer, the history, the QGIS view and styles.
    let layers = {
        let mut txn = ds
            .start_transaction()
            .map_err(gdal_err(out, "cannot start a transaction"))?;
        let layers = copy_layers(&r.ds, &mut txn, out)?;
        crate::triage::write(&mut txn, &events)
            .map_err(gdal_err(out, format!("layer {}", crate::triage::LAYER)))?;
        if !photos.is_empty() {
            crate::photos::write(&mut txn, &photos)
                .map_err(gdal_err(out, format!("layer {}", crate::photos::TABLE)))?;
        }
        crate::qgis::write_gpkg(&txn)
            .map_err(gdal_err(out, "the communes_cover view and QGIS styles"))?;
        txn.commit().map_err(gdal_err(out, "commit failed"))?;
        layers
    };
    ds.close()
        .map_err(gdal_err(out, format!("closing {}", tmp.display())))?;
    drop(r);

    // Read it back as a store before it is put in place.
    let verify = || -> std::result::Result<(), String> {
        let back = Reader::open(&tmp).map_err(|e| e.chain())?;
        check_counts(&back.ds, &layers)?;
        if back.runs().map_err(|e| e.chain())?.len() != runs {
            return Err("the run history differs".into());
        }
        if back.triage().map_err(|e| e.chain())? != events {
            return Err("the triage history differs".into());
        }
        let n = crate::photos::index(&tmp).map_err(|e| e.chain())?.len();
        if n != photos.len() {
            return Err(format!("{n} photos instead of {}", photos.len()));
        }
        Ok(())
    };
    verify().map_err(|m| {
        StoreError::invalid(
            out,
            format!("the export did not read back as written ({m}); nothing was written"),
        )
    })?;
    crate::atomic::replace(&tmp, out).map_err(StoreError::io(
        out,
        format!("cannot rename {} into place", tmp.display()),
    ))?;
    guard.1 = true;
    Ok(Exported {
        layers,
        events: events.len(),
        photos: photos.len(),
    })
}

/// Imports the GeoPackage store `gpkg` into the PostgreSQL store `store` (see the
/// module doc).
pub fn import_store(gpkg: &Path, store: &Path) -> Result<Imported> {
    if !crate::pg::is_pg(store) {
        return Err(StoreError::invalid(
            store,
            "is not a PostgreSQL store: `canopy import` writes a GeoPackage into one \
             (--store PG:... or postgresql://...); a GeoPackage store is used as it is",
        ));
    }
    if crate::pg::is_pg(gpkg) || !gpkg.exists() {
        return Err(StoreError::invalid(
            gpkg,
            "not found (give the GeoPackage to import)",
        ));
    }
    crate::write::check_is_store(gpkg)?;
    let src = Reader::open(gpkg)?;
    let runs = src.runs()?;
    let events = src.triage()?;
    let photos = crate::photos::read_all(gpkg)?;

    let mut rep = crate::pg::begin_replace(store)?;
    let loc = rep.loc.clone();
    let work = (|| -> Result<(Vec<(String, u64)>, Vec<String>)> {
        let before = if rep.exists {
            Reader::open(store)?.runs()?
        } else {
            Vec::new()
        };
        let replaced: Vec<String> = before
            .iter()
            .filter(|b| !runs.iter().any(|r| r.started_at == b.started_at))
            .map(|b| b.started_at.clone())
            .collect();
        let path = loc.path();
        let mut ds = loc.open_dataset(&rep.tmp, true).map_err(gdal_err(
            &path,
            format!("cannot open schema {} for writing", rep.tmp),
        ))?;
        // Into the temporary schema (dropped if anything fails), in one transaction.
        let layers = {
            let mut txn = ds
                .start_transaction()
                .map_err(gdal_err(&path, "cannot start a transaction"))?;
            let layers = copy_layers(&src.ds, &mut txn, &path)?;
            txn.commit().map_err(gdal_err(&path, "commit failed"))?;
            layers
        };
        ds.close().map_err(gdal_err(&path, "closing"))?;
        rep.add_triage_view()?;
        rep.add_qgis_extras()?;
        let check = || -> std::result::Result<(), String> {
            let back = Reader::open(&loc.with_schema(&rep.tmp)).map_err(|e| e.chain())?;
            check_counts(&back.ds, &layers)?;
            if back.runs().map_err(|e| e.chain())?.len() != runs.len() {
                return Err("the run history differs".into());
            }
            Ok(())
        };
        check().map_err(|m| {
            StoreError::invalid(
                &path,
                format!("the imported results did not read back as written ({m}); the previous results are untouched"),
            )
        })?;
        Ok((layers, replaced))
    })();
    let (layers, runs_replaced) = match work {
        Ok(x) => x,
        Err(e) => {
            rep.abort();
            return Err(e);
        }
    };
    let merged = rep.commit(|loc, tx| {
        crate::pg_triage::lock(loc, tx)?;
        crate::pg_triage::merge_into(loc, tx, &events, &photos)
    })?;
    Ok(Imported {
        layers,
        merged,
        runs_replaced,
    })
}
