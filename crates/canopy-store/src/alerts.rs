//! `alerts` (MultiPolygon, EPSG:4326): one feature per forest-loss patch or fire
//! event in forest (`kind`), with its stable id, epochs, area, communes, zone,
//! severity and confirming observations.
//! Its triage status is the latest event of [`crate::triage`].

pub use canopy_core::burn::AlertCause;
use canopy_core::change::Severity;
use canopy_core::triage::TriageStatus;
use gdal::vector::{Feature, LayerAccess, OGRFieldType};
use gdal::Dataset;
use geo::MultiPolygon;

use crate::error::{Result, StoreError};
use crate::rows::Val::{Int, Int64, Real, Str, Text};
use crate::rows::{
    geojson, indices, names, opt, opt_string, real, shape, string, write_shapes, Field, GResult,
    Val, BOOLEAN, DATE,
};
use crate::Reader;

pub const LAYER: &str = "alerts";

const FIELDS: [Field; 21] = [
    ("alert_id", OGRFieldType::OFTString),
    ("from_epoch", OGRFieldType::OFTString),
    ("to_epoch", OGRFieldType::OFTString),
    ("from_date", DATE),
    ("to_date", DATE),
    ("area_ha", OGRFieldType::OFTReal),
    ("pixels", OGRFieldType::OFTInteger64),
    ("centroid_lon", OGRFieldType::OFTReal),
    ("centroid_lat", OGRFieldType::OFTReal),
    ("commune_code", OGRFieldType::OFTString),
    ("communes", OGRFieldType::OFTString),
    ("zone_species", OGRFieldType::OFTString),
    ("zone_code", OGRFieldType::OFTString),
    ("natural_lost", BOOLEAN),
    ("natural_lost_ha", OGRFieldType::OFTReal),
    ("severity", OGRFieldType::OFTString),
    ("clear_obs", OGRFieldType::OFTInteger),
    ("first_seen", DATE),
    ("season_mismatch", BOOLEAN),
    ("kind", OGRFieldType::OFTString),
    ("cause", OGRFieldType::OFTString),
];

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AlertKind {
    /// Forest loss between two epochs.
    #[default]
    Loss,
    /// A fire event in forest (satellite hotspots): `from_date`/`to_date` are its
    /// first and last detection, `area_ha` the forest inside its outline,
    /// `pixels` and `clear_obs` its detections, both epochs the latest.
    Fire,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Loss => "loss",
            AlertKind::Fire => "fire",
        }
    }
    pub fn parse(s: &str) -> Option<AlertKind> {
        match s {
            "loss" => Some(AlertKind::Loss),
            "fire" => Some(AlertKind::Fire),
            _ => None,
        }
    }
}

/// One alert (forest loss or fire), as a run writes it.
#[derive(Debug, Clone)]
pub struct Alert {
    pub id: String,
    pub kind: AlertKind,
    pub from_epoch: String,
    pub to_epoch: String,
    pub from_date: String,
    pub to_date: String,
    /// Exact outline of the patch's pixels, EPSG:4326 (lon/lat).
    pub geom_wgs84: MultiPolygon<f64>,
    pub area_ha: f64,
    pub pixels: u64,
    pub centroid: (f64, f64),
    /// Commune with the largest share.
    pub commune_code: String,
    /// Every commune the patch touches, with its share in ha, largest first.
    pub communes: Vec<(String, f64)>,
    pub zone_species: Option<String>,
    pub zone_code: Option<String>,
    /// Class epochs: whether natural forest was lost; `None` for spectral epochs.
    pub natural_lost: Option<bool>,
    pub natural_lost_ha: f64,
    pub severity: Severity,
    /// Clear observations of the later epoch that saw the patch as non-forest
    /// (the most any of its pixels had; 1 for a priority epoch).
    pub clear_obs: u32,
    /// Date of the first of them: when the clearing was first seen.
    pub first_seen: String,
    /// The two epochs cover different seasons (phenology guard): leaf-off or
    /// senescent vegetation may look like loss.
    pub season_mismatch: bool,
    /// Loss alerts: `fire` when more than half of the patch burned between its
    /// epochs (`pipeline::burn`), else unknown; fire alerts: `fire`.
    pub cause: AlertCause,
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
    /// Pixels in the patch (NULL: none).
    pub pixels: Option<i64>,
    pub centroid: (f64, f64),
    pub commune_code: String,
    /// Every commune the alert touches (largest share first).
    pub communes: Vec<String>,
    pub zone_species: Option<String>,
    pub zone_code: Option<String>,
    pub natural_lost: Option<bool>,
    pub natural_lost_ha: Option<f64>,
    pub severity: Severity,
    /// Clear observations of the later epoch confirming the loss, the first's date,
    /// and the phenology-guard flag.
    pub clear_obs: i64,
    pub first_seen: String,
    pub season_mismatch: bool,
    pub kind: AlertKind,
    /// `fire` or unknown (absent in older stores: unknown).
    pub cause: AlertCause,
    /// Latest triage status (new when never triaged).
    pub status: TriageStatus,
    /// GeoJSON geometry (empty from [`Reader::alert_features`], which reads it as
    /// `geo` instead).
    pub geometry: String,
}

/// Communes with their shares (ha), as the `communes` field of `alerts` and
/// `fire_events` stores them: JSON `[{"code": .., "ha": ..}]`, largest first.
pub fn shares_json(communes: &[(String, f64)]) -> String {
    let shares: Vec<serde_json::Value> = communes
        .iter()
        .map(|(c, ha)| serde_json::json!({"code": c, "ha": ha}))
        .collect();
    serde_json::Value::Array(shares).to_string()
}

/// The communes and shares of a [`shares_json`] text, the hectares parsed exactly
/// (so writing them again gives the same text); none when unreadable.
pub(crate) fn parse_shares(json: &str) -> Vec<(String, f64)> {
    #[derive(serde::Deserialize)]
    struct Share<'a> {
        code: String,
        #[serde(borrow)]
        ha: &'a serde_json::value::RawValue,
    }
    serde_json::from_str::<Vec<Share>>(json)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|s| Some((s.code, s.ha.get().parse::<f64>().ok()?)))
        .collect()
}

pub(crate) fn write(ds: &mut Dataset, alerts: &[Alert]) -> GResult<()> {
    write_shapes(
        ds,
        LAYER,
        &["FID=fid", "GEOMETRY_NAME=geom", "SPATIAL_INDEX=YES"],
        &FIELDS,
        alerts.iter().map(|a| (values(a), &a.geom_wgs84)),
    )
}

/// An alert's values, in [`FIELDS`] order.
fn values(a: &Alert) -> [Val<'_>; 21] {
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
        Text(shares_json(&a.communes)),
        opt(a.zone_species.as_deref().map(Str)),
        opt(a.zone_code.as_deref().map(Str)),
        opt(a.natural_lost.map(|b| Int(b as i32))),
        Real(a.natural_lost_ha),
        Str(a.severity.as_str()),
        Int(a.clear_obs as i32),
        Str(&a.first_seen),
        Int(a.season_mismatch as i32),
        Str(a.kind.as_str()),
        Str(a.cause.as_str()),
    ]
}

/// SQL string literal (single quotes doubled).
fn sql_text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl Reader {
    fn alerts_layer(&self) -> Result<gdal::vector::Layer<'_>> {
        self.ds.layer_by_name(LAYER).map_err(|_| {
            StoreError::invalid(
                &self.path,
                "has no alerts layer (written by canopy run with two epochs or more)",
            )
        })
    }

    /// The alerts, in stored order, with their latest triage status.
    pub fn alerts(&self) -> Result<Vec<StoredAlert>> {
        Ok(self
            .read_alerts(geojson)?
            .into_iter()
            .map(|(mut a, g)| {
                a.geometry = g;
                a
            })
            .collect())
    }

    /// The alerts with their outlines as `geo` geometries (none when a feature has
    /// none), for the server.
    pub fn alert_features(&self) -> Result<Vec<(StoredAlert, Option<geo::Geometry<f64>>)>> {
        self.read_alerts(shape)
    }

    fn read_alerts<G>(&self, geom: impl Fn(&Feature) -> G) -> Result<Vec<(StoredAlert, G)>> {
        let mut layer = self.alerts_layer()?;
        // `kind` is newer than the other fields: a store without it has loss alerts only.
        let ix = indices(&layer, &names(&FIELDS[..19]), &self.path)?;
        let kind_ix = layer.defn().field_index("kind").ok();
        let cause_ix = layer.defn().field_index("cause").ok();
        let status = self.triage_status()?;
        let mut out = Vec::new();
        for f in layer.features() {
            let id = string(&f, ix[0]);
            let severity = string(&f, ix[15]);
            let severity = Severity::parse(&severity).ok_or_else(|| {
                StoreError::invalid(
                    &self.path,
                    format!("alert \"{id}\": unknown severity \"{severity}\""),
                )
            })?;
            let alert = StoredAlert {
                status: status.get(&id).copied().unwrap_or_default(),
                id,
                from_epoch: string(&f, ix[1]),
                to_epoch: string(&f, ix[2]),
                from_date: string(&f, ix[3]),
                to_date: string(&f, ix[4]),
                area_ha: real(&f, ix[5]).unwrap_or(0.0),
                pixels: f.field_as_integer64(ix[6]).ok().flatten(),
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
                natural_lost_ha: real(&f, ix[14]),
                severity,
                clear_obs: f.field_as_integer(ix[16]).ok().flatten().unwrap_or(0) as i64,
                first_seen: string(&f, ix[17]),
                season_mismatch: f.field_as_integer(ix[18]).ok().flatten().unwrap_or(0) != 0,
                kind: kind_ix
                    .and_then(|i| AlertKind::parse(&string(&f, i)))
                    .unwrap_or_default(),
                cause: cause_ix
                    .and_then(|i| AlertCause::parse(&string(&f, i)))
                    .unwrap_or_default(),
                geometry: String::new(),
            };
            out.push((alert, geom(&f)));
        }
        Ok(out)
    }

    /// Whether an alert with this id exists (an attribute filter: no alert is read
    /// whole).
    pub fn has_alert(&self, id: &str) -> Result<bool> {
        let mut layer = self.alerts_layer()?;
        layer
            .set_attribute_filter(&format!("alert_id = {}", sql_text(id)))
            .map_err(StoreError::gdal(&self.path, "filtering alerts"))?;
        let found = layer.features().next().is_some();
        layer.clear_attribute_filter();
        Ok(found)
    }
}
