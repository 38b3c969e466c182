//! What shadow mode costs a check: `AgentSafe::check` (caller resolution,
//! evaluation, and with a log the audit append) with shadow off, with a
//! candidate that agrees (evaluated, nothing recorded), and with one that
//! disagrees on every check (evaluated and recorded in the event).
//!
//! `cargo bench -p agent-safe-core --bench shadow`
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::path::Path;

use agent_safe_core::{AgentSafe, CheckRequest};
use criterion::{Criterion, criterion_group, criterion_main};

const INVENTORY: &str = "targets:
  - {id: staging/web, type: k8s-deployment, environment: staging, sensitivity: internal, namespace: staging, name: web}
  - {id: prod/api, type: k8s-deployment, environment: production, sensitivity: restricted, namespace: prod, name: api}
";

/// Four rules like a small real project's; `staging_decision` is what the
/// staging rule decides (the candidate changes it to disagree).
fn policy(staging_decision: &str) -> String {
    format!(
        r#"rules:
  - name: staging-restarts
    priority: 100
    match:
      actions: [restart-deployment, scale-deployment]
      targets: {{environments: [staging]}}
      callers: {{agent_ids: ["**"]}}
    decision: {staging_decision}
  - name: night-freeze
    priority: 500
    match:
      targets: {{environments: [staging]}}
      time_windows:
        - {{days: [sun], start: "22:00", end: "23:00", timezone: UTC}}
    decision: deny
  - name: prod-approval
    priority: 200
    match:
      targets: {{environments: [production]}}
    decision: require_approval
  - name: reads
    priority: 300
    match:
      actions: [rollout-status]
    decision: allow
"#
    )
}

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A project: enforced policies, an agreeing and a disagreeing candidate,
/// and a config with `shadow` set to `shadow` (or none), audit on or off.
fn open(dir: &Path, shadow: Option<&str>, audit: bool) -> AgentSafe {
    write(dir, "inventory.yaml", INVENTORY);
    write(dir, "policies/p.yaml", &policy("allow"));
    write(dir, "same/p.yaml", &policy("allow"));
    write(dir, "other/p.yaml", &policy("require_approval"));
    let mut config = format!(
        "policies: policies\ninventory: inventory.yaml\naudit: {{enabled: {audit}, path: audit/audit.jsonl}}\n"
    );
    if let Some(s) = shadow {
        config.push_str(&format!("shadow: {{policies: {s}}}\n"));
    }
    write(dir, "agent-safe.yaml", &config);
    AgentSafe::open(Some(&dir.join("agent-safe.yaml"))).unwrap()
}

fn bench(c: &mut Criterion) {
    let mut req = CheckRequest::new("restart-deployment");
    req.target = Some("staging/web".into());
    req.caller = Some("deploy-agent".into());
    req.params = Some(serde_json::json!({"namespace": "staging", "deployment": "web"}));
    for audit in [false, true] {
        let log = if audit { "audit log" } else { "no audit log" };
        for (label, shadow) in [
            ("shadow off", None),
            ("shadow agrees", Some("same")),
            ("shadow disagrees", Some("other")),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let safe = open(dir.path(), shadow, audit);
            c.bench_function(&format!("check/{log}, {label}"), |b| {
                b.iter(|| safe.check(&req));
            });
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
