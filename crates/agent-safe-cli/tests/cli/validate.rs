//! `validate`, `validate-policy`, `list-actions`, `show-action`, `registry lock`.

use std::process::Command;

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

/// The source snippet under a diagnostic is styled only when colour is on;
/// with the styles stripped it is the plain text a pipe gets. A problem with
/// the file as a whole has no snippet.
#[test]
fn diagnostic_snippets_follow_the_colour_choice() {
    let p = Project::fixture();
    p.write(
        "policies/broken.yaml",
        "rules:\n  - name: oops\n    decision: alow\n",
    );
    let (code, plain, _) = p.run(&["validate"]);
    assert_eq!(code, 1);
    assert!(
        plain.contains("policies/broken.yaml:3:15: error: invalid `decision` value `alow`")
            && plain.contains(" 3 |     decision: alow\n   :               ^^^^\n"),
        "{plain}"
    );
    assert!(!plain.contains('\u{1b}'), "{plain}");

    let (_, coloured, _) = p.run(&["--color", "always", "validate"]);
    assert!(coloured.contains('\u{1b}'), "{coloured}");
    let stripped = regex::Regex::new("\u{1b}\\[[0-9;]*m")
        .unwrap()
        .replace_all(&coloured, "");
    assert_eq!(stripped, plain);

    // `NO_COLOR` wins over `CLICOLOR_FORCE` (which alone colours a pipe).
    let out = p
        .cmd(&["validate"])
        .env("CLICOLOR_FORCE", "1")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), plain);

    std::fs::remove_file(p.dir.join("policies/broken.yaml")).unwrap();
    std::os::unix::fs::symlink("nowhere.yaml", p.dir.join("policies/broken.yaml")).unwrap();
    let (_, whole_file, _) = p.run(&["validate"]);
    assert!(
        whole_file.contains("policies/broken.yaml: error: dangling symlink")
            && !whole_file.contains(" | "),
        "{whole_file}"
    );
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

/// Issue 13, item 2: every entry of a policy directory is loaded or
/// reported. A misnamed file is a warning; a FIFO and a dangling symlink are
/// errors for `validate` and for `check` (exit 2, at once, never a hang).
#[test]
fn policy_directory_entries_are_loaded_or_reported() {
    let p = Project::fixture();
    p.write("policies/deny-prod.json", "{\"rules\": []}\n");
    let (code, out, _) = p.run(&["validate"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(
            "deny-prod.json: warning: not loaded: only files named `*.yaml` or `*.yml` are read"
        ),
        "{out}"
    );
    let (code, out, _) = p.run(&["validate", "--output", "json"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("\"kind\": \"unloaded_file\""), "{out}");
    let (code, _, _) = p.run(&["validate", "--strict"]);
    assert_eq!(code, 1);
    std::fs::remove_file(p.dir.join("policies/deny-prod.json")).unwrap();

    std::os::unix::fs::symlink(
        p.dir.join("policies/moved-away.yaml"),
        p.dir.join("policies/zz-link.yaml"),
    )
    .unwrap();
    let (code, out, _) = p.run(&["validate"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("zz-link.yaml: error: dangling symlink"),
        "{out}"
    );
    std::fs::remove_file(p.dir.join("policies/zz-link.yaml")).unwrap();

    let fifo = p.dir.join("policies/zz-pipe.yaml");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let (code, out, _) = p.run(&["validate"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("zz-pipe.yaml: error: a FIFO (named pipe)"),
        "{out}"
    );
    let (code, out, err) = p.run(&[
        "check",
        "restart-deployment",
        "--target",
        "staging/web",
        "--caller",
        "ops-agent",
    ]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("zz-pipe.yaml"), "{err}");
}

/// Issue 21: the override recipe works. `show-action --output yaml --out`
/// writes the file atomically; the project then validates with the override
/// in place; a second write refuses without --force.
#[test]
fn show_action_out_writes_an_override_that_loads() {
    let p = Project::fixture();
    std::fs::create_dir_all(p.dir.join("actions")).unwrap();
    let (code, out, err) = p.run(&[
        "show-action",
        "restart-deployment",
        "--output",
        "yaml",
        "--out",
        "actions/restart-deployment.yaml",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with("wrote actions/restart-deployment.yaml"),
        "{out}"
    );
    assert!(
        p.read("actions/restart-deployment.yaml")
            .contains("name: restart-deployment")
    );
    let (code, out, _) = p.run(&["show-action", "restart-deployment"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("actions/restart-deployment.yaml"), "{out}");
    let (code, _, err) = p.run(&[
        "show-action",
        "restart-deployment",
        "--output",
        "yaml",
        "--out",
        "actions/restart-deployment.yaml",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("already exists"), "{err}");
    let (code, _, err) = p.run(&[
        "show-action",
        "restart-deployment",
        "--out",
        "actions/restart-deployment.yaml",
        "--force",
    ]);
    assert_eq!(code, 0, "{err}");
    // The text view in a file is plain text, without terminal colours.
    assert!(!p.read("actions/restart-deployment.yaml").contains('\u{1b}'));
}

#[test]
fn validate_json_errors_use_the_core_diagnostic_form() {
    let p = Project::fixture();
    // One error with a position, one about a whole file (no line, no column).
    p.write(
        "policies/broken.yaml",
        "rules:\n  - name: oops\n    decision: alow\n",
    );
    p.write("inventory.yaml", "\u{0}");
    let (code, out, err) = p.run(&["validate", "--output", "json"]);
    assert_eq!(code, 1, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let errors = v["errors"].as_array().unwrap();
    assert!(!errors.is_empty(), "{v:#}");
    for e in errors {
        let keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["column", "file", "help", "line", "message", "severity"],
            "{e}"
        );
        assert_eq!(e["severity"], "error");
        // Never 0: a position is 1-based, or null when unknown.
        assert_ne!(e["line"], 0, "{e}");
        assert_ne!(e["column"], 0, "{e}");
    }
    assert!(
        errors
            .iter()
            .any(|e| e["line"] == 3 && e["column"].is_u64()),
        "{v:#}"
    );
}

/// A target without the coordinates its actions bind: `validate` names the
/// target and the actions, and a check of such an action on it is denied
/// (before, the params could address any object, `kube-system` included).
#[test]
fn validate_warns_about_an_unbound_target_and_check_denies() {
    let p = Project::fixture();
    let inventory = p.read("inventory.yaml");
    p.write(
        "inventory.yaml",
        &format!(
            "{inventory}  - id: staging/bare\n    type: k8s-deployment\n    environment: staging\n    sensitivity: internal\n"
        ),
    );
    snap!(p, "validate_unbound_target", &["validate"]);
    let (code, out, _) = p.run(&["validate", "--output", "json"]);
    assert_eq!(code, 0, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let warning = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["kind"] == "unbound_target")
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(warning["target"], "staging/bare");
    assert!(
        warning["action"]
            .as_str()
            .unwrap()
            .contains("restart-deployment@1.0.0"),
        "{warning}"
    );
    let (code, out, _) = p.run(&[
        "check",
        "restart-deployment",
        "--target",
        "staging/bare",
        "--caller",
        "some-agent",
        "--params",
        r#"{"namespace":"kube-system","deployment":"coredns"}"#,
    ]);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("target `staging/bare` has no namespace in the inventory"),
        "{out}"
    );
}

/// `validate` loads the shadow candidate too: its errors name its files and
/// fail the validation; a good candidate is noted; a candidate configuration
/// with a shadow of its own is refused at that key.
#[test]
fn validate_checks_the_shadow_candidate() {
    let p = Project::fixture();
    let config = p.read("agent-safe.yaml");
    p.write(
        "agent-safe.yaml",
        &format!("{config}shadow:\n  policies: policies.next\n"),
    );
    p.write("policies.next/rules.yaml", &p.read("policies/rules.yaml"));
    let (code, out, err) = p.run(&["validate"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("note: shadow candidate loads:"), "{out}");

    p.write(
        "policies.next/rules.yaml",
        "rules:\n  - {name: broken, decision: nope}\n",
    );
    let (code, out, _) = p.run(&["validate"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("policies.next/rules.yaml:2:"), "{out}");
    assert!(out.contains("`nope`"), "{out}");
    // A failing candidate never stops a check: it is decided by the
    // enforced policy.
    let (code, _, err) = p.run(&["check", "rollout-status", "--target", "staging/api"]);
    assert!(matches!(code, 0 | 3 | 4), "exit {code}: {err}");
    assert!(!err.contains("policies.next"), "{err}");

    p.write(
        "agent-safe.yaml",
        &format!("{config}shadow:\n  config: next.yaml\n"),
    );
    p.write(
        "next.yaml",
        "policies: policies\nshadow:\n  policies: policies\n",
    );
    let (code, out, _) = p.run(&["validate"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("next.yaml:3:3") && out.contains("cannot have a `shadow` section"),
        "{out}"
    );
}
