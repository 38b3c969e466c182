//! Least-privilege Kubernetes RBAC for an agent, derived from the policies.
//!
//! An action is included when some `allow` or `require_approval` rule could
//! match it for this caller (the agent id, roles and groups given), whatever
//! the target, time or risk: that is every action the policies could ever let
//! the agent execute. Actions only `deny` rules (or no rule) reach are left out,
//! so the agent's service account cannot do what the policy never allows.
//! The privileges are exactly those the included actions declare in
//! `required_privileges`.
//!
//! "Could match" is judged against the current inventory: the rule's target
//! selector must accept some target of one of the action's types (or, for a
//! rule without a target selector, an unknown target), with an effective risk
//! the rule selects. Time windows are ignored (a window opens sooner or later).
//!
//! With a namespace, namespaced resources go into a `Role` + `RoleBinding` in
//! that namespace and cluster-scoped ones (nodes, namespaces, …) into a
//! `ClusterRole` + `ClusterRoleBinding`; without one, everything goes into a
//! `ClusterRole` bound cluster-wide. Privileges on resources the built-in table
//! does not know (custom resources) are kept and treated as namespaced.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::engine::{CompiledRule, Snapshot};
use crate::identity::Caller;
use crate::k8s;
use crate::model::{ActionDef, DecisionResult, Sensitivity, Target};

/// What to generate RBAC for.
#[derive(Debug, Clone)]
pub struct RbacRequest {
    /// The caller as the policies see it.
    pub caller: Caller,
    /// Put namespaced privileges in a Role in this namespace.
    pub namespace: Option<String>,
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

/// The result: which actions, which privileges, and the manifests.
#[derive(Debug, Clone, Serialize)]
pub struct RbacPlan {
    /// Actions the caller could ever be allowed (or approved) to run.
    pub actions: Vec<String>,
    /// Every privilege they need, canonical and sorted.
    pub privileges: Vec<String>,
    /// Privileges on resources outside the built-in Kubernetes table.
    pub unknown_resources: Vec<String>,
    /// The Kubernetes objects (Role/ClusterRole and bindings).
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

/// The actions `caller` could ever be allowed to run under `snap`'s policies
/// (counting `require_approval` rules when `include_approval`).
pub fn allowed_actions(snap: &Snapshot, caller: &Caller, include_approval: bool) -> Vec<String> {
    let mut out = Vec::new();
    for action in snap.registry.latest() {
        let reachable = snap.candidates(&action.name).any(|r| {
            let counts = match r.rule.decision {
                DecisionResult::Allow => true,
                DecisionResult::RequireApproval => include_approval,
                DecisionResult::Deny => false,
            };
            counts && r.could_match_caller(caller) && could_reach_action(snap, r, action)
        });
        if reachable {
            out.push(action.name.clone());
        }
    }
    out
}

/// Whether some inventory target (or an unknown one, for rules without a
/// target selector) lets rule `r` match `action`: the target's type is one of
/// the action's, the rule's target selector accepts it, and the effective
/// risk is one the rule selects.
fn could_reach_action(snap: &Snapshot, r: &CompiledRule, action: &ActionDef) -> bool {
    let fits = |t: Option<&Target>| {
        let sensitivity = t.map_or(Sensitivity::Critical, |t| t.sensitivity);
        r.accepts_target(t) && r.accepts_risk(action.risk_class.effective(sensitivity))
    };
    let known = snap
        .inventory
        .iter()
        .filter(|t| action.target_types.contains(&t.target_type))
        .any(|t| fits(Some(t)));
    known || fits(None)
}

/// Builds the RBAC plan for a caller.
pub fn plan(snap: &Snapshot, req: &RbacRequest) -> RbacPlan {
    let actions = allowed_actions(snap, &req.caller, req.include_approval);
    let mut privileges: BTreeSet<String> = BTreeSet::new();
    for name in &actions {
        if let Ok(a) = snap.registry.get(name) {
            privileges.extend(a.required_privileges.iter().cloned());
        }
    }
    // (group, namespaced) -> resource path -> verbs
    let mut grouped: BTreeMap<(String, bool), BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    let mut unknown = Vec::new();
    let mut canonical = BTreeSet::new();
    for p in &privileges {
        let (group, path, verb, namespaced) = match k8s::parse_privilege(p) {
            Ok(parsed) => {
                let namespaced = match k8s::check_privilege(&parsed) {
                    Ok(info) => info.namespaced,
                    Err(_) => {
                        unknown.push(p.clone());
                        true
                    }
                };
                let mut path = parsed.resource.clone();
                if let Some(sub) = &parsed.subresource {
                    path.push('/');
                    path.push_str(sub);
                }
                canonical.insert(parsed.to_string());
                (
                    parsed.group.clone(),
                    path,
                    parsed.verb.to_string(),
                    namespaced,
                )
            }
            Err(_) => {
                unknown.push(p.clone());
                continue;
            }
        };
        // Without a namespace everything is cluster-wide.
        let scope = namespaced && req.namespace.is_some();
        grouped
            .entry((group, scope))
            .or_default()
            .entry(path)
            .or_default()
            .insert(verb);
    }
    let rules_for = |namespaced: bool| -> Vec<PolicyRule> {
        let mut rules = Vec::new();
        for ((group, scope), resources) in &grouped {
            if *scope != namespaced {
                continue;
            }
            // Resources of one group with the same verbs share a rule.
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
    };
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
    let mut push_pair = |namespaced: bool, rules: Vec<PolicyRule>| {
        if rules.is_empty() {
            return;
        }
        let (role_kind, binding_kind, ns) = if namespaced {
            ("Role", "RoleBinding", req.namespace.clone())
        } else {
            ("ClusterRole", "ClusterRoleBinding", None)
        };
        manifests.push(K8sObject {
            api_version: "rbac.authorization.k8s.io/v1".into(),
            kind: role_kind.into(),
            metadata: Metadata {
                name: name.clone(),
                namespace: ns.clone(),
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
                namespace: ns,
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
    push_pair(true, rules_for(true));
    push_pair(false, rules_for(false));
    RbacPlan {
        actions,
        privileges: canonical.into_iter().collect(),
        unknown_resources: unknown,
        manifests,
    }
}

/// Renders the manifests as a multi-document YAML stream.
pub fn to_yaml(plan: &RbacPlan) -> Result<String, String> {
    let mut out = String::new();
    out.push_str(
        "# Generated by `agent-safe rbac`: least privilege for the actions the policies\n",
    );
    out.push_str(&format!(
        "# could ever allow: {}\n",
        plan.actions.join(", ")
    ));
    for m in &plan.manifests {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(m).map_err(|e| e.to_string())?);
    }
    Ok(out)
}
