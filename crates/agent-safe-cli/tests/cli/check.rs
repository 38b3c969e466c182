//! `check`.

use std::process::Stdio;

use crate::{AT, Project, snap};

const WEB: &str = r#"{"namespace":"staging","deployment":"web"}"#;
const PROD_API: &str = r#"{"namespace":"prod","deployment":"api"}"#;

#[test]
fn check_allow_text() {
    let p = Project::fixture();
    snap!(
        p,
        "check_allow_text",
        &[
            "check",
            "restart-deployment",
            "--target",
            "staging/web",
            "--caller",
            "ops-agent",
            "--params",
            WEB,
            "--at",
            AT
        ]
    );
}

#[test]
fn check_allow_json_is_the_decision_object() {
    let p = Project::fixture();
    snap!(
        p,
        "check_allow_json",
        &[
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
            "--correlation-id",
            "run-42"
        ]
    );
    // Exactly serde_json::to_string_pretty(&decision): it parses back into a Decision.
    let (code, out, _) = p.run(&[
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
        "-o",
        "json",
    ]);
    assert_eq!(code, 0);
    let d: agent_safe_core::Decision = serde_json::from_str(&out).unwrap();
    assert_eq!(
        out,
        format!("{}\n", serde_json::to_string_pretty(&d).unwrap())
    );
}

#[test]
fn check_require_approval_exits_4() {
    let p = Project::fixture();
    snap!(
        p,
        "check_require_approval",
        &[
            "check",
            "restart-deployment",
            "--target",
            "prod/api",
            "--caller",
            "ops-agent",
            "--params",
            PROD_API,
            "--at",
            AT
        ]
    );
}

#[test]
fn check_explain_shows_the_trace() {
    let p = Project::fixture();
    snap!(
        p,
        "check_explain",
        &[
            "check",
            "restart-deployment",
            "--target",
            "prod/api",
            "--caller",
            "ops-agent",
            "--params",
            PROD_API,
            "--at",
            AT,
            "--explain"
        ]
    );
}

#[test]
fn check_unknown_action_denies_with_suggestion() {
    let p = Project::fixture();
    snap!(
        p,
        "check_unknown_action",
        &[
            "check",
            "restat-deployment",
            "--target",
            "staging/web",
            "--caller",
            "ops-agent",
            "--at",
            AT
        ]
    );
}

#[test]
fn check_invalid_params_deny_listing_every_problem() {
    let p = Project::fixture();
    snap!(
        p,
        "check_invalid_params",
        &[
            "check",
            "restart-deployment",
            "--target",
            "staging/web",
            "--caller",
            "ops-agent",
            "--params",
            r#"{"namespace":"Staging","force":true}"#,
            "--at",
            AT
        ]
    );
}

#[test]
fn check_target_resolved_from_params() {
    let p = Project::fixture();
    snap!(
        p,
        "check_target_from_params",
        &[
            "check",
            "restart-deployment",
            "--caller",
            "ops-agent",
            "--params",
            WEB,
            "--at",
            AT
        ]
    );
}

#[test]
fn check_params_from_file_and_stdin() {
    let p = Project::fixture();
    p.write("params.json", WEB);
    let (code, out, err) = p.run(&[
        "check",
        "restart-deployment",
        "--caller",
        "ops-agent",
        "--params-file",
        "params.json",
        "--at",
        AT,
    ]);
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    let out = p
        .cmd(&[
            "check",
            "restart-deployment",
            "--caller",
            "ops-agent",
            "--params-file",
            "-",
            "--at",
            AT,
        ])
        .stdin(std::fs::File::open(p.dir.join("params.json")).unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn check_signed_token_carries_roles() {
    let p = Project::fixture();
    let (code, token, err) = p.run(&[
        "token",
        "create",
        "--agent-id",
        "deploy-agent",
        "--roles",
        "deployer",
    ]);
    assert_eq!(code, 0, "{err}");
    let token = token.trim();
    snap!(
        p,
        "check_signed_token",
        &[
            "check",
            "restart-deployment",
            "--target",
            "staging/api",
            "--caller",
            token,
            "--params",
            r#"{"namespace":"staging","deployment":"api"}"#,
            "--at",
            AT
        ]
    );
    // The caller can come from the environment too (keeps tokens out of shell history).
    let out = p
        .cmd(&[
            "check",
            "restart-deployment",
            "--target",
            "staging/api",
            "--params",
            r#"{"namespace":"staging","deployment":"api"}"#,
            "--at",
            AT,
        ])
        .env("AGENT_SAFE_CALLER", token)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn check_bad_token_denies() {
    let p = Project::fixture();
    snap!(
        p,
        "check_bad_token",
        &[
            "check",
            "restart-deployment",
            "--target",
            "staging/api",
            "--caller",
            "eyJhbGciOiJub25lIn0.eyJhZ2VudF9pZCI6IngifQ.",
            "--at",
            AT
        ]
    );
}

#[test]
fn check_invalid_json_params_is_a_usage_error() {
    let p = Project::fixture();
    snap!(
        p,
        "check_params_invalid_json",
        &[
            "check",
            "restart-deployment",
            "--params",
            r#"{"namespace": staging}"#
        ]
    );
}

#[test]
fn check_params_not_an_object_is_a_usage_error() {
    let p = Project::fixture();
    snap!(
        p,
        "check_params_not_object",
        &["check", "restart-deployment", "--params", r#"["staging"]"#]
    );
}

#[test]
fn check_params_file_missing() {
    let p = Project::fixture();
    snap!(
        p,
        "check_params_file_missing",
        &["check", "restart-deployment", "--params-file", "nope.json"]
    );
}

#[test]
fn check_params_and_params_file_conflict() {
    let p = Project::fixture();
    snap!(
        p,
        "check_params_conflict",
        &[
            "check",
            "restart-deployment",
            "--params",
            "{}",
            "--params-file",
            "x.json"
        ]
    );
}

#[test]
fn check_invalid_at() {
    let p = Project::fixture();
    snap!(
        p,
        "check_invalid_at",
        &["check", "restart-deployment", "--at", "2026-03-04 noon"]
    );
}

#[test]
fn check_missing_config_file() {
    let p = Project::fixture();
    snap!(
        p,
        "check_missing_config",
        &[
            "--config",
            "nope/agent-safe.yaml",
            "check",
            "restart-deployment"
        ]
    );
}

#[test]
fn check_config_from_environment() {
    let p = Project::fixture();
    let out = p
        .cmd(&[
            "check",
            "restart-deployment",
            "--caller",
            "ops-agent",
            "--params",
            WEB,
            "--at",
            AT,
        ])
        .current_dir(&p.root)
        .env("AGENT_SAFE_CONFIG", p.dir.join("agent-safe.yaml"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = p
        .cmd(&["check", "x"])
        .env("AGENT_SAFE_CONFIG", "missing.yaml")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("AGENT_SAFE_CONFIG"));
}

#[test]
fn check_malformed_policy_yaml_names_file_line_col() {
    let p = Project::fixture();
    p.write(
        "policies/broken.yaml",
        "rules:\n  - name: oops\n    decision: allow\n    priorty: 10\n",
    );
    snap!(
        p,
        "check_malformed_policy",
        &["check", "restart-deployment"]
    );
}

#[test]
fn check_without_any_config_denies() {
    let p = Project::empty();
    snap!(
        p,
        "check_no_config",
        &[
            "check",
            "restart-deployment",
            "--target",
            "staging/web",
            "--caller",
            "ops-agent",
            "--params",
            WEB,
            "--at",
            AT
        ]
    );
}

#[test]
fn check_finds_config_in_parent_directory() {
    let p = Project::fixture();
    std::fs::create_dir_all(p.dir.join("sub/dir")).unwrap();
    let out = p
        .cmd(&[
            "check",
            "restart-deployment",
            "--caller",
            "ops-agent",
            "--params",
            WEB,
            "--at",
            AT,
        ])
        .current_dir(p.dir.join("sub/dir"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    // The audit log is the project's, not one under sub/dir.
    assert!(p.dir.join("audit/audit.jsonl").is_file());
    assert!(!p.dir.join("sub/dir/audit").exists());
}

#[test]
fn check_with_closed_stdout_keeps_the_decision_exit_code() {
    let p = Project::fixture();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = p
        .cmd(&[
            "check",
            "drain-node",
            "--target",
            "prod/node-1",
            "--caller",
            "ops-agent",
            "--params",
            r#"{"node":"prod-node-1"}"#,
            "--at",
            "2026-03-04T23:00:00Z",
        ])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    // DENY stays exit 3 even when nobody reads the answer: `| head` never turns a deny into success.
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

/// Issue 13, item 3: the last of two equal keys used to win, so the check
/// (and the audit line) saw `staging` while an executor reading the first
/// value acted on `kube-system`.
#[test]
fn check_refuses_a_repeated_params_key() {
    let p = Project::fixture();
    snap!(
        p,
        "check_params_duplicate_key",
        &[
            "check",
            "restart-deployment",
            "--caller",
            "ops-agent",
            "--params",
            r#"{"namespace":"kube-system","deployment":"api","namespace":"staging"}"#
        ]
    );
    assert!(
        !p.dir.join("audit/audit.jsonl").exists(),
        "nothing was checked or logged"
    );
}

#[test]
fn check_refuses_repeated_keys_at_any_depth_in_every_input() {
    let p = Project::fixture();
    p.write(
        "params.json",
        "{\"namespace\": \"staging\", \"deployment\": \"web\",\n \"x\": [{\"k\": 1, \"k\": 2}]}",
    );
    let cases: [(&[&str], &str); 3] = [
        (
            &[
                "--params",
                r#"{"namespace":"staging","deployment":"web","o":{"a":{"b":1,"b":2}}}"#,
            ],
            "--params: duplicate key `params.o.a.b`",
        ),
        (
            &["--params-file", "params.json"],
            "--params-file params.json: duplicate key `params.x[0].k`",
        ),
        (
            &[
                "--params",
                r#"{"namespace":"staging","deployment":"web"}"#,
                "--context",
                r#"{"run":"a","run":"b"}"#,
            ],
            "--context: duplicate key `context.run`",
        ),
    ];
    for (args, want) in cases {
        let mut argv = vec!["check", "restart-deployment", "--caller", "ops-agent"];
        argv.extend_from_slice(args);
        let (code, out, err) = p.run(&argv);
        assert_eq!(code, 2, "{argv:?}: {out}{err}");
        assert!(err.contains(want), "{argv:?}: {err}");
        assert!(
            err.contains("line 2 column") || !want.contains("params-file"),
            "{err}"
        );
    }
    // Equal keys in different objects are not repeats.
    let (code, out, err) = p.run(&[
        "check",
        "restart-deployment",
        "--caller",
        "ops-agent",
        "--at",
        AT,
        "--params",
        r#"{"namespace":"staging","deployment":"web"}"#,
        "--context",
        r#"{"a":{"id":1},"b":{"id":2}}"#,
    ]);
    assert_eq!(code, 0, "{out}{err}");
}
