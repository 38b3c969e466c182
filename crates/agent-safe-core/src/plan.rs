//! [`PlanRequest`]: the one multi-step plan type. It is the body of
//! `POST /v1/check-plan`, the content of a `check-plan` file (JSON or YAML)
//! and what the Python `check_plan(steps, ...)` builds, so every surface
//! accepts the same fields and gives the same answer:
//!
//! * an empty plan is refused ([`PlanError::NoSteps`]): nothing was asked,
//!   and nothing would be audited, so it is an error, never a decision;
//! * more than [`MAX_PLAN_STEPS`] steps are refused;
//! * a step may set `explain` (its own trace) and `caller` (else the plan's);
//!   it may not set `correlation_id`: every step shares the plan's;
//! * unknown keys are refused, and so is a repeated key at any depth of
//!   `params` and `context` ([`crate::json`]).
//!
//! JSON is read with serde ([`PlanRequest`] implements `Deserialize`); plan
//! files are read by [`read_plan`] from the located YAML tree (JSON is YAML),
//! so their errors name file:line:col. Both readers share the key lists
//! below; a test keeps them in step.

use std::fmt;
use std::path::Path;

use schemars::JsonSchema;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value as Json;

use crate::CheckRequest;
use crate::diag::{ConfigError, Diagnostic, Diagnostics};
use crate::yaml::{self, MapReader, Node, Value};

/// The most steps a plan may have.
pub const MAX_PLAN_STEPS: usize = 1000;

/// The keys of a plan (the mapping form).
pub(crate) const PLAN_KEYS: &[&str] = &[
    "description",
    "caller",
    "correlation_id",
    "explain",
    "steps",
];
/// The keys of one step.
pub(crate) const STEP_KEYS: &[&str] =
    &["action", "target", "caller", "params", "context", "explain"];

/// A multi-step plan: a list of steps, or a mapping with `steps` and options
/// shared by every step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "agent-safe plan", transform = list_form)]
pub struct PlanRequest {
    /// What the plan does (for people; not interpreted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The caller of every step that names none (a plain agent id or a JWT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    /// Shared by every step (one is generated when absent): at most 128
    /// printable ASCII characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// Include the rule trace of every step.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub explain: bool,
    /// The steps, in order (1 to 1000).
    pub steps: Vec<PlanStep>,
}

/// One step of a plan: the fields of a check, without `correlation_id`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
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
    /// Action parameters (a JSON object; a repeated key is refused).
    #[serde(
        default,
        deserialize_with = "crate::json::params",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<serde_json::Map<String, Json>>")]
    pub params: Option<Json>,
    /// Free context recorded in the audit log.
    #[serde(
        default,
        deserialize_with = "crate::json::context",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<serde_json::Map<String, Json>>")]
    pub context: Option<Json>,
    /// Include the rule trace of this step.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub explain: bool,
}

/// The schema accepts the list form too: `oneOf` the list of steps and the
/// mapping.
fn list_form(schema: &mut schemars::Schema) {
    let mut mapping = schema.clone().to_value();
    let Some(m) = mapping.as_object_mut() else {
        return;
    };
    let title = m.remove("title");
    let description = m.remove("description");
    let Some(steps) = m.get("properties").and_then(|p| p.get("steps")).cloned() else {
        return;
    };
    let mut out = serde_json::Map::new();
    if let Some(t) = title {
        out.insert("title".to_owned(), t);
    }
    if let Some(d) = description {
        out.insert("description".to_owned(), d);
    }
    out.insert("oneOf".to_owned(), Json::Array(vec![steps, mapping]));
    if let Ok(s) = schemars::Schema::try_from(Json::Object(out)) {
        *schema = s;
    }
}

/// Why a plan cannot be checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// No steps.
    #[error("the plan has no steps: add at least one")]
    NoSteps,
    /// Over [`MAX_PLAN_STEPS`].
    #[error("the plan has {0} steps; the limit is {MAX_PLAN_STEPS}: split it")]
    TooManySteps(usize),
}

impl PlanRequest {
    /// A plan of these steps with no shared options.
    pub fn new(steps: Vec<PlanStep>) -> Self {
        PlanRequest {
            steps,
            ..PlanRequest::default()
        }
    }

    /// Refuses an empty plan and one over [`MAX_PLAN_STEPS`].
    pub fn validate(&self) -> Result<(), PlanError> {
        match self.steps.len() {
            0 => Err(PlanError::NoSteps),
            n if n > MAX_PLAN_STEPS => Err(PlanError::TooManySteps(n)),
            _ => Ok(()),
        }
    }

    /// The check of every step, with the plan's options applied (a step
    /// without `caller` gets the plan's; `explain` on the plan explains every
    /// step). The plan's `correlation_id` is for [`crate::AgentSafe::check_plan`].
    pub fn checks(&self) -> Result<Vec<CheckRequest>, PlanError> {
        self.validate()?;
        Ok(self
            .steps
            .iter()
            .map(|s| CheckRequest {
                action: s.action.clone(),
                target: s.target.clone(),
                caller: s.caller.clone().or_else(|| self.caller.clone()),
                params: s.params.clone(),
                context: s.context.clone(),
                correlation_id: None,
                explain: s.explain || self.explain,
                verified_caller: None,
            })
            .collect())
    }

    /// Parses JSON text strictly (see the module documentation).
    pub fn from_json(text: &str) -> Result<PlanRequest, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// The mapping form, as serde derives it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanDoc {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    caller: Option<String>,
    #[serde(default)]
    correlation_id: Option<String>,
    #[serde(default)]
    explain: bool,
    #[serde(deserialize_with = "steps")]
    steps: Vec<PlanStep>,
}

impl<'de> Deserialize<'de> for PlanRequest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PlanVisitor)
    }
}

struct PlanVisitor;

impl<'de> Visitor<'de> for PlanVisitor {
    type Value = PlanRequest;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a plan: a list of steps, or an object with `steps`")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<PlanRequest, A::Error> {
        Ok(PlanRequest::new(StepsVisitor.visit_seq(seq)?))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<PlanRequest, A::Error> {
        let doc = PlanDoc::deserialize(MapAccessDeserializer::new(map))?;
        Ok(PlanRequest {
            description: doc.description,
            caller: doc.caller,
            correlation_id: doc.correlation_id,
            explain: doc.explain,
            steps: doc.steps,
        })
    }
}

fn steps<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<PlanStep>, D::Error> {
    d.deserialize_seq(StepsVisitor)
}

/// The steps, each error prefixed with the step's index (`steps[2]: ...`).
struct StepsVisitor;

impl<'de> Visitor<'de> for StepsVisitor {
    type Value = Vec<PlanStep>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of steps")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<PlanStep>, A::Error> {
        let mut out = Vec::new();
        loop {
            let i = out.len();
            if i > MAX_PLAN_STEPS {
                // Stop reading: the plan is refused whatever follows.
                return Err(de::Error::custom(PlanError::TooManySteps(i)));
            }
            // serde_json keeps the inner error's line and column through
            // `custom` (it parses them back out of the message).
            match seq
                .next_element::<PlanStep>()
                .map_err(|e| de::Error::custom(format_args!("steps[{i}]: {e}")))?
            {
                Some(step) => out.push(step),
                None => return Ok(out),
            }
        }
    }
}

/// Reads and checks a plan file (JSON or YAML).
pub fn load_plan(path: &Path) -> Result<PlanRequest, ConfigError> {
    let src = crate::load::read_file(path)?;
    let root = yaml::parse(&src.path, &src.text).map_err(ConfigError::single)?;
    read_plan(&src.path, &root)
}

/// Reads a plan from a located tree, recording every problem with its
/// position; an empty or oversized plan is an error here too.
pub fn read_plan(file: &Path, root: &Node) -> Result<PlanRequest, ConfigError> {
    let mut d = Diagnostics::new();
    let mut plan = PlanRequest::default();
    let steps_node: &Node = match &root.value {
        Value::Seq(_) => root,
        Value::Map(_) => {
            let mut steps = None;
            if let Some(mut r) = MapReader::new(file, root, "plan", PLAN_KEYS, &mut d) {
                plan.description = r.opt_str("description", &mut d).map(|(s, _)| s);
                plan.caller = r.opt_str("caller", &mut d).map(|(s, _)| s);
                plan.correlation_id = r.opt_str("correlation_id", &mut d).map(|(s, _)| s);
                plan.explain = r.opt_bool("explain", &mut d).unwrap_or(false);
                steps = r.require("steps", &mut d);
                r.finish(&mut d);
            }
            match steps {
                Some(s) => s,
                None => return d.finish(plan),
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
            return d.finish(plan);
        }
    };
    if let Some(items) = yaml::list_of(file, steps_node, "steps", &mut d) {
        for item in items {
            if let Some(step) = read_step(file, item, &mut d) {
                plan.steps.push(step);
            }
        }
        if let Err(e) = plan.validate() {
            let help = match e {
                PlanError::NoSteps => "write one `- action: <name>` per step under `steps:`",
                PlanError::TooManySteps(_) => "split the plan into several",
            };
            d.push(Diagnostic::error(file, steps_node.pos, e.to_string()).with_help(help));
        }
    }
    d.finish(plan)
}

fn read_step(file: &Path, node: &Node, d: &mut Diagnostics) -> Option<PlanStep> {
    let mut r = MapReader::new(file, node, "plan step", STEP_KEYS, d)?;
    let action = r.req_str("action", d).map(|(s, _)| s);
    let target = r.opt_str("target", d).map(|(s, _)| s);
    let caller = r.opt_str("caller", d).map(|(s, _)| s);
    // Any JSON value, as over HTTP: the check denies params that are not an
    // object, on every surface alike.
    let params = r.take("params").map(|n| n.value.to_json());
    let context = r.take("context").map(|n| n.value.to_json());
    let explain = r.opt_bool("explain", d).unwrap_or(false);
    r.finish(d);
    Some(PlanStep {
        action: action?,
        target,
        caller,
        params,
        context,
        explain,
    })
}

#[cfg(test)]
#[expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly: a panic is the failure report"
)]
mod tests {
    use super::*;

    fn from_yaml(text: &str) -> Result<PlanRequest, ConfigError> {
        let file = Path::new("plan.yaml");
        let root = yaml::parse(file, text).map_err(ConfigError::single)?;
        read_plan(file, &root)
    }

    #[test]
    fn both_readers_know_the_same_keys() {
        let full = PlanRequest {
            description: Some("d".into()),
            caller: Some("c".into()),
            correlation_id: Some("x".into()),
            explain: true,
            steps: vec![PlanStep {
                action: "a".into(),
                target: Some("t".into()),
                caller: Some("c".into()),
                params: Some(serde_json::json!({})),
                context: Some(serde_json::json!({})),
                explain: true,
            }],
        };
        let v = serde_json::to_value(&full).unwrap();
        let keys = |v: &Json| -> Vec<String> {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        let sorted = |k: &[&str]| -> Vec<String> {
            let mut k: Vec<String> = k.iter().map(|s| (*s).to_owned()).collect();
            k.sort();
            k
        };
        assert_eq!(keys(&v), sorted(PLAN_KEYS));
        assert_eq!(keys(&v["steps"][0]), sorted(STEP_KEYS));
        // The same document through both readers gives the same plan.
        let text = v.to_string();
        assert_eq!(PlanRequest::from_json(&text).unwrap(), full);
        assert_eq!(from_yaml(&text).unwrap(), full);
    }

    #[test]
    fn list_form_and_defaults() {
        let p = PlanRequest::from_json(r#"[{"action": "a"}, {"action": "b", "caller": "me"}]"#)
            .unwrap();
        assert_eq!(p.steps.len(), 2);
        let p = PlanRequest::from_json(
            r#"{"caller": "plan", "explain": true, "steps": [{"action": "a"}, {"action": "b", "caller": "me"}]}"#,
        )
        .unwrap();
        let checks = p.checks().unwrap();
        assert_eq!(checks[0].caller.as_deref(), Some("plan"));
        assert_eq!(checks[1].caller.as_deref(), Some("me"));
        assert!(checks.iter().all(|c| c.explain));
    }

    #[test]
    fn empty_and_oversized_plans_are_refused_by_both_readers() {
        for text in ["[]", r#"{"steps": []}"#] {
            let p = PlanRequest::from_json(text).unwrap();
            assert_eq!(p.checks().unwrap_err(), PlanError::NoSteps);
            let e = from_yaml(text).unwrap_err();
            assert!(e.to_string().contains("the plan has no steps"), "{e}");
        }
        let many = serde_json::to_string(&vec![serde_json::json!({"action": "a"}); 1001]).unwrap();
        let e = PlanRequest::from_json(&many).unwrap_err();
        assert!(e.to_string().contains("the limit is 1000"), "{e}");
        let e = from_yaml(&many).unwrap_err();
        assert!(e.to_string().contains("the limit is 1000"), "{e}");
    }

    #[test]
    fn step_errors_name_the_step_and_keep_the_position() {
        let e = PlanRequest::from_json(
            "{\"steps\": [{\"action\": \"a\"},\n {\"action\": \"b\", \"correlation_id\": \"x\"}]}",
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("steps[1]: unknown field `correlation_id`"),
            "{text}"
        );
        assert_eq!(e.line(), 2, "{text}");
        let e = PlanRequest::from_json(
            r#"{"steps": [{"action": "a", "params": {"ns": "a", "x": {"k": 1, "k": 2}}}]}"#,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("steps[0]: duplicate key `params.x.k`"),
            "{e}"
        );
    }

    #[test]
    fn yaml_and_json_files_refuse_nested_duplicates() {
        let e =
            from_yaml("steps:\n  - action: a\n    params:\n      x:\n        k: 1\n        k: 2\n")
                .unwrap_err();
        assert!(e.to_string().contains("duplicate key `k`"), "{e}");
        assert!(e.to_string().starts_with("plan.yaml:6:"), "{e}");
        let e = from_yaml(r#"{"steps": [{"action": "a", "context": {"r": [{"k": 1, "k": 2}]}}]}"#)
            .unwrap_err();
        assert!(e.to_string().contains("duplicate key `k`"), "{e}");
    }

    #[test]
    fn step_explain_and_top_level_options_are_read_from_files() {
        let p = from_yaml(
            "correlation_id: change-1\nsteps:\n  - action: a\n    explain: true\n  - action: b\n",
        )
        .unwrap();
        assert_eq!(p.correlation_id.as_deref(), Some("change-1"));
        assert!(p.steps[0].explain && !p.steps[1].explain);
        let e = from_yaml("steps:\n  - action: a\n    correlation_id: x\n").unwrap_err();
        assert!(
            e.to_string().contains("unknown key `correlation_id`"),
            "{e}"
        );
    }
}
