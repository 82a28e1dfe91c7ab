//! Routes on in-memory snapshots (no store file, no socket): paging over 100,000
//! alerts, bbox through the R-tree, filters, links, and every malformed parameter.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use canopy_core::change::Severity;
use canopy_core::stats::CoverFigures;
use canopy_core::triage::TriageStatus;
use canopy_server::snapshot::{Snapshot, Tables};
use canopy_server::{auth::Tokens, router, AppState, Settings};
use canopy_store::{AlertCause, AlertKind, ChangeRow, CoverRow, StoredAlert, StoredCommune};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

fn square(x: f64, y: f64, d: f64) -> geo::Geometry<f64> {
    geo::Geometry::MultiPolygon(geo::MultiPolygon(vec![geo::Polygon::new(
        geo::LineString::from(vec![(x, y), (x + d, y), (x + d, y + d), (x, y + d), (x, y)]),
        vec![],
    )]))
}

const SEV: [Severity; 3] = [Severity::High, Severity::Medium, Severity::Low];

fn commune(code: &str, name: &str, natural_ha: f64) -> StoredCommune {
    StoredCommune {
        code: code.into(),
        name: name.into(),
        natural_ha,
    }
}

/// Two communes side by side and `n` alerts on a 1000-wide lattice over both.
fn snapshot(n: usize) -> Snapshot {
    let mut t = Tables {
        epochs: vec![
            ("2024".into(), "2024-12-31".into()),
            ("2025".into(), "2025-12-31".into()),
        ],
        communes: vec![
            (
                commune("00001", "Lộc Bình", 100.0),
                Some(square(106.0, 21.0, 0.5)),
            ),
            (
                commune("00002", "Đình Lập", 200.0),
                Some(square(106.5, 21.0, 0.5)),
            ),
        ],
        ..Default::default()
    };
    for (c, e, f) in [
        ("00001", "2024", 60.0),
        ("00001", "2025", 55.0),
        ("00002", "2024", 120.0),
        ("00002", "2025", 121.0),
    ] {
        t.cover.push(CoverRow {
            commune_code: c.into(),
            epoch: e.into(),
            figures: CoverFigures {
                natural_ha: 100.0,
                forest_ha: f,
                observed_ha: 100.0,
                unobserved_ha: 0.0,
                cover_pct: Some(f),
                observed_pct: 100.0,
            },
        });
    }
    t.change.push(ChangeRow {
        commune_code: "00001".into(),
        from_epoch: "2024".into(),
        to_epoch: "2025".into(),
        loss_ha: 6.0,
        gain_ha: 1.0,
        net_ha: -5.0,
        unobserved_ha: 0.0,
        transitions: vec![],
    });
    t.alerts = (0..n)
        .map(|i| {
            let (x, y) = (
                106.0 + (i % 1000) as f64 * 0.001,
                21.0 + (i / 1000) as f64 * 0.001,
            );
            let code = if x < 106.5 { "00001" } else { "00002" };
            let alert = StoredAlert {
                id: format!("a{i:06}"),
                from_epoch: "2024".into(),
                to_epoch: "2025".into(),
                from_date: "2024-12-31".into(),
                to_date: "2025-12-31".into(),
                area_ha: 0.5,
                pixels: Some(5),
                centroid: (x, y),
                commune_code: code.into(),
                communes: vec![code.into()],
                zone_species: (i % 2 == 0).then(|| "acacia".into()),
                zone_code: None,
                natural_lost: None,
                natural_lost_ha: None,
                severity: SEV[i % 3],
                clear_obs: 1,
                first_seen: String::new(),
                season_mismatch: false,
                kind: AlertKind::Loss,
                cause: AlertCause::Unknown,
                status: TriageStatus::New,
                geometry: String::new(),
            };
            (alert, Some(square(x, y, 0.0005)))
        })
        .collect();
    Snapshot::from_tables(t)
}

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, Value) {
    let r = app
        .clone()
        .oneshot(
            Request::get(uri)
                .header("host", "test")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = r.status();
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn app(n: usize) -> axum::Router {
    router(Arc::new(AppState::in_memory(
        snapshot(n),
        Tokens::none(),
        Settings::default(),
    )))
}

fn link<'a>(doc: &'a Value, rel: &str) -> Option<&'a str> {
    doc["links"].as_array()?.iter().find(|l| l["rel"] == rel)?["href"].as_str()
}

#[tokio::test]
async fn paging_100000_alerts() {
    let app = app(100_000);
    // a deep page: the right features, matched count, links keep the filter
    let (s, doc) = get(
        &app,
        "/collections/alerts/items?severity=high&limit=1000&offset=30000",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(doc["numberMatched"], 33_334);
    assert_eq!(doc["numberReturned"], 1000);
    assert_eq!(doc["features"][0]["id"], "a090000");
    assert_eq!(doc["features"][999]["id"], "a092997");
    assert_eq!(
        link(&doc, "next").unwrap(),
        "http://test/collections/alerts/items?severity=high&limit=1000&offset=31000"
    );
    assert_eq!(
        link(&doc, "prev").unwrap(),
        "http://test/collections/alerts/items?severity=high&limit=1000&offset=29000"
    );
    // walking every page with the maximum limit returns each feature once
    let mut seen = 0;
    let mut next = Some("/collections/alerts/items?limit=10000".to_string());
    while let Some(u) = next {
        let (s, doc) = get(&app, &u).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(doc["features"][0]["id"], format!("a{seen:06}"));
        seen += doc["numberReturned"].as_u64().unwrap() as usize;
        next = link(&doc, "next").map(|h| h.trim_start_matches("http://test").to_string());
    }
    assert_eq!(seen, 100_000);
    // past the end: empty page with a prev link and no next
    let (_, doc) = get(&app, "/collections/alerts/items?offset=100000").await;
    assert_eq!(doc["numberReturned"], 0);
    assert!(link(&doc, "next").is_none() && link(&doc, "prev").is_some());
}

#[tokio::test]
async fn bbox_uses_exact_geometry_and_combines_with_filters() {
    let app = app(100_000);
    // alerts are 0.0005° squares every 0.001°: this box holds columns 10..=19 of rows 0..=4
    let (s, doc) = get(
        &app,
        "/collections/alerts/items?bbox=106.0100,21.0,106.0195,21.0045&limit=100",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(doc["numberMatched"], 50);
    for (query, matched) in [
        // a box in the gaps between squares matches nothing, though it overlaps no bbox either
        ("bbox=106.0006,21.0006,106.0009,21.0009", 0),
        (
            "bbox=106.0100,21.0,106.0195,21.0045&species=acacia&commune=00001",
            25,
        ),
        ("commune=00002&limit=1", 50_000),
        ("status=new&severity=high,low", 66_667),
        ("status=confirmed", 0),
        ("datetime=2023-01-01/2024-06-01", 0),
        ("datetime=2025-06-01&limit=1", 100_000),
    ] {
        let (s, doc) = get(&app, &format!("/collections/alerts/items?{query}")).await;
        assert_eq!(s, StatusCode::OK, "{query}");
        assert_eq!(doc["numberMatched"], matched, "{query}");
    }
}

#[tokio::test]
async fn communes_carry_latest_cover_and_change_and_names_fold() {
    let app = app(10);
    let (_, doc) = get(&app, "/collections/communes/items?name=loc%20binh").await;
    assert_eq!(doc["numberMatched"], 1);
    let p = &doc["features"][0]["properties"];
    assert_eq!(p["name"], "Lộc Bình");
    assert_eq!(p["epoch"], "2025");
    assert_eq!(p["forest_ha"], 55.0);
    assert_eq!(
        (p["change_from"].as_str(), p["loss_ha"].as_f64()),
        (Some("2024"), Some(6.0))
    );
    let (_, doc) = get(&app, "/stats/communes?q=DINH%20LAP").await;
    assert_eq!(doc["communes"][0]["code"], "00002");
    let (s, doc) = get(&app, "/stats/communes/l%E1%BB%99c%20b%C3%ACnh").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(doc["cover"].as_array().unwrap().len(), 2);
    assert_eq!(doc["cover"][1]["forest_ha"], 55.0);
}

#[tokio::test]
async fn malformed_requests_are_4xx_with_a_json_reason() {
    let app = app(10);
    for (uri, status, needle) in [
        ("/collections/alerts/items?bbox=1,2,3", 400, "bbox"),
        (
            "/collections/alerts/items?bbox=106,22,107,21",
            400,
            "min lat",
        ),
        ("/collections/alerts/items?limit=-1", 400, "limit"),
        ("/collections/alerts/items?limit=0", 400, "limit"),
        ("/collections/alerts/items?limit=ten", 400, "limit"),
        ("/collections/alerts/items?offset=-5", 400, "offset"),
        (
            "/collections/alerts/items?datetime=yesterday",
            400,
            "datetime",
        ),
        ("/collections/alerts/items?colour=red", 400, "colour"),
        (
            "/collections/alerts/items?severity=critical",
            400,
            "severity",
        ),
        ("/collections/alerts/items?severity=", 400, "severity"),
        (
            "/collections/alerts/items?limit=1&limit=2",
            400,
            "more than once",
        ),
        ("/collections/alerts/items?f=xml", 400, "f=xml"),
        ("/collections/alerts/items?%zz=1", 400, "%zz"),
        ("/collections/communes/items?severity=high", 400, "severity"),
        ("/collections/forests/items", 404, "forests"),
        ("/collections/alerts/items/nope", 404, "nope"),
        ("/collections/alerts.json", 404, "alerts.json"),
        ("/collections?limit=1", 400, "limit"),
        ("/stats/change?from=2024", 400, "both"),
        ("/stats/change?from=2024&to=2030", 400, "2030"),
        ("/stats/communes/zzz", 404, "zzz"),
        ("/nowhere", 404, "/nowhere"),
        ("/static/../Cargo.toml", 404, ""),
    ] {
        let (s, doc) = get(&app, uri).await;
        assert_eq!(s.as_u16(), status, "{uri}: {doc}");
        let d = doc["description"]
            .as_str()
            .unwrap_or_else(|| panic!("{uri}: no JSON reason: {doc}"));
        assert!(d.contains(needle), "{uri}: {d}");
        assert!(doc["code"].is_string(), "{uri}");
    }
    // a limit over the cap is served as the cap (OGC /req/core/fc-limit-response-1)
    let (s, doc) = get(&app, "/collections/alerts/items?limit=99999999").await;
    assert_eq!(
        (s, doc["numberReturned"].as_u64()),
        (StatusCode::OK, Some(10))
    );
}

#[tokio::test]
async fn writes_need_a_store_a_token_and_if_match() {
    let mut tokens = Tokens::none();
    tokens.add_plain("lan", "secret");
    let app = router(Arc::new(AppState::in_memory(
        snapshot(3),
        tokens,
        Settings::default(),
    )));
    let patch = |auth: Option<&str>, body: &str, ct: &str| {
        let mut b = Request::patch("/collections/alerts/items/a000001").header("content-type", ct);
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        b.header("if-match", "\"x\"")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let st = |r: Request<Body>| {
        let app = app.clone();
        async move { app.oneshot(r).await.unwrap().status().as_u16() }
    };
    assert_eq!(
        st(patch(None, r#"{"status":"confirmed"}"#, "application/json")).await,
        401
    );
    assert_eq!(
        st(patch(
            Some("Bearer wrong"),
            r#"{"status":"confirmed"}"#,
            "application/json"
        ))
        .await,
        401
    );
    assert_eq!(
        st(patch(
            Some("Bearer secret"),
            r#"{"status":"confirmed"}"#,
            "text/plain"
        ))
        .await,
        415
    );
    assert_eq!(
        st(patch(
            Some("Bearer secret"),
            r#"{"status":"gone"}"#,
            "application/json"
        ))
        .await,
        422
    );
    assert_eq!(
        st(patch(
            Some("Bearer secret"),
            r#"{"status":"new","x":1}"#,
            "application/json"
        ))
        .await,
        422
    );
    assert_eq!(
        st(patch(
            Some("Bearer secret"),
            &"x".repeat(100_000),
            "application/json"
        ))
        .await,
        413
    );
    let r = app
        .clone()
        .oneshot(
            Request::patch("/collections/communes/items/00001")
                .header("authorization", "Bearer secret")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    let r = app
        .clone()
        .oneshot(Request::delete("/collections").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn private_reads_need_a_token() {
    let mut tokens = Tokens::none();
    tokens.add_plain("lan", "secret");
    let settings = Settings {
        private_reads: true,
        ..Default::default()
    };
    let app = router(Arc::new(AppState::in_memory(snapshot(3), tokens, settings)));
    let (s, _) = get(&app, "/collections").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let r = app
        .oneshot(
            Request::get("/collections")
                .header("authorization", "Bearer secret")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}
