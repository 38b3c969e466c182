//! The built-in catalogue and the example project: everything loads, every
//! privilege is a real Kubernetes resource and verb, rollbacks exist, the
//! example policies analyse clean, RBAC generation is pinned, and the
//! catalogue reference page is current.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use agent_safe_core::engine::{Snapshot, SnapshotSources, analyze};
use agent_safe_core::identity::{Caller, IdentityConfig};
use agent_safe_core::load::{SourceFile, parse_inventory, parse_policy};
use agent_safe_core::rbac::{RbacRequest, plan, to_yaml};
use agent_safe_core::registry::{Registry, catalogue_markdown, example_project};

const REQUIRED: &[&str] = &[
    "restart-deployment",
    "scale-deployment",
    "rollout-status",
    "rollout-undo",
    "update-image",
    "delete-pod",
    "get-pod-logs",
    "exec-pod",
    "port-forward",
    "cordon-node",
    "uncordon-node",
    "drain-node",
    "create-namespace",
    "delete-namespace",
    "get-configmap",
    "update-configmap",
    "get-secret",
    "scale-hpa",
    "update-hpa-limits",
    "apply-network-policy",
];

#[test]
fn every_required_action_loads() {
    let reg = Registry::builtin().unwrap_or_else(|e| panic!("{e}"));
    assert!(reg.len() >= 20);
    for name in REQUIRED {
        assert!(reg.contains(name), "missing {name}");
    }
    assert_eq!(reg.get("exec-pod").unwrap().risk_class.as_str(), "high");
    assert_eq!(reg.get("get-secret").unwrap().risk_class.as_str(), "high");
    assert_eq!(
        reg.get("delete-namespace").unwrap().risk_class.as_str(),
        "critical"
    );
}

#[test]
fn every_privilege_is_a_real_resource_and_verb() {
    let reg = Registry::builtin().unwrap();
    let mut problems = Vec::new();
    for a in reg.all_versions() {
        assert!(
            !a.required_privileges.is_empty(),
            "{} declares no privileges",
            a.name
        );
        for p in &a.required_privileges {
            if let Err(e) = agent_safe_core::privilege::validate_privilege(p) {
                problems.push(format!("{}: {e}", a.name));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn rollbacks_name_existing_actions() {
    let reg = Registry::builtin().unwrap();
    for a in reg.all_versions() {
        if a.reversible {
            let rb = a
                .rollback_action
                .as_deref()
                .unwrap_or_else(|| panic!("{} reversible without rollback", a.name));
            assert!(reg.contains(rb), "{} rolls back with unknown {rb}", a.name);
        }
        for (coord, param) in &a.target_params {
            assert!(
                a.parameter(param).is_some(),
                "{}: target_params.{coord} names no parameter",
                a.name
            );
        }
    }
}

fn example() -> Snapshot {
    let files = example_project();
    let mut rules = Vec::new();
    let mut targets = Vec::new();
    for (path, text) in files {
        let src = SourceFile {
            path: PathBuf::from(path),
            text: (*text).to_owned(),
        };
        if path.starts_with("policies/") {
            rules.extend(parse_policy(&src).unwrap_or_else(|e| panic!("{e}")));
        } else if *path == "inventory.yaml" {
            targets = parse_inventory(&src).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    assert!(!rules.is_empty() && !targets.is_empty());
    Snapshot::compile(SnapshotSources {
        registry: Registry::builtin().unwrap(),
        rules,
        targets,
        identity: IdentityConfig::default(),
        settings: Default::default(),
    })
    .unwrap()
}

#[test]
fn example_policies_analyse_clean() {
    let findings = analyze(&example());
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn rbac_for_the_deploy_agent() {
    let snap = example();
    let caller = Caller {
        agent_id: "deploy-agent".into(),
        agent_name: None,
        roles: vec!["deployer".into()],
        groups: vec![],
        signed: true,
        kubernetes: None,
    };
    let p = plan(
        &snap,
        &RbacRequest {
            caller: caller.clone(),
            namespace: Some("prod".into()),
            cluster: None,
            service_account: None,
            service_account_namespace: None,
            include_approval: true,
        },
    );
    assert!(p.actions.contains(&"restart-deployment".to_owned()));
    assert!(
        !p.actions.contains(&"delete-namespace".to_owned())
            || p.privileges.iter().any(|x| x == "namespaces:delete")
    );
    assert!(p.custom_resources.is_empty(), "{:?}", p.custom_resources);
    let yaml = to_yaml(&p).unwrap();
    insta::assert_snapshot!("rbac_deploy_agent_prod", yaml);
    let cluster = plan(
        &snap,
        &RbacRequest {
            caller: caller.clone(),
            namespace: None,
            cluster: None,
            service_account: Some("deployer".into()),
            service_account_namespace: Some("agents".into()),
            include_approval: true,
        },
    );
    // Unattended only: what the deploy agent may do without a human.
    let unattended = plan(
        &snap,
        &RbacRequest {
            caller,
            namespace: Some("prod".into()),
            cluster: Some("prod-eu-1".into()),
            service_account: None,
            service_account_namespace: None,
            include_approval: false,
        },
    );
    assert!(
        unattended
            .actions
            .contains(&"restart-deployment".to_owned()),
        "{:?}",
        unattended.actions
    );
    assert!(
        !unattended.actions.contains(&"drain-node".to_owned()),
        "{:?}",
        unattended.actions
    );
    assert!(!unattended.actions.contains(&"delete-namespace".to_owned()));
    // Issue 21: the policies allow update-image and rollout-undo only on
    // staging, so the unattended prod Role must not hold them, and no node of
    // the staging cluster leaks into the prod cluster's ClusterRole.
    for staging_only in ["update-image", "rollout-undo", "uncordon-node"] {
        assert!(
            !unattended.actions.contains(&staging_only.to_owned()),
            "{staging_only}: {:?}",
            unattended.actions
        );
    }
    assert_eq!(
        unattended.namespaces.keys().collect::<Vec<_>>(),
        vec!["prod"]
    );
    insta::assert_snapshot!(
        "rbac_deploy_agent_unattended",
        to_yaml(&unattended).unwrap()
    );
    insta::assert_snapshot!("rbac_deploy_agent_cluster", to_yaml(&cluster).unwrap());
    // Written for the offline Kubernetes schema check in CI.
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/rbac-samples");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("deploy-agent-prod.yaml"), yaml).unwrap();
    std::fs::write(
        out.join("deploy-agent-cluster.yaml"),
        to_yaml(&cluster).unwrap(),
    )
    .unwrap();
}

#[test]
fn catalogue_page_is_current() {
    let page = catalogue_markdown(&Registry::builtin().unwrap());
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/CATALOGUE.md");
    if std::env::var_os("AGENT_SAFE_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &page).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == page,
        "docs/CATALOGUE.md is stale: run `AGENT_SAFE_UPDATE_DOCS=1 cargo test -p agent-safe-core --test catalogue` and commit it"
    );
}
