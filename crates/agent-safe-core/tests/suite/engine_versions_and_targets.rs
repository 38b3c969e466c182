//! Least privilege, no escape hatches (issue 21): old action versions,
//! version selection in rules, unknown targets, and typos that must not load.
//! Every project here is written to a temporary directory and loaded the way
//! the CLI, the sidecar and the SDK load it (`load_config` + `Snapshot::load`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use agent_safe_core::config::load_config;
use agent_safe_core::diag::ConfigError;
use agent_safe_core::engine::{FindingKind, Snapshot, analyze};
use agent_safe_core::model::{DecisionResult, RiskClass};
use common::{ask, caller};
use serde_json::json;

/// `restart-deployment` 1.1.0: the built-in 1.0.0 (medium) made high risk.
const RESTART_1_1: &str = r#"
name: restart-deployment
version: "1.1.0"
description: Rolling restart of a Deployment, now high risk.
parameters:
  - {name: namespace, type: string}
  - {name: deployment, type: string}
risk_class: high
target_types: [k8s-deployment]
target_params: {namespace: namespace, name: deployment}
required_privileges: [apps/deployments:get, apps/deployments:patch]
"#;

const INVENTORY: &str = "targets:
  - {id: staging/api, type: k8s-deployment, environment: staging, sensitivity: internal, namespace: staging, name: api}
  - {id: prod/api, type: k8s-deployment, environment: prod, sensitivity: restricted, namespace: prod, name: api}
  - {id: ns/prod, type: k8s-namespace, environment: prod, sensitivity: restricted, name: prod}
";

/// Writes a project (config body, one policy file, project actions) and loads it.
fn load(config: &str, policy: &str, actions: &[(&str, &str)]) -> Result<Snapshot, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("actions")).unwrap();
    std::fs::create_dir_all(root.join("policies")).unwrap();
    for (name, text) in actions {
        std::fs::write(root.join("actions").join(name), text).unwrap();
    }
    std::fs::write(root.join("policies/p.yaml"), policy).unwrap();
    std::fs::write(root.join("inventory.yaml"), INVENTORY).unwrap();
    std::fs::write(
        root.join("agent-safe.yaml"),
        format!("actions: actions\npolicies: policies\ninventory: inventory.yaml\n{config}"),
    )
    .unwrap();
    let cfg = load_config(&root.join("agent-safe.yaml"))?;
    Snapshot::load(&cfg)
}

fn must_load(config: &str, policy: &str, actions: &[(&str, &str)]) -> Snapshot {
    load(config, policy, actions).unwrap_or_else(|e| panic!("{e}"))
}

fn load_error(config: &str, policy: &str, actions: &[(&str, &str)]) -> String {
    match load(config, policy, actions) {
        Ok(_) => panic!("expected a load error"),
        Err(e) => e.to_string(),
    }
}

fn restart_ask(action: &str, target: &str) -> common::Ask {
    let (ns, name) = target.split_once('/').unwrap();
    ask(
        action,
        Some(target),
        json!({"namespace": ns, "deployment": name}),
    )
    .by(caller("deploy-agent", &["deployer"], &[]))
}

const ALLOW_UP_TO_MEDIUM: &str = "rules:
  - name: restarts-up-to-medium
    match: {actions: [restart-deployment], callers: {agent_ids: ['**']}, risk_classes: [low, medium]}
    decision: allow
  - name: high-needs-approval
    match: {callers: {agent_ids: ['**']}, risk_classes: [high]}
    decision: require_approval
";

#[test]
fn an_old_version_cannot_escape_a_stricter_new_one() {
    let snap = must_load("", ALLOW_UP_TO_MEDIUM, &[("restart.yaml", RESTART_1_1)]);
    let newest = restart_ask("restart-deployment", "staging/api").run(&snap);
    assert_eq!(newest.result, DecisionResult::RequireApproval, "{newest:?}");
    assert_eq!(newest.action_version.as_deref(), Some("1.1.0"));
    let explicit = restart_ask("restart-deployment@1.1.0", "staging/api").run(&snap);
    assert_eq!(explicit.result, DecisionResult::RequireApproval);

    // Before: ALLOW, with the built-in 1.0.0's medium risk.
    let old = restart_ask("restart-deployment@1.0.0", "staging/api").run(&snap);
    assert_eq!(old.result, DecisionResult::Deny, "{old:?}");
    assert_eq!(old.policy_matched, None);
    assert_eq!(old.action_version.as_deref(), Some("1.0.0"));
    for part in [
        "`restart-deployment@1.0.0` is not callable",
        "newest version (1.1.0)",
        "callable_old_versions: [restart-deployment@1.0.0]",
    ] {
        assert!(old.reason.contains(part), "{part:?} not in {}", old.reason);
    }
}

#[test]
fn callable_old_versions_keeps_an_old_version_callable() {
    for entry in ["restart-deployment@1.0.0", "restart-deployment@*"] {
        let snap = must_load(
            &format!("callable_old_versions: [\"{entry}\"]\n"),
            ALLOW_UP_TO_MEDIUM,
            &[("restart.yaml", RESTART_1_1)],
        );
        let old = restart_ask("restart-deployment@1.0.0", "staging/api").run(&snap);
        assert_eq!(old.result, DecisionResult::Allow, "{entry}: {old:?}");
        assert_eq!(old.risk_class, RiskClass::Medium);
        let newest = restart_ask("restart-deployment", "staging/api").run(&snap);
        assert_eq!(newest.result, DecisionResult::RequireApproval, "{entry}");
    }
}

#[test]
fn rules_select_action_versions() {
    // Every old version is callable here, so each pattern can be seen
    // selecting (or not) each version.
    #[rustfmt::skip]
    let cases: &[(&str, &str, bool)] = &[
        // (actions entry, requested action, rule matches)
        ("restart-deployment", "restart-deployment", true),
        ("restart-deployment", "restart-deployment@1.0.0", true),
        ("restart-deployment@1.0.0", "restart-deployment@1.0.0", true),
        ("restart-deployment@1.0.0", "restart-deployment", false),
        ("restart-deployment@1.1.0", "restart-deployment", true),
        ("restart-deployment@1.1.0", "restart-deployment@1.0.0", false),
        ("restart-deployment@*", "restart-deployment@1.0.0", true),
        ("restart-deployment@*", "restart-deployment", true),
        ("restart-deployment@1.*", "restart-deployment@1.0.0", true),
        ("restart-*", "restart-deployment@1.0.0", true),
        ("restart-*", "restart-deployment", true),
    ];
    let mut failures = Vec::new();
    for (entry, requested, want) in cases {
        let policy = format!(
            "rules:\n  - name: probe\n    match: {{actions: [\"{entry}\"], callers: {{agent_ids: ['**']}}}}\n    decision: allow\n"
        );
        let snap = must_load(
            "callable_old_versions: [\"restart-deployment@*\"]\n",
            &policy,
            &[("restart.yaml", RESTART_1_1)],
        );
        let d = restart_ask(requested, "staging/api").run(&snap);
        let got = d.result == DecisionResult::Allow;
        if got != *want {
            failures.push(format!("{entry} vs {requested}: want {want}, got {d:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn stale_or_malformed_callable_old_versions_do_not_load() {
    let e = load_error(
        "callable_old_versions: [restart-deployment@0.9.0]\n",
        ALLOW_UP_TO_MEDIUM,
        &[("restart.yaml", RESTART_1_1)],
    );
    assert!(e.contains("agent-safe.yaml:4:25"), "{e}");
    assert!(
        e.contains("has no version `0.9.0` (available: 1.0.0, 1.1.0)"),
        "{e}"
    );
    let e = load_error(
        "callable_old_versions: [restart-deploymnt@*]\n",
        ALLOW_UP_TO_MEDIUM,
        &[],
    );
    assert!(e.contains("did you mean `restart-deployment`?"), "{e}");
    let e = load_error(
        "callable_old_versions: [restart-deployment]\n",
        ALLOW_UP_TO_MEDIUM,
        &[],
    );
    assert!(e.contains("missing `@version`"), "{e}");
    let e = load_error(
        "callable_old_versions: [\"restart-deployment@one\"]\n",
        ALLOW_UP_TO_MEDIUM,
        &[],
    );
    assert!(e.contains("not a semantic version"), "{e}");
}

#[test]
fn a_misspelt_action_in_a_rule_does_not_load() {
    let e = load_error(
        "",
        "rules:\n  - {name: a, match: {actions: [restart-deploymnt]}, decision: allow}\n",
        &[],
    );
    assert!(e.contains("p.yaml:2:5"), "{e}");
    assert!(
        e.contains("rule `a`: `actions` entry `restart-deploymnt` matches no known action"),
        "{e}"
    );
    assert!(e.contains("did you mean `restart-deployment`?"), "{e}");
    // A version that does not exist names the ones that do.
    let e = load_error(
        "",
        "rules:\n  - {name: a, match: {actions: [restart-deployment@2.0.0]}, decision: allow}\n",
        &[],
    );
    assert!(e.contains("has the versions 1.0.0"), "{e}");
    // A glob that matches nothing is as wrong as a literal.
    let e = load_error(
        "",
        "rules:\n  - {name: a, match: {actions: [restart-deploymnt*]}, decision: allow}\n",
        &[],
    );
    assert!(e.contains("matches no known action"), "{e}");
}

const CRD_ACTION: &str = r#"
name: restart-widget
version: "1.0.0"
description: Restarts a widget.
parameters:
  - {name: namespace, type: string}
  - {name: widget, type: string}
risk_class: medium
target_types: [k8s-deployment]
target_params: {namespace: namespace, name: widget}
required_privileges: [example.com/widgets:get, example.com/widgets:patch]
"#;

#[test]
fn unknown_privileges_do_not_load_unless_declared_custom() {
    let bad = RESTART_1_1.replace("apps/deployments:patch", "apps/statefulsets:restart");
    let e = load_error("", ALLOW_UP_TO_MEDIUM, &[("restart.yaml", &bad)]);
    assert!(e.contains("restart.yaml:2:1"), "{e}");
    assert!(
        e.contains("`required_privileges` entry `apps/statefulsets:restart` is not Kubernetes RBAC: invalid privilege `apps/statefulsets:restart`: unknown verb `restart`"),
        "{e}"
    );
    let typo = RESTART_1_1.replace("apps/deployments:patch", "apps/deploymnets:patch");
    let e = load_error("", ALLOW_UP_TO_MEDIUM, &[("restart.yaml", &typo)]);
    assert!(e.contains("did you mean `deployments`?"), "{e}");

    // A custom resource is an error until the project lists it.
    let e = load_error("", ALLOW_UP_TO_MEDIUM, &[("widget.yaml", CRD_ACTION)]);
    assert!(e.contains("unknown API group `example.com`"), "{e}");
    assert!(e.contains("custom_resources"), "{e}");
    must_load(
        "custom_resources: [example.com/widgets]\n",
        ALLOW_UP_TO_MEDIUM,
        &[("widget.yaml", CRD_ACTION)],
    );
    // Only custom groups can be listed: a built-in group stays checked.
    let e = load_error(
        "custom_resources: [apps/deploymnets]\n",
        ALLOW_UP_TO_MEDIUM,
        &[],
    );
    assert!(e.contains("`apps` is a built-in API group"), "{e}");
}

const LOGS_WITHOUT_TARGETS: &str = "rules:
  - name: reader-logs
    match: {actions: [get-pod-logs], callers: {agent_ids: [reader]}, risk_classes: [low, medium, high]}
    decision: allow
";

fn logs_on_etcd() -> common::Ask {
    ask(
        "get-pod-logs",
        Some("kube-system/etcd-master"),
        json!({"namespace": "kube-system", "pod": "etcd-master"}),
    )
    .by(caller("reader", &[], &[]))
}

#[test]
fn unknown_targets_are_denied_by_default() {
    let snap = must_load("", LOGS_WITHOUT_TARGETS, &[]);
    // Before: ALLOW by `reader-logs` (no `targets` selector).
    let d = logs_on_etcd().run(&snap);
    assert_eq!(d.result, DecisionResult::Deny, "{d:?}");
    assert_eq!(d.policy_matched, None);
    assert_eq!(d.effective_risk, RiskClass::High);
    assert_eq!(d.target.as_deref(), Some("kube-system/etcd-master"));
    assert!(
        d.reason
            .contains("target `kube-system/etcd-master` is not in the inventory")
            && d.reason.contains("`unknown_targets: deny`"),
        "{}",
        d.reason
    );
    // Resolved from params: no inventory target matches.
    let mut by_params = logs_on_etcd();
    by_params.target = None;
    let d = by_params.run(&snap);
    assert_eq!(d.result, DecisionResult::Deny);
    assert!(
        d.reason.contains("no inventory target matches the params"),
        "{}",
        d.reason
    );
    // No warning: nothing reaches unknown targets.
    assert!(analyze(&snap).is_empty(), "{:?}", analyze(&snap));
}

#[test]
fn evaluate_as_critical_is_explicit_and_validate_warns() {
    let snap = must_load(
        "unknown_targets: evaluate_as_critical\n",
        LOGS_WITHOUT_TARGETS,
        &[],
    );
    let d = logs_on_etcd().run(&snap);
    assert_eq!(d.result, DecisionResult::Allow, "{d:?}");
    assert_eq!(d.effective_risk, RiskClass::High);
    let findings = analyze(&snap);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].kind, FindingKind::UnknownTargets);
    assert_eq!(findings[0].rule, "reader-logs");
    assert!(
        findings[0]
            .message
            .contains("allows `get-pod-logs` on targets outside the inventory"),
        "{}",
        findings[0].message
    );
    // Keeping the rule to inventory targets silences it, and so does a risk
    // selector that the effective risk on an unknown target never meets.
    for policy in [
        "rules:\n  - {name: r, match: {actions: [get-pod-logs], targets: {ids: ['**']}}, decision: allow}\n",
        "rules:\n  - {name: r, match: {actions: [get-pod-logs], risk_classes: [low, medium]}, decision: allow}\n",
        "rules:\n  - {name: r, match: {actions: [get-pod-logs]}, decision: require_approval}\n",
    ] {
        let snap = must_load("unknown_targets: evaluate_as_critical\n", policy, &[]);
        assert!(analyze(&snap).is_empty(), "{policy}: {:?}", analyze(&snap));
    }
    let e = load_error("unknown_targets: allow\n", LOGS_WITHOUT_TARGETS, &[]);
    assert!(
        e.contains("invalid `unknown_targets` value `allow`: expected one of `deny`, `evaluate_as_critical`"),
        "{e}"
    );
}

#[test]
fn rbac_counts_only_callable_versions() {
    use agent_safe_core::rbac::{RbacRequest, plan};
    let req = RbacRequest {
        caller: caller("deploy-agent", &["deployer"], &[]),
        namespace: None,
        cluster: None,
        service_account: None,
        service_account_namespace: None,
        include_approval: false,
    };
    // 1.1.0 is high on an internal target: approval only, so unattended the
    // agent gets nothing, and the uncallable 1.0.0 (medium: allowed) does
    // not count.
    let snap = must_load("", ALLOW_UP_TO_MEDIUM, &[("restart.yaml", RESTART_1_1)]);
    assert!(plan(&snap, &req).actions.is_empty());
    // Kept callable, 1.0.0 is reachable and named with its version.
    let snap = must_load(
        "callable_old_versions: [restart-deployment@1.0.0]\n",
        ALLOW_UP_TO_MEDIUM,
        &[("restart.yaml", RESTART_1_1)],
    );
    let p = plan(&snap, &req);
    assert_eq!(p.actions, ["restart-deployment@1.0.0"]);
    assert_eq!(p.namespaces["staging"], ["restart-deployment@1.0.0"]);
}
