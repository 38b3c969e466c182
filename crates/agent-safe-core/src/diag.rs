//! Diagnostics: precise, human errors about configuration files.
//!
//! Every problem found while loading a file becomes a [`Diagnostic`] that names
//! the file, the line and column, what was expected and, where we can tell,
//! how to fix it. Loaders collect all the diagnostics of a file instead of
//! stopping at the first, and return them together as a [`ConfigError`].

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Serialize, Serializer};

/// A position in a source file, 1-based. `line == 0` means "the whole file".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    /// 1-based line number (0 when the problem concerns the whole file).
    pub line: u32,
    /// 1-based column number (0 when unknown).
    pub col: u32,
}

impl Pos {
    /// A position that refers to the file as a whole.
    pub const FILE: Pos = Pos { line: 0, col: 0 };

    /// Builds a position from a 1-based line and column.
    pub fn new(line: u32, col: u32) -> Self {
        Pos { line, col }
    }
}

/// How serious a diagnostic is (`error`, `warning` in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The file is rejected.
    Error,
    /// The file loads, but something deserves a look (rule analysis findings).
    Warning,
}

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file the problem is in.
    pub file: PathBuf,
    /// Where in the file.
    pub pos: Pos,
    /// What is wrong: lowercase, no trailing period, user input in backticks.
    pub message: String,
    /// How to fix it, when we can tell.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error at `pos` in `file`.
    pub fn error(file: &Path, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            file: file.to_path_buf(),
            pos,
            message: message.into(),
            help: None,
        }
    }

    /// A warning at `pos` in `file`.
    pub fn warning(file: &Path, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(file, pos, message)
        }
    }

    /// Adds a `help:` line.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// `file:line:col`, or just `file` for whole-file problems.
    pub fn location(&self) -> String {
        let file = self.file.display();
        match (self.pos.line, self.pos.col) {
            (0, _) => format!("{file}"),
            (line, 0) => format!("{file}:{line}"),
            (line, col) => format!("{file}:{line}:{col}"),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}: {label}: {}", self.location(), self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// The one JSON form of a diagnostic, used by the CLI's `--output json` and
/// the Python exceptions' structured details: `line` and `column` are 1-based
/// and `null` when unknown (a whole-file problem, or no column), never 0.
#[derive(Serialize)]
struct DiagnosticJson<'a> {
    severity: Severity,
    file: String,
    line: Option<u32>,
    column: Option<u32>,
    message: &'a str,
    help: Option<&'a str>,
}

impl Serialize for Diagnostic {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let known = self.pos.line > 0;
        DiagnosticJson {
            severity: self.severity,
            file: self.file.display().to_string(),
            line: known.then_some(self.pos.line),
            column: (known && self.pos.col > 0).then_some(self.pos.col),
            message: &self.message,
            help: self.help.as_deref(),
        }
        .serialize(s)
    }
}

/// One or more diagnostics that made a load fail.
///
/// Never empty: every constructor takes at least one diagnostic, so a failed
/// load always says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Every problem found, in file order; at least one.
    diagnostics: Vec<Diagnostic>,
}

impl ConfigError {
    /// A load error with a single diagnostic.
    pub fn single(d: Diagnostic) -> Self {
        ConfigError {
            diagnostics: vec![d],
        }
    }

    /// An error about a file as a whole (cannot read it, and so on).
    pub fn file(file: &Path, message: impl Into<String>) -> Self {
        ConfigError::single(Diagnostic::error(file, Pos::FILE, message))
    }

    /// A load error with these diagnostics; `None` when there are none.
    pub fn from_diagnostics(diagnostics: Vec<Diagnostic>) -> Option<Self> {
        (!diagnostics.is_empty()).then_some(ConfigError { diagnostics })
    }

    /// Every problem found, in file order (at least one).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// Every problem found, in file order (at least one).
    pub fn into_diagnostics(self) -> Vec<Diagnostic> {
        self.diagnostics
    }

    /// The first diagnostic (there is always one, so this is never `None`).
    pub fn first(&self) -> Option<&Diagnostic> {
        self.diagnostics.first()
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for d in &self.diagnostics {
            if !first {
                writeln!(f)?;
            }
            first = false;
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Collects diagnostics while a loader walks a file.
#[derive(Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a diagnostic.
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    /// Records every diagnostic of a failed load.
    pub fn extend(&mut self, e: ConfigError) {
        self.items.extend(e.diagnostics);
    }

    /// Removes the diagnostics for which `pred` is true.
    pub fn remove_where(&mut self, pred: impl Fn(&Diagnostic) -> bool) {
        self.items.retain(|d| !pred(d));
    }

    /// True when an error (not only warnings) was recorded.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    /// Finishes: `Ok(value)` when there were no errors, else all diagnostics,
    /// sorted by file and position.
    pub fn finish<T>(mut self, value: T) -> Result<T, ConfigError> {
        if self.has_errors() {
            self.items
                .sort_by(|a, b| (&a.file, a.pos).cmp(&(&b.file, b.pos)));
            Err(ConfigError {
                // Not empty: `has_errors` found one.
                diagnostics: self.items,
            })
        } else {
            Ok(value)
        }
    }

    /// The collected diagnostics.
    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.items
    }

    /// The load failed: the collected diagnostics, in the order recorded, as
    /// an error. A caller that fails without having recorded a problem still
    /// fails (closed), with a diagnostic that says so about `file`.
    pub fn into_error(self, file: &Path) -> ConfigError {
        ConfigError::from_diagnostics(self.items).unwrap_or_else(|| {
            ConfigError::file(
                file,
                "internal error: the load failed without saying why; please report this",
            )
        })
    }
}

/// The closest candidate to `input`, when one is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut best: Option<(f64, &'a str)> = None;
    for c in candidates {
        let score = strsim::jaro_winkler(input, c);
        if score >= 0.8 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
#[expect(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    reason = "tests fail loudly: a panic is the failure report"
)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_keys_only() {
        let keys = ["name", "version", "risk_class", "target_types"];
        assert_eq!(did_you_mean("risk_clas", keys), Some("risk_class"));
        assert_eq!(did_you_mean("riskclass", keys), Some("risk_class"));
        assert_eq!(did_you_mean("target_type", keys), Some("target_types"));
        assert_eq!(did_you_mean("zzz", keys), None);
    }

    #[test]
    fn renders_location_and_help() {
        let d = Diagnostic::error(Path::new("a.yaml"), Pos::new(3, 5), "unknown key `x`")
            .with_help("remove it");
        assert_eq!(
            d.to_string(),
            "a.yaml:3:5: error: unknown key `x`\n  help: remove it"
        );
        let d = Diagnostic::error(Path::new("a.yaml"), Pos::FILE, "cannot read");
        assert_eq!(d.to_string(), "a.yaml: error: cannot read");
    }

    #[test]
    fn json_form_has_null_for_unknown_positions() {
        let d = Diagnostic::error(Path::new("a.yaml"), Pos::new(3, 5), "unknown key `x`")
            .with_help("remove it");
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            serde_json::json!({"severity": "error", "file": "a.yaml", "line": 3, "column": 5,
                               "message": "unknown key `x`", "help": "remove it"})
        );
        let w = Diagnostic::warning(Path::new("a.yaml"), Pos::new(3, 0), "m");
        let v = serde_json::to_value(&w).unwrap();
        assert_eq!(v["severity"], "warning");
        assert_eq!(
            (v["line"].clone(), v["column"].clone()),
            (3.into(), serde_json::Value::Null)
        );
        let f = Diagnostic::error(Path::new("a.yaml"), Pos::FILE, "cannot read");
        let v = serde_json::to_value(&f).unwrap();
        assert!(v["line"].is_null() && v["column"].is_null() && v["help"].is_null());
    }
}
