//! `verify`: checks a log end to end and names the first broken place.
//!
//! For every line: it parses as an event of this schema (no unknown or
//! duplicate top-level keys), is byte-equal to the canonical form of its own
//! parse (so duplicate keys inside `params`, non-canonical numbers, whitespace,
//! escapes and key order are all caught), its `hash` is the SHA-256 of that
//! form without `hash`, its `seq` is one more than the previous event's and
//! its `prev_hash` is the previous event's `hash` — across files, where each
//! file after the first starts with a `rotation` event naming the previous
//! file and its last hash, and each rotated file's name matches its seqs.

use std::fs::File;
use std::ops::ControlFlow;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::canon;
use super::checkpoint::{CheckpointReport, TreeCheck, verify_checkpoints};
use super::error::AuditError;
use super::event::{EventKind, EventRef, GENESIS_HASH, RecoveryInfo, RotationInfo, SCHEMA_VERSION};
use super::files::{self, parse_rotated_name, resolve_paths};
use super::merkle::{self, Hash};
use super::note::Checkpoint;
use super::report::{
    FileReport, ProblemKind, TornTail, VerifyOptions, VerifyProblem, VerifyReport,
};
use super::scan;

/// Verifies the files of one log with the default [`VerifyOptions`] (a torn
/// tail is a break). `paths` may name files (in any order: they are put in
/// seq order) and directories (every file of the one log in it). Never
/// fails: problems, unreadable files included, are in the report.
pub fn verify(paths: &[PathBuf]) -> VerifyReport {
    verify_with(paths, &VerifyOptions::default())
}

/// [`verify`] with options.
pub fn verify_with(paths: &[PathBuf], opts: &VerifyOptions) -> VerifyReport {
    run(paths, opts, None).0
}

/// [`verify_with`], and checks that the log contains the tree of each
/// checkpoint (its first `size` events hash to its root), in the same pass
/// over the log: the leaf hashes are computed beside the chain checks. When
/// the chain breaks, the checkpoints are checked in a second pass over every
/// line, so that their report does not depend on where the chain broke.
pub fn verify_with_checkpoints(
    paths: &[PathBuf],
    opts: &VerifyOptions,
    checkpoints: &[(String, Checkpoint)],
) -> Result<(VerifyReport, CheckpointReport), AuditError> {
    let (report, tree, files) = run(paths, opts, Some(TreeCheck::new(checkpoints)));
    match tree {
        Some(tree) if report.problem.is_none() => {
            let first = report.first_seq;
            Ok((report, tree.finish(checkpoints, first)))
        }
        _ => {
            let files = match files {
                Some(f) => f,
                None => resolve_paths(paths)?,
            };
            let tree = verify_checkpoints(&files, checkpoints)?;
            Ok((report, tree))
        }
    }
}

fn run(
    paths: &[PathBuf],
    opts: &VerifyOptions,
    tree: Option<TreeCheck>,
) -> (VerifyReport, Option<TreeCheck>, Option<Vec<PathBuf>>) {
    let mut v = Verifier {
        threads: std::thread::available_parallelism().map_or(1, |n| n.get().min(4)),
        opts: *opts,
        tree,
        ..Verifier::default()
    };
    let files = match resolve_paths(paths) {
        Ok(files) => files,
        Err(e) => {
            let path = match &e {
                AuditError::Io { path, .. } | AuditError::Usage { path, .. } => path.clone(),
                _ => paths.first().cloned().unwrap_or_default(),
            };
            v.report.problem = Some(VerifyProblem {
                path,
                line: None,
                kind: ProblemKind::Io,
                message: e.to_string(),
            });
            return (v.report, None, None);
        }
    };
    if files.is_empty() {
        v.report.problem = Some(VerifyProblem {
            path: PathBuf::new(),
            line: None,
            kind: ProblemKind::Io,
            message: "no audit log files given".into(),
        });
        return (v.report, v.tree, Some(files));
    }
    let count = files.len();
    for (i, path) in files.iter().enumerate() {
        if let Err(p) = v.file(path, i + 1 == count) {
            v.report.problem = Some(p);
            break;
        }
    }
    v.report.last_hash = v
        .prev
        .as_ref()
        .map(|p| String::from_utf8_lossy(&p.hash).into_owned());
    if v.report.problem.is_none() {
        v.judge_end(&files);
    }
    (v.report, v.tree, Some(files))
}

#[derive(Default)]
struct Verifier {
    report: VerifyReport,
    /// The last sound event: seq, hash, file name.
    prev: Option<Prev>,
    buf: Vec<u8>,
    canon: Vec<u8>,
    ranges: Vec<Range<usize>>,
    pre: Vec<Pre>,
    threads: usize,
    opts: VerifyOptions,
    /// With checkpoints to check: the tree, fed every line's leaf hash.
    tree: Option<TreeCheck>,
    leaves: Vec<Hash>,
}

/// Bytes read and checked per batch.
const BATCH: usize = 4 << 20;

/// The per-line result of the parallel phase.
enum Pre {
    /// The fast scanner did not accept the line: check it on the slow path.
    Slow,
    /// A canonical decision/approval line and its hash check.
    Fast {
        seq: u64,
        kind: EventKind,
        prev_hash: Range<usize>,
        hash: Result<[u8; 64], HashError>,
    },
}

fn pre_line(line: &[u8]) -> Pre {
    match scan::scan(line) {
        Some(s) => Pre::Fast {
            seq: s.seq,
            kind: s.kind,
            hash: check_hash(line, line.get(s.hash).unwrap_or_default(), &s.member),
            prev_hash: s.prev_hash,
        },
        None => Pre::Slow,
    }
}

/// Fills `pre` for every line, and `leaves` (when not empty) with every
/// line's Merkle leaf hash, on up to `threads` threads. `false` when a
/// thread could not be started: then some leaves are missing.
fn precheck(
    batch: &[u8],
    ranges: &[Range<usize>],
    pre: &mut [Pre],
    leaves: &mut [Hash],
    threads: usize,
) -> bool {
    let line = |r: &Range<usize>| batch.get(r.clone()).unwrap_or_default();
    let with_leaves = !leaves.is_empty();
    let work = move |rs: &[Range<usize>], ps: &mut [Pre], ls: &mut [Hash]| {
        for (r, p) in rs.iter().zip(ps.iter_mut()) {
            *p = pre_line(line(r));
        }
        for (r, l) in rs.iter().zip(ls.iter_mut()) {
            *l = merkle::leaf_hash(line(r));
        }
    };
    if threads <= 1 || ranges.len() < 256 {
        work(ranges, pre, leaves);
        return true;
    }
    let chunk = ranges.len().div_ceil(threads);
    let mut leaf_parts: Vec<&mut [Hash]> = if with_leaves {
        leaves.chunks_mut(chunk).collect()
    } else {
        Vec::new()
    };
    leaf_parts.reverse();
    std::thread::scope(|s| {
        let mut all_started = true;
        let mut parts = ranges.chunks(chunk).zip(pre.chunks_mut(chunk));
        let mine = parts.next().map(|(rs, ps)| (rs, ps, leaf_parts.pop()));
        for (rs, ps) in parts {
            let ls = leaf_parts.pop().unwrap_or_default();
            // If no thread can be started, its lines stay `Slow` and are
            // checked on the slow path (slower, same answer), and its leaf
            // hashes are missing (the caller checks the tree separately).
            let spawned = std::thread::Builder::new().spawn_scoped(s, move || work(rs, ps, ls));
            all_started &= spawned.is_ok();
        }
        if let Some((rs, ps, ls)) = mine {
            work(rs, ps, ls.unwrap_or_default());
        }
        all_started
    })
}

#[derive(Clone)]
struct Prev {
    seq: u64,
    hash: [u8; 64],
    file_name: String,
}

type Problem = VerifyProblem;

impl Verifier {
    fn file(&mut self, path: &Path, last: bool) -> Result<(), Problem> {
        let problem = |line: u64, kind: ProblemKind, message: String| VerifyProblem {
            path: path.to_path_buf(),
            line: (line > 0).then_some(line),
            kind,
            message,
        };
        let file = File::open(path)
            .map_err(|e| problem(0, ProblemKind::Io, format!("cannot open: {e}")))?;
        let file_name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        self.report.files.push(FileReport {
            path: path.to_path_buf(),
            events: 0,
            first_seq: None,
            last_seq: None,
        });
        let mut end = self.lines_from(&file, path, &file_name, 0, 0)?;
        let mut writer_active = false;
        if last && let Some(u) = end.unterminated {
            // A writer holds the log's lock while it writes: with the lock
            // taken, a line that was in flight is complete. Verify on from
            // the torn line; what is still torn now is no write in progress.
            match wait_for_writers(path, &file_name, self.opts.lock_wait) {
                LockWait::NoLockFile => {}
                LockWait::Taken(guard) => {
                    end = self.lines_from(&file, path, &file_name, u.offset, u.line - 1)?;
                    drop(guard);
                }
                LockWait::Busy => writer_active = true,
            }
        }
        if let Some(u) = end.unterminated {
            if last {
                let event_prefix = self.is_event_prefix(&file, path, &file_name, &u);
                self.report.torn_tail = Some(TornTail {
                    path: path.to_path_buf(),
                    line: u.line,
                    offset: u.offset,
                    bytes: u.len,
                    event_prefix,
                    writer_active,
                });
            } else {
                return Err(problem(
                    u.line,
                    ProblemKind::Truncated,
                    format!(
                        "the file ends inside a line ({} bytes after the last newline), but it is not the last file of the log",
                        u.len
                    ),
                ));
            }
        }
        let this = self.report.files.last().cloned();
        if let Some(r) = parse_rotated_name(&file_name) {
            let (first, last_seq) = this
                .as_ref()
                .map_or((None, None), |t| (t.first_seq, t.last_seq));
            if first != Some(r.first_seq) || last_seq != Some(r.last_seq) {
                let holds = match (first, last_seq) {
                    (Some(a), Some(b)) => format!("holds seqs {a}–{b}"),
                    _ => "holds no event".to_string(),
                };
                // Point at the first line that disagrees with the name: the
                // first, or the one after the last when events are missing
                // from the end.
                let (line, hint) = if first != Some(r.first_seq) {
                    (1, "")
                } else if last_seq < Some(r.last_seq) {
                    (end.line + 1, " (events removed from its end?)")
                } else {
                    (end.line, "")
                };
                return Err(problem(
                    line,
                    ProblemKind::FileName,
                    format!(
                        "the file name says seqs {}–{} but the file {holds}{hint}",
                        r.first_seq, r.last_seq
                    ),
                ));
            }
        } else if !last && this.is_some_and(|t| t.events == 0) {
            return Err(problem(
                0,
                ProblemKind::Truncated,
                "the file is empty, but it is not the last file of the log".into(),
            ));
        }
        Ok(())
    }

    /// Verifies the complete lines of `file` from byte `start` on (line
    /// numbers continuing from `line_before`).
    fn lines_from(
        &mut self,
        file: &File,
        path: &Path,
        file_name: &str,
        start: u64,
        line_before: u64,
    ) -> Result<files::LinesEnd, Problem> {
        let mut buf = std::mem::take(&mut self.buf);
        let mut failure = None;
        let end = files::for_each_batch(
            file,
            start,
            line_before,
            &mut buf,
            BATCH,
            |first, _, batch| match self.batch(path, file_name, first, batch) {
                Ok(()) => ControlFlow::Continue(()),
                Err(p) => {
                    failure = Some(p);
                    ControlFlow::Break(())
                }
            },
        );
        self.buf = buf;
        let end = end.map_err(|e| VerifyProblem {
            path: path.to_path_buf(),
            line: None,
            kind: ProblemKind::Io,
            message: format!("cannot read: {e}"),
        })?;
        match failure {
            Some(p) => Err(p),
            None => Ok(end),
        }
    }

    /// Whether the torn bytes could begin the next event (see
    /// [`TornTail::event_prefix`]).
    fn is_event_prefix(
        &mut self,
        file: &File,
        path: &Path,
        file_name: &str,
        u: &files::Unterminated,
    ) -> bool {
        const START: &[u8] = b"{\"action\":";
        // Writers refuse to treat more than this as a torn line.
        if u.len > 64 << 20 {
            return false;
        }
        let Ok(bytes) = files::read_range(file, u.offset, u.offset + u.len) else {
            return false;
        };
        let n = bytes.len().min(START.len());
        if bytes.get(..n) != START.get(..n) {
            return false;
        }
        match serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
            // A prefix of some JSON text. A number cut after `.`, `e`, `+`
            // or `-` is reported as invalid, at the last byte, not as EOF.
            Err(e) if e.is_eof() => true,
            Err(e) => {
                e.line() == 1
                    && e.column() >= bytes.len()
                    && matches!(bytes.last(), Some(b'.' | b'e' | b'E' | b'+' | b'-'))
            }
            // A whole line without its newline: the next event, or not.
            Ok(_) => {
                let (report, prev) = (self.report.clone(), self.prev.clone());
                let sound = self.line(path, file_name, u.line, &bytes).is_ok();
                (self.report, self.prev) = (report, prev);
                sound
            }
        }
    }

    /// After every file: a torn tail not accepted, or a log without one
    /// complete event, is a problem.
    fn judge_end(&mut self, files: &[PathBuf]) {
        if let Some(t) = &self.report.torn_tail
            && !self.opts.accept_torn_tail
        {
            self.report.problem = Some(VerifyProblem {
                path: t.path.clone(),
                line: Some(t.line),
                kind: ProblemKind::TornTail,
                message: format!(
                    "torn tail: {}. A crashed writer leaves this, and so does an appended or altered last line: the next append moves these bytes to a quarantine file and records them; for a log being written, verify with the torn tail accepted (`--accept-torn-tail`)",
                    t.describe()
                ),
            });
            return;
        }
        if self.report.events == 0 {
            let path = files.last().cloned().unwrap_or_default();
            self.report.problem = Some(VerifyProblem {
                path,
                line: None,
                kind: ProblemKind::Empty,
                message: "no complete event: there is no chain to verify".into(),
            });
        }
    }

    /// Checks a batch of complete lines (the last ends with `\n`): the
    /// per-line work (canonical scan, SHA-256) runs on all cores, then the
    /// chain is walked in order.
    fn batch(
        &mut self,
        path: &Path,
        file_name: &str,
        first: u64,
        batch: &[u8],
    ) -> Result<(), Problem> {
        let mut ranges = std::mem::take(&mut self.ranges);
        let mut pre = std::mem::take(&mut self.pre);
        ranges.clear();
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', batch) {
            ranges.push(start..nl);
            start = nl + 1;
        }
        pre.clear();
        pre.resize_with(ranges.len(), || Pre::Slow);
        let mut leaves = std::mem::take(&mut self.leaves);
        leaves.clear();
        if self.tree.is_some() {
            leaves.resize(ranges.len(), [0u8; 32]);
        }
        if !precheck(batch, &ranges, &mut pre, &mut leaves, self.threads) {
            // Leaves are missing: the tree is checked in a pass of its own.
            self.tree = None;
        }
        if let Some(tree) = self.tree.as_mut() {
            for l in &leaves {
                tree.push(*l);
            }
        }
        self.leaves = leaves;
        let mut result = Ok(());
        for (k, (r, p)) in ranges.iter().zip(pre.iter_mut()).enumerate() {
            let line = batch.get(r.clone()).unwrap_or_default();
            let line_no = first + k as u64;
            result = match std::mem::replace(p, Pre::Slow) {
                Pre::Fast {
                    seq,
                    kind,
                    prev_hash,
                    hash,
                } => self.fast_line(path, file_name, line_no, line, seq, kind, prev_hash, hash),
                Pre::Slow => self.line(path, file_name, line_no, line),
            };
            if result.is_err() {
                break;
            }
        }
        self.ranges = ranges;
        self.pre = pre;
        result
    }

    #[expect(clippy::too_many_arguments, reason = "the pieces of one scanned line")]
    fn fast_line(
        &mut self,
        path: &Path,
        file_name: &str,
        line_no: u64,
        line: &[u8],
        seq: u64,
        kind: EventKind,
        prev_hash: Range<usize>,
        hash: Result<[u8; 64], HashError>,
    ) -> Result<(), Problem> {
        let problem = |kind: ProblemKind, message: String| VerifyProblem {
            path: path.to_path_buf(),
            line: Some(line_no),
            kind,
            message,
        };
        let computed = hash.map_err(|e| problem(ProblemKind::Hash, e.to_string()))?;
        let link = Link {
            seq,
            kind,
            prev_hash: line.get(prev_hash).unwrap_or_default(),
            rotation: None,
            recovery: None,
        };
        self.chain(&link, line_no)
            .map_err(|(kind, message)| problem(kind, message))?;
        self.accept(seq, kind, computed, file_name);
        Ok(())
    }

    /// The slow path, and the reference: parse, write back canonically,
    /// compare; it also handles `rotation`/`recovery` events and words every
    /// error.
    fn line(
        &mut self,
        path: &Path,
        file_name: &str,
        line_no: u64,
        line: &[u8],
    ) -> Result<(), Problem> {
        let problem = |kind: ProblemKind, message: String| VerifyProblem {
            path: path.to_path_buf(),
            line: Some(line_no),
            kind,
            message,
        };
        if line.is_empty() {
            return Err(problem(ProblemKind::Malformed, "empty line".into()));
        }
        let ev: EventRef<'_> = serde_json::from_slice(line).map_err(|e| {
            problem(
                ProblemKind::Malformed,
                format!("not an audit event of schema v{SCHEMA_VERSION}: {e}"),
            )
        })?;
        if !super::event::SUPPORTED_VERSIONS.contains(&ev.v) {
            return Err(problem(
                ProblemKind::Version,
                format!(
                    "schema version {} is not supported (this build reads v1 to v{SCHEMA_VERSION})",
                    ev.v
                ),
            ));
        }
        self.canon.clear();
        let member = canon::write_line(&mut self.canon, &ev.fields(), &ev.hash)
            .map_err(|e| problem(ProblemKind::NotCanonical, e.to_string()))?;
        if self.canon != line {
            let at = self
                .canon
                .iter()
                .zip(line)
                .position(|(a, b)| a != b)
                .unwrap_or(self.canon.len().min(line.len()));
            return Err(problem(
                ProblemKind::NotCanonical,
                format!(
                    "the line is not in canonical (RFC 8785) form: it differs from the canonical form of its own content at byte {} (duplicate keys, a non-canonical number, whitespace, escaping or key order)",
                    at + 1
                ),
            ));
        }
        let computed = check_hash(line, ev.hash.as_bytes(), &member)
            .map_err(|e| problem(ProblemKind::Hash, e.to_string()))?;
        let link = Link {
            seq: ev.seq,
            kind: ev.kind,
            prev_hash: ev.prev_hash.as_bytes(),
            rotation: ev.rotation.as_ref(),
            recovery: ev.recovery.as_ref(),
        };
        self.chain(&link, line_no)
            .map_err(|(kind, message)| problem(kind, message))?;
        self.accept(ev.seq, ev.kind, computed, file_name);
        Ok(())
    }

    /// Accounts for a sound event.
    fn accept(&mut self, seq: u64, kind: EventKind, hash: [u8; 64], file_name: &str) {
        if kind == EventKind::Recovery {
            self.report.recoveries += 1;
        }
        if let Some(f) = self.report.files.last_mut() {
            f.events += 1;
            f.first_seq.get_or_insert(seq);
            f.last_seq = Some(seq);
        }
        self.report.events += 1;
        self.report.first_seq.get_or_insert(seq);
        self.report.last_seq = Some(seq);
        match &mut self.prev {
            Some(p) => {
                p.seq = seq;
                p.hash = hash;
                if p.file_name != file_name {
                    p.file_name = file_name.to_string();
                }
            }
            None => {
                self.prev = Some(Prev {
                    seq,
                    hash,
                    file_name: file_name.to_string(),
                })
            }
        }
    }

    /// The event's place in the chain: seq, prev_hash, rotation links.
    fn chain(&mut self, ev: &Link<'_>, line_no: u64) -> Result<(), (ProblemKind, String)> {
        match ev.kind {
            EventKind::Rotation => {
                let Some(r) = &ev.rotation else {
                    return Err((
                        ProblemKind::Rotation,
                        "a rotation event without `rotation`".into(),
                    ));
                };
                if ev.recovery.is_some() {
                    return Err((
                        ProblemKind::Rotation,
                        "a rotation event with `recovery`".into(),
                    ));
                }
                if line_no != 1 {
                    return Err((
                        ProblemKind::Rotation,
                        "a rotation event in the middle of a file (it must be a file's first line)"
                            .into(),
                    ));
                }
                if r.previous_last_hash.as_bytes() != ev.prev_hash {
                    return Err((
                        ProblemKind::Rotation,
                        "`rotation.previous_last_hash` differs from `prev_hash`".into(),
                    ));
                }
                if r.previous_last_seq.checked_add(1) != Some(ev.seq) {
                    return Err((
                        ProblemKind::Rotation,
                        format!(
                            "`rotation.previous_last_seq` is {} but the event's seq is {}",
                            r.previous_last_seq, ev.seq
                        ),
                    ));
                }
                if let Some(p) = &self.prev
                    && p.file_name != r.previous_file
                {
                    return Err((
                        ProblemKind::Rotation,
                        format!(
                            "the rotation event links to `{}` but the previous file is `{}` (a file missing or renamed?)",
                            r.previous_file, p.file_name
                        ),
                    ));
                }
            }
            EventKind::Recovery => {
                if ev.recovery.is_none() || ev.rotation.is_some() {
                    return Err((
                        ProblemKind::Recovery,
                        "a recovery event must have `recovery` and no `rotation`".into(),
                    ));
                }
            }
            EventKind::Decision | EventKind::Approval => {
                if ev.recovery.is_some() || ev.rotation.is_some() {
                    return Err((
                        ProblemKind::Malformed,
                        format!(
                            "a {} event must not have `recovery` or `rotation`",
                            ev.kind.as_str()
                        ),
                    ));
                }
            }
        }
        match &self.prev {
            None => {
                if ev.seq == 1 {
                    if ev.prev_hash != GENESIS_HASH.as_bytes() {
                        return Err((
                            ProblemKind::Link,
                            "the first event (seq 1) must have a `prev_hash` of 64 zeros".into(),
                        ));
                    }
                } else if ev.kind == EventKind::Rotation {
                    let prev_file = ev
                        .rotation
                        .as_ref()
                        .map(|r| r.previous_file.as_str())
                        .unwrap_or_default();
                    self.report.notes.push(format!(
                        "the chain starts at seq {} (continuing `{prev_file}`, which was not given): earlier events were not checked",
                        ev.seq
                    ));
                } else {
                    return Err((
                        ProblemKind::Start,
                        format!(
                            "the log starts at seq {}, not 1, and not with a rotation event (events or files missing at the start?)",
                            ev.seq
                        ),
                    ));
                }
            }
            Some(p) => {
                if line_no == 1 && ev.kind != EventKind::Rotation {
                    return Err((
                        ProblemKind::Rotation,
                        "the file does not start with a rotation event linking it to the previous file".into(),
                    ));
                }
                if ev.seq != p.seq.saturating_add(1) {
                    return Err((
                        ProblemKind::Seq,
                        format!(
                            "seq {} follows seq {} (expected {}): an event was removed, inserted, duplicated or moved",
                            ev.seq,
                            p.seq,
                            p.seq.saturating_add(1)
                        ),
                    ));
                }
                if ev.prev_hash != p.hash.as_slice() {
                    return Err((
                        ProblemKind::Link,
                        "`prev_hash` is not the previous event's hash: an event before this one was removed or replaced".into(),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// What waiting for the log's lock gave.
enum LockWait {
    /// The log has no lock file: no writer has ever opened it here.
    NoLockFile,
    /// The lock, held (shared) until dropped.
    Taken(File),
    /// Writers held it for the whole wait.
    Busy,
}

/// Takes the log's lock (shared) within `wait`: writers hold it exclusively
/// while they write, so holding it means no line is in flight. The lock of
/// a rotated file is its log's (`audit.jsonl.lock`).
fn wait_for_writers(path: &Path, file_name: &str, wait: Duration) -> LockWait {
    let active = match parse_rotated_name(file_name) {
        Some(r) => path.with_file_name(r.active_name),
        None => path.to_path_buf(),
    };
    let Ok(lock) = File::open(files::lock_path(&active)) else {
        return LockWait::NoLockFile;
    };
    let deadline = Instant::now() + wait;
    let mut pause = Duration::from_micros(50);
    loop {
        match lock.try_lock_shared() {
            Ok(()) => return LockWait::Taken(lock),
            Err(std::fs::TryLockError::WouldBlock) => {}
            // Locking unsupported here: judge the bytes as they are.
            Err(std::fs::TryLockError::Error(_)) => return LockWait::NoLockFile,
        }
        let now = Instant::now();
        if now >= deadline {
            return LockWait::Busy;
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}

/// What the chain check looks at.
struct Link<'a> {
    seq: u64,
    kind: EventKind,
    prev_hash: &'a [u8],
    rotation: Option<&'a RotationInfo>,
    recovery: Option<&'a RecoveryInfo>,
}

/// Why a line's `hash` is wrong (a [`ProblemKind::Hash`] problem).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum HashError {
    #[error("`hash` is not 64 lowercase hex digits")]
    NotHex,
    #[error(
        "`hash` does not match the event's content (the content hashes to {computed}): the line was changed"
    )]
    Mismatch { computed: String },
}

/// Checks `hash` (as written in the line) against the line's content.
fn check_hash(line: &[u8], hash: &[u8], member: &Range<usize>) -> Result<[u8; 64], HashError> {
    if hash.len() != 64 || !hash.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(HashError::NotHex);
    }
    let computed = canon::hash_without(line, member);
    if computed.as_slice() != hash {
        return Err(HashError::Mismatch {
            computed: String::from_utf8_lossy(&computed).into_owned(),
        });
    }
    Ok(computed)
}
