//! `test`.

use crate::{Project, snap};

#[test]
fn test_suite_passes() {
    let p = Project::fixture();
    snap!(p, "test_pass", &["test"]);
    // Tests are not real checks: nothing was written to the audit log.
    assert!(!p.dir.join("audit").exists());
}

const FAILING: &str = "\
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
";

#[test]
fn test_failures_say_why() {
    let p = Project::fixture();
    p.write("more/failing.yaml", FAILING);
    // Each failure shows its rule trace, as `check --explain` prints it.
    snap!(p, "test_failures", &["test", "more/failing.yaml"]);
}

#[test]
fn test_run_filters_cases_by_name() {
    let p = Project::fixture();
    p.write("more/failing.yaml", FAILING);
    let (code, out, _) = p.run(&["test", "more/failing.yaml", "--run", "^(this one|reason)"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("PASS this one passes"), "{out}");
    assert!(out.contains("FAIL reason mismatch"), "{out}");
    assert!(!out.contains("wrong result"), "{out}");
    assert!(
        out.ends_with("1 passed, 1 failed, 3 filtered out by --run\n"),
        "{out}"
    );
    let (code, out, _) = p.run(&["test", "more/failing.yaml", "--run", "passes$"]);
    assert_eq!(code, 0, "{out}");
    let (code, _, err) = p.run(&["test", "more/failing.yaml", "--run", "nothing-like-this"]);
    assert_eq!(code, 1);
    assert!(err.contains("matches none of the 5 test cases"), "{err}");
    let (code, _, err) = p.run(&["test", "--run", "(unclosed"]);
    assert_eq!(code, 2);
    assert!(err.contains("--run: invalid regular expression"), "{err}");
}

#[test]
fn test_output_json_reports_every_case_with_the_trace_of_failures() {
    let p = Project::fixture();
    p.write("more/failing.yaml", FAILING);
    let (code, out, _) = p.run(&["test", "more/failing.yaml", "--output", "json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["passed"], 1);
    assert_eq!(v["failed"], 4);
    let cases = v["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 5);
    let first = &cases[0];
    assert_eq!(first["name"], "wrong result");
    assert_eq!(first["status"], "fail");
    assert_eq!(first["expected"], "allow");
    assert_eq!(first["file"], "more/failing.yaml");
    assert!(first["line"].as_u64().unwrap() > 0);
    assert!(
        first["message"]
            .as_str()
            .unwrap()
            .starts_with("expected allow, got")
    );
    assert!(!first["decision"]["trace"].as_array().unwrap().is_empty());
    let last = &cases[4];
    assert_eq!(last["status"], "pass");
    assert_eq!(last["message"], serde_json::Value::Null);
    assert!(last["decision"].get("trace").is_none());
}

#[test]
fn test_output_junit_is_valid_junit_xml() {
    let p = Project::fixture();
    p.write("more/failing.yaml", FAILING);
    let (code, out, _) = p.run(&["test", "more", "tests", "--output", "junit"]);
    assert_eq!(code, 1);
    let report = quick_junit::Report::deserialize_from_str(&out).unwrap();
    assert_eq!(report.failures, 4);
    let suites: Vec<&str> = report.test_suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(suites[0], "more/failing.yaml");
    assert!(suites.len() >= 2, "{suites:?}");
    let failed = &report.test_suites[0].test_cases[0];
    assert_eq!(failed.name.as_str(), "wrong result");
    assert!(!matches!(
        failed.status,
        quick_junit::TestCaseStatus::Success { .. }
    ));
    assert!(!out.contains('\u{1b}'), "no terminal colours in XML");
    assert!(out.contains("trace: rules in rank order"), "{out}");
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
