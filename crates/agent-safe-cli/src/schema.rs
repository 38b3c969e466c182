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
        "mcp",
        "the MCP gateway's settings and tool mapping (the `mcp:` section of agent-safe.yaml, or the file it names)",
    ),
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

/// Where the committed schemas are published (the `$id` of each).
pub const SCHEMA_BASE: &str =
    "https://raw.githubusercontent.com/agent-safe/agent-safe/main/schemas/";

/// The JSON Schema of `kind`, pretty-printed with a final newline; `None`
/// for an unknown kind.
pub fn generate(kind: &str) -> Option<String> {
    let schema = match kind {
        "action" => schemars::schema_for!(agent_safe_core::model::ActionDef),
        "policy" => schemars::schema_for!(agent_safe_core::model::PolicyFile),
        "inventory" => schemars::schema_for!(agent_safe_core::model::InventoryFile),
        "config" => schemars::schema_for!(agent_safe_core::config::Config),
        "mcp" => schemars::schema_for!(agent_safe_core::mapping::McpSettings),
        "tests" => schemars::schema_for!(crate::testfile::TestFile),
        "plan" => schemars::schema_for!(agent_safe_core::PlanRequest),
        "decision" => schemars::schema_for!(agent_safe_core::Decision),
        _ => return None,
    };
    let mut schema = schema.to_value();
    if let Some(obj) = schema.as_object_mut() {
        // An absolute id, so that editors and validators can cache and refer
        // to it; the committed copy lives at this path of the repository.
        obj.insert(
            "$id".to_owned(),
            serde_json::Value::String(format!("{SCHEMA_BASE}{kind}.schema.json")),
        );
    }
    let mut text = serde_json::to_string_pretty(&schema).ok()?;
    text.push('\n');
    Some(text)
}
