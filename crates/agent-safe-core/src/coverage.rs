//! Rule coverage of a set of decisions (the policy tests): for each rule, how
//! many decisions it won, how many it matched without winning, and so
//! whether the tests exercise it at all.
//!
//! Decisions must carry their trace (`explain`): a rule that is a candidate
//! for a request appears in it with whether all its selectors matched, and
//! the winner is marked. A rule that never appears, or never matches, is one
//! no test reaches: either the tests miss a case or the rule is dead.

use serde::{Deserialize, Serialize};

use crate::engine::{Decision, Snapshot};

/// What the tests did with one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleStatus {
    /// It decided at least one case.
    Decided,
    /// All its selectors matched in some case, but a higher-ranked rule won
    /// every time.
    MatchedNeverWon,
    /// It never matched any case.
    NeverMatched,
}

impl RuleStatus {
    /// The text used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleStatus::Decided => "decided",
            RuleStatus::MatchedNeverWon => "matched_never_won",
            RuleStatus::NeverMatched => "never_matched",
        }
    }
}

/// One rule's coverage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleCoverage {
    /// Rule name.
    pub rule: String,
    /// The policy file that defines it.
    pub file: String,
    /// Its line in that file.
    pub line: u32,
    /// Cases it decided (won).
    pub decided: u64,
    /// Cases in which all its selectors matched (including those it won).
    pub matched: u64,
    /// The summary of the two counts.
    pub status: RuleStatus,
}

/// The coverage of every rule of a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    /// Every rule, in file order.
    pub rules: Vec<RuleCoverage>,
    /// Rules that decided at least one case.
    pub covered: usize,
    /// All rules.
    pub total: usize,
    /// `covered / total` in percent (100 when there are no rules).
    pub percent: f64,
}

/// Counts, rule by rule, what decisions did; see [`Coverage`].
#[derive(Debug, Clone)]
pub struct CoverageCounter {
    rules: Vec<RuleCoverage>,
    index: std::collections::HashMap<String, usize>,
}

impl CoverageCounter {
    /// A counter for every rule of `snapshot`, all at zero.
    pub fn new(snapshot: &Snapshot) -> Self {
        let mut rules = Vec::with_capacity(snapshot.rules.len());
        let mut index = std::collections::HashMap::new();
        for (i, r) in snapshot.rules.iter().enumerate() {
            index.insert(r.rule.name.clone(), i);
            rules.push(RuleCoverage {
                rule: r.rule.name.clone(),
                file: r.rule.origin.file.display().to_string(),
                line: r.rule.origin.pos.line,
                decided: 0,
                matched: 0,
                status: RuleStatus::NeverMatched,
            });
        }
        CoverageCounter { rules, index }
    }

    /// Counts one decision. Its trace (`explain`) says which rules matched;
    /// without one, only the winner is counted.
    pub fn record(&mut self, d: &Decision) {
        match &d.trace {
            Some(trace) => {
                for t in trace.iter().filter(|t| t.matched) {
                    if let Some(r) = self.index.get(&t.rule).and_then(|&i| self.rules.get_mut(i)) {
                        r.matched += 1;
                    }
                }
            }
            None => {
                if let Some(r) = self.winner(d) {
                    r.matched += 1;
                }
            }
        }
        if let Some(r) = self.winner(d) {
            r.decided += 1;
        }
    }

    fn winner(&mut self, d: &Decision) -> Option<&mut RuleCoverage> {
        let name = d.policy_matched.as_ref()?;
        let i = *self.index.get(name)?;
        self.rules.get_mut(i)
    }

    /// The report.
    pub fn finish(mut self) -> Coverage {
        for r in &mut self.rules {
            r.status = if r.decided > 0 {
                RuleStatus::Decided
            } else if r.matched > 0 {
                RuleStatus::MatchedNeverWon
            } else {
                RuleStatus::NeverMatched
            };
        }
        let total = self.rules.len();
        let covered = self
            .rules
            .iter()
            .filter(|r| r.status == RuleStatus::Decided)
            .count();
        let percent = if total == 0 {
            100.0
        } else {
            (covered as f64) * 100.0 / (total as f64)
        };
        Coverage {
            rules: self.rules,
            covered,
            total,
            percent,
        }
    }
}
