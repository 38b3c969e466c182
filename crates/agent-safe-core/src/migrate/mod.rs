//! `agent-safe migrate`: brings a project of agent-safe 0.14 (the Python
//! implementation) over to this one.
//!
//! [`read_project`] reads the 0.14 files the way 0.14 reads them;
//! [`convert`] turns them into our formats and records every change;
//! [`write_files`] writes the result without ever replacing a file; and
//! [`compare`] loads the written project with the real loaders, evaluates
//! every converted test with our engine and with a model of 0.14
//! ([`v014::Model`]), and names, for each behaviour that differs, the rules
//! and tests whose outcome it changes.

mod convert;
mod v014;

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::Serialize;

pub use convert::{Conversion, convert};

use crate::diag::{ConfigError, Diagnostic, Pos};
use crate::model::DecisionResult;

/// A 0.14 project as read from its directory.
#[derive(Debug, Default)]
pub struct Project {
    /// The project directory.
    pub root: PathBuf,
    config: v014::Config,
    config_file: Option<PathBuf>,
    /// Action files: (path relative to the registry directory, text).
    actions: Vec<(String, String)>,
    /// Policy files: (file name, rules).
    policies: Vec<(String, Vec<v014::Rule>)>,
    /// The inventory file's text, if there is one.
    inventory_text: Option<String>,
    /// Test files: (path relative to the project, cases).
    tests: Vec<(String, Vec<v014::TestCase>)>,
    model: v014::Model,
}

/// One file of the converted project.
#[derive(Debug, Clone, Serialize)]
pub struct OutFile {
    /// Path relative to the destination.
    pub path: String,
    /// The 0.14 file it comes from (relative to the source), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// `copied` (unchanged), `converted` or `created`.
    pub status: &'static str,
    /// What changed, one line each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
    /// The contents.
    #[serde(skip)]
    pub text: String,
    /// Written readable by the owner only (a secret).
    #[serde(skip)]
    pub private: bool,
}

/// A behaviour of 0.14 that differs here, with what it affects.
#[derive(Debug, Clone, Serialize)]
pub struct Difference {
    /// `empty_params`, `target_types`, `rule_order`, `unknown_targets`,
    /// `tickets`, `delegation`, `rate_limit`, `cumulative_risk`, `other`.
    pub kind: &'static str,
    /// What differs.
    pub summary: String,
    /// The user's rules whose outcome may differ because of it.
    pub rules: Vec<String>,
    /// The converted tests whose outcome differs because of it.
    pub tests: Vec<String>,
}

/// A converted test whose outcome differs.
#[derive(Debug, Clone, Serialize)]
pub struct TestChange {
    /// The case name.
    pub name: String,
    /// The converted test file.
    pub file: String,
    /// What the case expects.
    pub expect: DecisionResult,
    /// What 0.14 decides.
    pub v014: DecisionResult,
    /// What this version decides.
    pub now: DecisionResult,
    /// The differences that change it (kinds of [`Difference`]).
    pub causes: Vec<&'static str>,
}

/// Everything `migrate` did and found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The 0.14 project.
    pub from: String,
    /// The destination.
    pub to: String,
    /// The files written.
    pub files: Vec<OutFile>,
    /// 0.14 settings with no counterpart, left out.
    pub left_out: Vec<String>,
    /// Why the converted project does not load (empty when it does).
    pub load_errors: Vec<Diagnostic>,
    /// Test cases converted, and how many decide as in 0.14.
    pub tests_total: usize,
    /// Converted cases whose outcome is the one 0.14 gives.
    pub tests_same: usize,
    /// Converted cases whose outcome differs.
    pub tests_changed: Vec<TestChange>,
    /// Cases that already failed under 0.14 (its outcome is not their `expect`).
    pub tests_failing_in_014: Vec<String>,
    /// Every behaviour difference, with the rules and tests it affects.
    pub differences: Vec<Difference>,
}

fn err(file: &Path, msg: impl Into<String>, help: &str) -> ConfigError {
    ConfigError::single(Diagnostic::error(file, Pos::FILE, msg).with_help(help))
}

fn read_text(path: &Path) -> Result<String, ConfigError> {
    crate::load::read_file(path).map(|s| s.text)
}

/// Parses a YAML file into JSON and then into a 0.14 struct.
fn read_yaml<T: serde::de::DeserializeOwned>(
    path: &Path,
    text: &str,
    what: &str,
) -> Result<T, ConfigError> {
    let node = crate::yaml::parse(path, text).map_err(ConfigError::single)?;
    serde_json::from_value(node.value.to_json()).map_err(|e| {
        err(
            path,
            format!("not a valid agent-safe 0.14 {what}: {e}"),
            "fix the file so that agent-safe 0.14 loads it, then migrate again",
        )
    })
}

/// The `*.yaml` and `*.yml` files directly in `dir`, by name (0.14 does not recurse).
fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        err(
            dir,
            format!("cannot read directory: {e}"),
            "name the directory of a 0.14 project (with `actions/`, `policies/`, `inventory.yaml`)",
        )
    })?;
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    out.sort();
    Ok(out)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn relative(root: &Path, p: &Path) -> String {
    p.strip_prefix(root)
        .unwrap_or(p)
        .to_string_lossy()
        .into_owned()
}

/// Reads a 0.14 project: `agent-safe.yaml` (optional), the registry,
/// policies and inventory it names (0.14's defaults otherwise), and every
/// YAML file under the project holding 0.14 test cases.
pub fn read_project(root: &Path) -> Result<Project, ConfigError> {
    if !root.is_dir() {
        return Err(err(
            root,
            "not a directory",
            "name the directory of a 0.14 project, e.g. `agent-safe migrate ./old-project`",
        ));
    }
    let mut p = Project {
        root: root.to_path_buf(),
        ..Project::default()
    };
    let config_path = root.join("agent-safe.yaml");
    if config_path.exists() {
        let text = read_text(&config_path)?;
        p.config = if text.trim().is_empty() {
            v014::Config::default()
        } else {
            read_yaml(&config_path, &text, "config file")?
        };
        p.config_file = Some(config_path);
    }
    let at = |v: &Option<String>, default: &str| root.join(v.as_deref().unwrap_or(default));
    let registry = at(&p.config.registry, "actions");
    let policies = at(&p.config.policies, "policies");
    let inventory = at(&p.config.inventory, "inventory.yaml");

    let mut actions = Vec::new();
    if registry.is_dir() {
        for f in yaml_files(&registry)? {
            let text = read_text(&f)?;
            actions.push(read_yaml::<v014::Action>(&f, &text, "action definition")?);
            p.actions.push((file_name(&f), text));
        }
    }
    let mut rules = Vec::new();
    if policies.is_dir() {
        for f in yaml_files(&policies)? {
            let text = read_text(&f)?;
            #[derive(serde::Deserialize)]
            struct File {
                rules: Vec<v014::Rule>,
            }
            let file: File = read_yaml(&f, &text, "policy file")?;
            rules.extend(file.rules.iter().cloned());
            p.policies.push((file_name(&f), file.rules));
        }
    }
    let mut targets = Vec::new();
    if inventory.is_file() {
        let text = read_text(&inventory)?;
        #[derive(serde::Deserialize)]
        struct File {
            #[serde(default)]
            targets: Vec<v014::Target>,
        }
        let file: File = read_yaml(&inventory, &text, "inventory")?;
        targets = file.targets;
        p.inventory_text = Some(text);
    }
    let skip = [registry.clone(), policies.clone()];
    find_tests(root, root, &skip, &mut p.tests)?;
    p.model = v014::Model::new(actions, rules, targets);
    Ok(p)
}

/// Every YAML file under `dir` whose top level is `tests:` with flat 0.14
/// cases (an `action` key beside `expect`).
fn find_tests(
    root: &Path,
    dir: &Path,
    skip: &[PathBuf],
    out: &mut Vec<(String, Vec<v014::TestCase>)>,
) -> Result<(), ConfigError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        if file_name(&path).starts_with('.') || skip.contains(&path) {
            continue;
        }
        let meta = std::fs::symlink_metadata(&path);
        if meta.as_ref().is_ok_and(|m| m.is_dir()) {
            find_tests(root, &path, skip, out)?;
            continue;
        }
        if !meta.is_ok_and(|m| m.is_file())
            || !path.extension().is_some_and(|x| x == "yaml" || x == "yml")
        {
            continue;
        }
        let text = read_text(&path)?;
        let Ok(node) = crate::yaml::parse(&path, &text) else {
            continue;
        };
        let json = node.value.to_json();
        let Some(cases) = json.get("tests").and_then(|t| t.as_array()) else {
            continue;
        };
        let flat = !cases.is_empty()
            && cases
                .iter()
                .all(|c| c.get("action").is_some() && c.get("request").is_none());
        if !flat {
            continue;
        }
        #[derive(serde::Deserialize)]
        struct File {
            tests: Vec<v014::TestCase>,
        }
        let file: File = read_yaml(&path, &text, "test file")?;
        out.push((relative(root, &path), file.tests));
    }
    Ok(())
}

/// The destination files that exist already, as an error naming them all.
pub fn refuse_existing(to: &Path, files: &[OutFile]) -> Result<(), ConfigError> {
    let existing: Vec<Diagnostic> = files
        .iter()
        .map(|f| to.join(&f.path))
        .filter(|p| std::fs::symlink_metadata(p).is_ok())
        .map(|p| {
            Diagnostic::error(
                &p,
                Pos::FILE,
                "exists already: migrate never replaces a file",
            )
            .with_help("choose an empty destination with `--to DIR`, or move the file away")
        })
        .collect();
    match ConfigError::from_diagnostics(existing) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Writes the converted files under `to`, refusing any that exists already
/// (checked first for all of them, and again by each create).
pub fn write_files(to: &Path, files: &[OutFile]) -> Result<(), ConfigError> {
    refuse_existing(to, files)?;
    for f in files {
        let path = to.join(&f.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                err(
                    dir,
                    format!("cannot create directory: {e}"),
                    "check the permissions of the destination",
                )
            })?;
        }
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        if f.private {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let written = opts.open(&path).and_then(|mut file| {
            use std::io::Write;
            file.write_all(f.text.as_bytes())?;
            file.sync_all()
        });
        written.map_err(|e| {
            err(
                &path,
                format!("cannot write: {e}"),
                "migrate never replaces a file: choose an empty destination with `--to DIR`",
            )
        })?;
    }
    Ok(())
}

/// Loads the written project with the real loaders and compares, case by
/// case and rule by rule, what it decides with what 0.14 decides.
pub fn compare(
    project: &mut Project,
    conversion: &Conversion,
    to: &Path,
    now: Timestamp,
) -> Report {
    let mut report = Report {
        from: project.root.display().to_string(),
        to: to.display().to_string(),
        files: conversion.files.clone(),
        left_out: conversion.left_out.clone(),
        load_errors: Vec::new(),
        tests_total: 0,
        tests_same: 0,
        tests_changed: Vec::new(),
        tests_failing_in_014: Vec::new(),
        differences: Vec::new(),
    };
    let loaded = crate::config::load_config(&to.join(crate::config::CONFIG_FILE_NAME)).and_then(
        |mut cfg| {
            cfg.audit.enabled = false;
            crate::facade::AgentSafe::from_config(cfg)
        },
    );
    let safe = match loaded {
        Ok(s) => s,
        Err(e) => {
            report.load_errors = e.diagnostics().to_vec();
            return report;
        }
    };
    let snap = safe.snapshot();
    let ranks: Vec<Option<(i64, u8, u8)>> = conversion
        .rule_names
        .iter()
        .map(|name| {
            name.as_ref().and_then(|n| {
                snap.rules
                    .iter()
                    .find(|r| &r.rule.name == n)
                    .map(|r| r.rank())
            })
        })
        .collect();
    project.model.set_ranks(&ranks);
    let model = &project.model;

    let zoned = now.to_zoned(jiff::tz::TimeZone::UTC);
    let day = u8::try_from(zoned.weekday().to_monday_zero_offset()).unwrap_or(0);
    let hour = u8::try_from(zoned.hour()).unwrap_or(0);

    const STEPS: [&str; 5] = [
        "tickets",
        "empty_params",
        "target_types",
        "unknown_targets",
        "rule_order",
    ];
    let mut by_kind: std::collections::BTreeMap<&'static str, Vec<String>> =
        std::collections::BTreeMap::new();
    for (file, cases) in &project.tests {
        for case in cases {
            report.tests_total += 1;
            let req = v014::Request {
                action: &case.action,
                target: case.target.as_deref(),
                caller: case.caller.as_deref(),
                params: case.params.as_ref(),
                ticket_id: case.ticket_id.as_deref(),
                day,
                hour,
            };
            let mut sem = v014::Semantics::default();
            let mut results = vec![model.evaluate(&req, sem).result];
            for step in STEPS {
                match step {
                    "tickets" => sem.no_tickets = true,
                    "empty_params" => sem.check_empty_params = true,
                    "target_types" => sem.enforce_target_types = true,
                    "unknown_targets" => sem.deny_unknown_targets = true,
                    _ => sem.ranked = true,
                }
                results.push(model.evaluate(&req, sem).result);
            }
            let ours = safe
                .check_at(
                    &crate::facade::CheckRequest {
                        action: case.action.clone(),
                        target: case.target.clone(),
                        caller: case.caller.clone(),
                        params: case.params.clone().map(serde_json::Value::Object),
                        ..crate::facade::CheckRequest::default()
                    },
                    Some(now),
                )
                .result;
            let v014_result = results.first().copied().unwrap_or(DecisionResult::Deny);
            if v014_result != case.expect {
                report
                    .tests_failing_in_014
                    .push(format!("{} ({file})", case.name));
            }
            if v014_result == ours {
                report.tests_same += 1;
                continue;
            }
            let mut causes: Vec<&'static str> = STEPS
                .iter()
                .zip(results.windows(2))
                .filter(|(_, w)| w.first() != w.get(1))
                .map(|(s, _)| *s)
                .collect();
            if results.last() != Some(&ours) {
                causes.push("other");
            }
            for c in &causes {
                by_kind.entry(c).or_default().push(case.name.clone());
            }
            report.tests_changed.push(TestChange {
                name: case.name.clone(),
                file: conversion
                    .test_paths
                    .get(file)
                    .cloned()
                    .unwrap_or_else(|| file.clone()),
                expect: case.expect,
                v014: v014_result,
                now: ours,
                causes,
            });
        }
    }
    report.differences = convert::differences(project, conversion, &mut by_kind);
    report
}

#[cfg(test)]
#[expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly on a broken fixture"
)]
mod tests {
    use super::*;
    use crate::model::DecisionResult as R;

    fn fixture() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../agent-safe-cli/tests/v014-project")
    }

    /// With every switch on, the model of 0.14 decides as our engine does,
    /// for every action × target (inventory, unknown, none) × caller ×
    /// params (none, and each params object the fixture's tests use): so a
    /// difference `migrate` attributes to a switch is one our engine shows.
    #[test]
    fn the_model_with_every_switch_on_agrees_with_the_engine() {
        let tmp = tempfile::tempdir().unwrap();
        let mut project = read_project(&fixture()).unwrap();
        let conversion = convert(&project);
        write_files(tmp.path(), &conversion.files).unwrap();
        let now: Timestamp = "2026-03-04T12:00:00Z".parse().unwrap();
        let report = compare(&mut project, &conversion, tmp.path(), now);
        assert!(report.load_errors.is_empty(), "{:?}", report.load_errors);

        let mut cfg =
            crate::config::load_config(&tmp.path().join(crate::config::CONFIG_FILE_NAME)).unwrap();
        cfg.audit.enabled = false;
        let safe = crate::facade::AgentSafe::from_config(cfg).unwrap();
        let all = v014::Semantics {
            no_tickets: true,
            check_empty_params: true,
            enforce_target_types: true,
            deny_unknown_targets: true,
            ranked: true,
        };
        let model = &project.model;
        let mut targets: Vec<Option<String>> =
            model.targets.iter().map(|t| Some(t.id.clone())).collect();
        targets.push(Some("dev/ghost".into()));
        targets.push(None);
        let mut params: Vec<Option<serde_json::Map<String, serde_json::Value>>> = vec![None];
        for (_, cases) in &project.tests {
            params.extend(cases.iter().filter_map(|c| c.params.clone()).map(Some));
        }
        let mut compared = 0;
        let mut mismatches = Vec::new();
        for a in &model.actions {
            for t in &targets {
                for caller in [None, Some("ops-bot")] {
                    for p in &params {
                        let req = v014::Request {
                            action: &a.name,
                            target: t.as_deref(),
                            caller,
                            params: p.as_ref(),
                            ticket_id: None,
                            day: 2,
                            hour: 12,
                        };
                        let modelled = model.evaluate(&req, all).result;
                        let real = safe
                            .check_at(
                                &crate::facade::CheckRequest {
                                    action: a.name.clone(),
                                    target: t.clone(),
                                    caller: caller.map(str::to_owned),
                                    params: p.clone().map(serde_json::Value::Object),
                                    ..crate::facade::CheckRequest::default()
                                },
                                Some(now),
                            )
                            .result;
                        compared += 1;
                        if modelled != real {
                            mismatches.push(format!(
                                "{} on {t:?} by {caller:?} with {p:?}: model {modelled}, engine {real}",
                                a.name
                            ));
                        }
                    }
                }
            }
        }
        assert!(compared > 1000, "{compared}");
        assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    }

    #[test]
    fn the_model_reproduces_014_semantics() {
        let rule = |name: &str, priority: i64, decision: R, yaml: &str| v014::Rule {
            name: name.into(),
            description: String::new(),
            priority,
            matcher: serde_json::from_value(
                crate::yaml::parse(Path::new("m.yaml"), yaml)
                    .unwrap()
                    .value
                    .to_json(),
            )
            .unwrap(),
            decision,
            reason: String::new(),
        };
        let action: v014::Action = serde_json::from_value(serde_json::json!({
            "name": "restart", "risk_class": "low", "target_types": ["k8s-deployment"],
            "parameters": [{"name": "ns", "type": "string"}],
        }))
        .unwrap();
        let target: v014::Target = serde_json::from_value(serde_json::json!({
            "id": "dev/app", "type": "k8s-node", "environment": "dev", "sensitivity": "public",
        }))
        .unwrap();
        let mut model = v014::Model::new(
            vec![action],
            vec![
                rule("broad", 5, R::Allow, "targets: {environments: [dev]}"),
                rule(
                    "narrow",
                    5,
                    R::Deny,
                    "actions: [restart]\ntargets: {environments: [dev]}",
                ),
                rule("ticketed", 9, R::RequireApproval, "require_ticket: true"),
                rule(
                    "night",
                    7,
                    R::Deny,
                    "time_windows: [{start_hour: 22, end_hour: 6}]",
                ),
            ],
            vec![target],
        );
        model.set_ranks(&[
            Some((5, 1, 0)),
            Some((5, 2, 2)),
            Some((9, 1, 1)),
            Some((7, 1, 2)),
        ]);
        let sem = v014::Semantics::default();
        let base = v014::Request {
            action: "restart",
            target: Some("dev/app"),
            caller: None,
            params: None,
            ticket_id: None,
            day: 0,
            hour: 12,
        };
        let decide = |req: v014::Request<'_>, sem| {
            let o = model.evaluate(&req, sem);
            (o.result, o.rule.map(|i| model.rules[i].name.clone()))
        };
        let named = |r: R, n: &str| (r, Some(n.to_owned()));
        // (request, semantics, expected) — one behaviour per row.
        let bad = serde_json::json!({"ns": 3}).as_object().cloned().unwrap();
        let table: Vec<(v014::Request<'_>, v014::Semantics, (R, Option<String>))> = vec![
            // First match in file order among equal priorities.
            (base, sem, named(R::Allow, "broad")),
            // Our ranking: the more specific rule first.
            (
                base,
                v014::Semantics {
                    ranked: true,
                    ..sem
                },
                named(R::Deny, "narrow"),
            ),
            // Empty params are not checked in 0.14 ...
            (base, sem, named(R::Allow, "broad")),
            // ... and are here.
            (
                base,
                v014::Semantics {
                    check_empty_params: true,
                    ..sem
                },
                (R::Deny, None),
            ),
            // Params that are given are checked in 0.14 too.
            (
                v014::Request {
                    params: Some(&bad),
                    ..base
                },
                sem,
                (R::Deny, None),
            ),
            // target_types are not enforced in 0.14 (the target is a node).
            (
                base,
                v014::Semantics {
                    enforce_target_types: true,
                    ..sem
                },
                (R::Deny, None),
            ),
            // An unknown target is critical risk, matched by rules without `targets`.
            (
                v014::Request {
                    target: Some("dev/ghost"),
                    ..base
                },
                sem,
                (R::Deny, None),
            ),
            (
                v014::Request {
                    target: Some("dev/ghost"),
                    hour: 23,
                    ..base
                },
                sem,
                named(R::Deny, "night"),
            ),
            (
                v014::Request {
                    target: Some("dev/ghost"),
                    ..base
                },
                v014::Semantics {
                    deny_unknown_targets: true,
                    ..sem
                },
                (R::Deny, None),
            ),
            // A ticket makes `require_ticket: true` match, unless tickets are ignored.
            (
                v014::Request {
                    ticket_id: Some("t-1"),
                    ..base
                },
                sem,
                named(R::RequireApproval, "ticketed"),
            ),
            (
                v014::Request {
                    ticket_id: Some("t-1"),
                    ..base
                },
                v014::Semantics {
                    no_tickets: true,
                    ..sem
                },
                named(R::Allow, "broad"),
            ),
            // A window wrapping midnight: 22–06 inclusive of the end hour.
            (
                v014::Request { hour: 6, ..base },
                sem,
                named(R::Deny, "night"),
            ),
            (
                v014::Request { hour: 7, ..base },
                sem,
                named(R::Allow, "broad"),
            ),
            // An unknown action is denied before any rule.
            (
                v014::Request {
                    action: "nope",
                    ..base
                },
                sem,
                (R::Deny, None),
            ),
        ];
        for (i, (req, sem, expected)) in table.into_iter().enumerate() {
            assert_eq!(decide(req, sem), expected, "row {i}");
        }
    }
}
