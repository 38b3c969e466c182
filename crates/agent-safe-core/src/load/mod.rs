//! Loaders: YAML files → checked model.
//!
//! Each loader reads a file or a directory of `.yaml`/`.yml` files, checks
//! every field, and returns either the model or *all* the problems it found
//! (file, line, column, what was expected, how to fix it).

mod action;
mod inventory;
mod policy;

use std::path::{Path, PathBuf};

pub use action::{parse_action, parse_action_json};
pub use inventory::{load_inventory, parse_inventory};
pub use policy::{load_policies, parse_policy};

use crate::diag::{ConfigError, Diagnostic, Diagnostics, Pos};
use crate::model::{Day, Sensitivity};
use crate::yaml::{MapReader, Node, Value, type_error};

/// A file read from disk (or embedded), ready to parse.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path used in messages.
    pub path: PathBuf,
    /// The contents.
    pub text: String,
}

/// Reads `path`: a single file, or every `.yaml`/`.yml` file under a directory
/// (recursively, in name order). Entries whose name starts with `.` are
/// skipped, which also skips the `..data` machinery of Kubernetes ConfigMap
/// volumes while following their top-level symlinks.
pub fn read_sources(path: &Path) -> Result<Vec<SourceFile>, ConfigError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        ConfigError::single(
            Diagnostic::error(path, Pos::FILE, format!("cannot read: {e}"))
                .with_help("check the path in agent-safe.yaml or on the command line"),
        )
    })?;
    let mut files = Vec::new();
    if meta.is_dir() {
        collect_dir(path, &mut files, 0)?;
        files.sort();
    } else {
        files.push(path.to_path_buf());
    }
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        out.push(read_file(&f)?);
    }
    Ok(out)
}

/// Reads one file, refusing non-UTF-8 and oversized files with a clear error.
pub fn read_file(path: &Path) -> Result<SourceFile, ConfigError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| ConfigError::file(path, format!("cannot read: {e}")))?;
    if meta.len() > crate::yaml::MAX_FILE_BYTES as u64 {
        return Err(ConfigError::single(
            Diagnostic::error(
                path,
                Pos::FILE,
                format!(
                    "file is {} bytes, larger than the {}-byte limit for configuration files",
                    meta.len(),
                    crate::yaml::MAX_FILE_BYTES
                ),
            )
            .with_help("split it into several files in the same directory"),
        ));
    }
    let bytes =
        std::fs::read(path).map_err(|e| ConfigError::file(path, format!("cannot read: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        ConfigError::file(
            path,
            format!("not valid UTF-8 (at byte {})", e.utf8_error().valid_up_to()),
        )
    })?;
    Ok(SourceFile {
        path: path.to_path_buf(),
        text,
    })
}

fn collect_dir(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) -> Result<(), ConfigError> {
    if depth > 8 {
        return Err(ConfigError::file(
            dir,
            "directories nested more than 8 levels deep",
        ));
    }
    let entries =
        std::fs::read_dir(dir).map_err(|e| ConfigError::file(dir, format!("cannot list: {e}")))?;
    for entry in entries {
        let entry = entry.map_err(|e| ConfigError::file(dir, format!("cannot list: {e}")))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        // Follow symlinks: ConfigMap volumes link each key into `..data/`.
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            collect_dir(&path, out, depth + 1)?;
        } else if name.ends_with(".yaml") || name.ends_with(".yml") {
            out.push(path);
        }
    }
    Ok(())
}

/// Parses a whole file as a mapping with the given top-level keys.
pub(crate) fn parse_root(src: &SourceFile, diags: &mut Diagnostics) -> Option<Node> {
    match crate::yaml::parse(&src.path, &src.text) {
        Ok(node) => Some(node),
        Err(d) => {
            diags.push(d);
            None
        }
    }
}

/// Reads a string-enum value, reporting the valid choices on error.
pub(crate) fn enum_of<T>(
    file: &Path,
    node: &Node,
    key: &str,
    parse: fn(&str) -> Option<T>,
    choices: fn() -> String,
    diags: &mut Diagnostics,
) -> Option<T> {
    match &node.value {
        Value::Str(s) => {
            let v = parse(s);
            if v.is_none() {
                let mut d = Diagnostic::error(
                    file,
                    node.pos,
                    format!("invalid `{key}` value `{s}`: expected one of {}", choices()),
                );
                let lower = s.to_lowercase();
                if let Some(c) = parse(&lower) {
                    let _ = c;
                    d = d.with_help(format!("values are lowercase: write `{lower}`"));
                }
                diags.push(d);
            }
            v
        }
        other => {
            diags.push(
                type_error(file, node, key, "a string", other)
                    .with_help(format!("expected one of {}", choices())),
            );
            None
        }
    }
}

/// Reads a list of enum values.
pub(crate) fn enum_list_of<T>(
    file: &Path,
    node: &Node,
    key: &str,
    parse: fn(&str) -> Option<T>,
    choices: fn() -> String,
    diags: &mut Diagnostics,
) -> Option<Vec<T>> {
    let items = crate::yaml::list_of(file, node, key, diags)?;
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for item in items {
        match enum_of(file, item, key, parse, choices, diags) {
            Some(v) => out.push(v),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

pub(crate) fn sensitivity_of(
    file: &Path,
    node: &Node,
    key: &str,
    d: &mut Diagnostics,
) -> Option<Sensitivity> {
    enum_of(file, node, key, Sensitivity::parse, Sensitivity::choices, d)
}

pub(crate) fn day_of(file: &Path, node: &Node, d: &mut Diagnostics) -> Option<Day> {
    match &node.value {
        Value::Int(i) => {
            let day = Day::from_index(*i);
            if day.is_none() {
                d.push(
                    Diagnostic::error(file, node.pos, format!("invalid day `{i}`")).with_help(
                        "days are 0-6 with 0 = Monday, or mon, tue, wed, thu, fri, sat, sun",
                    ),
                );
            }
            day
        }
        Value::Str(s) => {
            let lower = s.to_lowercase();
            let short: String = lower.chars().take(3).collect();
            let full = [
                "monday",
                "tuesday",
                "wednesday",
                "thursday",
                "friday",
                "saturday",
                "sunday",
            ];
            let day = if lower.len() == 3 || full.contains(&lower.as_str()) {
                Day::parse(&short)
            } else {
                None
            };
            if day.is_none() {
                d.push(
                    Diagnostic::error(file, node.pos, format!("invalid day `{s}`")).with_help(
                        "days are mon, tue, wed, thu, fri, sat, sun, or 0-6 with 0 = Monday",
                    ),
                );
            }
            day
        }
        other => {
            d.push(type_error(file, node, "days", "a day name or 0-6", other));
            None
        }
    }
}

/// Reports duplicate names across a loaded set.
pub(crate) fn check_unique<'a>(
    what: &str,
    items: impl IntoIterator<Item = (&'a str, &'a crate::model::Origin)>,
    diags: &mut Diagnostics,
) {
    let mut seen: std::collections::HashMap<&str, &crate::model::Origin> =
        std::collections::HashMap::new();
    for (name, origin) in items {
        if let Some(first) = seen.get(name) {
            diags.push(
                Diagnostic::error(
                    &origin.file,
                    origin.pos,
                    format!("duplicate {what} `{name}`, first defined at {first}"),
                )
                .with_help(format!(
                    "{what}s must be unique: rename or remove one of them"
                )),
            );
        } else {
            seen.insert(name, origin);
        }
    }
}

/// Compiles a glob the way selectors use it: `*` does not cross `/`, `**` does,
/// backslash escapes.
pub fn compile_glob(pattern: &str) -> Result<globset::Glob, globset::Error> {
    globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
}

/// Reads a list of globs, checking each compiles.
pub(crate) fn glob_list(
    r: &mut MapReader<'_>,
    key: &str,
    d: &mut Diagnostics,
) -> Option<Vec<String>> {
    let file = r.file();
    let node = r.take(key)?;
    let items = crate::yaml::str_list_of(file, node, key, d)?;
    non_empty(file, node, key, items.len(), d);
    let mut ok = true;
    for (s, pos) in &items {
        if let Err(e) = compile_glob(s) {
            ok = false;
            d.push(
                Diagnostic::error(
                    file,
                    *pos,
                    format!("invalid glob `{s}` in `{key}`: {}", e.kind()),
                )
                .with_help(
                    "globs use `*` (within one `/` segment), `**`, `?`, `[abc]` and `{a,b}`",
                ),
            );
        }
    }
    ok.then(|| items.into_iter().map(|(s, _)| s).collect())
}

/// Reads a list of plain strings (non-empty).
pub(crate) fn str_list(
    r: &mut MapReader<'_>,
    key: &str,
    d: &mut Diagnostics,
) -> Option<Vec<String>> {
    let file = r.file();
    let node = r.take(key)?;
    let items = crate::yaml::str_list_of(file, node, key, d)?;
    non_empty(file, node, key, items.len(), d);
    Some(items.into_iter().map(|(s, _)| s).collect())
}

pub(crate) fn non_empty(file: &Path, node: &Node, key: &str, len: usize, d: &mut Diagnostics) {
    if len == 0 {
        d.push(
            Diagnostic::error(
                file,
                node.pos,
                format!("`{key}` is an empty list, which matches nothing"),
            )
            .with_help(format!(
                "remove `{key}` to match everything, or list at least one value"
            )),
        );
    }
}
