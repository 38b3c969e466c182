//! Finding an event by its `audit_id` (`event_id`) for an inclusion proof.
//!
//! The id is a UUID v7, which carries the time the writer made it; the log
//! is in time order, so a binary search on `timestamp` finds the region that
//! holds the event, and only that region is read. When the search misses (a
//! clock that stepped back, an id that is not a v7), the log is scanned from
//! its newest event backwards.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::AuditError;

/// How far past the time in its UUID v7 id the fast lookup scans for an
/// event (the log writes both from the same instant; a clock that stepped
/// back can put events out of order, and then the full scan finds them).
const LOOKUP_MARGIN_MS: i64 = 1_000;

/// The binary search stops when the region left is this small; the region
/// is then read in windows of this size.
const WINDOW: u64 = 16 * 1024;

/// The first read of a probe: a line of the log is usually under 1 KiB.
const PROBE: usize = 4 * 1024;

#[derive(Deserialize)]
struct LineIds<'a> {
    seq: u64,
    #[serde(borrow)]
    event_id: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    timestamp: std::borrow::Cow<'a, str>,
}

/// The `timestamp` of an event line, in ms since the epoch. Canonical JSON
/// sorts the keys, and `timestamp` is the last one but `v`, so it is found
/// near the end of the line without parsing the rest; anything unexpected
/// falls back to parsing the line.
fn line_millis(line: &[u8]) -> Option<i64> {
    const KEY: &[u8] = b"\"timestamp\":\"";
    let tail = line.get(line.len().saturating_sub(64)..).unwrap_or(line);
    let fast = memchr::memmem::rfind(tail, KEY).and_then(|at| {
        let rest = tail.get(at + KEY.len()..)?;
        let end = memchr::memchr(b'"', rest)?;
        let ts: jiff::Timestamp = std::str::from_utf8(rest.get(..end)?).ok()?.parse().ok()?;
        Some(ts.as_millisecond())
    });
    fast.or_else(|| {
        let ids: LineIds<'_> = serde_json::from_slice(line).ok()?;
        let t: jiff::Timestamp = ids.timestamp.parse().ok()?;
        Some(t.as_millisecond())
    })
}

/// Reads `file[at..]`, at most `want` bytes (fewer at the end of the file).
fn read_some(file: &File, at: u64, want: usize, len: u64) -> io::Result<Vec<u8>> {
    let n = usize::try_from(len.saturating_sub(at))
        .unwrap_or(usize::MAX)
        .min(want);
    let mut buf = vec![0u8; n];
    file.read_exact_at(&mut buf, at)?;
    Ok(buf)
}

/// The complete line starting at or after `off` (its start and bytes),
/// reading a few KiB at a time.
fn line_from(file: &File, off: u64, len: u64) -> io::Result<Option<(u64, Vec<u8>)>> {
    // The start: just after the first `\n` at or after `off - 1`.
    let mut start = 0u64;
    if off > 0 {
        let mut at = off - 1;
        loop {
            if at >= len {
                return Ok(None);
            }
            let chunk = read_some(file, at, PROBE, len)?;
            if let Some(i) = memchr::memchr(b'\n', &chunk) {
                start = at + i as u64 + 1;
                break;
            }
            at += chunk.len() as u64;
        }
    }
    let mut line = Vec::new();
    let mut at = start;
    while at < len {
        let chunk = read_some(file, at, PROBE.max(line.len()), len)?;
        match memchr::memchr(b'\n', &chunk) {
            Some(i) => {
                line.extend_from_slice(chunk.get(..i).unwrap_or_default());
                return Ok(Some((start, line)));
            }
            None => {
                line.extend_from_slice(&chunk);
                at += chunk.len() as u64;
            }
        }
    }
    Ok(None)
}

/// What a line says about the event looked for.
enum Seen {
    Found(u64, Vec<u8>),
    /// Past the window: the event is not where its time says.
    Past,
    Go,
}

fn look_at(line: &[u8], audit_id: &str, finder: &memchr::memmem::Finder<'_>, hi_t: i64) -> Seen {
    // The pattern may also be a key inside `params`/`context`: only the
    // event's own top-level `event_id` counts.
    if finder.find(line).is_some()
        && let Ok(ids) = serde_json::from_slice::<LineIds<'_>>(line)
        && ids.event_id == audit_id
        && ids.seq > 0
    {
        return Seen::Found(ids.seq, line.to_vec());
    }
    if line_millis(line).is_some_and(|t| t > hi_t) {
        return Seen::Past;
    }
    Seen::Go
}

/// The fast lookup by the time in the UUID v7 id. `None` when it does not
/// find the event (the caller then scans).
fn find_event_by_time(files: &[PathBuf], audit_id: &str) -> Option<(u64, String)> {
    let u = uuid::Uuid::parse_str(audit_id).ok()?;
    if u.get_version_num() != 7 {
        return None;
    }
    let (secs, nanos) = u.get_timestamp()?.to_unix();
    let want = i64::try_from(secs).ok()?.checked_mul(1000)? + i64::from(nanos / 1_000_000);
    let (lo_t, hi_t) = (want, want + LOOKUP_MARGIN_MS);
    let needle = format!("\"event_id\":\"{audit_id}\"");
    let finder = memchr::memmem::Finder::new(needle.as_bytes());
    for path in files.iter().rev() {
        let file = File::open(path).ok()?;
        let len = file.metadata().ok()?.len();
        let first = line_from(&file, 0, len).ok()??;
        if line_millis(&first.1)? > hi_t {
            continue; // the whole file is newer
        }
        // The last offset whose line is older than the window.
        let (mut lo, mut hi) = (0u64, len);
        while hi - lo > WINDOW {
            let mid = lo + (hi - lo) / 2;
            match line_from(&file, mid, len).ok()? {
                Some((_, l)) if line_millis(&l)? < lo_t => lo = mid,
                _ => hi = mid,
            }
        }
        // Read on from the line at `lo`, a window at a time, until the
        // event or a line past the window.
        let mut at = line_from(&file, lo, len).ok()??.0;
        let mut carry: Vec<u8> = Vec::new();
        while at < len {
            let chunk = read_some(&file, at, WINDOW as usize, len).ok()?;
            at += chunk.len() as u64;
            carry.extend_from_slice(&chunk);
            let mut line_start = 0usize;
            for nl in memchr::memchr_iter(b'\n', &carry) {
                let line = carry.get(line_start..nl).unwrap_or_default();
                match look_at(line, audit_id, &finder, hi_t) {
                    Seen::Found(seq, line) => {
                        return String::from_utf8(line).ok().map(|l| (seq, l));
                    }
                    Seen::Past => return None,
                    Seen::Go => {}
                }
                line_start = nl + 1;
            }
            carry.drain(..line_start);
        }
        return None;
    }
    None
}

/// The `seq` and line (without `\n`) of the event `audit_id`: by time first
/// (UUID v7), else searching the log from its newest event backwards.
pub(super) fn find_event(active: &Path, audit_id: &str) -> Result<(u64, String), AuditError> {
    let files = super::files::log_files(active)?;
    if let Some(found) = find_event_by_time(&files, audit_id) {
        return Ok(found);
    }
    find_event_by_scan(active, audit_id)
}

fn find_event_by_scan(active: &Path, audit_id: &str) -> Result<(u64, String), AuditError> {
    let needle = format!("\"event_id\":\"{audit_id}\"");
    let finder = memchr::memmem::Finder::new(needle.as_bytes());
    let files = super::files::log_files(active)?;
    for path in files.iter().rev() {
        let file = match File::open(path) {
            Ok(f) => f,
            // Rotated away while we scanned: its events are in the rotated
            // file we read next, or in the new active file (too new anyway).
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(AuditError::io(path, "open", e)),
        };
        let len = file
            .metadata()
            .map_err(|e| AuditError::io(path, "stat", e))?
            .len();
        let end = match super::files::last_newline_before(&file, len)
            .map_err(|e| AuditError::io(path, "read", e))?
        {
            Some(p) => p + 1,
            None => continue,
        };
        #[derive(Deserialize)]
        struct Ids<'a> {
            seq: u64,
            #[serde(borrow)]
            event_id: std::borrow::Cow<'a, str>,
        }
        let mut found: Option<(u64, Vec<u8>)> = None;
        super::files::for_each_line_rev(&file, end, |_, line| {
            // The pattern may also be a key inside `params`/`context`: only
            // the event's own top-level `event_id` counts.
            if finder.find(line).is_some()
                && let Ok(ids) = serde_json::from_slice::<Ids<'_>>(line)
                && ids.event_id == audit_id
                && ids.seq > 0
            {
                found = Some((ids.seq, line.to_vec()));
                return std::ops::ControlFlow::Break(());
            }
            std::ops::ControlFlow::Continue(())
        })
        .map_err(|e| AuditError::io(path, "read", e))?;
        if let Some((seq, line)) = found {
            let line = String::from_utf8(line).map_err(|e| AuditError::Malformed {
                path: path.clone(),
                line: 0,
                reason: e.to_string(),
            })?;
            return Ok((seq, line));
        }
    }
    Err(AuditError::Usage {
        path: active.to_path_buf(),
        reason: format!("no event with audit id `{audit_id}` in the log"),
    })
}
