//! The agent-safe HTTP sidecar (`agent-safe serve`).
//!
//! A thin layer over [`agent_safe_core::AgentSafe`]: it turns HTTP requests
//! into the core's [`CheckRequest`](agent_safe_core::CheckRequest), returns
//! the core's [`Decision`](agent_safe_core::Decision) serialised exactly as
//! the CLI and the Python SDK do, watches the configuration files for hot
//! reload, and exports Prometheus metrics.
//!
//! * [`app`] builds the router (tested in-process with `tower::ServiceExt::oneshot`);
//! * [`serve`] runs it until SIGTERM/Ctrl-C, then drains;
//! * [`Server`] is the same with an address and a shutdown signal of your own.
//!
//! The endpoints, limits and behaviours are described in `docs/SIDECAR.md`;
//! the machine-readable description is `GET /openapi.json`.

pub mod api;
mod conn;
pub mod error;
pub mod extract;
mod hosts;
pub mod live;
pub mod logging;
pub mod metrics;
pub mod reload;
mod routes;
mod serve;
pub mod state;
mod tlog;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

pub use error::{AppError, ErrorBody};
pub use hosts::AllowedHosts;
pub use routes::{MAX_PLAN_STEPS, openapi};
pub use serve::{LogFormat, ServeError, ServeOptions, Server, serve, shutdown_signal};
pub use state::{AppState, Execution};

use routes::Outcome;

/// The sidecar's router: every endpoint, with the body limit, the request
/// timeout, JSON errors, request logs and metrics applied.
///
/// The `Host` check needs the listener's address, so the router applies it
/// only to requests that carry an [`AllowedHosts`] extension, which the
/// sidecar's own listeners insert. An embedder serving this router on a
/// listener of its own should insert one too (`Request::extensions_mut`).
pub fn app(state: AppState) -> Router {
    let (router, _) = routes::api_router().split_for_parts();
    let doc: Arc<[u8]> = match openapi().to_json() {
        Ok(s) => Arc::from(s.into_bytes()),
        Err(e) => {
            tracing::error!(error = %e, "cannot render the OpenAPI document");
            Arc::from(&b"{}"[..])
        }
    };
    let router = router.route(
        "/openapi.json",
        get(move || {
            let doc = Arc::clone(&doc);
            async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    )],
                    axum::body::Bytes::from_owner(doc),
                )
            }
        }),
    );
    with_layers(router, state)
}

/// The probe listener's router: `/healthz`, `/readyz` and `/metrics` only.
pub fn health_app(state: AppState) -> Router {
    with_layers(routes::health_router(), state)
}

fn with_layers(router: Router<AppState>, state: AppState) -> Router {
    let limit = usize::try_from(state.max_body_bytes).unwrap_or(usize::MAX);
    // 0 disables the timeout (a year is as good as never).
    let timeout = match state.request_timeout_ms {
        0 => Duration::from_secs(365 * 24 * 3600),
        ms => Duration::from_millis(ms),
    };
    router
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            timeout,
        ))
        // A declared `Content-Length` above the limit is refused before the
        // body is read (a chunked body is cut off at the limit as it arrives).
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(middleware::map_response_with_state(
            state.clone(),
            json_errors,
        ))
        .layer(middleware::from_fn(check_host))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Refuses a request whose `Host` the listener does not answer to (403), or
/// that lacks one on HTTP/1.1 (400). See [`AllowedHosts`].
async fn check_host(req: Request, next: Next) -> Response {
    if let Some(hosts) = req.extensions().get::<Arc<AllowedHosts>>()
        && let Err(e) = hosts.check(req.version(), req.uri(), req.headers())
    {
        return e.into_response();
    }
    next.run(req).await
}

async fn not_found() -> AppError {
    AppError::NotFound
}

/// Gives the JSON error body to the error responses that layers, the router
/// and extractors produce themselves: the timeout's 503, the router's 405,
/// the body limit's 413, a path rejection's plain-text 400. Every 4xx and 5xx
/// leaves the router with `content-type: application/json` (which is also how
/// `conn::ErrorBodies` tells hyper's own bare answers apart).
async fn json_errors(State(st): State<AppState>, response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let (parts, body) = response.into_parts();
    // Only the short text of axum's rejections is kept, as the message.
    let detail = match parts.headers.get(header::CONTENT_TYPE) {
        Some(t) if t.as_bytes().starts_with(b"text/plain") => axum::body::to_bytes(body, 1024)
            .await
            .ok()
            .and_then(|b| String::from_utf8(b.to_vec()).ok()),
        _ => None,
    };
    let error = match AppError::from_status(status, detail.as_deref()) {
        Some(AppError::PayloadTooLarge(None)) => AppError::PayloadTooLarge(Some(st.max_body_bytes)),
        Some(e) => e,
        None => AppError::BadRequest(match status.canonical_reason() {
            Some(r) => format!("the request was refused: {r}"),
            None => "the request was refused".to_owned(),
        }),
    };
    let mut fresh = error.into_response();
    *fresh.status_mut() = status;
    for name in [header::ALLOW, header::WWW_AUTHENTICATE] {
        if let Some(v) = parts.headers.get(&name) {
            fresh.headers_mut().insert(name, v.clone());
        }
    }
    fresh
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// The route templates, as `'static` label values (no allocation per request).
const ROUTES: &[&str] = &[
    "/v1/check",
    "/v1/check-plan",
    "/v1/approvals",
    "/v1/actions",
    "/v1/actions/{name}",
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/v1/audit/checkpoint",
    "/v1/audit/proof/{audit_id}",
];

fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

/// One log line and one metric per request. The path is logged, never the
/// query, the headers or the body.
async fn observe(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(req.method());
    let route: &'static str = req
        .extensions()
        .get::<MatchedPath>()
        .and_then(|m| ROUTES.iter().find(|r| **r == m.as_str()).copied())
        .unwrap_or("other");
    // A `Uri` clone shares its bytes: no copy of the path.
    let uri = req.uri().clone();
    let response = next.run(req).await;
    let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let status = response.status().as_u16();
    st.metrics.http_request(route, method, status);
    let path = clip(uri.path(), 200);
    let probe = matches!(route, "/healthz" | "/readyz" | "/metrics");
    match response.extensions().get::<Outcome>() {
        Some(o) => tracing::info!(
            target: "agent_safe_server::access",
            method,
            path,
            status,
            latency_us,
            result = o.result,
            action = o.action.as_deref(),
            steps = o.steps,
            correlation_id = o.correlation_id.as_deref(),
            "request"
        ),
        None if status >= 500 => tracing::warn!(
            target: "agent_safe_server::access", method, path, status, latency_us, "request"
        ),
        None if probe => tracing::debug!(
            target: "agent_safe_server::access", method, path, status, latency_us, "request"
        ),
        None => tracing::info!(
            target: "agent_safe_server::access", method, path, status, latency_us, "request"
        ),
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_respects_char_boundaries() {
        assert_eq!(clip("abc", 10), "abc");
        assert_eq!(clip("abcdef", 3), "abc");
        assert_eq!(clip("aé", 2), "a");
    }

    #[test]
    fn every_api_route_has_a_static_label() {
        let api = openapi();
        for path in api.paths.paths.keys() {
            assert!(
                ROUTES.contains(&path.as_str()),
                "{path} is missing from ROUTES"
            );
        }
    }
}
