//! `mcp`: the MCP gateway (crate `agent-safe-mcp`), in the path of every
//! tool call an agent makes to an upstream MCP server.

use clap::Args;

use crate::error::{CliError, CmdResult};
use crate::output::Io;
use crate::project::Ctx;

pub(crate) const MCP_AFTER: &str = "\
Configure it in the `mcp:` section of agent-safe.yaml (or a file that section names):
  mcp:
    upstream: {command: kubernetes-mcp-server, args: [--read-only]}
    caller_env: AGENT_SAFE_TOKEN
    tools:
      pods_delete: {action: delete-pod, target: \"prod/{namespace}/{name}\"}

Examples:
  agent-safe mcp                          # serve the agent on stdin/stdout
  agent-safe mcp --http 127.0.0.1:8410    # streamable HTTP at http://127.0.0.1:8410/mcp

Unmapped tools are hidden and refused. See docs/MCP.md.";

/// `mcp`.
#[derive(Debug, Args)]
pub(crate) struct McpArgs {
    /// Serve streamable HTTP at `http://ADDR/mcp` (loopback only) instead of
    /// stdio; each request's `Authorization: Bearer` token is the caller.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<std::net::SocketAddr>,
    /// Over stdio: the caller (agent id or token), instead of `mcp.caller`
    /// and `mcp.caller_env`.
    #[arg(long, value_name = "ID")]
    pub caller: Option<String>,
    /// Write the shipped settings for a known MCP server to `mcp.yaml` in the
    /// current directory and exit (known: kubernetes-mcp-server).
    #[arg(long, value_name = "SERVER")]
    pub init: Option<String>,
}

/// `mcp --init SERVER`: writes the shipped settings, never over a file.
fn init(io: &mut Io, server: &str) -> CmdResult {
    use std::io::Write;
    let Some((_, text)) = agent_safe_core::mapping::SHIPPED
        .iter()
        .find(|(n, _)| *n == server)
    else {
        let known: Vec<&str> = agent_safe_core::mapping::SHIPPED
            .iter()
            .map(|(n, _)| *n)
            .collect();
        return Err(CliError::usage_help(
            format!("no shipped MCP settings for `{server}`"),
            format!(
                "known servers: {}; for another, write mcp.yaml by hand (docs/MCP.md)",
                known.join(", ")
            ),
        ));
    };
    let path = std::path::Path::new("mcp.yaml");
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(CliError::usage_help(
                "mcp.yaml already exists",
                "move it away first, or edit it by hand",
            ));
        }
        Err(e) => return Err(CliError::Failed(format!("cannot write mcp.yaml: {e}"))),
    };
    file.write_all(text.as_bytes())
        .map_err(|e| CliError::Failed(format!("cannot write mcp.yaml: {e}")))?;
    writeln!(
        io.out,
        "wrote mcp.yaml for {server}; add `mcp: mcp.yaml` to agent-safe.yaml, run `agent-safe validate`, then point your MCP client at `agent-safe mcp`"
    )?;
    Ok(crate::error::exit::OK)
}

/// `mcp [--http ADDR] [--caller ID]`.
#[cfg(feature = "mcp")]
pub(crate) fn mcp(io: &mut Io, ctx: &Ctx, a: McpArgs) -> CmdResult {
    use std::io::Write;
    use std::sync::Arc;

    use agent_safe_core::AgentSafe;
    use agent_safe_mcp::{Gateway, Identity, Upstream};

    if let Some(server) = &a.init {
        return init(io, server);
    }
    let config = ctx.require_config("mcp")?;
    let Some(section) = config.mcp.clone() else {
        return Err(CliError::usage_help(
            "the config has no `mcp:` section",
            "add `mcp:` to agent-safe.yaml with `upstream:` and `tools:` (see docs/MCP.md), or `mcp: mcp.yaml` naming a file",
        ));
    };
    let safe = AgentSafe::from_config(config)?;
    let settings =
        agent_safe_core::mapping::validate_section(Some(&section), &safe.snapshot().registry)?
            .unwrap_or_default();
    if let Some(addr) = a.http
        && !addr.ip().is_loopback()
    {
        return Err(CliError::usage_help(
            format!("--http {addr}: the gateway listens on loopback only"),
            "use 127.0.0.1:PORT; put a proxy with TLS in front for anything else",
        ));
    }
    let caller = a.caller.clone().or_else(|| {
        settings
            .caller_env
            .as_ref()
            .and_then(|v| std::env::var(v).ok())
            .filter(|v| !v.is_empty())
            .or_else(|| settings.caller.clone())
    });
    agent_safe_mcp::init_logging();
    // One thread: the gateway only relays (checks run on the blocking pool),
    // and rmcp hands each upstream notification to a task of its own. A
    // current-thread runtime runs those tasks in the order they were spawned,
    // so progress notifications reach the agent in the upstream's order; the
    // multi-thread scheduler's LIFO slot can swap two of them.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the async runtime: {e}")))?;
    let safe = Arc::new(safe);
    let settings = Arc::new(settings);
    let result = runtime.block_on(async move {
        let upstream = Arc::new(Upstream::connect(&settings.upstream).await?);
        match a.http {
            None => {
                let g = Gateway::new(safe, settings, upstream, Identity::Fixed(caller));
                agent_safe_mcp::serve_stdio(g).await
            }
            Some(addr) => {
                let shutdown = async {
                    let _ = tokio::signal::ctrl_c().await;
                };
                agent_safe_mcp::serve_http(safe, settings, upstream, addr, shutdown, |_| {}).await
            }
        }
    });
    match result {
        Ok(()) => Ok(crate::error::exit::OK),
        Err(e) => {
            writeln!(io.err, "error: {e}")?;
            Ok(crate::error::exit::FAILURE)
        }
    }
}

/// `mcp` in a build without the gateway (the Python wheel).
#[cfg(not(feature = "mcp"))]
pub(crate) fn mcp(io: &mut Io, _ctx: &Ctx, a: McpArgs) -> CmdResult {
    if let Some(server) = &a.init {
        return init(io, server);
    }
    Err(CliError::usage_help(
        "this build of agent-safe has no MCP gateway",
        "the Python wheel leaves it out; install the `agent-safe` binary (cargo install agent-safe-cli) and run `agent-safe mcp` from it",
    ))
}
