//! The HTTP API's own types, and schema-only mirrors of the core's.
//!
//! The core types (`CheckRequest`, `Decision`, `PlanDecision`, `ActionDef`)
//! know nothing of OpenAPI, so the types suffixed `Doc` here exist only to
//! describe them in `/openapi.json`; they are never (de)serialised. Tests
//! (`tests/openapi.rs`) keep them honest: the properties of each mirror must
//! be exactly the keys the real type serialises.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::state::ReloadStatus;

/// `allow`, `deny` or `require_approval`.
#[derive(ToSchema)]
#[schema(as = DecisionResult)]
#[serde(rename_all = "snake_case")]
pub enum DecisionResultDoc {
    /// The action may run.
    Allow,
    /// A human must approve first.
    RequireApproval,
    /// The action must not run.
    Deny,
}

/// `low`, `medium`, `high` or `critical`.
#[derive(ToSchema)]
#[schema(as = RiskClass)]
#[serde(rename_all = "snake_case")]
pub enum RiskClassDoc {
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

/// The JSON type of a parameter.
#[derive(ToSchema)]
#[schema(as = ParamType)]
#[serde(rename_all = "snake_case")]
pub enum ParamTypeDoc {
    /// A string.
    String,
    /// An integer.
    Integer,
    /// Any number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// A list.
    Array,
    /// A mapping.
    Object,
}

/// One check. An `Authorization: Bearer <JWT>` header, when present, is the
/// caller and replaces `caller`. Unknown fields are refused (400); so is `at`:
/// the HTTP API never takes an evaluation time; and so is a key repeated at
/// any depth of `params` or `context`.
#[derive(ToSchema)]
#[schema(as = CheckRequest)]
#[serde(deny_unknown_fields)]
pub struct CheckRequestDoc {
    /// `name` or `name@version`.
    pub action: String,
    /// Inventory id of the target (else resolved from the params).
    pub target: Option<String>,
    /// A plain agent id or a JWT (ignored when a bearer token is sent).
    pub caller: Option<String>,
    /// Action parameters (a JSON object; a repeated key is refused).
    #[schema(value_type = Option<Object>)]
    pub params: Option<serde_json::Value>,
    /// Free context recorded in the audit log (e.g. the agent's run id).
    #[schema(value_type = Option<Object>)]
    pub context: Option<serde_json::Value>,
    /// Links this check to others (one is generated when absent): at most
    /// 128 printable ASCII characters.
    pub correlation_id: Option<String>,
    /// Include the trace of every rule considered.
    #[serde(default)]
    pub explain: bool,
}

/// A human's answer to a `require_approval` decision (`POST /v1/approvals`).
#[derive(ToSchema)]
#[schema(as = ApprovalRequest)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRequestDoc {
    /// The `audit_id` of the `require_approval` decision being answered.
    pub audit_id: String,
    /// `true` to approve, `false` to reject.
    pub approved: bool,
    /// Why (recorded as the approval event's `reason`).
    pub comment: Option<String>,
    /// The person's name as the approving system knows them; recorded as
    /// given, beside the verified approver id from the bearer token.
    pub approver_name: Option<String>,
}

/// What was recorded.
#[derive(ToSchema)]
#[schema(as = ApprovalReceipt)]
pub struct ApprovalReceiptDoc {
    /// The id of the `approval` event in the audit log.
    pub event_id: String,
    /// The decision answered.
    pub audit_id: String,
    /// Its correlation id, shared by the approval event.
    pub correlation_id: Option<String>,
    /// The action of the decision (from the log).
    pub action: Option<String>,
    /// The target of the decision (from the log).
    pub target: Option<String>,
    /// The verified approver: the bearer token's `agent_id`.
    pub approver: String,
    /// Approved or rejected.
    pub approved: bool,
}

/// A multi-step plan: exactly the core `PlanRequest`, as a `check-plan`
/// file holds it and the Python `check_plan` builds it. Also accepted: a
/// bare list of steps. Refused (400): no steps, more than 1000, unknown
/// fields (a step's own `correlation_id` among them), a key repeated at any
/// depth of `params` or `context`, and `at`.
#[derive(ToSchema)]
#[schema(as = PlanRequest)]
#[serde(deny_unknown_fields)]
pub struct PlanRequestDoc {
    /// What the plan does (for people; not interpreted).
    pub description: Option<String>,
    /// The caller of every step that names none (ignored when a bearer
    /// token is sent).
    pub caller: Option<String>,
    /// Shared by every step (one is generated when absent): at most 128
    /// printable ASCII characters.
    pub correlation_id: Option<String>,
    /// Include the rule trace of every step.
    #[serde(default)]
    pub explain: bool,
    /// The steps, in order (1 to 1000).
    pub steps: Vec<PlanStepDoc>,
}

/// One step of a plan: the fields of a check, without `correlation_id`
/// (every step shares the plan's).
#[derive(ToSchema)]
#[schema(as = PlanStep)]
#[serde(deny_unknown_fields)]
pub struct PlanStepDoc {
    /// `name` or `name@version`.
    pub action: String,
    /// Inventory id of the target (else resolved from the params).
    pub target: Option<String>,
    /// A plain agent id or a JWT (default: the plan's `caller`; ignored
    /// when a bearer token is sent).
    pub caller: Option<String>,
    /// Action parameters (a JSON object; a repeated key is refused).
    #[schema(value_type = Option<Object>)]
    pub params: Option<serde_json::Value>,
    /// Free context recorded in the audit log.
    #[schema(value_type = Option<Object>)]
    pub context: Option<serde_json::Value>,
    /// Include the rule trace of this step.
    #[serde(default)]
    pub explain: bool,
}

/// Why one rule did or did not decide.
#[derive(ToSchema)]
#[schema(as = TraceEntry)]
pub struct TraceEntryDoc {
    /// Rule name.
    pub rule: String,
    /// Its priority.
    pub priority: i64,
    /// Its specificity (number of match fields set).
    pub specificity: u8,
    /// Its decision.
    pub decision: DecisionResultDoc,
    /// Whether every selector matched.
    pub matched: bool,
    /// `winner`, `outranked by …`, or the first selector that did not match.
    pub note: String,
}

/// The answer to a check: exactly the core `Decision`, as the CLI's
/// `--output json` and the Python `to_dict()` print it.
#[derive(ToSchema)]
#[schema(as = Decision)]
pub struct DecisionDoc {
    /// The answer.
    pub result: DecisionResultDoc,
    /// Why, in words an agent (or a human) can act on.
    pub reason: String,
    /// The winning rule, or null (default deny, or a failure before rules ran).
    #[schema(required = true)]
    pub policy_matched: Option<String>,
    /// The action asked about (as given when it is unknown).
    pub action: String,
    /// The resolved action version (null for an unknown action).
    #[schema(required = true)]
    pub action_version: Option<String>,
    /// The target id (given or resolved from the params).
    #[schema(required = true)]
    pub target: Option<String>,
    /// The caller's agent id, when known.
    #[schema(required = true)]
    pub caller: Option<String>,
    /// The action's risk class (`critical` for an unknown action).
    pub risk_class: RiskClassDoc,
    /// Action risk × target sensitivity.
    pub effective_risk: RiskClassDoc,
    /// The audit event id (null only when the audit log is disabled).
    #[schema(required = true)]
    pub audit_id: Option<String>,
    /// Correlation id (one per check, shared by the steps of a plan).
    #[schema(required = true)]
    pub correlation_id: Option<String>,
    /// The time the decision was evaluated at (RFC 3339, UTC).
    pub evaluated_at: String,
    /// Index of the step within a plan (plans only).
    pub plan_step: Option<u32>,
    /// Every rule considered (only when `explain` was set).
    pub trace: Option<Vec<TraceEntryDoc>>,
}

/// The answer to a plan.
#[derive(ToSchema)]
#[schema(as = PlanDecision)]
pub struct PlanDecisionDoc {
    /// The most restrictive step result (`allow` only when every step is allowed).
    pub result: DecisionResultDoc,
    /// Shared by every step.
    pub correlation_id: String,
    /// One decision per step, in order.
    pub steps: Vec<DecisionDoc>,
}

/// Limits on a parameter's value.
#[derive(ToSchema)]
#[schema(as = Constraints)]
pub struct ConstraintsDoc {
    /// Smallest allowed number (inclusive).
    pub min_value: Option<f64>,
    /// Largest allowed number (inclusive).
    pub max_value: Option<f64>,
    /// Shortest allowed string (characters) or array (items).
    pub min_length: Option<u64>,
    /// Longest allowed string (characters) or array (items).
    pub max_length: Option<u64>,
    /// Regular expression the whole string must match.
    pub pattern: Option<String>,
    /// The allowed values.
    #[serde(rename = "enum")]
    #[schema(value_type = Option<Vec<Value>>)]
    pub enum_values: Option<Vec<serde_json::Value>>,
}

/// One parameter of an action.
#[derive(ToSchema)]
#[schema(as = Parameter)]
pub struct ParameterDoc {
    /// Parameter name.
    pub name: String,
    /// JSON type.
    #[serde(rename = "type")]
    pub param_type: ParamTypeDoc,
    /// Whether the parameter must be given.
    pub required: bool,
    /// What the parameter means.
    pub description: Option<String>,
    /// Value used when the parameter is absent.
    #[schema(value_type = Option<Value>)]
    pub default: Option<serde_json::Value>,
    /// Limits on the value.
    pub constraints: Option<ConstraintsDoc>,
}

/// Something an executor must verify before running the action.
#[derive(ToSchema)]
#[schema(as = Precheck)]
pub struct PrecheckDoc {
    /// Short identifier.
    pub name: String,
    /// What to verify.
    pub description: String,
}

/// An action definition, as `agent-safe show-action --output json` prints it.
#[derive(ToSchema)]
#[schema(as = ActionDef)]
pub struct ActionDefDoc {
    /// Action name.
    pub name: String,
    /// Semantic version `X.Y.Z`.
    pub version: String,
    /// What the action does.
    pub description: String,
    /// Accepted parameters.
    pub parameters: Vec<ParameterDoc>,
    /// Inherent risk of the action.
    pub risk_class: RiskClassDoc,
    /// Target types the action applies to.
    pub target_types: Vec<String>,
    /// What an executor must verify first.
    pub prechecks: Vec<PrecheckDoc>,
    /// Whether the action can be undone.
    pub reversible: bool,
    /// The inverse action, if any.
    pub rollback_action: Option<String>,
    /// Kubernetes RBAC as `[group/]resource[/subresource]:verb`.
    pub required_privileges: Vec<String>,
    /// Target coordinate (`cluster`, `namespace`, `name`) → parameter that carries it.
    pub target_params: BTreeMap<String, String>,
    /// Free-form tags.
    pub tags: Vec<String>,
    /// Reserved: preserved, not interpreted yet.
    #[schema(value_type = Option<Value>)]
    pub credentials: Option<serde_json::Value>,
    /// Reserved: preserved, not interpreted yet.
    #[schema(value_type = Option<Value>)]
    pub state_fields: Option<serde_json::Value>,
    /// Reserved: preserved, not interpreted yet.
    #[schema(value_type = Option<Value>)]
    pub rollback_params: Option<serde_json::Value>,
}

/// Filters of `GET /v1/actions`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ActionsQuery {
    /// Only actions carrying this tag.
    pub tag: Option<String>,
    /// Only actions of this risk class: `low`, `medium`, `high`, `critical`.
    pub risk: Option<String>,
}

/// `GET /healthz`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HealthBody {
    /// Always `ok`: the process is alive and serving HTTP.
    pub status: &'static str,
}

/// What the snapshot in use holds.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SnapshotInfo {
    /// When it was loaded (RFC 3339, UTC).
    pub loaded_at: String,
    /// Action names in the registry.
    pub actions: usize,
    /// Policy rules.
    pub rules: usize,
    /// Inventory targets.
    pub targets: usize,
    /// Its digest (`sha256:…`), as every decision event records it.
    pub digest: Option<String>,
}

/// The shadow candidate, in `/readyz` (present only with a `shadow` section).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShadowBody {
    /// `policies` or `config`.
    pub kind: String,
    /// The candidate's policy directory or configuration file.
    pub path: String,
    /// The digest of the candidate in use (`sha256:…`), as the audit
    /// events' `shadow.snapshot` records it; null when none has loaded.
    pub snapshot: Option<String>,
    /// Why the most recent load of the candidate failed (the previous
    /// candidate, if any, stays in use), or null.
    pub error: Option<String>,
}

/// `GET /readyz`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReadyBody {
    /// `ready` or `not_ready` (shutting down).
    pub status: &'static str,
    /// The snapshot in use.
    pub snapshot: SnapshotInfo,
    /// The most recent reload attempt (null before the first). A failed
    /// reload keeps the previous snapshot in use and the server ready; the
    /// error is here and in `/metrics`.
    pub last_reload: Option<ReloadStatus>,
    /// The live inventory (`inventory_sync.live`; absent without it): not
    /// ready until its first list succeeded, then ready with the last good
    /// inventory and its staleness.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inventory: Option<crate::state::InventoryStatus>,
    /// The shadow candidate, when the configuration has a `shadow` section
    /// (absent otherwise). It is evaluated on every check and never enforced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shadow: Option<ShadowBody>,
}

#[cfg(test)]
mod tests {
    /// Serialising `Decision` through the core is what the API returns; this
    /// only makes sure the mirror enum spells the values the same way.
    #[test]
    fn result_spellings() {
        let spelled: Vec<&str> = agent_safe_core::DecisionResult::ALL
            .iter()
            .map(|r| r.as_str())
            .collect();
        assert_eq!(spelled, ["allow", "require_approval", "deny"]);
    }
}
