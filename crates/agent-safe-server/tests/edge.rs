//! The sidecar's HTTP edge over real loopback sockets: the `Host` check,
//! the header timeout, the connection limit, `Content-Length` above the body
//! limit, and the JSON body of every refusal, including those hyper makes
//! before any handler runs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use agent_safe_server::{ServeError, ServeOptions, Server};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// Long enough for a loaded 2-core machine; a hang fails the test.
const PATIENCE: Duration = Duration::from_secs(20);

struct Running {
    addr: SocketAddr,
    health: Option<SocketAddr>,
    stop: Option<oneshot::Sender<()>>,
    join: tokio::task::JoinHandle<Result<(), ServeError>>,
    dir: tempfile::TempDir,
}

impl Running {
    async fn start(extra_config: &str, opts: ServeOptions) -> Running {
        let dir = common::project(extra_config);
        let server = Server::bind(ServeOptions {
            config: Some(dir.path().join("agent-safe.yaml")),
            listen: Some("127.0.0.1:0".parse().unwrap()),
            watch: false,
            log: None,
            ..opts
        })
        .await
        .unwrap();
        let addr = server.local_addr().unwrap();
        let health = server.health_addr();
        let (tx, rx) = oneshot::channel::<()>();
        let join = tokio::spawn(server.run(async {
            let _ = rx.await;
        }));
        Running {
            addr,
            health,
            stop: Some(tx),
            join,
            dir,
        }
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(PATIENCE, self.join)
            .await
            .expect("the server did not stop")
            .unwrap()
            .unwrap();
    }

    fn audit_lines(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("audit/audit.jsonl"))
            .map(|t| t.lines().count())
            .unwrap_or(0)
    }

    async fn metrics(&self) -> String {
        let r = raw(
            self.addr,
            format!("GET /metrics HTTP/1.1\r\nHost: {}\r\n\r\n", self.addr).as_bytes(),
        )
        .await;
        assert_eq!(r.status, 200);
        String::from_utf8(r.body).unwrap()
    }
}

/// One answer read off a raw socket.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}):\n{}\n\n{}",
                self.head,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Asserts the sidecar's error format: JSON content type and `{"error": {code, message}}`.
    fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.head);
        assert!(
            self.head
                .to_ascii_lowercase()
                .contains("\r\ncontent-type: application/json"),
            "{}",
            self.head
        );
        let v = self.json();
        assert_eq!(v["error"]["code"], code, "{v}");
        assert!(!v["error"]["message"].as_str().unwrap().is_empty(), "{v}");
    }

    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }
}

/// Sends `request` on a fresh connection and reads one answer (head and
/// `Content-Length` body), within [`PATIENCE`].
async fn raw(addr: SocketAddr, request: &[u8]) -> Answer {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    tokio::time::timeout(PATIENCE, read_answer(&mut s))
        .await
        .expect("no answer in time")
}

async fn read_answer(s: &mut TcpStream) -> Answer {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = s.read(&mut chunk).await.unwrap();
        assert!(
            n > 0,
            "closed without an answer: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
    let status: u16 = head[9..12].parse().unwrap();
    let mut answer = Answer {
        status,
        head,
        body: buf[head_end + 4..].to_vec(),
    };
    let len: usize = answer
        .header("content-length")
        .map(|v| v.parse().unwrap())
        .unwrap_or(0);
    while answer.body.len() < len {
        let n = s.read(&mut chunk).await.unwrap();
        assert!(n > 0, "closed in the middle of the body");
        answer.body.extend_from_slice(&chunk[..n]);
    }
    answer
}

/// Waits until the server closes `s` (reads return 0); how long it took.
async fn closed_within(s: &mut TcpStream, limit: Duration) -> Duration {
    let started = Instant::now();
    let mut sink = [0u8; 1024];
    tokio::time::timeout(limit, async {
        loop {
            match s.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await
    .expect("the server kept the connection open");
    started.elapsed()
}

fn check_body() -> String {
    json!({
        "action": "restart-deployment",
        "target": "staging/api",
        "caller": "deploy-agent",
        "params": {"namespace": "staging", "deployment": "api"},
    })
    .to_string()
}

fn check_request(host: &str) -> Vec<u8> {
    let body = check_body();
    format!(
        "POST /v1/check HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn metric(text: &str, prefix: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_header_must_name_the_sidecar() {
    let s = Running::start(
        "",
        ServeOptions {
            allowed_hosts: vec!["agent-safe.agents.svc".to_owned()],
            ..ServeOptions::default()
        },
    )
    .await;
    let port = s.addr.port();

    // A page that rebound `evil.example` to 127.0.0.1 still sends its own name.
    for host in [
        format!("evil.example:{port}"),
        "localhost.evil.example".to_owned(),
        format!("127.0.0.1.nip.io:{port}"),
    ] {
        let r = raw(s.addr, &check_request(&host)).await;
        r.assert_error(403, "host_not_allowed");
        assert!(
            r.json()["error"]["message"]
                .as_str()
                .unwrap()
                .contains("allowed_hosts")
        );
    }
    // The absolute form's authority is checked too.
    let body = check_body();
    let absolute = format!(
        "POST http://evil.example/v1/check HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    raw(s.addr, absolute.as_bytes())
        .await
        .assert_error(403, "host_not_allowed");
    // No Host on HTTP/1.1, or two of them: 400.
    raw(s.addr, b"GET /healthz HTTP/1.1\r\n\r\n")
        .await
        .assert_error(400, "bad_request");
    raw(
        s.addr,
        b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n",
    )
    .await
    .assert_error(400, "bad_request");
    // Refused requests are not checks: nothing reached the audit log.
    assert_eq!(s.audit_lines(), 0);

    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "LOCALHOST".to_owned(),
        "agent-safe.agents.svc".to_owned(),
        "agent-safe.agents.svc:8400".to_owned(),
    ] {
        let r = raw(s.addr, &check_request(&host)).await;
        assert_eq!(r.status, 200, "{host}: {}", r.head);
        assert_eq!(r.json()["result"], "allow", "{host}");
    }
    assert_eq!(s.audit_lines(), 5);

    let m = s.metrics().await;
    assert_eq!(
        metric(
            &m,
            "agent_safe_http_requests_total{route=\"/v1/check\",method=\"POST\",status=\"403\"}"
        ),
        4.0,
        "{m}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_listener_answers_the_kubelet_by_pod_ip() {
    // As in deploy/kubernetes: probes reach --health-listen 0.0.0.0:PORT with
    // `Host: <pod IP>:PORT`; the pod IP is not known in advance.
    let s = Running::start(
        "",
        ServeOptions {
            health_listen: Some("0.0.0.0:0".parse().unwrap()),
            ..ServeOptions::default()
        },
    )
    .await;
    let health = SocketAddr::from(([127, 0, 0, 1], s.health.unwrap().port()));
    for path in ["/healthz", "/readyz", "/metrics"] {
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: 10.244.1.17:{}\r\nUser-Agent: kube-probe/1.33\r\n\r\n",
            health.port()
        );
        let r = raw(health, req.as_bytes()).await;
        assert_eq!(r.status, 200, "{path}: {}", r.head);
    }
    raw(
        health,
        b"GET /readyz HTTP/1.1\r\nHost: metrics.evil.example\r\n\r\n",
    )
    .await
    .assert_error(403, "host_not_allowed");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_has_the_json_error_body() {
    let s = Running::start("", ServeOptions::default()).await;
    let a = s.addr;
    let host = format!("127.0.0.1:{}", a.port());

    // Refused by hyper's parser, before any handler.
    let r = raw(
        a,
        format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\nno colon here\r\n\r\n").as_bytes(),
    )
    .await;
    r.assert_error(400, "bad_request");
    assert_eq!(r.header("connection").as_deref(), Some("close"));
    raw(a, b"NOT HTTP AT ALL\r\n\r\n")
        .await
        .assert_error(400, "bad_request");
    let big = format!(
        "GET /healthz HTTP/1.1\r\nHost: {host}\r\nX-Big: {}\r\n\r\n",
        "a".repeat(40 * 1024)
    );
    raw(a, big.as_bytes())
        .await
        .assert_error(431, "headers_too_large");
    let many: String = (0..120).map(|i| format!("X-H{i}: v\r\n")).collect();
    raw(
        a,
        format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n{many}\r\n").as_bytes(),
    )
    .await
    .assert_error(431, "headers_too_large");

    // Refused by the router and extractors.
    raw(
        a,
        format!("GET /nope HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes(),
    )
    .await
    .assert_error(404, "not_found");
    let r = raw(
        a,
        format!("GET /v1/check HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes(),
    )
    .await;
    r.assert_error(405, "method_not_allowed");
    assert_eq!(r.header("allow").as_deref(), Some("POST"));
    raw(
        a,
        format!("GET /v1/actions/%FF%FE HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes(),
    )
    .await
    .assert_error(400, "bad_request");
    raw(
        a,
        format!("POST /v1/check HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: 3\r\n\r\n{{,}}").as_bytes(),
    )
    .await
    .assert_error(400, "malformed_json");
    raw(
        a,
        format!("POST /v1/check HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{{}}").as_bytes(),
    )
    .await
    .assert_error(415, "unsupported_media_type");

    // hyper's own refusals are counted like the others, under route `other`.
    let m = s.metrics().await;
    assert_eq!(
        metric(
            &m,
            "agent_safe_http_requests_total{route=\"other\",method=\"OTHER\",status=\"400\"}"
        ),
        2.0,
        "{m}"
    );
    assert_eq!(
        metric(
            &m,
            "agent_safe_http_requests_total{route=\"other\",method=\"OTHER\",status=\"431\"}"
        ),
        2.0,
        "{m}"
    );
    assert_eq!(s.audit_lines(), 0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_content_length_above_the_limit_is_413_at_once() {
    // A request timeout far above PATIENCE: a 413 cannot be the timeout's doing.
    let s = Running::start(
        "server:\n  max_body_bytes: 1024\n  request_timeout_ms: 600000\n",
        ServeOptions::default(),
    )
    .await;
    let head = format!(
        "POST /v1/check HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n",
        s.addr.port()
    );
    // The head only: the body is never sent.
    let r = raw(s.addr, head.as_bytes()).await;
    r.assert_error(413, "payload_too_large");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1024 bytes"),
        "{}",
        r.json()
    );
    // Within the limit, the same request is answered.
    let r = raw(s.addr, &check_request("localhost")).await;
    assert_eq!(r.status, 200, "{}", r.head);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_or_idle_connection_is_closed_after_the_header_timeout() {
    let s = Running::start(
        "server:\n  header_timeout_ms: 300\n",
        ServeOptions::default(),
    )
    .await;

    // Slowloris: half a request head, then nothing.
    let mut slow = TcpStream::connect(s.addr).await.unwrap();
    slow.write_all(b"POST /v1/check HTTP/1.1\r\nHost: localhost\r\nContent-Ty")
        .await
        .unwrap();
    let took = closed_within(&mut slow, PATIENCE).await;
    assert!(took >= Duration::from_millis(250), "closed after {took:?}");

    // Nothing at all.
    let mut silent = TcpStream::connect(s.addr).await.unwrap();
    closed_within(&mut silent, PATIENCE).await;

    // Keep-alive: one answer, then idle.
    let mut idle = TcpStream::connect(s.addr).await.unwrap();
    idle.write_all(&check_request("localhost")).await.unwrap();
    let r = tokio::time::timeout(PATIENCE, read_answer(&mut idle))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    closed_within(&mut idle, PATIENCE).await;

    let m = s.metrics().await;
    assert!(
        metric(
            &m,
            "agent_safe_http_connections_closed_total{reason=\"header_timeout\"}"
        ) >= 3.0,
        "{m}"
    );
    s.stop().await;
}

/// Opens `n` connections: a third silent, a third with half a request head,
/// a third after one answered request (idle keep-alive).
async fn idle_connections(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut open = Vec::with_capacity(n);
    for i in 0..n {
        let mut c = TcpStream::connect(addr).await.unwrap();
        match i % 3 {
            0 => {}
            1 => c
                .write_all(b"POST /v1/check HTTP/1.1\r\nHost: localhost\r\n")
                .await
                .unwrap(),
            _ => {
                c.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
                    .await
                    .unwrap();
                let r = tokio::time::timeout(PATIENCE, read_answer(&mut c))
                    .await
                    .unwrap();
                assert_eq!(r.status, 200);
            }
        }
        open.push(c);
    }
    open
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_is_answered_with_240_idle_connections_open() {
    // Below the limit (default 512) and above it (100): idle connections
    // never keep a real client out; at the limit the one idle longest goes.
    for (extra, limited) in [("", false), ("server:\n  max_connections: 100\n", true)] {
        let s = Running::start(extra, ServeOptions::default()).await;
        let idle = idle_connections(s.addr, 240).await;
        let r = raw(s.addr, &check_request("localhost")).await;
        assert_eq!(r.status, 200, "{extra}: {}", r.head);
        assert_eq!(r.json()["result"], "allow");
        let m = s.metrics().await;
        let shed = metric(
            &m,
            "agent_safe_http_connections_closed_total{reason=\"shed\"}",
        );
        let open = metric(&m, "agent_safe_http_connections_open");
        if limited {
            assert!(shed >= 140.0, "{m}");
            assert!(open <= 100.0, "{m}");
        } else {
            assert_eq!(shed, 0.0, "{m}");
            assert!(open >= 241.0, "{m}");
        }
        drop(idle);
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_limit_covers_both_listeners() {
    // Idle connections on the probe listener count against the same limit,
    // and are closed to admit a check on the main one.
    let s = Running::start(
        "server:\n  max_connections: 20\n",
        ServeOptions {
            health_listen: Some("127.0.0.1:0".parse().unwrap()),
            ..ServeOptions::default()
        },
    )
    .await;
    let idle = idle_connections(s.health.unwrap(), 40).await;
    let r = raw(s.addr, &check_request("localhost")).await;
    assert_eq!(r.status, 200, "{}", r.head);
    let m = s.metrics().await;
    assert!(
        metric(&m, "agent_safe_http_connections_open") <= 20.0,
        "{m}"
    );
    assert!(
        metric(
            &m,
            "agent_safe_http_connections_closed_total{reason=\"shed\"}"
        ) >= 20.0,
        "{m}"
    );
    drop(idle);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_does_not_wait_for_half_sent_requests() {
    // A half-sent head must not hold the drain until the header timeout.
    let s = Running::start(
        "server:\n  header_timeout_ms: 600000\n",
        ServeOptions::default(),
    )
    .await;
    let _idle = idle_connections(s.addr, 30).await;
    let started = Instant::now();
    s.stop().await;
    assert!(started.elapsed() < PATIENCE);
}

#[test]
fn an_invalid_allowed_host_is_a_usage_error() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = common::project("");
    let e = rt
        .block_on(Server::bind(ServeOptions {
            config: Some(dir.path().join("agent-safe.yaml")),
            listen: Some("127.0.0.1:0".parse().unwrap()),
            allowed_hosts: vec!["http://agent-safe".to_owned()],
            watch: false,
            log: None,
            ..ServeOptions::default()
        }))
        .unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("without a scheme"), "{e}");
}
