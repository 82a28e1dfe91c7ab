//! The table of served collections: ids, properties, filters.
//!
//! One table drives everything that must agree: the query parser (which parameters
//! a collection accepts: anything else is a 400), the filters, the `/queryables` and
//! `describedby` JSON Schemas, and the OpenAPI document at `/api`. Adding a property or
//! a filter here adds it everywhere, so the documentation cannot drift from the code.

/// JSON type of a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropType {
    String,
    Number,
    Integer,
    Boolean,
}

impl PropType {
    pub fn json_name(self) -> &'static str {
        match self {
            PropType::String => "string",
            PropType::Number => "number",
            PropType::Integer => "integer",
            PropType::Boolean => "boolean",
        }
    }
}

/// A feature property.
#[derive(Debug)]
pub struct PropDef {
    pub name: &'static str,
    pub ty: PropType,
    pub description: &'static str,
    /// Allowed values (an enum), empty when free.
    pub values: &'static [&'static str],
    /// May be null.
    pub nullable: bool,
    /// ISO 8601 date (`format: date`).
    pub date: bool,
    /// RFC 3339 date-time (`format: date-time`).
    pub datetime: bool,
}

/// How a filter parameter matches a feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// Equal to the string value of this property.
    Property(&'static str),
    /// Equal to the alert's current triage status.
    Status,
    /// The feature lies in (touches) this commune code.
    Commune,
    /// The commune name, compared without diacritics, case or tone-mark placement.
    Name,
}

/// A property filter: `param=v1,v2` keeps features matching any of the values.
#[derive(Debug)]
pub struct FilterDef {
    pub param: &'static str,
    pub matches: Match,
    pub description: &'static str,
    /// Allowed values, empty when free; others are a 400.
    pub values: &'static [&'static str],
}

/// A served collection.
#[derive(Debug)]
pub struct CollectionDef {
    /// The collection, typed (what the snapshot is indexed by).
    pub key: CollectionId,
    pub id: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// What one feature is, for the item-type member.
    pub item_type: &'static str,
    /// What `datetime` filters on.
    pub time: &'static str,
    pub props: &'static [PropDef],
    pub filters: &'static [FilterDef],
}

impl CollectionDef {
    pub fn filter(&self, param: &str) -> Option<&'static FilterDef> {
        self.filters.iter().find(|f| f.param == param)
    }
    pub fn prop(&self, name: &str) -> Option<&'static PropDef> {
        self.props.iter().find(|p| p.name == name)
    }
}

const fn p(name: &'static str, ty: PropType, description: &'static str) -> PropDef {
    PropDef {
        name,
        ty,
        description,
        values: &[],
        nullable: false,
        date: false,
        datetime: false,
    }
}
const fn opt(name: &'static str, ty: PropType, description: &'static str) -> PropDef {
    PropDef {
        nullable: true,
        ..p(name, ty, description)
    }
}
const fn date(name: &'static str, description: &'static str) -> PropDef {
    PropDef {
        date: true,
        ..p(name, PropType::String, description)
    }
}

use PropType::{Boolean, Integer, Number, String as Str};

/// Severity values, most severe first.
pub const SEVERITIES: &[&str] = &["high", "medium", "low"];
/// Alert kinds.
pub const KINDS: &[&str] = &["loss", "fire"];
/// Alert causes.
pub const CAUSES: &[&str] = &["unknown", "fire"];
/// Triage statuses.
pub const STATUSES: &[&str] = &["new", "confirmed", "dismissed"];

pub static COMMUNES: CollectionDef = CollectionDef {
    key: CollectionId::Communes,
    id: "communes",
    title: "Communes",
    description: "Commune and ward boundaries with the latest epoch's forest cover and the change since the previous epoch.",
    item_type: "feature",
    time: "the date of the latest epoch (the figures' date)",
    props: &[
        p("code", Str, "Commune code (ma_xa)"),
        p("name", Str, "Commune name (Unicode NFC)"),
        p("natural_ha", Number, "Natural (total land) area, ha"),
        opt("epoch", Str, "The latest epoch (the figures below are for it)"),
        PropDef { date: true, ..opt("epoch_date", Str, "Date of the latest epoch") },
        opt("forest_ha", Number, "Forest area, ha"),
        opt("observed_ha", Number, "Observed (cloud-free) area, ha"),
        opt("unobserved_ha", Number, "Unobserved area, ha"),
        opt("cover_pct", Number, "Forest cover rate: forest ÷ observed × 100"),
        opt("observed_pct", Number, "Observed share of the natural area, %"),
        opt("change_from", Str, "Earlier epoch of the change figures"),
        opt("change_to", Str, "Later epoch of the change figures"),
        opt("loss_ha", Number, "Forest lost between change_from and change_to, ha"),
        opt("gain_ha", Number, "Forest gained, ha"),
        opt("net_ha", Number, "gain − loss, ha"),
    ],
    filters: &[
        FilterDef { param: "code", matches: Match::Property("code"), description: "Commune codes", values: &[] },
        FilterDef { param: "name", matches: Match::Name, description: "Commune names, with or without diacritics", values: &[] },
    ],
};

pub static ALERTS: CollectionDef = CollectionDef {
    key: CollectionId::Alerts,
    id: "alerts",
    title: "Forest-loss alerts",
    description: "Connected patches of forest loss between two epochs, with their severity and the rangers' triage status.",
    item_type: "feature",
    time: "the interval from_date … to_date (an alert matches when it intersects the datetime)",
    props: &[
        p("alert_id", Str, "Stable alert id (also the feature id)"),
        p("commune_code", Str, "Commune holding the largest share"),
        opt("commune_name", Str, "Its name"),
        p("communes", Str, "Every commune touched, comma-separated codes, largest share first"),
        p("from_epoch", Str, "Earlier epoch"),
        p("to_epoch", Str, "Later epoch"),
        date("from_date", "Date of the earlier epoch"),
        date("to_date", "Date of the later epoch"),
        p("area_ha", Number, "Area lost, ha"),
        opt("pixels", Integer, "Pixels in the patch"),
        opt("centroid_lon", Number, "Centroid longitude"),
        opt("centroid_lat", Number, "Centroid latitude"),
        opt("zone_species", Str, "Species of the planting zone holding at least half of it"),
        opt("zone_code", Str, "That zone's code"),
        opt("natural_lost", Boolean, "Natural forest was lost (class epochs; null for spectral)"),
        opt("natural_lost_ha", Number, "Natural forest lost, ha"),
        PropDef { values: SEVERITIES, ..p("severity", Str, "high: natural forest or outside every zone; low: harvest in an acacia/pine zone; medium: other zones") },
        opt("clear_obs", Integer, "Clear observations of the later epoch that saw the patch as non-forest (1 for a single-date epoch)"),
        PropDef { date: true, ..opt("first_seen", Str, "Date (YYYY-MM-DD) of the first of them: when the clearing was first seen") },
        opt("season_mismatch", Boolean, "The two epochs cover different seasons (phenology guard): leaf-off can look like loss"),
        PropDef { values: KINDS, ..p("kind", Str, "loss: forest loss between two epochs; fire: a fire event in forest (satellite hotspots; from_date/to_date are its first and last detection, area_ha the forest inside its outline, pixels its detections)") },
        PropDef { values: CAUSES, ..p("cause", Str, "fire: a fire alert, or a loss alert more than half of whose area burned between its epochs (dNBR; needs a SWIR band); unknown: nothing tells") },
        PropDef { values: STATUSES, ..p("status", Str, "Triage status (latest event)") },
        opt("status_by", Str, "Ranger who set the status"),
        PropDef { datetime: true, ..opt("status_at", Str, "When (UTC, RFC 3339)") },
        opt("note", Str, "The ranger's note"),
    ],
    filters: &[
        FilterDef { param: "severity", matches: Match::Property("severity"), description: "Severities", values: SEVERITIES },
        FilterDef { param: "kind", matches: Match::Property("kind"), description: "Alert kinds", values: KINDS },
        FilterDef { param: "cause", matches: Match::Property("cause"), description: "Alert causes", values: CAUSES },
        FilterDef { param: "status", matches: Match::Status, description: "Triage statuses", values: STATUSES },
        FilterDef { param: "species", matches: Match::Property("zone_species"), description: "Planting-zone species", values: &[] },
        FilterDef { param: "zone_code", matches: Match::Property("zone_code"), description: "Planting-zone codes", values: &[] },
        FilterDef { param: "commune", matches: Match::Commune, description: "Commune codes (alerts touching them)", values: &[] },
        FilterDef { param: "from_epoch", matches: Match::Property("from_epoch"), description: "Earlier epochs", values: &[] },
        FilterDef { param: "to_epoch", matches: Match::Property("to_epoch"), description: "Later epochs", values: &[] },
    ],
};

pub static ZONES: CollectionDef = CollectionDef {
    key: CollectionId::Zones,
    id: "zones",
    title: "Planting zones",
    description: "Planting zones (vùng trồng), one feature per zone × commune piece, with the latest epoch's forest figures.",
    item_type: "feature",
    time: "the date of the latest epoch (the figures' date)",
    props: &[
        opt("piece_id", Str, "Id of this zone × commune piece (also the feature id)"),
        opt("zone_code", Str, "Planting-zone code (mã số vùng trồng)"),
        opt("species", Str, "Species (pine, anise, acacia, cinnamon, …)"),
        opt("commune_code", Str, "Commune of this piece"),
        opt("commune_name", Str, "Its name"),
        opt("area_ha", Number, "Area of the piece, ha"),
        opt("zone_area_ha", Number, "Area of the whole zone, ha"),
        opt("epoch", Str, "The latest epoch (the figures below are for it)"),
        opt("forest_ha", Number, "Forest area in the latest epoch, ha"),
        opt("observed_ha", Number, "Observed area in the latest epoch, ha"),
        opt("cover_pct", Number, "Forest cover of the piece, %"),
        opt("change_from", Str, "Earlier epoch of the change figures"),
        opt("loss_ha", Number, "Forest lost since change_from, ha"),
        opt("gain_ha", Number, "Forest gained since change_from, ha"),
    ],
    filters: &[
        FilterDef { param: "species", matches: Match::Property("species"), description: "Species", values: &[] },
        FilterDef { param: "zone_code", matches: Match::Property("zone_code"), description: "Planting-zone codes", values: &[] },
        FilterDef { param: "commune", matches: Match::Commune, description: "Commune codes", values: &[] },
    ],
};

pub static HOTSPOTS: CollectionDef = CollectionDef {
    key: CollectionId::Hotspots,
    id: "hotspots",
    title: "Satellite fire hotspots",
    description: "NASA FIRMS active-fire detections inside the region (points), with their footprint's commune, planting zone, forest fraction (latest epoch) and fire event.",
    item_type: "feature",
    time: "the acquisition date (UTC)",
    props: &[
        opt("hotspot_id", Str, "Stable id (also the feature id)"),
        opt("event_id", Str, "The fire event it belongs to"),
        opt("source", Str, "Input file name"),
        opt("sensor", Str, "MODIS or VIIRS"),
        opt("satellite", Str, "Satellite as FIRMS writes it (Terra, Aqua, N, N20, N21, …)"),
        opt("instrument", Str, "Instrument"),
        opt("version", Str, "FIRMS version as written (6.03, 6.1NRT, 2.0NRT, …)"),
        opt("acquired", Str, "Acquisition time, UTC (YYYY-MM-DDTHH:MMZ)"),
        PropDef { date: true, ..opt("acq_date", Str, "Acquisition date, UTC") },
        opt("daynight", Str, "D (day) or N (night)"),
        opt("confidence", Str, "low, nominal or high (MODIS: < 30, 30–79, ≥ 80)"),
        opt("confidence_raw", Str, "Confidence as written (0–100 or l/n/h)"),
        opt("frp_mw", Number, "Fire radiative power, MW"),
        opt("brightness_k", Number, "Brightness temperature, K (MODIS brightness, VIIRS bright_ti4)"),
        opt("scan_km", Number, "Pixel size along scan, km"),
        opt("track_km", Number, "Pixel size along track, km"),
        opt("firms_type", Integer, "Archive files: 0 vegetation fire, 1 volcano, 2 other static land source, 3 offshore"),
        opt("commune_code", Str, "Commune holding the point"),
        opt("zone_species", Str, "Planting zone holding the point: species"),
        opt("zone_code", Str, "Planting zone code"),
        opt("plot", Str, "Forest plot (lô rừng) holding the largest part of the footprint (null without plots)"),
        opt("plot_owner", Str, "That plot's owner"),
        opt("plot_owner_category", Str, "That plot's owner category (code)"),
        opt("plot_function", Str, "That plot's forest function (special-use, protection, production)"),
        opt("plots", Str, "Plots the footprint touches, JSON [{parcel_id, ha, share, owner, owner_category, function}], largest first"),
        opt("footprint_ha", Number, "Footprint (scan × track around the point), ha"),
        opt("forest_ha", Number, "Forest in the footprint, latest epoch, ha"),
        opt("observed_ha", Number, "Observed area of the footprint, latest epoch, ha"),
        opt("forest_fraction", Number, "forest_ha ÷ footprint_ha"),
        opt("alertable", Integer, "1 when it can make an alert (confidence, type)"),
    ],
    filters: &[
        FilterDef { param: "event_id", matches: Match::Property("event_id"), description: "Fire events", values: &[] },
        FilterDef { param: "confidence", matches: Match::Property("confidence"), description: "Confidence classes", values: &["low", "nominal", "high"] },
        FilterDef { param: "commune", matches: Match::Commune, description: "Commune codes", values: &[] },
    ],
};

pub static FIRE_EVENTS: CollectionDef = CollectionDef {
    key: CollectionId::FireEvents,
    id: "fire_events",
    title: "Fire events",
    description: "Hotspots of the same fire (within 24 h and 1 km of each other) grouped; outline = union of their footprints. An event in forest is also an alert of kind fire with the same id.",
    item_type: "feature",
    time: "first … last detection",
    props: &[
        opt("event_id", Str, "Stable id (also the feature id, and the alert's id when alert = 1)"),
        opt("first_detection", Str, "First detection, UTC"),
        opt("last_detection", Str, "Last detection, UTC"),
        opt("hotspots", Integer, "Detections"),
        opt("max_frp_mw", Number, "Largest fire radiative power, MW"),
        opt("area_ha", Number, "Area of the outline, ha"),
        opt("forest_ha", Number, "Forest inside the outline, latest epoch, ha"),
        opt("commune_code", Str, "Commune holding the largest share of the outline"),
        opt("communes", Str, "Communes touched, JSON [{code, ha}], largest first"),
        opt("zone_species", Str, "Planting zone holding most detections: species"),
        opt("zone_code", Str, "That zone's code"),
        opt("plot", Str, "Forest plot (lô rừng) holding the largest part of the outline (null without plots)"),
        opt("plot_owner", Str, "That plot's owner"),
        opt("plot_owner_category", Str, "That plot's owner category (code)"),
        opt("plot_function", Str, "That plot's forest function (special-use, protection, production)"),
        opt("plots", Str, "Plots the outline touches, JSON [{parcel_id, ha, share, owner, owner_category, function}], largest first"),
        PropDef { values: SEVERITIES, ..opt("severity", Str, "high: in a special-use or protection plot, or touches forest outside every planting zone; medium: forest in planting zones only") },
        opt("alert", Integer, "1 when it became an alert"),
    ],
    filters: &[
        FilterDef { param: "severity", matches: Match::Property("severity"), description: "Severities", values: SEVERITIES },
        FilterDef { param: "commune", matches: Match::Commune, description: "Commune codes", values: &[] },
    ],
};

/// Forest functions (plot codes, as `canopy_core::parcel::ForestFunction` stores them).
pub const FUNCTIONS: &[&str] = &["special-use", "protection", "production"];
/// Owner categories (as `canopy_core::parcel::OwnerCategory` stores them).
pub const OWNER_CATEGORIES: &[&str] = &[
    "management-board",
    "state-company",
    "other-organisation",
    "science-training",
    "household",
    "community",
    "armed-forces",
    "foreign-invested",
    "commune-committee",
];
/// Plot origins.
pub const ORIGINS: &[&str] = &["natural", "planted"];

pub static PARCELS: CollectionDef = CollectionDef {
    key: CollectionId::Parcels,
    id: "parcels",
    title: "Forest plots",
    description: "Forest plots (lô rừng) with their compartment codes, forest function, owner and owner category, and the latest epoch's forest figures and change.",
    item_type: "feature",
    time: "the date of the latest epoch (the figures' date)",
    props: &[
        p("parcel_id", Str, "Plot id (also the feature id): tiểu khu-khoảnh-lô or the id field of the plot layer"),
        p("compartment", Str, "Tiểu khu (compartment), empty when the layer gives only an id"),
        p("sub_compartment", Str, "Khoảnh (sub-compartment)"),
        p("plot", Str, "Lô (plot number within the khoảnh)"),
        p("commune_code", Str, "Commune holding the plot (its interior point)"),
        PropDef { values: FUNCTIONS, ..p("function", Str, "Forest function: special-use (đặc dụng), protection (phòng hộ), production (sản xuất)") },
        p("function_vi", Str, "The function in Vietnamese"),
        p("forest_type", Str, "Forest state or land-forest type (or species) as the plot layer gives it"),
        PropDef { values: ORIGINS, ..opt("origin", Str, "Origin: natural or planted") },
        p("owner", Str, "Forest owner (chủ rừng)"),
        PropDef { values: OWNER_CATEGORIES, ..p("owner_category", Str, "Owner category as the law names it") },
        p("owner_category_vi", Str, "The owner category in Vietnamese"),
        p("area_ha", Number, "Plot area (exact, in the region's area_crs), ha"),
        opt("epoch", Str, "The latest epoch (the figures below are for it)"),
        opt("forest_ha", Number, "Forest area in the latest epoch, ha"),
        opt("observed_ha", Number, "Observed area in the latest epoch, ha"),
        opt("cover_pct", Number, "Forest cover of the plot, %"),
        opt("change_from", Str, "Earlier epoch of the change figures"),
        opt("loss_ha", Number, "Forest lost since change_from, ha"),
        opt("gain_ha", Number, "Forest gained since change_from, ha"),
    ],
    filters: &[
        FilterDef { param: "commune", matches: Match::Commune, description: "Commune codes", values: &[] },
        FilterDef { param: "owner_category", matches: Match::Property("owner_category"), description: "Owner categories", values: OWNER_CATEGORIES },
        FilterDef { param: "function", matches: Match::Property("function"), description: "Forest functions", values: FUNCTIONS },
        FilterDef { param: "plot_id", matches: Match::Property("parcel_id"), description: "Plot ids", values: &[] },
    ],
};

/// Every collection, in the order `/collections` lists them.
pub static ALL: [&CollectionDef; 6] = [
    &COMMUNES,
    &ALERTS,
    &ZONES,
    &HOTSPOTS,
    &FIRE_EVENTS,
    &PARCELS,
];

/// The served collections. A path's `{collectionId}` is parsed into one once
/// ([`find`]); an unknown id is a 404 there, never another collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CollectionId {
    Communes,
    Alerts,
    Zones,
    Hotspots,
    FireEvents,
    Parcels,
}

impl CollectionId {
    /// The collection's definition.
    pub fn def(self) -> &'static CollectionDef {
        match self {
            CollectionId::Communes => &COMMUNES,
            CollectionId::Alerts => &ALERTS,
            CollectionId::Zones => &ZONES,
            CollectionId::Hotspots => &HOTSPOTS,
            CollectionId::FireEvents => &FIRE_EVENTS,
            CollectionId::Parcels => &PARCELS,
        }
    }
}

/// The JSON Schema of one property.
impl PropDef {
    /// The property's JSON Schema (OpenAPI 3.0 style when `openapi`: `nullable`
    /// instead of a type list).
    pub fn schema(&self, openapi: bool) -> serde_json::Value {
        let p = self;
        let mut s = serde_json::Map::new();
        s.insert("title".into(), serde_json::json!(p.name));
        s.insert("description".into(), serde_json::json!(p.description));
        if p.nullable {
            if openapi {
                s.insert("type".into(), serde_json::json!(p.ty.json_name()));
                s.insert("nullable".into(), serde_json::json!(true));
            } else {
                s.insert("type".into(), serde_json::json!([p.ty.json_name(), "null"]));
            }
        } else {
            s.insert("type".into(), serde_json::json!(p.ty.json_name()));
        }
        if p.date {
            s.insert("format".into(), serde_json::json!("date"));
        }
        if p.datetime {
            s.insert("format".into(), serde_json::json!("date-time"));
        }
        if !p.values.is_empty() {
            s.insert("enum".into(), serde_json::json!(p.values));
        }
        serde_json::Value::Object(s)
    }
}

/// The largest accepted triage note, in characters.
pub const MAX_NOTE: usize = 2_000;
/// The largest accepted request body, in bytes.
pub const MAX_BODY: usize = 16 * 1024;

/// The collection with this id.
pub fn find(id: &str) -> Option<&'static CollectionDef> {
    ALL.iter().copied().find(|c| c.id == id)
}

/// Query parameters every items request accepts.
pub const COMMON_ITEM_PARAMS: &[&str] = &[
    "f",
    "bbox",
    "limit",
    "offset",
    "datetime",
    "crs",
    "bbox-crs",
    "sortby",
    "filter",
    "filter-lang",
];

/// Items per page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: usize = 10;
/// The largest page; a larger `limit` is served as this many (OGC API - Features
/// requirement /req/core/fc-limit-response-1). Large enough for the map page to fetch
/// a whole collection at once.
pub const MAX_LIMIT: usize = 10_000;

#[cfg(test)]
mod collection_id_tests {
    use super::*;

    #[test]
    fn each_id_parses_to_its_own_collection() {
        for def in ALL {
            assert_eq!(find(def.id).map(|d| d.key), Some(def.key));
            assert_eq!(def.key.def().id, def.id);
        }
        assert!(find("nope").is_none());
        assert!(find("Zones").is_none(), "ids are exact");
    }

    #[test]
    fn plot_codes_are_the_cores() {
        use canopy_core::parcel::{ForestFunction, Origin, OwnerCategory};
        let f: Vec<&str> = ForestFunction::ALL.iter().map(|x| x.code()).collect();
        assert_eq!(f, FUNCTIONS);
        let c: Vec<&str> = OwnerCategory::ALL.iter().map(|x| x.code()).collect();
        assert_eq!(c, OWNER_CATEGORIES);
        let o: Vec<&str> = Origin::ALL.iter().map(|x| x.code()).collect();
        assert_eq!(o, ORIGINS);
    }
}
