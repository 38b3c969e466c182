//! Plan files for `check-plan`: the core's [`PlanRequest`], read from a file.
//!
//! A `.json` file is read exactly as the sidecar reads a `/v1/check-plan`
//! body (strict JSON, a repeated key refused at any depth); any other file
//! as YAML through the core's located tree. Either way every problem names
//! file:line:col.

use std::path::Path;

use agent_safe_core::PlanRequest;
use agent_safe_core::diag::{ConfigError, Diagnostic, Diagnostics, Pos};
use agent_safe_core::load::read_file;
use agent_safe_core::yaml::{Node, Value, type_error};

/// Reads and checks a plan file.
pub(crate) fn load_plan(path: &Path) -> Result<PlanRequest, ConfigError> {
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if !is_json {
        return agent_safe_core::plan::load_plan(path);
    }
    let src = read_file(path)?;
    let plan = PlanRequest::from_json(&src.text).map_err(|e| {
        let text = e.to_string();
        // serde_json appends " at line L column C": we report it as the position.
        let message = text
            .rfind(" at line ")
            .and_then(|i| text.get(..i))
            .unwrap_or(&text);
        let pos = u32::try_from(e.line())
            .ok()
            .zip(u32::try_from(e.column()).ok())
            .map_or(Pos::FILE, |(l, c)| Pos::new(l, c));
        let help = if message.contains("duplicate") {
            "each key may appear once in a JSON object: remove the repeated key"
        } else {
            "a plan is a list of steps, or an object with `steps`; `agent-safe schema plan` prints the JSON Schema"
        };
        ConfigError::single(
            Diagnostic::error(&src.path, pos, format!("invalid plan: {message}")).with_help(help),
        )
    })?;
    plan.validate().map_err(|e| {
        ConfigError::single(
            Diagnostic::error(&src.path, Pos::FILE, e.to_string())
                .with_help("a plan needs 1 to 1000 steps"),
        )
    })?;
    Ok(plan)
}

/// A mapping node as a JSON object; anything else is an error (policy test
/// files).
pub(crate) fn mapping_json(
    file: &Path,
    node: &Node,
    key: &str,
    d: &mut Diagnostics,
) -> Option<serde_json::Value> {
    match &node.value {
        Value::Map(_) => Some(node.value.to_json()),
        other => {
            d.push(
                type_error(file, node, key, "a mapping", other)
                    .with_help(format!("write `{key}: {{name: value, ...}}`")),
            );
            None
        }
    }
}
