//! Shadow mode: a candidate snapshot evaluated beside the enforced one on
//! every check, and never enforced.
//!
//! `shadow: {policies: DIR}` in `agent-safe.yaml` makes the candidate from
//! this configuration with other policy files; `shadow: {config: PATH}`
//! loads a whole candidate configuration. Each check asks the candidate the
//! same question (the same request, the caller identified once by the
//! enforced configuration, the same evaluation time) after the enforced
//! decision is made. When the candidate's result or winning rule differs,
//! the audit event's `shadow` field records what it decided; when it could
//! not decide (it failed to load, or its evaluation failed), the field
//! records the error. Neither ever changes the enforced decision.
//!
//! A candidate that fails to load never stops the enforced policy: the
//! checks go on, and record the error. A candidate that fails to reload
//! keeps the previous candidate in use (its digest is in every `shadow`
//! record), and the error is reported by [`Shadow::status`].

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::audit::ShadowInfo;
use crate::config::{Config, ShadowSettings, load_config};
use crate::diag::{ConfigError, Diagnostic};
use crate::engine::{Decision, Request, Snapshot};
use crate::model::DecisionResult;

/// The candidate in use, or why there is none.
struct Candidate {
    snapshot: Option<Arc<Snapshot>>,
    /// Why the most recent load failed (the previous snapshot, if any, stays).
    error: Option<String>,
}

/// The result orders of the disagreement counters: `from` is the enforced
/// result, `to` the candidate's, or [`TO_ERROR`] when it could not decide.
const RESULTS: [DecisionResult; 3] = [
    DecisionResult::Allow,
    DecisionResult::RequireApproval,
    DecisionResult::Deny,
];
const TO_ERROR: usize = 3;

/// A shadow candidate and its disagreement counters.
pub struct Shadow {
    settings: ShadowSettings,
    candidate: ArcSwap<Candidate>,
    /// `[from][to]`, `to` being a result index or [`TO_ERROR`].
    counts: [[AtomicU64; 4]; 3],
}

impl std::fmt::Debug for Shadow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shadow")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// How many checks the candidate decided differently, by enforced result
/// and candidate result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShadowDisagreement {
    /// The enforced result (`allow`, `require_approval`, `deny`).
    pub from: String,
    /// The candidate's result, or `error` when it could not decide.
    /// `from == to` counts checks decided the same way by another rule.
    pub to: String,
    /// How many checks.
    pub count: u64,
}

/// The state of shadow mode, for `/readyz`, logs and the SDK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShadowStatus {
    /// What the candidate is: `policies` or `config`.
    pub kind: String,
    /// The candidate's policy directory or configuration file.
    pub path: PathBuf,
    /// The digest of the candidate in use (`sha256:…`), or null when none
    /// has loaded.
    pub snapshot: Option<String>,
    /// Why the most recent load of the candidate failed, or null.
    pub error: Option<String>,
    /// Checks decided differently since the process started, by enforced
    /// and candidate result (every pair, zeros included).
    pub disagreements: Vec<ShadowDisagreement>,
}

/// The configuration the candidate is loaded from.
///
/// # Errors
/// The candidate configuration file does not load, or has a `shadow`
/// section of its own (a shadow does not nest).
pub fn candidate_config(primary: &Config, s: &ShadowSettings) -> Result<Config, ConfigError> {
    match (&s.policies, &s.config) {
        (Some(p), _) => Ok(Config {
            policies: Some(p.clone()),
            shadow: None,
            ..primary.clone()
        }),
        (None, Some(path)) => {
            let c = load_config(path)?;
            if let Some(inner) = &c.shadow {
                return Err(ConfigError::single(
                    Diagnostic::error(
                        path,
                        inner.pos,
                        "a shadow configuration cannot have a `shadow` section of its own",
                    )
                    .with_help(
                        "remove it: only the enforced configuration names a shadow, and a shadow does not nest",
                    ),
                ));
            }
            Ok(c)
        }
        (None, None) => Err(ConfigError::single(
            Diagnostic::error(
                primary
                    .source
                    .as_deref()
                    .unwrap_or(std::path::Path::new("agent-safe.yaml")),
                s.pos,
                "the shadow section needs exactly one of `policies` and `config`",
            )
            .with_help("`policies: policies.next`, or `config: agent-safe.next.yaml`"),
        )),
    }
}

/// Loads the candidate snapshot of `primary`'s `shadow` section.
///
/// # Errors
/// Every problem of the candidate's files, named by file, line and column.
pub fn load_candidate(primary: &Config, s: &ShadowSettings) -> Result<Snapshot, ConfigError> {
    load_candidate_with(primary, s, None)
}

/// Like [`load_candidate`], with the enforced side's live inventory (the
/// sidecar's `inventory_sync.live`): a candidate that reads the same
/// inventory as the enforced configuration (always with `policies:`; with
/// `config:` when it names the same `inventory` file) is compiled with those
/// targets too, so the two sides never disagree only because one of them
/// sees the file and the other the cluster.
///
/// # Errors
/// Every problem of the candidate's files, named by file, line and column.
pub fn load_candidate_with(
    primary: &Config,
    s: &ShadowSettings,
    live: Option<&[crate::model::Target]>,
) -> Result<Snapshot, ConfigError> {
    let cfg = candidate_config(primary, s)?;
    let targets = live
        .filter(|_| cfg.inventory == primary.inventory)
        .map(<[crate::model::Target]>::to_vec);
    Snapshot::load_with_targets(&cfg, targets)
}

/// A diagnostic list in one line for an audit record: the first problem and
/// how many more.
fn summary(e: &ConfigError) -> String {
    let first = e
        .first()
        .map(|d| format!("{}: {}", d.location(), d.message))
        .unwrap_or_else(|| e.to_string());
    match e.diagnostics().len() {
        0 | 1 => first,
        n => format!("{first} (and {} more)", n - 1),
    }
}

fn index(r: DecisionResult) -> usize {
    RESULTS.iter().position(|x| *x == r).unwrap_or(TO_ERROR)
}

impl Shadow {
    /// Loads the candidate of `primary`'s `shadow` section. A candidate that
    /// fails to load is kept as an error (every check records it); it never
    /// stops the enforced policy.
    pub fn open(primary: &Config, settings: &ShadowSettings) -> Shadow {
        let candidate = match load_candidate(primary, settings) {
            Ok(s) => Candidate {
                snapshot: Some(Arc::new(s)),
                error: None,
            },
            Err(e) => Candidate {
                snapshot: None,
                error: Some(summary(&e)),
            },
        };
        Shadow {
            settings: settings.clone(),
            candidate: ArcSwap::from_pointee(candidate),
            counts: Default::default(),
        }
    }

    /// Reloads the candidate (with the enforced side's live inventory, see
    /// [`load_candidate_with`]). On failure the previous candidate (if one
    /// loaded) stays in use and the error is kept for [`Shadow::status`].
    ///
    /// # Errors
    /// The candidate's load errors.
    pub fn reload(
        &self,
        primary: &Config,
        live: Option<&[crate::model::Target]>,
    ) -> Result<(), ConfigError> {
        match load_candidate_with(primary, &self.settings, live) {
            Ok(s) => {
                self.candidate.store(Arc::new(Candidate {
                    snapshot: Some(Arc::new(s)),
                    error: None,
                }));
                Ok(())
            }
            Err(e) => {
                let previous = self.candidate.load().snapshot.clone();
                self.candidate.store(Arc::new(Candidate {
                    snapshot: previous,
                    error: Some(summary(&e)),
                }));
                Err(e)
            }
        }
    }

    /// The candidate snapshot in use, when one has loaded.
    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.candidate.load().snapshot.clone()
    }

    /// Asks the candidate the question the enforced snapshot answered with
    /// `enforced`, at the same times. `None` when it decides the same way
    /// by the same rule; otherwise what it decided, or why it could not.
    pub(crate) fn compare(
        &self,
        request: &Request<'_>,
        now: Timestamp,
        at: Option<Timestamp>,
        enforced: &Decision,
    ) -> Option<ShadowInfo> {
        let candidate = self.candidate.load();
        let from = index(enforced.result);
        let Some(snap) = &candidate.snapshot else {
            self.count(from, TO_ERROR);
            return Some(error_info(
                None,
                format!(
                    "the shadow candidate is not loaded: {}",
                    candidate.error.as_deref().unwrap_or("unknown cause")
                ),
            ));
        };
        // No trace: only the result and the winner are compared.
        let req = Request {
            explain: false,
            ..*request
        };
        // The engine has no panics (the lints deny them); this guard keeps
        // a bug in the candidate's evaluation from ever reaching the
        // enforced decision.
        match std::panic::catch_unwind(AssertUnwindSafe(|| snap.evaluate(&req, now, at))) {
            Ok(d) if d.result == enforced.result && d.policy_matched == enforced.policy_matched => {
                None
            }
            Ok(d) => {
                self.count(from, index(d.result));
                Some(ShadowInfo {
                    decision: Some(d.result.as_str().to_owned()),
                    error: None,
                    policy_matched: d.policy_matched,
                    reason: Some(d.reason),
                    snapshot: snap.digest.clone(),
                })
            }
            Err(_) => {
                self.count(from, TO_ERROR);
                Some(error_info(
                    snap.digest.clone(),
                    "the shadow candidate's evaluation failed (an internal error; please report it)"
                        .to_owned(),
                ))
            }
        }
    }

    fn count(&self, from: usize, to: usize) {
        if let Some(c) = self.counts.get(from).and_then(|row| row.get(to)) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Disagreements so far, every (from, to) pair, zeros included.
    pub fn disagreements(&self) -> Vec<ShadowDisagreement> {
        let mut out = Vec::with_capacity(12);
        for (from, row) in RESULTS.iter().zip(&self.counts) {
            for (to, c) in row.iter().enumerate() {
                out.push(ShadowDisagreement {
                    from: from.as_str().to_owned(),
                    to: RESULTS.get(to).map_or("error", |r| r.as_str()).to_owned(),
                    count: c.load(Ordering::Relaxed),
                });
            }
        }
        out
    }

    /// What the candidate is, which one is in use, and its last load error.
    pub fn status(&self) -> ShadowStatus {
        let c = self.candidate.load();
        let (kind, path) = match (&self.settings.policies, &self.settings.config) {
            (Some(p), _) => ("policies", p.clone()),
            (None, Some(p)) => ("config", p.clone()),
            (None, None) => ("policies", PathBuf::new()),
        };
        ShadowStatus {
            kind: kind.to_owned(),
            path,
            snapshot: c.snapshot.as_ref().and_then(|s| s.digest.clone()),
            error: c.error.clone(),
            disagreements: self.disagreements(),
        }
    }

    /// The files the candidate is read from, for a watcher: the policy
    /// directory, or the candidate configuration file and the files it
    /// names.
    pub fn watched_paths(&self, primary: &Config) -> Vec<PathBuf> {
        match (&self.settings.policies, &self.settings.config) {
            (Some(p), _) => vec![p.clone()],
            (None, Some(path)) => {
                let mut out = vec![path.clone()];
                if let Ok(c) = candidate_config(primary, &self.settings) {
                    out.extend([c.actions, c.policies, c.inventory].into_iter().flatten());
                }
                out
            }
            (None, None) => Vec::new(),
        }
    }
}

fn error_info(snapshot: Option<String>, error: String) -> ShadowInfo {
    ShadowInfo {
        decision: None,
        error: Some(error),
        policy_matched: None,
        reason: None,
        snapshot,
    }
}
