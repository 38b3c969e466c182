//! agent-safe 0.14's file formats, read as that version reads them, and a
//! reference model of how it decides.
//!
//! The structs below follow 0.14's documented schemas. They are lenient the
//! way 0.14 is: a key it does not know is ignored, not an error.
//!
//! [`Model::evaluate`] decides a request the way 0.14 does, and each
//! [`Semantics`] switch turns one of its behaviours into ours. `migrate`
//! evaluates every converted test with the switches turned on one after the
//! other, so a test whose outcome changes is attributed to the switch that
//! changed it: computed, not guessed.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::model::{DecisionResult, RiskClass, Sensitivity};

/// `agent-safe.yaml` of 0.14. Unknown keys are kept in `other` (0.14 ignores them).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Config {
    pub registry: Option<String>,
    pub policies: Option<String>,
    pub inventory: Option<String>,
    pub audit_log: Option<String>,
    pub signing_key: Option<String>,
    pub issuer: Option<String>,
    pub rate_limit: Option<Value>,
    pub cumulative_risk: Option<Value>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// An action definition of 0.14: the fields the decision depends on.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Action {
    pub name: String,
    #[serde(default)]
    pub parameters: Vec<Param>,
    pub risk_class: RiskClass,
    #[serde(default)]
    pub target_types: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Param {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    #[serde(default = "yes")]
    pub required: bool,
    pub constraints: Option<Constraints>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Constraints {
    pub min_value: Option<f64>,
    pub max_value: Option<f64>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub pattern: Option<String>,
    #[serde(rename = "enum")]
    pub enum_values: Option<Vec<Value>>,
}

/// An inventory target of 0.14.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Target {
    pub id: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub environment: String,
    pub sensitivity: Sensitivity,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// A policy rule of 0.14.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Rule {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub priority: i64,
    #[serde(rename = "match")]
    pub matcher: Match,
    pub decision: DecisionResult,
    pub reason: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Match {
    #[serde(default = "every_action")]
    pub actions: Vec<String>,
    pub targets: Option<TargetSel>,
    pub callers: Option<CallerSel>,
    pub time_windows: Option<Vec<Window>>,
    pub risk_classes: Option<Vec<RiskClass>>,
    pub require_ticket: Option<bool>,
}

fn every_action() -> Vec<String> {
    vec!["*".to_owned()]
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct TargetSel {
    pub environments: Option<Vec<String>>,
    pub sensitivities: Option<Vec<Sensitivity>>,
    pub types: Option<Vec<String>>,
    pub labels: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct CallerSel {
    pub agent_ids: Option<Vec<String>>,
    pub roles: Option<Vec<String>>,
    pub groups: Option<Vec<String>>,
    pub delegated_from: Option<Vec<String>>,
    pub max_delegation_depth: Option<i64>,
    pub require_delegation: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Window {
    pub days: Option<Vec<u8>>,
    #[serde(default)]
    pub start_hour: u8,
    #[serde(default = "last_hour")]
    pub end_hour: u8,
}

fn last_hour() -> u8 {
    23
}

/// A flat test case of 0.14: the request fields beside the expectation.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TestCase {
    pub name: String,
    pub action: String,
    pub target: Option<String>,
    pub caller: Option<String>,
    pub params: Option<Map<String, Value>>,
    pub expect: DecisionResult,
    pub ticket_id: Option<String>,
}

/// Which of 0.14's behaviours are replaced by ours. All `false` is 0.14.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Semantics {
    /// Requests carry no execution ticket (`ticket_id` is not ours).
    pub no_tickets: bool,
    /// Parameters are checked even when the request has none.
    pub check_empty_params: bool,
    /// A target of a type the action does not list is denied.
    pub enforce_target_types: bool,
    /// A target outside the inventory (or none) is denied.
    pub deny_unknown_targets: bool,
    /// Rules are tried in our rank order instead of 0.14's.
    pub ranked: bool,
}

/// A request as a 0.14 test case makes it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Request<'a> {
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub caller: Option<&'a str>,
    pub params: Option<&'a Map<String, Value>>,
    pub ticket_id: Option<&'a str>,
    /// Day of the week (0 = Monday) and hour, UTC.
    pub day: u8,
    pub hour: u8,
}

/// What the model decided, and by which rule (index into [`Model::rules`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub result: DecisionResult,
    pub rule: Option<usize>,
}

impl Outcome {
    fn deny() -> Outcome {
        Outcome {
            result: DecisionResult::Deny,
            rule: None,
        }
    }
}

/// A 0.14 project, ready to evaluate.
#[derive(Debug, Default)]
pub(crate) struct Model {
    pub actions: Vec<Action>,
    /// In 0.14's file order (files by name, rules as written).
    pub rules: Vec<Rule>,
    pub targets: Vec<Target>,
    /// 0.14's order: by priority, highest first, file order among equals.
    pub order_014: Vec<usize>,
    /// Our order: by rank (priority, specificity, restrictiveness), file
    /// order among equals; rules we do not load are left out.
    pub order_ours: Vec<usize>,
}

impl Model {
    pub fn new(actions: Vec<Action>, rules: Vec<Rule>, targets: Vec<Target>) -> Model {
        let mut order_014: Vec<usize> = (0..rules.len()).collect();
        order_014.sort_by_key(|&i| std::cmp::Reverse(rules.get(i).map_or(0, |r| r.priority)));
        Model {
            actions,
            rules,
            targets,
            order_014,
            order_ours: Vec::new(),
        }
    }

    /// Sets our order from the rank of each converted rule (`None`: not converted).
    pub fn set_ranks(&mut self, ranks: &[Option<(i64, u8, u8)>]) {
        let mut order: Vec<(usize, (i64, u8, u8))> = ranks
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.map(|r| (i, r)))
            .collect();
        order.sort_by_key(|(_, r)| std::cmp::Reverse(*r));
        self.order_ours = order.into_iter().map(|(i, _)| i).collect();
    }

    pub fn action(&self, name: &str) -> Option<&Action> {
        self.actions.iter().find(|a| a.name == name)
    }

    pub fn target(&self, id: &str) -> Option<&Target> {
        self.targets.iter().find(|t| t.id == id)
    }

    /// Decides `req` with `sem`.
    pub fn evaluate(&self, req: &Request<'_>, sem: Semantics) -> Outcome {
        let Some(action) = self.action(req.action) else {
            return Outcome::deny();
        };
        let target = req.target.and_then(|id| self.target(id));
        let effective = action
            .risk_class
            .effective(target.map_or(Sensitivity::Critical, |t| t.sensitivity));
        let empty = Map::new();
        let params = req.params.unwrap_or(&empty);
        if (sem.check_empty_params || !params.is_empty())
            && !param_errors(action, params).is_empty()
        {
            return Outcome::deny();
        }
        if sem.deny_unknown_targets && target.is_none() {
            return Outcome::deny();
        }
        if sem.enforce_target_types
            && let Some(t) = target
            && !action.target_types.contains(&t.ty)
        {
            return Outcome::deny();
        }
        let ticket = if sem.no_tickets {
            None
        } else {
            req.ticket_id.filter(|t| !t.is_empty())
        };
        let order = if sem.ranked {
            &self.order_ours
        } else {
            &self.order_014
        };
        for &i in order {
            let Some(rule) = self.rules.get(i) else {
                continue;
            };
            if rule_matches(rule, action, target, req, effective, ticket.is_some()) {
                return Outcome {
                    result: rule.decision,
                    rule: Some(i),
                };
            }
        }
        Outcome::deny()
    }
}

/// 0.14's `fnmatch`: `*`, `?`, `[…]`, case-sensitive.
pub(crate) fn glob_matches(pattern: &str, name: &str) -> bool {
    globset::GlobBuilder::new(pattern)
        .literal_separator(false)
        .backslash_escape(false)
        .build()
        .map(|g| g.compile_matcher().is_match(name))
        .unwrap_or(pattern == name)
}

fn rule_matches(
    rule: &Rule,
    action: &Action,
    target: Option<&Target>,
    req: &Request<'_>,
    effective: RiskClass,
    has_ticket: bool,
) -> bool {
    let m = &rule.matcher;
    m.actions.iter().any(|p| glob_matches(p, &action.name))
        && m.targets
            .as_ref()
            .is_none_or(|s| target.is_some_and(|t| target_matches(s, t)))
        && m.callers
            .as_ref()
            .is_none_or(|s| req.caller.is_some_and(|c| caller_matches(s, c)))
        && m.risk_classes
            .as_ref()
            .is_none_or(|r| r.contains(&effective))
        && m.time_windows
            .as_ref()
            .is_none_or(|w| w.iter().any(|w| window_open(w, req.day, req.hour)))
        && m.require_ticket.is_none_or(|want| want == has_ticket)
}

pub(crate) fn target_matches(s: &TargetSel, t: &Target) -> bool {
    s.environments
        .as_ref()
        .is_none_or(|e| e.contains(&t.environment))
        && s.sensitivities
            .as_ref()
            .is_none_or(|e| e.contains(&t.sensitivity))
        && s.types.as_ref().is_none_or(|e| e.contains(&t.ty))
        && s.labels
            .as_ref()
            .is_none_or(|l| l.iter().all(|(k, v)| t.labels.get(k) == Some(v)))
}

/// A caller given as a plain agent id: no roles, no groups, no delegation.
fn caller_matches(s: &CallerSel, agent_id: &str) -> bool {
    s.agent_ids
        .as_ref()
        .is_none_or(|ids| ids.iter().any(|i| i == agent_id))
        && s.roles.is_none()
        && s.groups.is_none()
        && s.delegated_from.is_none()
        && s.max_delegation_depth.is_none_or(|d| d >= 0)
        && s.require_delegation != Some(true)
}

pub(crate) fn window_open(w: &Window, day: u8, hour: u8) -> bool {
    let day_ok = w.days.as_ref().is_none_or(|d| d.contains(&day));
    let hour_ok = if w.start_hour <= w.end_hour {
        (w.start_hour..=w.end_hour).contains(&hour)
    } else {
        hour >= w.start_hour || hour <= w.end_hour
    };
    day_ok && hour_ok
}

/// 0.14's parameter check: every problem, as its messages say them.
pub(crate) fn param_errors(action: &Action, params: &Map<String, Value>) -> Vec<String> {
    let mut errors = Vec::new();
    for p in &action.parameters {
        if p.required && !params.contains_key(&p.name) {
            errors.push(format!("missing required parameter `{}`", p.name));
        }
    }
    for k in params.keys() {
        if !action.parameters.iter().any(|p| &p.name == k) {
            errors.push(format!("unknown parameter `{k}`"));
        }
    }
    for p in &action.parameters {
        let Some(v) = params.get(&p.name) else {
            continue;
        };
        let type_ok = match p.ty.as_str() {
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "array" => v.is_array(),
            _ => false,
        };
        if !type_ok {
            errors.push(format!("`{}`: expected {}", p.name, p.ty));
            continue;
        }
        let Some(c) = &p.constraints else {
            continue;
        };
        if let Some(n) = v.as_f64()
            && (c.min_value.is_some_and(|m| n < m) || c.max_value.is_some_and(|m| n > m))
        {
            errors.push(format!("`{}`: out of range", p.name));
        }
        if let Some(s) = v.as_str() {
            let len = s.chars().count() as u64;
            if c.min_length.is_some_and(|m| len < m) || c.max_length.is_some_and(|m| len > m) {
                errors.push(format!("`{}`: bad length", p.name));
            }
            if let Some(pat) = &c.pattern {
                let full = regex::Regex::new(&format!("^(?:{pat})$"));
                if !full.is_ok_and(|re| re.is_match(s)) {
                    errors.push(format!("`{}`: does not match `{pat}`", p.name));
                }
            }
        }
        if let Some(allowed) = &c.enum_values {
            // 0.14 compares the value's text (`str(value)`) with the entries.
            let text = python_str(v);
            if !allowed.iter().any(|a| python_str(a) == text) {
                errors.push(format!("`{}`: not an allowed value", p.name));
            }
        }
    }
    errors
}

fn python_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Null => "None".to_owned(),
        other => other.to_string(),
    }
}
