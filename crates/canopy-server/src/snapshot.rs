//! The immutable in-memory snapshot of a store that every request reads.
//!
//! A snapshot is built from the store's layers in one go ([`Snapshot::load`]) and never
//! changes; a new store (a finished `canopy run`) or a triage write makes a new snapshot
//! that replaces the old one atomically (see `reload`). Requests therefore never see a
//! half-written state, and reads take no lock.
//!
//! Features are prepared once: geometry oriented, rounded and serialized to GeoJSON,
//! its bounding box put into an R-tree (rstar) per collection, its properties as a JSON
//! map, its time interval as Unix seconds. Serving a page is then filtering indices and
//! copying strings. The triage history lives apart from the features ([`Triage`]) so a
//! triage write replaces only that part.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use canopy_store::{Layers, Row, StoreError};
use geo::Intersects;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::collections::CollectionId;
use crate::geometry;
use crate::time::day_interval;
use canopy_core::text::fold;

/// The layers a snapshot reads.
pub const LAYERS: &[&str] = &[
    "communes",
    "cover",
    "province_cover",
    "epochs",
    "change",
    "province_change",
    "alerts",
    "alert_triage",
    "zones",
    "runs",
    "hotspots",
    "fire_events",
];

/// One served feature.
#[derive(Debug)]
pub struct Item {
    pub id: String,
    /// Oriented and rounded (what is served), for exact bbox tests.
    pub geometry: Option<geo::Geometry<f64>>,
    /// The same as GeoJSON text.
    pub geometry_json: Option<Box<RawValue>>,
    pub bbox: Option<[f64; 4]>,
    pub props: Map<String, Value>,
    /// Inclusive interval, Unix seconds.
    pub time: Option<(i64, i64)>,
    /// Commune codes the feature lies in (for the `commune` filter).
    pub communes: Vec<String>,
    /// Folded name (communes), for the `name` filter.
    pub name_key: String,
}

impl Item {
    /// Whether the feature intersects `b` (`[min lon, min lat, max lon, max lat]`).
    pub fn intersects(&self, b: &[f64; 4]) -> bool {
        let (Some(fb), Some(g)) = (self.bbox, &self.geometry) else {
            return false;
        };
        if fb[2] < b[0] || fb[0] > b[2] || fb[3] < b[1] || fb[1] > b[3] {
            return false;
        }
        if fb[0] >= b[0] && fb[2] <= b[2] && fb[1] >= b[1] && fb[3] <= b[3] {
            return true;
        }
        let rect = geo::Rect::new(
            geo::coord! {x: b[0], y: b[1]},
            geo::coord! {x: b[2], y: b[3]},
        );
        g.intersects(&rect)
    }
}

type Entry = GeomWithData<Rectangle<[f64; 2]>, usize>;

/// A collection's features with an id map and an R-tree of their bounding boxes.
#[derive(Debug, Default)]
pub struct ItemSet {
    pub items: Vec<Item>,
    by_id: HashMap<String, usize>,
    tree: RTree<Entry>,
    /// Spatial extent (CRS84), none when empty.
    pub extent: Option<[f64; 4]>,
    /// Temporal extent (Unix seconds), none when no feature has a time.
    pub interval: Option<(i64, i64)>,
}

impl ItemSet {
    pub fn new(items: Vec<Item>) -> Self {
        let mut by_id = HashMap::with_capacity(items.len());
        let mut entries = Vec::with_capacity(items.len());
        let mut extent = None;
        let mut interval: Option<(i64, i64)> = None;
        for (i, it) in items.iter().enumerate() {
            by_id.insert(it.id.clone(), i);
            if let Some(b) = it.bbox {
                entries.push(GeomWithData::new(
                    Rectangle::from_corners([b[0], b[1]], [b[2], b[3]]),
                    i,
                ));
                extent = Some(geometry::union(extent, b));
            }
            if let Some((a, b)) = it.time {
                interval = Some(match interval {
                    None => (a, b),
                    Some((x, y)) => (x.min(a), y.max(b)),
                });
            }
        }
        ItemSet {
            items,
            by_id,
            tree: RTree::bulk_load(entries),
            extent,
            interval,
        }
    }

    pub fn get(&self, id: &str) -> Option<&Item> {
        self.by_id.get(id).map(|&i| &self.items[i])
    }

    /// Indices of the features intersecting `b`, in collection order. `b` may cross
    /// the antimeridian (min lon > max lon).
    pub fn in_bbox(&self, b: &[f64; 4]) -> Vec<usize> {
        let boxes = if b[0] <= b[2] {
            vec![*b]
        } else {
            vec![[b[0], b[1], 180.0, b[3]], [-180.0, b[1], b[2], b[3]]]
        };
        let mut out: Vec<usize> = Vec::new();
        for bb in &boxes {
            let env = AABB::from_corners([bb[0], bb[1]], [bb[2], bb[3]]);
            out.extend(
                self.tree
                    .locate_in_envelope_intersecting(&env)
                    .map(|e| e.data)
                    .filter(|&i| self.items[i].intersects(bb)),
            );
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// One epoch.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Epoch {
    pub id: String,
    pub date: String,
}

/// Cover figures of a commune or the province for one epoch.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CoverRec {
    pub epoch: String,
    pub date: Option<String>,
    pub natural_ha: Option<f64>,
    pub forest_ha: Option<f64>,
    pub observed_ha: Option<f64>,
    pub unobserved_ha: Option<f64>,
    pub cover_pct: Option<f64>,
    pub observed_pct: Option<f64>,
}

/// Change figures of a commune or the province between two epochs.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChangeRec {
    pub commune_code: Option<String>,
    pub from_epoch: String,
    pub to_epoch: String,
    pub loss_ha: Option<f64>,
    pub gain_ha: Option<f64>,
    pub net_ha: Option<f64>,
    pub unobserved_ha: Option<f64>,
    /// Class-to-class transitions (class epochs), else null.
    pub transitions: Option<Vec<Transition>>,
}

/// Hectares that went from one land-cover class to another (the store's
/// `transitions` JSON, as `canopy-store`'s change table writes it).
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Transition {
    pub from: i64,
    pub to: i64,
    pub ha: f64,
}

/// A commune's identity.
#[derive(Debug, Clone, Serialize)]
pub struct CommuneRef {
    pub code: String,
    pub name: String,
}

/// One triage event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TriageEvent {
    pub status: String,
    pub note: String,
    pub by: String,
    pub at: String,
}

/// The triage history per alert id, oldest event first.
pub type Triage = HashMap<String, Vec<TriageEvent>>;

/// Everything of a store except the triage history.
#[derive(Debug, Default)]
pub struct StoreData {
    pub region_name: String,
    pub epochs: Vec<Epoch>,
    pub communes: ItemSet,
    pub alerts: ItemSet,
    pub zones: ItemSet,
    /// FIRMS hotspots and fire events (empty without `[fire] hotspots`).
    pub hotspots: ItemSet,
    pub fire_events: ItemSet,
    /// Per commune code, in epoch order.
    pub cover: BTreeMap<String, Vec<CoverRec>>,
    pub province_cover: Vec<CoverRec>,
    pub change: Vec<ChangeRec>,
    pub province_change: Vec<ChangeRec>,
    /// Communes in store order.
    pub commune_list: Vec<CommuneRef>,
    /// Whether the store has a zones layer.
    pub has_zones: bool,
    /// The latest run's finish time.
    pub last_run: Option<String>,
    /// Species-zone figures (`species_summary`, `species_overlap`, zone totals), when
    /// read from a store file.
    pub species: Option<canopy_store::StoredZones>,
    /// Progress against the stored targets (none when the run had no targets).
    pub progress: Option<canopy_core::targets::Progress>,
    /// The `fire_danger` rows (commune × day), when the run had `[fire]`.
    pub fire_danger: Vec<canopy_core::fire::DangerRow>,
    /// The `burned_area` rows (unit × epoch pair), when some pair had SWIR.
    pub burned_area: Vec<canopy_store::BurnedAreaRow>,
    /// The `observations` rows (commune × epoch: scenes, mean clear observations).
    pub observations: Vec<canopy_store::ObservationRow>,
    /// The forest-plot change-tracking summaries (`parcel_summary`), when the run
    /// had `[parcels]`.
    pub parcel_summary: Vec<canopy_store::parcels::ParcelSummaryRow>,
}

/// The store file's identity (device, inode, mtime, size, SQLite change counter).
pub type Stamp = canopy_store::FileId;

/// What requests read.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub data: Arc<StoreData>,
    pub triage: Arc<Triage>,
    /// The store file's stamp when this was read (none for in-memory snapshots).
    pub stamp: Option<Stamp>,
}

fn s(r: &Row, k: &str) -> String {
    match r.fields.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(v) => v.to_string(),
    }
}
fn opt_s(r: &Row, k: &str) -> Option<String> {
    Some(s(r, k)).filter(|v| !v.is_empty())
}
fn f(r: &Row, k: &str) -> Option<f64> {
    r.fields.get(k).and_then(Value::as_f64)
}
fn num(x: Option<f64>) -> Value {
    x.and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}
fn str_or_null(x: Option<String>) -> Value {
    x.map_or(Value::Null, Value::String)
}

fn cover_rec(r: &Row, dates: &HashMap<String, String>) -> CoverRec {
    let epoch = s(r, "epoch");
    CoverRec {
        date: dates.get(&epoch).cloned(),
        epoch,
        natural_ha: f(r, "natural_ha"),
        forest_ha: f(r, "forest_ha"),
        observed_ha: f(r, "observed_ha"),
        unobserved_ha: f(r, "unobserved_ha"),
        cover_pct: f(r, "cover_pct"),
        observed_pct: f(r, "observed_pct"),
    }
}

fn change_rec(r: &Row, with_code: bool) -> ChangeRec {
    ChangeRec {
        commune_code: if with_code {
            opt_s(r, "commune_code")
        } else {
            None
        },
        from_epoch: s(r, "from_epoch"),
        to_epoch: s(r, "to_epoch"),
        loss_ha: f(r, "loss_ha"),
        gain_ha: f(r, "gain_ha"),
        net_ha: f(r, "net_ha"),
        unobserved_ha: f(r, "unobserved_ha"),
        transitions: opt_s(r, "transitions").and_then(|t| serde_json::from_str(&t).ok()),
    }
}

fn item(
    id: String,
    geom: Option<&geo::Geometry<f64>>,
    props: Map<String, Value>,
    time: Option<(i64, i64)>,
    communes: Vec<String>,
) -> Item {
    let geometry = geom.map(geometry::prepare);
    Item {
        id,
        geometry_json: geometry.as_ref().map(geometry::to_json),
        bbox: geometry.as_ref().and_then(geometry::bbox),
        name_key: props
            .get("name")
            .and_then(Value::as_str)
            .map(fold)
            .unwrap_or_default(),
        geometry,
        props,
        time,
        communes,
    }
}

impl Snapshot {
    /// Reads the store at `path`: one open dataset, so one consistent state (the
    /// served layers, the zone tables, target progress and fire danger all come
    /// through the same [`canopy_store::Reader`]).
    pub fn load(path: &Path) -> Result<Snapshot, StoreError> {
        let stamp = Stamp::of(path);
        let store = canopy_store::Store::open(path)?.read()?;
        let layers = store.layers(LAYERS)?;
        if !layers.contains_key("communes") {
            return Err(StoreError::invalid(
                path,
                "has no communes layer (is it a store written by `canopy run`?)",
            ));
        }
        let mut snap = Snapshot::from_layers(&layers);
        let mut zones = store.zones()?;
        zones.pieces.clear(); // served from the zones layer above
        let data = Arc::get_mut(&mut snap.data).expect("a new snapshot is not shared");
        data.species = Some(zones);
        data.progress = store.progress()?;
        data.fire_danger = store.fire_danger(None)?;
        data.burned_area = store.burned_area()?;
        data.observations = store.observations()?;
        data.parcel_summary = store.parcel_summary()?;
        snap.stamp = stamp;
        Ok(snap)
    }

    /// Builds a snapshot from layer rows (as `canopy_store::Reader::layers` reads them).
    pub fn from_layers(layers: &Layers) -> Snapshot {
        let rows = |n: &str| layers.get(n).map(Vec::as_slice).unwrap_or(&[]);
        let epochs: Vec<Epoch> = rows("epochs")
            .iter()
            .map(|r| Epoch {
                id: s(r, "id"),
                date: s(r, "date"),
            })
            .collect();
        let dates: HashMap<String, String> = epochs
            .iter()
            .map(|e| (e.id.clone(), e.date.clone()))
            .collect();
        let latest = epochs.last().cloned();
        let previous = epochs.len().checked_sub(2).map(|i| epochs[i].clone());
        let latest_time = latest.as_ref().and_then(|e| day_interval(&e.date));

        let mut cover: BTreeMap<String, Vec<CoverRec>> = BTreeMap::new();
        for r in rows("cover") {
            cover
                .entry(s(r, "commune_code"))
                .or_default()
                .push(cover_rec(r, &dates));
        }
        let order: HashMap<&str, usize> = epochs
            .iter()
            .enumerate()
            .map(|(i, e)| (e.id.as_str(), i))
            .collect();
        let rank = |e: &str| order.get(e).copied().unwrap_or(usize::MAX);
        for v in cover.values_mut() {
            v.sort_by_key(|c| rank(&c.epoch));
        }
        let mut province_cover: Vec<CoverRec> = rows("province_cover")
            .iter()
            .map(|r| cover_rec(r, &dates))
            .collect();
        province_cover.sort_by_key(|c| rank(&c.epoch));
        let change: Vec<ChangeRec> = rows("change").iter().map(|r| change_rec(r, true)).collect();
        let province_change: Vec<ChangeRec> = rows("province_change")
            .iter()
            .map(|r| change_rec(r, false))
            .collect();
        let latest_change: HashMap<&str, &ChangeRec> = match (&previous, &latest) {
            (Some(p), Some(l)) => change
                .iter()
                .filter(|c| c.from_epoch == p.id && c.to_epoch == l.id)
                .filter_map(|c| c.commune_code.as_deref().map(|k| (k, c)))
                .collect(),
            _ => HashMap::new(),
        };

        // communes
        let mut commune_list = Vec::new();
        let mut communes = Vec::new();
        for r in rows("communes") {
            let code = s(r, "code");
            let name = s(r, "name");
            commune_list.push(CommuneRef {
                code: code.clone(),
                name: name.clone(),
            });
            let mut p = Map::new();
            p.insert("code".into(), Value::String(code.clone()));
            p.insert("name".into(), Value::String(name));
            p.insert("natural_ha".into(), num(f(r, "natural_ha")));
            let cov = latest.as_ref().and_then(|l| {
                cover
                    .get(&code)
                    .and_then(|v| v.iter().find(|c| c.epoch == l.id))
            });
            p.insert("epoch".into(), str_or_null(cov.map(|c| c.epoch.clone())));
            p.insert(
                "epoch_date".into(),
                str_or_null(cov.and_then(|c| c.date.clone())),
            );
            for (k, v) in [
                ("forest_ha", cov.and_then(|c| c.forest_ha)),
                ("observed_ha", cov.and_then(|c| c.observed_ha)),
                ("unobserved_ha", cov.and_then(|c| c.unobserved_ha)),
                ("cover_pct", cov.and_then(|c| c.cover_pct)),
                ("observed_pct", cov.and_then(|c| c.observed_pct)),
            ] {
                p.insert(k.into(), num(v));
            }
            let ch = latest_change.get(code.as_str());
            p.insert(
                "change_from".into(),
                str_or_null(ch.map(|c| c.from_epoch.clone())),
            );
            p.insert(
                "change_to".into(),
                str_or_null(ch.map(|c| c.to_epoch.clone())),
            );
            p.insert("loss_ha".into(), num(ch.and_then(|c| c.loss_ha)));
            p.insert("gain_ha".into(), num(ch.and_then(|c| c.gain_ha)));
            p.insert("net_ha".into(), num(ch.and_then(|c| c.net_ha)));
            communes.push(item(
                code.clone(),
                r.geometry.as_ref(),
                p,
                latest_time,
                vec![code],
            ));
        }
        let names: HashMap<&str, &str> = commune_list
            .iter()
            .map(|c| (c.code.as_str(), c.name.as_str()))
            .collect();

        // alerts
        let mut alerts = Vec::new();
        for r in rows("alerts") {
            let id = s(r, "alert_id");
            let code = s(r, "commune_code");
            let touched: Vec<String> = opt_s(r, "communes")
                .and_then(|t| serde_json::from_str::<Vec<Value>>(&t).ok())
                .unwrap_or_default()
                .iter()
                .filter_map(|v| v["code"].as_str().map(String::from))
                .collect();
            let mut touched = if touched.is_empty() {
                vec![code.clone()]
            } else {
                touched
            };
            if !touched.contains(&code) {
                touched.insert(0, code.clone());
            }
            let mut p = Map::new();
            p.insert("alert_id".into(), Value::String(id.clone()));
            p.insert("commune_code".into(), Value::String(code.clone()));
            p.insert(
                "commune_name".into(),
                str_or_null(names.get(code.as_str()).map(|n| n.to_string())),
            );
            p.insert("communes".into(), Value::String(touched.join(",")));
            for k in ["from_epoch", "to_epoch", "from_date", "to_date"] {
                p.insert(k.into(), Value::String(s(r, k)));
            }
            p.insert("area_ha".into(), num(f(r, "area_ha")));
            p.insert(
                "pixels".into(),
                r.fields.get("pixels").cloned().unwrap_or(Value::Null),
            );
            p.insert("centroid_lon".into(), num(f(r, "centroid_lon")));
            p.insert("centroid_lat".into(), num(f(r, "centroid_lat")));
            p.insert("zone_species".into(), str_or_null(opt_s(r, "zone_species")));
            p.insert("zone_code".into(), str_or_null(opt_s(r, "zone_code")));
            p.insert(
                "natural_lost".into(),
                r.fields
                    .get("natural_lost")
                    .and_then(Value::as_i64)
                    .map_or(Value::Null, |v| Value::Bool(v != 0)),
            );
            p.insert("natural_lost_ha".into(), num(f(r, "natural_lost_ha")));
            p.insert("severity".into(), Value::String(s(r, "severity")));
            p.insert(
                "clear_obs".into(),
                r.fields.get("clear_obs").cloned().unwrap_or(Value::Null),
            );
            p.insert("first_seen".into(), str_or_null(opt_s(r, "first_seen")));
            p.insert(
                "season_mismatch".into(),
                r.fields
                    .get("season_mismatch")
                    .and_then(Value::as_i64)
                    .map_or(Value::Null, |v| Value::Bool(v != 0)),
            );
            // Stores older than fire alerts have loss alerts only.
            p.insert(
                "kind".into(),
                Value::String(opt_s(r, "kind").unwrap_or_else(|| "loss".into())),
            );
            let time = match (
                day_interval(&s(r, "from_date")),
                day_interval(&s(r, "to_date")),
            ) {
                (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
                (a, b) => a.or(b),
            };
            alerts.push(item(id, r.geometry.as_ref(), p, time, touched));
        }

        // zones: every field of the layer is served
        let has_zones = layers.contains_key("zones");
        let mut zones = Vec::new();
        for r in rows("zones") {
            let mut p = Map::new();
            for (k, v) in &r.fields {
                p.insert(k.clone(), v.clone());
            }
            let code = opt_s(r, "commune_code");
            zones.push(item(
                opt_s(r, "piece_id").unwrap_or_else(|| r.fid.to_string()),
                r.geometry.as_ref(),
                p,
                latest_time,
                code.into_iter().collect(),
            ));
        }

        // hotspots and fire events: every field of the layers is served
        let hotspots: Vec<Item> = rows("hotspots")
            .iter()
            .map(|r| {
                let time = opt_s(r, "acq_date").and_then(|d| day_interval(&d));
                item(
                    opt_s(r, "hotspot_id").unwrap_or_else(|| r.fid.to_string()),
                    r.geometry.as_ref(),
                    r.fields.clone().into_iter().collect(),
                    time,
                    opt_s(r, "commune_code").into_iter().collect(),
                )
            })
            .collect();
        let fire_events: Vec<Item> = rows("fire_events")
            .iter()
            .map(|r| {
                let day =
                    |k: &str| opt_s(r, k).and_then(|d| day_interval(d.get(..10).unwrap_or("")));
                let time = match (day("first_detection"), day("last_detection")) {
                    (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
                    (a, b) => a.or(b),
                };
                let communes: Vec<String> = opt_s(r, "communes")
                    .and_then(|t| serde_json::from_str::<Vec<Value>>(&t).ok())
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|v| v["code"].as_str().map(String::from))
                    .collect();
                item(
                    opt_s(r, "event_id").unwrap_or_else(|| r.fid.to_string()),
                    r.geometry.as_ref(),
                    r.fields.clone().into_iter().collect(),
                    time,
                    communes,
                )
            })
            .collect();

        let mut triage = Triage::new();
        for r in rows("alert_triage") {
            triage
                .entry(s(r, "alert_id"))
                .or_default()
                .push(TriageEvent {
                    status: s(r, "status"),
                    note: s(r, "note"),
                    by: s(r, "by"),
                    at: s(r, "at"),
                });
        }
        let last = rows("runs").last();
        Snapshot {
            data: Arc::new(StoreData {
                region_name: last.map(|r| s(r, "region_name")).unwrap_or_default(),
                last_run: last.and_then(|r| opt_s(r, "finished_at")),
                epochs,
                communes: ItemSet::new(communes),
                alerts: ItemSet::new(alerts),
                zones: ItemSet::new(zones),
                hotspots: ItemSet::new(hotspots),
                fire_events: ItemSet::new(fire_events),
                cover,
                province_cover,
                change,
                province_change,
                commune_list,
                has_zones,
                species: None,
                progress: None,
                fire_danger: Vec::new(),
                burned_area: Vec::new(),
                observations: Vec::new(),
                parcel_summary: Vec::new(),
            }),
            triage: Arc::new(triage),
            stamp: None,
        }
    }

    /// The features of a collection.
    pub fn items(&self, collection: CollectionId) -> &ItemSet {
        match collection {
            CollectionId::Communes => &self.data.communes,
            CollectionId::Alerts => &self.data.alerts,
            CollectionId::Zones => &self.data.zones,
            CollectionId::Hotspots => &self.data.hotspots,
            CollectionId::FireEvents => &self.data.fire_events,
        }
    }

    /// The current triage status of an alert: its latest event, if any.
    pub fn status(&self, alert_id: &str) -> Option<&TriageEvent> {
        self.triage.get(alert_id).and_then(|v| v.last())
    }

    /// A copy with one more triage event (the features are shared, not copied).
    pub fn with_event(&self, alert_id: &str, e: TriageEvent, stamp: Option<Stamp>) -> Snapshot {
        let mut triage = (*self.triage).clone();
        triage.entry(alert_id.to_string()).or_default().push(e);
        Snapshot {
            data: self.data.clone(),
            triage: Arc::new(triage),
            stamp,
        }
    }
}
