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

use crate::engine::Snapshot;
use crate::identity::Caller;
use crate::model::{DecisionResult, Sensitivity, TimeWindow};

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
            let sensitivity: Sensitivity = target.sensitivity;
            let effective = action.risk_class.effective(sensitivity);
            let mut outcomes = Vec::new();
            let mut settled = false;
            for r in snap.candidates_for(action, Some(target), false) {
                let never_open = r.windows.as_ref().is_some_and(Vec::is_empty);
                if never_open
                    || !r.could_match_caller(caller)
                    || !r.accepts_target(Some(target))
                    || !r.accepts_risk(effective)
                {
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
                    settled = true;
                    break;
                }
            }
            if !settled {
                outcomes.push(Outcome {
                    decision: DecisionResult::Deny,
                    rule: None,
                    when: None,
                });
            }
            out.push(Access {
                action: action.key(),
                target: target.id.clone(),
                outcomes,
            });
        }
    }
    out
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
