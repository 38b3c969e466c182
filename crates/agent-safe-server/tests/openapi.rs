//! The OpenAPI document against the real types: every mirror schema must
//! have exactly the keys the core type serialises, and real JSON must
//! validate against it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeSet;

use agent_safe_core::CheckRequest;
use serde_json::{Value, json};

fn doc() -> Value {
    serde_json::to_value(agent_safe_server::openapi()).unwrap()
}

fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    let s = &doc["components"]["schemas"][name];
    assert!(s.is_object(), "no schema `{name}`");
    s
}

fn props(s: &Value) -> BTreeSet<String> {
    s["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

fn required(s: &Value) -> BTreeSet<String> {
    s["required"]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// A small validator for the subset of JSON Schema 2020-12 that utoipa emits
/// for our types: `type` (one or a list), `$ref`, `enum`, `oneOf`,
/// `properties`, `required`, `additionalProperties`, `items`.
fn validate(doc: &Value, schema: &Value, v: &Value, at: &str) {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.strip_prefix("#/components/schemas/").unwrap();
        return validate(doc, &doc["components"]["schemas"][name], v, at);
    }
    if let Some(options) = schema["oneOf"].as_array() {
        let ok = options
            .iter()
            .any(|o| std::panic::catch_unwind(|| validate(doc, o, v, at)).is_ok());
        assert!(ok, "{at}: {v} matches no alternative of {schema}");
        return;
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().map(|t| t.as_str().unwrap()).collect(),
            _ => panic!("{at}: odd type {types}"),
        };
        let actual = match v {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let ok = types.contains(&actual) || (actual == "integer" && types.contains(&"number"));
        assert!(ok, "{at}: {v} is {actual}, schema says {types:?}");
    }
    if let Some(values) = schema["enum"].as_array() {
        assert!(values.contains(v), "{at}: {v} not in {values:?}");
    }
    if let Value::Object(map) = v {
        for r in required(schema) {
            assert!(map.contains_key(&r), "{at}: required `{r}` missing in {v}");
        }
        if let Some(properties) = schema["properties"].as_object() {
            for (k, item) in map {
                match properties.get(k) {
                    Some(s) => validate(doc, s, item, &format!("{at}.{k}")),
                    None => {
                        let extra_ok = matches!(schema.get("additionalProperties"), Some(a) if *a != json!(false));
                        assert!(extra_ok, "{at}: `{k}` is not in the schema");
                    }
                }
            }
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (v, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            validate(doc, item_schema, item, &format!("{at}[{i}]"));
        }
    }
}

fn real_decisions() -> (Value, Value) {
    let dir = common::project("");
    let safe = common::open(dir.path());
    let req: CheckRequest = serde_json::from_value(json!({
        "action": "restart-deployment", "target": "staging/api", "caller": "a",
        "params": {"namespace": "staging", "deployment": "api"}}))
    .unwrap();
    let plain = serde_json::to_value(safe.check(&req)).unwrap();
    let plan: agent_safe_core::PlanRequest = serde_json::from_value(json!([
        {"action": "restart-deployment", "target": "staging/api", "caller": "a",
         "params": {"namespace": "staging", "deployment": "api"}, "explain": true},
        {"action": "reboot-cluster"}
    ]))
    .unwrap();
    let plan = serde_json::to_value(safe.check_plan(&plan, None).unwrap()).unwrap();
    (plain, plan)
}

#[test]
fn decision_schema_has_exactly_the_core_keys() {
    let doc = doc();
    let (plain, plan) = real_decisions();
    let s = schema(&doc, "Decision");
    // Always-present keys are required; plan_step and trace appear when set.
    assert_eq!(required(s), keys(&plain));
    let step = &plan["steps"][0];
    assert!(step["trace"].is_array() && step["plan_step"].is_number());
    assert_eq!(props(s), keys(step));
    assert_eq!(props(schema(&doc, "TraceEntry")), keys(&step["trace"][0]));
    assert_eq!(props(schema(&doc, "PlanDecision")), keys(&plan));
    assert_eq!(required(schema(&doc, "PlanDecision")), keys(&plan));
}

#[test]
fn real_decisions_validate_against_the_schema() {
    let doc = doc();
    let (plain, plan) = real_decisions();
    validate(&doc, schema(&doc, "Decision"), &plain, "decision");
    validate(&doc, schema(&doc, "PlanDecision"), &plan, "plan");
    // An unknown action: nulls where the schema says nullable.
    assert!(plan["steps"][1]["action_version"].is_null());
}

#[test]
#[should_panic(expected = "not in")]
fn the_validator_rejects_a_wrong_value() {
    let doc = doc();
    let (mut plain, _) = real_decisions();
    plain["result"] = json!("maybe");
    validate(&doc, schema(&doc, "Decision"), &plain, "decision");
}

#[test]
#[should_panic(expected = "is not in the schema")]
fn the_validator_rejects_an_extra_key() {
    let doc = doc();
    let (mut plain, _) = real_decisions();
    plain["extra"] = json!(1);
    validate(&doc, schema(&doc, "Decision"), &plain, "decision");
}

#[test]
fn enums_match_the_core_spellings() {
    let doc = doc();
    let values = |name: &str| -> Vec<String> {
        schema(&doc, name)["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let risk: Vec<String> = agent_safe_core::RiskClass::ALL
        .iter()
        .map(|r| r.as_str().to_owned())
        .collect();
    assert_eq!(values("RiskClass"), risk);
    let mut result: Vec<String> = agent_safe_core::DecisionResult::ALL
        .iter()
        .map(|r| r.as_str().to_owned())
        .collect();
    let mut got = values("DecisionResult");
    result.sort();
    got.sort();
    assert_eq!(got, result);
    let types: Vec<String> = agent_safe_core::model::ParamType::ALL
        .iter()
        .map(|r| r.as_str().to_owned())
        .collect();
    assert_eq!(values("ParamType"), types);
}

#[test]
fn check_request_schema_has_exactly_the_core_fields() {
    let doc = doc();
    let full = CheckRequest {
        action: "a".into(),
        target: Some("t".into()),
        caller: Some("c".into()),
        params: Some(json!({})),
        context: Some(json!({})),
        correlation_id: Some("x".into()),
        explain: true,
        verified_caller: None,
    };
    let s = schema(&doc, "CheckRequest");
    assert_eq!(props(s), keys(&serde_json::to_value(&full).unwrap()));
    assert_eq!(required(s), BTreeSet::from(["action".to_owned()]));
    assert_eq!(
        s["additionalProperties"],
        json!(false),
        "unknown fields (and `at`) are refused"
    );
    let plan = schema(&doc, "PlanRequest");
    assert_eq!(plan["additionalProperties"], json!(false));
    let full_plan = agent_safe_core::PlanRequest {
        description: Some("d".into()),
        caller: Some("c".into()),
        correlation_id: Some("x".into()),
        explain: true,
        steps: vec![agent_safe_core::PlanStep {
            action: "a".into(),
            target: Some("t".into()),
            caller: Some("c".into()),
            params: Some(json!({})),
            context: Some(json!({})),
            explain: true,
        }],
    };
    let full_plan = serde_json::to_value(&full_plan).unwrap();
    assert_eq!(props(plan), keys(&full_plan));
    assert_eq!(required(plan), BTreeSet::from(["steps".to_owned()]));
    let step = schema(&doc, "PlanStep");
    assert_eq!(props(step), keys(&full_plan["steps"][0]));
    assert_eq!(required(step), BTreeSet::from(["action".to_owned()]));
    assert_eq!(step["additionalProperties"], json!(false));
}

#[test]
fn approval_schemas_have_exactly_the_core_fields() {
    let doc = doc();
    let req = agent_safe_core::ApprovalRequest {
        audit_id: "a".into(),
        approved: true,
        comment: Some("c".into()),
        approver_name: Some("n".into()),
    };
    let s = schema(&doc, "ApprovalRequest");
    assert_eq!(props(s), keys(&serde_json::to_value(&req).unwrap()));
    assert_eq!(
        required(s),
        BTreeSet::from(["audit_id".to_owned(), "approved".to_owned()])
    );
    assert_eq!(s["additionalProperties"], json!(false));
    let receipt = agent_safe_core::ApprovalReceipt {
        event_id: "e".into(),
        audit_id: "a".into(),
        correlation_id: Some("c".into()),
        action: Some("x".into()),
        target: Some("t".into()),
        approver: "p".into(),
        approved: false,
    };
    assert_eq!(
        props(schema(&doc, "ApprovalReceipt")),
        keys(&serde_json::to_value(&receipt).unwrap())
    );
}

#[test]
fn action_schema_matches_the_core_json_schema() {
    let doc = doc();
    let core =
        serde_json::to_value(schemars::schema_for!(agent_safe_core::model::ActionDef)).unwrap();
    assert_eq!(props(schema(&doc, "ActionDef")), props(&core));
    let param = &core["$defs"]["Parameter"];
    assert_eq!(props(schema(&doc, "Parameter")), props(param));
    assert_eq!(
        props(schema(&doc, "Constraints")),
        props(&core["$defs"]["Constraints"])
    );
    assert_eq!(
        props(schema(&doc, "Precheck")),
        props(&core["$defs"]["Precheck"])
    );
    // And every built-in action validates.
    let dir = common::project("");
    let safe = common::open(dir.path());
    for a in safe.snapshot().registry.all_versions() {
        let v = serde_json::to_value(a.as_ref()).unwrap();
        validate(&doc, schema(&doc, "ActionDef"), &v, &a.key());
    }
}

#[test]
fn every_operation_documents_its_errors_with_the_error_body() {
    let doc = doc();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, resp) in op["responses"].as_object().unwrap() {
                if status.starts_with('4') || (status.starts_with('5') && path != "/readyz") {
                    let r = &resp["content"]["application/json"]["schema"]["$ref"];
                    assert_eq!(
                        r, "#/components/schemas/ErrorBody",
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }
}
