//! Parameter validation: every problem of a request's params, listed.

use serde_json::Value as Json;

use crate::model::{ActionDef, Constraints, ParamType};

/// Largest integer a parameter may carry: JSON numbers beyond ±(2^53 − 1)
/// cannot be represented exactly by every consumer (RFC 8785 canonical JSON
/// uses IEEE doubles), so they are invalid params.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// True when `v` has JSON type `t` (integers must be exact integers within
/// ±(2^53 − 1)).
pub fn type_matches(t: ParamType, v: &Json) -> bool {
    match t {
        ParamType::String => v.is_string(),
        ParamType::Integer => v
            .as_i64()
            .is_some_and(|i| (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&i)),
        ParamType::Number => v.is_number() && safe_number(v),
        ParamType::Boolean => v.is_boolean(),
        ParamType::Array => v.is_array(),
        ParamType::Object => v.is_object(),
    }
}

fn safe_number(v: &Json) -> bool {
    match (v.as_i64(), v.as_u64()) {
        (Some(i), _) => (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&i),
        (None, Some(_)) => false,
        (None, None) => v.as_f64().is_some_and(f64::is_finite),
    }
}

fn json_type_name(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

/// Finds unsafe integers anywhere inside a value (nested arrays and objects).
fn find_unsafe_integer(v: &Json) -> Option<String> {
    match v {
        Json::Number(n) => {
            let ok = match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&i),
                (None, Some(_)) => false,
                (None, None) => true,
            };
            (!ok).then(|| n.to_string())
        }
        Json::Array(items) => items.iter().find_map(find_unsafe_integer),
        Json::Object(map) => map.values().find_map(find_unsafe_integer),
        _ => None,
    }
}

/// Checks one value against a type and constraints, appending problems.
pub fn check_value(
    name: &str,
    t: ParamType,
    c: Option<&Constraints>,
    v: &Json,
    problems: &mut Vec<String>,
) {
    if let Some(big) = find_unsafe_integer(v) {
        problems.push(format!(
            "`{name}`: integer {big} is beyond ±(2^53-1) and cannot be represented exactly"
        ));
        return;
    }
    if !type_matches(t, v) {
        problems.push(format!(
            "`{name}` must be of type {t}, got {}",
            json_type_name(v)
        ));
        return;
    }
    let Some(c) = c else { return };
    if let Some(n) = v.as_f64().filter(|_| v.is_number()) {
        if let Some(min) = c.min_value
            && n < min
        {
            problems.push(format!("`{name}` must be at least {min}, got {v}"));
        }
        if let Some(max) = c.max_value
            && n > max
        {
            problems.push(format!("`{name}` must be at most {max}, got {v}"));
        }
    }
    let len = match v {
        Json::String(s) => Some(s.chars().count() as u64),
        Json::Array(a) => Some(a.len() as u64),
        _ => None,
    };
    if let Some(len) = len {
        let unit = if v.is_string() { "characters" } else { "items" };
        if let Some(min) = c.min_length
            && len < min
        {
            problems.push(format!(
                "`{name}` must have at least {min} {unit}, got {len}"
            ));
        }
        if let Some(max) = c.max_length
            && len > max
        {
            problems.push(format!(
                "`{name}` must have at most {max} {unit}, got {len}"
            ));
        }
    }
    if let (Some(re), Json::String(s)) = (&c.compiled, v)
        && !re.is_match(s)
    {
        let pattern = c.pattern.as_deref().unwrap_or_default();
        problems.push(format!(
            "`{name}` value {v} does not match the pattern `{pattern}`"
        ));
    }
    if let Some(allowed) = &c.enum_values
        && !allowed.iter().any(|a| json_eq(a, v))
    {
        let list: Vec<String> = allowed.iter().map(Json::to_string).collect();
        problems.push(format!(
            "`{name}` must be one of {}, got {v}",
            list.join(", ")
        ));
    }
}

/// Equality that treats `1` and `1.0` as the same number.
fn json_eq(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// Validates a request's params against an action definition.
///
/// `params` may be `None` or `null` (treated as `{}`); anything else that is not
/// a JSON object is a problem. Returns every problem found: missing required
/// parameters, unknown parameters, wrong types and broken constraints.
pub fn validate_params(action: &ActionDef, params: Option<&Json>) -> Result<(), Vec<String>> {
    let empty = serde_json::Map::new();
    let map = match params {
        None | Some(Json::Null) => &empty,
        Some(Json::Object(m)) => m,
        Some(other) => {
            return Err(vec![format!(
                "params must be a JSON object, got {}",
                json_type_name(other)
            )]);
        }
    };
    let mut problems = Vec::new();
    for p in &action.parameters {
        match map.get(&p.name) {
            Some(v) => check_value(
                &p.name,
                p.param_type,
                p.constraints.as_ref(),
                v,
                &mut problems,
            ),
            None if p.required && p.default.is_none() => {
                problems.push(format!(
                    "missing required parameter `{}` ({})",
                    p.name, p.param_type
                ));
            }
            None => {}
        }
    }
    for key in map.keys() {
        if action.parameter(key).is_none() {
            let hint =
                crate::diag::did_you_mean(key, action.parameters.iter().map(|p| p.name.as_str()))
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
            problems.push(format!("unknown parameter `{key}`{hint}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// The value of parameter `name` in `params`, or its default.
pub fn param_or_default<'a>(
    action: &'a ActionDef,
    params: Option<&'a Json>,
    name: &str,
) -> Option<&'a Json> {
    params
        .and_then(|p| p.get(name))
        .or_else(|| action.parameter(name).and_then(|p| p.default.as_ref()))
}
