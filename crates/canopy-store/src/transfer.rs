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

use gdal::cpl::CslStringList;
use gdal::vector::{LayerAccess, OGRwkbGeometryType};
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

/// Copies every layer of `src` but the history tables into `dst` (GDAL's
/// CopyLayer: fields with their types, feature ids, geometries, SRS).
fn copy_layers(src: &Dataset, dst: &mut Dataset, path: &Path) -> Result<Vec<(String, u64)>> {
    let pg = dst.driver().short_name() == "PostgreSQL";
    let mut out = Vec::new();
    for mut layer in src.layers() {
        let name = layer.name();
        if HISTORY.contains(&name.as_str()) {
            continue;
        }
        // From the first feature, whatever an earlier read of this dataset left.
        layer.clear_attribute_filter();
        layer.clear_spatial_filter();
        layer.reset_feature_reading();
        let mut opts = CslStringList::new();
        let set = |o: &mut CslStringList, k: &str, v: &str| {
            o.set_name_value(k, v)
                .map_err(gdal_err(path, format!("layer {name}: option {k}")))
        };
        set(&mut opts, "FID", "fid")?;
        if layer.defn().geometry_type() != OGRwkbGeometryType::wkbNone {
            set(&mut opts, "GEOMETRY_NAME", "geom")?;
            set(&mut opts, "SPATIAL_INDEX", if pg { "GIST" } else { "YES" })?;
        }
        let cname = std::ffi::CString::new(name.clone())
            .map_err(|_| StoreError::invalid(path, format!("layer name {name:?}")))?;
        // SAFETY: both datasets and the source layer are alive for the call; GDAL
        // copies the name and options; the returned layer belongs to `dst`.
        let copied = unsafe {
            gdal_sys::GDALDatasetCopyLayer(
                dst.c_dataset(),
                layer.c_layer(),
                cname.as_ptr(),
                opts.as_ptr() as *mut *mut std::os::raw::c_char,
            )
        };
        if copied.is_null() {
            let why = gdal::errors::GdalError::CplError {
                class: gdal_sys::CPLErr::CE_Failure,
                number: 0,
                msg: last_gdal_error(),
            };
            return Err(gdal_err(path, format!("copying layer {name}"))(why));
        }
        out.push((name, layer.feature_count()));
    }
    Ok(out)
}

fn last_gdal_error() -> String {
    // SAFETY: CPLGetLastErrorMsg returns a pointer to a thread-local string.
    unsafe {
        let p = gdal_sys::CPLGetLastErrorMsg();
        if p.is_null() {
            return String::new();
        }
        std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
    }
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
    // CopyLayer groups its features in transactions of its own (the file is a
    // temporary one until it is read back and renamed into place).
    let layers = copy_layers(&r.ds, &mut ds, out)?;
    {
        let mut txn = ds
            .start_transaction()
            .map_err(gdal_err(out, "cannot start a transaction"))?;
        crate::triage::write(&mut txn, &events)
            .map_err(gdal_err(out, format!("layer {}", crate::triage::LAYER)))?;
        if !photos.is_empty() {
            crate::photos::write(&mut txn, &photos)
                .map_err(gdal_err(out, format!("layer {}", crate::photos::TABLE)))?;
        }
        txn.commit().map_err(gdal_err(out, "commit failed"))?;
    }
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
        // Into the temporary schema (dropped if anything fails): CopyLayer groups
        // its features in transactions of its own.
        let layers = copy_layers(&src.ds, &mut ds, &path)?;
        ds.close().map_err(gdal_err(&path, "closing"))?;
        rep.add_triage_view()?;
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
