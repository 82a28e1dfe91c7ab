//! Satellite hotspots in a run: FIRMS files → hotspots in the region (commune,
//! planting zone, footprint, forest fraction) → fire events → `fire` alerts.
//!
//! Two steps around the cover pass:
//! 1. [`plan`] (before it): reads every `[fire] hotspots` file, keeps the
//!    detections whose point lies in a commune (the others are counted and
//!    reported), gives each its footprint (`canopy_core::hotspot::footprint`, in
//!    the region's `area_crs`), commune and planting zone, and groups them into
//!    fire events (`canopy_core::hotspot::group`). The footprints and the events'
//!    outlines are added to the pass's extra polygons, so their forest is
//!    measured with the same exact coverage (`canopy_core::coverage`) as the
//!    communes', on every epoch's working grid.
//! 2. [`finish`] (after it): the latest epoch's forest in each footprint and
//!    outline → forest fractions and event forest ha; an event with an alertable
//!    detection (confidence nominal or high unless `alert_low_confidence`, FIRMS
//!    `type` 0 or absent: volcanoes, static industrial sources and offshore
//!    detections never alert) and at least `alert_min_forest_ha` of forest
//!    becomes an alert of kind `fire` (see [`crate::change::Alert`]).
//!
//! With a plot layer (`[parcels]`), [`attach_plots`] (between the two steps)
//! gives every footprint and event outline the forest plots (lô rừng) it
//! touches: the exact area of footprint ∩ plot in `area_crs`, its share of the
//! footprint, the plot's owner and function. A hotspot's `plot` is the plot
//! holding the largest part of its footprint. An event's severity follows the
//! one owner of the rule, `canopy_core::parcel::severity_of_plots`: **high**
//! when at least `alert_min_forest_ha` of its outline lies in special-use or
//! protection plots, else the fire rule above (no harvest rule: a fire is not a
//! rotation harvest).

use std::collections::BTreeMap;

use canopy_core::change::Severity;
use canopy_core::hotspot::{self, Detection};
use canopy_core::parcel::ParcelAttr;
use canopy_core::stats::M2_PER_HA;
use canopy_core::zonal::CoverSums;
use chrono::Datelike;
use geo::{Area, BooleanOps, BoundingRect, Contains, MultiPolygon, Point, Rect};
use sha2::{Digest, Sha256};

use super::firms::{self, Confidence, Hotspot};
use crate::change::{Alert, AlertKind};
use crate::config::FireConfig;
use crate::cover::Prepared;
use crate::crs::{Crs, Transformer};
use crate::error::PipelineError;
use crate::zones::ZoneLayer;

/// What is wrong with the hotspot inputs.
#[derive(Debug, thiserror::Error)]
pub enum HotspotError {
    #[error(transparent)]
    Firms(#[from] firms::FirmsError),
    #[error("hotspots: {0}")]
    Geometry(#[source] Box<PipelineError>),
}

impl From<PipelineError> for HotspotError {
    fn from(e: PipelineError) -> Self {
        HotspotError::Geometry(Box::new(e))
    }
}

/// One detection inside the region.
#[derive(Debug, Clone)]
pub struct Located {
    /// Stable id: `hs-` + the first 12 hex digits of the SHA-256 of satellite,
    /// date, time, longitude and latitude.
    pub id: String,
    pub h: Hotspot,
    /// The file it came from (name only).
    pub source: String,
    pub commune_code: String,
    pub zone_species: Option<String>,
    pub zone_code: Option<String>,
    /// The forest plot (lô rừng) holding the largest part of the footprint.
    pub plot: Option<String>,
    /// The plots the footprint touches, largest part first (with `[parcels]`).
    pub plots: Vec<PlotShare>,
    /// Footprint in `area_crs`.
    pub footprint: Rect<f64>,
    pub footprint_wgs84: MultiPolygon<f64>,
    /// Can make an alert (confidence and FIRMS type).
    pub alertable: bool,
    pub footprint_ha: f64,
    /// Latest epoch: forest and observed ha in the footprint.
    pub forest_ha: f64,
    pub observed_ha: f64,
    /// `forest_ha / footprint_ha`.
    pub forest_fraction: f64,
    pub event_id: String,
}

/// A group of detections of the same fire.
#[derive(Debug, Clone)]
pub struct FireEvent {
    /// `fire-` + 12 hex digits of the SHA-256 of the first detection's key
    /// (stable when later detections join the event).
    pub id: String,
    /// Indices into [`HotspotPlan::hotspots`], in time order.
    pub members: Vec<usize>,
    /// First and last detection, `YYYY-MM-DDTHH:MMZ`.
    pub first: String,
    pub last: String,
    pub max_frp_mw: f64,
    /// Union of the members' footprints, `area_crs` and WGS84.
    pub outline: MultiPolygon<f64>,
    pub outline_wgs84: MultiPolygon<f64>,
    pub area_ha: f64,
    /// Latest epoch's forest inside the outline.
    pub forest_ha: f64,
    /// Communes touched by the outline, with the ha of the outline in each, largest first.
    pub communes: Vec<(String, f64)>,
    /// The planting zone holding most of its detections (ties: first seen).
    pub zone_species: Option<String>,
    pub zone_code: Option<String>,
    /// The plots the outline touches, largest part first (with `[parcels]`).
    pub plots: Vec<PlotShare>,
    pub severity: Severity,
    /// Whether it became an alert.
    pub alert: bool,
}

/// A forest plot touched by a footprint or an event outline.
#[derive(Debug, Clone)]
pub struct PlotShare {
    pub attr: ParcelAttr,
    /// Area of the footprint (outline) inside the plot, m² in `area_crs`.
    pub m2: f64,
    /// That area's share of the footprint (outline), 0–1.
    pub share: f64,
}

impl PlotShare {
    fn row(&self, kind: &str, id: &str) -> canopy_store::parcels::FireParcel {
        canopy_store::parcels::FireParcel {
            kind: kind.into(),
            feature_id: id.into(),
            parcel: self.alert_row(id),
        }
    }

    fn alert_row(&self, id: &str) -> canopy_store::parcels::AlertParcel {
        let a = &self.attr;
        canopy_store::parcels::AlertParcel {
            alert_id: id.into(),
            parcel_id: a.id.clone(),
            area_ha: self.m2 / M2_PER_HA,
            share: self.share,
            owner: a.owner.clone(),
            owner_category: a.owner_category,
            function: a.function,
            commune_code: a.commune_code.clone(),
        }
    }
}

/// One input file's count.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileCount {
    pub file: String,
    pub sensor: &'static str,
    pub read: usize,
    /// Detections whose point lies in no commune.
    pub outside: usize,
}

/// The hotspots of a run.
#[derive(Debug, Clone, Default)]
pub struct HotspotPlan {
    pub hotspots: Vec<Located>,
    pub events: Vec<FireEvent>,
    pub files: Vec<FileCount>,
    /// Footprints, then event outlines (`area_crs`): measured in the cover pass.
    pub polygons: Vec<MultiPolygon<f64>>,
}

impl HotspotPlan {
    /// Detections outside the region, all files.
    pub fn outside(&self) -> usize {
        self.files.iter().map(|f| f.outside).sum()
    }

    /// The `hotspots` rows.
    pub fn hotspot_rows(&self) -> Vec<canopy_store::HotspotRow> {
        self.hotspots
            .iter()
            .map(|l| {
                let h = &l.h;
                canopy_store::HotspotRow {
                    hotspot_id: l.id.clone(),
                    event_id: l.event_id.clone(),
                    source: l.source.clone(),
                    sensor: h.sensor.as_str().into(),
                    satellite: h.satellite.clone(),
                    instrument: h.instrument.clone(),
                    version: h.version.clone(),
                    acquired: stamp(h),
                    acq_date: h.date.to_string(),
                    daynight: if h.night { "N" } else { "D" }.into(),
                    confidence: h.confidence.as_str().into(),
                    confidence_raw: h.confidence_raw.clone(),
                    frp_mw: h.frp_mw,
                    brightness_k: h.brightness_k,
                    scan_km: h.scan_km,
                    track_km: h.track_km,
                    firms_type: h.kind.map(i32::from),
                    commune_code: l.commune_code.clone(),
                    zone_species: l.zone_species.clone(),
                    zone_code: l.zone_code.clone(),
                    plot: l.plot.clone(),
                    footprint_ha: l.footprint_ha,
                    forest_ha: l.forest_ha,
                    observed_ha: l.observed_ha,
                    forest_fraction: l.forest_fraction,
                    alertable: l.alertable,
                    lon: h.lon,
                    lat: h.lat,
                }
            })
            .collect()
    }

    /// The `fire_parcels` rows: the plots of every hotspot, then of every event.
    pub fn parcel_rows(&self) -> Vec<canopy_store::parcels::FireParcel> {
        let hs = self
            .hotspots
            .iter()
            .flat_map(|l| l.plots.iter().map(|p| p.row("hotspot", &l.id)));
        let ev = self
            .events
            .iter()
            .flat_map(|e| e.plots.iter().map(|p| p.row("event", &e.id)));
        hs.chain(ev).collect()
    }

    /// The `alert_parcels` rows of the events that became `fire` alerts.
    pub fn alert_parcel_rows(&self) -> Vec<canopy_store::parcels::AlertParcel> {
        self.events
            .iter()
            .filter(|e| e.alert)
            .flat_map(|e| e.plots.iter().map(|p| p.alert_row(&e.id)))
            .collect()
    }

    /// The `fire_events` rows.
    pub fn event_rows(&self) -> Vec<canopy_store::FireEventRow> {
        self.events
            .iter()
            .map(|e| canopy_store::FireEventRow {
                event_id: e.id.clone(),
                first_detection: e.first.clone(),
                last_detection: e.last.clone(),
                hotspots: e.members.len() as u32,
                max_frp_mw: e.max_frp_mw,
                area_ha: e.area_ha,
                forest_ha: e.forest_ha,
                commune_code: e.communes.first().map(|c| c.0.clone()).unwrap_or_default(),
                communes: e.communes.clone(),
                zone_species: e.zone_species.clone(),
                zone_code: e.zone_code.clone(),
                severity: e.severity,
                alert: e.alert,
                outline: e.outline_wgs84.clone(),
            })
            .collect()
    }
}

/// The plots (`polygons` in `area_crs`, `attrs` in the same order) each
/// footprint and event outline touches, with the exact area of the overlap
/// (see the module documentation).
pub fn attach_plots(plan: &mut HotspotPlan, polygons: &[MultiPolygon<f64>], attrs: &[ParcelAttr]) {
    use rayon::prelude::*;
    let boxes: Vec<Option<Rect<f64>>> = polygons.iter().map(|p| p.bounding_rect()).collect();
    let touched = |g: &MultiPolygon<f64>| -> Vec<PlotShare> {
        let (Some(b), total) = (g.bounding_rect(), g.unsigned_area()) else {
            return Vec::new();
        };
        let mut out: Vec<PlotShare> = boxes
            .iter()
            .enumerate()
            .filter(|(_, pb)| {
                pb.is_some_and(|pb| {
                    pb.min().x < b.max().x
                        && pb.max().x > b.min().x
                        && pb.min().y < b.max().y
                        && pb.max().y > b.min().y
                })
            })
            .map(|(k, _)| (k, polygons[k].intersection(g).unsigned_area()))
            .filter(|(_, m2)| *m2 > 0.0)
            .map(|(k, m2)| PlotShare {
                attr: attrs[k].clone(),
                m2,
                share: if total > 0.0 { m2 / total } else { 0.0 },
            })
            .collect();
        out.sort_by(|a, b| {
            b.m2.total_cmp(&a.m2)
                .then_with(|| a.attr.id.cmp(&b.attr.id))
        });
        out
    };
    let hs: Vec<Vec<PlotShare>> = plan
        .hotspots
        .par_iter()
        .map(|l| touched(&MultiPolygon(vec![l.footprint.to_polygon()])))
        .collect();
    for (l, p) in plan.hotspots.iter_mut().zip(hs) {
        l.plot = p.first().map(|s| s.attr.id.clone());
        l.plots = p;
    }
    let ev: Vec<Vec<PlotShare>> = plan
        .events
        .par_iter()
        .map(|e| touched(&e.outline))
        .collect();
    for (e, p) in plan.events.iter_mut().zip(ev) {
        e.plots = p;
    }
}

fn short_hash(prefix: &str, text: &str) -> String {
    let h = Sha256::digest(text.as_bytes());
    format!("{prefix}{}", &hex::encode(h)[..12])
}

fn key(h: &Hotspot) -> String {
    format!(
        "{}|{}|{:04}|{:.5}|{:.5}",
        h.satellite,
        h.date,
        h.minute / 60 * 100 + h.minute % 60,
        h.lon,
        h.lat
    )
}

fn stamp(h: &Hotspot) -> String {
    format!("{}T{:02}:{:02}Z", h.date, h.minute / 60, h.minute % 60)
}

fn minutes(h: &Hotspot) -> i64 {
    h.date.num_days_from_ce() as i64 * 1440 + h.minute as i64
}

/// Step 1: reads, locates and groups the hotspots (`None` without `hotspots`).
pub fn plan(
    cfg: &FireConfig,
    prep: &Prepared,
    zones: Option<&ZoneLayer>,
) -> Result<Option<HotspotPlan>, HotspotError> {
    if cfg.hotspots.is_empty() {
        return Ok(None);
    }
    let wgs84 = Crs::from_user("EPSG:4326")?;
    let to_layer = Transformer::new(&wgs84, &prep.layer.crs)?;
    let to_area = Transformer::new(&wgs84, &prep.area_crs)?;
    let area_to_wgs = Transformer::new(&prep.area_crs, &wgs84)?;
    let to_zone = zones
        .map(|z| Transformer::new(&wgs84, &z.crs))
        .transpose()?;
    let zone_boxes: Vec<Option<Rect<f64>>> = zones
        .map(|z| z.zones.iter().map(|x| x.geom.bounding_rect()).collect())
        .unwrap_or_default();
    let commune_boxes: Vec<Option<Rect<f64>>> = prep
        .layer
        .communes
        .iter()
        .map(|c| c.geom.bounding_rect())
        .collect();
    let in_box = |b: &Option<Rect<f64>>, p: Point<f64>| {
        b.is_some_and(|b| {
            p.x() >= b.min().x && p.x() <= b.max().x && p.y() >= b.min().y && p.y() <= b.max().y
        })
    };
    let mut out = HotspotPlan::default();
    let mut seen = std::collections::HashSet::new();
    for path in &cfg.hotspots {
        let (sensor, hs) = firms::read(path)?;
        let mut pts_layer: Vec<(f64, f64)> = hs.iter().map(|h| (h.lon, h.lat)).collect();
        let mut pts_area = pts_layer.clone();
        let mut pts_zone = pts_layer.clone();
        to_layer.points(&mut pts_layer)?;
        to_area.points(&mut pts_area)?;
        if let Some(t) = &to_zone {
            t.points(&mut pts_zone)?;
        }
        let mut count = FileCount {
            file: file_name(path),
            sensor: sensor.as_str(),
            read: hs.len(),
            outside: 0,
        };
        for (k, h) in hs.into_iter().enumerate() {
            let p = Point::from(pts_layer[k]);
            let commune = prep
                .layer
                .communes
                .iter()
                .zip(&commune_boxes)
                .find(|(c, b)| in_box(b, p) && c.geom.contains(&p));
            let Some((commune, _)) = commune else {
                count.outside += 1;
                continue;
            };
            let id = short_hash("hs-", &key(&h));
            if !seen.insert(id.clone()) {
                // The same detection in two files (an archive and an NRT download).
                continue;
            }
            let zp = Point::from(pts_zone[k]);
            let zone = zones.and_then(|z| {
                z.zones
                    .iter()
                    .zip(&zone_boxes)
                    .find(|(x, b)| in_box(b, zp) && x.geom.contains(&zp))
                    .map(|(x, _)| x)
            });
            let (x, y) = pts_area[k];
            let fp = hotspot::footprint(x, y, h.scan_km, h.track_km);
            let fp_wgs = area_to_wgs.multipolygon(&MultiPolygon(vec![fp.to_polygon()]))?;
            let alertable = (cfg.alert_low_confidence || h.confidence >= Confidence::Nominal)
                && h.kind.is_none_or(|t| t == 0);
            out.hotspots.push(Located {
                id,
                source: count.file.clone(),
                commune_code: commune.code.clone(),
                zone_species: zone.map(|z| z.species.clone()),
                zone_code: zone.map(|z| z.code.clone()),
                plot: None,
                plots: Vec::new(),
                footprint: fp,
                footprint_wgs84: fp_wgs,
                alertable,
                footprint_ha: fp.unsigned_area() / M2_PER_HA,
                forest_ha: 0.0,
                observed_ha: 0.0,
                forest_fraction: 0.0,
                event_id: String::new(),
                h,
            });
        }
        tracing::info!(
            file = %path.display(),
            sensor = sensor.as_str(),
            read = count.read,
            outside = count.outside,
            "hotspots read"
        );
        out.files.push(count);
    }
    // Hotspots in a stable order: time, then position.
    out.hotspots.sort_by(|a, b| {
        minutes(&a.h)
            .cmp(&minutes(&b.h))
            .then(a.h.lon.total_cmp(&b.h.lon))
            .then(a.h.lat.total_cmp(&b.h.lat))
            .then(a.id.cmp(&b.id))
    });
    let dets: Vec<Detection> = out
        .hotspots
        .iter()
        .map(|l| Detection {
            minute: minutes(&l.h),
            footprint: l.footprint,
        })
        .collect();
    for members in hotspot::group(&dets) {
        let first_h = out.hotspots[members[0]].h.clone();
        let last_h = out.hotspots[*members.last().unwrap_or(&members[0])]
            .h
            .clone();
        let id = short_hash("fire-", &key(&first_h));
        let rects: Vec<Rect<f64>> = members.iter().map(|&i| out.hotspots[i].footprint).collect();
        let outline = hotspot::outline(&rects);
        let outline_wgs84 = area_to_wgs.multipolygon(&outline)?;
        // The zone with most detections (ties: the first seen).
        let mut zone_votes: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
        for (rank, &i) in members.iter().enumerate() {
            let l = &out.hotspots[i];
            if let (Some(s), Some(c)) = (&l.zone_species, &l.zone_code) {
                let e = zone_votes
                    .entry((s.clone(), c.clone()))
                    .or_insert((0, rank));
                e.0 += 1;
            }
        }
        let zone = zone_votes
            .into_iter()
            .max_by(|a, b| a.1 .0.cmp(&b.1 .0).then(b.1 .1.cmp(&a.1 .1)))
            .map(|(k, _)| k);
        let communes = commune_shares(prep, &outline)?;
        for &i in &members {
            out.hotspots[i].event_id = id.clone();
        }
        out.events.push(FireEvent {
            first: stamp(&first_h),
            last: stamp(&last_h),
            max_frp_mw: members
                .iter()
                .map(|&i| out.hotspots[i].h.frp_mw)
                .fold(f64::NEG_INFINITY, f64::max),
            area_ha: outline.unsigned_area() / M2_PER_HA,
            outline,
            outline_wgs84,
            forest_ha: 0.0,
            communes,
            zone_species: zone.as_ref().map(|z| z.0.clone()),
            zone_code: zone.map(|z| z.1),
            plots: Vec::new(),
            severity: Severity::Medium,
            alert: false,
            id,
            members,
        });
    }
    out.polygons = out
        .hotspots
        .iter()
        .map(|l| MultiPolygon(vec![l.footprint.to_polygon()]))
        .chain(out.events.iter().map(|e| e.outline.clone()))
        .collect();
    Ok(Some(out))
}

/// The communes an outline (in `area_crs`) touches, with the ha in each.
fn commune_shares(
    prep: &Prepared,
    outline: &MultiPolygon<f64>,
) -> Result<Vec<(String, f64)>, PipelineError> {
    let to_layer = Transformer::new(&prep.area_crs, &prep.layer.crs)?;
    let in_layer = to_layer.multipolygon(outline)?;
    let Some(b) = in_layer.bounding_rect() else {
        return Ok(Vec::new());
    };
    let to_area = Transformer::new(&prep.layer.crs, &prep.area_crs)?;
    let mut out = Vec::new();
    for c in &prep.layer.communes {
        let Some(cb) = c.geom.bounding_rect() else {
            continue;
        };
        if cb.max().x < b.min().x
            || cb.min().x > b.max().x
            || cb.max().y < b.min().y
            || cb.min().y > b.max().y
        {
            continue;
        }
        let part = to_area.multipolygon(&c.geom.intersection(&in_layer))?;
        let ha = part.unsigned_area() / M2_PER_HA;
        if ha > 0.0 {
            out.push((c.code.clone(), ha));
        }
    }
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(out)
}

fn file_name(p: &std::path::Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Step 2: forest from the latest epoch's sums of [`HotspotPlan::polygons`]
/// (`sums[k]` for polygon `k`), severity, and the `fire` alerts.
pub fn finish(
    plan: &mut HotspotPlan,
    sums: &[CoverSums],
    cfg: &FireConfig,
    latest_epoch: &str,
) -> Vec<Alert> {
    let n = plan.hotspots.len();
    for (k, l) in plan.hotspots.iter_mut().enumerate() {
        let s = sums.get(k).copied().unwrap_or_default();
        l.forest_ha = s.forest / M2_PER_HA;
        l.observed_ha = s.observed / M2_PER_HA;
        l.forest_fraction = if l.footprint_ha > 0.0 {
            l.forest_ha / l.footprint_ha
        } else {
            0.0
        };
    }
    let mut alerts = Vec::new();
    for (k, e) in plan.events.iter_mut().enumerate() {
        e.forest_ha = sums.get(n + k).map_or(0.0, |s| s.forest / M2_PER_HA);
        let members: Vec<&Located> = e.members.iter().map(|&i| &plan.hotspots[i]).collect();
        let unzoned_forest = members
            .iter()
            .any(|l| l.forest_ha > 0.0 && l.zone_species.is_none());
        let plots: Vec<_> = e
            .plots
            .iter()
            .map(|p| (p.attr.context(), p.m2 / M2_PER_HA))
            .collect();
        e.severity = canopy_core::parcel::severity_of_plots(
            &plots,
            cfg.alert_min_forest_ha,
            false,
            hotspot::fire_severity(unzoned_forest, false),
            &[],
        );
        e.alert =
            members.iter().any(|l| l.alertable) && e.forest_ha >= cfg.alert_min_forest_ha - 1e-9;
        if !e.alert {
            continue;
        }
        let c = geo::Centroid::centroid(&e.outline_wgs84)
            .map(|p| (p.x(), p.y()))
            .unwrap_or((0.0, 0.0));
        alerts.push(Alert {
            id: e.id.clone(),
            kind: AlertKind::Fire,
            from_epoch: latest_epoch.to_string(),
            to_epoch: latest_epoch.to_string(),
            from_date: e.first[..10].to_string(),
            to_date: e.last[..10].to_string(),
            geom_wgs84: e.outline_wgs84.clone(),
            area_ha: e.forest_ha,
            pixels: e.members.len() as u64,
            centroid: c,
            commune_code: e
                .communes
                .first()
                .map(|c| c.0.clone())
                .unwrap_or_else(|| members[0].commune_code.clone()),
            communes: e.communes.clone(),
            zone_species: e.zone_species.clone(),
            zone_code: e.zone_code.clone(),
            natural_lost: None,
            natural_lost_ha: 0.0,
            severity: e.severity,
            clear_obs: e.members.len() as u32,
            first_seen: e.first[..10].to_string(),
            season_mismatch: false,
            cause: canopy_store::alerts::AlertCause::Fire,
        });
    }
    alerts
}
