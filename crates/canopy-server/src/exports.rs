//! `?f=gpkg|shp|kml|gpx|csv|xlsx` on `/collections/{id}/items`: the selected features
//! as a file for GIS staff, phones and spreadsheets.
//!
//! The formats are `canopy-export`'s (the one owner of them: the shapefile's UTF-8
//! `.cpg` and short field names, KML names, GPX waypoints at centroids, CSV with a
//! BOM): the request's filters (`bbox`, `datetime`, the collection's parameters,
//! `filter`) select features here, and the export writes the store layer's rows of
//! those features, in `crs` when given, into a temporary folder; the file is then
//! sent with its content type and a `Content-Disposition` naming it. A shapefile is
//! sent as one zip (`.shp.zip`, written by GDAL, with its `.cpg`). Without `limit`
//! every matched feature is exported (at most [`MAX_FEATURES`]); with `limit`/
//! `offset` the page. Files larger than [`MAX_BYTES`] are refused (413).

use std::collections::HashSet;
use std::path::PathBuf;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use canopy_export::Format;

use crate::collections::{CollectionDef, CollectionId};
use crate::error::ApiError;
use crate::query::{self, get, Params};
use crate::state::AppState;

/// The most features one export holds.
pub const MAX_FEATURES: usize = 100_000;
/// The largest file sent.
pub const MAX_BYTES: u64 = 60 * 1024 * 1024;

/// The `f` values that ask for an export.
pub const FORMATS: &[&str] = &["gpkg", "shp", "kml", "gpx", "csv", "xlsx"];

/// The export format `f` asks for, if any.
pub fn format(params: &Params) -> Option<Format> {
    get(params, "f")
        .filter(|f| FORMATS.contains(f))
        .and_then(Format::parse)
}

/// The store field holding a feature's served id.
fn id_field(key: CollectionId) -> &'static str {
    match key {
        CollectionId::Communes => "code",
        CollectionId::Alerts => "alert_id",
        CollectionId::Zones => "piece_id",
        CollectionId::Hotspots => "hotspot_id",
        CollectionId::FireEvents => "event_id",
        CollectionId::Parcels => "parcel_id",
    }
}

/// Content type and file extension.
fn media(f: Format) -> (&'static str, &'static str) {
    match f {
        Format::Gpkg => ("application/geopackage+sqlite3", "gpkg"),
        Format::Shapefile => ("application/zip", "shp.zip"),
        Format::Kml => ("application/vnd.google-earth.kml+xml", "kml"),
        Format::Gpx => ("application/gpx+xml", "gpx"),
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Xlsx => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
    }
}

/// The export response of an items request with an export `f`.
pub async fn items(
    st: &AppState,
    def: &'static CollectionDef,
    p: &Params,
    format: Format,
) -> Result<Response, ApiError> {
    let q = query::items(def, p)?;
    let snap = st.snapshot();
    let Some(store) = st.store.clone().filter(|s| !canopy_store::pg::is_pg(s)) else {
        return Err(ApiError::BadRequest(format!(
            "f={format}: exports are served from a GeoPackage store only; use f=json"
        )));
    };
    let matched = query::select(&snap, def, &q);
    let page: &[usize] = if get(p, "limit").is_some() || get(p, "offset").is_some() {
        let a = q.offset.min(matched.len());
        let b = (a + q.limit).min(matched.len());
        &matched[a..b]
    } else {
        &matched
    };
    if page.len() > MAX_FEATURES {
        return Err(ApiError::TooLarge(format!(
            "f={format}: {} features match; an export holds at most {MAX_FEATURES} (narrow it with bbox, filters or limit/offset)",
            page.len()
        )));
    }
    let set = snap.items(def.key);
    let ids: HashSet<String> = page.iter().map(|&i| set.items[i].id.clone()).collect();
    let count = ids.len();
    let crs = q.crs;
    let opts = canopy_export::Options {
        crs: crs.epsg.map(|n| format!("EPSG:{n}")),
        only: Some((id_field(def.key).to_string(), ids)),
    };
    let layer = def.id;
    let (ctype, ext) = media(format);
    let file = format!("{layer}.{ext}");
    let name = file.clone();
    let bytes = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, ApiError> {
        let dir = tempfile::tempdir()
            .map_err(|e| ApiError::Store(format!("cannot create a temporary folder: {e}")))?;
        let out: PathBuf = dir.path().join(&name);
        canopy_export::export_with(&store, layer, &out, Some(format), &opts).map_err(|e| {
            match e {
                canopy_export::ExportError::CrsNotAllowed { .. } => {
                    ApiError::BadRequest(format!("crs with f={format}: {e}"))
                }
                other => ApiError::Store(format!("export of {layer} as {format}: {other}")),
            }
        })?;
        let size = std::fs::metadata(&out)
            .map_err(|e| ApiError::Store(format!("export of {layer}: {e}")))?
            .len();
        if size > MAX_BYTES {
            return Err(ApiError::TooLarge(format!(
                "f={format}: the export is {size} bytes, more than {MAX_BYTES}; narrow it with bbox or filters"
            )));
        }
        std::fs::read(&out).map_err(|e| ApiError::Store(format!("export of {layer}: {e}")))
    })
    .await
    .map_err(|e| ApiError::Store(format!("export task failed: {e}")))??;
    tracing::info!(collection = layer, %format, features = count, bytes = bytes.len(), "export served");
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if format.spatial() {
        let uri = if matches!(format, Format::Kml | Format::Gpx) {
            crate::crs::CRS84_URI
        } else {
            crs.uri
        };
        if let Ok(v) = HeaderValue::from_str(&format!("<{uri}>")) {
            h.insert("content-crs", v);
        }
    }
    Ok(r)
}
