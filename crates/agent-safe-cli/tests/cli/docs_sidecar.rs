//! The `curl` examples of docs/SIDECAR.md, run against `agent-safe serve` on
//! a fresh `agent-safe init` project. Each must print JSON that is not an
//! error; where the page shows the response (the next fenced block, when it
//! is ```json and in the same section), every field it shows must be the real one, except values
//! written with `…` and the clock reading `evaluated_at`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::{Project, bin};

/// (curl script, the response the page shows after it).
fn examples(doc: &str) -> Vec<(String, Option<String>)> {
    let lines: Vec<&str> = doc.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].starts_with("```sh") {
            let start = i + 1;
            let mut end = start;
            while end < lines.len() && !lines[end].starts_with("```") {
                end += 1;
            }
            let body = lines[start..end].join("\n");
            i = end + 1;
            if !body.contains("curl ") {
                continue;
            }
            // The response is the next fenced block, if it is JSON and comes
            // before the next heading.
            let mut j = i;
            while j < lines.len() && !lines[j].starts_with("```") && !lines[j].starts_with('#') {
                j += 1;
            }
            let mut shown = None;
            if j < lines.len() && lines[j].starts_with("```json") {
                let mut k = j + 1;
                while k < lines.len() && !lines[k].starts_with("```") {
                    k += 1;
                }
                shown = Some(lines[j + 1..k].join("\n"));
                i = k + 1;
            }
            out.push((body, shown));
        } else {
            i += 1;
        }
    }
    out
}

/// Every field of `shown` is in `real` with the same value (`…`: any value).
fn agrees(shown: &Value, real: &Value, path: &str, errors: &mut Vec<String>) {
    match (shown, real) {
        (Value::Object(s), Value::Object(r)) => {
            for (k, v) in s {
                if k == "…" || k == "evaluated_at" {
                    continue;
                }
                match r.get(k) {
                    Some(rv) => agrees(v, rv, &format!("{path}.{k}"), errors),
                    None => errors.push(format!("{path}.{k}: not in the response")),
                }
            }
        }
        (Value::Array(s), Value::Array(r)) => {
            if s.len() != r.len() {
                errors.push(format!("{path}: {} items shown, {} real", s.len(), r.len()));
            }
            for (n, (sv, rv)) in s.iter().zip(r).enumerate() {
                agrees(sv, rv, &format!("{path}[{n}]"), errors);
            }
        }
        (Value::String(s), _) if s.contains('…') => {}
        _ if shown == real => {}
        _ => errors.push(format!(
            "{path}: the page shows {shown}, the sidecar said {real}"
        )),
    }
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `agent-safe serve` on a free loopback port; its address.
fn serve(dir: &Path) -> (Server, String) {
    let mut child = Command::new(bin())
        .current_dir(dir)
        .args(["serve", "--listen", "127.0.0.1:0", "--log", "json"])
        .env_remove("AGENT_SAFE_CONFIG")
        .env("AGENT_SAFE_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Ok(v) = serde_json::from_str::<Value>(&line)
                && v["message"] == "listening"
            {
                let _ = tx.send(v["addr"].as_str().unwrap_or_default().to_owned());
            }
        }
    });
    let server = Server(child);
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the sidecar did not start");
    (server, addr)
}

#[test]
fn the_curl_examples_in_sidecar_md_are_true_on_an_init_project() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/SIDECAR.md"),
    )
    .unwrap();
    let examples = examples(&doc);
    assert!(examples.len() >= 4, "found {} examples", examples.len());
    assert!(
        examples.iter().filter(|(_, shown)| shown.is_some()).count() >= 3,
        "the page shows fewer responses than expected"
    );

    let p = Project::empty();
    std::fs::remove_dir(&p.dir).unwrap();
    let out = p
        .cmd(&["init", "proj"])
        .current_dir(&p.root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let (code, token, err) = p.run(&[
        "token",
        "create",
        "--agent-id",
        "deploy-agent",
        "--roles",
        "deployer",
    ]);
    assert_eq!(code, 0, "{err}");
    let (_server, addr) = serve(&p.dir);
    let base = format!("http://{addr}");

    for (script, shown) in &examples {
        let script = script.replace("http://127.0.0.1:8400", &base);
        let out = Command::new("bash")
            .args(["-euo", "pipefail", "-c", &script])
            .env("TOKEN", token.trim())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{script}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let docs: Vec<Value> = serde_json::Deserializer::from_str(&stdout)
            .into_iter::<Value>()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{script}: not JSON ({e}): {stdout}"));
        assert!(!docs.is_empty(), "{script}: no output");
        for d in &docs {
            assert!(d.get("error").is_none(), "{script}: {d}");
        }
        if let Some(shown) = shown {
            let shown: Value = serde_json::from_str(shown)
                .unwrap_or_else(|e| panic!("the response shown after\n{script}\nis not JSON: {e}"));
            assert_eq!(docs.len(), 1, "{script}");
            let mut errors = Vec::new();
            agrees(&shown, &docs[0], "response", &mut errors);
            assert!(
                errors.is_empty(),
                "docs/SIDECAR.md:\n{script}\n{}\nreal response: {}",
                errors.join("\n"),
                docs[0]
            );
        }
    }
}
