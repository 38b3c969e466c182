//! `serve`: the HTTP sidecar (crate `agent-safe-server`).

#[cfg(feature = "serve")]
use std::io::Write;

#[cfg(feature = "serve")]
use agent_safe_server::{LogFormat, ServeError, ServeOptions, serve as run_server};

use crate::cli::ServeArgs;
#[cfg(feature = "serve")]
use crate::cli::ServeLog;
#[cfg(feature = "serve")]
use crate::error::exit;
use crate::error::{CliError, CmdResult};
use crate::output::Io;
use crate::project::Ctx;

/// `serve` in a build without the `serve` feature: a usage error that says
/// how to get one.
#[cfg(not(feature = "serve"))]
pub(crate) fn serve(_io: &mut Io, _ctx: &Ctx, _a: ServeArgs) -> CmdResult {
    Err(CliError::usage_help(
        "this build of agent-safe has no HTTP sidecar (built without the `serve` feature)",
        "install the default build (`pip install agent-safe`, or `cargo install agent-safe-cli`), which has `agent-safe serve`",
    ))
}

/// `serve [--listen ADDR] [--health-listen ADDR] [--allowed-host NAME]... [--no-watch] [--log FORMAT]`.
#[cfg(feature = "serve")]
pub(crate) fn serve(io: &mut Io, ctx: &Ctx, a: ServeArgs) -> CmdResult {
    let opts = ServeOptions {
        config: ctx.config_path()?,
        listen: a.listen,
        health_listen: a.health_listen,
        watch: !a.no_watch,
        log: Some(match a.log {
            ServeLog::Json => LogFormat::Json,
            ServeLog::Compact => LogFormat::Compact,
            ServeLog::Auto => LogFormat::Auto,
        }),
        execution: None,
        allowed_hosts: a.allowed_hosts,
    };
    // As for `check`: a file-size limit must fail the audit write (a DENY
    // with the cause), not kill the sidecar with SIGXFSZ.
    super::check::catch_sigxfsz();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the async runtime: {e}")))?;
    match runtime.block_on(run_server(opts)) {
        Ok(()) => Ok(exit::OK),
        Err(ServeError::Config(e)) => Err(CliError::Config(e)),
        Err(e) => {
            writeln!(io.err, "error: {e}")?;
            Ok(e.exit_code())
        }
    }
}
