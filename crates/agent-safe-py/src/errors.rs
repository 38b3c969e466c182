//! Raising the package's own exceptions (defined in Python, in
//! `agent_safe/_errors.py`) from Rust.

use agent_safe_core::diag::ConfigError;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyType};

use crate::convert::to_py;

const ERRORS: &str = "agent_safe._errors";

static CONFIG_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static DIAGNOSTIC: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static AGENT_SAFE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static UNKNOWN_ACTION: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// `agent_safe.ConfigError` carrying every diagnostic.
pub(crate) fn config_error(py: Python<'_>, e: &ConfigError) -> PyErr {
    build_config_error(py, e).unwrap_or_else(|err| err)
}

fn build_config_error(py: Python<'_>, e: &ConfigError) -> PyResult<PyErr> {
    let diagnostic = DIAGNOSTIC.import(py, ERRORS, "Diagnostic")?;
    let list = PyList::empty(py);
    for d in e.diagnostics() {
        // The core's one JSON form of a diagnostic (`line`/`column` null
        // when unknown), as `validate --output json` prints it.
        let kw = serde_json::to_value(d)
            .map_err(|err| PyValueError::new_err(format!("cannot convert a diagnostic: {err}")))
            .and_then(|v| to_py(py, &v))?;
        let kw = kw.cast_into::<PyDict>()?;
        list.append(diagnostic.call((), Some(&kw))?)?;
    }
    let exc = CONFIG_ERROR
        .import(py, ERRORS, "ConfigError")?
        .call1((list,))?;
    Ok(PyErr::from_value(exc))
}

/// `agent_safe.AgentSafeError(message)`.
pub(crate) fn agent_safe_error(py: Python<'_>, message: String) -> PyErr {
    match AGENT_SAFE_ERROR.import(py, ERRORS, "AgentSafeError") {
        Ok(cls) => PyErr::from_type(cls.clone(), message),
        Err(e) => e,
    }
}

/// `agent_safe.UnknownActionError(message, name)`.
pub(crate) fn unknown_action(py: Python<'_>, message: String, name: &str) -> PyErr {
    match UNKNOWN_ACTION.import(py, ERRORS, "UnknownActionError") {
        Ok(cls) => PyErr::from_type(cls.clone(), (message, name.to_owned())),
        Err(e) => e,
    }
}

static MAPPING_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static UNMAPPED_TOOL: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// `agent_safe.MappingError(message, tool=, kind=, argument=)`, or its
/// subclass `agent_safe.UnmappedToolError` when `kind` is `unmapped`.
pub(crate) fn mapping_error(
    py: Python<'_>,
    message: String,
    tool: &str,
    kind: &str,
    argument: Option<&str>,
) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let cls = if kind == "unmapped" {
            UNMAPPED_TOOL.import(py, ERRORS, "UnmappedToolError")?
        } else {
            MAPPING_ERROR.import(py, ERRORS, "MappingError")?
        };
        let kw = PyDict::new(py);
        kw.set_item("tool", tool)?;
        kw.set_item("kind", kind)?;
        kw.set_item("argument", argument)?;
        let exc = cls.call((message,), Some(&kw))?;
        Ok(PyErr::from_value(exc))
    };
    build().unwrap_or_else(|err| err)
}
