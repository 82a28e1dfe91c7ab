//! Request and response plumbing shared by the handlers: the query extractor (whose
//! errors are JSON like every other), absolute base URLs, links, writing a JSON
//! document or its HTML view, and [`ReadRequest`], the start every read handler
//! shares.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::ApiError;
use crate::html;
use crate::query::{Format, Params};
use crate::snapshot::Snapshot;
use crate::state::{AppState, Settings};

/// The query string as ordered pairs; malformed encodings are a JSON 400.
pub struct Query(pub Params);

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let q = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str::<Params>(q)
            .map(Query)
            .map_err(|e| ApiError::BadRequest(format!("malformed query string: {e}")))
    }
}

/// `http://host` (from `--public-url` or the Host header), without a trailing slash.
pub fn base_url(settings: &Settings, headers: &HeaderMap) -> String {
    if let Some(u) = &settings.public_url {
        return u.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]_".contains(c))
        })
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// A link object.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Link {
    pub href: String,
    pub rel: String,
    #[serde(rename = "type")]
    pub ty: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

pub fn link(href: String, rel: &str, ty: &str, title: &str) -> Link {
    Link {
        href,
        rel: rel.into(),
        ty: ty.into(),
        title: (!title.is_empty()).then(|| title.to_string()),
    }
}

pub const JSON: &str = "application/json";
pub const GEOJSON: &str = "application/geo+json";
pub const HTML: &str = "text/html";
pub const SCHEMA: &str = "application/schema+json";
pub const OPENAPI: &str = "application/vnd.oai.openapi+json;version=3.0";

/// `self` and `alternate` links of a resource at `path` in `format`, keeping `params`
/// but `f`.
pub fn self_links(
    base: &str,
    path: &str,
    params: &Params,
    format: Format,
    json_type: &str,
) -> Vec<Link> {
    let rest: Vec<(String, String)> = params.iter().filter(|(k, _)| k != "f").cloned().collect();
    let with = |f: &str| {
        let mut p = rest.clone();
        p.push(("f".into(), f.into()));
        crate::query::page_url(base, path, &p, None)
    };
    let (json_rel, html_rel) = match format {
        Format::Json => ("self", "alternate"),
        Format::Html => ("alternate", "self"),
    };
    vec![
        link(with("json"), json_rel, json_type, "This document as JSON"),
        link(with("html"), html_rel, HTML, "This document as HTML"),
    ]
}

/// Serialized JSON with a content type.
pub fn json_bytes(body: Vec<u8>, content_type: &str) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static(JSON)),
    );
    r
}

/// A document as JSON (with `content_type`) or as its HTML view.
pub fn document<T: Serialize>(
    format: Format,
    title: &str,
    doc: &T,
    content_type: &str,
) -> Response {
    match format {
        Format::Json => match serde_json::to_vec(doc) {
            Ok(b) => json_bytes(b, content_type),
            Err(e) => {
                ApiError::Store(format!("cannot serialize the response: {e}")).into_response()
            }
        },
        Format::Html => match serde_json::to_value(doc) {
            Ok(v) => html_response(html::page(title, &v)),
            Err(e) => {
                ApiError::Store(format!("cannot serialize the response: {e}")).into_response()
            }
        },
    }
}

pub fn html_response(body: String) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

/// What a read handler starts from: the query checked against the parameters its route
/// takes, the negotiated format, the public base URL and the current snapshot (one per
/// request, so a response never mixes two stores).
pub struct ReadRequest<'a> {
    pub params: &'a Params,
    pub fmt: Format,
    pub base: String,
    pub snap: Arc<Snapshot>,
}

impl<'a> ReadRequest<'a> {
    /// Refuses any query parameter not in `allowed` (400), then negotiates the format.
    pub fn new(
        st: &AppState,
        headers: &HeaderMap,
        params: &'a Params,
        allowed: &[&str],
    ) -> Result<Self, ApiError> {
        crate::query::only(params, allowed)?;
        Self::checked_elsewhere(st, headers, params)
    }

    /// For routes whose parameters are validated by their own parser (items).
    pub fn checked_elsewhere(
        st: &AppState,
        headers: &HeaderMap,
        params: &'a Params,
    ) -> Result<Self, ApiError> {
        Ok(ReadRequest {
            params,
            fmt: crate::query::format(params, headers)?,
            base: base_url(&st.settings, headers),
            snap: st.snapshot(),
        })
    }

    /// The `self` and `alternate` links of this document, served at `path`.
    pub fn self_links(&self, path: &str, json_type: &str) -> Vec<Link> {
        self_links(&self.base, path, self.params, self.fmt, json_type)
    }

    /// `doc` in the negotiated format.
    pub fn respond<T: Serialize>(&self, title: &str, doc: &T, json_type: &str) -> Response {
        document(self.fmt, title, doc, json_type)
    }
}

/// A path segment, percent-encoded (everything but ASCII letters, digits and
/// `-._~`, RFC 3986's unreserved characters).
pub fn path_segment(s: &str) -> String {
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    const SEGMENT: &percent_encoding::AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    utf8_percent_encode(s, SEGMENT).to_string()
}
