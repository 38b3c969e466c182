//! Logs: `tracing` events to stderr, JSON or compact, one line per request.
//!
//! The level comes from `AGENT_SAFE_LOG` (an `EnvFilter` directive such as
//! `info`, `warn`, or `info,agent_safe_server::access=off` to silence the
//! request log), default `info`. Tokens and request bodies are never logged.
//!
//! Lines are formatted on the thread that logs them and written to stderr by
//! a dedicated thread, which writes whatever has queued up in one go: under
//! load that is one `write` for many lines instead of one per line (measured:
//! the request log costs about a quarter of the throughput when every line is
//! its own `write`). The queue holds up to 128 Ki lines; when it is full,
//! logging waits rather than dropping lines. Keep the [`LogGuard`] alive
//! until the end: dropping it flushes what is queued.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::serve::LogFormat;

/// The environment variable holding the log filter.
pub const LOG_ENV: &str = "AGENT_SAFE_LOG";

/// Flushes the queued log lines when dropped.
#[derive(Debug)]
pub struct LogGuard(
    #[expect(dead_code, reason = "held for its Drop, which flushes the queue")]
    Option<tracing_appender::non_blocking::WorkerGuard>,
);

/// Installs the process-wide subscriber, unless one is installed already
/// (then the guard does nothing).
pub fn init(format: LogFormat) -> LogGuard {
    let filter = EnvFilter::try_from_env(LOG_ENV).unwrap_or_else(|_| EnvFilter::new("info"));
    let terminal = std::io::stderr().is_terminal();
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Compact => false,
        LogFormat::Auto => !terminal,
    };
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("agent-safe-log")
        .finish(stderr_sink());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(true);
    // `try_init` fails only when a subscriber is already set: keep that one.
    let installed = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init()
    } else {
        builder.compact().with_ansi(terminal).try_init()
    };
    LogGuard(installed.is_ok().then_some(guard))
}

/// Where the writer thread writes: a duplicate of file descriptor 2, not
/// `std::io::stderr()`. Writing through `Stderr` takes the process-wide
/// stderr lock, and a host that holds that lock for its whole run (the CLI
/// keeps a locked stderr for its output) would stall the writer thread, and
/// with it, once the queue is full, every request. The duplicate is the same
/// open file, with no lock of std's in the way.
fn stderr_sink() -> Box<dyn std::io::Write + Send> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        if let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() {
            return Box::new(std::fs::File::from(fd));
        }
    }
    Box::new(std::io::stderr())
}
