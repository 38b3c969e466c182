//! The policy decision point: compiled snapshots and evaluation.
//!
//! A [`Snapshot`] is built once from the loaded files and is immutable;
//! [`Snapshot::evaluate`] is a pure function of (snapshot, request, time):
//! it reads no clock, touches no file and never panics. Everything that can
//! go wrong inside a check becomes a `deny` decision carrying the cause.

mod analysis;
mod compile;
mod digest;
mod eval;
mod inventory;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use analysis::{BindingGap, Finding, FindingKind, analyze, binding_gaps};
pub use compile::{CompiledRule, EngineSettings, Snapshot, SnapshotSources, identity_config};
pub(crate) use digest::snapshot_digest;
pub use inventory::Inventory;

use crate::identity::Caller;
use crate::model::{DecisionResult, RiskClass};

/// Who is asking.
#[derive(Debug, Clone, Copy)]
pub enum CallerInput<'a> {
    /// Nobody said (anonymous). Refused when `identity.require_signed` is set;
    /// never matches a rule with a `callers` selector.
    Anonymous,
    /// A plain agent id or a JWT, resolved by the identity settings.
    Raw(&'a str),
    /// An identity already verified by the host (policy tests, or a caller
    /// authenticated by other means).
    Verified(&'a Caller),
}

/// One question: may this caller run this action on this target with these
/// params, now?
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `name` or `name@version`.
    pub action: &'a str,
    /// Inventory id of the target; when absent it is resolved from the params.
    pub target: Option<&'a str>,
    /// The caller.
    pub caller: CallerInput<'a>,
    /// Action parameters (a JSON object; `None`/`null` means `{}`).
    pub params: Option<&'a serde_json::Value>,
    /// Record every rule considered in [`Decision::trace`].
    pub explain: bool,
}

/// Why one rule did or did not decide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TraceEntry {
    /// Rule name.
    pub rule: String,
    /// Its priority.
    pub priority: i64,
    /// Its specificity (number of match fields set).
    pub specificity: u8,
    /// Its decision.
    pub decision: DecisionResult,
    /// Whether every selector matched.
    pub matched: bool,
    /// `winner`, `outranked by …`, or the first selector that did not match.
    pub note: String,
}

/// The answer to a check. The same type (and JSON) everywhere: the Rust API,
/// `agent-safe check --output json`, the HTTP API and the Python `to_dict()`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Decision {
    /// `allow`, `deny` or `require_approval`.
    pub result: DecisionResult,
    /// Why, in words an agent (or a human) can act on.
    pub reason: String,
    /// The winning rule, or null (default deny, or a failure before rules ran).
    pub policy_matched: Option<String>,
    /// The action asked about (as given when it is unknown).
    pub action: String,
    /// The resolved action version.
    pub action_version: Option<String>,
    /// The target id (given or resolved from the params).
    pub target: Option<String>,
    /// The caller's agent id, when known.
    pub caller: Option<String>,
    /// The action's risk class (`critical` for an unknown action).
    pub risk_class: RiskClass,
    /// Action risk × target sensitivity.
    pub effective_risk: RiskClass,
    /// The audit event id, once logged.
    pub audit_id: Option<String>,
    /// Correlation id (one per check, shared by the steps of a plan).
    pub correlation_id: Option<String>,
    /// The time the decision was evaluated at (RFC 3339, UTC).
    pub evaluated_at: String,
    /// Index of the step within a plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_step: Option<u32>,
    /// Every rule considered, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<Vec<TraceEntry>>,
}

impl Decision {
    /// True only for `allow`.
    pub fn allowed(&self) -> bool {
        self.result == DecisionResult::Allow
    }
}

/// The answer to a multi-step plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanDecision {
    /// The most restrictive step result (`allow` only when every step is allowed).
    pub result: DecisionResult,
    /// Shared by every step.
    pub correlation_id: String,
    /// One decision per step, in order.
    pub steps: Vec<Decision>,
}
