//! `GET /collections/alerts/items/{id}/chips/{before|after}.png`: the alert's evidence
//! chips, and `…/chips/series.json` (composite epochs: per scene, the mean NDVI of the
//! alert's pixels seen clear, and how many), rendered by the run (`canopy_pipeline::chips`) and stored in the store's
//! `alert_chips` table; read from the store file on demand. The header
//! `X-Canopy-Epoch` names the chip's epoch.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::query::only;
use crate::respond::Query;
use crate::state::AppState;

/// `GET /collections/alerts/items/{fid}/chips/{file}`.
pub async fn get(
    State(st): State<Arc<AppState>>,
    Path((id, fid, file)): Path<(String, String, String)>,
    Query(p): Query,
) -> Result<Response, ApiError> {
    if id != "alerts" {
        return Err(ApiError::NotFound(format!(
            "only alerts have chips (not {id})"
        )));
    }
    only(&p, &[])?;
    let kind = match file.as_str() {
        "before.png" => "before",
        "after.png" => "after",
        "series.json" => "series",
        other => {
            return Err(ApiError::NotFound(format!(
                "no chip \"{other}\": the chips are before.png, after.png and series.json (composite epochs)"
            )))
        }
    };
    if st.snapshot().data.alerts.get(&fid).is_none() {
        return Err(ApiError::NotFound(format!(
            "collection alerts has no feature \"{fid}\""
        )));
    }
    let Some(path) = st.store.clone() else {
        return Err(ApiError::NotFound("this server has no store file".into()));
    };
    let f2 = fid.clone();
    let chip = st
        .pool
        .run("read a chip", move || canopy_store::chips::read(&path, &f2, kind))
        .await?
        .map_err(|e| ApiError::Store(e.to_string()))?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "alert \"{fid}\" has no {kind} chip (a store written before chips existed: re-run; a series only for composite epochs)"
            ))
        })?;
    let mut r = (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(if kind == "series" {
                    "application/json"
                } else {
                    "image/png"
                }),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        chip.1,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&chip.0) {
        r.headers_mut().insert("x-canopy-epoch", v);
    }
    Ok(r)
}
