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

use std::path::{Path, PathBuf};

use canopy_core::stats::CoverFigures;
use gdal::spatial_ref::SpatialRef;
use gdal::vector::{
    Feature, FieldValue, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType, ToGdal,
};
use gdal::{Dataset, DriverManager};

use crate::change::{Alert, ChangeResult, ChangeRow};
use crate::cover::{CoverResult, CoverRow};
use crate::error::PipelineError;

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
    remove_stale_temps(&dir, stem);
    let tmp = dir.join(format!(".{stem}.tmp-{}.gpkg", std::process::id()));
    let mut guard = TempGuard(tmp.clone(), false);

    // Held until the new store has replaced the old one, so a triage written
    // meanwhile (`canopy triage`, the server) is neither lost nor half-copied.
    let _lock = lock(path)?;
    let previous_runs = if path.exists() {
        read_runs(path).unwrap_or_default()
    } else {
        Vec::new()
    };
    let previous_triage = if path.exists() {
        read_triage(path).unwrap_or_default()
    } else {
        Vec::new()
    };

    let driver = DriverManager::get_driver_by_name("GPKG")
        .map_err(|e| err(format!("no GPKG driver: {e}")))?;
    let mut ds = driver
        .create_vector_only(&tmp)
        .map_err(|e| err(format!("cannot create {}: {e}", tmp.display())))?;
    {
        let mut txn = ds
            .start_transaction()
            .map_err(|e| err(format!("cannot start a transaction: {e}")))?;
        write_communes(&mut txn, result).map_err(|e| err(format!("layer communes: {e}")))?;
        write_cover(&mut txn, "cover", &result.rows, true)
            .map_err(|e| err(format!("layer cover: {e}")))?;
        write_cover(&mut txn, "province_cover", &result.province, false)
            .map_err(|e| err(format!("layer province_cover: {e}")))?;
        write_epochs(&mut txn, epochs).map_err(|e| err(format!("layer epochs: {e}")))?;
        write_change(&mut txn, "change", &change.rows, true)
            .map_err(|e| err(format!("layer change: {e}")))?;
        write_change(&mut txn, "province_change", &change.province, false)
            .map_err(|e| err(format!("layer province_change: {e}")))?;
        write_alerts(&mut txn, &change.alerts).map_err(|e| err(format!("layer alerts: {e}")))?;
        crate::zone_store::write(&mut txn, extras)
            .map_err(|(l, e)| err(format!("layer {l}: {e}")))?;
        write_triage(&mut txn, &previous_triage)
            .map_err(|e| err(format!("layer alert_triage: {e}")))?;
        let mut runs = previous_runs;
        runs.push(run.clone());
        write_runs(&mut txn, &runs).map_err(|e| err(format!("layer runs: {e}")))?;
        txn.commit()
            .map_err(|e| err(format!("commit failed: {e}")))?;
    }
    ds.close()
        .map_err(|e| err(format!("closing {}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(|e| err(format!("cannot replace the store: {e}")))?;
    guard.1 = true;
    Ok(())
}

fn remove_stale_temps(dir: &Path, stem: &str) {
    let prefix = format!(".{stem}.tmp-");
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(&prefix) && name.ends_with(".gpkg") {
                tracing::info!(file = %e.path().display(), "removing a temporary store left by an interrupted run");
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

pub(crate) type GResult<T> = gdal::errors::Result<T>;

pub(crate) fn table<'a>(
    ds: &'a mut Dataset,
    name: &'a str,
    fields: &[(&str, OGRFieldType::Type)],
) -> GResult<gdal::vector::Layer<'a>> {
    let layer = ds.create_layer(LayerOptions {
        name,
        ty: OGRwkbGeometryType::wkbNone,
        ..Default::default()
    })?;
    layer.create_defn_fields(fields)?;
    Ok(layer)
}

pub(crate) fn set_opt(f: &mut Feature, idx: usize, v: Option<f64>) -> GResult<()> {
    match v {
        Some(x) => f.set_field_double(idx, x),
        None => f.set_field_null(idx),
    }
}

fn write_communes(ds: &mut Dataset, result: &CoverResult) -> GResult<()> {
    let mut srs = SpatialRef::from_epsg(4326)?;
    srs.set_axis_mapping_strategy(gdal::spatial_ref::AxisMappingStrategy::TraditionalGisOrder);
    let layer = ds.create_layer(LayerOptions {
        name: "communes",
        srs: Some(&srs),
        ty: OGRwkbGeometryType::wkbMultiPolygon,
        options: Some(&["FID=fid", "GEOMETRY_NAME=geom"]),
    })?;
    layer.create_defn_fields(&[
        ("code", OGRFieldType::OFTString),
        ("name", OGRFieldType::OFTString),
        ("natural_ha", OGRFieldType::OFTReal),
    ])?;
    for c in &result.communes {
        let mut f = Feature::new(layer.defn())?;
        f.set_field_string(0, &c.code)?;
        f.set_field_string(1, &c.name)?;
        f.set_field_double(2, c.natural_ha)?;
        f.set_geometry(c.geom_wgs84.to_gdal()?)?;
        f.create(&layer)?;
    }
    Ok(())
}

/// A table of per-commune rows (`with_code`) or province rows: `commune_code`
/// first when with code, then `fields`.
fn unit_table<'a>(
    ds: &'a mut Dataset,
    name: &'a str,
    with_code: bool,
    fields: &[(&str, OGRFieldType::Type)],
) -> GResult<gdal::vector::Layer<'a>> {
    let mut all = vec![];
    if with_code {
        all.push(("commune_code", OGRFieldType::OFTString));
    }
    all.extend_from_slice(fields);
    table(ds, name, &all)
}

/// A new row of a [`unit_table`] and the index of its first field after the code.
fn unit_row<'a>(
    layer: &'a gdal::vector::Layer,
    with_code: bool,
    code: &str,
) -> GResult<(Feature<'a>, usize)> {
    let mut f = Feature::new(layer.defn())?;
    if with_code {
        f.set_field_string(0, code)?;
        return Ok((f, 1));
    }
    Ok((f, 0))
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
    let layer = unit_table(ds, name, with_code, &fields)?;
    for r in rows {
        let (mut f, i) = unit_row(&layer, with_code, &r.commune_code)?;
        let x: &CoverFigures = &r.figures;
        f.set_field_string(i, &r.epoch)?;
        f.set_field_double(i + 1, x.natural_ha)?;
        f.set_field_double(i + 2, x.forest_ha)?;
        f.set_field_double(i + 3, x.observed_ha)?;
        f.set_field_double(i + 4, x.unobserved_ha)?;
        set_opt(&mut f, i + 5, x.cover_pct)?;
        f.set_field_double(i + 6, x.observed_pct)?;
        f.create(&layer)?;
    }
    Ok(())
}

fn write_epochs(ds: &mut Dataset, epochs: &[EpochRecord]) -> GResult<()> {
    let layer = table(
        ds,
        "epochs",
        &[
            ("id", OGRFieldType::OFTString),
            ("date", OGRFieldType::OFTString),
            ("tiles", OGRFieldType::OFTInteger),
            ("pixels", OGRFieldType::OFTInteger64),
        ],
    )?;
    for e in epochs {
        let mut f = Feature::new(layer.defn())?;
        f.set_field_string(0, &e.id)?;
        f.set_field_string(1, &e.date)?;
        f.set_field_integer(2, e.tiles as i32)?;
        f.set_field_integer64(3, e.pixels as i64)?;
        f.create(&layer)?;
    }
    Ok(())
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

fn write_runs(ds: &mut Dataset, runs: &[RunRecord]) -> GResult<()> {
    let fields: Vec<(&str, OGRFieldType::Type)> = RUN_FIELDS
        .iter()
        .map(|n| (*n, OGRFieldType::OFTString))
        .collect();
    let layer = table(ds, "runs", &fields)?;
    for r in runs {
        let mut f = Feature::new(layer.defn())?;
        for (i, v) in run_values(r).iter().enumerate() {
            f.set_field_string(i, v)?;
        }
        f.create(&layer)?;
    }
    Ok(())
}

pub(crate) fn open_store(path: &Path) -> Result<Dataset, PipelineError> {
    if !path.exists() {
        return Err(PipelineError::store(
            path,
            "not found; run `canopy run REGION.toml --store PATH` first",
        ));
    }
    Dataset::open(path)
        .map_err(|e| PipelineError::store(path, format!("cannot be opened as a GeoPackage: {e}")))
}

pub(crate) fn string(f: &Feature, i: usize) -> String {
    f.field_as_string(i).ok().flatten().unwrap_or_default()
}

pub(crate) fn idx(
    layer: &gdal::vector::Layer,
    name: &str,
    path: &Path,
) -> Result<usize, PipelineError> {
    layer.defn().field_index(name).map_err(|_| {
        PipelineError::store(path, format!("layer {} has no field {name}", layer.name()))
    })
}

/// The runs recorded in a store, oldest first.
pub fn read_runs(path: &Path) -> Result<Vec<RunRecord>, PipelineError> {
    let ds = open_store(path)?;
    let mut layer = ds
        .layer_by_name("runs")
        .map_err(|_| PipelineError::store(path, "no runs layer"))?;
    let ix: Vec<usize> = RUN_FIELDS
        .iter()
        .map(|n| idx(&layer, n, path))
        .collect::<Result<_, _>>()?;
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
    let d = |i: usize| f.field_as_double(ix[i]).ok().flatten();
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
        let (c, n, a) = (
            idx(&l, "code", path)?,
            idx(&l, "name", path)?,
            idx(&l, "natural_ha", path)?,
        );
        for f in l.features() {
            communes.push(StoredCommune {
                code: string(&f, c),
                name: string(&f, n),
                natural_ha: f.field_as_double(a).ok().flatten().unwrap_or(0.0),
            });
        }
    }
    let read_rows = |name: &str, with_code: bool| -> Result<Vec<CoverRow>, PipelineError> {
        let mut l = layer_of(name)?;
        let ix: Vec<usize> = FIGURE_FIELDS
            .iter()
            .map(|n| idx(&l, n, path))
            .collect::<Result<_, _>>()?;
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
    let rows = read_rows("cover", true)?;
    let province = read_rows("province_cover", false)?;
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
    let layer = unit_table(ds, name, with_code, &fields)?;
    for r in rows {
        let (mut f, i) = unit_row(&layer, with_code, &r.commune_code)?;
        f.set_field_string(i, &r.from_epoch)?;
        f.set_field_string(i + 1, &r.to_epoch)?;
        f.set_field_double(i + 2, r.loss_ha)?;
        f.set_field_double(i + 3, r.gain_ha)?;
        f.set_field_double(i + 4, r.net_ha)?;
        f.set_field_double(i + 5, r.unobserved_ha)?;
        if r.transitions.is_empty() {
            f.set_field_null(i + 6)?;
        } else {
            let t: Vec<serde_json::Value> = r
                .transitions
                .iter()
                .map(|(a, b, ha)| serde_json::json!({"from": a, "to": b, "ha": ha}))
                .collect();
            f.set_field_string(i + 6, &serde_json::Value::Array(t).to_string())?;
        }
        f.create(&layer)?;
    }
    Ok(())
}

const ALERT_FIELDS: [(&str, OGRFieldType::Type); 16] = [
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
];

fn write_alerts(ds: &mut Dataset, alerts: &[Alert]) -> GResult<()> {
    let mut srs = SpatialRef::from_epsg(4326)?;
    srs.set_axis_mapping_strategy(gdal::spatial_ref::AxisMappingStrategy::TraditionalGisOrder);
    let layer = ds.create_layer(LayerOptions {
        name: "alerts",
        srs: Some(&srs),
        ty: OGRwkbGeometryType::wkbMultiPolygon,
        options: Some(&["FID=fid", "GEOMETRY_NAME=geom", "SPATIAL_INDEX=YES"]),
    })?;
    layer.create_defn_fields(&ALERT_FIELDS)?;
    for a in alerts {
        let mut f = Feature::new(layer.defn())?;
        f.set_field_string(0, &a.id)?;
        f.set_field_string(1, &a.from_epoch)?;
        f.set_field_string(2, &a.to_epoch)?;
        f.set_field_string(3, &a.from_date)?;
        f.set_field_string(4, &a.to_date)?;
        f.set_field_double(5, a.area_ha)?;
        f.set_field_integer64(6, a.pixels as i64)?;
        f.set_field_double(7, a.centroid.0)?;
        f.set_field_double(8, a.centroid.1)?;
        f.set_field_string(9, &a.commune_code)?;
        let shares: Vec<serde_json::Value> = a
            .communes
            .iter()
            .map(|(c, ha)| serde_json::json!({"code": c, "ha": ha}))
            .collect();
        f.set_field_string(10, &serde_json::Value::Array(shares).to_string())?;
        match &a.zone_species {
            Some(s) => f.set_field_string(11, s)?,
            None => f.set_field_null(11)?,
        }
        match &a.zone_code {
            Some(s) => f.set_field_string(12, s)?,
            None => f.set_field_null(12)?,
        }
        match a.natural_lost {
            Some(b) => f.set_field_integer(13, b as i32)?,
            None => f.set_field_null(13)?,
        }
        f.set_field_double(14, a.natural_lost_ha)?;
        f.set_field_string(15, a.severity.as_str())?;
        f.set_geometry(a.geom_wgs84.to_gdal()?)?;
        f.create(&layer)?;
    }
    Ok(())
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

fn write_triage(ds: &mut Dataset, events: &[TriageEvent]) -> GResult<()> {
    let fields: Vec<(&str, OGRFieldType::Type)> = TRIAGE_FIELDS
        .iter()
        .map(|n| (*n, OGRFieldType::OFTString))
        .collect();
    let layer = table(ds, "alert_triage", &fields)?;
    for e in events {
        add_triage(&layer, e)?;
    }
    Ok(())
}

fn add_triage(layer: &gdal::vector::Layer, e: &TriageEvent) -> GResult<()> {
    let mut f = Feature::new(layer.defn())?;
    for (i, v) in [&e.alert_id, &e.status, &e.note, &e.by, &e.at]
        .iter()
        .enumerate()
    {
        f.set_field_string(i, v)?;
    }
    f.create(layer)
}

/// The triage history of a store, oldest first (empty for stores without one).
pub fn read_triage(path: &Path) -> Result<Vec<TriageEvent>, PipelineError> {
    let ds = open_store(path)?;
    let Ok(mut layer) = ds.layer_by_name("alert_triage") else {
        return Ok(Vec::new());
    };
    let ix: Vec<usize> = TRIAGE_FIELDS
        .iter()
        .map(|n| idx(&layer, n, path))
        .collect::<Result<_, _>>()?;
    Ok(layer
        .features()
        .map(|f| TriageEvent {
            alert_id: string(&f, ix[0]),
            status: string(&f, ix[1]),
            note: string(&f, ix[2]),
            by: string(&f, ix[3]),
            at: string(&f, ix[4]),
        })
        .collect())
}

/// Appends a triage event to the store, under the store's lock. The alert must
/// exist and the status be one of [`TRIAGE_STATUSES`].
///
/// `seen` is the number of events of this alert the writer based its decision on
/// (the server's If-Match): it is compared under the lock, so an event appended
/// meanwhile by another process (`canopy triage`, a second server) makes this write
/// fail with [`PipelineError::Conflict`] instead of silently overriding it. `None`
/// appends unconditionally (the CLI, which reads nothing first).
pub fn append_triage(
    path: &Path,
    e: &TriageEvent,
    seen: Option<usize>,
) -> Result<(), PipelineError> {
    if !TRIAGE_STATUSES.contains(&e.status.as_str()) {
        return Err(PipelineError::Input(format!(
            "status \"{}\" is not one of {}",
            e.status,
            TRIAGE_STATUSES.join(", ")
        )));
    }
    let _lock = lock(path)?;
    if !read_alerts(path)?.iter().any(|a| a.id == e.alert_id) {
        return Err(PipelineError::store(
            path,
            format!("has no alert \"{}\"", e.alert_id),
        ));
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
    add_triage(&layer, e)
        .map_err(|err| PipelineError::store(path, format!("writing triage: {err}")))?;
    Ok(())
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
    let ix: Vec<usize> = ALERT_FIELDS
        .iter()
        .map(|(n, _)| idx(&layer, n, path))
        .collect::<Result<_, _>>()?;
    let mut status: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for e in read_triage(path)? {
        status.insert(e.alert_id, e.status);
    }
    let opt = |f: &Feature, i: usize| {
        f.field_as_string(i)
            .ok()
            .flatten()
            .filter(|s| !s.is_empty())
    };
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
            area_ha: f.field_as_double(ix[5]).ok().flatten().unwrap_or(0.0),
            centroid: (
                f.field_as_double(ix[7]).ok().flatten().unwrap_or(0.0),
                f.field_as_double(ix[8]).ok().flatten().unwrap_or(0.0),
            ),
            commune_code: string(&f, ix[9]),
            communes: serde_json::from_str::<Vec<serde_json::Value>>(&string(&f, ix[10]))
                .unwrap_or_default()
                .iter()
                .filter_map(|v| v["code"].as_str().map(String::from))
                .collect(),
            zone_species: opt(&f, ix[11]),
            zone_code: opt(&f, ix[12]),
            natural_lost: f.field_as_integer(ix[13]).ok().flatten().map(|v| v != 0),
            severity: string(&f, ix[15]),
            geometry: f
                .geometry()
                .and_then(|g| g.json().ok())
                .unwrap_or_else(|| "null".into()),
        });
    }
    Ok(out)
}

/// The change rows of a store (communes, then the province under `PROVINCE`).
pub fn read_change(path: &Path) -> Result<(Vec<ChangeRow>, Vec<ChangeRow>), PipelineError> {
    let ds = open_store(path)?;
    let read = |name: &str, with_code: bool| -> Result<Vec<ChangeRow>, PipelineError> {
        let Ok(mut l) = ds.layer_by_name(name) else {
            return Ok(Vec::new());
        };
        let names = [
            "from_epoch",
            "to_epoch",
            "loss_ha",
            "gain_ha",
            "net_ha",
            "unobserved_ha",
        ];
        let ix: Vec<usize> = names
            .iter()
            .map(|n| idx(&l, n, path))
            .collect::<Result<_, _>>()?;
        let c = if with_code {
            Some(idx(&l, "commune_code", path)?)
        } else {
            None
        };
        let d = |f: &Feature, i: usize| f.field_as_double(i).ok().flatten().unwrap_or(0.0);
        Ok(l.features()
            .map(|f| ChangeRow {
                commune_code: c
                    .map(|c| string(&f, c))
                    .unwrap_or_else(|| crate::cover::PROVINCE_CODE.into()),
                from_epoch: string(&f, ix[0]),
                to_epoch: string(&f, ix[1]),
                loss_ha: d(&f, ix[2]),
                gain_ha: d(&f, ix[3]),
                net_ha: d(&f, ix[4]),
                unobserved_ha: d(&f, ix[5]),
                transitions: Vec::new(),
            })
            .collect())
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
