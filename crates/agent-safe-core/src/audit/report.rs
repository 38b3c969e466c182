//! What `verify` reports ([`VerifyReport`]), how it is asked
//! ([`VerifyOptions`]), and the report's one JSON form, which the CLI's
//! `audit verify --output json` and the Python SDK's `verify_audit()` share.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Serialize, Serializer};

/// What `verify` found.
///
/// Its JSON form (`serde::Serialize`) is the one representation every surface
/// uses — `agent-safe audit verify --output json` and the Python SDK's
/// `verify_audit()`: `ok`, `clean`, `events`, `files` (paths), `first_seq`,
/// `last_seq`, `last_hash`, `recoveries`, `problem` (`file`, `line` — `null`
/// when the problem is the file as a whole —, `kind` in snake_case,
/// `message`), `torn_tail` (`file`, `line`, `offset`, `bytes`,
/// `event_prefix`, `writer_active`) and `notes`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VerifyReport {
    /// The files checked, in chain order.
    pub files: Vec<FileReport>,
    /// Events checked and found sound.
    pub events: u64,
    /// `seq` of the first event.
    pub first_seq: Option<u64>,
    /// `seq` of the last sound event.
    pub last_seq: Option<u64>,
    /// `hash` of the last sound event (a checkpoint worth keeping elsewhere).
    pub last_hash: Option<String>,
    /// `recovery` events seen (torn tails repaired by a writer).
    pub recoveries: u64,
    /// The first broken place; `None` when the chain holds.
    pub problem: Option<VerifyProblem>,
    /// Bytes after the last newline of the last file: a writer stopped in the
    /// middle of a line — or someone appended or altered a last line. The
    /// events before it verify; the next append quarantines these bytes and
    /// records a `recovery`. A break (`problem` of kind
    /// [`ProblemKind::TornTail`]) unless [`VerifyOptions::accept_torn_tail`].
    pub torn_tail: Option<TornTail>,
    /// Things worth knowing that are not problems (e.g. the chain starts
    /// after files that were not given).
    pub notes: Vec<String>,
}

/// How `verify_with` judges what it cannot decide from the bytes alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Accept a torn tail as a warning rather than a break: for a log that
    /// is being written, whose writer may have been killed mid-line (the next
    /// append repairs it). Off by default: a verifier cannot tell a torn
    /// write from an appended or altered last line.
    pub accept_torn_tail: bool,
    /// How long to wait for the log's lock when the last file ends in a torn
    /// line. A writer holds the lock while it writes, so once the lock is
    /// taken a line in flight is complete and is verified like the others;
    /// a tail still torn under the lock is not a write in progress.
    pub lock_wait: Duration,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            accept_torn_tail: false,
            lock_wait: Duration::from_secs(5),
        }
    }
}

/// One file's share of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    /// The file.
    pub path: PathBuf,
    /// Sound events in it.
    pub events: u64,
    /// Its first event's `seq`.
    pub first_seq: Option<u64>,
    /// Its last sound event's `seq`.
    pub last_seq: Option<u64>,
}

/// Where the chain breaks, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyProblem {
    /// The file.
    #[serde(rename = "file", serialize_with = "display_path")]
    pub path: PathBuf,
    /// 1-based line number; `None` when the problem is the file as a whole.
    pub line: Option<u64>,
    /// The class of problem.
    pub kind: ProblemKind,
    /// A plain explanation.
    pub message: String,
}

/// Classes of problems `verify` reports (serialised in snake_case:
/// `not_canonical`, `file_name`, `torn_tail`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProblemKind {
    /// A file could not be read, or the paths name no log.
    Io,
    /// The line is not an event of this schema (bad JSON, unknown or
    /// duplicate field, wrong type, empty line).
    Malformed,
    /// `v` is not a schema version this build knows.
    Version,
    /// The line differs from the canonical form of its own content.
    NotCanonical,
    /// `hash` is not the hash of the line's content.
    Hash,
    /// `prev_hash` is not the previous event's `hash`.
    Link,
    /// `seq` does not follow the previous event's.
    Seq,
    /// The chain does not start at seq 1 or at a rotation event.
    Start,
    /// A rotation event is missing, misplaced or inconsistent.
    Rotation,
    /// A `recovery` event is inconsistent.
    Recovery,
    /// A rotated file's name does not match its content.
    FileName,
    /// A file other than the last ends in the middle of a line.
    Truncated,
    /// The last file ends in the middle of a line (see
    /// [`VerifyReport::torn_tail`]) and a torn tail was not accepted.
    TornTail,
    /// No complete event at all: nothing to verify.
    Empty,
}

/// Bytes after the last newline of the last file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TornTail {
    /// The file (the active file).
    #[serde(rename = "file", serialize_with = "display_path")]
    pub path: PathBuf,
    /// The line number the torn line would have.
    pub line: u64,
    /// Its byte offset.
    pub offset: u64,
    /// How many bytes there are.
    pub bytes: u64,
    /// Whether the bytes could be the beginning of the next event: a prefix
    /// of a JSON object that starts as every event line does, or a complete
    /// line that verifies as the next event and lacks only its newline.
    /// `false` means junk or an altered event: not what a writer leaves.
    pub event_prefix: bool,
    /// The log's lock was held by a writer for all of
    /// [`VerifyOptions::lock_wait`], so the bytes may be a line in flight.
    pub writer_active: bool,
}

fn display_path<S: Serializer>(p: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&p.display())
}

/// The JSON form of a [`VerifyReport`].
#[derive(Serialize)]
struct ReportJson<'a> {
    ok: bool,
    clean: bool,
    events: u64,
    files: Vec<String>,
    first_seq: Option<u64>,
    last_seq: Option<u64>,
    last_hash: Option<&'a str>,
    recoveries: u64,
    problem: Option<&'a VerifyProblem>,
    torn_tail: Option<&'a TornTail>,
    notes: &'a [String],
}

impl Serialize for VerifyReport {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ReportJson {
            ok: self.ok(),
            clean: self.is_clean(),
            events: self.events,
            files: self
                .files
                .iter()
                .map(|f| f.path.display().to_string())
                .collect(),
            first_seq: self.first_seq,
            last_seq: self.last_seq,
            last_hash: self.last_hash.as_deref(),
            recoveries: self.recoveries,
            problem: self.problem.as_ref(),
            torn_tail: self.torn_tail.as_ref(),
            notes: &self.notes,
        }
        .serialize(s)
    }
}

impl VerifyReport {
    /// `true` when the chain holds: at least one complete event, every one
    /// sound, and no torn tail unless one was accepted (see
    /// [`VerifyReport::torn_tail`]).
    pub fn ok(&self) -> bool {
        self.problem.is_none()
    }

    /// `true` when the chain holds and there is no torn tail either.
    pub fn is_clean(&self) -> bool {
        self.problem.is_none() && self.torn_tail.is_none()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.problem {
            match p.line {
                Some(line) => write!(f, "{}:{line}: {}", p.path.display(), p.message)?,
                None => write!(f, "{}: {}", p.path.display(), p.message)?,
            }
            return write!(f, " ({} events before it verified)", self.events);
        }
        let seqs = match (self.first_seq, self.last_seq) {
            (Some(a), Some(b)) => format!(", seq {a}–{b}"),
            _ => String::new(),
        };
        write!(
            f,
            "ok: {} events{seqs} in {} file{}",
            self.events,
            self.files.len(),
            if self.files.len() == 1 { "" } else { "s" }
        )?;
        if let Some(h) = &self.last_hash {
            write!(f, "; last hash {h}")?;
        }
        if self.recoveries > 0 {
            write!(
                f,
                "; {} torn tail(s) were recovered by writers",
                self.recoveries
            )?;
        }
        if let Some(t) = &self.torn_tail {
            write!(
                f,
                "\nwarning: {}:{}: torn tail accepted: {}",
                t.path.display(),
                t.line,
                t.describe()
            )?;
        }
        for note in &self.notes {
            write!(f, "\nnote: {note}")?;
        }
        Ok(())
    }
}

impl TornTail {
    /// What the bytes are, in words: their size, whether they could begin an
    /// event, whether a writer held the lock.
    pub fn describe(&self) -> String {
        let what = if self.event_prefix {
            "the beginning of an event line, as a writer stopped mid-write leaves"
        } else {
            "not the beginning of a valid event (junk, or an altered event)"
        };
        let writer = if self.writer_active {
            "; a writer held the log's lock throughout, so it may be a line in flight"
        } else {
            ""
        };
        format!(
            "{} after the last complete line, {what}{writer}",
            if self.bytes == 1 {
                "1 byte".to_string()
            } else {
                format!("{} bytes", self.bytes)
            }
        )
    }
}
