//! Reading events back: filters, "last N", and following a live log.
//!
//! Nothing here loads a whole file: forward passes stream the files in large
//! blocks, "last N" reads the files backwards block by block and stops as soon
//! as it has N matching events, and [`Follower`] polls the active file from
//! where it stopped. A torn final line (a writer stopped mid-write) is not an
//! event yet and is skipped; any other unreadable line is an error (run
//! [`verify`](super::verify) for the full check).

use std::fs::File;
use std::ops::ControlFlow;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::AuditError;
use super::event::{AuditEvent, EventKind, EventRef};
use super::files::{self, resolve_paths};
use super::log::format_timestamp;

/// Which events to return. Every field set must match (AND); an unset field
/// matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only events of this kind.
    pub kind: Option<EventKind>,
    /// Only events with this `decision` (exact match, e.g. `deny`).
    pub decision: Option<String>,
    /// Only events with this `caller`.
    pub caller: Option<String>,
    /// Only events with this `action`.
    pub action: Option<String>,
    /// Only events with this `correlation_id`.
    pub correlation_id: Option<String>,
    /// Only events logged at or after this time (`timestamp`).
    pub since: Option<jiff::Timestamp>,
    /// Only events logged at or before this time (`timestamp`).
    pub until: Option<jiff::Timestamp>,
}

/// The filter with its time bounds in the log's timestamp format, which sorts
/// like time, so comparing needs no parsing.
struct Matcher<'f> {
    f: &'f EventFilter,
    since: Option<String>,
    until: Option<String>,
}

impl<'f> Matcher<'f> {
    fn new(f: &'f EventFilter) -> Self {
        Matcher {
            f,
            since: f.since.map(format_timestamp),
            until: f.until.map(format_timestamp),
        }
    }

    fn matches(&self, ev: &EventRef<'_>) -> bool {
        fn eq(want: &Option<String>, got: &Option<std::borrow::Cow<'_, str>>) -> bool {
            want.as_deref()
                .is_none_or(|w| got.as_deref().is_some_and(|g| g == w))
        }
        self.f.kind.is_none_or(|k| k == ev.kind)
            && eq(&self.f.decision, &ev.decision)
            && eq(&self.f.caller, &ev.caller)
            && eq(&self.f.action, &ev.action)
            && eq(&self.f.correlation_id, &ev.correlation_id)
            && self.since.as_deref().is_none_or(|s| &*ev.timestamp >= s)
            && self.until.as_deref().is_none_or(|u| &*ev.timestamp <= u)
    }
}

fn parse<'l>(path: &Path, line_no: u64, line: &'l [u8]) -> Result<EventRef<'l>, AuditError> {
    serde_json::from_slice(line).map_err(|e| AuditError::Malformed {
        path: path.to_path_buf(),
        line: line_no,
        reason: e.to_string(),
    })
}

/// Calls `f` with every matching event of `paths` (files and directories, as
/// for [`verify`](super::verify)), oldest first, until `f` breaks.
pub fn for_each_event(
    paths: &[PathBuf],
    filter: &EventFilter,
    mut f: impl FnMut(AuditEvent) -> ControlFlow<()>,
) -> Result<(), AuditError> {
    let m = Matcher::new(filter);
    let mut buf = Vec::new();
    for path in resolve_paths(paths)? {
        let file = File::open(&path).map_err(|e| AuditError::io(&path, "open", e))?;
        let mut err = None;
        let end = files::for_each_line(&file, 0, 0, &mut buf, |line_no, _, line| {
            match parse(&path, line_no, line) {
                Ok(ev) if m.matches(&ev) => f(ev.into_owned()),
                Ok(_) => ControlFlow::Continue(()),
                Err(e) => {
                    err = Some(e);
                    ControlFlow::Break(())
                }
            }
        })
        .map_err(|e| AuditError::io(&path, "read", e))?;
        if let Some(e) = err {
            return Err(e);
        }
        if end.stopped {
            return Ok(());
        }
    }
    Ok(())
}

/// Calls `f(path, batch)` with the complete lines of `paths` (files and
/// directories, as for [`verify`](super::verify)), oldest first, about a
/// mebibyte at a time: `batch` holds whole lines, each ending in `\n`. For
/// readers that parse only the fields they need, or lines in parallel
/// (`replay`); a torn final line is not handed out. Stops when `f` breaks.
pub(crate) fn for_each_line_batch(
    paths: &[PathBuf],
    mut f: impl FnMut(&Path, &[u8]) -> ControlFlow<()>,
) -> Result<(), AuditError> {
    let mut buf = Vec::new();
    for path in resolve_paths(paths)? {
        let file = File::open(&path).map_err(|e| AuditError::io(&path, "open", e))?;
        let end = files::for_each_batch(&file, 0, 0, &mut buf, 1 << 20, |_, _, batch| {
            f(&path, batch)
        })
        .map_err(|e| AuditError::io(&path, "read", e))?;
        if end.stopped {
            return Ok(());
        }
    }
    Ok(())
}

/// The matching events of `paths`, oldest first; with `last: Some(n)`, only
/// the newest `n` of them (read backwards, so the cost is proportional to
/// what is skipped from the end, not to the size of the log).
pub fn read_events(
    paths: &[PathBuf],
    filter: &EventFilter,
    last: Option<usize>,
) -> Result<Vec<AuditEvent>, AuditError> {
    let Some(n) = last else {
        let mut out = Vec::new();
        for_each_event(paths, filter, |ev| {
            out.push(ev);
            ControlFlow::Continue(())
        })?;
        return Ok(out);
    };
    let mut out = Vec::with_capacity(n.min(4096));
    if n == 0 {
        return Ok(out);
    }
    let m = Matcher::new(filter);
    for path in resolve_paths(paths)?.iter().rev() {
        let file = File::open(path).map_err(|e| AuditError::io(path, "open", e))?;
        let len = file
            .metadata()
            .map_err(|e| AuditError::io(path, "stat", e))?
            .len();
        // Complete lines only: skip a torn tail.
        let end = files::last_newline_before(&file, len)
            .map_err(|e| AuditError::io(path, "read", e))?
            .map_or(0, |p| p + 1);
        let mut err = None;
        let stopped = files::for_each_line_rev(&file, end, |offset, line| {
            match parse(path, 0, line).map_err(|e| match e {
                AuditError::Malformed { path, line, reason } => AuditError::Malformed {
                    path,
                    line,
                    reason: format!("at byte {offset}: {reason}"),
                },
                other => other,
            }) {
                Ok(ev) if m.matches(&ev) => {
                    out.push(ev.into_owned());
                    if out.len() >= n {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                }
                Ok(_) => ControlFlow::Continue(()),
                Err(e) => {
                    err = Some(e);
                    ControlFlow::Break(())
                }
            }
        })
        .map_err(|e| AuditError::io(path, "read", e))?;
        if let Some(e) = err {
            return Err(e);
        }
        if stopped {
            break;
        }
    }
    out.reverse();
    Ok(out)
}

/// Follows a live log (`audit tail --follow`): each [`Follower::poll`] returns
/// the matching events appended since the previous one, across rotations
/// (when the active file is renamed away, the rest of it is read, then any
/// file rotated after it, then the new active file).
#[derive(Debug)]
pub struct Follower {
    path: PathBuf,
    filter: EventFilter,
    current: Option<Current>,
    last_seq: Option<u64>,
    buf: Vec<u8>,
}

#[derive(Debug)]
struct Current {
    file: File,
    path: PathBuf,
    id: (u64, u64),
    offset: u64,
    line: u64,
}

fn file_id(md: &std::fs::Metadata) -> (u64, u64) {
    (md.dev(), md.ino())
}

impl Follower {
    /// Follows `active` (the log's active file) from its current end.
    pub fn new(active: &Path, filter: EventFilter) -> Result<Follower, AuditError> {
        let mut f = Follower::from_start(active, filter)?;
        if let Some(c) = &mut f.current {
            let len = c
                .file
                .metadata()
                .map_err(|e| AuditError::io(active, "stat", e))?
                .len();
            let end = files::last_newline_before(&c.file, len)
                .map_err(|e| AuditError::io(active, "read", e))?;
            if let Some(p) = end {
                let start = files::last_newline_before(&c.file, p)
                    .map_err(|e| AuditError::io(active, "read", e))?
                    .map_or(0, |q| q + 1);
                let line = files::read_range(&c.file, start, p)
                    .map_err(|e| AuditError::io(active, "read", e))?;
                f.last_seq = parse(active, 0, &line).ok().map(|ev| ev.seq);
                c.offset = p + 1;
            }
        }
        Ok(f)
    }

    /// Follows `active` from its first line.
    pub fn from_start(active: &Path, filter: EventFilter) -> Result<Follower, AuditError> {
        Ok(Follower {
            path: active.to_path_buf(),
            filter,
            current: open(active)?,
            last_seq: None,
            buf: Vec::new(),
        })
    }

    /// The matching events appended since the last call (complete lines only).
    pub fn poll(&mut self) -> Result<Vec<AuditEvent>, AuditError> {
        let mut out = Vec::new();
        self.drain(&mut out)?;
        // Bounded: each step moves to a file of later seqs, or stops.
        for _ in 0..100_000 {
            let active = match std::fs::metadata(&self.path) {
                Ok(md) => file_id(&md),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(e) => return Err(AuditError::io(&self.path, "stat", e)),
            };
            if self.current.as_ref().is_some_and(|c| c.id == active) {
                break;
            }
            // The file we read was rotated away (a writer may have appended
            // to it just before): finish it, then go to its successor.
            self.drain(&mut out)?;
            let next_seq = self.last_seq.map_or(1, |s| s.saturating_add(1));
            let successor = files::rotated_files(&self.path)?
                .into_iter()
                .find(|(_, r)| r.first_seq == next_seq)
                .map(|(p, _)| p);
            self.current = match successor {
                Some(p) => open(&p)?,
                None => open(&self.path)?,
            };
            self.drain(&mut out)?;
        }
        Ok(out)
    }

    /// Polls every `interval` and hands each new matching event to `f` until
    /// it breaks (or an error occurs).
    pub fn follow(
        &mut self,
        interval: Duration,
        mut f: impl FnMut(AuditEvent) -> ControlFlow<()>,
    ) -> Result<(), AuditError> {
        loop {
            for ev in self.poll()? {
                if f(ev).is_break() {
                    return Ok(());
                }
            }
            std::thread::sleep(interval);
        }
    }

    fn drain(&mut self, out: &mut Vec<AuditEvent>) -> Result<(), AuditError> {
        let Some(c) = &mut self.current else {
            return Ok(());
        };
        let m = Matcher::new(&self.filter);
        let mut err = None;
        let mut last_seq = self.last_seq;
        let path = &c.path;
        let end = files::for_each_line(
            &c.file,
            c.offset,
            c.line,
            &mut self.buf,
            |line_no, _, line| match parse(path, line_no, line) {
                Ok(ev) => {
                    last_seq = Some(ev.seq);
                    if m.matches(&ev) {
                        out.push(ev.into_owned());
                    }
                    ControlFlow::Continue(())
                }
                Err(e) => {
                    err = Some(e);
                    ControlFlow::Break(())
                }
            },
        )
        .map_err(|e| AuditError::io(path, "read", e))?;
        self.last_seq = last_seq;
        if let Some(e) = err {
            return Err(e);
        }
        c.offset = end.end;
        c.line = end.line;
        Ok(())
    }
}

fn open(path: &Path) -> Result<Option<Current>, AuditError> {
    match File::open(path) {
        Ok(file) => {
            let md = file
                .metadata()
                .map_err(|e| AuditError::io(path, "stat", e))?;
            Ok(Some(Current {
                file,
                path: path.to_path_buf(),
                id: file_id(&md),
                offset: 0,
                line: 0,
            }))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(AuditError::io(path, "open", e)),
    }
}
