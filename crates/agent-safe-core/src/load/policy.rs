//! Policy files (`policies/*.yaml`).

use std::path::Path;

use super::{
    SourceFile, check_unique, day_of, enum_list_of, enum_of, glob_list, non_empty, parse_root,
    read_sources, str_list,
};
use crate::diag::{ConfigError, Diagnostic, Diagnostics, Pos};
use crate::model::{
    CallerSelector, DecisionResult, Origin, RiskClass, Rule, RuleMatch, Sensitivity,
    TargetSelector, TimeWindow,
};
use crate::yaml::{MapReader, Node, Value, list_of};

pub(crate) const ROOT_KEYS: &[&str] = &["rules"];
pub(crate) const RULE_KEYS: &[&str] = &[
    "name",
    "description",
    "priority",
    "match",
    "decision",
    "reason",
];
pub(crate) const MATCH_KEYS: &[&str] = &[
    "actions",
    "targets",
    "callers",
    "risk_classes",
    "time_windows",
];
pub(crate) const TARGET_KEYS: &[&str] =
    &["ids", "environments", "sensitivities", "types", "labels"];
pub(crate) const CALLER_KEYS: &[&str] = &["agent_ids", "roles", "groups"];
pub(crate) const WINDOW_KEYS: &[&str] =
    &["days", "start", "end", "start_hour", "end_hour", "timezone"];

/// Parses one policy file, reporting every problem in it.
pub fn parse_policy(src: &SourceFile) -> Result<Vec<Rule>, ConfigError> {
    let mut d = Diagnostics::new();
    let rules = read_policy(src, &mut d);
    check_unique(
        "rule name",
        rules.iter().map(|r| (r.name.as_str(), &r.origin)),
        &mut d,
    );
    d.finish(rules)
}

/// Loads every policy file under `path` (a file or a directory); rule names
/// must be unique across all of them.
pub fn load_policies(path: &Path) -> Result<Vec<Rule>, ConfigError> {
    let mut d = Diagnostics::new();
    let mut all = Vec::new();
    for src in read_sources(path)? {
        all.extend(read_policy(&src, &mut d));
    }
    check_unique(
        "rule name",
        all.iter().map(|r| (r.name.as_str(), &r.origin)),
        &mut d,
    );
    d.finish(all)
}

fn read_policy(src: &SourceFile, d: &mut Diagnostics) -> Vec<Rule> {
    let file = src.path.as_path();
    let Some(root) = parse_root(src, d) else {
        return Vec::new();
    };
    if root.value == Value::Null {
        d.push(super::empty_document(file, "policy file", "rules"));
        return Vec::new();
    }
    let Some(mut r) = MapReader::new(file, &root, "policy file", ROOT_KEYS, d) else {
        return Vec::new();
    };
    // `rules:` is required, and `rules: []` is the explicit way to say "no
    // rules": a file caught while it is rewritten in place is empty or cut
    // short, and must not load as a file without its deny rules.
    let items = super::required_root_list(&mut r, &root, "rules", d);
    r.finish(d);
    items.iter().filter_map(|n| read_rule(file, n, d)).collect()
}

fn read_rule(file: &Path, node: &Node, d: &mut Diagnostics) -> Option<Rule> {
    let mut r = MapReader::new(file, node, "rule", RULE_KEYS, d)?;
    let name = r.req_str("name", d);
    if let Some((n, pos)) = &name
        && (n.trim().is_empty() || n.chars().any(char::is_whitespace))
    {
        d.push(
            Diagnostic::error(file, *pos, format!("invalid rule name `{n}`")).with_help(
                "rule names are non-empty and contain no spaces, e.g. `allow-staging-restarts`",
            ),
        );
    }
    let description = r.opt_str("description", d).map(|(s, _)| s);
    let priority = r.opt_int("priority", d).map(|(i, _)| i).unwrap_or(0);
    let matcher = match r.take("match") {
        Some(n) => read_match(file, n, d).unwrap_or_default(),
        None => RuleMatch::default(),
    };
    let decision = r.require("decision", d).and_then(|n| {
        enum_of(
            file,
            n,
            "decision",
            DecisionResult::parse,
            DecisionResult::choices,
            d,
        )
    });
    let reason = r.opt_str("reason", d).map(|(s, _)| s);
    r.finish(d);
    Some(Rule {
        name: name?.0,
        description,
        priority,
        matcher,
        decision: decision?,
        reason,
        origin: Origin {
            file: file.to_path_buf(),
            pos: node.pos,
        },
    })
}

fn read_match(file: &Path, node: &Node, d: &mut Diagnostics) -> Option<RuleMatch> {
    let mut r = MapReader::new(file, node, "match", MATCH_KEYS, d)?;
    let actions = glob_list(&mut r, "actions", d);
    let targets = r.take("targets").and_then(|n| read_targets(file, n, d));
    let callers = r.take("callers").and_then(|n| read_callers(file, n, d));
    let risk_classes = r.take("risk_classes").and_then(|n| {
        let v = enum_list_of(
            file,
            n,
            "risk_classes",
            RiskClass::parse,
            RiskClass::choices,
            d,
        )?;
        non_empty(file, n, "risk_classes", v.len(), d);
        Some(v)
    });
    let time_windows = r.take("time_windows").and_then(|n| {
        let items = list_of(file, n, "time_windows", d)?;
        non_empty(file, n, "time_windows", items.len(), d);
        let windows: Vec<TimeWindow> = items
            .iter()
            .filter_map(|w| read_window(file, w, d))
            .collect();
        Some(windows)
    });
    r.finish(d);
    Some(RuleMatch {
        actions,
        targets,
        callers,
        risk_classes,
        time_windows,
    })
}

fn read_targets(file: &Path, node: &Node, d: &mut Diagnostics) -> Option<TargetSelector> {
    let mut r = MapReader::new(file, node, "targets selector", TARGET_KEYS, d)?;
    let ids = glob_list(&mut r, "ids", d);
    let environments = str_list(&mut r, "environments", d);
    let sensitivities = r.take("sensitivities").and_then(|n| {
        let v = enum_list_of(
            file,
            n,
            "sensitivities",
            Sensitivity::parse,
            Sensitivity::choices,
            d,
        )?;
        non_empty(file, n, "sensitivities", v.len(), d);
        Some(v)
    });
    let types = str_list(&mut r, "types", d);
    let labels = r.opt_str_map("labels", d).map(|entries| {
        let mut out = std::collections::BTreeMap::new();
        for (k, v, pos) in entries {
            if let Err(e) = super::compile_glob(&v) {
                d.push(Diagnostic::error(
                    file,
                    pos,
                    format!("invalid glob `{v}` for label `{k}`: {}", e.kind()),
                ));
            }
            out.insert(k, v);
        }
        out
    });
    r.finish(d);
    Some(TargetSelector {
        ids,
        environments,
        sensitivities,
        types,
        labels,
    })
}

fn read_callers(file: &Path, node: &Node, d: &mut Diagnostics) -> Option<CallerSelector> {
    let mut r = MapReader::new(file, node, "callers selector", CALLER_KEYS, d)?;
    let agent_ids = glob_list(&mut r, "agent_ids", d);
    let roles = str_list(&mut r, "roles", d);
    let groups = str_list(&mut r, "groups", d);
    r.finish(d);
    Some(CallerSelector {
        agent_ids,
        roles,
        groups,
    })
}

/// Parses `HH:MM` (24-hour) into minutes after midnight; `24:00` is accepted as an end.
fn parse_hhmm(s: &str) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let h: u16 = h.parse().ok()?;
    let m: u16 = m.parse().ok()?;
    if (h < 24 && m < 60) || (h == 24 && m == 0) {
        Some(h * 60 + m)
    } else {
        None
    }
}

fn read_window(file: &Path, node: &Node, d: &mut Diagnostics) -> Option<TimeWindow> {
    let mut r = MapReader::new(file, node, "time window", WINDOW_KEYS, d)?;
    let mut ok = true;
    let days = r.take("days").and_then(|n| {
        let items = list_of(file, n, "days", d)?;
        non_empty(file, n, "days", items.len(), d);
        let days: Vec<_> = items.iter().filter_map(|i| day_of(file, i, d)).collect();
        (days.len() == items.len()).then_some(days)
    });
    let start = r.opt_str("start", d);
    let end = r.opt_str("end", d);
    let start_hour = r.opt_int("start_hour", d);
    let end_hour = r.opt_int("end_hour", d);
    let timezone = r.opt_str("timezone", d);
    r.finish(d);

    let hhmm = |v: &Option<(String, Pos)>, key: &str, d: &mut Diagnostics| -> Option<u16> {
        let (s, pos) = v.as_ref()?;
        let m = parse_hhmm(s);
        if m.is_none() {
            d.push(
                Diagnostic::error(file, *pos, format!("invalid `{key}` time `{s}`"))
                    .with_help("times are 24-hour `HH:MM` in quotes, e.g. \"09:00\" or \"17:30\""),
            );
        }
        m
    };
    let hour = |v: Option<(i64, Pos)>, key: &str, d: &mut Diagnostics| -> Option<u16> {
        let (h, pos) = v?;
        if (0..=23).contains(&h) {
            u16::try_from(h).ok()
        } else {
            d.push(Diagnostic::error(
                file,
                pos,
                format!("`{key}` must be an hour from 0 to 23, got {h}"),
            ));
            None
        }
    };
    let mixed = (start.is_some() || end.is_some()) && (start_hour.is_some() || end_hour.is_some());
    if mixed {
        ok = false;
        d.push(
            Diagnostic::error(file, node.pos, "time window mixes `start`/`end` with `start_hour`/`end_hour`")
                .with_help("use either `start: \"09:00\"` and `end: \"17:00\"`, or `start_hour: 9` and `end_hour: 16` (end hour inclusive)"),
        );
    }
    let (start_minute, end_minute) = if start.is_some() || end.is_some() {
        match (hhmm(&start, "start", d), hhmm(&end, "end", d)) {
            (Some(s), Some(e)) => (s, e),
            (s, e) => {
                if start.is_none() || end.is_none() {
                    d.push(Diagnostic::error(
                        file,
                        node.pos,
                        "time window needs both `start` and `end`",
                    ));
                }
                ok = ok && s.is_some() && e.is_some() && start.is_some() && end.is_some();
                (0, 0)
            }
        }
    } else if start_hour.is_some() || end_hour.is_some() {
        let has_both = start_hour.is_some() && end_hour.is_some();
        match (
            hour(start_hour, "start_hour", d),
            hour(end_hour, "end_hour", d),
        ) {
            (Some(s), Some(e)) => (s * 60, (e + 1) * 60),
            _ => {
                if !has_both {
                    d.push(Diagnostic::error(
                        file,
                        node.pos,
                        "time window needs both `start_hour` and `end_hour`",
                    ));
                }
                ok = false;
                (0, 0)
            }
        }
    } else {
        // Only days (or nothing): the whole day.
        (0, 24 * 60)
    };
    if start_minute == 24 * 60 {
        ok = false;
        d.push(Diagnostic::error(file, node.pos, "`start` cannot be 24:00"));
    }
    if let Some((tz, pos)) = &timezone
        && jiff::tz::TimeZone::get(tz).is_err()
    {
        ok = false;
        let mut diag = Diagnostic::error(file, *pos, format!("unknown time zone `{tz}`"));
        diag = diag.with_help(
            "use an IANA time zone name such as `UTC`, `Europe/London` or `America/New_York`",
        );
        d.push(diag);
    }
    ok.then(|| TimeWindow {
        days,
        start: start.map(|(s, _)| s),
        end: end.map(|(s, _)| s),
        start_hour: start_hour.and_then(|(h, _)| u8::try_from(h).ok()),
        end_hour: end_hour.and_then(|(h, _)| u8::try_from(h).ok()),
        timezone: timezone.map(|(s, _)| s),
        start_minute,
        end_minute,
    })
}
