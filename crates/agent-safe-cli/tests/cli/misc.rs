//! Help, completions, tokens, closed pipes, usage errors.

use std::process::Stdio;

use crate::{Project, snap};

#[test]
fn help_top_level_lists_exit_codes() {
    let p = Project::empty();
    snap!(p, "help", &["--help"]);
}

#[test]
fn help_check_lists_exit_codes() {
    let p = Project::empty();
    snap!(p, "help_check", &["check", "--help"]);
}

#[test]
fn every_command_has_examples_in_its_help() {
    let p = Project::empty();
    let commands: &[&[&str]] = &[
        &["check"],
        &["check-plan"],
        &["list-actions"],
        &["show-action"],
        &["validate"],
        &["validate-policy"],
        &["test"],
        &["audit"],
        &["audit", "verify"],
        &["audit", "show"],
        &["audit", "tail"],
        &["init"],
        &["migrate"],
        &["token"],
        &["token", "create"],
        &["registry"],
        &["registry", "lock"],
        &["schema"],
        &["completions"],
    ];
    for c in commands {
        let mut args = c.to_vec();
        args.push("--help");
        let (code, out, err) = p.run(&args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(
            out.contains("\nExamples:\n"),
            "{args:?} has no examples:\n{out}"
        );
    }
}

#[test]
fn no_arguments_prints_help_and_exits_2() {
    let p = Project::empty();
    let (code, _, err) = p.run(&[]);
    assert_eq!(code, 2);
    assert!(err.contains("Usage: agent-safe"), "{err}");
}

#[test]
fn unknown_command_and_flag_are_usage_errors() {
    let p = Project::empty();
    snap!(p, "unknown_command", &["chek"]);
    snap!(p, "unknown_flag", &["check", "x", "--targte", "y"]);
}

#[test]
fn completions_for_each_shell() {
    let p = Project::empty();
    for shell in ["bash", "zsh", "fish"] {
        let (code, out, err) = p.run(&["completions", shell]);
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains("agent-safe") && out.contains("check-plan"),
            "{shell}"
        );
        // Action names of the built-in catalogue complete (check, show-action)
        // in bash and zsh; clap's fish generator completes no positional values.
        if shell == "fish" {
            continue;
        }
        for name in ["restart-deployment", "drain-node", "get-pod-logs"] {
            assert!(out.contains(name), "{shell} completions lack `{name}`");
        }
    }
    snap!(p, "completions_bad_shell", &["completions", "tcsh"]);
}

/// Completing built-in names does not restrict the argument: a project's own
/// action (here unknown) is still a check, denied by the engine, not a usage
/// error; and `--help` does not list 29 names.
#[test]
fn action_arguments_accept_any_name() {
    let p = Project::fixture();
    let (code, out, _) = p.run(&["check", "my-own-action", "--caller", "ops-agent"]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("unknown action"), "{out}");
    let (_, help, _) = p.run(&["check", "--help"]);
    assert!(!help.contains("possible values"), "{help}");
}

#[test]
fn token_create_and_errors() {
    let p = Project::fixture();
    let (code, out, err) = p.run(&[
        "token",
        "create",
        "--agent-id",
        "a1",
        "--roles",
        "deployer,reader",
        "--groups",
        "platform",
        "--ttl",
        "15m",
        "--name",
        "Agent One",
    ]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(out.matches('.').count(), 2, "{out}");
    snap!(
        p,
        "token_bad_ttl",
        &["token", "create", "--agent-id", "a1", "--ttl", "1 week"]
    );
    snap!(
        p,
        "token_bad_agent_id",
        &["token", "create", "--agent-id", "bad id!"]
    );
    snap!(
        p,
        "token_unknown_kid",
        &["token", "create", "--agent-id", "a1", "--kid", "other"]
    );
    p.write(
        "agent-safe.yaml",
        "policies: policies\ninventory: inventory.yaml\n",
    );
    snap!(p, "token_no_key", &["token", "create", "--agent-id", "a1"]);
}

#[test]
fn token_without_config() {
    let p = Project::empty();
    snap!(
        p,
        "token_no_config",
        &["token", "create", "--agent-id", "a1"]
    );
}

/// `agent-safe COMMAND` with stdout closed before it writes a byte: no panic,
/// nothing on stderr, exit code as usual.
fn closed_stdout(p: &Project, args: &[&str]) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = p
        .cmd(args)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn closed_stdout_is_a_clean_exit() {
    let p = Project::fixture();
    for args in [
        &["list-actions"][..],
        &["show-action", "restart-deployment"],
        &["schema", "config"],
        &["completions", "bash"],
        &["validate"],
        &["test"],
        &["--help"],
    ] {
        let (code, err) = closed_stdout(&p, args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
        assert_eq!(err, "", "{args:?}");
    }
}

#[test]
fn closed_pipe_through_head() {
    let p = Project::fixture();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' list-actions | head -1",
            crate::bin().display()
        ))
        .current_dir(&p.dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with("NAME"), "{stdout}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "{stderr}"
    );
    assert_eq!(stderr, "");
}

#[test]
fn closed_pipe_while_showing_many_events() {
    let p = Project::fixture();
    for i in 0..300 {
        let caller = format!("agent-{i}");
        let (code, _, err) = p.run(&["check", "nope", "--caller", &caller]);
        assert_eq!(code, 3, "{err}");
    }
    let (code, err) = closed_stdout(&p, &["audit", "show"]);
    assert_eq!((code, err.as_str()), (Some(0), ""));
}

#[test]
fn color_always_and_never() {
    let p = Project::fixture();
    let (_, out, _) = p.run(&["--color", "always", "check", "nope"]);
    assert!(out.contains("\u{1b}["), "{out:?}");
    let (_, out, _) = p.run(&["--color", "never", "check", "nope"]);
    assert!(!out.contains('\u{1b}'), "{out:?}");
    let out = p
        .cmd(&["check", "nope"])
        .env("CLICOLOR_FORCE", "1")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains('\u{1b}'));
}

#[test]
fn run_in_process_returns_the_exit_code() {
    // The library entry point the Python package calls.
    assert_eq!(agent_safe_cli::run(["agent-safe", "--version"]), 0);
    assert_eq!(
        agent_safe_cli::run(["agent-safe", "check", "--at", "never", "x"]),
        2
    );
    assert_eq!(agent_safe_cli::exit::DENY, 3);
    assert_eq!(agent_safe_cli::exit::REQUIRE_APPROVAL, 4);
}

#[test]
fn serve_refuses_a_malformed_allowed_host_as_a_usage_error() {
    let p = Project::fixture();
    for (bad, why) in [
        ("http://agent-safe.agents.svc", "without a scheme"),
        ("*.svc", "is not a host name"),
        ("agent-safe:0", "is not a port"),
    ] {
        let (code, _, err) = p.run(&["serve", "--allowed-host", bad]);
        assert_eq!(code, 2, "{bad}: {err}");
        assert!(err.contains(why), "{bad}: {err}");
    }
}
