//! Disk full: a child process whose file-size limit (`ulimit -f`) stops the
//! log from growing gets an `AuditError` naming the cause, and leaves no
//! partial line behind; the log still verifies clean.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod audit_support;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;

use agent_safe_core::audit::{AuditError, AuditLog, VerifyOptions, verify, verify_with};
use audit_support::{config, event, tagged};
use serde_json::json;

const CHILD_ENV: &str = "AUDIT_DISK_FULL_CHILD";

fn big_event(i: u64) -> agent_safe_core::audit::NewEvent {
    let mut ev = event(i);
    // Sized so that six lines (schema v2) nearly fill the 8 KiB limit: what
    // is left cannot hold a recovery event either.
    ev.params = json!({"blob": "x".repeat(650), "i": i});
    ev
}

/// Child side, run under `ulimit -f`: appends until the limit stops it.
#[test]
#[ignore = "child process of a_full_disk_fails_the_append_and_leaves_no_partial_line"]
fn disk_full_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let path = PathBuf::from(path);
    let log = AuditLog::open(config(&path)).unwrap();
    let len = || std::fs::metadata(&path).map_or(0, |m| m.len());
    let mut acked = 0u64;
    let (err, size) = loop {
        let before = len();
        match log.append(big_event(acked)) {
            Ok(_) => acked += 1,
            Err(e) => {
                assert_eq!(len(), before, "a partial line was left behind");
                break (e, before);
            }
        }
        assert!(acked < 10_000, "the file size limit never stopped the log");
    };
    assert!(matches!(err, AuditError::Io { op: "write", .. }), "{err:?}");
    println!("ACKED {acked}");
    println!("SIZE {size}");
    // The limit as the kernel sees it (sh counts `ulimit -f` in 512 or 1024 byte units).
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max file size"))
        .unwrap();
    println!("LIMIT {}", line.split_whitespace().nth(3).unwrap());
    println!("ERROR {err}");
    // Still full: fails again, the same way, still nothing partial.
    let before = len();
    let again = log.append(big_event(acked)).unwrap_err();
    assert_eq!(len(), before);
    println!("AGAIN {again}");
    // A torn line (as from a writer killed mid-write) cannot be repaired
    // while the disk is full: the repair fails, and the torn bytes stay
    // where they were, with no quarantine copy left behind.
    let torn = b"{\"act";
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(torn)
        .unwrap();
    let before = len();
    let err = log.append(big_event(acked)).unwrap_err();
    assert_eq!(len(), before);
    assert_eq!(std::fs::read(&path).unwrap()[size as usize..], torn[..]);
    let dir = path.parent().unwrap();
    assert!(std::fs::read_dir(dir).unwrap().all(|e| {
        !e.unwrap()
            .file_name()
            .to_string_lossy()
            .contains("quarantine")
    }));
    println!("TORN {}", torn.len());
    println!("REPAIR {err}");
}

#[test]
fn a_full_disk_fails_the_append_and_leaves_no_partial_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let exe = std::env::current_exe().unwrap();
    // SIGXFSZ would kill the process; ignored in the shell, it stays ignored
    // across exec, and the write fails with EFBIG instead.
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg(r#"trap '' XFSZ; ulimit -f 16 && exec "$0" --exact "$1" --ignored --nocapture --test-threads=1"#)
        .arg(&exe)
        .arg(crate::own_process::test_name(
            module_path!(),
            "disk_full_child",
        ))
        .env(CHILD_ENV, &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let acked: u64 = tagged(&stdout, "ACKED ")[0].trim().parse().unwrap();
    let error = tagged(&stdout, "ERROR ")[0];
    assert!(acked > 0, "{stdout}");
    assert!(
        error.starts_with(&format!(
            "audit log {}: write failed: File too large",
            path.display()
        )),
        "{error}"
    );
    assert!(
        tagged(&stdout, "AGAIN ")[0].contains("File too large"),
        "{stdout}"
    );
    // The failing line did not fit below the limit, but part of it did: the
    // kernel wrote that part, and the append cut it back off.
    let size: u64 = tagged(&stdout, "SIZE ")[0].trim().parse().unwrap();
    let limit: u64 = tagged(&stdout, "LIMIT ")[0].trim().parse().unwrap();
    assert!(size < limit, "{size}");
    let torn: u64 = tagged(&stdout, "TORN ")[0].trim().parse().unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), size + torn);
    eprintln!("child: {acked} appends, then at {size} of {limit} bytes: {error}");

    assert!(
        tagged(&stdout, "REPAIR ")[0].contains("File too large"),
        "{stdout}"
    );

    let report = verify(std::slice::from_ref(&path));
    assert!(
        !report.ok(),
        "a torn tail is a break unless accepted: {report}"
    );
    let report = verify_with(
        std::slice::from_ref(&path),
        &VerifyOptions {
            accept_torn_tail: true,
            ..VerifyOptions::default()
        },
    );
    assert!(report.ok(), "{report}");
    assert_eq!(report.events, acked);
    assert_eq!(report.torn_tail.unwrap().bytes, torn);
    // With room again, the torn line is repaired and the chain continues.
    let log = AuditLog::open(config(&path)).unwrap();
    assert_eq!(log.stats().recoveries, 1);
    assert_eq!(log.append(big_event(99)).unwrap().seq, acked + 2);
    let report = verify(&[path]);
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.recoveries, 1);
}
