//! Ranger photos over HTTP (issue 18): `POST /collections/alerts/items/{id}/photos`
//! joins the sender's latest triage event (token, If-Match), refuses what is not a
//! JPEG/PNG/WebP by its bytes (415), too large (413), one too many (422), someone
//! else's triage (412); the history lists the photos, `GET …/photos/{event}-{seq}`
//! serves the same bytes, and a re-run of the region keeps them.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use canopy_pipeline::gdal::raster::Buffer;
use canopy_pipeline::gdal::DriverManager;
use canopy_server::{auth::Tokens, router, AppState, Settings};
use common::*;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

struct Resp {
    status: StatusCode,
    etag: Option<String>,
    content_type: String,
    bytes: Vec<u8>,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
    }
}

async fn call(app: &axum::Router, req: Request<Body>) -> Resp {
    let r = app.clone().oneshot(req).await.unwrap();
    let status = r.status();
    let h = |n: &str| r.headers().get(n).map(|v| v.to_str().unwrap().to_string());
    let etag = h("etag");
    let content_type = h("content-type").unwrap_or_default();
    let bytes = r.into_body().collect().await.unwrap().to_bytes().to_vec();
    Resp {
        status,
        etag,
        content_type,
        bytes,
    }
}

async fn get(app: &axum::Router, uri: &str) -> Resp {
    call(
        app,
        Request::get(uri)
            .header("host", "canopy.test")
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

async fn patch(app: &axum::Router, id: &str, token: &str, etag: &str, status: &str) -> Resp {
    call(
        app,
        Request::patch(format!("/collections/alerts/items/{id}"))
            .header("host", "canopy.test")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .header("if-match", etag)
            .body(Body::from(format!(
                "{{\"status\": \"{status}\", \"note\": \"stumps\"}}"
            )))
            .unwrap(),
    )
    .await
}

async fn post_photo(
    app: &axum::Router,
    id: &str,
    token: Option<&str>,
    etag: Option<&str>,
    content_type: &str,
    body: Vec<u8>,
) -> Resp {
    let mut b = Request::post(format!("/collections/alerts/items/{id}/photos"))
        .header("host", "canopy.test")
        .header("content-type", content_type);
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    if let Some(e) = etag {
        b = b.header("if-match", e);
    }
    call(app, b.body(Body::from(body)).unwrap()).await
}

fn state(store: &std::path::Path) -> Arc<AppState> {
    let mut tokens = Tokens::none();
    tokens.add_plain("Nguyễn Văn Lan", "lan-secret");
    tokens.add_plain("Hoàng Thị Mai", "mai-secret");
    Arc::new(AppState::open(store.to_path_buf(), tokens, Settings::default()).unwrap())
}

/// A real PNG (GDAL's PNG driver) of a small gradient.
fn png(w: usize, h: usize) -> Vec<u8> {
    let mem = DriverManager::get_driver_by_name("MEM").unwrap();
    let ds = mem.create_with_band_type::<u8, _>("", w, h, 1).unwrap();
    let data: Vec<u8> = (0..w * h).map(|i| (i % 251) as u8).collect();
    let mut buf = Buffer::new((w, h), data);
    ds.rasterband(1)
        .unwrap()
        .write((0, 0), (w, h), &mut buf)
        .unwrap();
    let path = format!("/vsimem/photo-{w}x{h}.png");
    let png = DriverManager::get_driver_by_name("PNG").unwrap();
    ds.create_copy(&png, &path, &Default::default()).unwrap();
    let bytes = canopy_pipeline::gdal::vsi::get_vsi_mem_file_bytes_owned(&path).unwrap();
    bytes
}

#[tokio::test]
async fn photos_join_the_rangers_triage_are_checked_and_survive_a_rerun() {
    let d = region_two_epochs();
    let (store, _) = run_region(d.path());
    let app = router(state(&store));
    let list = get(&app, "/collections/alerts/items").await.json();
    let id = list["features"][0]["id"].as_str().unwrap().to_string();
    let item = format!("/collections/alerts/items/{id}");
    let e0 = get(&app, &item).await.etag.unwrap();
    let photo = png(64, 48);
    assert!(photo.starts_with(b"\x89PNG"));

    // No triage event yet: nothing for a photo to join.
    let r = post_photo(
        &app,
        &id,
        Some("lan-secret"),
        Some(&e0),
        "image/png",
        photo.clone(),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::PRECONDITION_FAILED,
        "{}",
        String::from_utf8_lossy(&r.bytes)
    );

    let r = patch(&app, &id, "lan-secret", &e0, "confirmed").await;
    assert_eq!(r.status, StatusCode::OK);
    let e1 = r.etag.unwrap();

    // Token and If-Match are required.
    assert_eq!(
        post_photo(&app, &id, None, Some(&e1), "image/png", photo.clone())
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post_photo(
            &app,
            &id,
            Some("lan-secret"),
            None,
            "image/png",
            photo.clone()
        )
        .await
        .status,
        StatusCode::PRECONDITION_REQUIRED
    );
    assert_eq!(
        post_photo(
            &app,
            &id,
            Some("lan-secret"),
            Some(&e0),
            "image/png",
            photo.clone()
        )
        .await
        .status,
        StatusCode::PRECONDITION_FAILED
    );
    // Not an image, by its bytes, whatever the Content-Type claims.
    let r = post_photo(
        &app,
        &id,
        Some("lan-secret"),
        Some(&e1),
        "image/jpeg",
        b"just some text, not a photo".to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(
        r.json()["description"]
            .as_str()
            .unwrap()
            .contains("not a JPEG, PNG or WebP"),
        "{}",
        r.json()
    );
    let r = post_photo(
        &app,
        &id,
        Some("lan-secret"),
        Some(&e1),
        "image/gif",
        b"GIF89a\x01\x00\x01\x00".to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let svg =
        br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#.to_vec();
    assert_eq!(
        post_photo(&app, &id, Some("lan-secret"), Some(&e1), "image/png", svg)
            .await
            .status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    // Too large: a JPEG header and 1 MiB + 1 byte.
    let mut big = vec![0xFF, 0xD8, 0xFF, 0xE0];
    big.resize(canopy_store::photos::MAX_PHOTO_BYTES + 1, 0);
    let r = post_photo(&app, &id, Some("lan-secret"), Some(&e1), "image/jpeg", big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Another ranger cannot add photos to Lan's triage.
    let r = post_photo(
        &app,
        &id,
        Some("mai-secret"),
        Some(&e1),
        "image/png",
        photo.clone(),
    )
    .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    assert!(
        r.json()["description"]
            .as_str()
            .unwrap()
            .contains("Nguyễn Văn Lan"),
        "{}",
        r.json()
    );

    // A real PNG joins event 1.
    let r = post_photo(
        &app,
        &id,
        Some("lan-secret"),
        Some(&e1),
        "image/png",
        photo.clone(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
    let href = r.json()["href"].as_str().unwrap().to_string();
    assert!(href.ends_with("/photos/1-1"), "{href}");
    assert_eq!(r.json()["type"], "image/png");
    let path = href.trim_start_matches("http://canopy.test");
    let g = get(&app, path).await;
    assert_eq!(g.status, StatusCode::OK);
    assert_eq!(g.content_type, "image/png");
    assert_eq!(g.bytes, photo, "the same bytes back");
    let h = get(&app, &format!("{item}/history")).await.json();
    let events = h["events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["photos"].as_array().unwrap().len(), 1);
    assert_eq!(events[0]["photos"][0]["href"], href.as_str());

    // At most four per event.
    for n in 2..=4 {
        let r = post_photo(
            &app,
            &id,
            Some("lan-secret"),
            Some(&e1),
            "image/png",
            png(8 + n, 8),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let r = post_photo(
        &app,
        &id,
        Some("lan-secret"),
        Some(&e1),
        "image/png",
        png(20, 8),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.json());
    assert_eq!(
        get(&app, &format!("{item}/photos/1-9")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&app, &format!("{item}/photos/x")).await.status,
        StatusCode::NOT_FOUND
    );

    // A re-run keeps them (like the triage history).
    let o = run_into(d.path(), &store);
    assert!(o.status.success(), "{}", stderr(&o));
    let app = router(state(&store));
    let g = get(&app, path).await;
    assert_eq!(g.status, StatusCode::OK);
    assert_eq!(g.bytes, photo);
    let h = get(&app, &format!("{item}/history")).await.json();
    assert_eq!(h["events"][0]["photos"].as_array().unwrap().len(), 4);
}
