//! The web map page and its files, embedded into the binary at build time
//! (rust-embed over `crates/canopy-server/static/`), so the server needs no files
//! beside it and the page needs no internet.

use axum::extract::Path;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use rust_embed::Embed;

use crate::error::ApiError;

#[derive(Embed)]
#[folder = "static/"]
struct Assets;

fn serve(path: &str) -> Result<Response, ApiError> {
    if path.split('/').any(|s| s == "..") {
        return Err(ApiError::NotFound(format!("no static file {path}")));
    }
    let f =
        Assets::get(path).ok_or_else(|| ApiError::NotFound(format!("no static file {path}")))?;
    let mime = if path.ends_with(".webmanifest") {
        "application/manifest+json"
    } else {
        f.metadata.mimetype()
    };
    let mut r = f.data.into_owned().into_response();
    if let Ok(v) = HeaderValue::from_str(mime) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(r)
}

/// `GET /map`.
pub async fn map() -> Result<Response, ApiError> {
    serve("map/index.html")
}

/// `GET /sw.js`: the map's service worker, at the root so that its scope can be `/`
/// (the page at `/map` and the API it reads), as JavaScript, never cached by HTTP
/// (browsers check it for updates).
pub async fn service_worker() -> Result<Response, ApiError> {
    let mut r = serve("map/sw.js")?;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    h.insert("service-worker-allowed", HeaderValue::from_static("/"));
    Ok(r)
}

/// `GET /static/{*path}`.
pub async fn file(Path(path): Path<String>) -> Result<Response, ApiError> {
    serve(&path)
}
