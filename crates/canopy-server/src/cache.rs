//! Conditional GETs on the read documents (`/collections…`, `/stats…`): a strong
//! ETag and `Cache-Control: no-cache` (a client may keep the document but asks again
//! each time), and `304 Not Modified` when `If-None-Match` names the current ETag.
//!
//! The ETag is the SHA-256 of the body as sent (after compression, so each content
//! coding has its own tag, as a strong validator must): it changes exactly when the
//! document does, whether by a new run, a triage write or a different request. A
//! response that already has an ETag (an alert: the tag PATCH's If-Match checks) keeps
//! it. The body is in memory anyway (documents are built whole from the snapshot), so
//! hashing it costs one pass.

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{CACHE_CONTROL, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// The largest body hashed for an ETag; larger ones are sent without.
const MAX_HASHED: usize = 64 * 1024 * 1024;

fn cacheable(req: &Request) -> bool {
    let p = req.uri().path();
    matches!(*req.method(), Method::GET | Method::HEAD)
        && (p == "/collections" || p.starts_with("/collections/") || p.starts_with("/stats"))
}

/// Whether `If-None-Match` (a list of tags, or `*`) matches `tag` (weak comparison,
/// as RFC 9110 §13.1.2 asks for If-None-Match).
fn matches(if_none_match: &HeaderValue, tag: &HeaderValue) -> bool {
    let (Ok(list), Ok(tag)) = (if_none_match.to_str(), tag.to_str()) else {
        return false;
    };
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_string();
    list.split(',')
        .any(|t| t.trim() == "*" || bare(t) == bare(tag))
}

/// The middleware (outside the compression layer).
pub async fn conditional(req: Request, next: Next) -> Response {
    if !cacheable(&req) {
        return next.run(req).await;
    }
    let inm = req.headers().get(IF_NONE_MATCH).cloned();
    let resp = next.run(req).await;
    if resp.status() != StatusCode::OK {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_HASHED).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "reading a response body for its ETag");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let tag = match parts.headers.get(ETAG) {
        Some(t) => t.clone(),
        None => {
            let h = Sha256::digest(&bytes);
            let t = format!("\"{}\"", &hex::encode(h)[..32]);
            let t = HeaderValue::from_str(&t).expect("hex is a valid header value");
            parts.headers.insert(ETAG, t.clone());
            t
        }
    };
    parts
        .headers
        .entry(CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-cache"));
    if inm.is_some_and(|v| matches(&v, &tag)) {
        parts.status = StatusCode::NOT_MODIFIED;
        for h in [
            axum::http::header::CONTENT_LENGTH,
            axum::http::header::CONTENT_TYPE,
            axum::http::header::CONTENT_ENCODING,
        ] {
            parts.headers.remove(h);
        }
        return Response::from_parts(parts, Body::empty());
    }
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_lists_and_star() {
        let tag = HeaderValue::from_static("\"abc\"");
        let m = |s: &'static str| matches(&HeaderValue::from_static(s), &tag);
        assert!(m("\"abc\""));
        assert!(m("\"x\", W/\"abc\""));
        assert!(m("*"));
        assert!(!m("\"abd\""));
        assert!(!m("abc"));
    }
}
