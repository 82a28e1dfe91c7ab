//! `fire_events` (MultiPolygon, EPSG:4326: the union of the footprints of its
//! hotspots): first and last detection, hotspot count, max FRP, area and forest
//! ha, communes, zone, severity, whether it became an alert (the alert, in
//! [`crate::alerts`], has the event's id). Written only when the region has
//! `[fire] hotspots`.

use canopy_core::change::Severity;
use gdal::vector::OGRFieldType;
use gdal::Dataset;
use geo::MultiPolygon;

use crate::error::Result;
use crate::rows::Val::{Int, Real, Str, Text};
use crate::rows::{
    multipolygon, names, opt, opt_string, read_rows, real, string, write_shapes, Field, GResult,
    Val,
};
use crate::Reader;

pub const LAYER: &str = "fire_events";

const FIELDS: [Field; 13] = [
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
    ("alert", crate::rows::BOOLEAN),
];

/// One fire event.
#[derive(Debug, Clone, PartialEq)]
pub struct FireEventRow {
    pub event_id: String,
    /// `YYYY-MM-DDTHH:MMZ`.
    pub first_detection: String,
    pub last_detection: String,
    pub hotspots: u32,
    pub max_frp_mw: f64,
    pub area_ha: f64,
    pub forest_ha: f64,
    /// The commune with the largest share of the outline.
    pub commune_code: String,
    /// Communes touched by the outline with the ha in each, largest first.
    pub communes: Vec<(String, f64)>,
    pub zone_species: Option<String>,
    pub zone_code: Option<String>,
    pub severity: Severity,
    pub alert: bool,
    /// The union of the footprints, EPSG:4326.
    pub outline: MultiPolygon<f64>,
}

fn values(e: &FireEventRow) -> Vec<Val<'_>> {
    vec![
        Str(&e.event_id),
        Str(&e.first_detection),
        Str(&e.last_detection),
        Int(e.hotspots as i32),
        Real(e.max_frp_mw),
        Real(e.area_ha),
        Real(e.forest_ha),
        Str(&e.commune_code),
        Text(crate::alerts::shares_json(&e.communes)),
        opt(e.zone_species.as_deref().map(Str)),
        opt(e.zone_code.as_deref().map(Str)),
        Str(e.severity.as_str()),
        Int(e.alert as i32),
    ]
}

pub(crate) fn write(ds: &mut Dataset, rows: &[FireEventRow]) -> GResult<()> {
    write_shapes(
        ds,
        LAYER,
        &["FID=fid", "GEOMETRY_NAME=geom", "SPATIAL_INDEX=YES"],
        &FIELDS,
        rows.iter().map(|e| (values(e), &e.outline)),
    )
}

impl Reader {
    /// The stored fire events (empty when the run had no hotspots), in stored order.
    pub fn fire_events(&self) -> Result<Vec<FireEventRow>> {
        let n = names(&FIELDS);
        read_rows(&self.ds, LAYER, &n, &self.path, |f, ix| FireEventRow {
            event_id: string(f, ix[0]),
            first_detection: string(f, ix[1]),
            last_detection: string(f, ix[2]),
            hotspots: f.field_as_integer(ix[3]).ok().flatten().unwrap_or(0) as u32,
            max_frp_mw: real(f, ix[4]).unwrap_or(f64::NAN),
            area_ha: real(f, ix[5]).unwrap_or(f64::NAN),
            forest_ha: real(f, ix[6]).unwrap_or(f64::NAN),
            commune_code: string(f, ix[7]),
            communes: crate::alerts::parse_shares(&string(f, ix[8])),
            zone_species: opt_string(f, ix[9]),
            zone_code: opt_string(f, ix[10]),
            severity: Severity::parse(&string(f, ix[11])).unwrap_or(Severity::High),
            alert: f.field_as_integer(ix[12]).ok().flatten().unwrap_or(0) != 0,
            outline: multipolygon(f),
        })
    }
}
