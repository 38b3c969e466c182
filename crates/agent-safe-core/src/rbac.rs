//! Least-privilege Kubernetes RBAC for an agent, derived from the policies
//! and the inventory.
//!
//! An action is *reachable* on an inventory target when, walking the rules
//! that could decide a request for that action on that target in rank order
//! (as a check does), an `allow` rule (or, unless `--unattended`, a
//! `require_approval` rule) could match this caller (agent id, roles and
//! groups) with the effective risk on that target, before a rule that would
//! always win with another decision. Time windows count as open (a window
//! opens sooner or later), so a rule with a window never hides the rules below
//! it.
//!
//! The privileges an action declares (`required_privileges`) are granted where
//! it is reachable:
//! - on a target in a namespace (a Deployment, a pod, … or a `k8s-namespace`
//!   target itself), namespaced resources go into a `Role` + `RoleBinding` in
//!   that namespace;
//! - cluster-scoped resources (nodes, namespaces, …), and every privilege of an
//!   action reachable on a cluster-scoped target (a node: draining one evicts
//!   pods of every namespace), go into one `ClusterRole` +
//!   `ClusterRoleBinding`;
//! - on any other target that names no namespace (a project's own target
//!   type), namespaced privileges are left out and reported in
//!   `no_namespace`: granting them cluster-wide would be far more than the
//!   policy allows.
//!
//! Targets outside the inventory get no RBAC: with `unknown_targets: deny`
//! they are never allowed, and with `evaluate_as_critical` the actions rules
//! reach on them are listed in `unknown_target_actions` (no namespace to
//! scope them to). Custom resources (`custom_resources` in agent-safe.yaml)
//! are granted as namespaced.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::config::UnknownTargets;
use crate::engine::Snapshot;
use crate::identity::Caller;
use crate::model::{ActionDef, DecisionResult, Sensitivity, Target};
use crate::privilege;

/// What to generate RBAC for.
#[derive(Debug, Clone)]
pub struct RbacRequest {
    /// The caller as the policies see it.
    pub caller: Caller,
    /// Only targets in this namespace (and cluster-scoped targets).
    pub namespace: Option<String>,
    /// Only targets of this cluster (and targets that name no cluster).
    pub cluster: Option<String>,
    /// The service account the agent runs as (default: the agent id, made DNS-safe).
    pub service_account: Option<String>,
    /// The service account's namespace (default: `namespace`, else `default`).
    pub service_account_namespace: Option<String>,
    /// Count `require_approval` rules as reachable (default true: an approved
    /// action runs with the agent's credentials). False gives the role for
    /// unattended actions only, for setups where approved actions run with a
    /// separate, elevated credential.
    pub include_approval: bool,
}

/// The result: which actions, where, which privileges, and the manifests.
#[derive(Debug, Clone, Serialize)]
pub struct RbacPlan {
    /// Every action reachable on some inventory target (older versions kept
    /// callable are written `name@version`).
    pub actions: Vec<String>,
    /// Every privilege granted, canonical and sorted.
    pub privileges: Vec<String>,
    /// Namespace → the actions reachable on targets in it.
    pub namespaces: BTreeMap<String, Vec<String>>,
    /// Actions reachable on cluster-scoped targets (nodes).
    pub cluster_scoped: Vec<String>,
    /// `action on target` where the target names no namespace and is not
    /// cluster-scoped: the action's namespaced privileges are left out
    /// (granting them cluster-wide would be far more than the policy allows).
    pub no_namespace: Vec<String>,
    /// Actions rules could allow on targets outside the inventory
    /// (`unknown_targets: evaluate_as_critical`); no RBAC is generated for
    /// those requests.
    pub unknown_target_actions: Vec<String>,
    /// The clusters of the targets considered (targets that name one).
    pub clusters: Vec<String>,
    /// Granted privileges on custom resources (`custom_resources`), granted
    /// as namespaced.
    pub custom_resources: Vec<String>,
    /// Privileges of other providers (`service:Permission`, e.g.
    /// `ec2:StopInstances`) that reachable actions declare: left out, since
    /// RBAC grants Kubernetes privileges only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_privileges: Vec<String>,
    /// The Kubernetes objects (Roles, ClusterRole and bindings).
    pub manifests: Vec<K8sObject>,
}

/// A Kubernetes RBAC object, in the shape `kubectl apply` takes.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct K8sObject {
    /// `rbac.authorization.k8s.io/v1`.
    pub api_version: String,
    /// `Role`, `ClusterRole`, `RoleBinding`, `ClusterRoleBinding`.
    pub kind: String,
    /// Name, namespace, labels.
    pub metadata: Metadata,
    /// For roles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<PolicyRule>>,
    /// For bindings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_ref: Option<RoleRef>,
    /// For bindings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subjects: Option<Vec<Subject>>,
}

/// Object metadata.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Metadata {
    /// Object name.
    pub name: String,
    /// Namespace (namespaced objects only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

/// One RBAC rule.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRule {
    /// API groups (`""` = core).
    pub api_groups: Vec<String>,
    /// Resources (`pods`, `pods/log`, …).
    pub resources: Vec<String>,
    /// Verbs.
    pub verbs: Vec<String>,
}

/// The role a binding grants.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RoleRef {
    /// `rbac.authorization.k8s.io`.
    pub api_group: String,
    /// `Role` or `ClusterRole`.
    pub kind: String,
    /// Its name.
    pub name: String,
}

/// Who a binding grants to.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Subject {
    /// `ServiceAccount`.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
}

/// DNS-1123 label from an agent id.
fn dns_name(s: &str) -> String {
    let mut out: String = s
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    out = out.trim_matches('-').to_owned();
    out.truncate(63);
    let out = out.trim_end_matches('-').to_owned();
    if out.is_empty() {
        "agent".to_owned()
    } else {
        out
    }
}

/// Whether a request for `action` on `target` (`None`: outside the
/// inventory) by `caller` could end in a counted decision: the first rule, in
/// rank order, that could match is counted (`allow`, or `require_approval`
/// when `include_approval`), before any rule without time windows that would
/// always win with another decision.
fn reachable(
    snap: &Snapshot,
    caller: &Caller,
    action: &ActionDef,
    target: Option<&Target>,
    include_approval: bool,
) -> bool {
    let sensitivity = target.map_or(Sensitivity::Critical, |t| t.sensitivity);
    let effective = action.risk_class.effective(sensitivity);
    for r in snap.candidates_for(action, target, false) {
        let never_open = r.windows.as_ref().is_some_and(Vec::is_empty);
        if never_open
            || !r.could_match_caller(caller)
            || !r.accepts_target(target)
            || !r.accepts_risk(effective)
        {
            continue;
        }
        let counted = match r.rule.decision {
            DecisionResult::Allow => true,
            DecisionResult::RequireApproval => include_approval,
            DecisionResult::Deny => false,
        };
        if counted {
            return true;
        }
        if r.windows.is_none() {
            return false;
        }
    }
    false
}

/// Target types that are cluster-scoped objects: an action on one may need
/// namespaced privileges in every namespace (draining a node evicts pods of
/// all namespaces).
const CLUSTER_SCOPED_TYPES: &[&str] = &["k8s-node"];

/// The namespace a target lives in: its `namespace`, or, for a
/// `k8s-namespace` target, its own name. `None` for cluster-scoped targets.
fn target_namespace(t: &Target) -> Option<&str> {
    t.namespace.as_deref().or_else(|| {
        if t.target_type == "k8s-namespace" {
            t.name.as_deref()
        } else {
            None
        }
    })
}

/// One privilege, resolved for a Role rule.
struct Grant {
    group: String,
    path: String,
    verb: String,
    namespaced: bool,
    custom: bool,
    canonical: String,
}

fn grant(p: &str) -> Option<Grant> {
    // Loading refused every privilege that is neither in the table nor a
    // listed custom resource, so a failed table check means a custom one.
    let parsed = privilege::parse_privilege(p).ok()?;
    let (namespaced, custom) = match privilege::check_privilege(&parsed) {
        Ok(info) => (info.namespaced, false),
        Err(_) => (true, true),
    };
    let mut path = parsed.resource.clone();
    if let Some(sub) = &parsed.subresource {
        path.push('/');
        path.push_str(sub);
    }
    Some(Grant {
        group: parsed.group.clone(),
        path,
        verb: parsed.verb.to_string(),
        namespaced,
        custom,
        canonical: parsed.to_string(),
    })
}

/// (group) -> resource path -> verbs
type RuleSet = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

fn add(rules: &mut RuleSet, g: &Grant) {
    rules
        .entry(g.group.clone())
        .or_default()
        .entry(g.path.clone())
        .or_default()
        .insert(g.verb.clone());
}

/// Resources of one group with the same verbs share a rule.
fn policy_rules(set: &RuleSet) -> Vec<PolicyRule> {
    let mut rules = Vec::new();
    for (group, resources) in set {
        let mut by_verbs: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
        for (res, verbs) in resources {
            by_verbs
                .entry(verbs.iter().cloned().collect())
                .or_default()
                .push(res.clone());
        }
        for (verbs, resources) in by_verbs {
            rules.push(PolicyRule {
                api_groups: vec![group.clone()],
                resources,
                verbs,
            });
        }
    }
    rules
}

/// Builds the RBAC plan for a caller.
pub fn plan(snap: &Snapshot, req: &RbacRequest) -> RbacPlan {
    let targets: Vec<&Target> = snap
        .inventory
        .iter()
        .map(AsRef::as_ref)
        .filter(|t| {
            req.cluster
                .as_ref()
                .is_none_or(|c| t.cluster.as_ref().is_none_or(|tc| tc == c))
        })
        .filter(|t| {
            req.namespace
                .as_deref()
                .is_none_or(|ns| target_namespace(t).is_none_or(|tn| tn == ns))
        })
        .collect();
    let newest = |a: &ActionDef| {
        snap.registry
            .newest(&a.name)
            .is_some_and(|n| n.version == a.version)
    };
    let mut actions = BTreeSet::new();
    let mut namespaces: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut cluster_scoped = BTreeSet::new();
    let mut no_namespace = BTreeSet::new();
    let mut unknown_target_actions = BTreeSet::new();
    let mut role_rules: BTreeMap<String, RuleSet> = BTreeMap::new();
    let mut cluster_rules = RuleSet::new();
    let mut privileges = BTreeSet::new();
    let mut custom = BTreeSet::new();
    let mut other_privileges = BTreeSet::new();
    for action in snap.callable_actions() {
        let label = if newest(action) {
            action.name.clone()
        } else {
            action.key()
        };
        let grants: Vec<Grant> = action
            .required_privileges
            .iter()
            .filter_map(|p| grant(p))
            .collect();
        for t in targets
            .iter()
            .filter(|t| action.target_types.contains(&t.target_type))
        {
            if !reachable(snap, &req.caller, action, Some(t), req.include_approval) {
                continue;
            }
            actions.insert(label.clone());
            other_privileges.extend(
                action
                    .required_privileges
                    .iter()
                    .filter(|p| privilege::provider_privilege(p).is_some())
                    .cloned(),
            );
            let ns = target_namespace(t);
            let cluster_target = CLUSTER_SCOPED_TYPES.contains(&t.target_type.as_str());
            match ns {
                Some(ns) => {
                    namespaces
                        .entry(ns.to_owned())
                        .or_default()
                        .insert(label.clone());
                }
                None if cluster_target => {
                    cluster_scoped.insert(label.clone());
                }
                // An action whose privileges all belong to another provider
                // loses nothing here: it has no namespaced grant to leave out.
                None if !grants.iter().any(|g| g.namespaced)
                    && !action.required_privileges.is_empty() => {}
                None => {
                    no_namespace.insert(format!("{label} on {}", t.id));
                }
            }
            for g in &grants {
                let rules = match ns {
                    Some(ns) if g.namespaced => role_rules.entry(ns.to_owned()).or_default(),
                    None if g.namespaced && !cluster_target => continue,
                    _ => &mut cluster_rules,
                };
                add(rules, g);
                privileges.insert(g.canonical.clone());
                if g.custom {
                    custom.insert(g.canonical.clone());
                }
            }
        }
        if snap.settings.unknown_targets == UnknownTargets::EvaluateAsCritical
            && reachable(snap, &req.caller, action, None, req.include_approval)
        {
            unknown_target_actions.insert(label);
        }
    }

    let agent = dns_name(&req.caller.agent_id);
    let name = format!("agent-safe-{agent}");
    let sa = req.service_account.clone().unwrap_or_else(|| agent.clone());
    let sa_ns = req
        .service_account_namespace
        .clone()
        .or_else(|| req.namespace.clone())
        .unwrap_or_else(|| "default".to_owned());
    let labels: BTreeMap<String, String> = [
        (
            "app.kubernetes.io/managed-by".to_owned(),
            "agent-safe".to_owned(),
        ),
        ("agent-safe/agent".to_owned(), agent.clone()),
    ]
    .into_iter()
    .collect();
    let subject = Subject {
        kind: "ServiceAccount".into(),
        name: sa,
        namespace: sa_ns,
    };
    let mut manifests = Vec::new();
    let mut push_pair = |ns: Option<&String>, rules: Vec<PolicyRule>| {
        if rules.is_empty() {
            return;
        }
        let (role_kind, binding_kind) = if ns.is_some() {
            ("Role", "RoleBinding")
        } else {
            ("ClusterRole", "ClusterRoleBinding")
        };
        manifests.push(K8sObject {
            api_version: "rbac.authorization.k8s.io/v1".into(),
            kind: role_kind.into(),
            metadata: Metadata {
                name: name.clone(),
                namespace: ns.cloned(),
                labels: labels.clone(),
            },
            rules: Some(rules),
            role_ref: None,
            subjects: None,
        });
        manifests.push(K8sObject {
            api_version: "rbac.authorization.k8s.io/v1".into(),
            kind: binding_kind.into(),
            metadata: Metadata {
                name: name.clone(),
                namespace: ns.cloned(),
                labels: labels.clone(),
            },
            rules: None,
            role_ref: Some(RoleRef {
                api_group: "rbac.authorization.k8s.io".into(),
                kind: role_kind.into(),
                name: name.clone(),
            }),
            subjects: Some(vec![subject.clone()]),
        });
    };
    for (ns, set) in &role_rules {
        push_pair(Some(ns), policy_rules(set));
    }
    push_pair(None, policy_rules(&cluster_rules));
    let clusters: BTreeSet<String> = targets.iter().filter_map(|t| t.cluster.clone()).collect();
    RbacPlan {
        actions: actions.into_iter().collect(),
        privileges: privileges.into_iter().collect(),
        namespaces: namespaces
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().collect()))
            .collect(),
        cluster_scoped: cluster_scoped.into_iter().collect(),
        no_namespace: no_namespace.into_iter().collect(),
        unknown_target_actions: unknown_target_actions.into_iter().collect(),
        clusters: clusters.into_iter().collect(),
        custom_resources: custom.into_iter().collect(),
        other_privileges: other_privileges.into_iter().collect(),
        manifests,
    }
}

/// Renders the manifests as a multi-document YAML stream.
pub fn to_yaml(plan: &RbacPlan) -> Result<String, String> {
    let mut out = String::new();
    out.push_str(
        "# Generated by `agent-safe rbac`: least privilege for the actions the policies\n",
    );
    out.push_str("# could ever allow, where they could allow them.\n");
    for (ns, actions) in &plan.namespaces {
        out.push_str(&format!("# namespace {ns}: {}\n", actions.join(", ")));
    }
    if !plan.cluster_scoped.is_empty() {
        out.push_str(&format!(
            "# cluster-scoped targets: {}\n",
            plan.cluster_scoped.join(", ")
        ));
    }
    for m in &plan.manifests {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(m).map_err(|e| e.to_string())?);
    }
    Ok(out)
}
