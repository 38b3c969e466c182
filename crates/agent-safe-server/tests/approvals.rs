//! `POST /v1/approvals`: the HTTP twin of `record_approval`, for an
//! authenticated approver. Each refusal an attacker (or a careless client)
//! would meet, and the event that a good answer writes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use agent_safe_server::{AppState, app};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;

struct Fixture {
    dir: tempfile::TempDir,
    state: AppState,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = common::project("");
        let state = AppState::new(common::open(dir.path()));
        Fixture { dir, state }
    }

    fn token(&self, agent_id: &str, roles: &[&str]) -> String {
        common::token(&self.state.safe, agent_id, roles, &[], 300)
    }

    async fn post(&self, uri: &str, body: &Value, bearer: Option<&str>) -> (StatusCode, Value) {
        let mut b = Request::post(uri).header(header::CONTENT_TYPE, "application/json");
        if let Some(t) = bearer {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let resp = app(self.state.clone())
            .oneshot(b.body(Body::from(body.to_string())).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    /// A fresh `require_approval` decision asked by `caller`.
    async fn pending(&self, caller: &str) -> Value {
        let (status, d) = self
            .post(
                "/v1/check",
                &json!({"action": "restart-deployment", "target": "prod/api", "caller": caller,
                        "params": {"namespace": "prod", "deployment": "api"}}),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(d["result"], "require_approval", "{d}");
        d
    }

    fn events(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("audit/audit.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or_else(|| panic!("{v}"))
}

#[tokio::test]
async fn an_approver_answers_a_pending_decision_once() {
    let f = Fixture::new();
    let d = f.pending("ops-agent").await;
    let alice = f.token("alice@example.com", &["approver"]);
    let body = json!({"audit_id": d["audit_id"], "approved": true,
                      "comment": "patch window", "approver_name": "Alice A."});
    let (status, r) = f.post("/v1/approvals", &body, Some(&alice)).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["audit_id"], d["audit_id"]);
    assert_eq!(r["correlation_id"], d["correlation_id"]);
    assert_eq!(r["approver"], "alice@example.com");
    assert_eq!(r["approved"], true);
    assert_eq!(r["action"], "restart-deployment");

    // The event: the verified approver, the logged action/target/params.
    let ev = f.events().into_iter().last().unwrap();
    assert_eq!(ev["kind"], "approval");
    assert_eq!(ev["event_id"], r["event_id"]);
    assert_eq!(ev["caller"], "alice@example.com");
    assert_eq!(ev["decision"], "approve");
    assert_eq!(ev["reason"], "patch window");
    assert_eq!(ev["target"], "prod/api");
    assert_eq!(
        ev["params"],
        json!({"namespace": "prod", "deployment": "api"})
    );
    assert_eq!(ev["correlation_id"], d["correlation_id"]);
    assert_eq!(ev["context"]["audit_id"], d["audit_id"]);
    assert_eq!(ev["context"]["approver_name"], "Alice A.");
    assert_eq!(ev["context"]["approver_verified"], true);

    // A second answer, approve or reject, is refused: nothing more is written.
    let n = f.events().len();
    let bob = f.token("bob@example.com", &["approver"]);
    let again = json!({"audit_id": d["audit_id"], "approved": false});
    let (status, e) = f.post("/v1/approvals", &again, Some(&bob)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{e}");
    assert_eq!(code(&e), "not_pending");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already answered")
    );
    assert_eq!(f.events().len(), n);
}

#[tokio::test]
async fn a_rejection_is_recorded_as_reject() {
    let f = Fixture::new();
    let d = f.pending("ops-agent").await;
    let alice = f.token("alice@example.com", &["approver"]);
    let (status, r) = f
        .post(
            "/v1/approvals",
            &json!({"audit_id": d["audit_id"], "approved": false}),
            Some(&alice),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(f.events().last().unwrap()["decision"], "reject");
}

#[tokio::test]
async fn every_refusal_has_its_status_and_writes_nothing() {
    let f = Fixture::new();
    let d = f.pending("ops-agent").await;
    let body = json!({"audit_id": d["audit_id"], "approved": true});
    let n = f.events().len();

    // No token: 401.
    let (status, e) = f.post("/v1/approvals", &body, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{e}");
    assert_eq!(code(&e), "unauthenticated");

    // A plain agent id in the Authorization header is not a credential.
    let (status, e) = f.post("/v1/approvals", &body, Some("alice")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{e}");

    // A token signed with another key: 401.
    let forged = {
        // Change one character in the middle of the signature.
        let t = f.token("alice@example.com", &["approver"]);
        let sig_at = t.rfind('.').unwrap() + 10;
        let mut bytes = t.into_bytes();
        bytes[sig_at] = if bytes[sig_at] == b'x' { b'y' } else { b'x' };
        String::from_utf8(bytes).unwrap()
    };
    let (status, e) = f.post("/v1/approvals", &body, Some(&forged)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{e}");
    assert_eq!(code(&e), "unauthenticated");

    // A valid token without an approver role: 403.
    let deployer = f.token("deploy-agent", &["deployer"]);
    let (status, e) = f.post("/v1/approvals", &body, Some(&deployer)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{e}");
    assert_eq!(code(&e), "forbidden");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("approver roles")
    );

    // The agent that asked cannot approve its own request, even as an approver.
    let own = f.token("ops-agent", &["approver"]);
    let (status, e) = f.post("/v1/approvals", &body, Some(&own)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("its own request")
    );

    let alice = f.token("alice@example.com", &["approver"]);
    // An audit id that is not in the log: 404.
    let (status, e) = f
        .post(
            "/v1/approvals",
            &json!({"audit_id": "01a0000-not-a-decision", "approved": true}),
            Some(&alice),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{e}");
    assert_eq!(code(&e), "unknown_decision");

    // An allow decision has nothing to approve: 409.
    let (_, allowed) = f
        .post(
            "/v1/check",
            &json!({"action": "restart-deployment", "target": "staging/api", "caller": "ops-agent",
                    "params": {"namespace": "staging", "deployment": "api"}}),
            None,
        )
        .await;
    assert_eq!(allowed["result"], "allow");
    let (status, e) = f
        .post(
            "/v1/approvals",
            &json!({"audit_id": allowed["audit_id"], "approved": true}),
            Some(&alice),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{e}");
    let n = n + 1; // the allowed check itself

    // Unknown fields (an attempt to dictate the action or the approver): 400.
    let (status, e) = f
        .post(
            "/v1/approvals",
            &json!({"audit_id": d["audit_id"], "approved": true, "approver": "ceo"}),
            Some(&alice),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");

    // Nothing was written by any refusal.
    assert_eq!(f.events().len(), n);
}

#[tokio::test]
async fn approver_roles_are_configurable() {
    let dir = common::project("");
    let cfg = dir.path().join("agent-safe.yaml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        text.replace("identity:\n", "identity:\n  approver_roles: [sre-lead]\n"),
    )
    .unwrap();
    let f = Fixture {
        state: AppState::new(common::open(dir.path())),
        dir,
    };
    let d = f.pending("ops-agent").await;
    let body = json!({"audit_id": d["audit_id"], "approved": true});
    let (status, _) = f
        .post(
            "/v1/approvals",
            &body,
            Some(&f.token("alice", &["approver"])),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, r) = f
        .post(
            "/v1/approvals",
            &body,
            Some(&f.token("alice", &["sre-lead"])),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
}
