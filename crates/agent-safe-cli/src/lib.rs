//! The `agent-safe` command-line tool, as a library.
//!
//! [`run`] parses the arguments, runs one command and returns the exit code;
//! `main.rs` only calls it, and the Python package calls it too. Output goes
//! to the process's stdout and stderr. Exit codes are a contract
//! ([`exit`]): 0 ALLOW or success, 1 a failure found, 2 usage or
//! configuration error, 3 DENY, 4 REQUIRE_APPROVAL.

mod cli;
mod cmd;
mod error;
mod output;
mod plan;
mod project;
mod render;
pub mod schema;
mod testfile;

use std::ffi::OsString;
use std::io::Write;

use clap::Parser;

pub use error::{decision_exit_code, exit};

use crate::cli::{Cli, Command};
use crate::error::CliError;
use crate::output::{Io, paint, style};

/// Runs the command line `args` (the first item is the program name) and
/// returns the process exit code. Never panics on bad input; a closed stdout
/// pipe ends output quietly.
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with exit 0; errors to stderr, exit 2.
            let _ = e.print();
            return e.exit_code();
        }
    };
    let mut io = Io::std(cli.color);
    let code = match dispatch(&mut io, cli) {
        Ok(code) => code,
        Err(e) => {
            let _ = io.out.flush();
            report(&mut io, &e);
            e.exit_code()
        }
    };
    if let Err(e) = io.out.flush() {
        let _ = writeln!(
            io.err,
            "{} cannot write the output: {e}",
            paint(style::BAD, "error:")
        );
        return exit::FAILURE.max(code);
    }
    code
}

fn report(io: &mut Io, e: &CliError) {
    let label = paint(style::BAD, "error:");
    let _ = match e {
        CliError::Usage { message, help } => {
            let _ = writeln!(io.err, "{label} {message}");
            match help {
                Some(h) => writeln!(io.err, "  help: {h}"),
                None => Ok(()),
            }
        }
        CliError::Config(c) => {
            let mut renderer = render::Renderer::new();
            c.diagnostics()
                .iter()
                .try_for_each(|d| write!(io.err, "{}", renderer.render(d)))
        }
        CliError::Failed(m) => writeln!(io.err, "{label} {m}"),
        CliError::Internal(err) => writeln!(io.err, "{label} {err:#}"),
    };
    let _ = io.err.flush();
}

fn dispatch(io: &mut Io, cli: Cli) -> Result<i32, CliError> {
    let ctx = project::Ctx { config: cli.config };
    match cli.command {
        Command::Check(a) => cmd::check::check(io, &ctx, a),
        Command::CheckPlan(a) => cmd::check::check_plan(io, &ctx, a),
        Command::ListActions(a) => cmd::actions::list(io, &ctx, a),
        Command::ShowAction(a) => cmd::actions::show(io, &ctx, a),
        Command::Validate(a) => cmd::validate::validate(io, &ctx, a),
        Command::ValidatePolicy(a) => cmd::validate::validate_policy(io, &ctx, a),
        Command::Test(a) => cmd::policy_test::test(io, &ctx, a),
        Command::Audit(a) => cmd::audit::audit(io, &ctx, a),
        Command::Init(a) => cmd::init::init(io, a),
        Command::Migrate(a) => cmd::migrate::migrate(io, a),
        Command::Demo(a) => cmd::demo::demo(io, a),
        Command::Rbac(a) => cmd::rbac::rbac(io, &ctx, a),
        Command::WhoCan(a) => cmd::who_can::who_can(io, &ctx, a),
        Command::Fmt(a) => cmd::fmt::fmt(io, &ctx, a),
        Command::Replay(a) => cmd::replay::replay(io, &ctx, a),
        Command::Serve(a) => cmd::serve::serve(io, &ctx, a),
        Command::Mcp(a) => cmd::mcp::mcp(io, &ctx, a),
        Command::Token(a) => cmd::token::token(io, &ctx, a),
        Command::Registry(a) => cmd::registry::registry(io, &ctx, a),
        Command::Inventory(a) => cmd::inventory::inventory(io, &ctx, a),
        Command::Schema(a) => cmd::schema::schema(io, a),
        Command::Completions(a) => cmd::completions(io, a),
    }
}
