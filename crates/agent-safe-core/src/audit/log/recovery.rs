//! Recovery of a torn tail: the torn bytes go to a quarantine file and a
//! `recovery` event records them, with no moment at which they are gone from
//! the log and not yet recorded in it.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use sha2::{Digest, Sha256};

use super::rotation::Predecessor;
use super::{AuditLog, Head, OwnEvent, State, Tail, format_timestamp, next_link};
use crate::audit::error::AuditError;
use crate::audit::event::{EventKind, RecoveryInfo, RotationTrigger};
use crate::audit::files;

impl AuditLog {
    /// Repairs a torn tail (`from..len` after the last `\n`): copies the
    /// torn bytes to a quarantine file (fsynced), then overwrites them, in
    /// one positional write, with a `recovery` event recording their length
    /// and SHA-256 (preceded by a `resume` rotation event when the file held
    /// no complete event and rotated files exist). There is no moment at
    /// which the torn bytes are gone from the log and not yet recorded in
    /// it; if the write fails, the torn bytes are put back and the
    /// quarantine copy removed.
    pub(super) fn recover(
        &self,
        st: &mut State,
        from: u64,
        pred: Option<&Predecessor>,
        now: jiff::Timestamp,
    ) -> Result<(), AuditError> {
        const MAX_TORN: u64 = 64 << 20;
        let active = self.active(st)?;
        let len = active.len;
        if len - from > MAX_TORN {
            return Err(AuditError::Corrupt {
                path: self.path.clone(),
                reason: format!(
                    "{} bytes after the last newline (at byte {from}) are too many to be a torn line; move them away by hand",
                    len - from
                ),
            });
        }
        let torn = files::read_range(&active.file, from, len)
            .map_err(|e| AuditError::io(&self.path, "read torn tail", e))?;
        let (qpath, qname) = self.write_quarantine(&torn, now)?;
        let info = RecoveryInfo {
            quarantine_file: qname,
            torn_bytes: len - from,
            torn_sha256: hex::encode(Sha256::digest(&torn)),
            truncated_at: from,
        };
        let ts = format_timestamp(now);
        let mut lines = Vec::with_capacity(1536);
        let (mut seq, prev) = next_link(active, pred);
        let mut prev = prev.to_string();
        let mut head = None;
        if let Some(p) = pred {
            let rotation = self.rotation_info(p, RotationTrigger::Resume);
            let id = st.event_id(now);
            prev = self.own_line(
                &mut lines,
                &id,
                seq,
                &prev,
                OwnEvent::Rotation(&rotation),
                &ts,
            )?;
            head = Some((seq, EventKind::Rotation));
            seq += 1;
        }
        let id = st.event_id(now);
        let hash = self.own_line(&mut lines, &id, seq, &prev, OwnEvent::Recovery(&info), &ts)?;
        let new_len = from + lines.len() as u64;
        // The append handle ignores offsets: write through a second handle.
        let replaced = OpenOptions::new()
            .write(true)
            .open(&self.path)
            .and_then(|w| {
                w.write_all_at(&lines, from)?;
                if new_len < len {
                    w.set_len(new_len)?;
                }
                if pred.is_some() {
                    w.sync_all()?;
                }
                Ok(w)
            });
        let w = match replaced {
            Ok(w) => w,
            Err(e) => {
                let restored = OpenOptions::new()
                    .write(true)
                    .open(&self.path)
                    .and_then(|w| {
                        w.write_all_at(&torn, from)?;
                        w.set_len(len)
                    });
                if restored.is_ok() {
                    let _ = std::fs::remove_file(&qpath);
                }
                st.active = None;
                return Err(AuditError::io(&self.path, "write", e));
            }
        };
        drop(w);
        if pred.is_some() {
            files::sync_dir(&self.dir)?;
        }
        let active = self.active(st)?;
        active.len = new_len;
        active.torn_from = None;
        if active.head.is_none() {
            let (seq, kind) = head.unwrap_or((seq, EventKind::Recovery));
            active.head = Some(Head {
                seq,
                day: ts.get(..10).unwrap_or_default().to_string(),
                kind,
            });
        }
        active.tail = Some(Tail { seq, hash });
        self.recoveries.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Writes `torn` to a new quarantine file next to the log, durably.
    fn write_quarantine(
        &self,
        torn: &[u8],
        now: jiff::Timestamp,
    ) -> Result<(PathBuf, String), AuditError> {
        let (qpath, qname, mut qfile) = self.create_quarantine_file(now)?;
        // Until the recovery event is written no event records this file:
        // if it cannot be completed, it must not stay behind.
        let written = qfile
            .write_all(torn)
            .and_then(|()| qfile.sync_all())
            .map_err(|e| AuditError::io(&qpath, "write", e))
            .and_then(|()| files::sync_dir(&self.dir));
        if let Err(e) = written {
            drop(qfile);
            let _ = std::fs::remove_file(&qpath);
            return Err(e);
        }
        Ok((qpath, qname))
    }

    fn create_quarantine_file(
        &self,
        now: jiff::Timestamp,
    ) -> Result<(PathBuf, String, File), AuditError> {
        let base = format!("{}.quarantine-{}", self.name, now.as_second());
        for n in 0u32..10_000 {
            let name = if n == 0 {
                base.clone()
            } else {
                format!("{base}-{n}")
            };
            let path = self.dir.join(&name);
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(f) => return Ok((path, name, f)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(AuditError::io(&path, "create quarantine file", e)),
            }
        }
        Err(AuditError::Corrupt {
            path: self.dir.join(base),
            reason: "too many quarantine files with this name".into(),
        })
    }
}
