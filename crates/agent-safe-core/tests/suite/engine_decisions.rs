//! Which rule wins, fail-closed paths, target binding and the seed's three
//! example policies.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use agent_safe_core::identity::{IdentityConfig, MintRequest, SigningKey, mint_token};
use agent_safe_core::model::{DecisionResult as D, RiskClass};
use common::*;
use serde_json::json;

#[test]
fn tie_breaks() {
    let staging = restart("staging/api", "staging", "api");
    #[rustfmt::skip]
    let cases: Vec<(&str, &str, D, Option<&str>)> = vec![
        ("higher priority wins over specificity",
         "rules:
  - {name: general, priority: 10, decision: deny}
  - {name: specific, priority: 5, match: {actions: [restart-deployment], targets: {environments: [staging]}}, decision: allow}",
         D::Deny, Some("general")),
        ("equal priority: more specific wins",
         "rules:
  - {name: general, decision: deny}
  - {name: specific, match: {actions: [restart-deployment]}, decision: allow}",
         D::Allow, Some("specific")),
        ("equal priority and specificity: deny beats approval beats allow",
         "rules:
  - {name: a, match: {actions: [restart-*]}, decision: allow}
  - {name: b, match: {targets: {environments: [staging]}}, decision: require_approval}
  - {name: c, match: {risk_classes: [medium]}, decision: deny}",
         D::Deny, Some("c")),
        ("approval beats allow at equal rank",
         "rules:
  - {name: a, match: {actions: [restart-*]}, decision: allow}
  - {name: b, match: {targets: {environments: [staging]}}, decision: require_approval}",
         D::RequireApproval, Some("b")),
        ("specificity counts every match field",
         "rules:
  - {name: two, match: {targets: {environments: [staging], types: [k8s-deployment]}}, decision: allow}
  - {name: one, match: {actions: [restart-deployment]}, decision: deny}",
         D::Allow, Some("two")),
        ("negative priority ranks below default 0",
         "rules:
  - {name: low, priority: -1, match: {actions: [restart-deployment], targets: {ids: [staging/api]}}, decision: deny}
  - {name: normal, decision: allow}",
         D::Allow, Some("normal")),
        ("a rule that does not match is skipped",
         "rules:
  - {name: prod-only, priority: 100, match: {targets: {environments: [prod]}}, decision: deny}
  - {name: fallback, decision: require_approval}",
         D::RequireApproval, Some("fallback")),
        ("no match: default deny",
         "rules:
  - {name: prod-only, match: {targets: {environments: [prod]}}, decision: allow}",
         D::Deny, None),
        ("no rules at all: default deny", "rules: []", D::Deny, None),
    ];
    for (what, policy, want, rule) in cases {
        let d = staging.run(&snapshot(policy));
        assert_eq!(d.result, want, "{what}: {d:?}");
        assert_eq!(d.policy_matched.as_deref(), rule, "{what}");
        if rule.is_none() {
            assert!(
                d.reason.contains("no matching policy (default deny)"),
                "{what}: {}",
                d.reason
            );
        }
    }
}

#[test]
fn reason_comes_from_the_rule() {
    let snap = snapshot(
        "rules:\n  - {name: r, decision: allow, reason: Staging is fair game}\n  - {name: s, priority: -1, decision: allow}\n",
    );
    let d = restart("staging/api", "staging", "api").run(&snap);
    assert_eq!(d.reason, "Staging is fair game");
    let snap = snapshot("rules:\n  - {name: r, decision: allow}\n");
    let d = restart("staging/api", "staging", "api").run(&snap);
    assert_eq!(d.reason, "rule `r` matched");
}

#[test]
fn trace_lists_every_candidate_and_why() {
    let snap = snapshot(
        "rules:
  - {name: prod, priority: 50, match: {targets: {environments: [prod]}}, decision: deny}
  - {name: staging, priority: 10, match: {targets: {environments: [staging]}}, decision: allow}
  - {name: catch-all, decision: deny}
  - {name: other-action, match: {actions: [drain-node]}, decision: allow}
",
    );
    let d = restart("staging/api", "staging", "api")
        .explain()
        .run(&snap);
    let trace = d.trace.unwrap();
    let names: Vec<&str> = trace.iter().map(|t| t.rule.as_str()).collect();
    assert_eq!(
        names,
        ["prod", "staging", "catch-all"],
        "rules for other actions are not candidates"
    );
    assert!(!trace[0].matched);
    assert!(
        trace[0]
            .note
            .contains("targets.environments: `staging` is not in [prod]"),
        "{}",
        trace[0].note
    );
    assert!(trace[1].matched);
    assert_eq!(trace[1].note, "winner");
    assert!(trace[2].matched);
    assert!(trace[2].note.contains("outranked by `staging`"));
    // Without explain there is no trace.
    assert!(
        restart("staging/api", "staging", "api")
            .run(&snap)
            .trace
            .is_none()
    );
}

const ALLOW_ALL: &str = "rules:\n  - {name: allow-all, decision: allow}\n";

#[test]
fn fail_closed_paths() {
    let snap = snapshot(ALLOW_ALL);
    #[rustfmt::skip]
    let cases: Vec<(&str, Ask, &str)> = vec![
        ("unknown action", ask("restart-deploymnt", Some("staging/api"), json!({})), "unknown action `restart-deploymnt` (did you mean `restart-deployment`?)"),
        ("unknown version", ask("restart-deployment@9.0.0", Some("staging/api"), json!({"namespace": "staging", "deployment": "api"})), "has no version `9.0.0` (available: 1.0.0)"),
        ("missing params listed", ask("restart-deployment", Some("staging/api"), json!({})), "missing required parameter `namespace` (string); missing required parameter `deployment` (string)"),
        ("null params validated", ask("restart-deployment", Some("staging/api"), serde_json::Value::Null), "missing required parameter `namespace`"),
        ("params not an object", ask("restart-deployment", Some("staging/api"), json!([1, 2])), "params must be a JSON object, got array"),
        ("unknown param with hint", ask("restart-deployment", Some("staging/api"), json!({"namespace": "staging", "deployment": "api", "namespce": "x"})), "unknown parameter `namespce` (did you mean `namespace`?)"),
        ("wrong type", ask("scale-deployment", Some("staging/api"), json!({"namespace": "staging", "deployment": "api", "replicas": "3"})), "`replicas` must be of type integer, got string"),
        ("float for integer", ask("scale-deployment", Some("staging/api"), json!({"namespace": "staging", "deployment": "api", "replicas": 2.5})), "`replicas` must be of type integer, got number"),
        ("constraint max", ask("scale-deployment", Some("staging/api"), json!({"namespace": "staging", "deployment": "api", "replicas": 1000})), "`replicas` must be at most 100, got 1000"),
        ("constraint pattern", ask("restart-deployment", Some("staging/api"), json!({"namespace": "Staging!", "deployment": "api"})), "does not match the pattern"),
        ("integer beyond 2^53", ask("scale-deployment", Some("staging/api"), json!({"namespace": "staging", "deployment": "api", "replicas": 9007199254740993_u64})), "beyond ±(2^53-1)"),
        ("target type not allowed", ask("restart-deployment", Some("prod/node-1"), json!({"namespace": "prod", "deployment": "prod-node-1"})), "target `prod/node-1` is a `k8s-node`, but `restart-deployment` applies to: k8s-deployment"),
        ("params address another namespace", restart("dev/test-app", "kube-system", "test-app"), "params address namespace `kube-system` but target `dev/test-app` has namespace `dev`"),
        ("params address another name", restart("dev/test-app", "dev", "other"), "params address name `other` but target `dev/test-app` has name `test-app`"),
        ("ambiguous resolution", ask("restart-deployment", None, json!({"namespace": "shared", "deployment": "twin"})), "the params match several inventory targets"),
        ("bad token", restart("staging/api", "staging", "api").raw("eyJhbGciOiJIUzI1NiJ9.e30.x"), "caller rejected"),
    ];
    for (what, a, want) in cases {
        let d = a.run(&snap);
        assert_eq!(d.result, D::Deny, "{what}: {d:?}");
        assert!(d.policy_matched.is_none(), "{what}");
        assert!(d.reason.contains(want), "{what}: reason was: {}", d.reason);
    }
    // Unknown action is critical risk.
    let d = ask("nope", None, json!({})).run(&snap);
    assert_eq!(
        (d.risk_class, d.effective_risk),
        (RiskClass::Critical, RiskClass::Critical)
    );
}

#[test]
fn unknown_target_needs_a_rule_without_target_selector() {
    let snap = snapshot(
        "rules:\n  - {name: staging, match: {targets: {environments: [staging]}}, decision: allow}\n",
    );
    let d = restart("staging/ghost", "staging", "ghost").run(&snap);
    assert_eq!(d.result, D::Deny);
    assert!(
        d.reason
            .contains("target `staging/ghost` is not in the inventory"),
        "{}",
        d.reason
    );
    assert_eq!(d.effective_risk, RiskClass::Critical);
    assert_eq!(d.target.as_deref(), Some("staging/ghost"));
}

#[test]
fn target_is_resolved_from_params() {
    let snap = snapshot(
        "rules:\n  - {name: staging, match: {targets: {ids: [staging/*]}}, decision: allow}\n",
    );
    let d = ask(
        "restart-deployment",
        None,
        json!({"namespace": "staging", "deployment": "api"}),
    )
    .run(&snap);
    assert_eq!(d.result, D::Allow, "{d:?}");
    assert_eq!(d.target.as_deref(), Some("staging/api"));
    // Defaults count: drain-node's target is found by node name alone.
    let snap = snapshot(
        "rules:\n  - {name: nodes, match: {targets: {types: [k8s-node]}}, decision: require_approval}\n",
    );
    let d = ask("drain-node", None, json!({"node": "prod-node-1"})).run(&snap);
    assert_eq!(d.result, D::RequireApproval);
    assert_eq!(d.target.as_deref(), Some("prod/node-1"));
    // No match in the inventory: unknown target.
    let d = ask("drain-node", None, json!({"node": "nowhere"})).run(&snap);
    assert_eq!(d.result, D::Deny);
    assert!(
        d.reason.contains("no inventory target matches the params"),
        "{}",
        d.reason
    );
}

fn key() -> IdentityConfig {
    IdentityConfig {
        keys: vec![SigningKey::new(
            Some("k1".into()),
            b"engine-decisions-test-key-0123456789".to_vec(),
        )],
        require_signed: true,
        ..IdentityConfig::default()
    }
}

#[test]
fn signed_callers() {
    let id = key();
    let snap = snapshot_with(
        "rules:\n  - {name: deployers, match: {callers: {roles: [deployer]}}, decision: allow}\n",
        id.clone(),
    );
    let now = wed_10().as_second();
    let token = mint_token(
        &id,
        &MintRequest {
            agent_id: "deploy-agent".into(),
            agent_name: None,
            roles: vec!["deployer".into()],
            groups: vec![],
            ttl_seconds: 600,
            kid: None,
        },
        now,
    )
    .unwrap();
    let base = restart("staging/api", "staging", "api");
    let d = base.clone().raw(&token).run(&snap);
    assert_eq!(d.result, D::Allow, "{d:?}");
    assert_eq!(d.caller.as_deref(), Some("deploy-agent"));
    // Expired: evaluated an hour later.
    let d = base
        .clone()
        .raw(&token)
        .at("2026-01-07T11:00:00Z")
        .run(&snap);
    assert_eq!(d.result, D::Deny);
    assert!(d.reason.contains("expired"), "{}", d.reason);
    // Unsigned refused.
    let d = base.clone().raw("deploy-agent").run(&snap);
    assert_eq!(d.result, D::Deny);
    assert!(d.reason.starts_with("caller rejected"), "{}", d.reason);
    let d = base.clone().anonymous().run(&snap);
    assert_eq!(d.result, D::Deny);
}

/// The seed's three example policies.
const SEED: &str = r#"
rules:
  - name: allow-low-risk-staging
    description: Low-risk actions are allowed on staging for any agent
    priority: 10
    match:
      targets: {environments: [staging]}
      risk_classes: [low]
    decision: allow
  - name: prod-requires-approval
    description: Everything on prod requires approval
    priority: 20
    match:
      targets: {environments: [prod]}
    decision: require_approval
  - name: deploy-agent-maintenance-restarts
    description: The deploy agent may restart deployments in prod during the maintenance window
    priority: 30
    match:
      actions: [restart-deployment]
      targets: {environments: [prod]}
      callers: {agent_ids: [deploy-agent], roles: [deployer]}
      time_windows:
        - {days: [sat], start: "02:00", end: "04:00", timezone: Europe/London}
    decision: allow
"#;

#[test]
fn seed_policies() {
    let snap = snapshot(SEED);
    let deploy = caller("deploy-agent", &["deployer"], &[]);
    let status_staging = ask(
        "rollout-status",
        Some("staging/api"),
        json!({"namespace": "staging", "deployment": "api"}),
    );
    #[rustfmt::skip]
    let cases: Vec<(&str, Ask, D, Option<&str>)> = vec![
        ("low-risk action on staging: allowed for any agent", status_staging.clone().by(caller("random-bot", &[], &[])), D::Allow, Some("allow-low-risk-staging")),
        ("... even anonymous", status_staging.clone().anonymous(), D::Allow, Some("allow-low-risk-staging")),
        ("medium-risk action on staging internal target: not low, default deny", restart("staging/api", "staging", "api"), D::Deny, None),
        ("medium action on a public staging target is low: allowed", restart("staging/web", "staging", "web"), D::Allow, Some("allow-low-risk-staging")),
        ("prod restart by another agent: approval", restart("prod/api", "prod", "api"), D::RequireApproval, Some("prod-requires-approval")),
        ("prod restart by deploy agent outside the window: approval", restart("prod/api", "prod", "api").by(deploy.clone()), D::RequireApproval, Some("prod-requires-approval")),
        ("prod restart by deploy agent inside the window (Sat 02:30 GMT): allowed", restart("prod/api", "prod", "api").by(deploy.clone()).at("2026-01-10T02:30:00Z"), D::Allow, Some("deploy-agent-maintenance-restarts")),
        ("window is London time: Sat 01:30 UTC in summer = 02:30 BST: allowed", restart("prod/api", "prod", "api").by(deploy.clone()).at("2026-07-04T01:30:00Z"), D::Allow, Some("deploy-agent-maintenance-restarts")),
        ("window end is exclusive (Sat 04:00)", restart("prod/api", "prod", "api").by(deploy.clone()).at("2026-01-10T04:00:00Z"), D::RequireApproval, Some("prod-requires-approval")),
        ("deploy agent without the role: approval", restart("prod/api", "prod", "api").by(caller("deploy-agent", &[], &[])).at("2026-01-10T02:30:00Z"), D::RequireApproval, Some("prod-requires-approval")),
        ("other actions in the window still need approval", ask("scale-deployment", Some("prod/api"), json!({"namespace": "prod", "deployment": "api", "replicas": 2})).by(deploy.clone()).at("2026-01-10T02:30:00Z"), D::RequireApproval, Some("prod-requires-approval")),
        ("prod node drain: approval", ask("drain-node", Some("prod/node-1"), json!({"node": "prod-node-1"})), D::RequireApproval, Some("prod-requires-approval")),
        ("dev is not covered: default deny", restart("dev/test-app", "dev", "test-app"), D::Deny, None),
    ];
    for (what, a, want, rule) in cases {
        let d = a.run(&snap);
        assert_eq!(
            (d.result, d.policy_matched.as_deref()),
            (want, rule),
            "{what}: {}",
            d.reason
        );
    }
}

#[test]
fn decision_json_shape() {
    let snap = snapshot(SEED);
    let d = restart("prod/api", "prod", "api").run(&snap);
    let v = serde_json::to_value(&d).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
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
            "target"
        ]
    );
    assert_eq!(v["result"], "require_approval");
    assert_eq!(v["effective_risk"], "high");
    assert_eq!(v["evaluated_at"], "2026-01-07T10:00:00.000000Z");
}
