//! docs/CHANGING-POLICIES.md is real: its `sh` blocks run, in order, in one
//! shell, in a fresh `agent-safe init` project, with this build's
//! `agent-safe` first on the PATH.

use std::path::Path;
use std::process::Command;

use super::{Project, bin};

/// The bodies of the page's ```` ```sh ```` blocks, in order.
fn sh_blocks(page: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut open: Option<String> = None;
    for line in page.lines() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => {
                if info.trim() == "sh" {
                    open = Some(String::new());
                } else {
                    open = Some("\u{0}".to_owned());
                }
            }
            (Some(body), Some(_)) => {
                if !body.starts_with('\u{0}') {
                    out.push(body.clone());
                }
                open = None;
            }
            (Some(body), None) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

#[test]
fn the_changing_policies_guide_runs_as_written() {
    let page = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/CHANGING-POLICIES.md"),
    )
    .unwrap();
    let blocks = sh_blocks(&page);
    assert!(blocks.len() >= 11, "only {} sh blocks", blocks.len());
    let p = Project::empty();
    let (code, _, err) = p.run(&["init", "shop"]);
    assert_eq!(code, 0, "{err}");
    let dir = p.dir.join("shop");
    let path = format!(
        "{}:{}",
        bin().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // The sidecar step listens on a free port, not the page's 8400.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script = blocks
        .join("\n")
        .replace("127.0.0.1:8400", &format!("127.0.0.1:{port}"));
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(&dir)
        .env("PATH", path)
        .env_remove("AGENT_SAFE_CONFIG")
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // What the page says the replay shows.
    assert!(
        stdout.contains("changed: 1 (1 widen toward ALLOW, 0 narrow)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("REQUIRE_APPROVAL → ALLOW (widens)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("the candidate widens some decisions"),
        "{stdout}"
    );
    assert!(stdout.contains("49 passed, 0 failed"), "{stdout}");
    // Shadow in the sidecar: the counters are exported (the check it
    // received disagrees only early on a Sunday, London time), and the
    // what-if check recorded the candidate's answer.
    assert!(
        stdout.contains(
            "agent_safe_shadow_disagreements_total{from=\"require_approval\",to=\"allow\"} "
        ),
        "{stdout}\n{}",
        std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default()
    );
    let event: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("shadow-event.json")).unwrap())
            .unwrap();
    assert_eq!(event["decision"], "require_approval");
    assert_eq!(event["policy_matched"], "prod-requires-approval");
    assert_eq!(event["shadow"]["decision"], "allow");
    assert_eq!(
        event["shadow"]["policy_matched"],
        "prod-maintenance-window-restart"
    );
    assert!(event["shadow"]["error"].is_null());
    assert_ne!(event["shadow"]["snapshot"], event["snapshot"]);
    // The text view says what the candidate decided, too.
    let shown = Command::new(env!("CARGO_BIN_EXE_agent-safe"))
        .args(["audit", "show", "--last", "1000"])
        .current_dir(&dir)
        .env_remove("AGENT_SAFE_CONFIG")
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.contains("[shadow: ALLOW by prod-maintenance-window-restart]"),
        "{shown}"
    );
    assert!(
        stdout
            .contains("coverage: 11 of 11 rules decided a case (100.0%) (--min-coverage 100%: ok)"),
        "{stdout}"
    );
    let first: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(dir.join("replay.jsonl"))
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        first["change"]["new_rule"],
        "prod-maintenance-window-restart"
    );
    // After enforcing, the last event names a different snapshot than the
    // first one.
    let log = std::fs::read_to_string(dir.join("audit/audit.jsonl")).unwrap();
    let digests: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["snapshot"].clone())
        .collect();
    assert_ne!(digests.first(), digests.last());
    assert!(
        digests
            .iter()
            .all(|d| d.as_str().unwrap().starts_with("sha256:"))
    );
}
