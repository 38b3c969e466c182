//! Audit log benchmarks: append throughput (1 and 4 threads, `durability:
//! process` and `sync`), verify throughput on a large log, and "last N".
//!
//! `cargo bench -p agent-safe-core --bench audit`
//!
//! Environment:
//! - `AUDIT_BENCH_VERIFY_EVENTS` — events in the verify log (default
//!   1000000; `0` skips the verify benchmark). The log is generated once per
//!   run in a temporary directory.
//! - `AUDIT_BENCH_TLOG_EVENTS` — events in the checkpointed log of the
//!   Merkle tree benchmarks (default 1000000; `0` skips them).
//! - `AUDIT_BENCH_DIR` — where to put the temporary logs (default: the system
//!   temporary directory; `sync` numbers depend on the disk behind it).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use agent_safe_core::audit::{
    AuditConfig, AuditLog, CheckpointConfig, Durability, EventFilter, NewEvent, VerifyOptions,
    checkpoints_path, create_signer_key, log_files, read_checkpoints, read_events, verify,
    verify_checkpoints, verify_with_checkpoints,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;

/// A typical decision event (about 700 bytes as a line).
fn event(i: u64) -> NewEvent {
    let mut ev = NewEvent::decision();
    ev.action = Some("restart-deployment".into());
    ev.action_version = Some("1.2.0".into());
    ev.target = Some("staging/api-server".into());
    ev.caller = Some(format!("deploy-agent-{}", i % 8));
    ev.params =
        json!({"namespace": "staging", "deployment": "api-server", "reason": "rollout stuck"});
    ev.decision = Some("allow".into());
    ev.reason = Some("Deployers may manage staging".into());
    ev.policy_matched = Some("allow-deployer-staging".into());
    ev.risk_class = Some("medium".into());
    ev.effective_risk = Some("medium".into());
    ev.correlation_id = Some(format!("req-{i}"));
    ev.context = json!({"source": "sidecar"});
    ev
}

fn tempdir() -> tempfile::TempDir {
    match std::env::var_os("AUDIT_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d).unwrap(),
        None => tempfile::tempdir().unwrap(),
    }
}

fn open(dir: &Path, durability: Durability) -> Arc<AuditLog> {
    let cfg = AuditConfig {
        durability,
        ..AuditConfig::new(dir.join("audit.jsonl"))
    };
    Arc::new(AuditLog::open(cfg).unwrap())
}

/// Runs `iters` appends split over `threads` threads; returns the wall time.
fn appends(log: &Arc<AuditLog>, threads: u64, iters: u64) -> Duration {
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let log = Arc::clone(log);
            let n = iters / threads + u64::from(t < iters % threads);
            std::thread::spawn(move || {
                for i in 0..n {
                    log.append(event(i)).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    start.elapsed()
}

fn bench_append(c: &mut Criterion) {
    let mut g = c.benchmark_group("append");
    g.throughput(Throughput::Elements(1));
    // What building the `NewEvent` costs (included in every append below).
    g.bench_function("build-event-only", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            event(i)
        });
    });
    for (name, durability) in [("process", Durability::Process), ("sync", Durability::Sync)] {
        if durability == Durability::Sync {
            g.sample_size(10).measurement_time(Duration::from_secs(10));
        }
        for threads in [1u64, 4] {
            let dir = tempdir();
            let log = open(dir.path(), durability);
            g.bench_function(format!("{name}/{threads}-thread"), |b| {
                b.iter_custom(|iters| appends(&log, threads, iters));
            });
            let s = log.stats();
            eprintln!(
                "append {name}/{threads}-thread: {} appends, {} fdatasyncs ({:.1} appends per sync)",
                s.appends,
                s.syncs,
                if s.syncs == 0 {
                    0.0
                } else {
                    s.appends as f64 / s.syncs as f64
                }
            );
        }
    }
    g.finish();
}

fn verify_events() -> u64 {
    std::env::var("AUDIT_BENCH_VERIFY_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

fn generate(dir: &Path, n: u64) -> PathBuf {
    let log = open(dir, Durability::Process);
    let t = Instant::now();
    appends(&log, 1, n);
    let path = log.path().to_path_buf();
    let size = std::fs::metadata(&path).unwrap().len();
    eprintln!(
        "generated {n} events ({:.0} MB, {:.0} bytes/line) in {:.2?}",
        size as f64 / 1e6,
        size as f64 / n as f64,
        t.elapsed()
    );
    path
}

fn bench_verify(c: &mut Criterion) {
    let n = verify_events();
    if n == 0 {
        return;
    }
    let dir = tempdir();
    let path = generate(dir.path(), n);
    let mut g = c.benchmark_group("verify");
    g.throughput(Throughput::Elements(n));
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function(format!("{n}-events"), |b| {
        b.iter(|| {
            let report = verify(std::slice::from_ref(&path));
            assert!(report.is_clean(), "{report}");
            report.events
        });
    });
    g.finish();
    // Wall time depends on how busy the cores are; CPU time much less.
    for _ in 0..3 {
        let (cpu0, t0) = (cpu_seconds(), Instant::now());
        let report = verify(std::slice::from_ref(&path));
        let (cpu, wall) = (cpu_seconds() - cpu0, t0.elapsed().as_secs_f64());
        assert!(report.is_clean());
        eprintln!(
            "verify {n} events: wall {wall:.2} s ({:.0} events/s), CPU {cpu:.2} s ({:.0} events per CPU-second)",
            n as f64 / wall,
            n as f64 / cpu
        );
    }
    let mut g = c.benchmark_group("read");
    g.throughput(Throughput::Elements(100));
    g.bench_function(format!("last-100-of-{n}"), |b| {
        b.iter(|| {
            read_events(
                std::slice::from_ref(&path),
                &EventFilter::default(),
                Some(100),
            )
            .unwrap()
        });
    });
    g.finish();
}

/// User + system CPU time of this process so far (all threads), from
/// `/proc/self/stat` (in clock ticks of 1/100 s).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the `(comm)`: state is field 3; utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn checkpointed(dir: &Path, every_events: u64) -> Arc<AuditLog> {
    let key_file = dir.join("checkpoint.key");
    if !key_file.exists() {
        create_signer_key(&key_file, "bench.example/audit").unwrap();
    }
    let cp = CheckpointConfig {
        origin: "bench.example/audit".into(),
        key_file,
        every_events,
        every_seconds: 0,
        command: None,
        on_shutdown: true,
    };
    Arc::new(
        AuditLog::open_with_checkpoints(AuditConfig::new(dir.join("audit.jsonl")), cp).unwrap(),
    )
}

/// The Merkle tree: appends with checkpointing on, a new checkpoint, an
/// inclusion proof and `verify_checkpoints` on a large log.
fn bench_tlog(c: &mut Criterion) {
    let mut g = c.benchmark_group("append");
    g.throughput(Throughput::Elements(1));
    {
        let dir = tempdir();
        let log = checkpointed(dir.path(), 1000);
        g.bench_function("process-checkpointed/1-thread", |b| {
            b.iter_custom(|iters| appends(&log, 1, iters));
        });
    }
    g.finish();
    let n = std::env::var("AUDIT_BENCH_TLOG_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000u64);
    if n == 0 {
        return;
    }
    let dir = tempdir();
    let log = checkpointed(dir.path(), 1000);
    let t = Instant::now();
    let mut ids = Vec::new();
    for i in 0..n {
        let r = log.append(event(i)).unwrap();
        if i % (n / 16).max(1) == 0 || i + 1 == n {
            ids.push(r.event_id);
        }
    }
    eprintln!("generated {n} checkpointed events in {:.2?}", t.elapsed());
    let mut g = c.benchmark_group("tlog");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.bench_function(format!("checkpoint-after-1000-more-of-{n}"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for k in 0..iters {
                for i in 0..999 {
                    log.append(event(n + k * 1000 + i)).unwrap();
                }
                let t = Instant::now();
                log.checkpoint_now().unwrap();
                total += t.elapsed();
            }
            total
        });
    });
    // The newest event: what a caller asks right after its decision.
    let newest = log.append(event(0)).unwrap().event_id;
    log.checkpoint_now().unwrap();
    g.bench_function(format!("inclusion-proof-newest-of-{n}"), |b| {
        b.iter(|| log.prove(&newest, None).unwrap());
    });
    // The proof alone, by leaf index, from the tree store (what `prove`
    // does after finding the event).
    let active = dir.path().join("audit.jsonl");
    let size = agent_safe_core::audit::TreeStore::sync(&active)
        .unwrap()
        .size();
    let mut k = 0u64;
    g.bench_function(
        format!("tree-store-sync-and-inclusion-path-of-{size}"),
        |b| {
            b.iter(|| {
                k = (k + 7_919) % size;
                let t = agent_safe_core::audit::TreeStore::sync(&active).unwrap();
                t.inclusion_proof(k, size).unwrap().unwrap()
            });
        },
    );
    g.finish();
    // Old events: found by the time in their UUID v7 id. Each proof once
    // cold (the first call for that id), then five more times.
    let mut warm: Vec<Duration> = Vec::new();
    let mut cold: Vec<Duration> = Vec::new();
    for id in ids.iter().rev() {
        for k in 0..6 {
            let t = Instant::now();
            let p = log.prove(id, None).unwrap();
            let took = t.elapsed();
            if k == 0 {
                cold.push(took);
                eprintln!(
                    "proof of seq {} of {}: {:.2?} (first call)",
                    p.seq, p.tree_size, took
                );
            } else {
                warm.push(took);
            }
        }
    }
    warm.sort();
    cold.sort();
    let pct = |v: &[Duration], q: f64| {
        v.get(((v.len() - 1) as f64 * q) as usize)
            .copied()
            .unwrap_or_default()
    };
    eprintln!(
        "proofs of {} events spread over the log: first calls median {:.2?}, max {:.2?}; repeated p50 {:.2?}, p90 {:.2?}, max {:.2?}",
        ids.len(),
        pct(&cold, 0.5),
        pct(&cold, 1.0),
        pct(&warm, 0.5),
        pct(&warm, 0.9),
        pct(&warm, 1.0)
    );
    // CPU time per proof (steadier than wall time on a busy machine): 200
    // proofs of the old events above, 200 of the newest.
    for (what, list) in [
        ("old events", ids.clone()),
        ("the newest event", vec![newest.clone()]),
    ] {
        let (cpu0, t0) = (cpu_seconds(), Instant::now());
        let rounds = 200;
        for k in 0..rounds {
            let id = list.get(k % list.len()).unwrap();
            log.prove(id, None).unwrap();
        }
        let (cpu, wall) = (cpu_seconds() - cpu0, t0.elapsed().as_secs_f64());
        eprintln!(
            "{rounds} proofs of {what}: {:.0} µs CPU per proof, {:.0} µs wall per proof",
            cpu * 1e6 / rounds as f64,
            wall * 1e6 / rounds as f64
        );
    }
    let verifier = log.checkpoint_verifier().unwrap().clone();
    drop(log);
    let files = log_files(&dir.path().join("audit.jsonl")).unwrap();
    let cps: Vec<_> = read_checkpoints(
        &checkpoints_path(&dir.path().join("audit.jsonl")),
        &verifier,
    )
    .unwrap()
    .into_iter()
    .map(|(c, _)| (String::new(), c))
    .collect();
    let events = verify_checkpoints(&files, &cps).unwrap().log_size;
    let mut g = c.benchmark_group("verify-checkpoints");
    g.throughput(Throughput::Elements(events));
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function(format!("{events}-events-{}-checkpoints", cps.len()), |b| {
        b.iter(|| {
            let r = verify_checkpoints(&files, &cps).unwrap();
            assert!(r.ok());
            r.log_size
        });
    });
    g.finish();
    // What `audit verify --checkpoint` does: the chain and the tree in one
    // pass over the log.
    let mut g = c.benchmark_group("verify-with-checkpoints");
    g.throughput(Throughput::Elements(events));
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function(format!("{events}-events-{}-checkpoints", cps.len()), |b| {
        b.iter(|| {
            let (chain, r) =
                verify_with_checkpoints(&files, &VerifyOptions::default(), &cps).unwrap();
            assert!(chain.is_clean() && r.ok());
            r.log_size
        });
    });
    g.finish();
    for _ in 0..3 {
        // The two passes `audit verify --checkpoint` made before, at the
        // same load, for comparison.
        let (cpu0, t0) = (cpu_seconds(), Instant::now());
        let chain = verify(&files);
        let r = verify_checkpoints(&files, &cps).unwrap();
        let (cpu, wall) = (cpu_seconds() - cpu0, t0.elapsed().as_secs_f64());
        assert!(chain.is_clean() && r.ok());
        eprintln!(
            "verify + verify_checkpoints (two passes), {} events: wall {wall:.2} s ({:.0} events/s), CPU {cpu:.2} s ({:.0} events per CPU-second)",
            r.log_size,
            r.log_size as f64 / wall,
            r.log_size as f64 / cpu
        );
        let (cpu0, t0) = (cpu_seconds(), Instant::now());
        let (chain, r) = verify_with_checkpoints(&files, &VerifyOptions::default(), &cps).unwrap();
        let (cpu, wall) = (cpu_seconds() - cpu0, t0.elapsed().as_secs_f64());
        assert!(chain.is_clean() && r.ok());
        eprintln!(
            "verify_with_checkpoints (chain + tree, one pass), {} events: wall {wall:.2} s ({:.0} events/s), CPU {cpu:.2} s ({:.0} events per CPU-second)",
            r.log_size,
            r.log_size as f64 / wall,
            r.log_size as f64 / cpu
        );
    }
}

criterion_group!(benches, bench_append, bench_verify, bench_tlog);
criterion_main!(benches);
