//! Group commit for `durability: sync`.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use super::lock::lock;
use crate::audit::error::AuditError;

/// Group commit for `durability: sync`: appends that finish writing while an
/// fdatasync is running wait for the next one, which a single leader runs for
/// all of them.
#[derive(Default)]
pub(super) struct GroupCommit {
    st: Mutex<SyncState>,
    cv: Condvar,
    pub(super) syncs: AtomicU64,
}

#[derive(Default)]
struct SyncState {
    /// Number of writes noted so far (the generation of the newest write).
    written: u64,
    /// Every write up to this generation has been through an fdatasync.
    synced: u64,
    leader: bool,
    file: Option<Arc<File>>,
    /// Recent failed batches: (first ticket, last ticket, error kind, message).
    failures: VecDeque<(u64, u64, io::ErrorKind, String)>,
    /// Failures older than the ones kept: gens up to here may have failed.
    forgotten: u64,
}

const KEPT_FAILURES: usize = 64;

impl GroupCommit {
    /// Called under the log lock right after a write to `file`.
    pub(super) fn note_write(&self, file: &Arc<File>) -> u64 {
        let mut st = lock(&self.st);
        st.written += 1;
        st.file = Some(Arc::clone(file));
        st.written
    }

    pub(super) fn wait(&self, ticket: u64, path: &Path) -> Result<(), AuditError> {
        let mut st = lock(&self.st);
        loop {
            if st.synced >= ticket {
                return match st.failures.iter().find(|f| f.0 <= ticket && ticket <= f.1) {
                    Some((_, _, kind, msg)) => Err(AuditError::io(
                        path,
                        "fdatasync",
                        io::Error::new(*kind, msg.clone()),
                    )),
                    None if ticket <= st.forgotten => Err(AuditError::io(
                        path,
                        "fdatasync",
                        io::Error::other("an fdatasync of this batch failed"),
                    )),
                    None => Ok(()),
                };
            }
            if st.leader {
                st = self.cv.wait(st).unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            st.leader = true;
            let target = st.written;
            let file = st.file.clone();
            drop(st);
            let result = match &file {
                Some(f) => f.sync_data(),
                None => Ok(()),
            };
            self.syncs.fetch_add(1, Ordering::Relaxed);
            st = lock(&self.st);
            st.leader = false;
            let first = st.synced + 1;
            st.synced = st.synced.max(target);
            if let Err(e) = result {
                st.failures
                    .push_back((first, target, e.kind(), e.to_string()));
                if st.failures.len() > KEPT_FAILURES
                    && let Some((_, last, _, _)) = st.failures.pop_front()
                {
                    st.forgotten = st.forgotten.max(last);
                }
            }
            self.cv.notify_all();
        }
    }
}
