//! The tool mapping: how a tool call (a tool name and its JSON arguments),
//! as an agent framework or an MCP client makes it, becomes a check
//! (an action, a target and params).
//!
//! One format for every integration: the MCP gateway (`agent-safe mcp`)
//! reads it from the `mcp:` section of `agent-safe.yaml` (or the file that
//! section names); any other host can load a mapping file with
//! [`load_mcp_file`] and use [`ToolMapping::map_call`].
//!
//! ```yaml
//! tools:
//!   pods_delete:
//!     action: delete-pod
//!     target: "prod/{namespace}/{name}"  # an inventory id template (optional)
//!     params:
//!       namespace: "{namespace}"          # exactly one placeholder: the value, any type
//!       pod: "{name}"                     # a rename
//!       reason: "via MCP: {reason}"       # text around placeholders: a string
//!       grace_seconds: 30                 # anything else: a constant
//!   echo:
//!     action: mcp-echo                    # no `params`: the arguments pass unchanged
//! ```
//!
//! A tool the mapping does not name is unmapped: hosts hide it and refuse
//! its calls. A placeholder naming an argument the call does not carry
//! leaves that param out (the action's own validation then decides), and a
//! target template with a missing argument is an error: the call is refused,
//! since a target cannot be guessed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::diag::{ConfigError, Diagnostic, Diagnostics, Pos};
use crate::load::{SourceFile, enum_of, parse_root, read_file};
use crate::yaml::{MapReader, Node, Value};

/// How tool calls map to checks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolMapping {
    /// One entry per tool, by the tool's exact name.
    #[serde(default)]
    pub tools: BTreeMap<String, ToolRule>,
}

/// How one tool's calls become a check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolRule {
    /// The action checked (`name` or `name@version`).
    pub action: String,
    /// An inventory id template such as `prod/{namespace}/{name}`. Absent:
    /// the target is found from the params (the action's `target_params`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The action's params, each a template (`"{arg}"` takes the argument
    /// with its type, `"text {arg}"` makes a string, `{{`/`}}` are literal
    /// braces) or a constant. Absent: the arguments are the params, unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<BTreeMap<String, Json>>,
    /// Shown to the agent in place of the upstream description (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Arguments forwarded to the upstream without being checked. With
    /// `params`, a call carrying an argument that neither `params`, `target`
    /// nor this list names is refused: the upstream would act on something
    /// the policy never saw (another cluster, another namespace).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unchecked_arguments: Vec<String>,
}

/// A tool call mapped to a check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MappedCall {
    /// The action.
    pub action: String,
    /// The inventory id, when the mapping names one.
    pub target: Option<String>,
    /// The params.
    pub params: Json,
}

/// Why a tool call could not be mapped (every such call is refused).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// The mapping does not name the tool.
    #[error(
        "tool `{0}` is not in agent-safe's tool mapping, so it cannot be called through agent-safe"
    )]
    Unmapped(String),
    /// The arguments are not a JSON object.
    #[error("the arguments of tool `{0}` must be a JSON object")]
    NotAnObject(String),
    /// The call carries an argument the check would not see.
    #[error(
        "tool `{tool}` was called with the argument `{arg}`, which agent-safe's mapping does not check; call it without `{arg}`, or ask the operator to map it (or list it in `unchecked_arguments`)"
    )]
    UncheckedArgument {
        /// The tool.
        tool: String,
        /// The argument.
        arg: String,
    },
    /// The target template names an argument the call lacks.
    #[error("tool `{tool}` needs the argument `{arg}` to name its target")]
    MissingTargetArgument {
        /// The tool.
        tool: String,
        /// The argument.
        arg: String,
    },
}

impl ToolMapping {
    /// The rule for `tool`, if mapped.
    pub fn rule(&self, tool: &str) -> Option<&ToolRule> {
        self.tools.get(tool)
    }

    /// Maps one call. `arguments` may be `None` (no arguments).
    pub fn map_call(&self, tool: &str, arguments: Option<&Json>) -> Result<MappedCall, MapError> {
        let rule = self
            .rule(tool)
            .ok_or_else(|| MapError::Unmapped(tool.to_owned()))?;
        let empty = Map::new();
        let args = match arguments {
            None | Some(Json::Null) => &empty,
            Some(Json::Object(m)) => m,
            Some(_) => return Err(MapError::NotAnObject(tool.to_owned())),
        };
        let params = match &rule.params {
            None => Json::Object(args.clone()),
            Some(spec) => {
                let mut seen = std::collections::BTreeSet::new();
                for v in spec.values() {
                    if let Json::String(t) = v {
                        referenced(t, &mut seen);
                    }
                }
                if let Some(t) = &rule.target {
                    referenced(t, &mut seen);
                }
                if let Some(arg) = args
                    .keys()
                    .find(|a| !seen.contains(a.as_str()) && !rule.unchecked_arguments.contains(a))
                {
                    return Err(MapError::UncheckedArgument {
                        tool: tool.to_owned(),
                        arg: arg.clone(),
                    });
                }
                let mut out = Map::new();
                for (name, value) in spec {
                    if let Some(v) = fill(value, args) {
                        out.insert(name.clone(), v);
                    }
                }
                Json::Object(out)
            }
        };
        let target = match &rule.target {
            None => None,
            Some(t) => Some(
                render(t, args).map_err(|arg| MapError::MissingTargetArgument {
                    tool: tool.to_owned(),
                    arg,
                })?,
            ),
        };
        Ok(MappedCall {
            action: rule.action.clone(),
            target,
            params,
        })
    }
}

/// A piece of a template.
#[derive(Debug, PartialEq)]
enum Piece<'a> {
    Text(String),
    Arg(&'a str),
}

/// Splits a template into text and `{arg}` placeholders; `{{` and `}}` are
/// literal braces. Errors name what is wrong.
fn pieces(t: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut rest = t;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("{{") {
            text.push('{');
            rest = after;
        } else if let Some(after) = rest.strip_prefix("}}") {
            text.push('}');
            rest = after;
        } else if let Some(after) = rest.strip_prefix('{') {
            let Some(end) = after.find('}') else {
                return Err("a `{` is never closed".into());
            };
            let name = after.get(..end).unwrap_or_default();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-' || ch == '.')
            {
                return Err(format!(
                    "`{{{name}}}` is not a placeholder: name an argument (letters, digits, `_`, `-`, `.`)"
                ));
            }
            if !text.is_empty() {
                out.push(Piece::Text(std::mem::take(&mut text)));
            }
            out.push(Piece::Arg(name));
            rest = after.get(end + 1..).unwrap_or_default();
        } else if rest.starts_with('}') {
            return Err("a `}` has no `{` (write `}}` for a literal brace)".into());
        } else {
            text.push(c);
            rest = rest.get(c.len_utf8()..).unwrap_or_default();
        }
    }
    if !text.is_empty() {
        out.push(Piece::Text(text));
    }
    Ok(out)
}

/// The argument named by a dotted path (`spec.replicas`).
fn lookup<'a>(args: &'a Map<String, Json>, path: &str) -> Option<&'a Json> {
    let mut parts = path.split('.');
    let mut cur = args.get(parts.next()?)?;
    for p in parts {
        cur = cur.as_object()?.get(p)?;
    }
    Some(cur)
}

/// The top-level argument names a param spec's templates read.
fn referenced<'a>(t: &'a str, out: &mut std::collections::BTreeSet<&'a str>) {
    if let Ok(pieces) = pieces(t) {
        for p in pieces {
            if let Piece::Arg(a) = p {
                out.insert(a.split('.').next().unwrap_or(a));
            }
        }
    }
}

/// Renders a template as text; `Err(arg)` when an argument is missing.
fn render(t: &str, args: &Map<String, Json>) -> Result<String, String> {
    let mut s = String::new();
    for p in pieces(t).map_err(|_| t.to_owned())? {
        match p {
            Piece::Text(x) => s.push_str(&x),
            Piece::Arg(a) => match lookup(args, a) {
                Some(Json::String(v)) => s.push_str(v),
                Some(Json::Null) | None => return Err(a.to_owned()),
                Some(v) => s.push_str(&v.to_string()),
            },
        }
    }
    Ok(s)
}

/// A param's value: a template string filled from the arguments, or the
/// constant itself. `None` when a placeholder's argument is absent.
fn fill(spec: &Json, args: &Map<String, Json>) -> Option<Json> {
    let Json::String(t) = spec else {
        return Some(spec.clone());
    };
    match pieces(t) {
        Ok(p) => match p.as_slice() {
            [Piece::Arg(a)] => lookup(args, a).cloned(),
            _ => render(t, args).ok().map(Json::String),
        },
        // Validated at load time; an unparsable template is a constant.
        Err(_) => Some(spec.clone()),
    }
}

/// The upstream MCP server the gateway forwards allowed calls to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSettings {
    /// A command started as a child process speaking MCP over stdio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Its arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Extra environment variables for the child.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Or a streamable HTTP endpoint, e.g. `http://127.0.0.1:8080/mcp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// How long one upstream request may take (default 30000).
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
}

fn default_timeout() -> u64 {
    30_000
}

/// The `mcp:` section of `agent-safe.yaml` (inline, or the file it names).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct McpSettings {
    /// Where allowed calls go.
    #[serde(default)]
    pub upstream: UpstreamSettings,
    /// Over stdio: the caller every call is checked as (a plain agent id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    /// Over stdio: an environment variable holding the caller (an agent id
    /// or a token); wins over `caller` when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_env: Option<String>,
    /// Which upstream tools `tools/list` shows: `mapped` (default), or
    /// `allowed`: only those the caller could ever be allowed or sent for
    /// approval.
    #[serde(default, skip_serializing_if = "ToolListing::is_default")]
    pub list: ToolListing,
    /// The tool mapping.
    #[serde(flatten)]
    pub mapping: ToolMapping,
    /// The file these settings came from, for messages.
    #[serde(skip)]
    #[schemars(skip)]
    pub source: Option<PathBuf>,
    /// Where each tool's entry is written, for messages.
    #[serde(skip)]
    #[schemars(skip)]
    pub positions: BTreeMap<String, Pos>,
}

/// Which upstream tools the gateway's `tools/list` shows. Listing is never
/// a security boundary: every call is checked whatever was listed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ToolListing {
    /// Every tool the mapping names (the default).
    #[default]
    Mapped,
    /// Only the mapped tools whose action the caller could be allowed, or
    /// sent for approval, by some rule on some target: a caller is not shown
    /// tools the policy always refuses it. Errs towards listing.
    Allowed,
}

impl ToolListing {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "mapped" => Some(Self::Mapped),
            "allowed" => Some(Self::Allowed),
            _ => None,
        }
    }

    fn choices() -> String {
        "`mapped`, `allowed`".into()
    }

    fn is_default(&self) -> bool {
        *self == Self::Mapped
    }

    /// The value as written in the `mcp:` section.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mapped => "mapped",
            Self::Allowed => "allowed",
        }
    }
}

/// The `mcp:` key as written: inline settings, or the path of a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum McpSection {
    /// The path of an MCP settings file (relative to `agent-safe.yaml`).
    File(PathBuf),
    /// The settings themselves.
    Inline(Box<McpSettings>),
}

/// MCP gateway settings shipped with agent-safe for known MCP servers, by
/// name (`agent-safe mcp --init NAME` writes one out).
pub const SHIPPED: &[(&str, &str)] = &[(
    "kubernetes-mcp-server",
    include_str!("../catalogue/mcp/kubernetes-mcp-server.yaml"),
)];

pub(crate) const MCP_KEYS: &[&str] = &["upstream", "caller", "caller_env", "list", "tools"];
pub(crate) const UPSTREAM_KEYS: &[&str] = &["command", "args", "env", "url", "timeout_ms"];
pub(crate) const RULE_KEYS: &[&str] = &[
    "action",
    "target",
    "params",
    "description",
    "unchecked_arguments",
];

/// Reads the `mcp:` value of a config file: a path (resolved against
/// `base`) or inline settings.
pub(crate) fn read_section(
    file: &Path,
    node: &Node,
    base: &Path,
    d: &mut Diagnostics,
) -> Option<McpSection> {
    match &node.value {
        Value::Str(p) => {
            let p = PathBuf::from(p);
            Some(McpSection::File(if p.is_absolute() {
                p
            } else {
                base.join(p)
            }))
        }
        _ => read_settings(file, node, d).map(|s| McpSection::Inline(Box::new(s))),
    }
}

/// The settings of a section, reading the file it names if it names one.
pub fn resolve_section(section: &McpSection) -> Result<McpSettings, ConfigError> {
    match section {
        McpSection::Inline(s) => Ok((**s).clone()),
        McpSection::File(p) => load_mcp_file(p),
    }
}

/// Loads an MCP settings (or plain tool mapping) file.
pub fn load_mcp_file(path: &Path) -> Result<McpSettings, ConfigError> {
    let src = read_file(path)?;
    parse_mcp(&src)
}

/// Parses MCP settings text.
pub fn parse_mcp(src: &SourceFile) -> Result<McpSettings, ConfigError> {
    let mut d = Diagnostics::new();
    let file = src.path.as_path();
    let Some(root) = parse_root(src, &mut d) else {
        return d.finish(McpSettings::default());
    };
    let s = read_settings(file, &root, &mut d).unwrap_or_default();
    d.finish(s)
}

/// Loads the config's MCP settings and checks that every mapped action
/// exists in `registry`: the errors `validate` reports (none when the
/// config has no `mcp:` section).
pub fn validate_section(
    section: Option<&McpSection>,
    registry: &crate::registry::Registry,
) -> Result<Option<McpSettings>, ConfigError> {
    let Some(section) = section else {
        return Ok(None);
    };
    let s = resolve_section(section)?;
    let mut d = Diagnostics::new();
    let file = s.source.clone().unwrap_or_default();
    for (tool, rule) in &s.mapping.tools {
        if let Err(e) = registry.get(&rule.action) {
            let pos = s.positions.get(tool).copied().unwrap_or(Pos::FILE);
            d.push(
                Diagnostic::error(
                    &file,
                    pos,
                    format!("tool `{tool}` maps to `{}`: {e}", rule.action),
                )
                .with_help("name an action of the catalogue or of your `actions:` (`agent-safe actions list`)"),
            );
        }
    }
    d.finish(Some(s))
}

fn read_settings(file: &Path, node: &Node, d: &mut Diagnostics) -> Option<McpSettings> {
    let mut r = MapReader::new(file, node, "mcp section", MCP_KEYS, d)?;
    let mut s = McpSettings {
        source: Some(file.to_path_buf()),
        ..McpSettings::default()
    };
    if let Some(n) = r.take("upstream") {
        s.upstream = read_upstream(file, n, d);
    }
    s.caller = r.opt_str("caller", d).map(|(v, _)| v);
    s.caller_env = r.opt_str("caller_env", d).map(|(v, _)| v);
    if let Some(n) = r.take("list")
        && let Some(v) = enum_of(file, n, "list", ToolListing::parse, ToolListing::choices, d)
    {
        s.list = v;
    }
    match r.take("tools").map(|n| (n, &n.value)) {
        None => {}
        Some((_, Value::Map(entries))) => {
            for (key, n) in entries {
                if let Some(rule) = read_rule(file, &key.name, n, d) {
                    s.positions.insert(key.name.clone(), key.pos);
                    s.mapping.tools.insert(key.name.clone(), rule);
                }
            }
        }
        Some((n, other)) => d.push(
            Diagnostic::error(
                file,
                n.pos,
                format!(
                    "expected `tools` as a mapping from tool name to its rule, found {}",
                    other.kind()
                ),
            )
            .with_help(
                "write `tools:` then one entry per tool, e.g. `pods_delete: {action: delete-pod}`",
            ),
        ),
    }
    r.finish(d);
    Some(s)
}

fn read_upstream(file: &Path, node: &Node, d: &mut Diagnostics) -> UpstreamSettings {
    let mut u = UpstreamSettings {
        timeout_ms: default_timeout(),
        ..UpstreamSettings::default()
    };
    let Some(mut r) = MapReader::new(file, node, "upstream", UPSTREAM_KEYS, d) else {
        return u;
    };
    u.command = r.opt_str("command", d).map(|(v, _)| v);
    u.args = r
        .opt_str_list("args", d)
        .unwrap_or_default()
        .into_iter()
        .map(|(v, _)| v)
        .collect();
    u.env = r
        .opt_str_map("env", d)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v, _)| (k, v))
        .collect();
    let url = r.opt_str("url", d);
    if let Some((url, pos)) = &url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        d.push(
            Diagnostic::error(file, *pos, format!("invalid upstream url `{url}`"))
                .with_help("write the streamable HTTP endpoint, e.g. `http://127.0.0.1:8080/mcp`"),
        );
    }
    u.url = url.map(|(v, _)| v);
    if let Some((ms, pos)) = r.opt_int("timeout_ms", d) {
        match u64::try_from(ms) {
            Ok(v) if v > 0 => u.timeout_ms = v,
            _ => d.push(Diagnostic::error(
                file,
                pos,
                format!("`timeout_ms` must be at least 1, got {ms}"),
            )),
        }
    }
    if u.command.is_some() == u.url.is_some() {
        d.push(
            Diagnostic::error(file, node.pos, "the upstream needs exactly one of `command` and `url`")
                .with_help("`command: kubernetes-mcp-server` starts it over stdio; `url: http://127.0.0.1:8080/mcp` reaches it over streamable HTTP"),
        );
    }
    r.finish(d);
    u
}

fn read_rule(file: &Path, tool: &str, node: &Node, d: &mut Diagnostics) -> Option<ToolRule> {
    let mut r = MapReader::new(file, node, "tool rule", RULE_KEYS, d)?;
    let action = r.req_str("action", d);
    let target = r.opt_str("target", d);
    if let Some((t, pos)) = &target {
        check_template(file, *pos, "target", t, d);
    }
    let description = r.opt_str("description", d).map(|(v, _)| v);
    let unchecked_arguments = r
        .opt_str_list("unchecked_arguments", d)
        .unwrap_or_default()
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    let mut params = None;
    if let Some(n) = r.take("params") {
        match &n.value {
            Value::Map(entries) => {
                let mut m = BTreeMap::new();
                for (k, v) in entries {
                    if let Value::Str(t) = &v.value {
                        check_template(file, v.pos, &k.name, t, d);
                    }
                    m.insert(k.name.clone(), v.value.to_json());
                }
                params = Some(m);
            }
            other => d.push(
                Diagnostic::error(
                    file,
                    n.pos,
                    format!("expected the `params` of tool `{tool}` as a mapping, found {}", other.kind()),
                )
                .with_help("map each action param to a template or constant, e.g. `name: \"{pod}\"`; leave `params` out to pass the arguments unchanged"),
            ),
        }
    }
    r.finish(d);
    Some(ToolRule {
        action: action?.0,
        target: target.map(|(t, _)| t),
        params,
        description,
        unchecked_arguments,
    })
}

fn check_template(file: &Path, pos: Pos, key: &str, t: &str, d: &mut Diagnostics) {
    if let Err(why) = pieces(t) {
        d.push(
            Diagnostic::error(file, pos, format!("invalid template in `{key}`: {why}"))
                .with_help("write `{argument}` for a tool argument (`{spec.replicas}` for a nested one), `{{` and `}}` for literal braces"),
        );
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, clippy::panic, reason = "tests")]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_argument_the_check_would_not_see_is_refused() {
        let m = mapping(
            "upstream: {command: x}\ntools:\n  del:\n    action: delete-pod\n    params: {namespace: \"{namespace}\", pod: \"{name}\"}\n  get:\n    action: list-pods\n    params: {namespace: \"{namespace}\"}\n    unchecked_arguments: [name]\n  raw:\n    action: list-pods\n",
        )
        .unwrap()
        .mapping;
        let ok = json!({"namespace": "staging", "name": "api-1"});
        assert!(m.map_call("del", Some(&ok)).is_ok());
        // `context` would send the call to another cluster than the one checked.
        let sneaky = json!({"namespace": "staging", "name": "api-1", "context": "prod"});
        let e = m.map_call("del", Some(&sneaky)).unwrap_err();
        assert_eq!(
            e,
            MapError::UncheckedArgument {
                tool: "del".into(),
                arg: "context".into()
            }
        );
        assert!(e.to_string().contains("call it without `context`"), "{e}");
        // Listed as unchecked: forwarded; anything else still refused.
        assert!(m.map_call("get", Some(&ok)).is_ok());
        assert!(m.map_call("get", Some(&sneaky)).is_err());
        // No `params`: every argument is a param, so all are checked.
        assert!(m.map_call("raw", Some(&sneaky)).is_ok());
    }

    fn mapping(yaml: &str) -> Result<McpSettings, ConfigError> {
        parse_mcp(&SourceFile {
            path: PathBuf::from("mcp.yaml"),
            text: yaml.to_owned(),
        })
    }

    #[test]
    fn templates_table() {
        let m = mapping(
            "upstream: {command: x}\ntools:\n  t:\n    action: a\n    target: \"prod/{ns}/{name}\"\n    params:\n      whole: \"{n}\"\n      text: \"n={n} {{x}}\"\n      nested: \"{spec.replicas}\"\n      constant: 3\n      missing: \"{absent}\"\n",
        )
        .unwrap();
        type Want<'a> = Result<(Option<&'a str>, Json), MapError>;
        let cases: &[(Json, Want<'_>)] = &[
            (
                json!({"ns": "web", "name": "api", "n": 5, "spec": {"replicas": 2}}),
                Ok((
                    Some("prod/web/api"),
                    json!({"whole": 5, "text": "n=5 {x}", "nested": 2, "constant": 3}),
                )),
            ),
            (
                json!({"ns": "web"}),
                Err(MapError::MissingTargetArgument {
                    tool: "t".into(),
                    arg: "name".into(),
                }),
            ),
        ];
        for (args, want) in cases {
            let got = m.mapping.map_call("t", Some(args));
            match (got, want) {
                (Ok(c), Ok((t, p))) => {
                    assert_eq!(c.target.as_deref(), *t);
                    assert_eq!(&c.params, p);
                    assert_eq!(c.action, "a");
                }
                (Err(e), Err(w)) => assert_eq!(&e, w),
                (g, w) => panic!("{args}: got {g:?}, want {w:?}"),
            }
        }
        assert_eq!(
            m.mapping.map_call("other", None),
            Err(MapError::Unmapped("other".into()))
        );
        assert_eq!(
            m.mapping.map_call("t", Some(&json!([1]))),
            Err(MapError::NotAnObject("t".into()))
        );
    }

    #[test]
    fn shipped_settings_load_and_name_catalogue_actions() {
        let registry = crate::registry::Registry::builtin().unwrap();
        for (name, text) in SHIPPED {
            let s = parse_mcp(&SourceFile {
                path: PathBuf::from(format!("{name}.yaml")),
                text: (*text).to_owned(),
            })
            .unwrap();
            assert!(!s.mapping.tools.is_empty(), "{name}");
            let section = McpSection::Inline(Box::new(s));
            validate_section(Some(&section), &registry).unwrap();
        }
    }

    #[test]
    fn no_params_passes_arguments_unchanged() {
        let m = mapping(
            "upstream: {url: 'http://127.0.0.1:1/mcp'}\ntools:\n  echo: {action: mcp-echo}\n",
        )
        .unwrap();
        let args = json!({"text": "hi", "n": [1, {"a": null}]});
        let c = m.mapping.map_call("echo", Some(&args)).unwrap();
        assert_eq!(c.params, args);
        assert_eq!(c.target, None);
    }

    #[test]
    fn errors_have_positions_and_help() {
        let e = mapping(
            "upstream: {command: x, url: 'ftp://x'}\ntools:\n  t:\n    action: a\n    target: \"{ns\"\n    prams: {}\n  u: {target: x}\n",
        )
        .unwrap_err();
        let text: Vec<String> = e
            .diagnostics()
            .iter()
            .map(|d| format!("{} {}", d.location(), d.message))
            .collect();
        let all = text.join("\n");
        assert!(all.contains("mcp.yaml:1:"), "{all}");
        assert!(all.contains("invalid upstream url `ftp://x`"), "{all}");
        assert!(all.contains("exactly one of `command` and `url`"), "{all}");
        assert!(
            all.contains("mcp.yaml:5:13 invalid template in `target`"),
            "{all}"
        );
        assert!(all.contains("prams"), "{all}");
        assert!(all.contains("missing the required key `action`"), "{all}");
    }
}
