//! Logs written by an earlier build (schema v1, without `caller_identity`,
//! `snapshot` and `shadow`) stay readable, verifiable, appendable and
//! replayable; a v2 writer continues their chain.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod audit_support;
mod common;

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use agent_safe_core::audit::{
    AuditConfig, AuditEvent, AuditLog, CallerIdentity, CallerMethod, EventFilter, GENESIS_HASH,
    ProblemKind, read_events, verify,
};
use agent_safe_core::replay::replay;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The canonical line of `ev` with its hash computed (as any verifier would:
/// SHA-256 of the JCS form without `hash`).
fn sealed_line(ev: &mut AuditEvent) -> String {
    ev.hash = "0".repeat(64);
    let mut value: Value = serde_json::from_str(&ev.to_line().unwrap()).unwrap();
    value.as_object_mut().unwrap().remove("hash");
    let jcs = serde_json_canonicalizer::to_vec(&value).unwrap();
    ev.hash = hex::encode(Sha256::digest(&jcs));
    ev.to_line().unwrap()
}

/// A v1 log of `n` events, written as a v1 build wrote them.
fn write_v1_log(dir: &Path, n: u64) -> PathBuf {
    let scratch = dir.join("scratch.jsonl");
    let log = AuditLog::open(AuditConfig::new(&scratch)).unwrap();
    for i in 0..n {
        log.append(audit_support::event(i)).unwrap();
    }
    drop(log);
    let events = read_events(&[scratch], &EventFilter::default(), None).unwrap();
    let mut prev = GENESIS_HASH.to_owned();
    let mut text = String::new();
    for mut ev in events {
        ev.v = 1;
        ev.caller_identity = None;
        ev.snapshot = None;
        ev.shadow = None;
        ev.prev_hash = prev;
        let line = sealed_line(&mut ev);
        prev = ev.hash.clone();
        text.push_str(&line);
        text.push('\n');
    }
    let path = dir.join("old").join("audit.jsonl");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_v1_log_verifies_reads_and_continues_as_v2() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_v1_log(dir.path(), 40);
    let r = verify(std::slice::from_ref(&path));
    assert!(r.problem.is_none(), "{:?}", r.problem);
    assert_eq!(r.events, 40);
    let first = std::fs::read_to_string(&path).unwrap();
    assert!(first.lines().all(|l| l.ends_with(",\"v\":1}")));
    assert!(!first.contains("caller_identity"));

    // A v2 writer appends to it: the chain goes on, versions mixed.
    let log = AuditLog::open(AuditConfig::new(&path)).unwrap();
    for i in 40..50 {
        let mut ev = audit_support::event(i);
        ev.caller_identity = Some(CallerIdentity {
            method: CallerMethod::Token,
            kid: Some("k1".into()),
            roles: vec!["deployer".into()],
            groups: vec![],
            // Half of them from a ServiceAccount token: the key is present
            // only then.
            kubernetes: (i % 2 == 0).then(|| agent_safe_core::audit::KubernetesCaller {
                namespace: "agents".into(),
                pod: Some("deployer-7d9f-abcde".into()),
                pod_uid: Some("0b1c".into()),
                service_account: "deployer".into(),
                service_account_uid: None,
            }),
        });
        ev.snapshot = Some("sha256:00".into());
        log.append(ev).unwrap();
    }
    drop(log);
    let r = verify(std::slice::from_ref(&path));
    assert!(r.problem.is_none(), "{:?}", r.problem);
    assert_eq!(r.events, 50);

    let events = read_events(std::slice::from_ref(&path), &EventFilter::default(), None).unwrap();
    assert_eq!(events.iter().filter(|e| e.v == 1).count(), 40);
    assert!(events[..40].iter().all(|e| e.caller_identity.is_none()));
    assert_eq!(events[45].v, 2);
    assert_eq!(
        events[45].caller_identity.as_ref().unwrap().roles,
        vec!["deployer".to_owned()]
    );
    // Every event reads back to its exact line, whatever its version.
    let text = std::fs::read_to_string(&path).unwrap();
    for (ev, line) in events.iter().zip(text.lines()) {
        assert_eq!(ev.to_line().unwrap(), line);
    }

    // Replay counts the v1 decisions and flags their changes.
    let snap = common::snapshot("rules: []\n");
    let mut flagged = 0;
    let mut unflagged = 0;
    let s = replay(
        std::slice::from_ref(&path),
        &EventFilter::default(),
        &snap,
        |c| {
            if c.legacy {
                flagged += 1;
            } else {
                unflagged += 1;
            }
            ControlFlow::Continue(())
        },
    )
    .unwrap();
    assert_eq!((s.replayed, s.legacy), (50, 40));
    assert!(flagged > 0 && unflagged > 0);
    assert_eq!(flagged + unflagged, s.changed);
}

#[test]
fn v2_fields_on_a_v1_line_or_missing_from_a_v2_line_are_caught() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_v1_log(dir.path(), 3);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let check = |mutated: String, what: &str| {
        let mut all: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
        all[1] = mutated;
        std::fs::write(&path, all.join("\n") + "\n").unwrap();
        let r = verify(std::slice::from_ref(&path));
        let p = r.problem.unwrap_or_else(|| panic!("{what}: not caught"));
        assert_eq!(p.line, Some(2), "{what}");
        assert!(
            matches!(
                p.kind,
                ProblemKind::NotCanonical | ProblemKind::Hash | ProblemKind::Version
            ),
            "{what}: {:?}",
            p.kind
        );
    };
    check(
        lines[1].replacen(
            "\"caller\":\"agent-1\",",
            "\"caller\":\"agent-1\",\"caller_identity\":null,",
            1,
        ),
        "v1 line with caller_identity",
    );
    check(
        lines[1].replacen(",\"v\":1}", ",\"v\":2}", 1),
        "v2 line without the v2 fields",
    );
    check(
        lines[1].replacen(",\"v\":1}", ",\"v\":3}", 1),
        "unknown version",
    );
}
