//! `test`: policy tests.

use std::io::Write;
use std::path::PathBuf;

use agent_safe_core::AgentSafe;
use agent_safe_core::coverage::{Coverage, CoverageCounter, RuleStatus};
use agent_safe_core::diag::Diagnostics;
use agent_safe_core::load::read_sources;

use agent_safe_core::Decision;
use serde::Serialize;

use crate::cli::{TestArgs, TestFormat};
use crate::cmd::check::write_trace;
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

    let total = cases.len();
    if let Some(pattern) = &a.run {
        let re = regex::Regex::new(pattern).map_err(|e| {
            CliError::usage_help(
                format!("--run: invalid regular expression `{pattern}`: {e}"),
                "--run takes a regular expression matched anywhere in the case name, e.g. --run 'staging|prod'",
            )
        })?;
        cases.retain(|c| re.is_match(&c.name));
    }

    if let Some(pct) = a.min_coverage
        && !(0.0..=100.0).contains(&pct)
    {
        return Err(CliError::usage_help(
            format!("--min-coverage: `{pct}` is not a percentage"),
            "give a number from 0 to 100, e.g. --min-coverage 90",
        ));
    }
    let with_coverage = a.coverage || a.min_coverage.is_some();

    // Tests are not real checks: evaluate without the audit log.
    config.audit.enabled = false;
    let safe = AgentSafe::from_config(config)?;
    let mut counter = with_coverage.then(|| CoverageCounter::new(&safe.snapshot()));

    let mut outcomes = Vec::with_capacity(cases.len());
    for case in &cases {
        if let Some(c) = &mut counter {
            // The trace says which rules matched, not only which one won.
            let mut req = case.request.clone();
            req.explain = true;
            c.record(&safe.check_at(&req, case.at));
        }
        outcomes.push(run_case(&safe, case));
        if a.output == TestFormat::Text {
            write_text_case(io, case, outcomes.last())?;
            if io.out.closed() {
                break;
            }
        }
    }
    let passed = outcomes.iter().filter(|o| o.failure.is_none()).count();
    let failed = outcomes.len() - passed;
    let filtered_out = total - cases.len();
    let coverage = counter.map(CoverageCounter::finish);
    let below = match (&coverage, a.min_coverage) {
        (Some(c), Some(min)) => c.percent < min,
        _ => false,
    };
    match a.output {
        TestFormat::Text => {
            let filtered = if filtered_out > 0 {
                format!(", {filtered_out} filtered out by --run")
            } else {
                String::new()
            };
            writeln!(io.out, "{passed} passed, {failed} failed{filtered}")?;
            if let Some(c) = &coverage {
                write_coverage(io, c, a.min_coverage)?;
            }
        }
        TestFormat::Json => {
            let report = JsonReport {
                ok: failed == 0 && !cases.is_empty() && !below,
                passed,
                failed,
                filtered_out,
                coverage: coverage.as_ref(),
                cases: cases
                    .iter()
                    .zip(&outcomes)
                    .map(|(c, o)| JsonCase {
                        name: &c.name,
                        file: c.file.display().to_string(),
                        line: c.pos.line,
                        column: c.pos.col,
                        status: if o.failure.is_none() { "pass" } else { "fail" },
                        expected: c.expect.as_str(),
                        message: o.failure.as_deref(),
                        decision: &o.decision,
                    })
                    .collect(),
            };
            let text = serde_json::to_string_pretty(&report).map_err(anyhow::Error::from)?;
            writeln!(io.out, "{text}")?;
        }
        TestFormat::Junit => {
            writeln!(io.out, "{}", junit(&cases, &outcomes)?)?;
        }
    }
    if total == 0 {
        let shown: Vec<String> = paths
            .iter()
            .map(|p| format!("`{}`", display_path(p)))
            .collect();
        return Err(CliError::Failed(format!(
            "no test cases found in {} (a test file holds `tests:` with a list of cases)",
            shown.join(", ")
        )));
    }
    if cases.is_empty() {
        return Err(CliError::Failed(format!(
            "--run `{}` matches none of the {total} test cases",
            a.run.as_deref().unwrap_or_default()
        )));
    }
    Ok(if failed == 0 && !below {
        exit::OK
    } else {
        exit::FAILURE
    })
}

fn write_coverage(io: &mut Io, c: &Coverage, min: Option<f64>) -> std::io::Result<()> {
    writeln!(io.out)?;
    let rows = c
        .rules
        .iter()
        .map(|r| {
            vec![
                r.rule.clone(),
                r.decided.to_string(),
                r.matched.to_string(),
                match r.status {
                    RuleStatus::Decided => "decided".to_owned(),
                    RuleStatus::MatchedNeverWon => "matched, never won".to_owned(),
                    RuleStatus::NeverMatched => "never matched".to_owned(),
                },
                format!("{}:{}", r.file, r.line),
            ]
        })
        .collect();
    write!(
        io.out,
        "{}",
        crate::output::table(
            &["rule", "decided", "matched", "status", "defined at"],
            rows
        )
    )?;
    let verdict = match min {
        Some(m) if c.percent < m => format!(" — below --min-coverage {m}%"),
        Some(m) => format!(" (--min-coverage {m}%: ok)"),
        None => String::new(),
    };
    writeln!(
        io.out,
        "coverage: {} of {} rules decided a case ({:.1}%){verdict}",
        c.covered, c.total, c.percent
    )
}

/// What running a case gave: the decision (with its rule trace when the
/// case failed) and why it failed.
struct Outcome {
    decision: Decision,
    failure: Option<String>,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    ok: bool,
    passed: usize,
    failed: usize,
    filtered_out: usize,
    /// With --coverage: per rule, what the cases did with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    coverage: Option<&'a Coverage>,
    cases: Vec<JsonCase<'a>>,
}

#[derive(Serialize)]
struct JsonCase<'a> {
    name: &'a str,
    file: String,
    line: u32,
    column: u32,
    /// `pass` or `fail`.
    status: &'static str,
    expected: &'static str,
    /// Why the case failed; null when it passed.
    message: Option<&'a str>,
    /// The decision; for a failed case it carries the rule trace.
    decision: &'a Decision,
}

fn write_text_case(io: &mut Io, case: &Case, outcome: Option<&Outcome>) -> std::io::Result<()> {
    let Some(outcome) = outcome else {
        return Ok(());
    };
    match &outcome.failure {
        None => writeln!(io.out, "{} {}", paint(style::GOOD, "PASS"), case.name),
        Some(why) => {
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
            write_trace(
                &mut io.out,
                outcome.decision.trace.as_deref().unwrap_or_default(),
                "  ",
            )
        }
    }
}

/// The JUnit XML report: one testsuite per test file, in the order the
/// files were read.
fn junit(cases: &[Case], outcomes: &[Outcome]) -> Result<String, CliError> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut suites: Vec<TestSuite> = Vec::new();
    for (case, outcome) in cases.iter().zip(outcomes) {
        let file = case.file.display().to_string();
        let status = match &outcome.failure {
            None => TestCaseStatus::success(),
            Some(why) => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                let mut trace = Vec::new();
                let _ = write_trace(
                    &mut trace,
                    outcome.decision.trace.as_deref().unwrap_or_default(),
                    "",
                );
                s.set_message(why.as_str())
                    .set_type("policy test failure")
                    .set_description(format!(
                        "at {file}:{}:{}\n{}",
                        case.pos.line,
                        case.pos.col,
                        // `write_trace` paints for terminals; XML gets plain text.
                        anstream::adapter::strip_str(&String::from_utf8_lossy(&trace))
                    ));
                s
            }
        };
        let mut tc = TestCase::new(case.name.as_str(), status);
        tc.set_classname(file.as_str());
        if suites.last().is_none_or(|s| s.name.as_str() != file) {
            suites.push(TestSuite::new(file.as_str()));
        }
        if let Some(suite) = suites.last_mut() {
            suite.add_test_case(tc);
        }
    }
    let mut report = Report::new("agent-safe test");
    report.add_test_suites(suites);
    report
        .to_string()
        .map_err(|e| CliError::Failed(format!("cannot write the JUnit report: {e}")))
}

/// Runs one case; a failed case is run again with the rule trace.
fn run_case(safe: &AgentSafe, case: &Case) -> Outcome {
    let d = safe.check_at(&case.request, case.at);
    match judge(case, &d) {
        Ok(()) => Outcome {
            decision: d,
            failure: None,
        },
        Err(why) => {
            let mut req = case.request.clone();
            req.explain = true;
            Outcome {
                decision: safe.check_at(&req, case.at),
                failure: Some(why),
            }
        }
    }
}

/// Whether decision `d` is what `case` expects; `Err` says why not.
fn judge(case: &Case, d: &Decision) -> Result<(), String> {
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
