//! `migrate`: bring a project of agent-safe 0.14 over. The work is the
//! core's (`agent_safe_core::migrate`); this prints its report.

use std::io::Write;
use std::path::{Path, PathBuf};

use agent_safe_core::migrate::{self, Report};

use crate::cli::{Format, MigrateArgs};
use crate::error::{CliError, CmdResult, exit};
use crate::output::{Io, paint, style};

/// `FROM-migrated`, beside FROM (never inside it, even for `.`).
fn default_destination(from: &Path) -> PathBuf {
    let named = from
        .file_name()
        .filter(|n| *n != "." && *n != "..")
        .map(|n| (from.to_path_buf(), n.to_string_lossy().into_owned()));
    let (path, name) = named
        .or_else(|| {
            let abs = std::fs::canonicalize(from).ok()?;
            let name = abs.file_name()?.to_string_lossy().into_owned();
            Some((abs, name))
        })
        .unwrap_or_else(|| (from.join("project"), "project".to_owned()));
    path.with_file_name(format!("{name}-migrated"))
}

/// `migrate FROM [--to DIR]`.
pub(crate) fn migrate(io: &mut Io, a: MigrateArgs) -> CmdResult {
    let to = a.to.unwrap_or_else(|| default_destination(&a.from));
    let mut project = migrate::read_project(&a.from)?;
    let conversion = migrate::convert(&project);
    migrate::write_files(&to, &conversion.files)?;
    let report = migrate::compare(&mut project, &conversion, &to, jiff::Timestamp::now());
    match a.output {
        Format::Json => {
            let text = serde_json::to_string_pretty(&report)
                .map_err(|e| CliError::Failed(format!("cannot render the report: {e}")))?;
            writeln!(io.out, "{text}")?;
        }
        Format::Text => write_text(io, &report)?,
    }
    if report.load_errors.is_empty() {
        Ok(exit::OK)
    } else {
        Ok(exit::FAILURE)
    }
}

fn write_text(io: &mut Io, r: &Report) -> std::io::Result<()> {
    let w = &mut io.out;
    writeln!(
        w,
        "{} the agent-safe 0.14 project {} into {}",
        paint(style::LABEL, "Converted"),
        r.from,
        r.to
    )?;
    writeln!(w)?;
    writeln!(w, "{}", paint(style::LABEL, "Files:"))?;
    for f in &r.files {
        let how = match (f.status, &f.from) {
            ("copied", Some(from)) if *from == f.path => "copied unchanged".to_owned(),
            ("copied", Some(from)) => format!("copied unchanged from {from}"),
            ("converted", Some(from)) if *from == f.path => "converted".to_owned(),
            ("converted", Some(from)) => format!("converted from {from}"),
            ("created", Some(from)) => format!("created from {from}"),
            (status, _) => status.to_owned(),
        };
        writeln!(w, "  {}  {how}", f.path)?;
        for c in &f.changes {
            writeln!(w, "    - {c}")?;
        }
    }
    if !r.left_out.is_empty() {
        writeln!(w)?;
        writeln!(
            w,
            "{}",
            paint(style::LABEL, "Left out (no counterpart here):")
        )?;
        for l in &r.left_out {
            writeln!(w, "  - {l}")?;
        }
    }
    writeln!(w)?;
    if !r.load_errors.is_empty() {
        writeln!(
            w,
            "{} the converted project does not load; fix these, then run `agent-safe validate` in {}:",
            paint(style::BAD, "error:"),
            r.to
        )?;
        for d in &r.load_errors {
            writeln!(w, "  {d}")?;
        }
        return Ok(());
    }
    writeln!(
        w,
        "{} {} test case(s) converted: {} decide as in 0.14, {} differ",
        paint(style::LABEL, "Tests:"),
        r.tests_total,
        r.tests_same,
        r.tests_changed.len()
    )?;
    for t in &r.tests_changed {
        writeln!(
            w,
            "  - `{}` ({}): 0.14 {}, now {} (expects {}); because of: {}",
            t.name,
            t.file,
            t.v014,
            t.now,
            t.expect,
            t.causes.join(", ")
        )?;
    }
    if !r.tests_failing_in_014.is_empty() {
        writeln!(
            w,
            "  already failing under 0.14: {}",
            r.tests_failing_in_014.join(", ")
        )?;
    }
    writeln!(w)?;
    writeln!(w, "{}", paint(style::LABEL, "Behaviour differences:"))?;
    for d in &r.differences {
        writeln!(w, "  {}: {}", paint(style::LABEL, d.kind), d.summary)?;
        if d.rules.is_empty() {
            writeln!(w, "    rules affected: none")?;
        } else {
            writeln!(w, "    rules affected:")?;
            for rule in &d.rules {
                writeln!(w, "      - {rule}")?;
            }
        }
        if d.tests.is_empty() {
            writeln!(w, "    tests affected: none")?;
        } else {
            writeln!(w, "    tests affected: {}", d.tests.join(", "))?;
        }
    }
    writeln!(w)?;
    writeln!(
        w,
        "Next: `agent-safe --config {}/agent-safe.yaml validate`, then `agent-safe test` on the converted tests.",
        r.to
    )?;
    Ok(())
}
