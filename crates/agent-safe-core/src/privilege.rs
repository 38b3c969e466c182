//! RBAC privileges as action definitions declare them:
//! `[group/]resource[/subresource]:verb`, for example `apps/deployments:patch`.
//!
//! [`parse_privilege`] reads the syntax, [`check_privilege`] checks it against
//! the resource table of [`crate::k8s`], so that a typo such as
//! `apps/deployment:patch` or `pods/logs:get` is caught when the action is
//! loaded instead of surfacing as a `Forbidden` error in the executor.
//! [`crate::rbac`] turns checked privileges into Roles.

use std::fmt;
use std::str::FromStr;

use crate::diag::did_you_mean;
use crate::k8s::{
    RESOURCES, ResourceInfo, Verb, find_resource, group_label, groups, is_known_group,
    looks_like_group, qualify, unknown_verb_hint,
};

/// Why a privilege is not `[group/]resource[/subresource]:verb`
/// ([`parse_privilege`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxError {
    /// No `:verb`.
    #[error("invalid privilege `{input}`: missing `:verb`; {SYNTAX}")]
    MissingVerb {
        /// The privilege as written.
        input: String,
    },
    /// More than one `:`.
    #[error("invalid privilege `{input}`: more than one `:`; {SYNTAX}")]
    ExtraColon {
        /// The privilege as written.
        input: String,
    },
    /// A `*` anywhere.
    #[error(
        "invalid privilege `{input}`: wildcards are not allowed; name the exact resource and verb"
    )]
    Wildcard {
        /// The privilege as written.
        input: String,
    },
    /// Nothing after the `:`.
    #[error("invalid privilege `{input}`: missing verb after `:`; {SYNTAX}")]
    EmptyVerb {
        /// The privilege as written.
        input: String,
    },
    /// A verb RBAC does not know.
    #[error("invalid privilege `{input}`: unknown verb `{verb}`; {hint}")]
    UnknownVerb {
        /// The privilege as written.
        input: String,
        /// The verb as written.
        verb: String,
        /// The closest verb, or the list of verbs.
        hint: String,
    },
    /// An empty path segment, or one with other characters than lowercase
    /// letters, digits, `-` and `.`.
    #[error("invalid privilege `{input}`: {what}; {SYNTAX}")]
    BadSegment {
        /// The privilege as written.
        input: String,
        /// Which segment, and why.
        what: String,
    },
    /// More than `group/resource/subresource`.
    #[error("invalid privilege `{input}`: too many `/` segments; {SYNTAX}")]
    TooManySegments {
        /// The privilege as written.
        input: String,
    },
}

/// Why a well-formed privilege names nothing the API server authorizes
/// ([`check_privilege`]). `hint` is empty or starts with `; `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// The API group is not in the table.
    #[error("unknown API group `{group}`{hint}")]
    UnknownGroup {
        /// The group as written.
        group: String,
        /// The likely fix.
        hint: String,
    },
    /// The group has no such resource.
    #[error("unknown resource `{resource}` in {}{hint}", group_label(group))]
    UnknownResource {
        /// The group (`""` for core).
        group: String,
        /// The resource as written.
        resource: String,
        /// The likely fix.
        hint: String,
    },
    /// The resource has no such subresource.
    #[error("unknown subresource `{subresource}` of `{resource}`{hint}")]
    UnknownSubresource {
        /// `group/resource`.
        resource: String,
        /// The subresource as written.
        subresource: String,
        /// The likely fix.
        hint: String,
    },
    /// The verb is not authorized on that resource or subresource.
    #[error("verb `{verb}` is not supported on `{resource}`; supported verbs: {supported}")]
    UnsupportedVerb {
        /// The verb.
        verb: Verb,
        /// `[group/]resource[/subresource]`.
        resource: String,
        /// The verbs that are, comma-separated.
        supported: String,
    },
}

/// Why [`validate_privilege`] refused a privilege.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrivilegeError {
    /// It does not parse.
    #[error(transparent)]
    Syntax(#[from] SyntaxError),
    /// It parses, but names something the table does not have.
    #[error("invalid privilege `{input}`: {source}")]
    Check {
        /// The privilege as written.
        input: String,
        /// What the table says.
        source: CheckError,
    },
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
    type Err = SyntaxError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_privilege(s)
    }
}

const SYNTAX: &str =
    "expected `[group/]resource[/subresource]:verb`, e.g. `apps/deployments:patch`";

fn valid_segment(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

/// The privilege without its `core/` group prefix, when it has one and more
/// than the prefix (`core/pods:get` → `pods:get`).
pub fn core_prefixed(s: &str) -> Option<&str> {
    s.strip_prefix("core/").filter(|rest| {
        rest.split_once(':')
            .is_some_and(|(path, _)| !path.is_empty())
    })
}

/// A privilege of another provider than Kubernetes, written the AWS IAM way:
/// `service:Permission`, e.g. `ec2:StopInstances` or `s3:GetObject`.
///
/// Such privileges are kept on the action as opaque strings (shown by
/// `show-action`, recorded for the executor) and never granted by
/// `agent-safe rbac`, which writes Kubernetes RBAC only. The permission
/// starts with an uppercase letter, which no Kubernetes verb does, so the
/// two forms cannot be confused; wildcards are refused as in RBAC privileges.
pub fn provider_privilege(s: &str) -> Option<(&str, &str)> {
    let (service, permission) = s.split_once(':')?;
    let service_ok = service.starts_with(|c: char| c.is_ascii_lowercase())
        && service
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let permission_ok = permission.starts_with(|c: char| c.is_ascii_uppercase())
        && permission.bytes().all(|b| b.is_ascii_alphanumeric());
    (service_ok && permission_ok).then_some((service, permission))
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
pub fn parse_privilege(s: &str) -> Result<Privilege, SyntaxError> {
    let input = || s.to_owned();
    // `core/pods:get` names the core group the way other tools write it; the
    // canonical form has no prefix (`pods:get`).
    let unprefixed = core_prefixed(s).unwrap_or(s);
    let Some((path, verb_text)) = unprefixed.split_once(':') else {
        return Err(SyntaxError::MissingVerb { input: input() });
    };
    if verb_text.contains(':') {
        return Err(SyntaxError::ExtraColon { input: input() });
    }
    if path == "*" || verb_text == "*" || path.split('/').any(|seg| seg == "*") {
        return Err(SyntaxError::Wildcard { input: input() });
    }
    if verb_text.is_empty() {
        return Err(SyntaxError::EmptyVerb { input: input() });
    }
    let verb = Verb::from_name(verb_text).ok_or_else(|| SyntaxError::UnknownVerb {
        input: input(),
        verb: verb_text.to_owned(),
        hint: unknown_verb_hint(verb_text),
    })?;

    let segments: Vec<&str> = path.split('/').collect();
    if let Some(bad) = segments.iter().find(|seg| !valid_segment(seg)) {
        let what = if bad.is_empty() {
            "an empty path segment".to_string()
        } else {
            format!("`{bad}` (lowercase letters, digits, `-` and `.` only)")
        };
        return Err(SyntaxError::BadSegment {
            input: input(),
            what,
        });
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
            return Err(SyntaxError::TooManySegments { input: input() });
        }
    };
    Ok(Privilege {
        group,
        resource,
        subresource,
        verb,
    })
}

/// Checks a privilege against the table: the group, the resource in that
/// group, the subresource and the verb must all exist. Returns the resource.
///
/// The message names the problem and, where one is close, the likely fix:
/// "unknown resource `deployment` in group `apps`; did you mean `deployments`?".
pub fn check_privilege(p: &Privilege) -> Result<&'static ResourceInfo, CheckError> {
    if !is_known_group(&p.group) {
        let mut msg = String::new();
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
        return Err(CheckError::UnknownGroup {
            group: p.group.clone(),
            hint: msg,
        });
    }

    let Some(info) = find_resource(&p.group, &p.resource) else {
        return Err(CheckError::UnknownResource {
            group: p.group.clone(),
            resource: p.resource.clone(),
            hint: unknown_resource_hint(&p.group, &p.resource),
        });
    };

    let verbs = match &p.subresource {
        None => info.verbs,
        Some(name) => match info.subresource(name) {
            Some(sub) => sub.verbs,
            None => {
                let qualified = info.qualified_name();
                let names: Vec<&str> = info.subresources.iter().map(|s| s.name).collect();
                let mut msg = String::new();
                if names.is_empty() {
                    msg.push_str(&format!("; `{qualified}` has no subresources"));
                } else if let Some(close) = did_you_mean(name, names.iter().copied()) {
                    msg.push_str(&format!("; did you mean `{qualified}/{close}`?"));
                } else {
                    msg.push_str(&format!("; known subresources: {}", names.join(", ")));
                }
                return Err(CheckError::UnknownSubresource {
                    resource: qualified,
                    subresource: name.clone(),
                    hint: msg,
                });
            }
        },
    };

    if !verbs.contains(&p.verb) {
        let supported: Vec<&str> = verbs.iter().map(|v| v.as_str()).collect();
        return Err(CheckError::UnsupportedVerb {
            verb: p.verb,
            resource: p.resource_path(),
            supported: supported.join(", "),
        });
    }
    Ok(info)
}

fn unknown_resource_hint(group: &str, resource: &str) -> String {
    let mut msg = String::new();
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
pub fn validate_privilege(s: &str) -> Result<(Privilege, &'static ResourceInfo), PrivilegeError> {
    let p = parse_privilege(s)?;
    let info = check_privilege(&p).map_err(|source| PrivilegeError::Check {
        input: s.to_owned(),
        source,
    })?;
    Ok((p, info))
}

#[cfg(test)]
#[expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly: a panic is the failure report"
)]
mod tests {
    use super::*;
    use crate::k8s::{DOTLESS_GROUPS, resources};
    use std::collections::HashSet;
    use std::path::{Path, PathBuf};

    fn ok(s: &str) -> (Privilege, &'static ResourceInfo) {
        validate_privilege(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn err(s: &str) -> String {
        match validate_privilege(s) {
            Ok(_) => panic!("{s} was accepted"),
            Err(e) => e.to_string(),
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
        let e = err("v1/pods:get");
        assert!(e.contains("write `pods:get`"), "{e}");
        let e = err("extensions/ingresses:get");
        assert!(e.contains("unknown API group `extensions`"), "{e}");
        let e = err("networking.k8s.io/ingress/status:get");
        assert!(e.contains("did you mean `ingresses`?"), "{e}");
    }

    #[test]
    fn core_prefix_is_the_core_group() {
        for (written, canonical) in [
            ("core/pods:get", "pods:get"),
            ("core/pods/log:get", "pods/log:get"),
            ("core/nodes:patch", "nodes:patch"),
        ] {
            let p = parse_privilege(written).unwrap();
            assert_eq!(p.to_string(), canonical);
            assert!(check_privilege(&p).is_ok(), "{written}");
            assert_eq!(core_prefixed(written), Some(canonical));
        }
        assert_eq!(core_prefixed("pods:get"), None);
        assert_eq!(core_prefixed("core/:get"), None);
    }

    #[test]
    fn provider_privileges_are_the_iam_form() {
        for (input, expected) in [
            ("ec2:StopInstances", Some(("ec2", "StopInstances"))),
            ("s3:GetObject", Some(("s3", "GetObject"))),
            (
                "elastic-load-balancing:DescribeTags",
                Some(("elastic-load-balancing", "DescribeTags")),
            ),
            ("pods:get", None),
            ("ec2:Stop*", None),
            ("ec2:*", None),
            ("EC2:StopInstances", None),
            ("apps/deployments:Patch", None),
            ("ec2:", None),
            (":StopInstances", None),
            ("ec2:Stop:Instances", None),
        ] {
            assert_eq!(provider_privilege(input), expected, "{input}");
        }
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
