//! Agent-id globs match whole ids: `*` and `?` match `/` too, so a deny rule
//! for `rogue-*` catches `rogue-1/x`, whether the id is given plain or inside
//! a verified token. Target-id globs keep `*` within one `/` segment.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use agent_safe_core::identity::{IdentityConfig, MintRequest, SigningKey, mint_token};
use agent_safe_core::model::DecisionResult as D;
use common::*;

const POLICY: &str = r#"
rules:
  - {name: deny-rogue, priority: 100, match: {callers: {agent_ids: [rogue-*]}}, decision: deny}
  - {name: deny-suffix, priority: 100, match: {callers: {agent_ids: ['*-evil']}}, decision: deny}
  - {name: deny-one-char, priority: 100, match: {callers: {agent_ids: ['bad?x']}}, decision: deny}
  - {name: deny-star-glob, priority: 100, match: {callers: {agent_ids: ['spiffe://*/sa/rogue']}}, decision: deny}
  - {name: approve-team, priority: 50, match: {callers: {agent_ids: ['team-a/*']}}, decision: require_approval}
  - {name: allow-rest, decision: allow}
"#;

fn identity() -> IdentityConfig {
    IdentityConfig {
        keys: vec![SigningKey::new(
            Some("k1".into()),
            b"agent-id-globs-test-key-0123456789".to_vec(),
        )],
        ..IdentityConfig::default()
    }
}

fn token(id: &IdentityConfig, agent_id: &str) -> String {
    mint_token(
        id,
        &MintRequest {
            agent_id: agent_id.into(),
            agent_name: None,
            roles: vec![],
            groups: vec![],
            ttl_seconds: 600,
            kid: None,
        },
        wed_10().as_second(),
    )
    .unwrap()
}

#[test]
fn agent_id_globs_match_whole_ids_plain_and_signed() {
    let id = identity();
    let snap = snapshot_with(POLICY, id.clone());
    #[rustfmt::skip]
    let cases: &[(&str, D, Option<&str>)] = &[
        ("rogue-1", D::Deny, Some("deny-rogue")),
        // The hole: `*` used to stop at `/`, so these were allowed.
        ("rogue-1/x", D::Deny, Some("deny-rogue")),
        ("rogue-1/x/y", D::Deny, Some("deny-rogue")),
        ("team/a-evil", D::Deny, Some("deny-suffix")),
        ("bad/x", D::Deny, Some("deny-one-char")),
        ("spiffe://cluster.local/ns/x/sa/rogue", D::Deny, Some("deny-star-glob")),
        // Prefix globs are whole-id prefixes: deeper ids are covered too.
        ("team-a/x", D::RequireApproval, Some("approve-team")),
        ("team-a/x/y", D::RequireApproval, Some("approve-team")),
        // Controls.
        ("rogue", D::Allow, Some("allow-rest")),
        ("not-rogue-1/x", D::Allow, Some("allow-rest")),
        ("team-b/x", D::Allow, Some("allow-rest")),
    ];
    let base = restart("staging/api", "staging", "api");
    let mut failures = Vec::new();
    for (agent, want, rule) in cases {
        let signed = token(&id, agent);
        for (how, raw) in [("plain", agent.to_string()), ("token", signed)] {
            let d = base.clone().raw(&raw).run(&snap);
            if d.result != *want || d.policy_matched.as_deref() != *rule {
                failures.push(format!(
                    "{agent} ({how}): want {want:?} by {rule:?}, got {d:?}"
                ));
            }
            assert_eq!(d.caller.as_deref(), Some(*agent), "{how}");
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn target_id_globs_still_stop_at_slash() {
    let snap = snapshot(
        "rules:\n  - {name: top, match: {targets: {ids: ['*']}}, decision: allow}\n  - {name: staging, match: {targets: {ids: ['staging*']}}, decision: allow}\n",
    );
    let d = restart("staging/api", "staging", "api").run(&snap);
    assert_eq!(
        (d.result, d.policy_matched),
        (D::Deny, None),
        "{}",
        d.reason
    );
}
