//! Issue 11, 2: a store replaced while a ranger's PATCH waits for the store lock
//! must still be reloaded. Before, the PATCH labelled the server's old snapshot with
//! the new file's identity (taken after the write, outside the lock), so the watcher
//! never saw a change and the server kept serving the old store.
//!
//! Deterministic: the test holds the store's lock (as a run does while it writes),
//! sends the PATCH (which waits for the lock), renames another store over the file,
//! releases the lock, and then checks what the server serves.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use canopy_server::{auth::Tokens, router, AppState, Settings};
use common::*;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

async fn call(app: &axum::Router, req: Request<Body>) -> (StatusCode, Option<String>, Value) {
    let r = app.clone().oneshot(req).await.unwrap();
    let status = r.status();
    let etag = r
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        etag,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri)
        .header("host", "canopy.test")
        .body(Body::empty())
        .unwrap()
}

fn names(v: &Value) -> Vec<String> {
    v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_replaced_during_a_patch_is_reloaded() {
    let d = region_two_epochs();
    let (store, _) = run_region(d.path());
    // The "new run": the same store with renamed communes (GDAL's SQL, so the
    // GeoPackage stays valid).
    let next = store.with_file_name("next.gpkg");
    std::fs::copy(&store, &next).unwrap();
    let st = std::process::Command::new("ogrinfo")
        .args([
            "-q",
            &path_str(&next),
            "-sql",
            "UPDATE communes SET name = 'Renamed ' || code",
        ])
        .status()
        .unwrap();
    assert!(st.success());

    let mut tokens = Tokens::none();
    tokens.add_plain("Lan", "lan-secret");
    let state = Arc::new(AppState::open(store.clone(), tokens, Settings::default()).unwrap());
    let app = router(state.clone());
    let (_, _, communes) = call(&app, get("/collections/communes/items")).await;
    assert!(names(&communes).iter().all(|n| !n.starts_with("Renamed")));
    let alerts = canopy_store::read_alerts(&store).unwrap();
    let id = alerts[0].id.clone();
    let (_, etag, _) = call(&app, get(&format!("/collections/alerts/items/{id}"))).await;

    // A run holds the lock while it writes and renames.
    let lock = canopy_store::lock(&store).unwrap();
    let req = Request::patch(format!("/collections/alerts/items/{id}"))
        .header("host", "canopy.test")
        .header("content-type", "application/json")
        .header("authorization", "Bearer lan-secret")
        .header("if-match", etag.unwrap())
        .body(Body::from(r#"{"status":"confirmed","note":"seen"}"#))
        .unwrap();
    let app2 = app.clone();
    let pending = tokio::spawn(async move { call(&app2, req).await });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!pending.is_finished(), "the PATCH waits for the store lock");
    std::fs::rename(&next, &store).unwrap();
    drop(lock);
    let (status, _, body) = pending.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");

    // The server serves the new store (no watcher runs here: the PATCH itself saw
    // that the file it wrote was not the one its snapshot was read from) …
    let (_, _, communes) = call(&app, get("/collections/communes/items")).await;
    let n = names(&communes);
    assert!(
        n.iter().all(|n| n.starts_with("Renamed")),
        "still serving the old store: {n:?}"
    );
    // … with the event, which is in the file too.
    let (_, _, item) = call(&app, get(&format!("/collections/alerts/items/{id}"))).await;
    assert_eq!(item["properties"]["status"], "confirmed", "{item}");
    assert_eq!(canopy_store::read_triage(&store).unwrap().len(), 1);
    // and the snapshot's identity is the file's: a later poll has nothing to reload,
    // and a later change is seen.
    assert!(!state.refresh().await.unwrap());
}
