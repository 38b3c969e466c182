//! The transcripts of docs/CLI.md (```text blocks that start with
//! `$ agent-safe`) are run on a fresh `agent-safe init` project and their
//! output compared with what the page shows: decisions, rule names, reasons,
//! exit codes. In the page, a line `...` stands for any number of lines and
//! `...` inside a line for any text (ids, clock readings).

use std::path::Path;
use std::process::Command;

use crate::{Project, bin};

/// Transcripts that are not run, and why.
const NOT_RUN: &[(&str, &str)] = &[
    (
        "$ agent-safe audit ",
        "needs an audit log with particular events (edited, torn, checkpointed)",
    ),
    (
        "$ agent-safe replay ",
        "needs a logged week and a candidate policy directory; the same flow runs \
         in docs/CHANGING-POLICIES.md, whose blocks tests/cli/guide.rs runs",
    ),
];

/// Files a transcript needs beyond the init project, found by a text the
/// transcript contains.
fn setup(block: &str, p: &Project) {
    if block.contains("typo-in-action") {
        p.write(
            "policies/extra.yaml",
            "rules:\n  - name: typo-in-action\n    priority: 20\n    match:\n      actions: [restart-deploymnet]\n    decision: deny\n",
        );
        p.write(
            "actions/poke-app.yaml",
            "name: poke-app\nversion: \"1.0.0\"\ndescription: Pokes the app.\nrisk_class: low\ntarget_types: [app]\nrequired_privileges:\n  - apps/deploymentz:patch\n  - apps/statefulsets:restart\n",
        );
    }
    if block.contains("shadowed-restarts") {
        p.write(
            "policies/extra.yaml",
            "rules:\n  - name: shadowed-restarts\n    priority: 10\n    match:\n      actions: [restart-deployment]\n      targets: {environments: [prod]}\n      callers: {agent_ids: [\"**\"]}\n    decision: allow\n",
        );
    }
    if block.contains("check-plan plan.yaml") {
        // The plan shown in the page, just above the transcript.
        let doc = doc();
        let plan = doc
            .split("```yaml\n")
            .find(|b| b.starts_with("caller: ops-agent\nsteps:"))
            .and_then(|b| b.split("```").next())
            .expect("the plan example");
        p.write("plan.yaml", plan);
    }
    if block.contains("agent-safe test more") {
        p.write(
            "more/cases.yaml",
            r#"tests:
  - name: restarting the public web preview is allowed
    request:
      action: restart-deployment
      target: staging/web
      caller: ops-agent
      params: {namespace: staging, deployment: web}
      at: "2026-03-04T12:00:00Z"
    expect: allow
  - name: an ops agent restarts the production api
    request:
      action: restart-deployment
      target: prod/api
      caller: ops-agent
      params: {namespace: prod, deployment: api}
      at: "2026-03-04T12:00:00Z"
    expect: allow
"#,
        );
    }
    if block.contains("would reformat policies/30-extra.yaml") {
        p.write(
            "policies/30-extra.yaml",
            "rules:\n- decision: deny\n  name: no-drains\n  match:\n    actions: [drain-node]\n",
        );
    }
}

fn doc() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/CLI.md"))
        .unwrap()
}

/// The ```text blocks that are transcripts.
fn transcripts(doc: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in doc.lines() {
        match (&mut current, line.starts_with("```")) {
            (None, true) if line == "```text" => current = Some(String::new()),
            (Some(body), true) => {
                if body.starts_with("$ agent-safe") {
                    out.push(body.clone());
                }
                current = None;
            }
            (Some(body), false) => {
                body.push_str(line);
                body.push('\n');
            }
            _ => {}
        }
    }
    out
}

/// (command, expected output lines) pairs; `\` continues a command.
fn steps(block: &str) -> Vec<(String, Vec<String>)> {
    let mut steps: Vec<(String, Vec<String>)> = Vec::new();
    let mut continued = false;
    for line in block.lines() {
        if let Some(cmd) = line.strip_prefix("$ ") {
            steps.push((cmd.to_owned(), Vec::new()));
            continued = cmd.ends_with('\\');
        } else if continued {
            let last = steps.last_mut().unwrap();
            last.0.push('\n');
            last.0.push_str(line);
            continued = line.ends_with('\\');
        } else {
            steps.last_mut().unwrap().1.push(line.trim_end().to_owned());
        }
    }
    steps
}

/// Does `line` match `pattern`, where `...` in the pattern is any text?
fn line_matches(pattern: &str, line: &str) -> bool {
    let parts: Vec<&str> = pattern.split("...").collect();
    if parts.len() == 1 {
        return pattern == line;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !line.starts_with(first) || !line[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &line[first.len()..line.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// Do the `actual` lines match the `expected` ones (`...` alone = any lines)?
fn lines_match(expected: &[String], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((e, rest)) if e.trim() == "..." => {
            (0..=actual.len()).any(|skip| lines_match(rest, &actual[skip..]))
        }
        Some((e, rest)) => actual
            .split_first()
            .is_some_and(|(a, arest)| line_matches(e, a) && lines_match(rest, arest)),
    }
}

fn init_project() -> Project {
    let p = Project::empty();
    std::fs::remove_dir(&p.dir).unwrap();
    let out = p
        .cmd(&["init", "proj"])
        .current_dir(&p.root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    p
}

#[test]
fn the_transcripts_in_cli_md_are_true_on_an_init_project() {
    let doc = doc();
    let blocks = transcripts(&doc);
    assert!(blocks.len() >= 8, "found {} transcripts", blocks.len());
    let bin_dir = bin().parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut ran = 0;
    for block in &blocks {
        if NOT_RUN.iter().any(|(prefix, _)| block.starts_with(prefix)) {
            continue;
        }
        let p = init_project();
        setup(block, &p);
        let mut last_code = None;
        for (cmd, expected) in steps(block) {
            let (code, output) = if cmd.starts_with("echo $?") {
                (0, format!("{}\n", last_code.unwrap()))
            } else {
                let script = format!("{} 2>&1", cmd.split(" #").next().unwrap_or(&cmd));
                let out = Command::new("bash")
                    .args(["-c", &script])
                    .current_dir(&p.dir)
                    .env("PATH", &path)
                    .env_remove("AGENT_SAFE_CONFIG")
                    .env_remove("AGENT_SAFE_CALLER")
                    .env_remove("CLICOLOR_FORCE")
                    .env_remove("CLICOLOR")
                    .env_remove("NO_COLOR")
                    .env("COLUMNS", "100")
                    .output()
                    .unwrap();
                (
                    out.status.code().unwrap(),
                    String::from_utf8(out.stdout).unwrap(),
                )
            };
            last_code = Some(code);
            let actual: Vec<&str> = output.lines().map(str::trim_end).collect();
            assert!(
                lines_match(&expected, &actual),
                "docs/CLI.md: `{cmd}` printed\n{output}\nbut the page shows\n{}",
                expected.join("\n")
            );
        }
        ran += 1;
    }
    assert!(ran >= 8, "ran {ran} transcripts");
}

#[test]
fn the_matcher_allows_only_what_the_dots_stand_for() {
    assert!(line_matches("audit id: ...", "audit id: 01a2-x"));
    assert!(line_matches("a ... b ... c", "a 1 b 2 c"));
    assert!(!line_matches("a ... b", "a 1 c"));
    let e = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert!(lines_match(&e(&["x", "...", "y"]), &["x", "1", "2", "y"]));
    assert!(lines_match(&e(&["x", "..."]), &["x"]));
    assert!(!lines_match(&e(&["x", "y"]), &["x", "z"]));
    assert!(!lines_match(&e(&["x"]), &["x", "extra"]));
}
