//! Raising the package's own exceptions (defined in Python, in
//! `agent_safe/_errors.py`) from Rust.

use agent_safe_core::diag::{ConfigError, Severity};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyType};

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
    for d in &e.diagnostics {
        let kw = PyDict::new(py);
        kw.set_item("file", d.file.display().to_string())?;
        kw.set_item("line", (d.pos.line > 0).then_some(d.pos.line))?;
        kw.set_item(
            "column",
            (d.pos.line > 0 && d.pos.col > 0).then_some(d.pos.col),
        )?;
        kw.set_item("message", &d.message)?;
        kw.set_item("help", d.help.as_deref())?;
        kw.set_item(
            "severity",
            match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            },
        )?;
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
