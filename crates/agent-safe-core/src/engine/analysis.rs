//! Rule analysis for `agent-safe validate`.
//!
//! Finds, with both rule names and their files:
//! - **conflicts**: equal priority and specificity, overlapping match,
//!   different decisions (the most restrictive wins, which may surprise);
//! - **shadowed** rules: a strictly higher-ranked rule's match covers theirs,
//!   so they can never decide;
//! - rules naming target types that do not exist (an unknown action is a
//!   load error, see `engine/compile.rs`);
//! - allow rules that reach targets outside the inventory, when
//!   `unknown_targets: evaluate_as_critical` lets rules decide those;
//! - time windows that are never open, or always open;
//! - target selectors that no inventory target satisfies.
//!
//! Overlap and coverage are decided exactly where the domain is finite
//! (actions: the registry; targets: the inventory; risk classes; a reference
//! week, minute by minute, for time windows) and conservatively elsewhere
//! (agent-id globs, roles and groups may overlap unless provably disjoint).

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde::Serialize;

use super::compile::{CompiledRule, Snapshot, Window};
use crate::model::{Coordinate, Origin, Target};

/// What kind of problem a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// Equal rank, overlapping match, different decisions.
    Conflict,
    /// Can never win: a higher-ranked rule covers it.
    Shadowed,
    /// An allow rule that can match targets outside the inventory
    /// (`unknown_targets: evaluate_as_critical`).
    UnknownTargets,
    /// Names a target type no action uses.
    UnknownTargetType,
    /// A time window that is never (or always) open.
    TimeWindow,
    /// A target selector no inventory target satisfies.
    NoMatchingTarget,
}

/// One analysis finding (a warning: the configuration still loads).
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The kind of problem.
    pub kind: FindingKind,
    /// The rule the finding is about.
    pub rule: String,
    /// Where that rule is.
    pub file: String,
    /// The other rule involved, for conflicts and shadowing.
    pub other_rule: Option<String>,
    /// Where the other rule is.
    pub other_file: Option<String>,
    /// A readable explanation.
    pub message: String,
}

fn loc(o: &Origin) -> String {
    o.to_string()
}

/// The callable action versions (indices into `all`) a rule selects.
fn action_set(
    r: &CompiledRule,
    all: &[&std::sync::Arc<crate::model::ActionDef>],
) -> BTreeSet<usize> {
    all.iter()
        .enumerate()
        .filter(|(_, a)| r.matches_action_version(a))
        .map(|(i, _)| i)
        .collect()
}

/// Targets (as indices, with `usize::MAX` for "unknown target") a rule's
/// target selector accepts.
fn target_set(r: &CompiledRule, targets: &[&Target]) -> BTreeSet<usize> {
    let mut out: BTreeSet<usize> = targets
        .iter()
        .enumerate()
        .filter(|(_, t)| {
            r.target
                .as_ref()
                .is_none_or(|s| super::eval::target_selector_matches(s, t))
        })
        .map(|(i, _)| i)
        .collect();
    if r.target.is_none() {
        out.insert(usize::MAX);
    }
    out
}

const WEEK_MINUTES: i64 = 7 * 24 * 60;

/// Minutes of a reference week (starting Monday 2026-01-05 00:00 UTC) at which
/// any of the windows is open.
fn open_minutes(ws: &[Window]) -> Vec<bool> {
    let start = Timestamp::from_second(1_767_571_200).unwrap_or(Timestamp::UNIX_EPOCH);
    (0..WEEK_MINUTES)
        .map(|m| {
            let t = start
                .checked_add(jiff::SignedDuration::from_mins(m))
                .unwrap_or(start);
            ws.iter().any(|w| super::eval::window_open(w, t))
        })
        .collect()
}

fn strs_disjoint(a: Option<&Vec<String>>, b: Option<&Vec<String>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => !a.iter().any(|x| b.contains(x)),
        _ => false,
    }
}

fn is_literal(glob: &str) -> bool {
    !glob.contains(['*', '?', '[', '{', '\\'])
}

/// Can two rules' caller selectors both match one caller?
fn callers_may_overlap(a: &CompiledRule, b: &CompiledRule) -> bool {
    let (Some(ca), Some(cb)) = (&a.rule.matcher.callers, &b.rule.matcher.callers) else {
        return true;
    };
    if let (Some(ia), Some(ib)) = (&ca.agent_ids, &cb.agent_ids)
        && ia.iter().all(|s| is_literal(s))
        && ib.iter().all(|s| is_literal(s))
        && strs_disjoint(Some(ia), Some(ib))
    {
        return false;
    }
    // A caller may hold several roles and groups, so role lists never prove
    // disjointness.
    true
}

/// Does `a`'s caller selector accept every caller `b`'s accepts?
fn callers_cover(a: &CompiledRule, b: &CompiledRule) -> bool {
    let Some(ca) = &a.rule.matcher.callers else {
        return true;
    };
    // `a` has a caller selector: anonymous callers fail it; `b` must refuse them too.
    let Some(cb) = &b.rule.matcher.callers else {
        return false;
    };
    let ids_ok = match (&ca.agent_ids, &cb.agent_ids) {
        (None, _) => true,
        (Some(ga), _) if ga.iter().any(|g| g == "*" || g == "**") => true,
        (Some(_), None) => false,
        (Some(_), Some(ib)) => {
            ib.iter().all(|s| is_literal(s))
                && ib.iter().all(|s| {
                    a.caller
                        .as_ref()
                        .and_then(|c| c.agent_ids.as_ref())
                        .is_some_and(|g| g.is_match(s))
                })
        }
    };
    let subset = |x: &Option<Vec<String>>, y: &Option<Vec<String>>| match (x, y) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(xa), Some(yb)) => yb.iter().all(|r| xa.contains(r)),
    };
    ids_ok && subset(&ca.roles, &cb.roles) && subset(&ca.groups, &cb.groups)
}

/// Analyses a snapshot's rules.
pub fn analyze(snap: &Snapshot) -> Vec<Finding> {
    let mut out = Vec::new();
    let actions: Vec<_> = snap.callable_actions().collect();
    let types = snap.registry.target_types();
    let targets: Vec<&Target> = snap.inventory.iter().map(AsRef::as_ref).collect();
    let rules = &snap.rules;

    struct Facts {
        actions: BTreeSet<usize>,
        targets: BTreeSet<usize>,
        risk: u8,
        week: Option<Vec<bool>>,
    }
    let mut facts = Vec::with_capacity(rules.len());
    for r in rules {
        let m = &r.rule.matcher;
        let origin = loc(&r.rule.origin);
        if let Some(message) = reaches_unknown_targets(snap, r) {
            out.push(Finding {
                kind: FindingKind::UnknownTargets,
                rule: r.rule.name.clone(),
                file: origin.clone(),
                other_rule: None,
                other_file: None,
                message,
            });
        }
        if let Some(ts) = m.targets.as_ref().and_then(|t| t.types.as_ref()) {
            for t in ts {
                if !types.contains(t.as_str()) {
                    out.push(Finding {
                        kind: FindingKind::UnknownTargetType,
                        rule: r.rule.name.clone(),
                        file: origin.clone(),
                        other_rule: None,
                        other_file: None,
                        message: format!("`targets.types` entry `{t}` is not a target type of any action (known: {})", types.iter().copied().collect::<Vec<_>>().join(", ")),
                    });
                }
            }
        }
        let tset = target_set(r, &targets);
        if r.target.is_some() && tset.is_empty() && !targets.is_empty() {
            out.push(Finding {
                kind: FindingKind::NoMatchingTarget,
                rule: r.rule.name.clone(),
                file: origin.clone(),
                other_rule: None,
                other_file: None,
                message: "no target in the inventory satisfies this rule's `targets` selector, so the rule never matches".into(),
            });
        }
        let week = r.windows.as_ref().map(|ws| open_minutes(ws));
        if let Some(w) = &week
            && !w.iter().any(|b| *b)
        {
            out.push(Finding {
                kind: FindingKind::TimeWindow,
                rule: r.rule.name.clone(),
                file: origin.clone(),
                other_rule: None,
                other_file: None,
                message: "its time windows are never open".into(),
            });
        }
        let mut around_the_clock = false;
        if let Some(ws) = &m.time_windows {
            for w in ws {
                if w.start_minute == w.end_minute && (w.start.is_some() || w.start_hour.is_some()) {
                    around_the_clock = true;
                    out.push(Finding {
                        kind: FindingKind::TimeWindow,
                        rule: r.rule.name.clone(),
                        file: origin.clone(),
                        other_rule: None,
                        other_file: None,
                        message: "a time window starts where it ends, so it is open around the clock; remove `start`/`end` to say so, or fix the times".into(),
                    });
                }
            }
        }
        // Windows that are open all week (`[{}]`, all seven days without
        // hours, …) restrict nothing, yet `time_windows` still counts toward
        // specificity and lets the rule outrank rules that say more.
        if !around_the_clock
            && let Some(w) = &week
            && w.iter().all(|b| *b)
        {
            out.push(Finding {
                kind: FindingKind::TimeWindow,
                rule: r.rule.name.clone(),
                file: origin.clone(),
                other_rule: None,
                other_file: None,
                message: format!(
                    "its time windows are open around the clock, so `time_windows` restricts nothing, yet it counts toward the rule's specificity ({}) and lets it outrank rules with real conditions; remove `time_windows`, or give each window `days` or `start`/`end`",
                    r.specificity
                ),
            });
        }
        facts.push(Facts {
            actions: action_set(r, &actions),
            targets: tset,
            risk: r.risk_mask.unwrap_or(0x0f),
            week,
        });
    }

    for (i, (ra, fa)) in rules.iter().zip(&facts).enumerate() {
        for (rb, fb) in rules.iter().zip(&facts).skip(i + 1) {
            if fa.actions.is_disjoint(&fb.actions) {
                continue;
            }
            let same_rank =
                ra.rule.priority == rb.rule.priority && ra.specificity == rb.specificity;
            // Conflicts.
            if same_rank
                && ra.rule.decision != rb.rule.decision
                && !fa.targets.is_disjoint(&fb.targets)
                && fa.risk & fb.risk != 0
                && callers_may_overlap(ra, rb)
                && weeks_overlap(fa.week.as_deref(), fb.week.as_deref())
            {
                let winner =
                    if ra.rule.decision.restrictiveness() > rb.rule.decision.restrictiveness() {
                        ra
                    } else {
                        rb
                    };
                out.push(Finding {
                    kind: FindingKind::Conflict,
                    rule: ra.rule.name.clone(),
                    file: loc(&ra.rule.origin),
                    other_rule: Some(rb.rule.name.clone()),
                    other_file: Some(loc(&rb.rule.origin)),
                    message: format!(
                        "`{}` ({}) and `{}` ({}) have equal priority ({}) and specificity ({}) and can match the same request; `{}` wins as the more restrictive — set priorities to make the intent explicit",
                        ra.rule.name, ra.rule.decision, rb.rule.name, rb.rule.decision, ra.rule.priority, ra.specificity, winner.rule.name
                    ),
                });
            }
            // Shadowing, both directions.
            for (hi, fh, lo, fl) in [(ra, fa, rb, fb), (rb, fb, ra, fa)] {
                if hi.rank() > lo.rank()
                    && fl.actions.is_subset(&fh.actions)
                    && fl.targets.is_subset(&fh.targets)
                    && fl.risk & !fh.risk == 0
                    && callers_cover(hi, lo)
                    && week_covers(fh.week.as_deref(), fl.week.as_deref())
                {
                    out.push(Finding {
                        kind: FindingKind::Shadowed,
                        rule: lo.rule.name.clone(),
                        file: loc(&lo.rule.origin),
                        other_rule: Some(hi.rule.name.clone()),
                        other_file: Some(loc(&hi.rule.origin)),
                        message: format!(
                            "`{}` can never win: `{}` ranks higher (priority {}, specificity {}) and matches everything it matches",
                            lo.rule.name, hi.rule.name, hi.rule.priority, hi.specificity
                        ),
                    });
                }
            }
        }
    }
    out.sort_by(|a, b| (a.kind, &a.file, &a.rule).cmp(&(b.kind, &b.file, &b.rule)));
    out
}

/// An inventory target that some actions bind to their params
/// (`target_params`) but that lacks the coordinates they bind: checks of
/// those actions on it are denied (a warning: the configuration still loads).
#[derive(Debug, Clone, Serialize)]
pub struct BindingGap {
    /// The target's id.
    pub target: String,
    /// Where the target is defined.
    pub file: String,
    /// The coordinates it lacks (`cluster`, `namespace`, `name`).
    pub missing: Vec<Coordinate>,
    /// The actions (`name@version`) that bind a missing coordinate.
    pub actions: Vec<String>,
    /// A readable explanation.
    pub message: String,
}

/// Targets that lack a coordinate an action of their type binds.
pub fn binding_gaps(snap: &Snapshot) -> Vec<BindingGap> {
    let mut out = Vec::new();
    for t in snap.inventory.iter() {
        let mut missing = BTreeSet::new();
        let mut actions = Vec::new();
        for a in snap.registry.all_versions() {
            if !a.target_types.contains(&t.target_type) {
                continue;
            }
            let lacks: Vec<Coordinate> = a
                .target_params
                .keys()
                .copied()
                .filter(|c| t.coordinate(*c).is_none())
                .collect();
            if !lacks.is_empty() {
                missing.extend(lacks);
                actions.push(a.key());
            }
        }
        if actions.is_empty() {
            continue;
        }
        let missing: Vec<Coordinate> = missing.into_iter().collect();
        let names = |v: &[String]| {
            v.iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let coords: Vec<String> = missing.iter().map(|c| c.to_string()).collect();
        let message = format!(
            "target `{}` ({}) has no {}, but {} {} the request's params to it, so every check of {} on this target is denied; add {} to the target",
            t.id,
            t.target_type,
            coords.join(" or "),
            names(&actions),
            if actions.len() == 1 { "binds" } else { "bind" },
            if actions.len() == 1 {
                "that action"
            } else {
                "these actions"
            },
            coords
                .iter()
                .map(|c| format!("`{c}:`"))
                .collect::<Vec<_>>()
                .join(" and "),
        );
        out.push(BindingGap {
            target: t.id.clone(),
            file: loc(&t.origin),
            missing,
            actions,
            message,
        });
    }
    out
}

/// With `unknown_targets: evaluate_as_critical`, an `allow` rule without a
/// `targets` selector also matches targets that are not in the inventory
/// (counted as `critical` sensitivity) for every action whose effective risk
/// on such a target the rule selects.
fn reaches_unknown_targets(snap: &Snapshot, r: &CompiledRule) -> Option<String> {
    if snap.settings.unknown_targets != crate::config::UnknownTargets::EvaluateAsCritical
        || r.rule.decision != crate::model::DecisionResult::Allow
        || r.target.is_some()
    {
        return None;
    }
    let reached: Vec<&str> = snap
        .registry
        .latest()
        .filter(|a| r.matches_action_version(a))
        .filter(|a| r.accepts_risk(a.risk_class.effective(crate::model::Sensitivity::Critical)))
        .map(|a| a.name.as_str())
        .collect();
    if reached.is_empty() {
        return None;
    }
    Some(format!(
        "allows {} on targets outside the inventory (`unknown_targets: evaluate_as_critical`), e.g. `kube-system/anything`; add `targets: {{ids: [\"**\"]}}` (or a narrower selector) to keep it to inventory targets",
        reached
            .iter()
            .map(|a| format!("`{a}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

fn weeks_overlap(a: Option<&[bool]>, b: Option<&[bool]>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.iter().zip(b).any(|(x, y)| *x && *y),
        (Some(w), None) | (None, Some(w)) => w.iter().any(|x| *x),
        (None, None) => true,
    }
}

fn week_covers(hi: Option<&[bool]>, lo: Option<&[bool]>) -> bool {
    match (hi, lo) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(h), Some(l)) => l.iter().zip(h).all(|(lo, hi)| !*lo || *hi),
    }
}
