//! The typed model: action definitions, targets, policies.
//!
//! These types mirror the YAML files (see `docs/` and the JSON Schemas in
//! `schemas/`); the loaders in [`crate::load`] fill them in after checking
//! every field. They serialise to JSON with the same field names, so
//! `show-action --output json` prints what the file says.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diag::Pos;

/// Where a definition came from, for error messages and analysis findings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Origin {
    /// The file, or `<built-in>/name.yaml` for the embedded catalogue.
    pub file: PathBuf,
    /// Where the definition starts.
    pub pos: Pos,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pos.line == 0 {
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}", self.file.display(), self.pos.line)
        }
    }
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* #[doc = concat!("`", $text, "`")] $variant),+ }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The spelling used in files and JSON.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            /// Parses the file spelling.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
            /// The valid spellings, for error messages.
            pub fn choices() -> String {
                [$(concat!("`", $text, "`")),+].join(", ")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// How risky an action is, or the effective risk of a request.
    RiskClass { Low = "low", Medium = "medium", High = "high", Critical = "critical" }
}

string_enum! {
    /// How sensitive a target is.
    Sensitivity { Public = "public", Internal = "internal", Restricted = "restricted", Critical = "critical" }
}

string_enum! {
    /// The answer to a check. Ordered from least to most restrictive.
    DecisionResult { Allow = "allow", RequireApproval = "require_approval", Deny = "deny" }
}

string_enum! {
    /// The JSON type of a parameter.
    ParamType { String = "string", Integer = "integer", Number = "number", Boolean = "boolean", Array = "array", Object = "object" }
}

string_enum! {
    /// A Kubernetes coordinate of a target, bound to a parameter by `target_params`.
    Coordinate { Cluster = "cluster", Namespace = "namespace", Name = "name" }
}

string_enum! {
    /// A day of the week (0 = Monday in the numeric form).
    Day { Mon = "mon", Tue = "tue", Wed = "wed", Thu = "thu", Fri = "fri", Sat = "sat", Sun = "sun" }
}

impl DecisionResult {
    /// How restrictive a decision is: deny > require_approval > allow.
    pub fn restrictiveness(self) -> u8 {
        match self {
            DecisionResult::Allow => 0,
            DecisionResult::RequireApproval => 1,
            DecisionResult::Deny => 2,
        }
    }

    /// The text used in CLI output and the audit log: `ALLOW`, `DENY`, `REQUIRE_APPROVAL`.
    pub fn as_upper(self) -> &'static str {
        match self {
            DecisionResult::Allow => "ALLOW",
            DecisionResult::RequireApproval => "REQUIRE_APPROVAL",
            DecisionResult::Deny => "DENY",
        }
    }
}

impl RiskClass {
    /// Effective risk = action risk × target sensitivity (DESIGN.md table).
    pub fn effective(self, sensitivity: Sensitivity) -> RiskClass {
        use RiskClass::{Critical as C, High as H, Low as L, Medium as M};
        let row: [RiskClass; 4] = match self {
            L => [L, L, M, H],
            M => [L, M, H, C],
            H => [M, H, C, C],
            C => [H, C, C, C],
        };
        let col = match sensitivity {
            Sensitivity::Public => 0,
            Sensitivity::Internal => 1,
            Sensitivity::Restricted => 2,
            Sensitivity::Critical => 3,
        };
        row.get(col).copied().unwrap_or(C)
    }
}

impl Day {
    /// 0 = Monday … 6 = Sunday.
    pub fn index(self) -> u8 {
        self as u8
    }

    /// From 0 = Monday … 6 = Sunday.
    pub fn from_index(i: i64) -> Option<Day> {
        usize::try_from(i)
            .ok()
            .and_then(|i| Day::ALL.get(i).copied())
    }
}

/// Limits on a parameter's value.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Constraints {
    /// Smallest allowed number (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_value: Option<f64>,
    /// Largest allowed number (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_value: Option<f64>,
    /// Shortest allowed string (characters) or array (items).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u64>,
    /// Longest allowed string (characters) or array (items).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u64>,
    /// Regular expression the whole string must match (linear-time `regex` syntax).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// The allowed values.
    #[serde(default, rename = "enum", skip_serializing_if = "Option::is_none")]
    pub enum_values: Option<Vec<serde_json::Value>>,
    /// `pattern`, compiled and anchored.
    #[serde(skip)]
    #[schemars(skip)]
    pub compiled: Option<regex::Regex>,
}

/// One parameter of an action.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    /// Parameter name, unique within the action.
    pub name: String,
    /// JSON type.
    #[serde(rename = "type")]
    pub param_type: ParamType,
    /// Whether the parameter must be given (default true). A parameter with a
    /// `default` is never reported missing.
    #[serde(default = "default_true")]
    pub required: bool,
    /// What the parameter means.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Value used when the parameter is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
    /// Limits on the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<Constraints>,
}

fn default_true() -> bool {
    true
}

/// Something an executor must verify before running the action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Precheck {
    /// Short identifier.
    pub name: String,
    /// What to verify.
    pub description: String,
}

/// An action definition (`actions/*.yaml`, one per file).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionDef {
    /// `^[a-z][a-z0-9-]*$`, unique per version in the registry.
    pub name: String,
    /// Semantic version `X.Y.Z`.
    pub version: String,
    /// What the action does.
    pub description: String,
    /// Accepted parameters.
    #[serde(default)]
    pub parameters: Vec<Parameter>,
    /// Inherent risk of the action.
    pub risk_class: RiskClass,
    /// Target types the action applies to (at least one).
    pub target_types: Vec<String>,
    /// What an executor must verify first.
    #[serde(default)]
    pub prechecks: Vec<Precheck>,
    /// Whether the action can be undone (`true` without a `rollback_action`
    /// is a `validate` warning).
    #[serde(default)]
    pub reversible: bool,
    /// The inverse action, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_action: Option<String>,
    /// Kubernetes RBAC as `[group/]resource[/subresource]:verb` (`core/` is
    /// read as the core group), or another provider's privilege written
    /// `service:Permission` (AWS IAM form, e.g. `ec2:StopInstances`), kept as
    /// written and left out of `agent-safe rbac`.
    #[serde(default)]
    pub required_privileges: Vec<String>,
    /// Target coordinate → parameter that carries it.
    #[serde(default)]
    pub target_params: BTreeMap<Coordinate, String>,
    /// Free-form tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Reserved: accepted and preserved, not interpreted yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<serde_json::Value>,
    /// Reserved: accepted and preserved, not interpreted yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_fields: Option<serde_json::Value>,
    /// Reserved: accepted and preserved, not interpreted yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_params: Option<serde_json::Value>,
    /// Parsed `version`.
    #[serde(skip)]
    #[schemars(skip)]
    pub semver: Option<semver::Version>,
    /// Where the definition came from.
    #[serde(skip)]
    #[schemars(skip)]
    pub origin: Origin,
}

impl ActionDef {
    /// `name@version`.
    pub fn key(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }

    /// The parameter named `name`.
    pub fn parameter(&self, name: &str) -> Option<&Parameter> {
        self.parameters.iter().find(|p| p.name == name)
    }
}

/// One entry of the target inventory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Unique id, e.g. `prod/api-server`.
    pub id: String,
    /// Target type, e.g. `k8s-deployment`.
    #[serde(rename = "type")]
    pub target_type: String,
    /// Environment (free string; `prod`, `staging`, `dev` are conventional).
    pub environment: String,
    /// How sensitive the target is.
    pub sensitivity: Sensitivity,
    /// Owning team or person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Free-form labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Kubernetes cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Kubernetes namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Kubernetes object name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where the entry is defined.
    #[serde(skip)]
    #[schemars(skip)]
    pub origin: Origin,
}

impl Target {
    /// The value of a Kubernetes coordinate, if the target has it.
    pub fn coordinate(&self, c: Coordinate) -> Option<&str> {
        match c {
            Coordinate::Cluster => self.cluster.as_deref(),
            Coordinate::Namespace => self.namespace.as_deref(),
            Coordinate::Name => self.name.as_deref(),
        }
    }
}

/// `inventory.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InventoryFile {
    /// The targets (required: `targets: []` for none; an empty file is refused).
    pub targets: Vec<Target>,
}

/// Which targets a rule applies to. Every given field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetSelector {
    /// Target id globs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub ids: Option<Vec<String>>,
    /// Environments (exact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub environments: Option<Vec<String>>,
    /// Sensitivities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub sensitivities: Option<Vec<Sensitivity>>,
    /// Target types (exact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub types: Option<Vec<String>>,
    /// Labels: every key must be present with a value matching the glob.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
}

/// Which callers a rule applies to. Every given field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallerSelector {
    /// Agent id globs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub agent_ids: Option<Vec<String>>,
    /// Roles (any overlap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub roles: Option<Vec<String>>,
    /// Groups (any overlap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub groups: Option<Vec<String>>,
}

/// A weekly time window, `[start, end)` in its time zone; wraps past midnight
/// when `end <= start`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeWindow {
    /// Days the window opens on: names (`mon` … `sun`) or 0–6 with 0 = Monday.
    /// Absent: every day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub days: Option<Vec<Day>>,
    /// `HH:MM` start (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// `HH:MM` end (exclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// Start hour 0–23 (alternative to `start`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_hour: Option<u8>,
    /// End hour 0–23, inclusive (alternative to `end`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_hour: Option<u8>,
    /// IANA time zone, default `UTC`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Normalised start, minutes after midnight.
    #[serde(skip)]
    #[schemars(skip)]
    pub start_minute: u16,
    /// Normalised end (exclusive), minutes after midnight; 1440 = midnight.
    #[serde(skip)]
    #[schemars(skip)]
    pub end_minute: u16,
}

/// What a rule matches. Within one list any entry may match; across fields all must.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleMatch {
    /// Action name globs; absent means every action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub actions: Option<Vec<String>>,
    /// Target selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<TargetSelector>,
    /// Caller selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callers: Option<CallerSelector>,
    /// Effective risk classes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub risk_classes: Option<Vec<RiskClass>>,
    /// Time windows (any may match).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub time_windows: Option<Vec<TimeWindow>>,
}

/// A policy rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Unique across all policy files.
    pub name: String,
    /// What the rule is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Higher wins; default 0.
    #[serde(default)]
    pub priority: i64,
    /// What the rule matches; absent matches everything.
    #[serde(default, rename = "match")]
    pub matcher: RuleMatch,
    /// The decision when this rule wins.
    pub decision: DecisionResult,
    /// Told to the caller when this rule wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Where the rule is defined.
    #[serde(skip)]
    #[schemars(skip)]
    pub origin: Origin,
}

/// `policies/*.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// The rules (required: `rules: []` for none; an empty file is refused).
    pub rules: Vec<Rule>,
}
