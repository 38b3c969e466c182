//! `audit verify`, `audit show`, `audit tail`.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::{AT, Project, snap};

/// Three checks: allow, require_approval, deny.
fn with_events(p: &Project) {
    let runs: [&[&str]; 3] = [
        &[
            "check",
            "restart-deployment",
            "--target",
            "staging/web",
            "--caller",
            "ops-agent",
            "--params",
            r#"{"namespace":"staging","deployment":"web"}"#,
            "--at",
            AT,
        ],
        &[
            "check",
            "restart-deployment",
            "--target",
            "prod/api",
            "--caller",
            "ops-agent",
            "--params",
            r#"{"namespace":"prod","deployment":"api"}"#,
            "--at",
            AT,
        ],
        &[
            "check",
            "drop-database",
            "--target",
            "prod/api",
            "--caller",
            "rogue-agent",
            "--at",
            AT,
        ],
    ];
    for args in runs {
        let (code, _, err) = p.run(args);
        assert!(matches!(code, 0 | 3 | 4), "{err}");
    }
}

#[test]
fn audit_verify_ok() {
    let p = Project::fixture();
    with_events(&p);
    snap!(p, "audit_verify_ok", &["audit", "verify"]);
    snap!(p, "audit_verify_ok_dir", &["audit", "verify", "audit"]);
}

#[test]
fn audit_verify_tampered_names_file_and_line() {
    let p = Project::fixture();
    with_events(&p);
    let log = p.read("audit/audit.jsonl");
    p.write(
        "audit/audit.jsonl",
        &log.replacen(
            "Production changes need an approval",
            "Production changes are fine",
            1,
        ),
    );
    snap!(p, "audit_verify_tampered", &["audit", "verify"]);
}

#[test]
fn audit_verify_deleted_line() {
    let p = Project::fixture();
    with_events(&p);
    let log = p.read("audit/audit.jsonl");
    let kept: Vec<&str> = log
        .lines()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, l)| l)
        .collect();
    p.write("audit/audit.jsonl", &format!("{}\n", kept.join("\n")));
    let (code, out, _) = p.run(&["audit", "verify"]);
    assert_eq!(code, 1);
    assert!(out.starts_with("audit/audit.jsonl:2: error:"), "{out}");
}

#[test]
fn audit_verify_torn_tail_is_a_break_unless_accepted() {
    let p = Project::fixture();
    with_events(&p);
    let log = p.read("audit/audit.jsonl");
    // Not how an event line begins: junk, or an altered event.
    p.write(
        "audit/audit.jsonl",
        &format!("{log}{{\"v\":1,\"seq\":4,\"eve"),
    );
    snap!(p, "audit_verify_torn_tail", &["audit", "verify"]);
    snap!(
        p,
        "audit_verify_torn_tail_json",
        &["audit", "verify", "--output", "json"]
    );
    // The beginning of an event line, as a killed writer leaves it; accepted
    // for a live log.
    p.write(
        "audit/audit.jsonl",
        &format!("{log}{{\"action\":\"restart-deployment\",\"action_ver"),
    );
    snap!(
        p,
        "audit_verify_torn_tail_accepted",
        &["audit", "verify", "--accept-torn-tail"]
    );
    let (code, out, _) = p.run(&["audit", "verify", "-o", "json"]);
    assert_eq!(code, 1);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["torn_tail"]["event_prefix"], true);
    assert_eq!(j["problem"]["kind"], "torn_tail");
}

#[test]
fn audit_verify_junk_without_newline_is_not_a_chain() {
    let p = Project::fixture();
    p.write("junk.jsonl", "twenty-seven bytes of junk!");
    snap!(p, "audit_verify_junk", &["audit", "verify", "junk.jsonl"]);
    snap!(
        p,
        "audit_verify_junk_accepted_json",
        &[
            "audit",
            "verify",
            "junk.jsonl",
            "--accept-torn-tail",
            "-o",
            "json"
        ]
    );
}

#[test]
fn audit_verify_json_kinds_are_snake_case() {
    let p = Project::fixture();
    with_events(&p);
    // A space before the final `}` of line 2: not canonical.
    let log = p.read("audit/audit.jsonl");
    let mut lines: Vec<String> = log.lines().map(str::to_owned).collect();
    lines[1] = lines[1].replacen(",\"v\":2}", ",\"v\":2 }", 1);
    p.write("audit/audit.jsonl", &(lines.join("\n") + "\n"));
    snap!(
        p,
        "audit_verify_not_canonical_json",
        &["audit", "verify", "--output", "json"]
    );
}

#[test]
fn audit_verify_missing_path() {
    let p = Project::fixture();
    snap!(
        p,
        "audit_verify_missing_path",
        &["audit", "verify", "nope.jsonl"]
    );
}

#[test]
fn audit_verify_no_log_yet() {
    let p = Project::fixture();
    snap!(p, "audit_verify_no_log", &["audit", "verify"]);
}

#[test]
fn audit_show_text_and_filters() {
    let p = Project::fixture();
    with_events(&p);
    snap!(p, "audit_show", &["audit", "show"]);
    snap!(
        p,
        "audit_show_deny",
        &["audit", "show", "--decision", "deny"]
    );
    snap!(
        p,
        "audit_show_last",
        &["audit", "show", "--last", "1", "--caller", "ops-agent"]
    );
    let (code, out, _) = p.run(&[
        "audit",
        "show",
        "--action",
        "restart-deployment",
        "--until",
        "2000-01-01T00:00:00Z",
    ]);
    assert_eq!((code, out.as_str()), (0, ""));
}

#[test]
fn audit_show_json_lines_are_the_log_lines() {
    let p = Project::fixture();
    with_events(&p);
    let (code, out, _) = p.run(&["audit", "show", "--output", "json"]);
    assert_eq!(code, 0);
    assert_eq!(out, p.read("audit/audit.jsonl"));
    snap!(
        p,
        "audit_show_json",
        &["audit", "show", "--output", "json", "--last", "1"]
    );
}

#[test]
fn audit_show_bad_since() {
    let p = Project::fixture();
    with_events(&p);
    snap!(
        p,
        "audit_show_bad_since",
        &["audit", "show", "--since", "last tuesday"]
    );
}

#[test]
fn audit_tail_last_n() {
    let p = Project::fixture();
    with_events(&p);
    snap!(p, "audit_tail", &["audit", "tail", "-n", "2"]);
}

#[test]
fn audit_tail_follow_prints_new_events() {
    let p = Project::fixture();
    with_events(&p);
    let mut child = p
        .cmd(&["audit", "tail", "--follow", "-n", "1", "--output", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("\"seq\":3"), "{first}");
    // A new check while following.
    let (code, _, _) = p.run(&[
        "check",
        "restart-deployment",
        "--target",
        "staging/web",
        "--caller",
        "follower-test",
        "--params",
        r#"{"namespace":"staging","deployment":"web"}"#,
        "--at",
        AT,
    ]);
    assert_eq!(code, 0);
    let started = Instant::now();
    let next = lines.next().unwrap().unwrap();
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(
        next.contains("\"seq\":4") && next.contains("follower-test"),
        "{next}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
