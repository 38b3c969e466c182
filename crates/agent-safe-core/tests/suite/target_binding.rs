//! Target binding is never silently off: a bound parameter must be in every
//! request, and a target that lacks a bound coordinate denies (with a
//! `validate` warning naming the target and the actions).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use agent_safe_core::engine::{Snapshot, SnapshotSources, binding_gaps};
use agent_safe_core::identity::IdentityConfig;
use agent_safe_core::load::{parse_action, parse_inventory, parse_policy};
use agent_safe_core::model::{Coordinate, DecisionResult as D};
use common::*;
use serde_json::json;

/// Targets with and without the coordinates the test actions bind.
const INVENTORY: &str = r#"
targets:
  - {id: staging/api, type: k8s-deployment, environment: staging, sensitivity: internal, namespace: staging, name: api}
  - {id: staging/bare, type: k8s-deployment, environment: staging, sensitivity: internal}
  - {id: staging/no-ns, type: k8s-deployment, environment: staging, sensitivity: internal, name: coredns}
  - {id: staging/no-name, type: k8s-deployment, environment: staging, sensitivity: internal, namespace: kube-system}
  - {id: lab/node, type: k8s-node, environment: staging, sensitivity: internal}
  - {id: ns/lab, type: k8s-namespace, environment: staging, sensitivity: internal, name: lab}
"#;

fn snap() -> Snapshot {
    Snapshot::compile(SnapshotSources {
        registry: registry(),
        rules: parse_policy(&src(
            "policy.yaml",
            "rules:\n  - {name: allow-all, decision: allow}\n",
        ))
        .unwrap(),
        targets: parse_inventory(&src("inventory.yaml", INVENTORY)).unwrap(),
        identity: IdentityConfig::default(),
        settings: Default::default(),
    })
    .unwrap()
}

#[test]
fn a_target_without_a_bound_coordinate_denies() {
    let snap = snap();
    #[rustfmt::skip]
    let cases: Vec<(&str, Ask, D, &str)> = vec![
        // The issue's example: a target without coordinates, params aiming at kube-system.
        ("no coordinates at all", restart("staging/bare", "kube-system", "coredns"), D::Deny,
         "target `staging/bare` has no namespace in the inventory, but `restart-deployment` binds its `namespace` parameter"),
        ("no namespace (the name matches)", restart("staging/no-ns", "kube-system", "coredns"), D::Deny,
         "target `staging/no-ns` has no namespace in the inventory"),
        ("no name (the namespace matches)", restart("staging/no-name", "kube-system", "coredns"), D::Deny,
         "target `staging/no-name` has no name in the inventory, but `restart-deployment` binds its `deployment` parameter"),
        ("a node without a name", ask("drain-node", Some("lab/node"), json!({"node": "any-node"})), D::Deny,
         "target `lab/node` has no name in the inventory"),
        ("a read-only action is bound too", ask("rollout-status", Some("staging/bare"), json!({"namespace": "kube-system", "deployment": "coredns"})), D::Deny,
         "has no namespace in the inventory"),
        // Controls: full coordinates still bind and allow.
        ("coordinates present and equal", restart("staging/api", "staging", "api"), D::Allow, "rule `allow-all` matched"),
        ("coordinates present, params differ", restart("staging/api", "kube-system", "api"), D::Deny,
         "params address namespace `kube-system` but target `staging/api` has namespace `staging`"),
        ("a namespace target binds its name only", ask("delete-namespace", Some("ns/lab"), json!({"namespace": "lab"})), D::Allow, "matched"),
    ];
    let mut failures = Vec::new();
    for (what, a, want, reason) in cases {
        let d = a.run(&snap);
        if d.result != want || !d.reason.contains(reason) {
            failures.push(format!("{what}: want {want:?} `{reason}`, got {d:?}"));
        }
        if want == D::Deny && d.policy_matched.is_some() {
            failures.push(format!("{what}: a binding deny names no rule, got {d:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn validate_names_each_target_and_the_actions_that_bind_it() {
    let gaps = binding_gaps(&snap());
    let got: Vec<(&str, &[Coordinate], Vec<&str>)> = gaps
        .iter()
        .map(|g| {
            (
                g.target.as_str(),
                g.missing.as_slice(),
                g.actions.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    let deployments = vec![
        "restart-deployment@1.0.0",
        "rollout-status@1.0.0",
        "scale-deployment@1.0.0",
    ];
    assert_eq!(
        got,
        vec![
            (
                "staging/bare",
                &[Coordinate::Namespace, Coordinate::Name][..],
                deployments.clone()
            ),
            (
                "staging/no-ns",
                &[Coordinate::Namespace][..],
                deployments.clone()
            ),
            ("staging/no-name", &[Coordinate::Name][..], deployments),
            (
                "lab/node",
                &[Coordinate::Name][..],
                vec!["drain-node@1.0.0"]
            ),
        ]
    );
    let m = &gaps[0].message;
    assert!(
        m.contains("target `staging/bare` (k8s-deployment) has no namespace or name")
            && m.contains("`restart-deployment@1.0.0`")
            && m.contains("add `namespace:` and `name:` to the target"),
        "{m}"
    );
    assert_eq!(gaps[0].file, "inventory.yaml:4");
    // The shared test inventory has every coordinate its actions bind.
    assert!(binding_gaps(&snapshot("rules: []\n")).is_empty());
}

const ACTION: &str = r#"name: restart-deployment
version: "1.0.0"
description: Rolling restart.
parameters:
  - {name: namespace, type: string}
  - {name: deployment, type: string}
risk_class: medium
target_types: [k8s-deployment]
target_params: {namespace: namespace, name: deployment}
"#;

#[test]
fn a_bound_parameter_must_be_required_and_without_default() {
    #[rustfmt::skip]
    let cases: Vec<(&str, String, Option<&str>)> = vec![
        ("required by default", ACTION.to_owned(), None),
        ("explicitly required", ACTION.replace("type: string}\n  - {name: deployment", "type: string, required: true}\n  - {name: deployment"), None),
        ("optional namespace", ACTION.replace("{name: namespace, type: string}", "{name: namespace, type: string, required: false}"),
         Some("a.yaml:9:17: error: `target_params.namespace` names `namespace`, which is optional; a parameter bound to the target must be required")),
        ("optional name", ACTION.replace("{name: deployment, type: string}", "{name: deployment, type: string, required: false}"),
         Some("`target_params.name` names `deployment`, which is optional")),
        ("defaulted namespace", ACTION.replace("{name: namespace, type: string}", "{name: namespace, type: string, default: default}"),
         Some("`target_params.namespace` names `namespace`, which has a `default`; a parameter bound to the target must be given in every request")),
        ("optional and defaulted", ACTION.replace("{name: namespace, type: string}", "{name: namespace, type: string, required: false, default: default}"),
         Some("which is optional")),
        // An unbound optional parameter is fine.
        ("unbound optional", ACTION.replace("  - {name: deployment, type: string}\n", "  - {name: deployment, type: string}\n  - {name: reason, type: string, required: false}\n"), None),
    ];
    let mut failures = Vec::new();
    for (what, text, want) in cases {
        let got = parse_action(&src("a.yaml", &text));
        match (want, got) {
            (None, Ok(_)) => {}
            (Some(w), Err(e)) if e.to_string().contains(w) => {
                if !e.to_string().contains("help:") {
                    failures.push(format!("{what}: no help line in {e}"));
                }
            }
            (w, got) => failures.push(format!("{what}: want {w:?}, got {got:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
