//! Shared test helpers: the parity project in a temporary directory.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use agent_safe_core::AgentSafe;
use agent_safe_core::identity::{MintRequest, mint_token};
use serde_json::Value;

/// `tests/parity` at the workspace root.
pub fn parity() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/parity")
}

/// Copies a directory tree, leaving out any `audit` directory.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            if e.file_name() != "audit" {
                copy_dir(&e.path(), &dest);
            }
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// The parity project copied into a fresh temporary directory, with
/// `extra` appended to its `agent-safe.yaml`.
pub fn project(extra: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&parity().join("project"), tmp.path());
    if !extra.is_empty() {
        let cfg = tmp.path().join("agent-safe.yaml");
        let mut text = std::fs::read_to_string(&cfg).unwrap();
        text.push_str(extra);
        std::fs::write(&cfg, text).unwrap();
    }
    tmp
}

/// The parity project with its `agent-safe.yaml` text rewritten by `edit`.
pub fn project_edited(edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let tmp = project("");
    let cfg = tmp.path().join("agent-safe.yaml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, edit(text)).unwrap();
    tmp
}

/// The parity project with `durability: sync`.
pub fn sync_project() -> tempfile::TempDir {
    project_edited(|t| {
        assert!(t.contains("  path: audit/audit.jsonl\n"));
        t.replace(
            "  path: audit/audit.jsonl\n",
            "  path: audit/audit.jsonl\n  durability: sync\n",
        )
    })
}

/// Switches the staging rule of the parity policy from `allow` to `require_approval`.
pub fn tighten_staging(dir: &Path) {
    let p = dir.join("policies/parity.yaml");
    let text = std::fs::read_to_string(&p).unwrap();
    let from = "      risk_classes: [low, medium]\n    decision: allow\n";
    assert!(text.contains(from));
    let tmp = dir.join("policies/.parity.yaml.tmp");
    std::fs::write(
        &tmp,
        text.replace(
            from,
            "      risk_classes: [low, medium]\n    decision: require_approval\n",
        ),
    )
    .unwrap();
    // Write-then-rename, as editors and ConfigMap updates do.
    std::fs::rename(&tmp, &p).unwrap();
}

/// The parity case request body for HTTP: the caller, or a bearer token for
/// `{"claims": ...}` callers.
pub fn http_request(safe: &AgentSafe, request: &Value) -> (Value, Option<String>) {
    let mut body = request.clone();
    let mut bearer = None;
    if let Value::Object(o) = &request["caller"] {
        let claims = &o["claims"];
        let list = |k: &str| -> Vec<String> {
            claims[k]
                .as_array()
                .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
                .unwrap_or_default()
        };
        let roles = list("roles");
        let groups = list("groups");
        let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
        let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
        bearer = Some(token(
            safe,
            claims["agent_id"].as_str().unwrap(),
            &roles,
            &groups,
            300,
        ));
        body.as_object_mut().unwrap().remove("caller");
    }
    (body, bearer)
}

/// Opens the project in `dir`.
pub fn open(dir: &Path) -> AgentSafe {
    AgentSafe::open(Some(&dir.join("agent-safe.yaml"))).unwrap_or_else(|e| panic!("{e}"))
}

/// A token for `agent_id` with `roles`, signed with the project's key.
pub fn token(
    safe: &AgentSafe,
    agent_id: &str,
    roles: &[&str],
    groups: &[&str],
    ttl: u64,
) -> String {
    mint_token(
        &safe.snapshot().identity,
        &MintRequest {
            agent_id: agent_id.to_owned(),
            agent_name: None,
            roles: roles.iter().map(|s| (*s).to_owned()).collect(),
            groups: groups.iter().map(|s| (*s).to_owned()).collect(),
            ttl_seconds: ttl,
            kid: None,
        },
        jiff::Timestamp::now().as_second(),
    )
    .unwrap()
}

/// The parity cases.
pub fn cases() -> Vec<Value> {
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(parity().join("cases.json")).unwrap())
            .unwrap();
    v["cases"].as_array().unwrap().clone()
}

/// `tests/parity/requests.json`: request-reading cases (`checks`, `plans`).
pub fn requests() -> Value {
    serde_json::from_str(&std::fs::read_to_string(parity().join("requests.json")).unwrap()).unwrap()
}

/// Checks a decision (or a plan decision, with `steps`) against a case's `expect`.
pub fn assert_expected(name: &str, d: &Value, expect: &Value) {
    for (k, want) in expect.as_object().unwrap() {
        if k == "steps" {
            let steps = d["steps"].as_array().unwrap();
            let want = want.as_array().unwrap();
            assert_eq!(steps.len(), want.len(), "{name}: steps in {d:#}");
            for (i, (s, w)) in steps.iter().zip(want).enumerate() {
                let mut w = w.as_object().unwrap().clone();
                let trace = w.remove("trace").unwrap().as_bool().unwrap();
                assert_eq!(s["trace"].is_array(), trace, "{name}: step {i} trace");
                assert!(s["audit_id"].is_string(), "{name}: step {i} is audited");
                assert_expected(&format!("{name}, step {i}"), s, &Value::Object(w));
            }
        } else if k == "reason_contains" {
            let reason = d["reason"].as_str().unwrap();
            assert!(
                reason.contains(want.as_str().unwrap()),
                "{name}: reason `{reason}` lacks `{want}`"
            );
        } else {
            assert_eq!(&d[k], want, "{name}: field `{k}` in {d:#}");
        }
    }
}
