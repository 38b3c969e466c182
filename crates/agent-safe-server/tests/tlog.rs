//! `GET /v1/audit/checkpoint` and `GET /v1/audit/proof/{audit_id}`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use agent_safe_core::audit::{Checkpoint, InclusionProof, NoteVerifier, create_signer_key};
use agent_safe_server::{AppState, app};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;

async fn send(state: &AppState, req: Request<Body>) -> (StatusCode, String, String) {
    let resp = app(state.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let ct = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, ct, String::from_utf8(body.to_vec()).unwrap())
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn checkpoint_and_proofs_over_http() {
    let dir = common::project_edited(|t| {
        t.replace(
            "audit:\n  path: audit/audit.jsonl\n",
            "audit:\n  path: audit/audit.jsonl\n  checkpoint:\n    origin: test.example/http\n    key_file: checkpoint.key\n    every_events: 2\n",
        )
    });
    let signer =
        create_signer_key(&dir.path().join("checkpoint.key"), "test.example/http").unwrap();
    let verifier = NoteVerifier::parse(&signer.verifier_key()).unwrap();
    let state = AppState::new(common::open(dir.path()));
    let mut ids = Vec::new();
    for i in 0..5 {
        let body = json!({"action": "restart-deployment", "target": "staging/api", "caller": "ops-agent",
                          "params": {"namespace": "staging", "deployment": "api"}, "correlation_id": format!("c{i}")});
        let req = Request::post("/v1/check")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let (status, _, text) = send(&state, req).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        let d: Value = serde_json::from_str(&text).unwrap();
        ids.push(d["audit_id"].as_str().unwrap().to_owned());
    }
    let (status, ct, note) = send(&state, get("/v1/audit/checkpoint")).await;
    assert_eq!(status, StatusCode::OK, "{note}");
    assert_eq!(ct, "text/plain; charset=utf-8");
    let cp = Checkpoint::open(&note, &verifier).unwrap();
    assert_eq!(cp.size, 4, "every 2 events: the newest checkpoint covers 4");

    for id in &ids {
        let (status, ct, text) = send(&state, get(&format!("/v1/audit/proof/{id}"))).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert_eq!(ct, "application/json");
        let proof: InclusionProof = serde_json::from_str(&text).unwrap();
        assert_eq!(&proof.audit_id, id);
        assert!(proof.verify(&verifier, None).unwrap().size >= proof.seq);
    }
    let (status, _, text) = send(
        &state,
        get("/v1/audit/proof/019cb8b8-2263-7b5f-9acd-6c058a47620a"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{text}");
    let e: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(e["error"]["code"], "audit_unavailable");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no event with audit id")
    );
    let (status, _, _) = send(&state, get("/v1/audit/proof/..%2F..%2Fetc")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, metrics) = send(&state, get("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        metrics.contains("agent_safe_audit_checkpoints_total 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("agent_safe_audit_checkpoint_failures_total 0"),
        "{metrics}"
    );
}

#[tokio::test]
async fn without_checkpoints_the_endpoints_say_so() {
    let dir = common::project("");
    let state = AppState::new(common::open(dir.path()));
    for uri in [
        "/v1/audit/checkpoint",
        "/v1/audit/proof/019cb8b8-2263-7b5f-9acd-6c058a47620a",
    ] {
        let (status, _, text) = send(&state, get(uri)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{text}");
        assert!(text.contains("audit.checkpoint"), "{text}");
    }
}
