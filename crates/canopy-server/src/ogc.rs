//! OGC API - Features Part 1 (Core, GeoJSON, HTML, OpenAPI 3.0) handlers: landing
//! page, conformance, collections, items, single features, queryables and schemas.
//!
//! Everything clients follow is an absolute link; `next`/`prev` keep every query
//! parameter; `numberMatched` is always filled in. See `collections` for the table of
//! collections, properties and filters these handlers serve.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use serde::Serialize;
use serde_json::{json, Value};

use serde_json::value::RawValue;

use crate::collections::{self, CollectionDef};
use crate::crs::Crs;
use crate::error::ApiError;
use crate::features::{etag, feature, Feature};
use crate::query::{self, only, Format};
use crate::respond::{
    base_url, document, json_bytes, link, path_segment, self_links, Query, ReadRequest, GEOJSON,
    HTML, JSON, OPENAPI, SCHEMA,
};
use crate::snapshot::Snapshot;
use crate::state::AppState;

pub const CRS84: &str = crate::crs::CRS84_URI;

/// Conformance classes implemented.
pub const CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/sorting",
];

fn collection_def(id: &str) -> Result<&'static CollectionDef, ApiError> {
    collections::find(id).ok_or_else(|| {
        ApiError::NotFound(format!(
            "no collection \"{id}\"; collections: {}",
            collections::ALL.map(|c| c.id).join(", ")
        ))
    })
}

pub async fn landing(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(p): Query,
) -> Result<Response, ApiError> {
    let r = ReadRequest::new(&st, &headers, &p, &["f"])?;
    let base = &r.base;
    let mut links = r.self_links("/", JSON);
    links.extend([
        link(
            format!("{base}/api"),
            "service-desc",
            OPENAPI,
            "The OpenAPI 3.0 definition",
        ),
        link(
            format!("{base}/api?f=html"),
            "service-doc",
            HTML,
            "The API documentation",
        ),
        link(
            format!("{base}/conformance"),
            "conformance",
            JSON,
            "Conformance classes",
        ),
        link(format!("{base}/collections"), "data", JSON, "Collections"),
        link(format!("{base}/map"), "alternate", HTML, "The web map"),
        link(
            format!("{base}/stats/province"),
            "related",
            JSON,
            "Province totals per epoch",
        ),
        link(
            format!("{base}/stats/communes"),
            "related",
            JSON,
            "Commune lookup and cover time series",
        ),
        link(
            format!("{base}/stats/species"),
            "related",
            JSON,
            "Planting zones by species",
        ),
        link(
            format!("{base}/stats/targets"),
            "related",
            JSON,
            "Progress against the targets",
        ),
        link(
            format!("{base}/stats/report?f=html"),
            "related",
            HTML,
            "The planners' report (also f=csv)",
        ),
    ]);
    let region = &r.snap.data.region_name;
    let doc = json!({
        "title": if region.is_empty() { "Canopy".to_string() } else { format!("Canopy: {region}") },
        "description": "Forest cover, change, alerts and planting zones per commune (OGC API - Features). The web map is at /map.",
        "links": links,
    });
    Ok(r.respond("Canopy", &doc, JSON))
}

pub async fn conformance(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(p): Query,
) -> Result<Response, ApiError> {
    let r = ReadRequest::new(&st, &headers, &p, &["f"])?;
    let doc = json!({
        "conformsTo": CONFORMANCE,
        "links": r.self_links("/conformance", JSON),
    });
    Ok(r.respond("Conformance", &doc, JSON))
}

fn collection_doc(snap: &Snapshot, def: &CollectionDef, base: &str) -> Value {
    let set = snap.items(def.key);
    // An empty collection still has the region's extent.
    let extent = set
        .extent
        .or(snap.data.communes.extent)
        .unwrap_or([-180.0, -90.0, 180.0, 90.0]);
    let interval = set.interval.or_else(|| {
        let e = &snap.data.epochs;
        let a = e.first().and_then(|x| query::day_interval(&x.date))?;
        let b = e.last().and_then(|x| query::day_interval(&x.date))?;
        Some((a.0, b.1))
    });
    let temporal = match interval {
        Some((a, b)) => json!([[query::rfc3339(a), query::rfc3339(b)]]),
        None => json!([[null, null]]),
    };
    let path = format!("{base}/collections/{}", def.id);
    json!({
        "id": def.id,
        "title": def.title,
        "description": def.description,
        "itemType": def.item_type,
        "crs": crate::crs::SUPPORTED.iter().map(|c| c.uri).collect::<Vec<_>>(),
        "storageCrs": CRS84,
        "extent": {
            "spatial": {"bbox": [extent], "crs": CRS84},
            "temporal": {"interval": temporal, "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"},
        },
        "links": [
            link(format!("{path}/items"), "items", GEOJSON, "Features as GeoJSON"),
            link(format!("{path}/items?f=html"), "items", HTML, "Features as HTML"),
            link(format!("{path}/schema"), "describedby", SCHEMA, "JSON Schema of the features"),
            link(format!("{path}/queryables"), "http://www.opengis.net/def/rel/ogc/1.0/queryables", SCHEMA, "Queryables"),
            link(path.clone(), "self", JSON, "This collection"),
        ],
    })
}

pub async fn collections_list(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(p): Query,
) -> Result<Response, ApiError> {
    let r = ReadRequest::new(&st, &headers, &p, &["f"])?;
    let doc = json!({
        "links": r.self_links("/collections", JSON),
        "collections": collections::ALL.iter().map(|d| collection_doc(&r.snap, d, &r.base)).collect::<Vec<_>>(),
    });
    Ok(r.respond("Collections", &doc, JSON))
}

pub async fn collection(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(p): Query,
) -> Result<Response, ApiError> {
    let def = collection_def(&id)?;
    let r = ReadRequest::new(&st, &headers, &p, &["f"])?;
    let mut doc = collection_doc(&r.snap, def, &r.base);
    let mut links: Vec<Value> = r
        .self_links(&format!("/collections/{id}"), JSON)
        .into_iter()
        .map(|l| serde_json::to_value(l).unwrap_or_default())
        .collect();
    if let Some(Value::Array(a)) = doc.get_mut("links") {
        a.retain(|l| l["rel"] != "self");
        a.append(&mut links);
    }
    Ok(r.respond(def.title, &doc, JSON))
}

#[derive(Serialize)]
struct FeatureCollection<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    #[serde(rename = "numberMatched")]
    number_matched: usize,
    #[serde(rename = "numberReturned")]
    number_returned: usize,
    #[serde(rename = "timeStamp")]
    time_stamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    bbox: Option<[f64; 4]>,
    features: Vec<Feature<'a>>,
    links: Vec<crate::respond::Link>,
}

pub async fn items(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(p): Query,
) -> Result<Response, ApiError> {
    let def = collection_def(&id)?;
    if let Some(f) = crate::exports::format(&p) {
        return crate::exports::items(&st, def, &p, f).await;
    }
    let r = ReadRequest::checked_elsewhere(&st, &headers, &p)?;
    let q = query::items(def, &p)?;
    let (fmt, base, snap) = (r.fmt, &r.base, &r.snap);
    let set = snap.items(def.key);
    let matched = query::select(snap, def, &q);
    let page: Vec<usize> = matched
        .iter()
        .skip(q.offset)
        .take(q.limit)
        .copied()
        .collect();
    let path = format!("/collections/{id}/items");
    let mut links = r.self_links(&path, GEOJSON);
    // Paging links keep every parameter, in the format of this page.
    let mut paging = p.clone();
    paging.retain(|(k, _)| k != "f");
    if fmt == Format::Html {
        paging.push(("f".into(), "html".into()));
    }
    let page_type = if fmt == Format::Html { HTML } else { GEOJSON };
    let page_link = |offset: usize, rel: &str, title: &str| {
        link(
            query::page_url(base, &path, &paging, Some(offset)),
            rel,
            page_type,
            title,
        )
    };
    if q.offset + page.len() < matched.len() {
        links.push(page_link(q.offset + q.limit, "next", "Next page"));
    }
    if q.offset > 0 {
        links.push(page_link(
            q.offset.saturating_sub(q.limit),
            "prev",
            "Previous page",
        ));
    }
    links.push(link(
        format!("{base}/collections/{id}"),
        "collection",
        JSON,
        def.title,
    ));
    let mut bbox = None;
    // Geometries in another CRS are made for this page (owned here, borrowed below).
    let moved = reproject(page.iter().map(|&i| &set.items[i]), q.crs)?;
    let features: Vec<Feature> = page
        .iter()
        .zip(&moved)
        .map(|(&i, m)| {
            let it = &set.items[i];
            let mut f = feature(snap, def.id, it, None);
            if let Some((g, b)) = m {
                f.geometry = Some(g);
                f.bbox = *b;
            }
            if let Some(b) = f.bbox {
                bbox = Some(canopy_core::bbox::union(bbox, b));
            }
            f
        })
        .collect();
    let fc = FeatureCollection {
        ty: "FeatureCollection",
        number_matched: matched.len(),
        number_returned: features.len(),
        time_stamp: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        bbox,
        features,
        links,
    };
    Ok(with_crs(r.respond(def.title, &fc, GEOJSON), q.crs))
}

/// Each item's geometry (GeoJSON text) and bbox in `crs`; `None` for CRS84 (the
/// prepared geometry is served as it is).
#[allow(clippy::type_complexity)]
fn reproject<'a>(
    items: impl Iterator<Item = &'a crate::snapshot::Item>,
    crs: &Crs,
) -> Result<Vec<Option<(Box<RawValue>, Option<[f64; 4]>)>>, ApiError> {
    items
        .map(|it| match (&it.geometry, crs.epsg) {
            (Some(g), Some(_)) => {
                let t = crate::crs::transform(g, crs)
                    .map_err(|e| ApiError::BadRequest(format!("crs={}: {e}", crs.uri)))?;
                Ok(Some((
                    crate::geometry::to_json(&t),
                    crate::geometry::bbox(&t),
                )))
            }
            _ => Ok(None),
        })
        .collect()
}

/// The `Content-Crs` header (Part 2) of a response with features in `crs`.
fn with_crs(mut r: Response, crs: &Crs) -> Response {
    if r.status().is_success() {
        if let Ok(v) = HeaderValue::from_str(&format!("<{}>", crs.uri)) {
            r.headers_mut().insert("content-crs", v);
        }
    }
    r
}

/// The feature `fid` of `def` with its links, and (alerts) its ETag.
pub fn feature_response(
    snap: &Snapshot,
    def: &CollectionDef,
    fid: &str,
    base: &str,
    p: &query::Params,
    fmt: Format,
    crs: &Crs,
) -> Result<Response, ApiError> {
    let it = snap.items(def.key).get(fid).ok_or_else(|| {
        ApiError::NotFound(format!("collection {} has no feature \"{fid}\"", def.id))
    })?;
    let path = format!("/collections/{}/items/{}", def.id, path_segment(fid));
    let mut links = self_links(base, &path, p, fmt, GEOJSON);
    links.push(link(
        format!("{base}/collections/{}", def.id),
        "collection",
        JSON,
        def.title,
    ));
    if def.id == "alerts" {
        links.push(link(
            format!("{base}{path}/history"),
            "related",
            JSON,
            "Triage history",
        ));
    }
    let mut f = feature(snap, def.id, it, Some(links));
    let moved = reproject(std::iter::once(it), crs)?;
    if let Some(Some((g, b))) = &moved.first() {
        f.geometry = Some(g);
        f.bbox = *b;
    }
    let mut r = with_crs(
        document(fmt, &format!("{} {fid}", def.title), &f, GEOJSON),
        crs,
    );
    if def.id == "alerts" {
        if let Ok(v) = HeaderValue::from_str(&etag(snap, it)) {
            r.headers_mut().insert(header::ETAG, v);
        }
    }
    Ok(r)
}

pub async fn item(
    State(st): State<Arc<AppState>>,
    Path((id, fid)): Path<(String, String)>,
    headers: HeaderMap,
    Query(p): Query,
) -> Result<Response, ApiError> {
    let def = collection_def(&id)?;
    let r = ReadRequest::new(&st, &headers, &p, &["f", "crs"])?;
    let crs = query::crs_param(&p, "crs")?;
    feature_response(&r.snap, def, &fid, &r.base, &p, r.fmt, crs)
}

/// The queryables (the filterable properties) or the full schema of a collection.
fn schema_doc(def: &CollectionDef, base: &str, queryables: bool) -> Value {
    let mut props = serde_json::Map::new();
    if queryables {
        for f in def.filters {
            let name = match f.matches {
                collections::Match::Property(k) => k,
                collections::Match::Status => "status",
                collections::Match::Commune => "commune_code",
                collections::Match::Name => "name",
            };
            let mut s = def
                .prop(name)
                .map(|p| p.schema(false))
                .unwrap_or_else(|| json!({"type": "string"}));
            s["title"] = json!(f.param);
            s["description"] = json!(format!(
                "{} (query parameter {}=v1,v2: any of the values)",
                f.description, f.param
            ));
            props.insert(f.param.to_string(), s);
        }
        props.insert(
            "geometry".into(),
            json!({"format": "geometry-any", "x-ogc-role": "primary-geometry"}),
        );
    } else {
        for p in def.props {
            props.insert(p.name.to_string(), p.schema(false));
        }
        props.insert(
            "geometry".into(),
            json!({"format": "geometry-any", "x-ogc-role": "primary-geometry"}),
        );
    }
    let which = if queryables { "queryables" } else { "schema" };
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("{base}/collections/{}/{which}", def.id),
        "type": "object",
        "title": def.title,
        "properties": props,
        "additionalProperties": !queryables,
    })
}

pub async fn queryables(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(p): Query,
) -> Result<Response, ApiError> {
    schema_response(&st, &id, &headers, &p, true)
}

pub async fn schema(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(p): Query,
) -> Result<Response, ApiError> {
    schema_response(&st, &id, &headers, &p, false)
}

fn schema_response(
    st: &AppState,
    id: &str,
    headers: &HeaderMap,
    p: &query::Params,
    queryables: bool,
) -> Result<Response, ApiError> {
    let def = collection_def(id)?;
    let r = ReadRequest::new(st, headers, p, &["f"])?;
    let doc = schema_doc(def, &r.base, queryables);
    let what = if queryables { "queryables" } else { "schema" };
    Ok(r.respond(&format!("{} {what}", def.title), &doc, SCHEMA))
}

/// The `/api` document.
pub async fn api(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(p): Query,
) -> Result<Response, ApiError> {
    only(&p, &["f"])?;
    let base = base_url(&st.settings, &headers);
    let doc = crate::openapi::document(&base);
    match query::get(&p, "f") {
        // An interactive viewer (Swagger UI) of the same document.
        Some("html") => crate::static_files::api_page(),
        None | Some("json") => Ok(json_bytes(
            serde_json::to_vec(&doc).unwrap_or_default(),
            OPENAPI,
        )),
        Some(other) => Err(ApiError::BadRequest(format!(
            "f={other}: expected json or html"
        ))),
    }
}

/// 404 for anything else.
pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no such resource: {}", uri.path()))
}

/// 405 with a JSON body.
pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    crate::error::error_response(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        &format!("{method} is not allowed on {}", uri.path()),
    )
}
