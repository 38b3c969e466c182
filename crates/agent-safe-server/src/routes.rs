//! The handlers, each documented for OpenAPI with `#[utoipa::path]`.

use std::time::Instant;

use agent_safe_core::model::{ActionDef, RiskClass};
use agent_safe_core::{CheckRequest, PlanRequest};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{
    ActionDefDoc, ActionsQuery, CheckRequestDoc, DecisionDoc, HealthBody, PlanDecisionDoc,
    PlanRequestDoc, ReadyBody, ShadowBody, SnapshotInfo,
};
use crate::error::{AppError, ErrorBody};
use crate::extract::{JsonBody, bearer};
use crate::state::{AppState, Execution};

/// The most steps a plan may have (the core's limit).
pub use agent_safe_core::plan::MAX_PLAN_STEPS;

/// What a handler tells the request log about the decision it returned.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub result: &'static str,
    pub action: Option<String>,
    pub correlation_id: Option<String>,
    pub steps: Option<usize>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "agent-safe sidecar",
        description = "The agent-safe policy decision point over HTTP: may caller C run action A on \
target T with params P, now? Every check is evaluated at the sidecar's own clock and recorded in the \
hash-chained audit log. See docs/SIDECAR.md.",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    tags(
        (name = "checks", description = "Ask for decisions"),
        (name = "actions", description = "The action catalogue"),
        (name = "audit", description = "Signed checkpoints and inclusion proofs of the audit log"),
        (name = "operations", description = "Health, readiness, metrics")
    )
)]
struct ApiDoc;

/// Every API route, with its OpenAPI description.
pub(crate) fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(check))
        .routes(routes!(check_plan))
        .routes(routes!(approve))
        .routes(routes!(list_actions))
        .routes(routes!(get_action))
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
        .routes(routes!(crate::tlog::audit_checkpoint))
        .routes(routes!(crate::tlog::audit_proof))
}

/// The operational routes alone, for the probe listener.
pub(crate) fn health_router() -> axum::Router<AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The OpenAPI document of the sidecar.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut api) = api_router().split_for_parts();
    api.info.version = env!("CARGO_PKG_VERSION").to_owned();
    api.paths.paths.insert(
        "/openapi.json".to_owned(),
        utoipa::openapi::PathItem::new(
            utoipa::openapi::HttpMethod::Get,
            utoipa::openapi::path::OperationBuilder::new()
                .operation_id(Some("openapi"))
                .tag("operations")
                .summary(Some("This OpenAPI 3.1 document"))
                .response(
                    "200",
                    utoipa::openapi::ResponseBuilder::new()
                        .description("The document")
                        .content(
                            "application/json",
                            utoipa::openapi::ContentBuilder::new().build(),
                        ),
                ),
        ),
    );
    api
}

/// Decide one request.
///
/// A well-formed request about something unknown (an unknown action, bad
/// params, a bad token) is a 200 with a `deny` decision; every decision is in
/// the audit log before it is returned.
#[utoipa::path(
    post,
    path = "/v1/check",
    tag = "checks",
    request_body(content = CheckRequestDoc, content_type = "application/json"),
    params(
        ("Authorization" = Option<String>, Header,
         description = "`Bearer <JWT>`: the caller; replaces the body's `caller`")
    ),
    responses(
        (status = 200, description = "The decision (allow, deny or require_approval)", body = DecisionDoc),
        (status = 400, description = "Not JSON, wrong shape, a repeated key in `params`/`context`, or an `at` field", body = ErrorBody),
        (status = 401, description = "An Authorization header that is not `Bearer <JWT>`", body = ErrorBody),
        (status = 413, description = "Body over `server.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "Body not `application/json`", body = ErrorBody),
        (status = 503, description = "Over `server.request_timeout_ms`", body = ErrorBody),
    )
)]
async fn check(
    State(st): State<AppState>,
    headers: HeaderMap,
    JsonBody(mut req): JsonBody<CheckRequest>,
) -> Result<Response, AppError> {
    if let Some(token) = bearer(&headers)? {
        req.caller = Some(token);
    }
    let (decision, took) = st
        .run(move |safe| {
            let started = Instant::now();
            let d = safe.check(&req);
            (d, started.elapsed())
        })
        .await?;
    st.metrics.check_duration("check", took);
    st.metrics.decision(&decision, "check");
    let outcome = Outcome {
        result: decision.result.as_str(),
        // The name as asked (an unknown one is the client's text): bounded,
        // and without control characters that could forge log lines.
        action: Some(
            decision
                .action
                .chars()
                .take(64)
                .map(|c| if c.is_control() { '?' } else { c })
                .collect(),
        ),
        correlation_id: decision.correlation_id.clone(),
        steps: None,
    };
    let mut response = Json(decision).into_response();
    response.extensions_mut().insert(outcome);
    Ok(response)
}

/// Answer a `require_approval` decision: the HTTP twin of the SDK's
/// `record_approval`, for an authenticated approver.
///
/// The bearer token identifies the approver: it must be a valid signed token
/// carrying one of `identity.approver_roles` (default `approver`). The
/// decision is looked up in the audit log by `audit_id`: it must be a
/// `require_approval` decision not answered yet, and not asked by the
/// approver itself. The `approval` event records the logged action, target,
/// params and correlation id, and the verified approver.
#[utoipa::path(
    post,
    path = "/v1/approvals",
    tag = "checks",
    request_body(content = crate::api::ApprovalRequestDoc, content_type = "application/json"),
    params(
        ("Authorization" = String, Header,
         description = "`Bearer <JWT>`: the approver (required)")
    ),
    responses(
        (status = 200, description = "The answer is in the audit log", body = crate::api::ApprovalReceiptDoc),
        (status = 400, description = "Not JSON, wrong shape, or a text field over 4096 bytes", body = ErrorBody),
        (status = 401, description = "No bearer token, a token that does not verify, or a plain agent id", body = ErrorBody),
        (status = 403, description = "The token lacks an approver role, or the approver asked for the action itself", body = ErrorBody),
        (status = 404, description = "No decision with that audit id in the log", body = ErrorBody),
        (status = 409, description = "The decision is not `require_approval`, or was already answered", body = ErrorBody),
        (status = 413, description = "Body over `server.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "Body not `application/json`", body = ErrorBody),
        (status = 503, description = "No audit log, it cannot be read or written, or over `server.request_timeout_ms`", body = ErrorBody),
    )
)]
async fn approve(
    State(st): State<AppState>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<agent_safe_core::ApprovalRequest>,
) -> Result<Response, AppError> {
    let token = bearer(&headers)?;
    // Reading the log to find the decision is blocking work.
    let receipt = st
        .run_as(Execution::Blocking, move |safe| {
            safe.approve(token.as_deref(), &req)
        })
        .await?
        .map_err(AppError::Approval)?;
    let outcome = Outcome {
        result: if receipt.approved {
            "approve"
        } else {
            "reject"
        },
        action: receipt.action.clone(),
        correlation_id: receipt.correlation_id.clone(),
        steps: None,
    };
    let mut response = Json(receipt).into_response();
    response.extensions_mut().insert(outcome);
    Ok(response)
}

/// Decide every step of a multi-step plan under one correlation id.
///
/// The plan's `result` is the most restrictive step result. A bearer token
/// is the caller of every step (a step's own `caller` is then ignored).
#[utoipa::path(
    post,
    path = "/v1/check-plan",
    tag = "checks",
    request_body(content = PlanRequestDoc, content_type = "application/json"),
    params(
        ("Authorization" = Option<String>, Header,
         description = "`Bearer <JWT>`: the caller of every step")
    ),
    responses(
        (status = 200, description = "One decision per step and the overall result", body = PlanDecisionDoc),
        (status = 400, description = "Not JSON, wrong shape, no steps, too many steps, a step `correlation_id`, a repeated key in `params`/`context`, or an `at` field", body = ErrorBody),
        (status = 401, description = "An Authorization header that is not `Bearer <JWT>`", body = ErrorBody),
        (status = 413, description = "Body over `server.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "Body not `application/json`", body = ErrorBody),
        (status = 503, description = "Over `server.request_timeout_ms`", body = ErrorBody),
    )
)]
async fn check_plan(
    State(st): State<AppState>,
    headers: HeaderMap,
    JsonBody(mut plan): JsonBody<PlanRequest>,
) -> Result<Response, AppError> {
    plan.validate()
        .map_err(|e| AppError::InvalidRequest(e.to_string()))?;
    if let Some(token) = bearer(&headers)? {
        plan.caller = Some(token.clone());
        for step in &mut plan.steps {
            step.caller = Some(token.clone());
        }
    }
    let (decision, took) = st
        .run_as(Execution::Blocking, move |safe| {
            let started = Instant::now();
            let d = safe.check_plan(&plan, None);
            (d, started.elapsed())
        })
        .await?;
    // Validated above; the core refuses the same plans.
    let decision = decision.map_err(|e| AppError::InvalidRequest(e.to_string()))?;
    st.metrics.check_duration("check_plan", took);
    for step in &decision.steps {
        st.metrics.decision(step, "check_plan");
    }
    let outcome = Outcome {
        result: decision.result.as_str(),
        action: None,
        correlation_id: Some(decision.correlation_id.clone()),
        steps: Some(decision.steps.len()),
    };
    let mut response = Json(decision).into_response();
    response.extensions_mut().insert(outcome);
    Ok(response)
}

/// List the known actions (highest version of each), optionally filtered.
#[utoipa::path(
    get,
    path = "/v1/actions",
    tag = "actions",
    params(ActionsQuery),
    responses(
        (status = 200, description = "The actions, as `agent-safe list-actions --output json` prints them", body = Vec<ActionDefDoc>),
        (status = 400, description = "An unknown query parameter or risk class", body = ErrorBody),
    )
)]
async fn list_actions(
    State(st): State<AppState>,
    query: Result<Query<ActionsQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    let Query(q) = query.map_err(|e| AppError::InvalidQuery(e.body_text()))?;
    let risk = match q.risk.as_deref() {
        None | Some("") => None,
        Some(r) => Some(RiskClass::parse(r).ok_or_else(|| {
            AppError::InvalidQuery(format!(
                "unknown risk class `{}`: use one of {}",
                r.chars().take(32).collect::<String>(),
                RiskClass::choices()
            ))
        })?),
    };
    let snap = st.safe.snapshot();
    let actions: Vec<&ActionDef> = snap
        .registry
        .filter(q.tag.as_deref().filter(|t| !t.is_empty()), risk)
        .into_iter()
        .map(AsRef::as_ref)
        .collect();
    Ok(Json(actions).into_response())
}

/// One action: `name` (the highest version) or `name@version`.
#[utoipa::path(
    get,
    path = "/v1/actions/{name}",
    tag = "actions",
    params(("name" = String, Path, description = "`name` or `name@version`")),
    responses(
        (status = 200, description = "The action, as `agent-safe show-action --output json` prints it", body = ActionDefDoc),
        (status = 404, description = "No such action or version", body = ErrorBody),
    )
)]
async fn get_action(
    State(st): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    let snap = st.safe.snapshot();
    let action = snap.registry.get(&name).map_err(|e| {
        let mut msg = e.to_string();
        if msg.len() > 300 {
            msg = msg.chars().take(300).collect::<String>() + "…";
        }
        AppError::UnknownAction(msg)
    })?;
    Ok(Json(action.as_ref()).into_response())
}

/// Liveness: the process is up and serving HTTP.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "Alive", body = HealthBody))
)]
async fn healthz() -> Json<HealthBody> {
    Json(HealthBody { status: "ok" })
}

/// Readiness: 200 while a valid snapshot is loaded and the server is not
/// shutting down. A failed reload keeps the last good snapshot in use and
/// the server ready; the error is reported in the body.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Ready", body = ReadyBody),
        (status = 503, description = "Not ready (shutting down)", body = ReadyBody),
    )
)]
async fn readyz(State(st): State<AppState>) -> Response {
    let snap = st.safe.snapshot();
    let inventory = st.health.inventory();
    let ready = st.health.is_ready() && inventory.as_ref().is_none_or(|i| i.synced_at.is_some());
    let body = ReadyBody {
        status: if ready { "ready" } else { "not_ready" },
        snapshot: SnapshotInfo {
            loaded_at: st.health.snapshot_loaded_at().to_string(),
            actions: snap.registry.len(),
            rules: snap.rules.len(),
            targets: snap.inventory.len(),
            digest: snap.digest.clone(),
        },
        last_reload: st.health.last_reload(),
        inventory,
        shadow: st.safe.shadow_status().map(|s| ShadowBody {
            kind: s.kind,
            path: s.path.display().to_string(),
            snapshot: s.snapshot,
            error: s.error,
        }),
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// Prometheus metrics: the text format 0.0.4, or OpenMetrics when the
/// `Accept` header asks for `application/openmetrics-text`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "The metrics", content_type = "text/plain", body = String))
)]
async fn metrics(State(st): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let openmetrics = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/openmetrics-text"));
    let (text, content_type) = if openmetrics {
        (
            st.metrics.encode_openmetrics(),
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )
    } else {
        (
            st.metrics.encode_prometheus(),
            "text/plain; version=0.0.4; charset=utf-8",
        )
    };
    let text = text.map_err(|_| {
        tracing::error!("cannot encode the metrics");
        AppError::Internal
    })?;
    Ok((
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        text,
    )
        .into_response())
}
