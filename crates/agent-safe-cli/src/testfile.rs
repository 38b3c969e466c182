//! Policy test files for `agent-safe test`.
//!
//! ```yaml
//! tests:
//!   - name: restart in staging is allowed
//!     request: {action: restart-deployment, target: staging/web, caller: ops-agent,
//!               params: {namespace: staging, deployment: web}, at: "2026-03-04T12:00:00Z"}
//!     expect: allow                  # allow | deny | require_approval
//!     policy: allow-low-risk-staging # optional; null asserts the default deny
//!     effective_risk: low            # optional
//!     reason_contains: Low-risk      # optional
//! ```
//!
//! Parsed strictly with the core's located YAML tree: unknown keys and wrong
//! types are errors naming file:line:col. The serde types below only
//! describe the format for `agent-safe schema tests`.

use std::path::{Path, PathBuf};

use agent_safe_core::diag::{Diagnostic, Diagnostics, Pos};
use agent_safe_core::identity::Caller;
use agent_safe_core::load::SourceFile;
use agent_safe_core::model::{DecisionResult, RiskClass};
use agent_safe_core::yaml::{self, Key, MapReader, Node, Value, type_error};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plan::mapping_json;

/// A policy test file (`agent-safe schema tests`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "agent-safe policy tests")]
pub struct TestFile {
    /// The test cases.
    pub tests: Vec<TestCase>,
}

/// One test case: a request and the decision expected for it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    /// What the case shows (unique within the file).
    pub name: String,
    /// The request.
    pub request: TestRequest,
    /// The expected result.
    pub expect: DecisionResult,
    /// The expected winning rule; `null` asserts that no rule decided (default deny).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Option<String>>,
    /// The expected effective risk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_risk: Option<RiskClass>,
    /// Text the reason must contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_contains: Option<String>,
}

/// The request of a test case. At most one of `caller` and `claims`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    /// `name` or `name@version`.
    pub action: String,
    /// Inventory id of the target (else resolved from the params).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// A plain agent id (no roles or groups) or a JWT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    /// A verified identity, as if from a valid token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<Claims>,
    /// Action parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<serde_json::Map<String, serde_json::Value>>,
    /// Free context (as recorded in the audit log of a real check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<serde_json::Map<String, serde_json::Value>>,
    /// Evaluation time, RFC 3339 (default: now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

/// A verified caller identity.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// The agent id.
    pub agent_id: String,
    /// Roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Groups.
    #[serde(default)]
    pub groups: Vec<String>,
    /// A human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_name: Option<String>,
}

/// A test case ready to run.
#[derive(Debug, Clone)]
pub(crate) struct Case {
    pub name: String,
    pub file: PathBuf,
    pub pos: Pos,
    pub request: agent_safe_core::CheckRequest,
    pub at: Option<jiff::Timestamp>,
    pub expect: DecisionResult,
    /// `Some(None)`: expect no rule (default deny).
    pub policy: Option<Option<String>>,
    pub effective_risk: Option<RiskClass>,
    pub reason_contains: Option<String>,
}

pub(crate) const FILE_KEYS: &[&str] = &["tests"];
pub(crate) const CASE_KEYS: &[&str] = &[
    "name",
    "request",
    "expect",
    "policy",
    "effective_risk",
    "reason_contains",
];
pub(crate) const REQUEST_KEYS: &[&str] = &[
    "action", "target", "caller", "claims", "params", "context", "at",
];
pub(crate) const CLAIM_KEYS: &[&str] = &["agent_id", "roles", "groups", "agent_name"];

/// Parses one test file, recording every problem into `d`.
pub(crate) fn parse_test_file(src: &SourceFile, d: &mut Diagnostics) -> Vec<Case> {
    let file = src.path.as_path();
    let root = match yaml::parse(file, &src.text) {
        Ok(n) => n,
        Err(e) => {
            d.push(e);
            return Vec::new();
        }
    };
    if root.value == Value::Null {
        return Vec::new();
    }
    let Some(mut r) = MapReader::new(file, &root, "test file", FILE_KEYS, d) else {
        return Vec::new();
    };
    let items = r.opt_list("tests", d);
    r.finish(d);
    let mut out: Vec<Case> = Vec::new();
    for item in items.unwrap_or_default() {
        if let Some(case) = read_case(file, item, d) {
            if let Some(first) = out.iter().find(|c| c.name == case.name) {
                d.push(
                    Diagnostic::error(
                        file,
                        case.pos,
                        format!(
                            "duplicate test name `{}`, first used at line {}",
                            case.name, first.pos.line
                        ),
                    )
                    .with_help(
                        "give every case its own name, so that a failure points at one case",
                    ),
                );
                continue;
            }
            out.push(case);
        }
    }
    out
}

fn read_case(file: &Path, node: &Node, d: &mut Diagnostics) -> Option<Case> {
    let explicit_null_policy = has_null(node, "policy");
    let mut r = MapReader::new(file, node, "test case", CASE_KEYS, d)?;
    let name = r.req_str("name", d);
    let request = r
        .require("request", d)
        .and_then(|n| read_request(file, n, d));
    let expect = r.require("expect", d).and_then(|n| {
        enum_value(
            file,
            n,
            "expect",
            DecisionResult::parse,
            DecisionResult::choices,
            d,
        )
    });
    let policy = match r.take("policy") {
        Some(n) => yaml::str_of(file, n, "policy", d).map(Some),
        None if explicit_null_policy => Some(None),
        None => None,
    };
    let effective_risk = r.take("effective_risk").and_then(|n| {
        enum_value(
            file,
            n,
            "effective_risk",
            RiskClass::parse,
            RiskClass::choices,
            d,
        )
    });
    let reason_contains = r.opt_str("reason_contains", d).map(|(s, _)| s);
    r.finish(d);
    let (name, pos) = name?;
    let (request, at) = request?;
    Some(Case {
        name,
        file: file.to_path_buf(),
        pos,
        request,
        at,
        expect: expect?,
        policy,
        effective_risk,
        reason_contains,
    })
}

/// Whether the mapping `node` has `key` written as an explicit null
/// (`policy: null` / `policy: ~`), which `MapReader::take` treats as absent.
fn has_null(node: &Node, key: &str) -> bool {
    match &node.value {
        Value::Map(entries) => entries
            .iter()
            .any(|(k, v): &(Key, Node)| k.name == key && v.value == Value::Null),
        _ => false,
    }
}

fn read_request(
    file: &Path,
    node: &Node,
    d: &mut Diagnostics,
) -> Option<(agent_safe_core::CheckRequest, Option<jiff::Timestamp>)> {
    let mut r = MapReader::new(file, node, "test request", REQUEST_KEYS, d)?;
    let action = r.req_str("action", d).map(|(s, _)| s);
    let target = r.opt_str("target", d).map(|(s, _)| s);
    let caller = r.opt_str("caller", d);
    let claims = r
        .take("claims")
        .and_then(|n| read_claims(file, n, d).map(|c| (c, n.pos)));
    let params = r
        .take("params")
        .and_then(|n| mapping_json(file, n, "params", d));
    let context = r
        .take("context")
        .and_then(|n| mapping_json(file, n, "context", d));
    let at = match r.opt_str("at", d) {
        Some((s, pos)) => match s.parse::<jiff::Timestamp>() {
            Ok(t) => Some(t),
            Err(e) => {
                d.push(
                    Diagnostic::error(file, pos, format!("invalid `at` time `{s}`: {e}"))
                        .with_help(
                            "write an RFC 3339 time in quotes, e.g. \"2026-03-04T12:00:00Z\"",
                        ),
                );
                return None;
            }
        },
        None => None,
    };
    r.finish(d);
    if let (Some(_), Some((_, pos))) = (&caller, &claims) {
        d.push(
            Diagnostic::error(file, *pos, "a test request has both `caller` and `claims`")
                .with_help("use `caller:` for a plain agent id or a token, `claims:` for a verified identity with roles and groups"),
        );
        return None;
    }
    Some((
        agent_safe_core::CheckRequest {
            action: action?,
            target,
            caller: caller.map(|(s, _)| s),
            params,
            context,
            verified_caller: claims.map(|(c, _)| c),
            ..agent_safe_core::CheckRequest::default()
        },
        at,
    ))
}

fn read_claims(file: &Path, node: &Node, d: &mut Diagnostics) -> Option<Caller> {
    let mut r = MapReader::new(file, node, "claims", CLAIM_KEYS, d)?;
    let agent_id = r.req_str("agent_id", d);
    let roles = r.opt_str_list("roles", d).unwrap_or_default();
    let groups = r.opt_str_list("groups", d).unwrap_or_default();
    let agent_name = r.opt_str("agent_name", d).map(|(s, _)| s);
    r.finish(d);
    let (agent_id, pos) = agent_id?;
    if let Err(e) = agent_safe_core::identity::check_agent_id(&agent_id) {
        d.push(Diagnostic::error(
            file,
            pos,
            format!("invalid `agent_id` `{agent_id}`: {e}"),
        ));
        return None;
    }
    Some(Caller {
        agent_id,
        agent_name,
        roles: roles.into_iter().map(|(s, _)| s).collect(),
        groups: groups.into_iter().map(|(s, _)| s).collect(),
        signed: true,
        kubernetes: None,
    })
}

fn enum_value<T>(
    file: &Path,
    node: &Node,
    key: &str,
    parse: fn(&str) -> Option<T>,
    choices: fn() -> String,
    d: &mut Diagnostics,
) -> Option<T> {
    match &node.value {
        Value::Str(s) => {
            let v = parse(s).or_else(|| parse(&s.to_lowercase()));
            if v.is_none() {
                d.push(Diagnostic::error(
                    file,
                    node.pos,
                    format!("invalid `{key}` value `{s}`: expected one of {}", choices()),
                ));
            }
            v
        }
        other => {
            d.push(
                type_error(file, node, key, "a string", other)
                    .with_help(format!("expected one of {}", choices())),
            );
            None
        }
    }
}
