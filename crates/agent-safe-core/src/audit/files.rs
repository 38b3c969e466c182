//! File naming, discovery and ordering, and small positional-read helpers.
//!
//! Naming scheme, for an active file `audit.jsonl`:
//! - rotated files: `audit.<first seq>-<last seq>.jsonl`, both seqs zero-padded
//!   to 20 digits (the width of `u64::MAX`), so names sort in seq order;
//! - lock file: `audit.jsonl.lock` (created once, never renamed or removed);
//! - quarantined torn tails: `audit.jsonl.quarantine-<unix seconds>[-<n>]`.

use std::fs::{self, File};
use std::io;
use std::ops::ControlFlow;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::error::AuditError;

/// Width of the zero-padded seq numbers in rotated file names.
pub const SEQ_WIDTH: usize = 20;

/// A rotated file name taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotatedName {
    /// Name of the active file it was rotated from (`audit.jsonl`).
    pub active_name: String,
    /// `seq` of its first event.
    pub first_seq: u64,
    /// `seq` of its last event.
    pub last_seq: u64,
}

fn split_ext(name: &str) -> (&str, &str) {
    match Path::new(name).extension().and_then(|e| e.to_str()) {
        Some(ext) if name.len() > ext.len() + 1 => name.split_at(name.len() - ext.len() - 1),
        _ => (name, ""),
    }
}

/// The name a file gets when it is rotated: `audit.jsonl` holding seqs 1..=42
/// becomes `audit.00000000000000000001-00000000000000000042.jsonl`.
pub fn rotated_file_name(active_name: &str, first_seq: u64, last_seq: u64) -> String {
    let (stem, ext) = split_ext(active_name);
    format!("{stem}.{first_seq:0SEQ_WIDTH$}-{last_seq:0SEQ_WIDTH$}{ext}")
}

/// Takes a rotated file name apart; `None` when `name` is not one.
pub fn parse_rotated_name(name: &str) -> Option<RotatedName> {
    let bytes = name.as_bytes();
    let pattern_len = 1 + SEQ_WIDTH + 1 + SEQ_WIDTH;
    // The seq range is the last `.<20 digits>-<20 digits>` in the name,
    // followed by nothing or by one extension (`.jsonl`).
    let mut i = bytes.len().checked_sub(pattern_len)?;
    loop {
        if let Some(found) = rotated_at(name, i, pattern_len) {
            return Some(found);
        }
        i = i.checked_sub(1)?;
    }
}

fn rotated_at(name: &str, i: usize, pattern_len: usize) -> Option<RotatedName> {
    let bytes = name.as_bytes();
    let pat = bytes.get(i..i + pattern_len)?;
    let (dot, rest) = pat.split_first()?;
    let (first, rest) = rest.split_at_checked(SEQ_WIDTH)?;
    let (dash, last) = rest.split_first()?;
    if *dot != b'.' || *dash != b'-' || i == 0 {
        return None;
    }
    if !first.iter().chain(last).all(u8::is_ascii_digit) {
        return None;
    }
    let ext = name.get(i + pattern_len..)?;
    if !(ext.is_empty()
        || (ext.starts_with('.')
            && ext.len() > 1
            && !ext.get(1..).unwrap_or_default().contains('.')))
    {
        return None;
    }
    let stem = name.get(..i)?;
    Some(RotatedName {
        active_name: format!("{stem}{ext}"),
        first_seq: std::str::from_utf8(first).ok()?.parse().ok()?,
        last_seq: std::str::from_utf8(last).ok()?.parse().ok()?,
    })
}

/// The lock file of a log: `<log>.lock`.
pub fn lock_path(active: &Path) -> PathBuf {
    let mut s = active.as_os_str().to_owned();
    s.push(".lock");
    PathBuf::from(s)
}

/// The directory holding `path` ("." for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The rotated files of the log whose active file is `active`, oldest first.
pub(crate) fn rotated_files(active: &Path) -> Result<Vec<(PathBuf, RotatedName)>, AuditError> {
    let Some(name) = active.file_name().and_then(|n| n.to_str()) else {
        return Err(AuditError::Usage {
            path: active.to_path_buf(),
            reason: "the log path must end in a UTF-8 file name".into(),
        });
    };
    let dir = parent_dir(active);
    let mut found = Vec::new();
    let entries = fs::read_dir(&dir).map_err(|e| AuditError::io(&dir, "read directory", e))?;
    for entry in entries {
        let entry = entry.map_err(|e| AuditError::io(&dir, "read directory", e))?;
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        if let Some(r) = parse_rotated_name(file_name)
            && r.active_name == name
        {
            found.push((dir.join(file_name), r));
        }
    }
    found.sort_by_key(|(_, r)| (r.first_seq, r.last_seq));
    Ok(found)
}

/// Every file of the log whose active file is `active`: the rotated files in
/// seq order, then the active file if it exists. This is what the CLI hands
/// to [`read_events`](super::read_events) for `audit tail`.
pub fn log_files(active: &Path) -> Result<Vec<PathBuf>, AuditError> {
    let mut files: Vec<PathBuf> = rotated_files(active)?.into_iter().map(|(p, _)| p).collect();
    if active.is_file() {
        files.push(active.to_path_buf());
    }
    Ok(files)
}

/// Turns the paths a user gave (files and directories) into the ordered list
/// of files of one log.
///
/// A directory stands for every file of the one log in it (rotated files and
/// the active file); a directory holding files of several logs is refused. The
/// result is ordered by seq: a rotated file by the seqs in its name, any other
/// file by the `seq` of its first line (an empty file last).
pub fn resolve_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, AuditError> {
    let mut files: Vec<PathBuf> = Vec::new();
    for p in paths {
        if p.is_dir() {
            files.extend(files_in_dir(p)?);
        } else {
            files.push(p.clone());
        }
    }
    let mut keyed = Vec::with_capacity(files.len());
    let mut seen = std::collections::HashSet::new();
    for f in files {
        let canonical = fs::canonicalize(&f).unwrap_or_else(|_| f.clone());
        if !seen.insert(canonical) {
            continue;
        }
        let key = order_key(&f)?;
        keyed.push((key, f));
    }
    keyed.sort_by_key(|a| a.0);
    Ok(keyed.into_iter().map(|(_, f)| f).collect())
}

fn order_key(f: &Path) -> Result<(u64, u64, u8), AuditError> {
    let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if let Some(r) = parse_rotated_name(name) {
        return Ok((r.first_seq, r.last_seq, 0));
    }
    let file = File::open(f).map_err(|e| AuditError::io(f, "open", e))?;
    let first = first_line(&file, 64 * 1024).map_err(|e| AuditError::io(f, "read", e))?;
    let seq = first.and_then(|line| peek_seq(&line)).unwrap_or(u64::MAX);
    Ok((seq, u64::MAX, 1))
}

fn peek_seq(line: &[u8]) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct Seq {
        seq: u64,
    }
    serde_json::from_slice::<Seq>(line).ok().map(|s| s.seq)
}

/// The files of the one log in `dir`.
fn files_in_dir(dir: &Path) -> Result<Vec<PathBuf>, AuditError> {
    let mut rotated = Vec::new();
    let mut others = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| AuditError::io(dir, "read directory", e))?;
    for entry in entries {
        let entry = entry.map_err(|e| AuditError::io(dir, "read directory", e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
            continue;
        }
        if let Some(r) = parse_rotated_name(name) {
            rotated.push((name.to_string(), r));
        } else if name.ends_with(".jsonl") {
            others.push(name.to_string());
        }
    }
    let mut logs: Vec<String> = rotated.iter().map(|(_, r)| r.active_name.clone()).collect();
    logs.extend(others.iter().cloned());
    logs.sort();
    logs.dedup();
    match logs.as_slice() {
        [] => Err(AuditError::Usage {
            path: dir.to_path_buf(),
            reason: "no audit log files in this directory".into(),
        }),
        [active] => {
            let mut files: Vec<PathBuf> = rotated.iter().map(|(n, _)| dir.join(n)).collect();
            if others.contains(active) {
                files.push(dir.join(active));
            }
            Ok(files)
        }
        several => Err(AuditError::Usage {
            path: dir.to_path_buf(),
            reason: format!(
                "the directory holds the files of several logs ({}); name the files of one log",
                several
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

/// Reads the first line (without its `\n`); `None` if the file holds no `\n`
/// within `limit` bytes.
pub(crate) fn first_line(file: &File, limit: usize) -> io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::new();
    let mut block = vec![0u8; 8192];
    let mut off = 0u64;
    while buf.len() < limit {
        let n = file.read_at(&mut block, off)?;
        if n == 0 {
            return Ok(None);
        }
        let chunk = block.get(..n).unwrap_or_default();
        if let Some(i) = memchr::memchr(b'\n', chunk) {
            buf.extend_from_slice(chunk.get(..i).unwrap_or_default());
            return Ok(Some(buf));
        }
        buf.extend_from_slice(chunk);
        off += n as u64;
    }
    Ok(None)
}

/// Position of the last `\n` strictly before `end`, searching backwards.
pub(crate) fn last_newline_before(file: &File, end: u64) -> io::Result<Option<u64>> {
    const BLOCK: u64 = 16 * 1024;
    let mut hi = end;
    let mut block = vec![0u8; BLOCK as usize];
    while hi > 0 {
        let lo = hi.saturating_sub(BLOCK);
        let len = (hi - lo) as usize;
        let buf = block.get_mut(..len).unwrap_or_default();
        file.read_exact_at(buf, lo)?;
        if let Some(i) = memchr::memrchr(b'\n', buf) {
            return Ok(Some(lo + i as u64));
        }
        hi = lo;
    }
    Ok(None)
}

/// Reads `start..end` of `file`.
pub(crate) fn read_range(file: &File, start: u64, end: u64) -> io::Result<Vec<u8>> {
    let len = usize::try_from(end.saturating_sub(start))
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "line too long"))?;
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, start)?;
    Ok(buf)
}

/// The last complete line of a file of length `len`, and where torn bytes
/// (after the last `\n`) start, if any.
pub(crate) struct TailScan {
    /// Start offset and bytes (without `\n`) of the last complete line.
    pub last_line: Option<(u64, Vec<u8>)>,
    /// Offset just after the last `\n` when bytes follow it.
    pub torn_from: Option<u64>,
}

pub(crate) fn scan_tail(file: &File, len: u64) -> io::Result<TailScan> {
    if len == 0 {
        return Ok(TailScan {
            last_line: None,
            torn_from: None,
        });
    }
    let end_nl = last_newline_before(file, len)?;
    let torn_from = match end_nl {
        Some(p) if p + 1 == len => None,
        Some(p) => Some(p + 1),
        None => Some(0),
    };
    let last_line = match end_nl {
        Some(p) => {
            let start = last_newline_before(file, p)?.map_or(0, |q| q + 1);
            Some((start, read_range(file, start, p)?))
        }
        None => None,
    };
    Ok(TailScan {
        last_line,
        torn_from,
    })
}

/// Bytes after the last `\n` of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unterminated {
    /// The line number they would have.
    pub line: u64,
    /// Where they start.
    pub offset: u64,
    /// How many there are.
    pub len: u64,
}

/// How a [`for_each_line`] pass ended.
pub(crate) struct LinesEnd {
    /// Whether the callback stopped the pass.
    pub stopped: bool,
    /// Trailing bytes without a `\n` (only when not stopped).
    pub unterminated: Option<Unterminated>,
    /// Offset just after the last complete line seen.
    pub end: u64,
    /// Number of the last complete line seen.
    pub line: u64,
}

const READ_BLOCK: usize = 1 << 20;

/// Calls `f(line_number, offset, line)` for every complete line of `file`
/// from byte `start` on (`line` without its `\n`; numbers continue from
/// `line_before`), reading in large blocks into `buf` without allocating per
/// line.
pub(crate) fn for_each_line(
    file: &File,
    start: u64,
    line_before: u64,
    buf: &mut Vec<u8>,
    mut f: impl FnMut(u64, u64, &[u8]) -> ControlFlow<()>,
) -> io::Result<LinesEnd> {
    let mut stopped_at = None;
    let mut end = for_each_batch(
        file,
        start,
        line_before,
        buf,
        READ_BLOCK,
        |first, base, batch| {
            let mut line_start = 0usize;
            for (k, nl) in memchr::memchr_iter(b'\n', batch).enumerate() {
                let line_no = first + k as u64;
                let line = batch.get(line_start..nl).unwrap_or_default();
                if f(line_no, base + line_start as u64, line).is_break() {
                    stopped_at = Some((base + nl as u64 + 1, line_no));
                    return ControlFlow::Break(());
                }
                line_start = nl + 1;
            }
            ControlFlow::Continue(())
        },
    )?;
    if let Some((offset, line)) = stopped_at {
        end.end = offset;
        end.line = line;
    }
    Ok(end)
}

/// Calls `f(first_line_number, offset, batch)` with successive batches of
/// complete lines of `file` from byte `start` on; each batch ends with `\n`
/// and holds up to about `block` bytes (more for a single longer line).
pub(crate) fn for_each_batch(
    file: &File,
    start: u64,
    line_before: u64,
    buf: &mut Vec<u8>,
    block: usize,
    mut f: impl FnMut(u64, u64, &[u8]) -> ControlFlow<()>,
) -> io::Result<LinesEnd> {
    // No bigger than the data (a short log needs no 4 MiB buffer), no
    // smaller than 64 KiB (the file may be growing).
    let size = file.metadata()?.len().saturating_sub(start);
    let block = usize::try_from(size)
        .unwrap_or(block)
        .clamp(64 * 1024, block.max(64 * 1024));
    if buf.len() < block {
        // `vec!` of zeros is a calloc: no page is touched until it is used.
        *buf = vec![0u8; block];
    }
    let mut base = start;
    let mut filled = 0usize;
    let mut line_no = line_before;
    loop {
        if filled == buf.len() {
            // One line longer than the buffer.
            buf.resize(buf.len() * 2, 0);
        }
        let n = file.read_at(
            buf.get_mut(filled..).unwrap_or_default(),
            base + filled as u64,
        )?;
        if n == 0 {
            break;
        }
        let scan_from = filled;
        filled += n;
        let data = buf.get(..filled).unwrap_or_default();
        let Some(last_nl) = memchr::memrchr(b'\n', data.get(scan_from..).unwrap_or_default())
        else {
            continue;
        };
        let cut = scan_from + last_nl + 1;
        let batch = data.get(..cut).unwrap_or_default();
        let lines = memchr::memchr_iter(b'\n', batch).count() as u64;
        if f(line_no + 1, base, batch).is_break() {
            return Ok(LinesEnd {
                stopped: true,
                unterminated: None,
                end: base + cut as u64,
                line: line_no + lines,
            });
        }
        line_no += lines;
        buf.copy_within(cut..filled, 0);
        base += cut as u64;
        filled -= cut;
    }
    Ok(LinesEnd {
        stopped: false,
        unterminated: (filled > 0).then_some(Unterminated {
            line: line_no + 1,
            offset: base,
            len: filled as u64,
        }),
        end: base,
        line: line_no,
    })
}

/// Calls `f(offset, line)` for the complete lines of `file[..end]` from the
/// last to the first (`end` must be just after a `\n`, or 0).
pub(crate) fn for_each_line_rev(
    file: &File,
    end: u64,
    mut f: impl FnMut(u64, &[u8]) -> ControlFlow<()>,
) -> io::Result<bool> {
    const BLOCK: u64 = 64 * 1024;
    // `window` holds file[lo..lo + window.len()], ending with a `\n`.
    let mut lo = end;
    let mut window: Vec<u8> = Vec::new();
    loop {
        let Some(body) = window.len().checked_sub(1) else {
            if lo == 0 {
                return Ok(false);
            }
            let new_lo = lo.saturating_sub(BLOCK);
            window = read_range(file, new_lo, lo)?;
            lo = new_lo;
            continue;
        };
        match memchr::memrchr(b'\n', window.get(..body).unwrap_or_default()) {
            Some(i) => {
                let line = window.get(i + 1..body).unwrap_or_default();
                if f(lo + i as u64 + 1, line).is_break() {
                    return Ok(true);
                }
                window.truncate(i + 1);
            }
            None if lo == 0 => {
                let line = window.get(..body).unwrap_or_default();
                return Ok(f(0, line).is_break());
            }
            None => {
                let new_lo = lo.saturating_sub(BLOCK);
                let mut more = read_range(file, new_lo, lo)?;
                more.extend_from_slice(&window);
                window = more;
                lo = new_lo;
            }
        }
    }
}

/// fsyncs a directory, so renames and new files in it survive a crash.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), AuditError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| AuditError::io(dir, "fsync directory", e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn rotated_names_round_trip_and_sort() {
        let a = rotated_file_name("audit.jsonl", 1, 42);
        assert_eq!(a, "audit.00000000000000000001-00000000000000000042.jsonl");
        let b = rotated_file_name("audit.jsonl", 43, 1000);
        let c = rotated_file_name("audit.jsonl", 1001, u64::MAX);
        let mut names = vec![c.clone(), a.clone(), b.clone()];
        names.sort();
        assert_eq!(names, vec![a.clone(), b, c]);
        let r = parse_rotated_name(&a).unwrap();
        assert_eq!(r.active_name, "audit.jsonl");
        assert_eq!((r.first_seq, r.last_seq), (1, 42));
        // No extension, dots and digits in the stem.
        let n = rotated_file_name("my.log.2024", 7, 9);
        assert_eq!(n, "my.log.00000000000000000007-00000000000000000009.2024");
        assert_eq!(parse_rotated_name(&n).unwrap().active_name, "my.log.2024");
        let n = rotated_file_name("audit", 7, 9);
        assert_eq!(n, "audit.00000000000000000007-00000000000000000009");
        assert_eq!(parse_rotated_name(&n).unwrap().active_name, "audit");
        // Not rotated names.
        assert!(parse_rotated_name("audit.jsonl").is_none());
        assert!(parse_rotated_name("audit.jsonl.lock").is_none());
        assert!(parse_rotated_name("audit.jsonl.quarantine-1700000000").is_none());
        assert!(parse_rotated_name("audit.0001-0002.jsonl").is_none());
    }
}
