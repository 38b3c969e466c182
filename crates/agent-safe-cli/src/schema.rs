//! JSON Schemas of every file kind (`agent-safe schema KIND`), also committed
//! under `schemas/` at the repository root.

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
        "plan" => schemars::schema_for!(agent_safe_core::PlanRequest),
        "decision" => schemars::schema_for!(agent_safe_core::Decision),
        _ => return None,
    };
    let mut text = serde_json::to_string_pretty(&schema).ok()?;
    text.push('\n');
    Some(text)
}
