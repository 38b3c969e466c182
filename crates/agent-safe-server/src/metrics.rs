//! Prometheus metrics, in an explicit registry (no process-wide globals).
//!
//! Counter names are registered without `_total`; the encoder appends it.
//! Every label has a bounded set of values: an `action` label only ever holds
//! the name of an action that exists in the registry (anything else is
//! counted as `unknown`), so a client cannot grow the series without bound.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use agent_safe_core::{AgentSafe, Decision};
use jiff::Timestamp;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::state::ReloadStatus;

/// Labels of `agent_safe_decisions_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    /// `allow`, `deny` or `require_approval`.
    pub result: &'static str,
    /// The action name, or `unknown` for an action the registry lacks.
    pub action: String,
    /// `check` or `check_plan`.
    pub endpoint: &'static str,
}

/// Labels of the latency histograms.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    /// `check` or `check_plan`.
    pub endpoint: &'static str,
}

/// Labels of `agent_safe_http_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// The route template (`/v1/actions/{name}`), or `other` for no route.
    pub route: &'static str,
    /// `GET`, `POST`, …, or `OTHER`.
    pub method: &'static str,
    /// The status code.
    pub status: u16,
}

/// Labels of `agent_safe_http_connections_closed_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CloseLabels {
    /// `header_timeout` (no complete request head in time, idle keep-alive
    /// included) or `shed` (closed while idle to admit a new connection at
    /// `server.max_connections`).
    pub reason: &'static str,
}

/// Labels of `agent_safe_last_reload_error`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// The first diagnostic of the failed reload (file:line:col and message).
    pub error: String,
}

/// Labels of `agent_safe_shadow_disagreements_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ShadowLabels {
    /// The enforced result: `allow`, `require_approval` or `deny`.
    from: String,
    /// The shadow candidate's result, or `error` when it could not decide.
    to: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn check_histogram() -> Histogram {
    // 2 µs … ~4 s in 22 doubling buckets: a check is µs, a synced one ms.
    Histogram::new(exponential_buckets(0.000_002, 2.0, 22))
}

/// The sidecar's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    decisions: Family<DecisionLabels, Counter>,
    check_duration: HistogramFamily<EndpointLabels>,
    http_requests: Family<HttpLabels, Counter>,
    reloads: Counter,
    reload_failures: Counter,
    last_reload_error: Family<ErrorLabels, Gauge>,
    last_reload_success: Gauge,
    last_reload_timestamp: Gauge<f64, AtomicU64>,
    ready: Gauge,
    connections_open: Gauge,
    connections_closed: Family<CloseLabels, Counter>,
    inventory_stale: Gauge<f64, AtomicU64>,
    inventory_targets: Gauge,
    inventory_failures: Counter,
    core: Arc<OnceLock<Arc<AgentSafe>>>,
}

impl Metrics {
    /// A registry with every metric registered (and zero).
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let decisions = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "agent_safe_decisions",
            "Decisions returned, by result, action and endpoint (a plan counts each step)",
            decisions.clone(),
        );
        let check_duration: HistogramFamily<EndpointLabels> =
            Family::new_with_constructor(check_histogram);
        registry.register(
            "agent_safe_check_duration_seconds",
            "Time in the core check: policy evaluation plus the audit append \
             (the core does not time the append on its own); per request, so a plan is one observation",
            check_duration.clone(),
        );
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "agent_safe_http_requests",
            "HTTP requests answered, by route, method and status",
            http_requests.clone(),
        );
        let reloads = Counter::default();
        registry.register(
            "agent_safe_reloads",
            "Reload attempts (file changes, SIGHUP), successful or not",
            reloads.clone(),
        );
        let reload_failures = Counter::default();
        registry.register(
            "agent_safe_reload_failures",
            "Reload attempts that failed (the previous snapshot stayed in use)",
            reload_failures.clone(),
        );
        let last_reload_error = Family::<ErrorLabels, Gauge>::default();
        registry.register(
            "agent_safe_last_reload_error",
            "1, labelled with the first diagnostic, while the most recent reload has failed; absent otherwise",
            last_reload_error.clone(),
        );
        let last_reload_success = Gauge::default();
        last_reload_success.set(1);
        registry.register(
            "agent_safe_last_reload_success",
            "1 when the most recent reload succeeded (or none has run), 0 when it failed",
            last_reload_success.clone(),
        );
        let last_reload_timestamp = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "agent_safe_last_reload_timestamp_seconds",
            "Unix time of the most recent reload attempt (0 before the first)",
            last_reload_timestamp.clone(),
        );
        let ready = Gauge::default();
        registry.register(
            "agent_safe_ready",
            "1 while /readyz answers 200 (a valid snapshot is loaded and the server is not shutting down)",
            ready.clone(),
        );
        let connections_open = Gauge::default();
        registry.register(
            "agent_safe_http_connections_open",
            "HTTP connections open now (at most server.max_connections per listener)",
            connections_open.clone(),
        );
        let connections_closed = Family::<CloseLabels, Counter>::default();
        registry.register(
            "agent_safe_http_connections_closed",
            "HTTP connections the server closed: header_timeout (no complete request head in time, \
             idle keep-alive included) or shed (idle, closed to admit a new one at the connection limit)",
            connections_closed.clone(),
        );
        let inventory_stale = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "agent_safe_inventory_stale_seconds",
            "Live inventory (inventory_sync.live): seconds since it was last known to match the cluster \
             (0 while the watches are up; grows while the API server is unreachable)",
            inventory_stale.clone(),
        );
        let inventory_targets = Gauge::default();
        registry.register(
            "agent_safe_inventory_live_targets",
            "Live inventory: targets in the inventory in use (the last good one when the API server is unreachable)",
            inventory_targets.clone(),
        );
        let inventory_failures = Counter::default();
        registry.register(
            "agent_safe_inventory_sync_failures",
            "Live inventory: failed lists or broken watches (the last good inventory stays in use)",
            inventory_failures.clone(),
        );
        registry.register(
            "agent_safe_build",
            "The agent-safe version",
            Info::new(vec![(
                "version".to_owned(),
                env!("CARGO_PKG_VERSION").to_owned(),
            )]),
        );
        let core: Arc<OnceLock<Arc<AgentSafe>>> = Arc::default();
        registry.register_collector(Box::new(CoreCollector {
            core: Arc::clone(&core),
        }));
        Metrics {
            registry,
            decisions,
            check_duration,
            http_requests,
            reloads,
            reload_failures,
            last_reload_error,
            last_reload_success,
            last_reload_timestamp,
            ready,
            connections_open,
            connections_closed,
            inventory_stale,
            inventory_targets,
            inventory_failures,
            core,
        }
    }

    /// Live inventory: its staleness and size.
    pub fn record_inventory(&self, stale_seconds: f64, targets: usize) {
        self.inventory_stale.set(stale_seconds);
        self.inventory_targets
            .set(i64::try_from(targets).unwrap_or(i64::MAX));
    }

    /// Live inventory: one failed list or broken watch.
    pub fn inventory_failure(&self) {
        self.inventory_failures.inc();
    }

    /// Exports the audit log counters and snapshot sizes of `safe` too.
    pub fn attach(&self, safe: Arc<AgentSafe>) {
        let _ = self.core.set(safe);
    }

    /// Counts a decision.
    pub fn decision(&self, d: &Decision, endpoint: &'static str) {
        // A known action always has a resolved version; an unknown one is
        // whatever the client typed and must not become a label value.
        let action = if d.action_version.is_some() {
            d.action.clone()
        } else {
            "unknown".to_owned()
        };
        self.decisions
            .get_or_create(&DecisionLabels {
                result: d.result.as_str(),
                action,
                endpoint,
            })
            .inc();
    }

    /// Records the time a core call took.
    pub fn check_duration(&self, endpoint: &'static str, took: Duration) {
        self.check_duration
            .get_or_create(&EndpointLabels { endpoint })
            .observe(took.as_secs_f64());
    }

    /// Counts an answered HTTP request.
    pub fn http_request(&self, route: &'static str, method: &'static str, status: u16) {
        self.http_requests
            .get_or_create(&HttpLabels {
                route,
                method,
                status,
            })
            .inc();
    }

    /// Counts a connection opened (`+1`) or closed (`-1`).
    pub fn connection_open(&self, delta: i64) {
        self.connections_open.inc_by(delta);
    }

    /// Counts a connection the server closed, by reason.
    pub fn connection_closed(&self, reason: &'static str) {
        self.connections_closed
            .get_or_create(&CloseLabels { reason })
            .inc();
    }

    /// Records the outcome of a reload.
    pub fn record_reload(&self, status: &ReloadStatus, at: Timestamp) {
        self.reloads.inc();
        self.last_reload_timestamp
            .set(at.as_millisecond() as f64 / 1000.0);
        self.last_reload_error.clear();
        if let Some(error) = &status.error {
            self.reload_failures.inc();
            self.last_reload_success.set(0);
            self.last_reload_error
                .get_or_create(&ErrorLabels {
                    error: first_line(error),
                })
                .set(1);
        } else {
            self.last_reload_success.set(1);
        }
    }

    /// Sets the ready gauge.
    pub fn set_ready(&self, ready: bool) {
        self.ready.set(i64::from(ready));
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn encode_prometheus(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::with_capacity(8 * 1024);
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)?;
        Ok(out)
    }

    /// The OpenMetrics text exposition.
    pub fn encode_openmetrics(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::with_capacity(8 * 1024);
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// The first line of a message, at most 200 characters (a label value, not a report).
fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or_default();
    let mut out: String = line.chars().take(200).collect();
    if line.chars().count() > 200 {
        out.push('…');
    }
    out
}

/// Reads the audit log's counters and the snapshot's sizes at scrape time.
#[derive(Debug)]
struct CoreCollector {
    core: Arc<OnceLock<Arc<AgentSafe>>>,
}

impl Collector for CoreCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(safe) = self.core.get() else {
            return Ok(());
        };
        if let Some(audit) = safe.audit_log() {
            let stats = audit.stats();
            let counters = [
                (
                    "agent_safe_audit_appends",
                    "Events appended to the audit log by this process",
                    stats.appends,
                ),
                (
                    "agent_safe_audit_syncs",
                    "fdatasync calls for durability: sync (fewer than appends under concurrency: group commit)",
                    stats.syncs,
                ),
                (
                    "agent_safe_audit_rotations",
                    "Audit log files rotated by this process",
                    stats.rotations,
                ),
                (
                    "agent_safe_audit_recoveries",
                    "Torn audit log tails quarantined by this process",
                    stats.recoveries,
                ),
            ];
            for (name, help, value) in counters {
                let c = ConstCounter::new(value);
                c.encode(encoder.encode_descriptor(name, help, None, c.metric_type())?)?;
            }
            if let Some(cp) = audit.checkpoint_stats() {
                let counters = [
                    (
                        "agent_safe_audit_checkpoints",
                        "Signed audit checkpoints made by this process",
                        cp.made,
                    ),
                    (
                        "agent_safe_audit_checkpoint_failures",
                        "Audit checkpoints that could not be made (decisions went on)",
                        cp.failures,
                    ),
                    (
                        "agent_safe_audit_checkpoint_command_failures",
                        "Runs of audit.checkpoint.command that failed",
                        cp.command_failures,
                    ),
                ];
                for (name, help, value) in counters {
                    let c = ConstCounter::new(value);
                    c.encode(encoder.encode_descriptor(name, help, None, c.metric_type())?)?;
                }
            }
        }
        if let Some(shadow) = safe.shadow() {
            let status = shadow.status();
            let mut family = encoder.encode_descriptor(
                "agent_safe_shadow_disagreements",
                "Checks the shadow candidate decided differently from the enforced policy, by enforced \
                 result (from) and candidate result (to; equal when only the deciding rule differs, \
                 error when the candidate could not decide)",
                None,
                prometheus_client::metrics::MetricType::Counter,
            )?;
            for d in status.disagreements {
                let labels = ShadowLabels {
                    from: d.from,
                    to: d.to,
                };
                ConstCounter::new(d.count).encode(family.encode_family(&labels)?)?;
            }
            let g = ConstGauge::new(i64::from(status.error.is_some()));
            g.encode(encoder.encode_descriptor(
                "agent_safe_shadow_load_error",
                "1 while the most recent load of the shadow candidate failed (the previous candidate, \
                 if any, stays in use), 0 otherwise",
                None,
                g.metric_type(),
            )?)?;
        }
        let snap = safe.snapshot();
        let gauges = [
            (
                "agent_safe_snapshot_actions",
                "Actions (names) in the snapshot in use",
                snap.registry.len(),
            ),
            (
                "agent_safe_snapshot_rules",
                "Policy rules in the snapshot in use",
                snap.rules.len(),
            ),
            (
                "agent_safe_snapshot_targets",
                "Inventory targets in the snapshot in use",
                snap.inventory.len(),
            ),
        ];
        for (name, help, value) in gauges {
            let g = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
            g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)?;
        }
        Ok(())
    }
}
