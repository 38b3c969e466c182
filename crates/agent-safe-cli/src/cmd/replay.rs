//! `replay [LOG…]`: re-decide logged decisions under a candidate policy.

use std::io::Write;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Instant;

use agent_safe_core::audit::EventFilter;
use agent_safe_core::engine::Snapshot;
use agent_safe_core::replay::{ReplayChange, ReplaySummary, replay as run_replay};

use crate::cli::{FailOn, Format, ReplayArgs};
use crate::error::{CliError, CmdResult, exit};
use crate::output::{Io, table};
use crate::project::{Ctx, display_path};

/// `replay [LOG…] [--policies DIR] [--inventory FILE] [--fail-on widen|change]`.
pub(crate) fn replay(io: &mut Io, ctx: &Ctx, a: ReplayArgs) -> CmdResult {
    let mut config = ctx.require_config("`agent-safe replay`")?;
    for p in a.policies.iter().chain(a.inventory.iter()) {
        if !p.exists() {
            return Err(CliError::usage(format!("`{}` does not exist", p.display())));
        }
    }
    if let Some(p) = &a.policies {
        config.policies = Some(p.clone());
    }
    if let Some(p) = &a.inventory {
        config.inventory = Some(p.clone());
    }
    let candidate = Snapshot::load(&config).map_err(CliError::Config)?;
    let now = jiff::Timestamp::now();
    let filter = EventFilter {
        kind: None,
        decision: None,
        caller: a.caller.clone(),
        action: a.action.clone(),
        correlation_id: None,
        since: a
            .since
            .as_deref()
            .map(|s| time_bound("--since", s, now))
            .transpose()?,
        until: a
            .until
            .as_deref()
            .map(|s| time_bound("--until", s, now))
            .transpose()?,
    };
    let paths: Vec<PathBuf> = if a.logs.is_empty() {
        super::audit::configured_files(ctx, "`agent-safe replay` without LOG")?
    } else {
        for p in &a.logs {
            if !p.exists() {
                return Err(CliError::usage(format!("`{}` does not exist", p.display())));
            }
        }
        a.logs.clone()
    };
    let started = Instant::now();
    let mut write_error = None;
    let mut text_changes = Vec::new();
    let json = a.output == Format::Json;
    let summary = run_replay(&paths, &filter, &candidate, |c| {
        if json {
            let line = serde_json::json!({"kind": "change", "change": c});
            if let Err(e) = writeln!(io.out, "{line}") {
                write_error = Some(e);
                return ControlFlow::Break(());
            }
        } else if text_changes.len() < a.max_shown {
            text_changes.push(change_row(c));
        }
        ControlFlow::Continue(())
    })
    .map_err(|e| CliError::Failed(format!("cannot replay the log: {e}")))?;
    if let Some(e) = write_error {
        return Err(e.into());
    }
    let elapsed = started.elapsed();
    if json {
        let line = serde_json::json!({"kind": "summary", "summary": &summary});
        writeln!(io.out, "{line}")?;
    } else {
        print_summary(io, &summary, &paths, elapsed, &text_changes)?;
    }
    Ok(match a.fail_on {
        Some(FailOn::Widen) if summary.widened > 0 => exit::FAILURE,
        Some(FailOn::Change) if summary.changed > 0 => exit::FAILURE,
        _ => exit::OK,
    })
}

/// An RFC 3339 time, or a span back from now: `7d`, `12h`, `30m`.
fn time_bound(flag: &str, s: &str, now: jiff::Timestamp) -> Result<jiff::Timestamp, CliError> {
    let unit = |suffix: char, secs: i64| {
        s.strip_suffix(suffix)
            .and_then(|n| n.parse::<i64>().ok())
            .filter(|n| *n >= 0)
            .and_then(|n| n.checked_mul(secs))
            .and_then(|secs| now.checked_sub(jiff::SignedDuration::from_secs(secs)).ok())
    };
    if let Some(t) = unit('d', 86_400)
        .or_else(|| unit('h', 3_600))
        .or_else(|| unit('m', 60))
    {
        return Ok(t);
    }
    super::parse_time(flag, s).map_err(|_| {
        CliError::usage_help(
            format!("{flag}: invalid time `{s}`"),
            "write an RFC 3339 time (2026-03-07T02:30:00Z) or a span back from now (7d, 12h, 30m)",
        )
    })
}

fn rule(r: &Option<String>) -> String {
    r.clone().unwrap_or_else(|| "(no rule)".to_owned())
}

fn change_row(c: &ReplayChange) -> Vec<String> {
    vec![
        c.seq.to_string(),
        c.evaluated_at.clone(),
        c.caller.clone().unwrap_or_else(|| "(anonymous)".to_owned()),
        c.action.clone(),
        c.target.clone().unwrap_or_default(),
        format!(
            "{} → {}{}{}",
            c.old.as_upper(),
            c.new.as_upper(),
            if c.widens { " (widens)" } else { "" },
            if c.legacy { " (v1 event)" } else { "" }
        ),
        format!("{} → {}", rule(&c.old_rule), rule(&c.new_rule)),
    ]
}

fn print_summary(
    io: &mut Io,
    s: &ReplaySummary,
    paths: &[PathBuf],
    elapsed: std::time::Duration,
    changes: &[Vec<String>],
) -> Result<(), CliError> {
    let w = &mut io.out;
    let files: Vec<String> = paths.iter().map(|p| display_path(p)).collect();
    writeln!(
        w,
        "replayed {} decisions from {} in {:.2} s{}",
        s.replayed,
        files.join(", "),
        elapsed.as_secs_f64(),
        if s.skipped > 0 {
            format!(" ({} other events skipped)", s.skipped)
        } else {
            String::new()
        }
    )?;
    if let Some(d) = &s.candidate {
        writeln!(w, "candidate snapshot: {d}")?;
    }
    if s.legacy > 0 {
        writeln!(
            w,
            "note: {} events are of schema v1, which recorded no roles or groups; they were re-decided with the caller id only",
            s.legacy
        )?;
    }
    writeln!(w)?;
    let mut rows = Vec::new();
    for d in ["allow", "require_approval", "deny"] {
        rows.push(vec![
            d.to_uppercase(),
            s.old_counts.get(d).copied().unwrap_or(0).to_string(),
            s.new_counts.get(d).copied().unwrap_or(0).to_string(),
        ]);
    }
    write!(w, "{}", table(&["decision", "logged", "candidate"], rows))?;
    writeln!(w)?;
    writeln!(
        w,
        "changed: {} ({} widen toward ALLOW, {} narrow); same decision by another rule: {}",
        s.changed, s.widened, s.narrowed, s.rule_changed
    )?;
    if !s.transitions.is_empty() {
        writeln!(w)?;
        let rows = s
            .transitions
            .iter()
            .map(|t| {
                vec![
                    t.count.to_string(),
                    format!("{} → {}", t.old.as_upper(), t.new.as_upper()),
                    rule(&t.old_rule),
                    rule(&t.new_rule),
                ]
            })
            .collect();
        write!(
            w,
            "{}",
            table(
                &["count", "decision", "logged rule", "candidate rule"],
                rows
            )
        )?;
    }
    if !changes.is_empty() {
        writeln!(w)?;
        write!(
            w,
            "{}",
            table(
                &[
                    "seq",
                    "evaluated at",
                    "caller",
                    "action",
                    "target",
                    "decision",
                    "rule"
                ],
                changes.to_vec()
            )
        )?;
        let more = s.changed.saturating_sub(changes.len() as u64);
        if more > 0 {
            writeln!(
                w,
                "… and {more} more changed decisions (show more with --max-shown N, or all with --output json)"
            )?;
        }
    }
    Ok(())
}
