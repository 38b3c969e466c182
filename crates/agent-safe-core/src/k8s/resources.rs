//! The table: every resource of the built-in API groups, with its verbs and
//! subresources. Data only; the lookups are in `k8s/mod.rs`.

use super::{ResourceInfo, SubresourceInfo, Verb};

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
pub(crate) static RESOURCES: &[ResourceInfo] = &[
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
pub(crate) const DOTLESS_GROUPS: &[&str] =
    &["apps", "autoscaling", "batch", "policy", "extensions"];
