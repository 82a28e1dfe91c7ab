//! Canopy's HTTP layer: the store served as OGC API - Features (GeoJSON, HTML,
//! OpenAPI 3.0), planner statistics, ranger triage and the web map page.
//!
//! Thin on purpose: no raster code, nothing computed here that the pipeline did not
//! store. Requests read an immutable in-memory [`snapshot::Snapshot`] of the store (an
//! R-tree per collection for bbox queries); a changed store is reloaded and swapped in
//! atomically ([`state`]).
//!
//! - [`collections`]: the table of collections, properties and filters that the
//!   parser, the schemas and `/api` all read;
//! - [`snapshot`]: loading a store into memory; [`state`]: shared state, hot reload;
//! - [`query`]: parameter parsing and selection; [`time`]: days as Unix seconds;
//!   [`geometry`]: RFC 7946 encoding;
//! - [`ogc`], [`features`]: the OGC endpoints; [`openapi`]: `/api`;
//! - [`tiles`], [`mvt`]: vector tiles (OGC API - Tiles, MVT) of communes, zones, plots;
//! - [`stats`]: planner endpoints; [`triage`], [`auth`]: ranger writes and tokens;
//! - [`html`], [`respond`]: HTML views, links, responses; [`static_files`]: `/map`;
//! - [`error`]: error types. Names are searched with `canopy_core::text::fold`
//!   (no diacritics, case or tone-mark placement).

pub mod auth;
pub mod cache;
pub mod chips;
pub mod collections;
pub mod conn;
pub mod cql2;
pub mod crs;
pub mod error;
pub mod exports;
pub mod features;
pub mod fire;
pub mod geometry;
pub mod html;
pub mod i18n;
pub mod mvt;
pub mod ogc;
pub mod openapi;
pub mod parcels;
pub mod photos;
pub mod pool;
pub mod query;
pub mod respond;
pub mod snapshot;
pub mod state;
pub mod static_files;
pub mod stats;
pub mod tiles;
pub mod time;
pub mod triage;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;

pub use error::{ApiError, ServerError};
pub use state::{AppState, Settings};

/// How `canopy serve` runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub store: PathBuf,
    pub bind: String,
    pub tokens: auth::Tokens,
    /// Allowed CORS origins (`*` for any); empty: no CORS headers.
    pub cors: Vec<String>,
    pub settings: Settings,
    /// How often the store file is checked for a new version.
    pub poll: Duration,
    /// Connection cap and timeouts.
    pub limits: conn::Limits,
}

/// The Content-Security-Policy of every response: scripts only from this server (no
/// inline script, no `eval`), data only from this server, map tiles from
/// OpenStreetMap when chosen; no plugins, no framing, no `<base>` rewrites. `blob:`
/// images: the previews of a ranger's photos before they are sent (object URLs of
/// the resized files, made by the page itself). The service worker (`/sw.js`) and the
/// manifest are same-origin (`script-src`/`default-src 'self'`).
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data: blob: https://tile.openstreetmap.org; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

/// Requests too large or malformed for the router, answered in JSON like every
/// other error: a long target (414), large or many headers (431), a path that is
/// not UTF-8 once percent-decoded (400).
async fn limit_request(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let uri_len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri_len > conn::MAX_URI_BYTES {
        return error::error_response(
            StatusCode::URI_TOO_LONG,
            "URITooLong",
            &format!(
                "the request target is {uri_len} bytes; the limit is {}",
                conn::MAX_URI_BYTES
            ),
        );
    }
    let h = req.headers();
    let bytes: usize = h.iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
    if h.len() > conn::MAX_HEADERS || bytes > conn::MAX_HEADER_BYTES {
        return error::error_response(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "HeadersTooLarge",
            &format!(
                "{} headers, {bytes} bytes; the limits are {} headers and {} bytes",
                h.len(),
                conn::MAX_HEADERS,
                conn::MAX_HEADER_BYTES
            ),
        );
    }
    if !percent_decodes_to_utf8(req.uri().path()) {
        return error::error_response(
            StatusCode::BAD_REQUEST,
            "InvalidPath",
            "the path is not valid UTF-8 once percent-decoded",
        );
    }
    next.run(req).await
}

fn percent_decodes_to_utf8(path: &str) -> bool {
    let b = path.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    std::str::from_utf8(&out).is_ok()
}

fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let msg = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("panic");
    tracing::error!("handler panicked: {msg}");
    error::error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalError",
        "internal error (logged on the server)",
    )
}

async fn require_token(
    axum::extract::State(st): axum::extract::State<Arc<AppState>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if st.settings.private_reads && req.method() != Method::OPTIONS {
        if let Err(e) = st.tokens.check(req.headers()) {
            return e.into_response();
        }
    }
    next.run(req).await
}

/// A route: its path, the methods it answers (the OpenAPI test checks that `/api`
/// documents each) and its handlers.
pub(crate) type Route = (
    &'static str,
    &'static [&'static str],
    axum::routing::MethodRouter<Arc<AppState>>,
);

/// Every route of the server, in one table (the router and `openapi`'s test read it).
pub(crate) fn routes() -> Vec<Route> {
    use axum::routing::post;
    vec![
        ("/", &["get"], get(ogc::landing)),
        ("/conformance", &["get"], get(ogc::conformance)),
        ("/api", &["get"], get(ogc::api)),
        ("/collections", &["get"], get(ogc::collections_list)),
        (
            "/collections/{collection_id}",
            &["get"],
            get(ogc::collection),
        ),
        (
            "/collections/{collection_id}/items",
            &["get"],
            get(ogc::items),
        ),
        (
            "/collections/{collection_id}/items/{feature_id}",
            &["get", "patch"],
            get(ogc::item).patch(triage::patch),
        ),
        (
            "/collections/{collection_id}/items/{feature_id}/history",
            &["get"],
            get(triage::history),
        ),
        (
            "/collections/{collection_id}/items/{feature_id}/photos",
            &["post"],
            post(photos::upload).layer(DefaultBodyLimit::max(photos::BODY_LIMIT)),
        ),
        (
            "/collections/{collection_id}/items/{feature_id}/photos/{photo}",
            &["get"],
            get(photos::get),
        ),
        (
            "/collections/{collection_id}/items/{feature_id}/chips/{file}",
            &["get"],
            get(chips::get),
        ),
        (
            "/collections/{collection_id}/queryables",
            &["get"],
            get(ogc::queryables),
        ),
        (
            "/collections/{collection_id}/schema",
            &["get"],
            get(ogc::schema),
        ),
        (
            "/collections/{collection_id}/tiles",
            &["get"],
            get(tiles::tilesets),
        ),
        (
            "/collections/{collection_id}/tiles/{tile_matrix_set_id}",
            &["get"],
            get(tiles::tileset_doc),
        ),
        (
            "/collections/{collection_id}/tiles/{tile_matrix_set_id}/{tile_matrix}/{tile_row}/{tile_col}",
            &["get"],
            get(tiles::tile),
        ),
        ("/tileMatrixSets", &["get"], get(tiles::matrix_sets)),
        (
            "/tileMatrixSets/{tile_matrix_set_id}",
            &["get"],
            get(tiles::matrix_set),
        ),
        ("/stats/communes", &["get"], get(stats::communes)),
        (
            "/stats/communes/{commune}",
            &["get"],
            get(stats::commune_series),
        ),
        ("/stats/change", &["get"], get(stats::change)),
        ("/stats/province", &["get"], get(stats::province)),
        ("/stats/species", &["get"], get(stats::species)),
        ("/stats/targets", &["get"], get(stats::targets)),
        ("/stats/report", &["get"], get(stats::report)),
        ("/stats/fire-danger", &["get"], get(fire::danger)),
        ("/stats/burned-area", &["get"], get(fire::burned_area)),
        ("/stats/observations", &["get"], get(stats::observations)),
        ("/stats/parcels", &["get"], get(parcels::summary)),
        ("/map", &["get"], get(static_files::map)),
        ("/map/", &["get"], get(static_files::map)),
        ("/static/{*path}", &["get"], get(static_files::file)),
        ("/sw.js", &["get"], get(static_files::service_worker)),
    ]
}

/// The application: every route, with panics caught, bodies capped and tracing.
pub fn router(state: Arc<AppState>) -> Router {
    routes()
        .into_iter()
        .fold(Router::new(), |r, (path, _, handlers)| {
            r.route(path, handlers)
        })
        .fallback(ogc::not_found)
        .method_not_allowed_fallback(ogc::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ))
        .layer(axum::middleware::from_fn(i18n::layer))
        .layer(DefaultBodyLimit::max(triage::MAX_BODY))
        .layer(axum::middleware::from_fn(limit_request))
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(axum::middleware::from_fn(cache::conditional))
        .layer(axum::middleware::map_response(security_headers))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

fn cors(origins: &[String]) -> Result<Option<CorsLayer>, ServerError> {
    if origins.is_empty() {
        return Ok(None);
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let v = origins
            .iter()
            .map(|o| {
                HeaderValue::from_str(o.trim_end_matches('/')).map_err(|e| ServerError::Cors {
                    origin: o.clone(),
                    msg: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        AllowOrigin::list(v)
    };
    Ok(Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::HEAD, Method::PATCH, Method::OPTIONS])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_MATCH,
                header::ACCEPT,
            ])
            .expose_headers([header::ETAG]),
    ))
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// Serves the store until Ctrl-C or SIGTERM. `on_ready` gets the bound address
/// (port 0 picks a free one) once the server listens.
pub async fn serve(
    opts: ServeOptions,
    on_ready: impl FnOnce(SocketAddr),
) -> Result<(), ServerError> {
    if let Some(u) = &opts.settings.public_url {
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            return Err(ServerError::PublicUrl(u.clone()));
        }
    }
    let cors = cors(&opts.cors)?;
    let store = opts.store.clone();
    let tokens = opts.tokens.clone();
    let settings = opts.settings.clone();
    let state = tokio::task::spawn_blocking(move || AppState::open(store, tokens, settings))
        .await
        .map_err(|e| ServerError::Io(std::io::Error::other(e)))??;
    let mut state = state;
    if canopy_store::pg::is_pg(&opts.store) {
        state.pool = pool::StorePool::new(opts.limits.pg_pool, opts.limits.pg_pool_wait);
    }
    let state = Arc::new(state);
    let snap = state.snapshot();
    tracing::info!(
        store = %opts.store.display(),
        communes = snap.data.communes.items.len(),
        alerts = snap.data.alerts.items.len(),
        zones = snap.data.zones.items.len(),
        tokens = state.tokens.len(),
        "store loaded"
    );
    let listener = tokio::net::TcpListener::bind(&opts.bind)
        .await
        .map_err(|source| ServerError::Bind {
            addr: opts.bind.clone(),
            source,
        })?;
    let addr = listener.local_addr()?;
    let watcher = state::spawn_watcher(state.clone(), opts.poll);
    let mut app = router(state);
    if let Some(c) = cors {
        app = app.layer(c);
    }
    on_ready(addr);
    conn::serve(listener, app, opts.limits, shutdown_signal()).await?;
    watcher.abort();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panic_becomes_a_json_500() {
        let app: Router = Router::new()
            .route(
                "/boom",
                get(|| async {
                    let v: Vec<u8> = Vec::new();
                    v[1].to_string() // index out of bounds
                }),
            )
            .layer(CatchPanicLayer::custom(panic_response));
        let r = app
            .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["code"], "InternalError");
        assert!(!v["description"]
            .as_str()
            .unwrap()
            .contains("index out of bounds"));
    }
}
