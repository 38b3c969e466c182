//! `agent-safe inventory sync` against the project's simulated Kubernetes API
//! server (`examples/k8s_agent/simulated_api.py`, a real HTTP server on
//! loopback, run with `python3`).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use crate::Project;

/// The simulated API server, in its own process; killed on drop.
pub struct SimApi {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

impl SimApi {
    /// Starts the demo cluster, with `configmaps` extra ConfigMaps.
    pub fn start(configmaps: usize) -> SimApi {
        SimApi::start_with(configmaps, "simulated-token")
    }

    /// As [`SimApi::start`]; requests must carry `Bearer TOKEN`.
    pub fn start_with(configmaps: usize, token: &str) -> SimApi {
        SimApi::spawn(&["--configmaps", &configmaps.to_string(), "--token", token])
    }

    fn spawn(args: &[&str]) -> SimApi {
        let script = repo_root().join("examples/k8s_agent/simulated_api.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the simulated API server");
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut url = String::new();
        stdout.read_line(&mut url).unwrap();
        assert!(url.contains("://127.0.0.1:"), "{url:?}");
        SimApi {
            child,
            stdin,
            stdout,
            url: url.trim().to_owned(),
        }
    }

    /// Sends one command (`delete-deployment NS NAME`, `create-deployment NS NAME`)
    /// and waits until the server has applied it.
    pub fn send(&mut self, command: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{command}").unwrap();
        stdin.flush().unwrap();
        let mut ok = String::new();
        self.stdout.read_line(&mut ok).unwrap();
        assert_eq!(ok.trim(), "ok");
    }

    /// Stops the server (an API outage).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A kubeconfig whose context `sim` points at this server.
    pub fn kubeconfig(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: sim\nclusters:\n- name: sim\n  cluster: {{server: \"{}\"}}\nusers:\n- name: u\n  user: {{token: simulated-token}}\ncontexts:\n- name: sim\n  context: {{cluster: sim, user: u}}\n",
            self.url
        )
    }
}

impl Drop for SimApi {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The mapping the tests use.
pub const CONFIG: &str = "\
inventory: inventory.yaml
audit: {enabled: false}
inventory_sync:
  cluster: demo
  exclude_namespaces: [kube-system]
  mapping:
    - {types: [k8s-secret], sensitivity: critical}
    - {namespaces: [prod], environment: prod, sensitivity: restricted}
    - {namespaces: [staging], environment: staging, sensitivity: internal}
    - {labels: {node.kubernetes.io/instance-type: 'sim.*'}, environment: shared}
  overrides: overrides.yaml
";

const OVERRIDES: &str = "\
targets:
  - {id: prod/web, type: k8s-deployment, environment: prod, sensitivity: public,
     owner: team-web, cluster: demo, namespace: prod, name: web}
  - {id: legacy/vm-1, type: vm, environment: prod, sensitivity: critical}
";

fn project(api: &SimApi) -> Project {
    let p = Project::empty();
    p.write("agent-safe.yaml", CONFIG);
    p.write("overrides.yaml", OVERRIDES);
    p.write("kubeconfig", &api.kubeconfig());
    p
}

#[test]
fn sync_is_deterministic_idempotent_and_maps_the_cluster() {
    let api = SimApi::start(0);
    let p = project(&api);
    let (code, out, err) = p.run(&["inventory", "sync", "--kubeconfig", "kubeconfig"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("wrote"), "{out}");
    let first = p.read("inventory.yaml");
    // Secrets are names only: their data never reaches the file.
    assert!(first.contains("id: prod/secret/api-credentials"), "{first}");
    assert!(!first.contains("c2VjcmV0"));
    // Excluded namespace, and pods (not synced by default).
    assert!(!first.contains("kube-system"), "{first}");
    assert!(!first.contains("k8s-pod"), "{first}");
    p.settings()
        .bind(|| insta::assert_snapshot!("inventory_sync_demo", first));

    // The file loads as an inventory, and decisions use it.
    let (code, out, err) = p.run(&["validate"]);
    assert!(code == 0 || code == 1, "{out}{err}");
    assert!(!err.contains("inventory.yaml:"), "{err}");

    let mtime = std::fs::metadata(p.dir.join("inventory.yaml"))
        .unwrap()
        .modified()
        .unwrap();
    let (code, out, _) = p.run(&["inventory", "sync", "--kubeconfig", "kubeconfig"]);
    assert_eq!(code, 0);
    assert!(out.contains("is up to date"), "{out}");
    assert_eq!(
        p.read("inventory.yaml"),
        first,
        "a second sync writes the same bytes"
    );
    let mtime2 = std::fs::metadata(p.dir.join("inventory.yaml"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(mtime, mtime2, "an unchanged inventory is not rewritten");

    let (code, out, _) = p.run(&["inventory", "sync", "--kubeconfig", "kubeconfig", "--check"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("up to date:"), "{out}");

    // Stdout gives the same bytes.
    let (code, out, _) = p.run(&[
        "inventory",
        "sync",
        "--kubeconfig",
        "kubeconfig",
        "--out",
        "-",
    ]);
    assert_eq!(code, 0);
    assert_eq!(out, first);
}

#[test]
fn check_reports_a_changed_cluster_and_sync_writes_a_small_diff() {
    let mut api = SimApi::start(0);
    let p = project(&api);
    let (code, _, err) = p.run(&["inventory", "sync", "--kubeconfig", "kubeconfig"]);
    assert_eq!(code, 0, "{err}");
    let before = p.read("inventory.yaml");
    api.send("delete-deployment prod worker");
    api.send("create-deployment staging cache");
    let (code, out, _) = p.run(&["inventory", "sync", "--kubeconfig", "kubeconfig", "--check"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("out of date:"), "{out}");
    assert!(out.contains("1 added, 1 removed, 0 changed"), "{out}");
    assert!(out.contains("  + staging/cache"), "{out}");
    assert!(out.contains("  - prod/worker"), "{out}");
    assert_eq!(p.read("inventory.yaml"), before, "--check writes nothing");
    let (code, out, _) = p.run(&["inventory", "sync", "--kubeconfig", "kubeconfig"]);
    assert_eq!(code, 0, "{out}");
    let after = p.read("inventory.yaml");
    assert!(after.contains("id: staging/cache"));
    assert!(!after.contains("id: prod/worker"));
    // Only the entries that changed differ: the diff is those lines.
    let diff = similar::TextDiff::from_lines(&before, &after);
    let changed = diff
        .iter_all_changes()
        .filter(|c| c.tag() != similar::ChangeTag::Equal)
        .count();
    assert!(changed <= 24, "{changed} changed lines");
}

#[test]
fn overrides_replace_synced_entries_by_id_and_add_others() {
    let api = SimApi::start(0);
    let p = project(&api);
    let (code, _, err) = p.run(&["inventory", "sync", "--kubeconfig", "kubeconfig"]);
    assert_eq!(code, 0, "{err}");
    let inv = agent_safe_core::load::load_inventory(&p.dir.join("inventory.yaml")).unwrap();
    let web = inv.iter().find(|t| t.id == "prod/web").unwrap();
    assert_eq!(web.sensitivity.as_str(), "public");
    assert_eq!(web.owner.as_deref(), Some("team-web"));
    assert!(inv.iter().any(|t| t.id == "legacy/vm-1"));
    let api_t = inv.iter().find(|t| t.id == "prod/api").unwrap();
    assert_eq!(api_t.environment, "prod");
    assert_eq!(api_t.sensitivity.as_str(), "restricted");
    let secret = inv
        .iter()
        .find(|t| t.id == "prod/secret/api-credentials")
        .unwrap();
    assert_eq!(secret.sensitivity.as_str(), "critical");
    let node = inv.iter().find(|t| t.id == "node:prod-node-1").unwrap();
    assert_eq!(node.environment, "shared");
    // No rule gives a node a sensitivity: the fail-closed default.
    assert_eq!(node.sensitivity.as_str(), "critical");
}

#[test]
fn an_unreachable_api_server_leaves_the_file_alone() {
    let mut api = SimApi::start(0);
    let p = project(&api);
    let (code, _, err) = p.run(&["inventory", "sync", "--kubeconfig", "kubeconfig"]);
    assert_eq!(code, 0, "{err}");
    let before = p.read("inventory.yaml");
    api.kill();
    let (code, out, err) = p.run(&["inventory", "sync", "--kubeconfig", "kubeconfig"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("cannot reach the API server"), "{err}");
    assert_eq!(p.read("inventory.yaml"), before);
}

#[test]
fn kubeconfig_errors_say_what_to_fix() {
    let api = SimApi::start(0);
    let p = project(&api);
    let (code, _, err) = p.run(&[
        "inventory",
        "sync",
        "--kubeconfig",
        "kubeconfig",
        "--context",
        "nope",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("no context `nope`"), "{err}");
    assert!(err.contains("its contexts: sim"), "{err}");
    p.write(
        "insecure",
        &api.kubeconfig().replace(
            "cluster: {server:",
            "cluster: {insecure-skip-tls-verify: true, server:",
        ),
    );
    let (code, _, err) = p.run(&["inventory", "sync", "--kubeconfig", "insecure"]);
    assert_eq!(code, 1);
    assert!(err.contains("insecure-skip-tls-verify"), "{err}");
    // A bad mapping is a configuration error with its position.
    p.write(
        "agent-safe.yaml",
        &CONFIG.replace("sensitivity: restricted}", "sensitivity: secret}"),
    );
    let (code, _, err) = p.run(&["inventory", "sync", "--kubeconfig", "kubeconfig"]);
    assert_eq!(code, 2);
    assert!(err.contains("agent-safe.yaml:8:"), "{err}");
}

#[test]
fn sync_of_ten_thousand_objects() {
    let api = SimApi::start(10_000);
    let p = project(&api);
    let started = std::time::Instant::now();
    let out = p
        .cmd(&["inventory", "sync", "--kubeconfig", "kubeconfig"])
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let inv = p.read("inventory.yaml");
    assert!(
        inv.matches("\n- id: ").count() + usize::from(inv.contains("targets:\n- id:")) > 10_000
    );
    eprintln!("sync of 10k ConfigMaps: {elapsed:?}");
}

#[test]
fn tokens_from_an_exec_plugin_and_refused_credentials() {
    let api = SimApi::start_with(0, "from-plugin");
    let p = project(&api);
    // The static token of the kubeconfig is refused, with what to check.
    let (code, _, err) = p.run(&["inventory", "sync", "--kubeconfig", "kubeconfig"]);
    assert_eq!(code, 1);
    assert!(err.contains("401"), "{err}");
    assert!(err.contains("the credentials were refused"), "{err}");
    // An exec credential plugin gives the right one.
    p.write(
        "exec-kubeconfig",
        &api.kubeconfig().replace(
            "user: {token: simulated-token}",
            &format!(
                "user: {{exec: {{apiVersion: client.authentication.k8s.io/v1, command: sh, args: ['-c', 'touch plugin-ran; echo \"$0\"', '{}']}}}}",
                serde_json::json!({"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "status": {"token": "from-plugin"}})
            ),
        ),
    );
    let (code, out, err) = p.run(&["inventory", "sync", "--kubeconfig", "exec-kubeconfig"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(p.dir.join("plugin-ran").exists());
    // A failing plugin says so.
    p.write(
        "bad-kubeconfig",
        &api.kubeconfig().replace(
            "user: {token: simulated-token}",
            "user: {exec: {command: sh, args: ['-c', 'echo no login >&2; exit 3']}}",
        ),
    );
    let (code, _, err) = p.run(&["inventory", "sync", "--kubeconfig", "bad-kubeconfig"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("the kubeconfig exec plugin `sh` failed"),
        "{err}"
    );
    assert!(err.contains("no login"), "{err}");
}

/// `openssl ARGS` in `dir`.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, in `dir`.
fn make_pki(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=sim-ca",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    ]);
    openssl(dir, &ca);
    for (name, ext) in [
        (
            "server",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
        ),
        (
            "client",
            "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n",
        ),
    ] {
        let mut req = vec!["req"];
        req.extend(ec);
        let (key, csr, crt, cnf) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
            format!("{name}.ext"),
        );
        let subj = format!("/CN={name}");
        req.extend(["-keyout", &key, "-out", &csr, "-subj", &subj]);
        openssl(dir, &req);
        std::fs::write(dir.join(&cnf), ext).unwrap();
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &crt,
                "-days",
                "2",
                "-extfile",
                &cnf,
            ],
        );
    }
}

#[test]
fn https_with_the_cluster_ca_and_a_client_certificate() {
    let p = Project::empty();
    let pki = p.root.join("pki");
    std::fs::create_dir(&pki).unwrap();
    make_pki(&pki);
    let path = |f: &str| pki.join(f).display().to_string();
    let api = SimApi::spawn(&[
        "--token",
        "t",
        "--tls-cert",
        &path("server.crt"),
        "--tls-key",
        &path("server.key"),
        "--client-ca",
        &path("ca.crt"),
    ]);
    assert!(api.url.starts_with("https://"), "{}", api.url);
    p.write("agent-safe.yaml", CONFIG);
    p.write("overrides.yaml", OVERRIDES);
    let ca_data = base64_of(&pki.join("ca.crt"));
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: tls\nclusters:\n- name: tls\n  cluster: {{server: \"{}\", certificate-authority-data: {ca_data}}}\nusers:\n- name: u\n  user: {{token: t, client-certificate: {}, client-key: {}}}\ncontexts:\n- name: tls\n  context: {{cluster: tls, user: u}}\n",
        api.url,
        path("client.crt"),
        path("client.key")
    );
    p.write("kubeconfig", &kubeconfig);
    let (code, out, err) = p.run(&["inventory", "sync", "--kubeconfig", "kubeconfig"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(p.read("inventory.yaml").contains("id: prod/api"));
    // Without the client certificate the server refuses the handshake.
    p.write(
        "nocert",
        &kubeconfig.replace(
            &format!(
                ", client-certificate: {}, client-key: {}",
                path("client.crt"),
                path("client.key")
            ),
            "",
        ),
    );
    let (code, _, err) = p.run(&["inventory", "sync", "--kubeconfig", "nocert"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot reach the API server"), "{err}");
    // Without the cluster CA, the server's certificate is not trusted.
    p.write(
        "noca",
        &kubeconfig.replace(&format!(", certificate-authority-data: {ca_data}"), ""),
    );
    let (code, _, err) = p.run(&["inventory", "sync", "--kubeconfig", "noca"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot reach the API server"), "{err}");
}

fn base64_of(file: &Path) -> String {
    let out = Command::new("openssl")
        .args(["base64", "-A", "-in"])
        .arg(file)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn rbac_for_the_sync_is_read_only() {
    let p = Project::empty();
    p.write("agent-safe.yaml", CONFIG);
    p.write("overrides.yaml", OVERRIDES);
    let (code, out, err) = p.run(&[
        "rbac",
        "--inventory-sync",
        "--service-account-namespace",
        "ops",
    ]);
    assert_eq!(code, 0, "{err}");
    for verb in ["create", "update", "patch", "delete", "\"*\""] {
        assert!(!out.contains(verb), "{verb} in {out}");
    }
    p.settings()
        .bind(|| insta::assert_snapshot!("inventory_sync_rbac", out));
    let (code, _, err) = p.run(&["rbac"]);
    assert_eq!(code, 2);
    assert!(err.contains("--caller"), "{err}");
}

/// `agent-safe serve` in `dir` on a free loopback port: the process and its address.
fn serve(dir: &Path) -> (KillOnDrop, String) {
    let mut child = Command::new(crate::bin())
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
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                && v["message"] == "listening"
            {
                let _ = tx.send(v["addr"].as_str().unwrap_or_default().to_owned());
            }
        }
    });
    let guard = KillOnDrop(child);
    let addr = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the sidecar did not start");
    (guard, addr)
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const READ_STAGING: &str = "\
rules:
  - name: read-staging
    priority: 100
    match:
      actions: [describe-deployment]
      targets: {environments: [staging]}
      callers: {agent_ids: ['**']}
    decision: allow
    reason: reads on staging
";

fn decide(http: &reqwest::blocking::Client, addr: &str, ns: &str, name: &str) -> String {
    let body = serde_json::json!({
        "action": "describe-deployment",
        "target": format!("{ns}/{name}"),
        "caller": "reader",
        "params": {"namespace": ns, "deployment": name},
    });
    let v: serde_json::Value = http
        .post(format!("http://{addr}/v1/check"))
        .json(&body)
        .send()
        .unwrap()
        .json()
        .unwrap();
    v["result"].as_str().unwrap().to_owned()
}

/// Polls until the decision is `want`; the time it took.
fn until(
    http: &reqwest::blocking::Client,
    addr: &str,
    target: (&str, &str),
    want: &str,
) -> std::time::Duration {
    let started = std::time::Instant::now();
    while decide(http, addr, target.0, target.1) != want {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{}/{} never became {want}",
            target.0,
            target.1
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    started.elapsed()
}

#[test]
fn live_inventory_follows_the_cluster_and_keeps_the_last_good_one_in_an_outage() {
    let mut api = SimApi::start(0);
    let p = project(&api);
    p.write(
        "agent-safe.yaml",
        &format!("{CONFIG}  live: true\n  kubeconfig: kubeconfig\npolicies: policies\n"),
    );
    p.write("inventory.yaml", "targets: []\n");
    p.write("policies/read.yaml", READ_STAGING);
    let (_server, addr) = serve(&p.dir);
    let http = reqwest::blocking::Client::new();
    // Not ready until the first list; then watching.
    let started = std::time::Instant::now();
    let ready = loop {
        let r = http.get(format!("http://{addr}/readyz")).send().unwrap();
        if r.status() == 200 {
            break r.json::<serde_json::Value>().unwrap();
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(ready["inventory"]["mode"], "live", "{ready}");
    assert_eq!(ready["inventory"]["watching"], true, "{ready}");
    let targets = ready["snapshot"]["targets"].as_u64().unwrap();
    assert!(targets > 10, "{ready}");
    assert_eq!(decide(&http, &addr, "staging", "api"), "allow");
    assert_eq!(decide(&http, &addr, "staging", "cache"), "deny");

    // A created Deployment reaches decisions without a restart ...
    api.send("create-deployment staging cache");
    let created = until(&http, &addr, ("staging", "cache"), "allow");
    // ... and a deleted one leaves them.
    api.send("delete-deployment staging cache");
    let deleted = until(&http, &addr, ("staging", "cache"), "deny");
    eprintln!("live update latency: created {created:?}, deleted {deleted:?}");
    assert!(created < std::time::Duration::from_secs(1), "{created:?}");
    assert!(deleted < std::time::Duration::from_secs(1), "{deleted:?}");

    // Outage: the last good inventory stays, the staleness shows.
    api.kill();
    let started = std::time::Instant::now();
    let status = loop {
        let v: serde_json::Value = http
            .get(format!("http://{addr}/readyz"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        if v["inventory"]["watching"] == false
            && v["inventory"]["stale_seconds"].as_f64().unwrap() > 0.5
        {
            break v;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(15),
            "{v}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(status["status"], "ready", "{status}");
    assert!(status["inventory"]["error"].is_string(), "{status}");
    assert_eq!(
        status["snapshot"]["targets"].as_u64().unwrap(),
        targets,
        "{status}"
    );
    assert_eq!(decide(&http, &addr, "staging", "api"), "allow");
    let metrics = http
        .get(format!("http://{addr}/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("agent_safe_inventory_stale_seconds "),
        "{metrics}"
    );
    assert!(
        metrics.contains("agent_safe_inventory_sync_failures_total "),
        "{metrics}"
    );
}
