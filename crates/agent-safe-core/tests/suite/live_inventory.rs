//! The live inventory (`AgentSafe::set_live_inventory`): each update is a
//! whole new snapshot, so a reader sees the old inventory or the new one,
//! never part of each; file reloads keep the live targets.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use agent_safe_core::config::load_config;
use agent_safe_core::model::{Origin, Sensitivity, Target};
use agent_safe_core::{AgentSafe, CheckRequest, DecisionResult};

fn target(id: &str) -> Target {
    let (ns, name) = id.split_once('/').unwrap();
    Target {
        id: id.to_owned(),
        target_type: "k8s-deployment".into(),
        environment: "staging".into(),
        sensitivity: Sensitivity::Internal,
        owner: None,
        labels: Default::default(),
        cluster: None,
        namespace: Some(ns.into()),
        name: Some(name.into()),
        origin: Origin::default(),
    }
}

fn project() -> (tempfile::TempDir, AgentSafe) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("agent-safe.yaml"),
        "policies: policies\ninventory: inventory.yaml\naudit: {enabled: false}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("inventory.yaml"), "targets: []\n").unwrap();
    std::fs::create_dir(dir.path().join("policies")).unwrap();
    std::fs::write(
        dir.path().join("policies/read.yaml"),
        "rules:\n  - name: read-staging\n    match:\n      actions: [describe-deployment]\n      targets: {environments: [staging]}\n    decision: allow\n    reason: reads\n",
    )
    .unwrap();
    let config = load_config(&dir.path().join("agent-safe.yaml")).unwrap();
    let safe = AgentSafe::from_config(config).unwrap();
    (dir, safe)
}

fn describe(safe: &AgentSafe, id: &str) -> DecisionResult {
    let (ns, name) = id.split_once('/').unwrap();
    let req: CheckRequest = serde_json::from_value(serde_json::json!({
        "action": "describe-deployment", "target": id, "caller": "reader",
        "params": {"namespace": ns, "deployment": name},
    }))
    .unwrap();
    safe.check(&req).result
}

#[test]
fn live_targets_reach_decisions_and_survive_a_file_reload() {
    let (_dir, safe) = project();
    assert_eq!(describe(&safe, "staging/x"), DecisionResult::Deny);
    safe.set_live_inventory(vec![target("staging/x")]).unwrap();
    assert_eq!(describe(&safe, "staging/x"), DecisionResult::Allow);
    safe.reload().unwrap();
    assert_eq!(
        describe(&safe, "staging/x"),
        DecisionResult::Allow,
        "a file reload keeps the live inventory"
    );
    safe.set_live_inventory(vec![]).unwrap();
    assert_eq!(describe(&safe, "staging/x"), DecisionResult::Deny);
}

#[test]
fn readers_never_see_half_an_update() {
    let (_dir, safe) = project();
    let safe = Arc::new(safe);
    // A: 2,000 targets, B: none. Every snapshot a reader holds must have all
    // of A or nothing.
    let a: Vec<Target> = (0..2000)
        .map(|i| target(&format!("staging/d{i:04}")))
        .collect();
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (safe, done, a) = (Arc::clone(&safe), Arc::clone(&done), a.clone());
        std::thread::spawn(move || {
            for i in 0..40 {
                let next = if i % 2 == 0 { a.clone() } else { Vec::new() };
                safe.set_live_inventory(next).unwrap();
            }
            done.store(true, Ordering::Release);
        })
    };
    let mut seen = [0usize; 2];
    while !done.load(Ordering::Acquire) {
        let snap = safe.snapshot();
        let n = snap.inventory.len();
        assert!(n == 0 || n == 2000, "a snapshot with {n} targets");
        if n == 2000 {
            assert!(snap.inventory.get("staging/d0000").is_some());
            assert!(snap.inventory.get("staging/d1999").is_some());
        }
        seen[usize::from(n > 0)] += 1;
    }
    writer.join().unwrap();
    assert!(seen[0] + seen[1] > 0);
}
