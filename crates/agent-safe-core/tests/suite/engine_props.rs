//! Property tests: winner selection agrees with a plain reference model on
//! random rule sets, and the loaders never panic on arbitrary input.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use agent_safe_core::load::{parse_action, parse_inventory, parse_policy};
use agent_safe_core::model::DecisionResult;
use common::*;
use proptest::prelude::*;
use serde_json::json;

/// A rule in the reference model's own, deliberately simple terms.
#[derive(Debug, Clone)]
struct RefRule {
    priority: i64,
    actions: Option<Vec<&'static str>>,
    environments: Option<Vec<&'static str>>,
    roles: Option<Vec<&'static str>>,
    risks: Option<Vec<&'static str>>,
    decision: &'static str,
}

const ACTION_PATTERNS: &[&str] = &[
    "restart-deployment",
    "scale-deployment",
    "restart-*",
    "*-deployment",
    "drain-node",
    "*",
];
const ENVS: &[&str] = &["staging", "prod", "dev"];
const ROLES: &[&str] = &["deployer", "reader", "admin"];
const RISKS: &[&str] = &["low", "medium", "high", "critical"];
const DECISIONS: &[&str] = &["allow", "deny", "require_approval"];

fn subset(pool: &'static [&'static str]) -> impl Strategy<Value = Option<Vec<&'static str>>> {
    prop::option::weighted(0.5, prop::sample::subsequence(pool, 1..=pool.len()))
}

fn rule() -> impl Strategy<Value = RefRule> {
    (
        -1i64..3,
        subset(ACTION_PATTERNS),
        subset(ENVS),
        subset(ROLES),
        subset(RISKS),
        prop::sample::select(DECISIONS),
    )
        .prop_map(
            |(priority, actions, environments, roles, risks, decision)| RefRule {
                priority,
                actions,
                environments,
                roles,
                risks,
                decision,
            },
        )
}

fn glob_match(pattern: &str, name: &str) -> bool {
    match (pattern.strip_prefix('*'), pattern.strip_suffix('*')) {
        _ if pattern == "*" => true,
        (Some(suffix), _) => name.ends_with(suffix),
        (_, Some(prefix)) => name.starts_with(prefix),
        _ => pattern == name,
    }
}

fn restrictiveness(d: &str) -> u8 {
    match d {
        "allow" => 0,
        "require_approval" => 1,
        _ => 2,
    }
}

struct Facts {
    action: &'static str,
    env: &'static str,
    roles: Vec<&'static str>,
    risk: &'static str,
}

/// Collect all matches, sort by (priority, specificity, restrictiveness)
/// descending (stable, so file order breaks full ties), take the first.
fn reference(rules: &[RefRule], f: &Facts) -> Option<usize> {
    let mut hits: Vec<usize> = (0..rules.len())
        .filter(|i| {
            let r = &rules[*i];
            r.actions
                .as_ref()
                .is_none_or(|a| a.iter().any(|p| glob_match(p, f.action)))
                && r.environments.as_ref().is_none_or(|e| e.contains(&f.env))
                && r.roles
                    .as_ref()
                    .is_none_or(|x| x.iter().any(|role| f.roles.contains(role)))
                && r.risks.as_ref().is_none_or(|x| x.contains(&f.risk))
        })
        .collect();
    let key = |i: &usize| {
        let r = &rules[*i];
        let spec = [
            r.actions.is_some(),
            r.environments.is_some(),
            r.roles.is_some(),
            r.risks.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        (r.priority, spec, restrictiveness(r.decision))
    };
    hits.sort_by_key(|i| std::cmp::Reverse(key(i)));
    hits.first().copied()
}

fn to_yaml(rules: &[RefRule]) -> String {
    let list = |v: &Option<Vec<&str>>| {
        v.as_ref().map(|v| {
            format!(
                "[{}]",
                v.iter()
                    .map(|s| format!("'{s}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    };
    if rules.is_empty() {
        // `rules:` with nothing under it is refused (it is what a file
        // caught mid-rewrite looks like); no rules is said explicitly.
        return String::from("rules: []\n");
    }
    let mut out = String::from("rules:\n");
    for (i, r) in rules.iter().enumerate() {
        out.push_str(&format!(
            "  - name: r{i}\n    priority: {}\n    decision: {}\n    match:\n",
            r.priority, r.decision
        ));
        let mut any = false;
        if let Some(a) = list(&r.actions) {
            out.push_str(&format!("      actions: {a}\n"));
            any = true;
        }
        if let Some(e) = list(&r.environments) {
            out.push_str(&format!("      targets: {{environments: {e}}}\n"));
            any = true;
        }
        if let Some(x) = list(&r.roles) {
            out.push_str(&format!("      callers: {{roles: {x}}}\n"));
            any = true;
        }
        if let Some(x) = list(&r.risks) {
            out.push_str(&format!("      risk_classes: {x}\n"));
            any = true;
        }
        if !any {
            out.push_str("      {}\n");
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn winner_matches_reference(
        rules in prop::collection::vec(rule(), 0..12),
        which in 0usize..4,
        roles in prop::sample::subsequence(ROLES, 0..=3),
    ) {
        // (request, facts the reference sees: action, environment, effective risk)
        let (a, facts) = match which {
            0 => (restart("staging/api", "staging", "api"), Facts { action: "restart-deployment", env: "staging", roles: vec![], risk: "medium" }),
            1 => (restart("prod/api", "prod", "api"), Facts { action: "restart-deployment", env: "prod", roles: vec![], risk: "high" }),
            2 => (ask("scale-deployment", Some("dev/test-app"), json!({"namespace": "dev", "deployment": "test-app", "replicas": 1})), Facts { action: "scale-deployment", env: "dev", roles: vec![], risk: "low" }),
            _ => (ask("drain-node", Some("prod/node-1"), json!({"node": "prod-node-1"})), Facts { action: "drain-node", env: "prod", roles: vec![], risk: "critical" }),
        };
        let facts = Facts { roles: roles.clone(), ..facts };
        let a = a.by(caller("agent", &roles, &[]));
        let snap = snapshot(&to_yaml(&rules));
        let d = a.run(&snap);
        // The explain path (every candidate, no cache) picks the same winner.
        let explained = a.clone().explain().run(&snap);
        prop_assert_eq!(&explained.policy_matched, &d.policy_matched);
        prop_assert_eq!(explained.result, d.result);
        match reference(&rules, &facts) {
            None => {
                prop_assert_eq!(d.result, DecisionResult::Deny);
                prop_assert_eq!(d.policy_matched, None);
            }
            Some(i) => {
                prop_assert_eq!(d.result.as_str(), rules[i].decision);
                prop_assert_eq!(d.policy_matched, Some(format!("r{i}")));
            }
        }
    }

    #[test]
    fn loaders_never_panic_on_arbitrary_text(text in "\\PC{0,400}") {
        let s = src("fuzz.yaml", &text);
        let _ = parse_action(&s);
        let _ = parse_policy(&s);
        let _ = parse_inventory(&s);
        let _ = agent_safe_core::config::parse_config(&s);
    }

    #[test]
    fn loaders_never_panic_on_yaml_like_text(
        parts in prop::collection::vec(prop::sample::select(&[
            "name: ", "rules:", "\n", "  ", "- ", "{", "}", "[", "]", ", ", "match:", "actions:", "targets:",
            "time_windows:", "start: ", "'09:00'", "*", "&a ", "*a", "<<: ", "decision: allow", "1", "-1",
            "99999999999999999999999", "1.5", "~", "true", "\"", "'", "#", "?", ": ", "!!str ", "\t",
            "type: string", "parameters:", "constraints:", "pattern: '(a'", "risk_class: low", "target_types: []",
            "version: '1.0.0'", "labels:", "days: [mon]", "timezone: X/Y", "---\n", "...\n",
        ][..]), 0..60),
    ) {
        let text: String = parts.concat();
        let s = src("fuzz.yaml", &text);
        let _ = parse_action(&s);
        let _ = parse_policy(&s);
        let _ = parse_inventory(&s);
        let _ = agent_safe_core::config::parse_config(&s);
    }

    #[test]
    fn loaders_never_panic_on_mutated_files(
        which in 0usize..5,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let base = ACTIONS[which].1.as_bytes().to_vec();
        let mut bytes = base;
        for (idx, b) in edits {
            let i = idx.index(bytes.len());
            bytes[i] = b;
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let _ = parse_action(&src("fuzz.yaml", &text));
    }
}
