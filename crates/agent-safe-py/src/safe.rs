//! `AgentSafe`: the core's decision point, shared between Python threads.
//!
//! The class is frozen (no Python-side mutation), so one instance can be used
//! from any number of threads at once: the core is `Send + Sync`, and every
//! method that evaluates, loads files or writes the audit log releases the
//! GIL while it does.

use std::path::{Path, PathBuf};

use agent_safe_core::audit::{VerifyOptions, log_files, verify_with};
use agent_safe_core::config::{Config, KeySettings, discover, load_config};
use agent_safe_core::diag::{ConfigError, Diagnostic, Pos};
use agent_safe_core::identity::{IdentityError, MintRequest, decode_secret, mint_token};
use agent_safe_core::model::RiskClass;
use agent_safe_core::plan::MAX_PLAN_STEPS;
use agent_safe_core::{AgentSafe, Approval, CheckRequest, PlanError, PlanRequest, PlanStep};
use jiff::Timestamp;
use pyo3::exceptions::{PyFileNotFoundError, PyTypeError, PyUserWarning, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyMapping, PyString, PyType};

use crate::convert::{opt_str, to_json, to_py};
use crate::decision::{PyDecision, PyPlan};
use crate::errors::{agent_safe_error, config_error, unknown_action};

/// The policy decision point with its audit log (the native half of
/// ``agent_safe.AgentSafe``).
#[pyclass(name = "AgentSafe", module = "agent_safe._native", frozen, subclass)]
pub(crate) struct PyAgentSafe {
    inner: AgentSafe,
}

/// What the keyword arguments of `AgentSafe(...)` override.
struct Overrides {
    config: Option<PathBuf>,
    registry: Option<PathBuf>,
    policies: Option<PathBuf>,
    inventory: Option<PathBuf>,
    audit_log: Option<PathBuf>,
    signing_key: Option<String>,
}

impl Overrides {
    fn any(&self) -> bool {
        self.registry.is_some()
            || self.policies.is_some()
            || self.inventory.is_some()
            || self.audit_log.is_some()
            || self.signing_key.is_some()
    }
}

/// An absolute path (so `reload()` still works after a `chdir`).
fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

fn must_exist(p: &Path, arg: &str, help: &str) -> Result<PathBuf, ConfigError> {
    if p.exists() {
        Ok(absolute(p))
    } else {
        Err(ConfigError::single(
            Diagnostic::error(
                p,
                Pos::FILE,
                format!("`{arg}` names a path that does not exist"),
            )
            .with_help(help.to_owned()),
        ))
    }
}

/// Finds and loads the config, then applies the explicit arguments. Returns
/// the config and whether anything at all was configured.
fn build_config(o: Overrides) -> Result<(Config, bool), ConfigError> {
    if let Some(p) = o.config.as_deref().filter(|p| !p.is_file()) {
        return Err(ConfigError::single(
            Diagnostic::error(
                p,
                Pos::FILE,
                "config file named by `config=` does not exist",
            )
            .with_help("check the path, or run `agent-safe init` to create a project"),
        ));
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let found = discover(o.config.as_deref(), &cwd)?;
    let configured = found.is_some() || o.any();
    let mut config = match found {
        Some(p) => load_config(&absolute(&p))?,
        None => Config::no_config(),
    };
    if let Some(p) = &o.registry {
        config.actions = Some(must_exist(
            p,
            "registry",
            "pass the directory (or file) of the project's action definitions",
        )?);
    }
    if let Some(p) = &o.policies {
        config.policies = Some(must_exist(
            p,
            "policies",
            "pass the directory (or file) of policy rules",
        )?);
    }
    if let Some(p) = &o.inventory {
        config.inventory = Some(must_exist(
            p,
            "inventory",
            "pass the inventory file (or directory)",
        )?);
    }
    if let Some(p) = &o.audit_log {
        config.audit.enabled = true;
        config.audit.path = absolute(p);
    }
    if let Some(key) = o.signing_key {
        if let Err(e) = decode_secret(&key) {
            return Err(ConfigError::single(
                Diagnostic::error(
                    Path::new("signing_key"),
                    Pos::FILE,
                    format!("invalid `signing_key` argument: {e}"),
                )
                .with_help(
                    "pass the base64url secret written by `agent-safe init` (at least 32 bytes)",
                ),
            ));
        }
        config.identity.keys = vec![KeySettings {
            secret: Some(key),
            ..KeySettings::default()
        }];
    }
    Ok((config, configured))
}

static DATETIME: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static EPOCH: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

const AT_HELP: &str = "use a timezone-aware datetime, e.g. datetime(2026, 3, 7, 2, 30, tzinfo=timezone.utc), \
     or an RFC 3339 string with an offset, e.g. \"2026-03-07T02:30:00Z\"";

/// `at=`: an aware `datetime` or an RFC 3339 string → a timestamp.
fn parse_at(py: Python<'_>, at: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Timestamp>> {
    let Some(at) = at.filter(|a| !a.is_none()) else {
        return Ok(None);
    };
    if let Ok(s) = at.cast::<PyString>() {
        let s = s.to_str()?;
        return s
            .parse::<Timestamp>()
            .map(Some)
            .map_err(|e| PyValueError::new_err(format!("at: invalid time `{s}`: {e}; {AT_HELP}")));
    }
    let datetime = DATETIME.import(py, "datetime", "datetime")?;
    if !at.is_instance(datetime)? {
        return Err(PyTypeError::new_err(format!(
            "at: expected a datetime or a str, got `{}`; {AT_HELP}",
            at.get_type().name()?
        )));
    }
    if at.call_method0("utcoffset")?.is_none() {
        return Err(PyValueError::new_err(format!(
            "at: naive datetime `{}` (no timezone): the evaluation time would be ambiguous; {AT_HELP}",
            at.str()?
        )));
    }
    // Exact: whole seconds and microseconds since the epoch, whatever the
    // datetime's timezone.
    let epoch = EPOCH.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        let tz = py.import("datetime")?.getattr("timezone")?.getattr("utc")?;
        let kw = PyDict::new(py);
        kw.set_item("tzinfo", tz)?;
        Ok(datetime.call((1970, 1, 1), Some(&kw))?.unbind())
    })?;
    let delta = at.call_method1("__sub__", (epoch.bind(py),))?;
    let days: i64 = delta.getattr("days")?.extract()?;
    let seconds: i64 = delta.getattr("seconds")?.extract()?;
    let micros: i32 = delta.getattr("microseconds")?.extract()?;
    Timestamp::new(days * 86_400 + seconds, micros * 1_000)
        .map(Some)
        .map_err(|e| PyValueError::new_err(format!("at: out of range: {e}")))
}

fn opt_json(what: &str, v: Option<&Bound<'_, PyAny>>) -> PyResult<Option<serde_json::Value>> {
    match v {
        Some(v) if !v.is_none() => to_json(what, v).map(Some),
        _ => Ok(None),
    }
}

/// One plan step (a mapping with `action` and optional `target`, `caller`,
/// `params`, `context`, `explain`) → the core's `PlanStep`, read by the same
/// serde code as a `/v1/check-plan` body, so the same steps are refused for
/// the same reasons.
fn plan_step(i: usize, step: &Bound<'_, PyAny>) -> PyResult<PlanStep> {
    let what = format!("steps[{i}]");
    let dict = match step.cast::<PyDict>() {
        Ok(d) => d.clone(),
        Err(_) => {
            let Ok(mapping) = step.cast::<PyMapping>() else {
                return Err(PyTypeError::new_err(format!(
                    "{what}: expected a dict with `action` and optional `target`, `caller`, `params`, `context`, `explain`, got `{}`",
                    step.get_type().name()?
                )));
            };
            let d = PyDict::new(step.py());
            d.update(mapping)?;
            d
        }
    };
    let value = to_json(&what, dict.as_any())?;
    serde_json::from_value::<PlanStep>(value)
        .map_err(|e| PyValueError::new_err(format!("{what}: {e}")))
}

fn identity_error(py: Python<'_>, e: IdentityError) -> PyErr {
    match e {
        IdentityError::InvalidAgentId { .. } | IdentityError::InvalidClaim { .. } => {
            PyValueError::new_err(e.to_string())
        }
        other => agent_safe_error(py, format!("cannot create a token: {other}")),
    }
}

impl PyAgentSafe {
    /// The audit log, when it has checkpoints.
    fn checkpointed_log(&self, py: Python<'_>) -> PyResult<&agent_safe_core::audit::AuditLog> {
        match self.inner.audit_log() {
            Some(l) if l.checkpoint_verifier().is_some() => Ok(l),
            Some(_) => Err(agent_safe_error(
                py,
                "audit checkpoints are not configured: add `audit.checkpoint` (origin, key_file) to agent-safe.yaml".to_owned(),
            )),
            None => Err(agent_safe_error(py, "no audit log is configured".to_owned())),
        }
    }
}

#[pymethods]
impl PyAgentSafe {
    /// Opens the decision point.
    ///
    /// With no arguments the config is found like the CLI finds it:
    /// ``$AGENT_SAFE_CONFIG``, else ``agent-safe.yaml`` in the current
    /// directory or a parent. ``config=`` names the file. The other arguments
    /// override the config's values (relative paths are relative to the
    /// current directory). A path that does not exist, or a config that does
    /// not load, raises ``ConfigError``.
    #[new]
    #[pyo3(signature = (*, config=None, registry=None, policies=None, inventory=None, audit_log=None, signing_key=None))]
    fn new(
        py: Python<'_>,
        config: Option<PathBuf>,
        registry: Option<PathBuf>,
        policies: Option<PathBuf>,
        inventory: Option<PathBuf>,
        audit_log: Option<PathBuf>,
        signing_key: Option<String>,
    ) -> PyResult<Self> {
        let o = Overrides {
            config,
            registry,
            policies,
            inventory,
            audit_log,
            signing_key,
        };
        let opened = py.detach(move || -> Result<(AgentSafe, bool), ConfigError> {
            let (config, configured) = build_config(o)?;
            Ok((AgentSafe::from_config(config)?, configured))
        });
        let (inner, configured) = opened.map_err(|e| config_error(py, &e))?;
        if !configured {
            PyErr::warn(
                py,
                &py.get_type::<PyUserWarning>(),
                c"agent-safe: no agent-safe.yaml found (in the current directory, its parents, or $AGENT_SAFE_CONFIG): \
                  using the built-in catalogue with no policies, so every check is denied, and no audit log",
                1,
            )?;
        }
        Ok(PyAgentSafe { inner })
    }

    /// Checks whether ``caller`` may run ``action`` on ``target`` with
    /// ``params``, now (or at ``at``), and records the check in the audit log.
    ///
    /// Never raises for what the check finds: an unknown action or target,
    /// invalid params, a bad token, an invalid correlation id or an audit log
    /// that cannot be written all come back as a ``deny`` decision with the
    /// cause in ``reason``. Raises ``TypeError``/``ValueError`` only for
    /// arguments no check can be made of: params or context that have no JSON
    /// form, or an ``at`` that is naive or not a time.
    #[pyo3(signature = (action, *, target=None, caller=None, params=None, context=None, correlation_id=None, at=None, explain=false))]
    #[expect(
        clippy::too_many_arguments,
        reason = "keyword-only Python arguments, one per option"
    )]
    fn check(
        &self,
        py: Python<'_>,
        action: String,
        target: Option<String>,
        caller: Option<String>,
        params: Option<&Bound<'_, PyAny>>,
        context: Option<&Bound<'_, PyAny>>,
        correlation_id: Option<String>,
        at: Option<&Bound<'_, PyAny>>,
        explain: bool,
    ) -> PyResult<PyDecision> {
        let at = parse_at(py, at)?;
        let req = CheckRequest {
            action,
            target,
            caller,
            params: opt_json("params", params)?,
            context: opt_json("context", context)?,
            correlation_id,
            explain,
            verified_caller: None,
        };
        let inner = &self.inner;
        let d = py.detach(|| inner.check_at(&req, at));
        Ok(PyDecision { inner: d })
    }

    /// Checks every step of a plan under one correlation id and logs each
    /// step with its index. Each step is a dict with ``action`` and optional
    /// ``target``, ``caller``, ``params``, ``context``, ``explain`` (its own
    /// rule trace). The plan's result is the most restrictive step result.
    /// ``explain=True`` asks for the rule trace of every step. Raises
    /// ``ValueError`` for an empty plan (nothing is checked or logged), more
    /// than 1000 steps, and steps the sidecar would refuse too (unknown or
    /// missing keys, wrong types); ``TypeError`` for steps that are not dicts
    /// or values with no JSON form.
    #[pyo3(signature = (steps, *, correlation_id=None, at=None, explain=false))]
    fn check_plan(
        &self,
        py: Python<'_>,
        steps: &Bound<'_, PyAny>,
        correlation_id: Option<String>,
        at: Option<&Bound<'_, PyAny>>,
        explain: bool,
    ) -> PyResult<PyPlan> {
        if steps.is_instance_of::<PyString>() || steps.is_instance_of::<PyDict>() {
            return Err(PyTypeError::new_err(
                "steps: expected a list of dicts, one per step",
            ));
        }
        let at = parse_at(py, at)?;
        let mut plan = PlanRequest {
            correlation_id,
            explain,
            ..PlanRequest::default()
        };
        for (i, step) in steps.try_iter()?.enumerate() {
            if i >= MAX_PLAN_STEPS {
                return Err(PyValueError::new_err(
                    PlanError::TooManySteps(i + 1).to_string(),
                ));
            }
            plan.steps.push(plan_step(i, &step?)?);
        }
        let inner = &self.inner;
        let decided = py.detach(|| inner.check_plan(&plan, at));
        let decided = decided.map_err(|e| PyValueError::new_err(e.to_string()))?;
        PyPlan::new(py, decided)
    }

    /// The known actions (the highest version of each), as dicts in the JSON
    /// form of ``agent-safe list-actions --output json``; filtered by ``tag``
    /// and ``risk`` (``low``, ``medium``, ``high``, ``critical``) when given.
    #[pyo3(signature = (*, tag=None, risk=None))]
    fn list_actions<'py>(
        &self,
        py: Python<'py>,
        tag: Option<&str>,
        risk: Option<&str>,
    ) -> PyResult<Bound<'py, PyList>> {
        let risk = match risk {
            None => None,
            Some(r) => Some(RiskClass::parse(r).ok_or_else(|| {
                PyValueError::new_err(format!(
                    "risk: unknown risk class `{r}` (use one of {})",
                    RiskClass::choices()
                ))
            })?),
        };
        let snapshot = self.inner.snapshot();
        let list = PyList::empty(py);
        for a in snapshot.registry.filter(tag, risk) {
            list.append(action_dict(py, a)?)?;
        }
        Ok(list)
    }

    /// One action definition by ``name`` (highest version) or
    /// ``name@version``, as a dict. Raises ``UnknownActionError`` (a
    /// ``KeyError``) when there is no such action or version.
    fn get_action<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let snapshot = self.inner.snapshot();
        match snapshot.registry.get(name) {
            Ok(a) => action_dict(py, a),
            Err(e) => Err(unknown_action(py, e.to_string(), name)),
        }
    }

    /// Shadow mode's state, when the config has a ``shadow`` section (else
    /// ``None``): a dict with ``kind`` (``policies`` or ``config``),
    /// ``path``, ``snapshot`` (the candidate's digest, or ``None`` when it
    /// has not loaded), ``error`` (why its last load failed, or ``None``)
    /// and ``disagreements`` (``{from, to, count}`` for every pair of
    /// enforced and candidate results, ``to`` being ``error`` when the
    /// candidate could not decide).
    fn shadow_status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.inner.shadow_status() {
            None => Ok(py.None().into_bound(py)),
            Some(s) => {
                let v = serde_json::to_value(&s)
                    .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
                to_py(py, &v)
            }
        }
    }

    /// Re-reads the action, policy and inventory files, then the shadow
    /// candidate's. On any error in the enforced files the current rules
    /// stay in force and ``ConfigError`` is raised; a candidate that fails to
    /// reload never raises (the previous candidate stays, and
    /// ``shadow_status()`` reports the error).
    fn reload(&self, py: Python<'_>) -> PyResult<()> {
        let inner = &self.inner;
        py.detach(|| inner.reload())
            .map_err(|e| config_error(py, &e))
    }

    /// Creates an HS256 token for ``agent_id`` signed with the configured
    /// (or ``signing_key=``) key: ``roles`` and ``groups`` claims, lifetime
    /// ``ttl`` seconds, optional ``name`` (``agent_name``) and ``kid``.
    /// Raises ``ValueError`` for an invalid agent id or ttl,
    /// ``AgentSafeError`` when no key is configured.
    #[pyo3(signature = (agent_id, *, roles=Vec::new(), groups=Vec::new(), ttl=3600, name=None, kid=None))]
    #[expect(
        clippy::too_many_arguments,
        reason = "keyword-only Python arguments, one per option"
    )]
    fn create_token(
        &self,
        py: Python<'_>,
        agent_id: String,
        roles: Vec<String>,
        groups: Vec<String>,
        ttl: i64,
        name: Option<String>,
        kid: Option<String>,
    ) -> PyResult<String> {
        let ttl_seconds = u64::try_from(ttl).ok().filter(|t| *t > 0).ok_or_else(|| {
            PyValueError::new_err(format!("ttl must be at least 1 second, got {ttl}"))
        })?;
        let req = MintRequest {
            agent_id,
            agent_name: name,
            roles,
            groups,
            ttl_seconds,
            kid,
        };
        let snapshot = self.inner.snapshot();
        mint_token(&snapshot.identity, &req, Timestamp::now().as_second())
            .map_err(|e| identity_error(py, e))
    }

    /// Records a human's answer to a ``require_approval`` decision as an
    /// ``approval`` event linked to it by correlation id and audit id.
    /// Returns the event id, or ``None`` when no audit log is configured.
    /// Raises ``ValueError`` for a decision that is not ``require_approval``,
    /// ``AgentSafeError`` when the event cannot be written.
    #[pyo3(signature = (decision, *, approver, approved, comment=None, params=None))]
    fn record_approval(
        &self,
        py: Python<'_>,
        decision: &Bound<'_, PyDecision>,
        approver: String,
        approved: bool,
        comment: Option<String>,
        params: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Option<String>> {
        let d = &decision.get().inner;
        if d.result != agent_safe_core::DecisionResult::RequireApproval {
            return Err(PyValueError::new_err(format!(
                "only a `require_approval` decision can be approved or rejected, this one is `{}`",
                d.result
            )));
        }
        let Some(correlation_id) = d.correlation_id.clone() else {
            return Err(PyValueError::new_err(
                "the decision has no correlation id to link the approval to",
            ));
        };
        if approver.is_empty() {
            return Err(PyValueError::new_err("approver must not be empty"));
        }
        let approval = Approval {
            correlation_id,
            audit_id: d.audit_id.clone(),
            action: d.action.clone(),
            target: d.target.clone(),
            params: opt_json("params", params)?,
            approver,
            approved,
            comment,
        };
        let inner = &self.inner;
        match py.detach(|| inner.record_approval(&approval)) {
            Ok(receipt) => Ok(receipt.map(|r| r.event_id)),
            Err(e) => Err(agent_safe_error(
                py,
                format!("cannot record the approval: {e}"),
            )),
        }
    }

    /// Verifies the audit log (the configured one, or the given files and
    /// directories) and returns the report as a dict; see
    /// ``agent_safe.AgentSafe.verify_audit``.
    #[pyo3(signature = (paths=None, accept_torn_tail=false))]
    fn _verify_audit<'py>(
        &self,
        py: Python<'py>,
        paths: Option<Vec<PathBuf>>,
        accept_torn_tail: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let files = match paths {
            Some(paths) => {
                if let Some(missing) = paths.iter().find(|p| !p.exists()) {
                    return Err(PyFileNotFoundError::new_err(format!(
                        "audit log `{}` does not exist",
                        missing.display()
                    )));
                }
                paths
            }
            None => {
                let Some(log) = self.inner.audit_log() else {
                    return Err(agent_safe_error(
                        py,
                        "no audit log is configured: pass the log's path, or configure `audit:` (or audit_log=)".to_owned(),
                    ));
                };
                let active = log.path().to_path_buf();
                let files = log_files(&active).map_err(|e| agent_safe_error(py, e.to_string()))?;
                if files.is_empty() {
                    return Err(agent_safe_error(
                        py,
                        format!(
                            "there is no audit log at `{}` yet: nothing has been checked",
                            active.display()
                        ),
                    ));
                }
                files
            }
        };
        let opts = VerifyOptions {
            accept_torn_tail,
            ..VerifyOptions::default()
        };
        let report = py.detach(|| verify_with(&files, &opts));
        // The core's one JSON form of the report (as `audit verify -o json`).
        let json = serde_json::to_value(&report)
            .map_err(|e| agent_safe_error(py, format!("cannot convert the report: {e}")))?;
        let out = to_py(py, &json)?.cast_into::<PyDict>()?;
        out.set_item("text", report.to_string())?;
        Ok(out)
    }

    /// The config file in use, or ``None`` when there is none.
    #[getter]
    fn config_path<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        let p = self
            .inner
            .config()
            .source
            .as_ref()
            .map(|p| p.display().to_string());
        opt_str(py, p.as_deref())
    }

    /// The newest signed checkpoint of the audit log (a C2SP signed note);
    /// with ``new=True``, or when there is none yet, one made now of every
    /// event. Raises :class:`AgentSafeError` when checkpoints are not
    /// configured (``audit.checkpoint``).
    #[pyo3(signature = (*, new=false))]
    fn audit_checkpoint(&self, py: Python<'_>, new: bool) -> PyResult<String> {
        let log = self.checkpointed_log(py)?;
        let made = py.detach(|| -> Result<String, agent_safe_core::audit::AuditError> {
            if !new
                && let Some(v) = log.checkpoint_verifier()
                && let Some(note) = agent_safe_core::audit::latest_checkpoint(log.path(), v)?
            {
                return Ok(note);
            }
            log.checkpoint_now()
        });
        made.map_err(|e| agent_safe_error(py, e.to_string()))
    }

    /// An inclusion proof of the event ``audit_id`` (a decision's
    /// ``audit_id``) as a dict: the event's line, its Merkle path and the
    /// signed checkpoint it is proven against (``checkpoint``, a signed note
    /// of this log, or by default one of the whole log). Check it with
    /// ``agent_safe.tlog.verify_proof`` holding only the public key.
    #[pyo3(signature = (audit_id, *, checkpoint=None))]
    fn audit_proof<'py>(
        &self,
        py: Python<'py>,
        audit_id: String,
        checkpoint: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let log = self.checkpointed_log(py)?;
        let proof = py
            .detach(|| log.prove(&audit_id, checkpoint.as_deref()))
            .map_err(|e| agent_safe_error(py, e.to_string()))?;
        let v = serde_json::to_value(&proof)
            .map_err(|e| agent_safe_error(py, format!("cannot convert the proof: {e}")))?;
        to_py(py, &v)
    }

    /// A consistency proof from the signed checkpoint ``old`` to ``new``
    /// (by default one of the whole log) as a dict: the log of the newer
    /// checkpoint extends the log of the older one.
    #[pyo3(signature = (old, *, new=None))]
    fn audit_consistency_proof<'py>(
        &self,
        py: Python<'py>,
        old: String,
        new: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let log = self.checkpointed_log(py)?;
        let proof = py
            .detach(|| log.prove_consistency(&old, new.as_deref()))
            .map_err(|e| agent_safe_error(py, e.to_string()))?;
        let v = serde_json::to_value(&proof)
            .map_err(|e| agent_safe_error(py, format!("cannot convert the proof: {e}")))?;
        to_py(py, &v)
    }

    /// The active audit log file, or ``None`` when nothing is logged.
    #[getter]
    fn audit_log_path<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        let p = self
            .inner
            .audit_log()
            .map(|l| l.path().display().to_string());
        opt_str(py, p.as_deref())
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let py = slf.py();
        let me = slf.get();
        Ok(format!(
            "{}(config={}, audit_log={})",
            slf.get_type().name()?,
            me.config_path(py).repr()?,
            me.audit_log_path(py).repr()?
        ))
    }
}

fn action_dict<'py>(
    py: Python<'py>,
    a: &agent_safe_core::model::ActionDef,
) -> PyResult<Bound<'py, PyAny>> {
    let v = serde_json::to_value(a)
        .map_err(|e| agent_safe_error(py, format!("cannot convert `{}`: {e}", a.key())))?;
    to_py(py, &v)
}
