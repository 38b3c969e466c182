//! `fmt`: the project's policy files in one style, `--check` and `--diff` for
//! CI, refusal of files that do not load, atomic writes through symlinks.

use crate::{Project, snap};

/// A fresh `agent-safe init` project in `p.dir`.
fn init_project() -> Project {
    let p = Project::empty();
    std::fs::remove_dir(&p.dir).unwrap();
    let out = p
        .cmd(&["init", "proj"])
        .current_dir(&p.root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    p
}

/// Rules in a random key order and style, with comments.
const MESSY: &str = "\
# Extra rules.   
rules:
- decision: deny   # trailing
  match:
      callers:
          agent_ids: [\"**\"]
      actions: [drain-node]
  # the name
  name: no-drains
  priority: 1200
- name: staging-events
  decision: allow
  match: {actions: [get-events], targets: {environments: [staging]}, callers: {agent_ids: [\"**\"]}}
";

const MESSY_FORMATTED: &str = "\
# Extra rules.
rules:
  # the name
  - name: no-drains
    priority: 1200
    match:
      actions: [drain-node]
      callers:
        agent_ids: [\"**\"]
    decision: deny   # trailing

  - name: staging-events
    match: {actions: [get-events], targets: {environments: [staging]}, callers: {agent_ids: [\"**\"]}}
    decision: allow
";

fn policy_files(p: &Project) -> Vec<(String, String)> {
    let mut files: Vec<_> = std::fs::read_dir(p.dir.join("policies"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read_to_string(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn fmt_is_a_no_op_on_a_fresh_init_project() {
    let p = init_project();
    let before = policy_files(&p);
    assert!(before.len() >= 3);
    let (code, out, err) = p.run(&["fmt", "--check"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = p.run(&["fmt"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out, "0 files formatted, 4 already formatted\n");
    assert_eq!(policy_files(&p), before);
}

#[test]
fn the_inventory_is_formatted_too() {
    let p = init_project();
    let before = p.read("inventory.yaml");
    let messy = before.replacen(
        "  - id: staging/api\n    type: k8s-deployment\n",
        "  - type: k8s-deployment     \n    id: staging/api\n",
        1,
    );
    assert_ne!(messy, before);
    p.write("inventory.yaml", &messy);
    let (code, out, err) = p.run(&["fmt", "--check"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.starts_with("would reformat inventory.yaml\n"), "{out}");
    // Named explicitly, it is recognised by its `targets:` key.
    let (code, out, err) = p.run(&["fmt", "inventory.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out,
        "formatted inventory.yaml\n1 file formatted, 0 already formatted\n"
    );
    assert_eq!(p.read("inventory.yaml"), before);
}

#[test]
fn fmt_check_then_fmt_then_check_again() {
    let p = init_project();
    p.write("policies/30-extra.yaml", MESSY);
    snap!(p, "fmt_check_dirty", &["fmt", "--check"]);
    assert_eq!(p.read("policies/30-extra.yaml"), MESSY, "--check wrote");
    snap!(p, "fmt_diff", &["fmt", "--diff"]);
    assert_eq!(p.read("policies/30-extra.yaml"), MESSY, "--diff wrote");
    snap!(p, "fmt_write", &["fmt"]);
    assert_eq!(p.read("policies/30-extra.yaml"), MESSY_FORMATTED);
    let (code, out, err) = p.run(&["fmt", "--check"]);
    assert_eq!(code, 0, "{out}{err}");
    // The project still validates, and no temporary file is left behind.
    let (code, out, err) = p.run(&["validate"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        !policy_files(&p).iter().any(|(n, _)| n.contains(".tmp")),
        "{:?}",
        policy_files(&p)
    );
}

#[test]
fn fmt_on_named_files_only() {
    let p = init_project();
    p.write("policies/30-extra.yaml", MESSY);
    p.write("other/x.yaml", MESSY);
    let (code, out, err) = p.run(&["fmt", "other/x.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out,
        "formatted other/x.yaml\n1 file formatted, 0 already formatted\n"
    );
    assert_eq!(p.read("other/x.yaml"), MESSY_FORMATTED);
    assert_eq!(p.read("policies/30-extra.yaml"), MESSY);
}

#[test]
fn a_file_that_does_not_load_is_refused_and_nothing_is_written() {
    let p = init_project();
    p.write("policies/30-extra.yaml", MESSY);
    p.write(
        "policies/40-broken.yaml",
        "rules:\n  - name: broken\n    decison: deny\n",
    );
    snap!(p, "fmt_refuses_broken", &["fmt"]);
    assert_eq!(p.read("policies/30-extra.yaml"), MESSY);
}

#[test]
fn a_file_fmt_does_not_rewrite_is_left_as_it_is_with_a_note() {
    let p = init_project();
    let src = "rules:\n- name: long-reason\n  decision: deny\n  reason: >\n    Folded text.\n";
    p.write("policies/30-extra.yaml", src);
    snap!(p, "fmt_left_as_is", &["fmt", "--check"]);
    let (code, _, _) = p.run(&["fmt"]);
    assert_eq!(code, 0);
    assert_eq!(p.read("policies/30-extra.yaml"), src);
}

#[test]
fn a_symlinked_policy_file_is_written_through_and_the_link_kept() {
    let p = init_project();
    p.write("shared/extra.yaml", MESSY);
    std::os::unix::fs::symlink("../shared/extra.yaml", p.dir.join("policies/30-extra.yaml"))
        .unwrap();
    let (code, out, err) = p.run(&["fmt"]);
    assert_eq!(code, 0, "{out}{err}");
    let link = p.dir.join("policies/30-extra.yaml");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(p.read("shared/extra.yaml"), MESSY_FORMATTED);
}

#[test]
fn fmt_without_a_project_or_path_is_a_usage_error() {
    let p = Project::empty();
    let (code, _, err) = p.run(&["fmt"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("needs a configuration"), "{err}");
}
