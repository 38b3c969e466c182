//! `verify` and a file that does not end in a newline: a break unless
//! accepted, with its size and whether it could begin an event; a line in
//! flight is waited for under the log's lock; no "chain intact" without one
//! complete event.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod audit_support;

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use agent_safe_core::audit::{
    ProblemKind, VerifyOptions, VerifyReport, lock_path, verify, verify_with,
};
use audit_support::{config, write_log};

fn accepting() -> VerifyOptions {
    VerifyOptions {
        accept_torn_tail: true,
        ..VerifyOptions::default()
    }
}

fn kind(r: &VerifyReport) -> Option<ProblemKind> {
    r.problem.as_ref().map(|p| p.kind)
}

#[test]
fn junk_alone_is_never_a_chain_intact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    std::fs::write(&path, b"this is not an event at all").unwrap();
    let r = verify(std::slice::from_ref(&path));
    assert!(!r.ok(), "{r}");
    assert_eq!(kind(&r), Some(ProblemKind::TornTail));
    let t = r.torn_tail.clone().unwrap();
    assert_eq!(
        (t.line, t.offset, t.bytes, t.event_prefix),
        (1, 0, 27, false)
    );
    assert!(r.to_string().contains("27 bytes"), "{r}");
    assert!(!r.to_string().contains("ok:"), "{r}");
    // Accepting a torn tail does not make an empty chain intact.
    let r = verify_with(std::slice::from_ref(&path), &accepting());
    assert_eq!(kind(&r), Some(ProblemKind::Empty), "{r}");
    assert_eq!(r.problem.unwrap().line, None);
}

#[test]
fn an_empty_file_has_no_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    std::fs::write(&path, b"").unwrap();
    let r = verify(std::slice::from_ref(&path));
    assert_eq!(kind(&r), Some(ProblemKind::Empty), "{r}");
}

fn log_of(n: u64) -> (tempfile::TempDir, PathBuf, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    drop(write_log(config(&path), n));
    let bytes = std::fs::read(&path).unwrap();
    (dir, path, bytes)
}

#[test]
fn an_altered_last_event_without_newline_is_not_an_event_prefix() {
    let (_dir, path, mut bytes) = log_of(3);
    bytes.pop();
    // Change the reason of the last event: still whole JSON, wrong hash.
    let text = String::from_utf8(bytes).unwrap();
    let at = text.rfind("\"reason\":\"").unwrap() + 10;
    let mut altered = text.clone();
    altered.insert(at, 'X');
    std::fs::write(&path, &altered).unwrap();
    let r = verify_with(std::slice::from_ref(&path), &accepting());
    let t = r.torn_tail.clone().unwrap();
    assert!(!t.event_prefix, "{r}");
    assert!(
        r.to_string().contains("not the beginning of a valid event"),
        "{r}"
    );
    let r = verify(std::slice::from_ref(&path));
    assert_eq!(kind(&r), Some(ProblemKind::TornTail));
    assert_eq!(r.events, 2);
    // The untouched event without its newline is a prefix of a valid event.
    std::fs::write(&path, &text).unwrap();
    let r = verify(std::slice::from_ref(&path));
    assert!(r.torn_tail.unwrap().event_prefix);
    // Garbage that starts like an event but stops being JSON is not one.
    let mut junk = text.into_bytes();
    let cut = junk.iter().rposition(|&b| b == b'\n').unwrap() + 1;
    junk.truncate(cut);
    junk.extend_from_slice(b"{\"action\":}}");
    std::fs::write(&path, &junk).unwrap();
    let r = verify(std::slice::from_ref(&path));
    assert!(!r.torn_tail.unwrap().event_prefix);
}

#[test]
fn a_line_in_flight_is_waited_for_under_the_lock() {
    let (_dir, path, bytes) = log_of(3);
    let body = &bytes[..bytes.len() - 1];
    let last_start = body.iter().rposition(|&b| b == b'\n').unwrap() + 1;
    let (complete, last) = bytes.split_at(last_start);
    std::fs::write(&path, complete).unwrap();
    // A "writer" holds the lock and has written half of its line.
    let lock = std::fs::File::options()
        .read(true)
        .write(true)
        .open(lock_path(&path))
        .unwrap();
    lock.lock().unwrap();
    let (half, rest) = last.split_at(last.len() / 2);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(half).unwrap();
    let verifier = {
        let path = path.clone();
        std::thread::spawn(move || verify(&[path]))
    };
    std::thread::sleep(Duration::from_millis(300));
    f.write_all(rest).unwrap();
    lock.unlock().unwrap();
    let r = verifier.join().unwrap();
    assert!(r.is_clean(), "{r}");
    assert_eq!(r.events, 3);
}

#[test]
fn a_lock_held_throughout_is_reported() {
    let (_dir, path, mut bytes) = log_of(2);
    bytes.extend_from_slice(b"{\"action\":\"rest");
    std::fs::write(&path, &bytes).unwrap();
    let lock = std::fs::File::options()
        .read(true)
        .write(true)
        .open(lock_path(&path))
        .unwrap();
    lock.lock().unwrap();
    let opts = VerifyOptions {
        lock_wait: Duration::from_millis(100),
        ..VerifyOptions::default()
    };
    let r = verify_with(std::slice::from_ref(&path), &opts);
    assert_eq!(kind(&r), Some(ProblemKind::TornTail), "{r}");
    let t = r.torn_tail.clone().unwrap();
    assert!(t.writer_active && t.event_prefix, "{r}");
    assert!(
        r.to_string().contains("a writer held the log's lock"),
        "{r}"
    );
    let r = verify_with(
        std::slice::from_ref(&path),
        &VerifyOptions {
            accept_torn_tail: true,
            ..opts
        },
    );
    assert!(r.ok() && !r.is_clean(), "{r}");
}

#[test]
fn the_report_has_one_json_form() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    std::fs::write(&path, b"not json\n").unwrap();
    let r = verify(std::slice::from_ref(&path));
    let j = serde_json::to_value(&r).unwrap();
    assert_eq!(j["ok"], false);
    assert_eq!(j["clean"], false);
    assert_eq!(j["problem"]["kind"], "malformed");
    assert_eq!(j["problem"]["line"], 1);
    assert_eq!(j["problem"]["file"], path.display().to_string());
    let r = verify(&[dir.path().join("missing.jsonl")]);
    let j = serde_json::to_value(&r).unwrap();
    assert_eq!(j["problem"]["line"], serde_json::Value::Null);
    assert_eq!(j["problem"]["kind"], "io");
    // snake_case kinds, not Debug names lowercased.
    std::fs::write(&path, b"{\"a\":1}\n").unwrap();
    let (_d, good, mut bytes) = log_of(1);
    bytes.insert(bytes.len() - 1, b' ');
    std::fs::write(&good, &bytes).unwrap();
    let j = serde_json::to_value(verify(&[good])).unwrap();
    assert_eq!(j["problem"]["kind"], "not_canonical", "{j}");
}
