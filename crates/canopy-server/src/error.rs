//! Errors of the HTTP layer.
//!
//! [`ApiError`] is what a handler returns: each variant maps to one HTTP status and
//! carries a message naming the parameter, collection or feature at fault, sent as a
//! JSON body `{"code": ..., "description": ...}` (the exception shape OGC API clients
//! such as GDAL and OWSLib print). [`ServerError`] is what stops the server from
//! starting (bad bind address, unreadable store or token file).

use std::path::PathBuf;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// An error answered to a client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A query parameter or path segment is malformed or not allowed (400).
    #[error("{0}")]
    BadRequest(String),
    /// The request body is not acceptable (400 for bad JSON, 422 for bad values).
    #[error("{0}")]
    InvalidBody(String),
    /// No such collection, feature or resource (404).
    #[error("{0}")]
    NotFound(String),
    /// No valid bearer token (401).
    #[error("{0}")]
    Unauthorized(String),
    /// A write without `If-Match` (428).
    #[error("{0}")]
    PreconditionRequired(String),
    /// A write whose `If-Match` is stale (412).
    #[error("{0}")]
    PreconditionFailed(String),
    /// The method is not allowed on this resource (405).
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The body is not JSON (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The body is larger than the cap (413).
    #[error("{0}")]
    TooLarge(String),
    /// The store could not be read or written (500 or 503); the message is logged.
    #[error("store: {0}")]
    Store(String),
    /// No database connection freed in time (`--pg-pool`): 503 with `Retry-After`.
    #[error("{0}")]
    Busy(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::InvalidBody(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::PreconditionRequired(_) => StatusCode::PRECONDITION_REQUIRED,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Store(_) | ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "InvalidParameterValue",
            ApiError::InvalidBody(_) => "InvalidBody",
            ApiError::NotFound(_) => "NotFound",
            ApiError::Unauthorized(_) => "Unauthorized",
            ApiError::PreconditionRequired(_) => "PreconditionRequired",
            ApiError::PreconditionFailed(_) => "PreconditionFailed",
            ApiError::MethodNotAllowed(_) => "MethodNotAllowed",
            ApiError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            ApiError::TooLarge(_) => "PayloadTooLarge",
            ApiError::Store(_) => "StoreUnavailable",
            ApiError::Busy(_) => "Busy",
        }
    }
}

/// A JSON error response with `status`, a code and a description.
pub fn error_response(status: StatusCode, code: &str, description: &str) -> Response {
    let body = serde_json::json!({ "code": code, "description": description });
    let mut r = (status, axum::Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    r
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Store(m) = &self {
            tracing::error!("store error: {m}");
        }
        let mut r = error_response(self.status(), self.code(), &self.to_string());
        if let ApiError::Busy(_) = &self {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        r
    }
}

/// What prevents the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Store(#[from] canopy_store::StoreError),
    #[error("token file {}: {msg}", path.display())]
    Tokens { path: PathBuf, msg: String },
    #[error("CANOPY_TOKENS: {0}")]
    TokensEnv(String),
    #[error("--cors {origin}: {msg}")]
    Cors { origin: String, msg: String },
    #[error("--public-url {0}: must start with http:// or https://")]
    PublicUrl(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// An error with its sources, as one line ("a: b: c").
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(x) = cur {
        s.push_str(": ");
        s.push_str(&x.to_string());
        cur = x.source();
    }
    s
}
