//! Helpers shared by the audit log integration tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    dead_code,
    missing_docs
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use agent_safe_core::audit::{AuditConfig, AuditLog, Clock, Durability, NewEvent, Rotation};
use serde_json::json;

/// A decision event with some content that depends on `i`.
pub fn event(i: u64) -> NewEvent {
    let mut ev = NewEvent::decision();
    ev.action = Some(format!("restart-deployment-{}", i % 3));
    ev.action_version = Some("1.0.0".into());
    ev.target = Some(format!("staging/api-{}", i % 5));
    ev.caller = Some(format!("agent-{}", i % 2));
    ev.params = json!({"namespace": "staging", "replicas": i, "ratio": 0.5, "tags": ["a", "b"], "deep": {"z": 1, "a": null}});
    ev.decision = Some(["allow", "deny", "require_approval"][(i % 3) as usize].into());
    ev.reason = Some(format!("reason \"{i}\"\n"));
    ev.policy_matched = if i.is_multiple_of(2) {
        Some("rule-a".into())
    } else {
        None
    };
    ev.risk_class = Some("medium".into());
    ev.effective_risk = Some("high".into());
    ev.correlation_id = Some(format!("corr-{}", i / 4));
    ev.context = json!({"request": i, "é": "ü"});
    ev.plan_step = if i.is_multiple_of(4) {
        Some((i / 4) as u32)
    } else {
        None
    };
    ev
}

pub fn config(path: &Path) -> AuditConfig {
    AuditConfig::new(path)
}

pub fn config_rot(path: &Path, max_bytes: u64) -> AuditConfig {
    AuditConfig {
        path: path.to_path_buf(),
        durability: Durability::Process,
        rotation: Rotation {
            max_bytes: Some(max_bytes),
            daily: false,
        },
        lock_timeout: std::time::Duration::from_secs(30),
    }
}

/// A clock the test moves by hand (seconds since the epoch).
pub fn manual_clock(start: i64) -> (Clock, Arc<AtomicI64>) {
    let secs = Arc::new(AtomicI64::new(start));
    let s = Arc::clone(&secs);
    let clock: Clock =
        Arc::new(move || jiff::Timestamp::from_second(s.load(Ordering::SeqCst)).unwrap());
    (clock, secs)
}

/// Writes `n` events to a log at `path`.
pub fn write_log(cfg: AuditConfig, n: u64) -> AuditLog {
    let log = AuditLog::open(cfg).unwrap();
    for i in 0..n {
        log.append(event(i)).unwrap();
    }
    log
}

/// All regular files in `dir`, sorted by name.
pub fn dir_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

/// Runs the `#[ignore]`d test `name` of `module` (its `module_path!()`) of
/// this same test binary as a child process with `envs`, and returns the
/// command (not started).
pub fn child(module: &str, name: &str, envs: &[(&str, String)]) -> Command {
    let mut cmd = crate::own_process::command(module, name);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

/// The rest of each line of `out` after `tag` (the test harness may print
/// `test name ... ` on the same line before a child's first output).
pub fn tagged<'a>(out: &'a str, tag: &str) -> Vec<&'a str> {
    out.lines()
        .filter_map(|l| l.find(tag).map(|i| &l[i + tag.len()..]))
        .collect()
}
