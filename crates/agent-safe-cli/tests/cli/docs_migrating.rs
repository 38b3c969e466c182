//! docs/MIGRATING.md is real: its 0.14 files (blocks tagged
//! `0.14:PATH`) are written to a project, the `$ agent-safe migrate` transcript
//! is run and its output compared, and the converted files it shows (blocks
//! tagged `migrated:PATH`) are compared with what was written. The `yaml`
//! blocks of converted files are also loaded by the core's docs test.

use std::path::Path;

use super::Project;

/// (info string, body) of every fenced block.
fn blocks(page: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut open: Option<(String, String)> = None;
    for line in page.lines() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => open = Some((info.trim().to_owned(), String::new())),
            (Some(_), Some(rest)) if rest.trim().is_empty() => {
                out.extend(open.take());
            }
            (Some((_, body)), _) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

fn tagged<'a>(info: &'a str, prefix: &str) -> Option<&'a str> {
    info.split_whitespace().find_map(|w| w.strip_prefix(prefix))
}

#[test]
fn the_migrating_page_runs_as_written() {
    let page = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/MIGRATING.md"),
    )
    .unwrap();
    let blocks = blocks(&page);
    let p = Project::empty();
    let mut written = 0;
    for (info, body) in &blocks {
        if let Some(path) = tagged(info, "0.14:") {
            let file = p.root.join("old").join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, body).unwrap();
            written += 1;
        }
    }
    assert!(written >= 5, "only {written} 0.14 files on the page");

    let mut ran = 0;
    for (info, body) in &blocks {
        let Some(rest) = body.strip_prefix("$ agent-safe migrate ") else {
            continue;
        };
        assert_eq!(info, "text");
        let (command, expected) = rest.split_once('\n').unwrap();
        let args: Vec<&str> = std::iter::once("migrate")
            .chain(command.split_whitespace())
            .collect();
        let out = p.cmd(&args).current_dir(&p.root).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            got.trim_end(),
            expected.trim_end(),
            "the transcript differs"
        );
        ran += 1;
    }
    assert_eq!(ran, 1);

    let mut compared = 0;
    for (info, body) in &blocks {
        if let Some(path) = tagged(info, "migrated:") {
            let got = std::fs::read_to_string(p.root.join("new").join(path)).unwrap();
            assert_eq!(&got, body, "{path}");
            compared += 1;
        }
    }
    assert!(compared >= 2);

    // What the page says of the converted project.
    let new = p.root.join("new");
    let out = p.cmd(&["validate"]).current_dir(&new).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = p
        .cmd(&["test", "tests/policy_tests"])
        .current_dir(&new)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("1 passed, 2 failed"), "{text}");
}
