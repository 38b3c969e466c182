//! `agent-safe.yaml`: where the files are, and how the audit log, identity and
//! server behave.
//!
//! Discovery: `--config PATH`, then the `AGENT_SAFE_CONFIG` environment
//! variable, then `agent-safe.yaml` in the current directory or its parents.
//! Relative paths inside the file are relative to the file's directory.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::audit::Durability;
use crate::diag::{ConfigError, Diagnostic, Diagnostics, Pos};
use crate::load::{SourceFile, enum_of, read_file};
use crate::yaml::{MapReader, Node, Value};

/// The file name looked for in the current directory and its parents.
pub const CONFIG_FILE_NAME: &str = "agent-safe.yaml";
/// The environment variable that names the config file.
pub const CONFIG_ENV: &str = "AGENT_SAFE_CONFIG";

/// Audit log rotation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RotationSettings {
    /// Rotate when the active file would grow past this many bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
    /// Rotate when the UTC day changes.
    #[serde(default)]
    pub daily: bool,
}

/// `audit.checkpoint`: signed checkpoints of the log's Merkle tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckpointSettings {
    /// The log's name in its checkpoints (their first line) and the name of
    /// the checkpoint key, e.g. `example.com/agent-safe/prod`: unique to
    /// this log, no spaces, no `+`.
    pub origin: String,
    /// The file holding the Ed25519 checkpoint key (`PRIVATE+KEY+…`), as
    /// `agent-safe init` writes it (default `secrets/checkpoint.key`).
    #[serde(default = "default_checkpoint_key")]
    pub key_file: PathBuf,
    /// A checkpoint every this many events (0: never by count; default 1000).
    #[serde(default = "default_checkpoint_events")]
    pub every_events: u64,
    /// A checkpoint at the first event this many seconds after the last
    /// one (0: never by time; default 60).
    #[serde(default = "default_checkpoint_seconds")]
    pub every_seconds: u64,
    /// A shell command run with each new checkpoint on its standard input
    /// (copy it to object storage, post it to a witness). Its failures are
    /// counted and reported, and never block a decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

fn default_checkpoint_key() -> PathBuf {
    PathBuf::from("secrets/checkpoint.key")
}
fn default_checkpoint_events() -> u64 {
    crate::audit::DEFAULT_CHECKPOINT_EVENTS
}
fn default_checkpoint_seconds() -> u64 {
    crate::audit::DEFAULT_CHECKPOINT_SECONDS
}

/// The `audit:` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    /// Set to false to run without an audit log (not recommended: nothing is recorded).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The active log file (default `audit/audit.jsonl`).
    #[serde(default = "default_audit_path")]
    pub path: PathBuf,
    /// `process` (default) or `sync`.
    #[serde(default)]
    pub durability: Durability,
    /// Rotation by size and/or day.
    #[serde(default)]
    pub rotation: RotationSettings,
    /// How long to wait for another writer's lock before failing closed (ms).
    #[serde(default = "default_lock_timeout")]
    pub lock_timeout_ms: u64,
    /// Signed checkpoints of the log (off when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<CheckpointSettings>,
}

fn yes() -> bool {
    true
}
fn default_audit_path() -> PathBuf {
    PathBuf::from("audit/audit.jsonl")
}
fn default_lock_timeout() -> u64 {
    5_000
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings {
            enabled: true,
            path: default_audit_path(),
            durability: Durability::Process,
            rotation: RotationSettings::default(),
            lock_timeout_ms: default_lock_timeout(),
            checkpoint: None,
        }
    }
}

/// One signing key. Exactly one of `secret_file`, `secret_env`, `secret` gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeySettings {
    /// Key id, matched against the JWT header `kid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// File holding the secret (base64url, as `agent-safe init` writes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_file: Option<PathBuf>,
    /// Environment variable holding the secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
    /// The secret itself (discouraged: keep secrets out of config files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// The `identity:` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentitySettings {
    /// HS256 signing keys (several for rotation, chosen by `kid`).
    #[serde(default)]
    pub keys: Vec<KeySettings>,
    /// Required `iss` claim, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Required `aud` claim, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// Clock leeway for `exp` and `nbf`, seconds (default 30).
    #[serde(default = "default_leeway")]
    pub leeway_seconds: u64,
    /// Refuse plain (unsigned) agent ids and anonymous callers.
    #[serde(default)]
    pub require_signed: bool,
    /// Roles that let a token's holder answer `require_approval` decisions
    /// through the sidecar (`POST /v1/approvals`); default `[approver]`.
    #[serde(default = "default_approver_roles")]
    pub approver_roles: Vec<String>,
    /// Issuers of asymmetric tokens (RS256, ES256, EdDSA), e.g. the
    /// cluster's ServiceAccount token issuer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issuers: Vec<IssuerSettings>,
    /// Roles and groups of Kubernetes ServiceAccount callers.
    #[serde(default, skip_serializing_if = "KubernetesSettings::is_empty")]
    pub kubernetes: KubernetesSettings,
}

/// One trusted issuer of asymmetric tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IssuerSettings {
    /// The exact `iss` of its tokens.
    pub issuer: String,
    /// The `aud` its tokens must carry.
    pub audience: String,
    /// A JWKS file with its public keys (e.g. `kubectl get --raw /openid/v1/jwks`).
    /// Exactly one of `jwks_file` and `discovery: true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_file: Option<PathBuf>,
    /// Fetch the keys by OIDC discovery (`ISSUER/.well-known/openid-configuration`,
    /// then its `jwks_uri`).
    #[serde(default)]
    pub discovery: bool,
    /// For discovery: PEM CA certificates to trust (e.g. the cluster CA);
    /// the Mozilla roots when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// For discovery: a file holding a bearer token sent with the requests
    /// (e.g. the sidecar's own ServiceAccount token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// Reload the keys when older than this many seconds (default 300).
    #[serde(default = "default_refresh")]
    pub refresh_seconds: u64,
    /// Reload at most once per this many seconds for an unknown `kid` (default 10).
    #[serde(default = "default_min_refetch")]
    pub min_refetch_seconds: u64,
    /// Keep using the last good keys this long when reloading fails (default 3600).
    #[serde(default = "default_max_stale")]
    pub max_stale_seconds: u64,
}

fn default_refresh() -> u64 {
    crate::identity::DEFAULT_REFRESH_SECONDS
}
fn default_min_refetch() -> u64 {
    crate::identity::DEFAULT_MIN_REFETCH_SECONDS
}
fn default_max_stale() -> u64 {
    crate::identity::DEFAULT_MAX_STALE_SECONDS
}

/// Roles and groups given to ServiceAccounts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KubernetesBindingSettings {
    /// The namespace.
    pub namespace: String,
    /// The ServiceAccount (only in `service_accounts` entries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Roles given.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Groups given.
    #[serde(default)]
    pub groups: Vec<String>,
}

/// The `identity.kubernetes` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KubernetesSettings {
    /// By ServiceAccount: `{namespace, name, roles, groups}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_accounts: Vec<KubernetesBindingSettings>,
    /// By namespace (every ServiceAccount in it): `{namespace, roles, groups}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<KubernetesNamespaceBindingSettings>")]
    pub namespaces: Vec<KubernetesBindingSettings>,
}

/// The schema of a `identity.kubernetes.namespaces` entry: a binding without
/// `name` (the loader refuses one there). Read into
/// [`KubernetesBindingSettings`] with `name: None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KubernetesNamespaceBindingSettings {
    /// The namespace.
    pub namespace: String,
    /// Roles given.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Groups given.
    #[serde(default)]
    pub groups: Vec<String>,
}

impl KubernetesSettings {
    fn is_empty(&self) -> bool {
        self.service_accounts.is_empty() && self.namespaces.is_empty()
    }
}

fn default_approver_roles() -> Vec<String> {
    vec!["approver".to_owned()]
}

fn default_leeway() -> u64 {
    30
}

impl Default for IdentitySettings {
    fn default() -> Self {
        IdentitySettings {
            keys: Vec::new(),
            issuer: None,
            audience: None,
            leeway_seconds: default_leeway(),
            require_signed: false,
            approver_roles: default_approver_roles(),
            issuers: Vec::new(),
            kubernetes: KubernetesSettings::default(),
        }
    }
}

/// The `server:` section (the HTTP sidecar).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Listen address (default `127.0.0.1:8400`, loopback only).
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Largest accepted request body (default 64 KiB).
    #[serde(default = "default_body")]
    pub max_body_bytes: u64,
    /// Per-request timeout in milliseconds (default 5000).
    #[serde(default = "default_timeout")]
    pub request_timeout_ms: u64,
    /// Host names, besides the listen address's own, that requests may name
    /// in their `Host` header: `name` (any port) or `name:port`. An IP
    /// address is always accepted, and `localhost` when the listener is on
    /// loopback or on every interface; any other name is refused (403), which
    /// stops DNS rebinding.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_hosts: Vec<String>,
    /// How long a connection may take to deliver a complete request head,
    /// counted from its start or from the end of its previous response, in
    /// milliseconds (default 10000; 0 disables). Idle keep-alive
    /// connections are closed after the same time.
    #[serde(default = "default_header_timeout")]
    pub header_timeout_ms: u64,
    /// Most connections open at once (default 512). At the limit, the
    /// connection idle the longest is closed to admit a new one.
    #[serde(default = "default_max_connections")]
    pub max_connections: u64,
}

fn default_listen() -> String {
    "127.0.0.1:8400".into()
}
fn default_body() -> u64 {
    64 * 1024
}
fn default_timeout() -> u64 {
    5_000
}
fn default_header_timeout() -> u64 {
    10_000
}
fn default_max_connections() -> u64 {
    512
}

/// Parses an entry of `server.allowed_hosts`: a DNS name, an IPv4 address or
/// a bracketed IPv6 address, optionally followed by `:port`. Returns the host
/// in lower case without a trailing dot (brackets kept for IPv6), and the port.
pub fn parse_allowed_host(entry: &str) -> Result<(String, Option<u16>), String> {
    if entry.is_empty() {
        return Err("the entry is empty".to_owned());
    }
    if entry.contains('/') {
        return Err("write the host alone, without a scheme (`http://`) or a path".to_owned());
    }
    let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
        let (ip, after) = rest
            .split_once(']')
            .ok_or_else(|| "an IPv6 address must be closed with `]`".to_owned())?;
        ip.parse::<std::net::Ipv6Addr>()
            .map_err(|_| format!("`{ip}` is not an IPv6 address"))?;
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| "only `:port` may follow an IPv6 address".to_owned())?,
            ),
        };
        (format!("[{}]", ip.to_ascii_lowercase()), port)
    } else {
        match entry.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (entry.to_owned(), None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("`{p}` is not a port (1-65535)"))?,
        ),
    };
    if host.starts_with('[') {
        return Ok((host, port));
    }
    let host = host.strip_suffix('.').unwrap_or(&host).to_ascii_lowercase();
    let valid_label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if host.is_empty() || host.len() > 253 || !host.split('.').all(valid_label) {
        return Err(format!(
            "`{host}` is not a host name: use letters, digits, `-` and `.`, with no scheme, path or wildcard"
        ));
    }
    Ok((host, port))
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            listen: default_listen(),
            max_body_bytes: default_body(),
            request_timeout_ms: default_timeout(),
            allowed_hosts: Vec::new(),
            header_timeout_ms: default_header_timeout(),
            max_connections: default_max_connections(),
        }
    }
}

/// The `shadow:` section: a candidate policy evaluated beside the enforced
/// one on every check, and never enforced (see docs/CHANGING-POLICIES.md).
/// Exactly one of `policies` and `config`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShadowSettings {
    /// Candidate policy files (file or directory), evaluated with this
    /// configuration's actions, inventory, identity and other settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<PathBuf>,
    /// A whole candidate configuration (another `agent-safe.yaml`): its
    /// actions, policies, inventory, identity, `unknown_targets` and
    /// `callable_old_versions` decide; its `audit`, `server` and `mcp`
    /// sections are not used. It may not have a `shadow` section itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<PathBuf>,
    /// Where the `shadow` key is written, for messages.
    #[serde(skip)]
    #[schemars(skip)]
    pub pos: Pos,
}

/// What a check on a target outside the inventory does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnknownTargets {
    /// Denied before any rule runs, with a reason naming the target (the default).
    #[default]
    Deny,
    /// The rules decide, with the target counted as `critical` sensitivity;
    /// only rules without a `targets` selector can match it.
    EvaluateAsCritical,
}

impl UnknownTargets {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "deny" => Some(Self::Deny),
            "evaluate_as_critical" => Some(Self::EvaluateAsCritical),
            _ => None,
        }
    }
    fn choices() -> String {
        "`deny`, `evaluate_as_critical`".into()
    }
    /// The value as written in `agent-safe.yaml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deny => "deny",
            Self::EvaluateAsCritical => "evaluate_as_critical",
        }
    }
}

/// `agent-safe.yaml`, with every path resolved against the file's directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The project's own action definitions (file or directory), loaded on top
    /// of the built-in catalogue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions: Option<PathBuf>,
    /// Policy files (file or directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<PathBuf>,
    /// Target inventory (file or directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<PathBuf>,
    /// Set false to leave out the built-in Kubernetes catalogue.
    #[serde(default = "yes")]
    pub builtin_actions: bool,
    /// The audit log.
    #[serde(default)]
    pub audit: AuditSettings,
    /// Caller identity.
    #[serde(default)]
    pub identity: IdentitySettings,
    /// The HTTP sidecar.
    #[serde(default)]
    pub server: ServerSettings,
    /// What a check on a target outside the inventory does: `deny` (default)
    /// or `evaluate_as_critical` (rules without a `targets` selector decide).
    #[serde(default)]
    pub unknown_targets: UnknownTargets,
    /// Older action versions that stay callable, as `name@version` (or
    /// `name@*` for every version of one action). By default only the newest
    /// version of each action can be checked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub callable_old_versions: Vec<String>,
    /// Custom resources (`group/resource`, e.g. `example.com/widgets`) that
    /// `required_privileges` may name besides the built-in Kubernetes API
    /// table. `agent-safe rbac` grants them as namespaced resources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_resources: Vec<String>,
    /// The MCP gateway (`agent-safe mcp`): inline settings, or the path of a
    /// file holding them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp: Option<crate::mapping::McpSection>,
    /// Reading the inventory from the cluster (`agent-safe inventory sync`,
    /// the sidecar's live inventory): what is read and how objects map to
    /// environments and sensitivities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory_sync: Option<crate::k8s::sync::InventorySyncSettings>,
    /// A candidate policy evaluated beside this one on every check and
    /// recorded in the audit log when it decides differently; never
    /// enforced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow: Option<ShadowSettings>,
    /// Where each entry of `callable_old_versions` and `custom_resources` is
    /// written, for messages.
    #[serde(skip)]
    #[schemars(skip)]
    pub entry_positions: std::collections::BTreeMap<String, Pos>,
    /// The config file itself (absent for the no-config defaults).
    #[serde(skip)]
    #[schemars(skip)]
    pub source: Option<PathBuf>,
}

impl Config {
    /// The configuration used when there is no config file at all: the built-in
    /// catalogue, no policies (every check is denied), no audit log.
    pub fn no_config() -> Config {
        Config {
            builtin_actions: true,
            audit: AuditSettings {
                enabled: false,
                ..AuditSettings::default()
            },
            ..Config::default()
        }
    }

    /// The directory relative paths are resolved against.
    pub fn base_dir(&self) -> PathBuf {
        self.source
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    }

    /// Where `registry lock` writes (and loading checks) the integrity
    /// manifest: `registry.lock` beside the config file.
    pub fn manifest_path(&self) -> PathBuf {
        self.base_dir().join(crate::manifest::MANIFEST_FILE_NAME)
    }
}

/// Finds the config file: `explicit`, then `$AGENT_SAFE_CONFIG`, then
/// `agent-safe.yaml` in `cwd` or its parents. `Ok(None)` when there is none.
/// An explicitly named file that does not exist is an error, never a silent fallback.
pub fn discover(explicit: Option<&Path>, cwd: &Path) -> Result<Option<PathBuf>, ConfigError> {
    if let Some(p) = explicit {
        return existing(p, "--config").map(Some);
    }
    if let Some(p) = std::env::var_os(CONFIG_ENV).filter(|v| !v.is_empty()) {
        return existing(Path::new(&p), CONFIG_ENV).map(Some);
    }
    let mut dir = Some(cwd);
    while let Some(d) = dir {
        let candidate = d.join(CONFIG_FILE_NAME);
        // Present in any form: a dangling symlink or a FIFO here is this
        // project's config, and reading it fails loudly; it must not make
        // the search fall through to a parent directory's config.
        if std::fs::symlink_metadata(&candidate).is_ok() {
            return Ok(Some(candidate));
        }
        dir = d.parent();
    }
    Ok(None)
}

fn existing(p: &Path, via: &str) -> Result<PathBuf, ConfigError> {
    // Anything at that path is taken; `read_file` then names what is wrong
    // with it (a directory, a FIFO, a dangling symlink).
    if std::fs::symlink_metadata(p).is_ok() {
        Ok(p.to_path_buf())
    } else {
        Err(ConfigError::single(
            Diagnostic::error(
                p,
                Pos::FILE,
                format!("config file named by {via} does not exist"),
            )
            .with_help("check the path, or run `agent-safe init` to create a project"),
        ))
    }
}

/// Loads and checks a config file, resolving relative paths against its directory.
pub fn load_config(path: &Path) -> Result<Config, ConfigError> {
    let src = read_file(path)?;
    parse_config(&src)
}

pub(crate) const ROOT_KEYS: &[&str] = &[
    "actions",
    "policies",
    "inventory",
    "builtin_actions",
    "audit",
    "identity",
    "server",
    "unknown_targets",
    "callable_old_versions",
    "custom_resources",
    "mcp",
    "inventory_sync",
    "shadow",
];
pub(crate) const SHADOW_KEYS: &[&str] = &["policies", "config"];
pub(crate) const AUDIT_KEYS: &[&str] = &[
    "enabled",
    "path",
    "durability",
    "rotation",
    "lock_timeout_ms",
    "checkpoint",
];
pub(crate) const CHECKPOINT_KEYS: &[&str] = &[
    "origin",
    "key_file",
    "every_events",
    "every_seconds",
    "command",
];
pub(crate) const ROTATION_KEYS: &[&str] = &["max_bytes", "daily"];
pub(crate) const IDENTITY_KEYS: &[&str] = &[
    "keys",
    "issuer",
    "audience",
    "leeway_seconds",
    "require_signed",
    "approver_roles",
    "issuers",
    "kubernetes",
];
pub(crate) const ISSUER_KEYS: &[&str] = &[
    "issuer",
    "audience",
    "jwks_file",
    "discovery",
    "ca_file",
    "token_file",
    "refresh_seconds",
    "min_refetch_seconds",
    "max_stale_seconds",
];
pub(crate) const KUBERNETES_KEYS: &[&str] = &["service_accounts", "namespaces"];
pub(crate) const SA_BINDING_KEYS: &[&str] = &["namespace", "name", "roles", "groups"];
pub(crate) const NS_BINDING_KEYS: &[&str] = &["namespace", "roles", "groups"];
pub(crate) const KEY_KEYS: &[&str] = &["kid", "secret_file", "secret_env", "secret"];
pub(crate) const SERVER_KEYS: &[&str] = &[
    "listen",
    "max_body_bytes",
    "request_timeout_ms",
    "allowed_hosts",
    "header_timeout_ms",
    "max_connections",
];

/// Parses config text (paths resolved against the file's directory).
pub fn parse_config(src: &SourceFile) -> Result<Config, ConfigError> {
    let mut d = Diagnostics::new();
    let file = src.path.as_path();
    let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let resolve = |p: String| -> PathBuf {
        let p = PathBuf::from(p);
        if p.is_absolute() { p } else { base.join(p) }
    };
    let root = crate::load::parse_root(src, &mut d);
    let mut cfg = Config {
        source: Some(file.to_path_buf()),
        builtin_actions: true,
        ..Config::default()
    };
    let Some(root) = root else {
        return d.finish(cfg);
    };
    if root.value == Value::Null {
        cfg.audit.path = resolve(cfg.audit.path.to_string_lossy().into_owned());
        return d.finish(cfg);
    }
    let Some(mut r) = MapReader::new(file, &root, "config", ROOT_KEYS, &mut d) else {
        return d.finish(cfg);
    };
    cfg.actions = r.opt_str("actions", &mut d).map(|(s, _)| resolve(s));
    cfg.policies = r.opt_str("policies", &mut d).map(|(s, _)| resolve(s));
    cfg.inventory = r.opt_str("inventory", &mut d).map(|(s, _)| resolve(s));
    cfg.builtin_actions = r.opt_bool("builtin_actions", &mut d).unwrap_or(true);
    if let Some(n) = r.take("audit") {
        read_audit(file, n, &mut cfg.audit, &mut d);
    }
    cfg.audit.path = resolve(cfg.audit.path.to_string_lossy().into_owned());
    if let Some(c) = cfg.audit.checkpoint.as_mut() {
        c.key_file = resolve(c.key_file.to_string_lossy().into_owned());
    }
    if let Some(n) = r.take("identity") {
        read_identity(file, n, &mut cfg.identity, &mut d);
        for k in &mut cfg.identity.keys {
            if let Some(p) = k.secret_file.take() {
                k.secret_file = Some(resolve(p.to_string_lossy().into_owned()));
            }
        }
        for i in &mut cfg.identity.issuers {
            for p in [&mut i.jwks_file, &mut i.ca_file, &mut i.token_file] {
                if let Some(path) = p.take() {
                    *p = Some(resolve(path.to_string_lossy().into_owned()));
                }
            }
        }
    }
    if let Some(n) = r.take("server") {
        read_server(file, n, &mut cfg.server, &mut d);
    }
    if let Some(n) = r.take("unknown_targets")
        && let Some(v) = enum_of(
            file,
            n,
            "unknown_targets",
            UnknownTargets::parse,
            UnknownTargets::choices,
            &mut d,
        )
    {
        cfg.unknown_targets = v;
    }
    for (entry, pos) in r
        .opt_str_list("callable_old_versions", &mut d)
        .unwrap_or_default()
    {
        if let Err(e) = check_version_spec(&entry) {
            d.push(
                Diagnostic::error(file, pos, format!("invalid `callable_old_versions` entry `{entry}`: {e}"))
                    .with_help("write `name@version` (e.g. `restart-deployment@1.0.0`), or `name@*` for every version of one action"),
            );
            continue;
        }
        cfg.entry_positions.insert(entry.clone(), pos);
        cfg.callable_old_versions.push(entry);
    }
    for (entry, pos) in r
        .opt_str_list("custom_resources", &mut d)
        .unwrap_or_default()
    {
        if let Err(e) = check_custom_resource(&entry) {
            d.push(
                Diagnostic::error(file, pos, format!("invalid `custom_resources` entry `{entry}`: {e}"))
                    .with_help("write `group/resource` with the API group of the custom resource definition, e.g. `example.com/widgets`"),
            );
            continue;
        }
        cfg.entry_positions.insert(entry.clone(), pos);
        cfg.custom_resources.push(entry);
    }
    if let Some(n) = r.take("mcp") {
        cfg.mcp = crate::mapping::read_section(file, n, &base, &mut d);
    }
    if let Some(n) = r.take("inventory_sync") {
        cfg.inventory_sync = crate::k8s::sync::read_section(file, n, &base, &mut d);
    }
    if let Some(n) = r.take("shadow") {
        cfg.shadow = read_shadow(file, n, &mut d).map(|mut s| {
            s.policies = s
                .policies
                .map(|p| resolve(p.to_string_lossy().into_owned()));
            s.config = s.config.map(|p| resolve(p.to_string_lossy().into_owned()));
            s
        });
    }
    r.finish(&mut d);
    d.finish(cfg)
}

fn read_shadow(file: &Path, node: &Node, d: &mut Diagnostics) -> Option<ShadowSettings> {
    let mut r = MapReader::new(file, node, "shadow section", SHADOW_KEYS, d)?;
    let s = ShadowSettings {
        policies: r.opt_str("policies", d).map(|(p, _)| PathBuf::from(p)),
        config: r.opt_str("config", d).map(|(p, _)| PathBuf::from(p)),
        pos: node.pos,
    };
    r.finish(d);
    if s.policies.is_some() == s.config.is_some() {
        d.push(
            Diagnostic::error(
                file,
                node.pos,
                "the shadow section needs exactly one of `policies` and `config`",
            )
            .with_help(
                "`policies: policies.next` (candidate policies, evaluated with this file's actions and inventory), \
                 or `config: agent-safe.next.yaml` (a whole candidate configuration)",
            ),
        );
        return None;
    }
    Some(s)
}

/// Checks the syntax of a `callable_old_versions` entry.
fn check_version_spec(entry: &str) -> Result<(), String> {
    let Some((name, version)) = entry.split_once('@') else {
        return Err("missing `@version`".into());
    };
    if name.is_empty() || name.contains(['*', '?', '[', '{']) {
        return Err("name the action exactly (no globs)".into());
    }
    if version != "*" && semver::Version::parse(version).is_err() {
        return Err(format!(
            "`{version}` is not a semantic version (like `1.0.0`) or `*`"
        ));
    }
    Ok(())
}

/// Checks a `custom_resources` entry: `group/resource`, with a group outside
/// the built-in table (a custom resource definition's group).
fn check_custom_resource(entry: &str) -> Result<(), String> {
    let Some((group, resource)) = entry.split_once('/') else {
        return Err("missing the API group; custom resources always have one".into());
    };
    let segment_ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
    };
    if !segment_ok(group) || !segment_ok(resource) || resource.contains('.') {
        return Err("lowercase letters, digits, `-` (and `.` in the group) only".into());
    }
    if crate::k8s::is_known_group(group) {
        return Err(format!(
            "`{group}` is a built-in API group, whose resources are checked against the Kubernetes API table; only custom resource groups can be listed"
        ));
    }
    Ok(())
}

fn non_negative(r: &mut MapReader<'_>, key: &str, d: &mut Diagnostics) -> Option<u64> {
    let (v, pos) = r.opt_int(key, d)?;
    match u64::try_from(v) {
        Ok(v) => Some(v),
        Err(_) => {
            d.push(Diagnostic::error(
                r.file(),
                pos,
                format!("`{key}` must not be negative, got {v}"),
            ));
            None
        }
    }
}

fn read_audit(file: &Path, node: &Node, a: &mut AuditSettings, d: &mut Diagnostics) {
    let Some(mut r) = MapReader::new(file, node, "audit section", AUDIT_KEYS, d) else {
        return;
    };
    if let Some(v) = r.opt_bool("enabled", d) {
        a.enabled = v;
    }
    if let Some((p, _)) = r.opt_str("path", d) {
        a.path = PathBuf::from(p);
    }
    if let Some(n) = r.take("durability")
        && let Some(v) = enum_of(
            file,
            n,
            "durability",
            Durability::parse,
            Durability::choices,
            d,
        )
    {
        a.durability = v;
    }
    if let Some(n) = r.take("rotation")
        && let Some(mut rr) = MapReader::new(file, n, "rotation", ROTATION_KEYS, d)
    {
        a.rotation.max_bytes = non_negative(&mut rr, "max_bytes", d);
        if a.rotation.max_bytes == Some(0) {
            d.push(Diagnostic::error(
                file,
                n.pos,
                "`max_bytes` must be greater than 0",
            ));
        }
        a.rotation.daily = rr.opt_bool("daily", d).unwrap_or(false);
        rr.finish(d);
    }
    if let Some(v) = non_negative(&mut r, "lock_timeout_ms", d) {
        a.lock_timeout_ms = v;
    }
    if let Some(n) = r.take("checkpoint") {
        a.checkpoint = read_checkpoint(file, n, d);
    }
    r.finish(d);
}

fn read_checkpoint(file: &Path, node: &Node, d: &mut Diagnostics) -> Option<CheckpointSettings> {
    let mut r = MapReader::new(file, node, "checkpoint section", CHECKPOINT_KEYS, d)?;
    let origin = match r.opt_str("origin", d) {
        Some((o, pos)) => {
            if o.is_empty() || o.contains('+') || o.chars().any(char::is_whitespace) {
                d.push(
                    Diagnostic::error(
                        file,
                        pos,
                        format!("invalid `origin` `{o}`: it must be non-empty and hold no space and no `+`"),
                    )
                    .with_help("use a name unique to this log, e.g. `example.com/agent-safe/prod`"),
                );
            }
            o
        }
        None => {
            d.push(
                Diagnostic::error(file, node.pos, "the checkpoint section needs an `origin`")
                    .with_help(
                        "add `origin: example.com/agent-safe/prod` (a name unique to this log)",
                    ),
            );
            String::new()
        }
    };
    let c = CheckpointSettings {
        origin,
        key_file: r
            .opt_str("key_file", d)
            .map_or_else(default_checkpoint_key, |(s, _)| PathBuf::from(s)),
        every_events: non_negative(&mut r, "every_events", d)
            .unwrap_or_else(default_checkpoint_events),
        every_seconds: non_negative(&mut r, "every_seconds", d)
            .unwrap_or_else(default_checkpoint_seconds),
        command: r.opt_str("command", d).map(|(s, _)| s),
    };
    r.finish(d);
    Some(c)
}

fn read_identity(file: &Path, node: &Node, id: &mut IdentitySettings, d: &mut Diagnostics) {
    let Some(mut r) = MapReader::new(file, node, "identity section", IDENTITY_KEYS, d) else {
        return;
    };
    if let Some(items) = r.opt_list("keys", d) {
        for item in items {
            let Some(mut kr) = MapReader::new(file, item, "signing key", KEY_KEYS, d) else {
                continue;
            };
            let key = KeySettings {
                kid: kr.opt_str("kid", d).map(|(s, _)| s),
                secret_file: kr.opt_str("secret_file", d).map(|(s, _)| PathBuf::from(s)),
                secret_env: kr.opt_str("secret_env", d).map(|(s, _)| s),
                secret: kr.opt_str("secret", d).map(|(s, _)| s),
            };
            kr.finish(d);
            let sources = [
                key.secret_file.is_some(),
                key.secret_env.is_some(),
                key.secret.is_some(),
            ]
            .iter()
            .filter(|b| **b)
            .count();
            if sources != 1 {
                d.push(
                    Diagnostic::error(file, item.pos, "a signing key needs exactly one of `secret_file`, `secret_env`, `secret`")
                        .with_help("prefer `secret_file: secrets/signing.key` (created by `agent-safe init`) or `secret_env: AGENT_SAFE_KEY`"),
                );
            }
            id.keys.push(key);
        }
    }
    id.issuer = r.opt_str("issuer", d).map(|(s, _)| s);
    id.audience = r.opt_str("audience", d).map(|(s, _)| s);
    if let Some(v) = non_negative(&mut r, "leeway_seconds", d) {
        id.leeway_seconds = v;
    }
    id.require_signed = r.opt_bool("require_signed", d).unwrap_or(false);
    if let Some(node) = r.take("approver_roles")
        && let Some(items) = crate::yaml::str_list_of(file, node, "approver_roles", d)
    {
        crate::load::non_empty(file, node, "approver_roles", items.len(), d);
        id.approver_roles = items.into_iter().map(|(s, _)| s).collect();
    }
    if let Some(items) = r.opt_list("issuers", d) {
        for item in items {
            let Some(mut ir) = MapReader::new(file, item, "issuer", ISSUER_KEYS, d) else {
                continue;
            };
            let issuer = ir.req_str("issuer", d).map(|(s, _)| s).unwrap_or_default();
            let audience = ir
                .req_str("audience", d)
                .map(|(s, _)| s)
                .unwrap_or_default();
            let jwks_file = ir.opt_str("jwks_file", d).map(|(s, _)| PathBuf::from(s));
            let discovery = ir.opt_bool("discovery", d).unwrap_or(false);
            if jwks_file.is_some() == discovery {
                d.push(
                    Diagnostic::error(
                        file,
                        item.pos,
                        "an issuer needs exactly one of `jwks_file` and `discovery: true`",
                    )
                    .with_help(
                        "`jwks_file: cluster-jwks.json` (from `kubectl get --raw /openid/v1/jwks`), \
                         or `discovery: true` to fetch ISSUER/.well-known/openid-configuration",
                    ),
                );
            }
            let ca_file = ir.opt_str("ca_file", d).map(|(s, _)| PathBuf::from(s));
            let token_file = ir.opt_str("token_file", d).map(|(s, _)| PathBuf::from(s));
            id.issuers.push(IssuerSettings {
                issuer,
                audience,
                jwks_file,
                discovery,
                ca_file,
                token_file,
                refresh_seconds: non_negative(&mut ir, "refresh_seconds", d)
                    .unwrap_or_else(default_refresh),
                min_refetch_seconds: non_negative(&mut ir, "min_refetch_seconds", d)
                    .unwrap_or_else(default_min_refetch),
                max_stale_seconds: non_negative(&mut ir, "max_stale_seconds", d)
                    .unwrap_or_else(default_max_stale),
            });
            ir.finish(d);
        }
    }
    if let Some(node) = r.take("kubernetes")
        && let Some(mut kr) = MapReader::new(file, node, "kubernetes section", KUBERNETES_KEYS, d)
    {
        for (list, keys, what, out) in [
            (
                "service_accounts",
                SA_BINDING_KEYS,
                "ServiceAccount binding",
                &mut id.kubernetes.service_accounts,
            ),
            (
                "namespaces",
                NS_BINDING_KEYS,
                "namespace binding",
                &mut id.kubernetes.namespaces,
            ),
        ] {
            let Some(items) = kr.opt_list(list, d) else {
                continue;
            };
            for item in items {
                let Some(mut br) = MapReader::new(file, item, what, keys, d) else {
                    continue;
                };
                let namespace = br
                    .req_str("namespace", d)
                    .map(|(s, _)| s)
                    .unwrap_or_default();
                let name = if list == "service_accounts" {
                    br.req_str("name", d).map(|(s, _)| s)
                } else {
                    None
                };
                let strings = |br: &mut MapReader<'_>, key: &str, d: &mut Diagnostics| {
                    br.opt_str_list(key, d)
                        .map(|v| v.into_iter().map(|(s, _)| s).collect::<Vec<_>>())
                        .unwrap_or_default()
                };
                let roles = strings(&mut br, "roles", d);
                let groups = strings(&mut br, "groups", d);
                br.finish(d);
                out.push(KubernetesBindingSettings {
                    namespace,
                    name,
                    roles,
                    groups,
                });
            }
        }
        kr.finish(d);
    }
    r.finish(d);
}

fn read_server(file: &Path, node: &Node, s: &mut ServerSettings, d: &mut Diagnostics) {
    let Some(mut r) = MapReader::new(file, node, "server section", SERVER_KEYS, d) else {
        return;
    };
    if let Some((listen, pos)) = r.opt_str("listen", d) {
        if listen.parse::<std::net::SocketAddr>().is_err() {
            d.push(
                Diagnostic::error(file, pos, format!("invalid listen address `{listen}`"))
                    .with_help("write an IP address and port, e.g. `127.0.0.1:8400`"),
            );
        }
        s.listen = listen;
    }
    if let Some(v) = non_negative(&mut r, "max_body_bytes", d) {
        s.max_body_bytes = v;
    }
    if let Some(v) = non_negative(&mut r, "request_timeout_ms", d) {
        s.request_timeout_ms = v;
    }
    if let Some(hosts) = r.opt_str_list("allowed_hosts", d) {
        for (host, pos) in hosts {
            if let Err(why) = parse_allowed_host(&host) {
                d.push(
                    Diagnostic::error(file, pos, format!("invalid allowed host `{host}`: {why}"))
                        .with_help(
                            "write a host name or IP address as clients put it in the URL, e.g. `agent-safe.agents.svc` or `agent-safe.agents.svc:8400`",
                        ),
                );
            }
            s.allowed_hosts.push(host);
        }
    }
    if let Some(v) = non_negative(&mut r, "header_timeout_ms", d) {
        s.header_timeout_ms = v;
    }
    if let Some((v, pos)) = r.opt_int("max_connections", d) {
        match u64::try_from(v) {
            Ok(v) if v > 0 => s.max_connections = v,
            _ => d.push(
                Diagnostic::error(
                    file,
                    pos,
                    format!("`max_connections` must be at least 1, got {v}"),
                )
                .with_help("the default is 512; keep it below the process's open-file limit"),
            ),
        }
    }
    r.finish(d);
}
