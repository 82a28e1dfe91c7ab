//! Planner endpoints: commune lookup, a commune's cover time series, change between
//! two epochs, province totals per epoch, species-zone figures, target progress and
//! the planners' report (CSV, HTML, Markdown, JSON).
//!
//! These serve the long tables of the store (`cover`, `change`, `province_*`) that the
//! OGC collections flatten to the latest epoch. Communes are found by code or by name,
//! with or without diacritics (see `names`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{error_chain, ApiError};
use crate::query::{format, get, only};
use crate::respond::{link, Link, Query, ReadRequest, GEOJSON, JSON};
use crate::snapshot::{ChangeRec, CommuneRef, CoverRec, Epoch, Snapshot};
use crate::state::AppState;
use canopy_core::targets::Progress;
use canopy_core::text::fold;
use canopy_store::zones::{Overlap, SpeciesRow, ZoneTotal};
use canopy_store::ObservationRow;

// The response documents of the `/stats` endpoints. `/api` derives their schemas
// from these structs (see `openapi`), so a field added here is documented there.
// They are answered with their keys in alphabetical order (through `sorted`), as
// before they were typed.

/// A commune found by `/stats/communes`.
#[derive(Serialize, ToSchema)]
pub struct CommuneMatch {
    code: String,
    name: String,
    links: Vec<Link>,
}

/// `GET /stats/communes`.
#[derive(Serialize, ToSchema)]
pub struct CommuneMatches {
    query: String,
    #[serde(rename = "numberMatched")]
    number_matched: usize,
    communes: Vec<CommuneMatch>,
    links: Vec<Link>,
}

/// `GET /stats/communes/{commune}`.
#[derive(Serialize, ToSchema)]
pub struct CommuneSeries {
    code: String,
    name: String,
    natural_ha: Option<f64>,
    cover: Vec<CoverRec>,
    change: Vec<ChangeRec>,
    links: Vec<Link>,
}

/// A commune's change row with the commune's name.
#[derive(Serialize, ToSchema)]
pub struct NamedChange {
    #[serde(flatten)]
    change: ChangeRec,
    name: Option<String>,
}

/// `GET /stats/change`.
#[derive(Serialize, ToSchema)]
pub struct ChangeReport {
    from: String,
    to: String,
    from_date: Option<String>,
    to_date: Option<String>,
    province: Option<ChangeRec>,
    communes: Vec<NamedChange>,
    links: Vec<Link>,
}

/// `GET /stats/province`.
#[derive(Serialize, ToSchema)]
pub struct ProvinceReport {
    region: String,
    epochs: Vec<Epoch>,
    cover: Vec<CoverRec>,
    change: Vec<ChangeRec>,
    last_run: Option<String>,
    links: Vec<Link>,
}

/// `GET /stats/species`.
#[derive(Serialize, ToSchema)]
pub struct SpeciesReport {
    province_code: String,
    species: Vec<SpeciesRow>,
    overlaps: Vec<Overlap>,
    zones: Vec<ZoneTotal>,
    links: Vec<Link>,
}

/// `GET /stats/observations`.
#[derive(Serialize, ToSchema)]
pub struct ObservationsReport {
    province_code: String,
    observations: Vec<ObservationRow>,
    links: Vec<Link>,
}

/// `GET /stats/targets`.
#[derive(Serialize, ToSchema)]
pub struct TargetsReport {
    has_targets: bool,
    progress: Option<Progress>,
    links: Vec<Link>,
}

/// `doc` as a JSON value: its keys in alphabetical order (serde_json's map).
pub fn sorted<T: Serialize>(doc: &T) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(doc)
        .map_err(|e| ApiError::Store(format!("cannot serialize the response: {e}")))
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
    let r = ReadRequest::new(&st, &headers, &p, &["f", "q"])?;
    let (base, snap) = (&r.base, &r.snap);
    let q = get(&p, "q").unwrap_or("");
    let matches: Vec<CommuneMatch> = lookup(snap, q)
        .into_iter()
        .map(|c| CommuneMatch {
            code: c.code.clone(),
            name: c.name.clone(),
            links: vec![
                link(
                    format!(
                        "{base}/stats/communes/{}",
                        crate::respond::path_segment(&c.code)
                    ),
                    "related",
                    JSON,
                    "Cover time series",
                ),
                commune_feature_link(base, &c.code),
            ],
        })
        .collect();
    let doc = CommuneMatches {
        query: q.to_string(),
        number_matched: matches.len(),
        communes: matches,
        links: r.self_links("/stats/communes", JSON),
    };
    Ok(r.respond("Communes", &sorted(&doc)?, JSON))
}

/// `GET /stats/communes/{code}`: cover per epoch and every change row of a commune.
pub async fn commune_series(
    State(st): State<Arc<AppState>>,
    Path(key): Path<String>,
    headers: HeaderMap,
    Query(p): Query,
) -> Result<Response, ApiError> {
    let r = ReadRequest::new(&st, &headers, &p, &["f"])?;
    let (base, snap) = (&r.base, &r.snap);
    let c = commune(snap, &key)?;
    let cover = snap.data.cover.get(&c.code).cloned().unwrap_or_default();
    let change: Vec<ChangeRec> = snap
        .data
        .change
        .iter()
        .filter(|r| r.commune_code.as_deref() == Some(&c.code))
        .cloned()
        .collect();
    let natural = cover.iter().find_map(|r| r.natural_ha);
    let mut links = r.self_links(
        &format!("/stats/communes/{}", crate::respond::path_segment(&key)),
        JSON,
    );
    links.push(commune_feature_link(base, &c.code));
    links.push(link(
        format!(
            "{base}/collections/alerts/items?commune={}",
            crate::respond::path_segment(&c.code)
        ),
        "related",
        GEOJSON,
        "Alerts in this commune",
    ));
    let doc = CommuneSeries {
        code: c.code.clone(),
        name: c.name.clone(),
        natural_ha: natural,
        cover,
        change,
        links,
    };
    Ok(r.respond(&c.name, &sorted(&doc)?, JSON))
}

/// `GET /stats/change?from=&to=[&commune=]`: change between two epochs (default: the
/// last two), per commune and for the province.
pub async fn change(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(p): Query,
) -> Result<Response, ApiError> {
    let r = ReadRequest::new(&st, &headers, &p, &["f", "from", "to", "commune"])?;
    let snap = &r.snap;
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
        known_epoch(snap, e)?;
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
        let c = commune(snap, c)?;
        rows.retain(|r| r.commune_code.as_deref() == Some(&c.code));
    }
    let names: std::collections::HashMap<&str, &str> = d
        .commune_list
        .iter()
        .map(|c| (c.code.as_str(), c.name.as_str()))
        .collect();
    let communes: Vec<NamedChange> = rows
        .iter()
        .map(|r| NamedChange {
            change: (*r).clone(),
            name: r
                .commune_code
                .as_deref()
                .and_then(|c| names.get(c))
                .map(|n| n.to_string()),
        })
        .collect();
    let date = |e: &str| d.epochs.iter().find(|x| x.id == e).map(|x| x.date.clone());
    let doc = ChangeReport {
        from_date: date(&from),
        to_date: date(&to),
        province: province.cloned(),
        communes,
        links: r.self_links("/stats/change", JSON),
        from,
        to,
    };
    let title = format!("Change {} → {}", doc.from, doc.to);
    Ok(r.respond(&title, &sorted(&doc)?, JSON))
}

/// `GET /stats/province`: province totals per epoch and the province change rows.
pub async fn province(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(p): Query,
) -> Result<Response, ApiError> {
    let r = ReadRequest::new(&st, &headers, &p, &["f"])?;
    let snap = &r.snap;
    let d = &snap.data;
    let doc = ProvinceReport {
        region: d.region_name.clone(),
        epochs: d.epochs.clone(),
        cover: d.province_cover.clone(),
        change: d.province_change.clone(),
        last_run: d.last_run.clone(),
        links: r.self_links("/stats/province", JSON),
    };
    Ok(r.respond("Province totals", &sorted(&doc)?, JSON))
}

/// `GET /stats/species[?epoch=&species=&commune=]`: species-zone figures per commune
/// and for the province (`commune_code` = `PROVINCE`), the overlaps between species
/// and the zones as a whole.
pub async fn species(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(p): Query,
) -> Result<Response, ApiError> {
    let r = ReadRequest::new(&st, &headers, &p, &["f", "epoch", "species", "commune"])?;
    let snap = &r.snap;
    let d = &snap.data;
    let epoch = match get(&p, "epoch") {
        Some(e) => Some(known_epoch(snap, e)?),
        None => None,
    };
    let province = canopy_store::PROVINCE_CODE;
    let commune_code = match get(&p, "commune") {
        Some(c) if c == province => Some(province.to_string()),
        Some(c) => Some(commune(snap, c)?.code.clone()),
        None => None,
    };
    let species = get(&p, "species");
    let empty = canopy_store::StoredZones::default();
    let z = d.species.as_ref().unwrap_or(&empty);
    let rows: Vec<SpeciesRow> = z
        .species
        .iter()
        .filter(|r| epoch.as_deref().is_none_or(|e| r.epoch == e))
        .filter(|r| species.is_none_or(|s| r.species == s))
        .filter(|r| commune_code.as_deref().is_none_or(|c| r.commune_code == c))
        .cloned()
        .collect();
    let overlaps: Vec<Overlap> = z
        .overlaps
        .iter()
        .filter(|o| species.is_none_or(|s| o.species_a == s || o.species_b == s))
        .filter(|o| commune_code.as_deref().is_none_or(|c| o.commune_code == c))
        .cloned()
        .collect();
    let zones: Vec<ZoneTotal> = z
        .zones
        .iter()
        .filter(|t| species.is_none_or(|s| t.species == s))
        .cloned()
        .collect();
    let doc = SpeciesReport {
        province_code: canopy_store::PROVINCE_CODE.to_string(),
        species: rows,
        overlaps,
        zones,
        links: r.self_links("/stats/species", JSON),
    };
    Ok(r.respond("Planting zones by species", &sorted(&doc)?, JSON))
}

/// `GET /stats/observations[?epoch=&commune=]`: per commune (and the province,
/// `commune_code` = `PROVINCE`) and epoch, how many scenes reached it and its mean
/// number of clear observations per pixel (the store's `observations` table).
pub async fn observations(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(p): Query,
) -> Result<Response, ApiError> {
    let r = ReadRequest::new(&st, &headers, &p, &["f", "epoch", "commune"])?;
    let snap = &r.snap;
    let epoch = match get(&p, "epoch") {
        Some(e) => Some(known_epoch(snap, e)?),
        None => None,
    };
    let province = canopy_store::PROVINCE_CODE;
    let commune_code = match get(&p, "commune") {
        Some(c) if c == province => Some(province.to_string()),
        Some(c) => Some(commune(snap, c)?.code.clone()),
        None => None,
    };
    let rows: Vec<ObservationRow> = snap
        .data
        .observations
        .iter()
        .filter(|o| epoch.as_deref().is_none_or(|e| o.epoch == e))
        .filter(|o| commune_code.as_deref().is_none_or(|c| o.commune_code == c))
        .cloned()
        .collect();
    let doc = ObservationsReport {
        province_code: province.to_string(),
        observations: rows,
        links: r.self_links("/stats/observations", JSON),
    };
    Ok(r.respond("Scenes and clear observations", &sorted(&doc)?, JSON))
}

/// The `item` link to a commune's OGC feature.
fn commune_feature_link(base: &str, code: &str) -> Link {
    link(
        format!(
            "{base}/collections/communes/items/{}",
            crate::respond::path_segment(code)
        ),
        "item",
        GEOJSON,
        "The commune feature",
    )
}

fn known_epoch(snap: &Snapshot, e: &str) -> Result<String, ApiError> {
    if snap.data.epochs.iter().any(|x| x.id == e) {
        return Ok(e.to_string());
    }
    Err(ApiError::BadRequest(format!(
        "no epoch \"{e}\"; epochs: {}",
        snap.data
            .epochs
            .iter()
            .map(|x| x.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// `GET /stats/targets`: progress against the plan's targets (cover rate by year,
/// zone area by species), with the method of the trend and every warning.
pub async fn targets(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(p): Query,
) -> Result<Response, ApiError> {
    let r = ReadRequest::new(&st, &headers, &p, &["f"])?;
    let snap = &r.snap;
    let doc = TargetsReport {
        has_targets: snap.data.progress.is_some(),
        progress: snap.data.progress.clone(),
        links: r.self_links("/stats/targets", JSON),
    };
    Ok(r.respond("Progress against the targets", &sorted(&doc)?, JSON))
}

/// `GET /stats/report?epoch=&f=json|csv|html|md`: the planners' report of an epoch
/// (default: the latest), built by `canopy_report` from the store file,
/// exactly as `canopy report` writes it.
pub async fn report(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(p): Query,
) -> Result<Response, ApiError> {
    use axum::http::{header, HeaderValue};
    use axum::response::IntoResponse;
    only(&p, &["f", "epoch"])?;
    let fmt = match get(&p, "f") {
        Some(f @ ("json" | "html" | "csv" | "md")) => f.to_string(),
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "f={other}: expected json, html, csv or md"
            )))
        }
        None => match format(&p, &headers)? {
            crate::query::Format::Html => "html".into(),
            crate::query::Format::Json => "json".into(),
        },
    };
    let snap = st.snapshot();
    let epoch = get(&p, "epoch")
        .map(|e| known_epoch(&snap, e))
        .transpose()?;
    let Some(path) = st.store.clone() else {
        return Err(ApiError::Store(
            "this server has no store file to build a report from".into(),
        ));
    };
    let report = st
        .pool
        .run("build the report", move || {
            canopy_report::build(&path, epoch.as_deref())
        })
        .await?
        .map_err(|e| ApiError::Store(error_chain(&e)))?;
    let name = format!("report-{}", report.epoch);
    let (body, ty, attach) = match fmt.as_str() {
        "csv" => (
            canopy_report::csv(&report),
            "text/csv; charset=utf-8",
            Some(format!("{name}.csv")),
        ),
        "md" => (
            canopy_report::markdown(&report),
            "text/markdown; charset=utf-8",
            None,
        ),
        "html" => (
            canopy_report::html(&report, crate::i18n::current()),
            "text/html; charset=utf-8",
            None,
        ),
        _ => (
            serde_json::to_string(&report).map_err(|e| ApiError::Store(e.to_string()))?,
            "application/json",
            None,
        ),
    };
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ty));
    if let Some(file) = attach {
        if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
            r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
        }
    }
    Ok(r)
}
