//! `demo`: the seed scenario on the bundled defaults.

use crate::{Project, snap};

#[test]
fn demo_runs_the_seed_scenario() {
    let p = Project::empty();
    // The temporary project's path contains the pid and a clock reading.
    let mut cmd = p.cmd(&["demo"]);
    let mut s = p.settings();
    s.add_filter(r"/[^ ]*agent-safe-demo-\d+-\d+", "[DEMO-DIR]");
    s.bind(|| insta_cmd::assert_cmd_snapshot!("demo", cmd));
}

#[test]
fn demo_keeps_the_project_with_dir_and_it_verifies() {
    let p = Project::empty();
    let (code, out, err) = p.run(&["demo", "--dir", "kept"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Explore it: cd"), "{out}");
    // The kept project is a normal project: its audit log verifies and its
    // policy tests pass.
    let dir = p.dir.join("kept");
    let verify = std::process::Command::new(crate::bin())
        .current_dir(&dir)
        .args(["audit", "verify"])
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    let tests = std::process::Command::new(crate::bin())
        .current_dir(&dir)
        .args(["test"])
        .output()
        .unwrap();
    assert!(
        tests.status.success(),
        "{}",
        String::from_utf8_lossy(&tests.stdout)
    );
    // A second demo into the same directory refuses to overwrite.
    snap!(p, "demo_refuses_to_overwrite", &["demo", "--dir", "kept"]);
}
