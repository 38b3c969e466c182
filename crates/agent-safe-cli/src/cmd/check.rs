//! `check` and `check-plan`.

use std::io::{Read, Write};
use std::path::Path;

use agent_safe_core::engine::TraceEntry;
use agent_safe_core::{AgentSafe, CheckRequest, Decision, DecisionResult, PlanDecision};
use serde_json::Value as Json;

use crate::cli::{CheckArgs, Format, PlanArgs};
use crate::error::{CliError, CmdResult, decision_exit_code};
use crate::output::{Io, paint, result_style, style, table};
use crate::project::Ctx;

const OBJECT_EXAMPLE: &str = r#"e.g. '{"namespace": "staging"}'"#;

/// Parses `text` (given to `flag`) as a JSON object named `root` (`params`,
/// `context`), strictly: a key repeated at any depth is refused, as the
/// sidecar and plan files refuse it.
pub(crate) fn json_object(flag: &str, root: &str, text: &str) -> Result<Json, CliError> {
    match agent_safe_core::json::parse(root, text) {
        Ok(v @ Json::Object(_)) => Ok(v),
        Ok(other) => Err(CliError::usage(format!(
            "{flag}: expected a JSON object, {OBJECT_EXAMPLE}, got {}",
            json_kind(&other)
        ))),
        Err(e) if e.to_string().starts_with("duplicate key") => Err(CliError::usage_help(
            format!("{flag}: {e}"),
            "each key may appear once in a JSON object: remove the repeated key",
        )),
        Err(e) => Err(CliError::usage(format!(
            "{flag}: expected a JSON object, {OBJECT_EXAMPLE}: {e}"
        ))),
    }
}

fn json_kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

fn read_params_file(path: &Path) -> Result<Json, CliError> {
    let shown = path.display();
    let text = if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| CliError::usage(format!("--params-file -: cannot read stdin: {e}")))?;
        s
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| CliError::usage(format!("--params-file {shown}: cannot read: {e}")))?
    };
    json_object(&format!("--params-file {shown}"), "params", &text)
}

/// `check`.
pub(crate) fn check(io: &mut Io, ctx: &Ctx, a: CheckArgs) -> CmdResult {
    let at =
        a.at.as_deref()
            .map(|s| super::parse_time("--at", s))
            .transpose()?;
    let params = match (&a.params, &a.params_file) {
        (Some(p), _) => Some(json_object("--params", "params", p)?),
        (None, Some(f)) => Some(read_params_file(f)?),
        (None, None) => None,
    };
    let context = a
        .context
        .as_deref()
        .map(|c| json_object("--context", "context", c))
        .transpose()?;
    let safe = open_for_checks(ctx)?;
    let req = CheckRequest {
        action: a.action,
        target: a.target,
        caller: a.caller,
        params,
        context,
        correlation_id: a.correlation_id,
        explain: a.explain,
        verified_caller: None,
    };
    let d = safe.check_at(&req, at);
    match a.output {
        Format::Json => {
            let text = serde_json::to_string_pretty(&d).map_err(anyhow::Error::from)?;
            writeln!(io.out, "{text}")?;
        }
        Format::Text => {
            let logged = logs(&safe);
            write_decision(
                &mut io.out,
                &d,
                logged,
                req.caller.as_deref().is_some_and(|c| !c.is_empty()),
            )?;
            if let Some(trace) = &d.trace {
                writeln!(io.out)?;
                write_trace(&mut io.out, trace, "")?;
            }
        }
    }
    Ok(decision_exit_code(d.result))
}

/// The decision point for `check`/`check-plan`. An audit log that cannot be
/// opened or written gives a DENY carrying the cause (exit 3), never a usage
/// error: the policy files loaded, so there is a decision to report. A
/// file-size limit (`ulimit -f`) must give that DENY too, not kill the
/// process with SIGXFSZ, so the signal is caught first (the write then fails
/// with `EFBIG`).
fn open_for_checks(ctx: &Ctx) -> Result<AgentSafe, CliError> {
    catch_sigxfsz();
    ctx.open_failing_closed()
}

/// Whether the decision point logs (or was configured to and could not).
fn logs(safe: &AgentSafe) -> bool {
    safe.audit_log().is_some() || safe.audit_unavailable().is_some()
}

/// Replaces SIGXFSZ's default action (terminate) for the rest of the
/// process: tokio's signal registration installs a handler, which is never
/// removed, without any unsafe code here. If it cannot, the default stays.
pub(crate) fn catch_sigxfsz() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
        else {
            return;
        };
        let _guard = rt.enter();
        let _ =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(libc::SIGXFSZ));
    });
}

fn or_none(v: Option<&str>, none: &str) -> String {
    v.map_or_else(|| paint(style::DIM, none), str::to_owned)
}

fn action_label(d: &Decision) -> String {
    match &d.action_version {
        Some(v) => format!("{}@{v}", d.action),
        None => d.action.clone(),
    }
}

/// The text form of one decision.
pub(crate) fn write_decision(
    w: &mut impl Write,
    d: &Decision,
    logged: bool,
    caller_given: bool,
) -> std::io::Result<()> {
    writeln!(
        w,
        "{}  {}",
        paint(result_style(d.result), d.result.as_upper()),
        d.reason
    )?;
    let rule = d
        .policy_matched
        .clone()
        .unwrap_or_else(|| paint(style::DIM, "none"));
    let caller = match (&d.caller, caller_given) {
        (Some(c), _) => c.clone(),
        (None, true) => paint(style::DIM, "rejected (see the reason)"),
        (None, false) => paint(style::DIM, "anonymous"),
    };
    let audit = match &d.audit_id {
        Some(id) => id.clone(),
        None if !logged => paint(style::DIM, "not logged (no audit log configured)"),
        None => paint(style::DIM, "none"),
    };
    let rows = [
        ("rule", rule),
        ("action", action_label(d)),
        ("target", or_none(d.target.as_deref(), "none")),
        ("caller", caller),
        (
            "risk",
            format!("{} → {} (effective)", d.risk_class, d.effective_risk),
        ),
        ("audit id", audit),
        ("correlation", or_none(d.correlation_id.as_deref(), "none")),
        ("evaluated at", d.evaluated_at.clone()),
    ];
    for (label, value) in rows {
        writeln!(
            w,
            "  {}{value}",
            paint(style::LABEL, &format!("{:<14}", format!("{label}:")))
        )?;
    }
    Ok(())
}

/// The rule trace as a table (`--explain`).
pub(crate) fn write_trace(
    w: &mut impl Write,
    trace: &[TraceEntry],
    indent: &str,
) -> std::io::Result<()> {
    if trace.is_empty() {
        return writeln!(
            w,
            "{indent}{} no rule was considered",
            paint(style::LABEL, "trace:")
        );
    }
    writeln!(
        w,
        "{indent}{} rules in rank order",
        paint(style::LABEL, "trace:")
    )?;
    let rows = trace
        .iter()
        .map(|t| {
            vec![
                t.rule.clone(),
                t.priority.to_string(),
                t.specificity.to_string(),
                t.decision.as_str().to_owned(),
                if t.matched { "yes" } else { "no" }.to_owned(),
                t.note.clone(),
            ]
        })
        .collect();
    for line in table(
        &[
            "rule",
            "priority",
            "specificity",
            "decision",
            "matched",
            "note",
        ],
        rows,
    )
    .lines()
    {
        writeln!(w, "{indent}  {line}")?;
    }
    Ok(())
}

/// `check-plan`.
pub(crate) fn check_plan(io: &mut Io, ctx: &Ctx, a: PlanArgs) -> CmdResult {
    let at =
        a.at.as_deref()
            .map(|s| super::parse_time("--at", s))
            .transpose()?;
    let mut request = crate::plan::load_plan(&a.file)?;
    request.explain |= a.explain;
    if a.correlation_id.is_some() {
        request.correlation_id = a.correlation_id;
    }
    let safe = open_for_checks(ctx)?;
    // `load_plan` refused an empty or oversized plan with its position.
    let plan = safe
        .check_plan(&request, at)
        .map_err(|e| CliError::usage(format!("{}: {e}", a.file.display())))?;
    match a.output {
        Format::Json => {
            let text = serde_json::to_string_pretty(&plan).map_err(anyhow::Error::from)?;
            writeln!(io.out, "{text}")?;
        }
        Format::Text => write_plan(&mut io.out, &plan, logs(&safe))?,
    }
    Ok(decision_exit_code(plan.result))
}

fn write_plan(w: &mut impl Write, plan: &PlanDecision, logged: bool) -> std::io::Result<()> {
    for (i, d) in plan.steps.iter().enumerate() {
        let on = d
            .target
            .as_deref()
            .map(|t| format!(" on {t}"))
            .unwrap_or_default();
        let by = d
            .caller
            .as_deref()
            .map(|c| format!(" as {c}"))
            .unwrap_or_default();
        writeln!(
            w,
            "{} {}  {}{on}{by}",
            // 0-based, as `plan_step` in the JSON and the audit log and
            // `steps[i]` in error messages.
            paint(style::LABEL, &format!("step {i}")),
            paint(result_style(d.result), d.result.as_upper()),
            action_label(d),
        )?;
        let rule = d
            .policy_matched
            .as_deref()
            .map_or_else(|| "no rule".to_owned(), |r| format!("rule `{r}`"));
        writeln!(w, "  {}", d.reason)?;
        writeln!(
            w,
            "  {}",
            paint(
                style::DIM,
                &format!(
                    "{rule}; risk {} → {} (effective)",
                    d.risk_class, d.effective_risk
                )
            )
        )?;
        if let Some(trace) = &d.trace {
            write_trace(w, trace, "  ")?;
        }
    }
    let count = |r: DecisionResult| plan.steps.iter().filter(|d| d.result == r).count();
    writeln!(
        w,
        "{} {}  {} steps: {} allow, {} require_approval, {} deny",
        paint(style::LABEL, "plan:"),
        paint(result_style(plan.result), plan.result.as_upper()),
        plan.steps.len(),
        count(DecisionResult::Allow),
        count(DecisionResult::RequireApproval),
        count(DecisionResult::Deny),
    )?;
    writeln!(
        w,
        "  {}{}",
        paint(style::LABEL, &format!("{:<14}", "correlation:")),
        plan.correlation_id
    )?;
    if !logged {
        writeln!(
            w,
            "  {}{}",
            paint(style::LABEL, &format!("{:<14}", "audit:")),
            paint(style::DIM, "not logged (no audit log configured)")
        )?;
    }
    Ok(())
}
