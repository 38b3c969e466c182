//! `demo`: the seed scenario on the bundled defaults, end to end.
//!
//! Scaffolds a project exactly as `agent-safe init` does (into a temporary
//! directory unless `--dir` is given), mints signed caller tokens with its
//! fresh key, asks the questions an agent operating Kubernetes would ask, and
//! verifies the audit log at the end. Nothing is executed: agent-safe only
//! decides and records.

use std::io::Write;
use std::path::PathBuf;

use agent_safe_core::identity::{MintRequest, mint_token};
use agent_safe_core::{AgentSafe, CheckRequest, DecisionResult};
use serde_json::json;

use crate::cli::DemoArgs;
use crate::error::{CliError, CmdResult, exit};
use crate::output::{Io, paint, result_style, style};

/// Evaluation time for the weekday steps: a Wednesday morning (outside the
/// staging night freeze and the production maintenance window), so the demo
/// prints the same decisions whenever it runs.
const WEEKDAY: &str = "2026-03-04T10:00:00Z";
/// Inside the Saturday 02:00-04:00 (Europe/London) maintenance window.
const MAINTENANCE: &str = "2026-03-07T02:30:00Z";

struct Step {
    title: &'static str,
    expect: DecisionResult,
    caller: &'static str,
    at: &'static str,
    req: CheckRequest,
}

fn step(action: &str, target: &str, params: serde_json::Value) -> CheckRequest {
    CheckRequest {
        target: Some(target.to_owned()),
        params: Some(params),
        ..CheckRequest::new(action)
    }
}

/// `demo [--dir DIR]`.
pub(crate) fn demo(io: &mut Io, a: DemoArgs) -> CmdResult {
    let (dir, _guard) = match a.dir {
        Some(d) => (d, None),
        None => {
            let t = tempdir()?;
            (t.0.clone(), Some(t))
        }
    };
    super::init::scaffold(&dir)?;
    let config = dir.join(agent_safe_core::config::CONFIG_FILE_NAME);
    let safe = AgentSafe::open(Some(&config)).map_err(CliError::Config)?;
    let now = jiff::Timestamp::now().as_second();
    let mint = |agent: &str, roles: &[&str]| {
        mint_token(
            &safe.snapshot().identity,
            &MintRequest {
                agent_id: agent.to_owned(),
                agent_name: None,
                roles: roles.iter().map(|r| (*r).to_owned()).collect(),
                groups: Vec::new(),
                ttl_seconds: 600,
                kid: None,
            },
            now,
        )
        .map_err(|e| CliError::Failed(format!("cannot mint a demo token: {e}")))
    };
    let deployer = mint("deploy-agent", &["deployer"])?;
    let ops = mint("ops-agent", &[])?;

    let steps = vec![
        Step {
            title: "The deploy agent restarts a Deployment in staging",
            expect: DecisionResult::Allow,
            caller: "deploy-agent",
            at: WEEKDAY,
            req: step(
                "restart-deployment",
                "staging/api",
                json!({"namespace": "staging", "deployment": "api"}),
            ),
        },
        Step {
            title: "The same restart in production, on a weekday",
            expect: DecisionResult::RequireApproval,
            caller: "deploy-agent",
            at: WEEKDAY,
            req: step(
                "restart-deployment",
                "prod/api",
                json!({"namespace": "prod", "deployment": "api"}),
            ),
        },
        Step {
            title: "... and in the Saturday maintenance window",
            expect: DecisionResult::Allow,
            caller: "deploy-agent",
            at: MAINTENANCE,
            req: step(
                "restart-deployment",
                "prod/api",
                json!({"namespace": "prod", "deployment": "api"}),
            ),
        },
        Step {
            title: "An agent tries to delete the production namespace",
            expect: DecisionResult::Deny,
            caller: "ops-agent",
            at: WEEKDAY,
            req: step("delete-namespace", "ns/prod", json!({"namespace": "prod"})),
        },
        Step {
            title: "An agent drains a production node",
            expect: DecisionResult::RequireApproval,
            caller: "ops-agent",
            at: WEEKDAY,
            req: step("drain-node", "prod/node-1", json!({"node": "prod-node-1"})),
        },
        Step {
            title: "Params that point elsewhere than the target",
            expect: DecisionResult::Deny,
            caller: "deploy-agent",
            at: WEEKDAY,
            req: step(
                "restart-deployment",
                "staging/api",
                json!({"namespace": "kube-system", "deployment": "coredns"}),
            ),
        },
    ];

    let w = &mut io.out;
    writeln!(
        w,
        "{} agent-safe demo: a project scaffolded by `agent-safe init` in {}",
        paint(style::LABEL, "▶"),
        dir.display()
    )?;
    writeln!(
        w,
        "  callers carry signed tokens minted with the project's fresh key: deploy-agent (role deployer), ops-agent (no roles)"
    )?;
    let mut unexpected = 0;
    for (i, s) in steps.into_iter().enumerate() {
        let token = if s.caller == "deploy-agent" {
            &deployer
        } else {
            &ops
        };
        let req = CheckRequest {
            caller: Some(token.clone()),
            ..s.req
        };
        let at: jiff::Timestamp =
            s.at.parse()
                .map_err(|e| CliError::Failed(format!("demo time: {e}")))?;
        let d = safe.check_at(&req, Some(at));
        writeln!(w)?;
        writeln!(w, "{}. {}", i + 1, s.title)?;
        writeln!(
            w,
            "   {} {} on {} by {} at {}",
            paint(style::DIM, "ask:"),
            req.action,
            req.target.as_deref().unwrap_or("?"),
            s.caller,
            s.at
        )?;
        writeln!(
            w,
            "   {} {}  {}",
            paint(style::DIM, "→"),
            paint(result_style(d.result), d.result.as_upper()),
            d.reason
        )?;
        writeln!(
            w,
            "     rule {} · risk {} → {} effective · audit {}",
            d.policy_matched.as_deref().unwrap_or("none"),
            d.risk_class,
            d.effective_risk,
            d.audit_id.as_deref().unwrap_or("none")
        )?;
        if d.result != s.expect {
            unexpected += 1;
            writeln!(
                w,
                "     {} expected {}",
                paint(style::BAD, "unexpected:"),
                s.expect.as_upper()
            )?;
        }
    }
    let log = safe.config().audit.path.clone();
    let report = agent_safe_core::audit::verify(std::slice::from_ref(&log));
    writeln!(w)?;
    if report.is_clean() {
        writeln!(
            w,
            "{} audit log {}: {} events, hash chain intact",
            paint(style::GOOD, "✔"),
            log.display(),
            report.events
        )?;
    } else {
        writeln!(
            w,
            "{} audit log {} does not verify: {report:?}",
            paint(style::BAD, "✘"),
            log.display()
        )?;
        return Err(CliError::Failed(
            "the demo's audit log does not verify".into(),
        ));
    }
    if unexpected > 0 {
        return Err(CliError::Failed(format!(
            "{unexpected} demo step(s) gave an unexpected decision"
        )));
    }
    writeln!(w)?;
    if _guard.is_some() {
        writeln!(
            w,
            "The project was temporary. Make your own with `agent-safe init my-project`,\nor keep this one with `agent-safe demo --dir my-demo`."
        )?;
    } else {
        writeln!(
            w,
            "Explore it: cd {} && agent-safe audit show && agent-safe test",
            dir.display()
        )?;
    }
    Ok(exit::OK)
}

/// A temporary directory removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempdir() -> Result<TempDir, CliError> {
    let base = std::env::temp_dir().join(format!(
        "agent-safe-demo-{}-{}",
        std::process::id(),
        jiff::Timestamp::now().as_nanosecond()
    ));
    std::fs::create_dir_all(&base)
        .map_err(|e| CliError::Failed(format!("cannot create `{}`: {e}", base.display())))?;
    Ok(TempDir(base))
}
