//! What the loaders do with the entries of a configuration directory and
//! with files that change while they are read (issue 13, items 1 and 2):
//! every entry is loaded or reported, nothing blocks, and a file rewritten in
//! place never loads as a policy without its rules.
#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use agent_safe_core::diag::ConfigError;
use agent_safe_core::load::{load_inventory, load_policies, read_source_set, unloaded_entries};
use agent_safe_core::model::Rule;

const DENY: &str = "rules:\n  - name: deny-all\n    priority: 20\n    decision: deny\n    reason: everything is denied\n    match: {}\n";
const ALLOW: &str = "rules:\n  - name: allow-all\n    priority: 10\n    decision: allow\n    reason: anything goes\n    match: {}\n";

fn policies() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("policies");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("allow.yaml"), ALLOW).unwrap();
    std::fs::write(dir.join("deny.yaml"), DENY).unwrap();
    (tmp, dir)
}

fn mkfifo(path: &Path) {
    let st = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success());
}

/// Runs `f` on a thread and fails the test if it does not return in 20 s:
/// a loader that opens a FIFO blocks forever.
fn within<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("the loader hung (it must not open a FIFO)")
}

fn names(rules: &[Rule]) -> Vec<&str> {
    rules.iter().map(|r| r.name.as_str()).collect()
}

fn messages(e: &ConfigError) -> String {
    e.diagnostics()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_dangling_symlink_is_an_error_naming_it() {
    let (_tmp, dir) = policies();
    std::os::unix::fs::symlink(dir.join("gone.yaml"), dir.join("extra.yaml")).unwrap();
    let e = load_policies(&dir).unwrap_err();
    let text = messages(&e);
    assert!(text.contains("extra.yaml"), "{text}");
    assert!(text.contains("dangling symlink"), "{text}");
    assert!(text.contains("gone.yaml"), "{text}");
}

#[test]
fn a_dangling_symlink_with_another_extension_is_an_error_too() {
    let (_tmp, dir) = policies();
    std::os::unix::fs::symlink(dir.join("nowhere"), dir.join("notes.txt")).unwrap();
    let text = messages(&load_policies(&dir).unwrap_err());
    assert!(
        text.contains("notes.txt: error: dangling symlink"),
        "{text}"
    );
}

#[test]
fn a_fifo_in_a_directory_is_an_error_and_does_not_block() {
    let (_tmp, dir) = policies();
    mkfifo(&dir.join("piped.yaml"));
    let d = dir.clone();
    let e = within(move || load_policies(&d)).unwrap_err();
    let text = messages(&e);
    assert!(text.contains("piped.yaml"), "{text}");
    assert!(text.contains("FIFO"), "{text}");
}

#[test]
fn a_fifo_as_the_configured_file_is_an_error_and_does_not_block() {
    let tmp = tempfile::tempdir().unwrap();
    let inv = tmp.path().join("inventory.yaml");
    mkfifo(&inv);
    let e = within(move || load_inventory(&inv)).unwrap_err();
    assert!(messages(&e).contains("FIFO"), "{}", messages(&e));
}

#[test]
fn a_socket_is_an_error() {
    let (_tmp, dir) = policies();
    let _sock = std::os::unix::net::UnixListener::bind(dir.join("agent.sock")).unwrap();
    let text = messages(&load_policies(&dir).unwrap_err());
    assert!(text.contains("agent.sock: error: a socket"), "{text}");
}

#[test]
fn other_extensions_are_reported_and_uppercase_yaml_is_loaded() {
    let (_tmp, dir) = policies();
    std::fs::write(
        dir.join("extra.YAML"),
        "rules:\n  - {name: upper, decision: deny, reason: r, match: {}}\n",
    )
    .unwrap();
    std::fs::write(dir.join("more.json"), "{\"rules\": []}").unwrap();
    std::fs::write(dir.join("README.md"), "# notes\n").unwrap();
    std::fs::write(dir.join("deny.yaml.bak"), DENY).unwrap();
    std::fs::write(dir.join(".hidden.yaml"), "not: [valid").unwrap();
    let set = read_source_set(&dir).unwrap();
    let loaded: Vec<String> = set
        .files
        .iter()
        .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(loaded, ["allow.yaml", "deny.yaml", "extra.YAML"]);
    let warned: Vec<String> = set
        .warnings
        .iter()
        .map(|d| d.file.file_name().unwrap().to_string_lossy().into_owned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    // A README is documentation kept beside the files: not loaded, no warning.
    assert_eq!(warned, ["deny.yaml.bak", "more.json"]);
    assert_eq!(unloaded_entries(&dir).len(), 2);
    assert!(
        set.warnings[0]
            .message
            .contains("only files named `*.yaml` or `*.yml` are read")
    );
    let rules = load_policies(&dir).unwrap();
    assert_eq!(names(&rules), ["allow-all", "deny-all", "upper"]);
}

#[test]
fn an_empty_policy_file_is_an_error_and_rules_empty_list_is_not() {
    let (_tmp, dir) = policies();
    std::fs::write(dir.join("deny.yaml"), "").unwrap();
    let text = messages(&load_policies(&dir).unwrap_err());
    assert!(
        text.contains("deny.yaml: error: policy file is empty: it has no `rules:` key"),
        "{text}"
    );
    std::fs::write(dir.join("deny.yaml"), "# only a comment\n").unwrap();
    assert!(load_policies(&dir).is_err());
    std::fs::write(dir.join("deny.yaml"), "rules:\n").unwrap();
    assert!(messages(&load_policies(&dir).unwrap_err()).contains("`rules:` has no value"));
    std::fs::write(dir.join("deny.yaml"), "rules: []\n").unwrap();
    assert_eq!(names(&load_policies(&dir).unwrap()), ["allow-all"]);
}

#[test]
fn an_empty_inventory_file_is_an_error_and_targets_empty_list_is_not() {
    let tmp = tempfile::tempdir().unwrap();
    let inv = tmp.path().join("inventory.yaml");
    std::fs::write(&inv, "").unwrap();
    assert!(
        messages(&load_inventory(&inv).unwrap_err())
            .contains("inventory file is empty: it has no `targets:` key")
    );
    std::fs::write(&inv, "targets: []\n").unwrap();
    assert!(load_inventory(&inv).unwrap().is_empty());
}

/// A writer rewrites `deny.yaml` in place as fast as it can — truncate, a
/// pause, then the content — while the loader reads the directory in a loop.
/// Every load either fails (the file kept changing or was caught empty) or
/// has the deny rule; none loads the allow rule alone.
#[test]
fn a_file_rewritten_in_place_never_loads_without_its_rules() {
    let (_tmp, dir) = policies();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let path = dir.join("deny.yaml");
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut rewrites = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let mut f = std::fs::File::create(&path).unwrap(); // truncates
                std::thread::sleep(Duration::from_micros(200 * u64::from(rewrites % 5)));
                let (a, b) = DENY.split_at(DENY.len() / 2);
                f.write_all(a.as_bytes()).unwrap();
                if rewrites.is_multiple_of(3) {
                    std::thread::yield_now();
                }
                f.write_all(b.as_bytes()).unwrap();
                drop(f);
                rewrites += 1;
            }
            rewrites
        })
    };
    let (mut ok, mut refused) = (0u32, 0u32);
    for _ in 0..300 {
        match load_policies(&dir) {
            Ok(rules) => {
                assert!(
                    names(&rules).contains(&"deny-all"),
                    "loaded without the deny rule: {:?}",
                    names(&rules)
                );
                ok += 1;
            }
            Err(_) => refused += 1,
        }
    }
    stop.store(true, Ordering::Relaxed);
    let rewrites = writer.join().unwrap();
    eprintln!("{rewrites} rewrites; {ok} loads with the deny rule, {refused} refused");
    assert!(
        rewrites > 100,
        "the writer hardly ran ({rewrites} rewrites)"
    );
    // Once the writer is done, the whole file loads.
    assert_eq!(
        names(&load_policies(&dir).unwrap()),
        ["allow-all", "deny-all"]
    );
}

/// The registry manifest and a signing key's `secret_file` are read the same
/// way: a FIFO or a dangling symlink there is an error, never a hang, and a
/// manifest that is a dangling symlink does not switch the integrity check off.
#[test]
fn manifest_and_key_files_that_are_fifos_or_dangling_are_errors() {
    use agent_safe_core::config::load_config;
    use agent_safe_core::engine::Snapshot;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    std::fs::create_dir(root.join("policies")).unwrap();
    std::fs::write(root.join("policies/deny.yaml"), DENY).unwrap();
    std::fs::write(
        root.join("agent-safe.yaml"),
        "policies: policies\nidentity:\n  keys:\n    - kid: k1\n      secret_file: signing.key\n",
    )
    .unwrap();
    mkfifo(&root.join("signing.key"));
    let r = root.clone();
    let e = within(move || Snapshot::load(&load_config(&r.join("agent-safe.yaml")).unwrap()))
        .unwrap_err();
    assert!(messages(&e).contains("FIFO"), "{}", messages(&e));

    std::fs::write(
        root.join("agent-safe.yaml"),
        "policies: policies\nactions: actions\n",
    )
    .unwrap();
    std::fs::create_dir(root.join("actions")).unwrap();
    std::os::unix::fs::symlink(root.join("gone.lock"), root.join("registry.lock")).unwrap();
    let r = root.clone();
    let e = within(move || Snapshot::load(&load_config(&r.join("agent-safe.yaml")).unwrap()))
        .unwrap_err();
    assert!(
        messages(&e).contains("dangling symlink"),
        "{}",
        messages(&e)
    );
}

/// A project whose `agent-safe.yaml` is a dangling symlink (or a FIFO) uses
/// that file — and fails to load it — instead of falling through to a
/// parent directory's config.
#[test]
fn a_dangling_config_symlink_does_not_fall_through_to_a_parent_config() {
    use agent_safe_core::config::{discover, load_config};
    let tmp = tempfile::tempdir().unwrap();
    let parent = tmp.path();
    std::fs::write(parent.join("agent-safe.yaml"), "builtin_actions: true\n").unwrap();
    let child = parent.join("project");
    std::fs::create_dir(&child).unwrap();
    std::os::unix::fs::symlink(
        child.join("..data/agent-safe.yaml"),
        child.join("agent-safe.yaml"),
    )
    .unwrap();
    let found = discover(None, &child).unwrap().unwrap();
    assert_eq!(found, child.join("agent-safe.yaml"));
    let text = messages(&load_config(&found).unwrap_err());
    assert!(text.contains("dangling symlink"), "{text}");

    std::fs::remove_file(child.join("agent-safe.yaml")).unwrap();
    mkfifo(&child.join("agent-safe.yaml"));
    let found = discover(None, &child).unwrap().unwrap();
    let e = within(move || load_config(&found)).unwrap_err();
    assert!(messages(&e).contains("FIFO"), "{}", messages(&e));
}

/// A file caught just after a writer truncated it (empty, modified a moment
/// ago) is read again while the writer catches up, instead of failing at
/// once: the load then sees the whole file. (Without the writer, the empty
/// file is still an error: see above.)
#[test]
fn a_freshly_truncated_file_gets_time_to_be_written() {
    let (_tmp, dir) = policies();
    let path = dir.join("deny.yaml");
    let mut loaded = 0;
    for _ in 0..10 {
        let f = std::fs::File::create(&path).unwrap(); // truncates
        let writer = {
            let path = path.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                std::fs::write(&path, DENY).unwrap();
            })
        };
        drop(f);
        if let Ok(rules) = load_policies(&dir) {
            assert_eq!(names(&rules), ["allow-all", "deny-all"]);
            loaded += 1;
        }
        writer.join().unwrap();
    }
    assert!(loaded > 0, "no load waited for the writer");
}
