//! `hotspots` (Point, EPSG:4326): one feature per NASA FIRMS detection inside the
//! region: its sensor fields as FIRMS gave them, its commune, planting zone, plot
//! (empty: Canopy has no plots yet), footprint ha, the latest epoch's forest and
//! observed ha in the footprint, the forest fraction, whether it can alert and
//! its fire event. Written only when the region has `[fire] hotspots`.

use gdal::spatial_ref::{AxisMappingStrategy, SpatialRef};
use gdal::vector::{LayerOptions, OGRFieldType, OGRwkbGeometryType};
use gdal::Dataset;

use crate::error::Result;
use crate::rows::Val::{Int, Real, Str};
use crate::rows::{
    add_point, names, opt, opt_string, read_rows, real, string, Field, GResult, Val,
};
use crate::Reader;

pub const LAYER: &str = "hotspots";

const FIELDS: [Field; 26] = [
    ("hotspot_id", OGRFieldType::OFTString),
    ("event_id", OGRFieldType::OFTString),
    ("source", OGRFieldType::OFTString),
    ("sensor", OGRFieldType::OFTString),
    ("satellite", OGRFieldType::OFTString),
    ("instrument", OGRFieldType::OFTString),
    ("version", OGRFieldType::OFTString),
    ("acquired", OGRFieldType::OFTString),
    ("acq_date", crate::rows::DATE),
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
    ("alertable", crate::rows::BOOLEAN),
];

/// One stored detection.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HotspotRow {
    pub hotspot_id: String,
    pub event_id: String,
    /// Input file name.
    pub source: String,
    /// MODIS or VIIRS.
    pub sensor: String,
    pub satellite: String,
    pub instrument: String,
    pub version: String,
    /// `YYYY-MM-DDTHH:MMZ`.
    pub acquired: String,
    pub acq_date: String,
    /// D or N.
    pub daynight: String,
    /// low, nominal or high.
    pub confidence: String,
    pub confidence_raw: String,
    pub frp_mw: f64,
    pub brightness_k: f64,
    pub scan_km: f64,
    pub track_km: f64,
    /// Archive files: 0–3.
    pub firms_type: Option<i32>,
    pub commune_code: String,
    pub zone_species: Option<String>,
    pub zone_code: Option<String>,
    pub plot: Option<String>,
    pub footprint_ha: f64,
    pub forest_ha: f64,
    pub observed_ha: f64,
    pub forest_fraction: f64,
    pub alertable: bool,
    pub lon: f64,
    pub lat: f64,
}

fn values(h: &HotspotRow) -> Vec<Val<'_>> {
    vec![
        Str(&h.hotspot_id),
        Str(&h.event_id),
        Str(&h.source),
        Str(&h.sensor),
        Str(&h.satellite),
        Str(&h.instrument),
        Str(&h.version),
        Str(&h.acquired),
        Str(&h.acq_date),
        Str(&h.daynight),
        Str(&h.confidence),
        Str(&h.confidence_raw),
        Real(h.frp_mw),
        Real(h.brightness_k),
        Real(h.scan_km),
        Real(h.track_km),
        opt(h.firms_type.map(Int)),
        Str(&h.commune_code),
        opt(h.zone_species.as_deref().map(Str)),
        opt(h.zone_code.as_deref().map(Str)),
        opt(h.plot.as_deref().map(Str)),
        Real(h.footprint_ha),
        Real(h.forest_ha),
        Real(h.observed_ha),
        Real(h.forest_fraction),
        Int(h.alertable as i32),
    ]
}

pub(crate) fn write(ds: &mut Dataset, rows: &[HotspotRow]) -> GResult<()> {
    let mut srs = SpatialRef::from_epsg(4326)?;
    srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let options =
        crate::rows::for_driver(ds, &["FID=fid", "GEOMETRY_NAME=geom", "SPATIAL_INDEX=YES"]);
    let layer = ds.create_layer(LayerOptions {
        name: LAYER,
        srs: Some(&srs),
        ty: OGRwkbGeometryType::wkbPoint,
        options: Some(&options),
    })?;
    crate::rows::create_fields(&layer, &FIELDS)?;
    for h in rows {
        add_point(&layer, values(h), geo::Point::new(h.lon, h.lat))?;
    }
    Ok(())
}

impl Reader {
    /// The stored hotspots (empty when the run had none), in stored order.
    pub fn hotspots(&self) -> Result<Vec<HotspotRow>> {
        let n = names(&FIELDS);
        read_rows(&self.ds, LAYER, &n, &self.path, |f, ix| {
            let (lon, lat) = f
                .geometry()
                .map(|g| {
                    let (x, y, _) = g.get_point(0);
                    (x, y)
                })
                .unwrap_or((f64::NAN, f64::NAN));
            let int = |i: usize| f.field_as_integer(ix[i]).ok().flatten();
            let r = |i: usize| real(f, ix[i]).unwrap_or(f64::NAN);
            HotspotRow {
                hotspot_id: string(f, ix[0]),
                event_id: string(f, ix[1]),
                source: string(f, ix[2]),
                sensor: string(f, ix[3]),
                satellite: string(f, ix[4]),
                instrument: string(f, ix[5]),
                version: string(f, ix[6]),
                acquired: string(f, ix[7]),
                acq_date: string(f, ix[8]),
                daynight: string(f, ix[9]),
                confidence: string(f, ix[10]),
                confidence_raw: string(f, ix[11]),
                frp_mw: r(12),
                brightness_k: r(13),
                scan_km: r(14),
                track_km: r(15),
                firms_type: int(16),
                commune_code: string(f, ix[17]),
                zone_species: opt_string(f, ix[18]),
                zone_code: opt_string(f, ix[19]),
                plot: opt_string(f, ix[20]),
                footprint_ha: r(21),
                forest_ha: r(22),
                observed_ha: r(23),
                forest_fraction: r(24),
                alertable: int(25).unwrap_or(0) != 0,
                lon,
                lat,
            }
        })
    }
}
