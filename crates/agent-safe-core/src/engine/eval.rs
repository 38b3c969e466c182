//! Evaluation: a pure function of (snapshot, request, time).

use std::sync::Arc;

use jiff::Timestamp;

use super::compile::{CallerSel, CompiledRule, Snapshot, TargetSel, Window};
use super::{CallerInput, Decision, Request, TraceEntry};
use crate::audit::format_timestamp;
use crate::config::UnknownTargets;
use crate::identity::{Caller, resolve_caller};
use crate::model::{ActionDef, Coordinate, DecisionResult, RiskClass, Sensitivity, Target};
use crate::params::{param_or_default, validate_params};

/// The facts a rule is matched against.
pub(crate) struct Ctx<'a> {
    pub target: Option<&'a Target>,
    pub caller: Option<&'a Caller>,
    pub effective: RiskClass,
    pub at: Timestamp,
}

/// The first selector of a rule that did not match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Miss {
    TargetUnknown,
    TargetId,
    Environment,
    Sensitivity,
    TargetType,
    Label(usize),
    CallerAnonymous,
    AgentId,
    Roles,
    Groups,
    Risk,
    Window,
}

pub(crate) fn window_open(w: &Window, at: Timestamp) -> bool {
    let z = at.to_zoned(w.tz.clone());
    let minute = u16::from(z.hour().unsigned_abs()) * 60 + u16::from(z.minute().unsigned_abs());
    let dow = z.weekday().to_monday_zero_offset().unsigned_abs();
    let day_ok = |d: u8| w.days_mask & (1u8 << (d % 7)) != 0;
    if w.start < w.end {
        day_ok(dow) && minute >= w.start && minute < w.end
    } else {
        // Wraps past midnight: the part after midnight belongs to the
        // previous day's window.
        (day_ok(dow) && minute >= w.start) || (day_ok(dow + 6) && minute < w.end)
    }
}

/// True when the target selector accepts `t`.
pub(crate) fn target_selector_matches(sel: &TargetSel, t: &Target) -> bool {
    target_miss(sel, Some(t)).is_none()
}

fn target_miss(sel: &TargetSel, t: Option<&Target>) -> Option<Miss> {
    let Some(t) = t else {
        return Some(Miss::TargetUnknown);
    };
    if sel.ids.as_ref().is_some_and(|g| !g.is_match(&t.id)) {
        return Some(Miss::TargetId);
    }
    if sel
        .environments
        .as_ref()
        .is_some_and(|e| !e.contains(&t.environment))
    {
        return Some(Miss::Environment);
    }
    if sel
        .sensitivities
        .is_some_and(|m| m & (1u8 << (t.sensitivity as u8)) == 0)
    {
        return Some(Miss::Sensitivity);
    }
    if sel
        .types
        .as_ref()
        .is_some_and(|ty| !ty.contains(&t.target_type))
    {
        return Some(Miss::TargetType);
    }
    if let Some(labels) = &sel.labels {
        for (i, (k, g)) in labels.iter().enumerate() {
            if !t.labels.get(k).is_some_and(|v| g.is_match(v)) {
                return Some(Miss::Label(i));
            }
        }
    }
    None
}

fn caller_miss(sel: &CallerSel, c: Option<&Caller>) -> Option<Miss> {
    let Some(c) = c else {
        return Some(Miss::CallerAnonymous);
    };
    if sel
        .agent_ids
        .as_ref()
        .is_some_and(|g| !g.is_match(&c.agent_id))
    {
        return Some(Miss::AgentId);
    }
    if sel
        .roles
        .as_ref()
        .is_some_and(|r| !r.iter().any(|x| c.roles.contains(x)))
    {
        return Some(Miss::Roles);
    }
    if sel
        .groups
        .as_ref()
        .is_some_and(|g| !g.iter().any(|x| c.groups.contains(x)))
    {
        return Some(Miss::Groups);
    }
    None
}

/// Per-check memo of selector results, reused across checks on a thread.
/// Each slot holds `generation << 2 | state` (state 1 = match, 2 = miss), so
/// starting a new check is one increment instead of clearing the table.
struct SelectorCache {
    slots: Vec<u32>,
    generation: u32,
}

impl SelectorCache {
    fn begin(&mut self, size: usize) {
        if self.slots.len() < size {
            self.slots.resize(size, 0);
        }
        self.generation = self.generation.wrapping_add(1) & 0x3fff_ffff;
        if self.generation == 0 {
            self.slots.iter_mut().for_each(|s| *s = 0);
            self.generation = 1;
        }
    }

    fn get_or(&mut self, slot: usize, f: impl FnOnce() -> bool) -> bool {
        let generation = self.generation;
        match self.slots.get_mut(slot) {
            Some(s) if *s >> 2 == generation => *s & 3 == 1,
            Some(s) => {
                let hit = f();
                *s = (generation << 2) | if hit { 1 } else { 2 };
                hit
            }
            None => f(),
        }
    }
}

thread_local! {
    static CACHE: std::cell::RefCell<SelectorCache> =
        const { std::cell::RefCell::new(SelectorCache { slots: Vec::new(), generation: 0 }) };
}

impl CompiledRule {
    /// Whether every selector matches, using (and filling) the per-check cache.
    fn matches_cached(&self, ctx: &Ctx<'_>, cache: &mut SelectorCache, caller_base: usize) -> bool {
        if let Some(sel) = &self.target
            && !cache.get_or(self.target_key as usize, || {
                target_miss(sel, ctx.target).is_none()
            })
        {
            return false;
        }
        if let Some(sel) = &self.caller
            && !cache.get_or(caller_base + self.caller_key as usize, || {
                caller_miss(sel, ctx.caller).is_none()
            })
        {
            return false;
        }
        if !self.accepts_risk(ctx.effective) {
            return false;
        }
        self.windows
            .as_ref()
            .is_none_or(|ws| ws.iter().any(|w| window_open(w, ctx.at)))
    }

    /// Whether the rule's caller selector accepts `caller` (true without one).
    pub fn could_match_caller(&self, caller: &Caller) -> bool {
        self.caller
            .as_ref()
            .is_none_or(|sel| caller_miss(sel, Some(caller)).is_none())
    }

    /// Whether the rule's target selector accepts `t` (`None`: unknown target).
    pub fn accepts_target(&self, t: Option<&Target>) -> bool {
        self.target
            .as_ref()
            .is_none_or(|sel| target_miss(sel, t).is_none())
    }

    /// Whether the rule's `risk_classes` accept an effective risk.
    pub fn accepts_risk(&self, r: RiskClass) -> bool {
        self.risk_mask.is_none_or(|m| m & (1u8 << (r as u8)) != 0)
    }

    /// The first selector that does not match, or `None` when all do.
    pub(crate) fn miss(&self, ctx: &Ctx<'_>) -> Option<Miss> {
        if let Some(sel) = &self.target
            && let Some(m) = target_miss(sel, ctx.target)
        {
            return Some(m);
        }
        if let Some(sel) = &self.caller
            && let Some(m) = caller_miss(sel, ctx.caller)
        {
            return Some(m);
        }
        if self
            .risk_mask
            .is_some_and(|m| m & (1u8 << (ctx.effective as u8)) == 0)
        {
            return Some(Miss::Risk);
        }
        if let Some(ws) = &self.windows
            && !ws.iter().any(|w| window_open(w, ctx.at))
        {
            return Some(Miss::Window);
        }
        None
    }

    fn describe_miss(&self, m: Miss, ctx: &Ctx<'_>) -> String {
        let sel = &self.rule.matcher;
        let list = |v: Option<&Vec<String>>| v.map(|v| v.join(", ")).unwrap_or_default();
        let t = ctx.target;
        let c = ctx.caller;
        let tsel = sel.targets.as_ref();
        let csel = sel.callers.as_ref();
        match m {
            Miss::TargetUnknown => "targets: the target is not in the inventory".into(),
            Miss::TargetId => format!(
                "targets.ids: `{}` matches none of [{}]",
                t.map(|t| t.id.as_str()).unwrap_or_default(),
                list(tsel.and_then(|s| s.ids.as_ref()))
            ),
            Miss::Environment => format!(
                "targets.environments: `{}` is not in [{}]",
                t.map(|t| t.environment.as_str()).unwrap_or_default(),
                list(tsel.and_then(|s| s.environments.as_ref()))
            ),
            Miss::Sensitivity => format!(
                "targets.sensitivities: `{}` is not selected",
                t.map(|t| t.sensitivity.as_str()).unwrap_or_default()
            ),
            Miss::TargetType => format!(
                "targets.types: `{}` is not in [{}]",
                t.map(|t| t.target_type.as_str()).unwrap_or_default(),
                list(tsel.and_then(|s| s.types.as_ref()))
            ),
            Miss::Label(i) => {
                let key = tsel
                    .and_then(|s| s.labels.as_ref())
                    .and_then(|l| l.iter().nth(i))
                    .map(|(k, v)| format!("{k}={v}"))
                    .unwrap_or_default();
                format!("targets.labels: target lacks a label matching `{key}`")
            }
            Miss::CallerAnonymous => "callers: the caller is anonymous".into(),
            Miss::AgentId => format!(
                "callers.agent_ids: `{}` matches none of [{}]",
                c.map(|c| c.agent_id.as_str()).unwrap_or_default(),
                list(csel.and_then(|s| s.agent_ids.as_ref()))
            ),
            Miss::Roles => format!(
                "callers.roles: caller has none of [{}]",
                list(csel.and_then(|s| s.roles.as_ref()))
            ),
            Miss::Groups => format!(
                "callers.groups: caller is in none of [{}]",
                list(csel.and_then(|s| s.groups.as_ref()))
            ),
            Miss::Risk => format!(
                "risk_classes: effective risk `{}` is not selected",
                ctx.effective
            ),
            Miss::Window => format!("time_windows: {} is outside every window", ctx.at),
        }
    }
}

/// Builds a deny decision for a failure before rules ran.
#[expect(
    clippy::too_many_arguments,
    reason = "every field of an early deny is known at the call site; a struct would only rename them"
)]
fn early_deny(
    req: &Request<'_>,
    action: Option<&ActionDef>,
    target: Option<String>,
    caller: Option<String>,
    risk: RiskClass,
    effective: RiskClass,
    reason: String,
    at: Timestamp,
) -> Decision {
    Decision {
        result: DecisionResult::Deny,
        reason,
        policy_matched: None,
        action: action.map_or_else(|| req.action.to_owned(), |a| a.name.clone()),
        action_version: action.map(|a| a.version.clone()),
        target,
        caller,
        risk_class: risk,
        effective_risk: effective,
        audit_id: None,
        correlation_id: None,
        evaluated_at: format_timestamp(at),
        plan_step: None,
        trace: req.explain.then(Vec::new),
    }
}

enum Resolved<'a> {
    Found(&'a Arc<Target>),
    Unknown(Option<String>),
    Problem(String),
}

fn resolve_target<'a>(snap: &'a Snapshot, action: &ActionDef, req: &Request<'_>) -> Resolved<'a> {
    if let Some(id) = req.target {
        return match snap.inventory.get(id) {
            Some(t) => Resolved::Found(t),
            None => Resolved::Unknown(Some(id.to_owned())),
        };
    }
    // Resolve from the params through `target_params`.
    let mut coords: Vec<(Coordinate, &str)> = Vec::with_capacity(3);
    for (coord, param) in &action.target_params {
        if let Some(v) = param_or_default(action, req.params, param).and_then(|v| v.as_str()) {
            coords.push((*coord, v));
        }
    }
    if !coords.iter().any(|(c, _)| *c == Coordinate::Name) {
        return Resolved::Unknown(None);
    }
    let found = snap
        .inventory
        .find_by_coordinates(&action.target_types, &coords, 2);
    match (found.first().copied(), found.get(1).copied()) {
        (Some(t), None) => Resolved::Found(t),
        (None, _) => Resolved::Unknown(None),
        (Some(a), Some(b)) => Resolved::Problem(format!(
            "the params match several inventory targets (`{}`, `{}`, …); name the target explicitly",
            a.id, b.id
        )),
    }
}

fn binding_problem(
    action: &ActionDef,
    target: &Target,
    params: Option<&serde_json::Value>,
) -> Option<String> {
    // Never skipped: a binding that cannot be checked is a deny, or the
    // params could address any object while the decision names the target.
    for (coord, param) in &action.target_params {
        let Some(tv) = target.coordinate(*coord) else {
            return Some(format!(
                "target `{}` has no {coord} in the inventory, but `{}` binds its `{param}` parameter to the target's {coord}; add `{coord}:` to the target so the params can be checked against it",
                target.id, action.name
            ));
        };
        let Some(pv) = param_or_default(action, params, param).and_then(|v| v.as_str()) else {
            return Some(format!(
                "params do not give `{param}`, which `{}` binds to the {coord} of target `{}`",
                action.name, target.id
            ));
        };
        if pv != tv {
            return Some(format!(
                "params address {coord} `{pv}` but target `{}` has {coord} `{tv}`",
                target.id
            ));
        }
    }
    None
}

impl Snapshot {
    /// Evaluates one request. `now` is the real time (used for token expiry);
    /// `at`, when given, is the time the policy is evaluated at (what-if
    /// questions and tests); otherwise `now`.
    pub fn evaluate(&self, req: &Request<'_>, now: Timestamp, at: Option<Timestamp>) -> Decision {
        let at = at.unwrap_or(now);
        // Caller.
        let resolved_caller;
        let caller: Option<&Caller> = match req.caller {
            CallerInput::Verified(c) => Some(c),
            CallerInput::Anonymous | CallerInput::Raw(_) => {
                let raw = match req.caller {
                    CallerInput::Raw(s) => Some(s),
                    _ => None,
                };
                match resolve_caller(&self.identity, raw, now.as_second()) {
                    Ok(c) => {
                        resolved_caller = c;
                        resolved_caller.as_ref()
                    }
                    Err(e) => {
                        let action = self.registry.get(req.action).ok();
                        let risk = action.map_or(RiskClass::Critical, |a| a.risk_class);
                        return early_deny(
                            req,
                            action.map(|a| a.as_ref()),
                            req.target.map(str::to_owned),
                            None,
                            risk,
                            RiskClass::Critical,
                            format!("caller rejected: {e}"),
                            at,
                        );
                    }
                }
            }
        };
        let caller_id = caller.map(|c| c.agent_id.clone());

        // Action.
        let action = match self.registry.get(req.action) {
            Ok(a) => a,
            Err(e) => {
                return early_deny(
                    req,
                    None,
                    req.target.map(str::to_owned),
                    caller_id,
                    RiskClass::Critical,
                    RiskClass::Critical,
                    e.to_string(),
                    at,
                );
            }
        };

        // Only the newest version is callable unless the project keeps an
        // older one (a stricter new version must not be bypassed).
        if !self.is_callable(action) {
            let newest = self
                .registry
                .newest(&action.name)
                .map(|n| n.version.clone())
                .unwrap_or_default();
            return early_deny(
                req,
                Some(action),
                req.target.map(str::to_owned),
                caller_id,
                action.risk_class,
                action.risk_class.effective(Sensitivity::Critical),
                format!(
                    "`{}` is not callable: only the newest version ({newest}) of `{}` is; call `{}`, or keep the old version callable with `callable_old_versions: [{}]` in agent-safe.yaml",
                    action.key(),
                    action.name,
                    action.name,
                    action.key()
                ),
                at,
            );
        }

        // Params.
        if let Err(problems) = validate_params(action, req.params) {
            return early_deny(
                req,
                Some(action),
                req.target.map(str::to_owned),
                caller_id,
                action.risk_class,
                action.risk_class.effective(Sensitivity::Critical),
                format!(
                    "invalid params for `{}`: {}",
                    action.name,
                    problems.join("; ")
                ),
                at,
            );
        }

        // Target.
        let (target, unknown_id): (Option<&Target>, Option<String>) =
            match resolve_target(self, action, req) {
                Resolved::Found(t) => (Some(t.as_ref()), None),
                Resolved::Unknown(id) => (None, id),
                Resolved::Problem(p) => {
                    return early_deny(
                        req,
                        Some(action),
                        None,
                        caller_id,
                        action.risk_class,
                        action.risk_class.effective(Sensitivity::Critical),
                        p,
                        at,
                    );
                }
            };
        let target_id = target.map(|t| t.id.clone()).or(unknown_id.clone());
        if target.is_none() && self.settings.unknown_targets == UnknownTargets::Deny {
            let what = match &unknown_id {
                Some(id) => format!("target `{id}` is not in the inventory"),
                None if action.target_params.is_empty() => {
                    "the request names no inventory target".to_owned()
                }
                None => "no inventory target matches the params".to_owned(),
            };
            return early_deny(
                req,
                Some(action),
                target_id,
                caller_id,
                action.risk_class,
                action.risk_class.effective(Sensitivity::Critical),
                format!(
                    "{what}; unknown targets are denied (`unknown_targets: deny` in agent-safe.yaml): add the target to the inventory"
                ),
                at,
            );
        }
        if let Some(t) = target {
            let effective = action.risk_class.effective(t.sensitivity);
            if !action.target_types.contains(&t.target_type) {
                return early_deny(
                    req,
                    Some(action),
                    target_id,
                    caller_id,
                    action.risk_class,
                    effective,
                    format!(
                        "target `{}` is a `{}`, but `{}` applies to: {}",
                        t.id,
                        t.target_type,
                        action.name,
                        action.target_types.join(", ")
                    ),
                    at,
                );
            }
            if let Some(p) = binding_problem(action, t, req.params) {
                return early_deny(
                    req,
                    Some(action),
                    target_id,
                    caller_id,
                    action.risk_class,
                    effective,
                    p,
                    at,
                );
            }
        }
        let sensitivity = target.map_or(Sensitivity::Critical, |t| t.sensitivity);
        let effective = action.risk_class.effective(sensitivity);

        // Rules, in rank order: the first that matches wins.
        let ctx = Ctx {
            target,
            caller,
            effective,
            at,
        };
        let mut trace = req.explain.then(Vec::new);
        let mut winner: Option<&CompiledRule> = None;
        if trace.is_none() {
            // Fast path: the first candidate (in rank order) that matches wins.
            let caller_base = self.target_sels as usize;
            winner = CACHE.with(|c| {
                let mut cache = c.borrow_mut();
                cache.begin(caller_base + self.caller_sels as usize);
                self.candidates_for(action, target, false)
                    .find(|r| r.matches_cached(&ctx, &mut cache, caller_base))
            });
        }
        // A trace lists every candidate; a plain check only walks the rules
        // that can match this target's environment.
        if let Some(trace) = trace.as_mut() {
            // Explain: walk every candidate, say why each did or did not decide.
            for rule in self.candidates_for(action, target, true) {
                let miss = rule.miss(&ctx);
                let note = match (miss, winner) {
                    (Some(m), _) => rule.describe_miss(m, &ctx),
                    (None, Some(w)) => format!("matched, but outranked by `{}`", w.rule.name),
                    (None, None) => "winner".to_owned(),
                };
                trace.push(TraceEntry {
                    rule: rule.rule.name.clone(),
                    priority: rule.rule.priority,
                    specificity: rule.specificity,
                    decision: rule.rule.decision,
                    matched: miss.is_none(),
                    note,
                });
                if miss.is_none() && winner.is_none() {
                    winner = Some(rule);
                }
            }
        }
        let (result, reason, policy) = match winner {
            Some(w) => (
                w.rule.decision,
                w.rule
                    .reason
                    .clone()
                    .unwrap_or_else(|| format!("rule `{}` matched", w.rule.name)),
                Some(w.rule.name.clone()),
            ),
            None => {
                let mut reason = String::from("no matching policy (default deny)");
                if let Some(id) = &unknown_id {
                    reason.push_str(&format!("; target `{id}` is not in the inventory"));
                } else if target.is_none() && !action.target_params.is_empty() {
                    reason.push_str("; no inventory target matches the params");
                }
                (DecisionResult::Deny, reason, None)
            }
        };
        Decision {
            result,
            reason,
            policy_matched: policy,
            action: action.name.clone(),
            action_version: Some(action.version.clone()),
            target: target_id,
            caller: caller_id,
            risk_class: action.risk_class,
            effective_risk: effective,
            audit_id: None,
            correlation_id: None,
            evaluated_at: format_timestamp(at),
            plan_step: None,
            trace,
        }
    }
}
