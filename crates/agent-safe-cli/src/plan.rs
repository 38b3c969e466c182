//! Plan files for `check-plan`: a list of steps, or `{steps: [...], caller: ...}`.
//!
//! Parsed strictly with the core's located YAML tree (JSON is read the same
//! way), so every problem names file:line:col and unknown keys are errors.

use std::path::Path;

use agent_safe_core::CheckRequest;
use agent_safe_core::diag::{ConfigError, Diagnostic, Diagnostics};
use agent_safe_core::load::read_file;
use agent_safe_core::yaml::{self, MapReader, Node, Value, type_error};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A plan file (`agent-safe schema plan`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
#[schemars(title = "agent-safe plan file")]
pub enum PlanFile {
    /// Just the steps.
    Steps(Vec<PlanStep>),
    /// Steps with a default caller.
    Plan(PlanDoc),
}

/// The mapping form of a plan file.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanDoc {
    /// What the plan does (for people; not interpreted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The caller of every step that names none (a plain agent id or a JWT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    /// The steps, in order (at least one).
    pub steps: Vec<PlanStep>,
}

/// One step: the fields of a check.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanStep {
    /// `name` or `name@version`.
    pub action: String,
    /// Inventory id of the target (else resolved from the params).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// A plain agent id or a JWT (default: the plan's `caller`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    /// Action parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<serde_json::Map<String, serde_json::Value>>,
    /// Free context recorded in the audit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<serde_json::Map<String, serde_json::Value>>,
}

const PLAN_KEYS: &[&str] = &["description", "caller", "steps"];
const STEP_KEYS: &[&str] = &["action", "target", "caller", "params", "context"];

/// Reads a plan file into check requests.
pub(crate) fn load_plan(path: &Path) -> Result<Vec<CheckRequest>, ConfigError> {
    let src = read_file(path)?;
    let root = yaml::parse(&src.path, &src.text).map_err(ConfigError::single)?;
    let file = src.path.as_path();
    let mut d = Diagnostics::new();
    let mut default_caller = None;
    let steps_node: &Node = match &root.value {
        Value::Seq(_) => &root,
        Value::Map(_) => {
            let mut steps = None;
            if let Some(mut r) = MapReader::new(file, &root, "plan", PLAN_KEYS, &mut d) {
                let _ = r.opt_str("description", &mut d);
                default_caller = r.opt_str("caller", &mut d).map(|(s, _)| s);
                steps = r.require("steps", &mut d);
                r.finish(&mut d);
            }
            match steps {
                Some(s) => s,
                None => return Err(finish_err(d)),
            }
        }
        other => {
            d.push(
                Diagnostic::error(
                    file,
                    root.pos,
                    format!(
                        "expected a plan (a list of steps, or a mapping with `steps:`), found {}",
                        other.kind()
                    ),
                )
                .with_help("write `steps:` followed by one `- action: ...` per step"),
            );
            return Err(finish_err(d));
        }
    };
    let mut out = Vec::new();
    if let Some(items) = yaml::list_of(file, steps_node, "steps", &mut d) {
        if items.is_empty() {
            d.push(
                Diagnostic::error(file, steps_node.pos, "the plan has no steps")
                    .with_help("add at least one step: `- action: <name>`"),
            );
        }
        for item in items {
            if let Some(step) = read_step(file, item, default_caller.as_deref(), &mut d) {
                out.push(step);
            }
        }
    }
    d.finish(out)
}

fn finish_err(d: Diagnostics) -> ConfigError {
    ConfigError {
        diagnostics: d.into_vec(),
    }
}

fn read_step(
    file: &Path,
    node: &Node,
    default_caller: Option<&str>,
    d: &mut Diagnostics,
) -> Option<CheckRequest> {
    let mut r = MapReader::new(file, node, "plan step", STEP_KEYS, d)?;
    let action = r.req_str("action", d).map(|(s, _)| s);
    let target = r.opt_str("target", d).map(|(s, _)| s);
    let caller = r.opt_str("caller", d).map(|(s, _)| s);
    let params = r
        .take("params")
        .and_then(|n| mapping_json(file, n, "params", d));
    let context = r
        .take("context")
        .and_then(|n| mapping_json(file, n, "context", d));
    r.finish(d);
    Some(CheckRequest {
        action: action?,
        target,
        caller: caller.or_else(|| default_caller.map(str::to_owned)),
        params,
        context,
        ..CheckRequest::default()
    })
}

/// A mapping node as a JSON object; anything else is an error.
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
