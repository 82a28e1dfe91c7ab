//! The forest-plot tables (lô rừng, issue 14), one typed row each:
//! - `parcels` (MultiPolygon, EPSG:4326, R-tree): one feature per plot
//!   ([`ParcelRow`]): its attributes, its latest epoch's figures and the change
//!   ending there;
//! - `parcel_cover` ([`ParcelCover`]) and `parcel_change` ([`ParcelChange`]): every
//!   epoch and pair of every plot;
//! - `parcel_summary` ([`ParcelSummaryRow`]): the change-tracking table (start
//!   forest, loss, gain, end forest) per owner category, per function, per commune ×
//!   function, and per commune with the commune's own figures beside the plots' sums;
//! - `alert_parcels` ([`AlertParcel`]): the plots each alert touches, with shares
//!   (loss alerts and `fire` alerts alike).
//! - `fire_parcels` ([`FireParcel`]): the plots each hotspot footprint and fire
//!   event outline touches (written when the run has hotspots).
//!
//! Function, owner category and origin are stored as their codes
//! (`canopy_core::parcel`), read back typed.

use canopy_core::parcel::{ForestFunction, Origin, OwnerCategory};
use gdal::vector::OGRFieldType;
use gdal::Dataset;
use geo::MultiPolygon;
use serde::Serialize;

use crate::error::Result;
use crate::rows::Val::{Int64, Real, Str};
use crate::rows::{
    multipolygon, names, opt, opt_string, read_rows, real, string, write_shapes, write_table, Field,
};
use crate::Reader;

pub const LAYER: &str = "parcels";
pub const COVER_LAYER: &str = "parcel_cover";
pub const CHANGE_LAYER: &str = "parcel_change";
pub const SUMMARY_LAYER: &str = "parcel_summary";
pub const ALERT_LAYER: &str = "alert_parcels";
pub const FIRE_LAYER: &str = "fire_parcels";

const PARCEL_FIELDS: [Field; 20] = [
    ("parcel_id", OGRFieldType::OFTString),
    ("compartment", OGRFieldType::OFTString),
    ("sub_compartment", OGRFieldType::OFTString),
    ("plot", OGRFieldType::OFTString),
    ("commune_code", OGRFieldType::OFTString),
    ("function", OGRFieldType::OFTString),
    ("forest_type", OGRFieldType::OFTString),
    ("origin", OGRFieldType::OFTString),
    ("owner", OGRFieldType::OFTString),
    ("owner_category", OGRFieldType::OFTString),
    ("area_ha", OGRFieldType::OFTReal),
    ("epoch", OGRFieldType::OFTString),
    ("forest_ha", OGRFieldType::OFTReal),
    ("observed_ha", OGRFieldType::OFTReal),
    ("cover_pct", OGRFieldType::OFTReal),
    ("change_from", OGRFieldType::OFTString),
    ("loss_ha", OGRFieldType::OFTReal),
    ("gain_ha", OGRFieldType::OFTReal),
    ("function_vi", OGRFieldType::OFTString),
    ("owner_category_vi", OGRFieldType::OFTString),
];

const COVER_FIELDS: [Field; 6] = [
    ("parcel_id", OGRFieldType::OFTString),
    ("epoch", OGRFieldType::OFTString),
    ("area_ha", OGRFieldType::OFTReal),
    ("forest_ha", OGRFieldType::OFTReal),
    ("observed_ha", OGRFieldType::OFTReal),
    ("cover_pct", OGRFieldType::OFTReal),
];

const CHANGE_FIELDS: [Field; 5] = [
    ("parcel_id", OGRFieldType::OFTString),
    ("from_epoch", OGRFieldType::OFTString),
    ("to_epoch", OGRFieldType::OFTString),
    ("loss_ha", OGRFieldType::OFTReal),
    ("gain_ha", OGRFieldType::OFTReal),
];

const SUMMARY_FIELDS: [Field; 17] = [
    ("grouping", OGRFieldType::OFTString),
    ("commune_code", OGRFieldType::OFTString),
    ("function", OGRFieldType::OFTString),
    ("owner_category", OGRFieldType::OFTString),
    ("from_epoch", OGRFieldType::OFTString),
    ("to_epoch", OGRFieldType::OFTString),
    ("plots", OGRFieldType::OFTInteger64),
    ("area_ha", OGRFieldType::OFTReal),
    ("start_forest_ha", OGRFieldType::OFTReal),
    ("loss_ha", OGRFieldType::OFTReal),
    ("gain_ha", OGRFieldType::OFTReal),
    ("end_forest_ha", OGRFieldType::OFTReal),
    ("commune_area_ha", OGRFieldType::OFTReal),
    ("commune_start_forest_ha", OGRFieldType::OFTReal),
    ("commune_loss_ha", OGRFieldType::OFTReal),
    ("commune_gain_ha", OGRFieldType::OFTReal),
    ("commune_end_forest_ha", OGRFieldType::OFTReal),
];

const ALERT_FIELDS: [Field; 8] = [
    ("alert_id", OGRFieldType::OFTString),
    ("parcel_id", OGRFieldType::OFTString),
    ("area_ha", OGRFieldType::OFTReal),
    ("share", OGRFieldType::OFTReal),
    ("owner", OGRFieldType::OFTString),
    ("owner_category", OGRFieldType::OFTString),
    ("function", OGRFieldType::OFTString),
    ("commune_code", OGRFieldType::OFTString),
];

const FIRE_FIELDS: [Field; 10] = [
    ("kind", OGRFieldType::OFTString),
    ("feature_id", OGRFieldType::OFTString),
    ("parcel_id", OGRFieldType::OFTString),
    ("area_ha", OGRFieldType::OFTReal),
    ("share", OGRFieldType::OFTReal),
    ("owner", OGRFieldType::OFTString),
    ("owner_category", OGRFieldType::OFTString),
    ("function", OGRFieldType::OFTString),
    ("commune_code", OGRFieldType::OFTString),
    ("function_vi", OGRFieldType::OFTString),
];

/// One feature of the `parcels` layer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParcelRow {
    pub parcel_id: String,
    /// Tiểu khu, khoảnh, lô (empty when the layer gives only an id).
    pub compartment: String,
    pub sub_compartment: String,
    pub plot: String,
    /// The commune holding the plot (its interior point).
    pub commune_code: String,
    pub function: ForestFunction,
    pub forest_type: String,
    pub origin: Option<Origin>,
    pub owner: String,
    pub owner_category: OwnerCategory,
    /// Exact area in the region's `area_crs`.
    pub area_ha: f64,
    pub epoch: Option<String>,
    pub forest_ha: Option<f64>,
    pub observed_ha: Option<f64>,
    pub cover_pct: Option<f64>,
    pub change_from: Option<String>,
    pub loss_ha: Option<f64>,
    pub gain_ha: Option<f64>,
    #[serde(skip)]
    pub geom_wgs84: MultiPolygon<f64>,
}

/// One row of `parcel_cover`: a plot in one epoch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParcelCover {
    pub parcel_id: String,
    pub epoch: String,
    pub area_ha: f64,
    pub forest_ha: f64,
    pub observed_ha: f64,
    pub cover_pct: Option<f64>,
}

/// One row of `parcel_change`: a plot between two epochs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParcelChange {
    pub parcel_id: String,
    pub from_epoch: String,
    pub to_epoch: String,
    pub loss_ha: f64,
    pub gain_ha: f64,
}

/// How a summary row groups the plots.
pub const GROUPINGS: [&str; 4] = ["owner_category", "function", "commune_function", "commune"];

/// One row of the change-tracking summary (`parcel_summary`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ParcelSummaryRow {
    /// `owner_category`, `function`, `commune_function` or `commune`.
    pub grouping: String,
    /// For `commune_function` and `commune`.
    pub commune_code: Option<String>,
    /// For `function` and `commune_function`.
    pub function: Option<ForestFunction>,
    /// For `owner_category`.
    pub owner_category: Option<OwnerCategory>,
    pub from_epoch: String,
    pub to_epoch: String,
    pub plots: u64,
    /// The plots' area (ha).
    pub area_ha: f64,
    /// Forest in the plots at the start and the end of the period (ha).
    pub start_forest_ha: f64,
    pub loss_ha: f64,
    pub gain_ha: f64,
    pub end_forest_ha: f64,
    /// `commune` rows: the commune's own figures, to compare with the plots' sums
    /// (equal where the plots tile the commune).
    pub commune_area_ha: Option<f64>,
    pub commune_start_forest_ha: Option<f64>,
    pub commune_loss_ha: Option<f64>,
    pub commune_gain_ha: Option<f64>,
    pub commune_end_forest_ha: Option<f64>,
}

/// One plot an alert touches.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertParcel {
    pub alert_id: String,
    pub parcel_id: String,
    /// The alert's area inside the plot (ha).
    pub area_ha: f64,
    /// That area's share of the alert (0–1).
    pub share: f64,
    pub owner: String,
    pub owner_category: OwnerCategory,
    pub function: ForestFunction,
    pub commune_code: String,
}

/// One plot a hotspot's footprint or a fire event's outline touches
/// (`fire_parcels`; `parcel.alert_id` is the hotspot or event id, `area_ha` the
/// footprint's or outline's area inside the plot, `share` its share of it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FireParcel {
    /// `hotspot` or `event`.
    pub kind: String,
    /// The hotspot id (`hs-…`) or fire event id (`fire-…`).
    pub feature_id: String,
    #[serde(flatten)]
    pub parcel: AlertParcel,
}

/// Every plot table of a run (written only when the region has `[parcels]`).
#[derive(Debug, Clone, Default)]
pub struct ParcelTables {
    pub parcels: Vec<ParcelRow>,
    pub cover: Vec<ParcelCover>,
    pub change: Vec<ParcelChange>,
    pub summary: Vec<ParcelSummaryRow>,
    pub alerts: Vec<AlertParcel>,
    /// The plots of the hotspots and fire events (`Some` when the run has
    /// `[fire] hotspots`: the `fire_parcels` table is written then).
    pub fire: Option<Vec<FireParcel>>,
}

pub(crate) fn write(
    ds: &mut Dataset,
    t: &ParcelTables,
) -> Result<(), (&'static str, gdal::errors::GdalError)> {
    let options = ["FID=fid", "GEOMETRY_NAME=geom", "SPATIAL_INDEX=YES"];
    let origin_codes: Vec<Option<&str>> = t
        .parcels
        .iter()
        .map(|p| p.origin.map(|o| o.code()))
        .collect();
    let parcels = t.parcels.iter().zip(&origin_codes).map(|(p, origin)| {
        let values = [
            Str(&p.parcel_id),
            Str(&p.compartment),
            Str(&p.sub_compartment),
            Str(&p.plot),
            Str(&p.commune_code),
            Str(p.function.code()),
            Str(&p.forest_type),
            opt(origin.map(Str)),
            Str(&p.owner),
            Str(p.owner_category.code()),
            Real(p.area_ha),
            opt(p.epoch.as_deref().map(Str)),
            opt(p.forest_ha.map(Real)),
            opt(p.observed_ha.map(Real)),
            opt(p.cover_pct.map(Real)),
            opt(p.change_from.as_deref().map(Str)),
            opt(p.loss_ha.map(Real)),
            opt(p.gain_ha.map(Real)),
            Str(p.function.label_vi()),
            Str(p.owner_category.label_vi()),
        ];
        (values, &p.geom_wgs84)
    });
    write_shapes(ds, LAYER, &options, &PARCEL_FIELDS, parcels).map_err(|e| (LAYER, e))?;
    let cover = t.cover.iter().map(|c| {
        [
            Str(&c.parcel_id),
            Str(&c.epoch),
            Real(c.area_ha),
            Real(c.forest_ha),
            Real(c.observed_ha),
            opt(c.cover_pct.map(Real)),
        ]
    });
    write_table(ds, COVER_LAYER, &COVER_FIELDS, cover).map_err(|e| (COVER_LAYER, e))?;
    let change = t.change.iter().map(|c| {
        [
            Str(&c.parcel_id),
            Str(&c.from_epoch),
            Str(&c.to_epoch),
            Real(c.loss_ha),
            Real(c.gain_ha),
        ]
    });
    write_table(ds, CHANGE_LAYER, &CHANGE_FIELDS, change).map_err(|e| (CHANGE_LAYER, e))?;
    let summary = t.summary.iter().map(|s| {
        [
            Str(&s.grouping),
            opt(s.commune_code.as_deref().map(Str)),
            opt(s.function.map(|f| Str(f.code()))),
            opt(s.owner_category.map(|o| Str(o.code()))),
            Str(&s.from_epoch),
            Str(&s.to_epoch),
            Int64(s.plots as i64),
            Real(s.area_ha),
            Real(s.start_forest_ha),
            Real(s.loss_ha),
            Real(s.gain_ha),
            Real(s.end_forest_ha),
            opt(s.commune_area_ha.map(Real)),
            opt(s.commune_start_forest_ha.map(Real)),
            opt(s.commune_loss_ha.map(Real)),
            opt(s.commune_gain_ha.map(Real)),
            opt(s.commune_end_forest_ha.map(Real)),
        ]
    });
    write_table(ds, SUMMARY_LAYER, &SUMMARY_FIELDS, summary).map_err(|e| (SUMMARY_LAYER, e))?;
    let alerts = t.alerts.iter().map(|a| {
        [
            Str(&a.alert_id),
            Str(&a.parcel_id),
            Real(a.area_ha),
            Real(a.share),
            Str(&a.owner),
            Str(a.owner_category.code()),
            Str(a.function.code()),
            Str(&a.commune_code),
        ]
    });
    write_table(ds, ALERT_LAYER, &ALERT_FIELDS, alerts).map_err(|e| (ALERT_LAYER, e))?;
    if let Some(fire) = &t.fire {
        let rows = fire.iter().map(|r| {
            let a = &r.parcel;
            [
                Str(&r.kind),
                Str(&r.feature_id),
                Str(&a.parcel_id),
                Real(a.area_ha),
                Real(a.share),
                Str(&a.owner),
                Str(a.owner_category.code()),
                Str(a.function.code()),
                Str(&a.commune_code),
                Str(a.function.label_vi()),
            ]
        });
        write_table(ds, FIRE_LAYER, &FIRE_FIELDS, rows).map_err(|e| (FIRE_LAYER, e))?;
    }
    Ok(())
}

fn function(s: &str) -> ForestFunction {
    ForestFunction::parse(s).unwrap_or(ForestFunction::Production)
}

fn category(s: &str) -> OwnerCategory {
    OwnerCategory::parse(s).unwrap_or(OwnerCategory::CommuneCommittee)
}

/// An alert's (or fire's) plot from a row whose fields from `ix[0]` are those of
/// `ALERT_FIELDS` (alert id, plot id, ha, share, owner, category, function, commune).
fn alert_parcel(f: &gdal::vector::Feature, ix: &[usize]) -> AlertParcel {
    AlertParcel {
        alert_id: string(f, ix[0]),
        parcel_id: string(f, ix[1]),
        area_ha: real(f, ix[2]).unwrap_or(0.0),
        share: real(f, ix[3]).unwrap_or(0.0),
        owner: string(f, ix[4]),
        owner_category: category(&string(f, ix[5])),
        function: function(&string(f, ix[6])),
        commune_code: string(f, ix[7]),
    }
}

impl Reader {
    /// The `parcels` layer (empty when the store has no plots).
    pub fn parcels(&self) -> Result<Vec<ParcelRow>> {
        let (ds, path) = (&self.ds, &self.path);
        read_rows(ds, LAYER, &names(&PARCEL_FIELDS), path, |f, ix| ParcelRow {
            parcel_id: string(f, ix[0]),
            compartment: string(f, ix[1]),
            sub_compartment: string(f, ix[2]),
            plot: string(f, ix[3]),
            commune_code: string(f, ix[4]),
            function: function(&string(f, ix[5])),
            forest_type: string(f, ix[6]),
            origin: opt_string(f, ix[7]).and_then(|o| Origin::parse(&o)),
            owner: string(f, ix[8]),
            owner_category: category(&string(f, ix[9])),
            area_ha: real(f, ix[10]).unwrap_or(0.0),
            epoch: opt_string(f, ix[11]),
            forest_ha: real(f, ix[12]),
            observed_ha: real(f, ix[13]),
            cover_pct: real(f, ix[14]),
            change_from: opt_string(f, ix[15]),
            loss_ha: real(f, ix[16]),
            gain_ha: real(f, ix[17]),
            geom_wgs84: multipolygon(f),
        })
    }

    /// The change-tracking summary (empty when the store has no plots).
    pub fn parcel_summary(&self) -> Result<Vec<ParcelSummaryRow>> {
        let (ds, path) = (&self.ds, &self.path);
        read_rows(ds, SUMMARY_LAYER, &names(&SUMMARY_FIELDS), path, |f, ix| {
            ParcelSummaryRow {
                grouping: string(f, ix[0]),
                commune_code: opt_string(f, ix[1]),
                function: opt_string(f, ix[2]).map(|s| function(&s)),
                owner_category: opt_string(f, ix[3]).map(|s| category(&s)),
                from_epoch: string(f, ix[4]),
                to_epoch: string(f, ix[5]),
                plots: real(f, ix[6]).unwrap_or(0.0) as u64,
                area_ha: real(f, ix[7]).unwrap_or(0.0),
                start_forest_ha: real(f, ix[8]).unwrap_or(0.0),
                loss_ha: real(f, ix[9]).unwrap_or(0.0),
                gain_ha: real(f, ix[10]).unwrap_or(0.0),
                end_forest_ha: real(f, ix[11]).unwrap_or(0.0),
                commune_area_ha: real(f, ix[12]),
                commune_start_forest_ha: real(f, ix[13]),
                commune_loss_ha: real(f, ix[14]),
                commune_gain_ha: real(f, ix[15]),
                commune_end_forest_ha: real(f, ix[16]),
            }
        })
    }

    /// The plots every hotspot and fire event touches (empty without plots or
    /// hotspots), in stored order (hotspots, then events; largest part first).
    pub fn fire_parcels(&self) -> Result<Vec<FireParcel>> {
        let (ds, path) = (&self.ds, &self.path);
        read_rows(ds, FIRE_LAYER, &names(&FIRE_FIELDS), path, |f, ix| {
            FireParcel {
                kind: string(f, ix[0]),
                feature_id: string(f, ix[1]),
                parcel: alert_parcel(f, &ix[1..]),
            }
        })
    }

    /// The plots every alert touches (empty when the store has no plots).
    pub fn alert_parcels(&self) -> Result<Vec<AlertParcel>> {
        let (ds, path) = (&self.ds, &self.path);
        read_rows(ds, ALERT_LAYER, &names(&ALERT_FIELDS), path, |f, ix| {
            alert_parcel(f, ix)
        })
    }
}
