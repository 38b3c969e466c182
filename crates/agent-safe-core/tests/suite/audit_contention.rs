//! Contention: 4 processes × 4 threads append to one log whose files rotate
//! every ~2 KiB, so rotation races too. Afterwards `seq` is gap-free across
//! files, every acknowledged event is in the log exactly once, and the log
//! verifies. The child processes are this test binary, re-run on an
//! `#[ignore]`d test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod audit_support;

use std::collections::HashMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agent_safe_core::audit::{AuditLog, EventFilter, EventKind, log_files, read_events, verify};
use audit_support::{child, config_rot, event, tagged};

const CHILD_ENV: &str = "AUDIT_CONTENTION_CHILD";
const PROCESSES: usize = 4;
const THREADS: usize = 4;
const PER_THREAD: usize = 50;
const MAX_BYTES: u64 = 2048;

/// Child side: waits for the go file, then appends from `THREADS` threads and
/// prints one `RECEIPT` line per acknowledged append.
#[test]
#[ignore = "child process of many_processes_and_threads_append_to_one_log"]
fn contention_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (path, proc_id) = spec.split_once('|').unwrap();
    let path = PathBuf::from(path);
    let go = path.with_extension("go");
    let start = Instant::now();
    while !go.exists() {
        assert!(start.elapsed() < Duration::from_secs(30), "no go signal");
        std::thread::sleep(Duration::from_millis(1));
    }
    let log = Arc::new(AuditLog::open(config_rot(&path, MAX_BYTES)).unwrap());
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let log = Arc::clone(&log);
            let proc_id = proc_id.to_string();
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    let mut ev = event(i as u64);
                    let who = format!("p{proc_id}-t{t}-i{i}");
                    ev.caller = Some(who.clone());
                    let r = log.append(ev).unwrap();
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "RECEIPT {who} {} {} {}", r.seq, r.event_id, r.hash).unwrap();
                    out.flush().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn many_processes_and_threads_append_to_one_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let children: Vec<_> = (0..PROCESSES)
        .map(|p| {
            child(
                module_path!(),
                "contention_child",
                &[(CHILD_ENV, format!("{}|{p}", path.display()))],
            )
            .spawn()
            .unwrap()
        })
        .collect();
    std::fs::write(path.with_extension("go"), b"").unwrap();
    let mut receipts = Vec::new();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "child failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for rest in tagged(&String::from_utf8(out.stdout).unwrap(), "RECEIPT ") {
            let f: Vec<&str> = rest.split(' ').collect();
            receipts.push((
                f[0].to_string(),
                f[1].parse::<u64>().unwrap(),
                f[2].to_string(),
                f[3].to_string(),
            ));
        }
    }
    assert_eq!(receipts.len(), PROCESSES * THREADS * PER_THREAD);

    let report = verify(&[dir.path().to_path_buf()]);
    assert!(report.is_clean(), "{report}");
    let files = log_files(&path).unwrap();
    assert!(
        files.len() > 20,
        "rotation should have raced: {} files",
        files.len()
    );

    let events = read_events(&[dir.path().to_path_buf()], &EventFilter::default(), None).unwrap();
    for (i, ev) in events.iter().enumerate() {
        assert_eq!(ev.seq, i as u64 + 1, "seq gap-free across files");
    }
    let rotations = events
        .iter()
        .filter(|e| e.kind == EventKind::Rotation)
        .count();
    assert_eq!(
        rotations,
        files.len() - 1,
        "one rotation event per new file"
    );
    let mut by_id = HashMap::new();
    for ev in &events {
        assert!(
            by_id.insert(ev.event_id.clone(), ev).is_none(),
            "duplicate event_id"
        );
    }
    for (who, seq, id, hash) in &receipts {
        let ev = by_id
            .get(id)
            .unwrap_or_else(|| panic!("acknowledged event {id} ({who}) missing"));
        assert_eq!(
            (ev.seq, &ev.hash, ev.caller.as_deref()),
            (*seq, hash, Some(who.as_str()))
        );
    }
    let decisions = events
        .iter()
        .filter(|e| e.kind == EventKind::Decision)
        .count();
    assert_eq!(
        decisions,
        receipts.len(),
        "every event exactly once, nothing else"
    );
    eprintln!(
        "{} events ({} decisions) in {} files from {PROCESSES} processes × {THREADS} threads",
        events.len(),
        decisions,
        files.len()
    );
}
