//! `audit checkpoint`, `audit prove`, `audit verify-proof`, `audit key` and
//! `audit verify --checkpoint`, with the real binary on real logs.

use crate::{AT, Project, snap};

/// The fixture project with checkpoints every two events (and, when given,
/// size rotation); returns the verifier key.
fn with_checkpoints(p: &Project, max_bytes: Option<u64>) -> String {
    let cfg = p.read("agent-safe.yaml");
    let rotation = max_bytes
        .map(|b| format!("  rotation:\n    max_bytes: {b}\n"))
        .unwrap_or_default();
    let cfg = cfg.replace(
        "audit:\n  path: audit/audit.jsonl\n",
        &format!(
            "audit:\n  path: audit/audit.jsonl\n{rotation}  checkpoint:\n    origin: test.example/cli\n    key_file: secrets/checkpoint.key\n    every_events: 2\n"
        ),
    );
    p.write("agent-safe.yaml", &cfg);
    let (code, out, err) = p.run(&["audit", "key", "--generate"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("created"), "{err}");
    let key = out.trim().to_string();
    assert!(key.starts_with("test.example/cli+"), "{key}");
    // Printing it again gives the same key; generating again is refused.
    assert_eq!(p.run(&["audit", "key"]).1.trim(), key);
    assert_eq!(p.run(&["audit", "key", "--generate"]).0, 1);
    key
}

/// `n` checks; returns their audit ids.
fn checks(p: &Project, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let params = format!(r#"{{"namespace":"staging","deployment":"web{i}"}}"#);
            let (code, out, err) = p.run(&[
                "check",
                "restart-deployment",
                "--target",
                "staging/web",
                "--caller",
                "ops-agent",
                "--params",
                &params,
                "--at",
                AT,
                "--output",
                "json",
            ]);
            assert!(matches!(code, 0 | 3 | 4), "{err}");
            let d: serde_json::Value = serde_json::from_str(&out).unwrap();
            d["audit_id"].as_str().unwrap().to_string()
        })
        .collect()
}

fn keep_checkpoint(p: &Project, name: &str) -> String {
    // `check` makes no checkpoint at exit (one per check would be waste):
    // `--new` signs one covering the events so far.
    let (code, note, err) = p.run(&["audit", "checkpoint", "--new"]);
    assert_eq!(code, 0, "{err}");
    p.write(name, &note);
    note
}

#[test]
fn an_untouched_log_verifies_against_its_checkpoints_and_proofs_check_out() {
    let p = Project::fixture();
    let key = with_checkpoints(&p, None);
    let ids = checks(&p, 5);
    let note = keep_checkpoint(&p, "kept/a");
    assert!(note.starts_with("test.example/cli\n"), "{note}");
    let size: u64 = note.lines().nth(1).unwrap().parse().unwrap();
    assert_eq!(size, 5, "a clean exit leaves a checkpoint of every event");
    checks(&p, 2);
    keep_checkpoint(&p, "kept/b");
    let (code, out, err) = p.run(&[
        "audit",
        "verify",
        "--checkpoint",
        "kept/a",
        "kept/b",
        "audit/audit.jsonl.checkpoints",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("ok: checkpoint kept/a: the log contains its tree of 5 events"),
        "{out}"
    );

    // A proof against the kept checkpoint, checked offline with the key.
    let (code, proof, err) = p.run(&["audit", "prove", &ids[2], "--checkpoint", "kept/a"]);
    assert_eq!(code, 0, "{err}");
    p.write("proof.json", &proof);
    p.write("audit.pub", &format!("{key}\n"));
    let (code, out, err) = p.run(&["audit", "verify-proof", "proof.json", "--key", "audit.pub"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("ok: event "), "{out}");
    let (code, out, _) = p.run(&[
        "audit",
        "verify-proof",
        "proof.json",
        "--checkpoint",
        "kept/a",
        "--key",
        &key,
    ]);
    assert_eq!(code, 0, "{out}");
    // Against another checkpoint: told how to make the right proof.
    let (code, out, _) = p.run(&[
        "audit",
        "verify-proof",
        "proof.json",
        "--checkpoint",
        "kept/b",
        "--key",
        &key,
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("--checkpoint FILE"), "{out}");
    // A changed decision in the proof does not verify.
    let forged = proof.replacen("ops-agent", "good-agent", 1);
    p.write("forged.json", &forged);
    let (code, out, _) = p.run(&["audit", "verify-proof", "forged.json", "--key", &key]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not in that log"), "{out}");
    // Another key: the signature does not verify.
    let other = key.replacen("test.example/cli", "test.example/other", 1);
    let (code, _, err) = p.run(&["audit", "verify-proof", "proof.json", "--key", &other]);
    assert_eq!(code, 2, "a key whose id does not match is refused: {err}");
}

#[test]
fn verify_checkpoint_detects_removed_last_events() {
    let p = Project::fixture();
    with_checkpoints(&p, None);
    checks(&p, 4);
    keep_checkpoint(&p, "kept/cp");
    let log = p.read("audit/audit.jsonl");
    let mut lines: Vec<&str> = log.lines().collect();
    lines.pop();
    p.write("audit/audit.jsonl", &(lines.join("\n") + "\n"));
    // The chain alone does not see it (and points at the checkpoints) ...
    snap!(
        p,
        "audit_verify_with_checkpoints_beside",
        &["audit", "verify"]
    );
    // ... the checkpoint does.
    snap!(
        p,
        "audit_verify_checkpoint_truncated",
        &["audit", "verify", "--checkpoint", "kept/cp"]
    );
}

#[test]
fn verify_checkpoint_detects_a_full_rewrite() {
    let p = Project::fixture();
    with_checkpoints(&p, None);
    checks(&p, 3);
    keep_checkpoint(&p, "kept/cp");
    // Another project's log of the same length: a valid chain, other events.
    let q = Project::fixture();
    let (code, _, _) = q.run(&["audit", "verify"]);
    assert_eq!(code, 2, "no log yet");
    with_checkpoints(&q, None);
    checks(&q, 3);
    assert_eq!(
        p.read("audit/audit.jsonl").lines().count(),
        q.read("audit/audit.jsonl").lines().count()
    );
    p.write("audit/audit.jsonl", &q.read("audit/audit.jsonl"));
    assert_eq!(p.run(&["audit", "verify"]).0, 0);
    let (code, out, _) = p.run(&["audit", "verify", "--checkpoint", "kept/cp", "-o", "json"]);
    assert_eq!(code, 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ok"], false);
    let problem = v["checkpoints"]["checkpoints"][0]["problem"]
        .as_str()
        .unwrap();
    assert!(problem.contains("the log was rewritten"), "{problem}");
}

#[test]
fn verify_checkpoint_detects_deleted_newest_files() {
    let p = Project::fixture();
    with_checkpoints(&p, Some(2000));
    checks(&p, 8);
    keep_checkpoint(&p, "kept/cp");
    let mut rotated: Vec<_> = std::fs::read_dir(p.dir.join("audit"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|f| {
            let n = f.file_name().unwrap().to_str().unwrap();
            n.starts_with("audit.0") && n.ends_with(".jsonl")
        })
        .collect();
    rotated.sort();
    assert!(rotated.len() >= 2, "{rotated:?}");
    // The active file and the newest rotated file go.
    std::fs::remove_file(p.dir.join("audit/audit.jsonl")).unwrap();
    std::fs::remove_file(rotated.last().unwrap()).unwrap();
    assert_eq!(p.run(&["audit", "verify"]).0, 0);
    let (code, out, _) = p.run(&["audit", "verify", "--checkpoint", "kept/cp"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("removed (truncated log or deleted newest file)"),
        "{out}"
    );
}

#[test]
fn checkpoint_commands_without_configuration_say_how_to_set_it_up() {
    let p = Project::fixture();
    snap!(
        p,
        "audit_checkpoint_not_configured",
        &["audit", "checkpoint"]
    );
}
