//! Running the sidecar: listeners, signals, hot reload, graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use agent_safe_core::AgentSafe;
use agent_safe_core::diag::ConfigError;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::conn::{Edge, Pool};
use crate::hosts::AllowedHosts;
use crate::reload::{Reloader, Trigger};
use crate::state::{AppState, Execution};

/// How `agent-safe serve` runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeOptions {
    /// `--config PATH`; `None` discovers it as every command does
    /// (`$AGENT_SAFE_CONFIG`, then `agent-safe.yaml` here or in a parent).
    pub config: Option<PathBuf>,
    /// `--listen ADDR`: overrides `server.listen` (default `127.0.0.1:8400`).
    pub listen: Option<SocketAddr>,
    /// `--health-listen ADDR`: a second listener serving only `/healthz`,
    /// `/readyz` and `/metrics`, for Kubernetes probes and Prometheus, which
    /// reach the pod IP and not its loopback. Off by default.
    pub health_listen: Option<SocketAddr>,
    /// Watch the files and reload on change (default true). SIGHUP always reloads.
    pub watch: bool,
    /// Log format. `None` leaves logging to the caller (no subscriber is installed).
    pub log: Option<LogFormat>,
    /// Where checks run; `None` picks by audit durability.
    pub execution: Option<Execution>,
    /// `--allowed-host NAME[:PORT]`: names the `Host` header may carry, in
    /// addition to `server.allowed_hosts` and the listen address's own.
    pub allowed_hosts: Vec<String>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            config: None,
            listen: None,
            health_listen: None,
            watch: true,
            log: Some(LogFormat::Auto),
            execution: None,
            allowed_hosts: Vec::new(),
        }
    }
}

/// How request and server logs are written (to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (for log collectors).
    Json,
    /// One compact human-readable line per event.
    Compact,
    /// `Compact` when stderr is a terminal, else `Json`.
    Auto,
}

/// Why the sidecar could not start or stopped badly.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration or one of its files is invalid (exit code 2).
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// A listen address is unusable (exit code 2).
    #[error("invalid listen address `{addr}`: {reason}")]
    Listen {
        /// What was given.
        addr: String,
        /// Why it is unusable.
        reason: String,
    },
    /// The address is taken or not ours (exit code 1).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file watcher could not start (exit code 1).
    #[error("cannot watch the configuration files: {0}")]
    Watch(#[from] notify::Error),
    /// An allowed host name is malformed (exit code 2).
    #[error("{0}")]
    AllowedHost(String),
    /// The JWT verification provider failed its self-test (exit code 1).
    #[error("token verification is unavailable: {0}")]
    Identity(String),
    /// The server failed while running (exit code 1).
    #[error("the HTTP server failed: {0}")]
    Io(std::io::Error),
    /// In-flight requests were still running when the drain time ran out (exit code 1).
    #[error("in-flight requests did not finish within {0:?} of the shutdown signal")]
    DrainTimeout(Duration),
}

impl ServeError {
    /// The process exit code the CLI should use: 2 for configuration and
    /// usage errors, 1 for everything else (matching the other commands).
    pub fn exit_code(&self) -> i32 {
        match self {
            ServeError::Config(_) | ServeError::Listen { .. } | ServeError::AllowedHost(_) => 2,
            _ => 1,
        }
    }
}

/// Runs the sidecar until SIGTERM or Ctrl-C, then drains and returns `Ok`.
///
/// Opens the configuration (failing with [`ServeError::Config`] if anything
/// in it is invalid), binds the listener(s), watches the files, reloads on
/// SIGHUP, and on SIGTERM/SIGINT stops accepting connections, lets the
/// requests in flight finish (their checks are logged), and returns. Must
/// run inside a multi-threaded tokio runtime.
pub async fn serve(opts: ServeOptions) -> Result<(), ServeError> {
    // Held to the end, so that the last lines (shutdown, errors) are written.
    let _log = opts.log.map(crate::logging::init);
    let server = Server::bind(opts).await?;
    server.run(shutdown_signal()).await
}

/// A bound, not yet running sidecar (for tests and embedders that need the
/// address of a `:0` listener, or their own shutdown signal).
#[derive(Debug)]
pub struct Server {
    state: AppState,
    listener: TcpListener,
    health: Option<TcpListener>,
    watch: bool,
    edge: EdgeSettings,
}

/// The connection limits and names of `server:`, plus `--allowed-host`.
#[derive(Debug, Clone)]
struct EdgeSettings {
    allowed_hosts: Vec<String>,
    header_timeout: Option<Duration>,
    pool: Pool,
}

impl EdgeSettings {
    fn for_listener(&self, listener: &TcpListener, state: &AppState) -> Result<Edge, ServeError> {
        let addr = listener.local_addr().map_err(ServeError::Io)?;
        let hosts =
            AllowedHosts::new(addr, &self.allowed_hosts).map_err(ServeError::AllowedHost)?;
        Ok(Edge {
            header_timeout: self.header_timeout,
            pool: self.pool.clone(),
            hosts: Arc::new(hosts),
            metrics: Arc::clone(&state.metrics),
        })
    }
}

impl Server {
    /// Opens the configuration and binds the listener(s).
    pub async fn bind(opts: ServeOptions) -> Result<Server, ServeError> {
        agent_safe_core::identity::install_crypto_provider()
            .map_err(|e| ServeError::Identity(e.to_string()))?;
        let config_path = opts.config.clone();
        let safe = tokio::task::spawn_blocking(move || AgentSafe::open(config_path.as_deref()))
            .await
            .map_err(|e| ServeError::Io(std::io::Error::other(e.to_string())))??;
        Server::bind_with(safe, opts).await
    }

    /// Binds the listener(s) around an already opened decision point.
    pub async fn bind_with(safe: AgentSafe, opts: ServeOptions) -> Result<Server, ServeError> {
        let listen = match opts.listen {
            Some(a) => a,
            None => {
                let text = &safe.config().server.listen;
                text.parse()
                    .map_err(|e: std::net::AddrParseError| ServeError::Listen {
                        addr: text.clone(),
                        reason: e.to_string(),
                    })?
            }
        };
        if opts.health_listen == Some(listen) && listen.port() != 0 {
            return Err(ServeError::Listen {
                addr: listen.to_string(),
                reason: "the health listener needs an address of its own".to_owned(),
            });
        }
        let server = &safe.config().server;
        let mut allowed_hosts = server.allowed_hosts.clone();
        allowed_hosts.extend(opts.allowed_hosts.iter().cloned());
        for entry in &allowed_hosts {
            agent_safe_core::config::parse_allowed_host(entry).map_err(|why| {
                ServeError::AllowedHost(format!("invalid allowed host `{entry}`: {why}"))
            })?;
        }
        let edge = EdgeSettings {
            allowed_hosts,
            header_timeout: match server.header_timeout_ms {
                0 => None,
                ms => Some(Duration::from_millis(ms)),
            },
            pool: Pool::new(
                usize::try_from(connection_limit(server.max_connections)).unwrap_or(usize::MAX),
            ),
        };
        let execution = opts
            .execution
            .unwrap_or_else(|| Execution::for_durability(safe.config().audit.durability));
        let state = AppState::with_execution(safe, execution);
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| ServeError::Bind {
                addr: listen,
                source,
            })?;
        let health = match opts.health_listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| ServeError::Bind { addr, source })?,
            ),
            None => None,
        };
        Ok(Server {
            state,
            listener,
            health,
            watch: opts.watch,
            edge,
        })
    }

    /// The address checks are served on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The address of the health listener, if any.
    pub fn health_addr(&self) -> Option<SocketAddr> {
        self.health.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The shared state (metrics, health, the decision point).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then stops accepting, drains the
    /// requests in flight (at most `request_timeout_ms` + 5 s) and returns.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let Server {
            state,
            listener,
            health,
            watch,
            edge,
        } = self;
        let main_edge = edge.for_listener(&listener, &state)?;
        let health_edge = match &health {
            Some(l) => Some(edge.for_listener(l, &state)?),
            None => None,
        };
        let addr = listener.local_addr().map_err(ServeError::Io)?;
        let health_addr = health.as_ref().and_then(|l| l.local_addr().ok());
        if !addr.ip().is_loopback() {
            tracing::warn!(
                %addr,
                "listening on a non-loopback address: anyone who can reach it can ask for decisions and fill the audit log"
            );
        }
        let reloader = Reloader::start(state.clone(), watch)?;
        let sighup = spawn_sighup(reloader.sender());
        if let Some(sync) = state
            .safe
            .config()
            .inventory_sync
            .clone()
            .filter(|s| s.live)
        {
            crate::live::spawn(state.clone(), sync).map_err(ServeError::Io)?;
        }

        let config = state.safe.config();
        let snap = state.safe.snapshot();
        let health_text = health_addr.map(|a| a.to_string());
        let config_text = config.source.as_ref().map(|p| p.display().to_string());
        let audit_text = state
            .safe
            .audit_log()
            .map(|a| a.path().display().to_string());
        tracing::info!(
            %addr,
            health_addr = health_text.as_deref(),
            config = config_text.as_deref(),
            audit = audit_text.as_deref(),
            durability = ?config.audit.durability,
            execution = ?state.execution,
            actions = snap.registry.len(),
            rules = snap.rules.len(),
            targets = snap.inventory.len(),
            "listening"
        );
        drop(snap);
        if let Some(shadow) = state.safe.shadow_status() {
            match &shadow.error {
                Some(error) => tracing::warn!(
                    path = %shadow.path.display(),
                    error = %error,
                    "the shadow candidate failed to load: every check records the error in its audit event; fix it and reload"
                ),
                None => tracing::info!(
                    path = %shadow.path.display(),
                    candidate = ?shadow.snapshot,
                    "shadow mode: the candidate is evaluated on every check and never enforced"
                ),
            }
        }
        crate::state::log_unloaded_files(config);

        // One signal, observed by both servers and the drain timer.
        let (stop_tx, stop_rx) = watch::channel(false);
        let st = state.clone();
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutting down: no new connections; finishing the requests in flight");
            st.set_ready(false);
            let _ = stop_tx.send(true);
        });

        crate::tlog::log_checkpoint_failures(&state);
        let checkpoint_timer = crate::tlog::spawn_checkpoint_timer(state.clone(), stop_rx.clone());

        let main = crate::conn::serve(
            listener,
            crate::app(state.clone()),
            main_edge,
            stop_rx.clone(),
        );
        // The health server keeps answering while the main one drains, so
        // that liveness holds; it stops when the main one is done.
        let (health_stop_tx, health_stop_rx) = watch::channel(false);
        let health_task = health.zip(health_edge).map(|(l, edge)| {
            let app = crate::health_app(state.clone());
            tokio::spawn(crate::conn::serve(l, app, edge, health_stop_rx))
        });

        let drain = Duration::from_millis(state.request_timeout_ms.saturating_add(5_000));
        let mut stopped = stop_rx.clone();
        let deadline = async move {
            wait_for_ref(&mut stopped).await;
            tokio::time::sleep(drain).await;
        };
        let outcome = tokio::select! {
            () = main => Ok(()),
            () = deadline => Err(ServeError::DrainTimeout(drain)),
        };
        let _ = health_stop_tx.send(true);
        if let Some(t) = health_task {
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
        reloader.stop();
        if let Some(t) = checkpoint_timer {
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
        if let Some(h) = sighup {
            h.abort();
        }
        match &outcome {
            Ok(()) => tracing::info!("stopped"),
            Err(e) => tracing::error!(error = %e, "stopped"),
        }
        outcome
    }
}

/// File descriptors kept for everything but connections: the listeners, the
/// runtime, the audit log and its directory, the file watcher, reloads.
const RESERVED_FILES: u64 = 64;

/// `server.max_connections`, lowered to fit the open-file limit: a
/// connection is a file descriptor, and a process out of them can neither
/// accept a connection nor write its audit log (a check would be denied).
fn connection_limit(configured: u64) -> u64 {
    match open_file_limit() {
        Some(files) if configured.saturating_add(RESERVED_FILES) > files => {
            let fitted = files.saturating_sub(RESERVED_FILES).max(1);
            tracing::warn!(
                configured,
                open_file_limit = files,
                max_connections = fitted,
                "server.max_connections lowered to fit the open-file limit (ulimit -n)"
            );
            fitted
        }
        _ => configured,
    }
}

#[cfg(unix)]
fn open_file_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

#[cfg(not(unix))]
fn open_file_limit() -> Option<u64> {
    None
}

pub(crate) async fn wait_for_ref(rx: &mut watch::Receiver<bool>) {
    // An error means the sender is gone: treat it as the signal.
    let _ = rx.wait_for(|stop| *stop).await;
}

/// SIGTERM (Kubernetes, `docker stop`) or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

#[cfg(unix)]
fn spawn_sighup(
    tx: tokio::sync::mpsc::UnboundedSender<Trigger>,
) -> Option<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP");
            return None;
        }
    };
    Some(tokio::spawn(async move {
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading");
            if tx.send(Trigger::Signal).is_err() {
                break;
            }
        }
    }))
}

#[cfg(not(unix))]
fn spawn_sighup(
    _tx: tokio::sync::mpsc::UnboundedSender<Trigger>,
) -> Option<tokio::task::JoinHandle<()>> {
    None
}
