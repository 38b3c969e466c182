//! Replay throughput: re-deciding a large audit log under a candidate policy.
//!
//! `cargo bench -p agent-safe-core --bench replay`
//!
//! Writes a log of `REPLAY_BENCH_EVENTS` decisions (default 1000000) through
//! the real decision point (signed tokens with roles, plain ids, anonymous
//! callers; day and night evaluation times; three kinds of target), then
//! replays it three times under a candidate that changes a quarter of the
//! decisions, and prints events per second for each run. The log lives in a
//! temporary directory (`REPLAY_BENCH_DIR` to choose where).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::ops::ControlFlow;
use std::path::Path;
use std::time::Instant;

use agent_safe_core::audit::EventFilter;
use agent_safe_core::config::load_config;
use agent_safe_core::engine::Snapshot;
use agent_safe_core::identity::{MintRequest, generate_secret, mint_token};
use agent_safe_core::replay::replay;
use agent_safe_core::{AgentSafe, CheckRequest};

const POLICY: &str = r#"rules:
  - name: deployers-staging
    priority: 100
    match:
      actions: [restart-deployment, scale-deployment]
      targets: {environments: [staging]}
      callers: {roles: [deployer]}
    decision: allow
  - name: night-freeze
    priority: 500
    match:
      targets: {environments: [staging]}
      time_windows:
        - {days: [mon, tue, wed, thu, fri, sat, sun], start: "22:00", end: "06:00", timezone: UTC}
    decision: deny
  - name: prod-approval
    priority: 200
    match:
      targets: {environments: [production]}
      callers: {agent_ids: ["**"]}
    decision: require_approval
  - name: reads
    priority: 300
    match:
      actions: [describe-deployment, rollout-status]
      callers: {agent_ids: ["**"]}
    decision: allow
"#;

const INVENTORY: &str = "targets:
  - {id: staging/web, type: k8s-deployment, environment: staging, sensitivity: internal, namespace: staging, name: web}
  - {id: staging/api, type: k8s-deployment, environment: staging, sensitivity: restricted, namespace: staging, name: api}
  - {id: prod/web, type: k8s-deployment, environment: production, sensitivity: internal, namespace: prod, name: web}
";

/// CPU time (user + system) of this process so far, in seconds, from
/// `/proc/self/stat` (0 where there is none). On a shared machine wall time
/// measures the share the scheduler gave us; CPU time measures the work.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which is in parentheses).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    (ticks(11) + ticks(12)) / 100.0
}

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn main() {
    let events: u64 = std::env::var("REPLAY_BENCH_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let tmp = match std::env::var_os("REPLAY_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    let dir = tmp.path();
    write(
        dir,
        "agent-safe.yaml",
        "policies: policies\ninventory: inventory.yaml\naudit: {path: audit/audit.jsonl}\nidentity:\n  keys:\n    - {kid: k1, secret_file: signing.key}\n",
    );
    write(dir, "signing.key", &generate_secret().unwrap());
    write(dir, "inventory.yaml", INVENTORY);
    write(dir, "policies/p.yaml", POLICY);
    write(
        dir,
        "candidate/p.yaml",
        &POLICY.replace("    decision: require_approval\n", "    decision: deny\n"),
    );

    let started = Instant::now();
    let safe = AgentSafe::open(Some(&dir.join("agent-safe.yaml"))).unwrap();
    let token = mint_token(
        &safe.snapshot().identity,
        &MintRequest {
            agent_id: "deploy-agent".into(),
            agent_name: None,
            roles: vec!["deployer".into()],
            groups: vec!["sre".into()],
            ttl_seconds: 86_400,
            kid: None,
        },
        jiff::Timestamp::now().as_second(),
    )
    .unwrap();
    let day: jiff::Timestamp = "2026-03-04T12:00:00Z".parse().unwrap();
    let night: jiff::Timestamp = "2026-03-04T23:00:00Z".parse().unwrap();
    for i in 0..events {
        let (action, target, ns, name) = match i % 4 {
            0 => ("restart-deployment", "staging/web", "staging", "web"),
            1 => ("scale-deployment", "staging/api", "staging", "api"),
            2 => ("restart-deployment", "prod/web", "prod", "web"),
            _ => ("describe-deployment", "staging/web", "staging", "web"),
        };
        let caller = match i % 3 {
            0 => Some(token.clone()),
            1 => Some("ops-agent".to_owned()),
            _ => None,
        };
        let mut params = serde_json::json!({"namespace": ns, "deployment": name});
        if action == "scale-deployment" {
            params["replicas"] = serde_json::json!(3);
        }
        let req = CheckRequest {
            caller,
            target: Some(target.to_owned()),
            params: Some(params),
            ..CheckRequest::new(action)
        };
        let at = if i % 5 == 0 { night } else { day };
        safe.check_at(&req, Some(at));
    }
    drop(safe);
    let log = dir.join("audit/audit.jsonl");
    let bytes = std::fs::metadata(&log).unwrap().len();
    println!(
        "replay: wrote {events} events ({:.0} MB) in {:.1} s",
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    let mut config = load_config(&dir.join("agent-safe.yaml")).unwrap();
    config.policies = Some(dir.join("candidate"));
    let candidate = Snapshot::load(&config).unwrap();
    for run in 1..=3 {
        let started = Instant::now();
        let cpu = cpu_seconds();
        let mut changes = 0u64;
        let s = replay(
            std::slice::from_ref(&log),
            &EventFilter::default(),
            &candidate,
            |_| {
                changes += 1;
                ControlFlow::Continue(())
            },
        )
        .unwrap();
        let secs = started.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu;
        assert_eq!(s.replayed, events);
        println!(
            "replay: run {run}: {} events, {} changed, {:.2} s wall ({:.0} events/s), {:.2} s CPU ({:.0} events per CPU-second)",
            s.replayed,
            changes,
            secs,
            s.replayed as f64 / secs,
            cpu,
            s.replayed as f64 / cpu.max(0.001)
        );
    }
}
