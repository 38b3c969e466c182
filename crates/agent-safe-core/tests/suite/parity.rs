//! The shared parity fixture (`tests/parity/`) through the Rust API. The CLI,
//! the Python SDK and the HTTP API run the same cases and must agree.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use agent_safe_core::identity::{MintRequest, mint_token};
use agent_safe_core::{AgentSafe, CheckRequest};
use serde_json::Value;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/parity")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else if e.file_name() != "audit" {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

#[test]
fn parity_cases() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&fixture().join("project"), tmp.path());
    let safe = AgentSafe::open(Some(&tmp.path().join("agent-safe.yaml")))
        .unwrap_or_else(|e| panic!("{e}"));
    let cases: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture().join("cases.json")).unwrap())
            .unwrap();
    let now = jiff::Timestamp::now().as_second();
    let mut checked = 0;
    for case in cases["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let r = &case["request"];
        let caller = match &r["caller"] {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => {
                let claims = &o["claims"];
                let list = |k: &str| {
                    claims[k]
                        .as_array()
                        .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
                        .unwrap_or_default()
                };
                Some(
                    mint_token(
                        &safe.snapshot().identity,
                        &MintRequest {
                            agent_id: claims["agent_id"].as_str().unwrap().to_owned(),
                            agent_name: None,
                            roles: list("roles"),
                            groups: list("groups"),
                            ttl_seconds: 300,
                            kid: None,
                        },
                        now,
                    )
                    .unwrap(),
                )
            }
            _ => None,
        };
        let req = CheckRequest {
            action: r["action"].as_str().unwrap().to_owned(),
            target: r["target"].as_str().map(str::to_owned),
            caller,
            params: r.get("params").cloned(),
            ..CheckRequest::default()
        };
        let d = serde_json::to_value(safe.check(&req)).unwrap();
        for (k, want) in case["expect"].as_object().unwrap() {
            if k == "reason_contains" {
                let reason = d["reason"].as_str().unwrap();
                assert!(
                    reason.contains(want.as_str().unwrap()),
                    "{name}: reason `{reason}` lacks `{want}`"
                );
            } else {
                assert_eq!(&d[k], want, "{name}: field `{k}` in {d:#}");
            }
        }
        assert!(d["audit_id"].is_string(), "{name}: every check is audited");
        checked += 1;
    }
    assert_eq!(checked, 15);
    let report = agent_safe_core::audit::verify(&[tmp.path().join("audit")]);
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.events, 15);
}

/// Compares a decision (or a plan decision) with a fixture's `expect`.
fn assert_expected(name: &str, got: &Value, expect: &Value) {
    for (k, want) in expect.as_object().unwrap() {
        match k.as_str() {
            "reason_contains" => {
                let reason = got["reason"].as_str().unwrap();
                assert!(
                    reason.contains(want.as_str().unwrap()),
                    "{name}: reason `{reason}` lacks `{want}`"
                );
            }
            "steps" => {
                let steps = got["steps"].as_array().unwrap();
                let want = want.as_array().unwrap();
                assert_eq!(steps.len(), want.len(), "{name}: steps in {got:#}");
                for (i, (s, w)) in steps.iter().zip(want).enumerate() {
                    let mut w = w.as_object().unwrap().clone();
                    let trace = w.remove("trace").unwrap().as_bool().unwrap();
                    assert_eq!(s["trace"].is_array(), trace, "{name}: step {i} trace");
                    assert_eq!(s["plan_step"], i, "{name}: step {i}");
                    assert!(s["audit_id"].is_string(), "{name}: step {i} is audited");
                    assert_expected(&format!("{name}, step {i}"), s, &Value::Object(w));
                }
            }
            _ => assert_eq!(&got[k], want, "{name}: field `{k}` in {got:#}"),
        }
    }
}

/// `tests/parity/requests.json`: params, context and plans read strictly
/// and alike. Refusals check and log nothing.
#[test]
fn request_reading_cases() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&fixture().join("project"), tmp.path());
    let safe = AgentSafe::open(Some(&tmp.path().join("agent-safe.yaml")))
        .unwrap_or_else(|e| panic!("{e}"));
    let cases: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture().join("requests.json")).unwrap())
            .unwrap();
    let mut logged = 0;
    for case in cases["checks"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let mut body = format!(
            "{{\"action\": {}, \"caller\": {}, \"params\": {}",
            case["action"],
            case["caller"],
            case["params"].as_str().unwrap()
        );
        if let Some(c) = case["context"].as_str() {
            body.push_str(&format!(", \"context\": {c}"));
        }
        body.push('}');
        let expect = &case["expect"];
        match serde_json::from_str::<CheckRequest>(&body) {
            Err(e) => {
                let want = expect["error_contains"].as_str().unwrap_or_else(|| {
                    panic!("{name}: refused: {e}");
                });
                assert!(e.to_string().contains(want), "{name}: `{e}` lacks `{want}`");
            }
            Ok(req) => {
                assert!(expect.get("error_contains").is_none(), "{name}: accepted");
                let d = serde_json::to_value(safe.check(&req)).unwrap();
                assert_expected(name, &d, expect);
                logged += 1;
            }
        }
    }
    for case in cases["plans"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let expect = &case["expect"];
        let got = agent_safe_core::PlanRequest::from_json(case["plan"].as_str().unwrap())
            .map_err(|e| e.to_string())
            .and_then(|p| safe.check_plan(&p, None).map_err(|e| e.to_string()));
        match got {
            Err(e) => {
                let want = expect["error_contains"].as_str().unwrap_or_else(|| {
                    panic!("{name}: refused: {e}");
                });
                assert!(e.contains(want), "{name}: `{e}` lacks `{want}`");
            }
            Ok(plan) => {
                assert!(expect.get("error_contains").is_none(), "{name}: accepted");
                let v = serde_json::to_value(&plan).unwrap();
                assert_expected(name, &v, expect);
                logged += plan.steps.len();
            }
        }
    }
    let report = agent_safe_core::audit::verify(&[tmp.path().join("audit")]);
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.events, logged as u64, "refusals are not logged");
}
