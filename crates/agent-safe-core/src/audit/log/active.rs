//! What a writer knows of the active file (its identity, length, first and
//! last events), and bringing that up to date with the file on disk, which
//! other writers may have appended to, rotated or repaired.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use super::{AuditLog, Durability, State};
use crate::audit::error::AuditError;
use crate::audit::event::EventKind;
use crate::audit::files;

/// What this writer knows of the active file.
pub(super) struct Active {
    pub(super) file: Arc<File>,
    pub(super) dev: u64,
    pub(super) ino: u64,
    pub(super) len: u64,
    pub(super) head: Option<Head>,
    pub(super) tail: Option<Tail>,
    pub(super) torn_from: Option<u64>,
}

/// The first event of the active file.
#[derive(Clone)]
pub(super) struct Head {
    pub(super) seq: u64,
    pub(super) day: String,
    pub(super) kind: EventKind,
}

/// The last event of a file.
#[derive(Clone)]
pub(super) struct Tail {
    pub(super) seq: u64,
    pub(super) hash: String,
}

#[derive(Deserialize)]
pub(super) struct Peek<'a> {
    pub(super) seq: u64,
    pub(super) kind: EventKind,
    #[serde(borrow)]
    pub(super) timestamp: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    pub(super) hash: std::borrow::Cow<'a, str>,
}

fn is_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl AuditLog {
    pub(super) fn refresh(&self, st: &mut State) -> Result<(), AuditError> {
        let md = match std::fs::metadata(&self.path) {
            Ok(md) => Some(md),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(AuditError::io(&self.path, "stat", e)),
        };
        if let (Some(md), Some(a)) = (&md, st.active.as_mut())
            && a.dev == md.dev()
            && a.ino == md.ino()
        {
            if a.len == md.len() {
                return Ok(());
            }
            // Another writer appended (or repaired) since our last append.
            if md.len() < a.len {
                a.head = None;
            }
            a.len = md.len();
            return self.load_ends(a);
        }
        st.active = None;
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(md.is_none())
            .open(&self.path)
            .map_err(|e| AuditError::io(&self.path, "open", e))?;
        if md.is_none() && self.durability == Durability::Sync {
            // A new file's name must be durable too. (A rotation syncs the
            // directory after writing the new file's first event.)
            files::sync_dir(&self.dir)?;
        }
        let fmd = file
            .metadata()
            .map_err(|e| AuditError::io(&self.path, "stat", e))?;
        let mut active = Active {
            file: Arc::new(file),
            dev: fmd.dev(),
            ino: fmd.ino(),
            len: fmd.len(),
            head: None,
            tail: None,
            torn_from: None,
        };
        self.load_ends(&mut active)?;
        st.active = Some(active);
        Ok(())
    }

    /// Reads the last complete line (and the first, when unknown).
    fn load_ends(&self, a: &mut Active) -> Result<(), AuditError> {
        let scan =
            files::scan_tail(&a.file, a.len).map_err(|e| AuditError::io(&self.path, "read", e))?;
        a.torn_from = scan.torn_from;
        a.tail = match scan.last_line {
            Some((start, line)) => {
                let p = self.peek(&self.path, start, &line)?;
                Some(Tail {
                    seq: p.seq,
                    hash: p.hash.into_owned(),
                })
            }
            None => None,
        };
        if a.tail.is_none() {
            a.head = None;
        } else if a.head.is_none() {
            let first = files::first_line(&a.file, usize::MAX)
                .map_err(|e| AuditError::io(&self.path, "read", e))?;
            a.head = match first {
                Some(line) => {
                    let p = self.peek(&self.path, 0, &line)?;
                    Some(Head {
                        seq: p.seq,
                        day: p.timestamp.get(..10).unwrap_or_default().to_string(),
                        kind: p.kind,
                    })
                }
                None => None,
            };
        }
        Ok(())
    }

    pub(super) fn peek<'l>(
        &self,
        path: &Path,
        offset: u64,
        line: &'l [u8],
    ) -> Result<Peek<'l>, AuditError> {
        let corrupt = |reason: String| AuditError::Corrupt {
            path: path.to_path_buf(),
            reason,
        };
        let p: Peek<'l> = serde_json::from_slice(line).map_err(|e| {
            corrupt(format!(
                "the line at byte {offset} is not an audit event ({e}); run `agent-safe audit verify`"
            ))
        })?;
        if !is_hash(&p.hash) {
            return Err(corrupt(format!(
                "the line at byte {offset} has no valid `hash`; run `agent-safe audit verify`"
            )));
        }
        Ok(p)
    }
}
