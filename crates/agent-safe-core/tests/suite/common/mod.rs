//! Shared fixtures for the engine tests: a small registry, inventory and
//! helpers to compile policies written inline.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;

use agent_safe_core::engine::{
    CallerInput, Decision, EngineSettings, Request, Snapshot, SnapshotSources,
};
use agent_safe_core::identity::{Caller, IdentityConfig};
use agent_safe_core::load::{SourceFile, parse_inventory, parse_policy};
use agent_safe_core::registry::Registry;
use jiff::Timestamp;

pub const ACTIONS: &[(&str, &str)] = &[
    (
        "restart-deployment.yaml",
        r#"
name: restart-deployment
version: "1.0.0"
description: Rolling restart of a Deployment.
parameters:
  - {name: namespace, type: string, constraints: {pattern: "[a-z0-9-]+", max_length: 63}}
  - {name: deployment, type: string, constraints: {pattern: "[a-z0-9-]+"}}
risk_class: medium
target_types: [k8s-deployment]
target_params: {namespace: namespace, name: deployment}
required_privileges: [apps/deployments:get, apps/deployments:patch]
tags: [deployments, write]
"#,
    ),
    (
        "scale-deployment.yaml",
        r#"
name: scale-deployment
version: "1.0.0"
description: Set the replica count of a Deployment.
parameters:
  - {name: namespace, type: string}
  - {name: deployment, type: string}
  - {name: replicas, type: integer, constraints: {min_value: 0, max_value: 100}}
risk_class: medium
target_types: [k8s-deployment]
target_params: {namespace: namespace, name: deployment}
tags: [deployments, write]
"#,
    ),
    (
        "rollout-status.yaml",
        r#"
name: rollout-status
version: "1.0.0"
description: Read the rollout status of a Deployment.
parameters:
  - {name: namespace, type: string}
  - {name: deployment, type: string}
risk_class: low
target_types: [k8s-deployment]
target_params: {namespace: namespace, name: deployment}
tags: [deployments, read-only]
"#,
    ),
    (
        "drain-node.yaml",
        r#"
name: drain-node
version: "1.0.0"
description: Cordon a node and evict its pods.
parameters:
  - {name: node, type: string}
  - {name: grace_period_seconds, type: integer, required: false, default: 30, constraints: {min_value: 0, max_value: 3600}}
risk_class: high
target_types: [k8s-node]
target_params: {name: node}
tags: [nodes, write]
"#,
    ),
    (
        "delete-namespace.yaml",
        r#"
name: delete-namespace
version: "1.0.0"
description: Delete a namespace and everything in it.
parameters:
  - {name: namespace, type: string}
risk_class: critical
target_types: [k8s-namespace]
target_params: {name: namespace}
tags: [namespaces, write, destructive]
"#,
    ),
];

pub const INVENTORY: &str = r#"
targets:
  - {id: staging/api, type: k8s-deployment, environment: staging, sensitivity: internal, owner: team-a, labels: {tier: backend, app: api}, namespace: staging, name: api}
  - {id: staging/web, type: k8s-deployment, environment: staging, sensitivity: public, labels: {tier: frontend}, namespace: staging, name: web}
  - {id: prod/api, type: k8s-deployment, environment: prod, sensitivity: restricted, labels: {tier: backend}, cluster: prod-eu-1, namespace: prod, name: api}
  - {id: dev/test-app, type: k8s-deployment, environment: dev, sensitivity: public, namespace: dev, name: test-app}
  - {id: prod/node-1, type: k8s-node, environment: prod, sensitivity: critical, name: prod-node-1}
  - {id: ns/prod, type: k8s-namespace, environment: prod, sensitivity: critical, name: prod}
  - {id: dup/a, type: k8s-deployment, environment: dev, sensitivity: public, namespace: shared, name: twin}
  - {id: dup/b, type: k8s-deployment, environment: dev, sensitivity: public, namespace: shared, name: twin}
"#;

pub fn src(name: &str, text: &str) -> SourceFile {
    SourceFile {
        path: PathBuf::from(name),
        text: text.to_owned(),
    }
}

pub fn registry() -> Registry {
    let sources: Vec<SourceFile> = ACTIONS.iter().map(|(n, t)| src(n, t)).collect();
    Registry::from_sources(false, &sources).unwrap()
}

pub fn snapshot_with(policy: &str, identity: IdentityConfig) -> Snapshot {
    snapshot_full(policy, identity, EngineSettings::default())
}

pub fn snapshot_full(policy: &str, identity: IdentityConfig, settings: EngineSettings) -> Snapshot {
    let rules = parse_policy(&src("policy.yaml", policy)).unwrap_or_else(|e| panic!("{e}"));
    let targets = parse_inventory(&src("inventory.yaml", INVENTORY)).unwrap();
    Snapshot::compile(SnapshotSources {
        registry: registry(),
        rules,
        targets,
        identity,
        settings,
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

/// The old behaviour: rules decide on targets outside the inventory.
pub fn evaluate_unknown() -> EngineSettings {
    EngineSettings {
        unknown_targets: agent_safe_core::config::UnknownTargets::EvaluateAsCritical,
        ..EngineSettings::default()
    }
}

pub fn snapshot(policy: &str) -> Snapshot {
    snapshot_with(policy, IdentityConfig::default())
}

/// A Wednesday, 10:00 UTC (11:00 in London, winter time).
pub fn wed_10() -> Timestamp {
    "2026-01-07T10:00:00Z".parse().unwrap()
}

pub fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

pub fn caller(id: &str, roles: &[&str], groups: &[&str]) -> Caller {
    Caller {
        agent_id: id.to_owned(),
        agent_name: None,
        roles: roles.iter().map(|s| (*s).to_owned()).collect(),
        groups: groups.iter().map(|s| (*s).to_owned()).collect(),
        signed: true,
        kubernetes: None,
    }
}

/// A request builder for tests.
#[derive(Clone, Debug)]
pub struct Ask {
    pub action: String,
    pub target: Option<String>,
    pub caller: Option<Caller>,
    pub raw_caller: Option<String>,
    pub params: serde_json::Value,
    pub at: Timestamp,
    pub explain: bool,
}

pub fn ask(action: &str, target: Option<&str>, params: serde_json::Value) -> Ask {
    Ask {
        action: action.to_owned(),
        target: target.map(str::to_owned),
        caller: Some(caller("some-agent", &[], &[])),
        raw_caller: None,
        params,
        at: wed_10(),
        explain: false,
    }
}

impl Ask {
    pub fn by(mut self, c: Caller) -> Self {
        self.caller = Some(c);
        self
    }
    pub fn anonymous(mut self) -> Self {
        self.caller = None;
        self.raw_caller = None;
        self
    }
    pub fn raw(mut self, s: &str) -> Self {
        self.caller = None;
        self.raw_caller = Some(s.to_owned());
        self
    }
    pub fn at(mut self, t: &str) -> Self {
        self.at = ts(t);
        self
    }
    pub fn explain(mut self) -> Self {
        self.explain = true;
        self
    }
    pub fn run(&self, snap: &Snapshot) -> Decision {
        let caller = match (&self.caller, &self.raw_caller) {
            (Some(c), _) => CallerInput::Verified(c),
            (None, Some(r)) => CallerInput::Raw(r),
            (None, None) => CallerInput::Anonymous,
        };
        let req = Request {
            action: &self.action,
            target: self.target.as_deref(),
            caller,
            params: Some(&self.params),
            explain: self.explain,
        };
        snap.evaluate(&req, self.at, None)
    }
}

pub fn restart(target: &str, ns: &str, name: &str) -> Ask {
    ask(
        "restart-deployment",
        Some(target),
        serde_json::json!({"namespace": ns, "deployment": name}),
    )
}
