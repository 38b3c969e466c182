//! The inventory from the cluster: which Kubernetes objects become targets,
//! how they are named, and where their `environment` and `sensitivity` come
//! from (the `inventory_sync:` section of `agent-safe.yaml`).
//!
//! This module is pure: it turns object metadata (however it was fetched, see
//! [`super::client`]) into [`Target`]s, merges hand-written entries over them
//! and renders the inventory file byte-for-byte deterministically. Reading the
//! cluster is [`super::client`]'s job.
//!
//! Fail-closed defaults: an object no mapping rule gives an environment gets
//! `default_environment` (`unknown` unless set); one no rule gives a
//! sensitivity gets `default_sensitivity` (`critical` unless set). The
//! `agent-safe.io/sensitivity` label or annotation of an object or of its
//! namespace may only *raise* the sensitivity the mapping gives: whoever can
//! label a Deployment cannot make it look less sensitive to the policies.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diag::{ConfigError, Diagnostic, Diagnostics};
use crate::load::compile_glob;
use crate::model::{InventoryFile, Origin, Sensitivity, Target};
use crate::yaml::{MapReader, Node};

/// The label or annotation that raises an object's sensitivity.
pub const SENSITIVITY_KEY: &str = "agent-safe.io/sensitivity";
/// The label or annotation of a Namespace (or Node) that gives its environment.
pub const ENVIRONMENT_KEY: &str = "agent-safe.io/environment";
/// The label or annotation that names an object's owner.
pub const OWNER_KEY: &str = "agent-safe.io/owner";

/// The Kubernetes kinds the sync reads: the kinds the catalogue acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `v1` Namespace (cluster-scoped).
    Namespace,
    /// `v1` Node (cluster-scoped).
    Node,
    /// `apps/v1` Deployment.
    Deployment,
    /// `apps/v1` StatefulSet.
    StatefulSet,
    /// `apps/v1` DaemonSet.
    DaemonSet,
    /// `batch/v1` CronJob.
    CronJob,
    /// `autoscaling/v2` HorizontalPodAutoscaler.
    HorizontalPodAutoscaler,
    /// `v1` Pod.
    Pod,
    /// `v1` ConfigMap.
    ConfigMap,
    /// `v1` Secret (its name only: the sync asks for metadata alone).
    Secret,
    /// `networking.k8s.io/v1` NetworkPolicy.
    NetworkPolicy,
}

impl Kind {
    /// Every kind, in the order they are listed and synced.
    pub const ALL: &'static [Kind] = &[
        Kind::Namespace,
        Kind::Node,
        Kind::Deployment,
        Kind::StatefulSet,
        Kind::DaemonSet,
        Kind::CronJob,
        Kind::HorizontalPodAutoscaler,
        Kind::Pod,
        Kind::ConfigMap,
        Kind::Secret,
        Kind::NetworkPolicy,
    ];

    /// The kinds synced when `inventory_sync.kinds` is not given: all but
    /// pods, whose names change at every rollout (a pod inventory in git is
    /// a diff at every deploy). List `pods` to include them.
    pub const DEFAULT: &'static [Kind] = &[
        Kind::Namespace,
        Kind::Node,
        Kind::Deployment,
        Kind::StatefulSet,
        Kind::DaemonSet,
        Kind::CronJob,
        Kind::HorizontalPodAutoscaler,
        Kind::ConfigMap,
        Kind::Secret,
        Kind::NetworkPolicy,
    ];

    /// The resource name (as in RBAC and `inventory_sync.kinds`).
    pub fn resource(self) -> &'static str {
        match self {
            Kind::Namespace => "namespaces",
            Kind::Node => "nodes",
            Kind::Deployment => "deployments",
            Kind::StatefulSet => "statefulsets",
            Kind::DaemonSet => "daemonsets",
            Kind::CronJob => "cronjobs",
            Kind::HorizontalPodAutoscaler => "horizontalpodautoscalers",
            Kind::Pod => "pods",
            Kind::ConfigMap => "configmaps",
            Kind::Secret => "secrets",
            Kind::NetworkPolicy => "networkpolicies",
        }
    }

    /// The API group (`""` for the core group).
    pub fn group(self) -> &'static str {
        match self {
            Kind::Namespace | Kind::Node | Kind::Pod | Kind::ConfigMap | Kind::Secret => "",
            Kind::Deployment | Kind::StatefulSet | Kind::DaemonSet => "apps",
            Kind::CronJob => "batch",
            Kind::HorizontalPodAutoscaler => "autoscaling",
            Kind::NetworkPolicy => "networking.k8s.io",
        }
    }

    /// The path of the cluster-wide collection, e.g. `/apis/apps/v1/deployments`.
    pub fn list_path(self) -> String {
        let version = match self {
            Kind::HorizontalPodAutoscaler => "v2",
            _ => "v1",
        };
        match self.group() {
            "" => format!("/api/v1/{}", self.resource()),
            g => format!("/apis/{g}/{version}/{}", self.resource()),
        }
    }

    /// The inventory target type, e.g. `k8s-deployment`.
    pub fn target_type(self) -> &'static str {
        match self {
            Kind::Namespace => "k8s-namespace",
            Kind::Node => "k8s-node",
            Kind::Deployment => "k8s-deployment",
            Kind::StatefulSet => "k8s-statefulset",
            Kind::DaemonSet => "k8s-daemonset",
            Kind::CronJob => "k8s-cronjob",
            Kind::HorizontalPodAutoscaler => "k8s-hpa",
            Kind::Pod => "k8s-pod",
            Kind::ConfigMap => "k8s-configmap",
            Kind::Secret => "k8s-secret",
            Kind::NetworkPolicy => "k8s-networkpolicy",
        }
    }

    /// Whether objects of the kind live in a namespace.
    pub fn namespaced(self) -> bool {
        !matches!(self, Kind::Namespace | Kind::Node)
    }

    /// The word in a target id that says the kind (`NS/WORD/NAME`,
    /// `WORD:NAME`); Deployments, the default kind, have none.
    fn id_word(self) -> &'static str {
        match self {
            Kind::Namespace => "namespace",
            Kind::Node => "node",
            Kind::Deployment => "deployment",
            Kind::StatefulSet => "statefulset",
            Kind::DaemonSet => "daemonset",
            Kind::CronJob => "cronjob",
            Kind::HorizontalPodAutoscaler => "hpa",
            Kind::Pod => "pod",
            Kind::ConfigMap => "configmap",
            Kind::Secret => "secret",
            Kind::NetworkPolicy => "networkpolicy",
        }
    }

    /// Parses a resource name of `inventory_sync.kinds`.
    pub fn parse(resource: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| k.resource() == resource)
    }

    /// The id of an object of this kind: `NAMESPACE/NAME` for a Deployment
    /// (today's hand-written form), `NAMESPACE/KIND/NAME` for the other
    /// namespaced kinds, `namespace:NAME` and `node:NAME` for the
    /// cluster-scoped ones. Kubernetes names contain neither `/` nor `:`, so
    /// no two objects share an id.
    pub fn target_id(self, namespace: Option<&str>, name: &str) -> String {
        match (self, namespace) {
            (Kind::Deployment, Some(ns)) => format!("{ns}/{name}"),
            (_, Some(ns)) if self.namespaced() => format!("{ns}/{}/{name}", self.id_word()),
            _ => format!("{}:{name}", self.id_word()),
        }
    }
}

/// The metadata of one object: all the sync reads of it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectMeta {
    /// Namespace (namespaced kinds only).
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// The `agent-safe.io/*` annotations (others are not kept).
    pub annotations: BTreeMap<String, String>,
    /// The controlling owner reference, as `Kind/name`.
    pub controller: Option<String>,
    /// The object's resourceVersion.
    pub resource_version: Option<String>,
}

impl ObjectMeta {
    /// Reads the `metadata` of an object (or of a `PartialObjectMetadata`).
    /// `None` when it has no name.
    pub fn from_object(obj: &serde_json::Value) -> Option<ObjectMeta> {
        let md = obj.get("metadata")?;
        let name = md.get("name")?.as_str()?.to_owned();
        let str_map = |key: &str, keep: &dyn Fn(&str) -> bool| -> BTreeMap<String, String> {
            md.get(key)
                .and_then(serde_json::Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter(|(k, _)| keep(k))
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                        .collect()
                })
                .unwrap_or_default()
        };
        let controller = md
            .get("ownerReferences")
            .and_then(serde_json::Value::as_array)
            .and_then(|refs| {
                refs.iter().find(|r| {
                    r.get("controller")
                        .and_then(serde_json::Value::as_bool)
                        .unwrap_or(false)
                })
            })
            .and_then(|r| {
                Some(format!(
                    "{}/{}",
                    r.get("kind")?.as_str()?,
                    r.get("name")?.as_str()?
                ))
            });
        Some(ObjectMeta {
            namespace: md
                .get("namespace")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned),
            name,
            labels: str_map("labels", &|_| true),
            annotations: str_map("annotations", &|k| k.starts_with("agent-safe.io/")),
            controller,
            resource_version: md
                .get("resourceVersion")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned),
        })
    }

    fn tag(&self, key: &str) -> Option<&str> {
        self.annotations
            .get(key)
            .or_else(|| self.labels.get(key))
            .map(String::as_str)
    }
}

/// Every object read from the cluster, by kind, keyed by (namespace, name).
pub type Objects = BTreeMap<Kind, BTreeMap<(String, String), ObjectMeta>>;

/// One rule of `inventory_sync.mapping`. Every given condition must hold;
/// the first rule that matches and sets `environment` gives the environment,
/// the first that matches and sets `sensitivity` gives the sensitivity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InventoryMappingRule {
    /// Globs on the namespace name (for a Namespace, its own name). Objects
    /// outside a namespace (Nodes) never match a rule that has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Vec<String>>,
    /// Labels the object's namespace must carry (values are globs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_labels: Option<BTreeMap<String, String>>,
    /// Labels the object must carry (values are globs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Target types the rule applies to, e.g. `k8s-secret`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub types: Option<Vec<String>>,
    /// The environment it gives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The sensitivity it gives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensitivity: Option<Sensitivity>,
}

/// The `inventory_sync:` section: reading the inventory from the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InventorySyncSettings {
    /// Written as `cluster` on every synced target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// The resources synced (default: all the catalogue acts on but `pods`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kinds: Option<Vec<String>>,
    /// Only objects of namespaces matching one of these globs (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Vec<String>>,
    /// Leave out objects of namespaces matching one of these globs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_namespaces: Vec<String>,
    /// Rules giving environment and sensitivity, first match wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mapping: Vec<InventoryMappingRule>,
    /// Environment of objects no rule maps (default `unknown`).
    #[serde(default = "default_environment")]
    pub default_environment: String,
    /// Sensitivity of objects no rule maps (default `critical`).
    #[serde(default = "default_sensitivity")]
    pub default_sensitivity: Sensitivity,
    /// Hand-written inventory file(s) merged over the synced targets: an
    /// entry with the id of a synced target replaces it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overrides: Option<PathBuf>,
    /// Where `agent-safe inventory sync` writes (default: `inventory`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out: Option<PathBuf>,
    /// The sidecar keeps the inventory in step with the cluster (list, then
    /// watch), instead of reading the `inventory` file.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub live: bool,
    /// For `live`: the kubeconfig (default: in-cluster ServiceAccount).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<PathBuf>,
    /// For `live`: the kubeconfig context (default: its current-context).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
}

fn default_environment() -> String {
    "unknown".to_owned()
}
fn default_sensitivity() -> Sensitivity {
    Sensitivity::Critical
}

impl Default for InventorySyncSettings {
    fn default() -> Self {
        InventorySyncSettings {
            cluster: None,
            kinds: None,
            namespaces: None,
            exclude_namespaces: Vec::new(),
            mapping: Vec::new(),
            default_environment: default_environment(),
            default_sensitivity: default_sensitivity(),
            overrides: None,
            out: None,
            live: false,
            kubeconfig: None,
            context: None,
        }
    }
}

pub(crate) const SYNC_KEYS: &[&str] = &[
    "cluster",
    "kinds",
    "namespaces",
    "exclude_namespaces",
    "mapping",
    "default_environment",
    "default_sensitivity",
    "overrides",
    "out",
    "live",
    "kubeconfig",
    "context",
];
pub(crate) const MAPPING_KEYS: &[&str] = &[
    "namespaces",
    "namespace_labels",
    "labels",
    "types",
    "environment",
    "sensitivity",
];

/// Reads the `inventory_sync:` section (paths resolved against `base`).
pub(crate) fn read_section(
    file: &Path,
    node: &Node,
    base: &Path,
    d: &mut Diagnostics,
) -> Option<InventorySyncSettings> {
    let mut r = MapReader::new(file, node, "inventory_sync section", SYNC_KEYS, d)?;
    let mut s = InventorySyncSettings {
        cluster: r.opt_str("cluster", d).map(|(s, _)| s),
        ..InventorySyncSettings::default()
    };
    if let Some(kinds) = r.opt_str_list("kinds", d) {
        for (k, pos) in &kinds {
            if Kind::parse(k).is_none() {
                let names: Vec<&str> = Kind::ALL.iter().map(|k| k.resource()).collect();
                d.push(
                    Diagnostic::error(file, *pos, format!("unknown kind `{k}` in `kinds`"))
                        .with_help(format!("the sync reads: {}", names.join(", "))),
                );
            }
        }
        s.kinds = Some(kinds.into_iter().map(|(k, _)| k).collect());
    }
    s.namespaces = crate::load::glob_list(&mut r, "namespaces", d);
    s.exclude_namespaces =
        crate::load::glob_list(&mut r, "exclude_namespaces", d).unwrap_or_default();
    if let Some(items) = r.opt_list("mapping", d) {
        for item in items {
            if let Some(rule) = read_rule(file, item, d) {
                s.mapping.push(rule);
            }
        }
    }
    if let Some((env, _)) = r.opt_str("default_environment", d) {
        s.default_environment = env;
    }
    if let Some(n) = r.take("default_sensitivity")
        && let Some(v) = crate::load::sensitivity_of(file, n, "default_sensitivity", d)
    {
        s.default_sensitivity = v;
    }
    let resolve = |p: String| {
        let p = PathBuf::from(p);
        if p.is_absolute() { p } else { base.join(p) }
    };
    s.overrides = r.opt_str("overrides", d).map(|(p, _)| resolve(p));
    s.out = r.opt_str("out", d).map(|(p, _)| resolve(p));
    s.live = r.opt_bool("live", d).unwrap_or(false);
    s.kubeconfig = r.opt_str("kubeconfig", d).map(|(p, _)| resolve(p));
    s.context = r.opt_str("context", d).map(|(c, _)| c);
    r.finish(d);
    Some(s)
}

fn read_rule(file: &Path, node: &Node, d: &mut Diagnostics) -> Option<InventoryMappingRule> {
    let mut r = MapReader::new(file, node, "mapping rule", MAPPING_KEYS, d)?;
    let namespaces = crate::load::glob_list(&mut r, "namespaces", d);
    let mut glob_map = |key: &str, r: &mut MapReader<'_>| {
        r.opt_str_map(key, d).map(|entries| {
            let mut out = BTreeMap::new();
            for (k, v, pos) in entries {
                if let Err(e) = compile_glob(&v) {
                    d.push(
                        Diagnostic::error(
                            file,
                            pos,
                            format!("invalid glob `{v}` in `{key}.{k}`: {}", e.kind()),
                        )
                        .with_help("label values are globs: `*`, `?`, `[abc]`, `{a,b}`"),
                    );
                }
                out.insert(k, v);
            }
            out
        })
    };
    let namespace_labels = glob_map("namespace_labels", &mut r);
    let labels = glob_map("labels", &mut r);
    let types = r
        .opt_str_list("types", d)
        .map(|t| t.into_iter().map(|(s, _)| s).collect());
    let environment = r.opt_str("environment", d).map(|(s, _)| s);
    let sensitivity = r
        .take("sensitivity")
        .and_then(|n| crate::load::sensitivity_of(file, n, "sensitivity", d));
    if environment.is_none() && sensitivity.is_none() {
        d.push(
            Diagnostic::error(file, r.pos(), "this mapping rule sets nothing")
                .with_help("give it `environment:`, `sensitivity:` or both"),
        );
    }
    r.finish(d);
    Some(InventoryMappingRule {
        namespaces,
        namespace_labels,
        labels,
        types,
        environment,
        sensitivity,
    })
}

/// A glob compiled for matching names and label values.
#[derive(Debug, Clone)]
struct Glob(globset::GlobMatcher);

impl Glob {
    fn new(pattern: &str) -> Result<Glob, String> {
        compile_glob(pattern)
            .map(|g| Glob(g.compile_matcher()))
            .map_err(|e| format!("invalid glob `{pattern}`: {}", e.kind()))
    }
    fn is_match(&self, s: &str) -> bool {
        self.0.is_match(s)
    }
}

fn globs(patterns: &[String]) -> Result<Vec<Glob>, String> {
    patterns.iter().map(|p| Glob::new(p)).collect()
}

#[derive(Debug, Clone)]
struct CompiledRule {
    namespaces: Option<Vec<Glob>>,
    namespace_labels: Vec<(String, Glob)>,
    labels: Vec<(String, Glob)>,
    types: Option<Vec<String>>,
    environment: Option<String>,
    sensitivity: Option<Sensitivity>,
}

/// The `inventory_sync` settings, compiled: what turns objects into targets.
#[derive(Debug, Clone)]
pub struct Mapper {
    kinds: Vec<Kind>,
    namespaces: Option<Vec<Glob>>,
    exclude: Vec<Glob>,
    rules: Vec<CompiledRule>,
    cluster: Option<String>,
    default_environment: String,
    default_sensitivity: Sensitivity,
}

/// Something the sync noticed but did not stop for (printed as a warning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncWarning {
    /// The target id concerned.
    pub id: String,
    /// What happened.
    pub message: String,
}

impl Mapper {
    /// Compiles the settings. The loader has checked them already; an error
    /// here means settings built in code are wrong.
    pub fn new(s: &InventorySyncSettings) -> Result<Mapper, String> {
        let kinds = match &s.kinds {
            None => Kind::DEFAULT.to_vec(),
            Some(names) => {
                let mut kinds = names
                    .iter()
                    .map(|n| Kind::parse(n).ok_or_else(|| format!("unknown kind `{n}`")))
                    .collect::<Result<Vec<_>, _>>()?;
                kinds.sort();
                kinds.dedup();
                kinds
            }
        };
        let label_globs = |m: &Option<BTreeMap<String, String>>| -> Result<_, String> {
            m.iter()
                .flatten()
                .map(|(k, v)| Ok((k.clone(), Glob::new(v)?)))
                .collect::<Result<Vec<_>, String>>()
        };
        let rules = s
            .mapping
            .iter()
            .map(|r| {
                Ok(CompiledRule {
                    namespaces: r.namespaces.as_deref().map(globs).transpose()?,
                    namespace_labels: label_globs(&r.namespace_labels)?,
                    labels: label_globs(&r.labels)?,
                    types: r.types.clone(),
                    environment: r.environment.clone(),
                    sensitivity: r.sensitivity,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Mapper {
            kinds,
            namespaces: s.namespaces.as_deref().map(globs).transpose()?,
            exclude: globs(&s.exclude_namespaces)?,
            rules,
            cluster: s.cluster.clone(),
            default_environment: s.default_environment.clone(),
            default_sensitivity: s.default_sensitivity,
        })
    }

    /// The kinds to read from the cluster (Namespaces always: the mapping
    /// needs their labels, even when they are not themselves targets).
    pub fn kinds_to_read(&self) -> Vec<Kind> {
        let mut k = self.kinds.clone();
        if !k.contains(&Kind::Namespace) {
            k.insert(0, Kind::Namespace);
        }
        k
    }

    fn namespace_included(&self, ns: &str) -> bool {
        self.namespaces
            .as_ref()
            .is_none_or(|g| g.iter().any(|g| g.is_match(ns)))
            && !self.exclude.iter().any(|g| g.is_match(ns))
    }

    /// Turns the objects into targets, sorted by id, with the warnings.
    pub fn targets(&self, objects: &Objects) -> (Vec<Target>, Vec<SyncWarning>) {
        let empty = BTreeMap::new();
        let namespaces = objects.get(&Kind::Namespace).unwrap_or(&empty);
        let mut out = Vec::new();
        let mut warnings = Vec::new();
        for kind in &self.kinds {
            for obj in objects.get(kind).unwrap_or(&empty).values() {
                // The namespace an object is in; a Namespace is "in" itself.
                let ns_name = match kind {
                    Kind::Namespace => Some(obj.name.as_str()),
                    _ => obj.namespace.as_deref(),
                };
                if let Some(ns) = ns_name
                    && !self.namespace_included(ns)
                {
                    continue;
                }
                if kind.namespaced() && ns_name.is_none() {
                    continue;
                }
                let ns_obj = ns_name.and_then(|ns| namespaces.get(&(String::new(), ns.to_owned())));
                out.push(self.target(*kind, obj, ns_name, ns_obj, &mut warnings));
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        (out, warnings)
    }

    fn target(
        &self,
        kind: Kind,
        obj: &ObjectMeta,
        ns_name: Option<&str>,
        ns_obj: Option<&ObjectMeta>,
        warnings: &mut Vec<SyncWarning>,
    ) -> Target {
        let id = kind.target_id(obj.namespace.as_deref(), &obj.name);
        let ttype = kind.target_type();
        let labels_match = |want: &[(String, Glob)], have: Option<&BTreeMap<String, String>>| {
            want.iter()
                .all(|(k, g)| have.and_then(|h| h.get(k)).is_some_and(|v| g.is_match(v)))
        };
        let matching = self.rules.iter().filter(|r| {
            r.namespaces
                .as_ref()
                .is_none_or(|g| ns_name.is_some_and(|ns| g.iter().any(|g| g.is_match(ns))))
                && (r.namespace_labels.is_empty()
                    || labels_match(&r.namespace_labels, ns_obj.map(|n| &n.labels)))
                && labels_match(&r.labels, Some(&obj.labels))
                && r.types
                    .as_ref()
                    .is_none_or(|t| t.iter().any(|t| t == ttype))
        });
        let mut environment = None;
        let mut sensitivity = None;
        for r in matching {
            if environment.is_none() {
                environment.clone_from(&r.environment);
            }
            if sensitivity.is_none() {
                sensitivity = r.sensitivity;
            }
            if environment.is_some() && sensitivity.is_some() {
                break;
            }
        }
        // The namespace's (or a Node's own) `agent-safe.io/environment`,
        // below the config's rules, above the default.
        let env_source = match kind {
            Kind::Node => Some(obj),
            _ => ns_obj,
        };
        let environment = environment
            .or_else(|| {
                env_source
                    .and_then(|o| o.tag(ENVIRONMENT_KEY))
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| self.default_environment.clone());
        let mut sensitivity = sensitivity.unwrap_or(self.default_sensitivity);
        // `agent-safe.io/sensitivity` on the namespace or the object: raises only.
        let mut tags: Vec<&ObjectMeta> = vec![obj];
        if let Some(n) = ns_obj
            && kind != Kind::Namespace
        {
            tags.push(n);
        }
        for o in tags {
            let Some(v) = o.tag(SENSITIVITY_KEY) else {
                continue;
            };
            match Sensitivity::parse(v) {
                Some(s) if s >= sensitivity => sensitivity = s,
                Some(s) => warnings.push(SyncWarning {
                    id: id.clone(),
                    message: format!(
                        "`{SENSITIVITY_KEY}: {s}` on `{}` is ignored: it would lower the sensitivity `{sensitivity}` the mapping gives (labels may only raise it)",
                        o.name
                    ),
                }),
                None => {
                    warnings.push(SyncWarning {
                        id: id.clone(),
                        message: format!(
                            "`{SENSITIVITY_KEY}: {v}` on `{}` is not one of {}; counted as `critical`",
                            o.name,
                            Sensitivity::choices()
                        ),
                    });
                    sensitivity = Sensitivity::Critical;
                }
            }
        }
        let owner = obj
            .tag(OWNER_KEY)
            .or_else(|| ns_obj.and_then(|n| n.tag(OWNER_KEY)))
            .map(str::to_owned)
            .or_else(|| obj.controller.clone());
        Target {
            id,
            target_type: ttype.to_owned(),
            environment,
            sensitivity,
            owner,
            labels: obj.labels.clone(),
            cluster: self.cluster.clone(),
            namespace: obj.namespace.clone(),
            name: Some(obj.name.clone()),
            origin: Origin::default(),
        }
    }
}

/// Merges hand-written entries over synced ones: an entry whose id is a
/// synced target's replaces it, the others are added. Sorted by id.
pub fn merge_overrides(synced: Vec<Target>, overrides: Vec<Target>) -> Vec<Target> {
    let mut by_id: BTreeMap<String, Target> =
        synced.into_iter().map(|t| (t.id.clone(), t)).collect();
    for t in overrides {
        by_id.insert(t.id.clone(), t);
    }
    by_id.into_values().collect()
}

/// Loads the `overrides` file(s), if any.
pub fn load_overrides(s: &InventorySyncSettings) -> Result<Vec<Target>, ConfigError> {
    match &s.overrides {
        Some(p) => crate::load::load_inventory(p),
        None => Ok(Vec::new()),
    }
}

/// The first line of a synced inventory file.
pub const GENERATED_HEADER: &str = "# Generated by `agent-safe inventory sync` from the cluster: do not edit.\n# Put hand-written entries in the `inventory_sync.overrides` file instead.\n";

/// Renders targets as an inventory file: sorted by id, one YAML mapping per
/// target, the same bytes for the same targets (a second sync of an
/// unchanged cluster writes nothing new; a changed one is a small diff).
pub fn render(targets: &[Target]) -> Result<String, String> {
    let mut sorted: Vec<Target> = targets
        .iter()
        .map(|t| Target {
            origin: Origin::default(),
            ..t.clone()
        })
        .collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    let body = serde_saphyr::to_string(&InventoryFile { targets: sorted })
        .map_err(|e| format!("cannot render the inventory: {e}"))?;
    Ok(format!("{GENERATED_HEADER}{body}"))
}

/// The read-only RBAC of the sync and of the sidecar's live inventory: a
/// ServiceAccount, a ClusterRole that may `get`, `list` and `watch` the kinds
/// read (and nothing else), and the binding, as Kubernetes manifests.
pub fn sync_rbac_yaml(
    mapper: &Mapper,
    service_account: &str,
    namespace: &str,
) -> Result<String, String> {
    let mut by_group: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for k in mapper.kinds_to_read() {
        by_group.entry(k.group()).or_default().push(k.resource());
    }
    let rules: Vec<serde_json::Value> = by_group
        .into_iter()
        .map(|(g, mut res)| {
            res.sort_unstable();
            serde_json::json!({"apiGroups": [g], "resources": res, "verbs": ["get", "list", "watch"]})
        })
        .collect();
    let name = "agent-safe-inventory-sync";
    let docs = [
        serde_json::json!({
            "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": service_account, "namespace": namespace},
        }),
        serde_json::json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "agent-safe"}},
            "rules": rules,
        }),
        serde_json::json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": format!("{name}-{namespace}-{service_account}"), "labels": {"app.kubernetes.io/managed-by": "agent-safe"}},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}],
        }),
    ];
    let mut out = String::from(
        "# Read-only RBAC for `agent-safe inventory sync` and the sidecar's live inventory.\n# `list secrets` also lets the holder read Secret values: the sync only asks\n# for metadata, but leave `secrets` out of `inventory_sync.kinds` if that is too much.\n",
    );
    for d in docs {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(&d).map_err(|e| format!("cannot render YAML: {e}"))?);
    }
    Ok(out)
}

#[cfg(test)]
#[expect(clippy::unwrap_used, clippy::panic, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn ids_keep_todays_form_and_never_collide() {
        assert_eq!(Kind::Deployment.target_id(Some("prod"), "api"), "prod/api");
        assert_eq!(
            Kind::StatefulSet.target_id(Some("prod"), "db"),
            "prod/statefulset/db"
        );
        assert_eq!(Kind::Namespace.target_id(None, "prod"), "namespace:prod");
        assert_eq!(Kind::Node.target_id(None, "n1"), "node:n1");
        // A Deployment named like a kind word stays two segments.
        assert_eq!(Kind::Deployment.target_id(Some("pod"), "x"), "pod/x");
    }

    fn meta(
        ns: Option<&str>,
        name: &str,
        labels: &[(&str, &str)],
        ann: &[(&str, &str)],
    ) -> ObjectMeta {
        ObjectMeta {
            namespace: ns.map(str::to_owned),
            name: name.to_owned(),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            annotations: ann
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            controller: None,
            resource_version: None,
        }
    }

    fn objects(list: Vec<(Kind, ObjectMeta)>) -> Objects {
        let mut o = Objects::new();
        for (k, m) in list {
            o.entry(k)
                .or_default()
                .insert((m.namespace.clone().unwrap_or_default(), m.name.clone()), m);
        }
        o
    }

    fn settings(yaml: &str) -> InventorySyncSettings {
        let src = crate::load::SourceFile {
            path: PathBuf::from("agent-safe.yaml"),
            text: format!("inventory_sync:\n{yaml}"),
        };
        crate::config::parse_config(&src)
            .map_err(|e| e.to_string())
            .unwrap()
            .inventory_sync
            .unwrap()
    }

    /// (case, mapping, object, expected environment, expected sensitivity)
    type Case = (
        &'static str,
        &'static str,
        (Kind, ObjectMeta),
        &'static str,
        Sensitivity,
    );

    #[test]
    fn mapping_table() {
        let estate = || {
            vec![
                (
                    Kind::Namespace,
                    meta(None, "prod", &[("tier", "gold")], &[]),
                ),
                (
                    Kind::Namespace,
                    meta(None, "dev", &[], &[(SENSITIVITY_KEY, "restricted")]),
                ),
                (
                    Kind::Namespace,
                    meta(
                        None,
                        "team-a",
                        &[("env", "staging")],
                        &[(ENVIRONMENT_KEY, "staging")],
                    ),
                ),
            ]
        };
        let cases: &[Case] = &[
            (
                "unmapped: fail-closed defaults",
                "  mapping: []\n",
                (Kind::Deployment, meta(Some("other"), "x", &[], &[])),
                "unknown",
                Sensitivity::Critical,
            ),
            (
                "namespace glob",
                "  mapping:\n    - {namespaces: [pro*], environment: prod, sensitivity: internal}\n",
                (Kind::Deployment, meta(Some("prod"), "x", &[], &[])),
                "prod",
                Sensitivity::Internal,
            ),
            (
                "namespace label",
                "  mapping:\n    - {namespace_labels: {tier: gold}, environment: prod, sensitivity: public}\n",
                (Kind::ConfigMap, meta(Some("prod"), "x", &[], &[])),
                "prod",
                Sensitivity::Public,
            ),
            (
                "object label glob",
                "  mapping:\n    - {labels: {app: 'web-*'}, sensitivity: public}\n",
                (
                    Kind::Deployment,
                    meta(Some("prod"), "x", &[("app", "web-1")], &[]),
                ),
                "unknown",
                Sensitivity::Public,
            ),
            (
                "first match per attribute",
                "  mapping:\n    - {types: [k8s-secret], sensitivity: critical}\n    - {namespaces: [prod], environment: prod, sensitivity: public}\n",
                (Kind::Secret, meta(Some("prod"), "s", &[], &[])),
                "prod",
                Sensitivity::Critical,
            ),
            (
                "object annotation raises",
                "  mapping:\n    - {namespaces: [prod], environment: prod, sensitivity: public}\n",
                (
                    Kind::Deployment,
                    meta(Some("prod"), "x", &[], &[(SENSITIVITY_KEY, "restricted")]),
                ),
                "prod",
                Sensitivity::Restricted,
            ),
            (
                "object label cannot lower",
                "  mapping:\n    - {namespaces: [prod], sensitivity: restricted}\n",
                (
                    Kind::Deployment,
                    meta(Some("prod"), "x", &[(SENSITIVITY_KEY, "public")], &[]),
                ),
                "unknown",
                Sensitivity::Restricted,
            ),
            (
                "namespace annotation raises",
                "  default_sensitivity: internal\n",
                (Kind::Deployment, meta(Some("dev"), "x", &[], &[])),
                "unknown",
                Sensitivity::Restricted,
            ),
            (
                "invalid annotation counts as critical",
                "  default_sensitivity: public\n",
                (
                    Kind::Deployment,
                    meta(Some("prod"), "x", &[], &[(SENSITIVITY_KEY, "very")]),
                ),
                "unknown",
                Sensitivity::Critical,
            ),
            (
                "namespace environment tag under the rules",
                "  default_sensitivity: internal\n",
                (Kind::Deployment, meta(Some("team-a"), "x", &[], &[])),
                "staging",
                Sensitivity::Internal,
            ),
            (
                "rules win over the namespace tag",
                "  mapping:\n    - {namespaces: [team-a], environment: qa}\n",
                (Kind::Deployment, meta(Some("team-a"), "x", &[], &[])),
                "qa",
                Sensitivity::Critical,
            ),
            (
                "a node never matches a namespace rule",
                "  mapping:\n    - {namespaces: ['*'], environment: prod, sensitivity: public}\n",
                (Kind::Node, meta(None, "n1", &[], &[])),
                "unknown",
                Sensitivity::Critical,
            ),
            (
                "defaults are configurable",
                "  default_environment: lab\n  default_sensitivity: restricted\n",
                (Kind::Pod, meta(Some("x"), "p", &[], &[])),
                "lab",
                Sensitivity::Restricted,
            ),
        ];
        for (case, yaml, obj, env, sens) in cases {
            let mut s = settings(yaml);
            s.kinds = Some(Kind::ALL.iter().map(|k| k.resource().to_owned()).collect());
            let mapper = Mapper::new(&s).unwrap();
            let mut list = estate();
            list.push(obj.clone());
            let (targets, _) = mapper.targets(&objects(list));
            let id = obj.0.target_id(obj.1.namespace.as_deref(), &obj.1.name);
            let t = targets
                .iter()
                .find(|t| t.id == id)
                .unwrap_or_else(|| panic!("{case}: no {id}"));
            assert_eq!(
                (t.environment.as_str(), t.sensitivity),
                (*env, *sens),
                "{case}"
            );
        }
    }

    #[test]
    fn namespace_filters_and_render_round_trip() {
        let s = settings(
            "  namespaces: ['team-*', prod]\n  exclude_namespaces: [team-b]\n  cluster: c1\n",
        );
        let mapper = Mapper::new(&s).unwrap();
        let objs = objects(vec![
            (
                Kind::Deployment,
                meta(Some("team-a"), "a", &[("v", "1.0"), ("yes", "true")], &[]),
            ),
            (Kind::Deployment, meta(Some("team-b"), "b", &[], &[])),
            (Kind::Deployment, meta(Some("prod"), "c", &[], &[])),
            (Kind::Deployment, meta(Some("dev"), "d", &[], &[])),
            (Kind::Node, meta(None, "n", &[], &[])),
        ]);
        let (targets, _) = mapper.targets(&objs);
        let ids: Vec<&str> = targets.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["node:n", "prod/c", "team-a/a"]);
        let text = render(&targets).unwrap();
        let back = crate::load::parse_inventory(&crate::load::SourceFile {
            path: PathBuf::from("inventory.yaml"),
            text: text.clone(),
        })
        .unwrap();
        let strip = |v: Vec<Target>| -> Vec<Target> {
            v.into_iter()
                .map(|t| Target {
                    origin: Origin::default(),
                    ..t
                })
                .collect()
        };
        assert_eq!(strip(back), strip(targets.clone()), "{text}");
        // Same targets in another order: the same bytes.
        let mut rev = targets;
        rev.reverse();
        assert_eq!(render(&rev).unwrap(), text);
    }

    #[test]
    fn mapping_errors_point_at_the_line() {
        let src = crate::load::SourceFile {
            path: PathBuf::from("agent-safe.yaml"),
            text: "inventory_sync:\n  kinds: [deployments, widgets]\n  mapping:\n    - {namespaces: [prod]}\n    - {labels: {a: '['}, sensitivity: low}\n".into(),
        };
        let e = crate::config::parse_config(&src).unwrap_err().to_string();
        assert!(
            e.contains("agent-safe.yaml:2:24: error: unknown kind `widgets`"),
            "{e}"
        );
        assert!(
            e.contains("agent-safe.yaml:4:7: error: this mapping rule sets nothing"),
            "{e}"
        );
        assert!(e.contains("invalid glob `[` in `labels.a`"), "{e}");
        assert!(e.contains("invalid `sensitivity` value `low`"), "{e}");
    }

    #[test]
    fn list_paths() {
        assert_eq!(Kind::Deployment.list_path(), "/apis/apps/v1/deployments");
        assert_eq!(Kind::Pod.list_path(), "/api/v1/pods");
        assert_eq!(
            Kind::HorizontalPodAutoscaler.list_path(),
            "/apis/autoscaling/v2/horizontalpodautoscalers"
        );
    }
}
