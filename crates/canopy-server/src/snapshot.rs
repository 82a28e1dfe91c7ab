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

use canopy_store::zones::ZonePiece;
use canopy_store::{
    ChangeRow, CoverRow, FireEventRow, HotspotRow, Reader, RunRecord, StoreError, StoredAlert,
    StoredCommune,
};
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
                extent = Some(canopy_core::bbox::union(extent, b));
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

/// The triage history per alert id, oldest event first. Each alert's history is
/// shared between snapshots: a triage write copies the map's pointers and the one
/// history it extends, not every event of the store.
pub type Triage = HashMap<String, Arc<Vec<TriageEvent>>>;

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
    /// The vector-tile layers (communes, zones, plots), built once per snapshot.
    pub tiles: crate::tiles::TileSets,
    /// The forest plots (`parcels` layer), when the run had `[parcels]`.
    pub parcels: ItemSet,
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

fn num(x: Option<f64>) -> Value {
    x.and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}
fn str_or_null(x: Option<String>) -> Value {
    x.map_or(Value::Null, Value::String)
}
/// `Some` when not empty (a NULL string reads as empty).
fn non_empty(x: &str) -> Option<String> {
    Some(x).filter(|v| !v.is_empty()).map(String::from)
}
/// An outline as served: none when empty.
fn outline(m: &geo::MultiPolygon<f64>) -> Option<geo::Geometry<f64>> {
    (!m.0.is_empty()).then(|| geo::Geometry::MultiPolygon(m.clone()))
}
/// The union of two day intervals (either may be missing).
fn span(a: Option<(i64, i64)>, b: Option<(i64, i64)>) -> Option<(i64, i64)> {
    match (a, b) {
        (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
        (a, b) => a.or(b),
    }
}

fn cover_rec(r: &CoverRow, dates: &HashMap<String, String>) -> CoverRec {
    let x = &r.figures;
    CoverRec {
        date: dates.get(&r.epoch).cloned(),
        epoch: r.epoch.clone(),
        natural_ha: Some(x.natural_ha),
        forest_ha: Some(x.forest_ha),
        observed_ha: Some(x.observed_ha),
        unobserved_ha: Some(x.unobserved_ha),
        cover_pct: x.cover_pct,
        observed_pct: Some(x.observed_pct),
    }
}

fn change_rec(r: &ChangeRow, with_code: bool) -> ChangeRec {
    ChangeRec {
        commune_code: if with_code {
            non_empty(&r.commune_code)
        } else {
            None
        },
        from_epoch: r.from_epoch.clone(),
        to_epoch: r.to_epoch.clone(),
        loss_ha: Some(r.loss_ha),
        gain_ha: Some(r.gain_ha),
        net_ha: Some(r.net_ha),
        unobserved_ha: Some(r.unobserved_ha),
        transitions: (!r.transitions.is_empty()).then(|| {
            r.transitions
                .iter()
                .map(|&(from, to, ha)| Transition { from, to, ha })
                .collect()
        }),
    }
}

/// The typed tables a snapshot is built from, as [`canopy_store::Reader`] reads
/// them (each table's fields are owned by its `canopy_store` module).
#[derive(Debug, Default)]
pub struct Tables {
    /// Epoch ids and dates, in order.
    pub epochs: Vec<(String, String)>,
    pub communes: Vec<(StoredCommune, Option<geo::Geometry<f64>>)>,
    pub cover: Vec<CoverRow>,
    pub province_cover: Vec<CoverRow>,
    pub change: Vec<ChangeRow>,
    pub province_change: Vec<ChangeRow>,
    pub alerts: Vec<(StoredAlert, Option<geo::Geometry<f64>>)>,
    /// The triage history, oldest first.
    pub triage: Vec<canopy_store::TriageEvent>,
    /// The `zones` layer's pieces; none when the store has no such layer.
    pub zones: Option<Vec<ZonePiece>>,
    pub hotspots: Vec<HotspotRow>,
    pub fire_events: Vec<FireEventRow>,
    /// The plots of the hotspots and fire events (`fire_parcels`; empty without
    /// plots).
    pub fire_parcels: Vec<canopy_store::parcels::FireParcel>,
    pub runs: Vec<RunRecord>,
}

impl Tables {
    /// Reads the served tables through `r` (an absent optional table reads as empty).
    pub fn read(r: &Reader) -> Result<Tables, StoreError> {
        if !r.has_table(canopy_store::communes::LAYER) {
            return Err(StoreError::invalid(
                r.path(),
                "has no communes layer (is it a store written by `canopy run`?)",
            ));
        }
        let has = |t: &str| r.has_table(t);
        let (change, province_change) = r.change()?;
        Ok(Tables {
            epochs: if has(canopy_store::epochs::LAYER) {
                r.epoch_dates()?
            } else {
                Vec::new()
            },
            communes: r.commune_features()?,
            cover: if has(canopy_store::cover::LAYER) {
                r.cover_rows(true)?
            } else {
                Vec::new()
            },
            province_cover: if has(canopy_store::cover::PROVINCE_LAYER) {
                r.cover_rows(false)?
            } else {
                Vec::new()
            },
            change,
            province_change,
            alerts: if has(canopy_store::alerts::LAYER) {
                r.alert_features()?
            } else {
                Vec::new()
            },
            triage: r.triage()?,
            zones: None, // with the species tables, see Snapshot::load
            hotspots: r.hotspots()?,
            fire_events: r.fire_events()?,
            fire_parcels: r.fire_parcels()?,
            runs: if has(canopy_store::runs::LAYER) {
                r.runs()?
            } else {
                Vec::new()
            },
        })
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
    /// served tables, the zone tables, target progress and fire danger all come
    /// through the same [`canopy_store::Reader`], each as its typed rows).
    pub fn load(path: &Path) -> Result<Snapshot, StoreError> {
        let stamp = Stamp::of(path);
        let store = canopy_store::Store::open(path)?.read()?;
        let mut tables = Tables::read(&store)?;
        let mut zones = store.zones()?;
        if store.has_table(canopy_store::zones::LAYER) {
            tables.zones = Some(std::mem::take(&mut zones.pieces));
        }
        zones.pieces.clear(); // served as the zones collection
        let mut snap = Snapshot::from_tables(tables);
        let data = Arc::get_mut(&mut snap.data).expect("a new snapshot is not shared");
        data.species = Some(zones);
        data.progress = store.progress()?;
        data.fire_danger = store.fire_danger(None)?;
        data.burned_area = store.burned_area()?;
        data.observations = store.observations()?;
        data.parcel_summary = store.parcel_summary()?;
        if store.has_table(canopy_store::parcels::LAYER) {
            let plots = store.parcels()?;
            let time = data.epochs.last().and_then(|e| day_interval(&e.date));
            data.parcels = ItemSet::new(plots.iter().map(|r| parcel_item(r, time)).collect());
            let tiles = std::mem::take(&mut data.tiles);
            data.tiles = tiles.with_parcels(&plots);
        }
        snap.stamp = stamp;
        Ok(snap)
    }

    /// Builds a snapshot from a store's typed tables.
    pub fn from_tables(t: Tables) -> Snapshot {
        let epochs: Vec<Epoch> = t
            .epochs
            .iter()
            .map(|(id, date)| Epoch {
                id: id.clone(),
                date: date.clone(),
            })
            .collect();
        let dates: HashMap<String, String> = t.epochs.iter().cloned().collect();
        let latest = epochs.last().cloned();
        let previous = epochs.len().checked_sub(2).map(|i| epochs[i].clone());
        let latest_time = latest.as_ref().and_then(|e| day_interval(&e.date));

        let mut cover: BTreeMap<String, Vec<CoverRec>> = BTreeMap::new();
        for r in &t.cover {
            cover
                .entry(r.commune_code.clone())
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
        let mut province_cover: Vec<CoverRec> = t
            .province_cover
            .iter()
            .map(|r| cover_rec(r, &dates))
            .collect();
        province_cover.sort_by_key(|c| rank(&c.epoch));
        let change: Vec<ChangeRec> = t.change.iter().map(|r| change_rec(r, true)).collect();
        let province_change: Vec<ChangeRec> = t
            .province_change
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
        for (r, geom) in &t.communes {
            let code = r.code.clone();
            commune_list.push(CommuneRef {
                code: code.clone(),
                name: r.name.clone(),
            });
            let mut p = Map::new();
            p.insert("code".into(), Value::String(code.clone()));
            p.insert("name".into(), Value::String(r.name.clone()));
            p.insert("natural_ha".into(), num(Some(r.natural_ha)));
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
                geom.as_ref(),
                p,
                latest_time,
                vec![code],
            ));
        }
        let names: HashMap<&str, &str> = commune_list
            .iter()
            .map(|c| (c.code.as_str(), c.name.as_str()))
            .collect();

        let alerts = t
            .alerts
            .iter()
            .map(|(a, geom)| alert_item(a, geom.as_ref(), &names))
            .collect();

        // zones: every field of the piece is served
        let has_zones = t.zones.is_some();
        let zones = t
            .zones
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, z)| {
                let p = match serde_json::to_value(z) {
                    Ok(Value::Object(m)) => m,
                    _ => Map::new(),
                };
                item(
                    non_empty(&z.piece_id).unwrap_or_else(|| (i + 1).to_string()),
                    outline(&z.geom_wgs84).as_ref(),
                    p,
                    latest_time,
                    non_empty(&z.commune_code).into_iter().collect(),
                )
            })
            .collect();

        let plots = plots_by_feature(&t.fire_parcels);
        let hotspots = t
            .hotspots
            .iter()
            .enumerate()
            .map(|x| with_plots(hotspot_item(x), &plots))
            .collect();
        let fire_events = t
            .fire_events
            .iter()
            .enumerate()
            .map(|x| with_plots(fire_event_item(x), &plots))
            .collect();

        let mut triage = Triage::new();
        for e in &t.triage {
            Arc::make_mut(triage.entry(e.alert_id.clone()).or_default()).push(TriageEvent {
                status: e.status.as_str().to_string(),
                note: e.note.clone(),
                by: e.by.clone(),
                at: e.at.clone(),
            });
        }
        let last = t.runs.last();
        let (communes, zones) = (ItemSet::new(communes), ItemSet::new(zones));
        let tiles = crate::tiles::TileSets::new(&communes, &zones);
        Snapshot {
            data: Arc::new(StoreData {
                region_name: last.map(|r| r.region_name.clone()).unwrap_or_default(),
                last_run: last.and_then(|r| non_empty(&r.finished_at)),
                epochs,
                communes,
                alerts: ItemSet::new(alerts),
                zones,
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
                tiles,
                parcels: ItemSet::default(),
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
            CollectionId::Parcels => &self.data.parcels,
        }
    }

    /// The current triage status of an alert: its latest event, if any.
    pub fn status(&self, alert_id: &str) -> Option<&TriageEvent> {
        self.triage.get(alert_id).and_then(|v| v.last())
    }

    /// A copy with one more triage event (the features are shared, not copied).
    pub fn with_event(&self, alert_id: &str, e: TriageEvent, stamp: Option<Stamp>) -> Snapshot {
        let mut triage = (*self.triage).clone();
        Arc::make_mut(triage.entry(alert_id.to_string()).or_default()).push(e);
        Snapshot {
            data: self.data.clone(),
            triage: Arc::new(triage),
            stamp,
        }
    }
}

/// An alert as served (its triage status is added per request, see `features`).
fn alert_item(
    a: &StoredAlert,
    geom: Option<&geo::Geometry<f64>>,
    names: &HashMap<&str, &str>,
) -> Item {
    let code = a.commune_code.clone();
    let mut touched = if a.communes.is_empty() {
        vec![code.clone()]
    } else {
        a.communes.clone()
    };
    if !touched.contains(&code) {
        touched.insert(0, code.clone());
    }
    let mut p = Map::new();
    p.insert("alert_id".into(), Value::String(a.id.clone()));
    p.insert("commune_code".into(), Value::String(code.clone()));
    p.insert(
        "commune_name".into(),
        str_or_null(names.get(code.as_str()).map(|n| n.to_string())),
    );
    p.insert("communes".into(), Value::String(touched.join(",")));
    for (k, v) in [
        ("from_epoch", &a.from_epoch),
        ("to_epoch", &a.to_epoch),
        ("from_date", &a.from_date),
        ("to_date", &a.to_date),
    ] {
        p.insert(k.into(), Value::String(v.clone()));
    }
    p.insert("area_ha".into(), num(Some(a.area_ha)));
    p.insert("pixels".into(), a.pixels.map_or(Value::Null, Value::from));
    p.insert("centroid_lon".into(), num(Some(a.centroid.0)));
    p.insert("centroid_lat".into(), num(Some(a.centroid.1)));
    p.insert("zone_species".into(), str_or_null(a.zone_species.clone()));
    p.insert("zone_code".into(), str_or_null(a.zone_code.clone()));
    p.insert(
        "natural_lost".into(),
        a.natural_lost.map_or(Value::Null, Value::Bool),
    );
    p.insert("natural_lost_ha".into(), num(a.natural_lost_ha));
    p.insert("severity".into(), Value::String(a.severity.as_str().into()));
    p.insert("clear_obs".into(), Value::from(a.clear_obs));
    p.insert("first_seen".into(), str_or_null(non_empty(&a.first_seen)));
    p.insert("season_mismatch".into(), Value::Bool(a.season_mismatch));
    p.insert("kind".into(), Value::String(a.kind.as_str().into()));
    p.insert("cause".into(), Value::String(a.cause.as_str().into()));
    let time = span(day_interval(&a.from_date), day_interval(&a.to_date));
    item(a.id.clone(), geom, p, time, touched)
}

/// A hotspot as served: every field of its row, `alertable` as 0/1.
fn hotspot_item((i, h): (usize, &HotspotRow)) -> Item {
    let s = |x: &str| Value::String(x.to_string());
    let o = |x: &Option<String>| str_or_null(x.clone());
    let r = |x: f64| num(Some(x));
    let p: Map<String, Value> = [
        ("hotspot_id", s(&h.hotspot_id)),
        ("event_id", s(&h.event_id)),
        ("source", s(&h.source)),
        ("sensor", s(&h.sensor)),
        ("satellite", s(&h.satellite)),
        ("instrument", s(&h.instrument)),
        ("version", s(&h.version)),
        ("acquired", s(&h.acquired)),
        ("acq_date", s(&h.acq_date)),
        ("daynight", s(&h.daynight)),
        ("confidence", s(&h.confidence)),
        ("confidence_raw", s(&h.confidence_raw)),
        ("frp_mw", r(h.frp_mw)),
        ("brightness_k", r(h.brightness_k)),
        ("scan_km", r(h.scan_km)),
        ("track_km", r(h.track_km)),
        ("firms_type", h.firms_type.map_or(Value::Null, Value::from)),
        ("commune_code", s(&h.commune_code)),
        ("zone_species", o(&h.zone_species)),
        ("zone_code", o(&h.zone_code)),
        ("plot", o(&h.plot)),
        ("footprint_ha", r(h.footprint_ha)),
        ("forest_ha", r(h.forest_ha)),
        ("observed_ha", r(h.observed_ha)),
        ("forest_fraction", r(h.forest_fraction)),
        ("alertable", Value::from(h.alertable as i32)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let point = (h.lon.is_finite() && h.lat.is_finite())
        .then(|| geo::Geometry::Point(geo::Point::new(h.lon, h.lat)));
    item(
        non_empty(&h.hotspot_id).unwrap_or_else(|| (i + 1).to_string()),
        point.as_ref(),
        p,
        day_interval(&h.acq_date),
        non_empty(&h.commune_code).into_iter().collect(),
    )
}

/// The `fire_parcels` rows by hotspot or event id (stored order: largest part first).
fn plots_by_feature(
    rows: &[canopy_store::parcels::FireParcel],
) -> HashMap<&str, Vec<&canopy_store::parcels::AlertParcel>> {
    let mut out: HashMap<&str, Vec<_>> = HashMap::new();
    for r in rows {
        out.entry(r.feature_id.as_str())
            .or_default()
            .push(&r.parcel);
    }
    out
}

/// A hotspot or fire event with its forest plots (issue 14/17): `plot`, `plot_owner`,
/// `plot_owner_category` and `plot_function` of the plot holding the largest part
/// of its footprint (outline), and `plots`, every plot touched as JSON text
/// `[{parcel_id, ha, share, owner, owner_category, function}]`, largest first
/// (null without plots).
fn with_plots(
    mut item: Item,
    plots: &HashMap<&str, Vec<&canopy_store::parcels::AlertParcel>>,
) -> Item {
    let touched = plots.get(item.id.as_str());
    let main = touched.and_then(|t| t.first());
    let p = &mut item.props;
    let s = |x: Option<&str>| x.map_or(Value::Null, |v| Value::String(v.to_string()));
    if main.is_some() || !p.contains_key("plot") {
        p.insert("plot".into(), s(main.map(|m| m.parcel_id.as_str())));
    }
    p.insert("plot_owner".into(), s(main.map(|m| m.owner.as_str())));
    p.insert(
        "plot_owner_category".into(),
        s(main.map(|m| m.owner_category.code())),
    );
    p.insert("plot_function".into(), s(main.map(|m| m.function.code())));
    let list = touched.map(|t| {
        let v: Vec<Value> = t
            .iter()
            .map(|a| {
                serde_json::json!({
                    "parcel_id": a.parcel_id,
                    "ha": a.area_ha,
                    "share": a.share,
                    "owner": a.owner,
                    "owner_category": a.owner_category.code(),
                    "function": a.function.code(),
                })
            })
            .collect();
        Value::Array(v).to_string()
    });
    p.insert("plots".into(), s(list.as_deref()));
    item
}

/// A fire event as served: every field of its row, `communes` as the stored JSON,
/// `alert` as 0/1.
fn fire_event_item((i, e): (usize, &FireEventRow)) -> Item {
    let s = |x: &str| Value::String(x.to_string());
    let p: Map<String, Value> = [
        ("event_id", s(&e.event_id)),
        ("first_detection", s(&e.first_detection)),
        ("last_detection", s(&e.last_detection)),
        ("hotspots", Value::from(e.hotspots)),
        ("max_frp_mw", num(Some(e.max_frp_mw))),
        ("area_ha", num(Some(e.area_ha))),
        ("forest_ha", num(Some(e.forest_ha))),
        ("commune_code", s(&e.commune_code)),
        ("communes", s(&canopy_store::shares_json(&e.communes))),
        ("zone_species", str_or_null(e.zone_species.clone())),
        ("zone_code", str_or_null(e.zone_code.clone())),
        ("severity", s(e.severity.as_str())),
        ("alert", Value::from(e.alert as i32)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let day = |d: &str| day_interval(d.get(..10).unwrap_or(""));
    item(
        non_empty(&e.event_id).unwrap_or_else(|| (i + 1).to_string()),
        outline(&e.outline).as_ref(),
        p,
        span(day(&e.first_detection), day(&e.last_detection)),
        e.communes.iter().map(|(c, _)| c.clone()).collect(),
    )
}

/// A forest plot as served: every field of its row, codes for function, origin and
/// owner category (with the Vietnamese labels beside them).
fn parcel_item(r: &canopy_store::parcels::ParcelRow, time: Option<(i64, i64)>) -> Item {
    let s = |x: &str| Value::String(x.to_string());
    let p: Map<String, Value> = [
        ("parcel_id", s(&r.parcel_id)),
        ("compartment", s(&r.compartment)),
        ("sub_compartment", s(&r.sub_compartment)),
        ("plot", s(&r.plot)),
        ("commune_code", s(&r.commune_code)),
        ("function", s(r.function.code())),
        ("function_vi", s(r.function.label_vi())),
        ("forest_type", s(&r.forest_type)),
        (
            "origin",
            str_or_null(r.origin.map(|o| o.code().to_string())),
        ),
        ("owner", s(&r.owner)),
        ("owner_category", s(r.owner_category.code())),
        ("owner_category_vi", s(r.owner_category.label_vi())),
        ("area_ha", num(Some(r.area_ha))),
        ("epoch", str_or_null(r.epoch.clone())),
        ("forest_ha", num(r.forest_ha)),
        ("observed_ha", num(r.observed_ha)),
        ("cover_pct", num(r.cover_pct)),
        ("change_from", str_or_null(r.change_from.clone())),
        ("loss_ha", num(r.loss_ha)),
        ("gain_ha", num(r.gain_ha)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    item(
        r.parcel_id.clone(),
        outline(&r.geom_wgs84).as_ref(),
        p,
        time,
        non_empty(&r.commune_code).into_iter().collect(),
    )
}
