//! The router in-process, one request at a time with `oneshot`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use agent_safe_server::{AppState, Execution, app};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;

struct Fixture {
    dir: tempfile::TempDir,
    state: AppState,
}

impl Fixture {
    fn new(extra: &str) -> Fixture {
        let dir = common::project(extra);
        let state = AppState::new(common::open(dir.path()));
        Fixture { dir, state }
    }

    fn app(&self) -> Router {
        app(self.state.clone())
    }

    async fn send(&self, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let resp = self.app().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, headers, body.to_vec())
    }

    async fn json(&self, req: Request<Body>) -> (StatusCode, Value) {
        let (status, headers, body) = self.send(req).await;
        let ct = headers
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(
            ct.as_deref(),
            Some("application/json"),
            "status {status}: {}",
            String::from_utf8_lossy(&body)
        );
        (status, serde_json::from_slice(&body).unwrap())
    }

    async fn get(&self, uri: &str) -> (StatusCode, Value) {
        self.json(Request::get(uri).body(Body::empty()).unwrap())
            .await
    }

    async fn text(&self, uri: &str) -> String {
        let (status, _, body) = self
            .send(Request::get(uri).body(Body::empty()).unwrap())
            .await;
        assert_eq!(status, StatusCode::OK);
        String::from_utf8(body).unwrap()
    }

    async fn post(&self, uri: &str, body: &Value) -> (StatusCode, Value) {
        self.json(post(uri, body.to_string(), None)).await
    }

    fn audit_events(&self) -> Vec<Value> {
        let text =
            std::fs::read_to_string(self.dir.path().join("audit/audit.jsonl")).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn post(uri: &str, body: String, bearer: Option<&str>) -> Request<Body> {
    let mut b = Request::post(uri).header(header::CONTENT_TYPE, "application/json");
    if let Some(t) = bearer {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    b.body(Body::from(body)).unwrap()
}

fn error_code(v: &Value) -> &str {
    v["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error body: {v}"))
}

fn staging_restart() -> Value {
    json!({"action": "restart-deployment", "target": "staging/api", "caller": "any-agent",
           "params": {"namespace": "staging", "deployment": "api"}})
}

#[tokio::test]
async fn check_allows_and_returns_the_core_decision() {
    let f = Fixture::new("");
    let (status, d) = f.post("/v1/check", &staging_restart()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(d["result"], "allow");
    assert_eq!(d["policy_matched"], "staging-low-and-medium");
    assert!(d["audit_id"].is_string());
    // Exactly the keys of the core `Decision` (no plan_step, no trace).
    let keys: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
    let mut expected = vec![
        "action",
        "action_version",
        "audit_id",
        "caller",
        "correlation_id",
        "effective_risk",
        "evaluated_at",
        "policy_matched",
        "reason",
        "result",
        "risk_class",
        "target",
    ];
    expected.sort_unstable();
    let mut keys = keys;
    keys.sort_unstable();
    assert_eq!(keys, expected);
    // The same request through the library gives the same JSON but for the
    // per-check fields.
    let req: agent_safe_core::CheckRequest = serde_json::from_value(staging_restart()).unwrap();
    let mut direct = serde_json::to_value(f.state.safe.check(&req)).unwrap();
    let mut via_http = d.clone();
    for k in ["audit_id", "correlation_id", "evaluated_at"] {
        direct[k] = Value::Null;
        via_http[k] = Value::Null;
    }
    assert_eq!(via_http, direct);
}

#[tokio::test]
async fn check_with_explain_and_correlation_id() {
    let f = Fixture::new("");
    let mut body = staging_restart();
    body["explain"] = json!(true);
    body["correlation_id"] = json!("run-42");
    body["context"] = json!({"run": 42});
    let (status, d) = f.post("/v1/check", &body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(d["correlation_id"], "run-42");
    assert!(d["trace"].as_array().is_some_and(|t| !t.is_empty()));
    let events = f.audit_events();
    assert_eq!(events.last().unwrap()["context"], json!({"run": 42}));
}

#[tokio::test]
async fn unknown_action_is_a_200_deny() {
    let f = Fixture::new("");
    let (status, d) = f
        .post(
            "/v1/check",
            &json!({"action": "reboot-cluster", "target": "prod/api"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(d["result"], "deny");
    assert_eq!(d["risk_class"], "critical");
    assert!(
        d["reason"]
            .as_str()
            .unwrap()
            .contains("unknown action `reboot-cluster`")
    );
    assert_eq!(f.audit_events().len(), 1, "the deny is audited");
}

#[tokio::test]
async fn bad_params_are_a_200_deny() {
    let f = Fixture::new("");
    let (status, d) = f
        .post(
            "/v1/check",
            &json!({"action": "scale-deployment", "target": "staging/api", "params": {"replicas": "three"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(d["result"], "deny");
    assert!(
        d["reason"]
            .as_str()
            .unwrap()
            .contains("missing required parameter")
    );
}

#[tokio::test]
async fn bearer_token_is_the_caller_and_wins_over_the_body() {
    let f = Fixture::new("");
    let token = common::token(&f.state.safe, "deploy-agent", &["deployer"], &[], 300);
    let body = json!({"action": "restart-deployment", "target": "prod/api", "caller": "someone-else",
                      "params": {"namespace": "prod", "deployment": "api"}});
    let (status, d) = f
        .json(post("/v1/check", body.to_string(), Some(&token)))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(d["result"], "allow", "{d}");
    assert_eq!(d["caller"], "deploy-agent");
    assert_eq!(d["policy_matched"], "deployers-restart-prod");
}

#[tokio::test]
async fn bad_bearer_token_is_a_200_deny_with_the_reason() {
    let f = Fixture::new("");
    let good = common::token(&f.state.safe, "deploy-agent", &["deployer"], &[], 300);
    // Tamper with the signature.
    let mut bad = good.clone();
    let last = bad.pop().unwrap();
    bad.push(if last == 'A' { 'B' } else { 'A' });
    let (status, d) = f
        .json(post("/v1/check", staging_restart().to_string(), Some(&bad)))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(d["result"], "deny");
    let reason = d["reason"].as_str().unwrap();
    assert!(reason.contains("signature"), "{reason}");
    // Audited, without the token.
    let events = f.audit_events();
    assert_eq!(events.len(), 1);
    assert!(!events[0].to_string().contains(&bad));
    // A damaged token (JWT-shaped start) is also a deny.
    let (status, d) = f
        .json(post(
            "/v1/check",
            staging_restart().to_string(),
            Some("eyJhbGciOi.x"),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(d["result"], "deny");
}

#[tokio::test]
async fn non_bearer_authorization_is_401() {
    let f = Fixture::new("");
    for auth in ["Basic dXNlcjpwYXNz", "Bearer not-a-jwt", "Bearer "] {
        let req = Request::post("/v1/check")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, auth)
            .body(Body::from(staging_restart().to_string()))
            .unwrap();
        let (status, headers, body) = f.send(req).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth}");
        assert!(headers.contains_key(header::WWW_AUTHENTICATE));
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(error_code(&v), "invalid_authorization");
        assert!(
            !v.to_string().contains("not-a-jwt"),
            "the credential is not echoed"
        );
    }
    assert!(f.audit_events().is_empty());
}

#[tokio::test]
async fn malformed_json_is_400() {
    let f = Fixture::new("");
    let (status, v) = f
        .json(post("/v1/check", "{\"action\": ".to_owned(), None))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&v), "malformed_json");
    let (status, v) = f.json(post("/v1/check", "[1, 2]".to_owned(), None)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&v), "invalid_request");
    let (status, v) = f
        .json(post("/v1/check", "{\"target\": \"x\"}".to_owned(), None))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&v), "invalid_request");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("missing field `action`")
    );
    let (status, v) = f
        .json(post(
            "/v1/check",
            "{\"action\": \"x\", \"colour\": 1}".to_owned(),
            None,
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `colour`")
    );
    assert!(
        f.audit_events().is_empty(),
        "refused requests are not checks"
    );
}

#[tokio::test]
async fn an_evaluation_time_is_refused() {
    let f = Fixture::new("");
    let mut body = staging_restart();
    body["at"] = json!("2026-01-01T10:00:00Z");
    let (status, v) = f.post("/v1/check", &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&v), "evaluation_time_not_accepted");
    let plan = json!({"steps": [{"action": "restart-deployment", "at": "2026-01-01T10:00:00Z"}]});
    let (status, v) = f.post("/v1/check-plan", &plan).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&v), "evaluation_time_not_accepted");
    assert!(f.audit_events().is_empty());
}

#[tokio::test]
async fn oversized_body_is_413() {
    let f = Fixture::new("server:\n  max_body_bytes: 1024\n");
    let mut body = staging_restart();
    body["context"] = json!({"blob": "x".repeat(2048)});
    let (status, v) = f.post("/v1/check", &body).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(&v), "payload_too_large");
    assert!(v["error"]["message"].as_str().unwrap().contains("1024"));
    // Just under the limit is fine.
    let (status, _) = f.post("/v1/check", &staging_restart()).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let f = Fixture::new("");
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut b = Request::post("/v1/check");
        if let Some(ct) = ct {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        let (status, v) = f
            .json(b.body(Body::from(staging_restart().to_string())).unwrap())
            .await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct:?}");
        assert_eq!(error_code(&v), "unsupported_media_type");
    }
    let req = Request::post("/v1/check")
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .body(Body::from(staging_restart().to_string()))
        .unwrap();
    assert_eq!(f.json(req).await.0, StatusCode::OK);
}

#[tokio::test]
async fn check_plan_shares_a_correlation_id_and_takes_the_strictest_result() {
    let f = Fixture::new("");
    let plan = json!({
        "correlation_id": "plan-7",
        "steps": [
            staging_restart(),
            {"action": "drain-node", "target": "prod/node-1", "caller": "ops-agent", "params": {"node": "prod-node-1"}}
        ]
    });
    let (status, p) = f.post("/v1/check-plan", &plan).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(p["result"], "require_approval");
    assert_eq!(p["correlation_id"], "plan-7");
    let steps = p["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0]["result"], "allow");
    assert_eq!(steps[0]["plan_step"], 0);
    assert_eq!(steps[1]["plan_step"], 1);
    assert!(steps.iter().all(|s| s["correlation_id"] == "plan-7"));
    assert_eq!(f.audit_events().len(), 2);
}

#[tokio::test]
async fn check_plan_bearer_applies_to_every_step() {
    let f = Fixture::new("");
    let token = common::token(&f.state.safe, "deploy-agent", &["deployer"], &[], 300);
    let step = json!({"action": "restart-deployment", "target": "prod/api", "caller": "nobody",
                      "params": {"namespace": "prod", "deployment": "api"}});
    let body = json!({"steps": [step.clone(), step]});
    let (status, p) = f
        .json(post("/v1/check-plan", body.to_string(), Some(&token)))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(p["result"], "allow");
    assert!(
        p["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["caller"] == "deploy-agent")
    );
}

/// Issue 13, item 3: a key repeated inside params or context is refused with
/// the status and error format of one repeated at the top level.
#[tokio::test]
async fn repeated_keys_are_refused_at_any_depth() {
    let f = Fixture::new("");
    let raw = |uri: &str, body: &str| f.json(post(uri, body.to_owned(), None));
    let (status, top) = raw("/v1/check", r#"{"action": "a", "action": "b"}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&top), "invalid_request");
    for (uri, body, path) in [
        (
            "/v1/check",
            r#"{"action": "restart-deployment", "caller": "a", "params": {"namespace": "kube-system", "deployment": "api", "namespace": "staging"}}"#,
            "params.namespace",
        ),
        (
            "/v1/check",
            r#"{"action": "restart-deployment", "params": {"namespace": "staging", "deployment": "api"}, "context": {"a": {"b": [{"c": 1, "c": 2}]}}}"#,
            "context.a.b[0].c",
        ),
        (
            "/v1/check-plan",
            r#"{"steps": [{"action": "drain-node"}, {"action": "restart-deployment", "params": {"namespace": "kube-system", "deployment": "api", "namespace": "staging"}}]}"#,
            "steps[1]: duplicate key `params.namespace`",
        ),
    ] {
        let (status, v) = raw(uri, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error_code(&v), "invalid_request", "{v}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains(path), "{message}");
        assert!(message.contains("line 1 column"), "{message}");
        assert_eq!(
            v.as_object().unwrap().keys().collect::<Vec<_>>(),
            top.as_object().unwrap().keys().collect::<Vec<_>>()
        );
    }
    assert!(f.audit_events().is_empty(), "nothing refused is logged");
}

#[tokio::test]
async fn check_plan_refusals() {
    let f = Fixture::new("");
    let (status, v) = f.post("/v1/check-plan", &json!({"steps": []})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["error"]["message"].as_str().unwrap().contains("no steps"));
    let (status, v) = f
        .post(
            "/v1/check-plan",
            &json!({"steps": [{"action": "drain-node", "correlation_id": "x"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("correlation_id")
    );
    let many: Vec<Value> = (0..=agent_safe_server::MAX_PLAN_STEPS)
        .map(|_| json!({"action": "a"}))
        .collect();
    let (status, _) = f.post("/v1/check-plan", &json!({"steps": many})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A list of steps is a plan, as in a plan file and in Python.
    let (status, v) = f.post("/v1/check-plan", &json!([staging_restart()])).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["result"], "allow");
    assert_eq!(
        f.audit_events().len(),
        1,
        "only the accepted plan is logged"
    );
    let (status, v) = f.post("/v1/check-plan", &json!([])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["error"]["message"].as_str().unwrap().contains("no steps"));
    // An `at` in a step is refused like one at the top level.
    let (status, v) = f
        .post(
            "/v1/check-plan",
            &json!({"steps": [{"action": "drain-node", "at": "2026-01-01T00:00:00Z"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&v), "evaluation_time_not_accepted");
    assert_eq!(f.audit_events().len(), 1);
}

#[tokio::test]
async fn actions_list_filter_and_get() {
    let f = Fixture::new("");
    let (status, all) = f.get("/v1/actions").await;
    assert_eq!(status, StatusCode::OK);
    let all = all.as_array().unwrap();
    assert!(all.len() >= 15, "the built-in catalogue: {}", all.len());
    let names: Vec<&str> = all.iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"restart-deployment"));
    // Same JSON as the core type serialises.
    let snap = f.state.safe.snapshot();
    let core =
        serde_json::to_value(snap.registry.get("restart-deployment").unwrap().as_ref()).unwrap();
    assert!(all.contains(&core));

    let (status, high) = f.get("/v1/actions?risk=high").await;
    assert_eq!(status, StatusCode::OK);
    let high = high.as_array().unwrap();
    assert!(!high.is_empty() && high.len() < all.len());
    assert!(high.iter().all(|a| a["risk_class"] == "high"));

    let tag = all
        .iter()
        .find_map(|a| a["tags"].as_array().and_then(|t| t.first()).cloned())
        .unwrap();
    let (status, tagged) = f
        .get(&format!("/v1/actions?tag={}", tag.as_str().unwrap()))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        tagged
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["tags"].as_array().unwrap().contains(&tag))
    );

    let (status, v) = f.get("/v1/actions?risk=extreme").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&v), "invalid_query");
    let (status, v) = f.get("/v1/actions?colour=red").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&v), "invalid_query");

    let (status, a) = f.get("/v1/actions/restart-deployment").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(a, core);
    let version = a["version"].as_str().unwrap().to_owned();
    let (status, a) = f
        .get(&format!("/v1/actions/restart-deployment@{version}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(a["version"], version.as_str());
}

#[tokio::test]
async fn unknown_action_name_is_404() {
    let f = Fixture::new("");
    let (status, v) = f.get("/v1/actions/restart-deploymnt").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&v), "unknown_action");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `restart-deployment`")
    );
    let (status, v) = f.get("/v1/actions/restart-deployment@9.9.9").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&v), "unknown_action");
}

#[tokio::test]
async fn unknown_route_and_wrong_method_are_json() {
    let f = Fixture::new("");
    let (status, v) = f.get("/v2/nothing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&v), "not_found");
    let (status, headers, body) = f
        .send(Request::get("/v1/check").body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(headers.contains_key(header::ALLOW));
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error_code(&v), "method_not_allowed");
}

#[tokio::test]
async fn healthz_and_readyz() {
    let f = Fixture::new("");
    let (status, v) = f.get("/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["status"], "ok");
    let (status, v) = f.get("/readyz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["status"], "ready");
    assert_eq!(v["snapshot"]["rules"], 5);
    assert_eq!(v["snapshot"]["targets"], 6);
    assert!(v["last_reload"].is_null());

    // A broken edit: the reload fails, the old snapshot stays, still ready.
    std::fs::write(
        f.dir.path().join("policies/parity.yaml"),
        "rules:\n  - name: [\n",
    )
    .unwrap();
    assert!(f.state.reload_blocking("api").is_err());
    let (status, v) = f.get("/readyz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["last_reload"]["ok"], false);
    assert!(
        v["last_reload"]["error"]
            .as_str()
            .unwrap()
            .contains("parity.yaml")
    );
    let (_, d) = f.post("/v1/check", &staging_restart()).await;
    assert_eq!(d["result"], "allow", "still serving the last good snapshot");

    // Shutting down: not ready.
    f.state.set_ready(false);
    let (status, v) = f.get("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(v["status"], "not_ready");
}

#[tokio::test]
async fn metrics_have_the_expected_series() {
    let f = Fixture::new("");
    f.post("/v1/check", &staging_restart()).await;
    f.post("/v1/check", &staging_restart()).await;
    f.post("/v1/check", &json!({"action": "no-such-thing-123"}))
        .await;
    std::fs::write(f.dir.path().join("policies/parity.yaml"), "rules: [\n").unwrap();
    let _ = f.state.reload_blocking("api");
    let text = f.text("/metrics").await;
    for needle in [
        "agent_safe_decisions_total{result=\"allow\",action=\"restart-deployment\",endpoint=\"check\"} 2",
        "agent_safe_decisions_total{result=\"deny\",action=\"unknown\",endpoint=\"check\"} 1",
        "agent_safe_check_duration_seconds_bucket{endpoint=\"check\",le=",
        "agent_safe_check_duration_seconds_count{endpoint=\"check\"} 3",
        "agent_safe_http_requests_total{route=\"/v1/check\",method=\"POST\",status=\"200\"} 3",
        "agent_safe_reloads_total 1",
        "agent_safe_reload_failures_total 1",
        "agent_safe_last_reload_success 0",
        "agent_safe_last_reload_error{error=",
        "agent_safe_ready 1",
        "agent_safe_audit_appends_total 3",
        "agent_safe_audit_syncs_total 0",
        "agent_safe_snapshot_rules 5",
        "agent_safe_build_info{version=",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in\n{text}");
    }
    assert!(
        !text.contains("no-such-thing-123"),
        "unknown actions never become labels"
    );
    // OpenMetrics on request.
    let req = Request::get("/metrics")
        .header(
            header::ACCEPT,
            "application/openmetrics-text; version=1.0.0",
        )
        .body(Body::empty())
        .unwrap();
    let (status, headers, body) = f.send(req).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    assert!(String::from_utf8(body).unwrap().ends_with("# EOF\n"));
}

#[tokio::test]
async fn openapi_document_lists_the_paths() {
    let f = Fixture::new("");
    let (status, doc) = f.get("/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/v1/check",
        "/v1/check-plan",
        "/v1/actions",
        "/v1/actions/{name}",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
    ] {
        assert!(doc["paths"][path].is_object(), "missing {path}");
    }
    assert!(doc["paths"]["/v1/check"]["post"].is_object());
    assert!(doc["components"]["schemas"]["Decision"].is_object());
}

#[tokio::test]
async fn request_timeout_is_503_json() {
    // 1 ms cannot fit a 1000-step plan with traces.
    let f = Fixture::new("server:\n  request_timeout_ms: 1\n  max_body_bytes: 1048576\n");
    let steps: Vec<Value> = (0..1000)
        .map(|_| {
            let mut s = staging_restart();
            s["explain"] = json!(true);
            s
        })
        .collect();
    let (status, v) = f.post("/v1/check-plan", &json!({"steps": steps})).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(error_code(&v), "timeout");
}

#[tokio::test]
async fn health_app_serves_only_probes_and_metrics() {
    let f = Fixture::new("");
    let health = agent_safe_server::health_app(f.state.clone());
    for (uri, want) in [
        ("/healthz", StatusCode::OK),
        ("/readyz", StatusCode::OK),
        ("/metrics", StatusCode::OK),
        ("/v1/actions", StatusCode::NOT_FOUND),
        ("/openapi.json", StatusCode::NOT_FOUND),
    ] {
        let resp = health
            .clone()
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), want, "{uri}");
    }
    let resp = health
        .oneshot(post("/v1/check", staging_restart().to_string(), None))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn inline_execution_gives_the_same_answers() {
    let dir = common::project("");
    let state = AppState::with_execution(common::open(dir.path()), Execution::Inline);
    let resp = app(state)
        .oneshot(post("/v1/check", staging_restart().to_string(), None))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let d: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(d["result"], "allow");
}
