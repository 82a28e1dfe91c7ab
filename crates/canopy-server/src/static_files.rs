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

/// The API viewer page (`/api?f=html`): Swagger UI over `/api?f=json`.
pub fn api_page() -> Result<Response, ApiError> {
    serve("api/index.html")
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

#[cfg(test)]
mod palette_tests {
    /// The web map's cover classes and colours are `canopy_core::palette`'s (the
    /// report's and the QGIS style's): one class scheme everywhere.
    #[test]
    fn palette_agrees() {
        use canopy_core::palette::{COVER_BREAKS, COVER_COLORS, SEVERITY_COLORS, SPECIES_COLORS};
        let js = include_str!("../static/map/map.js");
        let line = |name: &str| {
            js.lines()
                .find(|l| l.trim_start().starts_with(&format!("const {name} = ")))
                .unwrap_or_else(|| panic!("map.js has no const {name}"))
                .to_string()
        };
        let breaks = line("COVER_BREAKS");
        let want = COVER_BREAKS
            .iter()
            .map(|b| format!("{b:.0}"))
            .collect::<Vec<_>>()
            .join(", ");
        assert!(
            breaks.contains(&format!("[{want}]")),
            "{breaks} vs [{want}]"
        );
        let colors = line("COVER_COLORS");
        let want = COVER_COLORS
            .iter()
            .map(|c| format!("'{c}'"))
            .collect::<Vec<_>>()
            .join(", ");
        assert!(
            colors.contains(&format!("[{want}]")),
            "{colors} vs [{want}]"
        );
        let sev = line("SEVERITY_COLORS");
        for (k, c) in SEVERITY_COLORS {
            assert!(sev.contains(&format!("{k}: '{c}'")), "{sev}: {k} {c}");
        }
        let sp = line("SPECIES_COLORS");
        for (k, c) in SPECIES_COLORS {
            assert!(sp.contains(&format!("{k}: '{c}'")), "{sp}: {k} {c}");
        }
    }
}
