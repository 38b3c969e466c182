//! Request extraction whose refusals use our error format.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::error::AppError;
use crate::state::AppState;

/// A JSON body: `Content-Type: application/json` (415 otherwise), at most
/// `server.max_body_bytes` (413), valid JSON (400 `malformed_json`) of the
/// right shape (400 `invalid_request`; an `at` field is 400
/// `evaluation_time_not_accepted`).
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(AppError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge(Some(state.max_body_bytes))
            } else {
                tracing::debug!(error = %e, "cannot read the request body");
                AppError::InvalidRequest("the request body could not be read".to_owned())
            }
        })?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Parses a JSON body, classifying the failure.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        Category::Syntax | Category::Eof => AppError::MalformedJson(e.to_string()),
        Category::Data if names_at(&e.to_string()) => AppError::EvaluationTime,
        Category::Data | Category::Io => AppError::InvalidRequest(e.to_string()),
    })
}

/// An `at` field, in the body or in a plan step (`steps[2]: unknown field `at``).
fn names_at(message: &str) -> bool {
    let message = match message.split_once("]: ") {
        Some((head, rest)) if head.starts_with("steps[") => rest,
        _ => message,
    };
    message.starts_with("unknown field `at`")
}

/// `application/json`, optionally with parameters (`; charset=utf-8`).
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// The caller credential of an `Authorization: Bearer <JWT>` header.
///
/// * no header → `Ok(None)`: the body's `caller` (if any) is used;
/// * `Bearer` followed by something shaped like a JWT (or a damaged one:
///   starts with `eyJ` and has a `.`) → `Ok(Some(token))`: the core verifies
///   it, and a bad token becomes a `deny` decision that is audited;
/// * anything else (another scheme, an empty or non-JWT credential, several
///   headers) → 401 `invalid_authorization`, before any check. Such a
///   credential is never treated as a plain agent id, so an opaque secret
///   sent by mistake never lands in the audit log.
pub fn bearer(headers: &HeaderMap) -> Result<Option<String>, AppError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(AppError::InvalidAuthorization(
            "send one Authorization header, not several",
        ));
    }
    let value = value.to_str().map_err(|_| {
        AppError::InvalidAuthorization("the Authorization header must be `Bearer <JWT>`")
    })?;
    let (scheme, credential) =
        value
            .trim()
            .split_once(' ')
            .ok_or(AppError::InvalidAuthorization(
                "the Authorization header must be `Bearer <JWT>`",
            ))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AppError::InvalidAuthorization(
            "only the Bearer scheme is accepted: `Authorization: Bearer <JWT>`",
        ));
    }
    let token = credential.trim();
    if token.is_empty() {
        return Err(AppError::InvalidAuthorization("the bearer token is empty"));
    }
    if !agent_safe_core::identity::is_token_attempt(token) {
        return Err(AppError::InvalidAuthorization(
            "the bearer credential is not a JWT (header.claims.signature); send a plain agent id as the body's `caller` instead",
        ));
    }
    Ok(Some(token.to_owned()))
}

#[cfg(test)]
#[expect(
    clippy::unwrap_used,
    reason = "tests fail loudly: a panic is the failure report"
)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_auth(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn bearer_shapes() {
        assert_eq!(bearer(&HeaderMap::new()).unwrap(), None);
        assert_eq!(
            bearer(&with_auth("Bearer eyJa.eyJb.c")).unwrap().as_deref(),
            Some("eyJa.eyJb.c")
        );
        assert_eq!(
            bearer(&with_auth("bearer  eyJa.b ")).unwrap().as_deref(),
            Some("eyJa.b")
        );
        for bad in [
            "Basic dXNlcjpwYXNz",
            "Bearer",
            "Bearer ",
            "Bearer deploy-agent",
            "Token eyJa.b.c",
        ] {
            assert!(
                matches!(
                    bearer(&with_auth(bad)),
                    Err(AppError::InvalidAuthorization(_))
                ),
                "{bad}"
            );
        }
        let mut two = with_auth("Bearer eyJa.b.c");
        two.append(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer eyJa.b.c"),
        );
        assert!(bearer(&two).is_err());
    }

    #[test]
    fn json_errors_are_classified() {
        let r: Result<serde_json::Value, _> = parse_json(b"{");
        assert!(matches!(r, Err(AppError::MalformedJson(_))));
        let r: Result<agent_safe_core::CheckRequest, _> =
            parse_json(br#"{"action":"x","at":"2026-01-01T00:00:00Z"}"#);
        assert!(matches!(r, Err(AppError::EvaluationTime)));
        let r: Result<agent_safe_core::CheckRequest, _> = parse_json(br#"{"action":1}"#);
        assert!(matches!(r, Err(AppError::InvalidRequest(_))));
        let r: Result<agent_safe_core::PlanRequest, _> =
            parse_json(br#"{"steps":[{"action":"x","at":"2026-01-01T00:00:00Z"}]}"#);
        assert!(matches!(r, Err(AppError::EvaluationTime)));
        // A repeated key at any depth is refused like one at the top level.
        for body in [
            &br#"{"action":"x","action":"y"}"#[..],
            br#"{"action":"x","params":{"a":{"b":1,"b":2}}}"#,
            br#"{"action":"x","context":[{"k":1},{"k":2,"k":3}]}"#,
        ] {
            let r: Result<agent_safe_core::CheckRequest, _> = parse_json(body);
            assert!(matches!(r, Err(AppError::InvalidRequest(_))), "{body:?}");
        }
    }
}
