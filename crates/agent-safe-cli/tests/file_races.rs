//! Stress: the deny policy file is rewritten in place thousands of times —
//! by `cp`, by a slow shell redirection and by a truncate followed by a
//! separate write — while checks flow through the real sidecar
//! (`agent-safe serve`) and through the real CLI (`agent-safe check`).
//!
//! An allow-all rule (priority 10) and a deny-all rule (priority 20) live in
//! two files. Any decision made while the deny file was empty or half
//! written would be ALLOW; the promise is that there are none: the sidecar
//! keeps its last good snapshot, and the CLI either reads a whole, stable
//! file or exits 2 with the cause.
//!
//! `AGENT_SAFE_STRESS_REWRITES` sets the rewrites per way (default 2000).
#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const CONFIG: &str =
    "policies: policies\ninventory: inventory.yaml\naudit:\n  path: audit/audit.jsonl\n";
const INVENTORY: &str = "targets:\n  - {id: staging/api, type: k8s-deployment, environment: staging, sensitivity: internal, owner: team-a, namespace: staging, name: api}\n";
const ALLOW: &str = "rules:\n  - name: allow-all\n    priority: 10\n    decision: allow\n    reason: anything goes\n    match: {}\n";
/// Long enough that `cat` and `cp` may write it in more than one piece on
/// some systems; the comment lines pad it.
fn deny_text() -> String {
    let mut s = String::from(
        "rules:\n  - name: deny-all\n    priority: 20\n    decision: deny\n    reason: everything is denied\n    match: {}\n",
    );
    for i in 0..40 {
        s.push_str(&format!("# padding line {i} so the file is not tiny\n"));
    }
    s
}

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_agent-safe"))
}

fn rewrites() -> u32 {
    std::env::var("AGENT_SAFE_STRESS_REWRITES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path) -> Server {
    let mut child = Command::new(bin())
        .arg("serve")
        .arg("--config")
        .arg(dir.join("agent-safe.yaml"))
        .args(["--listen", "127.0.0.1:0", "--log", "json"])
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
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the sidecar did not start");
    Server { child, addr }
}

/// What the checkers saw.
#[derive(Debug, Default)]
struct Tally {
    /// `decision (policy)` → count.
    decisions: BTreeMap<String, u64>,
    /// Checks that gave no decision (the CLI's exit 2: configuration error).
    refused: u64,
    /// Decisions made without the deny rule (the failure being tested).
    wrong: Vec<String>,
}

impl Tally {
    fn record(&mut self, d: &Value) {
        let decision = d["result"].as_str().unwrap_or("?").to_owned();
        let policy = d["policy_matched"].as_str().unwrap_or("-").to_owned();
        if decision != "deny" || policy != "deny-all" {
            self.wrong.push(d.to_string());
        }
        *self
            .decisions
            .entry(format!("{decision} ({policy})"))
            .or_default() += 1;
    }

    fn total(&self) -> u64 {
        self.decisions.values().sum()
    }
}

fn request() -> Value {
    json!({"action": "restart-deployment", "target": "staging/api", "caller": "stress-agent",
           "params": {"namespace": "staging", "deployment": "api"}})
}

/// Checks through the sidecar until `stop`.
fn http_checker(addr: String, stop: Arc<AtomicBool>, tally: Arc<Mutex<Tally>>) {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let url = format!("http://{addr}/v1/check");
    while !stop.load(Ordering::Relaxed) {
        let resp = client.post(&url).json(&request()).send().unwrap();
        let d: Value = resp.json().unwrap();
        tally.lock().unwrap().record(&d);
    }
}

/// Checks through the CLI until `stop`: exit 3 with the deny decision, or
/// exit 2 (the files could not be read as a consistent whole).
fn cli_checker(dir: PathBuf, stop: Arc<AtomicBool>, tally: Arc<Mutex<Tally>>) {
    let params = request()["params"].to_string();
    while !stop.load(Ordering::Relaxed) {
        let out = Command::new(bin())
            .current_dir(&dir)
            .args([
                "check",
                "restart-deployment",
                "--target",
                "staging/api",
                "--caller",
                "stress-agent",
                "--params",
                &params,
                "--output",
                "json",
            ])
            .output()
            .unwrap();
        let mut t = tally.lock().unwrap();
        match out.status.code() {
            Some(2) => t.refused += 1,
            _ => match serde_json::from_slice::<Value>(&out.stdout) {
                Ok(d) => t.record(&d),
                Err(_) => t.wrong.push(format!(
                    "exit {:?}, stdout {:?}, stderr {:?}",
                    out.status.code(),
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                )),
            },
        }
    }
}

/// One way of rewriting the deny file in place, as a shell loop.
fn writer_script(way: &str, n: u32) -> String {
    let body = match way {
        "cp" => "cp deny.new policies/deny.yaml",
        "slow-redirect" => "{ sleep 0.003; cat deny.new; } > policies/deny.yaml",
        "truncate-then-write" => ": > policies/deny.yaml; cat deny.new >> policies/deny.yaml",
        other => panic!("unknown way {other}"),
    };
    format!("i=0; while [ $i -lt {n} ]; do {body}; i=$((i+1)); done")
}

#[test]
fn rewriting_the_deny_file_in_place_never_lets_a_check_through() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    std::fs::create_dir(dir.join("policies")).unwrap();
    std::fs::write(dir.join("agent-safe.yaml"), CONFIG).unwrap();
    std::fs::write(dir.join("inventory.yaml"), INVENTORY).unwrap();
    std::fs::write(dir.join("policies/allow.yaml"), ALLOW).unwrap();
    std::fs::write(dir.join("policies/deny.yaml"), deny_text()).unwrap();
    std::fs::write(dir.join("deny.new"), deny_text()).unwrap();
    let server = serve(&dir);
    let n = rewrites();

    let mut report = Vec::new();
    for way in ["cp", "slow-redirect", "truncate-then-write"] {
        let stop = Arc::new(AtomicBool::new(false));
        let http = Arc::new(Mutex::new(Tally::default()));
        let cli = Arc::new(Mutex::new(Tally::default()));
        let checkers = [
            std::thread::spawn({
                let (addr, stop, t) = (server.addr.clone(), stop.clone(), http.clone());
                move || http_checker(addr, stop, t)
            }),
            std::thread::spawn({
                let (d, stop, t) = (dir.clone(), stop.clone(), cli.clone());
                move || cli_checker(d, stop, t)
            }),
        ];
        let started = Instant::now();
        let st = Command::new("sh")
            .arg("-c")
            .arg(writer_script(way, n))
            .current_dir(&dir)
            .status()
            .unwrap();
        let took = started.elapsed();
        stop.store(true, Ordering::Relaxed);
        for c in checkers {
            c.join().unwrap();
        }
        assert!(st.success(), "the {way} writer failed");
        let (http, cli) = (http.lock().unwrap(), cli.lock().unwrap());
        assert!(
            http.wrong.is_empty(),
            "{way}: {} sidecar decisions without the deny rule, e.g. {}",
            http.wrong.len(),
            http.wrong[0]
        );
        assert!(
            cli.wrong.is_empty(),
            "{way}: {} CLI decisions without the deny rule, e.g. {}",
            cli.wrong.len(),
            cli.wrong[0]
        );
        assert!(http.total() > 0, "{way}: no sidecar check ran");
        assert!(cli.total() + cli.refused > 0, "{way}: no CLI check ran");
        report.push(format!(
            "{way}: {n} rewrites in {:.1} s; sidecar {} decisions {:?}; CLI {} decisions {:?}, {} refused (exit 2)",
            took.as_secs_f64(),
            http.total(),
            http.decisions,
            cli.total(),
            cli.decisions,
            cli.refused
        ));
    }
    drop(server);
    for line in &report {
        eprintln!("{line}");
    }

    // The log holds every decision, all of them deny-all, and verifies.
    let log = std::fs::read_to_string(dir.join("audit/audit.jsonl")).unwrap();
    for line in log.lines() {
        let ev: Value = serde_json::from_str(line).unwrap();
        if ev["kind"] != "decision" {
            continue;
        }
        assert_eq!(ev["decision"], "deny", "{line}");
        assert_eq!(ev["policy_matched"], "deny-all", "{line}");
    }
    let verify = Command::new(bin())
        .current_dir(&dir)
        .args(["audit", "verify"])
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}
