//! `validate` and `validate-policy`.

use std::io::Write;

use agent_safe_core::config::Config;
use agent_safe_core::diag::{ConfigError, Diagnostic};
use agent_safe_core::engine::{
    BindingGap, EngineSettings, Finding, FindingKind, Snapshot, SnapshotSources, analyze,
    binding_gaps,
};
use agent_safe_core::identity::IdentityConfig;
use agent_safe_core::load::{load_inventory, load_policies};
use serde::Serialize;

use crate::cli::{Format, ValidateArgs, ValidatePolicyArgs};
use crate::error::{CliError, CmdResult, exit};
use crate::output::{Io, paint, style};
use crate::project::Ctx;
use agent_safe_core::registry::Registry;

/// A warning: a rule-analysis finding, a target its actions cannot bind, or
/// a file that is not loaded.
#[derive(Debug, Serialize)]
struct Warning {
    /// `conflict`, `shadowed`, `unknown_targets`, `unknown_target_type`,
    /// `time_window`, `no_matching_target`, `unbound_target`, `unloaded_file`,
    /// `no_rollback_action`, `core_group_prefix`.
    kind: String,
    /// `file:line` of the rule or action.
    file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    other_rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    other_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<String>,
    /// The inventory target, for `unbound_target`.
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<String>,
    message: String,
}

fn kind_name(k: FindingKind) -> String {
    serde_json::to_value(k)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{k:?}"))
}

impl From<Finding> for Warning {
    fn from(f: Finding) -> Self {
        let message = if f.message.contains(&format!("`{}`", f.rule)) {
            f.message
        } else {
            format!("rule `{}`: {}", f.rule, f.message)
        };
        Warning {
            kind: kind_name(f.kind),
            file: f.file,
            rule: Some(f.rule),
            other_rule: f.other_rule,
            other_file: f.other_file,
            action: None,
            target: None,
            message,
        }
    }
}

impl From<BindingGap> for Warning {
    fn from(g: BindingGap) -> Self {
        Warning {
            kind: "unbound_target".into(),
            file: g.file,
            rule: None,
            other_rule: None,
            other_file: None,
            action: Some(g.actions.join(", ")),
            target: Some(g.target),
            message: g.message,
        }
    }
}

/// Files in the configured directories that are not loaded (another
/// extension than `.yaml`/`.yml`).
fn unloaded_warnings(config: &Config) -> Vec<Warning> {
    [&config.actions, &config.policies, &config.inventory]
        .into_iter()
        .flatten()
        .flat_map(|p| agent_safe_core::load::unloaded_entries(p))
        .map(|d| Warning {
            kind: "unloaded_file".into(),
            file: d.file.display().to_string(),
            rule: None,
            other_rule: None,
            other_file: None,
            action: None,
            target: None,
            message: format!("{}; {}", d.message, d.help.unwrap_or_default()),
        })
        .collect()
}

/// Action definitions that load but deserve a look (`Registry::warnings`):
/// kind `no_rollback_action` or `core_group_prefix`.
fn action_warnings(registry: &Registry) -> Vec<Warning> {
    registry
        .warnings()
        .into_iter()
        .map(|d| {
            let kind = if d.message.contains("rollback_action") {
                "no_rollback_action"
            } else {
                "core_group_prefix"
            };
            Warning {
                kind: kind.into(),
                file: match d.pos.line {
                    0 => d.file.display().to_string(),
                    line => format!("{}:{line}", d.file.display()),
                },
                rule: None,
                other_rule: None,
                other_file: None,
                action: None,
                target: None,
                message: match d.help {
                    Some(h) => format!("{}; {h}", d.message),
                    None => d.message,
                },
            }
        })
        .collect()
}

/// The outcome of a validation, printed the same way by both commands.
#[derive(Debug, Serialize)]
struct Report {
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actions: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rules: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    targets: Option<usize>,
    /// The core's one JSON form of a diagnostic (`line`/`column` null when unknown).
    errors: Vec<Diagnostic>,
    warnings: Vec<Warning>,
    #[serde(skip)]
    raw_errors: Option<ConfigError>,
    #[serde(skip)]
    notes: Vec<String>,
}

impl Report {
    fn new(config: &Config) -> Self {
        Report {
            ok: false,
            config: config.source.as_ref().map(|p| p.display().to_string()),
            policy_file: None,
            actions: None,
            rules: None,
            targets: None,
            errors: Vec::new(),
            warnings: Vec::new(),
            raw_errors: None,
            notes: Vec::new(),
        }
    }

    /// Adds errors (to those already found).
    fn fail(&mut self, e: ConfigError) {
        let mut all = self
            .raw_errors
            .take()
            .map(ConfigError::into_diagnostics)
            .unwrap_or_default();
        all.extend(e.into_diagnostics());
        self.errors = all.clone();
        self.raw_errors = ConfigError::from_diagnostics(all);
        self.ok = false;
    }

    fn counts(&mut self, snap: &Snapshot) {
        self.actions = Some(snap.registry.len());
        self.rules = Some(snap.rules.len());
        self.targets = Some(snap.inventory.len());
    }

    /// Prints the report and returns the exit code.
    fn finish(mut self, io: &mut Io, format: Format, strict: bool) -> CmdResult {
        let has_errors = self.raw_errors.is_some();
        self.ok = !has_errors && (!strict || self.warnings.is_empty());
        let code = if self.ok { exit::OK } else { exit::FAILURE };
        if format == Format::Json {
            let text = serde_json::to_string_pretty(&self).map_err(anyhow::Error::from)?;
            writeln!(io.out, "{text}")?;
            return Ok(code);
        }
        let w = &mut io.out;
        if let Some(e) = &self.raw_errors {
            let mut renderer = crate::render::Renderer::new();
            for d in e.diagnostics() {
                write!(w, "{}", renderer.render(d))?;
            }
        }
        for warning in &self.warnings {
            writeln!(
                w,
                "{}: {} {}",
                warning.file,
                paint(style::WARN, "warning:"),
                warning.message
            )?;
            if let (Some(other), Some(file)) = (&warning.other_rule, &warning.other_file) {
                writeln!(w, "  note: `{other}` is defined at {file}")?;
            }
        }
        for note in &self.notes {
            writeln!(w, "note: {note}")?;
        }
        let warnings = match self.warnings.len() {
            0 => "no warnings".to_owned(),
            1 => "1 warning".to_owned(),
            n => format!("{n} warnings"),
        };
        if has_errors {
            let n = self.errors.len();
            let files: std::collections::BTreeSet<&std::path::Path> =
                self.errors.iter().map(|e| e.file.as_path()).collect();
            writeln!(
                w,
                "{} {n} error{} in {} file{}",
                paint(style::BAD, "failed:"),
                if n == 1 { "" } else { "s" },
                files.len(),
                if files.len() == 1 { "" } else { "s" },
            )?;
            return Ok(code);
        }
        let counts = format!(
            "{} actions, {} rules, {} targets",
            self.actions.unwrap_or(0),
            self.rules.unwrap_or(0),
            self.targets.unwrap_or(0)
        );
        let subject = self
            .policy_file
            .as_deref()
            .map(|f| format!("{f}: "))
            .unwrap_or_default();
        if self.ok {
            writeln!(
                w,
                "{} {subject}{counts}; {warnings}",
                paint(style::GOOD, "ok:")
            )?;
        } else {
            writeln!(
                w,
                "{} {subject}{counts}; {warnings} (--strict)",
                paint(style::BAD, "failed:")
            )?;
        }
        Ok(code)
    }
}

/// `validate`.
pub(crate) fn validate(io: &mut Io, ctx: &Ctx, a: ValidateArgs) -> CmdResult {
    let config = ctx.load_config()?;
    let mut report = Report::new(&config);
    if config.source.is_none() {
        report.notes.push(format!(
            "no {} found: checked the built-in action catalogue only (every check would be denied)",
            agent_safe_core::config::CONFIG_FILE_NAME
        ));
    }
    match Snapshot::load(&config) {
        Err(e) => report.fail(e),
        Ok(snap) => {
            report.counts(&snap);
            report.warnings = analyze(&snap).into_iter().map(Warning::from).collect();
            report
                .warnings
                .extend(binding_gaps(&snap).into_iter().map(Warning::from));
            report.warnings.extend(action_warnings(&snap.registry));
            if let Err(e) =
                agent_safe_core::mapping::validate_section(config.mcp.as_ref(), &snap.registry)
            {
                report.fail(e);
            }
        }
    }
    report.warnings.extend(unloaded_warnings(&config));
    if let Some(shadow) = &config.shadow {
        // The candidate is checked like the enforced files: its errors name
        // its own files, and fail the validation.
        match agent_safe_core::shadow::load_candidate(&config, shadow) {
            Err(e) => report.fail(e),
            Ok(snap) => report.notes.push(format!(
                "shadow candidate loads: {} actions, {} rules, {} targets ({})",
                snap.registry.len(),
                snap.rules.len(),
                snap.inventory.len(),
                snap.digest.as_deref().unwrap_or("no digest")
            )),
        }
    }
    report.finish(io, a.output, a.strict)
}

/// `validate-policy FILE`.
pub(crate) fn validate_policy(io: &mut Io, ctx: &Ctx, a: ValidatePolicyArgs) -> CmdResult {
    if !a.file.is_file() {
        return Err(CliError::usage_help(
            format!("policy file `{}` does not exist", a.file.display()),
            "name a policy YAML file, e.g. policies/10-staging.yaml",
        ));
    }
    let config = ctx.load_config()?;
    let registry = Registry::for_config(&config)?;
    let targets = match &config.inventory {
        Some(p) => load_inventory(p)?,
        None => Vec::new(),
    };
    let mut report = Report::new(&config);
    report.policy_file = Some(a.file.display().to_string());
    let compiled = load_policies(&a.file).and_then(|rules| {
        Snapshot::compile(SnapshotSources {
            registry,
            rules,
            targets,
            identity: IdentityConfig::default(),
            settings: EngineSettings::from_config(&config),
        })
    });
    match compiled {
        Err(e) => report.fail(e),
        Ok(snap) => {
            report.counts(&snap);
            report.warnings = analyze(&snap).into_iter().map(Warning::from).collect();
        }
    }
    report.finish(io, a.output, a.strict)
}
