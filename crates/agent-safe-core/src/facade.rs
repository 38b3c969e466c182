//! [`AgentSafe`]: the one object hosts use. It owns the current snapshot
//! (swapped atomically on reload) and the audit log, and logs every check.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::audit::format_timestamp;
use crate::audit::{
    AppendReceipt, AuditConfig, AuditError, AuditLog, CallerIdentity, CallerMethod, EventKind,
    NewEvent, Rotation,
};
use crate::config::{Config, discover, load_config};
use crate::diag::{ConfigError, Diagnostic, Pos};
use crate::engine::{CallerInput, Decision, PlanDecision, Request, Snapshot};
use crate::identity::Caller;
use crate::model::DecisionResult;
use crate::plan::{PlanError, PlanRequest};
use crate::shadow::{Shadow, ShadowStatus};

/// One check, as the CLI, the HTTP API, plan files and the Python SDK send it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// `name` or `name@version`.
    pub action: String,
    /// Inventory id of the target (else resolved from the params).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// A plain agent id or a JWT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    /// Action parameters. A key repeated at any depth is refused when this
    /// is deserialised ([`crate::json`]).
    #[serde(
        default,
        deserialize_with = "crate::json::params",
        skip_serializing_if = "Option::is_none"
    )]
    pub params: Option<Json>,
    /// Free context recorded in the audit log (e.g. the agent's run id),
    /// read as strictly as `params`.
    #[serde(
        default,
        deserialize_with = "crate::json::context",
        skip_serializing_if = "Option::is_none"
    )]
    pub context: Option<Json>,
    /// Links this check to others (one is generated when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// Include the trace of every rule considered.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub explain: bool,
    /// An identity verified by the host (policy tests); takes precedence over `caller`.
    #[serde(skip)]
    pub verified_caller: Option<Caller>,
}

impl CheckRequest {
    /// A request for `action` with nothing else set.
    pub fn new(action: impl Into<String>) -> Self {
        CheckRequest {
            action: action.into(),
            ..CheckRequest::default()
        }
    }
}

/// The most a correlation id may hold.
pub const MAX_CORRELATION_ID: usize = 128;
/// The most a caller string is logged with (tokens are never logged).
const MAX_LOGGED_CALLER: usize = 256;

/// The policy decision point with its audit log.
pub struct AgentSafe {
    config: Config,
    snapshot: ArcSwap<Snapshot>,
    audit: Option<AuditLog>,
    /// Why the configured log could not be opened (see
    /// [`AgentSafe::from_config_failing_closed`]): every check is denied with it.
    audit_unavailable: Option<String>,
    /// The inventory from the cluster (the sidecar's live mode), used instead
    /// of the `inventory` file once set.
    live_targets: arc_swap::ArcSwapOption<Vec<crate::model::Target>>,
    /// Serialises snapshot rebuilds (file reloads and live inventory
    /// updates), so that the last one stored is built from the newest inputs.
    rebuild: std::sync::Mutex<()>,
    /// The shadow candidate (`shadow:` in the config), when there is one.
    shadow: Option<Shadow>,
}

impl std::fmt::Debug for AgentSafe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentSafe")
            .field("config", &self.config.source)
            .field("audit", &self.audit.as_ref().map(AuditLog::path))
            .finish_non_exhaustive()
    }
}

/// The audit log settings of a config, as the audit module takes them.
pub fn audit_config(config: &Config) -> AuditConfig {
    AuditConfig {
        path: config.audit.path.clone(),
        durability: config.audit.durability,
        rotation: Rotation {
            max_bytes: config.audit.rotation.max_bytes,
            daily: config.audit.rotation.daily,
        },
        lock_timeout: Duration::from_millis(config.audit.lock_timeout_ms),
    }
}

/// The checkpoint settings of a config, as the audit module takes them
/// (`None` when `audit.checkpoint` is absent).
pub fn checkpoint_config(config: &Config) -> Option<crate::audit::CheckpointConfig> {
    config
        .audit
        .checkpoint
        .as_ref()
        .map(|c| crate::audit::CheckpointConfig {
            origin: c.origin.clone(),
            key_file: c.key_file.clone(),
            every_events: c.every_events,
            every_seconds: c.every_seconds,
            command: c.command.clone(),
            on_shutdown: true,
        })
}

impl AgentSafe {
    /// Finds the config (`explicit`, `$AGENT_SAFE_CONFIG`, or `agent-safe.yaml`
    /// in the current directory or a parent) and opens it. With no config at
    /// all: the built-in catalogue, no policies (every check is denied), no
    /// audit log.
    pub fn open(explicit: Option<&Path>) -> Result<AgentSafe, ConfigError> {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let config = match discover(explicit, &cwd)? {
            Some(p) => load_config(&p)?,
            None => Config::no_config(),
        };
        AgentSafe::from_config(config)
    }

    /// Loads every file the config names and opens the audit log. A log that
    /// cannot be opened is a configuration error.
    pub fn from_config(config: Config) -> Result<AgentSafe, ConfigError> {
        let snapshot = Snapshot::load(&config)?;
        let audit = if config.audit.enabled {
            let cfg = audit_config(&config);
            let opened = match checkpoint_config(&config) {
                Some(cp) => AuditLog::open_with_checkpoints(cfg, cp),
                None => AuditLog::open(cfg),
            };
            Some(opened.map_err(|e| {
                ConfigError::single(
                    Diagnostic::error(
                        &config.audit.path,
                        Pos::FILE,
                        format!("cannot open the audit log: {e}"),
                    )
                    .with_help(
                        "check that the directory exists or can be created, and is writable",
                    ),
                )
            })?)
        } else {
            None
        };
        let shadow = open_shadow(&config);
        Ok(AgentSafe {
            config,
            snapshot: ArcSwap::from_pointee(snapshot),
            audit,
            audit_unavailable: None,
            live_targets: arc_swap::ArcSwapOption::empty(),
            rebuild: std::sync::Mutex::new(()),
            shadow,
        })
    }

    /// Like [`AgentSafe::from_config`], except that an audit log that cannot
    /// be opened (its lock held past the timeout, a directory or file that
    /// cannot be written, a torn tail that cannot be quarantined, …) is not
    /// an error: every check is then answered `deny` with that cause, as a
    /// failed append is. For one-shot hosts such as `agent-safe check`, whose
    /// contract is a decision whenever the policy files load.
    pub fn from_config_failing_closed(config: Config) -> Result<AgentSafe, ConfigError> {
        let snapshot = Snapshot::load(&config)?;
        let (audit, audit_unavailable) = if config.audit.enabled {
            let cfg = audit_config(&config);
            // A one-shot host appends one event and exits: no checkpoint at
            // every exit (see `CheckpointConfig::on_shutdown`).
            let one_shot = checkpoint_config(&config).map(|cp| crate::audit::CheckpointConfig {
                on_shutdown: false,
                ..cp
            });
            let opened = match one_shot {
                Some(cp) => AuditLog::open_with_checkpoints(cfg, cp),
                None => AuditLog::open(cfg),
            };
            match opened {
                Ok(log) => (Some(log), None),
                Err(e) => (None, Some(e.to_string())),
            }
        } else {
            (None, None)
        };
        let shadow = open_shadow(&config);
        Ok(AgentSafe {
            config,
            snapshot: ArcSwap::from_pointee(snapshot),
            audit,
            audit_unavailable,
            live_targets: arc_swap::ArcSwapOption::empty(),
            rebuild: std::sync::Mutex::new(()),
            shadow,
        })
    }

    /// Why the configured audit log could not be opened, when it could not
    /// (only with [`AgentSafe::from_config_failing_closed`]). Every check is
    /// then denied with this cause.
    pub fn audit_unavailable(&self) -> Option<&str> {
        self.audit_unavailable.as_deref()
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// The audit log, when enabled.
    pub fn audit_log(&self) -> Option<&AuditLog> {
        self.audit.as_ref()
    }

    /// Re-reads the action, policy and inventory files, then the shadow
    /// candidate's. On any error in the enforced files the current snapshot
    /// (and candidate) stay in place and the errors are returned. The
    /// candidate's errors never fail the reload: the previous candidate
    /// stays in use and [`AgentSafe::shadow_status`] reports them.
    pub fn reload(&self) -> Result<(), ConfigError> {
        let _one_at_a_time = self
            .rebuild
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let live = self.live_targets.load_full();
        let fresh = Snapshot::load_with_targets(&self.config, live.as_deref().cloned())?;
        self.snapshot.store(Arc::new(fresh));
        if let Some(shadow) = &self.shadow {
            // Kept in the shadow's status; the enforced policy is in place.
            let _ = shadow.reload(&self.config, live.as_deref().map(Vec::as_slice));
        }
        Ok(())
    }

    /// Replaces the inventory with `targets` (read from the cluster): a new
    /// snapshot is compiled with them and swapped in whole, so a check sees
    /// either the old inventory or the new one, never a mix. Later reloads
    /// of the files keep these targets. On error the current snapshot stays.
    pub fn set_live_inventory(
        &self,
        targets: Vec<crate::model::Target>,
    ) -> Result<(), ConfigError> {
        let _one_at_a_time = self
            .rebuild
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let fresh = Snapshot::load_with_targets(&self.config, Some(targets.clone()))?;
        self.snapshot.store(Arc::new(fresh));
        if let Some(shadow) = &self.shadow {
            // The candidate sees the same cluster (kept in the shadow's
            // status when it fails; the enforced policy is in place).
            let _ = shadow.reload(&self.config, Some(&targets));
        }
        self.live_targets.store(Some(Arc::new(targets)));
        Ok(())
    }

    /// Shadow mode's state (candidate digest, last load error,
    /// disagreement counts), when the config has a `shadow` section.
    pub fn shadow_status(&self) -> Option<ShadowStatus> {
        self.shadow.as_ref().map(Shadow::status)
    }

    /// The shadow candidate, when the config has a `shadow` section.
    pub fn shadow(&self) -> Option<&Shadow> {
        self.shadow.as_ref()
    }

    /// Whether some check of `action` by `caller` (an agent id or a token,
    /// as in [`CheckRequest::caller`]) could be allowed or sent for approval,
    /// under the current policy: see [`crate::access::could_permit`], which
    /// over-approximates. A caller the identity settings refuse (a bad
    /// token) is never permitted anything. Logs nothing: it decides no call.
    pub fn could_permit(&self, action: &str, caller: Option<&str>) -> bool {
        let snap = self.snapshot.load();
        let now = Timestamp::now().as_second();
        match crate::identity::resolve_caller(&snap.identity, caller, now) {
            Ok(c) => crate::access::could_permit(&snap, action, c.as_ref()),
            Err(_) => false,
        }
    }

    /// Checks one request at the current time and logs it.
    pub fn check(&self, req: &CheckRequest) -> Decision {
        self.check_at(req, None)
    }

    /// Checks one request, evaluating the policy at `at` when given (what-if
    /// questions and tests; the audit event records both times).
    pub fn check_at(&self, req: &CheckRequest, at: Option<Timestamp>) -> Decision {
        let correlation = match correlation_id(req.correlation_id.as_deref()) {
            Ok(c) => c,
            Err(reason) => {
                let mut e = self.evaluate(req, at);
                deny_with(&mut e.decision, reason);
                e.decision.correlation_id = None;
                return self.log(req, e, at, None);
            }
        };
        let mut e = self.evaluate(req, at);
        e.decision.correlation_id = Some(correlation);
        self.log(req, e, at, None)
    }

    /// Checks every step of a plan under one correlation id, logging each
    /// step with its index. The plan's result is the most restrictive step
    /// result. An empty plan, or one over
    /// [`MAX_PLAN_STEPS`](crate::plan::MAX_PLAN_STEPS), is refused with
    /// nothing checked or logged: it asks nothing that could be answered.
    pub fn check_plan(
        &self,
        plan: &PlanRequest,
        at: Option<Timestamp>,
    ) -> Result<PlanDecision, PlanError> {
        let steps = plan.checks()?;
        Ok(self.check_steps(&steps, plan.correlation_id.as_deref(), at))
    }

    fn check_steps(
        &self,
        steps: &[CheckRequest],
        correlation_id_in: Option<&str>,
        at: Option<Timestamp>,
    ) -> PlanDecision {
        let (correlation, bad) = match correlation_id(correlation_id_in) {
            Ok(c) => (c, None),
            Err(reason) => (new_id(), Some(reason)),
        };
        let mut out = Vec::with_capacity(steps.len());
        for (i, step) in steps.iter().enumerate() {
            let mut e = self.evaluate(step, at);
            if let Some(reason) = &bad {
                deny_with(&mut e.decision, reason.clone());
            }
            e.decision.correlation_id = Some(correlation.clone());
            let index = u32::try_from(i).unwrap_or(u32::MAX);
            e.decision.plan_step = Some(index);
            out.push(self.log(step, e, at, Some(index)));
        }
        let result = if out.is_empty() {
            DecisionResult::Deny
        } else {
            out.iter()
                .map(|d| d.result)
                .max_by_key(|r| r.restrictiveness())
                .unwrap_or(DecisionResult::Deny)
        };
        PlanDecision {
            result,
            correlation_id: correlation,
            steps: out,
        }
    }

    fn evaluate(&self, req: &CheckRequest, at: Option<Timestamp>) -> Evaluated {
        let snap = self.snapshot.load();
        let now = Timestamp::now();
        // The caller is resolved here (once) so the audit event can record
        // how it was identified and its verified roles and groups; a caller
        // that is refused goes to the engine as given, which denies it with
        // the cause.
        let resolved;
        let (caller, identity) = match (&req.verified_caller, req.caller.as_deref()) {
            (Some(c), _) => (
                CallerInput::Verified(c),
                caller_identity(c, CallerMethod::Host, None),
            ),
            (None, Some(raw)) if !raw.is_empty() => {
                match crate::identity::resolve_caller(&snap.identity, Some(raw), now.as_second()) {
                    Ok(Some(c)) => {
                        resolved = c;
                        let identity = if resolved.signed {
                            caller_identity(
                                &resolved,
                                CallerMethod::Token,
                                crate::identity::token_kid(raw),
                            )
                        } else {
                            caller_identity(&resolved, CallerMethod::Id, None)
                        };
                        (CallerInput::Verified(&resolved), identity)
                    }
                    Ok(None) => (CallerInput::Raw(raw), anonymous_identity()),
                    Err(_) => (CallerInput::Raw(raw), rejected_identity()),
                }
            }
            _ => (CallerInput::Anonymous, anonymous_identity()),
        };
        let request = Request {
            action: &req.action,
            target: req.target.as_deref().filter(|t| !t.is_empty()),
            caller,
            params: req.params.as_ref(),
            explain: req.explain,
        };
        let decision = snap.evaluate(&request, now, at);
        // Shadow off: one branch, nothing allocated.
        let shadow = match &self.shadow {
            Some(s) => {
                // As replay does: a verified token's or host's identity is
                // handed over as verified; a plain id or an anonymous caller
                // is resolved again under the candidate's identity settings
                // (a candidate configuration may turn on `require_signed`).
                let caller = match (request.caller, req.caller.as_deref()) {
                    (CallerInput::Verified(c), Some(raw))
                        if !c.signed && req.verified_caller.is_none() =>
                    {
                        CallerInput::Raw(raw)
                    }
                    (c, _) => c,
                };
                s.compare(&Request { caller, ..request }, now, at, &decision)
            }
            None => None,
        };
        // An anonymous caller refused by `require_signed` is recorded as such.
        let identity = if identity.method == CallerMethod::Anonymous
            && decision.reason.starts_with("caller rejected:")
        {
            rejected_identity()
        } else {
            identity
        };
        Evaluated {
            decision,
            identity,
            snapshot: snap.digest.clone(),
            shadow,
        }
    }

    fn log(
        &self,
        req: &CheckRequest,
        e: Evaluated,
        at: Option<Timestamp>,
        step: Option<u32>,
    ) -> Decision {
        let Evaluated {
            decision: mut d,
            identity,
            snapshot,
            shadow,
        } = e;
        let Some(audit) = &self.audit else {
            if let Some(cause) = &self.audit_unavailable {
                deny_with(
                    &mut d,
                    format!("audit log unavailable, failing closed: cannot open it: {cause}"),
                );
            }
            return d;
        };
        let caller = d.caller.clone().or_else(|| {
            req.caller.as_deref().map(|c| {
                if crate::identity::is_token_attempt(c) {
                    "<invalid token>".to_owned()
                } else {
                    c.chars().take(MAX_LOGGED_CALLER).collect()
                }
            })
        });
        let ev = NewEvent {
            kind: EventKind::Decision,
            action: Some(d.action.chars().take(256).collect()),
            action_version: d.action_version.clone(),
            target: d.target.clone().or_else(|| req.target.clone()),
            caller,
            params: loggable(
                req.params
                    .clone()
                    .unwrap_or(Json::Object(Default::default())),
            ),
            decision: Some(d.result.as_str().to_owned()),
            reason: Some(d.reason.clone()),
            policy_matched: d.policy_matched.clone(),
            risk_class: Some(d.risk_class.as_str().to_owned()),
            effective_risk: Some(d.effective_risk.as_str().to_owned()),
            correlation_id: d.correlation_id.clone(),
            context: loggable(req.context.clone().unwrap_or(Json::Null)),
            evaluated_at: at.map(format_timestamp),
            plan_step: step,
            caller_identity: Some(identity),
            snapshot,
            shadow,
        };
        match audit.append(ev) {
            Ok(receipt) => d.audit_id = Some(receipt.event_id),
            Err(e) => {
                deny_with(
                    &mut d,
                    format!("audit log unavailable, failing closed: {e}"),
                );
            }
        }
        d
    }

    /// Records a human's answer to a `require_approval` decision, linked by
    /// correlation id.
    pub fn record_approval(
        &self,
        approval: &Approval,
    ) -> Result<Option<AppendReceipt>, AuditError> {
        let Some(audit) = &self.audit else {
            return match &self.audit_unavailable {
                Some(cause) => Err(AuditError::Unavailable {
                    path: self.config.audit.path.clone(),
                    cause: cause.clone(),
                }),
                None => Ok(None),
            };
        };
        let ev = NewEvent {
            kind: EventKind::Approval,
            action: Some(approval.action.clone()),
            target: approval.target.clone(),
            caller: Some(approval.approver.clone()),
            params: loggable(approval.params.clone().unwrap_or(Json::Null)),
            decision: Some(
                if approval.approved {
                    "approve"
                } else {
                    "reject"
                }
                .to_owned(),
            ),
            reason: approval.comment.clone(),
            correlation_id: Some(approval.correlation_id.clone()),
            context: loggable(serde_json::json!({ "audit_id": approval.audit_id })),
            ..NewEvent::new(EventKind::Approval)
        };
        audit.append(ev).map(Some)
    }
}

/// A human's answer to a `require_approval` decision.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    /// The correlation id of the decision being answered.
    pub correlation_id: String,
    /// The audit id of that decision.
    pub audit_id: Option<String>,
    /// The action.
    pub action: String,
    /// The target.
    pub target: Option<String>,
    /// The params.
    pub params: Option<Json>,
    /// Who answered.
    pub approver: String,
    /// Approved or rejected.
    pub approved: bool,
    /// Why.
    pub comment: Option<String>,
}

/// A decision with what its audit event records besides it.
struct Evaluated {
    decision: Decision,
    identity: CallerIdentity,
    snapshot: Option<String>,
    /// What the shadow candidate decided, when it differs.
    shadow: Option<crate::audit::ShadowInfo>,
}

fn open_shadow(config: &Config) -> Option<Shadow> {
    config.shadow.as_ref().map(|s| Shadow::open(config, s))
}

fn caller_identity(c: &Caller, method: CallerMethod, kid: Option<String>) -> CallerIdentity {
    CallerIdentity {
        method,
        kid,
        roles: c.roles.clone(),
        groups: c.groups.clone(),
        kubernetes: c
            .kubernetes
            .as_ref()
            .map(|k| crate::audit::KubernetesCaller {
                namespace: k.namespace.clone(),
                pod: k.pod.clone(),
                pod_uid: k.pod_uid.clone(),
                service_account: k.service_account.clone(),
                service_account_uid: k.service_account_uid.clone(),
            }),
    }
}

fn anonymous_identity() -> CallerIdentity {
    CallerIdentity {
        method: CallerMethod::Anonymous,
        kid: None,
        roles: Vec::new(),
        groups: Vec::new(),
        kubernetes: None,
    }
}

fn rejected_identity() -> CallerIdentity {
    CallerIdentity {
        method: CallerMethod::Rejected,
        ..anonymous_identity()
    }
}

fn deny_with(d: &mut Decision, reason: String) {
    d.result = DecisionResult::Deny;
    d.reason = reason;
    d.policy_matched = None;
}

/// A fresh correlation id (UUID v7).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn correlation_id(given: Option<&str>) -> Result<String, String> {
    match given {
        None | Some("") => Ok(new_id()),
        Some(c) if c.len() <= MAX_CORRELATION_ID && c.chars().all(|ch| ch.is_ascii_graphic()) => {
            Ok(c.to_owned())
        }
        Some(_) => Err(format!(
            "invalid correlation_id: use at most {MAX_CORRELATION_ID} printable ASCII characters without spaces"
        )),
    }
}

/// The form the log records a caller's value in (`audit::recorded_form`):
/// numbers JSON cannot carry exactly and too-deep values become strings, so
/// no input can make a decision unloggable.
fn loggable(v: Json) -> Json {
    crate::audit::recorded_form(v)
}
