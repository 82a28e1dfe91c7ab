//! Planner endpoints: commune lookup, a commune's cover time series, change between
//! two epochs, province totals per epoch.
//!
//! These serve the long tables of the store (`cover`, `change`, `province_*`) that the
//! OGC collections flatten to the latest epoch. Communes are found by code or by name,
//! with or without diacritics (see `names`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Serialize;
use serde_json::json;

use crate::error::ApiError;
use crate::names::fold;
use crate::query::{format, get, only};
use crate::respond::{base_url, document, link, self_links, Link, Query, GEOJSON, JSON};
use crate::snapshot::{ChangeRec, CommuneRef, Snapshot};
use crate::state::AppState;

#[derive(Serialize)]
struct Match {
    code: String,
    name: String,
    links: Vec<Link>,
}

/// Communes matching `q`: the code itself, the name (folded) exactly, then names
/// containing it. Empty `q`: every commune.
pub fn lookup<'a>(snap: &'a Snapshot, q: &str) -> Vec<&'a CommuneRef> {
    let list = &snap.data.commune_list;
    let q = q.trim();
    if q.is_empty() {
        return list.iter().collect();
    }
    let key = fold(q);
    let mut exact: Vec<&CommuneRef> = list
        .iter()
        .filter(|c| c.code == q || fold(&c.name) == key)
        .collect();
    let partial: Vec<&CommuneRef> = list
        .iter()
        .filter(|c| !exact.iter().any(|e| e.code == c.code) && fold(&c.name).contains(&key))
        .collect();
    exact.extend(partial);
    exact
}

/// The commune named by a path segment: a code, or a name matching exactly one commune.
fn commune<'a>(snap: &'a Snapshot, key: &str) -> Result<&'a CommuneRef, ApiError> {
    let list = &snap.data.commune_list;
    if let Some(c) = list.iter().find(|c| c.code == key) {
        return Ok(c);
    }
    let k = fold(key);
    let named: Vec<&CommuneRef> = list.iter().filter(|c| fold(&c.name) == k).collect();
    match named[..] {
        [c] => Ok(c),
        [] => Err(ApiError::NotFound(format!(
            "no commune with code or name \"{key}\" (search with /stats/communes?q=...)"
        ))),
        _ => Err(ApiError::NotFound(format!(
            "\"{key}\" names several communes ({}); use the code",
            named
                .iter()
                .map(|c| c.code.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// `GET /stats/communes?q=`.
pub async fn communes(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(p): Query,
) -> Result<Response, ApiError> {
    only(&p, &["f", "q"])?;
    let fmt = format(&p, &headers)?;
    let base = base_url(&st.settings, &headers);
    let snap = st.snapshot();
    let q = get(&p, "q").unwrap_or("");
    let matches: Vec<Match> = lookup(&snap, q)
        .into_iter()
        .map(|c| Match {
            code: c.code.clone(),
            name: c.name.clone(),
            links: vec![
                link(
                    format!("{base}/stats/communes/{}", crate::ogc::urlencode(&c.code)),
                    "related",
                    JSON,
                    "Cover time series",
                ),
                link(
                    format!(
                        "{base}/collections/communes/items/{}",
                        crate::ogc::urlencode(&c.code)
                    ),
                    "item",
                    GEOJSON,
                    "The commune feature",
                ),
            ],
        })
        .collect();
    let doc = json!({
        "query": q,
        "numberMatched": matches.len(),
        "communes": matches,
        "links": self_links(&base, "/stats/communes", &p, fmt, JSON),
    });
    Ok(document(fmt, "Communes", &doc, JSON))
}

/// `GET /stats/communes/{code}`: cover per epoch and every change row of a commune.
pub async fn commune_series(
    State(st): State<Arc<AppState>>,
    Path(key): Path<String>,
    headers: HeaderMap,
    Query(p): Query,
) -> Result<Response, ApiError> {
    only(&p, &["f"])?;
    let fmt = format(&p, &headers)?;
    let base = base_url(&st.settings, &headers);
    let snap = st.snapshot();
    let c = commune(&snap, &key)?;
    let cover = snap.data.cover.get(&c.code).cloned().unwrap_or_default();
    let change: Vec<&ChangeRec> = snap
        .data
        .change
        .iter()
        .filter(|r| r.commune_code.as_deref() == Some(&c.code))
        .collect();
    let natural = cover.iter().find_map(|r| r.natural_ha);
    let mut links = self_links(
        &base,
        &format!("/stats/communes/{}", crate::ogc::urlencode(&key)),
        &p,
        fmt,
        JSON,
    );
    links.push(link(
        format!(
            "{base}/collections/communes/items/{}",
            crate::ogc::urlencode(&c.code)
        ),
        "item",
        GEOJSON,
        "The commune feature",
    ));
    links.push(link(
        format!(
            "{base}/collections/alerts/items?commune={}",
            crate::ogc::urlencode(&c.code)
        ),
        "related",
        GEOJSON,
        "Alerts in this commune",
    ));
    let doc = json!({
        "code": c.code,
        "name": c.name,
        "natural_ha": natural,
        "cover": cover,
        "change": change,
        "links": links,
    });
    Ok(document(fmt, &c.name, &doc, JSON))
}

/// `GET /stats/change?from=&to=[&commune=]`: change between two epochs (default: the
/// last two), per commune and for the province.
pub async fn change(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(p): Query,
) -> Result<Response, ApiError> {
    only(&p, &["f", "from", "to", "commune"])?;
    let fmt = format(&p, &headers)?;
    let base = base_url(&st.settings, &headers);
    let snap = st.snapshot();
    let d = &snap.data;
    let n = d.epochs.len();
    let (from, to) = match (get(&p, "from"), get(&p, "to")) {
        (Some(a), Some(b)) => (a.to_string(), b.to_string()),
        (None, None) if n >= 2 => (d.epochs[n - 2].id.clone(), d.epochs[n - 1].id.clone()),
        (None, None) => {
            return Err(ApiError::NotFound(
                "the store has a single epoch: no change".into(),
            ))
        }
        _ => {
            return Err(ApiError::BadRequest(
                "give both from and to (epoch ids), or neither for the last two epochs".into(),
            ))
        }
    };
    for e in [&from, &to] {
        if !d.epochs.iter().any(|x| &x.id == e) {
            return Err(ApiError::BadRequest(format!(
                "no epoch \"{e}\"; epochs: {}",
                d.epochs
                    .iter()
                    .map(|x| x.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let province = d
        .province_change
        .iter()
        .find(|r| r.from_epoch == from && r.to_epoch == to);
    let mut rows: Vec<&ChangeRec> = d
        .change
        .iter()
        .filter(|r| r.from_epoch == from && r.to_epoch == to)
        .collect();
    if province.is_none() && rows.is_empty() {
        let pairs: Vec<String> = d
            .province_change
            .iter()
            .map(|r| format!("{}→{}", r.from_epoch, r.to_epoch))
            .collect();
        return Err(ApiError::NotFound(format!(
            "no change computed from {from} to {to}; computed pairs: {} (run `canopy run --pair {from}:{to}`)",
            if pairs.is_empty() { "none".into() } else { pairs.join(", ") }
        )));
    }
    if let Some(c) = get(&p, "commune") {
        let c = commune(&snap, c)?;
        rows.retain(|r| r.commune_code.as_deref() == Some(&c.code));
    }
    let names: std::collections::HashMap<&str, &str> = d
        .commune_list
        .iter()
        .map(|c| (c.code.as_str(), c.name.as_str()))
        .collect();
    let communes: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap_or_default();
            v["name"] = json!(r.commune_code.as_deref().and_then(|c| names.get(c)));
            v
        })
        .collect();
    let date = |e: &str| d.epochs.iter().find(|x| x.id == e).map(|x| x.date.clone());
    let doc = json!({
        "from": from,
        "to": to,
        "from_date": date(&from),
        "to_date": date(&to),
        "province": province,
        "communes": communes,
        "links": self_links(&base, "/stats/change", &p, fmt, JSON),
    });
    Ok(document(fmt, &format!("Change {from} → {to}"), &doc, JSON))
}

/// `GET /stats/province`: province totals per epoch and the province change rows.
pub async fn province(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(p): Query,
) -> Result<Response, ApiError> {
    only(&p, &["f"])?;
    let fmt = format(&p, &headers)?;
    let base = base_url(&st.settings, &headers);
    let snap = st.snapshot();
    let d = &snap.data;
    let doc = json!({
        "region": d.region_name,
        "epochs": d.epochs,
        "cover": d.province_cover,
        "change": d.province_change,
        "last_run": d.last_run,
        "links": self_links(&base, "/stats/province", &p, fmt, JSON),
    });
    Ok(document(fmt, "Province totals", &doc, JSON))
}
