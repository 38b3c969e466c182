//! End to end: the real server process (`agent-safe serve`, built from the
//! CLI crate), a real HTTP client, a policy edit picked up by the file watcher,
//! and SIGTERM while requests are in flight: the process exits 0 and every
//! acknowledged decision is in a verified audit log.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Builds `package`'s `target` (`--bin NAME` or `--example NAME`) with the
/// same profile and target directory as this test and returns the binary,
/// so that `cargo test --test e2e` never runs a stale server. (Cargo
/// releases its build lock before it runs tests.)
fn build(package: &str, kind: &str, name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    let target_dir = profile_dir.parent().unwrap();
    let profile = match profile_dir.file_name().unwrap().to_str().unwrap() {
        "debug" => "dev".to_owned(),
        other => other.to_owned(),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--locked",
            "-p",
            package,
            kind,
            name,
            "--profile",
        ])
        .arg(&profile)
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cannot build {package} {kind} {name}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = if kind == "--example" {
        profile_dir.join("examples")
    } else {
        profile_dir
    };
    let bin = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.is_file(), "{} is missing", bin.display());
    bin
}

/// The server command: the real `agent-safe serve` of the CLI crate; the
/// `agent-safe-serve` example (the same `serve()` with the same options)
/// only if the CLI has no `serve` command.
fn server_command() -> Command {
    static CMD: OnceLock<(PathBuf, bool)> = OnceLock::new();
    let (bin, is_cli) = CMD.get_or_init(|| {
        let cli = build("agent-safe-cli", "--bin", "agent-safe");
        let has_serve = Command::new(&cli)
            .args(["serve", "--help"])
            .output()
            .is_ok_and(|o| o.status.success());
        if has_serve {
            (cli, true)
        } else {
            (
                build("agent-safe-server", "--example", "agent-safe-serve"),
                false,
            )
        }
    });
    let mut cmd = Command::new(bin);
    if *is_cli {
        cmd.arg("serve");
    }
    cmd
}

struct Proc {
    child: Child,
    addr: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Proc {
    /// A failed test must not leave a server behind.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn spawn(dir: &Path) -> Proc {
    spawn_with(dir, server_command())
}

/// The server under `ulimit -n nofile`: at most `nofile` open files.
fn spawn_with_nofile(dir: &Path, nofile: u32) -> Proc {
    let server = server_command();
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -n {nofile} && exec \"$@\""))
        .arg("sh")
        .arg(server.get_program())
        .args(server.get_args());
    spawn_with(dir, cmd)
}

fn spawn_with(dir: &Path, mut cmd: Command) -> Proc {
    let mut child = cmd
        .args(["--config"])
        .arg(dir.join("agent-safe.yaml"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--health-listen",
            "127.0.0.1:0",
            "--log",
            "json",
        ])
        .env("AGENT_SAFE_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let sink = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let listening = serde_json::from_str::<Value>(&line)
                .ok()
                .filter(|v| v["message"] == "listening")
                .map(|v| v["addr"].as_str().unwrap_or_default().to_owned());
            sink.lock().unwrap().push(line);
            if let Some(addr) = listening {
                let _ = tx.send(addr);
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| {
            let _ = child.kill();
            panic!(
                "the server did not start:\n{}",
                log.lock().unwrap().join("\n")
            )
        });
    Proc { child, addr, log }
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server did not exit within {within:?} of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// How many steps of the long plan are in the audit log so far.
fn plan_events(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("audit/audit.jsonl"))
        .map(|t| t.matches(r#""correlation_id":"the-long-plan""#).count())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_reload_and_graceful_sigterm() {
    let dir = common::project("server:\n  max_body_bytes: 1048576\n  request_timeout_ms: 30000\n");
    let mut proc = spawn(dir.path());
    let base = format!("http://{}", proc.addr);
    let client = reqwest::Client::new();
    let body = json!({"action": "restart-deployment", "target": "staging/api", "caller": "a",
                      "params": {"namespace": "staging", "deployment": "api"}});

    // Acknowledged decisions: audit id → correlation id.
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let record = |d: &Value, acked: &Arc<Mutex<Vec<(String, String)>>>| {
        acked.lock().unwrap().push((
            d["audit_id"].as_str().unwrap().to_owned(),
            d["correlation_id"].as_str().unwrap().to_owned(),
        ));
    };

    let d: Value = client
        .post(format!("{base}/v1/check"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["result"], "allow");
    record(&d, &acked);

    // The policy edit is picked up by the watcher.
    common::tighten_staging(dir.path());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let d: Value = client
            .post(format!("{base}/v1/check"))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        record(&d, &acked);
        if d["result"] == "require_approval" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the policy edit was not picked up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Load: clients in a loop until the server goes away.
    let mut tasks = Vec::new();
    for i in 0..6 {
        let client = client.clone();
        let url = format!("{base}/v1/check");
        let acked = Arc::clone(&acked);
        let mut body = body.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            loop {
                body["correlation_id"] = json!(format!("client-{i}-{n}"));
                n += 1;
                let Ok(resp) = client.post(&url).json(&body).send().await else {
                    break;
                };
                let Ok(d) = resp.json::<Value>().await else {
                    break;
                };
                acked.lock().unwrap().push((
                    d["audit_id"].as_str().unwrap().to_owned(),
                    d["correlation_id"].as_str().unwrap().to_owned(),
                ));
                if n > 100_000 {
                    break;
                }
            }
        }));
    }
    // A long plan that is certainly in flight when SIGTERM arrives: wait
    // until its first steps are in the audit log (its own, not the loops').
    let steps: Vec<Value> = (0..1000)
        .map(|_| {
            let mut s = body.clone();
            s["explain"] = json!(true);
            s
        })
        .collect();
    let plan_client = client.clone();
    let plan_url = format!("{base}/v1/check-plan");
    let plan = tokio::spawn(async move {
        plan_client
            .post(plan_url)
            .json(&json!({"steps": steps, "correlation_id": "the-long-plan"}))
            .send()
            .await
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while plan_events(dir.path()) < 20 {
        assert!(Instant::now() < deadline, "the plan never started");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let kill = Command::new("kill")
        .args(["-TERM", &proc.child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());

    // The plan that was in flight completes.
    let resp = plan.await.unwrap().expect("the in-flight plan is answered");
    assert_eq!(resp.status().as_u16(), 200);
    let p: Value = resp.json().await.unwrap();
    assert_eq!(p["steps"].as_array().unwrap().len(), 1000);
    for s in p["steps"].as_array().unwrap() {
        record(s, &acked);
    }
    for t in tasks {
        t.await.unwrap();
    }
    let status = wait_exit(&mut proc.child, Duration::from_secs(30));
    let log = proc.log.lock().unwrap().join("\n");
    assert!(status.success(), "exit status {status:?}; log:\n{log}");
    assert!(log.contains("shutting down"), "{log}");

    // Every acknowledged decision is in the verified audit log.
    let report = agent_safe_core::audit::verify(&[dir.path().join("audit")]);
    assert!(report.is_clean(), "{report:?}");
    let text = std::fs::read_to_string(dir.path().join("audit/audit.jsonl")).unwrap();
    let logged: BTreeSet<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["event_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let acked = acked.lock().unwrap();
    assert!(acked.len() > 1000, "{} acknowledged", acked.len());
    for (audit_id, correlation) in acked.iter() {
        assert!(
            logged.contains(audit_id),
            "acknowledged decision {audit_id} ({correlation}) is not in the log"
        );
    }
    eprintln!(
        "{} acknowledged decisions, {} events in the log",
        acked.len(),
        logged.len()
    );
}

#[test]
fn a_broken_config_exits_2_with_the_diagnostic() {
    let dir = common::project("");
    std::fs::write(
        dir.path().join("policies/parity.yaml"),
        "rules:\n  - name: x\n    decison: allow\n",
    )
    .unwrap();
    let out = server_command()
        .arg("--config")
        .arg(dir.path().join("agent-safe.yaml"))
        .args(["--listen", "127.0.0.1:0", "--log", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("parity.yaml:3:5"), "{stderr}");
}

#[test]
fn health_listener_answers_probes() {
    let dir = common::project("");
    let mut proc = spawn(dir.path());
    let health = proc
        .log
        .lock()
        .unwrap()
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["message"] == "listening")
        .and_then(|v| v["health_addr"].as_str().map(str::to_owned))
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = reqwest::Client::new();
        let r = c
            .get(format!("http://{health}/readyz"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let r = c
            .get(format!("http://{health}/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let r = c
            .get(format!("http://{health}/v1/actions"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 404);
    });
    Command::new("kill")
        .args(["-TERM", &proc.child.id().to_string()])
        .status()
        .unwrap();
    assert!(wait_exit(&mut proc.child, Duration::from_secs(20)).success());
}

/// Idle connections used to exhaust the process's file descriptors, after
/// which `accept` failed with EMFILE and a real check waited for as long as
/// they stayed open. Now the connection idle the longest is closed to make
/// room (and the header timeout closes idle ones anyway).
#[test]
fn idle_connections_beyond_the_file_limit_do_not_lock_out_a_check() {
    let dir = common::project("");
    let proc = spawn_with_nofile(dir.path(), 128);
    let addr: std::net::SocketAddr = proc.addr.parse().unwrap();
    let idle: Vec<std::net::TcpStream> = (0..200)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (status, body) = rt.block_on(async {
        let r = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap()
            .post(format!("http://{addr}/v1/check"))
            .json(&json!({
                "action": "restart-deployment",
                "target": "staging/api",
                "caller": "deploy-agent",
                "params": {"namespace": "staging", "deployment": "api"},
            }))
            .send()
            .await
            .expect("the check was not answered");
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    });
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"], "allow", "{body}");
    drop(idle);
    let log = proc.log.lock().unwrap().join("\n");
    assert!(
        log.contains("server.max_connections lowered to fit the open-file limit")
            && log.contains(r#""max_connections":64"#),
        "{log}"
    );
}

/// A sidecar whose log has checkpoints every `every_seconds: 1` (never by
/// count) and a `checkpoint_command`.
fn checkpointed_project(command: &str) -> tempfile::TempDir {
    let dir = common::project_edited(|t| {
        t.replace(
            "audit:\n  path: audit/audit.jsonl\n",
            &format!(
                "audit:\n  path: audit/audit.jsonl\n  checkpoint:\n    origin: test.example/timer\n    key_file: checkpoint.key\n    every_events: 0\n    every_seconds: 1\n    command: {command:?}\n"
            ),
        )
    });
    agent_safe_core::audit::create_signer_key(
        &dir.path().join("checkpoint.key"),
        "test.example/timer",
    )
    .unwrap();
    dir
}

async fn one_check(base: &str) -> Value {
    let body = json!({"action": "restart-deployment", "target": "staging/api", "caller": "a",
                      "params": {"namespace": "staging", "deployment": "api"}});
    reqwest::Client::new()
        .post(format!("{base}/v1/check"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The log lines (JSON) whose message contains `needle`, within `within`.
fn wait_for_log(proc: &Proc, needle: &str, within: Duration) -> Vec<Value> {
    let deadline = Instant::now() + within;
    loop {
        let found: Vec<Value> = proc
            .log
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["message"].as_str().is_some_and(|m| m.contains(needle)))
            .collect();
        if !found.is_empty() || Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_sidecar_checkpoints_pending_events_on_its_timer_and_logs_command_failures() {
    let out = tempfile::tempdir().unwrap();
    let copied = out.path().join("copied.txt");
    let dir = checkpointed_project(&format!(
        "cat > '{}'; echo no witness today >&2; exit 3",
        copied.display()
    ));
    let proc = spawn(dir.path());
    let base = format!("http://{}", proc.addr);
    let d = one_check(&base).await;
    assert_eq!(d["result"], "allow", "{d}");
    let checkpoints = dir.path().join("audit/audit.jsonl.checkpoints");
    // No further request: only the timer can make the checkpoint.
    let deadline = Instant::now() + Duration::from_secs(10);
    let note = loop {
        let text = std::fs::read_to_string(&checkpoints).unwrap_or_default();
        if text.contains("test.example/timer\n1\n") {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint of the pending event within 10 s:\n{}",
            proc.log.lock().unwrap().join("\n")
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(note.matches("— test.example/timer ").count(), 1, "{note}");
    // The command ran with the checkpoint on stdin, failed, and was logged
    // with its cause.
    let logged = wait_for_log(&proc, "checkpoint.command failed", Duration::from_secs(10));
    let line = logged.first().unwrap_or_else(|| {
        panic!(
            "no log line for the failed command:\n{}",
            proc.log.lock().unwrap().join("\n")
        )
    });
    assert_eq!(line["level"], "WARN", "{line}");
    assert_eq!(line["target"], "agent_safe_server::audit", "{line}");
    let cause = line["cause"].as_str().unwrap();
    assert!(cause.contains("exit status: 3"), "{line}");
    assert!(cause.contains("no witness today"), "{line}");
    assert!(
        std::fs::read_to_string(&copied)
            .unwrap()
            .contains("test.example/timer\n1\n")
    );
    // Counted in the metrics too.
    let health = proc.log.lock().unwrap().clone();
    let health_addr = health
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["message"] == "listening")
        .and_then(|v| v["health_addr"].as_str().map(str::to_owned))
        .unwrap();
    let metrics = reqwest::get(format!("http://{health_addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("agent_safe_audit_checkpoint_command_failures_total 1"),
        "{metrics}"
    );
    // Idle and nothing pending: the timer makes no further checkpoint.
    std::thread::sleep(Duration::from_millis(2500));
    let text = std::fs::read_to_string(&checkpoints).unwrap();
    assert_eq!(text.matches("— test.example/timer ").count(), 1, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_that_cannot_be_made_is_logged_and_decisions_go_on() {
    let dir = checkpointed_project("cat > /dev/null");
    // The checkpoints file cannot be written: a directory is in its place.
    std::fs::create_dir_all(dir.path().join("audit/audit.jsonl.checkpoints")).unwrap();
    let proc = spawn(dir.path());
    let base = format!("http://{}", proc.addr);
    let d = one_check(&base).await;
    assert_eq!(d["result"], "allow", "{d}");
    let logged = wait_for_log(&proc, "audit checkpoint failed", Duration::from_secs(10));
    let line = logged.first().unwrap_or_else(|| {
        panic!(
            "no log line for the failed checkpoint:\n{}",
            proc.log.lock().unwrap().join("\n")
        )
    });
    assert_eq!(line["level"], "WARN", "{line}");
    let cause = line["cause"].as_str().unwrap();
    assert!(cause.contains("audit.jsonl.checkpoints"), "{line}");
    // Decisions go on, and are audited.
    let d = one_check(&base).await;
    assert_eq!(d["result"], "allow", "{d}");
    assert!(d["audit_id"].is_string(), "{d}");
}

/// An ES256 ServiceAccount token shaped like a projected one (every claim a
/// real one carries), signed with a fixed test key.
fn service_account_token(
    key: &p256::ecdsa::SigningKey,
    issuer: &str,
    audience: &str,
    namespace: &str,
    name: &str,
) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use p256::ecdsa::signature::Signer;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = json!({"alg": "ES256", "kid": "cluster-key-1"});
    let claims = json!({
        "aud": [audience], "exp": now + 3600, "iat": now, "nbf": now, "iss": issuer,
        "jti": "0c6b1c2e-1f1e-4b8e-9d6a-3a5f7e9b2c10",
        "kubernetes.io": {
            "namespace": namespace,
            "node": {"name": "node-1", "uid": "6d1c9a2b-0e4f-4a3b-9c8d-7e6f5a4b3c2d"},
            "pod": {"name": format!("{name}-5f7b9-qx2lm"), "uid": "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9"},
            "serviceaccount": {"name": name, "uid": "9a8b7c6d-5e4f-4321-8fed-cba987654321"}
        },
        "sub": format!("system:serviceaccount:{namespace}:{name}")
    });
    let enc = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    let input = format!("{}.{}", enc(&header), enc(&claims));
    let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_accepts_a_projected_service_account_token() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
    let key = p256::ecdsa::SigningKey::from_slice(&[
        0x3b, 0x91, 0x5c, 0x0e, 0x7a, 0x22, 0xd4, 0x68, 0x1f, 0xa9, 0x40, 0x8c, 0x53, 0xe7, 0x12,
        0xbd, 0x06, 0x9e, 0x71, 0x2a, 0xc3, 0x58, 0xf0, 0x14, 0x8d, 0x63, 0xb5, 0x2e, 0x97, 0x4a,
        0x0c, 0xd1,
    ])
    .unwrap();
    let point = key.verifying_key().to_encoded_point(false);
    let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig",
        "kid": "cluster-key-1",
        "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()),
        "y": URL_SAFE_NO_PAD.encode(point.y().unwrap())}]});
    let dir = common::project_edited(|text| {
        text.replace(
            "identity:\n",
            &format!(
                "identity:\n  require_signed: true\n  issuers:\n    - issuer: {ISSUER}\n      \
                 audience: agent-safe\n      jwks_file: cluster-jwks.json\n  kubernetes:\n    \
                 service_accounts:\n      - {{namespace: agents, name: deployer, roles: [deployer]}}\n"
            ),
        )
    });
    std::fs::write(dir.path().join("cluster-jwks.json"), jwks.to_string()).unwrap();
    let proc = spawn(dir.path());
    let client = reqwest::Client::new();
    let check = |token: String| {
        let client = client.clone();
        let url = format!("http://{}/v1/check", proc.addr);
        async move {
            let body = json!({"action": "restart-deployment", "target": "prod/api",
                              "params": {"namespace": "prod", "deployment": "api"}});
            let resp = client
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            resp.json::<Value>().await.unwrap()
        }
    };

    let d = check(service_account_token(
        &key,
        ISSUER,
        "agent-safe",
        "agents",
        "deployer",
    ))
    .await;
    assert_eq!(d["result"], "allow", "{d}");
    assert_eq!(d["caller"], "system:serviceaccount:agents:deployer", "{d}");
    assert_eq!(d["policy_matched"], "deployers-restart-prod", "{d}");

    // Another ServiceAccount of the cluster: no deployer role.
    let d = check(service_account_token(
        &key,
        ISSUER,
        "agent-safe",
        "agents",
        "reader",
    ))
    .await;
    assert_eq!(d["result"], "require_approval", "{d}");

    // The default token (audience: the API server) is not for the sidecar.
    let api = "https://kubernetes.default.svc.cluster.local";
    let d = check(service_account_token(
        &key, ISSUER, api, "agents", "deployer",
    ))
    .await;
    assert_eq!(d["result"], "deny", "{d}");
    assert!(d["reason"].as_str().unwrap().contains("audience"), "{d}");

    // Another cluster's token.
    let other = p256::ecdsa::SigningKey::from_slice(&[0x5a; 32]).unwrap();
    let d = check(service_account_token(
        &other,
        "https://other.example",
        "agent-safe",
        "agents",
        "deployer",
    ))
    .await;
    assert_eq!(d["result"], "deny", "{d}");
    assert!(d["reason"].as_str().unwrap().contains("not trusted"), "{d}");

    let log = std::fs::read_to_string(dir.path().join("audit/audit.jsonl")).unwrap();
    assert_eq!(
        log.matches(r#""caller":"system:serviceaccount:agents:deployer""#)
            .count(),
        1,
        "{log}"
    );
    // The event records the ServiceAccount and the pod the token names.
    assert_eq!(
        log.matches(
            r#""kubernetes":{"namespace":"agents","pod":"deployer-5f7b9-qx2lm","pod_uid":"1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9","service_account":"deployer","service_account_uid":"9a8b7c6d-5e4f-4321-8fed-cba987654321"}"#
        )
        .count(),
        1,
        "{log}"
    );
}

/// The sample value of one series in a Prometheus text exposition.
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_mode_counts_records_and_reloads_the_candidate_on_sighup() {
    let dir = common::project("shadow:\n  policies: policies.next\n");
    // The candidate: staging changes need an approval.
    common::copy_dir(
        &dir.path().join("policies"),
        &dir.path().join("policies.next"),
    );
    let staging_rule = std::fs::read_to_string(dir.path().join("policies/parity.yaml")).unwrap();
    let from = "      risk_classes: [low, medium]\n    decision: allow\n";
    std::fs::write(
        dir.path().join("policies.next/parity.yaml"),
        staging_rule.replace(
            from,
            "      risk_classes: [low, medium]\n    decision: require_approval\n",
        ),
    )
    .unwrap();
    let mut cmd = server_command();
    cmd.arg("--no-watch");
    let proc = spawn_with(dir.path(), cmd);
    let base = format!("http://{}", proc.addr);
    let client = reqwest::Client::new();
    let body = json!({"action": "restart-deployment", "target": "staging/api", "caller": "a",
                      "params": {"namespace": "staging", "deployment": "api"}});
    let check = || async {
        client
            .post(format!("{base}/v1/check"))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    let scrape = || async {
        client
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let series = r#"agent_safe_shadow_disagreements_total{from="allow",to="require_approval"}"#;
    // Every series exists from the start, at zero.
    assert_eq!(metric(&scrape().await, series), Some(0.0));

    // Enforced: allow. The candidate would ask for an approval.
    for _ in 0..3 {
        assert_eq!(check().await["result"], "allow");
    }
    let text = scrape().await;
    assert_eq!(metric(&text, series), Some(3.0), "{text}");
    assert_eq!(
        metric(
            &text,
            r#"agent_safe_shadow_disagreements_total{from="allow",to="deny"}"#
        ),
        Some(0.0)
    );
    assert_eq!(metric(&text, "agent_safe_shadow_load_error"), Some(0.0));

    let ready: Value = client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let candidate = ready["shadow"]["snapshot"].as_str().unwrap().to_owned();
    assert_eq!(ready["shadow"]["kind"], "policies");
    assert!(ready["shadow"]["error"].is_null());
    let events = |dir: &Path| -> Vec<Value> {
        std::fs::read_to_string(dir.join("audit/audit.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let logged = events(dir.path());
    assert_eq!(logged.len(), 3);
    for e in &logged {
        assert_eq!(e["decision"], "allow");
        assert_eq!(e["snapshot"], ready["snapshot"]["digest"]);
        assert_eq!(
            e["shadow"],
            json!({"decision": "require_approval", "error": null,
                   "policy_matched": "staging-low-and-medium",
                   "reason": e["shadow"]["reason"], "snapshot": candidate})
        );
    }

    // The candidate is made equal to the enforced policy: after SIGHUP the
    // checks agree and record nothing.
    std::fs::write(dir.path().join("policies.next/parity.yaml"), &staging_rule).unwrap();
    let hup = Command::new("kill")
        .args(["-HUP", &proc.child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let ready: Value = client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if ready["shadow"]["snapshot"].as_str() != Some(candidate.as_str()) {
            assert_eq!(ready["last_reload"]["trigger"], "signal");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not reload the candidate"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(check().await["result"], "allow");
    assert!(events(dir.path()).last().unwrap()["shadow"].is_null());
    assert_eq!(metric(&scrape().await, series), Some(3.0));

    // A broken candidate: the reload of the enforced policy succeeds, the
    // previous candidate stays, the error is reported, the checks go on.
    std::fs::write(
        dir.path().join("policies.next/parity.yaml"),
        "rules:\n  - {name: broken, decision: nope}\n",
    )
    .unwrap();
    let hup = Command::new("kill")
        .args(["-HUP", &proc.child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = scrape().await;
        if metric(&text, "agent_safe_shadow_load_error") == Some(1.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the broken candidate was not reported"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ready: Value = client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["last_reload"]["ok"], true);
    assert!(
        ready["shadow"]["error"]
            .as_str()
            .unwrap()
            .contains("policies.next/parity.yaml:2:"),
        "{ready}"
    );
    assert_eq!(check().await["result"], "allow");
    let report = agent_safe_core::audit::verify(&[dir.path().join("audit")]);
    assert!(report.is_clean(), "{report:?}");
}
