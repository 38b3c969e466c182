//! Evaluation latency: 20 actions × 200 rules × 10k targets, and 10k rules.
//!
//! `cargo bench -p agent-safe-core --bench engine`. Numbers go in
//! docs/ARCHITECTURE.md (Performance).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::PathBuf;

use agent_safe_core::engine::{CallerInput, Request, Snapshot, SnapshotSources};
use agent_safe_core::identity::{Caller, IdentityConfig};
use agent_safe_core::load::{SourceFile, parse_inventory, parse_policy};
use agent_safe_core::registry::Registry;
use criterion::{Criterion, criterion_group, criterion_main};
use jiff::Timestamp;

const VERBS: &[&str] = &["restart", "scale", "pause", "resume", "inspect"];
const KINDS: &[&str] = &["deployment", "statefulset", "daemonset", "job"];
const ENVS: &[&str] = &["prod", "staging", "dev", "qa"];
const RISKS: &[&str] = &["low", "medium", "high", "critical"];
const SENS: &[&str] = &["public", "internal", "restricted", "critical"];
const DECISIONS: &[&str] = &["allow", "require_approval", "deny"];

fn src(name: &str, text: String) -> SourceFile {
    SourceFile {
        path: PathBuf::from(name),
        text,
    }
}

/// 20 actions: verb × kind, each bound to namespace/name params.
fn actions() -> Vec<SourceFile> {
    let mut out = Vec::new();
    for (i, verb) in VERBS.iter().enumerate() {
        for (j, kind) in KINDS.iter().enumerate() {
            let name = format!("{verb}-{kind}");
            let text = format!(
                "name: {name}\nversion: \"1.0.0\"\ndescription: bench\nparameters:\n  - {{name: namespace, type: string, constraints: {{pattern: \"[a-z0-9-]+\", max_length: 63}}}}\n  - {{name: name, type: string, constraints: {{max_length: 253}}}}\n  - {{name: replicas, type: integer, required: false, constraints: {{min_value: 0, max_value: 100}}}}\nrisk_class: {}\ntarget_types: [k8s-{kind}]\ntarget_params: {{namespace: namespace, name: name}}\n",
                RISKS[(i + j) % 4]
            );
            out.push(src(&format!("{name}.yaml"), text));
        }
    }
    out
}

fn inventory(n: usize) -> String {
    let mut s = String::from("targets:\n");
    for i in 0..n {
        let env = ENVS[i % 4];
        let kind = KINDS[i % 4];
        let _ = writeln!(
            s,
            "  - {{id: {env}/app-{i}, type: k8s-{kind}, environment: {env}, sensitivity: {}, labels: {{tier: t{}, team: team-{}}}, namespace: {env}, name: app-{i}}}",
            SENS[i % 4],
            i % 3,
            i % 17
        );
    }
    s
}

/// `n` rules spread over the actions with varied selectors; a broad
/// low-priority fallback at the end.
fn policy(n: usize) -> String {
    let mut s = String::from("rules:\n");
    for i in 0..n {
        let verb = VERBS[i % VERBS.len()];
        let kind = KINDS[(i / VERBS.len()) % KINDS.len()];
        let actions = if i % 10 == 0 {
            format!("[{verb}-*]")
        } else {
            format!("[{verb}-{kind}]")
        };
        let env = ENVS[i % 4];
        let _ = writeln!(
            s,
            "  - name: rule-{i}\n    priority: {}\n    match:\n      actions: {actions}\n      targets: {{environments: [{env}], labels: {{team: team-{}}}}}\n      callers: {{agent_ids: [agent-{}-*], roles: [role-{}]}}\n      risk_classes: [{}, {}]\n{}    decision: {}",
            i % 5,
            i % 17,
            i % 7,
            i % 3,
            RISKS[i % 4],
            RISKS[(i + 1) % 4],
            if i % 9 == 0 {
                "      time_windows: [{days: [mon, tue, wed, thu, fri], start: \"08:00\", end: \"18:00\", timezone: Europe/London}]\n"
            } else {
                ""
            },
            DECISIONS[i % 3]
        );
    }
    s.push_str("  - name: fallback\n    priority: -10\n    decision: deny\n");
    s
}

fn snapshot(rules: usize, targets: usize) -> Snapshot {
    let registry = Registry::from_sources(false, &actions()).unwrap();
    // Split into files of at most 1000 rules (the loader's per-file node budget).
    let text = policy(rules);
    let mut all = Vec::new();
    let body: Vec<&str> = text.lines().skip(1).collect();
    let mut chunk = String::from("rules:\n");
    let mut count = 0;
    for line in body {
        if line.starts_with("  - name:") {
            count += 1;
            if count % 1000 == 0 {
                all.extend(
                    parse_policy(&src(
                        &format!("policy-{count}.yaml"),
                        std::mem::replace(&mut chunk, String::from("rules:\n")),
                    ))
                    .unwrap(),
                );
            }
        }
        chunk.push_str(line);
        chunk.push('\n');
    }
    all.extend(parse_policy(&src("policy-last.yaml", chunk)).unwrap());
    let rules = all;
    let targets = parse_inventory(&src("inventory.yaml", inventory(targets))).unwrap();
    Snapshot::compile(SnapshotSources {
        registry,
        rules,
        targets,
        identity: IdentityConfig::default(),
        settings: Default::default(),
    })
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let now: Timestamp = "2026-01-07T10:00:00Z".parse().unwrap();
    let caller = Caller {
        agent_id: "agent-3-x".into(),
        agent_name: None,
        roles: vec!["role-1".into()],
        groups: vec![],
        signed: true,
        kubernetes: None,
    };
    let params = serde_json::json!({"namespace": "staging", "name": "app-1001", "replicas": 3});
    // Target 1001 is staging, k8s-statefulset.
    let req = Request {
        action: "restart-statefulset",
        target: Some("staging/app-1001"),
        caller: CallerInput::Verified(&caller),
        params: Some(&params),
        explain: false,
    };
    for (label, rules) in [("200 rules", 200), ("10k rules", 10_000)] {
        let snap = snapshot(rules, 10_000);
        let d = snap.evaluate(&req, now, None);
        eprintln!(
            "{label}: {} by {:?}: {}",
            d.result, d.policy_matched, d.reason
        );
        c.bench_function(&format!("evaluate/20 actions, {label}, 10k targets"), |b| {
            b.iter(|| black_box(snap.evaluate(black_box(&req), now, None)))
        });
    }
    let snap = snapshot(200, 10_000);
    let resolve = Request {
        target: None,
        ..req
    };
    c.bench_function("evaluate/target resolved from params, 200 rules", |b| {
        b.iter(|| black_box(snap.evaluate(black_box(&resolve), now, None)))
    });
}

/// What a one-shot `agent-safe check` pays before evaluating: loading the
/// embedded catalogue.
fn load(c: &mut Criterion) {
    c.bench_function("load/built-in catalogue (29 actions)", |b| {
        b.iter(|| black_box(Registry::builtin().unwrap()))
    });
}

criterion_group!(benches, bench, load);
criterion_main!(benches);
