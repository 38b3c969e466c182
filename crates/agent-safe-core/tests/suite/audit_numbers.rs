//! No caller input makes a decision unloggable: numbers the canonical form
//! cannot carry, and values nested too deep for readers, are recorded in
//! their documented form (`audit::recorded_form`, docs/AUDIT-LOG.md
//! "Numbers and depth"), every decision gets an `audit_id`, and the log
//! verifies.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use agent_safe_core::audit::{
    AuditConfig, AuditError, AuditLog, EventFilter, MAX_VALUE_DEPTH, NewEvent, read_events,
    recorded_form, verify,
};
use agent_safe_core::config::Config;
use agent_safe_core::{AgentSafe, CheckRequest};
use proptest::prelude::*;
use serde_json::{Map, Number, Value, json};

fn safe(dir: &std::path::Path) -> AgentSafe {
    let mut config = Config::no_config();
    config.audit.enabled = true;
    config.audit.path = dir.join("audit.jsonl");
    AgentSafe::from_config(config).unwrap_or_else(|e| panic!("{e}"))
}

fn request(params: Value, context: Value) -> CheckRequest {
    CheckRequest {
        params: Some(params),
        context: Some(context),
        caller: Some("ops-agent".into()),
        ..CheckRequest::new("restart-deployment")
    }
}

fn nested(depth: usize) -> Value {
    let mut v = json!(1);
    for _ in 0..depth {
        v = json!([v]);
    }
    v
}

fn f(x: f64) -> Value {
    Value::Number(Number::from_f64(x).unwrap())
}

#[test]
fn a_huge_float_in_context_is_logged_as_its_digits() {
    let tmp = tempfile::tempdir().unwrap();
    let safe = safe(tmp.path());
    let d = safe.check(&request(json!({}), json!({"n": 1e20})));
    assert!(d.audit_id.is_some(), "{}", d.reason);
    assert!(!d.reason.contains("audit log"), "{}", d.reason);
    let report = verify(&[tmp.path().join("audit.jsonl")]);
    assert!(report.is_clean(), "{report}");
    let events = read_events(
        &[tmp.path().join("audit.jsonl")],
        &EventFilter::default(),
        None,
    )
    .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].context, json!({"n": "100000000000000000000"}));
    assert_eq!(Some(&events[0].event_id), d.audit_id.as_ref());
}

#[test]
fn the_recorded_form_of_every_number_kind() {
    let cases = [
        // Safe numbers stay numbers.
        (json!(9007199254740991u64), json!(9007199254740991u64)),
        (json!(-9007199254740991i64), json!(-9007199254740991i64)),
        (f(0.5), f(0.5)),
        (f(1e300), f(1e300)),
        (f(1e21), f(1e21)),
        (f(-1.5e-300), f(-1.5e-300)),
        (f(5e-324), f(5e-324)),
        (f(f64::MAX), f(f64::MAX)),
        // -0 is written `0` by RFC 8785: the same number.
        (f(-0.0), f(-0.0)),
        // Integers beyond ±(2^53−1): their digits, as a string.
        (json!(9007199254740993u64), json!("9007199254740993")),
        (json!(u64::MAX), json!("18446744073709551615")),
        (json!(i64::MIN), json!("-9223372036854775808")),
        // Whole doubles beyond ±(2^53−1) and below 10^21: plain digits.
        (f(1e20), json!("100000000000000000000")),
        (f(-1.5e20), json!("-150000000000000000000")),
        (f(9007199254740992.0), json!("9007199254740992")),
        (f(999999999999999900000.0), json!("999999999999999900000")),
        // Beyond 64 bits (2^65, a double for every JSON reader): its
        // ECMAScript digits, as RFC 8785 would have written it.
        (f(36893488147419103232.0), json!("36893488147419103000")),
    ];
    for (given, recorded) in cases {
        assert_eq!(recorded_form(given.clone()), recorded, "for {given}");
    }
    // Nested inside arrays and objects too.
    assert_eq!(
        recorded_form(json!({"a": [1, f(1e20)], "b": {"c": 9007199254740993u64}})),
        json!({"a": [1, "100000000000000000000"], "b": {"c": "9007199254740993"}})
    );
}

#[test]
fn values_nested_too_deep_are_logged_as_their_json_text() {
    let tmp = tempfile::tempdir().unwrap();
    let safe = safe(tmp.path());
    // 127 levels inside `context`: what serde_json (limit 128) still reads
    // as a request, but one more level inside the event line.
    let deep = nested(127);
    let d = safe.check(&request(json!({}), json!({"deep": deep})));
    assert!(d.audit_id.is_some(), "{}", d.reason);
    let report = verify(&[tmp.path().join("audit.jsonl")]);
    assert!(report.is_clean(), "{report}");
    let ev = read_events(
        &[tmp.path().join("audit.jsonl")],
        &EventFilter::default(),
        None,
    )
    .unwrap()
    .remove(0);
    // The container at the limit became its JSON text.
    let mut at = &ev.context["deep"];
    let mut levels = 1;
    while let Value::Array(items) = at {
        at = &items[0];
        levels += 1;
    }
    assert_eq!(levels, MAX_VALUE_DEPTH);
    let text = at.as_str().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(text).unwrap(),
        nested(127 - (MAX_VALUE_DEPTH - 1))
    );
}

#[test]
fn append_refuses_what_it_cannot_read_back() {
    let tmp = tempfile::tempdir().unwrap();
    let log = AuditLog::open(AuditConfig::new(tmp.path().join("audit.jsonl"))).unwrap();
    let mut ev = NewEvent::decision();
    ev.context = json!({"deep": nested(MAX_VALUE_DEPTH)});
    let err = log.append(ev).unwrap_err();
    assert!(matches!(err, AuditError::InvalidEvent { .. }), "{err}");
    let pointer = format!("context/deep{}", "/0".repeat(MAX_VALUE_DEPTH - 1));
    assert!(
        err.to_string().contains(&format!(
            "`{pointer}` is nested more than {MAX_VALUE_DEPTH} levels deep"
        )),
        "{err}"
    );
    assert_eq!(
        std::fs::metadata(tmp.path().join("audit.jsonl"))
            .unwrap()
            .len(),
        0
    );
    // One level less is written, and verifies.
    let mut ev = NewEvent::decision();
    ev.context = json!({"deep": nested(MAX_VALUE_DEPTH - 1)});
    log.append(ev).unwrap();
    assert!(verify(&[tmp.path().join("audit.jsonl")]).is_clean());
}

/// Any number serde_json can hold: integers of every size, any finite double.
fn any_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1000i64..1000).prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |x| Number::from_f64(x).map(Value::Number)),
        (-1e22f64..1e22).prop_map(|x| f(x.trunc())),
        Just(f(-0.0)),
        Just(f(1e20)),
    ]
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any_number(),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((any::<String>(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}

/// Objects, with now and then a very deep member.
fn any_object() -> impl Strategy<Value = Value> {
    (
        proptest::collection::vec((any::<String>(), any_json()), 0..5),
        proptest::option::weighted(0.1, 90usize..128),
    )
        .prop_map(|(kv, deep)| {
            let mut map: Map<String, Value> = kv.into_iter().collect();
            if let Some(depth) = deep {
                map.insert("deep".into(), nested(depth));
            }
            Value::Object(map)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn any_json_params_and_context_are_logged_and_verify(
        checks in proptest::collection::vec((any_object(), any_object()), 1..6),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let safe = safe(tmp.path());
        for (params, context) in checks {
            let d = safe.check(&request(params.clone(), context.clone()));
            prop_assert!(d.audit_id.is_some(), "no audit id: {}", d.reason);
            prop_assert!(!d.reason.contains("audit log"), "{}", d.reason);
            let ev = read_events(&[tmp.path().join("audit.jsonl")], &EventFilter::default(), Some(1)).unwrap().remove(0);
            // The log holds exactly the documented form of what was asked.
            // (Compared in canonical form: `5.0` reads back as `5`, `-0` as `0`.)
            let jcs = |v: &Value| serde_json_canonicalizer::to_string(v).unwrap();
            prop_assert_eq!(jcs(&ev.params), jcs(&recorded_form(params)));
            prop_assert_eq!(jcs(&ev.context), jcs(&recorded_form(context)));
        }
        let report = verify(&[tmp.path().join("audit.jsonl")]);
        prop_assert!(report.is_clean(), "{}", report);
    }
}
