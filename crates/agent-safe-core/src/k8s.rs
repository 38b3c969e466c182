//! A reference table of the core Kubernetes API's resources, for checking the
//! RBAC privileges that action definitions declare.
//!
//! An action lists what it needs as `[group/]resource[/subresource]:verb`, for
//! example `apps/deployments:patch`, `pods/eviction:create`, `pods:list` or
//! `apps/deployments/scale:patch`. [`parse_privilege`] reads that syntax and
//! [`check_privilege`] validates it against the table, so that a typo such as
//! `apps/deployment:patch` or `pods/logs:get` is caught when the action is
//! loaded instead of surfacing as a `Forbidden` error in the executor.
//!
//! The table covers the built-in API groups an operations agent touches: the
//! core group (`""`), `apps`, `autoscaling`, `batch`, `policy`,
//! `networking.k8s.io`, `rbac.authorization.k8s.io`, `events.k8s.io`,
//! `discovery.k8s.io`, `coordination.k8s.io`, `storage.k8s.io`,
//! `scheduling.k8s.io`, `apiextensions.k8s.io` and the self-review resources of
//! `authorization.k8s.io`. Verbs are the RBAC verbs the API server authorizes
//! for each resource and subresource (what `kubectl api-resources -o wide`
//! reports, plus the connect subresources, whose HTTP methods map to `get`,
//! `create`, `update`, `patch` and `delete`).
//!
//! Wildcards (`*`) are refused on purpose: an action must say exactly what it
//! needs.

use std::fmt;
use std::str::FromStr;

use crate::diag::did_you_mean;

/// An RBAC verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verb {
    /// Read one object (`GET /…/name`).
    Get,
    /// Read a collection (`GET /…`).
    List,
    /// Watch an object or a collection (`GET /…?watch=true`).
    Watch,
    /// Create an object (`POST`); also the connect verb of `exec`, `attach`,
    /// `portforward` and of `POST` through a proxy.
    Create,
    /// Replace an object (`PUT`).
    Update,
    /// Patch an object (`PATCH`), including server-side apply.
    Patch,
    /// Delete one object (`DELETE /…/name`).
    Delete,
    /// Delete a collection (`DELETE /…`).
    DeleteCollection,
    /// Bind a role in a RoleBinding or ClusterRoleBinding without holding its
    /// permissions (`roles`, `clusterroles`).
    Bind,
    /// Create or update a role with permissions the caller does not hold
    /// (`roles`, `clusterroles`).
    Escalate,
    /// Act as another identity (`serviceaccounts`).
    Impersonate,
}

impl Verb {
    /// Every verb, in the order used in messages.
    pub const ALL: &'static [Verb] = &[
        Verb::Get,
        Verb::List,
        Verb::Watch,
        Verb::Create,
        Verb::Update,
        Verb::Patch,
        Verb::Delete,
        Verb::DeleteCollection,
        Verb::Bind,
        Verb::Escalate,
        Verb::Impersonate,
    ];

    /// The verb as RBAC spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "deletecollection",
            Verb::Bind => "bind",
            Verb::Escalate => "escalate",
            Verb::Impersonate => "impersonate",
        }
    }

    /// The verb named `s` (exact, lowercase), if any.
    pub fn from_name(s: &str) -> Option<Verb> {
        Verb::ALL.iter().copied().find(|v| v.as_str() == s)
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Verb {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Verb::from_name(s).ok_or_else(|| unknown_verb_message(s))
    }
}

/// A subresource of a resource, such as `pods/log` or `deployments/scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubresourceInfo {
    /// The subresource name (`log`, `exec`, `scale`, `status`, …).
    pub name: &'static str,
    /// The verbs RBAC authorizes on it.
    pub verbs: &'static [Verb],
}

/// One resource of the Kubernetes API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceInfo {
    /// The API group: `""` for the core group, else e.g. `apps`.
    pub group: &'static str,
    /// The preferred served version (`v1`, `v2`).
    pub version: &'static str,
    /// The resource's plural name, as used in RBAC rules and URLs.
    pub resource: &'static str,
    /// The kind of the objects (`Deployment`).
    pub kind: &'static str,
    /// Whether objects live in a namespace (`false`: cluster-scoped).
    pub namespaced: bool,
    /// The verbs RBAC authorizes on the resource itself.
    pub verbs: &'static [Verb],
    /// Its subresources.
    pub subresources: &'static [SubresourceInfo],
}

impl ResourceInfo {
    /// The subresource called `name`, if the resource has one.
    pub fn subresource(&self, name: &str) -> Option<&SubresourceInfo> {
        self.subresources.iter().find(|s| s.name == name)
    }

    /// The verbs authorized on the resource (`None`) or on one of its
    /// subresources; `None` when there is no such subresource.
    pub fn verbs_for(&self, subresource: Option<&str>) -> Option<&'static [Verb]> {
        match subresource {
            None => Some(self.verbs),
            Some(name) => self.subresource(name).map(|s| s.verbs),
        }
    }

    /// Whether `verb` is authorized on the resource or the given subresource.
    pub fn supports(&self, subresource: Option<&str>, verb: Verb) -> bool {
        self.verbs_for(subresource)
            .is_some_and(|vs| vs.contains(&verb))
    }

    /// `group/resource`, or `resource` for the core group.
    pub fn qualified_name(&self) -> String {
        qualify(self.group, self.resource)
    }
}

/// A privilege an action needs: one verb on one resource or subresource.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Privilege {
    /// The API group, `""` for the core group.
    pub group: String,
    /// The resource's plural name.
    pub resource: String,
    /// The subresource, if any.
    pub subresource: Option<String>,
    /// The verb.
    pub verb: Verb,
}

impl Privilege {
    /// The resource part: `[group/]resource[/subresource]`.
    pub fn resource_path(&self) -> String {
        let mut out = qualify(&self.group, &self.resource);
        if let Some(sub) = &self.subresource {
            out.push('/');
            out.push_str(sub);
        }
        out
    }
}

impl fmt::Display for Privilege {
    /// The canonical form, which [`parse_privilege`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.resource_path(), self.verb)
    }
}

impl FromStr for Privilege {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_privilege(s)
    }
}

fn qualify(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{group}/{resource}")
    }
}

fn group_label(group: &str) -> String {
    if group.is_empty() {
        "the core group".to_string()
    } else {
        format!("group `{group}`")
    }
}

// ----- the table -----------------------------------------------------------

use Verb::{
    Bind, Create, Delete, DeleteCollection, Escalate, Get, Impersonate, List, Patch, Update, Watch,
};

/// The eight standard verbs of a collection that supports `deletecollection`.
const STANDARD: &[Verb] = &[
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
    DeleteCollection,
];
/// The standard verbs without `deletecollection` (`namespaces`, `services`).
const NO_DELETECOLLECTION: &[Verb] = &[Get, List, Watch, Create, Update, Patch, Delete];
/// `roles` and `clusterroles`: the standard verbs plus `bind` and `escalate`.
const ROLE_VERBS: &[Verb] = &[
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
    DeleteCollection,
    Bind,
    Escalate,
];
/// `serviceaccounts`: the standard verbs plus `impersonate`.
const SERVICEACCOUNT_VERBS: &[Verb] = &[
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
    DeleteCollection,
    Impersonate,
];
/// Verbs of the `status`, `scale`, `ephemeralcontainers` and `resize` subresources.
const GET_UPDATE_PATCH: &[Verb] = &[Get, Update, Patch];
/// Streaming connect subresources (`exec`, `attach`, `portforward`): `create`
/// for SPDY (`POST`), `get` for the WebSocket upgrade (`GET`).
const CONNECT: &[Verb] = &[Create, Get];
/// Proxy subresources: each HTTP method maps to its verb.
const PROXY: &[Verb] = &[Get, Create, Update, Patch, Delete];
/// Create-only resources and subresources (`eviction`, `binding`, `token`, reviews).
const CREATE_ONLY: &[Verb] = &[Create];
/// Read-only subresources (`log`).
const GET_ONLY: &[Verb] = &[Get];
/// `namespaces/finalize`.
const UPDATE_ONLY: &[Verb] = &[Update];
/// Read-only collections (`componentstatuses`).
const GET_LIST: &[Verb] = &[Get, List];

const fn sub(name: &'static str, verbs: &'static [Verb]) -> SubresourceInfo {
    SubresourceInfo { name, verbs }
}

const STATUS: SubresourceInfo = sub("status", GET_UPDATE_PATCH);
const SCALE: SubresourceInfo = sub("scale", GET_UPDATE_PATCH);
const NONE: &[SubresourceInfo] = &[];
const ONLY_STATUS: &[SubresourceInfo] = &[STATUS];
const SCALE_STATUS: &[SubresourceInfo] = &[SCALE, STATUS];

const fn res(
    group: &'static str,
    version: &'static str,
    resource: &'static str,
    kind: &'static str,
    namespaced: bool,
    verbs: &'static [Verb],
    subresources: &'static [SubresourceInfo],
) -> ResourceInfo {
    ResourceInfo {
        group,
        version,
        resource,
        kind,
        namespaced,
        verbs,
        subresources,
    }
}

const NAMESPACED: bool = true;
const CLUSTER: bool = false;

#[rustfmt::skip]
static RESOURCES: &[ResourceInfo] = &[
    // --- core ("") ---
    res("", "v1", "bindings", "Binding", NAMESPACED, CREATE_ONLY, NONE),
    res("", "v1", "componentstatuses", "ComponentStatus", CLUSTER, GET_LIST, NONE),
    res("", "v1", "configmaps", "ConfigMap", NAMESPACED, STANDARD, NONE),
    res("", "v1", "endpoints", "Endpoints", NAMESPACED, STANDARD, NONE),
    res("", "v1", "events", "Event", NAMESPACED, STANDARD, NONE),
    res("", "v1", "limitranges", "LimitRange", NAMESPACED, STANDARD, NONE),
    res(
        "",
        "v1",
        "namespaces",
        "Namespace",
        CLUSTER,
        NO_DELETECOLLECTION,
        &[STATUS, sub("finalize", UPDATE_ONLY)],
    ),
    res("", "v1", "nodes", "Node", CLUSTER, STANDARD, &[STATUS, sub("proxy", PROXY)]),
    res("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", NAMESPACED, STANDARD, ONLY_STATUS),
    res("", "v1", "persistentvolumes", "PersistentVolume", CLUSTER, STANDARD, ONLY_STATUS),
    res(
        "",
        "v1",
        "pods",
        "Pod",
        NAMESPACED,
        STANDARD,
        &[
            sub("attach", CONNECT),
            sub("binding", CREATE_ONLY),
            sub("ephemeralcontainers", GET_UPDATE_PATCH),
            sub("eviction", CREATE_ONLY),
            sub("exec", CONNECT),
            sub("log", GET_ONLY),
            sub("portforward", CONNECT),
            sub("proxy", PROXY),
            sub("resize", GET_UPDATE_PATCH),
            STATUS,
        ],
    ),
    res("", "v1", "podtemplates", "PodTemplate", NAMESPACED, STANDARD, NONE),
    res("", "v1", "replicationcontrollers", "ReplicationController", NAMESPACED, STANDARD, SCALE_STATUS),
    res("", "v1", "resourcequotas", "ResourceQuota", NAMESPACED, STANDARD, ONLY_STATUS),
    res("", "v1", "secrets", "Secret", NAMESPACED, STANDARD, NONE),
    res(
        "",
        "v1",
        "serviceaccounts",
        "ServiceAccount",
        NAMESPACED,
        SERVICEACCOUNT_VERBS,
        &[sub("token", CREATE_ONLY)],
    ),
    // Services have never supported `deletecollection`: their deletion
    // releases cluster IPs, node ports and load balancers one by one.
    res(
        "",
        "v1",
        "services",
        "Service",
        NAMESPACED,
        NO_DELETECOLLECTION,
        &[STATUS, sub("proxy", PROXY)],
    ),
    // --- apps ---
    res("apps", "v1", "controllerrevisions", "ControllerRevision", NAMESPACED, STANDARD, NONE),
    res("apps", "v1", "daemonsets", "DaemonSet", NAMESPACED, STANDARD, ONLY_STATUS),
    res("apps", "v1", "deployments", "Deployment", NAMESPACED, STANDARD, SCALE_STATUS),
    res("apps", "v1", "replicasets", "ReplicaSet", NAMESPACED, STANDARD, SCALE_STATUS),
    res("apps", "v1", "statefulsets", "StatefulSet", NAMESPACED, STANDARD, SCALE_STATUS),
    // --- autoscaling ---
    res(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        NAMESPACED,
        STANDARD,
        ONLY_STATUS,
    ),
    // --- batch ---
    res("batch", "v1", "cronjobs", "CronJob", NAMESPACED, STANDARD, ONLY_STATUS),
    res("batch", "v1", "jobs", "Job", NAMESPACED, STANDARD, ONLY_STATUS),
    // --- policy ---
    res("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", NAMESPACED, STANDARD, ONLY_STATUS),
    // --- networking.k8s.io ---
    res("networking.k8s.io", "v1", "ingressclasses", "IngressClass", CLUSTER, STANDARD, NONE),
    res("networking.k8s.io", "v1", "ingresses", "Ingress", NAMESPACED, STANDARD, ONLY_STATUS),
    res("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", NAMESPACED, STANDARD, NONE),
    // --- rbac.authorization.k8s.io ---
    res("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", CLUSTER, STANDARD, NONE),
    res("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", CLUSTER, ROLE_VERBS, NONE),
    res("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", NAMESPACED, STANDARD, NONE),
    res("rbac.authorization.k8s.io", "v1", "roles", "Role", NAMESPACED, ROLE_VERBS, NONE),
    // --- authorization.k8s.io (reviews are create-only, never stored) ---
    res(
        "authorization.k8s.io",
        "v1",
        "localsubjectaccessreviews",
        "LocalSubjectAccessReview",
        NAMESPACED,
        CREATE_ONLY,
        NONE,
    ),
    res(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        CLUSTER,
        CREATE_ONLY,
        NONE,
    ),
    res(
        "authorization.k8s.io",
        "v1",
        "selfsubjectrulesreviews",
        "SelfSubjectRulesReview",
        CLUSTER,
        CREATE_ONLY,
        NONE,
    ),
    res(
        "authorization.k8s.io",
        "v1",
        "subjectaccessreviews",
        "SubjectAccessReview",
        CLUSTER,
        CREATE_ONLY,
        NONE,
    ),
    // --- events.k8s.io ---
    res("events.k8s.io", "v1", "events", "Event", NAMESPACED, STANDARD, NONE),
    // --- discovery.k8s.io ---
    res("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", NAMESPACED, STANDARD, NONE),
    // --- coordination.k8s.io ---
    res("coordination.k8s.io", "v1", "leases", "Lease", NAMESPACED, STANDARD, NONE),
    // --- storage.k8s.io ---
    res("storage.k8s.io", "v1", "storageclasses", "StorageClass", CLUSTER, STANDARD, NONE),
    res("storage.k8s.io", "v1", "volumeattachments", "VolumeAttachment", CLUSTER, STANDARD, ONLY_STATUS),
    // --- scheduling.k8s.io ---
    res("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", CLUSTER, STANDARD, NONE),
    // --- apiextensions.k8s.io ---
    res(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        CLUSTER,
        STANDARD,
        ONLY_STATUS,
    ),
];

/// API groups whose names have no dot. Any other group name contains one
/// (`networking.k8s.io`), which is how `group/resource` is told apart from
/// `resource/subresource`. `extensions` is listed only so that a privilege
/// naming that retired group is reported as an unknown group rather than as an
/// unknown core resource.
const DOTLESS_GROUPS: &[&str] = &["apps", "autoscaling", "batch", "policy", "extensions"];

/// Every resource in the table.
pub fn resources() -> &'static [ResourceInfo] {
    RESOURCES
}

/// The resource `resource` of API group `group` (`""` for core), if known.
pub fn find_resource(group: &str, resource: &str) -> Option<&'static ResourceInfo> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.resource == resource)
}

/// Whether `group` is an API group of the table (`""` is the core group).
pub fn is_known_group(group: &str) -> bool {
    RESOURCES.iter().any(|r| r.group == group)
}

/// Whether a path segment names an API group rather than a core resource.
fn looks_like_group(segment: &str) -> bool {
    segment.contains('.') || DOTLESS_GROUPS.contains(&segment)
}

fn groups() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for r in RESOURCES {
        if !out.contains(&r.group) {
            out.push(r.group);
        }
    }
    out
}

// ----- parsing -------------------------------------------------------------

const SYNTAX: &str =
    "expected `[group/]resource[/subresource]:verb`, e.g. `apps/deployments:patch`";

fn unknown_verb_message(verb: &str) -> String {
    let names: Vec<&str> = Verb::ALL.iter().map(|v| v.as_str()).collect();
    let mut msg = format!("unknown verb `{verb}`");
    if let Some(close) = did_you_mean(verb, names.iter().copied()) {
        msg.push_str(&format!("; did you mean `{close}`?"));
    } else {
        msg.push_str(&format!("; expected one of {}", names.join(", ")));
    }
    msg
}

fn valid_segment(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

/// Reads a privilege written `[group/]resource[/subresource]:verb`.
///
/// Two path segments are ambiguous: `apps/deployments` is a group and a
/// resource, `pods/log` a core resource and its subresource. It is resolved
/// against the table: when the first segment is a core resource, the second is
/// its subresource. Otherwise the first segment is a group when it contains a
/// dot, is one of the dotless groups (`apps`, `autoscaling`, `batch`,
/// `policy`, `extensions`), or the second segment is a resource of some group
/// (so `app/deployments` is reported as an unknown group); else it is read as
/// an (unknown) core resource and its subresource. Three segments are always
/// `group/resource/subresource`.
///
/// Only the syntax and the verb's spelling are checked here; whether the
/// resource, subresource and verb exist is [`check_privilege`]'s job.
pub fn parse_privilege(s: &str) -> Result<Privilege, String> {
    let Some((path, verb_text)) = s.split_once(':') else {
        return Err(format!(
            "invalid privilege `{s}`: missing `:verb`; {SYNTAX}"
        ));
    };
    if verb_text.contains(':') {
        return Err(format!(
            "invalid privilege `{s}`: more than one `:`; {SYNTAX}"
        ));
    }
    if path == "*" || verb_text == "*" || path.split('/').any(|seg| seg == "*") {
        return Err(format!(
            "invalid privilege `{s}`: wildcards are not allowed; name the exact resource and verb"
        ));
    }
    if verb_text.is_empty() {
        return Err(format!(
            "invalid privilege `{s}`: missing verb after `:`; {SYNTAX}"
        ));
    }
    let verb = Verb::from_name(verb_text).ok_or_else(|| {
        format!(
            "invalid privilege `{s}`: {}",
            unknown_verb_message(verb_text)
        )
    })?;

    let segments: Vec<&str> = path.split('/').collect();
    if let Some(bad) = segments.iter().find(|seg| !valid_segment(seg)) {
        let what = if bad.is_empty() {
            "an empty path segment".to_string()
        } else {
            format!("`{bad}` (lowercase letters, digits, `-` and `.` only)")
        };
        return Err(format!("invalid privilege `{s}`: {what}; {SYNTAX}"));
    }
    let owned = |x: &str| x.to_string();
    let (group, resource, subresource) = match segments.as_slice() {
        [resource] => (String::new(), owned(resource), None),
        [first, second] => {
            let second_is_a_resource = RESOURCES.iter().any(|r| r.resource == *second);
            if find_resource("", first).is_none()
                && (looks_like_group(first) || second_is_a_resource)
            {
                (owned(first), owned(second), None)
            } else {
                (String::new(), owned(first), Some(owned(second)))
            }
        }
        [group, resource, subresource] => (owned(group), owned(resource), Some(owned(subresource))),
        _ => {
            return Err(format!(
                "invalid privilege `{s}`: too many `/` segments; {SYNTAX}"
            ));
        }
    };
    Ok(Privilege {
        group,
        resource,
        subresource,
        verb,
    })
}

// ----- checking ------------------------------------------------------------

/// Checks a privilege against the table: the group, the resource in that
/// group, the subresource and the verb must all exist. Returns the resource.
///
/// The message names the problem and, where one is close, the likely fix:
/// "unknown resource `deployment` in group `apps`; did you mean `deployments`?".
pub fn check_privilege(p: &Privilege) -> Result<&'static ResourceInfo, String> {
    if !is_known_group(&p.group) {
        let mut msg = format!("unknown API group `{}`", p.group);
        if p.group == "core" || p.group == "v1" {
            msg.push_str(&format!(
                "; the core group has no prefix: write `{}`",
                Privilege {
                    group: String::new(),
                    ..p.clone()
                }
            ));
        } else if let Some(close) =
            did_you_mean(&p.group, groups().into_iter().filter(|g| !g.is_empty()))
        {
            msg.push_str(&format!("; did you mean `{close}`?"));
        } else if find_resource("", &p.group).is_some() {
            msg.push_str(&format!(
                "; `{}` is a core resource, and a core resource has no group prefix",
                p.group
            ));
        }
        return Err(msg);
    }

    let Some(info) = find_resource(&p.group, &p.resource) else {
        return Err(unknown_resource_message(&p.group, &p.resource));
    };

    let verbs = match &p.subresource {
        None => info.verbs,
        Some(name) => match info.subresource(name) {
            Some(sub) => sub.verbs,
            None => {
                let qualified = info.qualified_name();
                let names: Vec<&str> = info.subresources.iter().map(|s| s.name).collect();
                let mut msg = format!("unknown subresource `{name}` of `{qualified}`");
                if names.is_empty() {
                    msg.push_str(&format!("; `{qualified}` has no subresources"));
                } else if let Some(close) = did_you_mean(name, names.iter().copied()) {
                    msg.push_str(&format!("; did you mean `{qualified}/{close}`?"));
                } else {
                    msg.push_str(&format!("; known subresources: {}", names.join(", ")));
                }
                return Err(msg);
            }
        },
    };

    if !verbs.contains(&p.verb) {
        let supported: Vec<&str> = verbs.iter().map(|v| v.as_str()).collect();
        return Err(format!(
            "verb `{}` is not supported on `{}`; supported verbs: {}",
            p.verb,
            p.resource_path(),
            supported.join(", ")
        ));
    }
    Ok(info)
}

fn unknown_resource_message(group: &str, resource: &str) -> String {
    let mut msg = format!("unknown resource `{resource}` in {}", group_label(group));
    // The same name in another group: the group prefix is missing or wrong.
    let elsewhere: Vec<String> = RESOURCES
        .iter()
        .filter(|r| r.resource == resource && r.group != group)
        .map(ResourceInfo::qualified_name)
        .collect();
    if !elsewhere.is_empty() {
        let list: Vec<String> = elsewhere.iter().map(|q| format!("`{q}`")).collect();
        msg.push_str(&format!("; did you mean {}?", list.join(" or ")));
        return msg;
    }
    // A close name in the same group.
    let same_group = RESOURCES
        .iter()
        .filter(|r| r.group == group)
        .map(|r| r.resource);
    if let Some(close) = did_you_mean(resource, same_group) {
        msg.push_str(&format!("; did you mean `{close}`?"));
        return msg;
    }
    // A close name in another group (`deployment` in the core group).
    let mut best: Option<(f64, &ResourceInfo)> = None;
    for r in RESOURCES.iter().filter(|r| r.group != group) {
        let score = strsim::jaro_winkler(resource, r.resource);
        if score >= 0.85 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, r));
        }
    }
    if let Some((_, r)) = best {
        msg.push_str(&format!("; did you mean `{}`?", r.qualified_name()));
    }
    msg
}

/// Parses and checks a privilege in one step.
pub fn validate_privilege(s: &str) -> Result<(Privilege, &'static ResourceInfo), String> {
    let p = parse_privilege(s)?;
    let info = check_privilege(&p).map_err(|e| format!("invalid privilege `{s}`: {e}"))?;
    Ok((p, info))
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::path::{Path, PathBuf};

    fn ok(s: &str) -> (Privilege, &'static ResourceInfo) {
        validate_privilege(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn err(s: &str) -> String {
        match validate_privilege(s) {
            Ok(_) => panic!("{s} was accepted"),
            Err(e) => e,
        }
    }

    #[test]
    fn table_has_no_duplicates_and_sane_entries() {
        let mut seen = HashSet::new();
        for r in resources() {
            assert!(
                seen.insert((r.group, r.resource)),
                "duplicate {}",
                r.qualified_name()
            );
            assert!(!r.verbs.is_empty(), "{} has no verbs", r.qualified_name());
            assert!(valid_segment(r.resource));
            let mut subs = HashSet::new();
            for s in r.subresources {
                assert!(
                    subs.insert(s.name),
                    "duplicate subresource {}/{}",
                    r.resource,
                    s.name
                );
                assert!(!s.verbs.is_empty());
            }
        }
    }

    #[test]
    fn dotless_groups_never_collide_with_core_resources() {
        for g in groups() {
            if !g.is_empty() && !g.contains('.') {
                assert!(
                    DOTLESS_GROUPS.contains(&g),
                    "group {g} missing from DOTLESS_GROUPS"
                );
            }
        }
        for g in DOTLESS_GROUPS {
            assert!(
                find_resource("", g).is_none(),
                "{g} is both a group and a core resource"
            );
        }
    }

    #[test]
    fn required_resources_are_present() {
        let want: &[(&str, &str, bool, &[&str])] = &[
            (
                "",
                "pods",
                true,
                &["log", "exec", "portforward", "eviction", "attach", "status"],
            ),
            ("", "services", true, &[]),
            ("", "endpoints", true, &[]),
            ("", "configmaps", true, &[]),
            ("", "secrets", true, &[]),
            ("", "namespaces", false, &[]),
            ("", "nodes", false, &["status", "proxy"]),
            ("", "events", true, &[]),
            ("", "serviceaccounts", true, &[]),
            ("", "persistentvolumeclaims", true, &[]),
            ("", "persistentvolumes", false, &[]),
            ("", "replicationcontrollers", true, &[]),
            ("apps", "deployments", true, &["scale", "status"]),
            ("apps", "replicasets", true, &["scale"]),
            ("apps", "statefulsets", true, &["scale"]),
            ("apps", "daemonsets", true, &[]),
            ("apps", "controllerrevisions", true, &[]),
            ("autoscaling", "horizontalpodautoscalers", true, &["status"]),
            ("batch", "jobs", true, &[]),
            ("batch", "cronjobs", true, &[]),
            ("networking.k8s.io", "networkpolicies", true, &[]),
            ("networking.k8s.io", "ingresses", true, &[]),
            ("policy", "poddisruptionbudgets", true, &[]),
            ("rbac.authorization.k8s.io", "roles", true, &[]),
            ("rbac.authorization.k8s.io", "rolebindings", true, &[]),
            ("rbac.authorization.k8s.io", "clusterroles", false, &[]),
            (
                "rbac.authorization.k8s.io",
                "clusterrolebindings",
                false,
                &[],
            ),
            ("events.k8s.io", "events", true, &[]),
        ];
        for (group, resource, namespaced, subs) in want {
            let r = find_resource(group, resource).unwrap_or_else(|| panic!("{group}/{resource}"));
            assert_eq!(r.namespaced, *namespaced, "{resource}");
            for s in *subs {
                assert!(r.subresource(s).is_some(), "{resource}/{s}");
            }
        }
    }

    #[test]
    fn parses_all_shapes() {
        let p = parse_privilege("pods:list").unwrap();
        assert_eq!(
            (
                p.group.as_str(),
                p.resource.as_str(),
                p.subresource.as_deref()
            ),
            ("", "pods", None)
        );
        assert_eq!(p.verb, Verb::List);

        let p = parse_privilege("pods/eviction:create").unwrap();
        assert_eq!(
            (
                p.group.as_str(),
                p.resource.as_str(),
                p.subresource.as_deref()
            ),
            ("", "pods", Some("eviction"))
        );

        let p = parse_privilege("apps/deployments:patch").unwrap();
        assert_eq!(
            (
                p.group.as_str(),
                p.resource.as_str(),
                p.subresource.as_deref()
            ),
            ("apps", "deployments", None)
        );

        let p = parse_privilege("apps/deployments/scale:patch").unwrap();
        assert_eq!(
            (
                p.group.as_str(),
                p.resource.as_str(),
                p.subresource.as_deref()
            ),
            ("apps", "deployments", Some("scale"))
        );

        let p = parse_privilege("networking.k8s.io/networkpolicies:create").unwrap();
        assert_eq!(p.group, "networking.k8s.io");
        assert_eq!(p.subresource, None);

        let p = parse_privilege("policy/poddisruptionbudgets:list").unwrap();
        assert_eq!(p.group, "policy");
        let p = parse_privilege("batch/jobs/status:get").unwrap();
        assert_eq!(p.subresource.as_deref(), Some("status"));
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "pods:get",
            "pods/log:get",
            "apps/deployments:patch",
            "apps/deployments/scale:update",
            "nodes/proxy:get",
            "rbac.authorization.k8s.io/clusterroles:bind",
            "namespaces/finalize:update",
        ] {
            let (p, _) = ok(s);
            assert_eq!(p.to_string(), s);
            assert_eq!(s.parse::<Privilege>().unwrap(), p);
        }
    }

    #[test]
    fn accepts_subresource_verbs() {
        for s in [
            "pods/exec:create",
            "pods/exec:get",
            "pods/log:get",
            "pods/portforward:create",
            "pods/attach:create",
            "pods/eviction:create",
            "pods/status:patch",
            "nodes/status:get",
            "apps/statefulsets/scale:patch",
            "apps/replicasets/scale:update",
            "autoscaling/horizontalpodautoscalers/status:get",
            "serviceaccounts/token:create",
            "serviceaccounts:impersonate",
            "authorization.k8s.io/selfsubjectaccessreviews:create",
        ] {
            ok(s);
        }
        assert!(!ok("nodes:get").1.namespaced);
        assert!(ok("pods:list").1.namespaced);
    }

    #[test]
    fn rejects_unknown_resource_with_suggestion() {
        assert_eq!(
            err("apps/deployment:patch"),
            "invalid privilege `apps/deployment:patch`: unknown resource `deployment` in group `apps`; did you mean `deployments`?"
        );
        let e = err("deployments:get");
        assert!(
            e.contains(
                "unknown resource `deployments` in the core group; did you mean `apps/deployments`?"
            ),
            "{e}"
        );
        let e = err("deployment:get");
        assert!(e.contains("did you mean `apps/deployments`?"), "{e}");
        let e = err("events.k8s.io/event:list");
        assert!(e.contains("did you mean `events`?"), "{e}");
        let e = err("deployment/scale:patch");
        assert!(
            e.contains(
                "unknown resource `deployment` in the core group; did you mean `apps/deployments`?"
            ),
            "{e}"
        );
        let e = err("deployments/scale:get");
        assert!(e.contains("did you mean `apps/deployments`?"), "{e}");
        let e = err("widgets:get");
        assert!(
            e.contains("unknown resource `widgets` in the core group"),
            "{e}"
        );
    }

    #[test]
    fn rejects_unknown_group() {
        let e = err("app/deployments:get");
        assert!(
            e.contains("unknown API group `app`; did you mean `apps`?"),
            "{e}"
        );
        let e = err("core/pods:get");
        assert!(e.contains("write `pods:get`"), "{e}");
        let e = err("extensions/ingresses:get");
        assert!(e.contains("unknown API group `extensions`"), "{e}");
        let e = err("networking.k8s.io/ingress/status:get");
        assert!(e.contains("did you mean `ingresses`?"), "{e}");
    }

    #[test]
    fn rejects_unknown_subresource() {
        let e = err("pods/logs:get");
        assert!(
            e.contains("unknown subresource `logs` of `pods`; did you mean `pods/log`?"),
            "{e}"
        );
        let e = err("pods/scale:get");
        assert!(
            e.contains("unknown subresource `scale` of `pods`; known subresources:"),
            "{e}"
        );
        let e = err("configmaps/status:get");
        assert!(e.contains("`configmaps` has no subresources"), "{e}");
        let e = err("apps/daemonsets/scale:patch");
        assert!(
            e.contains("unknown subresource `scale` of `apps/daemonsets`"),
            "{e}"
        );
    }

    #[test]
    fn rejects_unsupported_verb() {
        let e = err("pods/log:delete");
        assert!(
            e.contains("verb `delete` is not supported on `pods/log`; supported verbs: get"),
            "{e}"
        );
        let e = err("pods/eviction:get");
        assert!(e.contains("supported verbs: create"), "{e}");
        let e = err("namespaces:deletecollection");
        assert!(e.contains("not supported on `namespaces`"), "{e}");
        let e = err("services:deletecollection");
        assert!(e.contains("not supported on `services`"), "{e}");
        let e = err("apps/deployments:bind");
        assert!(e.contains("not supported on `apps/deployments`"), "{e}");
        ok("rbac.authorization.k8s.io/roles:bind");
        ok("rbac.authorization.k8s.io/clusterroles:escalate");
    }

    #[test]
    fn rejects_bad_syntax() {
        let e = err("pods");
        assert!(e.contains("missing `:verb`"), "{e}");
        let e = err("pods:");
        assert!(e.contains("missing verb"), "{e}");
        let e = err("pods:get:list");
        assert!(e.contains("more than one `:`"), "{e}");
        let e = err("pods:restart");
        assert!(e.contains("unknown verb `restart`"), "{e}");
        let e = err("pods:gett");
        assert!(e.contains("did you mean `get`?"), "{e}");
        let e = err("*:get");
        assert!(e.contains("wildcards are not allowed"), "{e}");
        let e = err("pods:*");
        assert!(e.contains("wildcards are not allowed"), "{e}");
        let e = err("apps/*:get");
        assert!(e.contains("wildcards are not allowed"), "{e}");
        let e = err("apps//deployments:get");
        assert!(e.contains("empty path segment"), "{e}");
        let e = err("Pods:get");
        assert!(e.contains("lowercase"), "{e}");
        let e = err(" pods:get");
        assert!(e.contains("lowercase"), "{e}");
        let e = err("apps/deployments/scale/x:get");
        assert!(e.contains("too many"), "{e}");
        let e = err("pods:Get");
        assert!(e.contains("unknown verb `Get`"), "{e}");
    }

    /// The privileges of the built-in catalogue, read with a small line scan of
    /// each `required_privileges:` block list (the full loader test lives with
    /// the loader).
    fn catalogue_privileges() -> Vec<(PathBuf, Vec<String>)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("catalogue/actions");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        files.sort();
        let mut out = Vec::new();
        for path in files {
            let text = std::fs::read_to_string(&path).unwrap();
            let mut privileges = Vec::new();
            let mut inside = false;
            let mut found = false;
            for line in text.lines() {
                if line.starts_with("required_privileges:") {
                    inside = true;
                    found = true;
                    assert_eq!(
                        line.trim_end(),
                        "required_privileges:",
                        "{}: use a block list",
                        path.display()
                    );
                    continue;
                }
                if inside {
                    let t = line.trim();
                    if t.is_empty() || t.starts_with('#') {
                        continue;
                    }
                    if let Some(item) = t.strip_prefix("- ") {
                        let item = item.split(" #").next().unwrap().trim().trim_matches('"');
                        privileges.push(item.to_string());
                    } else {
                        inside = false;
                    }
                }
            }
            assert!(found, "{}: no required_privileges", path.display());
            out.push((path, privileges));
        }
        out
    }

    #[test]
    fn every_catalogue_privilege_is_valid() {
        let all = catalogue_privileges();
        assert!(all.len() >= 25, "only {} action files", all.len());
        for (path, privileges) in all {
            assert!(
                !privileges.is_empty(),
                "{}: empty required_privileges",
                path.display()
            );
            let mut seen = HashSet::new();
            for s in privileges {
                let (p, _) =
                    validate_privilege(&s).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert_eq!(
                    p.to_string(),
                    s,
                    "{}: write privileges in canonical form",
                    path.display()
                );
                assert!(
                    seen.insert(s.clone()),
                    "{}: duplicate privilege {s}",
                    path.display()
                );
            }
        }
    }
}
