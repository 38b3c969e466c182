//! A reference table of the core Kubernetes API's resources, for checking the
//! RBAC privileges that action definitions declare (the table itself is in
//! `k8s/resources.rs`, apart from the logic; the privilege syntax is read and
//! checked in [`crate::privilege`]).
//!
//! An action lists what it needs as `[group/]resource[/subresource]:verb`, for
//! example `apps/deployments:patch`, `pods/eviction:create`, `pods:list` or
//! `apps/deployments/scale:patch`. [`parse_privilege`](crate::privilege::parse_privilege) reads that syntax and
//! [`check_privilege`](crate::privilege::check_privilege) validates it against the table, so that a typo such as
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
    type Err = UnknownVerb;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Verb::from_name(s).ok_or_else(|| UnknownVerb {
            verb: s.to_owned(),
            hint: unknown_verb_hint(s),
        })
    }
}

/// A verb RBAC does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown verb `{verb}`; {hint}")]
pub struct UnknownVerb {
    /// The verb as written.
    pub verb: String,
    /// The closest verb, or the list of verbs.
    pub hint: String,
}

/// "did you mean `get`?", or the list of verbs.
pub(crate) fn unknown_verb_hint(verb: &str) -> String {
    let names: Vec<&str> = Verb::ALL.iter().map(|v| v.as_str()).collect();
    match did_you_mean(verb, names.iter().copied()) {
        Some(close) => format!("did you mean `{close}`?"),
        None => format!("expected one of {}", names.join(", ")),
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

pub(crate) fn qualify(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{group}/{resource}")
    }
}

pub(crate) fn group_label(group: &str) -> String {
    if group.is_empty() {
        "the core group".to_string()
    } else {
        format!("group `{group}`")
    }
}

pub mod client;
mod resources;
pub mod sync;

pub(crate) use resources::{DOTLESS_GROUPS, RESOURCES};

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
pub(crate) fn looks_like_group(segment: &str) -> bool {
    segment.contains('.') || DOTLESS_GROUPS.contains(&segment)
}

pub(crate) fn groups() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for r in RESOURCES {
        if !out.contains(&r.group) {
            out.push(r.group);
        }
    }
    out
}

// ----- parsing -------------------------------------------------------------
