//! `test`.

use crate::{Project, snap};

#[test]
fn test_suite_passes() {
    let p = Project::fixture();
    snap!(p, "test_pass", &["test"]);
    // Tests are not real checks: nothing was written to the audit log.
    assert!(!p.dir.join("audit").exists());
}

#[test]
fn test_failures_say_why() {
    let p = Project::fixture();
    p.write(
        "more/failing.yaml",
        "\
tests:
  - name: wrong result
    request: {action: restart-deployment, target: prod/api, caller: ops-agent, params: {namespace: prod, deployment: api}, at: \"2026-03-04T12:00:00Z\"}
    expect: allow
  - name: wrong rule and risk
    request: {action: restart-deployment, target: staging/web, caller: ops-agent, params: {namespace: staging, deployment: web}, at: \"2026-03-04T12:00:00Z\"}
    expect: allow
    policy: deployers-manage-staging
    effective_risk: medium
  - name: expected the default deny
    request: {action: restart-deployment, target: staging/api, caller: ops-agent, params: {namespace: staging, deployment: api}, at: \"2026-03-04T12:00:00Z\"}
    expect: require_approval
    policy: ~
  - name: reason mismatch
    request: {action: nope, caller: ops-agent}
    expect: deny
    reason_contains: no such thing
  - name: this one passes
    request: {action: nope, caller: ops-agent}
    expect: deny
",
    );
    snap!(p, "test_failures", &["test", "more/failing.yaml"]);
}

#[test]
fn test_empty_suite_fails() {
    let p = Project::fixture();
    p.write("empty/none.yaml", "tests: []\n");
    snap!(p, "test_empty_suite", &["test", "empty"]);
}

#[test]
fn test_without_tests_directory_fails() {
    let p = Project::fixture();
    std::fs::remove_dir_all(p.dir.join("tests")).unwrap();
    snap!(p, "test_no_tests_dir", &["test"]);
}

#[test]
fn test_malformed_file_names_file_line_col() {
    let p = Project::fixture();
    p.write(
        "bad/bad.yaml",
        "\
tests:
  - name: typo
    request: {action: restart-deployment, caller: a, claims: {agent_id: b}}
    expect: alow
    polcy: x
  - name: bad time
    request: {action: x, at: \"yesterday\"}
    expect: deny
  - name: typo
    request: {action: x, target: 3}
    expect: deny
",
    );
    snap!(p, "test_malformed", &["test", "bad"]);
}

#[test]
fn test_missing_path() {
    let p = Project::fixture();
    snap!(p, "test_missing_path", &["test", "nope.yaml"]);
}
