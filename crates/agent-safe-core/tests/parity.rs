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
