//! One module per command.

pub(crate) mod actions;
pub(crate) mod audit;
pub(crate) mod check;
pub(crate) mod demo;
pub(crate) mod fmt;
pub(crate) mod init;
pub(crate) mod inventory;
pub(crate) mod mcp;
pub(crate) mod migrate;
pub(crate) mod policy_test;
pub(crate) mod rbac;
pub(crate) mod registry;
pub(crate) mod replay;
pub(crate) mod schema;
pub(crate) mod serve;
pub(crate) mod tlog;
pub(crate) mod token;
pub(crate) mod validate;
pub(crate) mod who_can;

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};
use crate::error::{CmdResult, exit};
use crate::output::Io;

/// `completions SHELL`.
pub(crate) fn completions(io: &mut Io, args: CompletionsArgs) -> CmdResult {
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "agent-safe", &mut io.out);
    Ok(exit::OK)
}

/// Parses an RFC 3339 time given to `flag`.
pub(crate) fn parse_time(flag: &str, s: &str) -> Result<jiff::Timestamp, crate::error::CliError> {
    s.parse::<jiff::Timestamp>().map_err(|e| {
        crate::error::CliError::usage_help(
            format!("{flag}: invalid time `{s}`: {e}"),
            "write an RFC 3339 time with an offset, e.g. 2026-03-07T02:30:00Z or 2026-03-07T03:30:00+01:00",
        )
    })
}
