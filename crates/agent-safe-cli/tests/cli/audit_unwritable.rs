//! The exit-code contract when the audit log cannot be written: the real
//! binary, against each way a log can be unwritable, answers DENY (exit 3)
//! with the decision on stdout carrying the cause — never a usage error
//! (exit 2) without a decision, never death by signal.
//!
//! Tests may run as root, which ignores directory permissions, so the
//! writes are made to fail in ways that hold for root too: a lock held by
//! another process, the log path being a directory, a file in the way of
//! the log's directory or lock file, and `ulimit -f` (RLIMIT_FSIZE).

use std::fs::File;
use std::process::Command;

use serde_json::Value;

use crate::{AT, Project, bin};

const WEB: &str = r#"{"namespace":"staging","deployment":"web"}"#;

fn check_args() -> Vec<&'static str> {
    vec![
        "check",
        "restart-deployment",
        "--target",
        "staging/web",
        "--caller",
        "ops-agent",
        "--params",
        WEB,
        "--at",
        AT,
        "--output",
        "json",
    ]
}

/// The fixture with a short lock timeout, so a held lock fails fast.
fn project() -> Project {
    let p = Project::fixture();
    let config = p.read("agent-safe.yaml").replace(
        "  path: audit/audit.jsonl\n",
        "  path: audit/audit.jsonl\n  lock_timeout_ms: 300\n",
    );
    p.write("agent-safe.yaml", &config);
    p
}

/// Asserts exit 3 and a JSON deny decision whose reason names the log
/// failure and contains `cause`; returns the decision.
fn assert_denied(code: i32, out: &str, err: &str, cause: &str) -> Value {
    assert_eq!(code, 3, "stdout: {out}\nstderr: {err}");
    let d: Value = serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(d["result"], "deny", "{d}");
    assert_eq!(d["policy_matched"], Value::Null, "{d}");
    assert_eq!(d["audit_id"], Value::Null, "{d}");
    let reason = d["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("audit log unavailable, failing closed"),
        "{reason}"
    );
    assert!(reason.contains(cause), "`{cause}` not in: {reason}");
    // The rest of the decision is still there: what was asked, about what.
    assert_eq!(d["action"], "restart-deployment");
    assert_eq!(d["target"], "staging/web");
    d
}

/// `sh -c 'ulimit -f BLOCKS; exec agent-safe ARGS'` in the project: the
/// binary itself must survive SIGXFSZ (the shell does not ignore it).
fn run_with_fsize_limit(p: &Project, blocks: u32, args: &[&str]) -> (i32, String, String) {
    let out = Command::new("sh")
        .current_dir(&p.dir)
        .arg("-c")
        .arg(format!("ulimit -f {blocks} && exec \"$0\" \"$@\""))
        .arg(bin())
        .args(args)
        .env_remove("AGENT_SAFE_CONFIG")
        .env_remove("AGENT_SAFE_CALLER")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn quarantine_files(p: &Project) -> Vec<String> {
    std::fs::read_dir(p.dir.join("audit"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".quarantine-"))
        .collect()
}

#[test]
fn lock_held_by_another_process_denies_check_and_plan() {
    let p = project();
    // Log once so the lock file exists, then hold it from this process.
    let (code, out, err) = p.run(&check_args());
    assert_eq!(code, 0, "{out}{err}");
    let lock = File::options()
        .read(true)
        .write(true)
        .open(p.dir.join("audit/audit.jsonl.lock"))
        .unwrap();
    lock.lock().unwrap();
    let before = p.read("audit/audit.jsonl");

    let (code, out, err) = p.run(&check_args());
    assert_denied(code, &out, &err, "waiting for the lock");
    assert!(err.is_empty(), "{err}");

    p.write(
        "plan.yaml",
        "caller: ops-agent\nsteps:\n  - action: restart-deployment\n    target: staging/web\n    params: {namespace: staging, deployment: web}\n",
    );
    let (code, out, err) = p.run(&["check-plan", "plan.yaml", "--at", AT, "--output", "json"]);
    assert_eq!(code, 3, "{out}{err}");
    let plan: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan["result"], "deny");
    let step = &plan["steps"][0];
    assert_eq!(step["result"], "deny");
    assert!(
        step["reason"]
            .as_str()
            .unwrap()
            .contains("waiting for the lock"),
        "{step}"
    );

    // The text form says it too, and does not claim there is no log.
    let mut args = check_args();
    args.truncate(args.len() - 2);
    let (code, out, _) = p.run(&args);
    assert_eq!(code, 3);
    assert!(out.starts_with("DENY  audit log unavailable"), "{out}");
    assert!(!out.contains("no audit log configured"), "{out}");

    lock.unlock().unwrap();
    assert_eq!(p.read("audit/audit.jsonl"), before, "nothing was written");
    let (code, _, _) = p.run(&check_args());
    assert_eq!(code, 0, "the lock is free again");
}

#[test]
fn log_path_is_a_directory() {
    let p = project();
    std::fs::create_dir_all(p.dir.join("audit/audit.jsonl")).unwrap();
    let (code, out, err) = p.run(&check_args());
    assert_denied(code, &out, &err, "Is a directory");
}

#[test]
fn log_directory_cannot_be_created() {
    // A read-only place: a regular file where the log's directory should be
    // (root ignores directory permissions, not this).
    let p = project();
    p.write("audit", "not a directory\n");
    let (code, out, err) = p.run(&check_args());
    assert_denied(code, &out, &err, "create directory");
}

#[test]
fn lock_file_cannot_be_created() {
    let p = project();
    std::fs::create_dir_all(p.dir.join("audit/audit.jsonl.lock")).unwrap();
    let (code, out, err) = p.run(&check_args());
    assert_denied(code, &out, &err, "open lock file");
}

#[test]
fn file_size_limit_denies_instead_of_killing_the_process() {
    let p = project();
    std::fs::create_dir_all(p.dir.join("audit")).unwrap();
    // One 512-byte block: the event line (~700 bytes) does not fit.
    let (code, out, err) = run_with_fsize_limit(&p, 1, &check_args());
    assert_denied(code, &out, &err, "File too large");
    assert_eq!(
        std::fs::metadata(p.dir.join("audit/audit.jsonl"))
            .unwrap()
            .len(),
        0,
        "the partial line was cut back"
    );
    // With room, the same check is allowed and logged.
    let (code, out, err) = p.run(&check_args());
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = p.run(&["audit", "verify"]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn torn_tail_that_cannot_be_quarantined_denies_and_leaves_no_quarantine_file() {
    let p = project();
    let (code, _, _) = p.run(&check_args());
    assert_eq!(code, 0);
    let mut log = p.read("audit/audit.jsonl");
    log.push_str("{\"action\":\"restart-dep");
    p.write("audit/audit.jsonl", &log);
    // No byte may be written: the quarantine copy fails.
    let (code, out, err) = run_with_fsize_limit(&p, 0, &check_args());
    assert_denied(code, &out, &err, "File too large");
    assert_eq!(p.read("audit/audit.jsonl"), log, "the torn bytes stay");
    assert_eq!(quarantine_files(&p), Vec::<String>::new());
    // With room, the repair happens and is recorded.
    let (code, out, err) = p.run(&check_args());
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(quarantine_files(&p).len(), 1);
    let (code, out, _) = p.run(&["audit", "verify"]);
    assert_eq!(code, 0, "{out}");
}
