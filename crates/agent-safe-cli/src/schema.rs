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

#[cfg(test)]
#[expect(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly: a panic is the failure report"
)]
mod tests {
    use std::collections::BTreeSet;

    use agent_safe_core::load::{AcceptedKeys, accepted_keys};
    use serde_json::Value;

    use super::generate;
    use crate::testfile;

    /// The properties of the mapping `definition` (the top level when
    /// `None`) of `kind`'s schema. A top level that is a choice (a plan is a
    /// list of steps or a mapping) is the member that has properties.
    fn properties(kind: &str, definition: Option<&str>) -> BTreeSet<String> {
        let schema: Value = serde_json::from_str(&generate(kind).unwrap()).unwrap();
        let object = match definition {
            Some(name) => schema["$defs"][name].clone(),
            None if schema.get("properties").is_some() => schema.clone(),
            None => ["anyOf", "oneOf"]
                .iter()
                .filter_map(|k| schema.get(*k).and_then(Value::as_array))
                .flatten()
                .find(|m| m.get("properties").is_some())
                .cloned()
                .unwrap_or_else(|| panic!("{kind}: no mapping at the top level")),
        };
        let props = object["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{kind} {definition:?}: no `properties` in the schema"));
        assert_eq!(
            object.get("additionalProperties"),
            Some(&Value::Bool(false)),
            "{kind} {definition:?}: the schema must refuse unknown keys, as the loader does"
        );
        props.keys().cloned().collect()
    }

    fn the_cli_test_file() -> Vec<AcceptedKeys> {
        let k = |definition, keys: &[&'static str]| AcceptedKeys {
            kind: "tests",
            definition,
            keys: keys.to_vec(),
        };
        vec![
            k(None, testfile::FILE_KEYS),
            k(Some("TestCase"), testfile::CASE_KEYS),
            k(Some("TestRequest"), testfile::REQUEST_KEYS),
            k(Some("Claims"), testfile::CLAIM_KEYS),
        ]
    }

    /// One source of truth per file format: every mapping the loaders read
    /// accepts exactly the keys its JSON Schema lists.
    #[test]
    fn loaders_accept_exactly_the_keys_the_schemas_list() {
        let all: Vec<AcceptedKeys> = accepted_keys()
            .into_iter()
            .chain(the_cli_test_file())
            .collect();
        let mut mismatches = Vec::new();
        for a in &all {
            let loader: BTreeSet<String> = a.keys.iter().map(|k| (*k).to_owned()).collect();
            let schema = properties(a.kind, a.definition);
            if loader != schema {
                mismatches.push(format!(
                    "{} {}: only the loader accepts {:?}; only the schema lists {:?}",
                    a.kind,
                    a.definition.unwrap_or("(top level)"),
                    loader.difference(&schema).collect::<Vec<_>>(),
                    schema.difference(&loader).collect::<Vec<_>>(),
                ));
            }
        }
        assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
        // Every file kind a user writes is covered.
        let kinds: BTreeSet<&str> = all.iter().map(|a| a.kind).collect();
        for (kind, _) in super::KINDS {
            if *kind != "decision" {
                assert!(kinds.contains(kind), "no accepted keys for `{kind}`");
            }
        }
    }

    /// And every mapping the schemas describe is one a loader reads.
    #[test]
    fn every_schema_mapping_has_a_loader_key_list() {
        let all: Vec<AcceptedKeys> = accepted_keys()
            .into_iter()
            .chain(the_cli_test_file())
            .collect();
        for (kind, _) in super::KINDS {
            if *kind == "decision" {
                continue;
            }
            let schema: Value = serde_json::from_str(&generate(kind).unwrap()).unwrap();
            let defs = schema["$defs"].as_object().cloned().unwrap_or_default();
            for (name, def) in defs {
                if def.get("properties").is_some() {
                    assert!(
                        all.iter()
                            .any(|a| a.kind == *kind && a.definition == Some(name.as_str())),
                        "{kind}: schema definition `{name}` has no loader key list"
                    );
                }
            }
        }
    }
}
