//! Signed checkpoints of the log's Merkle tree: made by the writer under the
//! log's lock, kept in `<log>.checkpoints`, handed to a command that copies
//! them elsewhere, and checked by `verify_checkpoints` and inclusion proofs.
//!
//! `<log>.checkpoints` holds signed notes one after the other, each followed
//! by a blank line. A note's own blank line (between its text and its
//! signatures) and these separators alternate, so the file splits on blank
//! lines into (text, signatures) pairs. A torn last note (a writer killed
//! mid-write) is cut off by the next writer before it appends.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::error::AuditError;
use super::merkle::{self, Hash};
use super::note::{Checkpoint, NoteError, NoteSigner, NoteVerifier};
use super::tree::TreeStore;

/// By default a checkpoint is made every this many events…
pub const DEFAULT_CHECKPOINT_EVENTS: u64 = 1000;
/// …or at the first event this many seconds after the last checkpoint.
pub const DEFAULT_CHECKPOINT_SECONDS: u64 = 60;
/// How long `checkpoint_command` may run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// When and how the writer makes checkpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointConfig {
    /// The origin line of the checkpoints and the name of the key
    /// (e.g. `example.com/agent-safe/prod`): unique to this log.
    pub origin: String,
    /// The file holding the signer key (`PRIVATE+KEY+…`), as
    /// `agent-safe init` writes it.
    pub key_file: PathBuf,
    /// A checkpoint every this many events (0: never by count).
    pub every_events: u64,
    /// A checkpoint at the first event this many seconds after the last
    /// one (0: never by time).
    pub every_seconds: u64,
    /// A shell command run with each new checkpoint on its standard input.
    pub command: Option<String>,
    /// Whether closing the log (dropping the writer) makes a last checkpoint
    /// of the events not yet covered. On for long-lived writers (the
    /// sidecar, an SDK process); off for one-shot hosts such as `agent-safe
    /// check`, where it would sign a checkpoint per check: their events are
    /// covered by the `every_events`/`every_seconds` checkpoints of later
    /// appends, or by `audit checkpoint --new`.
    pub on_shutdown: bool,
}

/// The checkpoints file of the log whose active file is `active`.
pub fn checkpoints_path(active: &Path) -> PathBuf {
    let mut s = active.as_os_str().to_os_string();
    s.push(".checkpoints");
    PathBuf::from(s)
}

/// Reads a signer key file (`PRIVATE+KEY+<name>+<id>+<key>`).
pub fn read_signer_key(path: &Path) -> Result<NoteSigner, AuditError> {
    // Read like a configuration file: a FIFO or a dangling symlink is an
    // error (never a hang), a key rewritten in place is not read half-written.
    let text = crate::load::read_file(path)
        .map_err(|e| AuditError::Usage {
            path: path.to_path_buf(),
            reason: format!(
                "cannot read the checkpoint key: {}",
                e.first().map(|d| d.message.clone()).unwrap_or_default()
            ),
        })?
        .text;
    NoteSigner::parse(&text).map_err(|e| AuditError::Usage {
        path: path.to_path_buf(),
        reason: format!(
            "{e}; create one with `agent-safe init` or `agent-safe audit key --generate`"
        ),
    })
}

/// Creates a new signer key file for `origin` (mode 0600; refuses to
/// overwrite an existing file).
pub fn create_signer_key(path: &Path, origin: &str) -> Result<NoteSigner, AuditError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let signer = NoteSigner::generate(origin).map_err(|e| AuditError::Usage {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| AuditError::io(dir, "create directory", e))?;
    }
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| AuditError::io(path, "create checkpoint key", e))?;
    f.write_all(format!("{}\n", signer.to_private_text()).as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| AuditError::io(path, "write checkpoint key", e))?;
    Ok(signer)
}

/// Splits the text of a checkpoints file into its notes; also returns the
/// length of the part made of complete notes (anything after is torn).
pub fn split_notes(text: &str) -> (Vec<&str>, usize) {
    let mut notes = Vec::new();
    let mut pos = 0usize;
    loop {
        let rest = text.get(pos..).unwrap_or_default();
        let Some(a) = rest.find("\n\n") else { break };
        let after_text = pos + a + 2;
        let Some(b) = text.get(after_text..).and_then(|r| r.find("\n\n")) else {
            break;
        };
        let end = after_text + b + 2;
        if let Some(n) = text.get(pos..end - 1) {
            notes.push(n);
        }
        pos = end;
    }
    (notes, pos)
}

/// The checkpoints in a checkpoints file, oldest first, each checked with
/// `verifier`. A missing file is no checkpoints; a torn last note is ignored.
pub fn read_checkpoints(
    path: &Path,
    verifier: &NoteVerifier,
) -> Result<Vec<(Checkpoint, String)>, AuditError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(AuditError::io(path, "read", e)),
    };
    let (notes, _) = split_notes(&text);
    notes
        .into_iter()
        .enumerate()
        .map(|(i, n)| {
            Checkpoint::open(n, verifier)
                .map(|c| (c, n.to_string()))
                .map_err(|e| AuditError::Corrupt {
                    path: path.to_path_buf(),
                    reason: format!("checkpoint {} of the file: {e}", i + 1),
                })
        })
        .collect()
}

/// Counters of the checkpoints this handle made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointStats {
    /// Checkpoints made.
    pub made: u64,
    /// Checkpoints that could not be made (the decisions went on).
    pub failures: u64,
    /// Runs of `checkpoint_command` that failed.
    pub command_failures: u64,
    /// The last error, if any.
    pub last_error: Option<String>,
}

/// A checkpoint that went wrong, as handed to the reporter set with
/// [`AuditLog::report_checkpoint_failures`]. Decisions go on either way.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckpointFailure {
    /// A checkpoint could not be made; the cause.
    Make(String),
    /// `checkpoint_command` failed; the command and the cause.
    Command {
        /// The command as configured.
        command: String,
        /// Why it failed (its exit status and standard error, a timeout, …).
        cause: String,
    },
}

impl std::fmt::Display for CheckpointFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckpointFailure::Make(cause) => write!(f, "checkpoint failed: {cause}"),
            CheckpointFailure::Command { command, cause } => {
                write!(f, "checkpoint_command `{command}` failed: {cause}")
            }
        }
    }
}

/// Where checkpoint failures are reported (a host's log). Called on the
/// thread that saw the failure, sometimes under the log's lock: it must be
/// quick and must not use the log.
pub type CheckpointReporter = Arc<dyn Fn(&CheckpointFailure) + Send + Sync>;

struct Due {
    last_size: Option<u64>,
    last_at: Instant,
}

/// The writer side: makes checkpoints when due. Lives in an `AuditLog`.
pub(crate) struct Checkpointer {
    cfg: CheckpointConfig,
    signer: NoteSigner,
    verifier: NoteVerifier,
    due: Mutex<Due>,
    made: AtomicU64,
    failures: AtomicU64,
    command_failures: Arc<AtomicU64>,
    last_error: Arc<Mutex<Option<String>>>,
    reporter: Arc<std::sync::OnceLock<CheckpointReporter>>,
}

impl Checkpointer {
    pub(crate) fn new(cfg: CheckpointConfig) -> Result<Checkpointer, AuditError> {
        let signer = read_signer_key(&cfg.key_file)?;
        if signer.name() != cfg.origin {
            return Err(AuditError::Usage {
                path: cfg.key_file.clone(),
                reason: format!(
                    "the checkpoint key is named `{}` but the origin is `{}`; they must be the same",
                    signer.name(),
                    cfg.origin
                ),
            });
        }
        let verifier =
            NoteVerifier::parse(&signer.verifier_key()).map_err(|e| AuditError::Usage {
                path: cfg.key_file.clone(),
                reason: e.to_string(),
            })?;
        Ok(Checkpointer {
            cfg,
            signer,
            verifier,
            due: Mutex::new(Due {
                last_size: None,
                last_at: Instant::now(),
            }),
            made: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            command_failures: Arc::new(AtomicU64::new(0)),
            last_error: Arc::new(Mutex::new(None)),
            reporter: Arc::new(std::sync::OnceLock::new()),
        })
    }

    pub(crate) fn stats(&self) -> CheckpointStats {
        CheckpointStats {
            made: self.made.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            command_failures: self.command_failures.load(Ordering::Relaxed),
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        }
    }

    pub(crate) fn verifier(&self) -> &NoteVerifier {
        &self.verifier
    }

    /// Whether a log of `size` events is due a checkpoint (cheap: no I/O).
    pub(crate) fn is_due(&self, size: u64) -> bool {
        let due = self.due.lock().unwrap_or_else(PoisonError::into_inner);
        let last = due.last_size.unwrap_or(0);
        if size <= last && due.last_size.is_some() {
            return false;
        }
        (self.cfg.every_events > 0 && size - last >= self.cfg.every_events)
            || (self.cfg.every_seconds > 0
                && due.last_at.elapsed() >= Duration::from_secs(self.cfg.every_seconds))
    }

    /// Whether events were logged since the last checkpoint this handle knows.
    pub(crate) fn has_new(&self, size: u64) -> bool {
        let due = self.due.lock().unwrap_or_else(PoisonError::into_inner);
        due.last_size.is_none_or(|l| size > l)
    }

    /// Makes a checkpoint of the whole log now, unless the newest one in
    /// the checkpoints file already covers it (then returns that one).
    /// Call it holding the log's lock. Returns the note and whether it is new.
    pub(crate) fn make(&self, active: &Path) -> Result<(String, bool), AuditError> {
        let tree = TreeStore::sync(active)?;
        let path = checkpoints_path(active);
        let (last, valid_len) = self.last_checkpoint(&path)?;
        if let Some((c, note)) = &last {
            check_extends(active, &tree, c)?;
            if c.size == tree.size() {
                self.note_made(c.size);
                return Ok((note.clone(), false));
            }
        }
        let cp = Checkpoint {
            origin: self.cfg.origin.clone(),
            size: tree.size(),
            root: tree.root(),
        };
        let note = self
            .signer
            .sign(&cp.body())
            .map_err(|e| AuditError::Usage {
                path: self.cfg.key_file.clone(),
                reason: e.to_string(),
            })?;
        append_note(&path, valid_len, &note)?;
        self.note_made(cp.size);
        self.made.fetch_add(1, Ordering::Relaxed);
        Ok((note, true))
    }

    fn note_made(&self, size: u64) {
        let mut due = self.due.lock().unwrap_or_else(PoisonError::into_inner);
        due.last_size = Some(size);
        due.last_at = Instant::now();
    }

    /// Records a failure to make a checkpoint (decisions go on).
    pub(crate) fn failed(&self, e: &AuditError) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        let failure = CheckpointFailure::Make(e.to_string());
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(failure.to_string());
        if let Some(r) = self.reporter.get() {
            r(&failure);
        }
        // Try again after the next interval, not on every append.
        let mut due = self.due.lock().unwrap_or_else(PoisonError::into_inner);
        due.last_at = Instant::now();
        if let Some(l) = due.last_size.as_mut() {
            *l = l.saturating_add(self.cfg.every_events.max(1));
        } else {
            due.last_size = Some(self.cfg.every_events.max(1));
        }
    }

    /// The newest checkpoint of the file, and the length of its complete part.
    fn last_checkpoint(
        &self,
        path: &Path,
    ) -> Result<(Option<(Checkpoint, String)>, usize), AuditError> {
        let text = match fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((None, 0)),
            Err(e) => return Err(AuditError::io(path, "read", e)),
        };
        let (notes, valid) = split_notes(&text);
        let Some(last) = notes.last() else {
            return Ok((None, valid));
        };
        let c = Checkpoint::open(last, &self.verifier).map_err(|e| AuditError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("the newest checkpoint does not verify with this log's key: {e}"),
        })?;
        Ok((Some((c, (*last).to_string())), valid))
    }

    /// Runs `checkpoint_command` with `note` on its standard input, in the
    /// background; a failure is counted and kept as the last error.
    pub(crate) fn run_command(&self, note: String) {
        let Some(cmd) = self.cfg.command.clone() else {
            return;
        };
        let failures = Arc::clone(&self.command_failures);
        let last_error = Arc::clone(&self.last_error);
        let reporter = Arc::clone(&self.reporter);
        let report = move |command: String, cause: String| {
            failures.fetch_add(1, Ordering::Relaxed);
            let failure = CheckpointFailure::Command { command, cause };
            *last_error.lock().unwrap_or_else(PoisonError::into_inner) = Some(failure.to_string());
            if let Some(r) = reporter.get() {
                r(&failure);
            }
        };
        let report_here = report.clone();
        let command = cmd.clone();
        let spawned = std::thread::Builder::new()
            .name("agent-safe-checkpoint-command".into())
            .spawn(move || {
                if let Err(why) = run_command(&cmd, &note) {
                    report(cmd, why);
                }
            });
        if let Err(e) = spawned {
            report_here(command, format!("cannot start a thread for it: {e}"));
        }
    }

    /// Reports a failure of a command started at shutdown.
    fn command_not_started(&self, command: &str, e: &io::Error) {
        self.command_failures.fetch_add(1, Ordering::Relaxed);
        let failure = CheckpointFailure::Command {
            command: command.to_string(),
            cause: format!("cannot start it: {e}"),
        };
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(failure.to_string());
        if let Some(r) = self.reporter.get() {
            r(&failure);
        }
    }

    /// Whether the timer should look for pending events: checkpoints by time
    /// are configured and `every_seconds` have passed since the last one
    /// (cheap: no I/O).
    fn time_is_up(&self) -> bool {
        let due = self.due.lock().unwrap_or_else(PoisonError::into_inner);
        self.cfg.every_seconds > 0
            && due.last_at.elapsed() >= Duration::from_secs(self.cfg.every_seconds)
    }

    /// Nothing was pending when the time was up: look again after another
    /// interval.
    fn nothing_pending(&self) {
        let mut due = self.due.lock().unwrap_or_else(PoisonError::into_inner);
        due.last_at = Instant::now();
    }
}

/// Starts `cmd` with `note` on its stdin and reaps it in the background.
fn start_command(cmd: &str, note: &str) -> io::Result<()> {
    use std::process::{Command, Stdio};
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(note.as_bytes());
    }
    let _ = std::thread::Builder::new().spawn(move || child.wait());
    Ok(())
}

fn run_command(cmd: &str, note: &str) -> Result<(), String> {
    use std::process::{Command, Stdio};
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start it: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its input is its own business.
        let _ = stdin.write_all(note.as_bytes());
    }
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = io::Read::read_to_string(&mut e, &mut err);
                }
                let err = err.trim();
                return Err(format!(
                    "{status}{}{err}",
                    if err.is_empty() { "" } else { ": " }
                ));
            }
            Ok(None) if start.elapsed() > COMMAND_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "still running after {} s, killed",
                    COMMAND_TIMEOUT.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Refuses to sign a log that does not extend `last` (events removed or
/// rewritten since): a new checkpoint would contradict the old one.
fn check_extends(active: &Path, tree: &TreeStore, last: &Checkpoint) -> Result<(), AuditError> {
    if last.size > tree.size() {
        return Err(AuditError::Corrupt {
            path: active.to_path_buf(),
            reason: format!(
                "the log holds {} events but its newest checkpoint covers {}: events were removed; run `agent-safe audit verify --checkpoint`",
                tree.size(),
                last.size
            ),
        });
    }
    if tree.root_at(last.size)? != last.root {
        return Err(AuditError::Corrupt {
            path: active.to_path_buf(),
            reason: format!(
                "the log's first {} events no longer hash to its newest checkpoint: the log was rewritten; run `agent-safe audit verify --checkpoint`",
                last.size
            ),
        });
    }
    Ok(())
}

/// Appends `note` and a blank line to the checkpoints file, first cutting
/// off a torn note after `valid_len`; fsyncs the file.
fn append_note(path: &Path, valid_len: usize, note: &str) -> Result<(), AuditError> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| AuditError::io(path, "open", e))?;
    let valid = valid_len as u64;
    let mut bytes = Vec::with_capacity(note.len() + 1);
    bytes.extend_from_slice(note.as_bytes());
    bytes.push(b'\n');
    f.set_len(valid)
        .and_then(|()| f.write_all_at(&bytes, valid))
        .and_then(|()| f.sync_data())
        .map_err(|e| AuditError::io(path, "write", e))
}

/// Hex of a hash, for messages.
fn short(h: &Hash) -> String {
    hex::encode(h)
}

/// One checkpoint checked against the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointCheck {
    /// Where the checkpoint came from (a file, `#n` for the n-th in it).
    pub source: String,
    /// Its tree size.
    pub size: u64,
    /// Its root hash (hex).
    pub root: String,
    /// `None` when the log contains this tree; otherwise why not.
    pub problem: Option<String>,
}

/// The result of checking a log against checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointReport {
    /// Events in the log (complete lines, from seq 1).
    pub log_size: u64,
    /// The log's root hash (hex).
    pub log_root: String,
    /// Each checkpoint, in the order given.
    pub checkpoints: Vec<CheckpointCheck>,
    /// A problem reading the log itself (e.g. its oldest files are missing).
    pub problem: Option<String>,
}

impl CheckpointReport {
    /// Whether the log contains every checkpoint's tree.
    pub fn ok(&self) -> bool {
        self.problem.is_none() && self.checkpoints.iter().all(|c| c.problem.is_none())
    }
}

/// The roots a check against checkpoints needs, computed as the leaves of
/// the log go by (in order, from seq 1).
pub(super) struct TreeCheck {
    frontier: merkle::Frontier,
    /// The checkpoint sizes not reached yet, smallest first.
    wanted: Vec<u64>,
    roots: std::collections::HashMap<u64, Hash>,
}

impl TreeCheck {
    pub(super) fn new(checkpoints: &[(String, Checkpoint)]) -> TreeCheck {
        let mut wanted: Vec<u64> = checkpoints.iter().map(|(_, c)| c.size).collect();
        wanted.sort_unstable_by(|a, b| b.cmp(a));
        wanted.dedup();
        let mut roots = std::collections::HashMap::new();
        if wanted.last() == Some(&0) {
            roots.insert(0, merkle::empty_root());
            wanted.pop();
        }
        TreeCheck {
            frontier: merkle::Frontier::new(),
            wanted,
            roots,
        }
    }

    /// Adds the next leaf.
    pub(super) fn push(&mut self, leaf: Hash) {
        self.frontier.push(leaf, |_, _, _| {});
        while self.wanted.last() == Some(&self.frontier.size()) {
            self.roots
                .insert(self.frontier.size(), self.frontier.root());
            self.wanted.pop();
        }
    }

    /// The report, once every leaf is in; `first_seq` is the seq the log
    /// starts at.
    pub(super) fn finish(
        self,
        checkpoints: &[(String, Checkpoint)],
        first_seq: Option<u64>,
    ) -> CheckpointReport {
        let problem = first_seq.filter(|s| *s != 1).map(|s| {
            format!(
                "the log starts at seq {s} (its oldest files are not here): checkpoints cover the log from seq 1"
            )
        });
        let log_size = self.frontier.size();
        let log_root = self.frontier.root();
        let roots = self.roots;
        let checks = checkpoints
            .iter()
            .map(|(source, c)| {
                let problem = if c.size > log_size {
                    let gone = match c.size - log_size {
                        1 => "its last event was".to_string(),
                        k => format!("its last {k} events were"),
                    };
                    Some(format!(
                        "the checkpoint covers {} events but the log holds only {log_size}: {gone} removed (truncated log or deleted newest file)",
                        c.size
                    ))
                } else {
                    match roots.get(&c.size) {
                        Some(r) if *r == c.root => None,
                        Some(r) => Some(format!(
                            "the log's first {} events hash to {} but the checkpoint says {}: the log was rewritten",
                            c.size,
                            short(r),
                            short(&c.root)
                        )),
                        None => Some("internal: no root computed for this size".into()),
                    }
                };
                CheckpointCheck {
                    source: source.clone(),
                    size: c.size,
                    root: short(&c.root),
                    problem,
                }
            })
            .collect();
        CheckpointReport {
            log_size,
            log_root: short(&log_root),
            checkpoints: checks,
            problem,
        }
    }
}

/// Checks that the log made of `files` (in seq order, from seq 1) contains
/// the tree of each checkpoint: its first `size` events hash to its root.
/// This reads the log itself (not the tree store), one pass. To check the
/// chain as well, [`super::verify_with_checkpoints`] does both in one pass.
pub fn verify_checkpoints(
    files: &[PathBuf],
    checkpoints: &[(String, Checkpoint)],
) -> Result<CheckpointReport, AuditError> {
    let mut tree = TreeCheck::new(checkpoints);
    let mut buf = Vec::new();
    let mut leaves: Vec<Hash> = Vec::new();
    for path in files {
        let file = File::open(path).map_err(|e| AuditError::io(path, "open", e))?;
        // Hash the lines of each batch on up to four threads, then fold
        // them into the tree in order.
        super::files::for_each_batch(&file, 0, 0, &mut buf, 4 << 20, |_, _, batch| {
            hash_lines(batch, &mut leaves);
            for l in leaves.drain(..) {
                tree.push(l);
            }
            std::ops::ControlFlow::Continue(())
        })
        .map_err(|e| AuditError::io(path, "read", e))?;
    }
    let mut first_seq = None;
    if let Some(first) = files.first() {
        let f = File::open(first).map_err(|e| AuditError::io(first, "open", e))?;
        let line =
            super::files::first_line(&f, 1 << 20).map_err(|e| AuditError::io(first, "read", e))?;
        #[derive(Deserialize)]
        struct Seq {
            seq: u64,
        }
        first_seq = line
            .and_then(|l| serde_json::from_slice::<Seq>(&l).ok())
            .map(|s| s.seq);
    }
    Ok(tree.finish(checkpoints, first_seq))
}

/// Leaf hashes of the complete lines of `batch` (each ends in `\n`), in
/// order; on up to four threads for large batches.
fn hash_lines(batch: &[u8], out: &mut Vec<Hash>) {
    let lines: Vec<&[u8]> = batch
        .split(|b| *b == b'\n')
        .take(memchr::memchr_iter(b'\n', batch).count())
        .collect();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(4);
    if threads <= 1 || lines.len() < 1024 {
        out.extend(lines.iter().map(|l| merkle::leaf_hash(l)));
        return;
    }
    let chunk = lines.len().div_ceil(threads);
    let parts: Vec<Vec<Hash>> = std::thread::scope(|s| {
        let handles: Vec<_> = lines
            .chunks(chunk)
            .map(|c| {
                s.spawn(move || {
                    c.iter()
                        .map(|l| merkle::leaf_hash(l))
                        .collect::<Vec<Hash>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    for p in parts {
        out.extend(p);
    }
}

/// An inclusion proof of one event: everything a third party needs to
/// check, holding only the log's verifier key, that this event is in the
/// log the checkpoint describes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    /// The event's `event_id` (the decision's `audit_id`).
    pub audit_id: String,
    /// The event's `seq`; its leaf index is `seq - 1`.
    pub seq: u64,
    /// The event's canonical line without its `\n`: the leaf's input.
    pub line: String,
    /// The tree size of the checkpoint the proof is for.
    pub tree_size: u64,
    /// The sibling hashes from the leaf up (hex), RFC 9162 §2.1.3.
    pub inclusion_path: Vec<String>,
    /// The signed checkpoint (C2SP signed note) of that tree.
    pub checkpoint: String,
}

/// Why a proof does not check out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The checkpoint's signature or format is wrong.
    #[error("{0}")]
    Note(#[from] NoteError),
    /// The proof does not fit the checkpoint or does not hash to its root.
    #[error("{0}")]
    Mismatch(String),
}

impl InclusionProof {
    /// Checks the proof against `checkpoint_note` (or, when `None`, the
    /// checkpoint the proof carries), whose signature must verify with
    /// `verifier`. Returns the checkpoint.
    pub fn verify(
        &self,
        verifier: &NoteVerifier,
        checkpoint_note: Option<&str>,
    ) -> Result<Checkpoint, ProofError> {
        let note = checkpoint_note.unwrap_or(&self.checkpoint);
        let cp = Checkpoint::open(note, verifier)?;
        let mismatch = |s: String| ProofError::Mismatch(s);
        if cp.size != self.tree_size {
            return Err(mismatch(format!(
                "the proof is for a tree of {} events but the checkpoint is of {}; make the proof against this checkpoint with `agent-safe audit prove {} --checkpoint FILE`",
                self.tree_size, cp.size, self.audit_id
            )));
        }
        #[derive(Deserialize)]
        struct Ids<'a> {
            seq: u64,
            #[serde(borrow)]
            event_id: std::borrow::Cow<'a, str>,
        }
        let ids: Ids<'_> = serde_json::from_str(&self.line)
            .map_err(|e| mismatch(format!("the proof's `line` is not an audit event: {e}")))?;
        if ids.seq != self.seq || ids.event_id != self.audit_id {
            return Err(mismatch(
                "the proof's `line` is not the event its `seq`/`audit_id` name".into(),
            ));
        }
        if self.seq == 0 {
            return Err(mismatch("`seq` starts at 1".into()));
        }
        let path = self
            .inclusion_path
            .iter()
            .map(|h| {
                hex::decode(h)
                    .ok()
                    .and_then(|v| <Hash>::try_from(v).ok())
                    .ok_or_else(|| {
                        mismatch(format!(
                            "`{h}` in `inclusion_path` is not a hex SHA-256 hash"
                        ))
                    })
            })
            .collect::<Result<Vec<Hash>, ProofError>>()?;
        let leaf = merkle::leaf_hash(self.line.as_bytes());
        if !merkle::verify_inclusion(self.seq - 1, cp.size, &leaf, &path, &cp.root) {
            return Err(mismatch(format!(
                "the event (seq {}) and its inclusion path do not hash to the checkpoint's root: the event is not in that log",
                self.seq
            )));
        }
        Ok(cp)
    }
}

use super::log::{AuditConfig, AuditLog, State};

/// What an append's check for a due checkpoint gave.
pub(super) enum DueCheckpoint {
    /// Nothing to do (not due, or nothing new, or a failure already counted).
    None,
    /// A new checkpoint, for `checkpoint_command`.
    Made(String),
    /// Due, but the tree store must first be built outside the lock.
    AfterTreeBuild,
}

impl AuditLog {
    /// Opens the log like [`AuditLog::open`], with signed checkpoints: the
    /// writer makes one when due (every `every_events` events and/or at the
    /// first event `every_seconds` after the last), and at clean shutdown
    /// (when the handle is dropped). Fails when the key file cannot be read.
    pub fn open_with_checkpoints(
        cfg: AuditConfig,
        checkpoints: CheckpointConfig,
    ) -> Result<AuditLog, AuditError> {
        let cp = Checkpointer::new(checkpoints)?;
        let mut log = AuditLog::open(cfg)?;
        log.checkpointer = Some(cp);
        Ok(log)
    }

    /// Counters of the checkpoints this handle made (`None` without
    /// checkpoints).
    pub fn checkpoint_stats(&self) -> Option<CheckpointStats> {
        self.checkpointer.as_ref().map(Checkpointer::stats)
    }

    /// Hands every checkpoint failure (a checkpoint that could not be made,
    /// a failed `checkpoint_command`) to `reporter` as well as counting it
    /// in [`AuditLog::checkpoint_stats`]: a host logs them. Set once; `false`
    /// when a reporter was set already or checkpoints are not configured.
    pub fn report_checkpoint_failures(&self, reporter: CheckpointReporter) -> bool {
        self.checkpointer
            .as_ref()
            .is_some_and(|cp| cp.reporter.set(reporter).is_ok())
    }

    /// How often a long-lived writer should call
    /// [`AuditLog::checkpoint_if_pending`]: a quarter of `every_seconds`
    /// (at least 50 ms, at most 15 s). `None` without checkpoints by time.
    pub fn checkpoint_tick(&self) -> Option<Duration> {
        let cp = self.checkpointer.as_ref()?;
        match cp.cfg.every_seconds {
            0 => None,
            s => Some(
                (Duration::from_secs(s) / 4)
                    .clamp(Duration::from_millis(50), Duration::from_secs(15)),
            ),
        }
    }

    /// The timer's side of "a checkpoint every `every_seconds`": appends
    /// only check the time when they happen, so a writer that goes quiet
    /// would leave its last events uncovered. When `every_seconds` have
    /// passed since the last checkpoint and events are pending, makes one
    /// (and runs `checkpoint_command`); returns the new note. Cheap when
    /// nothing is due (no lock, no I/O). A failure is counted and reported
    /// like one at an append, and returned.
    pub fn checkpoint_if_pending(&self) -> Result<Option<String>, AuditError> {
        let Some(cp) = self.checkpointer.as_ref() else {
            return Ok(None);
        };
        if !cp.time_is_up() {
            return Ok(None);
        }
        self.build_tree_outside_lock();
        let made = self.locked(|log, st, now| {
            log.prepare(st, now)?;
            let size = log.last_seq(st);
            if !cp.has_new(size) || !cp.time_is_up() {
                return Ok(None);
            }
            log.make_checkpoint(cp, st).map(|(n, new)| new.then_some(n))
        });
        match made {
            Ok(Some(note)) => {
                cp.run_command(note.clone());
                Ok(Some(note))
            }
            Ok(None) => {
                cp.nothing_pending();
                Ok(None)
            }
            Err(e) => {
                cp.failed(&e);
                Err(e)
            }
        }
    }

    /// The verifier of this log's checkpoints (`None` without checkpoints).
    pub fn checkpoint_verifier(&self) -> Option<&NoteVerifier> {
        self.checkpointer.as_ref().map(Checkpointer::verifier)
    }

    /// Under the lock, after an append: makes a checkpoint when due.
    /// Returns the new note, for `checkpoint_command`, or that the checkpoint
    /// waits for the tree store to be built outside the lock.
    pub(super) fn checkpoint_if_due(&self, st: &mut State, size: u64) -> DueCheckpoint {
        let Some(cp) = self.checkpointer.as_ref() else {
            return DueCheckpoint::None;
        };
        if !cp.is_due(size) {
            return DueCheckpoint::None;
        }
        if TreeStore::needs_bulk(self.path()) {
            // Reading the whole log here would hold up every other writer.
            return DueCheckpoint::AfterTreeBuild;
        }
        match self.make_checkpoint(cp, st) {
            Ok((note, true)) => DueCheckpoint::Made(note),
            Ok((_, false)) => DueCheckpoint::None,
            Err(e) => {
                cp.failed(&e);
                DueCheckpoint::None
            }
        }
    }

    /// After an append whose checkpoint waited for the tree store: builds
    /// the store outside the lock, then makes the checkpoint. Never fails
    /// the append: a failure is counted and reported.
    pub(super) fn checkpoint_after_tree_build(&self) {
        let Some(cp) = self.checkpointer.as_ref() else {
            return;
        };
        self.build_tree_outside_lock();
        let made = self.locked(|log, st, now| {
            log.prepare(st, now)?;
            log.make_checkpoint(cp, st)
        });
        match made {
            Ok((note, true)) => cp.run_command(note),
            Ok((_, false)) => {}
            Err(e) => cp.failed(&e),
        }
    }

    /// When the tree store would need much of the log read (none yet, or
    /// far behind), builds it beside the log without the lock and puts it
    /// in place under the lock, so that the locked part only catches up
    /// with the last events. Best effort: on failure the locked sync does
    /// the work, as before.
    pub(super) fn build_tree_outside_lock(&self) {
        if self.checkpointer.is_none() || !TreeStore::needs_bulk(self.path()) {
            return;
        }
        let Ok(built) = TreeStore::build_aside(self.path()) else {
            return;
        };
        let adopted = self.locked(|log, _, _| TreeStore::adopt(log.path(), &built));
        if adopted.is_err() && built.exists() {
            let _ = fs::remove_dir_all(&built);
        }
    }

    fn make_checkpoint(
        &self,
        cp: &Checkpointer,
        st: &mut State,
    ) -> Result<(String, bool), AuditError> {
        // The events a checkpoint covers must be on disk before it is.
        if let Some(f) = self.active_file(st) {
            f.sync_data()
                .map_err(|e| AuditError::io(self.path(), "fdatasync", e))?;
        }
        cp.make(self.path())
    }

    /// Makes a checkpoint of the whole log now (or returns the newest one
    /// when it already covers the whole log), and runs `checkpoint_command`
    /// with a new one.
    pub fn checkpoint_now(&self) -> Result<String, AuditError> {
        let cp = self.require_checkpoints()?;
        self.build_tree_outside_lock();
        let (note, new) = self.locked(|log, st, now| {
            log.prepare(st, now)?;
            log.make_checkpoint(cp, st)
        })?;
        if new {
            cp.run_command(note.clone());
        }
        Ok(note)
    }

    fn require_checkpoints(&self) -> Result<&Checkpointer, AuditError> {
        self.checkpointer.as_ref().ok_or_else(|| AuditError::Usage {
            path: self.path().to_path_buf(),
            reason: "checkpoints are not configured: add `audit.checkpoint` (origin, key_file) to agent-safe.yaml".into(),
        })
    }

    /// An inclusion proof of the event `audit_id` (its `event_id`) in the
    /// tree of `checkpoint` (a signed note of this log), or, when `None`, in
    /// the tree of a checkpoint of the whole log (made now if needed).
    pub fn prove(
        &self,
        audit_id: &str,
        checkpoint: Option<&str>,
    ) -> Result<InclusionProof, AuditError> {
        let cp = self.require_checkpoints()?;
        if audit_id.is_empty()
            || audit_id.len() > 64
            || !audit_id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
        {
            return Err(AuditError::Usage {
                path: self.path().to_path_buf(),
                reason: format!(
                    "`{audit_id}` is not an audit id (a UUID such as `019cb8b8-2263-7b5f-9acd-6c058a47620a`)"
                ),
            });
        }
        // Found without the lock: a long scan (an old or unknown id) must
        // not hold up the appends.
        let (seq, line) = super::lookup::find_event(self.path(), audit_id)?;
        self.build_tree_outside_lock();
        let (proof, new_note) = self.locked(|log, st, now| {
            log.prepare(st, now)?;
            let not_ours = |e: NoteError| AuditError::Usage {
                path: log.path().to_path_buf(),
                reason: format!("the checkpoint is not one of this log's: {e}"),
            };
            // Each signature is checked once (an Ed25519 verification is a
            // good part of a proof's cost).
            let (note, c, new) = match checkpoint {
                Some(n) => {
                    let c = Checkpoint::open(n, cp.verifier()).map_err(not_ours)?;
                    (n.to_string(), c, false)
                }
                // The newest checkpoint when it covers the event (checked
                // when read); a new one only when the event is newer.
                None => match cp.last_checkpoint(&checkpoints_path(log.path()))?.0 {
                    Some((c, n)) if c.size >= seq => (n, c, false),
                    _ => {
                        let (n, new) = log.make_checkpoint(cp, st)?;
                        let c = Checkpoint::open(&n, cp.verifier()).map_err(not_ours)?;
                        (n, c, new)
                    }
                },
            };
            let tree = TreeStore::sync(log.path())?;
            check_extends(log.path(), &tree, &c)?;
            if seq > c.size {
                return Err(AuditError::Usage {
                    path: log.path().to_path_buf(),
                    reason: format!(
                        "event `{audit_id}` (seq {seq}) is newer than the checkpoint (size {}); prove it against a newer checkpoint",
                        c.size
                    ),
                });
            }
            let path = tree
                .inclusion_proof(seq - 1, c.size)?
                .ok_or_else(|| AuditError::Corrupt {
                    path: log.path().to_path_buf(),
                    reason: "the tree store has no proof for this event".into(),
                })?;
            let proof = InclusionProof {
                audit_id: audit_id.to_string(),
                seq,
                line,
                tree_size: c.size,
                inclusion_path: path.iter().map(hex::encode).collect(),
                checkpoint: note.clone(),
            };
            // A damaged tree store must not hand out a bad proof: the path
            // must lead from the event's line to the (already checked)
            // checkpoint's root.
            let leaf = merkle::leaf_hash(proof.line.as_bytes());
            if !merkle::verify_inclusion(seq - 1, c.size, &leaf, &path, &c.root) {
                return Err(AuditError::Corrupt {
                    path: super::tree::tree_dir(log.path()),
                    reason: "the proof made from the tree store does not verify (the event and its inclusion path do not hash to the checkpoint's root); remove the directory to rebuild it".into(),
                });
            }
            Ok((proof, new.then_some(note)))
        })?;
        if let Some(n) = new_note {
            cp.run_command(n);
        }
        Ok(proof)
    }
}

/// A consistency proof between two checkpoints of one log: the log of the
/// newer one extends the log of the older one (RFC 9162 §2.1.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProof {
    /// The older signed checkpoint.
    pub old_checkpoint: String,
    /// The newer signed checkpoint.
    pub new_checkpoint: String,
    /// The proof's hashes (hex), RFC 9162 §2.1.4.1.
    pub consistency_path: Vec<String>,
}

impl ConsistencyProof {
    /// Checks both signatures with `verifier` and the proof between them.
    pub fn verify(&self, verifier: &NoteVerifier) -> Result<(Checkpoint, Checkpoint), ProofError> {
        let old = Checkpoint::open(&self.old_checkpoint, verifier)?;
        let new = Checkpoint::open(&self.new_checkpoint, verifier)?;
        let path = self
            .consistency_path
            .iter()
            .map(|h| {
                hex::decode(h)
                    .ok()
                    .and_then(|v| <Hash>::try_from(v).ok())
                    .ok_or_else(|| ProofError::Mismatch(format!("`{h}` is not a hex SHA-256 hash")))
            })
            .collect::<Result<Vec<Hash>, ProofError>>()?;
        if !merkle::verify_consistency(old.size, new.size, &old.root, &new.root, &path) {
            return Err(ProofError::Mismatch(format!(
                "the log of {} events is not an extension of the log of {} events",
                new.size, old.size
            )));
        }
        Ok((old, new))
    }
}

impl AuditLog {
    /// A consistency proof from the checkpoint `old` to `new` (both signed
    /// notes of this log; `new` by default a checkpoint of the whole log,
    /// made now if needed).
    pub fn prove_consistency(
        &self,
        old: &str,
        new: Option<&str>,
    ) -> Result<ConsistencyProof, AuditError> {
        let cp = self.require_checkpoints()?;
        let usage = |log: &AuditLog, e: NoteError| AuditError::Usage {
            path: log.path().to_path_buf(),
            reason: format!("the checkpoint is not one of this log's: {e}"),
        };
        self.build_tree_outside_lock();
        self.locked(|log, st, now| {
            log.prepare(st, now)?;
            let new_note = match new {
                Some(n) => n.to_string(),
                None => log.make_checkpoint(cp, st)?.0,
            };
            let o = Checkpoint::open(old, cp.verifier()).map_err(|e| usage(log, e))?;
            let n = Checkpoint::open(&new_note, cp.verifier()).map_err(|e| usage(log, e))?;
            let tree = TreeStore::sync(log.path())?;
            check_extends(log.path(), &tree, &n)?;
            check_extends(log.path(), &tree, &o)?;
            let path =
                tree.consistency_proof(o.size, n.size)?
                    .ok_or_else(|| AuditError::Usage {
                        path: log.path().to_path_buf(),
                        reason: format!(
                            "the first checkpoint ({} events) is newer than the second ({})",
                            o.size, n.size
                        ),
                    })?;
            Ok(ConsistencyProof {
                old_checkpoint: old.to_string(),
                new_checkpoint: new_note,
                consistency_path: path.iter().map(hex::encode).collect(),
            })
        })
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        // Clean shutdown: a last checkpoint covering every event.
        let Some(cp) = self.checkpointer.as_ref() else {
            return;
        };
        if !cp.cfg.on_shutdown || self.stats().appends == 0 {
            return;
        }
        self.build_tree_outside_lock();
        let made = self.locked(|log, st, now| {
            log.prepare(st, now)?;
            let size = log.last_seq(st);
            if !cp.has_new(size) {
                return Ok(None);
            }
            log.make_checkpoint(cp, st).map(|(n, new)| new.then_some(n))
        });
        match made {
            Ok(Some(note)) => {
                // Started, handed the checkpoint, not waited for: a slow
                // command must not hold up the shutdown (or every CLI check).
                if let Some(cmd) = &cp.cfg.command
                    && let Err(e) = start_command(cmd, &note)
                {
                    cp.command_not_started(cmd, &e);
                }
            }
            Ok(None) => {}
            Err(e) => cp.failed(&e),
        }
    }
}

/// The newest checkpoint in the checkpoints file of the log at `active`,
/// checked with `verifier`.
pub fn latest_checkpoint(
    active: &Path,
    verifier: &NoteVerifier,
) -> Result<Option<String>, AuditError> {
    Ok(read_checkpoints(&checkpoints_path(active), verifier)?
        .pop()
        .map(|(_, n)| n))
}
