//! `agent-safe replay`: a real log of 100 010 events written by the real
//! decision point (tokens with roles and groups, plain ids, anonymous callers,
//! day and night evaluation times, approvals), re-decided under candidates
//! that change a known set of decisions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use agent_safe_core::identity::{MintRequest, mint_token};
use agent_safe_core::{AgentSafe, Approval, CheckRequest, DecisionResult};
use serde_json::Value;

use super::Project;

const INVENTORY: &str = "\
targets:
  - {id: staging/web, type: k8s-deployment, environment: staging, sensitivity: internal, namespace: staging, name: web}
  - {id: prod/web, type: k8s-deployment, environment: production, sensitivity: internal, namespace: prod, name: web}
";

const DEPLOYERS: &str = r#"  - name: deployers-staging
    priority: 100
    match:
      actions: [restart-deployment]
      targets: {environments: [staging]}
      callers: {roles: [deployer]}
    decision: allow
"#;

/// The enforced policy: deployers restart on staging, not at night;
/// production needs an approval.
fn base_policy() -> String {
    format!(
        "rules:\n{DEPLOYERS}{}{}",
        r#"  - name: night-freeze
    priority: 500
    match:
      targets: {environments: [staging]}
      time_windows:
        - {days: [mon, tue, wed, thu, fri, sat, sun], start: "22:00", end: "06:00", timezone: UTC}
    decision: deny
"#,
        r#"  - name: prod-approval
    priority: 200
    match:
      targets: {environments: [production]}
      callers: {agent_ids: ["**"]}
    decision: require_approval
"#
    )
}

const PROD_DENY: &str = r#"  - name: prod-deny
    priority: 200
    match:
      targets: {environments: [production]}
    decision: deny
"#;

/// Widens and narrows: no night freeze, the `sre` group may restart on
/// staging, production is denied.
fn candidate_policy() -> String {
    format!(
        "rules:\n{DEPLOYERS}{PROD_DENY}{}",
        r#"  - name: sre-staging
    priority: 100
    match:
      actions: [restart-deployment]
      targets: {environments: [staging]}
      callers: {groups: [sre]}
    decision: allow
"#
    )
}

/// Only narrows: the base policy with production denied.
fn narrowing_policy() -> String {
    base_policy().replace("    decision: require_approval\n", "    decision: deny\n")
}

const EVENTS: usize = 100_000;
const APPROVAL_EVERY: usize = 10_000;

/// Writes the project and its log: `EVENTS` checks in eight equal kinds,
/// plus one approval every `APPROVAL_EVERY` checks.
fn project_with_log() -> Project {
    let p = Project::empty();
    p.write(
        "agent-safe.yaml",
        "policies: policies\ninventory: inventory.yaml\naudit: {path: audit/audit.jsonl}\nidentity:\n  keys:\n    - {kid: k1, secret_file: signing.key}\n",
    );
    p.write(
        "signing.key",
        &agent_safe_core::identity::generate_secret().unwrap(),
    );
    p.write("inventory.yaml", INVENTORY);
    p.write("policies/policy.yaml", &base_policy());
    p.write("candidate/policy.yaml", &candidate_policy());
    p.write("narrowing/policy.yaml", &narrowing_policy());

    let safe = AgentSafe::open(Some(&p.dir.join("agent-safe.yaml"))).unwrap();
    let now = jiff::Timestamp::now().as_second();
    let token = |roles: &[&str], groups: &[&str]| {
        mint_token(
            &safe.snapshot().identity,
            &MintRequest {
                agent_id: "deploy-agent".into(),
                agent_name: None,
                roles: roles.iter().map(|s| (*s).to_owned()).collect(),
                groups: groups.iter().map(|s| (*s).to_owned()).collect(),
                ttl_seconds: 3600,
                kid: None,
            },
            now,
        )
        .unwrap()
    };
    let deployer = token(&["deployer"], &[]);
    let sre = token(&[], &["sre"]);
    let day: jiff::Timestamp = "2026-03-04T12:00:00Z".parse().unwrap();
    let night: jiff::Timestamp = "2026-03-04T23:00:00Z".parse().unwrap();
    for i in 0..EVENTS {
        let (caller, target, at, old) = match i % 8 {
            0 => (Some(&deployer), "staging/web", day, DecisionResult::Allow),
            1 => (Some(&deployer), "staging/web", night, DecisionResult::Deny),
            2 => (None, "staging/web", day, DecisionResult::Deny),
            3 => (None, "staging/web", night, DecisionResult::Deny),
            4 => (None, "staging/web", day, DecisionResult::Deny),
            5 => (
                Some(&deployer),
                "prod/web",
                day,
                DecisionResult::RequireApproval,
            ),
            6 => (None, "prod/web", day, DecisionResult::RequireApproval),
            _ => (Some(&sre), "staging/web", day, DecisionResult::Deny),
        };
        // Kinds 2, 3 and 6 are a plain id; 4 is anonymous.
        let caller = match (i % 8, caller) {
            (_, Some(t)) => Some(t.clone()),
            (4, None) => None,
            _ => Some("ops-agent".to_owned()),
        };
        let (ns, name) = target.split_once('/').unwrap();
        let ns = if ns == "prod" { "prod" } else { "staging" };
        let req = CheckRequest {
            caller,
            target: Some(target.to_owned()),
            params: Some(serde_json::json!({"namespace": ns, "deployment": name})),
            ..CheckRequest::new("restart-deployment")
        };
        let d = safe.check_at(&req, Some(at));
        assert_eq!(d.result, old, "event {i}: {}", d.reason);
        if i % APPROVAL_EVERY == 5 {
            safe.record_approval(&Approval {
                correlation_id: d.correlation_id.clone().unwrap(),
                audit_id: d.audit_id.clone(),
                action: "restart-deployment".into(),
                target: Some(target.to_owned()),
                approver: "alice".into(),
                approved: true,
                ..Approval::default()
            })
            .unwrap();
        }
    }
    drop(safe);
    p
}

/// Every file under `dir` with its size and modification time.
fn tree(dir: &Path) -> BTreeMap<PathBuf, (u64, SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            if m.is_dir() {
                stack.push(e.path());
            }
            out.insert(e.path(), (m.len(), m.modified().unwrap()));
        }
    }
    out
}

fn summary(stdout: &str) -> Value {
    let last: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["kind"], "summary");
    last["summary"].clone()
}

#[test]
fn replay_of_a_100k_event_log_finds_exactly_the_changed_decisions_and_writes_nothing() {
    let p = project_with_log();
    let before = tree(&p.root);
    let log_bytes = std::fs::read(p.dir.join("audit/audit.jsonl")).unwrap();

    // The candidate: kinds 1 and 7 widen, 5 and 6 narrow, 3 keeps DENY by
    // another rule (no rule at all instead of the freeze).
    let (code, out, err) = p.run(&["replay", "--policies", "candidate", "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let s = summary(&out);
    let k = (EVENTS / 8) as u64;
    assert_eq!(s["replayed"], EVENTS as u64);
    assert_eq!(s["skipped"], (EVENTS / APPROVAL_EVERY) as u64);
    assert_eq!(s["legacy"], 0);
    assert_eq!(s["changed"], 4 * k);
    assert_eq!(s["widened"], 2 * k);
    assert_eq!(s["narrowed"], 2 * k);
    assert_eq!(s["rule_changed"], k);
    assert_eq!(
        s["old_counts"],
        serde_json::json!({"allow": k, "require_approval": 2 * k, "deny": 5 * k})
    );
    assert_eq!(
        s["new_counts"],
        serde_json::json!({"allow": 3 * k, "deny": 5 * k})
    );
    let mut paths: Vec<(String, u64)> = s["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                format!(
                    "{} {} -> {} {}",
                    t["old"], t["old_rule"], t["new"], t["new_rule"]
                ),
                t["count"].as_u64().unwrap(),
            )
        })
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        vec![
            (
                "\"deny\" \"night-freeze\" -> \"allow\" \"deployers-staging\"".to_owned(),
                k
            ),
            ("\"deny\" \"night-freeze\" -> \"deny\" null".to_owned(), k),
            ("\"deny\" null -> \"allow\" \"sre-staging\"".to_owned(), k),
            (
                "\"require_approval\" \"prod-approval\" -> \"deny\" \"prod-deny\"".to_owned(),
                2 * k
            ),
        ]
    );
    // One JSON object per changed decision, in log order.
    let changes: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["kind"] == "change")
        .collect();
    assert_eq!(changes.len() as u64, 4 * k);
    assert!(
        changes
            .windows(2)
            .all(|w| w[0]["change"]["seq"].as_u64() < w[1]["change"]["seq"].as_u64())
    );
    let widening = changes
        .iter()
        .filter(|c| c["change"]["widens"] == true)
        .count() as u64;
    assert_eq!(widening, 2 * k);
    let night = changes
        .iter()
        .find(|c| c["change"]["old_rule"] == "night-freeze")
        .unwrap();
    assert_eq!(
        night["change"]["evaluated_at"],
        "2026-03-04T23:00:00.000000Z"
    );
    assert_eq!(night["change"]["caller"], "deploy-agent");

    // --fail-on widen: this candidate widens, so exit 1.
    let (code, _, _) = p.run(&["replay", "--policies", "candidate", "--fail-on", "widen"]);
    assert_eq!(code, 1);
    // One that only narrows passes --fail-on widen but not --fail-on change.
    let (code, out, err) = p.run(&[
        "replay",
        "--policies",
        "narrowing",
        "--fail-on",
        "widen",
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let s = summary(&out);
    assert_eq!(
        (s["changed"].clone(), s["widened"].clone()),
        (serde_json::json!(2 * k), serde_json::json!(0))
    );
    let (code, _, _) = p.run(&["replay", "--policies", "narrowing", "--fail-on", "change"]);
    assert_eq!(code, 1);
    // The enforced policy itself changes nothing.
    let (code, out, _) = p.run(&["replay", "--fail-on", "change", "-o", "json"]);
    assert_eq!(code, 0);
    assert_eq!(summary(&out)["changed"], 0);

    // Filters: the plain-id caller is kinds 2, 3 and 6.
    let (code, out, _) = p.run(&[
        "replay",
        "audit/audit.jsonl",
        "--policies",
        "candidate",
        "--caller",
        "ops-agent",
        "-o",
        "json",
    ]);
    assert_eq!(code, 0);
    let s = summary(&out);
    assert_eq!(s["replayed"], 3 * k);
    assert_eq!(s["changed"], k);
    let (_, out, _) = p.run(&[
        "replay",
        "--policies",
        "candidate",
        "--action",
        "drain-node",
        "--until",
        "2000-01-01T00:00:00Z",
        "-o",
        "json",
    ]);
    assert_eq!(summary(&out)["replayed"], 0);

    // The text report.
    let (code, out, err) = p.run(&["replay", "--policies", "candidate", "--max-shown", "3"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("replayed {EVENTS} decisions")),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "changed: {} ({} widen toward ALLOW, {} narrow); same decision by another rule: {k}",
            4 * k,
            2 * k,
            2 * k
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("… and {} more changed decisions", 4 * k - 3)),
        "{out}"
    );

    // Nothing was written anywhere: same files, sizes and times; same log.
    assert_eq!(tree(&p.root), before);
    assert_eq!(
        std::fs::read(p.dir.join("audit/audit.jsonl")).unwrap(),
        log_bytes
    );
}

#[test]
fn replay_errors_are_actionable() {
    let p = Project::empty();
    let (code, _, err) = p.run(&["replay", "--policies", "x"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("agent-safe replay"), "{err}");
    p.write(
        "agent-safe.yaml",
        "policies: policies\naudit: {path: audit/audit.jsonl}\n",
    );
    p.write("policies/p.yaml", "rules: []\n");
    let (code, _, err) = p.run(&["replay", "--policies", "missing"]);
    assert_eq!(code, 2);
    assert!(err.contains("`missing` does not exist"), "{err}");
    let (code, _, err) = p.run(&["replay"]);
    assert_eq!(code, 2);
    assert!(err.contains("there is no audit log"), "{err}");
    let (code, _, err) = p.run(&["replay", "--since", "yesterday"]);
    assert_eq!(code, 2);
    assert!(err.contains("a span back from now (7d, 12h, 30m)"), "{err}");
    p.write("bad/p.yaml", "rules: [{name: x}]\n");
    let (code, _, err) = p.run(&["replay", "--policies", "bad"]);
    assert_eq!(code, 2);
    assert!(err.contains("bad/p.yaml:1:"), "{err}");
}
