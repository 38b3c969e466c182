//! `schema`, and the committed `schemas/` at the repository root.

use std::path::PathBuf;

use agent_safe_cli::schema::{KINDS, generate};

use crate::{AT, Project, snap};

const REGENERATE: &str = "cargo run -p agent-safe-cli -- schema --write-dir schemas";

fn committed_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas")
}

/// Fails when a committed schema differs from what this build generates.
/// Set `AGENT_SAFE_UPDATE_SCHEMAS=1` to rewrite them instead.
#[test]
fn committed_schemas_are_up_to_date() {
    let dir = committed_dir();
    let update = std::env::var_os("AGENT_SAFE_UPDATE_SCHEMAS").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for (kind, _) in KINDS {
        let fresh = generate(kind).unwrap();
        let path = dir.join(format!("{kind}.schema.json"));
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != fresh {
            if update {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &fresh).unwrap();
            } else {
                stale.push(format!("schemas/{kind}.schema.json"));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale or missing JSON Schemas: {}\nregenerate them from the repository root with `{REGENERATE}` \
         (or AGENT_SAFE_UPDATE_SCHEMAS=1 cargo test -p agent-safe-cli) and commit the result",
        stale.join(", ")
    );
    // No schema file without a kind.
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let kind = name.trim_end_matches(".schema.json");
        assert!(
            KINDS.iter().any(|(k, _)| *k == kind),
            "schemas/{name} has no kind: delete it"
        );
    }
}

#[test]
fn schema_command_prints_the_committed_text() {
    let p = Project::empty();
    snap!(p, "schema_list", &["schema"]);
    for (kind, _) in KINDS {
        let (code, out, _) = p.run(&["schema", kind]);
        assert_eq!(code, 0);
        assert_eq!(Some(out), generate(kind));
    }
    snap!(p, "schema_unknown", &["schema", "polcy"]);
}

#[test]
fn schema_write_dir() {
    let p = Project::empty();
    let (code, out, err) = p.run(&["schema", "--write-dir", "out"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), KINDS.len());
    for (kind, _) in KINDS {
        assert_eq!(
            std::fs::read_to_string(p.dir.join(format!("out/{kind}.schema.json"))).ok(),
            generate(kind)
        );
    }
}

/// The `decision` schema is written in this crate (the core's `Decision`
/// does not derive `JsonSchema`): it must describe exactly the fields a real
/// decision has.
#[test]
fn decision_schema_matches_real_decisions() {
    let schema: serde_json::Value = serde_json::from_str(&generate("decision").unwrap()).unwrap();
    let mut in_schema: Vec<String> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    in_schema.sort();
    let p = Project::fixture();
    let (_, out, _) = p.run(&[
        "check",
        "restart-deployment",
        "--target",
        "staging/web",
        "--caller",
        "a",
        "--params",
        r#"{"namespace":"staging","deployment":"web"}"#,
        "--at",
        AT,
        "--explain",
        "-o",
        "json",
    ]);
    let d: serde_json::Value = serde_json::from_str(&out).unwrap();
    let (_, plan_out, _) = {
        p.write("plan.yaml", "- action: x\n");
        p.run(&["check-plan", "plan.yaml", "-o", "json"])
    };
    let plan: serde_json::Value = serde_json::from_str(&plan_out).unwrap();
    let mut real: Vec<String> = d.as_object().unwrap().keys().cloned().collect();
    real.extend(plan["steps"][0].as_object().unwrap().keys().cloned());
    real.sort();
    real.dedup();
    assert_eq!(in_schema, real);
    let trace_props: Vec<String> = schema["$defs"]["TraceEntry"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let mut trace_real: Vec<String> = d["trace"][0].as_object().unwrap().keys().cloned().collect();
    trace_real.sort();
    let mut trace_props = trace_props;
    trace_props.sort();
    assert_eq!(trace_props, trace_real);
}
