//! `agent-safe rbac` on the example project of the LangGraph demo
//! (`examples/k8s_agent/project`): for each of its callers, the generated
//! Roles and ClusterRole equal an expectation computed by hand from its
//! policies and inventory (the reasoning is in the comments).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use agent_safe_core::config::load_config;
use agent_safe_core::engine::Snapshot;
use agent_safe_core::identity::Caller;
use agent_safe_core::rbac::{RbacPlan, RbacRequest, plan};

fn example() -> Snapshot {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/k8s_agent/project/agent-safe.yaml");
    Snapshot::load(&load_config(&path).unwrap()).unwrap_or_else(|e| panic!("{e}"))
}

fn rbac(agent: &str, roles: &[&str], include_approval: bool, namespace: Option<&str>) -> RbacPlan {
    plan(
        &example(),
        &RbacRequest {
            caller: Caller {
                agent_id: agent.into(),
                agent_name: None,
                roles: roles.iter().map(|r| (*r).to_owned()).collect(),
                groups: vec![],
                signed: true,
                kubernetes: None,
            },
            namespace: namespace.map(str::to_owned),
            cluster: None,
            service_account: None,
            service_account_namespace: Some("agents".into()),
            include_approval,
        },
    )
}

/// Each Role (by namespace, `None` = the ClusterRole), flattened to
/// `group/resource:verb` privileges (core resources without a group).
fn grants(p: &RbacPlan) -> BTreeMap<Option<String>, BTreeSet<String>> {
    let mut out: BTreeMap<Option<String>, BTreeSet<String>> = BTreeMap::new();
    for m in &p.manifests {
        match m.kind.as_str() {
            "Role" | "ClusterRole" => {
                let set = out.entry(m.metadata.namespace.clone()).or_default();
                for r in m.rules.as_ref().unwrap() {
                    for g in &r.api_groups {
                        for res in &r.resources {
                            for v in &r.verbs {
                                let prefix = if g.is_empty() {
                                    String::new()
                                } else {
                                    format!("{g}/")
                                };
                                set.insert(format!("{prefix}{res}:{v}"));
                            }
                        }
                    }
                }
            }
            "RoleBinding" | "ClusterRoleBinding" => {
                let role = m.role_ref.as_ref().unwrap();
                let agent = &m.metadata.labels["agent-safe/agent"];
                assert_eq!(role.name, format!("agent-safe-{agent}"));
                assert_eq!(role.kind, m.kind.trim_end_matches("Binding"));
                let s = &m.subjects.as_ref().unwrap()[0];
                assert_eq!(
                    (s.kind.as_str(), s.namespace.as_str()),
                    ("ServiceAccount", "agents")
                );
            }
            other => panic!("unexpected kind {other}"),
        }
    }
    out
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn list(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

// The demo inventory has Deployments (staging: api, worker internal, web
// public; prod: api, worker restricted, web internal), the namespaces
// `staging` (internal) and `prod` (restricted), and nodes (staging-node-1
// internal; prod-node-1, prod-node-2 restricted). So only Deployment,
// namespace and node actions can be reached.
//
// Rules, in rank order: deny-scaling-prod (1000: scale-* and update-hpa-limits
// on prod, no window, so it always wins there), reads-allowed (600: five read
// actions, any identified agent, effective risk up to high), drain approval
// (400), prod-requires-approval (200: everything on prod), staging-operators
// (100: role operator, staging, up to high).

const DEPLOYMENT_PRIVS: &[&str] = &[
    // describe-deployment, rollout-status, restart/pause/resume/undo/update-image
    "apps/deployments:get",
    "apps/deployments:list",
    "apps/deployments:watch",
    "apps/deployments:patch",
    "apps/replicasets:list",
    "events:list",
];

#[test]
fn the_demo_operator_with_approvals() {
    let p = rbac("k8s-demo-agent", &["operator"], true, None);
    // Staging: reads by reads-allowed; every Deployment change (effective
    // risk at most high) and create-namespace by staging-operators;
    // delete-namespace is critical there, which no rule allows.
    let staging = list(&[
        "create-namespace",
        "describe-deployment",
        "get-events",
        "list-pods",
        "restart-deployment",
        "rollout-pause",
        "rollout-resume",
        "rollout-status",
        "rollout-undo",
        "scale-deployment",
        "update-image",
    ]);
    // Prod: reads; every other change goes to approval, except scaling,
    // which deny-scaling-prod always denies first.
    let prod = list(&[
        "create-namespace",
        "delete-namespace",
        "describe-deployment",
        "get-events",
        "list-pods",
        "restart-deployment",
        "rollout-pause",
        "rollout-resume",
        "rollout-status",
        "rollout-undo",
        "update-image",
    ]);
    assert_eq!(
        p.namespaces,
        BTreeMap::from([("prod".to_owned(), prod), ("staging".to_owned(), staging)])
    );
    // Nodes: cordon/uncordon by staging-operators (staging) or approval
    // (prod); drain by the drain approval rule.
    assert_eq!(
        p.cluster_scoped,
        list(&["cordon-node", "drain-node", "uncordon-node"])
    );
    let mut staging_role = set(DEPLOYMENT_PRIVS);
    // scale-deployment, list-pods
    staging_role.extend(set(&[
        "apps/deployments/scale:patch",
        "autoscaling/horizontalpodautoscalers:list",
        "pods:list",
    ]));
    let mut prod_role = set(DEPLOYMENT_PRIVS);
    // list-pods, delete-namespace's PVC listing
    prod_role.extend(set(&["pods:list", "persistentvolumeclaims:list"]));
    let cluster = set(&[
        // create-namespace, delete-namespace (prod only)
        "namespaces:get",
        "namespaces:create",
        "namespaces:delete",
        // cordon, uncordon, drain
        "nodes:get",
        "nodes:list",
        "nodes:patch",
        // drain: pods of every namespace of the node
        "pods:get",
        "pods:list",
        "pods/eviction:create",
        "apps/daemonsets:get",
        "policy/poddisruptionbudgets:list",
    ]);
    assert_eq!(
        grants(&p),
        BTreeMap::from([
            (Some("prod".to_owned()), prod_role),
            (Some("staging".to_owned()), staging_role),
            (None, cluster),
        ])
    );
    assert!(p.unknown_target_actions.is_empty());
    assert!(p.no_namespace.is_empty(), "{:?}", p.no_namespace);
    assert_eq!(p.clusters, list(&["demo"]));
}

#[test]
fn the_demo_operator_unattended() {
    let p = rbac("k8s-demo-agent", &["operator"], false, None);
    // Staging is the same but for drain-node (approval only). On prod only
    // the reads remain: prod-requires-approval has no time window, so it
    // decides every other prod request before anything could allow it.
    assert_eq!(
        p.namespaces["prod"],
        list(&[
            "describe-deployment",
            "get-events",
            "list-pods",
            "rollout-status"
        ])
    );
    assert_eq!(p.namespaces["staging"].len(), 11);
    assert_eq!(p.cluster_scoped, list(&["cordon-node", "uncordon-node"]));
    let g = grants(&p);
    assert_eq!(
        g[&Some("prod".to_owned())],
        set(&[
            "apps/deployments:get",
            "apps/deployments:list",
            "apps/deployments:watch",
            "apps/replicasets:list",
            "events:list",
            "pods:list",
        ])
    );
    assert_eq!(
        g[&None],
        set(&[
            "namespaces:get",
            "namespaces:create",
            "nodes:get",
            "nodes:list",
            "nodes:patch"
        ])
    );
    // Scoping by namespace keeps only that namespace's Role (and the nodes).
    let only_prod = rbac("k8s-demo-agent", &["operator"], false, Some("prod"));
    let g = grants(&only_prod);
    assert_eq!(
        g.keys().cloned().collect::<Vec<_>>(),
        vec![None, Some("prod".to_owned())]
    );
    assert!(!g[&Some("prod".to_owned())].contains("apps/deployments:patch"));
    // create-namespace was reached on `ns/staging` only.
    assert_eq!(g[&None], set(&["nodes:get", "nodes:list", "nodes:patch"]));
}

#[test]
fn an_identified_agent_without_roles() {
    // Without the operator role staging-operators never matches: on staging
    // only the reads; on prod the reads and the approval rule; nodes only by
    // approval.
    let p = rbac("log-reader", &[], true, None);
    assert_eq!(
        p.namespaces["staging"],
        list(&[
            "describe-deployment",
            "get-events",
            "list-pods",
            "rollout-status"
        ])
    );
    assert_eq!(p.namespaces["prod"].len(), 11);
    assert_eq!(
        p.cluster_scoped,
        list(&["cordon-node", "drain-node", "uncordon-node"])
    );
    assert_eq!(
        grants(&p)[&Some("staging".to_owned())],
        set(&[
            "apps/deployments:get",
            "apps/deployments:list",
            "apps/deployments:watch",
            "apps/replicasets:list",
            "events:list",
            "pods:list",
        ])
    );
    // Unattended, it can only read, and nodes are out of reach.
    let p = rbac("log-reader", &[], false, None);
    let reads = list(&[
        "describe-deployment",
        "get-events",
        "list-pods",
        "rollout-status",
    ]);
    assert_eq!(p.namespaces["staging"], reads);
    assert_eq!(p.namespaces["prod"], reads);
    assert!(p.cluster_scoped.is_empty());
    assert!(
        !grants(&p).contains_key(&None),
        "no ClusterRole: {:?}",
        grants(&p)
    );
}
