//! JSON Schemas of every file kind (`agent-safe schema KIND`), also committed
//! under `schemas/` at the repository root.

use agent_safe_core::model::{DecisionResult, RiskClass};
use schemars::JsonSchema;
use serde::Serialize;

/// The kinds, with what each describes.
pub const KINDS: &[(&str, &str)] = &[
    (
        "action",
        "an action definition (actions/*.yaml, one action per file)",
    ),
    ("policy", "a policy file (policies/*.yaml)"),
    ("inventory", "the target inventory (inventory.yaml)"),
    ("config", "the configuration (agent-safe.yaml)"),
    (
        "tests",
        "a policy test file (tests/*.yaml, for `agent-safe test`)",
    ),
    ("plan", "a plan file (for `agent-safe check-plan`)"),
    (
        "decision",
        "a decision, as `check --output json`, the HTTP API and the Python to_dict() give it",
    ),
];

/// The JSON Schema of `kind`, pretty-printed with a final newline; `None`
/// for an unknown kind.
pub fn generate(kind: &str) -> Option<String> {
    let schema = match kind {
        "action" => schemars::schema_for!(agent_safe_core::model::ActionDef),
        "policy" => schemars::schema_for!(agent_safe_core::model::PolicyFile),
        "inventory" => schemars::schema_for!(agent_safe_core::model::InventoryFile),
        "config" => schemars::schema_for!(agent_safe_core::config::Config),
        "tests" => schemars::schema_for!(crate::testfile::TestFile),
        "plan" => schemars::schema_for!(crate::plan::PlanFile),
        "decision" => schemars::schema_for!(DecisionSchema),
        _ => return None,
    };
    let mut text = serde_json::to_string_pretty(&schema).ok()?;
    text.push('\n');
    Some(text)
}

// `engine::Decision` and `engine::TraceEntry` in the core do not derive
// `JsonSchema` yet; these mirrors describe the same JSON, and a test in
// tests/schemas.rs checks that a real decision has exactly these fields.
// Delete them once the core derives `JsonSchema` on those types.

/// The answer to a check (mirror of `agent_safe_core::Decision`).
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "Decision", title = "agent-safe decision")]
pub struct DecisionSchema {
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
    /// Index of the step within a plan (0-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_step: Option<u32>,
    /// Every rule considered, when asked for (`--explain`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<Vec<TraceEntrySchema>>,
}

/// Why one rule did or did not decide (mirror of `agent_safe_core::engine::TraceEntry`).
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "TraceEntry")]
pub struct TraceEntrySchema {
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
