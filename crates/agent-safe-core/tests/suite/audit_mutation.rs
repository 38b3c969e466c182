//! Mutation tests: every single-point change to a valid log (rotated files,
//! a recovery event, an approval) makes `verify` fail at the right file and
//! line; a truncated final line is reported as a torn tail.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod audit_support;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use agent_safe_core::audit::{
    AuditLog, EventKind, NewEvent, ProblemKind, VerifyReport, log_files, verify,
};
use audit_support::{config, config_rot, event};
use serde_json::Value;

/// A log of 30 caller events over several files, with a recovery event and
/// an approval in it. Returns the directory and its files in chain order.
fn build() -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(config_rot(&path, 4000)).unwrap();
    for i in 0..12 {
        log.append(event(i)).unwrap();
    }
    drop(log);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(b"{\"act")
        .unwrap();
    let log = AuditLog::open(config_rot(&path, 4000)).unwrap();
    let mut approval = NewEvent::new(EventKind::Approval);
    approval.caller = Some("alice@example.com".into());
    approval.decision = Some("approve".into());
    approval.correlation_id = Some("corr-1".into());
    log.append(approval).unwrap();
    for i in 12..29 {
        log.append(event(i)).unwrap();
    }
    let files = log_files(&path).unwrap();
    assert!(files.len() >= 5, "{files:?}");
    let report = verify(&[dir.path().to_path_buf()]);
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.recoveries, 1);
    (dir, files)
}

fn read_lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.ends_with('\n'));
    text.lines().map(str::to_string).collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    if !lines.is_empty() {
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

/// Applies `mutate` to a copy of the lines of `files[f]`, verifies the
/// directory, restores the file, and returns the report.
fn with_mutation(dir: &Path, file: &Path, mutate: impl FnOnce(&mut Vec<String>)) -> VerifyReport {
    let original = std::fs::read(file).unwrap();
    let mut lines = read_lines(file);
    mutate(&mut lines);
    write_lines(file, &lines);
    let report = verify(&[dir.to_path_buf()]);
    std::fs::write(file, original).unwrap();
    report
}

#[track_caller]
fn assert_fails_at(report: &VerifyReport, file: &Path, line: u64, what: &str) {
    let p = report
        .problem
        .as_ref()
        .unwrap_or_else(|| panic!("{what}: not detected ({report})"));
    assert_eq!(
        (p.path.as_path(), p.line.unwrap_or(0)),
        (file, line),
        "{what}: reported {}:{:?}: {}",
        p.path.display(),
        p.line,
        p.message
    );
    assert!(!p.message.is_empty());
}

/// A different but canonical value for one field.
fn changed(key: &str, v: &Value) -> Value {
    match (key, v) {
        ("kind", Value::String(s)) => Value::String(if s == "decision" {
            "approval".into()
        } else {
            "decision".into()
        }),
        ("hash" | "prev_hash", Value::String(s)) => {
            let mut b = s.clone().into_bytes();
            b[10] = if b[10] == b'a' { b'b' } else { b'a' };
            Value::String(String::from_utf8(b).unwrap())
        }
        (_, Value::String(s)) => Value::String(format!("{s}x")),
        (_, Value::Number(n)) => Value::from(n.as_u64().unwrap() + 1),
        (_, Value::Null) => Value::String("x".into()),
        (_, Value::Bool(b)) => Value::Bool(!b),
        (_, Value::Array(a)) => {
            let mut a = a.clone();
            a.push(Value::from(1));
            Value::Array(a)
        }
        (_, Value::Object(o)) => {
            let mut o = o.clone();
            match o.iter_mut().next() {
                Some((_, first)) => *first = changed("", first),
                None => {
                    o.insert("zz".into(), Value::from(1));
                }
            }
            Value::Object(o)
        }
    }
}

#[test]
fn editing_any_field_of_any_line_is_caught_at_that_line() {
    let (dir, files) = build();
    let mut count = 0;
    for file in &files {
        let lines = read_lines(file);
        for (k, line) in lines.iter().enumerate() {
            let value: Value = serde_json::from_str(line).unwrap();
            for key in value.as_object().unwrap().keys() {
                let mut edited = value.clone();
                let new = changed(key, &edited[key]);
                edited[key] = new;
                let text = serde_json_canonicalizer::to_string(&edited).unwrap();
                let report = with_mutation(dir.path(), file, |ls| ls[k] = text);
                assert_fails_at(
                    &report,
                    file,
                    k as u64 + 1,
                    &format!("edit `{key}` of line {}", k + 1),
                );
                let kind = report.problem.unwrap().kind;
                if key == "v" {
                    assert_eq!(kind, ProblemKind::Version);
                } else {
                    // A canonical edit breaks the hash; one of the wrong
                    // type breaks the schema first.
                    assert!(
                        matches!(kind, ProblemKind::Hash | ProblemKind::Malformed),
                        "edit `{key}`: {kind:?}"
                    );
                }
                count += 1;
            }
        }
    }
    assert!(count > 700, "{count}");
}

#[test]
fn changing_one_byte_of_a_string_value_is_caught() {
    let (dir, files) = build();
    for file in &files {
        let lines = read_lines(file);
        for (k, line) in lines.iter().enumerate() {
            // Inside the event_id (always present, always a string).
            let at = line.find("\"event_id\":\"").unwrap() + 14;
            let mut bytes = line.clone().into_bytes();
            bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
            let text = String::from_utf8(bytes).unwrap();
            let report = with_mutation(dir.path(), file, |ls| ls[k] = text);
            assert_fails_at(&report, file, k as u64 + 1, "byte in event_id");
        }
    }
}

#[test]
fn deleting_any_line_is_caught_except_the_very_last() {
    let (dir, files) = build();
    let last_file = files.last().unwrap();
    for file in &files {
        let n = read_lines(file).len();
        for k in 0..n {
            let report = with_mutation(dir.path(), file, |ls| {
                ls.remove(k);
            });
            if file == last_file && k == n - 1 {
                // A prefix of a valid chain is valid: the limit of a plain
                // hash chain, closed only by a checkpoint kept elsewhere.
                assert!(report.is_clean(), "{report}");
            } else if k == n - 1 {
                // The end of a rotated file: its name gives it away.
                assert_fails_at(
                    &report,
                    file,
                    n as u64,
                    "delete last line of a rotated file",
                );
                assert_eq!(report.problem.unwrap().kind, ProblemKind::FileName);
            } else {
                assert_fails_at(
                    &report,
                    file,
                    k as u64 + 1,
                    &format!("delete line {}", k + 1),
                );
            }
        }
    }
}

#[test]
fn inserting_swapping_and_duplicating_lines_is_caught() {
    let (dir, files) = build();
    // A valid line from another log.
    let other = tempfile::tempdir().unwrap();
    let other_path = other.path().join("audit.jsonl");
    let other_log = AuditLog::open(config(&other_path)).unwrap();
    for i in 0..40 {
        other_log.append(event(i)).unwrap();
    }
    let foreign = read_lines(&other_path);
    for file in &files {
        let lines = read_lines(file);
        let n = lines.len();
        for k in 0..=n {
            // Insert a foreign line with the right seq for the position.
            let seq: u64 = if k < n {
                serde_json::from_str::<Value>(&lines[k]).unwrap()["seq"]
                    .as_u64()
                    .unwrap()
            } else {
                serde_json::from_str::<Value>(&lines[n - 1]).unwrap()["seq"]
                    .as_u64()
                    .unwrap()
                    + 1
            };
            let line = foreign[(seq as usize - 1) % foreign.len()].clone();
            let report = with_mutation(dir.path(), file, |ls| ls.insert(k, line));
            // A foreign first event (seq 1, prev_hash zeros) is a valid start
            // on its own: the break shows at the next line.
            let at = if seq == 1 { 2 } else { k as u64 + 1 };
            assert_fails_at(
                &report,
                file,
                at,
                &format!("insert foreign line at {}", k + 1),
            );
            // Insert a copy of another line of the log (a copy of the line
            // that follows fits its place; the original then breaks).
            let copy = lines[(k + 2) % n].clone();
            let at = if lines.get(k) == Some(&copy) {
                k as u64 + 2
            } else {
                k as u64 + 1
            };
            let report = with_mutation(dir.path(), file, |ls| ls.insert(k, copy));
            assert_fails_at(&report, file, at, &format!("insert copy at {}", k + 1));
        }
        for k in 0..n {
            let report = with_mutation(dir.path(), file, |ls| {
                let dup = ls[k].clone();
                ls.insert(k + 1, dup);
            });
            assert_fails_at(
                &report,
                file,
                k as u64 + 2,
                &format!("duplicate line {}", k + 1),
            );
            if k + 1 < n {
                let report = with_mutation(dir.path(), file, |ls| ls.swap(k, k + 1));
                assert_fails_at(
                    &report,
                    file,
                    k as u64 + 1,
                    &format!("swap {} and {}", k + 1, k + 2),
                );
            }
        }
    }
}

#[test]
fn truncating_the_last_line_at_every_offset_is_a_torn_tail() {
    let (dir, files) = build();
    let last = files.last().unwrap();
    let original = std::fs::read(last).unwrap();
    let body = &original[..original.len() - 1];
    let start = body.iter().rposition(|&b| b == b'\n').unwrap() + 1;
    let line_no = original.iter().filter(|&&b| b == b'\n').count() as u64;
    for cut in start + 1..original.len() {
        std::fs::write(last, &original[..cut]).unwrap();
        // A break by default, at the torn line; a warning when accepted.
        let report = verify(&[dir.path().to_path_buf()]);
        assert_fails_at(&report, last, line_no, "torn tail");
        assert_eq!(report.problem.as_ref().unwrap().kind, ProblemKind::TornTail);
        let accepting = agent_safe_core::audit::VerifyOptions {
            accept_torn_tail: true,
            ..Default::default()
        };
        let report = agent_safe_core::audit::verify_with(&[dir.path().to_path_buf()], &accepting);
        assert!(report.ok(), "cut at {cut}: {report}");
        let t = report
            .torn_tail
            .as_ref()
            .unwrap_or_else(|| panic!("cut at {cut}: no torn tail"));
        assert_eq!(
            (t.path.as_path(), t.line, t.offset, t.bytes),
            (last.as_path(), line_no, start as u64, (cut - start) as u64)
        );
        // Every prefix of a written line could be the beginning of an event.
        assert!(t.event_prefix, "cut at {cut}: {report}");
        assert!(report.to_string().contains("torn tail"));
    }
    // In a rotated file the same cut is a break, not a torn tail.
    let rotated = &files[1];
    let original_r = std::fs::read(rotated).unwrap();
    std::fs::write(last, &original).unwrap();
    for cut in [original_r.len() - 1, original_r.len() - 30] {
        std::fs::write(rotated, &original_r[..cut]).unwrap();
        let report = verify(&[dir.path().to_path_buf()]);
        let lines = original_r.iter().filter(|&&b| b == b'\n').count() as u64;
        assert_fails_at(&report, rotated, lines, "truncated rotated file");
        assert_eq!(report.problem.unwrap().kind, ProblemKind::Truncated);
    }
    std::fs::write(rotated, &original_r).unwrap();
    assert!(verify(&[dir.path().to_path_buf()]).is_clean());
}

#[test]
fn duplicate_keys_and_non_canonical_text_are_caught() {
    let (dir, files) = build();
    let file = &files[2];
    let lines = read_lines(file);
    let k = 1;
    let line = &lines[k];
    assert!(line.contains("\"replicas\":"), "{line}");
    let value: Value = serde_json::from_str(line).unwrap();
    let seq = value["seq"].as_u64().unwrap();
    let replicas = value["params"]["replicas"].as_u64().unwrap();
    let mut missing = value.clone();
    missing.as_object_mut().unwrap().remove("plan_step");
    let missing = serde_json_canonicalizer::to_string(&missing).unwrap();
    let mutations: Vec<(&str, String)> = vec![
        (
            "duplicate top-level key",
            line.replacen("{\"action\":", "{\"action\":null,\"action\":", 1),
        ),
        (
            "duplicate key kind",
            line.replacen("\"kind\":", "\"kind\":\"decision\",\"kind\":", 1),
        ),
        (
            "duplicate key in params",
            line.replacen("\"params\":{", "\"params\":{\"deep\":1,", 1),
        ),
        (
            "seq as 1.0 form",
            line.replacen(&format!("\"seq\":{seq}"), &format!("\"seq\":{seq}.0"), 1),
        ),
        (
            "seq in exponent form",
            line.replacen(&format!("\"seq\":{seq}"), &format!("\"seq\":{seq}e0"), 1),
        ),
        ("v as 2.0", line.replacen("\"v\":2}", "\"v\":2.0}", 1)),
        (
            "ratio in exponent form",
            line.replacen("\"ratio\":0.5", "\"ratio\":5e-1", 1),
        ),
        (
            "ratio with trailing zero",
            line.replacen("\"ratio\":0.5", "\"ratio\":0.50", 1),
        ),
        (
            "replicas as float",
            line.replacen(
                &format!("\"replicas\":{replicas},"),
                &format!("\"replicas\":{replicas}.0,"),
                1,
            ),
        ),
        (
            "whitespace",
            line.replacen("{\"action\":", "{\"action\": ", 1),
        ),
        (
            "escaped solidus",
            line.replacen("staging/", "staging\\/", 1),
        ),
        (
            "unicode escape",
            line.replacen(
                "\"namespace\":\"staging\"",
                "\"namespace\":\"\\u0073taging\"",
                1,
            ),
        ),
        (
            "key order",
            line.replacen("{\"action\":", "{\"zzz\":1,\"action\":", 1),
        ),
        (
            "unknown field",
            line.replacen(",\"v\":2}", ",\"v\":2,\"w\":2}", 1),
        ),
        ("missing field", missing),
        (
            "big integer",
            line.replacen("\"ratio\":0.5", "\"ratio\":9007199254740993", 1),
        ),
        ("trailing space", format!("{line} ")),
        ("crlf", format!("{line}\r")),
        ("line replaced by an empty line", String::new()),
    ];
    for (what, text) in mutations {
        assert_ne!(&text, line, "{what}: mutation did not apply");
        let report = with_mutation(dir.path(), file, |ls| ls[k] = text);
        assert_fails_at(&report, file, k as u64 + 1, what);
    }
}
