//! The shared parity fixture (`tests/parity/` at the repository root) through
//! the CLI: the same requests must get the same decisions as through the Rust
//! API, the Python SDK and the HTTP API.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::Project;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/parity")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_name() == "audit" {
            continue;
        }
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

#[test]
fn parity_cases_through_the_cli() {
    let p = Project::empty();
    copy_dir(&fixture().join("project"), &p.dir);
    let cases: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture().join("cases.json")).unwrap())
            .unwrap();
    let cases = cases["cases"].as_array().unwrap();
    assert!(!cases.is_empty());
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let r = &case["request"];
        let mut args: Vec<String> = vec![
            "check".into(),
            r["action"].as_str().unwrap().into(),
            "-o".into(),
            "json".into(),
        ];
        if let Some(t) = r["target"].as_str() {
            args.extend(["--target".into(), t.into()]);
        }
        match &r["caller"] {
            Value::String(s) => args.extend(["--caller".into(), s.clone()]),
            Value::Object(o) => {
                let claims = &o["claims"];
                let list = |k: &str| {
                    claims[k]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .map(|v| v.as_str().unwrap())
                                .collect::<Vec<_>>()
                                .join(",")
                        })
                        .unwrap_or_default()
                };
                let mut mint = vec![
                    "token",
                    "create",
                    "--agent-id",
                    claims["agent_id"].as_str().unwrap(),
                ];
                let (roles, groups) = (list("roles"), list("groups"));
                if !roles.is_empty() {
                    mint.extend(["--roles", &roles]);
                }
                if !groups.is_empty() {
                    mint.extend(["--groups", &groups]);
                }
                let (code, token, err) = p.run(&mint);
                assert_eq!(code, 0, "{name}: {err}");
                args.extend(["--caller".into(), token.trim().to_owned()]);
            }
            _ => {}
        }
        if let Some(params) = r.get("params") {
            args.extend(["--params".into(), params.to_string()]);
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out, err) = p.run(&argv);
        let d: Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("{name}: {e}\n{out}{err}"));
        let want_code = match d["result"].as_str().unwrap() {
            "allow" => 0,
            "deny" => 3,
            "require_approval" => 4,
            other => panic!("{name}: result {other}"),
        };
        assert_eq!(code, want_code, "{name}: exit code");
        for (k, want) in case["expect"].as_object().unwrap() {
            if k == "reason_contains" {
                let reason = d["reason"].as_str().unwrap();
                assert!(
                    reason.contains(want.as_str().unwrap()),
                    "{name}: reason `{reason}` lacks `{want}`"
                );
            } else {
                assert_eq!(&d[k], want, "{name}: field `{k}` in {d:#}");
            }
        }
        assert!(d["audit_id"].is_string(), "{name}: every check is audited");
    }
    let (code, out, err) = p.run(&["audit", "verify"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with(&format!(
            "ok: {} events in 1 file, chain intact",
            cases.len()
        )),
        "{out}"
    );
}

fn assert_expected(name: &str, got: &Value, expect: &Value) {
    for (k, want) in expect.as_object().unwrap() {
        match k.as_str() {
            "reason_contains" => {
                let reason = got["reason"].as_str().unwrap();
                assert!(
                    reason.contains(want.as_str().unwrap()),
                    "{name}: reason `{reason}` lacks `{want}`"
                );
            }
            "steps" => {
                let steps = got["steps"].as_array().unwrap();
                let want = want.as_array().unwrap();
                assert_eq!(steps.len(), want.len(), "{name}: steps in {got:#}");
                for (i, (s, w)) in steps.iter().zip(want).enumerate() {
                    let mut w = w.as_object().unwrap().clone();
                    let trace = w.remove("trace").unwrap().as_bool().unwrap();
                    assert_eq!(s["trace"].is_array(), trace, "{name}: step {i} trace");
                    assert!(s["audit_id"].is_string(), "{name}: step {i} is audited");
                    assert_expected(&format!("{name}, step {i}"), s, &Value::Object(w));
                }
            }
            _ => assert_eq!(&got[k], want, "{name}: field `{k}` in {got:#}"),
        }
    }
}

fn exit_code_of(result: &Value) -> i32 {
    match result.as_str().unwrap() {
        "allow" => 0,
        "deny" => 3,
        "require_approval" => 4,
        other => panic!("result {other}"),
    }
}

/// `tests/parity/requests.json` through `check --params/--context` and
/// `check-plan FILE.json`: refusals are usage errors (exit 2) and log nothing.
#[test]
fn request_reading_cases_through_the_cli() {
    let p = Project::empty();
    copy_dir(&fixture().join("project"), &p.dir);
    let cases: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture().join("requests.json")).unwrap())
            .unwrap();
    let mut logged = 0;
    for case in cases["checks"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let mut args = vec![
            "check",
            case["action"].as_str().unwrap(),
            "--caller",
            case["caller"].as_str().unwrap(),
            "-o",
            "json",
            "--params",
            case["params"].as_str().unwrap(),
        ];
        if let Some(c) = case["context"].as_str() {
            args.extend(["--context", c]);
        }
        let (code, out, err) = p.run(&args);
        let expect = &case["expect"];
        if let Some(want) = expect["error_contains"].as_str() {
            assert_eq!(code, 2, "{name}: {out}{err}");
            assert!(err.contains(want), "{name}: `{err}` lacks `{want}`");
        } else {
            let d: Value =
                serde_json::from_str(&out).unwrap_or_else(|e| panic!("{name}: {e}{err}"));
            assert_eq!(code, exit_code_of(&d["result"]), "{name}");
            assert_expected(name, &d, expect);
            logged += 1;
        }
    }
    for case in cases["plans"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        p.write("plan.json", case["plan"].as_str().unwrap());
        let (code, out, err) = p.run(&["check-plan", "plan.json", "-o", "json"]);
        let expect = &case["expect"];
        if let Some(want) = expect["error_contains"].as_str() {
            assert_eq!(code, 2, "{name}: {out}{err}");
            assert!(err.contains(want), "{name}: `{err}` lacks `{want}`");
        } else {
            let d: Value =
                serde_json::from_str(&out).unwrap_or_else(|e| panic!("{name}: {e}{err}"));
            assert_eq!(code, exit_code_of(&d["result"]), "{name}");
            assert_expected(name, &d, expect);
            logged += d["steps"].as_array().unwrap().len();
        }
    }
    let (code, out, err) = p.run(&["audit", "verify"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with(&format!("ok: {logged} events in 1 file")),
        "refusals are not logged: {out}"
    );
}
