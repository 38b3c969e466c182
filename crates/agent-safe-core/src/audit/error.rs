//! The one error type of the audit log.

use std::io;
use std::path::PathBuf;

/// Why an audit operation failed.
///
/// The `Display` text names the log file and the cause in plain words, so the
/// engine can put it verbatim into the reason of the `DENY` it returns when an
/// event cannot be logged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// A file operation failed (open, write, fdatasync, rename, …).
    #[error("audit log {}: {op} failed: {source}", .path.display())]
    Io {
        /// The file the operation was about.
        path: PathBuf,
        /// What was being done, in a word or two (`write`, `fdatasync`, `rename`).
        op: &'static str,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// Another writer held the lock for longer than `lock_timeout`.
    #[error(
        "audit log {}: timed out after {waited_ms} ms waiting for the lock {} (another writer holds it)",
        .path.display(),
        .lock.display()
    )]
    LockTimeout {
        /// The log file.
        path: PathBuf,
        /// The lock file (`<log>.lock`).
        lock: PathBuf,
        /// How long the append waited.
        waited_ms: u64,
    },

    /// The event cannot be written as a canonical line, e.g. an integer beyond
    /// ±(2^53−1) in `params` or `context`.
    #[error("audit log {}: event rejected: {message}", .path.display())]
    InvalidEvent {
        /// The log file.
        path: PathBuf,
        /// What is wrong with the event.
        message: String,
    },

    /// The log on disk cannot be continued: its last event is unreadable, or a
    /// file name is not what the writer expects. Nothing was written.
    #[error("audit log {}: cannot continue the chain: {reason}", .path.display())]
    Corrupt {
        /// The file at fault.
        path: PathBuf,
        /// What was found.
        reason: String,
    },

    /// A reader met a complete line that is not an event of this schema.
    #[error(
        "audit log {}: {} is not a valid event: {reason} (run `agent-safe audit verify`)",
        .path.display(),
        line_label(*.line)
    )]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line number (0 when read backwards and unknown).
        line: u64,
        /// What the parser said.
        reason: String,
    },

    /// The log could not be opened when the decision point started, so
    /// nothing can be appended to it.
    #[error("audit log {} could not be opened: {cause}", .path.display())]
    Unavailable {
        /// The configured log file.
        path: PathBuf,
        /// Why it could not be opened.
        cause: String,
    },

    /// The configuration or the arguments cannot work (e.g. a path without a
    /// file name, a directory holding several logs).
    #[error("audit log {}: {reason}", .path.display())]
    Usage {
        /// The path given.
        path: PathBuf,
        /// What is wrong and how to fix it.
        reason: String,
    },
}

fn line_label(line: u64) -> String {
    if line == 0 {
        "a line".to_string()
    } else {
        format!("line {line}")
    }
}

impl AuditError {
    pub(crate) fn io(path: impl Into<PathBuf>, op: &'static str, source: io::Error) -> Self {
        AuditError::Io {
            path: path.into(),
            op,
            source,
        }
    }
}
