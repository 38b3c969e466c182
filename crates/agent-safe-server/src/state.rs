//! What every handler shares: the decision point, its metrics, its health.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use agent_safe_core::AgentSafe;
use agent_safe_core::audit::Durability;
use agent_safe_core::diag::ConfigError;
use jiff::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::AppError;
use crate::metrics::Metrics;

/// How a check runs relative to the async runtime.
///
/// The core's `check` is synchronous: it evaluates (pure CPU, a few µs) and
/// then appends to the audit log (a mutex, an `flock`, one `write`, and with
/// `durability: sync` an `fdatasync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Execution {
    /// On the runtime worker that received the request. Cheapest, but the
    /// worker is blocked for the whole append; right only when the append is
    /// a short `write` (`durability: process`).
    Inline,
    /// On tokio's blocking pool (`spawn_blocking`). Needed with
    /// `durability: sync`: an `fdatasync` takes milliseconds, must not stall
    /// the runtime, and concurrent requests must reach the audit log at the
    /// same time so that its group commit can share one sync among them.
    Blocking,
}

impl Execution {
    /// The default for a durability setting.
    ///
    /// * `process` → [`Execution::Inline`]. The append is a mutex, an
    ///   uncontended `flock` and one `write` into the page cache: about 5 µs
    ///   of the ~8 µs a whole check takes, less than the cost of handing the
    ///   work to another thread and back. Measured with
    ///   `scripts/load-bench.sh` (docs/SIDECAR.md, "Performance"), inline
    ///   serves about half again as many checks per second as the blocking
    ///   pool on 2 cores (~24k/s against ~16k/s), with a lower p99. The price: while a worker waits
    ///   for a lock held by *another process* writing the same log (up to
    ///   `audit.lock_timeout_ms`), it serves nothing else. The sidecar is
    ///   meant to be the only writer of its log (one log per pod), so that
    ///   wait does not happen in the supported deployment.
    /// * `sync` → [`Execution::Blocking`]: an `fdatasync` takes milliseconds
    ///   and must not stall a runtime worker, and group commit needs the
    ///   concurrent requests to reach the log at the same time, each on its
    ///   own thread, so that one sync covers them all.
    pub fn for_durability(d: Durability) -> Execution {
        match d {
            Durability::Process => Execution::Inline,
            Durability::Sync => Execution::Blocking,
        }
    }
}

/// The outcome of the most recent reload attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ReloadStatus {
    /// Whether it succeeded.
    pub ok: bool,
    /// When it ran (RFC 3339, UTC).
    pub at: String,
    /// What triggered it: `watch` (a file changed), `signal` (SIGHUP) or `api`.
    pub trigger: String,
    /// The diagnostics, when it failed (the previous snapshot stays in use).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Readiness and reload bookkeeping.
#[derive(Debug)]
pub struct Health {
    ready: AtomicBool,
    inner: Mutex<HealthInner>,
}

#[derive(Debug)]
struct HealthInner {
    snapshot_loaded_at: Timestamp,
    last_reload: Option<ReloadStatus>,
    inventory: Option<InventoryStatus>,
}

/// The live inventory (`inventory_sync.live`), in `/readyz`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct InventoryStatus {
    /// `live`.
    pub mode: &'static str,
    /// Whether the watches are up: the inventory follows the cluster.
    pub watching: bool,
    /// Targets in the inventory in use.
    pub targets: usize,
    /// When the inventory was last known to match the cluster (RFC 3339);
    /// null before the first successful list (the server is not ready then).
    pub synced_at: Option<String>,
    /// Seconds since then (0 while watching).
    pub stale_seconds: f64,
    /// Why the last list or watch failed, while it is failing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Health {
    fn new() -> Health {
        Health {
            ready: AtomicBool::new(true),
            inner: Mutex::new(HealthInner {
                snapshot_loaded_at: Timestamp::now(),
                last_reload: None,
                inventory: None,
            }),
        }
    }

    /// Whether `/readyz` answers 200.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Marks the server (not) ready: false while shutting down.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }

    /// When the snapshot in use was loaded.
    pub fn snapshot_loaded_at(&self) -> Timestamp {
        self.lock().snapshot_loaded_at
    }

    /// The most recent reload attempt, if any.
    pub fn last_reload(&self) -> Option<ReloadStatus> {
        self.lock().last_reload.clone()
    }

    /// The live inventory's status (None without live mode).
    pub fn inventory(&self) -> Option<InventoryStatus> {
        self.lock().inventory.clone()
    }

    /// Records the live inventory's status.
    pub fn set_inventory(&self, status: InventoryStatus) {
        self.lock().inventory = Some(status);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HealthInner> {
        // The data is plain values; a panic elsewhere cannot leave it torn.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The state every handler gets: cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The decision point.
    pub safe: Arc<AgentSafe>,
    /// The Prometheus registry and its metrics.
    pub metrics: Arc<Metrics>,
    /// Readiness and the last reload.
    pub health: Arc<Health>,
    /// Where checks run.
    pub execution: Execution,
    /// `server.max_body_bytes`.
    pub max_body_bytes: u64,
    /// `server.request_timeout_ms`.
    pub request_timeout_ms: u64,
}

impl AppState {
    /// State around an opened decision point, with the execution model that
    /// suits its audit durability and the limits of its `server:` section.
    pub fn new(safe: AgentSafe) -> AppState {
        let execution = Execution::for_durability(safe.config().audit.durability);
        AppState::with_execution(safe, execution)
    }

    /// As [`AppState::new`], with an explicit execution model.
    pub fn with_execution(safe: AgentSafe, execution: Execution) -> AppState {
        let server = safe.config().server.clone();
        let safe = Arc::new(safe);
        let metrics = Arc::new(Metrics::new());
        metrics.attach(Arc::clone(&safe));
        metrics.set_ready(true);
        AppState {
            safe,
            metrics,
            health: Arc::new(Health::new()),
            execution,
            max_body_bytes: server.max_body_bytes,
            request_timeout_ms: server.request_timeout_ms,
        }
    }

    /// Marks the server (not) ready, for `/readyz` and the `agent_safe_ready` gauge.
    pub fn set_ready(&self, ready: bool) {
        self.health.set_ready(ready);
        self.metrics.set_ready(ready);
    }

    /// Runs `f` against the decision point according to [`AppState::execution`].
    pub async fn run<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&AgentSafe) -> T + Send + 'static,
        T: Send + 'static,
    {
        self.run_as(self.execution, f).await
    }

    /// Runs `f` against the decision point with an explicit execution model
    /// (plans always use the blocking pool: up to 1000 steps are
    /// milliseconds, too long to hold a runtime worker).
    pub async fn run_as<T, F>(&self, execution: Execution, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&AgentSafe) -> T + Send + 'static,
        T: Send + 'static,
    {
        match execution {
            Execution::Inline => Ok(f(&self.safe)),
            Execution::Blocking => {
                let safe = Arc::clone(&self.safe);
                tokio::task::spawn_blocking(move || f(&safe))
                    .await
                    .map_err(|e| {
                        tracing::error!(error = %e, "check task failed");
                        AppError::Internal
                    })
            }
        }
    }

    /// Re-reads the action, policy and inventory files (blocking: call it
    /// from a blocking context). On failure the previous snapshot stays in
    /// use; either way the outcome is recorded for `/readyz` and `/metrics`
    /// and logged.
    pub fn reload_blocking(&self, trigger: &str) -> Result<(), ConfigError> {
        let started = Instant::now();
        let result = self.safe.reload();
        let now = Timestamp::now();
        let status = ReloadStatus {
            ok: result.is_ok(),
            at: now.to_string(),
            trigger: trigger.to_owned(),
            error: result.as_ref().err().map(ToString::to_string),
        };
        self.metrics.record_reload(&status, now);
        {
            let mut inner = self.health.lock();
            if result.is_ok() {
                inner.snapshot_loaded_at = now;
            }
            inner.last_reload = Some(status);
        }
        let took_ms = started.elapsed().as_secs_f64() * 1000.0;
        match &result {
            Ok(()) => {
                let snap = self.safe.snapshot();
                tracing::info!(
                    trigger,
                    took_ms,
                    actions = snap.registry.len(),
                    rules = snap.rules.len(),
                    targets = snap.inventory.len(),
                    "reloaded"
                );
            }
            Err(e) => tracing::error!(
                trigger,
                took_ms,
                error = %e,
                "reload failed; still serving the previous snapshot"
            ),
        }
        if result.is_ok()
            && let Some(shadow) = self.safe.shadow_status()
        {
            match &shadow.error {
                Some(error) => tracing::warn!(
                    trigger,
                    error = %error,
                    candidate = ?shadow.snapshot,
                    "the shadow candidate failed to load; the previous candidate (if any) stays in use"
                ),
                None => tracing::info!(
                    trigger,
                    candidate = ?shadow.snapshot,
                    "shadow candidate loaded"
                ),
            }
        }
        log_unloaded_files(self.safe.config());
        result
    }
}

/// Logs a warning for every file in the configured directories that is not
/// loaded (another extension than `.yaml`/`.yml`), so that a `deny.YML~` or
/// `deny.json` left by mistake is visible in the sidecar's log.
pub(crate) fn log_unloaded_files(config: &agent_safe_core::config::Config) {
    for path in [&config.actions, &config.policies, &config.inventory]
        .into_iter()
        .flatten()
    {
        for d in agent_safe_core::load::unloaded_entries(path) {
            tracing::warn!(file = %d.file.display(), "{}", d.message);
        }
    }
}
