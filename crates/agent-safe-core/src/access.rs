//! Who can do what: for one caller, every callable action on every inventory
//! target it applies to, and what the rules would answer — always, or only
//! during some time windows. For reviews (`agent-safe who-can`).
//!
//! It walks each action's candidate rules in rank order exactly as a check
//! does, skipping rules whose caller, target or risk selectors cannot match
//! and rules whose windows never open. A rule with time windows decides only
//! while they are open, so the walk goes on past it; the first rule without
//! windows decides at every other time; with none, the default deny does.
//! Parameters and their constraints are not considered (a check with invalid
//! params is denied whatever the rules say).

use serde::Serialize;

use crate::config::UnknownTargets;
use crate::engine::Snapshot;
use crate::identity::Caller;
use crate::model::{ActionDef, DecisionResult, Sensitivity, Target, TimeWindow};

/// What the rules answer for one action on one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Access {
    /// `name@version`.
    pub action: String,
    /// The inventory target id.
    pub target: String,
    /// In rank order: the answers that hold during time windows, then the
    /// answer at every other time (`when: null`).
    pub outcomes: Vec<Outcome>,
}

/// One answer, and when it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// `allow`, `deny` or `require_approval`.
    pub decision: DecisionResult,
    /// The rule that gives it; `null` for the default deny.
    pub rule: Option<String>,
    /// The rule's time windows, as written (`mon-fri 09:00-17:00 UTC`);
    /// `null`: at every time not covered by an earlier outcome.
    pub when: Option<Vec<String>>,
}

impl Access {
    /// Whether any outcome lets the action run (`allow`) or asks a human.
    pub fn any_access(&self) -> bool {
        self.outcomes
            .iter()
            .any(|o| o.decision != DecisionResult::Deny)
    }
}

/// Every callable action × inventory target of a type it applies to, with
/// the answers the rules give `caller`, in action then target order.
pub fn who_can(snap: &Snapshot, caller: &Caller) -> Vec<Access> {
    let mut out = Vec::new();
    let mut actions: Vec<_> = snap.callable_actions().collect();
    actions.sort_by_key(|a| a.key());
    for action in actions {
        for target in snap.inventory.iter() {
            if !action.target_types.contains(&target.target_type) {
                continue;
            }
            out.push(Access {
                action: action.key(),
                target: target.id.clone(),
                outcomes: outcomes(snap, action, Some(target), Some(caller)),
            });
        }
    }
    out
}

/// Whether some check of `action` (a name or `name@version`) by `caller`
/// (`None`: anonymous) could be allowed or sent for approval: on some
/// inventory target of a type it applies to, or on a target the inventory
/// does not know (unless `unknown_targets: deny`), at some time.
///
/// It over-approximates, never under: params, their constraints and the
/// binding of params to the target are not considered, and a rule with time
/// windows counts whenever it could ever be open. `false` means every check
/// of the action by this caller is denied, whatever its target, params or
/// time; an unknown or uncallable action is `false`. For hiding what a
/// caller cannot use (the MCP gateway's `list: allowed`); a check is still
/// what decides.
pub fn could_permit(snap: &Snapshot, action: &str, caller: Option<&Caller>) -> bool {
    let Ok(action) = snap.registry.get(action) else {
        return false;
    };
    if !snap.is_callable(action) {
        return false;
    }
    let permits = |target: Option<&Target>| {
        outcomes(snap, action, target, caller)
            .iter()
            .any(|o| o.decision != DecisionResult::Deny)
    };
    let unknown_allowed = snap.settings.unknown_targets != UnknownTargets::Deny;
    (unknown_allowed && permits(None))
        || snap
            .inventory
            .iter()
            .filter(|t| action.target_types.contains(&t.target_type))
            .any(|t| permits(Some(t)))
}

/// The answers the rules give `caller` for `action` on `target` (`None`:
/// a target the inventory does not know, whose sensitivity counts as
/// critical), in rank order, as a check walks them.
fn outcomes(
    snap: &Snapshot,
    action: &ActionDef,
    target: Option<&Target>,
    caller: Option<&Caller>,
) -> Vec<Outcome> {
    let sensitivity = target.map_or(Sensitivity::Critical, |t| t.sensitivity);
    let effective = action.risk_class.effective(sensitivity);
    let mut outcomes = Vec::new();
    for r in snap.candidates_for(action, target, false) {
        let never_open = r.windows.as_ref().is_some_and(Vec::is_empty);
        let caller_ok = match caller {
            Some(c) => r.could_match_caller(c),
            // An anonymous caller matches no rule with a `callers` selector.
            None => r.caller.is_none(),
        };
        if never_open || !caller_ok || !r.accepts_target(target) || !r.accepts_risk(effective) {
            continue;
        }
        let when = r
            .rule
            .matcher
            .time_windows
            .as_ref()
            .filter(|_| r.windows.is_some())
            .map(|ws| ws.iter().map(describe_window).collect::<Vec<_>>());
        let last = when.is_none();
        outcomes.push(Outcome {
            decision: r.rule.decision,
            rule: Some(r.rule.name.clone()),
            when,
        });
        if last {
            return outcomes;
        }
    }
    outcomes.push(Outcome {
        decision: DecisionResult::Deny,
        rule: None,
        when: None,
    });
    outcomes
}

/// `mon,tue 09:00-17:00 Europe/London` (the window as written; absent parts
/// left out: `every day`, `all day`).
fn describe_window(w: &TimeWindow) -> String {
    let days = match &w.days {
        Some(days) if !days.is_empty() => days
            .iter()
            .map(|d| d.as_str())
            .collect::<Vec<_>>()
            .join(","),
        _ => "every day".to_owned(),
    };
    let start = w
        .start
        .clone()
        .or_else(|| w.start_hour.map(|h| format!("{h:02}:00")));
    let end = w
        .end
        .clone()
        .or_else(|| w.end_hour.map(|h| format!("{h:02}:59")));
    let hours = match (start, end) {
        (None, None) => "all day".to_owned(),
        (s, e) => format!(
            "{}-{}",
            s.unwrap_or_else(|| "00:00".to_owned()),
            e.unwrap_or_else(|| "24:00".to_owned())
        ),
    };
    let tz = w.timezone.as_deref().unwrap_or("UTC");
    format!("{days} {hours} {tz}")
}
