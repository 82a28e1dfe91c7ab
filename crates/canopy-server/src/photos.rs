//! Ranger photos of a triage event.
//!
//! `POST /collections/alerts/items/{id}/photos` (bearer token, `If-Match` with the
//! alert's ETag, the image as the body): the photo joins the alert's latest triage
//! event, which must be the sender's own (the phone PATCHes the status, then sends
//! its photos with the ETag that PATCH answered). JPEG, PNG or WebP only, recognised
//! by the first bytes whatever the Content-Type says (415 otherwise), at most
//! `MAX_PHOTO_BYTES` (413), `MAX_PHOTOS_PER_EVENT` per event (422).
//! `GET /collections/alerts/items/{id}/photos/{event}-{seq}` serves one, with the
//! stored type; the history lists each event's photos.
//!
//! Photos are read from the store file on demand (not kept in the snapshot).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use canopy_store::photos::{self as photo_store, PhotoMeta, MAX_PHOTO_BYTES};
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::query::only;
use crate::respond::{base_url, Query};
use crate::state::AppState;

/// The body limit of the photo route (a little over the photo cap, so that a
/// photo just over it gets the clear 413 below rather than a bare one).
pub const BODY_LIMIT: usize = MAX_PHOTO_BYTES + 64 * 1024;

/// The URL of a photo.
pub fn href(base: &str, p: &PhotoMeta) -> String {
    format!(
        "{base}/collections/alerts/items/{}/photos/{}-{}",
        crate::respond::path_segment(&p.alert_id),
        p.event,
        p.seq
    )
}

/// Each event's photos (`event` is the 1-based ordinal), as JSON lists of links.
pub async fn by_event(st: &AppState, base: &str, alert_id: &str) -> Vec<(usize, Value)> {
    let Some(path) = st.store.clone() else {
        return Vec::new();
    };
    let id = alert_id.to_string();
    let all = st
        .pool
        .run("read the photo index", move || photo_store::index(&path))
        .await
        .map_err(|e| tracing::warn!("reading photos: {e}"))
        .ok()
        .and_then(|r| r.map_err(|e| tracing::warn!("reading photos: {e}")).ok())
        .unwrap_or_default();
    all.into_iter()
        .filter(|p| p.alert_id == id)
        .map(|p| {
            let v = json!({
                "href": href(base, &p), "type": p.content_type, "bytes": p.bytes,
                "by": p.by, "at": p.at,
            });
            (p.event, v)
        })
        .collect()
}

fn alerts_only(id: &str) -> Result<(), ApiError> {
    if id != "alerts" {
        return Err(ApiError::NotFound(format!(
            "only alerts have photos (not {id})"
        )));
    }
    Ok(())
}

/// `POST /collections/alerts/items/{fid}/photos`.
pub async fn upload(
    State(st): State<Arc<AppState>>,
    Path((id, fid)): Path<(String, String)>,
    headers: HeaderMap,
    Query(p): Query,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    alerts_only(&id)?;
    only(&p, &[])?;
    let ranger = st.tokens.check(&headers)?;
    let tag = headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty() && *t != "*")
        .ok_or_else(|| {
            ApiError::PreconditionRequired(
                "If-Match is required: the ETag the triage PATCH answered, so the photo joins that triage".into(),
            )
        })?
        .to_string();
    let body = body.map_err(|e| match e {
        BytesRejection::FailedToBufferBody(_) => ApiError::TooLarge(format!(
            "the photo is larger than {MAX_PHOTO_BYTES} bytes: resize it"
        )),
        other => ApiError::InvalidBody(format!("cannot read the body: {other}")),
    })?;
    if body.is_empty() {
        return Err(ApiError::InvalidBody(
            "the body is empty: send the photo's bytes".into(),
        ));
    }
    if body.len() > MAX_PHOTO_BYTES {
        return Err(ApiError::TooLarge(format!(
            "the photo is {} bytes; at most {MAX_PHOTO_BYTES}: resize it",
            body.len()
        )));
    }
    let Some(kind) = photo_store::sniff(&body) else {
        let claimed = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none");
        return Err(ApiError::UnsupportedMediaType(format!(
            "the body is not a JPEG, PNG or WebP image (checked by its first bytes; Content-Type was {claimed})"
        )));
    };
    let Some(path) = st.store.clone() else {
        return Err(ApiError::Store(
            "this server has no store file to write to".into(),
        ));
    };

    let tags: Vec<String> = tag.split(',').map(|t| t.trim().to_string()).collect();
    let (_guard, snap, current) = crate::triage::lock_alert(&st, &fid, &tags).await?;
    let seen = snap.triage.get(&fid).map_or(0, |v| v.len());
    let (fid2, by, data) = (fid.clone(), ranger.clone(), body.to_vec());
    let at = canopy_store::now();
    let (_, meta) = st
        .pool
        .run("store a photo", move || {
            photo_store::append(
                &path,
                &photo_store::NewPhoto {
                    alert_id: &fid2,
                    by: &by,
                    at: &at,
                    data: &data,
                },
                seen,
            )
        })
        .await?
        .map_err(|e| match e {
            canopy_store::StoreError::Conflict(m) => ApiError::PreconditionFailed(m),
            canopy_store::StoreError::NotFound(m) => ApiError::NotFound(format!(
                "{m} (the store was replaced by a new run meanwhile)"
            )),
            canopy_store::StoreError::Input(m) => ApiError::InvalidBody(m),
            e => ApiError::Store(e.to_string()),
        })?;
    debug_assert_eq!(meta.content_type, kind);
    tracing::info!(alert = %fid, event = meta.event, seq = meta.seq, bytes = meta.bytes, by = %ranger, "photo");
    let base = base_url(&st.settings, &headers);
    let loc = href(&base, &meta);
    let mut r = (
        StatusCode::CREATED,
        axum::Json(json!({
            "href": loc, "alert_id": meta.alert_id, "event": meta.event, "seq": meta.seq,
            "type": meta.content_type, "bytes": meta.bytes, "by": meta.by, "at": meta.at,
        })),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&loc) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&current) {
        r.headers_mut().insert(header::ETAG, v);
    }
    Ok(r)
}

/// `GET /collections/alerts/items/{fid}/photos/{event}-{seq}`.
pub async fn get(
    State(st): State<Arc<AppState>>,
    Path((id, fid, which)): Path<(String, String, String)>,
    Query(p): Query,
) -> Result<Response, ApiError> {
    alerts_only(&id)?;
    only(&p, &[])?;
    let parsed = which
        .split_once('-')
        .and_then(|(e, s)| Some((e.parse::<usize>().ok()?, s.parse::<usize>().ok()?)));
    let Some((event, seq)) = parsed else {
        return Err(ApiError::NotFound(format!(
            "no photo \"{which}\": photos are named EVENT-NUMBER, e.g. 1-1"
        )));
    };
    let Some(path) = st.store.clone() else {
        return Err(ApiError::NotFound("this server has no store file".into()));
    };
    let f2 = fid.clone();
    let photo = st
        .pool
        .run("read a photo", move || {
            photo_store::read(&path, &f2, event, seq)
        })
        .await?
        .map_err(|e| ApiError::Store(e.to_string()))?
        .ok_or_else(|| ApiError::NotFound(format!("alert \"{fid}\" has no photo {which}")))?;
    let ct = HeaderValue::from_str(&photo.meta.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    Ok((
        [
            (header::CONTENT_TYPE, ct),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=86400"),
            ),
        ],
        photo.data,
    )
        .into_response())
}
