//! Running one test of this binary in a process of its own: for tests that
//! change process-wide state (a crypto provider, a file-size limit) or must be
//! killed mid-write. The child runs only the named `#[ignore]`d test.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::process::Command;

/// The test harness's name for the test `name` of the module `module` (its
/// `module_path!()`, whose first segment is the crate, which test names omit).
pub fn test_name(module: &str, name: &str) -> String {
    match module.split_once("::") {
        Some((_, path)) => format!("{path}::{name}"),
        None => name.to_owned(),
    }
}

/// A command (not started) that runs only the `#[ignore]`d test `name` of
/// `module` in a child process of this binary, output not captured.
pub fn command(module: &str, name: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("the test binary's path"));
    cmd.args([
        "--exact",
        &test_name(module, name),
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    cmd
}

/// Runs the `#[ignore]`d test `name` of `module` in a child process and
/// fails unless exactly that one test ran and passed (a renamed test would
/// otherwise run nothing and pass).
pub fn run(module: &str, name: &str) {
    let out = command(module, name).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "the child test `{}` failed or did not run:\n{stdout}\n{}",
        test_name(module, name),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn test_names_drop_the_crate() {
    assert_eq!(
        test_name("suite::audit_crash", "crash_child"),
        "audit_crash::crash_child"
    );
    assert_eq!(test_name(module_path!(), "x"), "own_process::x");
}
