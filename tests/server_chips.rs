//! Evidence chips (issue 18): the run renders each alert's before/after PNG into the
//! store; the server serves them under the alert. Checked on the decoded image (GDAL's
//! PNG driver) against the fixture's planted truth: the clearing at columns 60..80,
//! rows 20..30 (forest in 2024, cleared in 2025) is forest-coloured (green over red)
//! in the before chip and non-forest (red over green) in the after chip, its outline is
//! drawn, and the pixels around it keep their own truth in both.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use canopy_pipeline::chips::{OUTLINE, SCALE};
use canopy_pipeline::gdal::Dataset;
use canopy_server::{auth::Tokens, router, AppState, Settings};
use common::*;
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, String, Vec<u8>, Option<String>) {
    let r = app
        .clone()
        .oneshot(
            Request::get(uri)
                .header("host", "canopy.test")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let epoch = r
        .headers()
        .get("x-canopy-epoch")
        .map(|v| v.to_str().unwrap().to_string());
    (
        status,
        ct,
        r.into_body().collect().await.unwrap().to_bytes().to_vec(),
        epoch,
    )
}

/// A PNG decoded by GDAL: width, height, RGB per pixel.
fn decode(png: Vec<u8>, name: &str) -> (usize, usize, Vec<[u8; 3]>) {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name} is a PNG");
    let path = format!("/vsimem/test-{name}.png");
    canopy_pipeline::gdal::vsi::create_mem_file(&path, png).unwrap();
    let ds = Dataset::open(&path).unwrap();
    let (w, h) = ds.raster_size();
    assert_eq!(ds.raster_count(), 3, "{name}: RGB");
    let bands: Vec<Vec<u8>> = (1..=3)
        .map(|b| {
            ds.rasterband(b)
                .unwrap()
                .read_as::<u8>((0, 0), (w, h), (w, h), None)
                .unwrap()
                .data()
                .to_vec()
        })
        .collect();
    drop(ds);
    canopy_pipeline::gdal::vsi::unlink_mem_file(&path).unwrap();
    (
        w,
        h,
        (0..w * h)
            .map(|i| [bands[0][i], bands[1][i], bands[2][i]])
            .collect(),
    )
}

#[tokio::test]
async fn chips_show_the_planted_clearing_forest_before_and_cleared_after() {
    let d = region_two_epochs();
    let (store, _) = run_region(d.path());
    let app = router(Arc::new(
        AppState::open(store.clone(), Tokens::none(), Settings::default()).unwrap(),
    ));
    let (_, _, body, _) = get(&app, "/collections/alerts/items?f=json").await;
    let list: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let alerts = list["features"].as_array().unwrap();
    // The 2 ha clearing is the one alert of the fixture (the 2-px one is below the minimum).
    assert_eq!(alerts.len(), 1, "{list}");
    let id = alerts[0]["id"].as_str().unwrap();
    assert!((alerts[0]["properties"]["area_ha"].as_f64().unwrap() - 2.0).abs() < 1e-6);

    let (s, ct, before, epoch) = get(
        &app,
        &format!("/collections/alerts/items/{id}/chips/before.png"),
    )
    .await;
    assert_eq!(
        (s, ct.as_str(), epoch.as_deref()),
        (StatusCode::OK, "image/png", Some("2024"))
    );
    let (s, _, after, epoch) = get(
        &app,
        &format!("/collections/alerts/items/{id}/chips/after.png"),
    )
    .await;
    assert_eq!((s, epoch.as_deref()), (StatusCode::OK, Some("2025")));
    let (bw, bh, before) = decode(before, "before");
    let (aw, ah, after) = decode(after, "after");
    assert_eq!((bw, bh), (aw, ah));

    // Where the window starts (in the tile's pixels): from the outline's bounding box,
    // which must be exactly the clearing's 20 × 10 blocks.
    let yellow: Vec<(usize, usize)> = (0..bw * bh)
        .filter(|i| after[*i] == OUTLINE)
        .map(|i| (i % bw, i / bw))
        .collect();
    let (x0, x1) = (
        yellow.iter().map(|p| p.0).min().unwrap(),
        yellow.iter().map(|p| p.0).max().unwrap(),
    );
    let (y0, y1) = (
        yellow.iter().map(|p| p.1).min().unwrap(),
        yellow.iter().map(|p| p.1).max().unwrap(),
    );
    assert_eq!(
        (x1 + 1 - x0, y1 + 1 - y0),
        (20 * SCALE, 10 * SCALE),
        "the outline spans the clearing"
    );
    assert_eq!(
        (x0 % SCALE, y0 % SCALE),
        (0, 0),
        "the outline is on block edges"
    );
    let (gc0, gr0) = (60 - x0 / SCALE, 20 - y0 / SCALE);
    let (ww, wh) = (bw / SCALE, bh / SCALE);
    assert!(ww >= 24 && wh >= 24 && ww <= 96, "window {ww} × {wh} px");
    // The centre of a grid pixel's block (never on an outline line).
    let at = |img: &[[u8; 3]], c: usize, r: usize| {
        img[((r - gr0) * SCALE + SCALE / 2) * bw + (c - gc0) * SCALE + SCALE / 2]
    };
    let forest = |p: [u8; 3]| p[1] > p[0];
    let non_forest = |p: [u8; 3]| p[0] > p[1];
    let mut inside = 0;
    for r in 20..30 {
        for c in 60..80 {
            assert!(
                forest(at(&before, c, r)),
                "before, clearing pixel ({c}, {r}): {:?}",
                at(&before, c, r)
            );
            assert!(
                non_forest(at(&after, c, r)),
                "after, clearing pixel ({c}, {r}): {:?}",
                at(&after, c, r)
            );
            inside += 1;
        }
    }
    assert_eq!(inside, 200);
    // Around it, each pixel as the fixture's truth says, in both epochs.
    for r in gr0..gr0 + wh {
        for c in gc0..gc0 + ww {
            if (60..80).contains(&c) && (20..30).contains(&r) {
                continue;
            }
            let want = is_forest(c, r);
            for (img, name) in [(&before, "before"), (&after, "after")] {
                let p = at(img, c, r);
                assert_eq!(forest(p), want, "{name} ({c}, {r}): {p:?}");
            }
        }
    }
    // The outline: along the clearing's left edge (the first column of its blocks)
    // and nowhere far from it.
    for r in 20..30 {
        let y = (r - gr0) * SCALE + 1;
        assert_eq!(
            after[y * bw + (60 - gc0) * SCALE],
            OUTLINE,
            "outline at row {r}"
        );
        assert_eq!(before[y * bw + (60 - gc0) * SCALE], OUTLINE);
    }
    let yellow = yellow.len();
    // The perimeter of 20 × 10 blocks: 2 × (20 + 10) × SCALE edge pixels less the 4
    // corners counted twice.
    assert_eq!(yellow, 2 * (20 + 10) * SCALE - 4);

    // Unknown chip names and alerts are 404s.
    assert_eq!(
        get(
            &app,
            &format!("/collections/alerts/items/{id}/chips/middle.png")
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&app, "/collections/alerts/items/nope/chips/before.png")
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}
