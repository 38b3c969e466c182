//! Finding and loading the project: the config file, the registry, the
//! decision point.

use std::path::{Path, PathBuf};

use agent_safe_core::AgentSafe;
use agent_safe_core::config::{self, Config};
use agent_safe_core::diag::ConfigError;
use agent_safe_core::load::{SourceFile, read_sources};

use crate::error::CliError;

/// What every command shares: the global options.
#[derive(Debug, Default)]
pub(crate) struct Ctx {
    /// `--config`.
    pub config: Option<PathBuf>,
}

impl Ctx {
    /// The config file in use: `--config`, `$AGENT_SAFE_CONFIG`, or
    /// `agent-safe.yaml` in the current directory or a parent. `None` when
    /// there is none (an explicitly named file that is missing is an error).
    pub(crate) fn config_path(&self) -> Result<Option<PathBuf>, CliError> {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let found = config::discover(self.config.as_deref(), &cwd)?;
        // A config found by searching is absolute; make it relative to the
        // current directory (`agent-safe.yaml`, `../agent-safe.yaml`) so that
        // every path in messages is short, as the user would type it.
        Ok(found.map(|p| {
            if self.config.is_none() {
                relative_to(&p, &cwd)
            } else {
                p
            }
        }))
    }

    /// The loaded config, or the no-config defaults (built-in catalogue,
    /// no policies, no audit log).
    pub(crate) fn load_config(&self) -> Result<Config, CliError> {
        match self.config_path()? {
            Some(p) => Ok(config::load_config(&p)?),
            None => Ok(Config::no_config()),
        }
    }

    /// The loaded config; an error when there is no config file, for the
    /// commands that need a project (`what` names the command).
    pub(crate) fn require_config(&self, what: &str) -> Result<Config, CliError> {
        match self.config_path()? {
            Some(p) => Ok(config::load_config(&p)?),
            None => Err(no_config(what)),
        }
    }

    /// The decision point for `check` and `check-plan`: an audit log that
    /// cannot be opened does not stop the command; every check is denied
    /// with the cause (exit 3), as the exit-code contract says.
    pub(crate) fn open_failing_closed(&self) -> Result<AgentSafe, CliError> {
        Ok(AgentSafe::from_config_failing_closed(self.load_config()?)?)
    }
}

/// "this command needs a project".
pub(crate) fn no_config(what: &str) -> CliError {
    CliError::usage_help(
        format!(
            "{what} needs a configuration, and no {} was found in the current directory or its parents",
            config::CONFIG_FILE_NAME
        ),
        format!(
            "run it inside a project, pass --config PATH or set {}; `agent-safe init` creates a project",
            config::CONFIG_ENV
        ),
    )
}

/// The project's own action files (none when `actions:` is not set).
pub(crate) fn project_action_sources(config: &Config) -> Result<Vec<SourceFile>, ConfigError> {
    match &config.actions {
        Some(p) => read_sources(p),
        None => Ok(Vec::new()),
    }
}

/// `file` (found in `cwd` or one of its ancestors) relative to `cwd`:
/// `agent-safe.yaml`, `../agent-safe.yaml`, ... Anything else stays as it is.
fn relative_to(file: &Path, cwd: &Path) -> PathBuf {
    let (Some(dir), Some(name)) = (file.parent(), file.file_name()) else {
        return file.to_path_buf();
    };
    let Ok(below) = cwd.strip_prefix(dir) else {
        return file.to_path_buf();
    };
    let mut rel = PathBuf::new();
    for _ in below.components() {
        rel.push("..");
    }
    rel.push(name);
    rel
}

/// `path` relative to the current directory when it is inside it (shorter,
/// stable messages), else as given.
pub(crate) fn display_path(path: &Path) -> String {
    let shown = std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(&cwd).ok().map(Path::to_path_buf))
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| path.to_path_buf());
    shown.display().to_string()
}
