//! `init`, and the project it creates.

use std::os::unix::fs::PermissionsExt;

use crate::{Project, snap};

fn init_in(p: &Project) -> (i32, String, String) {
    let out = p
        .cmd(&["init", "proj"])
        .current_dir(&p.root)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// An empty temp dir whose `proj/` does not exist yet.
fn fresh() -> Project {
    let p = Project::empty();
    std::fs::remove_dir(&p.dir).unwrap();
    p
}

#[test]
fn init_creates_a_working_project() {
    let p = fresh();
    let mut cmd = p.cmd(&["init", "proj"]);
    cmd.current_dir(&p.root);
    p.settings()
        .bind(|| insta_cmd::assert_cmd_snapshot!("init", cmd));

    let key = p.dir.join("secrets/signing.key");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let dir_mode = std::fs::metadata(p.dir.join("secrets"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(dir_mode, 0o700);
    assert!(p.read(".gitignore").lines().any(|l| l == "secrets/"));
    assert!(p.read(".gitignore").lines().any(|l| l == "audit/"));
    assert!(p.dir.join("actions").is_dir());

    // The scaffolded project validates, its tests pass, and tokens can be minted.
    let (code, out, err) = p.run(&["validate", "--strict"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = p.run(&["test"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.lines().last().unwrap().ends_with(" passed, 0 failed"),
        "{out}"
    );
    let (code, token, err) = p.run(&[
        "token",
        "create",
        "--agent-id",
        "deploy-agent",
        "--roles",
        "deployer",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(token.starts_with("eyJ"));
}

#[test]
fn init_next_steps_work_when_pasted() {
    let p = fresh();
    let (code, out, err) = init_in(&p);
    assert_eq!(code, 0, "{err}");
    // Every command line under "Next steps" and "Then try" is run by a shell,
    // as a user pasting it would, with this build's agent-safe on the PATH.
    let path = format!(
        "{}:{}",
        crate::bin().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let lines: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("Next steps"))
        .take_while(|l| !l.starts_with("Mind the clock"))
        .filter(|l| l.starts_with("  "))
        .map(str::trim)
        .collect();
    assert_eq!(lines.len(), 4, "{out}");
    // The night freeze of the scaffold's staging rules is said up front.
    assert!(out.contains("freezes staging 22:00-06:00 UTC"), "{out}");
    let expected = [0, 4, 0, 0];
    let mut cwd = p.root.clone();
    for (line, want) in lines.iter().zip(expected) {
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(line)
            .current_dir(&cwd)
            .env("PATH", &path)
            .env_remove("AGENT_SAFE_CONFIG")
            .env_remove("AGENT_SAFE_CALLER")
            .output()
            .unwrap();
        assert_eq!(
            status.status.code(),
            Some(want),
            "{line}\n{}{}",
            String::from_utf8_lossy(&status.stdout),
            String::from_utf8_lossy(&status.stderr)
        );
        // The first line starts with `cd proj`.
        cwd = p.dir.clone();
    }
}

#[test]
fn init_refuses_to_overwrite() {
    let p = fresh();
    let (code, _, err) = init_in(&p);
    assert_eq!(code, 0, "{err}");
    let key = p.read("secrets/signing.key");
    std::fs::remove_file(p.dir.join("inventory.yaml")).unwrap();
    let mut cmd = p.cmd(&["init", "proj"]);
    cmd.current_dir(&p.root);
    p.settings()
        .bind(|| insta_cmd::assert_cmd_snapshot!("init_refuses", cmd));
    // Nothing was written: not the key, not even the one missing file.
    assert_eq!(p.read("secrets/signing.key"), key);
    assert!(!p.dir.join("inventory.yaml").exists());
}

#[test]
fn init_into_a_file_is_a_usage_error() {
    let p = Project::empty();
    p.write("file.txt", "x");
    snap!(p, "init_into_file", &["init", "file.txt"]);
}

/// The curl example of `serve --help` is allowed on a project made by
/// `init` (the same request through `check`, the same engine).
#[test]
fn serve_help_example_is_allowed_on_an_init_project() {
    let p = fresh();
    let (code, _, err) = init_in(&p);
    assert_eq!(code, 0, "{err}");
    let (_, help, _) = p.run(&["serve", "--help"]);
    let json = help
        .split("-d '")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_else(|| panic!("no curl body in serve --help:\n{help}"));
    let body: serde_json::Value = serde_json::from_str(json).unwrap();
    let params = body["params"].to_string();
    let mut cmd = p.cmd(&[
        "check",
        body["action"].as_str().unwrap(),
        "--target",
        body["target"].as_str().unwrap(),
        "--caller",
        body["caller"].as_str().unwrap(),
        "--params",
        &params,
    ]);
    cmd.current_dir(&p.dir);
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Issue 21: on the scaffold, `rbac` scopes by the targets the policies reach.
#[test]
fn rbac_on_the_init_project_is_scoped_by_target() {
    let p = fresh();
    let (code, _, err) = init_in(&p);
    assert_eq!(code, 0, "{err}");
    let args = [
        "rbac",
        "--caller",
        "deploy-agent",
        "--roles",
        "deployer",
        "--unattended",
        "--output",
        "json",
    ];
    // Two clusters and no --cluster: warned.
    let (code, _, err) = p.run(&args);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("pass --cluster NAME"), "{err}");
    let mut scoped = args.to_vec();
    scoped.extend(["--cluster", "prod-eu-1"]);
    let (code, out, err) = p.run(&scoped);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("warning"), "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    // Unattended, the deploy agent may only read on prod and restart in the
    // maintenance window: no update-image, rollout-undo, exec, secrets or
    // cluster-wide grants.
    assert_eq!(
        plan["namespaces"],
        serde_json::json!({"prod": [
            "describe-deployment", "get-configmap", "get-events", "get-pod-logs",
            "list-pods", "restart-deployment", "rollout-status"
        ]})
    );
    assert_eq!(plan["cluster_scoped"], serde_json::json!([]));
    let kinds: Vec<&str> = plan["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["Role", "RoleBinding"]);
    for absent in ["pods/exec:create", "secrets:get", "namespaces:delete"] {
        assert!(
            !plan["privileges"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p == absent),
            "{absent}: {}",
            plan["privileges"]
        );
    }
}

/// Issue 21: `who-can` on the scaffold, checked against real decisions: each
/// outcome it reports for a deployer's restarts is what `check` answers at a
/// time inside, and outside, the windows it names.
#[test]
fn who_can_agrees_with_real_checks_on_the_init_project() {
    let p = fresh();
    let (code, _, err) = init_in(&p);
    assert_eq!(code, 0, "{err}");
    let run = |args: &[&str]| {
        let out = p.cmd(args).current_dir(&p.dir).output().unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8(out.stdout).unwrap(),
        )
    };
    let (code, out) = run(&[
        "who-can",
        "deploy-agent",
        "--roles",
        "deployer",
        "--output",
        "json",
    ]);
    assert_eq!(code, 0, "{out}");
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    let row = |action: &str, target: &str| -> Vec<(String, Option<String>, bool)> {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["action"] == action && r["target"] == target)
            .unwrap_or_else(|| panic!("no row for {action} on {target}"))["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                (
                    o["decision"].as_str().unwrap().to_owned(),
                    o["rule"].as_str().map(str::to_owned),
                    o["when"].is_array(),
                )
            })
            .collect()
    };
    let prod = row("restart-deployment@1.0.0", "prod/api");
    assert_eq!(
        prod,
        [
            (
                "allow".to_owned(),
                Some("prod-maintenance-window-restart".to_owned()),
                true
            ),
            (
                "require_approval".to_owned(),
                Some("prod-requires-approval".to_owned()),
                false
            ),
        ]
    );
    let staging = row("restart-deployment@1.0.0", "staging/api");
    assert_eq!(
        staging[0].1.as_deref(),
        Some("staging-nightly-refresh-freeze")
    );
    assert_eq!(staging[1].0, "allow");

    let (_, token) = run(&[
        "token",
        "create",
        "--agent-id",
        "deploy-agent",
        "--roles",
        "deployer",
    ]);
    let token = token.trim().to_owned();
    let check = |target: &str, ns: &str, name: &str, at: &str| {
        let params = format!(r#"{{"namespace":"{ns}","deployment":"{name}"}}"#);
        let (_, out) = run(&[
            "check",
            "restart-deployment",
            "--target",
            target,
            "--caller",
            &token,
            "--params",
            &params,
            "--at",
            at,
            "--output",
            "json",
        ]);
        let d: serde_json::Value = serde_json::from_str(&out).unwrap();
        (
            d["result"].as_str().unwrap().to_owned(),
            d["policy_matched"].as_str().map(str::to_owned),
        )
    };
    // Saturday 02:30 in London (UTC+0 in March): inside the window.
    let inside = check("prod/api", "prod", "api", "2026-03-07T02:30:00Z");
    assert_eq!(
        (inside.0.as_str(), inside.1.clone()),
        ("allow", prod[0].1.clone())
    );
    let outside = check("prod/api", "prod", "api", "2026-03-04T12:00:00Z");
    assert_eq!(
        (outside.0.as_str(), outside.1.clone()),
        ("require_approval", prod[1].1.clone())
    );
    let night = check("staging/api", "staging", "api", "2026-03-04T23:00:00Z");
    assert_eq!(
        (night.0.as_str(), night.1.clone()),
        ("deny", staging[0].1.clone())
    );
    let day = check("staging/api", "staging", "api", "2026-03-04T12:00:00Z");
    assert_eq!(
        (day.0.as_str(), day.1.clone()),
        ("allow", staging[1].1.clone())
    );
}

/// Issue 18: a ServiceAccount caller gets its roles from `identity.kubernetes`
/// and its RoleBinding names that ServiceAccount.
#[test]
fn rbac_for_a_service_account_caller_uses_the_kubernetes_mapping() {
    let p = fresh();
    let (code, _, err) = init_in(&p);
    assert_eq!(code, 0, "{err}");
    let cfg = p.dir.join("agent-safe.yaml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    let text = text.replace(
        "identity:\n",
        "identity:\n  kubernetes:\n    service_accounts:\n      - {namespace: agents, name: deployer, roles: [deployer]}\n",
    );
    std::fs::write(&cfg, text).unwrap();
    std::fs::write(
        p.dir.join("policies/30-service-accounts.yaml"),
        "rules:\n  - name: sa-deployers-restart\n    priority: 950\n    match:\n      \
         actions: [restart-deployment]\n      targets: {environments: [prod]}\n      \
         callers: {roles: [deployer]}\n    decision: allow\n    \
         reason: Deployer ServiceAccounts may restart production Deployments\n",
    )
    .unwrap();
    let rbac = |extra: &[&str]| {
        let mut args = vec![
            "rbac",
            "--caller",
            "system:serviceaccount:agents:deployer",
            "--unattended",
            "--cluster",
            "prod-eu-1",
            "--output",
            "json",
        ];
        args.extend_from_slice(extra);
        let (code, out, err) = p.run(&args);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap()
    };
    let plan = rbac(&[]);
    // Without --roles the mapping's roles apply: the same plan as --roles deployer.
    assert_eq!(plan, rbac(&["--roles", "deployer"]));
    // And the roles matter: a caller without them gets a different plan.
    assert_ne!(
        plan["privileges"],
        rbac(&["--roles", "nobody"])["privileges"]
    );
    let binding = plan["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == "RoleBinding")
        .unwrap();
    assert_eq!(
        binding["subjects"],
        serde_json::json!([{"kind": "ServiceAccount", "name": "deployer", "namespace": "agents"}]),
        "{binding}"
    );
}
