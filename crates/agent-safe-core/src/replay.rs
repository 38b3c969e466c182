//! Replay: re-decide logged decisions under a candidate snapshot.
//!
//! Every `decision` event of an audit log is asked again — same action (by
//! name, as agents call it), target, caller, params, at the time it was
//! evaluated — of a candidate [`Snapshot`], and compared with what was
//! logged. Nothing is written anywhere: the log is only read, streamed
//! event by event, and what is kept grows with the number of rules, never
//! with the number of events.
//!
//! How the caller is re-presented depends on what the event recorded
//! (`caller_identity`, schema v2): a verified token's or host's identity is
//! re-used as verified, with its roles and groups (the token itself was
//! never logged, and has expired since); a plain id and an anonymous caller
//! are resolved again under the candidate's identity settings, so a
//! candidate that turns on `require_signed` denies them. A v1 event has no
//! roles or groups: it is re-decided with its plain caller id only and
//! counted, and each change it shows is flagged `legacy`, since a rule that
//! needs a role could not have matched it.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::PathBuf;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::audit::{AuditError, AuditEvent, CallerMethod, EventFilter, EventKind, for_each_event};
use crate::engine::{CallerInput, Request, Snapshot};
use crate::identity::Caller;
use crate::model::DecisionResult;

/// One logged decision that the candidate decides differently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayChange {
    /// The event's `seq` in the log.
    pub seq: u64,
    /// The event's `event_id`.
    pub event_id: String,
    /// When it was logged.
    pub timestamp: String,
    /// The time it was (and is again) evaluated at.
    pub evaluated_at: String,
    /// Action name.
    pub action: String,
    /// Target id, when there was one.
    pub target: Option<String>,
    /// Caller id, when there was one.
    pub caller: Option<String>,
    /// The logged decision.
    pub old: DecisionResult,
    /// The logged winning rule.
    pub old_rule: Option<String>,
    /// The candidate's decision.
    pub new: DecisionResult,
    /// The candidate's winning rule.
    pub new_rule: Option<String>,
    /// The candidate's reason.
    pub new_reason: String,
    /// The change moves toward `allow` (deny→allow, require_approval→allow,
    /// deny→require_approval).
    pub widens: bool,
    /// The event is of schema v1, which recorded no roles or groups: it was
    /// re-decided with the caller id only.
    pub legacy: bool,
}

/// How many decisions went from one result to another, and through which
/// rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayTransition {
    /// The logged decision.
    pub old: DecisionResult,
    /// The logged rule (`null`: no rule, e.g. the default deny).
    pub old_rule: Option<String>,
    /// The candidate's decision.
    pub new: DecisionResult,
    /// The candidate's rule.
    pub new_rule: Option<String>,
    /// How many decisions took this path.
    pub count: u64,
}

/// The outcome of a replay.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplaySummary {
    /// Decision events re-decided.
    pub replayed: u64,
    /// Of those, v1 events (re-decided with the caller id only).
    pub legacy: u64,
    /// Events that match the filters but are not decisions (approvals,
    /// rotations, recoveries): not replayed.
    pub skipped: u64,
    /// Decisions whose result changed.
    pub changed: u64,
    /// Of those, changes toward `allow`.
    pub widened: u64,
    /// Of those, changes away from `allow`.
    pub narrowed: u64,
    /// Same result, decided by another rule.
    pub rule_changed: u64,
    /// Logged decisions per result (`allow`, `deny`, `require_approval`).
    pub old_counts: BTreeMap<String, u64>,
    /// The candidate's decisions per result.
    pub new_counts: BTreeMap<String, u64>,
    /// Every (old result, old rule) → (new result, new rule) path that
    /// changed the result or the rule, most frequent first.
    pub transitions: Vec<ReplayTransition>,
    /// The candidate snapshot's digest, when it was loaded from files.
    pub candidate: Option<String>,
}

type TransitionKey = (
    DecisionResult,
    Option<String>,
    DecisionResult,
    Option<String>,
);

/// Re-decides every decision of `paths` (files or directories, as for
/// [`verify`](crate::audit::verify)) that `filter` matches under
/// `candidate`, calling `on_change` for each decision whose result changed,
/// in log order, until it breaks.
///
/// # Errors
/// A file that cannot be read or a line that is not an event
/// ([`AuditError`]); run `agent-safe audit verify` for the whole diagnosis.
pub fn replay(
    paths: &[PathBuf],
    filter: &EventFilter,
    candidate: &Snapshot,
    mut on_change: impl FnMut(&ReplayChange) -> ControlFlow<()>,
) -> Result<ReplaySummary, AuditError> {
    let mut s = ReplaySummary {
        candidate: candidate.digest.clone(),
        ..ReplaySummary::default()
    };
    let mut transitions: BTreeMap<TransitionKey, u64> = BTreeMap::new();
    let mut verified = Caller::unsigned("");
    verified.signed = true;
    for_each_event(paths, filter, |ev| {
        if ev.kind != EventKind::Decision {
            s.skipped += 1;
            return ControlFlow::Continue(());
        }
        let Some(old) = ev.decision.as_deref().and_then(DecisionResult::parse) else {
            s.skipped += 1;
            return ControlFlow::Continue(());
        };
        let (new, legacy) = redecide(candidate, &ev, &mut verified);
        s.replayed += 1;
        s.legacy += u64::from(legacy);
        *s.old_counts.entry(old.as_str().to_owned()).or_default() += 1;
        *s.new_counts
            .entry(new.result.as_str().to_owned())
            .or_default() += 1;
        let same_rule = new.policy_matched == ev.policy_matched;
        if old == new.result && same_rule {
            return ControlFlow::Continue(());
        }
        *transitions
            .entry((
                old,
                ev.policy_matched.clone(),
                new.result,
                new.policy_matched.clone(),
            ))
            .or_default() += 1;
        if old == new.result {
            s.rule_changed += 1;
            return ControlFlow::Continue(());
        }
        let widens = new.result.restrictiveness() < old.restrictiveness();
        s.changed += 1;
        if widens {
            s.widened += 1;
        } else {
            s.narrowed += 1;
        }
        let change = ReplayChange {
            seq: ev.seq,
            event_id: ev.event_id,
            evaluated_at: ev.evaluated_at.unwrap_or_else(|| ev.timestamp.clone()),
            timestamp: ev.timestamp,
            action: ev.action.unwrap_or_default(),
            target: ev.target,
            caller: ev.caller,
            old,
            old_rule: ev.policy_matched,
            new: new.result,
            new_rule: new.policy_matched,
            new_reason: new.reason,
            widens,
            legacy,
        };
        on_change(&change)
    })?;
    let mut t: Vec<ReplayTransition> = transitions
        .into_iter()
        .map(|((old, old_rule, new, new_rule), count)| ReplayTransition {
            old,
            old_rule,
            new,
            new_rule,
            count,
        })
        .collect();
    t.sort_by_key(|x| std::cmp::Reverse(x.count));
    s.transitions = t;
    Ok(s)
}

/// The candidate's decision for one logged event, and whether the event is
/// a v1 one (no recorded roles or groups).
fn redecide(
    candidate: &Snapshot,
    ev: &AuditEvent,
    verified: &mut Caller,
) -> (crate::engine::Decision, bool) {
    let when = ev
        .evaluated_at
        .as_deref()
        .unwrap_or(&ev.timestamp)
        .parse::<Timestamp>()
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let logged = ev
        .timestamp
        .parse::<Timestamp>()
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let raw = ev.caller.as_deref().filter(|c| !c.is_empty());
    let (caller, legacy) = match &ev.caller_identity {
        Some(id) => match id.method {
            CallerMethod::Token | CallerMethod::Host => {
                verified.agent_id.clear();
                verified.agent_id.push_str(raw.unwrap_or_default());
                verified.roles.clone_from(&id.roles);
                verified.groups.clone_from(&id.groups);
                (CallerInput::Verified(verified), false)
            }
            CallerMethod::Id | CallerMethod::Rejected => {
                (raw.map_or(CallerInput::Anonymous, CallerInput::Raw), false)
            }
            CallerMethod::Anonymous => (CallerInput::Anonymous, false),
        },
        None => (raw.map_or(CallerInput::Anonymous, CallerInput::Raw), true),
    };
    let req = Request {
        action: ev.action.as_deref().unwrap_or_default(),
        target: ev.target.as_deref(),
        caller,
        params: Some(&ev.params),
        explain: false,
    };
    (candidate.evaluate(&req, logged, Some(when)), legacy)
}
