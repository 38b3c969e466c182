//! The action registry: the built-in catalogue plus the project's own actions.
//!
//! Precedence: built-in definitions load first; a project file with the same
//! `name@version` replaces the built-in one (so a project can adjust a
//! definition without forking); two project files with the same
//! `name@version` are an error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::Config;
use crate::diag::{ConfigError, Diagnostic, Diagnostics};
use crate::load::{SourceFile, parse_action, parse_action_json, read_sources};
use crate::model::{ActionDef, RiskClass};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/catalogue.rs"));
}

/// The embedded built-in catalogue: `(file name, YAML text)`.
pub fn builtin_sources() -> &'static [(&'static str, &'static str)] {
    embedded::BUILTIN_ACTIONS
}

/// The embedded example project scaffolded by `agent-safe init`:
/// `(relative path, YAML text)`.
pub fn example_project() -> &'static [(&'static str, &'static str)] {
    embedded::EXAMPLE_PROJECT
}

/// The prefix used in messages for built-in definitions.
pub const BUILTIN_PREFIX: &str = "<built-in>";

/// Why a lookup failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// No action of that name.
    #[error("unknown action `{name}`{}", suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    UnknownAction {
        /// The name asked for.
        name: String,
        /// The closest known name.
        suggestion: Option<String>,
    },
    /// The action exists, but not in that version.
    #[error("action `{name}` has no version `{version}` (available: {available})")]
    UnknownVersion {
        /// The name asked for.
        name: String,
        /// The version asked for.
        version: String,
        /// The versions that exist.
        available: String,
    },
}

/// All known actions, by name and version.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    by_name: BTreeMap<String, BTreeMap<semver::Version, Arc<ActionDef>>>,
    project_files: Vec<PathBuf>,
}

impl Registry {
    /// The built-in catalogue alone.
    pub fn builtin() -> Result<Registry, ConfigError> {
        Registry::load(true, None)
    }

    /// Loads the built-in catalogue (when `builtin`) and then the project's own
    /// action files under `project` (a file or directory).
    pub fn load(builtin: bool, project: Option<&Path>) -> Result<Registry, ConfigError> {
        let project_sources = match project {
            Some(p) => read_sources(p)?,
            None => Vec::new(),
        };
        Registry::from_sources(builtin, &project_sources)
    }

    /// The registry of a config: the built-in catalogue (unless
    /// `builtin_actions: false`) and the project's `actions:` files, checked
    /// against `registry.lock` when the project has one — what
    /// [`Snapshot::load`](crate::engine::Snapshot::load) uses.
    ///
    /// # Errors
    /// Every problem of every action file and of the manifest, together.
    pub fn for_config(config: &Config) -> Result<Registry, ConfigError> {
        let mut d = Diagnostics::new();
        match Registry::for_config_into(config, &mut d) {
            Some(r) => d.finish(r),
            None => Err(d.into_error(
                config
                    .actions
                    .as_deref()
                    .unwrap_or(Path::new(BUILTIN_PREFIX)),
            )),
        }
    }

    /// [`Registry::for_config`], recording problems in `d` so that a caller
    /// can report them together with its own. `None` when the registry could
    /// not be built; a manifest mismatch is recorded but still returns it.
    pub(crate) fn for_config_into(config: &Config, d: &mut Diagnostics) -> Option<Registry> {
        let project_sources = match &config.actions {
            Some(p) => read_sources(p).unwrap_or_else(|e| {
                d.extend(e);
                Vec::new()
            }),
            None => Vec::new(),
        };
        let manifest = config.manifest_path();
        if config.source.is_some()
            && crate::manifest::manifest_exists(&manifest)
            && let Err(e) =
                crate::manifest::check_manifest(&manifest, config.builtin_actions, &project_sources)
        {
            d.extend(e);
        }
        Registry::from_sources(config.builtin_actions, &project_sources)
            .map_err(|e| d.extend(e))
            .ok()
    }

    /// Builds the registry from already-read project sources.
    pub fn from_sources(builtin: bool, project: &[SourceFile]) -> Result<Registry, ConfigError> {
        let mut d = Diagnostics::new();
        let mut reg = Registry::default();
        if builtin {
            for ((name, text), (_, json)) in
                builtin_sources().iter().zip(embedded::BUILTIN_ACTIONS_JSON)
            {
                let src = SourceFile {
                    path: PathBuf::from(BUILTIN_PREFIX).join(name),
                    text: (*text).to_owned(),
                };
                match parse_action_json(&src, json) {
                    Ok(a) => reg.insert(a),
                    Err(e) => d.extend(e),
                }
            }
        }
        let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
        for src in project {
            reg.project_files.push(src.path.clone());
            match parse_action(src) {
                Ok(a) => {
                    let key = a.key();
                    if let Some(first) = seen.get(&key) {
                        d.push(
                            Diagnostic::error(
                                &src.path,
                                a.origin.pos,
                                format!(
                                    "duplicate action `{key}`, first defined in {}",
                                    first.display()
                                ),
                            )
                            .with_help("bump `version` in one of them, or remove the copy"),
                        );
                        continue;
                    }
                    seen.insert(key, src.path.clone());
                    reg.insert(a);
                }
                Err(e) => d.extend(e),
            }
        }
        reg.check_rollbacks(&mut d);
        d.finish(reg)
    }

    fn insert(&mut self, a: ActionDef) {
        let version = a
            .semver
            .clone()
            .unwrap_or_else(|| semver::Version::new(0, 0, 0));
        self.by_name
            .entry(a.name.clone())
            .or_default()
            .insert(version, Arc::new(a));
    }

    fn check_rollbacks(&self, d: &mut Diagnostics) {
        for a in self.all_versions() {
            // `reversible: true` without a `rollback_action` is reported by
            // the action loader, with the file's other errors.
            if let Some(rb) = &a.rollback_action
                && !self.by_name.contains_key(rb)
            {
                d.push(
                    Diagnostic::error(
                        &a.origin.file,
                        a.origin.pos,
                        format!(
                            "`rollback_action` of `{}` names `{rb}`, which is not a known action",
                            a.key()
                        ),
                    )
                    .with_help("name an action defined in the catalogue or the project"),
                );
            }
        }
    }

    /// Looks up `name` (highest version) or `name@version`.
    pub fn get(&self, spec: &str) -> Result<&Arc<ActionDef>, LookupError> {
        let (name, version) = match spec.split_once('@') {
            Some((n, v)) => (n, Some(v)),
            None => (spec, None),
        };
        let Some(versions) = self.by_name.get(name) else {
            return Err(LookupError::UnknownAction {
                name: name.to_owned(),
                suggestion: crate::diag::did_you_mean(
                    name,
                    self.by_name.keys().map(String::as_str),
                )
                .map(str::to_owned),
            });
        };
        let found = match version {
            None => versions.values().next_back(),
            Some(v) => semver::Version::parse(v)
                .ok()
                .and_then(|v| versions.get(&v)),
        };
        found.ok_or_else(|| LookupError::UnknownVersion {
            name: name.to_owned(),
            version: version.unwrap_or_default().to_owned(),
            available: versions
                .keys()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    /// The newest version of the action `name`.
    pub fn newest(&self, name: &str) -> Option<&Arc<ActionDef>> {
        self.by_name.get(name).and_then(|v| v.values().next_back())
    }

    /// Every version of the action `name`, oldest first.
    pub fn versions(
        &self,
        name: &str,
    ) -> Option<impl Iterator<Item = &Arc<ActionDef>> + Clone + '_> {
        self.by_name.get(name).map(|v| v.values())
    }

    /// True when an action of this name exists (any version).
    pub fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// The highest version of every action, by name.
    pub fn latest(&self) -> impl Iterator<Item = &Arc<ActionDef>> {
        self.by_name.values().filter_map(|v| v.values().next_back())
    }

    /// Every version of every action.
    pub fn all_versions(&self) -> impl Iterator<Item = &Arc<ActionDef>> {
        self.by_name.values().flat_map(|v| v.values())
    }

    /// What `agent-safe validate` reports about action definitions that load
    /// but deserve a look: `reversible: true` without a `rollback_action`
    /// (nothing in the registry undoes the action), and privileges written
    /// with a `core/` group prefix (read as the core group; the canonical
    /// form has no prefix).
    pub fn warnings(&self) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for a in self.all_versions() {
            if a.reversible && a.rollback_action.is_none() {
                out.push(
                    Diagnostic::warning(
                        &a.origin.file,
                        a.origin.pos,
                        format!(
                            "action `{}` is `reversible: true` but names no `rollback_action`",
                            a.key()
                        ),
                    )
                    .with_help("name the inverse action in `rollback_action:`, or write `reversible: false` if no single action undoes it"),
                );
            }
            for p in &a.required_privileges {
                if let Some(canonical) = crate::privilege::core_prefixed(p) {
                    out.push(
                        Diagnostic::warning(
                            &a.origin.file,
                            a.origin.pos,
                            format!(
                                "action `{}`: privilege `{p}` is read as the core group's `{canonical}`",
                                a.key()
                            ),
                        )
                        .with_help(format!("write `{canonical}`: the core group has no prefix")),
                    );
                }
            }
        }
        out
    }

    /// The highest version of every action with `tag` (when given) and
    /// `risk_class` (when given).
    pub fn filter(&self, tag: Option<&str>, risk: Option<RiskClass>) -> Vec<&Arc<ActionDef>> {
        self.latest()
            .filter(|a| tag.is_none_or(|t| a.tags.iter().any(|x| x == t)))
            .filter(|a| risk.is_none_or(|r| a.risk_class == r))
            .collect()
    }

    /// Every target type any action accepts.
    pub fn target_types(&self) -> std::collections::BTreeSet<&str> {
        self.all_versions()
            .flat_map(|a| a.target_types.iter().map(String::as_str))
            .collect()
    }

    /// Number of distinct action names.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// True when there are no actions.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// The project action files this registry was loaded from.
    pub fn project_files(&self) -> &[PathBuf] {
        &self.project_files
    }
}

/// Renders the catalogue reference page (`docs/CATALOGUE.md`) from the
/// definitions, so the page cannot drift from what the binary embeds.
pub fn catalogue_markdown(reg: &Registry) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(s, "# Action catalogue\n");
    let _ = writeln!(
        s,
        "<!-- Generated from crates/agent-safe-core/catalogue/actions by `AGENT_SAFE_UPDATE_DOCS=1 cargo test -p agent-safe-core --test catalogue`; do not edit by hand. -->\n"
    );
    let _ = writeln!(
        s,
        "The built-in Kubernetes actions, embedded in every agent-safe binary. A project's own action files may add actions or replace one of these by defining the same `name@version` (see [WRITING-ACTIONS.md](WRITING-ACTIONS.md)).\n"
    );
    let _ = writeln!(
        s,
        "| action | version | risk | target types | reversible | tags |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for a in reg.latest() {
        let rev = match (&a.rollback_action, a.reversible) {
            (Some(r), true) => format!("yes, `{r}`"),
            (Some(r), false) => format!("no (partial undo: `{r}`)"),
            (None, _) => "no".to_owned(),
        };
        let _ = writeln!(
            s,
            "| [`{}`](#{}) | {} | {} | {} | {} | {} |",
            a.name,
            a.name,
            a.version,
            a.risk_class,
            a.target_types.join(", "),
            rev,
            a.tags.join(", ")
        );
    }
    for a in reg.latest() {
        let _ = writeln!(s, "\n## {}\n", a.name);
        let _ = writeln!(s, "{}\n", a.description.trim());
        let _ = writeln!(
            s,
            "- **Risk class:** {} · **Target types:** {} · **Version:** {}",
            a.risk_class,
            a.target_types
                .iter()
                .map(|t| format!("`{t}`"))
                .collect::<Vec<_>>()
                .join(", "),
            a.version
        );
        if !a.target_params.is_empty() {
            let tp: Vec<String> = a
                .target_params
                .iter()
                .map(|(c, p)| format!("{c} ← `{p}`"))
                .collect();
            let _ = writeln!(s, "- **Target binding:** {}", tp.join(", "));
        }
        match (&a.rollback_action, a.reversible) {
            (Some(r), true) => {
                let _ = writeln!(s, "- **Reversible:** yes, with `{r}`");
            }
            (Some(r), false) => {
                let _ = writeln!(s, "- **Reversible:** no; `{r}` undoes part of it");
            }
            (None, _) => {
                let _ = writeln!(s, "- **Reversible:** no");
            }
        }
        let _ = writeln!(
            s,
            "- **RBAC:** {}",
            a.required_privileges
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if !a.tags.is_empty() {
            let _ = writeln!(s, "- **Tags:** {}", a.tags.join(", "));
        }
        if !a.parameters.is_empty() {
            let _ = writeln!(
                s,
                "\n| parameter | type | required | default | constraints | description |"
            );
            let _ = writeln!(s, "|---|---|---|---|---|---|");
            for p in &a.parameters {
                let mut c = Vec::new();
                if let Some(k) = &p.constraints {
                    if let Some(v) = k.min_value {
                        c.push(format!("≥ {v}"));
                    }
                    if let Some(v) = k.max_value {
                        c.push(format!("≤ {v}"));
                    }
                    if let Some(v) = k.min_length {
                        c.push(format!("length ≥ {v}"));
                    }
                    if let Some(v) = k.max_length {
                        c.push(format!("length ≤ {v}"));
                    }
                    if let Some(v) = &k.pattern {
                        c.push(format!("pattern `{}`", v.replace('|', "\\|")));
                    }
                    if let Some(v) = &k.enum_values {
                        c.push(format!(
                            "one of {}",
                            v.iter()
                                .map(|x| format!("`{x}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                }
                let _ = writeln!(
                    s,
                    "| `{}` | {} | {} | {} | {} | {} |",
                    p.name,
                    p.param_type,
                    if p.required && p.default.is_none() {
                        "yes"
                    } else {
                        "no"
                    },
                    p.default
                        .as_ref()
                        .map(|d| format!("`{d}`"))
                        .unwrap_or_default(),
                    c.join("; "),
                    p.description
                        .as_deref()
                        .unwrap_or("")
                        .replace('|', "\\|")
                        .replace('\n', " ")
                );
            }
        }
        if !a.prechecks.is_empty() {
            let _ = writeln!(s, "\nPrechecks an executor must run:\n");
            for pc in &a.prechecks {
                let _ = writeln!(
                    s,
                    "- `{}`: {}",
                    pc.name,
                    pc.description.trim().replace('\n', " ")
                );
            }
        }
    }
    s
}
