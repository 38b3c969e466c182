//! Property tests on the chain: random event sequences append and verify;
//! every line is the RFC 8785 form of its content (checked against the
//! reference canonicalizer); any single-byte change is detected.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod audit_support;

use agent_safe_core::audit::{
    AuditConfig, AuditLog, EventKind, MAX_SAFE_INTEGER, NewEvent, ProblemKind, Rotation, verify,
};
use proptest::prelude::*;
use serde_json::{Map, Value};

fn json_number() -> impl Strategy<Value = Value> {
    let max = MAX_SAFE_INTEGER as i64;
    prop_oneof![
        (-max..=max).prop_map(Value::from),
        (0u64..1000).prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_filter("not a big whole number", |f| {
                !(f.fract() == 0.0 && f.abs() > MAX_SAFE_INTEGER as f64 && f.abs() < 1e21)
            })
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
    ]
}

fn json_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9/_. -]{0,12}",
        any::<String>(),
        proptest::collection::vec(
            prop_oneof![
                Just('\u{0}'),
                Just('\u{1f}'),
                Just('\n'),
                Just('"'),
                Just('\\'),
                Just('\u{7f}'),
                Just('\u{2028}'),
                Just('\u{e000}'),
                Just('\u{1f600}'),
                Just('é')
            ],
            0..6
        )
        .prop_map(|cs| cs.into_iter().collect()),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        json_number(),
        json_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((json_string(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}

fn opt_string() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(json_string())
}

fn new_event() -> impl Strategy<Value = NewEvent> {
    (
        (
            prop_oneof![Just(EventKind::Decision), Just(EventKind::Approval)],
            opt_string(),
            opt_string(),
            opt_string(),
            opt_string(),
            json_value(),
            opt_string(),
            opt_string(),
        ),
        (
            opt_string(),
            opt_string(),
            opt_string(),
            opt_string(),
            json_value(),
            opt_string(),
            proptest::option::of(any::<u32>()),
        ),
    )
        .prop_map(
            |(
                (kind, action, action_version, target, caller, params, decision, reason),
                (
                    policy_matched,
                    risk_class,
                    effective_risk,
                    correlation_id,
                    context,
                    evaluated_at,
                    plan_step,
                ),
            )| NewEvent {
                // The v2 fields, drawn from the same arbitrary text (any
                // string must round-trip in them too).
                caller_identity: caller
                    .as_ref()
                    .map(|c| agent_safe_core::audit::CallerIdentity {
                        method: agent_safe_core::audit::CallerMethod::Token,
                        kid: reason.clone(),
                        roles: vec![c.clone()],
                        groups: action.iter().cloned().collect(),
                        kubernetes: reason.as_ref().map(|r| {
                            agent_safe_core::audit::KubernetesCaller {
                                namespace: c.clone(),
                                pod: action.clone(),
                                pod_uid: None,
                                service_account: r.clone(),
                                service_account_uid: reason.clone(),
                            }
                        }),
                    }),
                snapshot: decision.clone(),
                shadow: policy_matched
                    .clone()
                    .map(|p| agent_safe_core::audit::ShadowInfo {
                        // A disagreement when there is a reason, an
                        // evaluation error otherwise: both shapes.
                        decision: reason.as_ref().map(|_| p.clone()),
                        error: if reason.is_some() {
                            None
                        } else {
                            Some(p.clone())
                        },
                        policy_matched: reason.clone(),
                        reason: reason.clone(),
                        snapshot: caller.clone(),
                    }),
                kind,
                action,
                action_version,
                target,
                caller,
                params,
                decision,
                reason,
                policy_matched,
                risk_class,
                effective_risk,
                correlation_id,
                context,
                evaluated_at,
                plan_step,
            },
        )
}

fn write(events: &[NewEvent], max_bytes: Option<u64>) -> (tempfile::TempDir, AuditLog) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = AuditConfig {
        rotation: Rotation {
            max_bytes,
            daily: false,
        },
        ..AuditConfig::new(dir.path().join("audit.jsonl"))
    };
    let log = AuditLog::open(cfg).unwrap();
    for ev in events {
        log.append(ev.clone()).unwrap();
    }
    (dir, log)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_events_append_and_verify(
        events in proptest::collection::vec(new_event(), 1..20),
        rotate in proptest::option::of(1500u64..6000),
    ) {
        let (dir, log) = write(&events, rotate);
        let report = verify(&[dir.path().to_path_buf()]);
        prop_assert!(report.is_clean(), "{}", report);
        prop_assert_eq!(report.events, events.len() as u64 + log.stats().rotations);
        for f in agent_safe_core::audit::log_files(log.path()).unwrap() {
            for line in std::fs::read_to_string(&f).unwrap().lines() {
                let v: Value = serde_json::from_str(line).unwrap();
                prop_assert_eq!(serde_json_canonicalizer::to_string(&v).unwrap(), line);
            }
        }
    }

    #[test]
    fn any_single_byte_change_is_detected(
        events in proptest::collection::vec(new_event(), 1..8),
        at in any::<proptest::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let (dir, log) = write(&events, None);
        let path = log.path().to_path_buf();
        let mut bytes = std::fs::read(&path).unwrap();
        let i = at.index(bytes.len());
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        std::fs::write(&path, &bytes).unwrap();
        let report = verify(&[dir.path().to_path_buf()]);
        prop_assert!(!report.is_clean(), "byte {} set to {:#x} went unnoticed", i, byte);
        // Every change is a break — a changed final newline as a torn tail,
        // which is not accepted by default.
        prop_assert!(!report.ok(), "byte {} set to {:#x}: {}", i, byte, report);
        if i + 1 == bytes.len() {
            prop_assert_eq!(report.problem.as_ref().map(|p| p.kind), Some(ProblemKind::TornTail));
        }
    }
}
