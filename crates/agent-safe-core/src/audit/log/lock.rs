//! The log's lock: an in-process gate (a mutex with a deadline) and an
//! exclusive `flock` on `<log>.lock` shared with other processes.

use std::fs::File;
use std::io;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing in this module panics while holding a lock, and every state
    // behind one is re-validated against the file on the next append.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The in-process lock: a mutex with a deadline.
#[derive(Default)]
pub(super) struct Gate {
    busy: Mutex<bool>,
    cv: Condvar,
}

pub(super) struct GateGuard<'a>(&'a Gate);

impl Gate {
    pub(super) fn enter(&self, deadline: Instant) -> Option<GateGuard<'_>> {
        let mut busy = lock(&self.busy);
        while *busy {
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            busy = self
                .cv
                .wait_timeout(busy, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        *busy = true;
        Some(GateGuard(self))
    }
}

impl Drop for GateGuard<'_> {
    fn drop(&mut self) {
        *lock(&self.0.busy) = false;
        self.0.cv.notify_one();
    }
}

/// An exclusive `flock` on the lock file, released on drop.
pub(super) struct Flock<'a>(&'a File);

impl<'a> Flock<'a> {
    /// `Ok(None)` when the deadline passed.
    pub(super) fn acquire(file: &'a File, deadline: Instant) -> io::Result<Option<Flock<'a>>> {
        let mut pause = Duration::from_micros(20);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Some(Flock(file))),
                Err(std::fs::TryLockError::WouldBlock) => {}
                Err(std::fs::TryLockError::Error(e)) => return Err(e),
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            std::thread::sleep(pause.min(deadline - now));
            pause = (pause * 2).min(Duration::from_millis(2));
        }
    }
}

impl Drop for Flock<'_> {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}
