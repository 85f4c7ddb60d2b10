//! The one place errors become HTTP answers. Every client mistake is a 4xx with
//! `{"error": {"code", "message", "path"}}`; a server fault is a generic 5xx whose cause is
//! logged here once, never sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use clef_core::FieldError;
use clef_store::StoreError;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String, path: Option<String> },
    #[error("{0}")]
    Invalid(FieldError),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("too many requests: retry in {} s", retry_after.as_secs().max(1))]
    TooManyRequests { retry_after: std::time::Duration },
    #[error("the request took too long")]
    Timeout,
    #[error("request headers are larger than {limit} bytes")]
    HeadersTooLarge { limit: usize },
    #[error("storage is busy, retry shortly")]
    Unavailable(#[source] StoreError),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `invalid_field`, `malformed_json`, `unauthorized`, …
    pub code: String,
    pub message: String,
    /// The JSON path of the offending field, where there is one.
    pub path: Option<String>,
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>, path: Option<&str>) -> Self {
        Self::BadRequest { code, message: message.into(), path: path.map(str::to_owned) }
    }

    pub fn not_found(what: &str) -> Self {
        Self::NotFound(format!("{what} not found"))
    }

    fn parts(&self) -> (StatusCode, &'static str, Option<String>) {
        match self {
            Self::BadRequest { code, path, .. } => (StatusCode::BAD_REQUEST, code, path.clone()),
            Self::Invalid(e) if e.syntax => (StatusCode::BAD_REQUEST, "malformed_json", Some(e.path.clone())),
            Self::Invalid(e) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", Some(e.path.clone())),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", None),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", None),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found", None),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict", None),
            Self::PayloadTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", None),
            Self::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", None)
            }
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", None),
            Self::TooManyRequests { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited", None),
            Self::Timeout => (StatusCode::REQUEST_TIMEOUT, "timeout", None),
            Self::HeadersTooLarge { .. } => {
                (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large", None)
            }
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", None),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", None),
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        Self::Invalid(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::not_found("resource"),
            StoreError::Conflict(_) => {
                Self::Conflict("a resource with these unique fields exists already".into())
            }
            StoreError::Refused(why) => Self::Conflict(why),
            StoreError::Busy(_) => Self::Unavailable(e),
            StoreError::Other(source) => Self::Internal(source),
        }
    }
}

/// Names what was not found, and leaves every other store error (an outage is a 503) as it is.
pub trait OrNotFound<T> {
    fn or_not_found(self, what: &str) -> ApiResult<T>;
}

impl<T> OrNotFound<T> for Result<T, StoreError> {
    fn or_not_found(self, what: &str) -> ApiResult<T> {
        self.map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found(what),
            other => other.into(),
        })
    }
}

/// How long a client is asked to wait before retrying when storage is busy or unreachable.
pub const UNAVAILABLE_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, path) = self.parts();
        if status.is_server_error() {
            // The cause is logged, not sent: it may name internals.
            let cause = std::error::Error::source(&self).map(|s| s.to_string()).unwrap_or_default();
            tracing::error!(error.code = code, error.cause = %cause, "request failed");
        }
        let path = path.filter(|p| !p.is_empty());
        let message = match &self {
            Self::Invalid(e) => e.message.clone(),
            other => other.to_string(),
        };
        let body = ErrorBody { error: ErrorDetail { code: code.to_owned(), message, path } };
        let mut response = (status, axum::Json(body)).into_response();
        let retry_after = match &self {
            Self::TooManyRequests { retry_after } => Some(*retry_after),
            Self::Unavailable(_) => Some(UNAVAILABLE_RETRY_AFTER),
            _ => None,
        };
        if let Some(wait) = retry_after {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, retry_after_header(wait));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Whole seconds, rounded up, at least 1.
pub fn retry_after_header(wait: std::time::Duration) -> axum::http::HeaderValue {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    axum::http::HeaderValue::from(secs.max(1))
}
