//! The HTTP API in-process (tower `oneshot`, no socket) over a real store written by
//! `canopy run` on the fixture region: JSON documents pinned by insta snapshots
//! (timestamps redacted), ranger triage (tokens, ETag / If-Match, history), hot reload
//! of a new store, and triage surviving a re-run.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use canopy_server::{auth::Tokens, router, AppState, Settings};
use common::*;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

struct Resp {
    status: StatusCode,
    etag: Option<String>,
    content_type: String,
    json: Value,
}

async fn call(app: &axum::Router, req: Request<Body>) -> Resp {
    let r = app.clone().oneshot(req).await.unwrap();
    let status = r.status();
    let h = |n: &str| r.headers().get(n).map(|v| v.to_str().unwrap().to_string());
    let etag = h("etag");
    let content_type = h("content-type").unwrap_or_default();
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    Resp {
        status,
        etag,
        content_type,
        json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
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

fn patch(id: &str, token: Option<&str>, if_match: Option<&str>, body: &str) -> Request<Body> {
    let mut b = Request::patch(format!("/collections/alerts/items/{id}"))
        .header("host", "canopy.test")
        .header("content-type", "application/json");
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    if let Some(m) = if_match {
        b = b.header("if-match", m);
    }
    b.body(Body::from(body.to_string())).unwrap()
}

fn state(store: &std::path::Path) -> Arc<AppState> {
    let mut tokens = Tokens::none();
    tokens.add_plain("Nguyễn Văn Lan", "lan-secret");
    tokens.add_plain("Hoàng Thị Mai", "mai-secret");
    Arc::new(AppState::open(store.to_path_buf(), tokens, Settings::default()).unwrap())
}

/// Redacts a timestamp but keeps a null a null (an untriaged alert has no status_at).
fn when(
    value: insta::internals::Content,
    _: insta::internals::ContentPath<'_>,
) -> insta::internals::Content {
    match value.as_str() {
        Some(_) => "[timestamp]".into(),
        None => value,
    }
}

macro_rules! pin {
    ($name:expr, $value:expr) => {
        insta::assert_json_snapshot!($name, $value, {
            ".timeStamp" => "[timestamp]",
            ".last_run" => insta::dynamic_redaction(when),
            ".etag" => "[etag]",
            ".**.status_at" => insta::dynamic_redaction(when),
            ".events[].at" => "[timestamp]",
        })
    };
}

#[tokio::test]
async fn documents_are_pinned() {
    let d = region_two_epochs();
    let (store, _) = run_region(d.path());
    let app = router(state(&store));
    let alert_id = {
        let r = get(&app, "/collections/alerts/items").await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.content_type, "application/geo+json");
        r.json["features"][0]["id"].as_str().unwrap().to_string()
    };
    for (name, uri) in [
        ("landing", "/".to_string()),
        ("conformance", "/conformance".into()),
        ("collections", "/collections".into()),
        ("communes_items", "/collections/communes/items".into()),
        ("alerts_items", "/collections/alerts/items".into()),
        (
            "alert_item",
            format!("/collections/alerts/items/{alert_id}"),
        ),
        ("zones_items", "/collections/zones/items".into()),
        ("alerts_queryables", "/collections/alerts/queryables".into()),
        ("communes_schema", "/collections/communes/schema".into()),
        ("stats_province", "/stats/province".into()),
        ("stats_change", "/stats/change?from=2024&to=2025".into()),
        ("stats_commune", "/stats/communes/loc%20binh".into()),
        ("stats_lookup", "/stats/communes?q=dinh".into()),
        ("api", "/api".into()),
    ] {
        let r = get(&app, &uri).await;
        assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.json);
        pin!(name, r.json);
    }
}

#[tokio::test]
async fn html_views_and_the_map() {
    let d = region_two_epochs();
    let (store, _) = run_region(d.path());
    let app = router(state(&store));
    for uri in [
        "/",
        "/collections",
        "/collections/communes/items",
        "/collections/alerts",
        "/api?f=html",
    ] {
        let r = app
            .clone()
            .oneshot(
                Request::get(uri)
                    .header("accept", "text/html")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{uri}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{uri}"
        );
        let body =
            String::from_utf8(r.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
        assert!(body.contains("<html"), "{uri}");
        if uri == "/collections/communes/items" {
            assert!(
                body.contains("Lộc Bình") && body.contains("Đình Lập"),
                "{body}"
            );
        }
        if uri == "/" {
            assert!(body.contains("/map"), "the landing page links the map");
        }
    }
    let r = app
        .clone()
        .oneshot(Request::get("/map").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let r = app
        .oneshot(
            Request::get("/static/map/index.html")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn triage_needs_a_token_and_a_fresh_etag_and_keeps_history() {
    let d = region_two_epochs();
    let (store, _) = run_region(d.path());
    let st = state(&store);
    let app = router(st.clone());
    let list = get(&app, "/collections/alerts/items").await;
    let id = list.json["features"][0]["id"].as_str().unwrap().to_string();
    let item = get(&app, &format!("/collections/alerts/items/{id}")).await;
    assert_eq!(item.json["properties"]["status"], "new");
    let etag0 = item.etag.clone().expect("GET returns an ETag");
    let body = r#"{"status": "confirmed", "note": "đã kiểm tra: cleared"}"#;

    assert_eq!(
        call(&app, patch(&id, None, Some(&etag0), body))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&app, patch(&id, Some("nope"), Some(&etag0), body))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let r = call(&app, patch(&id, Some("lan-secret"), None, body)).await;
    assert_eq!(r.status, StatusCode::PRECONDITION_REQUIRED);
    assert!(r.json["description"].as_str().unwrap().contains("If-Match"));
    assert_eq!(
        call(
            &app,
            patch(&id, Some("lan-secret"), Some("\"stale\""), body)
        )
        .await
        .status,
        StatusCode::PRECONDITION_FAILED
    );
    assert_eq!(
        call(
            &app,
            patch("no-such-alert", Some("lan-secret"), Some(&etag0), body)
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );

    // Lan confirms it
    let r = call(&app, patch(&id, Some("lan-secret"), Some(&etag0), body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let etag1 = r.etag.clone().unwrap();
    assert_ne!(etag1, etag0);
    assert_eq!(r.json["properties"]["status"], "confirmed");
    assert_eq!(r.json["properties"]["status_by"], "Nguyễn Văn Lan");
    assert_eq!(r.json["properties"]["note"], "đã kiểm tra: cleared");

    // Mai still holds the old ETag: her edit must not overwrite Lan's
    let r = call(
        &app,
        patch(
            &id,
            Some("mai-secret"),
            Some(&etag0),
            r#"{"status":"dismissed"}"#,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    // after reading again she can; even the same status again makes a new event and ETag
    let fresh = get(&app, &format!("/collections/alerts/items/{id}")).await;
    assert_eq!(fresh.etag.as_deref(), Some(etag1.as_str()));
    let r = call(
        &app,
        patch(
            &id,
            Some("mai-secret"),
            Some(&etag1),
            r#"{"status":"confirmed"}"#,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_ne!(r.etag.as_deref(), Some(etag1.as_str()));

    let h = get(&app, &format!("/collections/alerts/items/{id}/history")).await;
    let ev = h.json["events"].as_array().unwrap();
    assert_eq!(ev.len(), 2);
    assert_eq!(
        (ev[0]["by"].as_str(), ev[1]["by"].as_str()),
        (Some("Nguyễn Văn Lan"), Some("Hoàng Thị Mai"))
    );
    // the filter sees the new status
    let r = get(&app, "/collections/alerts/items?status=confirmed").await;
    assert_eq!(r.json["numberMatched"], 1);

    // the store has it (the CLI reads the same table) …
    let events = canopy_store::read_triage(&store).unwrap();
    assert_eq!(events.len(), 2);
    // … a re-run keeps it, and the server picks the new store up without a restart
    let before = st.snapshot().stamp;
    run_region(d.path());
    assert!(st.refresh().await.unwrap(), "a new store is loaded");
    assert_ne!(st.snapshot().stamp, before);
    let h = get(&app, &format!("/collections/alerts/items/{id}/history")).await;
    assert_eq!(h.json["events"].as_array().unwrap().len(), 2);
    // a triage written by another process (the CLI) is seen too
    let o = run(&[
        "triage",
        "--store",
        &path_str(&store),
        &id,
        "--status",
        "dismissed",
        "--by",
        "CLI ranger",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(st.refresh().await.unwrap());
    let r = get(&app, &format!("/collections/alerts/items/{id}")).await;
    assert_eq!(r.json["properties"]["status"], "dismissed");
    assert_eq!(r.json["properties"]["status_by"], "CLI ranger");
}

#[tokio::test]
async fn a_new_store_is_swapped_in_and_a_broken_one_is_not() {
    let d = region();
    let (store, _) = run_region(d.path());
    let st = state(&store);
    let app = router(st.clone());
    assert!(!st.refresh().await.unwrap(), "nothing changed");
    let r = get(&app, "/collections/alerts/items").await;
    assert_eq!(r.json["numberMatched"], 0, "one epoch: no alerts");
    let one_epoch = get(&app, "/collections/communes/items/00001").await.json;
    assert!(one_epoch["properties"]["change_from"].is_null());

    // something that is not a GeoPackage is renamed over the store: keep serving the old one
    let junk = store.with_file_name("junk.gpkg");
    std::fs::write(&junk, b"not a geopackage").unwrap();
    std::fs::rename(&junk, &store).unwrap();
    assert!(st.refresh().await.is_err());
    assert_eq!(
        get(&app, "/collections/communes/items/00001").await.json,
        one_epoch
    );

    // a second epoch arrives: the next refresh serves it
    let d2 = region_two_epochs();
    let (store2, _) = run_region(d2.path());
    std::fs::copy(&store2, store.with_file_name("new.gpkg")).unwrap();
    std::fs::rename(store.with_file_name("new.gpkg"), &store).unwrap();
    assert!(st.refresh().await.unwrap());
    let r = get(&app, "/collections/alerts/items").await;
    assert_eq!(r.json["numberMatched"], 1);
    let c = get(&app, "/collections/communes/items/00001").await.json;
    assert_eq!(c["properties"]["change_from"], "2024");
    assert_eq!(c["properties"]["change_to"], "2025");
}

#[tokio::test]
async fn planner_report_species_and_targets() {
    let d = region_two_epochs();
    let (store, _) = run_region(d.path());
    let app = router(state(&store));
    let r = app
        .clone()
        .oneshot(
            Request::get("/stats/report?f=csv")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("report-2025.csv"));
    let csv =
        String::from_utf8(r.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    // the same bytes as `canopy report --format csv`
    let o = run(&["report", "--store", &path_str(&store), "--format", "csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(csv, String::from_utf8(o.stdout).unwrap());
    assert!(csv.contains("Lộc Bình"));
    let r = app
        .clone()
        .oneshot(
            Request::get("/stats/report?epoch=2024")
                .header("accept", "text/html")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    // The HTML report in each language: the same bytes as `canopy report --lang`
    // (default Vietnamese, `?lang=en` English).
    for (query, lang) in [("", "vi"), ("&lang=en", "en"), ("&lang=vi", "vi")] {
        let r = app
            .clone()
            .oneshot(
                Request::get(format!("/stats/report?f=html{query}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let page =
            String::from_utf8(r.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
        let o = run(&[
            "report",
            "--store",
            &path_str(&store),
            "--format",
            "html",
            "--lang",
            lang,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(page, String::from_utf8(o.stdout).unwrap(), "{lang}");
        let heading = if lang == "vi" {
            "<h2>Các xã</h2>"
        } else {
            "<h2>Communes</h2>"
        };
        assert!(page.contains(heading), "{lang}: {heading}");
    }
    assert_eq!(
        get(&app, "/stats/report?f=html&lang=fr").await.status,
        StatusCode::BAD_REQUEST
    );
    let r = get(&app, "/stats/report").await;
    assert_eq!(
        (r.status, r.json["epoch"].as_str()),
        (StatusCode::OK, Some("2025"))
    );
    assert_eq!(
        get(&app, "/stats/report?epoch=1999").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(&app, "/stats/report?f=pdf").await.status,
        StatusCode::BAD_REQUEST
    );
    // the fixture has no zones and no targets: empty, and said so
    let r = get(&app, "/stats/species").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["species"], serde_json::json!([]));
    let r = get(&app, "/stats/targets").await;
    assert_eq!(
        (
            r.json["has_targets"].as_bool(),
            r.json["progress"].is_null()
        ),
        (Some(false), true)
    );
    assert_eq!(
        get(&app, "/collections/zones/items").await.json["numberMatched"],
        0
    );
}

/// The fields of `value` (recursively) that `schema` (in `doc`, the OpenAPI document)
/// does not declare, as JSON paths. A schema is followed through `$ref` and `allOf`;
/// an object with neither `properties` nor `additionalProperties` declares no field.
fn undocumented(doc: &Value, schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
    if let Some(r) = schema["$ref"].as_str() {
        let target = doc.pointer(r.trim_start_matches('#'));
        let Some(target) = target else {
            out.push(format!("{at}: unresolved {r}"));
            return;
        };
        return undocumented(doc, target, value, at, out);
    }
    if let Some(parts) = schema["allOf"].as_array() {
        // the union of the parts' properties
        let mut props = serde_json::Map::new();
        for p in parts {
            let mut p = p;
            while let Some(r) = p["$ref"].as_str() {
                p = doc
                    .pointer(r.trim_start_matches('#'))
                    .unwrap_or(&Value::Null);
            }
            if let Some(m) = p["properties"].as_object() {
                props.extend(m.clone());
            }
        }
        if parts.len() == 1 && props.is_empty() {
            return undocumented(doc, &parts[0], value, at, out);
        }
        let merged = serde_json::json!({"type": "object", "properties": props});
        return undocumented(doc, &merged, value, at, out);
    }
    match value {
        Value::Object(m) => {
            let props = schema["properties"].as_object();
            let extra = &schema["additionalProperties"];
            for (k, v) in m {
                match props.and_then(|p| p.get(k)) {
                    Some(s) => undocumented(doc, s, v, &format!("{at}.{k}"), out),
                    None if extra.is_object() => {
                        undocumented(doc, extra, v, &format!("{at}.{k}"), out)
                    }
                    None => out.push(format!("{at}.{k}")),
                }
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                undocumented(doc, &schema["items"], v, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// The schema of a 200 JSON answer of GET `path` in the document.
fn answer_schema<'a>(doc: &'a Value, path: &str) -> &'a Value {
    &doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
}

#[tokio::test]
async fn every_field_of_the_stats_answers_is_documented() {
    let d = region_two_epochs();
    let (store, _) = run_region(d.path());
    let app = router(state(&store));
    let doc = get(&app, "/api").await.json;
    let code = get(&app, "/stats/communes").await.json["communes"][0]["code"]
        .as_str()
        .unwrap()
        .to_string();
    let mut checked = 0;
    for (path, uri) in [
        ("/stats/communes", "/stats/communes".to_string()),
        (
            "/stats/communes/{commune}",
            format!("/stats/communes/{code}"),
        ),
        ("/stats/change", "/stats/change".into()),
        ("/stats/province", "/stats/province".into()),
        ("/stats/species", "/stats/species".into()),
        ("/stats/targets", "/stats/targets".into()),
        ("/stats/observations", "/stats/observations".into()),
        ("/stats/report", "/stats/report".into()),
    ] {
        let r = get(&app, &uri).await;
        assert_eq!(r.status, StatusCode::OK, "{uri}");
        let schema = answer_schema(&doc, path);
        assert!(schema.is_object(), "{path} has no documented JSON answer");
        let mut missing = Vec::new();
        undocumented(&doc, schema, &r.json, "", &mut missing);
        assert!(missing.is_empty(), "{uri}: fields not in /api: {missing:?}");
        checked += 1;
    }
    assert_eq!(checked, 8);
    // the check is not blind: a field the structs do not have is seen
    let mut r = get(&app, "/stats/province").await.json;
    r["cover"][0]["made_up_ha"] = 1.into();
    r["surprise"] = true.into();
    let mut missing = Vec::new();
    undocumented(
        &doc,
        answer_schema(&doc, "/stats/province"),
        &r,
        "",
        &mut missing,
    );
    assert_eq!(missing, [".cover[0].made_up_ha", ".surprise"]);
}
