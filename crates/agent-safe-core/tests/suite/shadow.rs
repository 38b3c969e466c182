//! Shadow mode through the facade: the candidate is evaluated on every
//! check with the same request, caller and evaluation time, recorded in the
//! audit event's `shadow` field when it decides differently, and never
//! enforced; a candidate that cannot decide records an error and changes
//! nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::PathBuf;

use agent_safe_core::audit::{AuditEvent, EventFilter, ShadowInfo, read_events};
use agent_safe_core::{AgentSafe, CheckRequest, DecisionResult as D, PlanRequest, PlanStep};
use common::INVENTORY;

/// The enforced policy.
const ENFORCED: &str = r#"rules:
  - {name: staging-restarts, match: {actions: [restart-deployment], targets: {environments: [staging]}}, decision: allow}
  - {name: prod-restarts-need-approval, match: {actions: [restart-deployment], targets: {environments: [prod]}}, decision: require_approval}
  - {name: reads, match: {actions: [rollout-status]}, decision: allow}
"#;

/// The candidate: staging restarts now need the deployer role (a known set
/// of decisions narrows), prod restarts are allowed in a Saturday window
/// (widens, at that time only), reads are allowed by a renamed rule (same
/// decision, another rule), scaling is unchanged (default deny in both).
const CANDIDATE: &str = r#"rules:
  - {name: staging-restarts, match: {actions: [restart-deployment], targets: {environments: [staging]}, callers: {roles: [deployer]}}, decision: allow}
  - {name: prod-restarts-need-approval, match: {actions: [restart-deployment], targets: {environments: [prod]}}, decision: require_approval}
  - name: prod-maintenance-window
    priority: 10
    match:
      actions: [restart-deployment]
      targets: {environments: [prod]}
      time_windows:
        - {days: [sat], start: "02:00", end: "04:00", timezone: UTC}
    decision: allow
  - {name: read-only-actions, match: {actions: [rollout-status]}, decision: allow}
"#;

struct Project {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Project {
    /// A project whose config has `extra` appended (e.g. a shadow section).
    fn new(extra: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        std::fs::create_dir_all(root.join("policies")).unwrap();
        std::fs::create_dir_all(root.join("policies.next")).unwrap();
        std::fs::write(root.join("inventory.yaml"), INVENTORY).unwrap();
        std::fs::write(root.join("policies/p.yaml"), ENFORCED).unwrap();
        std::fs::write(root.join("policies.next/p.yaml"), CANDIDATE).unwrap();
        std::fs::write(
            root.join("agent-safe.yaml"),
            format!(
                "policies: policies\ninventory: inventory.yaml\naudit: {{path: audit/audit.jsonl}}\n{extra}"
            ),
        )
        .unwrap();
        Project { _dir: dir, root }
    }

    fn open(&self) -> AgentSafe {
        AgentSafe::open(Some(&self.root.join("agent-safe.yaml"))).unwrap()
    }

    fn events(&self) -> Vec<AuditEvent> {
        read_events(&[self.root.join("audit")], &EventFilter::default(), None).unwrap()
    }

    fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.root.join(rel), text).unwrap();
    }
}

fn restart(target: &str, caller: Option<&str>) -> CheckRequest {
    let (ns, name) = target.split_once('/').unwrap();
    let mut r = CheckRequest::new("restart-deployment");
    r.target = Some(target.into());
    r.params = Some(serde_json::json!({"namespace": ns, "deployment": name}));
    r.caller = caller.map(str::to_owned);
    r
}

fn status(target: &str) -> CheckRequest {
    let (ns, name) = target.split_once('/').unwrap();
    let mut r = CheckRequest::new("rollout-status");
    r.target = Some(target.into());
    r.params = Some(serde_json::json!({"namespace": ns, "deployment": name}));
    r
}

fn scale(target: &str) -> CheckRequest {
    let (ns, name) = target.split_once('/').unwrap();
    let mut r = CheckRequest::new("scale-deployment");
    r.target = Some(target.into());
    r.params = Some(serde_json::json!({"namespace": ns, "deployment": name, "replicas": 2}));
    r
}

fn ts(s: &str) -> jiff::Timestamp {
    s.parse().unwrap()
}

/// (what, request, evaluated at, enforced result and rule, shadow result
/// and rule: `None` when the candidate agrees).
type Case = (
    &'static str,
    CheckRequest,
    Option<&'static str>,
    (D, Option<&'static str>),
    Option<(&'static str, Option<&'static str>)>,
);

#[test]
fn shadow_records_only_disagreements_and_never_enforces() {
    let p = Project::new("shadow: {policies: policies.next}\n");
    let safe = p.open();
    let candidate_digest = safe.shadow().unwrap().snapshot().unwrap().digest.clone();
    assert!(candidate_digest.as_deref().unwrap().starts_with("sha256:"));
    assert_ne!(candidate_digest, safe.snapshot().digest);
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        ("equal: same decision by the same rule → null",
         restart("prod/api", Some("deploy-agent")), Some("2026-03-04T03:00:00Z"),
         (D::RequireApproval, Some("prod-restarts-need-approval")), None),
        ("equal: both deny by default → null",
         scale("staging/api"), None, (D::Deny, None), None),
        ("narrows: allow → deny (the candidate wants a role)",
         restart("staging/api", Some("ops-agent")), None,
         (D::Allow, Some("staging-restarts")), Some(("deny", None))),
        ("widens at the evaluation time only: require_approval → allow on a Saturday at 03:00",
         restart("prod/api", Some("deploy-agent")), Some("2026-03-07T03:00:00Z"),
         (D::RequireApproval, Some("prod-restarts-need-approval")), Some(("allow", Some("prod-maintenance-window")))),
        ("same decision, another rule → recorded",
         status("staging/web"), None,
         (D::Allow, Some("reads")), Some(("allow", Some("read-only-actions")))),
    ];
    for (what, req, at, (want, rule), _) in &cases {
        let d = safe.check_at(req, at.map(ts));
        // The enforced decision is the enforced policy's, always.
        assert_eq!(
            (d.result, d.policy_matched.as_deref()),
            (*want, *rule),
            "{what}"
        );
    }
    let events = p.events();
    assert_eq!(events.len(), cases.len());
    for ((what, _, _, _, shadow), ev) in cases.iter().zip(&events) {
        match shadow {
            None => assert_eq!(ev.shadow, None, "{what}"),
            Some((decision, rule)) => {
                let sh = ev
                    .shadow
                    .as_ref()
                    .unwrap_or_else(|| panic!("{what}: no shadow"));
                assert_eq!(sh.decision.as_deref(), Some(*decision), "{what}");
                assert_eq!(sh.policy_matched.as_deref(), *rule, "{what}");
                assert_eq!(sh.error, None, "{what}");
                assert!(sh.reason.is_some(), "{what}");
                assert_eq!(sh.snapshot, candidate_digest, "{what}");
            }
        }
    }
    // The counters: from the enforced result to the candidate's.
    let status = safe.shadow_status().unwrap();
    assert_eq!(status.kind, "policies");
    assert_eq!(status.error, None);
    assert_eq!(status.snapshot, candidate_digest);
    let count = |from: &str, to: &str| {
        status
            .disagreements
            .iter()
            .find(|d| d.from == from && d.to == to)
            .unwrap()
            .count
    };
    assert_eq!(status.disagreements.len(), 12);
    assert_eq!(count("allow", "deny"), 1);
    assert_eq!(count("require_approval", "allow"), 1);
    assert_eq!(count("allow", "allow"), 1);
    assert_eq!(status.disagreements.iter().map(|d| d.count).sum::<u64>(), 3);
    // The log with shadow records verifies (the fast scanner reads them).
    let report = agent_safe_core::audit::verify(&[p.root.join("audit")]);
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.events, 5);
}

#[test]
fn replay_of_a_log_with_shadow_records_ignores_them() {
    let p = Project::new("shadow: {policies: policies.next}\n");
    let safe = p.open();
    safe.check(&restart("staging/api", Some("ops-agent")));
    safe.check(&status("staging/web"));
    assert!(p.events().iter().all(|e| e.shadow.is_some()));
    // Replaying under the enforced policy changes nothing.
    let summary = agent_safe_core::replay::replay(
        &[p.root.join("audit")],
        &EventFilter::default(),
        &safe.snapshot(),
        |_| std::ops::ControlFlow::Continue(()),
    )
    .unwrap();
    assert_eq!((summary.replayed, summary.changed), (2, 0));
}

#[test]
fn the_candidate_sees_the_verified_caller_attributes() {
    let p = Project::new("shadow: {policies: policies.next}\n");
    let safe = p.open();
    let mut req = restart("staging/api", None);
    req.verified_caller = Some(common::caller("deploy-agent", &["deployer"], &[]));
    let d = safe.check(&req);
    assert_eq!(d.result, D::Allow);
    // The candidate wants the deployer role, which the caller has: it agrees.
    assert_eq!(p.events()[0].shadow, None);
}

#[test]
fn plan_steps_carry_their_own_shadow_record() {
    let p = Project::new("shadow: {policies: policies.next}\n");
    let safe = p.open();
    let step = |r: CheckRequest| PlanStep {
        action: r.action,
        target: r.target,
        caller: Some("ops-agent".into()),
        params: r.params,
        context: None,
        explain: false,
    };
    let plan = PlanRequest {
        steps: vec![
            step(restart("staging/api", None)),
            step(scale("staging/api")),
        ],
        ..PlanRequest::default()
    };
    let d = safe.check_plan(&plan, None).unwrap();
    assert_eq!(d.steps[0].result, D::Allow);
    let events = p.events();
    assert_eq!(events[0].plan_step, Some(0));
    assert_eq!(
        events[0]
            .shadow
            .as_ref()
            .and_then(|s| s.decision.as_deref()),
        Some("deny")
    );
    assert_eq!(events[1].shadow, None);
}

#[test]
fn a_candidate_that_fails_to_load_never_changes_the_enforced_decision() {
    let p = Project::new("shadow: {policies: policies.next}\n");
    p.write(
        "policies.next/p.yaml",
        "rules:\n  - {name: broken, decision: nope}\n",
    );
    // The enforced policy opens; the candidate's error is kept.
    let safe = p.open();
    let status = safe.shadow_status().unwrap();
    let error = status.error.unwrap();
    assert!(error.contains("policies.next/p.yaml:2:"), "{error}");
    assert_eq!(status.snapshot, None);
    let d = safe.check(&restart("staging/api", Some("ops-agent")));
    assert_eq!(
        (d.result, d.policy_matched.as_deref()),
        (D::Allow, Some("staging-restarts"))
    );
    let sh: ShadowInfo = p.events()[0].shadow.clone().unwrap();
    assert_eq!(sh.decision, None);
    assert_eq!(sh.policy_matched, None);
    let e = sh.error.unwrap();
    assert!(
        e.starts_with("the shadow candidate is not loaded: ") && e.contains("`nope`"),
        "{e}"
    );
    let errors = safe
        .shadow_status()
        .unwrap()
        .disagreements
        .into_iter()
        .find(|d| d.from == "allow" && d.to == "error")
        .unwrap();
    assert_eq!(errors.count, 1);

    // Fixed: a reload loads it.
    p.write("policies.next/p.yaml", CANDIDATE);
    safe.reload().unwrap();
    let status = safe.shadow_status().unwrap();
    assert_eq!(status.error, None);
    let good = status.snapshot.clone();
    assert!(good.is_some());

    // Broken again: the reload of the enforced policy succeeds, the
    // previous candidate stays in use, and the error is reported.
    p.write(
        "policies.next/p.yaml",
        "rules:\n  - {name: broken, decision: nope}\n",
    );
    safe.reload().unwrap();
    let status = safe.shadow_status().unwrap();
    assert!(status.error.unwrap().contains("`nope`"));
    assert_eq!(status.snapshot, good);
    safe.check(&restart("staging/api", Some("ops-agent")));
    let sh = p.events().last().unwrap().shadow.clone().unwrap();
    assert_eq!((sh.decision.as_deref(), sh.snapshot), (Some("deny"), good));
}

#[test]
fn a_whole_candidate_config_decides_with_its_own_settings() {
    let p = Project::new("shadow: {config: agent-safe.next.yaml}\n");
    // The candidate config turns on require_signed: a plain id is refused.
    p.write(
        "agent-safe.next.yaml",
        "policies: policies\ninventory: inventory.yaml\nidentity: {require_signed: true}\naudit: {enabled: false}\n",
    );
    let safe = p.open();
    assert_eq!(safe.shadow_status().unwrap().kind, "config");
    let d = safe.check(&restart("staging/api", Some("ops-agent")));
    assert_eq!(d.result, D::Allow);
    let sh = p.events()[0].shadow.clone().unwrap();
    assert_eq!(sh.decision.as_deref(), Some("deny"));
    assert!(
        sh.reason.unwrap().contains("caller rejected"),
        "shadow: {:?}",
        p.events()[0].shadow
    );
}

#[test]
fn a_shadow_does_not_nest() {
    let p = Project::new("shadow: {config: agent-safe.next.yaml}\n");
    p.write(
        "agent-safe.next.yaml",
        "policies: policies.next\ninventory: inventory.yaml\nshadow:\n  policies: policies\n",
    );
    let config = agent_safe_core::config::load_config(&p.root.join("agent-safe.yaml")).unwrap();
    let err = agent_safe_core::shadow::load_candidate(&config, config.shadow.as_ref().unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("agent-safe.next.yaml:4:3") && err.contains("cannot have a `shadow` section"),
        "{err}"
    );
    // The enforced policy still opens and decides; every event records why
    // the candidate could not.
    let safe = p.open();
    safe.check(&status("staging/web"));
    let e = p.events()[0].shadow.clone().unwrap().error.unwrap();
    assert!(e.contains("cannot have a `shadow` section"), "{e}");
}

#[test]
fn the_shadow_section_is_read_strictly() {
    #[rustfmt::skip]
    let cases = [
        ("unknown key", "shadow: {policies: policies.next, polices: x}\n", "agent-safe.yaml:4:", "polices"),
        ("neither", "shadow: {}\n", "agent-safe.yaml:4:9", "exactly one of `policies` and `config`"),
        ("both", "shadow: {policies: a, config: b}\n", "agent-safe.yaml:4:9", "exactly one of `policies` and `config`"),
        ("not a map", "shadow: policies.next\n", "agent-safe.yaml:4:9", "shadow section"),
    ];
    for (what, extra, at, says) in cases {
        let p = Project::new(extra);
        let err = agent_safe_core::config::load_config(&p.root.join("agent-safe.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(at) && err.contains(says), "{what}: {err}");
    }
    // Paths are relative to the config file.
    let p = Project::new("shadow: {policies: policies.next}\n");
    let config = agent_safe_core::config::load_config(&p.root.join("agent-safe.yaml")).unwrap();
    assert_eq!(
        config.shadow.unwrap().policies.as_deref(),
        Some(p.root.join("policies.next").as_path())
    );
}

#[test]
fn shadow_off_records_null_and_reports_nothing() {
    let p = Project::new("");
    let safe = p.open();
    assert!(safe.shadow_status().is_none());
    safe.check(&restart("staging/api", Some("ops-agent")));
    assert_eq!(p.events()[0].shadow, None);
}
