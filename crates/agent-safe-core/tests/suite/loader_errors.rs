//! Every field rule and error path of the loaders, with the exact error text
//! (file:line:col, what was expected, the hint) pinned by snapshots.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;

use agent_safe_core::config::parse_config;
use agent_safe_core::load::{SourceFile, parse_action, parse_inventory, parse_policy};
use agent_safe_core::registry::Registry;

fn src(name: &str, text: &str) -> SourceFile {
    SourceFile {
        path: PathBuf::from(name),
        text: text.to_owned(),
    }
}

const GOOD_ACTION: &str = r#"name: restart-deployment
version: "1.0.0"
description: Rolling restart.
parameters:
  - name: namespace
    type: string
    constraints: {pattern: "[a-z0-9-]+", max_length: 63}
  - name: deployment
    type: string
risk_class: medium
target_types: [k8s-deployment]
target_params: {namespace: namespace, name: deployment}
required_privileges: [apps/deployments:patch]
credentials: {vault_path: secret/x}
state_fields: [replicas]
rollback_params: {}
"#;

/// Runs a table of (case name, file text) through a parser, collecting the
/// rendered errors (or `ok`) into one text for a snapshot.
fn table<T>(
    cases: &[(&str, &str)],
    parse: impl Fn(&SourceFile) -> Result<T, agent_safe_core::diag::ConfigError>,
) -> String {
    let mut out = String::new();
    for (name, text) in cases {
        out.push_str(&format!("## {name}\n"));
        match parse(&src(&format!("{}.yaml", name.replace(' ', "-")), text)) {
            Ok(_) => out.push_str("ok\n"),
            Err(e) => {
                out.push_str(&e.to_string());
                out.push('\n');
            }
        }
        out.push('\n');
    }
    out
}

#[test]
fn action_errors() {
    let cases: &[(&str, &str)] = &[
        ("valid with reserved keys", GOOD_ACTION),
        (
            "misspelt key",
            &GOOD_ACTION.replace("risk_class:", "risk_clas:"),
        ),
        (
            "several errors in one file",
            "name: Bad_Name\nversion: 1.0\ndescription: x\nrisk_class: extreme\ntarget_types: []\ntagz: [a]\n",
        ),
        ("bad semver", &GOOD_ACTION.replace("\"1.0.0\"", "\"1.0\"")),
        (
            // Issue 21: every independent error in one pass (the missing
            // rollback action too), and none that only repeats another
            // (`target_params` naming the parameter whose type is wrong).
            "independent errors in one pass, no consequences",
            "name: poke-app\nversion: \"1.0.0\"\ndescription: x\nrisk_class: lowish\ntarget_types: [k8s-deployment]\nparameters:\n  - {name: namespace, type: str}\ntarget_params: {namespace: namespace}\nreversible: true\n",
        ),
        ("missing required keys", "name: x\n"),
        ("empty file", ""),
        ("not a mapping", "- a\n- b\n"),
        (
            "wrong types",
            "name: 5\nversion: \"1.0.0\"\ndescription: [a]\nrisk_class: low\ntarget_types: k8s-pod\nreversible: yes\n",
        ),
        (
            "bad enum case",
            &GOOD_ACTION.replace("risk_class: medium", "risk_class: Medium"),
        ),
        ("bad regex", &GOOD_ACTION.replace("[a-z0-9-]+", "[a-z")),
        (
            "look-around regex",
            &GOOD_ACTION.replace("[a-z0-9-]+", "(?=a)b"),
        ),
        ("duplicate yaml key", "name: a\nname: b\n"),
        (
            "duplicate parameter",
            "name: a\nversion: \"1.0.0\"\ndescription: d\nrisk_class: low\ntarget_types: [t]\nparameters:\n  - {name: p, type: string}\n  - {name: p, type: integer}\n",
        ),
        (
            "bad parameter type and constraint",
            "name: a\nversion: \"1.0.0\"\ndescription: d\nrisk_class: low\ntarget_types: [t]\nparameters:\n  - {name: p, type: text}\n  - {name: q, type: integer, constraints: {pattern: 'x', min_value: 5, max_value: 1, maxlength: 3}}\n",
        ),
        (
            "bad default",
            "name: a\nversion: \"1.0.0\"\ndescription: d\nrisk_class: low\ntarget_types: [t]\nparameters:\n  - {name: n, type: integer, default: 500, constraints: {max_value: 10}}\n",
        ),
        (
            "bad enum values",
            "name: a\nversion: \"1.0.0\"\ndescription: d\nrisk_class: low\ntarget_types: [t]\nparameters:\n  - {name: n, type: integer, constraints: {enum: []}}\n  - {name: m, type: string, constraints: {enum: [a, 2]}}\n",
        ),
        (
            "bad target_params",
            &GOOD_ACTION.replace(
                "{namespace: namespace, name: deployment}",
                "{namespace: ns, pod: deployment}",
            ),
        ),
        (
            "bad privilege",
            &GOOD_ACTION.replace("apps/deployments:patch", "deployments patch"),
        ),
        (
            "unknown precheck key",
            "name: a\nversion: \"1.0.0\"\ndescription: d\nrisk_class: low\ntarget_types: [t]\nprechecks:\n  - {name: x, descripton: y}\n",
        ),
        ("invalid yaml", "name: a\n  version: [\n"),
    ];
    insta::assert_snapshot!(table(cases, parse_action));
}

#[test]
fn policy_errors() {
    let cases: &[(&str, &str)] = &[
        (
            "valid",
            "rules:\n  - name: r\n    priority: 5\n    match:\n      actions: [restart-*]\n      targets: {ids: [staging/*], environments: [staging], sensitivities: [internal], types: [k8s-deployment], labels: {tier: back*}}\n      callers: {agent_ids: [a-*], roles: [r], groups: [g]}\n      risk_classes: [low]\n      time_windows:\n        - {days: [mon, 4], start: \"09:00\", end: \"17:00\", timezone: Europe/London}\n        - {start_hour: 22, end_hour: 5}\n    decision: require_approval\n    reason: because\n",
        ),
        (
            "duplicate rule names",
            "rules:\n  - {name: r, decision: allow}\n  - {name: r, decision: deny}\n",
        ),
        (
            "misspelt keys everywhere",
            "rules:\n  - name: r\n    decison: allow\n    match: {action: [x], targets: {environment: [prod]}}\n",
        ),
        ("bad decision", "rules:\n  - {name: r, decision: approve}\n"),
        (
            "bad glob",
            "rules:\n  - {name: r, decision: allow, match: {actions: ['restart-[']}}\n",
        ),
        (
            "empty lists",
            "rules:\n  - {name: r, decision: allow, match: {actions: [], risk_classes: [], targets: {ids: []}}}\n",
        ),
        (
            "bad windows",
            "rules:\n  - name: r\n    decision: allow\n    match:\n      time_windows:\n        - {days: [funday, 9], start: \"9:00\", end: \"25:00\"}\n        - {start: \"09:00\"}\n        - {start: \"09:00\", end: \"10:00\", start_hour: 9, end_hour: 10}\n        - {start_hour: 24, end_hour: 3}\n        - {timezone: Mars/Olympus_Mons}\n",
        ),
        (
            "priority not an integer",
            "rules:\n  - {name: r, decision: allow, priority: high}\n",
        ),
        ("rules not a list", "rules: {name: r}\n"),
        (
            "unknown top-level key",
            "rule:\n  - {name: r, decision: allow}\n",
        ),
        ("empty file is refused", ""),
        ("rules key with no value is refused", "rules:\n"),
        ("explicit empty rules", "rules: []\n"),
    ];
    insta::assert_snapshot!(table(cases, parse_policy));
}

#[test]
fn inventory_errors() {
    let cases: &[(&str, &str)] = &[
        (
            "valid",
            "targets:\n  - {id: prod/api, type: k8s-deployment, environment: prod, sensitivity: critical, owner: team, labels: {tier: backend, replicas: 3}, cluster: c, namespace: prod, name: api}\n  - {id: lab/x, type: k8s-node, environment: my-lab, sensitivity: public}\n",
        ),
        (
            "duplicate ids",
            "targets:\n  - {id: a, type: t, environment: e, sensitivity: public}\n  - {id: a, type: t, environment: e, sensitivity: public}\n",
        ),
        (
            "missing and bad fields",
            "targets:\n  - {id: 'has space', sensitivity: secret, enviroment: prod}\n",
        ),
        (
            "labels must be strings",
            "targets:\n  - {id: a, type: t, environment: e, sensitivity: public, labels: {x: [1]}}\n",
        ),
    ];
    insta::assert_snapshot!(table(cases, parse_inventory));
}

#[test]
fn config_errors() {
    let cases: &[(&str, &str)] = &[
        (
            "valid",
            "actions: actions\npolicies: policies\ninventory: inventory.yaml\naudit:\n  path: audit/audit.jsonl\n  durability: sync\n  rotation: {max_bytes: 1048576, daily: true}\nidentity:\n  keys: [{kid: k1, secret_env: AGENT_SAFE_KEY}]\n  issuer: me\n  leeway_seconds: 10\n  require_signed: true\nserver: {listen: \"127.0.0.1:8400\", max_body_bytes: 1000}\n",
        ),
        (
            "bad values",
            "polices: p\naudit: {durability: fast, rotation: {max_bytes: -1}}\nidentity: {keys: [{kid: k}]}\nserver: {listen: localhost}\n",
        ),
    ];
    insta::assert_snapshot!(table(cases, parse_config));
}

#[test]
fn config_server_edge_settings() {
    let cases: &[(&str, &str)] = &[
        (
            "valid",
            "server:\n  allowed_hosts: [agent-safe.agents.svc, 'agent-safe.agents.svc.cluster.local:8400', '10.0.0.7', '[fd00::7]:8400', Example.COM.]\n  header_timeout_ms: 0\n  max_connections: 1\n",
        ),
        (
            "bad values",
            "server:\n  allowed_hosts: ['http://x', '*.svc', 'a:0', 'a:http', '[::1', '[zz]', 'a b', '']\n  header_timeout_ms: -1\n  max_connections: 0\n",
        ),
    ];
    insta::assert_snapshot!(table(cases, parse_config));
    let (_, valid) = cases[0];
    let cfg = parse_config(&src("valid.yaml", valid)).unwrap();
    assert_eq!(cfg.server.allowed_hosts.len(), 5);
    assert_eq!(cfg.server.header_timeout_ms, 0);
    assert_eq!(cfg.server.max_connections, 1);
    use agent_safe_core::config::parse_allowed_host as parse;
    assert_eq!(
        parse("Example.COM.").unwrap(),
        ("example.com".to_owned(), None)
    );
    assert_eq!(
        parse("a.svc:8400").unwrap(),
        ("a.svc".to_owned(), Some(8400))
    );
    assert_eq!(
        parse("[FD00::7]:1").unwrap(),
        ("[fd00::7]".to_owned(), Some(1))
    );
    assert_eq!(parse("10.0.0.7").unwrap(), ("10.0.0.7".to_owned(), None));
    let defaults = agent_safe_core::config::ServerSettings::default();
    assert_eq!(
        (defaults.header_timeout_ms, defaults.max_connections),
        (10_000, 512)
    );
}

#[test]
fn registry_duplicates_and_rollbacks() {
    let a = src("a.yaml", GOOD_ACTION);
    let b = src("b.yaml", GOOD_ACTION);
    let e = Registry::from_sources(false, &[a.clone(), b]).unwrap_err();
    assert!(
        e.to_string()
            .contains("duplicate action `restart-deployment@1.0.0`, first defined in a.yaml"),
        "{e}"
    );
    let newer = src("c.yaml", &GOOD_ACTION.replace("\"1.0.0\"", "\"1.2.0\""));
    let reg = Registry::from_sources(false, &[a, newer]).unwrap();
    assert_eq!(reg.get("restart-deployment").unwrap().version, "1.2.0");
    assert_eq!(
        reg.get("restart-deployment@1.0.0").unwrap().version,
        "1.0.0"
    );
    let e = reg.get("restart-deployment@2.0.0").unwrap_err();
    assert_eq!(
        e.to_string(),
        "action `restart-deployment` has no version `2.0.0` (available: 1.0.0, 1.2.0)"
    );
    let rb = src(
        "d.yaml",
        &GOOD_ACTION.replace(
            "risk_class: medium",
            "risk_class: medium\nreversible: true\nrollback_action: undo-it",
        ),
    );
    let e = Registry::from_sources(false, &[rb]).unwrap_err();
    assert!(
        e.to_string()
            .contains("names `undo-it`, which is not a known action"),
        "{e}"
    );
}

#[test]
fn reserved_keys_are_preserved() {
    let a = parse_action(&src("a.yaml", GOOD_ACTION)).unwrap();
    assert_eq!(a.credentials.unwrap()["vault_path"], "secret/x");
    assert_eq!(a.state_fields.unwrap()[0], "replicas");
    assert!(a.rollback_params.is_some());
}
