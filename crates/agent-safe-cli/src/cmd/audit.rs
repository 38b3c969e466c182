//! `audit verify`, `audit show`, `audit tail`.

use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Duration;

use agent_safe_core::audit::{
    AuditError, AuditEvent, EventFilter, EventKind, Follower, ProblemKind, VerifyOptions,
    VerifyReport, log_files, read_events, verify_with, verify_with_checkpoints,
};

use serde::Serialize;

use crate::cli::{AuditCmd, EventFilterArgs, Format, ShowEventsArgs, TailArgs, VerifyArgs};
use crate::error::{CliError, CmdResult, exit};
use crate::output::{Io, Stream, paint, style};
use crate::project::Ctx;

/// `audit ...`.
pub(crate) fn audit(io: &mut Io, ctx: &Ctx, cmd: AuditCmd) -> CmdResult {
    match cmd {
        AuditCmd::Verify(a) => verify_cmd(io, ctx, a),
        AuditCmd::Show(a) => show(io, ctx, a),
        AuditCmd::Tail(a) => tail(io, ctx, a),
        AuditCmd::Checkpoint(a) => super::tlog::checkpoint(io, ctx, a),
        AuditCmd::Prove(a) => super::tlog::prove(io, ctx, a),
        AuditCmd::VerifyProof(a) => super::tlog::verify_proof(io, a),
        AuditCmd::Key(a) => super::tlog::key(io, ctx, a.generate),
    }
}

/// The configured audit log's active file.
fn configured_log(ctx: &Ctx, what: &str) -> Result<PathBuf, CliError> {
    let config = ctx.require_config(what)?;
    if !config.audit.enabled {
        return Err(CliError::usage_help(
            "the audit log is disabled in the configuration (`audit: {enabled: false}`)",
            "name the log files to read as arguments",
        ));
    }
    Ok(config.audit.path)
}

/// The files of the configured log (rotated ones first), or an error when
/// nothing has been logged yet.
pub(crate) fn configured_files(ctx: &Ctx, what: &str) -> Result<Vec<PathBuf>, CliError> {
    let active = configured_log(ctx, what)?;
    let dir_missing = active
        .parent()
        .is_some_and(|d| !d.as_os_str().is_empty() && !d.is_dir());
    let files = if dir_missing {
        Vec::new()
    } else {
        log_files(&active).map_err(audit_usage)?
    };
    if files.is_empty() {
        return Err(CliError::usage_help(
            format!("there is no audit log at `{}` yet", active.display()),
            "nothing has been checked with this configuration so far; run `agent-safe check ...` first",
        ));
    }
    Ok(files)
}

fn audit_usage(e: AuditError) -> CliError {
    CliError::usage(e.to_string())
}

fn require_existing(paths: &[PathBuf]) -> Result<(), CliError> {
    for p in paths {
        if !p.exists() {
            return Err(CliError::usage(format!("`{}` does not exist", p.display())));
        }
    }
    Ok(())
}

fn verify_cmd(io: &mut Io, ctx: &Ctx, a: VerifyArgs) -> CmdResult {
    let paths = if a.paths.is_empty() {
        configured_files(ctx, "`agent-safe audit verify` without paths")?
    } else {
        require_existing(&a.paths)?;
        a.paths.clone()
    };
    let opts = VerifyOptions {
        accept_torn_tail: a.accept_torn_tail,
        ..VerifyOptions::default()
    };
    let (report, tree) = if a.checkpoint.is_empty() {
        (verify_with(&paths, &opts), None)
    } else {
        // The chain and the tree in one pass over the log.
        let cps = super::tlog::load_checkpoints(ctx, &a.checkpoint, a.key.as_deref())?;
        let (report, tree) = verify_with_checkpoints(&paths, &opts, &cps).map_err(|e| match e {
            AuditError::Usage { .. } => CliError::usage(e.to_string()),
            _ => CliError::Failed(e.to_string()),
        })?;
        (report, Some(tree))
    };
    let tree_ok = tree.as_ref().is_none_or(|t| t.ok());
    let code = if report.ok() && tree_ok {
        exit::OK
    } else {
        exit::FAILURE
    };
    match a.output {
        Format::Json => {
            let text = match &tree {
                None => serde_json::to_string_pretty(&report),
                Some(t) => {
                    // With --checkpoint: `ok` covers both checks; the chain
                    // report and the checkpoint report side by side.
                    #[derive(Serialize)]
                    struct WithCheckpoints<'a> {
                        ok: bool,
                        chain: &'a agent_safe_core::audit::VerifyReport,
                        checkpoints: &'a agent_safe_core::audit::CheckpointReport,
                    }
                    serde_json::to_string_pretty(&WithCheckpoints {
                        ok: report.ok() && tree_ok,
                        chain: &report,
                        checkpoints: t,
                    })
                }
            }
            .map_err(anyhow::Error::from)?;
            writeln!(io.out, "{text}")?;
        }
        Format::Text => {
            let hint = if tree.is_some() {
                LastHashHint::Checked
            } else {
                match checkpoints_beside(&report) {
                    Some(p) => LastHashHint::Checkpoints(p),
                    None => LastHashHint::KeepIt,
                }
            };
            write_verify(&mut io.out, &report, &hint)?;
            if let Some(t) = &tree {
                super::tlog::write_checkpoint_report(&mut io.out, t)?;
            }
        }
    }
    Ok(code)
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// What `audit verify` says after the last hash.
enum LastHashHint {
    /// The log was checked against checkpoints (their lines follow).
    Checked,
    /// The log has signed checkpoints in this file: point at them.
    Checkpoints(PathBuf),
    /// No signed checkpoints: the last hash is the thing to keep.
    KeepIt,
}

/// The signed checkpoints file of the log `r` verified, when it exists.
fn checkpoints_beside(r: &VerifyReport) -> Option<PathBuf> {
    let last = &r.files.last()?.path;
    let name = last.file_name()?.to_str()?;
    let active = match agent_safe_core::audit::parse_rotated_name(name) {
        Some(rot) => last.with_file_name(rot.active_name),
        None => last.clone(),
    };
    let p = agent_safe_core::audit::checkpoints_path(&active);
    p.is_file().then_some(p)
}

fn write_verify(w: &mut Stream, r: &VerifyReport, hint: &LastHashHint) -> std::io::Result<()> {
    if let Some(p) = &r.problem {
        let at = match p.line {
            Some(line) => format!("{}:{line}", p.path.display()),
            None => p.path.display().to_string(),
        };
        writeln!(w, "{at}: {} {}", paint(style::BAD, "error:"), p.message)?;
        let what = match p.kind {
            ProblemKind::Empty => "nothing was verified".to_owned(),
            ProblemKind::TornTail => format!(
                "the chain is not intact to the end; {} before the torn tail verified",
                plural(r.events, "event")
            ),
            _ => format!(
                "the chain is broken; {} before this point verified",
                plural(r.events, "event")
            ),
        };
        writeln!(w, "{} {what}", paint(style::BAD, "failed:"))?;
        return Ok(());
    }
    writeln!(
        w,
        "{} {} in {}, chain intact",
        paint(style::GOOD, "ok:"),
        plural(r.events, "event"),
        plural(r.files.len() as u64, "file")
    )?;
    if let (Some(first), Some(last)) = (r.first_seq, r.last_seq) {
        match (&r.last_hash, hint) {
            (Some(hash), LastHashHint::KeepIt) => writeln!(
                w,
                "  seq {first}–{last}; last hash {hash} (keep it elsewhere as a checkpoint)"
            )?,
            (Some(hash), LastHashHint::Checked) => {
                writeln!(w, "  seq {first}–{last}; last hash {hash}")?;
            }
            (Some(hash), LastHashHint::Checkpoints(p)) => {
                writeln!(w, "  seq {first}–{last}; last hash {hash}")?;
                writeln!(
                    w,
                    "  signed checkpoints in {}: keep copies elsewhere (audit.checkpoint.command) and verify against them with `--checkpoint FILE`",
                    p.display()
                )?;
            }
            (None, _) => writeln!(w, "  seq {first}–{last}")?,
        }
    }
    if r.recoveries > 0 {
        writeln!(
            w,
            "  note: {} recorded by writers after a crash",
            plural(r.recoveries, "torn-tail recovery")
        )?;
    }
    if let Some(t) = &r.torn_tail {
        writeln!(
            w,
            "{}:{}: {} torn tail accepted: {} (the events before it verify; the next append moves these bytes to a quarantine file)",
            t.path.display(),
            t.line,
            paint(style::WARN, "warning:"),
            t.describe()
        )?;
    }
    for note in &r.notes {
        writeln!(w, "  note: {note}")?;
    }
    Ok(())
}

fn build_filter(f: &EventFilterArgs) -> Result<EventFilter, CliError> {
    Ok(EventFilter {
        kind: None,
        decision: f.decision.map(|d| d.as_str().to_owned()),
        caller: f.caller.clone(),
        action: f.action.clone(),
        correlation_id: f.correlation_id.clone(),
        since: f
            .since
            .as_deref()
            .map(|s| super::parse_time("--since", s))
            .transpose()?,
        until: f
            .until
            .as_deref()
            .map(|s| super::parse_time("--until", s))
            .transpose()?,
    })
}

fn filter_paths(ctx: &Ctx, f: &EventFilterArgs, what: &str) -> Result<Vec<PathBuf>, CliError> {
    match &f.log {
        Some(p) => {
            require_existing(std::slice::from_ref(p))?;
            Ok(vec![p.clone()])
        }
        None => configured_files(ctx, what),
    }
}

fn read_failed(e: AuditError) -> CliError {
    CliError::Failed(e.to_string())
}

fn show(io: &mut Io, ctx: &Ctx, a: ShowEventsArgs) -> CmdResult {
    let filter = build_filter(&a.filter)?;
    let paths = filter_paths(ctx, &a.filter, "`agent-safe audit show` without --log")?;
    let events = read_events(&paths, &filter, a.last).map_err(read_failed)?;
    for ev in &events {
        write_event(&mut io.out, ev, a.filter.output)?;
        if io.out.closed() {
            break;
        }
    }
    Ok(exit::OK)
}

fn tail(io: &mut Io, ctx: &Ctx, a: TailArgs) -> CmdResult {
    let filter = build_filter(&a.filter)?;
    let (paths, active) = match &a.filter.log {
        Some(p) => {
            require_existing(std::slice::from_ref(p))?;
            let active = if p.is_dir() {
                active_in_dir(p)?
            } else {
                p.clone()
            };
            (vec![p.clone()], active)
        }
        None => {
            let active = configured_log(ctx, "`agent-safe audit tail` without --log")?;
            let dir_missing = active
                .parent()
                .is_some_and(|d| !d.as_os_str().is_empty() && !d.is_dir());
            let files = if dir_missing {
                Vec::new()
            } else {
                log_files(&active).map_err(audit_usage)?
            };
            if files.is_empty() && !a.follow {
                return Err(CliError::usage(format!(
                    "there is no audit log at `{}` yet",
                    active.display()
                )));
            }
            (files, active)
        }
    };
    // Start following before reading the last events, so nothing logged in
    // between is missed; events seen twice are skipped by seq.
    let mut follower = if a.follow {
        Some(Follower::new(&active, filter.clone()).map_err(read_failed)?)
    } else {
        None
    };
    let mut last_seq = 0u64;
    if !paths.is_empty() {
        for ev in read_events(&paths, &filter, Some(a.lines)).map_err(read_failed)? {
            last_seq = last_seq.max(ev.seq);
            write_event(&mut io.out, &ev, a.filter.output)?;
        }
    }
    io.out.flush()?;
    let Some(follower) = follower.as_mut() else {
        return Ok(exit::OK);
    };
    let out = &mut io.out;
    let mut failure = None;
    follower
        .follow(Duration::from_millis(250), |ev| {
            if ev.seq <= last_seq {
                return ControlFlow::Continue(());
            }
            last_seq = ev.seq;
            let r = write_event(out, &ev, a.filter.output).and_then(|()| out.flush());
            if let Err(e) = r {
                failure = Some(e);
                return ControlFlow::Break(());
            }
            if out.closed() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .map_err(read_failed)?;
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(exit::OK),
    }
}

/// The active file of the one log in `dir` (the `.jsonl` file that is not a
/// rotated file).
fn active_in_dir(dir: &Path) -> Result<PathBuf, CliError> {
    let files = agent_safe_core::audit::resolve_paths(&[dir.to_path_buf()]).map_err(audit_usage)?;
    files
        .iter()
        .find(|f| {
            f.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| agent_safe_core::audit::parse_rotated_name(n).is_none())
        })
        .or(files.last())
        .cloned()
        .ok_or_else(|| CliError::usage(format!("no audit log in `{}`", dir.display())))
}

fn write_event(w: &mut Stream, ev: &AuditEvent, format: Format) -> std::io::Result<()> {
    if format == Format::Json {
        let line = ev
            .to_line()
            .or_else(|_| serde_json::to_string(ev))
            .unwrap_or_default();
        return writeln!(w, "{line}");
    }
    let dash = || "-".to_owned();
    let (label, st) = match ev.kind {
        EventKind::Decision => {
            let d = ev.decision.as_deref().unwrap_or("-");
            let r = agent_safe_core::DecisionResult::parse(d);
            (
                r.map_or_else(|| d.to_uppercase(), |r| r.as_upper().to_owned()),
                r.map_or(style::LABEL, crate::output::result_style),
            )
        }
        EventKind::Approval => (
            ev.decision.as_deref().unwrap_or("approval").to_uppercase(),
            style::LABEL,
        ),
        other => (other.as_str().to_uppercase(), style::DIM),
    };
    let action = match (&ev.action, &ev.action_version) {
        (Some(a), Some(v)) => format!("{a}@{v}"),
        (Some(a), None) => a.clone(),
        _ => dash(),
    };
    let reason = match ev.kind {
        EventKind::Rotation => ev
            .rotation
            .as_ref()
            .map(|r| {
                format!(
                    "continues {} (seq {})",
                    r.previous_file, r.previous_last_seq
                )
            })
            .unwrap_or_default(),
        EventKind::Recovery => ev
            .recovery
            .as_ref()
            .map(|r| {
                format!(
                    "{} torn bytes moved to {} (sha256 {})",
                    r.torn_bytes, r.quarantine_file, r.torn_sha256
                )
            })
            .unwrap_or_default(),
        _ => {
            let mut r = ev.reason.clone().unwrap_or_default();
            // A what-if check (`--at`): say so, the policy time is not the log time.
            if let Some(at) = &ev.evaluated_at {
                r.push_str(&format!(" [evaluated at {at}]"));
            }
            // Shadow mode: the candidate decided otherwise (or could not).
            if let Some(s) = &ev.shadow {
                match (&s.decision, &s.error) {
                    (Some(d), _) => r.push_str(&format!(
                        " [shadow: {} by {}]",
                        d.to_uppercase(),
                        s.policy_matched.as_deref().unwrap_or("no rule")
                    )),
                    (None, Some(e)) => r.push_str(&format!(" [shadow error: {e}]")),
                    (None, None) => {}
                }
            }
            r
        }
    };
    writeln!(
        w,
        "{}  {:>6}  {}  {}  {}  {}  {}",
        ev.timestamp,
        ev.seq,
        paint(st, &format!("{label:<16}")),
        action,
        ev.target.clone().unwrap_or_else(dash),
        ev.caller.clone().unwrap_or_else(dash),
        reason.split_whitespace().collect::<Vec<_>>().join(" ")
    )
}
