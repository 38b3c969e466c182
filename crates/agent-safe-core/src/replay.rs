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

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::PathBuf;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::audit::{
    AuditError, CallerIdentity, CallerMethod, EventFilter, EventKind, for_each_line_batch,
    format_timestamp,
};
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

/// The fields replay needs, borrowed from the line where they can be (the
/// rest, `context` and `reason` among them, is skipped unparsed). Lines are
/// only read here: `audit verify` is what checks them.
#[derive(Deserialize)]
struct Line<'a> {
    seq: u64,
    #[serde(borrow)]
    event_id: Cow<'a, str>,
    #[serde(borrow)]
    timestamp: Cow<'a, str>,
    kind: EventKind,
    #[serde(borrow)]
    action: Option<Cow<'a, str>>,
    #[serde(borrow)]
    target: Option<Cow<'a, str>>,
    #[serde(borrow)]
    caller: Option<Cow<'a, str>>,
    #[serde(default)]
    caller_identity: Option<CallerIdentity>,
    params: serde_json::Value,
    #[serde(borrow)]
    decision: Option<Cow<'a, str>>,
    #[serde(borrow)]
    policy_matched: Option<Cow<'a, str>>,
    #[serde(borrow)]
    correlation_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    evaluated_at: Option<Cow<'a, str>>,
}

/// What one line came to.
enum Outcome {
    /// Not matched by the filter.
    Filtered,
    /// Matched, but not a decision.
    Skipped,
    /// Same result, same rule.
    Same { old: DecisionResult, legacy: bool },
    /// Another result or another rule.
    Differs {
        key: TransitionKey,
        legacy: bool,
        /// Set when the result changed.
        change: Option<Box<ReplayChange>>,
    },
}

/// The filter with its time bounds in the log's timestamp format (which
/// sorts like time).
struct Filter<'f> {
    f: &'f EventFilter,
    since: Option<String>,
    until: Option<String>,
}

impl Filter<'_> {
    fn matches(&self, l: &Line<'_>) -> bool {
        fn eq(want: &Option<String>, got: &Option<Cow<'_, str>>) -> bool {
            want.as_deref()
                .is_none_or(|w| got.as_deref().is_some_and(|g| g == w))
        }
        self.f.kind.is_none_or(|k| k == l.kind)
            && eq(&self.f.decision, &l.decision)
            && eq(&self.f.caller, &l.caller)
            && eq(&self.f.action, &l.action)
            && eq(&self.f.correlation_id, &l.correlation_id)
            && self.since.as_deref().is_none_or(|s| &*l.timestamp >= s)
            && self.until.as_deref().is_none_or(|u| &*l.timestamp <= u)
    }
}

/// Re-decides every decision of `paths` (files or directories, as for
/// [`verify`](crate::audit::verify)) that `filter` matches under
/// `candidate`, calling `on_change` for each decision whose result changed,
/// in log order, until it breaks.
///
/// Lines are parsed and re-decided on up to four threads, a block of lines
/// at a time; results are counted and handed out in log order.
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
    let filter = Filter {
        f: filter,
        since: filter.since.map(format_timestamp),
        until: filter.until.map(format_timestamp),
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let mut transitions: BTreeMap<TransitionKey, u64> = BTreeMap::new();
    let mut error: Option<AuditError> = None;
    let mut current: Option<PathBuf> = None;
    let mut line_base = 0u64;
    for_each_line_batch(paths, |path, batch| {
        if current.as_deref() != Some(path) {
            current = Some(path.to_path_buf());
            line_base = 0;
        }
        let mut batch_lines: Vec<&[u8]> = Vec::with_capacity(batch.len() / 512);
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', batch) {
            batch_lines.push(batch.get(start..nl).unwrap_or_default());
            start = nl + 1;
        }
        let results = decide_all(&batch_lines, &filter, candidate, threads);
        let n = batch_lines.len() as u64;
        let mut flow = ControlFlow::Continue(());
        for (i, r) in results.into_iter().enumerate() {
            match r {
                Err(reason) => {
                    error = Some(AuditError::Malformed {
                        path: path.to_path_buf(),
                        line: line_base + i as u64 + 1,
                        reason,
                    });
                    flow = ControlFlow::Break(());
                    break;
                }
                Ok(Outcome::Filtered) => {}
                Ok(Outcome::Skipped) => s.skipped += 1,
                Ok(Outcome::Same { old, legacy }) => {
                    count(&mut s, old, old, legacy);
                }
                Ok(Outcome::Differs {
                    key,
                    legacy,
                    change,
                }) => {
                    count(&mut s, key.0, key.2, legacy);
                    *transitions.entry(key).or_default() += 1;
                    match change {
                        None => s.rule_changed += 1,
                        Some(c) => {
                            s.changed += 1;
                            if c.widens {
                                s.widened += 1;
                            } else {
                                s.narrowed += 1;
                            }
                            if on_change(&c).is_break() {
                                flow = ControlFlow::Break(());
                                break;
                            }
                        }
                    }
                }
            }
        }
        line_base += n;
        flow
    })?;
    if let Some(e) = error {
        return Err(e);
    }
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

fn count(s: &mut ReplaySummary, old: DecisionResult, new: DecisionResult, legacy: bool) {
    s.replayed += 1;
    s.legacy += u64::from(legacy);
    *s.old_counts.entry(old.as_str().to_owned()).or_default() += 1;
    *s.new_counts.entry(new.as_str().to_owned()).or_default() += 1;
}

/// Decides `lines` in order, on up to `threads` threads.
fn decide_all(
    lines: &[&[u8]],
    filter: &Filter<'_>,
    candidate: &Snapshot,
    threads: usize,
) -> Vec<Result<Outcome, String>> {
    let one = |chunk: &[&[u8]]| -> Vec<Result<Outcome, String>> {
        let mut verified = Caller::unsigned("");
        verified.signed = true;
        chunk
            .iter()
            .map(|l| decide_line(l, filter, candidate, &mut verified))
            .collect()
    };
    if threads <= 1 || lines.len() < 256 {
        return one(lines);
    }
    let size = lines.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = lines
            .chunks(size)
            .map(|chunk| scope.spawn(move || one(chunk)))
            .collect();
        let mut out = Vec::with_capacity(lines.len());
        for h in handles {
            match h.join() {
                Ok(v) => out.extend(v),
                Err(_) => out.push(Err("a replay thread failed".to_owned())),
            }
        }
        out
    })
}

fn decide_line(
    line: &[u8],
    filter: &Filter<'_>,
    candidate: &Snapshot,
    verified: &mut Caller,
) -> Result<Outcome, String> {
    let l: Line<'_> = serde_json::from_slice(line).map_err(|e| e.to_string())?;
    if !filter.matches(&l) {
        return Ok(Outcome::Filtered);
    }
    if l.kind != EventKind::Decision {
        return Ok(Outcome::Skipped);
    }
    let Some(old) = l.decision.as_deref().and_then(DecisionResult::parse) else {
        return Ok(Outcome::Skipped);
    };
    let (new, legacy) = redecide(candidate, &l, verified);
    let old_rule = l.policy_matched.as_deref();
    if old == new.result && new.policy_matched.as_deref() == old_rule {
        return Ok(Outcome::Same { old, legacy });
    }
    let change = (old != new.result).then(|| {
        Box::new(ReplayChange {
            seq: l.seq,
            event_id: l.event_id.clone().into_owned(),
            timestamp: l.timestamp.clone().into_owned(),
            evaluated_at: l.evaluated_at.as_deref().unwrap_or(&l.timestamp).to_owned(),
            action: l.action.as_deref().unwrap_or_default().to_owned(),
            target: l.target.as_deref().map(str::to_owned),
            caller: l.caller.as_deref().map(str::to_owned),
            old,
            old_rule: old_rule.map(str::to_owned),
            new: new.result,
            new_rule: new.policy_matched.clone(),
            new_reason: new.reason.clone(),
            widens: new.result.restrictiveness() < old.restrictiveness(),
            legacy,
        })
    });
    Ok(Outcome::Differs {
        key: (
            old,
            old_rule.map(str::to_owned),
            new.result,
            new.policy_matched,
        ),
        legacy,
        change,
    })
}

/// The candidate's decision for one logged event, and whether the event is
/// a v1 one (no recorded roles or groups).
fn redecide(
    candidate: &Snapshot,
    ev: &Line<'_>,
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
