//! Rotation: sealing the active file under its seq range and starting the
//! next one with a `rotation` event that links the chain across files.

use std::fs::File;
use std::sync::atomic::Ordering;

use super::{AuditLog, Durability, OwnEvent, State, Tail, format_timestamp, next_link};
use crate::audit::error::AuditError;
use crate::audit::event::{EventKind, RotationInfo, RotationTrigger};
use crate::audit::files::{self, rotated_file_name};

/// The newest rotated file, which an empty active file continues.
pub(super) struct Predecessor {
    pub(super) file_name: String,
    pub(super) tail: Tail,
}

impl AuditLog {
    /// The newest rotated file of this log, with its last event.
    pub(super) fn predecessor(&self) -> Result<Option<Predecessor>, AuditError> {
        let rotated = files::rotated_files(&self.path)?;
        let Some((path, r)) = rotated.last() else {
            return Ok(None);
        };
        let file = File::open(path).map_err(|e| AuditError::io(path, "open", e))?;
        let len = file
            .metadata()
            .map_err(|e| AuditError::io(path, "stat", e))?
            .len();
        let scan = files::scan_tail(&file, len).map_err(|e| AuditError::io(path, "read", e))?;
        let Some((start, line)) = scan.last_line else {
            return Err(AuditError::Corrupt {
                path: path.clone(),
                reason: "the newest rotated file holds no complete event".into(),
            });
        };
        let p = self.peek(path, start, &line)?;
        if p.seq != r.last_seq {
            return Err(AuditError::Corrupt {
                path: path.clone(),
                reason: format!(
                    "its name says its last seq is {} but its last event has seq {}",
                    r.last_seq, p.seq
                ),
            });
        }
        let file_name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        Ok(Some(Predecessor {
            file_name,
            tail: Tail {
                seq: p.seq,
                hash: p.hash.into_owned(),
            },
        }))
    }

    /// Writes the `rotation` event that starts an (empty) active file, and
    /// fsyncs the file and the directory (which makes the rename that sealed
    /// the previous file durable too).
    pub(super) fn link_to(
        &self,
        st: &mut State,
        pred: &Predecessor,
        trigger: RotationTrigger,
        now: jiff::Timestamp,
    ) -> Result<(), AuditError> {
        let info = self.rotation_info(pred, trigger);
        let ts = format_timestamp(now);
        let (seq, prev) = next_link(self.active(st)?, Some(pred));
        let prev = prev.to_string();
        let mut line = Vec::with_capacity(768);
        let id = st.event_id(now);
        let hash = self.own_line(&mut line, &id, seq, &prev, OwnEvent::Rotation(&info), &ts)?;
        self.write_line(st, &line, seq, &hash, &ts, EventKind::Rotation)?;
        self.active(st)?
            .file
            .sync_all()
            .map_err(|e| AuditError::io(&self.path, "fsync", e))?;
        files::sync_dir(&self.dir)
    }

    pub(super) fn rotation_info(
        &self,
        pred: &Predecessor,
        trigger: RotationTrigger,
    ) -> RotationInfo {
        RotationInfo {
            previous_file: pred.file_name.clone(),
            previous_last_hash: pred.tail.hash.clone(),
            previous_last_seq: pred.tail.seq,
            trigger,
        }
    }

    /// Renames the active file to its seq range and starts a new one.
    pub(super) fn rotate(
        &self,
        st: &mut State,
        trigger: RotationTrigger,
        now: jiff::Timestamp,
    ) -> Result<(), AuditError> {
        let active = self.active(st)?;
        let (Some(head), Some(tail)) = (active.head.clone(), active.tail.clone()) else {
            return Ok(());
        };
        if self.durability == Durability::Sync {
            // Appends waiting for a group fdatasync of this file may be
            // behind; after the rename the group syncs the new file.
            active
                .file
                .sync_data()
                .map_err(|e| AuditError::io(&self.path, "fdatasync", e))?;
        }
        let file_name = rotated_file_name(&self.name, head.seq, tail.seq);
        let target = self.dir.join(&file_name);
        if target.exists() {
            return Err(AuditError::Corrupt {
                path: target,
                reason: "cannot rotate: a file with this name already exists".into(),
            });
        }
        std::fs::rename(&self.path, &target)
            .map_err(|e| AuditError::io(&self.path, "rename", e))?;
        st.active = None;
        // A crash from here until `link_to` has synced the directory leaves
        // either the old name (the rotation is redone) or a missing/empty
        // active file (the next writer links it with a `resume` rotation).
        self.refresh(st)?;
        let pred = Predecessor { file_name, tail };
        self.link_to(st, &pred, trigger, now)?;
        self.rotations.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}
