//! The `agent-safe` binary: everything lives in the library so that tests and
//! the Python package can call [`agent_safe_cli::run`] without a process.

fn main() {
    std::process::exit(agent_safe_cli::run(std::env::args_os()));
}
