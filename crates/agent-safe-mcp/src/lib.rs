//! The agent-safe MCP gateway (`agent-safe mcp`).
//!
//! An MCP server the agent connects to instead of its upstream MCP server.
//! Every `tools/call` is mapped to a check ([`agent_safe_core::mapping`]),
//! decided and audited by [`AgentSafe`], and forwarded to the upstream only
//! when the policy allows it (or a human approves through MCP elicitation).
//! agent-safe executes nothing itself: the upstream does the work, with its
//! own credentials.
//!
//! Transports: to the agent, stdio ([`serve_stdio`]) or streamable HTTP on
//! loopback ([`serve_http`]); to the upstream, a stdio child process or a
//! streamable HTTP URL ([`Upstream::connect`]).
//!
//! `tools/list` shows the tools the mapping names, or with `list: allowed`
//! only those the caller could ever be allowed
//! ([`AgentSafe::could_permit`]); either way every call is checked.
//!
//! Only tools are offered: the upstream's resources and prompts are hidden
//! (a resource read can return anything the upstream's credentials reach,
//! and no action describes it), so the gateway declares neither capability.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use agent_safe_core::mapping::{McpSettings, ToolListing, UpstreamSettings};
use agent_safe_core::{AgentSafe, Approval, CheckRequest, Decision, DecisionResult};
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResponse, CallToolResult, ClientRequest,
    ContentBlock, Implementation, ListToolsResult, PaginatedRequestParams,
    ProgressNotificationParam, ProgressToken, ProtocolVersion, ServerCapabilities, ServerConfig,
    ServerResult,
};
use rmcp::service::PeerRequestOptions;
use rmcp::service::{ElicitationError, RequestContext, RunningService};
use rmcp::{ErrorData as McpError, Peer, RoleClient, RoleServer, ServerHandler, ServiceExt};
use serde::Deserialize;
use serde_json::{Value as Json, json};

/// The environment variable holding the log filter (as for the sidecar).
pub const LOG_ENV: &str = "AGENT_SAFE_LOG";

/// Logs to standard error, one JSON object per line: refusals, upstream
/// failures and timeouts. The filter comes from `AGENT_SAFE_LOG` (default
/// `info`, with the MCP library's own chatter at `warn`). Standard output is
/// the MCP channel over stdio, so nothing else ever writes there.
///
/// Lines go to a duplicate of file descriptor 2: a host may hold the
/// process-wide stderr lock for its whole run (the CLI does).
pub fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env(LOG_ENV).unwrap_or_else(|_| EnvFilter::new("info,rmcp=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true)
        .json()
        .flatten_event(true)
        .with_current_span(false);
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        if let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() {
            let file = std::sync::Mutex::new(std::fs::File::from(fd));
            let _ = builder.with_writer(file).try_init();
            return;
        }
    }
    let _ = builder.with_writer(std::io::stderr).try_init();
}

/// What went wrong starting the gateway (calls never fail this way: a
/// failed call is an error result).
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The upstream could not be started or reached.
    #[error("cannot connect to the upstream MCP server {what}: {cause}")]
    Upstream {
        /// The command or URL.
        what: String,
        /// Why.
        cause: String,
    },
    /// The agent-facing transport failed.
    #[error("the MCP connection to the agent failed: {0}")]
    Serve(String),
    /// The HTTP listener could not be bound.
    #[error("cannot listen on {addr}: {cause}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        cause: String,
    },
}

/// The connection to the upstream MCP server.
pub struct Upstream {
    service: RunningService<RoleClient, ProgressRelay>,
    relay: ProgressRelay,
    timeout: Duration,
}

/// Relays the upstream's progress notifications to the agent whose call
/// they are about: the upstream request's own progress token (rmcp gives
/// every request one) maps back to the agent's peer and token, so two
/// agents' tokens never mix.
#[derive(Clone, Default)]
pub struct ProgressRelay {
    waiting: Arc<std::sync::Mutex<HashMap<ProgressToken, AgentProgress>>>,
}

/// The agent a relayed progress token belongs to, the agent's token, and
/// how many of its notifications are being relayed right now.
type AgentProgress = (Peer<RoleServer>, ProgressToken, Arc<AtomicUsize>);

/// How long a call that asked for progress waits, after the upstream's
/// answer, for notifications the upstream sent before that answer: rmcp
/// hands each notification to a task of its own, so the answer can overtake
/// them. Waiting only happens when the agent asked for progress.
const PROGRESS_SETTLE: Duration = Duration::from_millis(10);
/// The longest a call waits for relays already under way.
const PROGRESS_SETTLE_MAX: Duration = Duration::from_millis(200);

impl ProgressRelay {
    fn register(
        &self,
        upstream: ProgressToken,
        agent: Peer<RoleServer>,
        token: ProgressToken,
    ) -> Arc<AtomicUsize> {
        let in_flight = Arc::new(AtomicUsize::new(0));
        if let Ok(mut m) = self.waiting.lock() {
            m.insert(upstream, (agent, token, Arc::clone(&in_flight)));
        }
        in_flight
    }

    fn done(&self, upstream: &ProgressToken) {
        if let Ok(mut m) = self.waiting.lock() {
            m.remove(upstream);
        }
    }
}

impl rmcp::ClientHandler for ProgressRelay {
    async fn on_progress(
        &self,
        mut params: ProgressNotificationParam,
        _context: rmcp::service::NotificationContext<RoleClient>,
    ) {
        let target = self.waiting.lock().ok().and_then(|m| {
            m.get(&params.progress_token)
                .map(|(peer, token, in_flight)| {
                    in_flight.fetch_add(1, Ordering::SeqCst);
                    (peer.clone(), token.clone(), Arc::clone(in_flight))
                })
        });
        if let Some((peer, token, in_flight)) = target {
            params.progress_token = token;
            if let Err(e) = peer.notify_progress(params).await {
                tracing::debug!(error = %e, "could not relay a progress notification");
            }
            in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Upstream {
    /// Starts the upstream command (stdio) or connects to its URL.
    pub async fn connect(u: &UpstreamSettings) -> Result<Upstream, GatewayError> {
        let timeout = Duration::from_millis(u.timeout_ms);
        let relay = ProgressRelay::default();
        let service = if let Some(cmd) = &u.command {
            let mut c = tokio::process::Command::new(cmd);
            c.args(&u.args).envs(&u.env);
            let transport =
                rmcp::transport::TokioChildProcess::new(c).map_err(|e| GatewayError::Upstream {
                    what: format!("`{cmd}`"),
                    cause: e.to_string(),
                })?;
            with_timeout(timeout, relay.clone().serve(transport))
                .await
                .map_err(|cause| GatewayError::Upstream {
                    what: format!("`{cmd}`"),
                    cause,
                })?
        } else if let Some(url) = &u.url {
            let transport = rmcp::transport::StreamableHttpClientTransport::from_uri(url.as_str());
            with_timeout(timeout, relay.clone().serve(transport))
                .await
                .map_err(|cause| GatewayError::Upstream {
                    what: format!("`{url}`"),
                    cause,
                })?
        } else {
            return Err(GatewayError::Upstream {
                what: "(none configured)".into(),
                cause: "the `mcp.upstream` section needs `command` or `url`".into(),
            });
        };
        Ok(Upstream {
            service,
            relay,
            timeout,
        })
    }

    fn peer(&self) -> &Peer<RoleClient> {
        self.service.peer()
    }
}

async fn with_timeout<T, E: std::fmt::Display>(
    d: Duration,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(d, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} ms", d.as_millis())),
    }
}

/// Who the agent is, as the check sees it.
#[derive(Debug, Clone)]
pub enum Identity {
    /// The configured caller (stdio): an agent id or a token.
    Fixed(Option<String>),
    /// The `Authorization: Bearer` token of each HTTP request.
    Bearer,
}

/// One agent-facing MCP session of the gateway.
#[derive(Clone)]
pub struct Gateway {
    safe: Arc<AgentSafe>,
    settings: Arc<McpSettings>,
    upstream: Arc<Upstream>,
    identity: Identity,
    /// The correlation id of every check of this session (stdio: one per
    /// process; HTTP: the `Mcp-Session-Id`, when the client has one).
    session: String,
}

/// The human's answer to an approval asked through MCP elicitation.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ApprovalAnswer {
    /// Approve this one call.
    pub approve: bool,
    /// Why (recorded in the audit log).
    #[serde(default)]
    pub comment: Option<String>,
}
rmcp::elicit_safe!(ApprovalAnswer);

/// How long a human has to answer an approval asked through elicitation;
/// no answer is a refusal (nothing forwarded, nothing recorded as approved).
pub const APPROVAL_TIMEOUT: Duration = Duration::from_secs(600);

/// Who approvals through elicitation are recorded as: the human at the MCP
/// client, whose identity the gateway cannot verify.
pub const ELICITATION_APPROVER: &str = "mcp-elicitation";

impl Gateway {
    /// A session over `upstream`.
    pub fn new(
        safe: Arc<AgentSafe>,
        settings: Arc<McpSettings>,
        upstream: Arc<Upstream>,
        identity: Identity,
    ) -> Gateway {
        Gateway {
            safe,
            settings,
            upstream,
            identity,
            session: agent_safe_core::facade::new_id(),
        }
    }

    fn caller(&self, ctx: &RequestContext<RoleServer>) -> Result<Option<String>, String> {
        match &self.identity {
            Identity::Fixed(c) => Ok(c.clone()),
            Identity::Bearer => {
                let parts = ctx.extensions.get::<http::request::Parts>();
                let headers = parts.map(|p| p.headers.clone()).unwrap_or_default();
                agent_safe_server::extract::bearer(&headers).map_err(|e| e.to_string())
            }
        }
    }

    fn correlation(&self, ctx: &RequestContext<RoleServer>) -> String {
        ctx.extensions
            .get::<http::request::Parts>()
            .and_then(|p| p.headers.get("mcp-session-id"))
            .and_then(|v| v.to_str().ok())
            .filter(|s| {
                s.len() <= agent_safe_core::facade::MAX_CORRELATION_ID
                    && s.chars().all(|c| c.is_ascii_graphic())
            })
            .map_or_else(|| self.session.clone(), str::to_owned)
    }

    /// Checks, asks for approval when needed, and forwards.
    async fn handle_call(
        &self,
        params: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let tool = params.name.to_string();
        let args = params.arguments.clone().map(Json::Object);
        let correlation = self.correlation(&ctx);
        let caller = match self.caller(&ctx) {
            Ok(c) => c,
            Err(why) => return refuse(format!("refused by agent-safe: {why}")),
        };
        let context = json!({"via": "mcp", "mcp_tool": tool});
        let mapped = self.settings.mapping.map_call(&tool, args.as_ref());
        let req = match &mapped {
            Ok(m) => CheckRequest {
                action: m.action.clone(),
                target: m.target.clone(),
                caller,
                params: Some(m.params.clone()),
                context: Some(context),
                correlation_id: Some(correlation.clone()),
                ..CheckRequest::default()
            },
            // Still checked (and so audited) under a name no action can
            // have, so that the refusal is in the log; never forwarded.
            Err(_) => CheckRequest {
                action: format!("mcp:unmapped:{tool}"),
                caller,
                params: args.clone(),
                context: Some(context),
                correlation_id: Some(correlation.clone()),
                ..CheckRequest::default()
            },
        };
        let safe = Arc::clone(&self.safe);
        let checked = {
            let req = req.clone();
            tokio::task::spawn_blocking(move || safe.check(&req)).await
        };
        let decision = match checked {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(tool, error = %e, "the check failed; refusing the call");
                return refuse(format!(
                    "refused by agent-safe: the policy check could not be made ({e})"
                ));
            }
        };
        if let Err(e) = mapped {
            tracing::info!(tool, "refused an unmapped tool");
            return refuse(format!(
                "refused by agent-safe: {e}. Do not retry; ask the operator to map it{}",
                audit_suffix(&decision)
            ));
        }
        match decision.result {
            DecisionResult::Allow => self.forward(params, &ctx).await,
            DecisionResult::Deny => refuse(format!(
                "denied by agent-safe policy: {}. The call was not made{}",
                decision.reason,
                audit_suffix(&decision)
            )),
            DecisionResult::RequireApproval => self.ask(params, &req, &decision, &ctx).await,
        }
    }

    async fn ask(
        &self,
        params: CallToolRequestParams,
        req: &CheckRequest,
        decision: &Decision,
        ctx: &RequestContext<RoleServer>,
    ) -> CallToolResult {
        let audit = decision.audit_id.clone().unwrap_or_default();
        let can_elicit = ctx
            .peer
            .supported_elicitation_modes()
            .contains(&rmcp::service::ElicitationMode::Form);
        if !can_elicit {
            return refuse(format!(
                "approval required by agent-safe policy: {}. This MCP client cannot ask a human (it did not declare elicitation), so the call was not made; a human can review audit id {audit}",
                decision.reason
            ));
        }
        let message = format!(
            "agent-safe: approve `{}` on `{}`?\nParams: {}\nWhy approval is needed: {}\n(audit id {audit})",
            req.action,
            decision
                .target
                .clone()
                .or_else(|| req.target.clone())
                .unwrap_or_else(|| "(no target)".into()),
            req.params.clone().unwrap_or(Json::Null),
            decision.reason
        );
        let answer = ctx
            .peer
            .elicit_with_timeout::<ApprovalAnswer>(message, Some(APPROVAL_TIMEOUT))
            .await;
        let (approved, comment) = match answer {
            Ok(Some(a)) => (a.approve, a.comment),
            Err(ElicitationError::UserDeclined) => (false, Some("declined".to_owned())),
            Err(ElicitationError::UserCancelled) => (false, Some("cancelled".to_owned())),
            Ok(None) | Err(_) => {
                return refuse(format!(
                    "approval required by agent-safe policy: {}. No answer came from the human, so the call was not made (audit id {audit})",
                    decision.reason
                ));
            }
        };
        let record = Approval {
            correlation_id: decision.correlation_id.clone().unwrap_or_default(),
            audit_id: decision.audit_id.clone(),
            action: req.action.clone(),
            target: decision.target.clone().or_else(|| req.target.clone()),
            params: req.params.clone(),
            approver: ELICITATION_APPROVER.to_owned(),
            approved,
            comment: comment.clone(),
        };
        let safe = Arc::clone(&self.safe);
        let recorded = tokio::task::spawn_blocking(move || safe.record_approval(&record)).await;
        match recorded {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                return refuse(format!(
                    "refused by agent-safe: the approval could not be recorded ({e}), so the call was not made"
                ));
            }
            Err(e) => {
                return refuse(format!(
                    "refused by agent-safe: the approval could not be recorded ({e}), so the call was not made"
                ));
            }
        }
        if approved {
            self.forward(params, ctx).await
        } else {
            refuse(format!(
                "rejected by a human through agent-safe{}. The call was not made (audit id {audit})",
                comment.map(|c| format!(": {c}")).unwrap_or_default()
            ))
        }
    }

    /// Sends the agent's call to the upstream: its name and arguments
    /// unchanged, its progress token swapped for the gateway's own. When the
    /// agent cancels, the upstream request is dropped, which cancels it
    /// upstream.
    async fn forward(
        &self,
        params: CallToolRequestParams,
        ctx: &RequestContext<RoleServer>,
    ) -> CallToolResult {
        let tool = params.name.to_string();
        let agent_token = ctx
            .meta
            .get_progress_token()
            .or_else(|| params.meta.as_ref().and_then(|m| m.get_progress_token()))
            .map(|t| (ctx.peer.clone(), t));
        let call = self.call_upstream(params, agent_token);
        let answer = tokio::select! {
            a = tokio::time::timeout(self.upstream.timeout, call) => a,
            () = ctx.ct.cancelled() => {
                tracing::info!(tool, "the agent cancelled the call; cancelled upstream");
                return refuse("cancelled by the agent".to_owned());
            }
        };
        match answer {
            Ok(Ok(ServerResult::CallToolResult(r))) => r,
            Ok(Ok(_)) => {
                tracing::error!(
                    tool,
                    "the upstream answered with a result the gateway does not relay"
                );
                refuse("the upstream MCP server asked for input or created a task, which agent-safe does not relay; the call's outcome is unknown".to_owned())
            }
            Ok(Err(e)) => {
                tracing::error!(tool, error = %e, "the upstream call failed");
                refuse(format!("the upstream MCP server failed: {e}"))
            }
            Err(_) => {
                tracing::error!(tool, "the upstream call timed out");
                refuse(format!(
                    "the upstream MCP server did not answer within {} ms; the call's outcome is unknown",
                    self.upstream.timeout.as_millis()
                ))
            }
        }
    }

    /// One `tools/call` upstream. Progress notifications for it are relayed
    /// to the agent; when this future is dropped before the answer (the
    /// agent cancelled, or the timeout passed), the upstream is told to
    /// cancel the request.
    async fn call_upstream(
        &self,
        params: CallToolRequestParams,
        agent: Option<(Peer<RoleServer>, ProgressToken)>,
    ) -> Result<ServerResult, rmcp::ServiceError> {
        let peer = self.upstream.peer().clone();
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
        let handle = peer
            .send_request_with_option(request, PeerRequestOptions::no_options())
            .await?;
        let progress = agent.map(|(p, t)| {
            let relay = self.upstream.relay.clone();
            let in_flight = relay.register(handle.progress_token.clone(), p, t);
            (Unregister(relay, handle.progress_token.clone()), in_flight)
        });
        let mut cancel = CancelOnDrop(Some((peer, handle.id.clone())));
        let answer = handle.await_response().await;
        cancel.0 = None;
        if let Some((_unregister, in_flight)) = &progress {
            // Let the notifications sent before the answer reach the agent
            // before it does (see PROGRESS_SETTLE).
            tokio::time::sleep(PROGRESS_SETTLE).await;
            let started = tokio::time::Instant::now();
            while in_flight.load(Ordering::SeqCst) > 0 && started.elapsed() < PROGRESS_SETTLE_MAX {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        answer
    }

    /// The upstream's tools that the mapping names, with descriptions that
    /// say calls are policy-checked; with `list: allowed`, only those whose
    /// action this caller could ever be allowed or sent for approval.
    async fn tools(&self, ctx: &RequestContext<RoleServer>) -> Result<ListToolsResult, McpError> {
        // Listing is a courtesy, not a boundary: a hidden tool's call is
        // still checked, refused and audited like any other.
        let shown: Box<dyn Fn(&str) -> bool + Send> = match self.settings.list {
            ToolListing::Mapped => Box::new(|_| true),
            ToolListing::Allowed => match self.caller(ctx) {
                Ok(caller) => {
                    let safe = Arc::clone(&self.safe);
                    Box::new(move |action| safe.could_permit(action, caller.as_deref()))
                }
                Err(why) => {
                    tracing::info!(error = %why, "listing no tools: the caller was refused");
                    Box::new(|_| false)
                }
            },
        };
        let all = with_timeout(self.upstream.timeout, self.upstream.peer().list_all_tools())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "listing the upstream's tools failed");
                McpError::internal_error(format!("the upstream MCP server failed: {e}"), None)
            })?;
        let tools = all
            .into_iter()
            .filter_map(|mut t| {
                let rule = self.settings.mapping.rule(&t.name)?;
                if !shown(&rule.action) {
                    return None;
                }
                let base = rule
                    .description
                    .clone()
                    .or_else(|| t.description.as_deref().map(str::to_owned))
                    .unwrap_or_default();
                t.description = Some(Cow::Owned(format!(
                    "{base}\n\n(Calls are policy-checked by agent-safe as action `{}`; a refusal says why.)",
                    rule.action
                )));
                Some(t)
            })
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }
}

/// Forgets a relayed progress token when the call ends, however it ends.
struct Unregister(ProgressRelay, ProgressToken);

impl Drop for Unregister {
    fn drop(&mut self) {
        self.0.done(&self.1);
    }
}

/// Tells the upstream to cancel a request abandoned before its answer.
struct CancelOnDrop(Option<(Peer<RoleClient>, rmcp::model::RequestId)>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some((peer, id)) = self.0.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(async move {
                let params = rmcp::model::CancelledNotificationParam::new(
                    Some(id),
                    Some("cancelled by the agent or timed out at agent-safe".into()),
                );
                if let Err(e) = peer.notify_cancelled(params).await {
                    tracing::debug!(error = %e, "could not cancel the upstream request");
                }
            });
        }
    }
}

fn audit_suffix(d: &Decision) -> String {
    d.audit_id
        .as_ref()
        .map(|a| format!(" (audit id {a})"))
        .unwrap_or_default()
}

fn refuse(text: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(text)])
}

impl ServerHandler for Gateway {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::new(ServerCapabilities::builder().enable_tools().build());
        info.server_info = Implementation::new("agent-safe-mcp", env!("CARGO_PKG_VERSION"));
        info.instructions = Some(
            "Every tool call goes through agent-safe, which checks it against policy before the upstream MCP server runs it. A refused call returns an error result that says why; do not retry it unchanged.".into(),
        );
        info
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        // Up to the last revision with server-to-client elicitation requests:
        // 2026-07-28 replaces them with `InputRequiredResult`, not relayed yet.
        Cow::Borrowed(ProtocolVersion::known_up_to(&ProtocolVersion::V_2025_11_25))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        self.tools(&context).await
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        Ok(CallToolResponse::Complete(
            self.handle_call(request, context).await,
        ))
    }
}

/// Serves one agent over stdin/stdout until it disconnects.
///
/// Writes go to a duplicate of file descriptor 1, not through
/// `std::io::stdout()`, whose process-wide lock a host may hold for its
/// whole run (the CLI does), which would stall every answer.
pub async fn serve_stdio(gateway: Gateway) -> Result<(), GatewayError> {
    let running = gateway
        .serve((tokio::io::stdin(), stdout_sink()?))
        .await
        .map_err(|e| GatewayError::Serve(e.to_string()))?;
    running
        .waiting()
        .await
        .map_err(|e| GatewayError::Serve(e.to_string()))?;
    Ok(())
}

#[cfg(unix)]
fn stdout_sink() -> Result<tokio::fs::File, GatewayError> {
    use std::os::fd::AsFd;
    let fd = std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| GatewayError::Serve(format!("cannot use standard output: {e}")))?;
    Ok(tokio::fs::File::from_std(std::fs::File::from(fd)))
}

#[cfg(not(unix))]
fn stdout_sink() -> Result<tokio::io::Stdout, GatewayError> {
    Ok(tokio::io::stdout())
}

/// Serves agents over streamable HTTP at `http://ADDR/mcp` until `shutdown`
/// completes. Each request's `Authorization: Bearer` token is the caller.
pub async fn serve_http(
    safe: Arc<AgentSafe>,
    settings: Arc<McpSettings>,
    upstream: Arc<Upstream>,
    addr: std::net::SocketAddr,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    on_bound: impl FnOnce(std::net::SocketAddr),
) -> Result<(), GatewayError> {
    use rmcp::transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
    };
    let service = StreamableHttpService::new(
        move || {
            Ok(Gateway::new(
                Arc::clone(&safe),
                Arc::clone(&settings),
                Arc::clone(&upstream),
                Identity::Bearer,
            ))
        },
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    let router = axum::Router::new().nest_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| GatewayError::Listen {
            addr: addr.to_string(),
            cause: e.to_string(),
        })?;
    let bound = listener.local_addr().map_err(|e| GatewayError::Listen {
        addr: addr.to_string(),
        cause: e.to_string(),
    })?;
    tracing::info!(%bound, "MCP gateway listening at http://{bound}/mcp");
    on_bound(bound);
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| GatewayError::Serve(e.to_string()))
}
