//! Code blocks in the documentation are real: every `yaml` block loads with
//! the loader of its kind, and every block is either checked by a test or
//! explicitly marked as illustrative.
//!
//! Conventions (see docs/ARCHITECTURE.md):
//! - `yaml` blocks are loaded here (policy, action, inventory, config; policy
//!   test files are checked by the CLI's parser in its own tests);
//! - `sh` and `python` blocks of GETTING-STARTED.md are run in order by
//!   `python/tests/test_getting_started.py`; the `python` block of
//!   AUDIT-LOG.md by `python/tests/test_docs_blocks.py`;
//! - `text` blocks are output or diagrams;
//! - any other block says so in its info string: ```` ```sh illustrative ````.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use agent_safe_core::config::parse_config;
use agent_safe_core::load::{SourceFile, parse_action, parse_inventory, parse_policy};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// (info string, body, line of the opening fence).
fn blocks(text: &str) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    let mut open: Option<(String, usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => open = Some((info.trim().to_owned(), i + 1, String::new())),
            (Some(_), Some(rest)) if rest.trim().is_empty() => {
                let (info, at, body) = open.take().unwrap();
                out.push((info, body, at));
            }
            (Some((_, _, body)), _) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "unclosed code fence");
    out
}

const RUN_BY_PYTHON_TESTS: &[&str] = &["GETTING-STARTED.md", "AUDIT-LOG.md"];

/// Pages whose `sh` blocks the CLI's tests run in order
/// (`crates/agent-safe-cli/tests/cli/guide.rs`).
const RUN_BY_CLI_TESTS: &[&str] = &["CHANGING-POLICIES.md"];

#[test]
fn every_doc_block_is_checked_or_illustrative() {
    let mut pages: Vec<PathBuf> = std::fs::read_dir(repo().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.push(repo().join("README.md"));
    pages.sort();
    let mut problems = Vec::new();
    let mut yaml_checked = 0;
    for page in &pages {
        let name = page.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(page).unwrap();
        for (info, body, line) in blocks(&text) {
            let mut words = info.split_whitespace();
            let lang = words.next().unwrap_or("");
            let illustrative = info.split_whitespace().any(|w| w == "illustrative");
            let at = format!("{name}:{line}");
            match lang {
                _ if illustrative => {}
                // Output, trees and diagrams.
                "text" => {}
                // Every block says what it is: an untagged block is neither
                // checked nor marked.
                "" => problems.push(format!(
                    "{at}: an untagged block: tag output and diagrams ```text, code ```LANG illustrative (or have a test run it)"
                )),
                "yaml" => {
                    let src = SourceFile { path: PathBuf::from(&at), text: body.clone() };
                    // The kind is read from the first line that is not a comment.
                    let first = body
                        .lines()
                        .map(str::trim_start)
                        .find(|l| !l.is_empty() && !l.starts_with('#'))
                        .unwrap_or("");
                    let result = if body.contains("rules:") && !body.contains("\nname:") {
                        parse_policy(&src).map(|_| ())
                    } else if first.starts_with("targets:") {
                        parse_inventory(&src).map(|_| ())
                    } else if body.contains("risk_class:") {
                        parse_action(&src).map(|_| ())
                    } else if first.starts_with("tests:") {
                        // Policy test files: parsed by the CLI's tests; here
                        // at least the YAML must be valid.
                        agent_safe_core::yaml::parse(Path::new(&at), &body).map(|_| ()).map_err(agent_safe_core::diag::ConfigError::single)
                    } else if first.starts_with("upstream:") || first.starts_with("tools:") {
                        // MCP gateway settings files (`mcp: mcp.yaml`), and
                        // tool mappings (`tools:` only) read by the SDK adapters.
                        agent_safe_core::mapping::parse_mcp(&src).map(|_| ())
                    } else if body.contains("steps:") {
                        // Plan files: read by the core's plan reader.
                        agent_safe_core::yaml::parse(Path::new(&at), &body)
                            .map_err(agent_safe_core::diag::ConfigError::single)
                            .and_then(|root| agent_safe_core::plan::read_plan(Path::new(&at), &root))
                            .map(|_| ())
                    } else {
                        parse_config(&src).map(|_| ())
                    };
                    match result {
                        Ok(()) => yaml_checked += 1,
                        Err(e) => problems.push(format!("{at}: yaml block does not load:\n{e}")),
                    }
                }
                "sh" | "python" | "console" | "bash" if RUN_BY_PYTHON_TESTS.contains(&name.as_str()) => {}
                "sh" if RUN_BY_CLI_TESTS.contains(&name.as_str()) => {}
                other => problems.push(format!(
                    "{at}: a `{other}` block that no test runs: run it from a test, or mark it ```{other} illustrative"
                )),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(yaml_checked >= 4, "only {yaml_checked} yaml blocks checked");
}
