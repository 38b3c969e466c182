//! Rule analysis (`agent-safe validate`) and the facade's reload semantics.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::type_complexity
)]

mod common;

use agent_safe_core::engine::{FindingKind, analyze};
use common::*;

fn findings(policy: &str) -> Vec<(FindingKind, String, Option<String>, String)> {
    analyze(&snapshot(policy))
        .into_iter()
        .map(|f| (f.kind, f.rule, f.other_rule, f.message))
        .collect()
}

#[test]
fn analysis_findings() {
    #[rustfmt::skip]
    let cases: Vec<(&str, &str, Vec<(FindingKind, &str, Option<&str>)>)> = vec![
        ("clean policy", "rules:
  - {name: a, priority: 10, match: {targets: {environments: [prod]}}, decision: require_approval}
  - {name: b, match: {targets: {environments: [staging]}, risk_classes: [low]}, decision: allow}", vec![]),
        ("conflict: equal rank, overlap, different decisions", "rules:
  - {name: a, match: {actions: [restart-deployment]}, decision: allow}
  - {name: b, match: {targets: {environments: [staging]}}, decision: deny}",
         vec![(FindingKind::Conflict, "a", Some("b"))]),
        ("no conflict when environments are disjoint", "rules:
  - {name: a, match: {targets: {environments: [prod]}}, decision: allow}
  - {name: b, match: {targets: {environments: [staging]}}, decision: deny}", vec![]),
        ("no conflict when actions are disjoint", "rules:
  - {name: a, match: {actions: [drain-node]}, decision: allow}
  - {name: b, match: {actions: [restart-*]}, decision: deny}", vec![]),
        ("no conflict when risk classes are disjoint", "rules:
  - {name: a, match: {risk_classes: [low]}, decision: allow}
  - {name: b, match: {risk_classes: [critical]}, decision: deny}", vec![]),
        ("no conflict when literal agent ids differ", "rules:
  - {name: a, match: {callers: {agent_ids: [bot-a]}}, decision: allow}
  - {name: b, match: {callers: {agent_ids: [bot-b]}}, decision: deny}", vec![]),
        ("roles may overlap (a caller can hold both)", "rules:
  - {name: a, match: {callers: {roles: [x]}}, decision: allow}
  - {name: b, match: {callers: {roles: [y]}}, decision: deny}",
         vec![(FindingKind::Conflict, "a", Some("b"))]),
        ("no conflict when time windows never overlap", "rules:
  - {name: a, match: {time_windows: [{start: '09:00', end: '12:00'}]}, decision: allow}
  - {name: b, match: {time_windows: [{start: '13:00', end: '17:00'}]}, decision: deny}", vec![]),
        ("same decision is not a conflict", "rules:
  - {name: a, match: {actions: [restart-deployment]}, decision: allow}
  - {name: b, match: {targets: {environments: [staging]}}, decision: allow}", vec![]),
        ("shadowed by a broader, higher-priority rule", "rules:
  - {name: broad, priority: 10, match: {targets: {environments: [staging, prod]}}, decision: deny}
  - {name: narrow, priority: 5, match: {actions: [restart-deployment], targets: {environments: [staging]}}, decision: allow}",
         vec![(FindingKind::Shadowed, "narrow", Some("broad"))]),
        ("not shadowed when the narrow rule reaches targets the broad one does not", "rules:
  - {name: broad, priority: 10, match: {targets: {environments: [prod]}}, decision: deny}
  - {name: narrow, priority: 5, match: {actions: [restart-deployment]}, decision: allow}", vec![]),
        ("not shadowed when the higher rule only covers part of the window", "rules:
  - {name: hi, priority: 10, match: {time_windows: [{start: '09:00', end: '12:00'}]}, decision: deny}
  - {name: lo, priority: 5, match: {time_windows: [{start: '10:00', end: '14:00'}]}, decision: allow}", vec![]),
        ("shadowed inside a covering window", "rules:
  - {name: hi, priority: 10, match: {time_windows: [{start: '08:00', end: '18:00'}]}, decision: deny}
  - {name: lo, priority: 5, match: {time_windows: [{days: [mon], start: '10:00', end: '14:00'}]}, decision: allow}",
         vec![(FindingKind::Shadowed, "lo", Some("hi"))]),
        ("a caller selector does not cover anonymous callers", "rules:
  - {name: hi, priority: 10, match: {callers: {agent_ids: ['**']}}, decision: deny}
  - {name: lo, priority: 5, decision: allow}", vec![]),
        ("unknown target type", "rules:
  - {name: a, match: {targets: {types: [k8s-deploy]}}, decision: allow}",
         vec![(FindingKind::UnknownTargetType, "a", None), (FindingKind::NoMatchingTarget, "a", None)]),
        ("selector no inventory target satisfies", "rules:
  - {name: a, match: {targets: {environments: [qa]}}, decision: allow}",
         vec![(FindingKind::NoMatchingTarget, "a", None)]),
        ("window open around the clock", "rules:
  - {name: a, match: {time_windows: [{start: '08:00', end: '08:00'}]}, decision: allow}",
         vec![(FindingKind::TimeWindow, "a", None)]),
        ("an empty time window is always open", "rules:
  - {name: a, match: {time_windows: [{}]}, decision: allow}",
         vec![(FindingKind::TimeWindow, "a", None)]),
        ("every day without hours is always open", "rules:
  - {name: a, match: {time_windows: [{days: [mon, tue, wed, thu, fri, sat, sun], timezone: Europe/London}]}, decision: allow}",
         vec![(FindingKind::TimeWindow, "a", None)]),
        ("windows that together cover the week are always open", "rules:
  - {name: a, match: {time_windows: [{start: '00:00', end: '12:00'}, {start: '12:00', end: '24:00'}]}, decision: allow}",
         vec![(FindingKind::TimeWindow, "a", None)]),
        ("weekdays only is a real window", "rules:
  - {name: a, match: {time_windows: [{days: [mon, tue, wed, thu, fri]}]}, decision: allow}", vec![]),
    ];
    let mut failures = Vec::new();
    for (what, policy, want) in cases {
        let got = findings(policy);
        let got_keys: Vec<(FindingKind, &str, Option<&str>)> = got
            .iter()
            .map(|(k, r, o, _)| (*k, r.as_str(), o.as_deref()))
            .collect();
        if got_keys != want {
            failures.push(format!("{what}:\n  want {want:?}\n  got  {got:#?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn findings_name_both_rules_and_files() {
    let f = analyze(&snapshot(
        "rules:\n  - {name: a, match: {actions: [restart-deployment]}, decision: allow}\n  - {name: b, match: {targets: {environments: [staging]}}, decision: deny}\n",
    ));
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].file, "policy.yaml:2");
    assert_eq!(f[0].other_file.as_deref(), Some("policy.yaml:3"));
    assert!(
        f[0].message.contains("`b` wins as the more restrictive"),
        "{}",
        f[0].message
    );
}

#[test]
fn reload_swaps_atomically_and_keeps_the_old_snapshot_on_error() {
    use agent_safe_core::{AgentSafe, CheckRequest, DecisionResult};
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("policies")).unwrap();
    std::fs::write(root.join("inventory.yaml"), INVENTORY).unwrap();
    std::fs::write(
        root.join("policies/p.yaml"),
        "rules:\n  - {name: allow-all, decision: allow}\n",
    )
    .unwrap();
    std::fs::write(
        root.join("agent-safe.yaml"),
        "policies: policies\ninventory: inventory.yaml\naudit: {path: audit/audit.jsonl}\n",
    )
    .unwrap();
    let safe = AgentSafe::open(Some(&root.join("agent-safe.yaml"))).unwrap();
    let mut req = CheckRequest::new("restart-deployment");
    req.target = Some("staging/api".into());
    req.params = Some(serde_json::json!({"namespace": "staging", "deployment": "api"}));
    assert_eq!(safe.check(&req).result, DecisionResult::Allow);

    // A broken edit: reload fails with file:line, the old snapshot keeps serving.
    std::fs::write(
        root.join("policies/p.yaml"),
        "rules:\n  - {name: deny-all, decision: nope}\n",
    )
    .unwrap();
    let err = safe.reload().unwrap_err().to_string();
    assert!(err.contains("p.yaml:2:") && err.contains("`nope`"), "{err}");
    assert_eq!(safe.check(&req).result, DecisionResult::Allow);

    // A good edit takes effect.
    std::fs::write(
        root.join("policies/p.yaml"),
        "rules:\n  - {name: deny-all, decision: deny}\n",
    )
    .unwrap();
    safe.reload().unwrap();
    let d = safe.check(&req);
    assert_eq!(
        (d.result, d.policy_matched.as_deref()),
        (DecisionResult::Deny, Some("deny-all"))
    );
    // Every check was logged.
    let report = agent_safe_core::audit::verify(&[root.join("audit")]);
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.events, 3);
}

#[test]
fn check_plan_shares_one_correlation_id() {
    use agent_safe_core::{AgentSafe, DecisionResult, PlanError, PlanRequest, PlanStep};
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("policies")).unwrap();
    std::fs::write(root.join("inventory.yaml"), INVENTORY).unwrap();
    std::fs::write(
        root.join("policies/p.yaml"),
        "rules:\n  - {name: staging, match: {targets: {environments: [staging]}}, decision: allow}\n  - {name: prod, match: {targets: {environments: [prod]}}, decision: require_approval}\n",
    )
    .unwrap();
    std::fs::write(
        root.join("agent-safe.yaml"),
        "policies: policies\ninventory: inventory.yaml\n",
    )
    .unwrap();
    let safe = AgentSafe::open(Some(&root.join("agent-safe.yaml"))).unwrap();
    let step = |target: &str, ns: &str| PlanStep {
        action: "restart-deployment".into(),
        target: Some(target.into()),
        params: Some(serde_json::json!({"namespace": ns, "deployment": "api"})),
        ..PlanStep::default()
    };
    let plan = safe
        .check_plan(
            &PlanRequest {
                correlation_id: Some("change-42".into()),
                ..PlanRequest::new(vec![
                    step("staging/api", "staging"),
                    step("prod/api", "prod"),
                ])
            },
            None,
        )
        .unwrap();
    assert_eq!(plan.result, DecisionResult::RequireApproval);
    assert_eq!(plan.correlation_id, "change-42");
    assert_eq!(plan.steps.len(), 2);
    for (i, d) in plan.steps.iter().enumerate() {
        assert_eq!(d.correlation_id.as_deref(), Some("change-42"));
        assert_eq!(d.plan_step, Some(i as u32));
        assert!(d.audit_id.is_some());
    }
    assert_eq!(plan.steps[0].result, DecisionResult::Allow);
    // An empty plan is not an approval of nothing: it is refused, unlogged.
    assert_eq!(
        safe.check_plan(&PlanRequest::default(), None),
        Err(PlanError::NoSteps)
    );
    // The audit log has one event per step with the step index.
    let events = std::fs::read_to_string(root.join("audit/audit.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = events
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["plan_step"], 1);
    assert_eq!(lines[1]["correlation_id"], "change-42");
}

#[test]
fn an_always_open_window_says_it_still_counts_toward_specificity() {
    let f = analyze(&snapshot(
        "rules:\n  - {name: a, match: {actions: [restart-deployment], time_windows: [{}]}, decision: allow}\n",
    ));
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(
        f[0].message
            .contains("open around the clock, so `time_windows` restricts nothing, yet it counts toward the rule's specificity (2)"),
        "{}",
        f[0].message
    );
}
