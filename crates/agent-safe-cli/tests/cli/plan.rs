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
