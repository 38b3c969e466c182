//! Action definitions (`actions/*.yaml`, one action per file).

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use super::{SourceFile, enum_of, parse_root};
use crate::diag::{ConfigError, Diagnostic, Diagnostics, Pos};
use crate::model::{
    ActionDef, Constraints, Coordinate, Origin, ParamType, Parameter, Precheck, RiskClass,
};
use crate::params::check_value;
use crate::yaml::{MapReader, Node, Value, list_of, str_of};

pub(crate) const ACTION_KEYS: &[&str] = &[
    "name",
    "version",
    "description",
    "parameters",
    "risk_class",
    "target_types",
    "prechecks",
    "reversible",
    "rollback_action",
    "required_privileges",
    "target_params",
    "tags",
];
/// Reserved extension keys: accepted and preserved, not interpreted yet.
pub(crate) const RESERVED_ACTION_KEYS: &[&str] =
    &["credentials", "state_fields", "rollback_params"];
pub(crate) const PARAM_KEYS: &[&str] = &[
    "name",
    "type",
    "required",
    "description",
    "default",
    "constraints",
];
pub(crate) const CONSTRAINT_KEYS: &[&str] = &[
    "min_value",
    "max_value",
    "min_length",
    "max_length",
    "pattern",
    "enum",
];
pub(crate) const PRECHECK_KEYS: &[&str] = &["name", "description"];

static ACTION_NAME: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^[a-z][a-z0-9-]{0,62}$").ok());
static PARAM_NAME: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$").ok());
static PRIVILEGE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"^([a-z0-9]([a-z0-9.-]*[a-z0-9])?/)?[a-z][a-z0-9]*(/[a-z][a-z0-9]*)?:([a-z]+|\*)$")
        .ok()
});

/// Largest compiled size of a `pattern` regex, against hostile definitions.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

pub(crate) fn matches(re: &LazyLock<Option<Regex>>, s: &str) -> bool {
    re.as_ref().is_some_and(|re| re.is_match(s))
}

/// Parses one action definition file, reporting every problem in it.
pub fn parse_action(src: &SourceFile) -> Result<ActionDef, ConfigError> {
    let mut d = Diagnostics::new();
    let Some(root) = parse_root(src, &mut d) else {
        return Err(d.into_error(&src.path));
    };
    action_from_tree(src, &root, d)
}

/// Reads a trusted definition already converted to JSON (the embedded
/// catalogue, converted at build time) with the same checks; errors name the
/// file only.
pub(crate) fn parse_action_json(src: &SourceFile, json: &str) -> Result<ActionDef, ConfigError> {
    let value: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| ConfigError::file(&src.path, format!("invalid embedded definition: {e}")))?;
    action_from_tree(src, &crate::yaml::from_json(&value), Diagnostics::new())
}

fn action_from_tree(
    src: &SourceFile,
    root: &Node,
    mut d: Diagnostics,
) -> Result<ActionDef, ConfigError> {
    let file = src.path.as_path();
    let action = read_action(file, root, &mut d);
    match action {
        Some(a) => d.finish(a),
        None => {
            if !d.has_errors() {
                d.push(Diagnostic::error(
                    file,
                    Pos::FILE,
                    "not a valid action definition",
                ));
            }
            Err(d.into_error(file))
        }
    }
}

fn read_action(file: &Path, root: &Node, d: &mut Diagnostics) -> Option<ActionDef> {
    if root.value == Value::Null {
        d.push(
            Diagnostic::error(file, Pos::FILE, "the file is empty")
                .with_help("an action file holds one action definition: name, version, description, risk_class, target_types, …"),
        );
        return None;
    }
    let mut r = MapReader::new(file, root, "action definition", ACTION_KEYS, d)?;
    let name = r.req_str("name", d);
    if let Some((n, pos)) = &name
        && !matches(&ACTION_NAME, n)
    {
        d.push(
                Diagnostic::error(file, *pos, format!("invalid action name `{n}`"))
                    .with_help("action names are lowercase letters, digits and `-`, starting with a letter, at most 63 characters (e.g. `restart-deployment`)"),
            );
    }
    let version = r.req_str("version", d);
    let mut semver = None;
    if let Some((v, pos)) = &version {
        match semver::Version::parse(v) {
            Ok(parsed) => semver = Some(parsed),
            Err(e) => d.push(
                Diagnostic::error(file, *pos, format!("invalid version `{v}`: {e}")).with_help(
                    "versions are semantic versions `MAJOR.MINOR.PATCH`, e.g. \"1.0.0\" (quoted)",
                ),
            ),
        }
    }
    // Numbers like `1.0` are a common slip: tell the user to quote.
    let description = r.req_str("description", d);
    if let Some((text, pos)) = &description
        && text.trim().is_empty()
    {
        d.push(
            Diagnostic::error(file, *pos, "`description` is empty")
                .with_help("say in one sentence what the action does"),
        );
    }
    let risk_class = r.require("risk_class", d).and_then(|n| {
        enum_of(
            file,
            n,
            "risk_class",
            RiskClass::parse,
            RiskClass::choices,
            d,
        )
    });

    let param_items = r.opt_list("parameters", d).unwrap_or_default();
    let parameters = read_parameters(file, param_items, d);
    // Names written in the file, also of parameters that failed to load, so
    // that their errors are not followed by ones that merely repeat them
    // (`target_params` naming a parameter whose `type` was misspelt).
    let declared: HashSet<String> = param_items
        .iter()
        .filter_map(|item| match &item.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.name == "name"),
            _ => None,
        })
        .filter_map(|(_, v)| match &v.value {
            Value::Str(s) => Some(s.clone()),
            _ => None,
        })
        .collect();

    let target_types = match r.require("target_types", d) {
        Some(node) => match crate::yaml::str_list_of(file, node, "target_types", d) {
            Some(items) if items.is_empty() => {
                d.push(
                    Diagnostic::error(file, node.pos, "`target_types` is empty")
                        .with_help("list at least one target type, e.g. [k8s-deployment]"),
                );
                Vec::new()
            }
            Some(items) => items.into_iter().map(|(s, _)| s).collect(),
            None => Vec::new(),
        },
        None => Vec::new(),
    };

    let prechecks = match r.opt_list("prechecks", d) {
        Some(items) => items
            .iter()
            .filter_map(|item| {
                let mut pr = MapReader::new(file, item, "precheck", PRECHECK_KEYS, d)?;
                let name = pr.req_str("name", d);
                let description = pr.req_str("description", d);
                pr.finish(d);
                Some(Precheck {
                    name: name?.0,
                    description: description?.0,
                })
            })
            .collect(),
        None => Vec::new(),
    };

    let reversible = r.opt_bool("reversible", d).unwrap_or(false);
    let rollback_action = r.opt_str("rollback_action", d);
    // `reversible: true` without a `rollback_action` (the action can be
    // undone, but not by one action of the registry) is a warning of
    // `agent-safe validate` (`Registry::warnings`), not an error.
    if let Some((ra, pos)) = &rollback_action
        && !matches(&ACTION_NAME, ra)
    {
        d.push(Diagnostic::error(
            file,
            *pos,
            format!("invalid action name `{ra}` in `rollback_action`"),
        ));
    }

    let required_privileges = r.opt_str_list("required_privileges", d).unwrap_or_default();
    for (p, pos) in &required_privileges {
        if !matches(&PRIVILEGE, p) && crate::privilege::provider_privilege(p).is_none() {
            d.push(
                Diagnostic::error(file, *pos, format!("invalid privilege `{p}`"))
                    .with_help("privileges are Kubernetes RBAC rules written `[group/]resource[/subresource]:verb`, e.g. `apps/deployments:patch` or `pods/eviction:create`, or another provider's written `service:Permission`, e.g. `ec2:StopInstances`"),
            );
        }
    }

    let target_params = read_target_params(file, &mut r, &parameters, &declared, d);
    let tags = r.opt_str_list("tags", d).unwrap_or_default();
    let credentials = r.take("credentials").map(|n| n.value.to_json());
    let state_fields = r.take("state_fields").map(|n| n.value.to_json());
    let rollback_params = r.take("rollback_params").map(|n| n.value.to_json());
    r.finish_preserving(RESERVED_ACTION_KEYS, d);

    Some(ActionDef {
        name: name?.0,
        version: version?.0,
        description: description?.0,
        parameters,
        risk_class: risk_class?,
        target_types,
        prechecks,
        reversible,
        rollback_action: rollback_action.map(|(s, _)| s),
        required_privileges: required_privileges.into_iter().map(|(s, _)| s).collect(),
        target_params,
        tags: tags.into_iter().map(|(s, _)| s).collect(),
        credentials,
        state_fields,
        rollback_params,
        semver,
        origin: Origin {
            file: file.to_path_buf(),
            pos: root.pos,
        },
    })
}

fn read_target_params(
    file: &Path,
    r: &mut MapReader<'_>,
    parameters: &[Parameter],
    declared: &HashSet<String>,
    d: &mut Diagnostics,
) -> BTreeMap<Coordinate, String> {
    let mut out = BTreeMap::new();
    let Some(entries) = r.opt_str_map("target_params", d) else {
        return out;
    };
    for (coord, param, pos) in entries {
        let Some(c) = Coordinate::parse(&coord) else {
            d.push(
                Diagnostic::error(
                    file,
                    pos,
                    format!("unknown target coordinate `{coord}` in `target_params`"),
                )
                .with_help(format!("coordinates are {}", Coordinate::choices())),
            );
            continue;
        };
        match parameters.iter().find(|p| p.name == param) {
            // Declared, but its own errors were reported: nothing to add.
            None if declared.contains(&param) => {}
            None => d.push(
                Diagnostic::error(file, pos, format!("`target_params.{coord}` names `{param}`, which is not a parameter of this action"))
                    .with_help("name one of the action's string parameters"),
            ),
            Some(p) if p.param_type != ParamType::String => d.push(Diagnostic::error(
                file,
                pos,
                format!("`target_params.{coord}` names `{param}`, which is of type {} (it must be a string)", p.param_type),
            )),
            // A bound parameter must be in every request: were it optional, a
            // request could omit it and address any object while the binding
            // checked nothing.
            Some(p) if !p.required => d.push(
                Diagnostic::error(
                    file,
                    pos,
                    format!("`target_params.{coord}` names `{param}`, which is optional; a parameter bound to the target must be required"),
                )
                .with_help(format!("remove `required: false` from `{param}`: a request that omitted it would not be bound to the target's {coord}")),
            ),
            // A default would let a request omit it too: the check would bind
            // the default, while whatever executes the action may fill the
            // missing value differently (kubectl uses its context's namespace).
            Some(p) if p.default.is_some() => d.push(
                Diagnostic::error(
                    file,
                    pos,
                    format!("`target_params.{coord}` names `{param}`, which has a `default`; a parameter bound to the target must be given in every request"),
                )
                .with_help(format!("remove the `default` of `{param}`: the executor of the action may fill an omitted value differently from the default that was checked")),
            ),
            Some(_) => {
                out.insert(c, param);
            }
        }
    }
    out
}

fn read_parameters(file: &Path, items: &[Node], d: &mut Diagnostics) -> Vec<Parameter> {
    let mut out: Vec<Parameter> = Vec::with_capacity(items.len());
    let mut seen = HashSet::new();
    for item in items {
        let Some(p) = read_parameter(file, item, d) else {
            continue;
        };
        if !seen.insert(p.name.clone()) {
            d.push(
                Diagnostic::error(file, item.pos, format!("duplicate parameter `{}`", p.name))
                    .with_help("each parameter name may appear once"),
            );
            continue;
        }
        out.push(p);
    }
    out
}

fn read_parameter(file: &Path, node: &Node, d: &mut Diagnostics) -> Option<Parameter> {
    let mut r = MapReader::new(file, node, "parameter", PARAM_KEYS, d)?;
    let name = r.req_str("name", d);
    if let Some((n, pos)) = &name
        && !matches(&PARAM_NAME, n)
    {
        d.push(
            Diagnostic::error(file, *pos, format!("invalid parameter name `{n}`")).with_help(
                "parameter names are letters, digits and `_`, starting with a letter or `_`",
            ),
        );
    }
    let param_type = r
        .require("type", d)
        .and_then(|n| enum_of(file, n, "type", ParamType::parse, ParamType::choices, d));
    let required = r.opt_bool("required", d).unwrap_or(true);
    let description = r.opt_str("description", d).map(|(s, _)| s);
    let default_node = r.take("default");
    let constraints = match (r.take("constraints"), param_type) {
        (Some(n), Some(t)) => read_constraints(file, n, t, d),
        _ => None,
    };
    r.finish(d);
    let param_type = param_type?;
    let default = default_node.map(|n| (n.value.to_json(), n.pos));
    if let (Some((value, pos)), Some((pname, _))) = (&default, &name) {
        let mut problems = Vec::new();
        check_value(
            pname,
            param_type,
            constraints.as_ref(),
            value,
            &mut problems,
        );
        for p in problems {
            d.push(Diagnostic::error(
                file,
                *pos,
                format!("default value is invalid: {p}"),
            ));
        }
    }
    Some(Parameter {
        name: name?.0,
        param_type,
        required,
        description,
        default: default.map(|(v, _)| v),
        constraints,
    })
}

fn number_of(file: &Path, node: &Node, key: &str, d: &mut Diagnostics) -> Option<f64> {
    match node.value {
        Value::Int(i) => Some(i as f64),
        Value::Float(f) if f.is_finite() => Some(f),
        ref other => {
            d.push(crate::yaml::type_error(file, node, key, "a number", other));
            None
        }
    }
}

fn length_of(file: &Path, node: &Node, key: &str, d: &mut Diagnostics) -> Option<u64> {
    match node.value {
        Value::Int(i) if i >= 0 => Some(i.unsigned_abs()),
        ref other => {
            d.push(crate::yaml::type_error(
                file,
                node,
                key,
                "a non-negative integer",
                other,
            ));
            None
        }
    }
}

fn read_constraints(
    file: &Path,
    node: &Node,
    t: ParamType,
    d: &mut Diagnostics,
) -> Option<Constraints> {
    let mut r = MapReader::new(file, node, "constraints", CONSTRAINT_KEYS, d)?;
    let mut c = Constraints::default();
    let numeric = matches!(t, ParamType::Integer | ParamType::Number);
    let sized = matches!(t, ParamType::String | ParamType::Array);
    for key in ["min_value", "max_value"] {
        if let Some(n) = r.take(key) {
            if !numeric {
                d.push(not_applicable(file, n.pos, key, t, "integer and number"));
            }
            let v = number_of(file, n, key, d);
            if key == "min_value" {
                c.min_value = v;
            } else {
                c.max_value = v;
            }
        }
    }
    for key in ["min_length", "max_length"] {
        if let Some(n) = r.take(key) {
            if !sized {
                d.push(not_applicable(file, n.pos, key, t, "string and array"));
            }
            let v = length_of(file, n, key, d);
            if key == "min_length" {
                c.min_length = v;
            } else {
                c.max_length = v;
            }
        }
    }
    if let (Some(lo), Some(hi)) = (c.min_value, c.max_value)
        && lo > hi
    {
        d.push(Diagnostic::error(
            file,
            node.pos,
            format!("`min_value` {lo} is greater than `max_value` {hi}"),
        ));
    }
    if let (Some(lo), Some(hi)) = (c.min_length, c.max_length)
        && lo > hi
    {
        d.push(Diagnostic::error(
            file,
            node.pos,
            format!("`min_length` {lo} is greater than `max_length` {hi}"),
        ));
    }
    if let Some(n) = r.take("pattern") {
        if t != ParamType::String {
            d.push(not_applicable(file, n.pos, "pattern", t, "string"));
        }
        if let Some(p) = str_of(file, n, "pattern", d) {
            match compile_pattern(&p) {
                Ok(re) => c.compiled = Some(re),
                Err(e) => d.push(
                    Diagnostic::error(file, n.pos, format!("invalid regular expression in `pattern`: {}", first_line(&e.to_string())))
                        .with_help("patterns use Rust `regex` syntax (no look-around or back-references) and must match the whole value"),
                ),
            }
            c.pattern = Some(p);
        }
    }
    if let Some(n) = r.take("enum")
        && let Some(items) = list_of(file, n, "enum", d)
    {
        if items.is_empty() {
            d.push(Diagnostic::error(
                file,
                n.pos,
                "`enum` is an empty list, so no value would be valid",
            ));
        }
        let values: Vec<serde_json::Value> = items.iter().map(|i| i.value.to_json()).collect();
        for (item, v) in items.iter().zip(&values) {
            if !crate::params::type_matches(t, v) {
                d.push(Diagnostic::error(
                    file,
                    item.pos,
                    format!("`enum` value {v} is not of the parameter's type {t}"),
                ));
            }
        }
        c.enum_values = Some(values);
    }
    r.finish(d);
    Some(c)
}

/// Compiles a `pattern` constraint, anchored to the whole value. Compiled
/// patterns are shared process-wide: the catalogue repeats a handful of
/// patterns (DNS names, label values) many times, and compiling is the costly
/// part of loading it.
fn compile_pattern(p: &str) -> Result<Regex, regex::Error> {
    static CACHE: LazyLock<std::sync::Mutex<std::collections::HashMap<String, Regex>>> =
        LazyLock::new(Default::default);
    if let Some(re) = CACHE.lock().ok().and_then(|c| c.get(p).cloned()) {
        return Ok(re);
    }
    let re = regex::RegexBuilder::new(&format!("^(?:{p})$"))
        .size_limit(REGEX_SIZE_LIMIT)
        .build()?;
    if let Ok(mut c) = CACHE.lock() {
        // Bounded: a hostile stream of distinct patterns cannot grow it forever.
        if c.len() < 4096 {
            c.insert(p.to_owned(), re.clone());
        }
    }
    Ok(re)
}

fn first_line(s: &str) -> String {
    let line = s
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with('^') && !l.starts_with("regex parse error"))
        .unwrap_or(s);
    line.strip_prefix("error: ").unwrap_or(line).to_owned()
}

fn not_applicable(file: &Path, pos: Pos, key: &str, t: ParamType, applies_to: &str) -> Diagnostic {
    Diagnostic::error(
        file,
        pos,
        format!("`{key}` does not apply to a parameter of type {t}"),
    )
    .with_help(format!("`{key}` applies to {applies_to} parameters"))
}
