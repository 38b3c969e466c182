//! The live inventory (`inventory_sync.live: true`): the sidecar lists the
//! synced kinds, then watches them from the list's resourceVersion, and after
//! every batch of changes compiles a new snapshot with the new inventory and
//! swaps it in whole (`AgentSafe::set_live_inventory`): a check sees the old
//! inventory or the new one, never a mix.
//!
//! When a list fails or a watch breaks (the API server is unreachable, a
//! resourceVersion expired), the last good inventory stays in use, the
//! failure and the staleness are reported in `/readyz` and `/metrics`, and
//! the whole list is retried with a backoff (1 s doubling to 30 s). Before the
//! first successful list the server is not ready.
//!
//! Runs on plain threads: the client is blocking (`ureq`), one thread per
//! watched kind, one that applies events and swaps snapshots.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use agent_safe_core::k8s::client::{
    ClusterSource, KubeClient, KubeError, WatchEvent, fetch, object_key,
};
use agent_safe_core::k8s::sync::{
    InventorySyncSettings, Kind, Mapper, Objects, load_overrides, merge_overrides,
};
use jiff::Timestamp;

use crate::state::{AppState, InventoryStatus};

/// How long a watch request lasts before it is renewed (from the last
/// resourceVersion seen).
const WATCH_SECONDS: u64 = 60;
/// Events arriving within this time of each other are applied together.
const COALESCE: Duration = Duration::from_millis(20);

enum Msg {
    Event(Kind, WatchEvent),
    Broken(String),
}

/// Starts the live inventory on its own threads.
pub fn spawn(state: AppState, settings: InventorySyncSettings) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("live-inventory".into())
        .spawn(move || run(&state, &settings))
        .map(|_| ())
}

struct Tracker {
    /// When the inventory was last known to match the cluster.
    synced_at: Option<(Instant, Timestamp)>,
    targets: usize,
}

impl Tracker {
    fn report(&self, state: &AppState, watching: bool, error: Option<String>) {
        let stale = match (&self.synced_at, watching) {
            (_, true) => 0.0,
            (Some((at, _)), false) => at.elapsed().as_secs_f64(),
            (None, false) => 0.0,
        };
        state.metrics.record_inventory(stale, self.targets);
        state.health.set_inventory(InventoryStatus {
            mode: "live",
            watching,
            targets: self.targets,
            synced_at: self.synced_at.map(|(_, t)| t.to_string()),
            stale_seconds: stale,
            error,
        });
    }

    fn fresh(&mut self) {
        self.synced_at = Some((Instant::now(), Timestamp::now()));
    }
}

fn run(state: &AppState, settings: &InventorySyncSettings) {
    let mut t = Tracker {
        synced_at: None,
        targets: 0,
    };
    let mapper = match Mapper::new(settings) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "live inventory: invalid settings");
            t.report(state, false, Some(e));
            return;
        }
    };
    let kinds = mapper.kinds_to_read();
    let source = ClusterSource {
        kubeconfig: settings.kubeconfig.clone(),
        context: settings.context.clone(),
    };
    let mut backoff = Duration::from_secs(1);
    t.report(state, false, None);
    loop {
        let error = match list_and_watch(state, settings, &mapper, &kinds, &source, &mut t) {
            Ok(()) => continue,
            Err(e) => e,
        };
        state.metrics.inventory_failure();
        tracing::warn!(error = %error, retry_in_s = backoff.as_secs(), "live inventory: keeping the last good inventory");
        t.report(state, false, Some(error));
        // Report the staleness as it grows while waiting.
        let until = Instant::now() + backoff;
        while Instant::now() < until {
            std::thread::sleep(Duration::from_millis(500).min(until - Instant::now()));
            let last = state.health.inventory().and_then(|i| i.error);
            t.report(state, false, last);
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

/// Swaps in the inventory `objects` give (with the overrides merged over).
fn apply(
    state: &AppState,
    settings: &InventorySyncSettings,
    mapper: &Mapper,
    objects: &Objects,
    t: &mut Tracker,
) -> Result<(), String> {
    let (synced, warnings) = mapper.targets(objects);
    for w in &warnings {
        tracing::warn!(target_id = %w.id, "{}", w.message);
    }
    let overrides = load_overrides(settings).map_err(|e| e.to_string())?;
    let targets = merge_overrides(synced, overrides);
    let n = targets.len();
    state
        .safe
        .set_live_inventory(targets)
        .map_err(|e| e.to_string())?;
    t.targets = n;
    t.fresh();
    Ok(())
}

/// One list, then watches until one breaks. Returns why it stopped.
fn list_and_watch(
    state: &AppState,
    settings: &InventorySyncSettings,
    mapper: &Mapper,
    kinds: &[Kind],
    source: &ClusterSource,
    t: &mut Tracker,
) -> Result<(), String> {
    let client = KubeClient::connect(source).map_err(|e: KubeError| e.message)?;
    let fetched = fetch(&client, kinds).map_err(|e| e.message)?;
    let mut objects = fetched.objects;
    apply(state, settings, mapper, &objects, t)?;
    tracing::info!(targets = t.targets, cluster = %client.describe, "live inventory: listed");
    t.report(state, true, None);

    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel::<Msg>();
    for (kind, rv) in fetched.resource_versions {
        let client = client.clone();
        let tx = tx.clone();
        let stop = Arc::clone(&stop);
        std::thread::Builder::new()
            .name(format!("watch-{}", kind.resource()))
            .spawn(move || watch_kind(&client, kind, rv, &tx, &stop))
            .map_err(|e| format!("cannot start a watch thread: {e}"))?;
    }
    drop(tx);
    let result = loop {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(Msg::Broken(why)) => break Err(why),
            Ok(Msg::Event(kind, ev)) => {
                let mut broken = None;
                let mut changed = note(&mut objects, kind, ev);
                // Take what else arrives right away: one swap for a burst.
                let deadline = Instant::now() + COALESCE;
                while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                    match rx.recv_timeout(left) {
                        Ok(Msg::Event(k, e)) => changed |= note(&mut objects, k, e),
                        Ok(Msg::Broken(why)) => {
                            broken = Some(why);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                if changed {
                    let started = Instant::now();
                    apply(state, settings, mapper, &objects, t)?;
                    tracing::info!(
                        targets = t.targets,
                        took_ms = started.elapsed().as_secs_f64() * 1000.0,
                        "live inventory: updated"
                    );
                }
                if let Some(why) = broken {
                    break Err(why);
                }
                t.fresh();
                t.report(state, true, None);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                t.fresh();
                t.report(state, true, None);
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break Err("the watches ended".into()),
        }
    };
    stop.store(true, Ordering::Release);
    result
}

/// Applies one event to the objects; whether anything changed.
fn note(objects: &mut Objects, kind: Kind, ev: WatchEvent) -> bool {
    let map = objects.entry(kind).or_default();
    match ev {
        WatchEvent::Applied(meta) => {
            let key = object_key(&meta);
            map.insert(key, meta);
            true
        }
        WatchEvent::Deleted(meta) => map.remove(&object_key(&meta)).is_some(),
        WatchEvent::Bookmark(_) | WatchEvent::Expired => false,
    }
}

fn watch_kind(
    client: &KubeClient,
    kind: Kind,
    mut rv: String,
    tx: &mpsc::Sender<Msg>,
    stop: &AtomicBool,
) {
    loop {
        if stop.load(Ordering::Acquire) {
            return;
        }
        let mut expired = false;
        let from = rv.clone();
        let result = client.watch(kind, &from, WATCH_SECONDS, |ev| {
            if stop.load(Ordering::Acquire) {
                return false;
            }
            match &ev {
                WatchEvent::Applied(m) | WatchEvent::Deleted(m) => {
                    if let Some(v) = &m.resource_version {
                        v.clone_into(&mut rv);
                    }
                }
                WatchEvent::Bookmark(v) => v.clone_into(&mut rv),
                WatchEvent::Expired => {
                    expired = true;
                    return false;
                }
            }
            tx.send(Msg::Event(kind, ev)).is_ok()
        });
        let why = match result {
            Err(e) => e.message,
            Ok(()) if expired => format!(
                "the watch of {} expired (resourceVersion too old): listing again",
                kind.resource()
            ),
            // The server ended the watch after its timeout: renew it.
            Ok(()) => continue,
        };
        let _ = tx.send(Msg::Broken(why));
        return;
    }
}
