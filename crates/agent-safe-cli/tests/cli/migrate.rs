//! `migrate`: a project written in agent-safe 0.14's formats
//! (`tests/v014-project`) is converted, the result validates, and the
//! behaviour differences the report lists are exactly the converted tests
//! that fail.

use std::collections::BTreeSet;
use std::path::Path;

use crate::{Project, copy_dir};

/// A temp dir holding a copy of the 0.14 fixture in `old/`.
fn old_project() -> Project {
    let p = Project::empty();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/v014-project");
    copy_dir(&src, &p.root.join("old"));
    p
}

fn migrate(p: &Project, args: &[&str]) -> (i32, String, String) {
    let out = p.cmd(args).current_dir(&p.root).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Runs `agent-safe ARGS` in `dir`.
fn run_in(p: &Project, dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = p.cmd(args).current_dir(dir).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn migrate_prints_every_change_and_difference() {
    let p = old_project();
    let mut cmd = p.cmd(&["migrate", "old", "--to", "new"]);
    cmd.current_dir(&p.root);
    p.settings()
        .bind(|| insta_cmd::assert_cmd_snapshot!("migrate_v014", cmd));
}

#[test]
fn the_listed_differences_are_exactly_the_failing_converted_tests() {
    let p = old_project();
    let (code, out, err) = migrate(&p, &["migrate", "old", "--to", "new", "-o", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["load_errors"], serde_json::json!([]));
    assert_eq!(report["tests_total"], 13);

    let new = p.root.join("new");
    let (code, out, err) = run_in(&p, &new, &["validate", "-o", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let kinds: BTreeSet<&str> = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains("no_rollback_action"), "{kinds:?}");
    assert!(kinds.contains("core_group_prefix"), "{kinds:?}");

    // The converted tests that fail under this version ...
    let (code, out, _) = run_in(&p, &new, &["test", "tests/policy_tests", "-o", "json"]);
    assert_eq!(code, 1, "{out}");
    let results: serde_json::Value = serde_json::from_str(&out).unwrap();
    let failing: BTreeSet<String> = results["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    // ... are the ones the report says differ, each for one named reason ...
    let changed: BTreeSet<String> = report["tests_changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(failing, changed);
    let listed: BTreeSet<String> = report["differences"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["tests"].as_array().unwrap().iter())
        .map(|t| t.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, changed);
    // ... and each difference the issue names is shown by its own case.
    let by_kind: Vec<(String, Vec<String>)> = report["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap().to_owned(),
                d["tests"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t.as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect();
    let expect = |kind: &str, tests: &[&str]| {
        let got = by_kind
            .iter()
            .find(|(k, _)| k == kind)
            .map(|(_, t)| t.clone());
        assert_eq!(
            got,
            Some(tests.iter().map(|s| (*s).to_owned()).collect()),
            "{kind}"
        );
    };
    expect("empty_params", &["dev-logs-without-params"]);
    expect("target_types", &["ec2-start-on-a-deployment"]);
    expect("rule_order", &["staging-api-logs"]);
    expect("unknown_targets", &["scale-unknown-target"]);
    expect("tickets", &["ticketed-prod-restart"]);
    expect("delegation", &[]);
    assert!(by_kind.iter().all(|(k, _)| k != "other"), "{by_kind:?}");
    assert_eq!(report["tests_failing_in_014"], serde_json::json!([]));

    // Other providers' privileges are shown, and left out of RBAC with a note.
    let (code, out, _) = run_in(&p, &new, &["show-action", "ec2-stop-instance"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("not RBAC:       ec2:StopInstances, ec2:DescribeInstances"),
        "{out}"
    );
    let (code, out, err) = run_in(&p, &new, &["rbac", "--caller", "ops-bot"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("note: left out, not Kubernetes RBAC: ec2:DescribeInstances"),
        "{err}"
    );
    assert!(!out.contains("StopInstances"), "{out}");

    // The signing key left the config file, readable by its owner only.
    use std::os::unix::fs::PermissionsExt;
    let key = new.join("secrets/signing.key");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        !std::fs::read_to_string(new.join("agent-safe.yaml"))
            .unwrap()
            .contains("5f1c0e7a")
    );
}

#[test]
fn migrate_never_replaces_a_file() {
    let p = old_project();
    let (code, _, err) = migrate(&p, &["migrate", "old", "--to", "new"]);
    assert_eq!(code, 0, "{err}");
    std::fs::write(p.root.join("new/policies/extra.yaml"), "rules: []\n").unwrap();
    std::fs::remove_file(p.root.join("new/inventory.yaml")).unwrap();
    let mut cmd = p.cmd(&["migrate", "old", "--to", "new"]);
    cmd.current_dir(&p.root);
    p.settings()
        .bind(|| insta_cmd::assert_cmd_snapshot!("migrate_existing_destination", cmd));
    // Nothing was written: not even the file that was missing.
    assert_eq!(
        std::fs::read_to_string(p.root.join("new/policies/extra.yaml")).unwrap(),
        "rules: []\n"
    );
    assert!(!p.root.join("new/inventory.yaml").exists());
}

#[test]
fn a_project_without_config_uses_014_defaults() {
    let p = old_project();
    std::fs::remove_file(p.root.join("old/agent-safe.yaml")).unwrap();
    let (code, out, err) = migrate(&p, &["migrate", "old"]);
    assert_eq!(code, 0, "{out}{err}");
    // Written beside the source, as FROM-migrated.
    let new = p.root.join("old-migrated");
    assert!(!new.join("secrets").exists());
    let (code, out, err) = run_in(&p, &new, &["validate"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("8 actions, 12 rules, 8 targets"), "{out}");
}

#[test]
fn a_bad_source_is_a_clear_error() {
    let p = old_project();
    std::fs::write(
        p.root.join("old/policies/zz-broken.yaml"),
        "rules:\n  - name: x\n    decision: maybe\n",
    )
    .unwrap();
    let (code, out, err) = migrate(&p, &["migrate", "old", "--to", "new"]);
    assert_eq!(code, 2, "{out}");
    assert!(err.contains("zz-broken.yaml"), "{err}");
    assert!(
        err.contains("not a valid agent-safe 0.14 policy file"),
        "{err}"
    );
    assert!(!p.root.join("new").exists());
    let (code, _, err) = migrate(&p, &["migrate", "missing"]);
    assert_eq!(code, 2);
    assert!(err.contains("not a directory"), "{err}");
}

/// An HS256 token shaped as agent-safe 0.14 mints them (claims `agent_id`,
/// `agent_name`, `roles`, `groups`, `iss`, `iat`, `exp`; no `kid`), signed
/// with the UTF-8 bytes of its `signing_key`.
fn token_014(key: &str, agent_id: &str, roles: &[&str]) -> String {
    use base64::Engine as _;
    use hmac::Mac as _;
    let b64 = |v: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let head = b64(&serde_json::json!({"alg": "HS256", "typ": "JWT"}));
    let body = b64(&serde_json::json!({
        "agent_id": agent_id, "agent_name": "", "roles": roles, "groups": [],
        "iss": "agent-safe", "iat": now, "exp": now + 600,
    }));
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(format!("{head}.{body}").as_bytes());
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{head}.{body}.{sig}")
}

#[test]
fn tokens_signed_by_014_still_identify_their_callers() {
    let p = old_project();
    let (code, _, err) = migrate(&p, &["migrate", "old", "--to", "new"]);
    assert_eq!(code, 0, "{err}");
    let key = "5f1c0e7a9b3d2c4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e";
    let new = p.root.join("new");
    let check = |caller: &str| {
        let (_, out, err) = run_in(
            &p,
            &new,
            &[
                "check",
                "restart-deployment",
                "--target",
                "staging/api",
                "--caller",
                caller,
                "--params",
                r#"{"namespace":"staging","deployment":"api"}"#,
                "-o",
                "json",
            ],
        );
        let d: serde_json::Value =
            serde_json::from_str(&out).unwrap_or_else(|_| panic!("{out}{err}"));
        (
            d["result"].as_str().unwrap().to_owned(),
            d["policy_matched"].clone(),
        )
    };
    // The deployer role comes from the 0.14 token, verified with the migrated key.
    let (result, rule) = check(&token_014(key, "deploy-bot", &["deployer"]));
    assert_eq!(
        (result.as_str(), rule),
        ("allow", serde_json::json!("allow-deployer-staging"))
    );
    // A token signed with another key is refused (fail closed).
    let (result, _) = check(&token_014(
        &key.replace('5', "6"),
        "deploy-bot",
        &["deployer"],
    ));
    assert_eq!(result, "deny");
    // Without the role, no rule allows it.
    let (result, _) = check("deploy-bot");
    assert_eq!(result, "deny");
}

#[test]
fn the_default_destination_is_beside_the_source_even_for_dot() {
    let p = old_project();
    let out = p
        .cmd(&["migrate", "."])
        .current_dir(p.root.join("old"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(p.root.join("old-migrated/agent-safe.yaml").is_file());
    assert!(!p.root.join("old/old-migrated").exists());
}
