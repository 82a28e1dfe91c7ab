//! The store's fire tables: written in the run's transaction by
//! [`crate::store::write`], read back by the CLI and the server.
//!
//! - `fire_danger` (no geometry): commune_code, commune_name, date (YYYY-MM-DD),
//!   danger_index, level (1 = I … 5 = V), level_name, station, distance_km,
//!   forest_ha (the latest epoch's forest of the commune). One row per commune
//!   and day some station reported.
//! - `hotspots` (points, EPSG:4326): one row per FIRMS detection inside the
//!   region (see [`HOTSPOT_FIELDS`]): its sensor fields as FIRMS gave them,
//!   commune, planting zone, plot (empty: no plots yet), footprint ha, the latest
//!   epoch's forest and observed ha in the footprint and the forest fraction,
//!   whether it can alert, its fire event.
//! - `fire_events` (multipolygons, EPSG:4326: the union of the footprints): first
//!   and last detection, hotspot count, max FRP, area and forest ha, communes,
//!   zone, severity, whether it became an alert (the alert has the event's id).

use std::path::Path;

use gdal::spatial_ref::{AxisMappingStrategy, SpatialRef};
use gdal::vector::{LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType};
use gdal::Dataset;

use crate::error::PipelineError;
use crate::fire::hotspots::{FireEvent, HotspotPlan, Located};
use crate::fire::{DangerRow, FireOutputs};
use crate::store::open_store;
use crate::store_rows::Val::{Int, Real, Str, Text};
use crate::store_rows::{
    add_point, opt, read_rows, real, string, write_shapes, write_table, GResult, Val,
};

const DANGER_FIELDS: [(&str, OGRFieldType::Type); 9] = [
    ("commune_code", OGRFieldType::OFTString),
    ("commune_name", OGRFieldType::OFTString),
    ("date", OGRFieldType::OFTString),
    ("danger_index", OGRFieldType::OFTReal),
    ("level", OGRFieldType::OFTInteger),
    ("level_name", OGRFieldType::OFTString),
    ("station", OGRFieldType::OFTString),
    ("distance_km", OGRFieldType::OFTReal),
    ("forest_ha", OGRFieldType::OFTReal),
];

/// Writes the fire tables (nothing when the run had no `[fire]`).
pub(crate) fn write(
    ds: &mut Dataset,
    fire: Option<&FireOutputs>,
) -> Result<(), (String, gdal::errors::GdalError)> {
    let Some(f) = fire else { return Ok(()) };
    if !f.danger.is_empty() {
        write_danger(ds, &f.danger).map_err(|e| ("fire_danger".to_string(), e))?;
    }
    if let Some(h) = &f.hotspots {
        write_hotspots(ds, &h.hotspots).map_err(|e| ("hotspots".to_string(), e))?;
        write_events(ds, h).map_err(|e| ("fire_events".to_string(), e))?;
    }
    Ok(())
}

/// The `hotspots` fields, in order.
pub const HOTSPOT_FIELDS: [(&str, OGRFieldType::Type); 26] = [
    ("hotspot_id", OGRFieldType::OFTString),
    ("event_id", OGRFieldType::OFTString),
    ("source", OGRFieldType::OFTString),
    ("sensor", OGRFieldType::OFTString),
    ("satellite", OGRFieldType::OFTString),
    ("instrument", OGRFieldType::OFTString),
    ("version", OGRFieldType::OFTString),
    ("acquired", OGRFieldType::OFTString),
    ("acq_date", OGRFieldType::OFTString),
    ("daynight", OGRFieldType::OFTString),
    ("confidence", OGRFieldType::OFTString),
    ("confidence_raw", OGRFieldType::OFTString),
    ("frp_mw", OGRFieldType::OFTReal),
    ("brightness_k", OGRFieldType::OFTReal),
    ("scan_km", OGRFieldType::OFTReal),
    ("track_km", OGRFieldType::OFTReal),
    ("firms_type", OGRFieldType::OFTInteger),
    ("commune_code", OGRFieldType::OFTString),
    ("zone_species", OGRFieldType::OFTString),
    ("zone_code", OGRFieldType::OFTString),
    ("plot", OGRFieldType::OFTString),
    ("footprint_ha", OGRFieldType::OFTReal),
    ("forest_ha", OGRFieldType::OFTReal),
    ("observed_ha", OGRFieldType::OFTReal),
    ("forest_fraction", OGRFieldType::OFTReal),
    ("alertable", OGRFieldType::OFTInteger),
];

fn hotspot_values(l: &Located) -> Vec<Val<'_>> {
    let h = &l.h;
    vec![
        Str(&l.id),
        Str(&l.event_id),
        Str(&l.source),
        Str(h.sensor.as_str()),
        Str(&h.satellite),
        Str(&h.instrument),
        Str(&h.version),
        Text(format!(
            "{}T{:02}:{:02}Z",
            h.date,
            h.minute / 60,
            h.minute % 60
        )),
        Text(h.date.to_string()),
        Str(if h.night { "N" } else { "D" }),
        Str(h.confidence.as_str()),
        Str(&h.confidence_raw),
        Real(h.frp_mw),
        Real(h.brightness_k),
        Real(h.scan_km),
        Real(h.track_km),
        opt(h.kind.map(|k| Int(k as i32))),
        Str(&l.commune_code),
        opt(l.zone_species.as_deref().map(Str)),
        opt(l.zone_code.as_deref().map(Str)),
        opt(l.plot.as_deref().map(Str)),
        Real(l.footprint_ha),
        Real(l.forest_ha),
        Real(l.observed_ha),
        Real(l.forest_fraction),
        Int(l.alertable as i32),
    ]
}

fn write_hotspots(ds: &mut Dataset, rows: &[Located]) -> GResult<()> {
    let mut srs = SpatialRef::from_epsg(4326)?;
    srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let layer = ds.create_layer(LayerOptions {
        name: "hotspots",
        srs: Some(&srs),
        ty: OGRwkbGeometryType::wkbPoint,
        options: Some(&["FID=fid", "GEOMETRY_NAME=geom", "SPATIAL_INDEX=YES"]),
    })?;
    layer.create_defn_fields(&HOTSPOT_FIELDS)?;
    for l in rows {
        add_point(&layer, hotspot_values(l), geo::Point::new(l.h.lon, l.h.lat))?;
    }
    Ok(())
}

/// The `fire_events` fields, in order.
pub const EVENT_FIELDS: [(&str, OGRFieldType::Type); 13] = [
    ("event_id", OGRFieldType::OFTString),
    ("first_detection", OGRFieldType::OFTString),
    ("last_detection", OGRFieldType::OFTString),
    ("hotspots", OGRFieldType::OFTInteger),
    ("max_frp_mw", OGRFieldType::OFTReal),
    ("area_ha", OGRFieldType::OFTReal),
    ("forest_ha", OGRFieldType::OFTReal),
    ("commune_code", OGRFieldType::OFTString),
    ("communes", OGRFieldType::OFTString),
    ("zone_species", OGRFieldType::OFTString),
    ("zone_code", OGRFieldType::OFTString),
    ("severity", OGRFieldType::OFTString),
    ("alert", OGRFieldType::OFTInteger),
];

fn event_values(e: &FireEvent) -> Vec<Val<'_>> {
    let shares: Vec<serde_json::Value> = e
        .communes
        .iter()
        .map(|(c, ha)| serde_json::json!({"code": c, "ha": ha}))
        .collect();
    vec![
        Str(&e.id),
        Str(&e.first),
        Str(&e.last),
        Int(e.members.len() as i32),
        Real(e.max_frp_mw),
        Real(e.area_ha),
        Real(e.forest_ha),
        Str(e.communes.first().map_or("", |c| c.0.as_str())),
        Text(serde_json::Value::Array(shares).to_string()),
        opt(e.zone_species.as_deref().map(Str)),
        opt(e.zone_code.as_deref().map(Str)),
        Str(e.severity.as_str()),
        Int(e.alert as i32),
    ]
}

fn write_events(ds: &mut Dataset, plan: &HotspotPlan) -> GResult<()> {
    write_shapes(
        ds,
        "fire_events",
        &["FID=fid", "GEOMETRY_NAME=geom", "SPATIAL_INDEX=YES"],
        &EVENT_FIELDS,
        plan.events
            .iter()
            .map(|e| (event_values(e), &e.outline_wgs84)),
    )
}

fn write_danger(ds: &mut Dataset, rows: &[DangerRow]) -> GResult<()> {
    write_table(
        ds,
        "fire_danger",
        &DANGER_FIELDS,
        rows.iter().map(|r| {
            [
                Str(&r.commune_code),
                Str(&r.commune_name),
                Str(&r.date),
                Real(r.index),
                Int(r.level as i32),
                Str(canopy_core::fire::level_name(r.level)),
                Str(&r.station),
                Real(r.distance_km),
                Real(r.forest_ha),
            ]
        }),
    )
}

/// The stored danger rows (empty when the run had no `[fire]`), of one day if
/// `date` is given.
pub fn read_danger(path: &Path, date: Option<&str>) -> Result<Vec<DangerRow>, PipelineError> {
    let ds = open_store(path)?;
    read_danger_ds(&ds, path, date)
}

/// [`read_danger`] on an open store.
pub fn read_danger_ds(
    ds: &Dataset,
    path: &Path,
    date: Option<&str>,
) -> Result<Vec<DangerRow>, PipelineError> {
    let names: Vec<&str> = DANGER_FIELDS
        .iter()
        .map(|f| f.0)
        .filter(|n| *n != "level_name")
        .collect();
    let rows = read_rows(ds, "fire_danger", &names, path, |f, ix| DangerRow {
        commune_code: string(f, ix[0]),
        commune_name: string(f, ix[1]),
        date: string(f, ix[2]),
        index: real(f, ix[3]).unwrap_or(f64::NAN),
        level: f.field_as_integer(ix[4]).ok().flatten().unwrap_or(0) as u8,
        station: string(f, ix[5]),
        distance_km: real(f, ix[6]).unwrap_or(f64::NAN),
        forest_ha: real(f, ix[7]).unwrap_or(f64::NAN),
    })?;
    Ok(match date {
        Some(d) => rows.into_iter().filter(|r| r.date == d).collect(),
        None => rows,
    })
}

/// A stored fire event (no outline).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoredEvent {
    pub id: String,
    pub first: String,
    pub last: String,
    pub hotspots: i64,
    pub max_frp_mw: f64,
    pub area_ha: f64,
    pub forest_ha: f64,
    pub commune_code: String,
    pub zone_species: Option<String>,
    pub severity: String,
    pub alert: bool,
}

/// The stored fire events (empty when the run had no hotspots), in stored order.
pub fn read_events(path: &Path) -> Result<Vec<StoredEvent>, PipelineError> {
    let ds = open_store(path)?;
    let names = [
        "event_id",
        "first_detection",
        "last_detection",
        "hotspots",
        "max_frp_mw",
        "area_ha",
        "forest_ha",
        "commune_code",
        "zone_species",
        "severity",
        "alert",
    ];
    read_rows(&ds, "fire_events", &names, path, |f, ix| StoredEvent {
        id: string(f, ix[0]),
        first: string(f, ix[1]),
        last: string(f, ix[2]),
        hotspots: f.field_as_integer(ix[3]).ok().flatten().unwrap_or(0) as i64,
        max_frp_mw: real(f, ix[4]).unwrap_or(f64::NAN),
        area_ha: real(f, ix[5]).unwrap_or(f64::NAN),
        forest_ha: real(f, ix[6]).unwrap_or(f64::NAN),
        commune_code: string(f, ix[7]),
        zone_species: crate::store_rows::opt_string(f, ix[8]),
        severity: string(f, ix[9]),
        alert: f.field_as_integer(ix[10]).ok().flatten().unwrap_or(0) != 0,
    })
}

/// A stored hotspot: what the CLI and tests read back.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoredHotspot {
    pub id: String,
    pub event_id: String,
    pub acquired: String,
    pub confidence: String,
    pub commune_code: String,
    pub zone_species: Option<String>,
    pub footprint_ha: f64,
    pub forest_ha: f64,
    pub forest_fraction: f64,
    pub alertable: bool,
    pub lon: f64,
    pub lat: f64,
}

/// The stored hotspots (empty when the run had none), in stored order.
pub fn read_hotspots(path: &Path) -> Result<Vec<StoredHotspot>, PipelineError> {
    let ds = open_store(path)?;
    let names = [
        "hotspot_id",
        "event_id",
        "acquired",
        "confidence",
        "commune_code",
        "zone_species",
        "footprint_ha",
        "forest_ha",
        "forest_fraction",
        "alertable",
    ];
    read_rows(&ds, "hotspots", &names, path, |f, ix| {
        let (lon, lat) = f
            .geometry()
            .map(|g| {
                let (x, y, _) = g.get_point(0);
                (x, y)
            })
            .unwrap_or((f64::NAN, f64::NAN));
        StoredHotspot {
            id: string(f, ix[0]),
            event_id: string(f, ix[1]),
            acquired: string(f, ix[2]),
            confidence: string(f, ix[3]),
            commune_code: string(f, ix[4]),
            zone_species: crate::store_rows::opt_string(f, ix[5]),
            footprint_ha: real(f, ix[6]).unwrap_or(f64::NAN),
            forest_ha: real(f, ix[7]).unwrap_or(f64::NAN),
            forest_fraction: real(f, ix[8]).unwrap_or(f64::NAN),
            alertable: f.field_as_integer(ix[9]).ok().flatten().unwrap_or(0) != 0,
            lon,
            lat,
        }
    })
}
