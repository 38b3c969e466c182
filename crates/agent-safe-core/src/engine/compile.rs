//! Loaded files → an immutable, indexed snapshot.
//!
//! Rules are compiled once: globs into `GlobSet`s, enums into bit masks, time
//! zones resolved. Then, for every callable action version (the newest of
//! each name, plus those `callable_old_versions` keeps), the rules whose
//! `actions` globs match its name or `name@version` are listed *in rank order* (priority, then
//! specificity, then restrictiveness). A check looks up its action's list and
//! walks it until the first rule whose selectors all match: that rule is the
//! winner, so a check never scans rules that name other actions.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use globset::{GlobMatcher, GlobSet, GlobSetBuilder};

use super::inventory::Inventory;
use crate::config::{Config, UnknownTargets};
use crate::diag::{ConfigError, Diagnostic, Diagnostics, Pos};
use crate::identity::{
    CacheSettings, IdentityConfig, JwksCache, KeySource, KubernetesBinding, KubernetesMapping,
    SigningKey, TrustedIssuer,
};
use crate::load::{compile_glob, load_inventory, load_policies};
use crate::model::{ActionDef, RiskClass, Rule, Sensitivity, Target};
use crate::registry::Registry;

/// The file a whole-config problem is reported against.
fn config_file(config: &Config) -> &Path {
    config
        .source
        .as_deref()
        .unwrap_or(Path::new(crate::config::CONFIG_FILE_NAME))
}

/// Everything a snapshot is compiled from.
#[derive(Debug, Clone, Default)]
pub struct SnapshotSources {
    /// The action registry.
    pub registry: Registry,
    /// Every policy rule.
    pub rules: Vec<Rule>,
    /// Every inventory target.
    pub targets: Vec<Target>,
    /// Token verification settings.
    pub identity: IdentityConfig,
    /// How unknown targets and old action versions are treated.
    pub settings: EngineSettings,
}

/// The `agent-safe.yaml` settings that change decisions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineSettings {
    /// What a check on a target outside the inventory does.
    pub unknown_targets: UnknownTargets,
    /// Older action versions that stay callable: `name@version`, or `name@*`
    /// for every version of one action (`callable_old_versions`).
    pub callable_old_versions: Vec<String>,
    /// The config file the settings come from, and where each entry is, for
    /// messages.
    pub source: Option<std::path::PathBuf>,
    /// Positions of the `callable_old_versions` entries.
    pub positions: std::collections::BTreeMap<String, Pos>,
}

impl EngineSettings {
    /// The settings of a config file.
    pub fn from_config(config: &Config) -> EngineSettings {
        EngineSettings {
            unknown_targets: config.unknown_targets,
            callable_old_versions: config.callable_old_versions.clone(),
            source: config.source.clone(),
            positions: config.entry_positions.clone(),
        }
    }
}

/// A time window, resolved.
#[derive(Debug, Clone)]
pub(crate) struct Window {
    pub days_mask: u8,
    pub start: u16,
    pub end: u16,
    pub tz: jiff::tz::TimeZone,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct TargetSel {
    pub ids: Option<PatSet>,
    pub environments: Option<Vec<String>>,
    pub sensitivities: Option<u8>,
    pub types: Option<Vec<String>>,
    pub labels: Option<Vec<(String, Pat)>>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct CallerSel {
    pub agent_ids: Option<PatSet>,
    pub roles: Option<Vec<String>>,
    pub groups: Option<Vec<String>>,
}

/// A rule ready to evaluate.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    /// The rule as written.
    pub rule: Rule,
    /// Number of match fields set; more is more specific.
    pub specificity: u8,
    pub(crate) actions: Option<GlobSet>,
    pub(crate) target: Option<TargetSel>,
    pub(crate) caller: Option<CallerSel>,
    pub(crate) risk_mask: Option<u8>,
    pub(crate) windows: Option<Vec<Window>>,
    /// Interned ids of the target and caller selectors: rules with equal
    /// selectors share one cached result per check.
    pub(crate) target_key: u32,
    pub(crate) caller_key: u32,
}

impl CompiledRule {
    /// Whether the rule's `actions` select this version of an action: a
    /// pattern matches the name (every version) or `name@version`
    /// (`restart-deployment@1.0.0`, `restart-deployment@1.*`).
    pub fn matches_action_version(&self, action: &ActionDef) -> bool {
        self.actions
            .as_ref()
            .is_none_or(|g| g.is_match(&action.name) || g.is_match(action.key()))
    }

    /// The sort key: higher priority, then higher specificity, then more
    /// restrictive decision come first.
    pub fn rank(&self) -> (i64, u8, u8) {
        (
            self.rule.priority,
            self.specificity,
            self.rule.decision.restrictiveness(),
        )
    }
}

/// An immutable, compiled view of the configuration. `Send + Sync`; share it
/// behind an `Arc`.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The action registry.
    pub registry: Registry,
    /// The target inventory.
    pub inventory: Inventory,
    /// Every rule, in file order.
    pub rules: Vec<CompiledRule>,
    /// Token verification settings.
    pub identity: IdentityConfig,
    /// How unknown targets and old action versions are treated.
    pub settings: EngineSettings,
    /// `sha256:…` of the files this snapshot was loaded from
    /// (SHA-256 over this build's version, the config file's bytes and every
    /// action, policy and inventory file's path and bytes); `None` when compiled
    /// from sources in memory.
    pub digest: Option<String>,
    /// Candidate rules per action name (its newest version), in rank order.
    pub(crate) by_action: HashMap<String, Buckets>,
    /// Candidate rules per callable older version, by `name@version`.
    pub(crate) by_old_version: HashMap<String, Buckets>,
    /// Number of distinct target selectors (cache slots `0..n`).
    pub(crate) target_sels: u32,
    /// Number of distinct caller selectors (cache slots after the target ones).
    pub(crate) caller_sels: u32,
}

/// The candidate rules of one action, split by the target's environment so a
/// check skips rules that name other environments.
#[derive(Debug, Clone, Default)]
pub(crate) struct Buckets {
    /// Known target in an environment some rule names: its rules, plus every
    /// rule that names no environment.
    pub by_env: HashMap<String, Vec<u32>>,
    /// Known target in an environment no rule names.
    pub other_env: Vec<u32>,
    /// Unknown target (or none): rules without a target selector.
    pub no_target: Vec<u32>,
    /// Every candidate (for traces and analysis).
    pub all: Vec<u32>,
}

fn bit<T: Copy + Into<u8>>(v: T) -> u8 {
    1u8 << v.into()
}

impl From<RiskClass> for u8 {
    fn from(r: RiskClass) -> u8 {
        r as u8
    }
}

impl From<Sensitivity> for u8 {
    fn from(s: Sensitivity) -> u8 {
        s as u8
    }
}

/// Why a rule does not compile. The loader checks globs and time zones
/// already, so these reach a user only through [`Snapshot::compile`] on rules
/// built by hand; each becomes a diagnostic at the rule.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CompileError {
    /// A glob `globset` refuses.
    #[error("invalid glob `{pattern}`: {}", .source.kind())]
    Glob {
        pattern: String,
        source: globset::Error,
    },
    /// A set of globs `globset` cannot build.
    #[error("{0}")]
    GlobSet(globset::Error),
    /// A time zone the bundled database does not have.
    #[error("unknown time zone `{name}`: {source}")]
    TimeZone { name: String, source: jiff::Error },
}

fn invalid_glob(pattern: &str) -> impl FnOnce(globset::Error) -> CompileError + '_ {
    move |source| CompileError::Glob {
        pattern: pattern.to_owned(),
        source,
    }
}

/// A compiled selector pattern. The common shapes (a literal, `prefix*`,
/// `*suffix`, `*`, `**`) skip the general glob matcher; everything else uses
/// `globset` with the same settings. In path patterns (target ids, labels)
/// `*` stays within one `/` segment; in whole-id patterns (agent ids) `*`
/// and `?` match `/` too.
#[derive(Debug, Clone)]
pub(crate) enum Pat {
    Exact(String),
    Prefix { prefix: String, whole: bool },
    Suffix { suffix: String, whole: bool },
    Star { whole: bool },
    DoubleStar,
    Glob(GlobMatcher),
}

impl Pat {
    /// A path pattern: `*` does not cross `/`.
    fn new(p: &str) -> Result<Pat, CompileError> {
        Pat::build(p, false)
    }

    /// A whole-id pattern: `*` matches any characters, `/` included. Agent
    /// ids are opaque names, not paths: a deny rule for `rogue-*` must catch
    /// `rogue-1/x` too.
    fn whole(p: &str) -> Result<Pat, CompileError> {
        Pat::build(p, true)
    }

    fn build(p: &str, whole: bool) -> Result<Pat, CompileError> {
        let glob = if whole {
            globset::GlobBuilder::new(p)
                .literal_separator(false)
                .backslash_escape(true)
                .build()
        } else {
            compile_glob(p)
        }
        .map_err(invalid_glob(p))?;
        let meta = |s: &str| s.contains(['*', '?', '[', ']', '{', '}', '\\']);
        Ok(if p == "*" {
            Pat::Star { whole }
        } else if p == "**" {
            Pat::DoubleStar
        } else if !meta(p) {
            Pat::Exact(p.to_owned())
        } else if let Some(pre) = p.strip_suffix('*').filter(|x| !meta(x)) {
            Pat::Prefix {
                prefix: pre.to_owned(),
                whole,
            }
        } else if let Some(suf) = p.strip_prefix('*').filter(|x| !meta(x)) {
            Pat::Suffix {
                suffix: suf.to_owned(),
                whole,
            }
        } else {
            Pat::Glob(glob.compile_matcher())
        })
    }

    pub(crate) fn is_match(&self, s: &str) -> bool {
        match self {
            Pat::Exact(e) => s == e,
            Pat::Prefix { prefix, whole } => s
                .strip_prefix(prefix.as_str())
                .is_some_and(|rest| *whole || !rest.contains('/')),
            Pat::Suffix { suffix, whole } => s
                .strip_suffix(suffix.as_str())
                .is_some_and(|rest| *whole || !rest.contains('/')),
            Pat::Star { whole } => *whole || !s.contains('/'),
            Pat::DoubleStar => true,
            Pat::Glob(g) => g.is_match(s),
        }
    }
}

/// Any of several patterns.
#[derive(Debug, Clone, Default)]
pub(crate) struct PatSet(Vec<Pat>);

impl PatSet {
    fn new(patterns: &[String]) -> Result<PatSet, CompileError> {
        patterns
            .iter()
            .map(|p| Pat::new(p))
            .collect::<Result<_, _>>()
            .map(PatSet)
    }

    fn whole(patterns: &[String]) -> Result<PatSet, CompileError> {
        patterns
            .iter()
            .map(|p| Pat::whole(p))
            .collect::<Result<_, _>>()
            .map(PatSet)
    }

    pub(crate) fn is_match(&self, s: &str) -> bool {
        self.0.iter().any(|p| p.is_match(s))
    }
}

/// One glob, compiled the way selectors compile it.
pub(crate) fn single_glob(p: &str) -> Option<GlobMatcher> {
    compile_glob(p).ok().map(|g| g.compile_matcher())
}

fn glob_set(patterns: &[String]) -> Result<GlobSet, CompileError> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        b.add(compile_glob(p).map_err(invalid_glob(p))?);
    }
    b.build().map_err(CompileError::GlobSet)
}

fn compile_rule(rule: Rule) -> Result<CompiledRule, CompileError> {
    let m = &rule.matcher;
    let mut specificity = 0u8;
    let mut count = |present: bool| {
        if present {
            specificity = specificity.saturating_add(1);
        }
    };
    let actions = match &m.actions {
        Some(a) => {
            count(true);
            Some(glob_set(a)?)
        }
        None => None,
    };
    let target = match &m.targets {
        Some(t) => {
            count(t.ids.is_some());
            count(t.environments.is_some());
            count(t.sensitivities.is_some());
            count(t.types.is_some());
            count(t.labels.is_some());
            let labels = match &t.labels {
                Some(l) => {
                    let mut out = Vec::with_capacity(l.len());
                    for (k, v) in l {
                        out.push((k.clone(), Pat::new(v)?));
                    }
                    Some(out)
                }
                None => None,
            };
            Some(TargetSel {
                ids: t.ids.as_deref().map(PatSet::new).transpose()?,
                environments: t.environments.clone(),
                sensitivities: t
                    .sensitivities
                    .as_ref()
                    .map(|s| s.iter().fold(0u8, |m, v| m | bit(*v))),
                types: t.types.clone(),
                labels,
            })
        }
        None => None,
    };
    let caller = match &m.callers {
        Some(c) => {
            count(c.agent_ids.is_some());
            count(c.roles.is_some());
            count(c.groups.is_some());
            Some(CallerSel {
                agent_ids: c.agent_ids.as_deref().map(PatSet::whole).transpose()?,
                roles: c.roles.clone(),
                groups: c.groups.clone(),
            })
        }
        None => None,
    };
    count(m.risk_classes.is_some());
    let risk_mask = m
        .risk_classes
        .as_ref()
        .map(|r| r.iter().fold(0u8, |m, v| m | bit(*v)));
    count(m.time_windows.is_some());
    let windows = match &m.time_windows {
        Some(ws) => {
            let mut out = Vec::with_capacity(ws.len());
            for w in ws {
                let tz_name = w.timezone.as_deref().unwrap_or("UTC");
                let tz =
                    jiff::tz::TimeZone::get(tz_name).map_err(|source| CompileError::TimeZone {
                        name: tz_name.to_owned(),
                        source,
                    })?;
                out.push(Window {
                    days_mask: w
                        .days
                        .as_ref()
                        .map(|d| d.iter().fold(0u8, |m, v| m | (1u8 << v.index())))
                        .unwrap_or(0x7f),
                    start: w.start_minute,
                    end: w.end_minute,
                    tz,
                });
            }
            Some(out)
        }
        None => None,
    };
    Ok(CompiledRule {
        rule,
        specificity,
        actions,
        target,
        caller,
        risk_mask,
        windows,
        target_key: u32::MAX,
        caller_key: u32::MAX,
    })
}

impl Snapshot {
    /// Compiles loaded files into a snapshot.
    pub fn compile(sources: SnapshotSources) -> Result<Snapshot, ConfigError> {
        let mut d = Diagnostics::new();
        let mut rules = Vec::with_capacity(sources.rules.len());
        for rule in sources.rules {
            let origin = rule.origin.clone();
            match compile_rule(rule) {
                Ok(r) => rules.push(r),
                Err(e) => d.push(Diagnostic::error(&origin.file, origin.pos, e.to_string())),
            }
        }
        // Intern selectors so equal ones are evaluated once per check.
        let mut tkeys: HashMap<crate::model::TargetSelector, u32> = HashMap::new();
        let mut ckeys: HashMap<crate::model::CallerSelector, u32> = HashMap::new();
        for r in &mut rules {
            if let Some(t) = &r.rule.matcher.targets {
                let next = u32::try_from(tkeys.len()).unwrap_or(u32::MAX);
                r.target_key = *tkeys.entry(t.clone()).or_insert(next);
            }
            if let Some(c) = &r.rule.matcher.callers {
                let next = u32::try_from(ckeys.len()).unwrap_or(u32::MAX);
                r.caller_key = *ckeys.entry(c.clone()).or_insert(next);
            }
        }
        let target_sels = u32::try_from(tkeys.len()).unwrap_or(u32::MAX);
        let caller_sels = u32::try_from(ckeys.len()).unwrap_or(u32::MAX);
        let old_callable = callable_old_versions(&sources.registry, &sources.settings, &mut d);
        let mut by_action: HashMap<String, Buckets> = HashMap::new();
        for action in sources.registry.latest() {
            by_action.insert(action.name.clone(), buckets_for(&rules, action));
        }
        let mut by_old_version: HashMap<String, Buckets> = HashMap::new();
        for action in &old_callable {
            by_old_version.insert(action.key(), buckets_for(&rules, action));
        }
        unknown_action_errors(&rules, &sources.registry, &mut d);
        let snapshot = Snapshot {
            registry: sources.registry,
            inventory: Inventory::new(sources.targets),
            rules,
            identity: sources.identity,
            settings: sources.settings,
            digest: None,
            by_action,
            by_old_version,
            target_sels,
            caller_sels,
        };
        d.finish(snapshot)
    }

    /// Loads every file named by `config` (checking the registry manifest
    /// when one exists) and compiles the snapshot. All problems of all files
    /// are reported together.
    pub fn load(config: &Config) -> Result<Snapshot, ConfigError> {
        Snapshot::load_with_targets(config, None)
    }

    /// Like [`Snapshot::load`], with `targets` (when given) as the inventory
    /// instead of the `inventory` file: the sidecar's live inventory.
    pub fn load_with_targets(
        config: &Config,
        targets: Option<Vec<crate::model::Target>>,
    ) -> Result<Snapshot, ConfigError> {
        let mut d = Diagnostics::new();
        let registry = Registry::for_config_into(config, &mut d);
        let rules = match &config.policies {
            Some(p) => load_policies(p).map_err(|e| d.extend(e)).ok(),
            None => Some(Vec::new()),
        };
        let targets = match (targets, &config.inventory) {
            (Some(t), _) => Some(t),
            (None, Some(p)) => load_inventory(p).map_err(|e| d.extend(e)).ok(),
            (None, None) => Some(Vec::new()),
        };
        let identity = identity_config(config).map_err(|e| d.extend(e)).ok();
        if let Some(reg) = &registry {
            check_privileges(config, reg, &mut d);
        }
        let (Some(registry), Some(rules), Some(targets), Some(identity)) =
            (registry, rules, targets, identity)
        else {
            return Err(d.into_error(config_file(config)));
        };
        // Compile even after errors above (a bad privilege, a manifest
        // mismatch) so that rule errors are reported in the same run.
        match Snapshot::compile(SnapshotSources {
            registry,
            rules,
            targets,
            identity,
            settings: EngineSettings::from_config(config),
        }) {
            Ok(mut snapshot) => {
                snapshot.digest = super::snapshot_digest(config);
                d.finish(snapshot)
            }
            Err(e) => {
                d.extend(e);
                Err(d.into_error(config_file(config)))
            }
        }
    }

    /// Every candidate rule for an action name (rules whose `actions` match
    /// it), in rank order.
    pub fn candidates(&self, action: &str) -> impl Iterator<Item = &CompiledRule> {
        self.by_action
            .get(action)
            .map(|b| b.all.as_slice())
            .unwrap_or_default()
            .iter()
            .filter_map(|i| self.rules.get(*i as usize))
    }

    /// Whether `action` may be checked: it is the newest version of its
    /// name, or an older version kept callable by `callable_old_versions`.
    pub fn is_callable(&self, action: &ActionDef) -> bool {
        self.is_newest(action) || self.by_old_version.contains_key(&action.key())
    }

    /// Every callable action version: the newest of each name, then the
    /// older versions `callable_old_versions` keeps.
    pub fn callable_actions(&self) -> impl Iterator<Item = &std::sync::Arc<ActionDef>> {
        self.registry.latest().chain(
            self.registry
                .all_versions()
                .filter(|a| self.by_old_version.contains_key(&a.key())),
        )
    }

    fn is_newest(&self, action: &ActionDef) -> bool {
        self.registry
            .newest(&action.name)
            .is_some_and(|n| n.version == action.version)
    }

    /// The candidates that can match a request for `action` on `target`
    /// (`None`: unknown target), in rank order.
    /// With `all`, every candidate (for traces).
    pub(crate) fn candidates_for(
        &self,
        action: &ActionDef,
        target: Option<&Target>,
        all: bool,
    ) -> impl Iterator<Item = &CompiledRule> {
        let buckets = if self.is_newest(action) {
            self.by_action.get(&action.name)
        } else {
            self.by_old_version.get(&action.key())
        };
        let list = match (buckets, target) {
            (None, _) => &[][..],
            (Some(b), _) if all => b.all.as_slice(),
            (Some(b), None) => b.no_target.as_slice(),
            (Some(b), Some(t)) => b
                .by_env
                .get(&t.environment)
                .map_or(b.other_env.as_slice(), Vec::as_slice),
        };
        list.iter().filter_map(|i| self.rules.get(*i as usize))
    }
}

/// The candidate rules of one action version, in rank order and by environment.
fn buckets_for(rules: &[CompiledRule], action: &ActionDef) -> Buckets {
    let mut idx: Vec<u32> = rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.matches_action_version(action))
        .filter_map(|(i, _)| u32::try_from(i).ok())
        .collect();
    idx.sort_by(|a, b| {
        let ra = rules.get(*a as usize).map(CompiledRule::rank);
        let rb = rules.get(*b as usize).map(CompiledRule::rank);
        rb.cmp(&ra).then(a.cmp(b))
    });
    let envs_of = |i: &u32| {
        rules
            .get(*i as usize)
            .and_then(|r| r.rule.matcher.targets.as_ref())
            .and_then(|t| t.environments.as_ref())
    };
    let mut buckets = Buckets::default();
    let named: std::collections::BTreeSet<&String> =
        idx.iter().filter_map(envs_of).flatten().collect();
    for env in named {
        let list = idx
            .iter()
            .copied()
            .filter(|i| envs_of(i).is_none_or(|e| e.contains(env)))
            .collect();
        buckets.by_env.insert(env.clone(), list);
    }
    buckets.other_env = idx
        .iter()
        .copied()
        .filter(|i| envs_of(i).is_none())
        .collect();
    buckets.no_target = idx
        .iter()
        .copied()
        .filter(|i| rules.get(*i as usize).is_some_and(|r| r.target.is_none()))
        .collect();
    buckets.all = idx;
    buckets
}

/// The older versions `callable_old_versions` keeps callable. An entry that
/// names no existing action or version is an error: a stale entry would
/// otherwise hide that the version it meant is gone.
fn callable_old_versions<'a>(
    registry: &'a Registry,
    settings: &EngineSettings,
    d: &mut Diagnostics,
) -> Vec<&'a std::sync::Arc<ActionDef>> {
    let mut keep: HashSet<String> = HashSet::new();
    for entry in &settings.callable_old_versions {
        let (name, version) = entry.split_once('@').unwrap_or((entry.as_str(), "*"));
        let problem = match registry.versions(name) {
            None => Some(
                crate::registry::LookupError::UnknownAction {
                    name: name.to_owned(),
                    suggestion: crate::diag::did_you_mean(
                        name,
                        registry.latest().map(|a| a.name.as_str()),
                    )
                    .map(str::to_owned),
                }
                .to_string(),
            ),
            Some(versions) => {
                if version == "*" {
                    keep.extend(versions.map(|a| a.key()));
                    None
                } else if versions.clone().any(|a| a.version == version) {
                    keep.insert(entry.clone());
                    None
                } else {
                    Some(format!(
                        "action `{name}` has no version `{version}` (available: {})",
                        versions
                            .map(|a| a.version.clone())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                }
            }
        };
        if let Some(p) = problem {
            d.push(
                Diagnostic::error(
                    settings
                        .source
                        .as_deref()
                        .unwrap_or(Path::new(crate::config::CONFIG_FILE_NAME)),
                    settings.positions.get(entry).copied().unwrap_or(Pos::FILE),
                    format!("`callable_old_versions` entry `{entry}`: {p}"),
                )
                .with_help("name an existing `name@version` (see `agent-safe list-actions --all-versions`), or remove the entry"),
            );
        }
    }
    registry
        .all_versions()
        .filter(|a| keep.contains(&a.key()))
        .filter(|a| {
            registry
                .newest(&a.name)
                .is_some_and(|n| n.version != a.version)
        })
        .collect()
}

/// A rule whose `actions` entry selects no action is an error: it is almost
/// always a typo, and a rule that silently matches nothing lets the request
/// fall through to another rule.
fn unknown_action_errors(rules: &[CompiledRule], registry: &Registry, d: &mut Diagnostics) {
    let names: Vec<&str> = registry.latest().map(|a| a.name.as_str()).collect();
    for r in rules {
        let Some(pats) = &r.rule.matcher.actions else {
            continue;
        };
        for p in pats {
            let Some(g) = single_glob(p) else {
                continue;
            };
            let hit = registry
                .all_versions()
                .any(|a| g.is_match(&a.name) || g.is_match(a.key()));
            if hit {
                continue;
            }
            let name = p.split_once('@').map_or(p.as_str(), |(n, _)| n);
            let help = match (
                registry.versions(name),
                crate::diag::did_you_mean(name, names.iter().copied()),
            ) {
                (Some(v), _) => format!(
                    "`{name}` has the versions {}; write `{name}` for every version, or `{name}@VERSION`",
                    v.map(|a| a.version.clone()).collect::<Vec<_>>().join(", ")
                ),
                (None, Some(s)) => format!("did you mean `{s}`?"),
                (None, None) => {
                    "name an action of the catalogue or the project (`agent-safe list-actions`)"
                        .to_owned()
                }
            };
            d.push(
                Diagnostic::error(
                    &r.rule.origin.file,
                    r.rule.origin.pos,
                    format!(
                        "rule `{}`: `actions` entry `{p}` matches no known action",
                        r.rule.name
                    ),
                )
                .with_help(help),
            );
        }
    }
}

/// Every `required_privileges` entry must be a resource and verb of the
/// built-in Kubernetes API table, or a resource listed in `custom_resources`:
/// a misspelt privilege would otherwise reach `agent-safe rbac` and grant a
/// resource that does not exist (or miss the one that was meant).
fn check_privileges(config: &Config, registry: &Registry, d: &mut Diagnostics) {
    for a in registry.all_versions() {
        for p in &a.required_privileges {
            if crate::privilege::provider_privilege(p).is_some() {
                continue;
            }
            let problem = match crate::privilege::parse_privilege(p) {
                Ok(parsed) => match crate::privilege::check_privilege(&parsed) {
                    Ok(_) => None,
                    Err(e) => {
                        let custom = format!("{}/{}", parsed.group, parsed.resource);
                        (!config.custom_resources.contains(&custom))
                            .then_some((e.to_string(), true))
                    }
                },
                Err(e) => Some((e.to_string(), false)),
            };
            let Some((problem, resource_problem)) = problem else {
                continue;
            };
            let mut diag = Diagnostic::error(
                &a.origin.file,
                a.origin.pos,
                format!(
                    "action `{}`: `required_privileges` entry `{p}` is not Kubernetes RBAC: {problem}",
                    a.key()
                ),
            );
            diag = diag.with_help(if resource_problem {
                "fix the privilege; for a custom resource, list its `group/resource` under `custom_resources:` in agent-safe.yaml"
            } else {
                "write `[group/]resource[/subresource]:verb`, e.g. `apps/deployments:patch`"
            });
            d.push(diag);
        }
    }
}

/// Builds the token settings from the config, reading secrets from their
/// files or environment variables.
pub fn identity_config(config: &Config) -> Result<IdentityConfig, ConfigError> {
    let file = config
        .source
        .clone()
        .unwrap_or_else(|| Path::new("agent-safe.yaml").to_path_buf());
    let mut d = Diagnostics::new();
    let mut keys = Vec::new();
    for k in &config.identity.keys {
        let label = k.kid.as_deref().unwrap_or("(no kid)");
        let encoded = if let Some(p) = &k.secret_file {
            // `read_file`: a FIFO or a dangling symlink is an error, never
            // a hang, and a key rewritten in place is not read half-written.
            match crate::load::read_file(p) {
                Ok(s) => Some(s.text.trim().to_owned()),
                Err(e) => {
                    let e = e.first().map(|d| d.message.clone()).unwrap_or_default();
                    d.push(
                        Diagnostic::error(&file, Pos::FILE, format!("cannot read the secret of signing key {label} from {}: {e}", p.display()))
                            .with_help("create it with `agent-safe init`, or point `secret_file` at an existing key file"),
                    );
                    None
                }
            }
        } else if let Some(var) = &k.secret_env {
            match std::env::var(var) {
                Ok(s) => Some(s.trim().to_owned()),
                Err(_) => {
                    d.push(
                        Diagnostic::error(
                            &file,
                            Pos::FILE,
                            format!(
                                "environment variable `{var}` for signing key {label} is not set"
                            ),
                        )
                        .with_help(format!(
                            "export {var}=<secret>, e.g. from a Kubernetes Secret"
                        )),
                    );
                    None
                }
            }
        } else {
            k.secret.clone()
        };
        if let Some(encoded) = encoded {
            match SigningKey::from_encoded(k.kid.clone(), &encoded) {
                Ok(key) => keys.push(key),
                Err(e) => d.push(Diagnostic::error(
                    &file,
                    Pos::FILE,
                    format!("signing key {label}: {e}"),
                )),
            }
        }
    }
    let mut issuers = Vec::new();
    for i in &config.identity.issuers {
        let settings = CacheSettings {
            refresh_seconds: i.refresh_seconds,
            min_refetch_seconds: i.min_refetch_seconds,
            max_stale_seconds: i.max_stale_seconds,
        };
        let loaded = match &i.jwks_file {
            Some(path) => JwksCache::load(KeySource::File(path.clone()), settings),
            None => Ok(JwksCache::lazy(
                KeySource::Discovery {
                    issuer: i.issuer.clone(),
                    ca_file: i.ca_file.clone(),
                    token_file: i.token_file.clone(),
                },
                settings,
            )),
        };
        match loaded {
            Ok(cache) => issuers.push(TrustedIssuer {
                issuer: i.issuer.clone(),
                audience: i.audience.clone(),
                keys: std::sync::Arc::new(cache),
            }),
            Err(e) => d.push(
                Diagnostic::error(
                    &file,
                    Pos::FILE,
                    format!("cannot load the keys of issuer `{}`: {e}", i.issuer),
                )
                .with_help(
                    "write the cluster's JWKS there: `kubectl get --raw /openid/v1/jwks > FILE`",
                ),
            ),
        }
    }
    let binding = |b: &crate::config::KubernetesBindingSettings| KubernetesBinding {
        namespace: b.namespace.clone(),
        service_account: b.name.clone(),
        roles: b.roles.clone(),
        groups: b.groups.clone(),
    };
    let cfg = IdentityConfig {
        keys,
        issuer: config.identity.issuer.clone(),
        audience: config.identity.audience.clone(),
        leeway_seconds: config.identity.leeway_seconds,
        require_signed: config.identity.require_signed,
        issuers,
        kubernetes: KubernetesMapping {
            service_accounts: config
                .identity
                .kubernetes
                .service_accounts
                .iter()
                .map(binding)
                .collect(),
            namespaces: config
                .identity
                .kubernetes
                .namespaces
                .iter()
                .map(binding)
                .collect(),
        },
    };
    if !d.has_errors()
        && let Err(e) = cfg.validate()
    {
        d.push(Diagnostic::error(
            &file,
            Pos::FILE,
            format!("identity settings: {e}"),
        ));
    }
    d.finish(cfg)
}

#[cfg(test)]
#[expect(
    clippy::unwrap_used,
    reason = "tests fail loudly: a panic is the failure report"
)]
mod tests {
    use proptest::prelude::*;

    use super::Pat;
    use crate::load::compile_glob;

    /// Patterns shaped like the fast paths (a literal, `prefix*`, `*suffix`,
    /// `*`, `**`) and like general globs, over a small alphabet so that
    /// matches are common, `/` included.
    fn pattern() -> impl Strategy<Value = String> {
        let word = "[ab/.-]{0,4}";
        prop_oneof![
            word.prop_map(|w| w),
            word.prop_map(|w| format!("{w}*")),
            word.prop_map(|w| format!("*{w}")),
            Just("*".to_owned()),
            Just("**".to_owned()),
            (word, word).prop_map(|(a, b)| format!("{a}*{b}")),
            (word, word).prop_map(|(a, b)| format!("{a}?{b}")),
            (word, word).prop_map(|(a, b)| format!("{a}**{b}")),
        ]
    }

    fn subject() -> impl Strategy<Value = String> {
        "[ab/.-]{0,8}"
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        /// A path pattern's fast path matches exactly what globset, built
        /// with the same settings, matches.
        #[test]
        fn path_fast_paths_agree_with_globset(p in pattern(), s in subject()) {
            let Ok(glob) = compile_glob(&p) else { return Ok(()) };
            let reference = glob.compile_matcher().is_match(&s);
            prop_assert_eq!(Pat::new(&p).unwrap().is_match(&s), reference, "pattern `{}` on `{}`", p, s);
        }

        /// Same for whole-id patterns (agent ids: `*` crosses `/`).
        #[test]
        fn whole_id_fast_paths_agree_with_globset(p in pattern(), s in subject()) {
            let Ok(glob) = globset::GlobBuilder::new(&p)
                .literal_separator(false)
                .backslash_escape(true)
                .build()
            else {
                return Ok(());
            };
            let reference = glob.compile_matcher().is_match(&s);
            prop_assert_eq!(Pat::whole(&p).unwrap().is_match(&s), reference, "pattern `{}` on `{}`", p, s);
        }
    }
}
