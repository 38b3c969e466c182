//! Table-driven tests: every selector of a rule's `match`, one case per row.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use agent_safe_core::model::DecisionResult;
use common::*;
use serde_json::json;

/// One probe rule with the given `match:` body; `allow` when it matches.
/// Unknown targets reach the rules (`unknown_targets: evaluate_as_critical`),
/// so the table shows how selectors treat them; the default denies them
/// before any rule (`engine_versions_and_targets.rs`).
fn probe(match_yaml: &str) -> agent_safe_core::engine::Snapshot {
    snapshot_full(
        &format!("rules:\n  - name: probe\n    match: {match_yaml}\n    decision: allow\n"),
        agent_safe_core::identity::IdentityConfig::default(),
        evaluate_unknown(),
    )
}

fn matched(match_yaml: &str, a: &Ask) -> bool {
    let d = a.run(&probe(match_yaml));
    let hit = d.result == DecisionResult::Allow;
    if hit {
        assert_eq!(d.policy_matched.as_deref(), Some("probe"));
    } else {
        assert!(d.policy_matched.is_none(), "{d:?}");
    }
    hit
}

fn deployer() -> agent_safe_core::identity::Caller {
    caller("deploy-agent-7", &["deployer", "reader"], &["platform"])
}

#[test]
fn selectors() {
    let staging = restart("staging/api", "staging", "api");
    let prod = restart("prod/api", "prod", "api");
    let web = restart("staging/web", "staging", "web");
    let scale = ask(
        "scale-deployment",
        Some("staging/api"),
        json!({"namespace": "staging", "deployment": "api", "replicas": 3}),
    );
    let unknown_target = restart("staging/ghost", "staging", "ghost");
    let drain = ask(
        "drain-node",
        Some("prod/node-1"),
        json!({"node": "prod-node-1"}),
    );

    #[rustfmt::skip]
    let cases: Vec<(&str, &str, Ask, bool)> = vec![
        // (what, match body, request, expected)
        ("empty match matches everything", "{}", staging.clone(), true),
        ("action exact", "{actions: [restart-deployment]}", staging.clone(), true),
        ("action exact, other action", "{actions: [restart-deployment]}", scale.clone(), false),
        ("action glob", "{actions: [restart-*]}", staging.clone(), true),
        ("action glob misses", "{actions: [restart-*]}", scale.clone(), false),
        ("action list is OR", "{actions: [drain-node, scale-*]}", scale.clone(), true),
        ("action star", "{actions: ['*']}", drain.clone(), true),
        ("target id glob", "{targets: {ids: [staging/*]}}", staging.clone(), true),
        ("target id glob misses", "{targets: {ids: [staging/*]}}", prod.clone(), false),
        ("target id star does not cross /", "{targets: {ids: ['*']}}", staging.clone(), false),
        ("target id double star crosses /", "{targets: {ids: ['**']}}", staging.clone(), true),
        ("target id exact", "{targets: {ids: [prod/api]}}", prod.clone(), true),
        ("environment", "{targets: {environments: [staging, dev]}}", staging.clone(), true),
        ("environment misses", "{targets: {environments: [staging, dev]}}", prod.clone(), false),
        ("sensitivity", "{targets: {sensitivities: [restricted]}}", prod.clone(), true),
        ("sensitivity misses", "{targets: {sensitivities: [public]}}", staging.clone(), false),
        ("type", "{targets: {types: [k8s-node]}}", drain.clone(), true),
        ("type misses", "{targets: {types: [k8s-node]}}", staging.clone(), false),
        ("label exact", "{targets: {labels: {tier: backend}}}", staging.clone(), true),
        ("label glob", "{targets: {labels: {tier: 'back*'}}}", prod.clone(), true),
        ("label value misses", "{targets: {labels: {tier: backend}}}", web.clone(), false),
        ("label key missing", "{targets: {labels: {app: api}}}", prod.clone(), false),
        ("every label must match", "{targets: {labels: {tier: backend, app: api}}}", staging.clone(), true),
        ("every label must match (one misses)", "{targets: {labels: {tier: backend, app: web}}}", staging.clone(), false),
        ("targets fields are AND", "{targets: {environments: [staging], sensitivities: [restricted]}}", staging.clone(), false),
        ("unknown target never matches a target selector", "{targets: {ids: ['**']}}", unknown_target.clone(), false),
        ("unknown target matches a rule without target selector", "{actions: [restart-deployment]}", unknown_target.clone(), true),
        ("agent id glob", "{callers: {agent_ids: [deploy-agent-*]}}", staging.clone().by(deployer()), true),
        ("agent id glob misses", "{callers: {agent_ids: [deploy-agent-*]}}", staging.clone(), false),
        ("role overlap", "{callers: {roles: [admin, deployer]}}", staging.clone().by(deployer()), true),
        ("role misses", "{callers: {roles: [admin]}}", staging.clone().by(deployer()), false),
        ("group", "{callers: {groups: [platform]}}", staging.clone().by(deployer()), true),
        ("group misses", "{callers: {groups: [sre]}}", staging.clone().by(deployer()), false),
        ("callers fields are AND", "{callers: {roles: [deployer], groups: [sre]}}", staging.clone().by(deployer()), false),
        ("anonymous never matches a caller selector", "{callers: {agent_ids: ['**']}}", staging.clone().anonymous(), false),
        ("anonymous matches a rule without caller selector", "{actions: ['*']}", staging.clone().anonymous(), true),
        ("plain id caller matches agent_ids", "{callers: {agent_ids: [deploy-agent-7]}}", staging.clone().raw("deploy-agent-7"), true),
        ("plain id caller has no roles", "{callers: {roles: [deployer]}}", staging.clone().raw("deploy-agent-7"), false),
        // effective risk: medium x internal = medium; medium x restricted = high; high x critical = critical
        ("risk medium", "{risk_classes: [medium]}", staging.clone(), true),
        ("risk high on prod", "{risk_classes: [high]}", prod.clone(), true),
        ("risk low misses", "{risk_classes: [low]}", staging.clone(), false),
        ("risk public lowers medium to low", "{risk_classes: [low]}", web.clone(), true),
        ("risk critical for drain on critical node", "{risk_classes: [critical]}", drain.clone(), true),
        ("unknown target counts as critical sensitivity", "{risk_classes: [critical]}", unknown_target.clone(), true),
        // time windows (wed_10 = Wednesday 10:00 UTC)
        ("window inside", "{time_windows: [{start: '09:00', end: '17:00'}]}", staging.clone(), true),
        ("window start inclusive", "{time_windows: [{start: '10:00', end: '11:00'}]}", staging.clone(), true),
        ("window end exclusive", "{time_windows: [{start: '09:00', end: '10:00'}]}", staging.clone(), false),
        ("window day", "{time_windows: [{days: [wed], start: '09:00', end: '17:00'}]}", staging.clone(), true),
        ("window full day names", "{time_windows: [{days: [Wednesday]}]}", staging.clone(), true),
        ("window other day", "{time_windows: [{days: [mon, tue], start: '09:00', end: '17:00'}]}", staging.clone(), false),
        ("window numeric day (2 = wed)", "{time_windows: [{days: [2]}]}", staging.clone(), true),
        ("window numeric day (0 = mon)", "{time_windows: [{days: [0]}]}", staging.clone(), false),
        ("window any of several", "{time_windows: [{days: [mon]}, {days: [wed], start: '09:30', end: '10:30'}]}", staging.clone(), true),
        ("window time zone (New York 05:00)", "{time_windows: [{start: '09:00', end: '17:00', timezone: America/New_York}]}", staging.clone(), false),
        ("window time zone (Tokyo 19:00)", "{time_windows: [{start: '18:00', end: '20:00', timezone: Asia/Tokyo}]}", staging.clone(), true),
        ("summer time: London 10:30 BST = 09:30 UTC", "{time_windows: [{start: '10:00', end: '11:00', timezone: Europe/London}]}", staging.clone().at("2026-07-01T09:30:00Z"), true),
        ("winter time: London 09:30 GMT", "{time_windows: [{start: '10:00', end: '11:00', timezone: Europe/London}]}", staging.clone().at("2026-01-07T09:30:00Z"), false),
        ("overnight: Friday 23:00 inside Fri 22-02", "{time_windows: [{days: [fri], start: '22:00', end: '02:00'}]}", staging.clone().at("2026-01-09T23:00:00Z"), true),
        ("overnight: Saturday 01:00 belongs to Friday", "{time_windows: [{days: [fri], start: '22:00', end: '02:00'}]}", staging.clone().at("2026-01-10T01:00:00Z"), true),
        ("overnight: Saturday 02:00 is the end", "{time_windows: [{days: [fri], start: '22:00', end: '02:00'}]}", staging.clone().at("2026-01-10T02:00:00Z"), false),
        ("overnight: Friday 01:00 belongs to Thursday", "{time_windows: [{days: [fri], start: '22:00', end: '02:00'}]}", staging.clone().at("2026-01-09T01:00:00Z"), false),
        ("hour form, end hour inclusive (17:59)", "{time_windows: [{start_hour: 9, end_hour: 17}]}", staging.clone().at("2026-01-07T17:59:00Z"), true),
        ("hour form, 18:00 is outside", "{time_windows: [{start_hour: 9, end_hour: 17}]}", staging.clone().at("2026-01-07T18:00:00Z"), false),
        ("hour form overnight", "{time_windows: [{start_hour: 22, end_hour: 5}]}", staging.clone().at("2026-01-07T05:30:00Z"), true),
        ("start equals end is open all day", "{time_windows: [{start: '08:00', end: '08:00'}]}", staging.clone().at("2026-01-07T07:59:00Z"), true),
        ("all fields AND together", "{actions: [restart-*], targets: {environments: [staging]}, callers: {roles: [deployer]}, risk_classes: [medium], time_windows: [{days: [wed]}]}", staging.clone().by(deployer()), true),
        ("all fields AND together (one misses)", "{actions: [restart-*], targets: {environments: [staging]}, callers: {roles: [deployer]}, risk_classes: [low], time_windows: [{days: [wed]}]}", staging.clone().by(deployer()), false),
    ];
    let mut failures = Vec::new();
    for (what, m, a, want) in &cases {
        let got = matched(m, a);
        if got != *want {
            failures.push(format!("{what}: match {m} expected {want}, got {got}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn effective_risk_table() {
    use agent_safe_core::model::{RiskClass as R, Sensitivity as S};
    #[rustfmt::skip]
    let table = [
        (R::Low, [R::Low, R::Low, R::Medium, R::High]),
        (R::Medium, [R::Low, R::Medium, R::High, R::Critical]),
        (R::High, [R::Medium, R::High, R::Critical, R::Critical]),
        (R::Critical, [R::High, R::Critical, R::Critical, R::Critical]),
    ];
    for (action, row) in table {
        for (s, want) in [S::Public, S::Internal, S::Restricted, S::Critical]
            .into_iter()
            .zip(row)
        {
            assert_eq!(action.effective(s), want, "{action} x {s}");
        }
    }
}
