//! Hot reload: watch the files a snapshot is built from, and rebuild it.
//!
//! What is watched (all made absolute, never canonicalised, so that
//! symlinks keep being followed by name):
//!
//! * every configured path that is a directory (`actions`, `policies`,
//!   `inventory`), recursively, since the loaders read subdirectories too;
//! * the same for the shadow candidate (`shadow.policies`, or
//!   `shadow.config` and the paths it names);
//! * the parent directory of every configured path and of every signing key
//!   `secret_file`, non-recursively. Kubernetes ConfigMap and Secret volumes
//!   publish an update by writing a new `..<timestamp>` directory and
//!   renaming the `..data` symlink over the old one, in the volume's root:
//!   no event happens at the file's own path, so the parent is what catches
//!   it. Editors that write a temporary file and rename it are caught the
//!   same way.
//!
//! Events are debounced (250 ms), filtered (reads, and the audit log's own
//! files, are ignored), and then trigger [`AppState::reload_blocking`] on
//! the blocking pool. Reloads are serialised by a single task; triggers that
//! arrive during a reload are coalesced into one more reload. A watched
//! directory that was replaced (a new inode: a recreated directory, a
//! ConfigMap swap) is watched afresh after each reload. SIGHUP sends the
//! same trigger.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use agent_safe_core::config::Config;
use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, new_debouncer};
use tokio::sync::mpsc;

use crate::state::AppState;

/// How long events settle before a reload.
pub const DEBOUNCE: Duration = Duration::from_millis(250);

/// Why a reload runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// A watched file changed (the paths that did, first few).
    Files(Vec<PathBuf>),
    /// SIGHUP.
    Signal,
}

impl Trigger {
    fn label(&self) -> &'static str {
        match self {
            Trigger::Files(_) => "watch",
            Trigger::Signal => "signal",
        }
    }
}

/// The watch roots and the event filter for a config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchPlan {
    /// Directory → how to watch it.
    pub roots: BTreeMap<PathBuf, RecursiveMode>,
    /// Paths whose changes matter (a change at or below any of them).
    pub targets: Vec<PathBuf>,
    /// The audit log's directory and file-name stem: its files change on
    /// every check and never trigger a reload.
    pub audit: Option<(PathBuf, String)>,
}

impl WatchPlan {
    /// What to watch for `config`.
    pub fn for_config(config: &Config) -> WatchPlan {
        let mut targets: Vec<PathBuf> = [&config.actions, &config.policies, &config.inventory]
            .into_iter()
            .flatten()
            .map(|p| absolute(p))
            .collect();
        targets.extend(
            config
                .identity
                .keys
                .iter()
                .filter_map(|k| k.secret_file.as_deref())
                .map(absolute),
        );
        if config.source.is_some() {
            targets.push(absolute(&config.manifest_path()));
        }
        // The shadow candidate: its policy directory, or its configuration
        // file and the files that one names.
        if let Some(shadow) = &config.shadow {
            targets.extend(
                shadow
                    .policies
                    .iter()
                    .chain(&shadow.config)
                    .map(|p| absolute(p)),
            );
            if shadow.config.is_some()
                && let Ok(c) = agent_safe_core::shadow::candidate_config(config, shadow)
            {
                targets.extend(
                    [&c.actions, &c.policies, &c.inventory]
                        .into_iter()
                        .flatten()
                        .map(|p| absolute(p)),
                );
            }
        }
        let mut roots: BTreeMap<PathBuf, RecursiveMode> = BTreeMap::new();
        for t in &targets {
            if t.is_dir() {
                roots.insert(t.clone(), RecursiveMode::Recursive);
            }
        }
        for t in &targets {
            if let Some(parent) = t.parent().filter(|p| !p.as_os_str().is_empty()) {
                roots
                    .entry(parent.to_path_buf())
                    .or_insert(RecursiveMode::NonRecursive);
            }
        }
        let audit = config.audit.enabled.then(|| {
            let path = absolute(&config.audit.path);
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let stem = name.split('.').next().unwrap_or_default().to_owned();
            (dir, stem)
        });
        WatchPlan {
            roots,
            targets,
            audit,
        }
    }

    /// Whether a change at `path` may change the snapshot.
    pub fn relevant(&self, path: &Path) -> bool {
        if let Some((dir, stem)) = &self.audit
            && path.parent() == Some(dir.as_path())
            && path
                .file_name()
                .is_some_and(|n| !stem.is_empty() && n.to_string_lossy().starts_with(stem.as_str()))
        {
            return false;
        }
        // `..data`, `..data_tmp`, `..2026_11_25_…`: a ConfigMap/Secret swap.
        let swap = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(".."));
        let in_root = path.parent().is_some_and(|p| self.roots.contains_key(p));
        (swap && in_root) || self.targets.iter().any(|t| path.starts_with(t))
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// An identity for a directory, to notice when it was replaced.
fn dir_id(p: &Path) -> Option<(u64, u64)> {
    let meta = std::fs::metadata(p).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        Some((0, 0))
    }
}

/// Whether a debounced event is a change (not a read).
fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

/// The running reloader: dropping it stops the watcher.
pub struct Reloader {
    tx: mpsc::UnboundedSender<Trigger>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader").finish_non_exhaustive()
    }
}

impl Reloader {
    /// Starts the reload task; with `watch`, also the file watcher.
    /// A watch root that cannot be watched is logged and skipped.
    pub fn start(state: AppState, watch: bool) -> Result<Reloader, notify::Error> {
        let (tx, rx) = mpsc::unbounded_channel();
        let plan = WatchPlan::for_config(state.safe.config());
        let debouncer = if watch {
            let filter = plan.clone();
            let events_tx = tx.clone();
            let handler = move |res: DebounceEventResult| match res {
                Ok(events) => {
                    let paths: Vec<PathBuf> = events
                        .iter()
                        .filter(|e| is_change(&e.event.kind))
                        .flat_map(|e| e.event.paths.iter())
                        .filter(|p| filter.relevant(p))
                        .take(8)
                        .cloned()
                        .collect();
                    if !paths.is_empty() {
                        let _ = events_tx.send(Trigger::Files(paths));
                    }
                }
                Err(errors) => {
                    for e in errors {
                        tracing::warn!(error = %e, "file watcher error");
                    }
                }
            };
            let mut d = new_debouncer(DEBOUNCE, None, handler)?;
            let mut ids = BTreeMap::new();
            for (root, mode) in &plan.roots {
                match d.watch(root, *mode) {
                    Ok(()) => {
                        ids.insert(root.clone(), dir_id(root));
                    }
                    Err(e) => tracing::warn!(path = %root.display(), error = %e, "cannot watch"),
                }
            }
            tracing::info!(
                roots = ?plan.roots.keys().map(|p| p.display().to_string()).collect::<Vec<_>>(),
                "watching the configuration files"
            );
            Some((d, ids))
        } else {
            None
        };
        let task = tokio::spawn(run(state, plan, debouncer, rx));
        Ok(Reloader { tx, task })
    }

    /// Asks for a reload.
    pub fn trigger(&self, t: Trigger) {
        let _ = self.tx.send(t);
    }

    /// A handle that can ask for reloads (for the SIGHUP listener).
    pub fn sender(&self) -> mpsc::UnboundedSender<Trigger> {
        self.tx.clone()
    }

    /// Stops watching.
    pub fn stop(self) {
        self.task.abort();
    }
}

type Watching = (
    notify_debouncer_full::Debouncer<
        notify::RecommendedWatcher,
        notify_debouncer_full::RecommendedCache,
    >,
    BTreeMap<PathBuf, Option<(u64, u64)>>,
);

async fn run(
    state: AppState,
    plan: WatchPlan,
    mut watching: Option<Watching>,
    mut rx: mpsc::UnboundedReceiver<Trigger>,
) {
    while let Some(first) = rx.recv().await {
        // Coalesce whatever else is already queued into this reload.
        let mut trigger = first;
        while let Ok(more) = rx.try_recv() {
            if more == Trigger::Signal {
                trigger = more;
            }
        }
        if let Trigger::Files(paths) = &trigger {
            tracing::debug!(paths = ?paths, "files changed");
        }
        let st = state.clone();
        let label = trigger.label();
        // Reading and compiling the files is blocking work.
        let _ = tokio::task::spawn_blocking(move || st.reload_blocking(label)).await;
        if let Some((debouncer, ids)) = watching.as_mut() {
            rewatch(debouncer, ids, &plan);
        }
    }
}

/// Re-adds the watch of every root whose directory was replaced (or could
/// not be watched before).
fn rewatch(
    debouncer: &mut notify_debouncer_full::Debouncer<
        notify::RecommendedWatcher,
        notify_debouncer_full::RecommendedCache,
    >,
    ids: &mut BTreeMap<PathBuf, Option<(u64, u64)>>,
    plan: &WatchPlan,
) {
    for (root, mode) in &plan.roots {
        let now = dir_id(root);
        let before = ids.get(root).copied().flatten();
        if now.is_some() && now == before {
            continue;
        }
        let _ = debouncer.unwatch(root);
        match debouncer.watch(root, *mode) {
            Ok(()) => {
                tracing::info!(path = %root.display(), "watching a replaced directory afresh");
                ids.insert(root.clone(), now);
            }
            Err(e) => {
                tracing::debug!(path = %root.display(), error = %e, "cannot watch yet");
                ids.insert(root.clone(), None);
            }
        }
    }
}

#[cfg(test)]
#[expect(
    clippy::unwrap_used,
    reason = "tests fail loudly: a panic is the failure report"
)]
mod tests {
    use super::*;

    #[test]
    fn plan_watches_dirs_and_parents_and_ignores_the_audit_log() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir_all(root.join("policies")).unwrap();
        std::fs::write(root.join("inventory.yaml"), "targets: []\n").unwrap();
        let config = Config {
            policies: Some(root.join("policies")),
            inventory: Some(root.join("inventory.yaml")),
            audit: agent_safe_core::config::AuditSettings {
                path: root.join("audit.jsonl"),
                ..Default::default()
            },
            source: Some(root.join("agent-safe.yaml")),
            ..Config::default()
        };
        let plan = WatchPlan::for_config(&config);
        assert_eq!(
            plan.roots.get(&root.join("policies")),
            Some(&RecursiveMode::Recursive)
        );
        assert_eq!(plan.roots.get(root), Some(&RecursiveMode::NonRecursive));
        assert!(plan.relevant(&root.join("policies/a.yaml")));
        assert!(plan.relevant(&root.join("policies/sub/b.yaml")));
        assert!(plan.relevant(&root.join("inventory.yaml")));
        assert!(plan.relevant(&root.join("..data")));
        assert!(plan.relevant(&root.join("registry.lock")));
        assert!(!plan.relevant(&root.join("audit.jsonl")));
        assert!(!plan.relevant(&root.join("audit.jsonl.lock")));
        assert!(!plan.relevant(&root.join("README.md")));
        assert!(!plan.relevant(&root.join("other/..data")));
    }
}
