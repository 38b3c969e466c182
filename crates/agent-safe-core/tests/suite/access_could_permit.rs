//! `access::could_permit`: whether a caller could ever be allowed (or sent
//! for approval) an action — what the MCP gateway's `list: allowed` shows.
//! Table-driven; each `false` row is cross-checked against real checks on
//! every inventory target of the action's type, which must all deny.

mod common;

use agent_safe_core::access::could_permit;
use agent_safe_core::engine::{CallerInput, Request, Snapshot};
use agent_safe_core::identity::Caller;
use agent_safe_core::model::{DecisionResult, ParamType};
use common::{caller, evaluate_unknown, snapshot, snapshot_full, wed_10};
use serde_json::json;

const ROLE_GATED: &str = r#"
rules:
  - name: deployers-scale
    match: {actions: [scale-deployment], callers: {roles: [deployer]}}
    decision: allow
  - name: anyone-reads
    match: {actions: [rollout-status]}
    decision: allow
"#;

const PROD_DENIED_STAGING_APPROVAL: &str = r#"
rules:
  - name: never-prod
    priority: 100
    match: {actions: [scale-deployment], targets: {environments: [prod]}}
    decision: deny
  - name: staging-with-a-human
    match: {actions: [scale-deployment], targets: {environments: [staging]}}
    decision: require_approval
"#;

const DENIED_FIRST: &str = r#"
rules:
  - name: never
    priority: 100
    match: {actions: [scale-deployment]}
    decision: deny
  - name: shadowed
    match: {actions: [scale-deployment]}
    decision: allow
"#;

const WINDOWED: &str = r#"
rules:
  - name: office-hours
    match:
      actions: [scale-deployment]
      time_windows: [{days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}]
    decision: allow
"#;

const LOW_RISK_ONLY: &str = r#"
rules:
  - name: low-risk
    match: {risk_classes: [low]}
    decision: allow
"#;

const NO_SUCH_ENVIRONMENT: &str = r#"
rules:
  - name: qa-only
    match: {actions: [scale-deployment], targets: {environments: [qa]}}
    decision: allow
"#;

const ANY_CALLER_ID: &str = r#"
rules:
  - name: ops-bots
    match: {actions: [drain-node], callers: {agent_ids: ["ops-*"]}}
    decision: allow
"#;

#[test]
fn could_permit_table() {
    let deployer = caller("deploy-bot", &["deployer"], &[]);
    let viewer = caller("view-bot", &["viewer"], &[]);
    let ops = caller("ops-1", &[], &[]);
    // (policy, action, caller, expected)
    let rows: &[(&str, &str, Option<&Caller>, bool)] = &[
        (ROLE_GATED, "scale-deployment", Some(&deployer), true),
        (ROLE_GATED, "scale-deployment", Some(&viewer), false),
        (ROLE_GATED, "scale-deployment", None, false),
        (ROLE_GATED, "rollout-status", Some(&viewer), true),
        (ROLE_GATED, "rollout-status", None, true),
        (ROLE_GATED, "delete-namespace", Some(&deployer), false),
        (ROLE_GATED, "no-such-action", Some(&deployer), false),
        (ROLE_GATED, "scale-deployment@1.0.0", Some(&deployer), true),
        // Denied on prod, but staging asks a human: listed.
        (
            PROD_DENIED_STAGING_APPROVAL,
            "scale-deployment",
            Some(&viewer),
            true,
        ),
        // A higher-ranked deny with no selectors shadows the allow everywhere.
        (DENIED_FIRST, "scale-deployment", Some(&deployer), false),
        // A rule with time windows counts: it could be open.
        (WINDOWED, "scale-deployment", Some(&viewer), true),
        // The effective risk counts: a medium-risk action on a public
        // target is low, but deleting a critical namespace never is.
        (LOW_RISK_ONLY, "scale-deployment", Some(&viewer), true),
        (LOW_RISK_ONLY, "delete-namespace", Some(&viewer), false),
        (LOW_RISK_ONLY, "rollout-status", Some(&viewer), true),
        // No inventory target is in `qa`, and unknown targets are denied.
        (
            NO_SUCH_ENVIRONMENT,
            "scale-deployment",
            Some(&deployer),
            false,
        ),
        (ANY_CALLER_ID, "drain-node", Some(&ops), true),
        (ANY_CALLER_ID, "drain-node", Some(&deployer), false),
    ];
    for (i, (policy, action, who, expected)) in rows.iter().enumerate() {
        let snap = snapshot(policy);
        assert_eq!(
            could_permit(&snap, action, *who),
            *expected,
            "row {i}: {action} by {:?}",
            who.map(|c| &c.agent_id)
        );
        if !expected {
            every_check_denies(&snap, action, *who, i);
        }
    }
}

/// A `false` is never wrong: real checks on every inventory target of the
/// action's type (with params that bind to it) are all denied.
fn every_check_denies(snap: &Snapshot, action: &str, who: Option<&Caller>, row: usize) {
    let Ok(def) = snap.registry.get(action) else {
        return;
    };
    for t in snap.inventory.iter() {
        if !def.target_types.contains(&t.target_type) {
            continue;
        }
        let mut params = serde_json::Map::new();
        for p in &def.parameters {
            let v = match p.param_type {
                ParamType::Integer | ParamType::Number => json!(1),
                ParamType::Boolean => json!(false),
                _ => json!("x"),
            };
            params.insert(p.name.clone(), v);
        }
        for (coord, param) in &def.target_params {
            if let Some(v) = t.coordinate(*coord) {
                params.insert(param.clone(), json!(v));
            }
        }
        let params = serde_json::Value::Object(params);
        let req = Request {
            action,
            target: Some(&t.id),
            caller: who.map_or(CallerInput::Anonymous, CallerInput::Verified),
            params: Some(&params),
            explain: false,
        };
        let d = snap.evaluate(&req, wed_10(), None);
        assert!(
            d.result == DecisionResult::Deny,
            "row {row}: could_permit said no, but {action} on {} was {:?} ({})",
            t.id,
            d.result,
            d.reason
        );
    }
}

#[test]
fn unknown_targets_count_when_the_rules_decide_on_them() {
    let policy = r#"
rules:
  - name: anything-for-deployers
    match: {callers: {roles: [deployer]}, actions: [scale-deployment]}
    decision: allow
  - name: nothing-on-inventory-targets
    priority: 100
    match: {actions: [scale-deployment], targets: {types: [k8s-deployment]}}
    decision: deny
"#;
    let deployer = caller("deploy-bot", &["deployer"], &[]);
    // Every inventory target is denied; a target the inventory does not know
    // reaches the allow only when the rules decide on unknown targets.
    assert!(!could_permit(
        &snapshot(policy),
        "scale-deployment",
        Some(&deployer)
    ));
    let snap = snapshot_full(policy, Default::default(), evaluate_unknown());
    assert!(could_permit(&snap, "scale-deployment", Some(&deployer)));
}
