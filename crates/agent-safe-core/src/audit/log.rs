//! The writer: [`AuditLog`].
//!
//! One append, in order:
//! 1. the in-process gate (a mutex with a timeout), then an exclusive `flock`
//!    on `<log>.lock` (polled until `lock_timeout`);
//! 2. `stat` the log path; when its identity (device, inode) or length differs
//!    from what this writer last saw, another writer moved it: re-read the last
//!    line's `seq`/`hash` (and the first line's, for rotation);
//! 3. a file that does not end in `\n` has a torn tail: the bytes after the
//!    last `\n` are copied to a quarantine file (fsynced), cut off, and a
//!    `recovery` event is appended;
//! 4. an empty or missing active file while rotated files exist gets a
//!    `rotation` event linking it to the newest rotated file;
//! 5. rotation by day or size, decided here under the lock: fsync the file,
//!    rename it to its seq range, fsync the directory, create the new file
//!    with a `rotation` event, fsync it;
//! 6. the event's line is written with one `write` call; if that fails the
//!    file is truncated back to its previous length;
//! 7. unlock; with `durability: sync`, wait for a group fdatasync.
//!
//! The mechanisms live in submodules: the lock (`lock`), what the writer
//! knows of the active file (`active`, steps 2 and the reading in 3–4),
//! torn-tail recovery (`recovery`, step 3), rotation (`rotation`, steps 4–5)
//! and group commit (`group`, step 7). The log's own events (`rotation`,
//! `recovery`) are written through one [`OwnEvent`].

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::canon::{self, LineFields};
use super::checkpoint::DueCheckpoint;
use super::error::AuditError;
use super::event::{
    EventKind, GENESIS_HASH, NewEvent, RecoveryInfo, RotationInfo, RotationTrigger,
};
use super::files::{self, parent_dir};

mod active;
mod group;
mod lock;
mod recovery;
mod rotation;

use active::{Active, Head, Tail};
use group::GroupCommit;
use lock::{Flock, Gate, lock};
use rotation::Predecessor;

/// How long an append waits for the lock by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// When an append returns: how hard the audit log pushes each event to disk
/// before a decision returns. Also the `audit.durability` setting of
/// `agent-safe.yaml` (`process` or `sync`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
#[schemars(
    rename = "DurabilitySetting",
    description = "How hard the audit log pushes each event to disk before a decision returns."
)]
pub enum Durability {
    /// The line has been written to the file (the OS holds it; it survives the
    /// process, not a power loss).
    #[default]
    #[schemars(description = "Written to the file (survives a process crash, not a power cut).")]
    Process,
    /// The line has also been `fdatasync`ed. Concurrent appends in one process
    /// share one fdatasync (group commit).
    #[schemars(
        description = "Also `fdatasync`ed (group commit: concurrent checks share one sync)."
    )]
    Sync,
}

impl Durability {
    /// The setting's value in `agent-safe.yaml`.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "process" => Some(Self::Process),
            "sync" => Some(Self::Sync),
            _ => None,
        }
    }

    /// The values `parse` accepts, for error messages.
    pub(crate) fn choices() -> String {
        "`process`, `sync`".into()
    }
}

/// When to start a new file. Both may be set; the default rotates never.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rotation {
    /// Start a new file before an append would make the active file larger
    /// than this many bytes (a single line larger than this still gets written).
    pub max_bytes: Option<u64>,
    /// Start a new file when the active file's first event is from an earlier
    /// UTC day.
    pub daily: bool,
}

/// Where and how to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditConfig {
    /// The active log file, e.g. `/var/log/agent-safe/audit.jsonl`.
    pub path: PathBuf,
    /// When an append returns.
    pub durability: Durability,
    /// When to start a new file.
    pub rotation: Rotation,
    /// How long an append waits for the in-process and the file lock before
    /// it fails.
    pub lock_timeout: Duration,
}

impl AuditConfig {
    /// A config for `path` with the defaults: `durability: process`, no
    /// rotation, a 5 s lock timeout.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        AuditConfig {
            path: path.into(),
            durability: Durability::default(),
            rotation: Rotation::default(),
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        }
    }
}

/// What an append hands back: where the event sits in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AppendReceipt {
    /// The event's `seq`.
    pub seq: u64,
    /// The event's `event_id` (UUID v7): the decision's `audit_id`.
    pub event_id: String,
    /// The event's `hash`: keep it elsewhere as a checkpoint.
    pub hash: String,
}

/// Counters since the log was opened (by this handle).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuditStats {
    /// Events appended through [`AuditLog::append`].
    pub appends: u64,
    /// fdatasync calls made for `durability: sync` (group commit makes this
    /// smaller than `appends` under concurrency).
    pub syncs: u64,
    /// Files this handle rotated.
    pub rotations: u64,
    /// Torn tails this handle quarantined.
    pub recoveries: u64,
}

/// Where the log gets the time from. [`AuditLog::open`] uses the system clock;
/// tests and simulations can pass their own to [`AuditLog::open_with_clock`].
pub type Clock = Arc<dyn Fn() -> jiff::Timestamp + Send + Sync>;

/// Formats a time as the log writes it: RFC 3339, UTC, microseconds
/// (`2026-11-25T19:35:01.123456Z`). Such strings sort in time order.
pub fn format_timestamp(ts: jiff::Timestamp) -> String {
    let dt = jiff::tz::TimeZone::UTC.to_datetime(ts);
    let Ok(year) = u32::try_from(dt.year()) else {
        return format!("{dt:?}Z");
    };
    let mut out = String::with_capacity(27);
    let mut push = |n: u32, width: u32, sep: Option<char>| {
        let mut div = 10u32.pow(width - 1);
        while div > 0 {
            out.push(char::from(b'0' + ((n / div) % 10) as u8));
            div /= 10;
        }
        if let Some(c) = sep {
            out.push(c);
        }
    };
    push(year, 4, Some('-'));
    push(dt.month().unsigned_abs().into(), 2, Some('-'));
    push(dt.day().unsigned_abs().into(), 2, Some('T'));
    push(dt.hour().unsigned_abs().into(), 2, Some(':'));
    push(dt.minute().unsigned_abs().into(), 2, Some(':'));
    push(dt.second().unsigned_abs().into(), 2, Some('.'));
    push(dt.subsec_nanosecond().unsigned_abs() / 1000, 6, Some('Z'));
    out
}

/// The hash-chained, append-only audit log. `Send + Sync`: share one through
/// an `Arc` between threads; other processes may append to the same file.
pub struct AuditLog {
    path: PathBuf,
    name: String,
    dir: PathBuf,
    lock_path: PathBuf,
    durability: Durability,
    rotation: Rotation,
    lock_timeout: Duration,
    clock: Clock,
    gate: Gate,
    inner: Mutex<Inner>,
    group: GroupCommit,
    appends: AtomicU64,
    rotations: AtomicU64,
    recoveries: AtomicU64,
    /// Signed checkpoints of the Merkle tree, when configured (`checkpoint.rs`).
    pub(super) checkpointer: Option<super::checkpoint::Checkpointer>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.path)
            .field("durability", &self.durability)
            .field("rotation", &self.rotation)
            .field("lock_timeout", &self.lock_timeout)
            .finish_non_exhaustive()
    }
}

struct Inner {
    lock_file: File,
    /// The process that opened `lock_file`: a forked child must not share
    /// the parent's open lock (flock locks belong to the open file).
    pid: u32,
    state: State,
}

#[derive(Default)]
pub(super) struct State {
    active: Option<Active>,
    buf: Vec<u8>,
    /// Random bytes for event ids, drawn from the OS a page at a time.
    random: Vec<u8>,
    random_used: usize,
}

impl State {
    /// A new UUID v7 for `now`.
    fn event_id(&mut self, now: jiff::Timestamp) -> String {
        const POOL: usize = 4096;
        if self.random_used + 10 > self.random.len() {
            self.random.resize(POOL, 0);
            if getrandom::fill(&mut self.random).is_err() {
                self.random.clear();
                return uuid::Uuid::now_v7().to_string();
            }
            self.random_used = 0;
        }
        let mut bytes = [0u8; 10];
        if let Some(src) = self.random.get(self.random_used..self.random_used + 10) {
            bytes.copy_from_slice(src);
        }
        self.random_used += 10;
        let millis = u64::try_from(now.as_millisecond()).unwrap_or(0);
        uuid::Builder::from_unix_timestamp_millis(millis, &bytes)
            .into_uuid()
            .to_string()
    }
}

/// What comes before the next event: its `seq` and `prev_hash`.
fn next_link<'a>(active: &'a Active, pred: Option<&'a Predecessor>) -> (u64, &'a str) {
    match (&active.tail, pred) {
        (Some(t), _) => (t.seq.saturating_add(1), &t.hash),
        (None, Some(p)) => (p.tail.seq.saturating_add(1), &p.tail.hash),
        (None, None) => (1, GENESIS_HASH),
    }
}

/// The events the log writes itself, each with what it records.
#[derive(Clone, Copy)]
enum OwnEvent<'a> {
    /// A new file starts; the chain continues from the previous file.
    Rotation(&'a RotationInfo),
    /// A torn tail was moved to a quarantine file.
    Recovery(&'a RecoveryInfo),
}

impl OwnEvent<'_> {
    fn kind(self) -> EventKind {
        match self {
            OwnEvent::Rotation(_) => EventKind::Rotation,
            OwnEvent::Recovery(_) => EventKind::Recovery,
        }
    }

    /// The event's `reason`: what happened, in a sentence.
    fn reason(self) -> String {
        match self {
            OwnEvent::Rotation(r) => format!(
                "new file ({}); the chain continues from `{}`",
                r.trigger.as_str(),
                r.previous_file
            ),
            OwnEvent::Recovery(r) => format!(
                "recovered a torn final line: {} bytes moved to `{}`",
                r.torn_bytes, r.quarantine_file
            ),
        }
    }
}

impl AuditLog {
    /// Opens (creating if needed) the log at `cfg.path`: creates the parent
    /// directories and the lock file, and — under the lock — repairs a torn
    /// tail and links an empty active file to the newest rotated file.
    pub fn open(cfg: AuditConfig) -> Result<AuditLog, AuditError> {
        AuditLog::open_with_clock(cfg, Arc::new(jiff::Timestamp::now))
    }

    /// Like [`AuditLog::open`], with the time taken from `clock`.
    pub fn open_with_clock(cfg: AuditConfig, clock: Clock) -> Result<AuditLog, AuditError> {
        let name = match cfg.path.file_name().and_then(|n| n.to_str()) {
            Some(n) => n.to_string(),
            None => {
                return Err(AuditError::Usage {
                    path: cfg.path,
                    reason: "the log path must end in a UTF-8 file name".into(),
                });
            }
        };
        let dir = parent_dir(&cfg.path);
        std::fs::create_dir_all(&dir).map_err(|e| AuditError::io(&dir, "create directory", e))?;
        let lock_path = files::lock_path(&cfg.path);
        let lock_file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| AuditError::io(&lock_path, "open lock file", e))?;
        let log = AuditLog {
            path: cfg.path,
            name,
            dir,
            lock_path,
            durability: cfg.durability,
            rotation: cfg.rotation,
            lock_timeout: cfg.lock_timeout,
            clock,
            gate: Gate::default(),
            inner: Mutex::new(Inner {
                lock_file,
                pid: std::process::id(),
                state: State::default(),
            }),
            group: GroupCommit::default(),
            appends: AtomicU64::new(0),
            rotations: AtomicU64::new(0),
            recoveries: AtomicU64::new(0),
            checkpointer: None,
        };
        log.locked(|log, st, now| log.prepare(st, now))?;
        Ok(log)
    }

    /// The active log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The durability this log was opened with.
    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// Counters since this handle was opened.
    pub fn stats(&self) -> AuditStats {
        AuditStats {
            appends: self.appends.load(Ordering::Relaxed),
            syncs: self.group.syncs.load(Ordering::Relaxed),
            rotations: self.rotations.load(Ordering::Relaxed),
            recoveries: self.recoveries.load(Ordering::Relaxed),
        }
    }

    /// Appends one event and returns where it sits in the chain. When this
    /// returns `Ok`, the line is in the file (and, with `durability: sync`,
    /// on disk). On `Err` the event is not in the log.
    pub fn append(&self, ev: NewEvent) -> Result<AppendReceipt, AuditError> {
        if matches!(ev.kind, EventKind::Recovery | EventKind::Rotation) {
            return Err(AuditError::InvalidEvent {
                path: self.path.clone(),
                message: format!(
                    "`{}` events are written by the log itself; append `decision` or `approval` events",
                    ev.kind.as_str()
                ),
            });
        }
        if canon::has_unrecordable(&ev.params) || canon::has_unrecordable(&ev.context) {
            let e = canon::find_unrecordable(&ev.params, "params")
                .or_else(|| canon::find_unrecordable(&ev.context, "context"));
            if let Some(e) = e {
                return Err(self.invalid(e));
            }
        }
        let (receipt, ticket, note) = self.locked(|log, st, now| {
            let (receipt, ticket) = log.append_locked(st, &ev, now)?;
            // Never fails the append: a failure is counted and reported.
            let note = log.checkpoint_if_due(st, receipt.seq);
            Ok((receipt, ticket, note))
        })?;
        self.appends.fetch_add(1, Ordering::Relaxed);
        if let Some(ticket) = ticket {
            self.group.wait(ticket, &self.path)?;
        }
        match (note, &self.checkpointer) {
            (DueCheckpoint::Made(note), Some(cp)) => cp.run_command(note),
            (DueCheckpoint::AfterTreeBuild, _) => self.checkpoint_after_tree_build(),
            _ => {}
        }
        Ok(receipt)
    }

    fn invalid(&self, e: canon::CanonicalError) -> AuditError {
        AuditError::InvalidEvent {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    /// Runs `f` holding the gate, the state mutex and the file lock.
    pub(super) fn locked<T>(
        &self,
        f: impl FnOnce(&Self, &mut State, jiff::Timestamp) -> Result<T, AuditError>,
    ) -> Result<T, AuditError> {
        let start = Instant::now();
        let deadline = start + self.lock_timeout;
        let timeout = || AuditError::LockTimeout {
            path: self.path.clone(),
            lock: self.lock_path.clone(),
            waited_ms: u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
        };
        let Some(_gate) = self.gate.enter(deadline) else {
            return Err(timeout());
        };
        let mut inner = lock(&self.inner);
        if inner.pid != std::process::id() {
            // Forked: take our own lock file handle and forget what the
            // parent knew (its random pool too).
            inner.lock_file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&self.lock_path)
                .map_err(|e| AuditError::io(&self.lock_path, "open lock file", e))?;
            inner.pid = std::process::id();
            inner.state = State::default();
        }
        let Inner {
            lock_file, state, ..
        } = &mut *inner;
        let Some(_flock) = Flock::acquire(lock_file, deadline)
            .map_err(|e| AuditError::io(&self.lock_path, "lock", e))?
        else {
            return Err(timeout());
        };
        let now = (self.clock)();
        f(self, state, now)
    }

    fn append_locked(
        &self,
        st: &mut State,
        ev: &NewEvent,
        now: jiff::Timestamp,
    ) -> Result<(AppendReceipt, Option<u64>), AuditError> {
        let ts = format_timestamp(now);
        self.prepare(st, now)?;
        if self.rotation.daily {
            let day = ts.get(..10).unwrap_or_default();
            let stale = self
                .active(st)?
                .head
                .as_ref()
                .is_some_and(|h| h.day.as_str() != day);
            if stale {
                self.rotate(st, RotationTrigger::Daily, now)?;
            }
        }
        let event_id = st.event_id(now);
        let mut buf = std::mem::take(&mut st.buf);
        let result = self.append_event(st, &mut buf, ev, &event_id, &ts, now);
        st.buf = buf;
        let (seq, hash) = result?;
        let ticket = match self.durability {
            Durability::Sync => Some(self.group.note_write(&self.active(st)?.file)),
            Durability::Process => None,
        };
        Ok((
            AppendReceipt {
                seq,
                event_id,
                hash,
            },
            ticket,
        ))
    }

    fn append_event(
        &self,
        st: &mut State,
        buf: &mut Vec<u8>,
        ev: &NewEvent,
        event_id: &str,
        ts: &str,
        now: jiff::Timestamp,
    ) -> Result<(u64, String), AuditError> {
        let mut line = self.build_caller_line(st, buf, ev, event_id, ts)?;
        if let Some(max) = self.rotation.max_bytes {
            let active = self.active(st)?;
            let only_rotation = matches!(
                (&active.head, &active.tail),
                (Some(h), Some(t)) if h.kind == EventKind::Rotation && h.seq == t.seq
            );
            if active.len > 0 && active.len + buf.len() as u64 > max && !only_rotation {
                self.rotate(st, RotationTrigger::Size, now)?;
                line = self.build_caller_line(st, buf, ev, event_id, ts)?;
            }
        }
        let (seq, hash) = line;
        self.write_line(st, buf, seq, &hash, ts, ev.kind)?;
        Ok((seq, hash))
    }

    /// Writes the caller's event into `buf` (sealed, with `\n`); returns its
    /// seq and hash.
    fn build_caller_line(
        &self,
        st: &mut State,
        buf: &mut Vec<u8>,
        ev: &NewEvent,
        event_id: &str,
        ts: &str,
    ) -> Result<(u64, String), AuditError> {
        let active = self.active(st)?;
        let (seq, prev_hash) = next_link(active, None);
        let fields = LineFields {
            v: super::event::SCHEMA_VERSION,
            caller_identity: ev.caller_identity.as_ref(),
            snapshot: ev.snapshot.as_deref(),
            shadow: ev.shadow.as_ref(),
            seq,
            event_id,
            timestamp: ts,
            kind: ev.kind,
            action: ev.action.as_deref(),
            action_version: ev.action_version.as_deref(),
            target: ev.target.as_deref(),
            caller: ev.caller.as_deref(),
            params: &ev.params,
            decision: ev.decision.as_deref(),
            reason: ev.reason.as_deref(),
            policy_matched: ev.policy_matched.as_deref(),
            risk_class: ev.risk_class.as_deref(),
            effective_risk: ev.effective_risk.as_deref(),
            correlation_id: ev.correlation_id.as_deref(),
            context: &ev.context,
            evaluated_at: ev.evaluated_at.as_deref(),
            plan_step: ev.plan_step,
            recovery: None,
            rotation: None,
            prev_hash,
        };
        let hash = seal_into(buf, &fields).map_err(|e| self.invalid(e))?;
        Ok((seq, hash))
    }

    /// Appends one of the log's own events to `out`, with the given place
    /// in the chain; returns its hash.
    fn own_line(
        &self,
        out: &mut Vec<u8>,
        event_id: &str,
        seq: u64,
        prev_hash: &str,
        ev: OwnEvent<'_>,
        ts: &str,
    ) -> Result<String, AuditError> {
        let context = serde_json::json!({ "writer_pid": std::process::id() });
        let reason = ev.reason();
        let (recovery, rotation) = match ev {
            OwnEvent::Rotation(r) => (None, Some(r)),
            OwnEvent::Recovery(r) => (Some(r), None),
        };
        let fields = LineFields {
            v: super::event::SCHEMA_VERSION,
            caller_identity: None,
            snapshot: None,
            shadow: None,
            seq,
            event_id,
            timestamp: ts,
            kind: ev.kind(),
            action: None,
            action_version: None,
            target: None,
            caller: None,
            params: &Value::Null,
            decision: None,
            reason: Some(&reason),
            policy_matched: None,
            risk_class: None,
            effective_risk: None,
            correlation_id: None,
            context: &context,
            evaluated_at: None,
            plan_step: None,
            recovery,
            rotation,
            prev_hash,
        };
        let mut line = Vec::with_capacity(768);
        let hash = seal_into(&mut line, &fields).map_err(|e| self.invalid(e))?;
        out.extend_from_slice(&line);
        Ok(hash)
    }

    /// The `seq` of the last event of the log (0 when empty).
    pub(super) fn last_seq(&self, st: &mut State) -> u64 {
        st.active
            .as_ref()
            .and_then(|a| a.tail.as_ref().map(|t| t.seq))
            .unwrap_or(0)
    }

    pub(super) fn active_file(&self, st: &mut State) -> Option<Arc<File>> {
        st.active.as_ref().map(|a| Arc::clone(&a.file))
    }

    fn active<'s>(&self, st: &'s mut State) -> Result<&'s mut Active, AuditError> {
        st.active.as_mut().ok_or_else(|| AuditError::Corrupt {
            path: self.path.clone(),
            reason: "the active file is not open".into(),
        })
    }

    /// Appends one sealed line (ending in `\n`) with one `write`; on failure
    /// cuts the file back to its previous length so no partial line remains.
    fn write_line(
        &self,
        st: &mut State,
        line: &[u8],
        seq: u64,
        hash: &str,
        ts: &str,
        kind: EventKind,
    ) -> Result<(), AuditError> {
        let active = self.active(st)?;
        let before = active.len;
        match (&*active.file).write_all(line) {
            Ok(()) => {
                active.len += line.len() as u64;
                if active.head.is_none() {
                    active.head = Some(Head {
                        seq,
                        day: ts.get(..10).unwrap_or_default().to_string(),
                        kind,
                    });
                }
                active.tail = Some(Tail {
                    seq,
                    hash: hash.to_string(),
                });
                Ok(())
            }
            Err(e) => {
                // Take back whatever part of the line reached the file. If
                // even that fails, the next writer finds a torn tail and
                // quarantines it.
                let _ = active.file.set_len(before);
                st.active = None;
                Err(AuditError::io(&self.path, "write", e))
            }
        }
    }

    /// Brings `st.active` up to date with the file on disk, repairs a torn
    /// tail, and links an empty active file to its predecessor.
    pub(super) fn prepare(&self, st: &mut State, now: jiff::Timestamp) -> Result<(), AuditError> {
        self.refresh(st)?;
        let active = self.active(st)?;
        let torn_from = active.torn_from;
        let empty = active.tail.is_none();
        let pred = if empty { self.predecessor()? } else { None };
        match (torn_from, pred) {
            (Some(from), pred) => self.recover(st, from, pred.as_ref(), now),
            (None, Some(pred)) => self.link_to(st, &pred, RotationTrigger::Resume, now),
            (None, None) => Ok(()),
        }
    }
}

/// Writes `fields` as a line with its hash filled in and a final `\n`.
fn seal_into(buf: &mut Vec<u8>, fields: &LineFields<'_>) -> Result<String, canon::CanonicalError> {
    buf.clear();
    let member = canon::write_line(buf, fields, GENESIS_HASH)?;
    let hash = canon::seal(buf, &member);
    buf.push(b'\n');
    Ok(String::from_utf8_lossy(&hash).into_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc_with_microseconds() {
        let t = |s: &str| format_timestamp(s.parse().unwrap());
        assert_eq!(t("1970-01-01T00:00:00Z"), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            t("2026-11-25T19:35:01.123456789+02:00"),
            "2026-11-25T17:35:01.123456Z"
        );
        assert_eq!(
            t("2999-12-31T23:59:59.999999Z"),
            "2999-12-31T23:59:59.999999Z"
        );
    }

    #[test]
    fn event_ids_are_distinct_uuid_v7_of_the_given_time() {
        let mut st = State::default();
        let now: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let ids: std::collections::HashSet<String> = (0..2000).map(|_| st.event_id(now)).collect();
        assert_eq!(ids.len(), 2000);
        for id in ids.iter().take(5) {
            let u = uuid::Uuid::parse_str(id).unwrap();
            assert_eq!(u.get_version_num(), 7);
            let (secs, _) = u.get_timestamp().unwrap().to_unix();
            assert_eq!(secs, 1_767_225_600);
        }
    }
}
