//! Python objects ↔ JSON values.
//!
//! Params and context cross into Rust as `serde_json::Value`. Only what JSON
//! can carry is accepted: `dict` (with `str` keys), `list`, `tuple`, `str`,
//! `int`, `float`, `bool` and `None` (subclasses included, e.g. `str` enums).
//! Anything else is a programming error in the host and raises `TypeError`
//! (NaN, infinities and nesting deeper than [`MAX_DEPTH`]: `ValueError`),
//! the way `json.dumps` would, before anything is evaluated. Whether the
//! *values* suit the action (types, constraints, unknown or missing keys,
//! integers beyond ±(2^53−1)) is the core's business: that is a DENY.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};

/// How deep params may nest (serde_json's own parser stops at 128 too). It
/// also stops a self-containing list or dict.
pub(crate) const MAX_DEPTH: usize = 128;

/// Why a value could not be converted, and where.
struct Problem {
    /// Path segments from the innermost outwards (reversed when reported).
    path: Vec<String>,
    kind: Kind,
}

enum Kind {
    Type(String),
    DictKey(String),
    DuplicateKey,
    NotFinite,
    TooDeep,
    Python(PyErr),
}

impl Problem {
    fn new(kind: Kind) -> Self {
        Problem {
            path: Vec::new(),
            kind,
        }
    }

    fn at(mut self, seg: String) -> Self {
        self.path.push(seg);
        self
    }

    fn into_pyerr(self, what: &str) -> PyErr {
        let mut location = what.to_owned();
        for seg in self.path.iter().rev() {
            location.push_str(seg);
        }
        match self.kind {
            Kind::Type(ty) => PyTypeError::new_err(format!(
                "{location}: a value of type `{ty}` has no JSON form; \
                 use dict, list, tuple, str, int, float, bool or None"
            )),
            Kind::DictKey(ty) => PyTypeError::new_err(format!(
                "{location}: dict keys must be str (JSON object keys), got `{ty}`"
            )),
            Kind::DuplicateKey => PyValueError::new_err(format!(
                "{location}: duplicate key: two keys of this dict are the same string \
                 (a str subclass with its own __eq__/__hash__?); a key may appear only once in a JSON object"
            )),
            Kind::NotFinite => {
                PyValueError::new_err(format!("{location}: NaN and infinities have no JSON form"))
            }
            Kind::TooDeep => PyValueError::new_err(format!(
                "{location}: nested more than {MAX_DEPTH} levels deep (or contains itself)"
            )),
            Kind::Python(e) => e,
        }
    }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_owned())
}

/// Converts `obj` for the argument called `what` (used in error messages,
/// e.g. `params`, `params["replicas"]`).
pub(crate) fn to_json(what: &str, obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    convert(obj, 0).map_err(|p| p.into_pyerr(what))
}

fn convert(obj: &Bound<'_, PyAny>, depth: usize) -> Result<Value, Problem> {
    // The common exact types first; subclasses after.
    if let Ok(s) = obj.cast_exact::<PyString>() {
        return string(s);
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        return dict(d, depth);
    }
    if obj.is_instance_of::<PyBool>() {
        return Ok(Value::Bool(
            obj.is_truthy().map_err(|e| Problem::new(Kind::Python(e)))?,
        ));
    }
    if obj.is_instance_of::<PyInt>() {
        return int(obj);
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return string(s);
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return float(f.value());
    }
    if let Ok(l) = obj.cast::<PyList>() {
        return sequence(l.iter(), l.len(), depth);
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        return sequence(t.iter(), t.len(), depth);
    }
    Err(Problem::new(Kind::Type(type_name(obj))))
}

fn string(s: &Bound<'_, PyString>) -> Result<Value, Problem> {
    s.to_str()
        .map(|s| Value::String(s.to_owned()))
        .map_err(|e| Problem::new(Kind::Python(e)))
}

fn int(obj: &Bound<'_, PyAny>) -> Result<Value, Problem> {
    if let Ok(i) = obj.extract::<i64>() {
        return Ok(Value::Number(i.into()));
    }
    if let Ok(u) = obj.extract::<u64>() {
        return Ok(Value::Number(u.into()));
    }
    // Beyond 64 bits: what serde_json makes of such a number in JSON text (a
    // float), so the CLI and the SDK see the same value; the core then
    // denies it wherever an integer is expected.
    let f = obj
        .extract::<f64>()
        .map_err(|e| Problem::new(Kind::Python(e)))?;
    float(f)
}

fn float(f: f64) -> Result<Value, Problem> {
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| Problem::new(Kind::NotFinite))
}

fn dict(d: &Bound<'_, PyDict>, depth: usize) -> Result<Value, Problem> {
    if depth >= MAX_DEPTH {
        return Err(Problem::new(Kind::TooDeep));
    }
    let mut map = Map::new();
    for (k, v) in d.iter() {
        let Ok(key) = k.cast::<PyString>() else {
            return Err(Problem::new(Kind::DictKey(type_name(&k))));
        };
        let key = key
            .to_str()
            .map_err(|e| Problem::new(Kind::Python(e)))?
            .to_owned();
        if map.contains_key(&key) {
            // Only str subclasses that redefine equality get here; refused
            // like a repeated key in JSON text, never "last one wins".
            return Err(Problem::new(Kind::DuplicateKey).at(format!("[{key:?}]")));
        }
        match convert(&v, depth + 1) {
            Ok(value) => {
                map.insert(key, value);
            }
            Err(p) => return Err(p.at(format!("[{key:?}]"))),
        }
    }
    Ok(Value::Object(map))
}

fn sequence<'py>(
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    len: usize,
    depth: usize,
) -> Result<Value, Problem> {
    if depth >= MAX_DEPTH {
        return Err(Problem::new(Kind::TooDeep));
    }
    let mut out = Vec::with_capacity(len);
    for (i, item) in items.enumerate() {
        match convert(&item, depth + 1) {
            Ok(v) => out.push(v),
            Err(p) => return Err(p.at(format!("[{i}]"))),
        }
    }
    Ok(Value::Array(out))
}

/// `obj` as JSON text, converted exactly as `check` converts params (the
/// same errors); `RemoteAgentSafe` sends what this returns.
#[pyfunction]
#[pyo3(name = "_to_json")]
pub(crate) fn to_json_text(what: &str, obj: &Bound<'_, PyAny>) -> PyResult<String> {
    let v = to_json(what, obj)?;
    serde_json::to_string(&v).map_err(|e| PyValueError::new_err(format!("{what}: {e}")))
}

/// A JSON value as Python objects (dict, list, str, int, float, bool, None).
pub(crate) fn to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, item) in map {
                dict.set_item(k, to_py(py, item)?)?;
            }
            dict.into_any()
        }
    })
}

/// Optional string → `str` or `None`.
pub(crate) fn opt_str<'py>(py: Python<'py>, s: Option<&str>) -> Bound<'py, PyAny> {
    match s {
        Some(s) => PyString::new(py, s).into_any(),
        None => py.None().into_bound(py),
    }
}
