//! `validate`, `validate-policy`, `list-actions`, `show-action`, `registry lock`.

use crate::{Project, snap};

/// A policy with a finding: a shadowed rule (a warning; the project loads).
fn with_warnings(p: &Project) {
    p.write(
        "policies/extra.yaml",
        "\
rules:
  - name: shadowed-restarts
    priority: 10
    match:
      actions: [restart-deployment]
      targets: {environments: [prod]}
      callers: {agent_ids: [\"**\"]}
    decision: allow
",
    );
}

/// Typos that used to be warnings and now stop the project from loading: a
/// rule naming an action that does not exist, and an action whose privilege
/// Kubernetes does not know (`rbac` would have granted it).
fn with_typos(p: &Project) {
    p.write(
        "policies/extra.yaml",
        "\
rules:
  - name: typo-in-action
    priority: 20
    match:
      actions: [restart-deploymnet]
    decision: deny
",
    );
    p.write(
        "actions/poke-app.yaml",
        "\
name: poke-app
version: \"1.0.0\"
description: Pokes the app.
risk_class: low
target_types: [app]
required_privileges:
  - apps/deploymentz:patch
  - apps/statefulsets:restart
",
    );
}

#[test]
fn validate_typos_are_errors() {
    let p = Project::fixture();
    with_typos(&p);
    snap!(p, "validate_typos_are_errors", &["validate"]);
    // `check` refuses to run on such a project too.
    let (code, _, err) = p.run(&["check", "restart-deployment", "--target", "staging/api"]);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("matches no known action"), "{err}");
}

#[test]
fn validate_ok() {
    let p = Project::fixture();
    snap!(p, "validate_ok", &["validate"]);
}

#[test]
fn validate_warnings() {
    let p = Project::fixture();
    with_warnings(&p);
    snap!(p, "validate_warnings", &["validate"]);
}

#[test]
fn validate_strict_fails_on_warnings() {
    let p = Project::fixture();
    with_warnings(&p);
    let (code, out, _) = p.run(&["validate", "--strict"]);
    assert_eq!(code, 1);
    assert!(out.ends_with("(--strict)\n"), "{out}");
}

#[test]
fn validate_warnings_json() {
    let p = Project::fixture();
    with_warnings(&p);
    snap!(
        p,
        "validate_warnings_json",
        &["validate", "--output", "json"]
    );
}

#[test]
fn validate_errors_in_files_exit_1() {
    let p = Project::fixture();
    p.write(
        "policies/broken.yaml",
        "rules:\n  - name: oops\n    decision: alow\n    priorty: 10\n",
    );
    p.write(
        "inventory.yaml",
        "targets:\n  - id: x\n    type: k8s-node\n    environment: prod\n    sensitivity: secret\n",
    );
    snap!(p, "validate_errors", &["validate"]);
}

#[test]
fn validate_malformed_yaml() {
    let p = Project::fixture();
    p.write("policies/broken.yaml", "rules:\n  - name: [unclosed\n");
    snap!(p, "validate_malformed_yaml", &["validate"]);
}

#[test]
fn validate_unparsable_config_exits_2() {
    let p = Project::fixture();
    p.write(
        "agent-safe.yaml",
        "policies: policies\naudit:\n  path: audit/audit.jsonl\n  durability: fast\nidentiy: {}\n",
    );
    snap!(p, "validate_bad_config", &["validate"]);
}

#[test]
fn validate_without_config() {
    let p = Project::empty();
    let (code, out, err) = p.run(&["validate"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("note: no agent-safe.yaml found"), "{out}");
}

#[test]
fn validate_policy_file() {
    let p = Project::fixture();
    p.write(
        "policies/extra.yaml",
        "rules:\n  - name: typo-in-action\n    match:\n      actions: [restart-deploymnet]\n    decision: deny\n",
    );
    snap!(
        p,
        "validate_policy_typo",
        &["validate-policy", "policies/extra.yaml"]
    );
    snap!(
        p,
        "validate_policy_ok",
        &["validate-policy", "policies/rules.yaml"]
    );
}

#[test]
fn validate_policy_errors() {
    let p = Project::fixture();
    p.write("new.yaml", "rules:\n  - name: bad-zone\n    match:\n      time_windows: [{start: \"09:00\", end: \"17:00\", timezone: Mars/Olympus}]\n    decision: allow\n  - name: bad-zone\n    decision: deny\n");
    snap!(
        p,
        "validate_policy_errors",
        &["validate-policy", "new.yaml"]
    );
}

#[test]
fn validate_policy_missing_file() {
    let p = Project::fixture();
    snap!(
        p,
        "validate_policy_missing",
        &["validate-policy", "nope.yaml"]
    );
}

#[test]
fn list_actions_filtered() {
    let p = Project::fixture();
    snap!(p, "list_actions_tag", &["list-actions", "--tag", "apps"]);
    let (code, out, _) = p.run(&["list-actions", "--output", "json"]);
    assert_eq!(code, 0);
    let all: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert!(all.iter().any(|a| a["name"] == "restart-app"));
    assert!(all.iter().any(|a| a["name"] == "restart-deployment"));
    let (code, out, _) = p.run(&["list-actions", "--risk", "critical"]);
    assert_eq!(code, 0);
    assert!(
        out.lines().skip(1).all(|l| l.contains(" critical ")),
        "{out}"
    );
}

#[test]
fn list_actions_bad_risk() {
    let p = Project::fixture();
    snap!(
        p,
        "list_actions_bad_risk",
        &["list-actions", "--risk", "extreme"]
    );
}

#[test]
fn show_action_text_json_yaml() {
    let p = Project::fixture();
    snap!(p, "show_action_text", &["show-action", "restart-app"]);
    snap!(
        p,
        "show_action_json",
        &["show-action", "restart-app@1.0.0", "--output", "json"]
    );
    let (code, out, _) = p.run(&["show-action", "restart-app", "--output", "yaml"]);
    assert_eq!(code, 0);
    assert_eq!(out, p.read("actions/restart-app.yaml"));
    // A built-in action's YAML is its catalogue file, ready to copy into actions/.
    let (code, out, _) = p.run(&["show-action", "restart-deployment", "-o", "yaml"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("name: restart-deployment\n"), "{out}");
}

#[test]
fn show_action_unknown() {
    let p = Project::fixture();
    snap!(p, "show_action_unknown", &["show-action", "restart-ap"]);
    snap!(
        p,
        "show_action_unknown_version",
        &["show-action", "restart-app@2.0.0"]
    );
}

#[test]
fn registry_lock_then_tamper() {
    let p = Project::fixture();
    snap!(p, "registry_lock", &["registry", "lock"]);
    assert!(p.read("registry.lock").contains("actions/restart-app.yaml"));
    // A changed action file is refused from now on.
    let changed = p
        .read("actions/restart-app.yaml")
        .replace("risk_class: low", "risk_class: medium");
    p.write("actions/restart-app.yaml", &changed);
    snap!(
        p,
        "registry_lock_refuses_changed_file",
        &["check", "restart-app"]
    );
}

#[test]
fn rbac_for_an_agent() {
    let p = Project::fixture();
    snap!(
        p,
        "rbac_yaml",
        &[
            "rbac",
            "--caller",
            "deploy-agent",
            "--roles",
            "deployer",
            "--namespace",
            "prod"
        ]
    );
    snap!(
        p,
        "rbac_unattended_json",
        &[
            "rbac",
            "--caller",
            "deploy-agent",
            "--roles",
            "deployer",
            "--unattended",
            "--output",
            "json"
        ]
    );
    snap!(
        p,
        "rbac_without_config",
        &["--config", "missing.yaml", "rbac", "--caller", "x"]
    );
}
