//! `test`: policy tests.

use std::io::Write;
use std::path::PathBuf;

use agent_safe_core::AgentSafe;
use agent_safe_core::diag::Diagnostics;
use agent_safe_core::load::read_sources;

use crate::cli::TestArgs;
use crate::error::{CliError, CmdResult, exit};
use crate::output::{Io, paint, style};
use crate::project::{Ctx, display_path};
use crate::testfile::{Case, parse_test_file};

/// `test [PATH...]`.
pub(crate) fn test(io: &mut Io, ctx: &Ctx, a: TestArgs) -> CmdResult {
    let mut config = ctx.load_config()?;
    let paths: Vec<PathBuf> = if a.paths.is_empty() {
        if config.source.is_none() {
            return Err(crate::project::no_config("`agent-safe test` without paths"));
        }
        let dir = config.base_dir().join("tests");
        if !dir.is_dir() {
            writeln!(io.out, "0 passed, 0 failed")?;
            return Err(CliError::Failed(format!(
                "no test cases found: there is no `{}` directory beside {} (name test files or directories as arguments)",
                display_path(&dir),
                agent_safe_core::config::CONFIG_FILE_NAME
            )));
        }
        vec![dir]
    } else {
        for p in &a.paths {
            if !p.exists() {
                return Err(CliError::usage(format!(
                    "test path `{}` does not exist",
                    p.display()
                )));
            }
        }
        a.paths.clone()
    };

    // Parse every file first: a malformed test file is a usage error (exit 2)
    // and nothing runs.
    let mut d = Diagnostics::new();
    let mut cases: Vec<Case> = Vec::new();
    for p in &paths {
        match read_sources(p) {
            Ok(sources) => {
                for src in &sources {
                    cases.extend(parse_test_file(src, &mut d));
                }
            }
            Err(e) => d.extend(e),
        }
    }
    d.finish(())?;

    // Tests are not real checks: evaluate without the audit log.
    config.audit.enabled = false;
    let safe = AgentSafe::from_config(config)?;

    let mut passed = 0usize;
    let mut failed = 0usize;
    for case in &cases {
        match run_case(&safe, case) {
            Ok(()) => {
                passed += 1;
                writeln!(io.out, "{} {}", paint(style::GOOD, "PASS"), case.name)?;
            }
            Err(why) => {
                failed += 1;
                writeln!(io.out, "{} {}: {why}", paint(style::BAD, "FAIL"), case.name)?;
                writeln!(
                    io.out,
                    "  {}",
                    paint(
                        style::DIM,
                        &format!(
                            "at {}:{}:{}",
                            case.file.display(),
                            case.pos.line,
                            case.pos.col
                        )
                    )
                )?;
            }
        }
        if io.out.closed() {
            break;
        }
    }
    writeln!(io.out, "{passed} passed, {failed} failed")?;
    if cases.is_empty() {
        let shown: Vec<String> = paths
            .iter()
            .map(|p| format!("`{}`", display_path(p)))
            .collect();
        return Err(CliError::Failed(format!(
            "no test cases found in {} (a test file holds `tests:` with a list of cases)",
            shown.join(", ")
        )));
    }
    Ok(if failed == 0 { exit::OK } else { exit::FAILURE })
}

/// Runs one case; `Err` says why it failed.
fn run_case(safe: &AgentSafe, case: &Case) -> Result<(), String> {
    let d = safe.check_at(&case.request, case.at);
    let rule = |r: &Option<String>| match r {
        Some(r) => format!("rule `{r}`"),
        None => "no rule".to_owned(),
    };
    if d.result != case.expect {
        return Err(format!(
            "expected {}, got {} ({}): {}",
            case.expect.as_str(),
            d.result.as_str(),
            rule(&d.policy_matched),
            d.reason
        ));
    }
    let mut problems = Vec::new();
    if let Some(want) = &case.policy
        && *want != d.policy_matched
    {
        problems.push(format!(
            "expected {}, got {}",
            match want {
                Some(w) => format!("rule `{w}`"),
                None => "no rule (default deny)".to_owned(),
            },
            rule(&d.policy_matched)
        ));
    }
    if let Some(want) = case.effective_risk
        && want != d.effective_risk
    {
        problems.push(format!(
            "expected effective risk {want}, got {}",
            d.effective_risk
        ));
    }
    if let Some(want) = &case.reason_contains
        && !d.reason.contains(want.as_str())
    {
        problems.push(format!("expected the reason to contain {want:?}"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} ({}): {}",
            problems.join("; "),
            d.result.as_str(),
            d.reason
        ))
    }
}
