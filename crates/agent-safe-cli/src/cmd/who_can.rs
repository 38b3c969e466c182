//! `who-can CALLER`: what a caller may do, on which targets, and when.

use std::io::Write;

use agent_safe_core::DecisionResult;
use agent_safe_core::access::who_can as report;
use agent_safe_core::engine::Snapshot;
use agent_safe_core::identity::Caller;

use crate::cli::{Format, WhoCanArgs};
use crate::error::{CliError, CmdResult, exit};
use crate::output::{Io, table};
use crate::project::Ctx;

/// `who-can CALLER [--roles R] [--groups G] [--all]`.
pub(crate) fn who_can(io: &mut Io, ctx: &Ctx, a: WhoCanArgs) -> CmdResult {
    let config = ctx.require_config("`agent-safe who-can`")?;
    let snap = Snapshot::load(&config).map_err(CliError::Config)?;
    let caller = Caller {
        agent_id: a.caller,
        agent_name: None,
        roles: a.roles.into_iter().filter(|r| !r.is_empty()).collect(),
        groups: a.groups.into_iter().filter(|g| !g.is_empty()).collect(),
        signed: true,
        kubernetes: None,
    };
    let rows: Vec<_> = report(&snap, &caller)
        .into_iter()
        .filter(|r| a.all || r.any_access())
        .collect();
    if a.output == Format::Json {
        let text = serde_json::to_string_pretty(&rows).map_err(anyhow::Error::from)?;
        writeln!(io.out, "{text}")?;
        return Ok(exit::OK);
    }
    if rows.is_empty() {
        writeln!(
            io.out,
            "`{}` may do nothing: every callable action is denied on every inventory target",
            caller.agent_id
        )?;
        return Ok(exit::OK);
    }
    let mut lines = Vec::new();
    for r in &rows {
        for (i, o) in r.outcomes.iter().enumerate() {
            let when = match &o.when {
                Some(ws) => ws.join("; "),
                None if r.outcomes.len() > 1 => "otherwise".to_owned(),
                None => "always".to_owned(),
            };
            let (action, target) = if i == 0 {
                (r.action.clone(), r.target.clone())
            } else {
                (String::new(), String::new())
            };
            lines.push(vec![
                action,
                target,
                decision_label(o.decision).to_owned(),
                when,
                o.rule
                    .clone()
                    .unwrap_or_else(|| "(default deny)".to_owned()),
            ]);
        }
    }
    write!(
        io.out,
        "{}",
        table(&["action", "target", "decision", "when", "rule"], lines)
    )?;
    Ok(exit::OK)
}

fn decision_label(d: DecisionResult) -> &'static str {
    match d {
        DecisionResult::Allow => "ALLOW",
        DecisionResult::RequireApproval => "REQUIRE_APPROVAL",
        DecisionResult::Deny => "DENY",
    }
}
