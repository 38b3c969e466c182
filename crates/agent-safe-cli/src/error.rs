//! Exit codes and the errors that end a command.

use agent_safe_core::DecisionResult;
use agent_safe_core::diag::ConfigError;

/// The exit codes. They are a contract: scripts rely on them
/// (`agent-safe check ... && kubectl ...`).
pub mod exit {
    /// `check`: ALLOW. Other commands: success.
    pub const OK: i32 = 0;
    /// The command ran and found a failure (validation errors, a failed or
    /// empty policy test suite, a broken audit chain), or an internal error.
    pub const FAILURE: i32 = 1;
    /// Usage or configuration error: bad flags, a missing file, malformed
    /// YAML or JSON. Nothing was decided.
    pub const USAGE: i32 = 2;
    /// `check`/`check-plan`: DENY.
    pub const DENY: i32 = 3;
    /// `check`/`check-plan`: REQUIRE_APPROVAL.
    pub const REQUIRE_APPROVAL: i32 = 4;
}

/// The exit code of a decision.
pub fn decision_exit_code(r: DecisionResult) -> i32 {
    match r {
        DecisionResult::Allow => exit::OK,
        DecisionResult::Deny => exit::DENY,
        DecisionResult::RequireApproval => exit::REQUIRE_APPROVAL,
    }
}

/// Why a command stopped.
#[derive(Debug)]
pub(crate) enum CliError {
    /// Bad arguments or input: `error: <message>` (+ `help:`), exit 2.
    Usage {
        message: String,
        help: Option<String>,
    },
    /// Configuration files that do not load: the diagnostics verbatim
    /// (`file:line:col: error: ...`), exit 2.
    Config(ConfigError),
    /// The command ran and failed: `error: <message>`, exit 1.
    Failed(String),
    /// Something unexpected (an I/O error writing output, ...): exit 1.
    Internal(anyhow::Error),
}

impl CliError {
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        CliError::Usage {
            message: message.into(),
            help: None,
        }
    }

    pub(crate) fn usage_help(message: impl Into<String>, help: impl Into<String>) -> Self {
        CliError::Usage {
            message: message.into(),
            help: Some(help.into()),
        }
    }

    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage { .. } | CliError::Config(_) => exit::USAGE,
            CliError::Failed(_) | CliError::Internal(_) => exit::FAILURE,
        }
    }
}

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> Self {
        CliError::Config(e)
    }
}

impl From<agent_safe_core::diag::Diagnostic> for CliError {
    fn from(d: agent_safe_core::diag::Diagnostic) -> Self {
        CliError::Config(ConfigError::single(d))
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Internal(anyhow::Error::new(e).context("cannot write the output"))
    }
}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> Self {
        CliError::Internal(e)
    }
}

/// What a command returns: its exit code, or the error that stopped it.
pub(crate) type CmdResult = Result<i32, CliError>;
