//! The tree store: the Merkle tree's hashes kept beside the log, so that
//! proofs cost O(log n) reads instead of a pass over the log.
//!
//! For a log `audit.jsonl` the store is the directory `audit.jsonl.tree/`:
//! - `level-NN` (NN = 00, 01, …): the hashes of the perfect subtrees of
//!   `2^NN` leaves, 32 bytes each, in order (entry `i` covers leaves
//!   `i·2^NN .. (i+1)·2^NN`). `level-00` holds the leaf hashes.
//! - `state.json`: how far the store has got — the tree size, where in the
//!   log the last leaf's line ends (the first seq of its file and the offset
//!   after its `\n`), that event's `hash`, and the frontier (the roots of the
//!   perfect subtrees covering the whole tree, from which the root is
//!   computed without reading the level files).
//!
//! The store is derived data: it is brought up to date from the log under the
//! log's lock (reading only the lines appended since), and rebuilt from the
//! whole log whenever it is missing or does not match the log. The level
//! files are appended first and `state.json` is replaced (write + rename)
//! after, so a crash leaves level files that are longer than the state says
//! (cut back on the next sync) or a state that no longer matches (rebuilt).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::ops::ControlFlow;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::AuditError;
use super::files;
use super::merkle::{self, Frontier, Hash, Subtrees};

/// More of the log than this to read, and the store is built outside the
/// log's lock first (about 10 000 events).
const BULK_BYTES: u64 = 8 << 20;

/// The highest level a tree of `u64` leaves can have.
const MAX_LEVEL: u32 = 63;

/// The directory of the tree store of the log whose active file is `active`.
pub fn tree_dir(active: &Path) -> PathBuf {
    let mut s = active.as_os_str().to_os_string();
    s.push(".tree");
    PathBuf::from(s)
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct State {
    size: u64,
    /// The first seq of the file holding the last leaf's line.
    file_first_seq: u64,
    /// The offset just after that line's `\n`.
    offset: u64,
    /// That event's `hash`.
    last_hash: String,
    /// The frontier's hashes, hex, largest subtree first.
    frontier: Vec<String>,
}

impl State {
    fn empty() -> State {
        State {
            size: 0,
            file_first_seq: 1,
            offset: 0,
            last_hash: String::new(),
            frontier: Vec::new(),
        }
    }
}

/// The tree store of one log, up to date with it when [`TreeStore::sync`]
/// returns.
#[derive(Debug)]
pub struct TreeStore {
    dir: PathBuf,
    levels: Vec<File>,
    frontier: Frontier,
    state: State,
}

#[derive(Deserialize)]
struct Peek<'a> {
    seq: u64,
    #[serde(borrow)]
    hash: std::borrow::Cow<'a, str>,
}

/// Why an incremental sync could not continue: the store is rebuilt.
struct Stale(String);

/// The result of a sync step: an audit error stops, a stale store is rebuilt.
enum SyncError {
    Audit(AuditError),
    Stale(Stale),
}

impl From<AuditError> for SyncError {
    fn from(e: AuditError) -> Self {
        SyncError::Audit(e)
    }
}

fn stale(s: impl Into<String>) -> SyncError {
    SyncError::Stale(Stale(s.into()))
}

impl TreeStore {
    /// Opens the tree store of the log at `active` and brings it up to date
    /// with the log, rebuilding it when it is missing, damaged, or does not
    /// match the log. Call it holding the log's lock.
    pub fn sync(active: &Path) -> Result<TreeStore, AuditError> {
        let dir = tree_dir(active);
        match TreeStore::open_existing(&dir).and_then(|mut t| {
            t.catch_up(active)?;
            Ok(t)
        }) {
            Ok(t) => Ok(t),
            Err(SyncError::Audit(e)) => Err(e),
            Err(SyncError::Stale(Stale(_why))) => {
                let mut t = TreeStore::create_empty(&dir)?;
                match t.catch_up(active) {
                    Ok(()) => Ok(t),
                    Err(SyncError::Audit(e)) => Err(e),
                    Err(SyncError::Stale(Stale(why))) => Err(AuditError::Corrupt {
                        path: dir,
                        reason: format!("cannot build the Merkle tree from the log: {why}"),
                    }),
                }
            }
        }
    }

    /// Whether bringing the store up to date would read much of the log:
    /// no store (a log that had no checkpoints yet, a store removed), or a
    /// store far behind the active file. Cheap (reads `state.json` and the
    /// active file's first line); safe without the lock (it only reads).
    pub(super) fn needs_bulk(active: &Path) -> bool {
        let dir = tree_dir(active);
        let Ok(md) = fs::metadata(active) else {
            return false;
        };
        let state = fs::read(TreeStore::state_path(&dir))
            .ok()
            .and_then(|t| serde_json::from_slice::<State>(&t).ok());
        let Some(state) = state else {
            // Nothing to catch up from: everything is bulk, unless the log
            // is small (or only rotated files hold it).
            let rotated = files::rotated_files(active)
                .map(|r| !r.is_empty())
                .unwrap_or(false);
            return rotated || md.len() > BULK_BYTES;
        };
        let first_seq = File::open(active)
            .ok()
            .and_then(|f| files::first_line(&f, 1 << 20).ok().flatten())
            .and_then(|l| serde_json::from_slice::<Peek<'_>>(&l).ok().map(|p| p.seq));
        // Behind in the active file; a store still in a rotated file is
        // caught up under the lock as before (rotation is rare).
        first_seq == Some(state.file_first_seq)
            && md.len().saturating_sub(state.offset) > BULK_BYTES
    }

    /// Builds the store of the log as it is now in a new directory beside
    /// the log, without the log's lock: appends go on meanwhile (only
    /// complete lines are read). [`TreeStore::adopt`] puts it in place.
    pub(super) fn build_aside(active: &Path) -> Result<PathBuf, AuditError> {
        let mut s = tree_dir(active).into_os_string();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        s.push(format!(".build-{}-{nanos}", std::process::id()));
        let dir = PathBuf::from(s);
        let built = TreeStore::create_empty(&dir).and_then(|mut t| {
            // Appends went on while it was built: catch up again (still
            // without the lock) until little is left for the locked part.
            for _ in 0..8 {
                let before = t.size();
                match t.catch_up(active) {
                    Ok(()) => {}
                    Err(SyncError::Audit(e)) => return Err(e),
                    Err(SyncError::Stale(Stale(why))) => {
                        return Err(AuditError::Corrupt {
                            path: dir.clone(),
                            reason: format!("cannot build the Merkle tree from the log: {why}"),
                        });
                    }
                }
                if t.size() - before < 1000 {
                    break;
                }
            }
            Ok(())
        });
        match built {
            Ok(()) => Ok(dir),
            Err(e) => {
                let _ = fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }

    /// Under the log's lock: replaces the store with one from
    /// [`TreeStore::build_aside`] when the store still needs the bulk of
    /// the log read (no other writer did it meanwhile); the next
    /// [`TreeStore::sync`] catches up with the events appended since (and
    /// rebuilds, as ever, if the log changed in another way). Removes
    /// `built` either way.
    pub(super) fn adopt(active: &Path, built: &Path) -> Result<(), AuditError> {
        let result = if TreeStore::needs_bulk(active) {
            let dir = tree_dir(active);
            match fs::remove_dir_all(&dir) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(AuditError::io(&dir, "remove", e)),
            }
            .and_then(|()| fs::rename(built, &dir).map_err(|e| AuditError::io(&dir, "rename", e)))
        } else {
            Ok(())
        };
        if built.exists() {
            let _ = fs::remove_dir_all(built);
        }
        result
    }

    /// The number of leaves (events) in the store.
    pub fn size(&self) -> u64 {
        self.state.size
    }

    /// The root hash of the whole tree.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// The root hash of the first `size` leaves (`size <= self.size()`).
    pub fn root_at(&self, size: u64) -> Result<Hash, AuditError> {
        merkle::root(self, size)
    }

    /// The inclusion proof of leaf `index` in the tree of the first `size`
    /// leaves; `None` when out of range.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Option<Vec<Hash>>, AuditError> {
        if size > self.size() {
            return Ok(None);
        }
        merkle::inclusion_proof(self, index, size)
    }

    /// The consistency proof from the first `old` to the first `new` leaves.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Option<Vec<Hash>>, AuditError> {
        if new > self.size() {
            return Ok(None);
        }
        merkle::consistency_proof(self, old, new)
    }

    fn level_path(dir: &Path, level: u32) -> PathBuf {
        dir.join(format!("level-{level:02}"))
    }

    fn state_path(dir: &Path) -> PathBuf {
        dir.join("state.json")
    }

    fn open_level(dir: &Path, level: u32) -> Result<File, AuditError> {
        let p = TreeStore::level_path(dir, level);
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&p)
            .map_err(|e| AuditError::io(&p, "open", e))
    }

    /// Opens the store as it is on disk; `Stale` when it is missing or its
    /// files do not agree with each other.
    fn open_existing(dir: &Path) -> Result<TreeStore, SyncError> {
        let sp = TreeStore::state_path(dir);
        let text = match fs::read(&sp) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(stale("no tree store")),
            Err(e) => return Err(AuditError::io(&sp, "read", e).into()),
        };
        let state: State = serde_json::from_slice(&text)
            .map_err(|e| stale(format!("unreadable state.json: {e}")))?;
        let hashes = state
            .frontier
            .iter()
            .map(|h| {
                hex::decode(h)
                    .ok()
                    .and_then(|v| <Hash>::try_from(v).ok())
                    .ok_or_else(|| stale("bad frontier hash"))
            })
            .collect::<Result<Vec<Hash>, SyncError>>()?;
        let frontier = Frontier::from_parts(state.size, hashes)
            .ok_or_else(|| stale("frontier does not fit the size"))?;
        let mut t = TreeStore {
            dir: dir.to_path_buf(),
            levels: Vec::new(),
            frontier,
            state,
        };
        // Each level holds floor(size / 2^k) entries: cut back what a crash
        // left beyond the state, refuse what is missing.
        for level in 0..=MAX_LEVEL {
            let want = t.state.size >> level;
            if want == 0 {
                break;
            }
            let f = TreeStore::open_level(dir, level)?;
            let p = TreeStore::level_path(dir, level);
            let len = f
                .metadata()
                .map_err(|e| AuditError::io(&p, "stat", e))?
                .len();
            if len < want * 32 {
                return Err(stale(format!("level {level} is short")));
            }
            if len > want * 32 {
                f.set_len(want * 32)
                    .map_err(|e| AuditError::io(&p, "truncate", e))?;
            }
            t.levels.push(f);
        }
        // The frontier's subtrees are entries of the level files.
        for ((level, index), h) in t.frontier.positions().into_iter().zip(t.frontier.hashes()) {
            match t.read_hash(level, index) {
                Ok(stored) if stored == *h => {}
                _ => return Err(stale("the level files do not match the frontier")),
            }
        }
        Ok(t)
    }

    fn create_empty(dir: &Path) -> Result<TreeStore, AuditError> {
        fs::create_dir_all(dir).map_err(|e| AuditError::io(dir, "create directory", e))?;
        let mut levels = Vec::new();
        for level in 0..=MAX_LEVEL {
            let p = TreeStore::level_path(dir, level);
            if !p.exists() {
                break;
            }
            let f = TreeStore::open_level(dir, level)?;
            f.set_len(0)
                .map_err(|e| AuditError::io(&p, "truncate", e))?;
            if level == 0 {
                levels.push(f);
            }
        }
        let t = TreeStore {
            dir: dir.to_path_buf(),
            levels,
            frontier: Frontier::new(),
            state: State::empty(),
        };
        t.write_state()?;
        Ok(t)
    }

    fn read_hash(&self, level: u32, index: u64) -> Result<Hash, AuditError> {
        let p = TreeStore::level_path(&self.dir, level);
        let f = self
            .levels
            .get(level as usize)
            .ok_or_else(|| AuditError::Corrupt {
                path: p.clone(),
                reason: format!("no level {level} in the tree store"),
            })?;
        let mut h = [0u8; 32];
        f.read_exact_at(&mut h, index * 32)
            .map_err(|e| AuditError::io(&p, "read", e))?;
        Ok(h)
    }

    fn write_state(&self) -> Result<(), AuditError> {
        let sp = TreeStore::state_path(&self.dir);
        let tmp = self.dir.join("state.json.tmp");
        let text = serde_json::to_vec(&self.state).map_err(|e| AuditError::Corrupt {
            path: sp.clone(),
            reason: e.to_string(),
        })?;
        fs::write(&tmp, text).map_err(|e| AuditError::io(&tmp, "write", e))?;
        fs::rename(&tmp, &sp).map_err(|e| AuditError::io(&sp, "rename", e))
    }

    /// Reads the log from where the store stopped and appends the new leaves.
    fn catch_up(&mut self, active: &Path) -> Result<(), SyncError> {
        let rotated = files::rotated_files(active)?;
        // The files to read, in order, with the offset to start at.
        let mut todo: Vec<(PathBuf, u64)> = Vec::new();
        let first = self.state.file_first_seq;
        if let Some((path, _)) = rotated.iter().find(|(_, r)| r.first_seq == first) {
            todo.push((path.clone(), self.state.offset));
            todo.extend(
                rotated
                    .iter()
                    .filter(|(_, r)| r.first_seq > first)
                    .map(|(p, _)| (p.clone(), 0)),
            );
            if active.is_file() {
                todo.push((active.to_path_buf(), 0));
            }
        } else if self.state.size == 0 && rotated.is_empty() {
            if active.is_file() {
                todo.push((active.to_path_buf(), 0));
            }
        } else if self.state.size == 0 {
            return Err(stale(
                "the log's oldest file does not start at seq 1 (were the oldest files deleted?)",
            ));
        } else {
            todo.push((active.to_path_buf(), self.state.offset));
        }
        let mut checked_start = self.state.size == 0;
        let mut new_leaves: Vec<Hash> = Vec::new();
        let mut buf = Vec::new();
        let mut next_seq = self.state.size + 1;
        let (mut last_file_seq, mut last_offset, mut last_hash) = (
            self.state.file_first_seq,
            self.state.offset,
            self.state.last_hash.clone(),
        );
        for (k, (path, start)) in todo.iter().enumerate() {
            let file = File::open(path).map_err(|e| AuditError::io(path, "open", e))?;
            if !checked_start {
                // The line just before `start` must be the store's last leaf.
                if k != 0 {
                    return Err(stale("lost track of the last leaf"));
                }
                let len = file
                    .metadata()
                    .map_err(|e| AuditError::io(path, "stat", e))?
                    .len();
                if *start > len {
                    return Err(stale("the log is shorter than the store"));
                }
                let end_nl = files::last_newline_before(&file, *start)
                    .map_err(|e| AuditError::io(path, "read", e))?;
                if end_nl.map(|p| p + 1) != Some(*start) {
                    return Err(stale("the last leaf's line is not where the store says"));
                }
                let ls = match end_nl {
                    Some(p) => files::last_newline_before(&file, p)
                        .map_err(|e| AuditError::io(path, "read", e))?
                        .map_or(0, |q| q + 1),
                    None => 0,
                };
                let line = files::read_range(&file, ls, start.saturating_sub(1))
                    .map_err(|e| AuditError::io(path, "read", e))?;
                let ok = serde_json::from_slice::<Peek<'_>>(&line)
                    .is_ok_and(|p| p.seq == self.state.size && p.hash == self.state.last_hash);
                if !ok
                    || self.read_hash(0, self.state.size - 1).ok() != Some(merkle::leaf_hash(&line))
                {
                    return Err(stale("the log's line at the store's last leaf differs"));
                }
                checked_start = true;
            }
            let mut file_first: Option<u64> = None;
            let mut problem: Option<SyncError> = None;
            let end = files::for_each_line(&file, *start, 0, &mut buf, |_, off, line| {
                match serde_json::from_slice::<Peek<'_>>(line) {
                    Ok(p) if p.seq == next_seq => {
                        if *start == 0 && file_first.is_none() {
                            file_first = Some(p.seq);
                        }
                        new_leaves.push(merkle::leaf_hash(line));
                        last_hash = p.hash.into_owned();
                        last_offset = off + line.len() as u64 + 1;
                        next_seq += 1;
                        ControlFlow::Continue(())
                    }
                    Ok(p) => {
                        problem = Some(stale(format!(
                            "{}: expected seq {next_seq}, found {}",
                            path.display(),
                            p.seq
                        )));
                        ControlFlow::Break(())
                    }
                    Err(e) => {
                        problem = Some(stale(format!(
                            "{} at byte {off}: not an audit event ({e})",
                            path.display()
                        )));
                        ControlFlow::Break(())
                    }
                }
            })
            .map_err(|e| AuditError::io(path, "read", e))?;
            let _ = end;
            if let Some(p) = problem {
                return Err(p);
            }
            if let Some(s) = file_first {
                last_file_seq = s;
            }
        }
        if new_leaves.is_empty() {
            return Ok(());
        }
        self.append_leaves(&new_leaves)?;
        self.state.file_first_seq = last_file_seq;
        self.state.offset = last_offset;
        self.state.last_hash = last_hash;
        self.write_state()?;
        Ok(())
    }

    /// Appends leaves to the level files and the frontier (the state is
    /// written by the caller).
    fn append_leaves(&mut self, leaves: &[Hash]) -> Result<(), AuditError> {
        let mut out: Vec<Vec<u8>> = Vec::new();
        for leaf in leaves {
            self.frontier.push(*leaf, |level, _, h| {
                let level = level as usize;
                if out.len() <= level {
                    out.resize_with(level + 1, Vec::new);
                }
                if let Some(o) = out.get_mut(level) {
                    o.extend_from_slice(h);
                }
            });
        }
        for (level, bytes) in out.iter().enumerate() {
            let level32 = u32::try_from(level).unwrap_or(MAX_LEVEL);
            while self.levels.len() <= level {
                let l = u32::try_from(self.levels.len()).unwrap_or(MAX_LEVEL);
                self.levels.push(TreeStore::open_level(&self.dir, l)?);
            }
            let p = TreeStore::level_path(&self.dir, level32);
            let Some(f) = self.levels.get(level) else {
                continue;
            };
            let at = (self.state.size >> level) * 32;
            f.write_all_at(bytes, at)
                .map_err(|e| AuditError::io(&p, "write", e))?;
        }
        self.state.size = self.frontier.size();
        self.state.frontier = self.frontier.hashes().iter().map(hex::encode).collect();
        Ok(())
    }
}

impl Subtrees for TreeStore {
    type Error = AuditError;
    fn subtree(&self, level: u32, index: u64) -> Result<Hash, AuditError> {
        self.read_hash(level, index)
    }
}
