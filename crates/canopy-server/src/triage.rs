//! Ranger triage over HTTP: `PATCH /collections/alerts/items/{id}` and the history.
//!
//! Writes need a bearer token (the ranger's name is recorded) and `If-Match` with the
//! alert's current ETag: without it the answer is 428, with a stale one 412, so two
//! rangers editing the same alert never silently overwrite each other. Writes are
//! serialized by the server's write lock; when the ETag does not match its snapshot the
//! server reloads the store if another process (`canopy triage`, a new run) changed
//! it and checks again ([`lock_alert`]). The event is
//! appended with `canopy_store::append_triage`, which takes the store's file
//! lock (so a concurrent `canopy run` keeps it) and re-checks, under that lock, that
//! the alert has as many events as the ETag was computed from (so a `canopy triage`
//! landing between the check and the write is a 412, not a silent override).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use crate::collections::STATUSES;
use crate::error::ApiError;
use crate::features::etag;
use crate::query::only;
use crate::respond::{base_url, link, Query, ReadRequest, JSON};
use crate::snapshot::{Snapshot, TriageEvent};
use crate::state::AppState;
use canopy_core::triage::TriageStatus;
use canopy_store::StoreError;

pub use crate::collections::{MAX_BODY, MAX_NOTE};

/// The body of a triage PATCH.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriagePatch {
    pub status: String,
    #[serde(default)]
    pub note: String,
}

fn parse_body(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<TriagePatch, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime != "application/json" && mime != "application/merge-patch+json" {
        return Err(ApiError::UnsupportedMediaType(format!(
            "Content-Type must be application/json (got \"{ct}\")"
        )));
    }
    let body = body.map_err(|e| match e {
        BytesRejection::FailedToBufferBody(_) => {
            ApiError::TooLarge(format!("request body larger than {MAX_BODY} bytes"))
        }
        other => ApiError::InvalidBody(format!("cannot read the body: {other}")),
    })?;
    let patch: TriagePatch = serde_json::from_slice(&body).map_err(|e| {
        ApiError::InvalidBody(format!(
            "body: {e}; expected {{\"status\": \"confirmed\"|\"dismissed\"|\"new\", \"note\": \"...\"}}"
        ))
    })?;
    if !STATUSES.contains(&patch.status.as_str()) {
        return Err(ApiError::InvalidBody(format!(
            "status \"{}\" is not one of {}",
            patch.status,
            STATUSES.join(", ")
        )));
    }
    if patch.note.chars().count() > MAX_NOTE {
        return Err(ApiError::InvalidBody(format!(
            "note is longer than {MAX_NOTE} characters"
        )));
    }
    Ok(patch)
}

fn if_match(headers: &HeaderMap) -> Result<Vec<String>, ApiError> {
    let v = headers
        .get(header::IF_MATCH)
        .ok_or_else(|| {
            ApiError::PreconditionRequired(
                "If-Match is required: GET the alert and send its ETag back, so a change made meanwhile is not overwritten".into(),
            )
        })?
        .to_str()
        .map_err(|_| ApiError::PreconditionFailed("If-Match is not ASCII".into()))?;
    let tags: Vec<String> = v
        .split(',')
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    if tags.is_empty() || tags.iter().any(|t| t == "*") {
        return Err(ApiError::PreconditionRequired(
            "If-Match must be the alert's ETag (not *)".into(),
        ));
    }
    Ok(tags)
}

/// Takes the server's write lock and checks the writer's `If-Match` against the
/// alert's ETag in the current snapshot: the lock guard, that snapshot and the
/// ETag. When they differ (or the alert is unknown), the snapshot may be older
/// than the store (another process wrote, a run replaced it), so the store is
/// reloaded if it changed and the check made again; only then is it a 412 (404).
/// The store re-checks the event count under its own lock when writing.
pub(crate) async fn lock_alert<'a>(
    st: &'a AppState,
    fid: &str,
    tags: &[String],
) -> Result<(tokio::sync::MutexGuard<'a, ()>, Arc<Snapshot>, String), ApiError> {
    let guard = st.write_lock.lock().await;
    let mut refreshed = false;
    loop {
        let snap = st.snapshot();
        let current = snap.data.alerts.get(fid).map(|it| etag(&snap, it));
        match current {
            Some(c) if tags.contains(&c) => return Ok((guard, snap, c)),
            _ if !refreshed => {
                refreshed = true;
                if let Err(e) = st.refresh_locked().await {
                    tracing::warn!("reload before a triage write failed: {e}");
                }
            }
            Some(c) => {
                return Err(ApiError::PreconditionFailed(format!(
                    "the alert changed since you read it (ETag is now {c}); GET it again"
                )))
            }
            None => {
                return Err(ApiError::NotFound(format!(
                    "collection alerts has no feature \"{fid}\""
                )))
            }
        }
    }
}

/// `PATCH /collections/{id}/items/{fid}`.
pub async fn patch(
    State(st): State<Arc<AppState>>,
    Path((id, fid)): Path<(String, String)>,
    headers: HeaderMap,
    Query(p): Query,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    if crate::collections::find(&id).is_none() {
        return Err(ApiError::NotFound(format!("no collection \"{id}\"")));
    }
    if id != "alerts" {
        return Err(ApiError::MethodNotAllowed(format!(
            "collection {id} is read-only; only alerts take PATCH (triage)"
        )));
    }
    only(&p, &[])?;
    let ranger = st.tokens.check(&headers)?;
    let tags = if_match(&headers)?;
    let patch = parse_body(&headers, body)?;
    let Some(path) = st.store.clone() else {
        return Err(ApiError::Store(
            "this server has no store file to write to".into(),
        ));
    };

    let status = TriageStatus::parse(&patch.status).ok_or_else(|| {
        ApiError::InvalidBody(format!(
            "status \"{}\" is not a triage status",
            patch.status
        ))
    })?;
    let (guard, snap, _) = lock_alert(&st, &fid, &tags).await?;
    let event = canopy_store::TriageEvent {
        alert_id: fid.clone(),
        status,
        note: patch.note.clone(),
        by: ranger.clone(),
        at: canopy_store::now(),
    };
    // The ETag checked above counts this alert's events; the store checks the
    // same count again under its file lock, so another process's triage landing in
    // between is a 412 too, never a silent override.
    let seen = snap.triage.get(&fid).map_or(0, |v| v.len());
    let store = path.clone();
    let ev = event.clone();
    let written = st
        .pool
        .run("write triage", move || {
            canopy_store::append_triage(&store, &ev, Some(seen))
        })
        .await?
        .map_err(|e| match e {
            StoreError::Conflict(m) => ApiError::PreconditionFailed(format!("{m}; GET it again")),
            StoreError::NotFound(m) => ApiError::NotFound(format!(
                "{m} (the store was replaced by a new run meanwhile)"
            )),
            e => ApiError::Store(e.chain()),
        })?;
    tracing::info!(alert = %fid, status = %event.status, by = %ranger, "triage");
    let event = TriageEvent {
        status: event.status.as_str().to_string(),
        note: event.note,
        by: event.by,
        at: event.at,
    };
    if written.before.is_some() && written.before == snap.stamp {
        // Nobody changed the file between our snapshot and our write: apply the event.
        st.swap(snap.with_event(&fid, event, written.after));
    } else {
        // The file was replaced or written by another process meanwhile: our snapshot
        // is of another version, so read the file again (it has our event too).
        let p = path.clone();
        match st
            .pool
            .run("reload the store", move || Snapshot::load(&p))
            .await
        {
            Ok(Ok(fresh)) => {
                tracing::info!(
                    alerts = fresh.data.alerts.items.len(),
                    "store changed meanwhile: new snapshot loaded"
                );
                st.swap(fresh)
            }
            _ => {
                // Unlabelled, so the watcher reads the file at its next poll.
                st.swap(snap.with_event(&fid, event, None));
            }
        }
    }
    // The answer is built from the new snapshot outside the lock.
    drop(guard);
    let snap = st.snapshot();
    let base = base_url(&st.settings, &headers);
    let def = crate::collections::find("alerts").expect("alerts is a collection");
    crate::ogc::feature_response(
        &snap,
        def,
        &fid,
        &base,
        &vec![],
        crate::query::Format::Json,
        crate::crs::crs84(),
    )
}

/// `GET /collections/alerts/items/{fid}/history`.
pub async fn history(
    State(st): State<Arc<AppState>>,
    Path((id, fid)): Path<(String, String)>,
    headers: HeaderMap,
    Query(p): Query,
) -> Result<Response, ApiError> {
    if id != "alerts" {
        return Err(ApiError::NotFound(format!(
            "only alerts have a triage history (not {id})"
        )));
    }
    let r = ReadRequest::new(&st, &headers, &p, &["f"])?;
    let (base, snap) = (&r.base, &r.snap);
    let it =
        snap.data.alerts.get(&fid).ok_or_else(|| {
            ApiError::NotFound(format!("collection alerts has no feature \"{fid}\""))
        })?;
    let path = format!(
        "/collections/alerts/items/{}",
        crate::respond::path_segment(&fid)
    );
    let mut links = r.self_links(&format!("{path}/history"), JSON);
    links.push(link(
        format!("{base}{path}"),
        "about",
        crate::respond::GEOJSON,
        "The alert",
    ));
    // Each event with its photos (crate::photos), read from the store file.
    let photos = crate::photos::by_event(&st, base, &fid).await;
    let events: Vec<serde_json::Value> = snap
        .triage
        .get(&fid)
        .map(|v| v.to_vec())
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let mut v = serde_json::to_value(e).unwrap_or_default();
            let mine: Vec<_> = photos
                .iter()
                .filter(|(n, _)| *n == i + 1)
                .map(|(_, p)| p.clone())
                .collect();
            v["photos"] = serde_json::Value::Array(mine);
            v
        })
        .collect();
    let doc = json!({
        "alert_id": fid,
        "status": snap.status(&fid).map_or("new", |e| e.status.as_str()),
        "etag": etag(snap, it),
        "events": events,
        "links": links,
    });
    Ok(r.respond(&format!("Triage history of {fid}"), &doc, JSON))
}
