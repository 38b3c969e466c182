//! Converting a 0.14 project's files, and the rule-by-rule side of the
//! behaviour differences.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Map, Value};

use super::v014::{self, Model};
use super::{Difference, OutFile, Project};
use crate::model::{
    CallerSelector, Day, DecisionResult, Origin, PolicyFile, Rule, RuleMatch, Sensitivity,
    TargetSelector, TimeWindow,
};

/// The converted files and what the comparison needs to know about them.
#[derive(Debug, Default)]
pub struct Conversion {
    /// The files to write.
    pub files: Vec<OutFile>,
    /// 0.14 settings with no counterpart here.
    pub left_out: Vec<String>,
    /// For every 0.14 rule (in file order), its name here, `None` when the
    /// rule was not converted.
    pub rule_names: Vec<Option<String>>,
    /// 0.14 test file → converted test file (relative paths).
    pub test_paths: BTreeMap<String, String>,
    /// Rules changed or left out for a feature we do not have:
    /// (`tickets` or `delegation`, what happened).
    pub(crate) feature_rules: Vec<(&'static str, String)>,
}

const HEADER: &str =
    "# Converted from agent-safe 0.14 by `agent-safe migrate` (docs/MIGRATING.md).\n";

fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

fn clean(p: &str) -> String {
    p.trim_start_matches("./").to_owned()
}

/// Converts the project read by [`super::read_project`].
pub fn convert(p: &Project) -> Conversion {
    let mut c = Conversion::default();
    config_file(p, &mut c);
    for (name, text) in &p.actions {
        c.files.push(OutFile {
            path: format!("actions/{name}"),
            from: Some(format!(
                "{}/{name}",
                clean(p.config.registry.as_deref().unwrap_or("actions"))
            )),
            status: "copied",
            changes: Vec::new(),
            text: text.clone(),
            private: false,
        });
    }
    policy_files(p, &mut c);
    if let Some(text) = &p.inventory_text {
        c.files.push(OutFile {
            path: "inventory.yaml".into(),
            from: Some(clean(
                p.config.inventory.as_deref().unwrap_or("inventory.yaml"),
            )),
            status: "copied",
            changes: Vec::new(),
            text: text.clone(),
            private: false,
        });
    }
    test_files(p, &mut c);
    c
}

fn config_file(p: &Project, c: &mut Conversion) {
    let cfg = &p.config;
    let mut text = String::from(HEADER);
    let mut changes = Vec::new();
    if !p.actions.is_empty() {
        text.push_str("actions: actions\n");
        changes.push(match &cfg.registry {
            Some(r) => format!("`registry: {r}` → `actions: actions`"),
            None => "0.14's default registry `./actions` → `actions: actions`".to_owned(),
        });
    }
    text.push_str("builtin_actions: false\n");
    changes.push("added `builtin_actions: false`: 0.14 has no built-in catalogue, so the project keeps exactly its own actions".into());
    if !p.policies.is_empty() {
        text.push_str("policies: policies\n");
    }
    if p.inventory_text.is_some() {
        text.push_str("inventory: inventory.yaml\n");
    }
    let audit = match cfg.audit_log.as_deref() {
        Some(a) if !std::path::Path::new(a).is_absolute() => clean(a),
        _ => "audit.jsonl".to_owned(),
    };
    text.push_str(&format!("audit:\n  path: {}\n", q(&audit)));
    let old_log = match &cfg.audit_log {
        Some(a) => format!("`audit_log: {a}`"),
        None => "0.14's default audit log `./audit.jsonl`".to_owned(),
    };
    changes.push(format!(
        "{old_log} → `audit.path: {audit}`: a new hash-chained log (0.14's log is another format; keep it as a record, it is not continued)"
    ));
    // 0.14 signs with the UTF-8 bytes of `signing_key` as written; a key
    // file here holds the key bytes base64url-encoded.
    let usable_key = cfg
        .signing_key
        .as_ref()
        .filter(|k| k.len() >= crate::identity::MIN_SECRET_BYTES);
    if cfg.signing_key.is_some() && usable_key.is_none() {
        c.left_out.push(format!(
            "`signing_key`: shorter than {} bytes, too weak to verify tokens here; make a new key (see IDENTITY.md) and mint new tokens",
            crate::identity::MIN_SECRET_BYTES
        ));
    }
    if let Some(key) = usable_key {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.as_bytes());
        let issuer = cfg.issuer.as_deref().unwrap_or("agent-safe");
        text.push_str(&format!(
            "identity:\n  issuer: {}\n  keys:\n    - secret_file: secrets/signing.key\n",
            q(issuer)
        ));
        changes.push("`signing_key` → `identity.keys` (`secret_file: secrets/signing.key`): the secret leaves the config file".into());
        changes.push(match &cfg.issuer {
            Some(_) => format!("`issuer` → `identity.issuer: {issuer}` (0.14 tokens carry it as `iss`)"),
            None => format!("added `identity.issuer: {issuer}`: 0.14's default issuer, which its tokens carry as `iss`"),
        });
        c.files.push(OutFile {
            path: "secrets/signing.key".into(),
            from: Some("agent-safe.yaml".into()),
            status: "created",
            changes: vec!["0.14's `signing_key` (its bytes, base64url-encoded as key files are here), readable by the owner only: tokens 0.14 signed still verify".into()],
            text: format!("{encoded}\n"),
            private: true,
        });
    }
    if cfg.rate_limit.is_some() {
        c.left_out.push("`rate_limit`: there is no per-caller rate limit or circuit breaker here; every check is decided on its own".into());
    }
    if cfg.cumulative_risk.is_some() {
        c.left_out.push("`cumulative_risk`: there is no cumulative-risk escalation here; an allowed request is never escalated because of earlier ones".into());
    }
    for k in cfg.other.keys() {
        c.left_out
            .push(format!("`{k}`: not a setting of 0.14 nor of this version"));
    }
    c.files.insert(
        0,
        OutFile {
            path: crate::config::CONFIG_FILE_NAME.into(),
            from: p.config_file.as_ref().map(|_| "agent-safe.yaml".to_owned()),
            status: if p.config_file.is_some() {
                "converted"
            } else {
                "created"
            },
            changes,
            text,
            private: false,
        },
    );
}

/// Converts one rule; `Err` says why it cannot match here and is left out.
fn convert_rule(
    r: &v014::Rule,
    model: &Model,
    changes: &mut Vec<String>,
    features: &mut Vec<(&'static str, String)>,
) -> Result<Rule, String> {
    let m = &r.matcher;
    match m.require_ticket {
        Some(true) => {
            let why = "it requires an execution ticket (`require_ticket: true`), and requests here carry none, so it could never match";
            features.push(("tickets", format!("`{}` left out: {why}", r.name)));
            return Err(why.into());
        }
        Some(false) => {
            changes.push("dropped `require_ticket: false`: requests here carry no ticket, so it always holds".into());
            features.push((
                "tickets",
                format!("`{}`: `require_ticket: false` dropped", r.name),
            ));
        }
        None => {}
    }
    let mut callers = None;
    if let Some(cs) = &m.callers {
        let never = if cs.delegated_from.is_some() {
            Some("`delegated_from`")
        } else if cs.require_delegation == Some(true) {
            Some("`require_delegation: true`")
        } else if cs.max_delegation_depth.is_some_and(|d| d < 0) {
            Some("a negative `max_delegation_depth`")
        } else {
            None
        };
        if let Some(what) = never {
            let why = format!(
                "it matches delegated identities only ({what}), and identities here are never delegated"
            );
            features.push(("delegation", format!("`{}` left out: {why}", r.name)));
            return Err(why);
        }
        for (set, key) in [
            (cs.require_delegation.is_some(), "require_delegation: false"),
            (cs.max_delegation_depth.is_some(), "max_delegation_depth"),
        ] {
            if set {
                changes.push(format!(
                    "dropped `{key}`: identities here are never delegated, so it always holds"
                ));
                features.push(("delegation", format!("`{}`: `{key}` dropped", r.name)));
            }
        }
        if cs.agent_ids.is_some() || cs.roles.is_some() || cs.groups.is_some() {
            callers = Some(CallerSelector {
                agent_ids: cs.agent_ids.clone(),
                roles: cs.roles.clone(),
                groups: cs.groups.clone(),
            });
        }
    }
    let actions = if m.actions.iter().any(|a| a == "*") {
        None
    } else {
        let (kept, gone): (Vec<String>, Vec<String>) = m
            .actions
            .iter()
            .cloned()
            .partition(|p| model.actions.iter().any(|a| v014::glob_matches(p, &a.name)));
        for g in &gone {
            changes.push(format!(
                "removed `{g}` from `actions`: no action of the registry matches it (0.14 denied such requests before any rule)"
            ));
        }
        if kept.is_empty() {
            return Err("none of its `actions` names an action of the registry".into());
        }
        Some(kept)
    };
    let targets = m.targets.as_ref().and_then(|t| {
        let sel = TargetSelector {
            ids: None,
            environments: t.environments.clone(),
            sensitivities: t.sensitivities.clone(),
            types: t.types.clone(),
            labels: t.labels.clone(),
        };
        if sel == TargetSelector::default() {
            changes.push("dropped the empty `targets: {}` (it only required a known target, and unknown targets are denied here)".into());
            None
        } else {
            Some(sel)
        }
    });
    let time_windows = m.time_windows.as_ref().map(|ws| {
        changes.push(
            "time windows written with explicit `start_hour`/`end_hour` (0.14's defaults 0 and 23)"
                .into(),
        );
        ws.iter()
            .map(|w| TimeWindow {
                days: w.days.as_ref().map(|d| {
                    d.iter()
                        .filter_map(|&i| Day::from_index(i64::from(i)))
                        .collect()
                }),
                start_hour: Some(w.start_hour),
                end_hour: Some(w.end_hour),
                ..TimeWindow::default()
            })
            .collect()
    });
    Ok(Rule {
        name: r.name.clone(),
        description: Some(r.description.clone()).filter(|d| !d.is_empty()),
        priority: r.priority,
        matcher: RuleMatch {
            actions,
            targets,
            callers,
            risk_classes: m.risk_classes.clone(),
            time_windows,
        },
        decision: r.decision,
        reason: Some(r.reason.clone()),
        origin: Origin::default(),
    })
}

fn policy_files(p: &Project, c: &mut Conversion) {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let dir = clean(p.config.policies.as_deref().unwrap_or("policies"));
    for (file, rules) in &p.policies {
        let mut out = Vec::new();
        let mut file_changes = Vec::new();
        for r in rules {
            let mut changes = Vec::new();
            match convert_rule(r, &p.model, &mut changes, &mut c.feature_rules) {
                Ok(mut rule) => {
                    if seen.contains(&rule.name) {
                        let mut n = 2;
                        while seen.contains(&format!("{}-{n}", rule.name)) {
                            n += 1;
                        }
                        let new = format!("{}-{n}", rule.name);
                        changes.push(format!(
                            "renamed to `{new}`: rule names are unique across policy files here"
                        ));
                        rule.name = new;
                    }
                    seen.insert(rule.name.clone());
                    c.rule_names.push(Some(rule.name.clone()));
                    file_changes.extend(
                        changes
                            .into_iter()
                            .map(|ch| format!("rule `{}`: {ch}", r.name)),
                    );
                    out.push(rule);
                }
                Err(why) => {
                    c.rule_names.push(None);
                    file_changes.push(format!("rule `{}` left out: {why}", r.name));
                }
            }
        }
        let from = format!("{dir}/{file}");
        if file_changes.is_empty() {
            let text = std::fs::read_to_string(p.root.join(&from))
                .ok()
                .or_else(|| emit_policy(&out));
            c.files.push(OutFile {
                path: format!("policies/{file}"),
                from: Some(from),
                status: "copied",
                changes: Vec::new(),
                text: text.unwrap_or_default(),
                private: false,
            });
        } else {
            file_changes.push("written anew: the original's comments are not kept".into());
            c.files.push(OutFile {
                path: format!("policies/{file}"),
                from: Some(from),
                status: "converted",
                changes: file_changes,
                text: emit_policy(&out).unwrap_or_default(),
                private: false,
            });
        }
    }
}

fn emit_policy(rules: &[Rule]) -> Option<String> {
    let body = serde_saphyr::to_string(&PolicyFile {
        rules: rules.to_vec(),
    })
    .ok()?;
    Some(format!("{HEADER}{body}"))
}

#[derive(Serialize)]
struct TestFileOut {
    tests: Vec<TestCaseOut>,
}

#[derive(Serialize)]
struct TestCaseOut {
    name: String,
    request: RequestOut,
    expect: DecisionResult,
}

#[derive(Serialize)]
struct RequestOut {
    action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    caller: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    params: Option<Map<String, Value>>,
}

fn test_files(p: &Project, c: &mut Conversion) {
    for (file, cases) in &p.tests {
        let mut changes = vec![format!(
            "{} flat 0.14 case(s) → `request:` form; the original's comments are not kept",
            cases.len()
        )];
        let mut names: BTreeSet<String> = BTreeSet::new();
        let mut out = Vec::new();
        for t in cases {
            let mut name = t.name.clone();
            if names.contains(&name) {
                let mut n = 2;
                while names.contains(&format!("{name}-{n}")) {
                    n += 1;
                }
                name = format!("{name}-{n}");
                changes.push(format!(
                    "case `{}` renamed to `{name}`: case names are unique within a file here",
                    t.name
                ));
            }
            names.insert(name.clone());
            if t.ticket_id.is_some() {
                changes.push(format!(
                    "case `{}`: `ticket_id` dropped (requests here carry no execution ticket)",
                    t.name
                ));
            }
            out.push(TestCaseOut {
                name,
                request: RequestOut {
                    action: t.action.clone(),
                    target: t.target.clone(),
                    caller: t.caller.clone(),
                    params: t.params.clone(),
                },
                expect: t.expect,
            });
        }
        let body = serde_saphyr::to_string(&TestFileOut { tests: out }).unwrap_or_default();
        c.test_paths.insert(file.clone(), file.clone());
        c.files.push(OutFile {
            path: file.clone(),
            from: Some(file.clone()),
            status: "converted",
            changes,
            text: format!("{HEADER}{body}"),
            private: false,
        });
    }
}

/// The (action, target) pairs of the inventory a 0.14 rule's actions,
/// targets and risk classes select, with target types enforced or not.
fn pairs<'m>(
    model: &'m Model,
    r: &v014::Rule,
    enforce_types: bool,
) -> Vec<(&'m v014::Action, &'m v014::Target)> {
    let m = &r.matcher;
    let mut out = Vec::new();
    for a in &model.actions {
        if !m.actions.iter().any(|p| v014::glob_matches(p, &a.name)) {
            continue;
        }
        for t in &model.targets {
            if enforce_types && !a.target_types.contains(&t.ty) {
                continue;
            }
            let sel_ok = m
                .targets
                .as_ref()
                .is_none_or(|s| v014::target_matches(s, t));
            let risk_ok = m
                .risk_classes
                .as_ref()
                .is_none_or(|rc| rc.contains(&a.risk_class.effective(t.sensitivity)));
            if sel_ok && risk_ok {
                out.push((a, t));
            }
        }
    }
    out
}

/// Whether two rules can match one request here (same inventory pair,
/// compatible callers, a common open hour).
fn overlap(model: &Model, a: &v014::Rule, b: &v014::Rule) -> bool {
    let pa = pairs(model, a, true);
    let pb = pairs(model, b, true);
    let common = pa
        .iter()
        .any(|(x, t)| pb.iter().any(|(y, u)| x.name == y.name && t.id == u.id));
    if !common {
        return false;
    }
    let ids = |r: &v014::Rule| r.matcher.callers.as_ref().and_then(|c| c.agent_ids.clone());
    if let (Some(x), Some(y)) = (ids(a), ids(b))
        && !x.iter().any(|i| y.contains(i))
    {
        return false;
    }
    match (&a.matcher.time_windows, &b.matcher.time_windows) {
        (Some(wa), Some(wb)) => (0..7u8).any(|d| {
            (0..24u8).any(|h| {
                wa.iter().any(|w| v014::window_open(w, d, h))
                    && wb.iter().any(|w| v014::window_open(w, d, h))
            })
        }),
        _ => true,
    }
}

/// The name of 0.14 rule `i` here (renamed when its name was taken).
fn name_here<'a>(c: &'a Conversion, i: usize, r: &'a v014::Rule) -> &'a str {
    c.rule_names
        .get(i)
        .and_then(Option::as_deref)
        .unwrap_or(&r.name)
}

/// Every behaviour difference, with the rules (computed here) and the tests
/// (computed by [`super::compare`], in `tests`) it affects.
pub(crate) fn differences(
    p: &Project,
    c: &Conversion,
    tests: &mut BTreeMap<&'static str, Vec<String>>,
) -> Vec<Difference> {
    let model = &p.model;
    let converted = |i: usize| c.rule_names.get(i).is_some_and(Option::is_some);
    let mut out = Vec::new();
    let mut take = |kind: &'static str| tests.remove(kind).unwrap_or_default();

    out.push(Difference {
        kind: "empty_params",
        summary: "0.14 skips the parameter checks of a request whose params are empty; here every request's params are checked (absent params as `{}`), so such a request is denied when the action has required parameters".into(),
        rules: Vec::new(),
        tests: take("empty_params"),
    });

    let mut rules = Vec::new();
    for (i, r) in model.rules.iter().enumerate() {
        if !converted(i) || r.decision == DecisionResult::Deny {
            continue;
        }
        if let Some((a, t)) = pairs(model, r, false)
            .into_iter()
            .find(|(a, t)| !a.target_types.contains(&t.ty))
        {
            rules.push(format!(
                "`{}` ({} in 0.14 e.g. `{}` on `{}`, a `{}`)",
                name_here(c, i, r),
                r.decision,
                a.name,
                t.id,
                t.ty
            ));
        }
    }
    out.push(Difference {
        kind: "target_types",
        summary: "0.14 never enforces an action's `target_types`; here a request on a target of another type is denied".into(),
        rules,
        tests: take("target_types"),
    });

    let pos = |i: usize| model.order_ours.iter().position(|&x| x == i);
    let mut rules = Vec::new();
    for (n, &i) in model.order_014.iter().enumerate() {
        for &j in model.order_014.iter().skip(n + 1) {
            let (Some(a), Some(b)) = (model.rules.get(i), model.rules.get(j)) else {
                continue;
            };
            let (Some(pi), Some(pj)) = (pos(i), pos(j)) else {
                continue;
            };
            if a.priority == b.priority
                && pj < pi
                && a.decision != b.decision
                && overlap(model, a, b)
            {
                rules.push(format!(
                    "`{}` ({}) now wins over `{}` ({}): same priority {}, more specific or more restrictive, but later in 0.14's order",
                    name_here(c, j, b),
                    b.decision,
                    name_here(c, i, a),
                    a.decision,
                    a.priority
                ));
            }
        }
    }
    out.push(Difference {
        kind: "rule_order",
        summary: "0.14 tries rules by priority and the first match wins (file order among equal priorities); here, among equal priorities, the more specific rule wins, then the more restrictive decision".into(),
        rules,
        tests: take("rule_order"),
    });

    let mut rules = Vec::new();
    for (i, r) in model.rules.iter().enumerate() {
        if !converted(i) || r.decision == DecisionResult::Deny || r.matcher.targets.is_some() {
            continue;
        }
        let reaches = model.actions.iter().any(|a| {
            r.matcher
                .actions
                .iter()
                .any(|p| v014::glob_matches(p, &a.name))
                && r.matcher
                    .risk_classes
                    .as_ref()
                    .is_none_or(|rc| rc.contains(&a.risk_class.effective(Sensitivity::Critical)))
        });
        if reaches {
            rules.push(format!(
                "`{}` ({} in 0.14 on a target outside the inventory)",
                name_here(c, i, r),
                r.decision
            ));
        }
    }
    out.push(Difference {
        kind: "unknown_targets",
        summary: "0.14 decides a request on a target outside the inventory (or with none) as critical risk, by the rules without a `targets` selector; here it is denied (`unknown_targets: deny`; `unknown_targets: evaluate_as_critical` in agent-safe.yaml restores 0.14's way)".into(),
        rules,
        tests: take("unknown_targets"),
    });

    for (kind, summary) in [
        (
            "tickets",
            "0.14 rules can require an execution ticket (`require_ticket`) and tests can carry a `ticket_id`; requests here carry no ticket",
        ),
        (
            "delegation",
            "0.14 rules can match delegated identities (`delegated_from`, `require_delegation`, `max_delegation_depth`); identities here are never delegated",
        ),
    ] {
        let rules: Vec<String> = c
            .feature_rules
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, s)| s.clone())
            .collect();
        let tests = take(kind);
        if !rules.is_empty() || !tests.is_empty() {
            out.push(Difference {
                kind,
                summary: summary.into(),
                rules,
                tests,
            });
        }
    }
    let other = take("other");
    if !other.is_empty() {
        out.push(Difference {
            kind: "other",
            summary: "the outcome differs for a reason none of the above explains; see why with `agent-safe check --explain`".into(),
            rules: Vec::new(),
            tests: other,
        });
    }
    out
}
