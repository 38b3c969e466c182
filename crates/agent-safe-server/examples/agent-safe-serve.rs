//! `agent-safe serve` as a stand-alone program, with the same options, for
//! the end-to-end tests and the load benchmark until the CLI wiring exists:
//!
//! ```text
//! agent-safe-serve [--config PATH] [--listen ADDR] [--health-listen ADDR]
//!                  [--no-watch] [--log json|compact] [--execution inline|blocking]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use agent_safe_server::{Execution, LogFormat, ServeOptions, serve};

fn usage(msg: &str) -> ExitCode {
    eprintln!("error: {msg}");
    eprintln!(
        "usage: agent-safe-serve [--config PATH] [--listen ADDR] [--health-listen ADDR] [--no-watch] [--log json|compact] [--execution inline|blocking]"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut opts = ServeOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        let parsed: Result<(), String> = match arg.as_str() {
            "--config" => value("--config").map(|v| opts.config = Some(PathBuf::from(v))),
            "--listen" => value("--listen")
                .and_then(|v| v.parse().map_err(|e| format!("--listen {v}: {e}")))
                .map(|a| opts.listen = Some(a)),
            "--health-listen" => value("--health-listen")
                .and_then(|v| v.parse().map_err(|e| format!("--health-listen {v}: {e}")))
                .map(|a| opts.health_listen = Some(a)),
            "--no-watch" => {
                opts.watch = false;
                Ok(())
            }
            "--log" => value("--log")
                .and_then(|v| match v.as_str() {
                    "json" => Ok(LogFormat::Json),
                    "compact" => Ok(LogFormat::Compact),
                    other => Err(format!("unknown log format `{other}`")),
                })
                .map(|f| opts.log = Some(f)),
            "--execution" => value("--execution")
                .and_then(|v| match v.as_str() {
                    "inline" => Ok(Execution::Inline),
                    "blocking" => Ok(Execution::Blocking),
                    other => Err(format!("unknown execution `{other}`")),
                })
                .map(|e| opts.execution = Some(e)),
            other => Err(format!("unknown argument `{other}`")),
        };
        if let Err(msg) = parsed {
            return usage(&msg);
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(opts)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(1))
        }
    }
}
