//! `ToolMapping` and `MappedCall`: the core's tool → action mapping
//! (`agent_safe_core::mapping`, the format of the MCP gateway's `tools:`),
//! seen from Python, so that every Python integration (LangGraph, the Claude
//! Agent SDK, the OpenAI Agents SDK) maps tool calls exactly as the gateway
//! does. Nothing is re-implemented here: loading, validation and
//! `map_call` are the core's.

use std::path::{Path, PathBuf};

use agent_safe_core::config::load_config;
use agent_safe_core::diag::{ConfigError, Diagnostic, Pos};
use agent_safe_core::load::SourceFile;
use agent_safe_core::mapping::{MapError, MappedCall, ToolMapping, parse_mcp, resolve_section};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use serde_json::Value as Json;

use crate::convert::{opt_str, to_json, to_py};
use crate::errors::{config_error, mapping_error};

/// How an agent's tool calls become checks: tool name → action, tool
/// arguments → params, and how the target is named.
///
/// The format is the ``tools:`` of the MCP gateway's settings (see
/// docs/MCP.md), read by the same loader, so one mapping file serves the
/// gateway and every Python integration. Build one with
/// :meth:`from_file`, :meth:`from_config`, :meth:`from_yaml` or
/// :meth:`from_dict`; files that do not load raise :class:`ConfigError`
/// with ``file:line:column`` for each problem. Immutable and safe to share
/// between threads.
#[pyclass(name = "ToolMapping", module = "agent_safe", frozen)]
pub(crate) struct PyToolMapping {
    inner: ToolMapping,
    source: Option<PathBuf>,
}

/// One tool call mapped to a check: ``action``, ``target`` (``None``: found
/// from the params through the action's ``target_params``) and ``params``.
#[pyclass(name = "MappedCall", module = "agent_safe", frozen, eq)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyMappedCall {
    tool: String,
    inner: MappedCall,
}

fn parse_text(text: &str, source: &Path) -> Result<PyToolMapping, ConfigError> {
    let s = parse_mcp(&SourceFile {
        path: source.to_path_buf(),
        text: text.to_owned(),
    })?;
    Ok(PyToolMapping {
        inner: s.mapping,
        source: None,
    })
}

#[pymethods]
impl PyToolMapping {
    /// Loads a mapping file: a file with a ``tools:`` key, such as the MCP
    /// gateway's settings file (its other keys are read and checked too).
    #[staticmethod]
    fn from_file(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let loaded = py.detach(|| agent_safe_core::mapping::load_mcp_file(&path));
        match loaded {
            Ok(s) => Ok(PyToolMapping {
                inner: s.mapping,
                source: s.source,
            }),
            Err(e) => Err(config_error(py, &e)),
        }
    }

    /// The mapping of the ``mcp:`` section of an ``agent-safe.yaml`` (inline,
    /// or the file it names): the one the MCP gateway of that project uses.
    #[staticmethod]
    fn from_config(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let loaded = py.detach(|| -> Result<PyToolMapping, ConfigError> {
            let cfg = load_config(&path)?;
            let Some(section) = cfg.mcp.as_ref() else {
                return Err(ConfigError::single(
                    Diagnostic::error(&path, Pos::FILE, "this config has no `mcp:` section, so it has no tool mapping")
                        .with_help("add `mcp: mcp.yaml` (a file with `tools:`), or load the mapping file itself with `ToolMapping.from_file`"),
                ));
            };
            let s = resolve_section(section)?;
            Ok(PyToolMapping {
                inner: s.mapping,
                source: s.source,
            })
        });
        loaded.map_err(|e| config_error(py, &e))
    }

    /// Reads a mapping from YAML text; ``source`` names it in error messages.
    #[staticmethod]
    #[pyo3(signature = (text, *, source = "<string>"))]
    fn from_yaml(py: Python<'_>, text: &str, source: &str) -> PyResult<Self> {
        parse_text(text, Path::new(source)).map_err(|e| config_error(py, &e))
    }

    /// Reads a mapping from a dict shaped like the file,
    /// ``{"tools": {"pods_delete": {"action": "delete-pod", ...}}}``,
    /// checked by the same loader (errors are reported against its JSON text,
    /// with ``source`` as the file name).
    #[staticmethod]
    #[pyo3(signature = (data, *, source = "<dict>"))]
    fn from_dict(py: Python<'_>, data: &Bound<'_, PyAny>, source: &str) -> PyResult<Self> {
        let v = to_json("data", data)?;
        if !v.is_object() {
            return Err(PyValueError::new_err(
                "data: expected a dict with a `tools` key, e.g. {\"tools\": {\"pods_delete\": {\"action\": \"delete-pod\"}}}",
            ));
        }
        // JSON is YAML: the YAML loader reads it and reports line:column.
        let text = serde_json::to_string_pretty(&v)
            .map_err(|e| PyValueError::new_err(format!("data: {e}")))?;
        parse_text(&text, Path::new(source)).map_err(|e| config_error(py, &e))
    }

    /// Maps one tool call. ``arguments`` is a dict, JSON text of an object
    /// (as some SDKs pass them), or ``None``. Raises
    /// :class:`UnmappedToolError` for a tool the mapping does not name and
    /// :class:`MappingError` for arguments that cannot be mapped (not an
    /// object, an argument the check would not see, a target argument
    /// missing): refuse such calls.
    #[pyo3(signature = (tool, arguments = None))]
    fn map_call(
        &self,
        py: Python<'_>,
        tool: &str,
        arguments: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyMappedCall> {
        let args: Option<Json> =
            match arguments {
                None => None,
                Some(a) if a.is_none() => None,
                Some(a) => {
                    match a.cast::<PyString>() {
                        Ok(s) => {
                            let text = s.to_str()?;
                            if text.trim().is_empty() {
                                None
                            } else {
                                Some(agent_safe_core::json::parse("arguments", text).map_err(|e| {
                            mapping_error(
                                py,
                                format!("the arguments of tool `{tool}` are not valid JSON: {e}"),
                                tool,
                                "invalid_arguments",
                                None,
                            )
                        })?)
                            }
                        }
                        Err(_) => Some(to_json("arguments", a)?),
                    }
                }
            };
        match self.inner.map_call(tool, args.as_ref()) {
            Ok(inner) => Ok(PyMappedCall {
                tool: tool.to_owned(),
                inner,
            }),
            Err(e) => {
                let (kind, arg) = match &e {
                    MapError::Unmapped(_) => ("unmapped", None),
                    MapError::NotAnObject(_) => ("not_an_object", None),
                    MapError::UncheckedArgument { arg, .. } => {
                        ("unchecked_argument", Some(arg.as_str()))
                    }
                    MapError::MissingTargetArgument { arg, .. } => {
                        ("missing_target_argument", Some(arg.as_str()))
                    }
                };
                Err(mapping_error(py, e.to_string(), tool, kind, arg))
            }
        }
    }

    /// The mapped tool names, sorted.
    #[getter]
    fn tools(&self) -> Vec<String> {
        self.inner.tools.keys().cloned().collect()
    }

    /// The file the mapping was read from (``None`` for text and dicts).
    #[getter]
    fn source(&self) -> Option<String> {
        self.source.as_ref().map(|p| p.display().to_string())
    }

    /// The rule of ``tool`` as a dict (``action``, and ``target``,
    /// ``params``, ``description``, ``unchecked_arguments`` when set), or
    /// ``None`` when the tool is unmapped.
    fn rule<'py>(&self, py: Python<'py>, tool: &str) -> PyResult<Bound<'py, PyAny>> {
        match self.inner.rule(tool) {
            None => Ok(py.None().into_bound(py)),
            Some(r) => {
                let v = serde_json::to_value(r)
                    .map_err(|e| PyValueError::new_err(format!("cannot convert the rule: {e}")))?;
                to_py(py, &v)
            }
        }
    }

    fn __contains__(&self, tool: &str) -> bool {
        self.inner.tools.contains_key(tool)
    }

    fn __len__(&self) -> usize {
        self.inner.tools.len()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let names = pyo3::types::PyList::new(py, self.inner.tools.keys())?;
        Ok(format!("ToolMapping(tools={})", names.repr()?))
    }
}

#[pymethods]
impl PyMappedCall {
    /// The tool, as called.
    #[getter]
    fn tool(&self) -> &str {
        &self.tool
    }

    /// The action checked (``name`` or ``name@version``).
    #[getter]
    fn action(&self) -> &str {
        &self.inner.action
    }

    /// The inventory id the mapping names, or ``None``.
    #[getter]
    fn target<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        opt_str(py, self.inner.target.as_deref())
    }

    /// The action's params (a new dict on every read).
    #[getter]
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.inner.params)
    }

    /// ``{"tool", "action", "target", "params"}``.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("tool", &self.tool)?;
        d.set_item("action", &self.inner.action)?;
        d.set_item("target", opt_str(py, self.inner.target.as_deref()))?;
        d.set_item("params", to_py(py, &self.inner.params)?)?;
        Ok(d)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let params = to_py(py, &self.inner.params)?.repr()?.to_string();
        let target = opt_str(py, self.inner.target.as_deref())
            .repr()?
            .to_string();
        Ok(format!(
            "MappedCall(tool={:?}, action={:?}, target={target}, params={params})",
            self.tool, self.inner.action
        ))
    }
}
