//! Features as served: static properties plus, for alerts, the triage status; and
//! the ETag of an alert.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::respond::Link;
use crate::snapshot::{Item, Snapshot};

/// One GeoJSON feature (the geometry is pre-serialized).
#[derive(Serialize)]
pub struct Feature<'a> {
    #[serde(rename = "type")]
    pub ty: &'static str,
    pub id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bbox: Option<[f64; 4]>,
    pub geometry: Option<&'a RawValue>,
    pub properties: Cow<'a, Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub links: Option<Vec<Link>>,
}

/// The properties of a feature of `collection`: alerts get `status`, `status_by`,
/// `status_at` and `note` from their latest triage event.
pub fn properties<'a>(
    snap: &Snapshot,
    collection: &str,
    it: &'a Item,
) -> Cow<'a, Map<String, Value>> {
    if collection != "alerts" {
        return Cow::Borrowed(&it.props);
    }
    let mut p = it.props.clone();
    let e = snap.status(&it.id);
    let s = |x: Option<&String>| x.map_or(Value::Null, |v| Value::String(v.clone()));
    p.insert(
        "status".into(),
        Value::String(e.map_or("new".into(), |e| e.status.clone())),
    );
    p.insert("status_by".into(), s(e.map(|e| &e.by)));
    p.insert("status_at".into(), s(e.map(|e| &e.at)));
    p.insert(
        "note".into(),
        s(e.map(|e| &e.note).filter(|n| !n.is_empty())),
    );
    Cow::Owned(p)
}

pub fn feature<'a>(
    snap: &Snapshot,
    collection: &str,
    it: &'a Item,
    links: Option<Vec<Link>>,
) -> Feature<'a> {
    Feature {
        ty: "Feature",
        id: &it.id,
        bbox: it.bbox,
        geometry: it.geometry_json.as_deref(),
        properties: properties(snap, collection, it),
        links,
    }
}

/// A strong ETag of an alert: changes with its properties and with every triage
/// event (even one that sets the same status again).
pub fn etag(snap: &Snapshot, it: &Item) -> String {
    let mut h = Sha256::new();
    h.update(it.id.as_bytes());
    h.update(serde_json::to_vec(&properties(snap, "alerts", it)).unwrap_or_default());
    h.update(it.geometry_json.as_ref().map_or("", |g| g.get()).as_bytes());
    let n = snap.triage.get(&it.id).map_or(0, |v| v.len());
    h.update(n.to_le_bytes());
    format!("\"{}\"", &hex::encode(h.finalize())[..20])
}
