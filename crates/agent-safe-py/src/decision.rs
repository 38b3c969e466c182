//! `Decision` and `Plan`: the core's answer types, seen from Python.
//!
//! A `Decision` holds the core's [`Decision`] itself and makes Python objects
//! only when an attribute is read, so a check allocates one Python object.
//! `to_dict()` gives exactly the JSON of `agent-safe check --output json` and
//! of the HTTP API (same keys, same values; `plan_step` and `trace` only when
//! set); `from_dict()` reads that JSON back through the same serde type (the
//! HTTP client builds its decisions with it).

use agent_safe_core::engine::TraceEntry;
use agent_safe_core::model::DecisionResult;
use agent_safe_core::{Decision, PlanDecision};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyList, PyTuple, PyType};

use crate::convert::{opt_str, to_json};

static RESULT_ENUM: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static RESULTS: PyOnceLock<[Py<PyAny>; 3]> = PyOnceLock::new();

/// The `agent_safe.DecisionResult` member for `r`.
fn result_member<'py>(py: Python<'py>, r: DecisionResult) -> PyResult<Bound<'py, PyAny>> {
    let members = RESULTS.get_or_try_init(py, || -> PyResult<[Py<PyAny>; 3]> {
        let cls = RESULT_ENUM.import(py, "agent_safe._types", "DecisionResult")?;
        Ok([
            cls.getattr("ALLOW")?.unbind(),
            cls.getattr("REQUIRE_APPROVAL")?.unbind(),
            cls.getattr("DENY")?.unbind(),
        ])
    })?;
    let [allow, approval, deny] = members;
    Ok(match r {
        DecisionResult::Allow => allow,
        DecisionResult::RequireApproval => approval,
        DecisionResult::Deny => deny,
    }
    .bind(py)
    .clone())
}

/// The answer to one check.
///
/// Immutable. ``result`` is a :class:`DecisionResult`; ``allowed`` is true
/// only for ``allow``. ``to_dict()`` is the JSON of ``agent-safe check
/// --output json`` and of the HTTP API.
#[pyclass(name = "Decision", module = "agent_safe", frozen, eq)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyDecision {
    pub(crate) inner: Decision,
}

fn trace_dict<'py>(py: Python<'py>, t: &TraceEntry) -> PyResult<Bound<'py, PyDict>> {
    // Destructured without `..`: a field added to the core type fails to
    // compile here instead of silently missing from `to_dict()`.
    let TraceEntry {
        rule,
        priority,
        specificity,
        decision,
        matched,
        note,
    } = t;
    let d = PyDict::new(py);
    d.set_item("rule", rule)?;
    d.set_item("priority", priority)?;
    d.set_item("specificity", specificity)?;
    d.set_item("decision", decision.as_str())?;
    d.set_item("matched", matched)?;
    d.set_item("note", note)?;
    Ok(d)
}

fn trace_list<'py>(py: Python<'py>, trace: &[TraceEntry]) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for t in trace {
        list.append(trace_dict(py, t)?)?;
    }
    Ok(list)
}

/// The serde JSON of a core decision, as a Python dict (same keys, order and
/// values as `serde_json::to_value`).
pub(crate) fn decision_dict<'py>(py: Python<'py>, d: &Decision) -> PyResult<Bound<'py, PyDict>> {
    let Decision {
        result,
        reason,
        policy_matched,
        action,
        action_version,
        target,
        caller,
        risk_class,
        effective_risk,
        audit_id,
        correlation_id,
        evaluated_at,
        plan_step,
        trace,
    } = d;
    let out = PyDict::new(py);
    out.set_item("result", result.as_str())?;
    out.set_item("reason", reason)?;
    out.set_item("policy_matched", policy_matched.as_deref())?;
    out.set_item("action", action)?;
    out.set_item("action_version", action_version.as_deref())?;
    out.set_item("target", target.as_deref())?;
    out.set_item("caller", caller.as_deref())?;
    out.set_item("risk_class", risk_class.as_str())?;
    out.set_item("effective_risk", effective_risk.as_str())?;
    out.set_item("audit_id", audit_id.as_deref())?;
    out.set_item("correlation_id", correlation_id.as_deref())?;
    out.set_item("evaluated_at", evaluated_at)?;
    if let Some(step) = plan_step {
        out.set_item("plan_step", step)?;
    }
    if let Some(trace) = trace {
        out.set_item("trace", trace_list(py, trace)?)?;
    }
    Ok(out)
}

fn py_repr(py: Python<'_>, s: Option<&str>) -> PyResult<String> {
    Ok(opt_str(py, s).repr()?.to_string())
}

/// Reads the JSON form of a core type from a Python dict.
fn from_json<T: serde::de::DeserializeOwned>(what: &str, data: &Bound<'_, PyAny>) -> PyResult<T> {
    let value = to_json("data", data)?;
    serde_json::from_value(value)
        .map_err(|e| PyValueError::new_err(format!("not a valid {what}: {e}")))
}

#[pymethods]
impl PyDecision {
    /// Builds a decision from its JSON form (``to_dict()``, the CLI's
    /// ``--output json``, the HTTP API's body). Unknown keys are ignored.
    ///
    /// Raises ``ValueError`` when a field is missing or has the wrong type.
    #[classmethod]
    fn from_dict(_cls: &Bound<'_, PyType>, data: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(PyDecision {
            inner: from_json("decision", data)?,
        })
    }

    /// The JSON form: the same keys and values as ``agent-safe check
    /// --output json`` and the HTTP API (``plan_step`` and ``trace`` only
    /// when set). A new dict on every call.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        decision_dict(py, &self.inner)
    }

    /// ``allow``, ``deny`` or ``require_approval``
    /// (:class:`DecisionResult`, a ``str`` enum).
    #[getter]
    fn result<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        result_member(py, self.inner.result)
    }

    /// True only when the result is ``allow``.
    #[getter]
    fn allowed(&self) -> bool {
        self.inner.allowed()
    }

    /// Why, in words an agent (or a human) can act on.
    #[getter]
    fn reason(&self) -> &str {
        &self.inner.reason
    }

    /// The rule that decided, or ``None`` (default deny, or a failure before
    /// any rule ran).
    #[getter]
    fn policy_matched(&self) -> Option<&str> {
        self.inner.policy_matched.as_deref()
    }

    /// The action asked about (as given when it is unknown).
    #[getter]
    fn action(&self) -> &str {
        &self.inner.action
    }

    /// The resolved action version, or ``None`` for an unknown action.
    #[getter]
    fn action_version(&self) -> Option<&str> {
        self.inner.action_version.as_deref()
    }

    /// The target id (given, or resolved from the params), or ``None``.
    #[getter]
    fn target(&self) -> Option<&str> {
        self.inner.target.as_deref()
    }

    /// The caller's agent id when known (``None``: anonymous or rejected).
    #[getter]
    fn caller(&self) -> Option<&str> {
        self.inner.caller.as_deref()
    }

    /// The action's risk class: ``low``, ``medium``, ``high`` or
    /// ``critical`` (``critical`` for an unknown action).
    #[getter]
    fn risk_class(&self) -> &'static str {
        self.inner.risk_class.as_str()
    }

    /// Action risk × target sensitivity (``low`` … ``critical``).
    #[getter]
    fn effective_risk(&self) -> &'static str {
        self.inner.effective_risk.as_str()
    }

    /// The audit event id (``None`` when no audit log is configured).
    #[getter]
    fn audit_id(&self) -> Option<&str> {
        self.inner.audit_id.as_deref()
    }

    /// Links this decision to others (shared by the steps of a plan).
    #[getter]
    fn correlation_id(&self) -> Option<&str> {
        self.inner.correlation_id.as_deref()
    }

    /// The time the policy was evaluated at (RFC 3339, UTC).
    #[getter]
    fn evaluated_at(&self) -> &str {
        &self.inner.evaluated_at
    }

    /// The step index within a plan, else ``None``.
    #[getter]
    fn plan_step(&self) -> Option<u32> {
        self.inner.plan_step
    }

    /// Every rule considered, in rank order, when the check asked for
    /// ``explain=True``; else ``None``. Each entry: ``rule``, ``priority``,
    /// ``specificity``, ``decision``, ``matched``, ``note``.
    #[getter]
    fn trace<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyList>>> {
        self.inner
            .trace
            .as_deref()
            .map(|t| trace_list(py, t))
            .transpose()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let d = &self.inner;
        Ok(format!(
            "Decision(result={}, action={}, target={}, caller={}, policy_matched={}, reason={})",
            py_repr(py, Some(d.result.as_str()))?,
            py_repr(py, Some(&d.action))?,
            py_repr(py, d.target.as_deref())?,
            py_repr(py, d.caller.as_deref())?,
            py_repr(py, d.policy_matched.as_deref())?,
            py_repr(py, Some(&d.reason))?,
        ))
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let from_dict = slf.get_type().getattr("from_dict")?;
        let data = decision_dict(py, &slf.get().inner)?;
        PyTuple::new(py, [from_dict, PyTuple::new(py, [data])?.into_any()])
    }
}

/// The answer to a multi-step plan: one decision per step, under one
/// correlation id, and the overall result (the most restrictive step).
#[pyclass(name = "Plan", module = "agent_safe", frozen)]
pub(crate) struct PyPlan {
    result: DecisionResult,
    correlation_id: String,
    steps: Vec<Py<PyDecision>>,
}

impl PyPlan {
    pub(crate) fn new(py: Python<'_>, p: PlanDecision) -> PyResult<Self> {
        let PlanDecision {
            result,
            correlation_id,
            steps,
        } = p;
        let steps = steps
            .into_iter()
            .map(|d| Py::new(py, PyDecision { inner: d }))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(PyPlan {
            result,
            correlation_id,
            steps,
        })
    }
}

#[pymethods]
impl PyPlan {
    /// Builds a plan from its JSON form (``to_dict()``, ``agent-safe
    /// check-plan --output json``, the HTTP API's body).
    #[classmethod]
    fn from_dict(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        PyPlan::new(py, from_json("plan", data)?)
    }

    /// ``allow`` only when every step is allowed; otherwise the most
    /// restrictive step result.
    #[getter]
    fn result<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        result_member(py, self.result)
    }

    /// True only when every step is allowed.
    #[getter]
    fn allowed(&self) -> bool {
        self.result == DecisionResult::Allow
    }

    /// Shared by every step (and their audit events).
    #[getter]
    fn correlation_id(&self) -> &str {
        &self.correlation_id
    }

    /// One :class:`Decision` per step, in order (a new list on every read).
    #[getter]
    fn steps<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.steps.iter().map(|s| s.bind(py)))
    }

    /// The JSON form: ``result``, ``correlation_id``, ``steps`` (each a
    /// decision's ``to_dict()``).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        out.set_item("result", self.result.as_str())?;
        out.set_item("correlation_id", &self.correlation_id)?;
        let steps = PyList::empty(py);
        for s in &self.steps {
            steps.append(decision_dict(py, &s.get().inner)?)?;
        }
        out.set_item("steps", steps)?;
        Ok(out)
    }

    fn __len__(&self) -> usize {
        self.steps.len()
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> Py<PyAny> {
        let Ok(other) = other.cast::<PyPlan>() else {
            return py.NotImplemented();
        };
        let o = other.get();
        let same = self.result == o.result
            && self.correlation_id == o.correlation_id
            && self.steps.len() == o.steps.len()
            && self
                .steps
                .iter()
                .zip(&o.steps)
                .all(|(a, b)| a.bind(py).get() == b.bind(py).get());
        PyBool::new(py, same).to_owned().into_any().unbind()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Plan(result={}, correlation_id={}, steps={})",
            py_repr(py, Some(self.result.as_str()))?,
            py_repr(py, Some(&self.correlation_id))?,
            self.steps.len()
        ))
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let from_dict = slf.get_type().getattr("from_dict")?;
        let data = slf.get().to_dict(py)?;
        PyTuple::new(py, [from_dict, PyTuple::new(py, [data])?.into_any()])
    }
}
