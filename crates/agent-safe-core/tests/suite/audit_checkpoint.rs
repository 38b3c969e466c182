//! Signed checkpoints and proofs on real logs: what `verify --checkpoint`
//! detects, proofs from the tree store, crash-safety of the store.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod audit_support;

use std::path::{Path, PathBuf};

use agent_safe_core::audit::{
    AuditLog, Checkpoint, CheckpointConfig, CheckpointFailure, NoteVerifier, VerifyOptions,
    checkpoints_path, create_signer_key, log_files, read_checkpoints, tree_dir, verify_checkpoints,
    verify_with_checkpoints,
};
use audit_support::{config, config_rot, event};

const ORIGIN: &str = "test.example/audit";

fn cp_config(dir: &Path, every: u64) -> CheckpointConfig {
    let key_file = dir.join("checkpoint.key");
    if !key_file.exists() {
        create_signer_key(&key_file, ORIGIN).unwrap();
    }
    CheckpointConfig {
        origin: ORIGIN.into(),
        key_file,
        every_events: every,
        every_seconds: 0,
        command: None,
        on_shutdown: true,
    }
}

fn verifier(log: &AuditLog) -> NoteVerifier {
    log.checkpoint_verifier().unwrap().clone()
}

fn checkpoints(active: &Path, v: &NoteVerifier) -> Vec<(String, Checkpoint)> {
    read_checkpoints(&checkpoints_path(active), v)
        .unwrap()
        .into_iter()
        .enumerate()
        .map(|(i, (c, _))| (format!("#{}", i + 1), c))
        .collect()
}

/// A log of `n` events with a checkpoint every `every`, closed cleanly.
fn log_with_checkpoints(
    dir: &Path,
    n: u64,
    every: u64,
    rot: Option<u64>,
) -> (PathBuf, NoteVerifier) {
    let path = dir.join("audit.jsonl");
    let cfg = match rot {
        Some(b) => config_rot(&path, b),
        None => config(&path),
    };
    let log = AuditLog::open_with_checkpoints(cfg, cp_config(dir, every)).unwrap();
    for i in 0..n {
        log.append(event(i)).unwrap();
    }
    let v = verifier(&log);
    drop(log);
    (path, v)
}

fn problems(active: &Path, cps: &[(String, Checkpoint)]) -> Vec<String> {
    let files = log_files(active).unwrap();
    let r = verify_checkpoints(&files, cps).unwrap();
    // The chain and the tree in one pass say the same about the tree.
    let opts = VerifyOptions::default();
    let (chain, one_pass) = verify_with_checkpoints(&files, &opts, cps).unwrap();
    assert_eq!(one_pass, r, "one pass and two passes disagree");
    assert_eq!(chain, agent_safe_core::audit::verify_with(&files, &opts));
    let mut out: Vec<String> = r
        .checkpoints
        .iter()
        .filter_map(|c| c.problem.clone())
        .collect();
    out.extend(r.problem);
    out
}

#[test]
fn an_untouched_log_verifies_against_every_checkpoint_it_emitted() {
    let dir = tempfile::tempdir().unwrap();
    let (path, v) = log_with_checkpoints(dir.path(), 95, 10, Some(4096));
    let cps = checkpoints(&path, &v);
    let sizes: Vec<u64> = cps.iter().map(|(_, c)| c.size).collect();
    assert!(rotations(&path) >= 3, "the test wants several files");
    for w in sizes.windows(2).take(sizes.len().saturating_sub(2)) {
        assert!(w[1] >= w[0] + 10, "{sizes:?}");
    }
    assert!(cps.len() >= 10, "{sizes:?}");
    let last = sizes.last().copied().unwrap();
    assert_eq!(last, audit_support_last_seq(&path));
    assert!(problems(&path, &cps).is_empty());
}

#[test]
fn one_pass_over_a_larger_log_checks_the_chain_and_every_checkpoint() {
    // Batches of thousands of lines are hashed on several threads.
    let dir = tempfile::tempdir().unwrap();
    let (path, v) = log_with_checkpoints(dir.path(), 3000, 250, Some(1 << 20));
    let cps = checkpoints(&path, &v);
    assert!(rotations(&path) >= 1);
    assert!(cps.len() >= 12);
    assert!(problems(&path, &cps).is_empty());
    // A broken chain: the tree is still checked over every line (a second
    // pass), and the one-pass answer is the same as before.
    let files = log_files(&path).unwrap();
    let active = files.last().unwrap();
    let mut l = lines(active);
    let k = l.len() / 2;
    l[k] = l[k].replace("\"caller\":\"", "\"caller\":\"x");
    std::fs::write(active, l.join("\n") + "\n").unwrap();
    let p = problems(&path, &cps);
    assert!(!p.is_empty());
    let (chain, _) = verify_with_checkpoints(&files, &VerifyOptions::default(), &cps).unwrap();
    assert!(!chain.ok());
}

fn rotations(path: &Path) -> u64 {
    log_files(path).unwrap().len() as u64 - 1
}

fn audit_support_last_seq(path: &Path) -> u64 {
    let events = agent_safe_core::audit::read_events(
        &log_files(path).unwrap(),
        &agent_safe_core::audit::EventFilter::default(),
        Some(1),
    )
    .unwrap();
    events[0].seq
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn removing_the_last_events_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let (path, v) = log_with_checkpoints(dir.path(), 25, 10, None);
    let cps = checkpoints(&path, &v);
    let mut l = lines(&path);
    l.truncate(l.len() - 1);
    std::fs::write(&path, l.join("\n") + "\n").unwrap();
    // The hash chain alone still verifies: only the checkpoint sees it.
    assert!(agent_safe_core::audit::verify(std::slice::from_ref(&path)).ok());
    let p = problems(&path, &cps);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].contains("its last event was removed"), "{p:?}");
}

/// Rewrites every event of a log (a new reason), recomputing every hash so
/// the chain verifies.
fn rewrite(path: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("audit.jsonl");
    let log = AuditLog::open(config(&fake)).unwrap();
    let n = lines(path).len() as u64;
    for i in 0..n {
        let mut ev = event(i);
        ev.reason = Some("nothing to see here".into());
        log.append(ev).unwrap();
    }
    drop(log);
    std::fs::copy(&fake, path).unwrap();
}

#[test]
fn a_full_rewrite_with_recomputed_hashes_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let (path, v) = log_with_checkpoints(dir.path(), 30, 10, None);
    let cps = checkpoints(&path, &v);
    rewrite(&path);
    assert!(agent_safe_core::audit::verify(std::slice::from_ref(&path)).ok());
    let p = problems(&path, &cps);
    assert_eq!(p.len(), cps.len(), "{p:?}");
    assert!(
        p.iter().all(|m| m.contains("the log was rewritten")),
        "{p:?}"
    );
}

#[test]
fn deleting_the_newest_files_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let (path, v) = log_with_checkpoints(dir.path(), 60, 10, Some(4096));
    let cps = checkpoints(&path, &v);
    let files = log_files(&path).unwrap();
    assert!(files.len() >= 3);
    // The active file and the newest rotated file go: what is left is a
    // valid chain that simply ends earlier.
    std::fs::remove_file(&files[files.len() - 1]).unwrap();
    std::fs::remove_file(&files[files.len() - 2]).unwrap();
    let rest = log_files(&path).unwrap();
    assert!(agent_safe_core::audit::verify(&rest).ok());
    let p = problems(&path, &cps);
    assert!(!p.is_empty());
    assert!(
        p.iter()
            .all(|m| m.contains("removed (truncated log or deleted newest file)")),
        "{p:?}"
    );
}

#[test]
fn proofs_verify_for_every_event_and_a_forged_one_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log =
        AuditLog::open_with_checkpoints(config_rot(&path, 8192), cp_config(dir.path(), 7)).unwrap();
    let receipts: Vec<_> = (0..40).map(|i| log.append(event(i)).unwrap()).collect();
    let v = verifier(&log);
    let note = log.checkpoint_now().unwrap();
    for r in &receipts {
        let proof = log.prove(&r.event_id, None).unwrap();
        assert_eq!(proof.seq, r.seq);
        let cp = proof.verify(&v, Some(&note)).unwrap();
        assert!(cp.size >= r.seq);
        // Against an older checkpoint too.
        let older = &read_checkpoints(&checkpoints_path(&path), &v).unwrap();
        if let Some((c, n)) = older.iter().find(|(c, _)| c.size >= r.seq) {
            let p = log.prove(&r.event_id, Some(n)).unwrap();
            assert_eq!(p.tree_size, c.size);
            p.verify(&v, None).unwrap();
        }
    }
    let mut forged = log.prove(&receipts[3].event_id, None).unwrap();
    forged.line = forged
        .line
        .replace("\"decision\":\"allow\"", "\"decision\":\"deny\"");
    assert!(forged.verify(&v, None).is_err());
    let mut forged = log.prove(&receipts[3].event_id, None).unwrap();
    forged.inclusion_path.swap(0, 1);
    assert!(forged.verify(&v, None).is_err());
    assert!(
        log.prove("019cb8b8-2263-7b5f-9acd-6c058a47620a", None)
            .is_err()
    );
    assert!(log.prove("../../etc", None).is_err());
}

#[test]
fn the_tree_store_is_rebuilt_when_missing_or_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open_with_checkpoints(config(&path), cp_config(dir.path(), 5)).unwrap();
    let receipts: Vec<_> = (0..33).map(|i| log.append(event(i)).unwrap()).collect();
    let v = verifier(&log);
    let good = log.prove(&receipts[10].event_id, None).unwrap();
    let tree = tree_dir(&path);
    // Removed entirely.
    std::fs::remove_dir_all(&tree).unwrap();
    assert_eq!(log.prove(&receipts[10].event_id, None).unwrap(), good);
    // A level file cut short, then garbage in the state.
    let l0 = tree.join("level-00");
    let len = std::fs::metadata(&l0).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&l0)
        .unwrap()
        .set_len(len - 40)
        .unwrap();
    assert_eq!(log.prove(&receipts[10].event_id, None).unwrap(), good);
    std::fs::write(tree.join("state.json"), b"{not json").unwrap();
    assert_eq!(log.prove(&receipts[10].event_id, None).unwrap(), good);
    // A flipped byte in a leaf the frontier does not cover: the prover
    // notices its own proof fails and says so instead of handing it out.
    let mut bytes = std::fs::read(&l0).unwrap();
    bytes[11 * 32] ^= 1;
    std::fs::write(&l0, &bytes).unwrap();
    let err = log
        .prove(&receipts[10].event_id, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not verify"), "{err}");
    good.verify(&v, None).unwrap();
}

#[test]
fn a_writer_refuses_to_sign_a_truncated_log_and_keeps_logging() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let (_, v) = log_with_checkpoints(dir.path(), 20, 5, None);
    let before = checkpoints(&path, &v).len();
    let mut l = lines(&path);
    l.truncate(l.len() - 3);
    std::fs::write(&path, l.join("\n") + "\n").unwrap();
    let log = AuditLog::open_with_checkpoints(config(&path), cp_config(dir.path(), 1)).unwrap();
    log.append(event(100)).unwrap();
    let stats = log.checkpoint_stats().unwrap();
    assert_eq!(stats.made, 0);
    assert!(stats.failures >= 1);
    let err = stats.last_error.unwrap();
    assert!(err.contains("events were removed"), "{err}");
    drop(log);
    assert_eq!(checkpoints(&path, &v).len(), before);
}

#[test]
fn checkpoint_command_gets_each_new_checkpoint_on_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let out = dir.path().join("kept");
    let mut cfg = cp_config(dir.path(), 0);
    cfg.command = Some(format!("cat >> '{}'", out.display()));
    let log = AuditLog::open_with_checkpoints(config(&path), cfg).unwrap();
    log.append(event(1)).unwrap();
    let note = log.checkpoint_now().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::fs::read_to_string(&out).unwrap_or_default() != note {
        assert!(
            std::time::Instant::now() < deadline,
            "command output never arrived"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    drop(log);
    // A failing command is counted, and the decisions go on.
    let mut cfg = cp_config(dir.path(), 1);
    cfg.command = Some("echo no witness >&2; exit 3".into());
    let log = AuditLog::open_with_checkpoints(config(&path), cfg).unwrap();
    log.append(event(2)).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while log.checkpoint_stats().unwrap().command_failures == 0 {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let err = log.checkpoint_stats().unwrap().last_error.unwrap();
    assert!(err.contains("no witness"), "{err}");
}

#[test]
fn consistency_proofs_link_every_pair_of_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open_with_checkpoints(config(&path), cp_config(dir.path(), 4)).unwrap();
    for i in 0..30 {
        log.append(event(i)).unwrap();
    }
    let v = verifier(&log);
    let notes: Vec<String> = read_checkpoints(&checkpoints_path(&path), &v)
        .unwrap()
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    assert!(notes.len() >= 5);
    for (i, a) in notes.iter().enumerate() {
        for b in &notes[i..] {
            let p = log.prove_consistency(a, Some(b)).unwrap();
            p.verify(&v).unwrap();
            let mut bad = p.clone();
            if let Some(h) = bad.consistency_path.first_mut() {
                h.replace_range(0..2, if h.starts_with("00") { "11" } else { "00" });
                assert!(bad.verify(&v).is_err());
            }
        }
        if i > 0 {
            assert!(log.prove_consistency(a, Some(&notes[0])).is_err());
        }
    }
    let p = log.prove_consistency(&notes[0], None).unwrap();
    p.verify(&v).unwrap();
}

/// The example checkpoint in docs/AUDIT-LOG.md is real: it verifies with the
/// verifier key printed beside it.
#[test]
fn the_documented_checkpoint_verifies() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/AUDIT-LOG.md"),
    )
    .unwrap();
    let start = doc.find("```text\nagent-safe.local/prod\n").unwrap() + "```text\n".len();
    let note = &doc[start..start + doc[start..].find("```").unwrap()];
    let key_at = doc.find("`agent-safe.local/prod+").unwrap() + 1;
    let key = &doc[key_at..key_at + doc[key_at..].find('`').unwrap()];
    let cp = Checkpoint::open(note, &NoteVerifier::parse(key).unwrap()).unwrap();
    assert_eq!(cp.size, 3);
}

/// A later event whose params carry `"event_id": <the id>` does not hide
/// the real event from `prove`, and a proof of a covered event reuses the
/// newest checkpoint instead of making one.
#[test]
fn prove_finds_the_event_itself_not_a_lookalike_in_params() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open_with_checkpoints(config(&path), cp_config(dir.path(), 3)).unwrap();
    let target = log.append(event(1)).unwrap();
    for i in 0..5 {
        let mut ev = event(10 + i);
        ev.params = serde_json::json!({"event_id": target.event_id, "seq": 1});
        log.append(ev).unwrap();
    }
    let made = log.checkpoint_stats().unwrap().made;
    let proof = log.prove(&target.event_id, None).unwrap();
    assert_eq!(proof.seq, target.seq);
    assert_eq!(
        proof.tree_size, 6,
        "the newest checkpoint (6 events) covers it"
    );
    assert_eq!(
        log.checkpoint_stats().unwrap().made,
        made,
        "no new checkpoint"
    );
    proof.verify(&verifier(&log), None).unwrap();
}

/// A FIFO where the key file should be is an error, not a hang.
#[test]
fn a_fifo_as_checkpoint_key_is_an_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("checkpoint.key");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let mut cfg = cp_config(dir.path(), 1);
    cfg.key_file = fifo;
    let err = AuditLog::open_with_checkpoints(config(&dir.path().join("audit.jsonl")), cfg)
        .unwrap_err()
        .to_string();
    assert!(err.contains("FIFO"), "{err}");
}

/// `prove` finds events by the time in their UUID v7 id (a binary search on
/// `timestamp`), across rotated files, and still finds an event whose id
/// time is not where the log's order says (clock stepped back) by scanning.
#[test]
fn prove_finds_old_events_by_time_and_out_of_order_ones_by_scan() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let (clock, secs) = audit_support::manual_clock(1_780_000_000);
    let log = AuditLog::open_with_clock(config_rot(&path, 64 * 1024), clock).unwrap();
    let mut receipts = Vec::new();
    for i in 0..600u64 {
        secs.store(
            1_780_000_000 + i as i64,
            std::sync::atomic::Ordering::SeqCst,
        );
        receipts.push(log.append(event(i)).unwrap());
    }
    // The clock steps back: this event is older (by its time) than its place.
    secs.store(1_780_000_100, std::sync::atomic::Ordering::SeqCst);
    receipts.push(log.append(event(7)).unwrap());
    drop(log);
    assert!(log_files(&path).unwrap().len() > 3);
    let log =
        AuditLog::open_with_checkpoints(config_rot(&path, 64 * 1024), cp_config(dir.path(), 0))
            .unwrap();
    let v = verifier(&log);
    for r in receipts.iter().step_by(37).chain(receipts.last()) {
        let p = log.prove(&r.event_id, None).unwrap();
        assert_eq!(p.seq, r.seq);
        p.verify(&v, None).unwrap();
    }
}

#[test]
fn the_timer_checkpoints_pending_events_once_the_interval_has_passed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let mut cfg = cp_config(dir.path(), 0);
    cfg.every_seconds = 1;
    let log = AuditLog::open_with_checkpoints(config(&path), cfg).unwrap();
    assert_eq!(
        log.checkpoint_tick(),
        Some(std::time::Duration::from_millis(250))
    );
    log.append(event(0)).unwrap();
    // Not yet due: nothing happens, nothing is read.
    assert_eq!(log.checkpoint_if_pending().unwrap(), None);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let note = log.checkpoint_if_pending().unwrap().expect("a checkpoint");
    let c = Checkpoint::open(&note, &verifier(&log)).unwrap();
    assert_eq!(c.size, 1);
    // Nothing pending any more: no second checkpoint, even when due again.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(log.checkpoint_if_pending().unwrap(), None);
    assert_eq!(checkpoints(&path, &verifier(&log)).len(), 1);
    // Without checkpoints by time there is no tick.
    let other = dir.path().join("other.jsonl");
    let by_count =
        AuditLog::open_with_checkpoints(config(&other), cp_config(dir.path(), 10)).unwrap();
    assert_eq!(by_count.checkpoint_tick(), None);
    assert_eq!(by_count.checkpoint_if_pending().unwrap(), None);
}

#[test]
fn checkpoint_failures_reach_the_reporter_with_their_cause() {
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let mut cfg = cp_config(dir.path(), 1);
    cfg.command = Some("echo refused >&2; exit 7".into());
    let log = AuditLog::open_with_checkpoints(config(&path), cfg).unwrap();
    let seen: Arc<Mutex<Vec<CheckpointFailure>>> = Arc::default();
    let sink = Arc::clone(&seen);
    assert!(
        log.report_checkpoint_failures(Arc::new(move |f: &CheckpointFailure| {
            sink.lock().unwrap().push(f.clone());
        }))
    );
    assert!(!log.report_checkpoint_failures(Arc::new(|_: &CheckpointFailure| {})));
    log.append(event(0)).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while seen.lock().unwrap().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    match seen.lock().unwrap().first() {
        Some(CheckpointFailure::Command { command, cause }) => {
            assert!(command.contains("exit 7"));
            assert!(
                cause.contains("exit status: 7") && cause.contains("refused"),
                "{cause}"
            );
        }
        other => panic!("{other:?}"),
    }
    // A checkpoint that cannot be made: the append still succeeds.
    std::fs::remove_file(checkpoints_path(&path)).unwrap();
    std::fs::create_dir(checkpoints_path(&path)).unwrap();
    log.append(event(1)).unwrap();
    let failures = seen.lock().unwrap().clone();
    assert!(
        failures.iter().any(
            |f| matches!(f, CheckpointFailure::Make(c) if c.contains("audit.jsonl.checkpoints"))
        ),
        "{failures:?}"
    );
    assert_eq!(log.checkpoint_stats().unwrap().failures, 1);
}

#[test]
fn the_tree_of_a_large_existing_log_is_built_outside_the_lock() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    // A log written without checkpoints: no tree store yet, > 8 MiB.
    let plain = AuditLog::open(config(&path)).unwrap();
    let mut n = 0u64;
    while std::fs::metadata(&path).unwrap().len() < 12 << 20 {
        plain.append(event(n)).unwrap();
        n += 1;
    }
    drop(plain);
    // Another writer (its own handle, as another process would have) with
    // a short lock timeout appends all along.
    let mut wcfg = config(&path);
    wcfg.lock_timeout = Duration::from_millis(150);
    let writer = AuditLog::open(wcfg).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let longest = Arc::new(Mutex::new(Duration::ZERO));
    let handle = {
        let (stop, errors, longest) = (stop.clone(), errors.clone(), longest.clone());
        std::thread::spawn(move || {
            let mut k = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                if let Err(e) = writer.append(event(1_000_000 + k)) {
                    errors.lock().unwrap().push(e.to_string());
                }
                let took = t.elapsed();
                {
                    let mut l = longest.lock().unwrap();
                    *l = (*l).max(took);
                }
                k += 1;
                std::thread::sleep(Duration::from_micros(500));
            }
            k
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    let log = AuditLog::open_with_checkpoints(config(&path), cp_config(dir.path(), 0)).unwrap();
    let t = Instant::now();
    let note = log.checkpoint_now().unwrap();
    let built_in = t.elapsed();
    std::thread::sleep(Duration::from_millis(50));
    stop.store(true, Ordering::Relaxed);
    let appended = handle.join().unwrap();
    assert!(
        errors.lock().unwrap().is_empty(),
        "the concurrent writer failed while the tree was built ({built_in:?}): {:?}",
        errors.lock().unwrap()
    );
    assert!(appended > 0);
    let c = Checkpoint::open(&note, &verifier(&log)).unwrap();
    assert!(
        c.size > n,
        "the checkpoint covers the concurrent appends too"
    );
    // No build directory is left behind, and the log verifies against it.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".build-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    drop(log);
    let cps = checkpoints(&path, &verifier_of(dir.path()));
    assert!(problems(&path, &cps).is_empty());
    eprintln!(
        "tree of {n} events built in {built_in:?}; longest concurrent append {:?}",
        longest.lock().unwrap()
    );
}

fn verifier_of(dir: &Path) -> NoteVerifier {
    let signer = agent_safe_core::audit::read_signer_key(&dir.join("checkpoint.key")).unwrap();
    NoteVerifier::parse(&signer.verifier_key()).unwrap()
}
