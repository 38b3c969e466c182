//! A read-only Kubernetes API client for the inventory sync: lists (and
//! watches) object *metadata* of the kinds in [`super::sync::Kind`].
//!
//! Built on `ureq` (blocking, rustls), which the core already uses for OIDC
//! discovery, rather than `kube` + `k8s-openapi`: the sync needs two GETs
//! (list with paging, watch from a resourceVersion) on metadata only, and
//! those crates add an async stack and every API type of every Kubernetes
//! version to the build (see docs/INVENTORY.md). Everything is asked for as
//! `PartialObjectMetadata`, so a Secret's data never reaches this process.
//!
//! Where the cluster is, in order: `--kubeconfig`, `$KUBECONFIG` (its first
//! file that exists), `~/.kube/config`; without any of those, the in-cluster
//! ServiceAccount (`KUBERNETES_SERVICE_HOST`/`_PORT`, the token and CA under
//! `/var/run/secrets/kubernetes.io/serviceaccount/`). From a kubeconfig:
//! the chosen or current context; server; `certificate-authority[-data]`;
//! `token`, `tokenFile`, client certificates (`client-certificate[-data]`,
//! `client-key[-data]`) and `exec` credential plugins.
//! `insecure-skip-tls-verify` is refused, as are basic auth and `auth-provider`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;

use super::sync::{Kind, ObjectMeta};

/// Where the in-cluster ServiceAccount's files are.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Objects per page of a list.
const PAGE: usize = 500;
/// The largest page body accepted (metadata of 500 objects is far below).
const MAX_PAGE_BYTES: u64 = 64 << 20;

/// Why talking to the API server failed; the message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct KubeError {
    /// What went wrong, and how to fix it.
    pub message: String,
    /// The HTTP status, when the server answered.
    pub status: Option<u16>,
}

impl KubeError {
    fn new(message: impl Into<String>) -> Self {
        KubeError {
            message: message.into(),
            status: None,
        }
    }
}

/// Where to find the cluster.
#[derive(Debug, Clone, Default)]
pub struct ClusterSource {
    /// A kubeconfig file (else `$KUBECONFIG`, `~/.kube/config`, in-cluster).
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (else its `current-context`).
    pub context: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
struct KubeConfigFile {
    #[serde(default)]
    clusters: Vec<NamedCluster>,
    #[serde(default)]
    users: Vec<NamedUser>,
    #[serde(default)]
    contexts: Vec<NamedContext>,
    #[serde(default, rename = "current-context")]
    current_context: Option<String>,
}

#[derive(Debug, Deserialize)]
struct NamedCluster {
    name: String,
    cluster: ClusterEntry,
}

#[derive(Debug, Deserialize)]
struct NamedUser {
    name: String,
    #[serde(default)]
    user: UserEntry,
}

#[derive(Debug, Deserialize)]
struct NamedContext {
    name: String,
    context: ContextEntry,
}

#[derive(Debug, Deserialize, Default)]
struct ClusterEntry {
    server: Option<String>,
    #[serde(rename = "certificate-authority")]
    certificate_authority: Option<PathBuf>,
    #[serde(rename = "certificate-authority-data")]
    certificate_authority_data: Option<String>,
    #[serde(rename = "insecure-skip-tls-verify", default)]
    insecure_skip_tls_verify: bool,
}

#[derive(Debug, Deserialize, Default)]
struct UserEntry {
    token: Option<String>,
    #[serde(rename = "tokenFile")]
    token_file: Option<PathBuf>,
    #[serde(rename = "client-certificate")]
    client_certificate: Option<PathBuf>,
    #[serde(rename = "client-certificate-data")]
    client_certificate_data: Option<String>,
    #[serde(rename = "client-key")]
    client_key: Option<PathBuf>,
    #[serde(rename = "client-key-data")]
    client_key_data: Option<String>,
    exec: Option<ExecConfig>,
    username: Option<String>,
    #[serde(rename = "auth-provider")]
    auth_provider: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize, Clone)]
struct ExecConfig {
    command: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: Option<Vec<ExecEnv>>,
    #[serde(rename = "apiVersion")]
    api_version: Option<String>,
}

#[derive(Debug, Deserialize, Clone)]
struct ExecEnv {
    name: String,
    value: String,
}

#[derive(Debug, Deserialize, Default)]
struct ContextEntry {
    cluster: String,
    user: Option<String>,
}

/// How requests authenticate.
#[derive(Debug, Clone)]
enum Auth {
    None,
    Token(String),
    TokenFile(PathBuf),
}

/// A connection to one API server.
#[derive(Debug, Clone)]
pub struct KubeClient {
    server: String,
    agent: ureq::Agent,
    watch_agent: ureq::Agent,
    auth: Auth,
    /// What the client talks to, for messages (`context NAME`, `in-cluster`).
    pub describe: String,
}

/// One page-complete list of a kind.
#[derive(Debug, Clone)]
pub struct Listing {
    /// The objects' metadata.
    pub items: Vec<ObjectMeta>,
    /// The list's resourceVersion: where a watch starts.
    pub resource_version: String,
}

/// One event of a watch.
#[derive(Debug, Clone)]
pub enum WatchEvent {
    /// Added or modified.
    Applied(ObjectMeta),
    /// Deleted.
    Deleted(ObjectMeta),
    /// A bookmark: only the resourceVersion moved.
    Bookmark(String),
    /// The resourceVersion is too old (410 Gone): list again.
    Expired,
}

fn read_file(path: &Path) -> Result<Vec<u8>, KubeError> {
    crate::load::read_file(path)
        .map(|f| f.text.into_bytes())
        .map_err(|e| {
            KubeError::new(format!(
                "cannot read {}: {}",
                path.display(),
                e.first().map_or("unreadable", |d| d.message.as_str())
            ))
        })
}

fn b64(what: &str, data: &str) -> Result<Vec<u8>, KubeError> {
    base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| KubeError::new(format!("`{what}` in the kubeconfig is not base64: {e}")))
}

fn pem_certs(what: &str, pem: &[u8]) -> Result<Vec<ureq::tls::Certificate<'static>>, KubeError> {
    let certs: Vec<_> = ureq::tls::parse_pem(pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c.to_owned()),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(KubeError::new(format!("{what} holds no PEM certificate")));
    }
    Ok(certs)
}

fn pem_key(what: &str, pem: &[u8]) -> Result<ureq::tls::PrivateKey<'static>, KubeError> {
    ureq::tls::parse_pem(pem)
        .find_map(|item| match item {
            Ok(ureq::tls::PemItem::PrivateKey(k)) => Some(k.to_owned()),
            _ => None,
        })
        .ok_or_else(|| KubeError::new(format!("{what} holds no PEM private key")))
}

fn home_kubeconfig() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".kube").join("config"))
}

impl KubeClient {
    /// Connects as `source` says (see the module docs for the order).
    pub fn connect(source: &ClusterSource) -> Result<KubeClient, KubeError> {
        let from_env = std::env::var_os("KUBECONFIG").and_then(|v| {
            std::env::split_paths(&v).find(|p| !p.as_os_str().is_empty() && p.exists())
        });
        let kubeconfig = source
            .kubeconfig
            .clone()
            .or(from_env)
            .or_else(|| home_kubeconfig().filter(|p| p.exists()));
        match kubeconfig {
            Some(path) => Self::from_kubeconfig(&path, source.context.as_deref()),
            None if source.context.is_some() => Err(KubeError::new(
                "`--context` names a kubeconfig context, but there is no kubeconfig: give `--kubeconfig FILE` or set KUBECONFIG",
            )),
            None => Self::in_cluster(Path::new(SERVICE_ACCOUNT_DIR)),
        }
    }

    /// The in-cluster configuration: `KUBERNETES_SERVICE_HOST`/`_PORT` and
    /// the ServiceAccount's `token` and `ca.crt` in `dir`.
    pub fn in_cluster(dir: &Path) -> Result<KubeClient, KubeError> {
        let (Ok(host), Ok(port)) = (
            std::env::var("KUBERNETES_SERVICE_HOST"),
            std::env::var("KUBERNETES_SERVICE_PORT"),
        ) else {
            return Err(KubeError::new(
                "no kubeconfig and not in a cluster: give `--kubeconfig FILE` (or set KUBECONFIG), or run in a pod (KUBERNETES_SERVICE_HOST is not set)",
            ));
        };
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host
        };
        let ca = pem_certs("the ServiceAccount CA", &read_file(&dir.join("ca.crt"))?)?;
        Self::build(
            format!("https://{host}:{port}"),
            Some(ca),
            None,
            Auth::TokenFile(dir.join("token")),
            "in-cluster ServiceAccount".to_owned(),
        )
    }

    /// A kubeconfig file, with `context` or its current context.
    pub fn from_kubeconfig(path: &Path, context: Option<&str>) -> Result<KubeClient, KubeError> {
        let text = String::from_utf8(read_file(path)?)
            .map_err(|_| KubeError::new(format!("{} is not UTF-8", path.display())))?;
        let cfg: KubeConfigFile = serde_saphyr::from_str(&text).map_err(|e| {
            KubeError::new(format!("{} is not a valid kubeconfig: {e}", path.display()))
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let rel = |p: &PathBuf| {
            if p.is_absolute() {
                p.clone()
            } else {
                base.join(p)
            }
        };
        let ctx_name = context
            .map(str::to_owned)
            .or(cfg.current_context.clone())
            .ok_or_else(|| {
                KubeError::new(format!(
                    "{} has no current-context: give `--context NAME`",
                    path.display()
                ))
            })?;
        let names = |v: &[String]| v.join(", ");
        let ctx = cfg
            .contexts
            .iter()
            .find(|c| c.name == ctx_name)
            .map(|c| &c.context)
            .ok_or_else(|| {
                let all: Vec<String> = cfg.contexts.iter().map(|c| c.name.clone()).collect();
                KubeError::new(format!(
                    "no context `{ctx_name}` in {}; its contexts: {}",
                    path.display(),
                    names(&all)
                ))
            })?;
        let cluster = cfg
            .clusters
            .iter()
            .find(|c| c.name == ctx.cluster)
            .map(|c| &c.cluster)
            .ok_or_else(|| {
                KubeError::new(format!(
                    "context `{ctx_name}` names the cluster `{}`, which {} does not define",
                    ctx.cluster,
                    path.display()
                ))
            })?;
        let default_user = UserEntry::default();
        let user = match &ctx.user {
            None => &default_user,
            Some(u) => cfg
                .users
                .iter()
                .find(|x| &x.name == u)
                .map(|x| &x.user)
                .ok_or_else(|| {
                    KubeError::new(format!(
                        "context `{ctx_name}` names the user `{u}`, which {} does not define",
                        path.display()
                    ))
                })?,
        };
        let server = cluster
            .server
            .clone()
            .ok_or_else(|| KubeError::new(format!("cluster `{}` has no `server`", ctx.cluster)))?;
        if cluster.insecure_skip_tls_verify {
            return Err(KubeError::new(format!(
                "cluster `{}` sets `insecure-skip-tls-verify`, which the sync refuses: give its `certificate-authority-data` instead",
                ctx.cluster
            )));
        }
        if user.username.is_some() || user.auth_provider.is_some() {
            return Err(KubeError::new(format!(
                "user `{}`: basic auth and `auth-provider` are not supported; use a token, a client certificate or an `exec` plugin",
                ctx.user.as_deref().unwrap_or_default()
            )));
        }
        let ca = match (
            &cluster.certificate_authority_data,
            &cluster.certificate_authority,
        ) {
            (Some(d), _) => Some(pem_certs(
                "`certificate-authority-data`",
                &b64("certificate-authority-data", d)?,
            )?),
            (None, Some(p)) => Some(pem_certs(
                &format!("the CA file {}", rel(p).display()),
                &read_file(&rel(p))?,
            )?),
            (None, None) => None,
        };
        let mut cert_pem = match (&user.client_certificate_data, &user.client_certificate) {
            (Some(d), _) => Some(b64("client-certificate-data", d)?),
            (None, Some(p)) => Some(read_file(&rel(p))?),
            (None, None) => None,
        };
        let mut key_pem = match (&user.client_key_data, &user.client_key) {
            (Some(d), _) => Some(b64("client-key-data", d)?),
            (None, Some(p)) => Some(read_file(&rel(p))?),
            (None, None) => None,
        };
        let mut auth = match (&user.token, &user.token_file) {
            (Some(t), _) => Auth::Token(t.trim().to_owned()),
            (None, Some(p)) => Auth::TokenFile(rel(p)),
            (None, None) => Auth::None,
        };
        if let Some(exec) = &user.exec {
            let cred = run_exec(exec)?;
            if let Some(t) = cred.token {
                auth = Auth::Token(t);
            }
            if let (Some(c), Some(k)) = (cred.cert, cred.key) {
                cert_pem = Some(c.into_bytes());
                key_pem = Some(k.into_bytes());
            }
        }
        let client_cert = match (cert_pem, key_pem) {
            (Some(c), Some(k)) => Some(ureq::tls::ClientCert::new_with_certs(
                &pem_certs("the client certificate", &c)?,
                pem_key("the client key", &k)?,
            )),
            (None, None) => None,
            _ => {
                return Err(KubeError::new(
                    "the kubeconfig user has a client certificate without its key, or a key without its certificate",
                ));
            }
        };
        Self::build(
            server,
            ca,
            client_cert,
            auth,
            format!("context `{ctx_name}` of {}", path.display()),
        )
    }

    fn build(
        server: String,
        ca: Option<Vec<ureq::tls::Certificate<'static>>>,
        client_cert: Option<ureq::tls::ClientCert>,
        auth: Auth,
        describe: String,
    ) -> Result<KubeClient, KubeError> {
        use ureq::tls::{RootCerts, TlsConfig};
        let roots = match ca {
            Some(c) => RootCerts::new_with_certs(&c),
            None => RootCerts::WebPki,
        };
        let tls = TlsConfig::builder()
            .root_certs(roots)
            .client_cert(client_cert)
            .build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .timeout_connect(Some(Duration::from_secs(5)))
            .max_redirects(0)
            .http_status_as_error(false)
            .tls_config(tls.clone())
            .build()
            .into();
        // A watch is a long response: no global timeout, but a read that
        // waits longer than the server's own timeout plus a margin is dead.
        let watch_agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_per_read(Some(Duration::from_secs(90)))
            .max_redirects(0)
            .http_status_as_error(false)
            .tls_config(tls)
            .build()
            .into();
        Ok(KubeClient {
            server: server.trim_end_matches('/').to_owned(),
            agent,
            watch_agent,
            auth,
            describe,
        })
    }

    fn bearer(&self) -> Result<Option<String>, KubeError> {
        match &self.auth {
            Auth::None => Ok(None),
            Auth::Token(t) => Ok(Some(t.clone())),
            // Re-read at every request: projected tokens are rotated.
            Auth::TokenFile(p) => Ok(Some(
                String::from_utf8_lossy(&read_file(p)?).trim().to_owned(),
            )),
        }
    }

    fn get(
        &self,
        agent: &ureq::Agent,
        path: &str,
        query: &[(&str, &str)],
        accept: &str,
    ) -> Result<ureq::http::Response<ureq::Body>, KubeError> {
        let url = format!("{}{path}", self.server);
        let mut req = agent.get(&url).header("Accept", accept);
        for (k, v) in query {
            req = req.query(*k, *v);
        }
        if let Some(t) = self.bearer()? {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        let mut resp = req.call().map_err(|e| {
            KubeError::new(format!(
                "cannot reach the API server {} ({}): {e}",
                self.server, self.describe
            ))
        })?;
        let status = resp.status().as_u16();
        if status >= 400 {
            let body = resp
                .body_mut()
                .with_config()
                .limit(64 * 1024)
                .read_to_string()
                .unwrap_or_default();
            let msg = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("message")?.as_str().map(str::to_owned))
                .unwrap_or(body);
            let help = match status {
                401 => {
                    "; the credentials were refused: check the kubeconfig user or the ServiceAccount token"
                }
                403 => "; grant the sync its read-only RBAC: `agent-safe rbac --inventory-sync`",
                _ => "",
            };
            return Err(KubeError {
                message: format!("GET {path}: {status} from the API server: {msg}{help}"),
                status: Some(status),
            });
        }
        Ok(resp)
    }

    /// Lists every object of `kind`, in pages, as metadata only.
    pub fn list(&self, kind: Kind) -> Result<Listing, KubeError> {
        let path = kind.list_path();
        let limit = PAGE.to_string();
        let mut items = Vec::new();
        let mut cont = String::new();
        loop {
            let mut q = vec![("limit", limit.as_str())];
            if !cont.is_empty() {
                q.push(("continue", cont.as_str()));
            }
            let resp = self.get(
                &self.agent,
                &path,
                &q,
                "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json",
            )?;
            let page: serde_json::Value = serde_json::from_reader(
                resp.into_body()
                    .into_with_config()
                    .limit(MAX_PAGE_BYTES)
                    .reader(),
            )
            .map_err(|e| KubeError::new(format!("GET {path}: the answer is not a list: {e}")))?;
            let list = page
                .get("items")
                .and_then(serde_json::Value::as_array)
                .ok_or_else(|| KubeError::new(format!("GET {path}: the answer has no `items`")))?;
            items.extend(list.iter().filter_map(ObjectMeta::from_object));
            let md = page.get("metadata");
            let next = md
                .and_then(|m| m.get("continue"))
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default();
            if next.is_empty() {
                let rv = md
                    .and_then(|m| m.get("resourceVersion"))
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                return Ok(Listing {
                    items,
                    resource_version: rv,
                });
            }
            next.clone_into(&mut cont);
        }
    }

    /// Watches `kind` from `resource_version`, calling `on_event` for each
    /// event until the server ends the watch (after `timeout_seconds`), the
    /// callback returns `false`, or the connection fails.
    pub fn watch(
        &self,
        kind: Kind,
        resource_version: &str,
        timeout_seconds: u64,
        mut on_event: impl FnMut(WatchEvent) -> bool,
    ) -> Result<(), KubeError> {
        let path = kind.list_path();
        let timeout = timeout_seconds.to_string();
        let resp = match self.get(
            &self.watch_agent,
            &path,
            &[
                ("watch", "true"),
                ("resourceVersion", resource_version),
                ("allowWatchBookmarks", "true"),
                ("timeoutSeconds", &timeout),
            ],
            "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json",
        ) {
            Err(e) if e.status == Some(410) => {
                on_event(WatchEvent::Expired);
                return Ok(());
            }
            r => r?,
        };
        let reader = BufReader::new(resp.into_body().into_reader());
        for line in reader.lines() {
            let line = line.map_err(|e| KubeError::new(format!("watch {path}: {e}")))?;
            if line.trim().is_empty() {
                continue;
            }
            let ev: serde_json::Value = serde_json::from_str(&line)
                .map_err(|e| KubeError::new(format!("watch {path}: not a watch event: {e}")))?;
            let kind_of = ev.get("type").and_then(serde_json::Value::as_str);
            let obj = ev.get("object").cloned().unwrap_or_default();
            let event = match kind_of {
                Some("ADDED" | "MODIFIED") => {
                    ObjectMeta::from_object(&obj).map(WatchEvent::Applied)
                }
                Some("DELETED") => ObjectMeta::from_object(&obj).map(WatchEvent::Deleted),
                Some("BOOKMARK") => obj
                    .get("metadata")
                    .and_then(|m| m.get("resourceVersion"))
                    .and_then(serde_json::Value::as_str)
                    .map(|rv| WatchEvent::Bookmark(rv.to_owned())),
                Some("ERROR") => {
                    if obj.get("code").and_then(serde_json::Value::as_u64) == Some(410) {
                        Some(WatchEvent::Expired)
                    } else {
                        return Err(KubeError::new(format!(
                            "watch {path}: {}",
                            obj.get("message")
                                .and_then(serde_json::Value::as_str)
                                .unwrap_or("error event")
                        )));
                    }
                }
                _ => None,
            };
            if let Some(event) = event
                && !on_event(event)
            {
                return Ok(());
            }
        }
        Ok(())
    }
}

struct ExecCredential {
    token: Option<String>,
    cert: Option<String>,
    key: Option<String>,
}

/// Runs a kubeconfig `exec` credential plugin and reads its ExecCredential.
fn run_exec(exec: &ExecConfig) -> Result<ExecCredential, KubeError> {
    let api = exec
        .api_version
        .clone()
        .unwrap_or_else(|| "client.authentication.k8s.io/v1".to_owned());
    let mut cmd = std::process::Command::new(&exec.command);
    cmd.args(&exec.args);
    for e in exec.env.iter().flatten() {
        cmd.env(&e.name, &e.value);
    }
    cmd.env(
        "KUBERNETES_EXEC_INFO",
        serde_json::json!({"apiVersion": api, "kind": "ExecCredential", "spec": {"interactive": false}})
            .to_string(),
    );
    cmd.stdin(std::process::Stdio::null());
    let out = cmd.output().map_err(|e| {
        KubeError::new(format!(
            "cannot run the kubeconfig exec plugin `{}`: {e}",
            exec.command
        ))
    })?;
    if !out.status.success() {
        return Err(KubeError::new(format!(
            "the kubeconfig exec plugin `{}` failed ({}): {}",
            exec.command,
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        KubeError::new(format!(
            "the kubeconfig exec plugin `{}` did not print an ExecCredential: {e}",
            exec.command
        ))
    })?;
    let status = v.get("status");
    let s = |k: &str| {
        status
            .and_then(|st| st.get(k))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    Ok(ExecCredential {
        token: s("token"),
        cert: s("clientCertificateData"),
        key: s("clientKeyData"),
    })
}

/// Everything read by [`fetch`]: the objects, and the resourceVersion of each
/// kind's list (where a watch of that kind starts).
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    /// The objects, by kind and (namespace, name).
    pub objects: super::sync::Objects,
    /// The list's resourceVersion, by kind.
    pub resource_versions: std::collections::BTreeMap<Kind, String>,
}

/// The key of an object in [`super::sync::Objects`].
pub fn object_key(meta: &ObjectMeta) -> (String, String) {
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone(),
    )
}

/// Lists every kind in `kinds`. Any failure fails the whole read: a partial
/// inventory is never returned.
pub fn fetch(client: &KubeClient, kinds: &[Kind]) -> Result<Fetched, KubeError> {
    let mut out = Fetched::default();
    for kind in kinds {
        let listing = client.list(*kind)?;
        let map = out.objects.entry(*kind).or_default();
        for item in listing.items {
            map.insert(object_key(&item), item);
        }
        out.resource_versions
            .insert(*kind, listing.resource_version);
    }
    Ok(out)
}
