//! Snapshot tests of the `agent-safe` binary: output, error text and exit
//! code of every command, run as a user would, in temporary projects.
//!
//! Snapshots live in `tests/snapshots/`. To accept changed output, review
//! the diff and run `INSTA_UPDATE=always cargo test -p agent-safe-cli`
//! (or `cargo insta review`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod audit;
mod audit_unwritable;
mod check;
mod coverage;
mod demo;
mod docs_cli;
mod docs_migrating;
mod docs_sidecar;
mod fmt;
mod guide;
mod init;
mod inventory_sync;
mod migrate;
mod misc;
mod parity;
mod plan;
mod policy_test;
mod replay;
mod schemas;
mod tlog;
mod validate;

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// The fixed evaluation time used by the tests (a Wednesday, 12:00 UTC).
pub const AT: &str = "2026-03-04T12:00:00Z";

/// The built `agent-safe` binary.
pub fn bin() -> PathBuf {
    insta_cmd::get_cargo_bin("agent-safe")
}

/// A temporary directory, with a project in it or not.
pub struct Project {
    _tmp: TempDir,
    /// The temp directory itself (parent of `dir`).
    pub root: PathBuf,
    /// The project directory: every command runs here.
    pub dir: PathBuf,
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

impl Project {
    /// An empty directory (no configuration anywhere above it that we made).
    pub fn empty() -> Project {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let dir = root.join("proj");
        std::fs::create_dir_all(&dir).unwrap();
        Project {
            _tmp: tmp,
            root,
            dir,
        }
    }

    /// A copy of `tests/fixtures/project`: a small, stable project.
    pub fn fixture() -> Project {
        let p = Project::empty();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/project");
        copy_dir(&src, &p.dir);
        p
    }

    /// `agent-safe ARGS` in the project directory, with an environment that
    /// cannot leak into the output.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.current_dir(&self.dir)
            .args(args)
            .env_remove("AGENT_SAFE_CONFIG")
            .env_remove("AGENT_SAFE_CALLER")
            .env_remove("CLICOLOR_FORCE")
            .env_remove("CLICOLOR")
            .env_remove("NO_COLOR")
            .env("COLUMNS", "100");
        c
    }

    /// Writes a file (relative to the project), creating directories.
    pub fn write(&self, rel: &str, text: &str) {
        let path = self.dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// Reads a file (relative to the project).
    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.dir.join(rel)).unwrap()
    }

    /// Runs a command and returns (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.cmd(args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    }

    /// Snapshot settings: redacts what changes from run to run (ids, real
    /// times, hashes, tokens, temp paths), keeps fixed `--at` times.
    pub fn settings(&self) -> insta::Settings {
        let mut s = insta::Settings::clone_current();
        s.set_snapshot_path("../snapshots");
        s.set_prepend_module_to_snapshot(false);
        s.add_filter(&regex::escape(&self.root.display().to_string()), "[TMP]");
        // Keep evaluation times given with --at (whole seconds) ...
        s.add_filter(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.000000Z", "$1.@@ZERO@@Z");
        // ... and redact real clock readings.
        s.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", "[TIMESTAMP]");
        s.add_filter(r"@@ZERO@@", "000000");
        s.add_filter(
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "[UUID]",
        );
        s.add_filter(r"\b[0-9a-f]{64}\b", "[HASH]");
        s.add_filter(
            r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+",
            "[JWT]",
        );
        s.add_filter(r"key-\d{8}", "key-[DATE]");
        s
    }
}

/// `insta_cmd::assert_cmd_snapshot!` with the project's redactions.
#[macro_export]
macro_rules! snap {
    ($project:expr, $name:expr, $args:expr) => {{
        let p = &$project;
        let mut cmd = p.cmd($args);
        p.settings().bind(|| {
            insta_cmd::assert_cmd_snapshot!($name, cmd);
        });
    }};
}
