//! One error type for every refusal the HTTP layer makes.
//!
//! Every non-2xx answer of the sidecar has the same JSON body,
//! `{"error": {"code": "...", "message": "..."}}`, built here. Messages talk
//! about the client's request only: internal failures (a panicked worker, an
//! I/O error) are logged with their cause and answered with a generic message.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// A machine-readable code and a human-readable message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `malformed_json`, `invalid_request`,
    /// `evaluation_time_not_accepted`, `payload_too_large`,
    /// `unsupported_media_type`, `invalid_authorization`, `invalid_query`,
    /// `unknown_action`, `not_found`, `method_not_allowed`, `timeout`,
    /// `not_ready`, `internal`, `bad_request`, `host_not_allowed`,
    /// `uri_too_long`, `headers_too_large`; for approvals `unauthenticated`,
    /// `forbidden`, `unknown_decision`, `not_pending`, `audit_unavailable`.
    pub code: String,
    /// What to fix, in words; never internal details.
    pub message: String,
}

/// Everything the HTTP layer refuses, as one type that renders as JSON.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The body is not JSON at all (400).
    #[error("the request body is not valid JSON: {0}")]
    MalformedJson(String),
    /// JSON of the wrong shape: a missing or unknown field, a wrong type (400).
    #[error("the request body does not match the expected shape: {0}")]
    InvalidRequest(String),
    /// The body names an evaluation time; the HTTP API never takes one (400).
    #[error(
        "the HTTP API does not accept an evaluation time (`at`): checks are evaluated at the sidecar's own clock"
    )]
    EvaluationTime,
    /// The body is larger than `server.max_body_bytes` (413).
    #[error("the request body is larger than the limit{}", .0.map(|l| format!(" of {l} bytes")).unwrap_or_default())]
    PayloadTooLarge(Option<u64>),
    /// The body is not declared `application/json` (415).
    #[error("send the body as `Content-Type: application/json`")]
    UnsupportedMediaType,
    /// An `Authorization` header that is not `Bearer <JWT>` (401).
    #[error("{0}")]
    InvalidAuthorization(&'static str),
    /// A bad query string (400).
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    /// `GET /v1/actions/{name}` for an action that does not exist (404).
    #[error("{0}")]
    UnknownAction(String),
    /// Audit checkpoints are not configured, or no such event (404).
    #[error("{0}")]
    AuditUnavailable(String),
    /// No such route (404).
    #[error("no such endpoint; see /openapi.json")]
    NotFound,
    /// The route exists, not with that method (405).
    #[error("method not allowed for this endpoint; see /openapi.json")]
    MethodNotAllowed,
    /// The request took longer than `server.request_timeout_ms` (503).
    #[error("the request did not complete within the server's time limit")]
    Timeout,
    /// No valid snapshot is loaded (503).
    #[error("the policy decision point is not ready")]
    NotReady,
    /// Something failed inside the server; the cause is logged, not sent.
    #[error("internal error")]
    Internal,
    /// `POST /v1/approvals` refused the answer (401, 403, 404, 409, 400, 503).
    #[error("{0}")]
    Approval(agent_safe_core::ApprovalError),
    /// The request is not valid HTTP/1.1: a malformed request line or
    /// header, no `Host` header, an undecodable path (400).
    #[error("{0}")]
    BadRequest(String),
    /// The `Host` header names neither the listen address nor a configured
    /// name: the request may come from a web page through DNS rebinding (403).
    #[error(
        "the Host `{0}` is not a name this sidecar answers to; if clients reach it by that name, add it to `server.allowed_hosts` (or pass `--allowed-host`)"
    )]
    HostNotAllowed(String),
    /// The request target is longer than the server accepts (414).
    #[error("the request URI is too long")]
    UriTooLong,
    /// The request head is larger than the server accepts (431).
    #[error("the request head is too large: at most 100 headers and 32 KiB")]
    HeadersTooLarge,
}

impl AppError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::MalformedJson(_)
            | AppError::InvalidRequest(_)
            | AppError::EvaluationTime
            | AppError::InvalidQuery(_) => StatusCode::BAD_REQUEST,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::InvalidAuthorization(_) => StatusCode::UNAUTHORIZED,
            AppError::UnknownAction(_) | AppError::NotFound | AppError::AuditUnavailable(_) => {
                StatusCode::NOT_FOUND
            }
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Timeout | AppError::NotReady => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::Approval(e) => {
                use agent_safe_core::ApprovalError as E;
                match e {
                    E::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
                    E::Forbidden(_) => StatusCode::FORBIDDEN,
                    E::NotFound(_) => StatusCode::NOT_FOUND,
                    E::Conflict(_) => StatusCode::CONFLICT,
                    E::Invalid(_) => StatusCode::BAD_REQUEST,
                    E::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                }
            }
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::HostNotAllowed(_) => StatusCode::FORBIDDEN,
            AppError::UriTooLong => StatusCode::URI_TOO_LONG,
            AppError::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::MalformedJson(_) => "malformed_json",
            AppError::InvalidRequest(_) => "invalid_request",
            AppError::EvaluationTime => "evaluation_time_not_accepted",
            AppError::PayloadTooLarge(_) => "payload_too_large",
            AppError::UnsupportedMediaType => "unsupported_media_type",
            AppError::InvalidAuthorization(_) => "invalid_authorization",
            AppError::InvalidQuery(_) => "invalid_query",
            AppError::UnknownAction(_) => "unknown_action",
            AppError::NotFound => "not_found",
            AppError::AuditUnavailable(_) => "audit_unavailable",
            AppError::MethodNotAllowed => "method_not_allowed",
            AppError::Timeout => "timeout",
            AppError::NotReady => "not_ready",
            AppError::Internal => "internal",
            AppError::Approval(e) => {
                use agent_safe_core::ApprovalError as E;
                match e {
                    E::Unauthenticated(_) => "unauthenticated",
                    E::Forbidden(_) => "forbidden",
                    E::NotFound(_) => "unknown_decision",
                    E::Conflict(_) => "not_pending",
                    E::Invalid(_) => "invalid_request",
                    E::Unavailable(_) => "audit_unavailable",
                }
            }
            AppError::BadRequest(_) => "bad_request",
            AppError::HostNotAllowed(_) => "host_not_allowed",
            AppError::UriTooLong => "uri_too_long",
            AppError::HeadersTooLarge => "headers_too_large",
        }
    }

    /// The JSON body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message: self.to_string(),
            },
        }
    }

    /// The error a bare status code stands for, when a layer (the timeout,
    /// the router's method check, an extractor, hyper's own parser) answers
    /// without a body of ours. `detail` is the layer's own text, if any.
    pub fn from_status(status: StatusCode, detail: Option<&str>) -> Option<AppError> {
        Some(match status {
            StatusCode::NOT_FOUND => AppError::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => AppError::MethodNotAllowed,
            StatusCode::REQUEST_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE => AppError::Timeout,
            StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge(None),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => AppError::UnsupportedMediaType,
            StatusCode::URI_TOO_LONG => AppError::UriTooLong,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => AppError::HeadersTooLarge,
            StatusCode::BAD_REQUEST => AppError::BadRequest(match detail {
                Some(d) if !d.trim().is_empty() => format!("bad request: {}", d.trim()),
                _ => "the request is not valid HTTP/1.1 (a malformed request line or header)"
                    .to_owned(),
            }),
            s if s.is_server_error() => AppError::Internal,
            _ => return None,
        })
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), Json(self.body())).into_response();
        if let AppError::InvalidAuthorization(_) = self {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_request\""),
            );
        }
        response
    }
}
