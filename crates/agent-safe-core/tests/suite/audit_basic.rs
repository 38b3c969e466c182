//! The audit log's line format, chain, recovery, rotation, reader and verify,
//! one behaviour per test, on real files.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod audit_support;

use std::io::Write as _;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use agent_safe_core::audit::{
    AuditConfig, AuditError, AuditEvent, AuditLog, Durability, EventFilter, EventKind, Follower,
    GENESIS_HASH, NewEvent, ProblemKind, Rotation, RotationTrigger, VerifyOptions, log_files,
    parse_rotated_name, read_events, rotated_file_name, verify, verify_with,
};
use audit_support::{config, config_rot, event, manual_clock, write_log};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn each_line_is_jcs_and_hash_is_sha256_of_jcs_without_hash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(config(&path)).unwrap();
    let mut receipts = Vec::new();
    for i in 0..10 {
        receipts.push(log.append(event(i)).unwrap());
    }
    // An event with every optional field absent, and awkward strings.
    let mut bare = NewEvent::new(EventKind::Approval);
    bare.reason = Some("tab\t ctl\u{1} del\u{7f} \u{2028} emoji \u{1f600} quote\" slash/".into());
    bare.context = json!({"\u{1f600}": 1, "\u{e000}": 2, "a": [1.5, 1e21, -0.0, 1e-7]});
    receipts.push(log.append(bare).unwrap());

    let all = lines(&path);
    assert_eq!(all.len(), 11);
    let mut prev = GENESIS_HASH.to_string();
    for (i, line) in all.iter().enumerate() {
        let value: Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            &serde_json_canonicalizer::to_string(&value).unwrap(),
            line,
            "line {} is not JCS",
            i + 1
        );
        let mut without = value.clone();
        let hash = without
            .as_object_mut()
            .unwrap()
            .remove("hash")
            .unwrap()
            .as_str()
            .unwrap()
            .to_string();
        let jcs = serde_json_canonicalizer::to_vec(&without).unwrap();
        assert_eq!(hex::encode(Sha256::digest(&jcs)), hash);
        assert_eq!(value["prev_hash"], json!(prev));
        assert_eq!(value["seq"], json!(i + 1));
        assert_eq!(value["v"], json!(2));
        // Every schema key is present, absent values as null.
        for key in [
            "action",
            "action_version",
            "target",
            "caller",
            "params",
            "decision",
            "reason",
            "policy_matched",
            "risk_class",
            "effective_risk",
            "correlation_id",
            "context",
            "evaluated_at",
            "plan_step",
            "recovery",
            "rotation",
            "caller_identity",
            "snapshot",
            "shadow",
        ] {
            assert!(value.get(key).is_some(), "{key} missing in line {}", i + 1);
        }
        // RFC 3339 UTC with microseconds.
        let ts = value["timestamp"].as_str().unwrap();
        assert_eq!(ts.len(), 27, "{ts}");
        assert!(ts.ends_with('Z') && ts.as_bytes()[19] == b'.', "{ts}");
        ts.parse::<jiff::Timestamp>().unwrap();
        let id = uuid::Uuid::parse_str(value["event_id"].as_str().unwrap()).unwrap();
        assert_eq!(id.get_version_num(), 7);
        let r = &receipts[i];
        assert_eq!(
            (r.seq, r.event_id.as_str(), r.hash.as_str()),
            (
                i as u64 + 1,
                value["event_id"].as_str().unwrap(),
                hash.as_str()
            )
        );
        // The typed reader gives back the same line.
        let ev: AuditEvent = serde_json::from_str(line).unwrap();
        assert_eq!(&ev.to_line().unwrap(), line);
        prev = hash;
    }
    let report = verify(&[path]);
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.events, 11);
    assert_eq!(
        report.last_hash.as_deref(),
        Some(receipts[10].hash.as_str())
    );
    assert!(report.to_string().contains(&receipts[10].hash), "{report}");
}

#[test]
fn integers_beyond_2_pow_53_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(config(&path)).unwrap();
    log.append(event(0)).unwrap();
    let before = std::fs::read(&path).unwrap();
    let cases = [
        (
            json!({"replicas": 9007199254740992u64}),
            json!(null),
            "params/replicas",
        ),
        (
            json!({"a": [1, -9007199254740992i64]}),
            json!(null),
            "params/a/1",
        ),
        (json!(null), json!({"big": u64::MAX}), "context/big"),
        (json!({"f": 1.5e20}), json!(null), "params/f"),
    ];
    for (params, context, pointer) in cases {
        let mut ev = event(1);
        ev.params = params;
        ev.context = context;
        let err = log.append(ev).unwrap_err();
        assert!(matches!(err, AuditError::InvalidEvent { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains(pointer), "{msg}");
        assert!(msg.contains("2^53"), "{msg}");
        assert!(
            msg.starts_with(&format!("audit log {}:", path.display())),
            "{msg}"
        );
    }
    // The log's own kinds cannot be appended.
    for kind in [EventKind::Rotation, EventKind::Recovery] {
        let err = log.append(NewEvent::new(kind)).unwrap_err();
        assert!(
            err.to_string().contains("written by the log itself"),
            "{err}"
        );
    }
    assert_eq!(std::fs::read(&path).unwrap(), before);
    // The largest safe integers and exponent-form doubles are fine.
    let mut ev = event(2);
    ev.params = json!({"max": 9007199254740991u64, "min": -9007199254740991i64, "huge": 1e300});
    log.append(ev).unwrap();
    assert!(verify(&[path]).is_clean());
}

#[test]
fn a_torn_tail_is_quarantined_cut_off_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    drop(write_log(config(&path), 5));
    let full = std::fs::read(&path).unwrap();
    // A writer killed in the middle of its line.
    let torn = br#"{"action":"restart","action_version":nu"#;
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(torn)
        .unwrap();

    // A break by default (a verifier cannot tell a torn write from an
    // appended line), a warning when accepted.
    let report = verify(std::slice::from_ref(&path));
    assert!(!report.ok(), "{report}");
    let p = report.problem.clone().unwrap();
    assert_eq!((p.kind, p.line), (ProblemKind::TornTail, Some(6)));
    assert_eq!(report.events, 5);
    let accepting = VerifyOptions {
        accept_torn_tail: true,
        ..VerifyOptions::default()
    };
    let report = verify_with(std::slice::from_ref(&path), &accepting);
    assert!(report.ok() && !report.is_clean(), "{report}");
    let t = report.torn_tail.clone().expect("torn tail reported");
    assert_eq!(
        (t.line, t.offset, t.bytes, t.event_prefix, t.writer_active),
        (6, full.len() as u64, torn.len() as u64, true, false)
    );
    assert!(report.to_string().contains("torn tail"), "{report}");

    let log = AuditLog::open(config(&path)).unwrap();
    assert_eq!(log.stats().recoveries, 1);
    let r = log.append(event(9)).unwrap();
    assert_eq!(r.seq, 7, "recovery event is seq 6");
    let all = lines(&path);
    assert_eq!(all.len(), 7);
    assert!(std::fs::read(&path).unwrap().starts_with(&full));
    let rec: AuditEvent = serde_json::from_str(&all[5]).unwrap();
    assert_eq!(rec.kind, EventKind::Recovery);
    let info = rec.recovery.unwrap();
    assert_eq!(info.torn_bytes, torn.len() as u64);
    assert_eq!(info.truncated_at, full.len() as u64);
    assert_eq!(info.torn_sha256, hex::encode(Sha256::digest(torn)));
    assert!(
        info.quarantine_file.starts_with("audit.jsonl.quarantine-"),
        "{}",
        info.quarantine_file
    );
    assert_eq!(
        std::fs::read(dir.path().join(&info.quarantine_file)).unwrap(),
        torn
    );
    let report = verify(&[path]);
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.recoveries, 1);
}

#[test]
fn a_torn_first_line_and_a_complete_line_without_newline_are_recovered() {
    let dir = tempfile::tempdir().unwrap();
    // The very first line torn: the recovery event becomes seq 1.
    let path = dir.path().join("first.jsonl");
    std::fs::write(&path, b"{\"act").unwrap();
    let log = AuditLog::open(config(&path)).unwrap();
    log.append(event(0)).unwrap();
    let all = lines(&path);
    let rec: AuditEvent = serde_json::from_str(&all[0]).unwrap();
    assert_eq!(
        (rec.kind, rec.seq, rec.prev_hash.as_str()),
        (EventKind::Recovery, 1, GENESIS_HASH)
    );
    assert!(verify(&[path]).is_clean());

    // A whole line whose newline never made it is not acknowledged: quarantined too.
    let path = dir.path().join("nonl.jsonl");
    drop(write_log(config(&path), 3));
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.pop();
    std::fs::write(&path, &bytes).unwrap();
    let report = verify(std::slice::from_ref(&path));
    assert!(!report.ok(), "{report}");
    let t = report.torn_tail.clone().unwrap();
    assert!(
        t.event_prefix,
        "a valid event missing its newline: {report}"
    );
    let log = AuditLog::open(config(&path)).unwrap();
    log.append(event(3)).unwrap();
    let report = verify(std::slice::from_ref(&path));
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.events, 4, "2 events + recovery + new event");
}

#[test]
fn a_torn_first_line_of_a_new_file_is_linked_then_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    drop(write_log(config(&path), 3));
    // A writer rotated, then died while writing the new file's first line.
    std::fs::rename(
        &path,
        dir.path().join(rotated_file_name("audit.jsonl", 1, 3)),
    )
    .unwrap();
    std::fs::write(&path, b"{\"action\":null,\"act").unwrap();
    let log = AuditLog::open(config(&path)).unwrap();
    log.append(event(4)).unwrap();
    let evs = read_events(std::slice::from_ref(&path), &EventFilter::default(), None).unwrap();
    let kinds: Vec<(u64, EventKind)> = evs.iter().map(|e| (e.seq, e.kind)).collect();
    assert_eq!(
        kinds,
        vec![
            (4, EventKind::Rotation),
            (5, EventKind::Recovery),
            (6, EventKind::Decision)
        ]
    );
    assert_eq!(evs[1].recovery.as_ref().unwrap().truncated_at, 0);
    let report = verify(&[dir.path().to_path_buf()]);
    assert!(report.is_clean(), "{report}");
}

#[test]
fn a_corrupt_last_line_stops_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    drop(write_log(config(&path), 2));
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(b"garbage\n")
        .unwrap();
    let err = AuditLog::open(config(&path)).unwrap_err();
    assert!(matches!(err, AuditError::Corrupt { .. }), "{err:?}");
    assert!(
        err.to_string().contains("cannot continue the chain"),
        "{err}"
    );
}

#[test]
fn size_rotation_names_files_by_seq_and_links_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = write_log(config_rot(&path, 2500), 30);
    assert!(log.stats().rotations >= 5, "{:?}", log.stats());
    let files = log_files(&path).unwrap();
    assert_eq!(files.last().unwrap(), &path);
    let mut expected_first = 1;
    let mut prev: Option<(String, String)> = None;
    for f in &files {
        let name = f.file_name().unwrap().to_str().unwrap().to_string();
        let all = lines(f);
        let evs: Vec<AuditEvent> = all
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(evs[0].seq, expected_first);
        if f != &path {
            let r = parse_rotated_name(&name).unwrap();
            assert_eq!(
                (r.first_seq, r.last_seq),
                (evs[0].seq, evs.last().unwrap().seq)
            );
            assert_eq!(
                name,
                rotated_file_name("audit.jsonl", r.first_seq, r.last_seq)
            );
            let size = std::fs::metadata(f).unwrap().len();
            assert!(size <= 2500 || evs.len() <= 2, "{name} is {size} bytes");
        }
        if let Some((prev_name, prev_hash)) = &prev {
            assert_eq!(evs[0].kind, EventKind::Rotation);
            let rot = evs[0].rotation.as_ref().unwrap();
            assert_eq!(&rot.previous_file, prev_name);
            assert_eq!(&rot.previous_last_hash, prev_hash);
            assert_eq!(rot.trigger, RotationTrigger::Size);
            assert_eq!(&evs[0].prev_hash, prev_hash);
        }
        expected_first = evs.last().unwrap().seq + 1;
        prev = Some((name, evs.last().unwrap().hash.clone()));
    }
    // A directory verifies; so do its files named in any order.
    let report = verify(&[dir.path().to_path_buf()]);
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.files.len(), files.len());
    let mut shuffled = files.clone();
    shuffled.reverse();
    shuffled.swap(0, files.len() / 2);
    let report2 = verify(&shuffled);
    assert!(report2.is_clean(), "{report2}");
    assert_eq!(report2.last_hash, report.last_hash);
    assert!(report.last_hash.is_some());
    // A suffix of the files verifies, with a note.
    let tail = verify(&files[2..]);
    assert!(tail.is_clean(), "{tail}");
    assert!(tail.notes[0].contains("starts at seq"), "{:?}", tail.notes);
    // A gap in the files does not.
    let mut gap = files.clone();
    gap.remove(2);
    let broken = verify(&gap);
    let p = broken.problem.unwrap();
    assert_eq!(
        (p.path.clone(), p.line),
        (files[3].clone(), Some(1)),
        "{}",
        p.message
    );
    // 30 decisions and one rotation event per rotation.
    let all = read_events(&[dir.path().to_path_buf()], &EventFilter::default(), None).unwrap();
    assert_eq!(all.len() as u64, 30 + log.stats().rotations);
    assert_eq!(
        all.iter().filter(|e| e.kind == EventKind::Decision).count(),
        30
    );
}

#[test]
fn daily_rotation_starts_a_file_per_utc_day() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let (clock, secs) = manual_clock(1_767_225_000); // 2025-12-31T23:50:00Z
    let cfg = AuditConfig {
        rotation: Rotation {
            max_bytes: None,
            daily: true,
        },
        ..config(&path)
    };
    let log = AuditLog::open_with_clock(cfg, clock).unwrap();
    for _ in 0..3 {
        log.append(event(1)).unwrap();
        secs.fetch_add(60, Ordering::SeqCst);
    }
    secs.fetch_add(3600, Ordering::SeqCst); // 2026-01-01
    for _ in 0..2 {
        log.append(event(2)).unwrap();
    }
    let files = log_files(&path).unwrap();
    assert_eq!(files.len(), 2);
    assert!(
        files[0].ends_with("audit.00000000000000000001-00000000000000000003.jsonl"),
        "{files:?}"
    );
    let evs = read_events(std::slice::from_ref(&path), &EventFilter::default(), None).unwrap();
    assert_eq!(evs[0].kind, EventKind::Rotation);
    assert_eq!(
        evs[0].rotation.as_ref().unwrap().trigger,
        RotationTrigger::Daily
    );
    assert!(
        evs[0].timestamp.starts_with("2026-01-01T"),
        "{}",
        evs[0].timestamp
    );
    assert!(verify(&[dir.path().to_path_buf()]).is_clean());
}

#[test]
fn a_crash_between_rename_and_new_file_is_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    drop(write_log(config(&path), 4));
    // As if a writer renamed the active file and died before starting the next.
    std::fs::rename(
        &path,
        dir.path().join(rotated_file_name("audit.jsonl", 1, 4)),
    )
    .unwrap();
    let log = AuditLog::open(config(&path)).unwrap();
    let r = log.append(event(5)).unwrap();
    assert_eq!(r.seq, 6);
    let evs = read_events(std::slice::from_ref(&path), &EventFilter::default(), None).unwrap();
    assert_eq!(
        evs[0].rotation.as_ref().unwrap().trigger,
        RotationTrigger::Resume
    );
    let report = verify(&[dir.path().to_path_buf()]);
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.events, 6);
    // An empty active file is resumed the same way.
    drop(log);
    std::fs::rename(
        &path,
        dir.path().join(rotated_file_name("audit.jsonl", 5, 6)),
    )
    .unwrap();
    std::fs::write(&path, b"").unwrap();
    let log = AuditLog::open(config(&path)).unwrap();
    assert_eq!(log.append(event(7)).unwrap().seq, 8);
    assert!(verify(&[dir.path().to_path_buf()]).is_clean());
}

#[test]
fn verify_refuses_a_directory_of_several_logs_or_none() {
    let dir = tempfile::tempdir().unwrap();
    drop(write_log(config(&dir.path().join("a.jsonl")), 2));
    drop(write_log(config(&dir.path().join("b.jsonl")), 2));
    let report = verify(&[dir.path().to_path_buf()]);
    let p = report.problem.unwrap();
    assert!(p.message.contains("several logs"), "{}", p.message);
    let empty = tempfile::tempdir().unwrap();
    assert!(!verify(&[empty.path().to_path_buf()]).ok());
    assert!(!verify(&[]).ok());
    assert!(!verify(&[empty.path().join("missing.jsonl")]).ok());
}

#[test]
fn reader_filters_and_last_n_agree_with_a_full_scan() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let start = 1_767_225_600; // 2026-01-01T00:00:00Z
    let (clock, secs) = manual_clock(start);
    let log = AuditLog::open_with_clock(config_rot(&path, 4000), clock).unwrap();
    for i in 0..60 {
        log.append(event(i)).unwrap();
        secs.fetch_add(1, Ordering::SeqCst);
    }
    assert!(log.stats().rotations > 3);
    let paths = [dir.path().to_path_buf()];
    let all = read_events(&paths, &EventFilter::default(), None).unwrap();
    assert_eq!(all.len() as u64, 60 + log.stats().rotations);
    let at = |s: i64| Some(jiff::Timestamp::from_second(start + s).unwrap());
    let filters = [
        EventFilter::default(),
        EventFilter {
            decision: Some("deny".into()),
            ..Default::default()
        },
        EventFilter {
            caller: Some("agent-1".into()),
            ..Default::default()
        },
        EventFilter {
            action: Some("restart-deployment-2".into()),
            decision: Some("allow".into()),
            ..Default::default()
        },
        EventFilter {
            kind: Some(EventKind::Rotation),
            ..Default::default()
        },
        EventFilter {
            correlation_id: Some("corr-3".into()),
            ..Default::default()
        },
        EventFilter {
            since: at(10),
            until: at(19),
            ..Default::default()
        },
        EventFilter {
            since: at(50),
            caller: Some("agent-0".into()),
            ..Default::default()
        },
        EventFilter {
            caller: Some("nobody".into()),
            ..Default::default()
        },
    ];
    for f in &filters {
        let expected: Vec<&AuditEvent> = all.iter().filter(|e| manual_match(f, e)).collect();
        let got = read_events(&paths, f, None).unwrap();
        assert_eq!(got.iter().collect::<Vec<_>>(), expected, "{f:?}");
        for n in [0usize, 1, 3, 7, 1000] {
            let got = read_events(&paths, f, Some(n)).unwrap();
            let want: Vec<&AuditEvent> = expected[expected.len().saturating_sub(n)..].to_vec();
            assert_eq!(got.iter().collect::<Vec<_>>(), want, "{f:?} last {n}");
        }
    }
    // since/until bound by the logged time.
    let window = read_events(&paths, &filters[6], None).unwrap();
    assert_eq!(
        window
            .iter()
            .filter(|e| e.kind == EventKind::Decision)
            .count(),
        10
    );
    // The reader skips a torn tail; last-N still works.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(b"{\"tor")
        .unwrap();
    assert_eq!(
        read_events(&paths, &EventFilter::default(), Some(2))
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        read_events(&paths, &EventFilter::default(), None).unwrap(),
        all
    );
}

fn manual_match(f: &EventFilter, e: &AuditEvent) -> bool {
    let ts: jiff::Timestamp = e.timestamp.parse().unwrap();
    f.kind.is_none_or(|k| k == e.kind)
        && f.decision
            .as_ref()
            .is_none_or(|d| e.decision.as_ref() == Some(d))
        && f.caller
            .as_ref()
            .is_none_or(|d| e.caller.as_ref() == Some(d))
        && f.action
            .as_ref()
            .is_none_or(|d| e.action.as_ref() == Some(d))
        && f.correlation_id
            .as_ref()
            .is_none_or(|d| e.correlation_id.as_ref() == Some(d))
        && f.since.is_none_or(|s| ts >= s)
        && f.until.is_none_or(|u| ts <= u)
}

#[test]
fn a_malformed_line_is_a_reader_error_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    drop(write_log(config(&path), 3));
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.insert_str(0, "{\"not\":\"an event\"}\n");
    std::fs::write(&path, text).unwrap();
    let err = read_events(std::slice::from_ref(&path), &EventFilter::default(), None).unwrap_err();
    assert!(
        matches!(err, AuditError::Malformed { line: 1, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(": line 1 is not a valid event: "),
        "{err}"
    );
    // Read backwards, the place is a byte offset.
    let err = read_events(
        std::slice::from_ref(&path),
        &EventFilter::default(),
        Some(10),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("a line is not a valid event: at byte 0: "),
        "{msg}"
    );
}

#[test]
fn follower_sees_new_events_across_rotations() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = write_log(config_rot(&path, 3000), 3);
    let mut follow = Follower::new(&path, EventFilter::default()).unwrap();
    assert!(follow.poll().unwrap().is_empty());
    let mut seen = Vec::new();
    for round in 0..10 {
        for i in 0..4 {
            log.append(event(round * 4 + i)).unwrap();
        }
        seen.extend(follow.poll().unwrap());
    }
    assert!(log.stats().rotations >= 3);
    let seqs: Vec<u64> = seen.iter().map(|e| e.seq).collect();
    let expected: Vec<u64> = (4..4 + seqs.len() as u64).collect();
    assert_eq!(seqs, expected);
    assert_eq!(
        seen.iter()
            .filter(|e| e.kind == EventKind::Decision)
            .count(),
        40
    );
    // Filtered, with the blocking helper stopping after 2 events.
    let mut denies = Follower::new(
        &path,
        EventFilter {
            decision: Some("deny".into()),
            ..Default::default()
        },
    )
    .unwrap();
    for i in 0..6 {
        log.append(event(i)).unwrap();
    }
    let mut got = Vec::new();
    denies
        .follow(Duration::from_millis(5), |e| {
            got.push(e);
            if got.len() == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert!(got.iter().all(|e| e.decision.as_deref() == Some("deny")));
}

#[test]
fn group_commit_shares_fdatasyncs_between_threads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let cfg = AuditConfig {
        durability: Durability::Sync,
        ..config(&path)
    };
    let log = Arc::new(AuditLog::open(cfg).unwrap());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for i in 0..40 {
                    log.append(event(t * 100 + i)).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let stats = log.stats();
    assert_eq!(stats.appends, 320);
    assert!(stats.syncs < stats.appends, "{stats:?}");
    eprintln!(
        "group commit: {} appends, {} fdatasyncs",
        stats.appends, stats.syncs
    );
    assert!(verify(&[path]).is_clean());
}

#[test]
fn a_held_lock_times_out_with_a_plain_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let cfg = AuditConfig {
        lock_timeout: Duration::from_millis(150),
        ..config(&path)
    };
    let log = AuditLog::open(cfg).unwrap();
    let holder = std::fs::File::open(agent_safe_core::audit::lock_path(&path)).unwrap();
    holder.lock().unwrap();
    let t0 = std::time::Instant::now();
    let err = log.append(event(0)).unwrap_err();
    assert!(t0.elapsed() >= Duration::from_millis(150));
    assert!(matches!(err, AuditError::LockTimeout { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("timed out") && msg.contains("audit.jsonl.lock"),
        "{msg}"
    );
    holder.unlock().unwrap();
    log.append(event(0)).unwrap();
}

#[test]
fn io_errors_name_the_file_and_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    // The log path is a directory: opening it fails, plainly.
    let path = dir.path().join("audit.jsonl");
    std::fs::create_dir(&path).unwrap();
    let err = AuditLog::open(config(&path)).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("audit log {}: open failed: ", path.display())),
        "{msg}"
    );
    let err = AuditLog::open(config(&PathBuf::from("/"))).unwrap_err();
    assert!(matches!(err, AuditError::Usage { .. }), "{err:?}");
}
