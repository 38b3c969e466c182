//! `check-plan`.

use crate::{AT, Project, snap};

const PLAN: &str = "\
caller: ops-agent
steps:
  - action: restart-deployment
    target: staging/web
    params: {namespace: staging, deployment: web}
  - action: restart-deployment
    target: prod/api
    params: {namespace: prod, deployment: api}
";

#[test]
fn plan_text_takes_the_most_restrictive_step() {
    let p = Project::fixture();
    p.write("plan.yaml", PLAN);
    snap!(p, "plan_text", &["check-plan", "plan.yaml", "--at", AT]);
}

#[test]
fn plan_json_list_form() {
    let p = Project::fixture();
    p.write(
        "plan.json",
        r#"[{"action": "restart-deployment", "target": "staging/web", "caller": "ops-agent",
             "params": {"namespace": "staging", "deployment": "web"}}]"#,
    );
    snap!(
        p,
        "plan_json",
        &[
            "check-plan",
            "plan.json",
            "--at",
            AT,
            "--output",
            "json",
            "--correlation-id",
            "plan-1"
        ]
    );
    // Every step is logged under the shared correlation id.
    let (code, out, _) = p.run(&[
        "audit",
        "show",
        "--correlation-id",
        "plan-1",
        "--output",
        "json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 1);
}

#[test]
fn plan_with_a_denied_step_exits_3() {
    let p = Project::fixture();
    p.write("plan.yaml", "- {action: restart-deployment, target: staging/web, caller: ops-agent, params: {namespace: staging, deployment: web}}\n- {action: nuke-cluster, caller: ops-agent}\n");
    let (code, out, err) = p.run(&["check-plan", "plan.yaml", "--at", AT]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(out.contains("plan: DENY"), "{out}");
}

#[test]
fn plan_unknown_key_is_a_usage_error() {
    let p = Project::fixture();
    p.write(
        "plan.yaml",
        "steps:\n  - action: restart-deployment\n    parms: {namespace: staging}\n",
    );
    snap!(p, "plan_unknown_key", &["check-plan", "plan.yaml"]);
}

#[test]
fn plan_without_steps_is_a_usage_error() {
    let p = Project::fixture();
    p.write("plan.yaml", "caller: ops-agent\nsteps: []\n");
    snap!(p, "plan_empty", &["check-plan", "plan.yaml"]);
}

#[test]
fn plan_file_missing() {
    let p = Project::fixture();
    snap!(p, "plan_missing", &["check-plan", "nope.yaml"]);
}

#[test]
fn plan_files_refuse_a_repeated_key_at_any_depth() {
    let p = Project::fixture();
    // JSON is read exactly as the sidecar reads a body.
    p.write(
        "plan.json",
        "{\"steps\": [\n  {\"action\": \"restart-deployment\", \"caller\": \"ops-agent\",\n   \"params\": {\"namespace\": \"kube-system\", \"deployment\": \"web\", \"namespace\": \"staging\"}}]}\n",
    );
    let (code, out, err) = p.run(&["check-plan", "plan.json"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.starts_with("plan.json:3:"),
        "file:line:col of the repeated key: {err}"
    );
    assert!(
        err.contains("invalid plan: steps[0]: duplicate key `params.namespace`"),
        "{err}"
    );
    assert!(err.contains("help: each key may appear once"), "{err}");
    // YAML (and JSON written in a .yaml file): the YAML layer refuses it, nested too.
    p.write(
        "plan.yaml",
        "steps:\n  - action: restart-deployment\n    context:\n      run: {id: 1, id: 2}\n",
    );
    let (code, _, err) = p.run(&["check-plan", "plan.yaml"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.starts_with("plan.yaml:4:"), "{err}");
    assert!(err.contains("duplicate key `id`"), "{err}");
    assert!(
        !p.dir.join("audit/audit.jsonl").exists(),
        "nothing was checked"
    );
}

/// Issue 13, item 8: the plan file is the core `PlanRequest`, as the
/// sidecar and Python read it: a step may ask for its own trace, and the
/// plan may carry the correlation id and `explain`.
#[test]
fn plan_files_accept_every_plan_request_field() {
    let p = Project::fixture();
    p.write(
        "plan.yaml",
        "\
description: two restarts
caller: ops-agent
correlation_id: change-9
steps:
  - action: restart-deployment
    target: staging/web
    params: {namespace: staging, deployment: web}
    explain: true
  - action: restart-deployment
    target: staging/web
    params: {namespace: staging, deployment: web}
",
    );
    let (code, out, err) = p.run(&["check-plan", "plan.yaml", "--at", AT, "-o", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["correlation_id"], "change-9");
    assert!(v["steps"][0]["trace"].is_array(), "{v:#}");
    assert!(v["steps"][1].get("trace").is_none(), "{v:#}");
    // The flag still wins over the file.
    let (_, out, _) = p.run(&[
        "check-plan",
        "plan.yaml",
        "--at",
        AT,
        "-o",
        "json",
        "--correlation-id",
        "flag-1",
        "--explain",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["correlation_id"], "flag-1");
    assert!(v["steps"][1]["trace"].is_array(), "{v:#}");
    // A step may not carry its own correlation id.
    p.write(
        "plan.yaml",
        "steps:\n  - action: restart-deployment\n    correlation_id: x\n",
    );
    let (code, _, err) = p.run(&["check-plan", "plan.yaml"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("unknown key `correlation_id` in plan step"),
        "{err}"
    );
}

#[test]
fn empty_json_plan_is_a_usage_error() {
    let p = Project::fixture();
    for text in ["[]", "{\"steps\": []}"] {
        p.write("plan.json", text);
        let (code, out, err) = p.run(&["check-plan", "plan.json"]);
        assert_eq!(code, 2, "{out}{err}");
        assert!(err.contains("error: the plan has no steps"), "{err}");
    }
}
