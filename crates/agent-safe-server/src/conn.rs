//! Accepting and serving connections (HTTP/1.1 over hyper), with the limits
//! `axum::serve` cannot set:
//!
//! * **a header timeout** (`server.header_timeout_ms`): hyper's
//!   `header_read_timeout`. Its timer starts when the connection opens and
//!   again when a response has been written, so it closes both a client that
//!   sends half a request head (slowloris) and a keep-alive connection left
//!   idle, without an answer (hyper sends none);
//! * **a connection limit** (`server.max_connections`): at the limit, the
//!   connection idle the longest (no request in flight) is closed to admit the
//!   new one, and only when every connection is busy does the accept loop
//!   wait. Idle connections therefore cannot lock a real client out — which
//!   is what happened when they used up the process's file descriptors: the
//!   accept loop failed with `EMFILE` until one went away. One [`Pool`] is
//!   shared by both listeners, and `serve` lowers its size to fit the
//!   open-file limit;
//! * **JSON bodies for hyper's own refusals**: hyper answers a request it
//!   cannot parse (400), a head that is too large (431) or a URI that is too
//!   long (414) itself, before any service runs, with an empty body and no
//!   hook to change it. [`ErrorBodies`] recognises those answers on their way
//!   to the socket and gives them the sidecar's error body.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore, watch};

use crate::error::AppError;
use crate::hosts::AllowedHosts;
use crate::metrics::Metrics;

/// The largest request head (request line and headers) accepted; beyond it,
/// 431. A bearer token is about 1 KiB.
pub(crate) const MAX_HEAD_BYTES: usize = 32 * 1024;

/// The connections of every listener of the process: one limit, and one
/// choice of which idle connection to close, so that connections on the
/// probe listener cannot starve the check listener or the other way round.
#[derive(Debug, Clone)]
pub(crate) struct Pool {
    permits: Arc<Semaphore>,
    registry: Arc<Registry>,
}

impl Pool {
    /// A pool of at most `max` connections (at least 1).
    pub(crate) fn new(max: usize) -> Pool {
        let max = max.clamp(1, Semaphore::MAX_PERMITS);
        Pool {
            permits: Arc::new(Semaphore::new(max)),
            registry: Arc::new(Registry::new()),
        }
    }
}

/// The connection tasks of one listener, for its drain.
#[derive(Debug, Default)]
struct Tasks {
    running: AtomicUsize,
    done: Notify,
}

impl Tasks {
    async fn all_done(&self) {
        loop {
            let done = self.done.notified();
            tokio::pin!(done);
            done.as_mut().enable();
            if self.running.load(Ordering::Acquire) == 0 {
                return;
            }
            done.await;
        }
    }
}

/// How one listener serves its connections.
#[derive(Debug, Clone)]
pub(crate) struct Edge {
    /// `None` disables the header timeout.
    pub header_timeout: Option<Duration>,
    /// Shared by the listeners.
    pub pool: Pool,
    /// The names requests may use (checked by the router's middleware).
    pub hosts: Arc<AllowedHosts>,
    /// Where refusals and closed connections are counted.
    pub metrics: Arc<Metrics>,
}

/// Serves `app` on `listener` until `stop` turns true, then stops accepting,
/// lets the requests in flight finish, closes every connection and returns.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    edge: Edge,
    mut stop: watch::Receiver<bool>,
) {
    let permits = Arc::clone(&edge.pool.permits);
    let registry = Arc::clone(&edge.pool.registry);
    let tasks = Arc::new(Tasks::default());
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(edge.header_timeout)
        .max_header_size(MAX_HEAD_BYTES)
        // One buffer per write, so that a response head reaches ErrorBodies whole.
        .writev(false);
    let builder = Arc::new(builder);
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            () = crate::serve::wait_for_ref(&mut stop) => break,
        };
        let (stream, _peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                accept_failed(&e, &registry).await;
                continue;
            }
        };
        let permit = match Arc::clone(&permits).try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                // At the limit: make room by closing the connection idle the
                // longest; if every one is busy, wait for one to finish.
                let waited = async {
                    loop {
                        registry.shed_oldest_idle();
                        tokio::select! {
                            p = Arc::clone(&permits).acquire_owned() => return p.ok(),
                            () = tokio::time::sleep(Duration::from_millis(50)) => {}
                        }
                    }
                };
                tokio::select! {
                    p = waited => match p {
                        Some(p) => p,
                        None => break,
                    },
                    () = crate::serve::wait_for_ref(&mut stop) => break,
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let (id, slot) = registry.insert();
        let edge = edge.clone();
        let app = app.clone();
        let builder = Arc::clone(&builder);
        let registry = Arc::clone(&registry);
        let stop = stop.clone();
        let tasks = Arc::clone(&tasks);
        tasks.running.fetch_add(1, Ordering::AcqRel);
        tokio::spawn(async move {
            edge.metrics.connection_open(1);
            serve_connection(stream, app, &edge, &builder, &slot, &registry, stop).await;
            registry.remove(id);
            edge.metrics.connection_open(-1);
            drop(permit);
            if tasks.running.fetch_sub(1, Ordering::AcqRel) == 1 {
                tasks.done.notify_waiters();
            }
        });
    }
    drop(listener);
    tasks.all_done().await;
}

async fn serve_connection(
    stream: TcpStream,
    app: Router,
    edge: &Edge,
    builder: &hyper::server::conn::http1::Builder,
    slot: &Arc<Slot>,
    registry: &Arc<Registry>,
    mut stop: watch::Receiver<bool>,
) {
    let io = TokioIo::new(ErrorBodies::new(stream, Arc::clone(&edge.metrics)));
    let hosts = Arc::clone(&edge.hosts);
    let in_service = Arc::clone(slot);
    let clock = Arc::clone(registry);
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let busy = Busy::enter(&in_service, &clock);
        let mut req = req.map(Body::new);
        req.extensions_mut().insert(Arc::clone(&hosts));
        // The router is always ready (its `poll_ready` is `Ready(Ok)`).
        let future = tower::Service::call(&mut app.clone(), req);
        async move {
            // Busy until hyper has written the body and dropped it.
            let response = future.await;
            response.map(|r| r.map(|body| Body::new(BusyBody { body, _busy: busy })))
        }
    });
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    // Asked to close (shed at the limit, or the server stopping): a
    // connection with no request in flight is dropped at once, even halfway
    // through a request head (hyper's graceful shutdown would wait for that
    // head to complete or time out); a busy one finishes its request first.
    let mut closing = false;
    let result = loop {
        tokio::select! {
            r = conn.as_mut() => break r,
            () = slot.shed.notified(), if !closing => {
                if slot.in_flight.load(Ordering::Acquire) == 0 {
                    edge.metrics.connection_closed("shed");
                    tracing::debug!("closed an idle connection to admit a new one (server.max_connections)");
                    return;
                }
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            () = crate::serve::wait_for_ref(&mut stop), if !closing => {
                if slot.in_flight.load(Ordering::Acquire) == 0 {
                    return;
                }
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    };
    if let Err(e) = result {
        if e.is_timeout() {
            edge.metrics.connection_closed("header_timeout");
            tracing::debug!("closed a connection that sent no complete request head in time");
        } else if e.is_parse() || e.is_parse_too_large() || e.is_parse_status() {
            tracing::info!(
                target: "agent_safe_server::access",
                error = %e,
                "refused a request that is not valid HTTP/1.1"
            );
        } else {
            tracing::debug!(error = %e, "connection ended with an error");
        }
    }
}

/// An error from `accept`. A connection the peer gave up on is nothing. Out
/// of file descriptors (`EMFILE`), the connection idle the longest is closed
/// to free one; otherwise the loop pauses briefly instead of spinning.
async fn accept_failed(e: &io::Error, registry: &Registry) {
    match e.kind() {
        io::ErrorKind::ConnectionAborted
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionRefused
        | io::ErrorKind::Interrupted => {}
        _ => {
            tracing::error!(error = %e, "cannot accept a connection");
            let closed = registry.closed.notified();
            tokio::pin!(closed);
            closed.as_mut().enable();
            if registry.shed_oldest_idle() {
                let _ = tokio::time::timeout(Duration::from_millis(100), closed).await;
            } else {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Every open connection of one listener, for choosing which idle one to close.
#[derive(Debug)]
struct Registry {
    /// A logical clock: every connection start, request start and request
    /// end takes the next tick, so "idle the longest" has no ties.
    clock: AtomicU64,
    next: AtomicU64,
    slots: Mutex<HashMap<u64, Arc<Slot>>>,
    /// Signalled whenever a connection ends.
    closed: Notify,
}

/// One connection's activity.
#[derive(Debug, Default)]
struct Slot {
    /// Requests inside the service now.
    in_flight: AtomicUsize,
    /// The registry's clock at the connection's start or its last request
    /// start or end.
    last_active: AtomicU64,
    /// Asked to close already.
    shedding: AtomicBool,
    shed: Notify,
}

impl Registry {
    fn new() -> Registry {
        Registry {
            clock: AtomicU64::new(0),
            next: AtomicU64::new(0),
            slots: Mutex::new(HashMap::new()),
            closed: Notify::new(),
        }
    }

    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Slot>>> {
        // Plain bookkeeping: a panic elsewhere cannot leave it torn.
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn insert(&self) -> (u64, Arc<Slot>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot::default());
        slot.last_active.store(self.tick(), Ordering::Relaxed);
        self.lock().insert(id, Arc::clone(&slot));
        (id, slot)
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
        self.closed.notify_waiters();
    }

    /// Asks the connection idle the longest to close; false if none is idle.
    fn shed_oldest_idle(&self) -> bool {
        let slots = self.lock();
        let oldest = slots
            .values()
            .filter(|s| {
                s.in_flight.load(Ordering::Acquire) == 0 && !s.shedding.load(Ordering::Relaxed)
            })
            .min_by_key(|s| s.last_active.load(Ordering::Relaxed));
        match oldest {
            Some(slot) => {
                slot.shedding.store(true, Ordering::Relaxed);
                slot.shed.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Marks a connection busy while one of its requests is in the service.
struct Busy {
    slot: Arc<Slot>,
    registry: Arc<Registry>,
}

impl Busy {
    fn enter(slot: &Arc<Slot>, registry: &Arc<Registry>) -> Busy {
        slot.in_flight.fetch_add(1, Ordering::AcqRel);
        slot.last_active.store(registry.tick(), Ordering::Relaxed);
        Busy {
            slot: Arc::clone(slot),
            registry: Arc::clone(registry),
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.slot
            .last_active
            .store(self.registry.tick(), Ordering::Relaxed);
        self.slot.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its connection marked busy until hyper has
/// written it and dropped it.
struct BusyBody {
    body: Body,
    _busy: Busy,
}

impl http_body::Body for BusyBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The socket, as hyper sees it, with hyper's own error answers given the
/// sidecar's JSON error body.
///
/// hyper writes an automatic answer (400, 414, 431) as a bare head —
/// `content-length: 0`, no `content-type` — in one write (`writev(false)`),
/// and closes the connection. Every answer the router produces for a 4xx or
/// 5xx carries a `content-type` (the `json_errors` middleware sees to it), so
/// such a head can only be hyper's. It is replaced by the same head with the
/// JSON body, which is written before anything else.
struct ErrorBodies {
    inner: TcpStream,
    pending: Vec<u8>,
    written: usize,
    metrics: Arc<Metrics>,
}

impl ErrorBodies {
    fn new(inner: TcpStream, metrics: Arc<Metrics>) -> ErrorBodies {
        ErrorBodies {
            inner,
            pending: Vec::new(),
            written: 0,
            metrics,
        }
    }

    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some(rest) = self.pending.get(self.written..).filter(|r| !r.is_empty()) {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, rest))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.pending.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for ErrorBodies {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ErrorBodies {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        if let Some((status, replacement)) = with_json_body(buf) {
            this.metrics.http_request("other", "OTHER", status.as_u16());
            this.pending = replacement;
            this.written = 0;
            // The bytes are ours now; they go out on this or the next poll.
            if let Poll::Ready(Err(e)) = this.poll_pending(cx) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

/// If `buf` is a bare error head (status ≥ 400, `content-length: 0`, no
/// `content-type`), the same head with the JSON error body for its status.
fn with_json_body(buf: &[u8]) -> Option<(StatusCode, Vec<u8>)> {
    let rest = buf.strip_prefix(b"HTTP/1.")?;
    let status = StatusCode::from_bytes(rest.get(2..5)?).ok()?;
    if !(status.is_client_error() || status.is_server_error()) {
        return None;
    }
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(buf.get(..head_end)?).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let headers: Vec<&str> = lines.collect();
    let is = |line: &str, name: &str| {
        line.get(..name.len())
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
    };
    if headers.iter().any(|l| is(l, "content-type:")) {
        return None;
    }
    if !headers
        .iter()
        .any(|l| l.eq_ignore_ascii_case("content-length: 0"))
    {
        return None;
    }
    let body = serde_json::to_vec(&AppError::from_status(status, None)?.body()).ok()?;
    let mut out = Vec::with_capacity(head.len() + body.len() + 64);
    out.extend_from_slice(status_line.as_bytes());
    out.extend_from_slice(b"\r\ncontent-type: application/json\r\n");
    out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    for line in headers.iter().filter(|l| !is(l, "content-length:")) {
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&body);
    out.extend_from_slice(buf.get(head_end + 4..).unwrap_or_default());
    Some((status, out))
}

#[cfg(test)]
#[expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly: a panic is the failure report"
)]
mod tests {
    use super::*;

    #[test]
    fn hyper_error_heads_get_a_json_body() {
        let head = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\ndate: Sun, 29 Nov 2026 13:36:25 GMT\r\n\r\n";
        let (status, out) = with_json_body(head).unwrap();
        assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        let text = String::from_utf8(out).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(head.contains("\r\ncontent-type: application/json\r\n"));
        assert!(head.contains(&format!("\r\ncontent-length: {}\r\n", body.len())));
        assert!(head.contains("\r\nconnection: close\r\n"));
        assert!(!head.contains("content-length: 0"));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error"]["code"], "headers_too_large");
    }

    #[test]
    fn other_writes_pass_through() {
        for buf in [
            &b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\nnot our body",
            b"{\"result\":\"allow\"}",
            b"HTTP/1.1 400 Bad Req",
        ] {
            assert!(with_json_body(buf).is_none(), "{}", String::from_utf8_lossy(buf));
        }
    }

    #[test]
    fn shedding_picks_the_idle_connection_idle_longest() {
        let r = Arc::new(Registry::new());
        let (_, a) = r.insert();
        let (_, b) = r.insert();
        let (_, c) = r.insert();
        a.last_active.store(10, Ordering::Relaxed);
        b.last_active.store(5, Ordering::Relaxed);
        c.last_active.store(1, Ordering::Relaxed);
        let busy = Busy::enter(&c, &r);
        c.last_active.store(1, Ordering::Relaxed);
        assert!(r.shed_oldest_idle());
        assert!(b.shedding.load(Ordering::Relaxed));
        assert!(r.shed_oldest_idle());
        assert!(a.shedding.load(Ordering::Relaxed));
        assert!(!r.shed_oldest_idle(), "c is busy");
        drop(busy);
        assert!(r.shed_oldest_idle());
    }
}
