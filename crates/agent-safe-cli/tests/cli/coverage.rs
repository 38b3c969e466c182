//! `agent-safe test --coverage`: the project `init` writes covers every rule;
//! a project with a shadowed rule and a dead one does not, and says which.

use serde_json::Value;

use super::Project;

#[test]
fn the_init_project_covers_every_rule() {
    let p = Project::empty();
    let (code, _, err) = p.run(&["init", "shop"]);
    assert_eq!(code, 0, "{err}");
    let shop = Project {
        dir: p.dir.join("shop"),
        ..Project::empty()
    };
    let (code, out, err) = shop.run(&["test", "--min-coverage", "100", "-o", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let c = &report["coverage"];
    assert_eq!(c["percent"], 100.0);
    assert_eq!(c["covered"], c["total"]);
    assert!(c["total"].as_u64().unwrap() >= 10);
    for r in c["rules"].as_array().unwrap() {
        assert_eq!(r["status"], "decided", "{r}");
        assert!(r["decided"].as_u64().unwrap() >= 1, "{r}");
    }
    let (code, out, _) = shop.run(&["test", "--coverage"]);
    assert_eq!(code, 0);
    assert!(out.contains("(100.0%)"), "{out}");
    drop(p);
}

const POLICY: &str = r#"rules:
  - name: deployers
    priority: 200
    match:
      actions: [restart-deployment]
      callers: {roles: [deployer]}
    decision: allow
  - name: everyone-restarts
    priority: 300
    match:
      actions: [restart-deployment]
      callers: {agent_ids: ["**"]}
    decision: require_approval
  - name: nobody-drains
    priority: 100
    match:
      actions: [drain-node]
      targets: {environments: [nowhere]}
    decision: deny
"#;

const TESTS: &str = r#"tests:
  - name: a deployer restart goes to a human
    request:
      at: "2026-03-04T12:00:00Z"
      action: restart-deployment
      target: staging/web
      claims: {agent_id: deploy-agent, roles: [deployer]}
      params: {namespace: staging, deployment: web}
    expect: require_approval
  - name: anyone else too
    request:
      at: "2026-03-04T12:00:00Z"
      action: restart-deployment
      target: staging/web
      caller: ops-agent
      params: {namespace: staging, deployment: web}
    expect: require_approval
"#;

#[test]
fn a_shadowed_and_a_dead_rule_are_reported() {
    let p = Project::empty();
    p.write(
        "agent-safe.yaml",
        "policies: policies\ninventory: inventory.yaml\naudit: {enabled: false}\n",
    );
    p.write(
        "inventory.yaml",
        "targets:\n  - {id: staging/web, type: k8s-deployment, environment: staging, sensitivity: internal, namespace: staging, name: web}\n",
    );
    p.write("policies/p.yaml", POLICY);
    p.write("tests/t.yaml", TESTS);
    let (code, out, err) = p.run(&["test", "--coverage", "-o", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let rules: Vec<(String, u64, u64, String)> = report["coverage"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["rule"].as_str().unwrap().to_owned(),
                r["decided"].as_u64().unwrap(),
                r["matched"].as_u64().unwrap(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rules,
        vec![
            ("deployers".into(), 0, 1, "matched_never_won".into()),
            ("everyone-restarts".into(), 2, 2, "decided".into()),
            ("nobody-drains".into(), 0, 0, "never_matched".into()),
        ]
    );
    assert_eq!(report["coverage"]["covered"], 1);
    assert_eq!(report["coverage"]["total"], 3);

    // Below the bar: exit 1, and the text report says why, rule by rule.
    let (code, out, _) = p.run(&["test", "--min-coverage", "50"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("2 passed, 0 failed"), "{out}");
    assert!(out.contains("matched, never won"), "{out}");
    assert!(out.contains("never matched"), "{out}");
    assert!(out.contains("policies/p.yaml:14"), "{out}");
    assert!(
        out.contains("coverage: 1 of 3 rules decided a case (33.3%) — below --min-coverage 50%"),
        "{out}"
    );
    let (code, _, _) = p.run(&["test", "--min-coverage", "30"]);
    assert_eq!(code, 0);
    // Without --coverage nothing changes.
    let (code, out, _) = p.run(&["test"]);
    assert_eq!(code, 0);
    assert!(!out.contains("coverage"), "{out}");
    let (code, _, err) = p.run(&["test", "--min-coverage", "101"]);
    assert_eq!(code, 2);
    assert!(err.contains("is not a percentage"), "{err}");
}
