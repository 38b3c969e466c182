//! Loaders: YAML files → checked model.
//!
//! Each loader reads a file or a directory of `.yaml`/`.yml` files, checks
//! every field, and returns either the model or *all* the problems it found
//! (file, line, column, what was expected, how to fix it).

mod action;
mod inventory;
mod policy;

use std::path::{Path, PathBuf};

pub use action::parse_action;
pub(crate) use action::parse_action_json;
pub use inventory::{load_inventory, parse_inventory};
pub use policy::{load_policies, parse_policy};
// The key orders `fmt` writes in: the loaders', which the docs follow.
pub(crate) use inventory::TARGET_KEYS as INVENTORY_TARGET_KEYS;
pub(crate) use policy::{CALLER_KEYS, MATCH_KEYS, RULE_KEYS, TARGET_KEYS, WINDOW_KEYS};

/// The keys one mapping of a file kind accepts, and where that mapping is
/// described in the kind's JSON Schema (`agent-safe schema KIND`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedKeys {
    /// The file kind, as `agent-safe schema` names it (`action`, `policy`, …).
    pub kind: &'static str,
    /// The schema definition (`$defs` name) of the mapping; `None` for the
    /// file's top level.
    pub definition: Option<&'static str>,
    /// Every key the strict reader accepts there.
    pub keys: Vec<&'static str>,
}

/// The keys every strict reader of the core accepts, mapping by mapping: one
/// source of truth checked against the generated JSON Schemas by a test, so
/// that an editor's schema and the loader never disagree.
pub fn accepted_keys() -> Vec<AcceptedKeys> {
    let k = |kind, definition, keys: &[&'static str]| AcceptedKeys {
        kind,
        definition,
        keys: keys.to_vec(),
    };
    let mut action_root = action::ACTION_KEYS.to_vec();
    action_root.extend_from_slice(action::RESERVED_ACTION_KEYS);
    vec![
        AcceptedKeys {
            kind: "action",
            definition: None,
            keys: action_root,
        },
        k("action", Some("Parameter"), action::PARAM_KEYS),
        k("action", Some("Constraints"), action::CONSTRAINT_KEYS),
        k("action", Some("Precheck"), action::PRECHECK_KEYS),
        k("policy", None, policy::ROOT_KEYS),
        k("policy", Some("Rule"), policy::RULE_KEYS),
        k("policy", Some("RuleMatch"), policy::MATCH_KEYS),
        k("policy", Some("TargetSelector"), policy::TARGET_KEYS),
        k("policy", Some("CallerSelector"), policy::CALLER_KEYS),
        k("policy", Some("TimeWindow"), policy::WINDOW_KEYS),
        k("inventory", None, inventory::ROOT_KEYS),
        k("inventory", Some("Target"), inventory::TARGET_KEYS),
        k("config", None, crate::config::ROOT_KEYS),
        k("config", Some("AuditSettings"), crate::config::AUDIT_KEYS),
        k(
            "config",
            Some("CheckpointSettings"),
            crate::config::CHECKPOINT_KEYS,
        ),
        k(
            "config",
            Some("RotationSettings"),
            crate::config::ROTATION_KEYS,
        ),
        k(
            "config",
            Some("IdentitySettings"),
            crate::config::IDENTITY_KEYS,
        ),
        k("config", Some("KeySettings"), crate::config::KEY_KEYS),
        k("config", Some("IssuerSettings"), crate::config::ISSUER_KEYS),
        k(
            "config",
            Some("KubernetesSettings"),
            crate::config::KUBERNETES_KEYS,
        ),
        k(
            "config",
            Some("KubernetesBindingSettings"),
            crate::config::SA_BINDING_KEYS,
        ),
        k(
            "config",
            Some("KubernetesNamespaceBindingSettings"),
            crate::config::NS_BINDING_KEYS,
        ),
        k("config", Some("McpSettings"), crate::mapping::MCP_KEYS),
        k(
            "config",
            Some("UpstreamSettings"),
            crate::mapping::UPSTREAM_KEYS,
        ),
        k("config", Some("ToolRule"), crate::mapping::RULE_KEYS),
        k("mcp", None, crate::mapping::MCP_KEYS),
        k(
            "mcp",
            Some("UpstreamSettings"),
            crate::mapping::UPSTREAM_KEYS,
        ),
        k("mcp", Some("ToolRule"), crate::mapping::RULE_KEYS),
        k("config", Some("ServerSettings"), crate::config::SERVER_KEYS),
        k(
            "config",
            Some("InventorySyncSettings"),
            crate::k8s::sync::SYNC_KEYS,
        ),
        k(
            "config",
            Some("InventoryMappingRule"),
            crate::k8s::sync::MAPPING_KEYS,
        ),
        k("config", Some("ShadowSettings"), crate::config::SHADOW_KEYS),
        k("plan", None, crate::plan::PLAN_KEYS),
        k("plan", Some("PlanStep"), crate::plan::STEP_KEYS),
    ]
}

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

/// The files of a configured path, read as one consistent snapshot, and
/// what was seen but not loaded.
#[derive(Debug, Clone, Default)]
pub struct SourceSet {
    /// The files that were read, in path order.
    pub files: Vec<SourceFile>,
    /// Warnings about directory entries that were not loaded (a name with
    /// another extension than `.yaml`/`.yml`, other than a `README*`).
    pub warnings: Vec<Diagnostic>,
}

/// How many times a set of files is read before giving up because it kept
/// changing while it was read.
pub const READ_ATTEMPTS: u32 = 6;

/// Reads `path`: a single file, or every `.yaml`/`.yml` file under a directory
/// (recursively, in name order). See [`read_source_set`]; this drops the
/// warnings.
pub fn read_sources(path: &Path) -> Result<Vec<SourceFile>, ConfigError> {
    read_source_set(path).map(|s| s.files)
}

/// Reads `path` — a single file, or every `.yaml`/`.yml` file (any case)
/// under a directory, recursively, in name order — as one consistent
/// snapshot.
///
/// * Entries whose name starts with `.` are skipped, which also skips the
///   `..data` machinery of Kubernetes ConfigMap volumes while following their
///   top-level symlinks.
/// * Every other entry is either loaded or reported: a dangling symlink or a
///   FIFO, socket or device is an error (found from its metadata, never by
///   opening it, so a FIFO cannot block the reader); a regular file with
///   another extension is a warning naming it.
/// * A file rewritten in place is read empty or half-written for a moment.
///   So after reading, the identity of every entry (device, inode, size,
///   modification and change times) is taken again, and everything is read
///   again if anything changed, up to [`READ_ATTEMPTS`] times with a short,
///   growing pause; if the files never hold still, the read fails.
pub fn read_source_set(path: &Path) -> Result<SourceSet, ConfigError> {
    let mut pause = std::time::Duration::from_millis(5);
    let mut last_changed: Vec<PathBuf> = Vec::new();
    for attempt in 1..=READ_ATTEMPTS {
        let before = fingerprint(path);
        let result = read_once(path);
        let after = fingerprint(path);
        let mut changed = changed_paths(&before, &after);
        if let Ok((_, stamps)) = &result {
            // The inode that was read must be the one the walk saw, unchanged.
            for (p, stamp) in stamps {
                if before.get(p) != Some(&Some(*stamp)) && !changed.contains(p) {
                    changed.push(p.clone());
                }
            }
        }
        if changed.is_empty() {
            // A file that is empty and was modified a moment ago is most
            // likely truncated by a writer that has not written yet (`cp`,
            // `>`): give the writer the remaining attempts before the empty
            // file is reported (it is an error either way, never no rules).
            let fresh_empty: Vec<PathBuf> = before
                .iter()
                .filter(|(_, st)| {
                    st.is_some_and(|st| {
                        st.len == 0 && st.mode & 0o170000 != 0o040000 && recently_modified(&st)
                    })
                })
                .map(|(p, _)| p.clone())
                .collect();
            if fresh_empty.is_empty() || attempt == READ_ATTEMPTS {
                return result.map(|(set, _)| set);
            }
            changed = fresh_empty;
        }
        last_changed = changed;
        if attempt < READ_ATTEMPTS {
            std::thread::sleep(pause);
            pause = pause.saturating_mul(2);
        }
    }
    let names = last_changed
        .iter()
        .take(3)
        .map(|p| format!("`{}`", p.display()))
        .collect::<Vec<_>>()
        .join(", ");
    Err(ConfigError::single(
        Diagnostic::error(
            path,
            Pos::FILE,
            format!(
                "files kept changing while they were read ({names}); gave up after {READ_ATTEMPTS} attempts"
            ),
        )
        .with_help(
            "a file is being written in place; try again when the write has finished, or write to a temporary file and rename it over the old one (an atomic replace)",
        ),
    ))
}

/// Warnings for the entries under `path` that no loader reads (a name with
/// another extension than `.yaml`/`.yml`); empty when `path` is a file.
/// Errors (dangling symlinks, FIFOs, …) are left to the loaders.
pub fn unloaded_entries(path: &Path) -> Vec<Diagnostic> {
    let mut warnings = Vec::new();
    if std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
        let mut files = Vec::new();
        let mut errors = Diagnostics::new();
        collect_dir(path, &mut files, &mut warnings, &mut errors, 0);
    }
    warnings.sort_by(|a, b| a.file.cmp(&b.file));
    warnings
}

/// Identity of a file as `stat` sees it: equal stamps mean the bytes read
/// belong to one version of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    mode: u32,
}

impl Stamp {
    #[cfg(unix)]
    fn of(meta: &std::fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
            mode: meta.mode(),
        }
    }

    #[cfg(not(unix))]
    fn of(meta: &std::fs::Metadata) -> Stamp {
        let nanos = |t: std::io::Result<std::time::SystemTime>| {
            t.ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or((0, 0), |d| {
                    (
                        i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                        i64::from(d.subsec_nanos()),
                    )
                })
        };
        Stamp {
            dev: 0,
            ino: 0,
            len: meta.len(),
            mtime: nanos(meta.modified()),
            ctime: nanos(meta.created()),
            mode: u32::from(meta.is_dir()),
        }
    }
}

/// Whether `st` was modified within the last second (by the wall clock).
fn recently_modified(st: &Stamp) -> bool {
    let Ok(now) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) else {
        return false;
    };
    let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    (now - st.mtime.0).abs() <= 1
}

type Fingerprint = std::collections::BTreeMap<PathBuf, Option<Stamp>>;

/// The stamp of `path` and of every entry under it (symlinks followed, as
/// the reader follows them; `None` where `stat` fails). Directories are
/// included, so an entry added or removed changes the fingerprint.
fn fingerprint(path: &Path) -> Fingerprint {
    let mut out = Fingerprint::new();
    fingerprint_into(path, &mut out, 0);
    out
}

fn fingerprint_into(path: &Path, out: &mut Fingerprint, depth: usize) {
    let meta = std::fs::metadata(path).ok();
    out.insert(path.to_path_buf(), meta.as_ref().map(Stamp::of));
    if depth > MAX_DEPTH || !meta.is_some_and(|m| m.is_dir()) {
        return;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        fingerprint_into(&entry.path(), out, depth + 1);
    }
}

fn changed_paths(a: &Fingerprint, b: &Fingerprint) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = a
        .iter()
        .filter(|(p, s)| b.get(*p) != Some(*s))
        .map(|(p, _)| p.clone())
        .collect();
    out.extend(b.keys().filter(|p| !a.contains_key(*p)).cloned());
    out
}

const MAX_DEPTH: usize = 8;

/// One pass: list, then read every file. Returns the stamp of each file as
/// it was while being read.
fn read_once(path: &Path) -> Result<(SourceSet, Vec<(PathBuf, Stamp)>), ConfigError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        ConfigError::single(
            Diagnostic::error(path, Pos::FILE, cannot_stat(path, &e))
                .with_help("check the path in agent-safe.yaml or on the command line"),
        )
    })?;
    let mut d = Diagnostics::new();
    let mut set = SourceSet::default();
    let mut files = Vec::new();
    if meta.is_dir() {
        collect_dir(path, &mut files, &mut set.warnings, &mut d, 0);
        files.sort();
    } else {
        files.push(path.to_path_buf());
    }
    let mut stamps = Vec::with_capacity(files.len());
    for f in files {
        match read_file_stamped(&f) {
            Ok((src, stamp)) => {
                set.files.push(src);
                stamps.push((f, stamp));
            }
            Err(e) => d.extend(e),
        }
    }
    d.finish((set, stamps))
}

/// "cannot read", naming a dangling symlink as such.
fn cannot_stat(path: &Path, e: &std::io::Error) -> String {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() && e.kind() == std::io::ErrorKind::NotFound => {
            let to = std::fs::read_link(path)
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            format!("dangling symlink: it points to `{to}`, which does not exist")
        }
        _ => format!("cannot read: {e}"),
    }
}

/// What kind of non-regular file `meta` describes, or `None` for a regular
/// file or directory.
fn special_kind(meta: &std::fs::Metadata) -> Option<&'static str> {
    let ft = meta.file_type();
    if ft.is_file() || ft.is_dir() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return Some("a FIFO (named pipe)");
        }
        if ft.is_socket() {
            return Some("a socket");
        }
        if ft.is_block_device() || ft.is_char_device() {
            return Some("a device");
        }
    }
    Some("not a regular file")
}

/// Reads one file, refusing non-UTF-8, oversized and non-regular files with
/// a clear error, and a file that changed while it was read.
pub fn read_file(path: &Path) -> Result<SourceFile, ConfigError> {
    let stamp = |p: &Path| std::fs::metadata(p).ok().map(|m| Stamp::of(&m));
    let mut pause = std::time::Duration::from_millis(5);
    for attempt in 1..=READ_ATTEMPTS {
        let before = stamp(path);
        let result = read_file_stamped(path);
        let after = stamp(path);
        let same_version = match &result {
            Ok((_, read)) => before == Some(*read),
            Err(_) => true,
        };
        if before == after && same_version {
            return result.map(|(src, _)| src);
        }
        if attempt < READ_ATTEMPTS {
            std::thread::sleep(pause);
            pause = pause.saturating_mul(2);
        }
    }
    Err(ConfigError::single(
        Diagnostic::error(
            path,
            Pos::FILE,
            format!(
                "the file kept changing while it was read; gave up after {READ_ATTEMPTS} attempts"
            ),
        )
        .with_help(
            "try again when the write has finished, or write to a temporary file and rename it over the old one",
        ),
    ))
}

/// Reads one file and returns its stamp; fails (for the caller to retry)
/// when the file changed between opening and the end of the read.
fn read_file_stamped(path: &Path) -> Result<(SourceFile, Stamp), ConfigError> {
    use std::io::Read;
    let meta =
        std::fs::metadata(path).map_err(|e| ConfigError::file(path, cannot_stat(path, &e)))?;
    if let Some(kind) = special_kind(&meta) {
        return Err(ConfigError::single(
            Diagnostic::error(path, Pos::FILE, format!("{kind}, not a regular file: it is not read"))
                .with_help("configuration files must be regular files (or symlinks to them); remove it or move it elsewhere"),
        ));
    }
    if meta.is_dir() {
        return Err(ConfigError::file(path, "is a directory, expected a file"));
    }
    let limit = crate::yaml::MAX_FILE_BYTES as u64;
    if meta.len() > limit {
        return Err(too_big(path, meta.len()));
    }
    let before = Stamp::of(&meta);
    let mut file = std::fs::File::open(path)
        .map_err(|e| ConfigError::file(path, format!("cannot read: {e}")))?;
    let opened = file
        .metadata()
        .map_err(|e| ConfigError::file(path, format!("cannot read: {e}")))?;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    (&mut file)
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ConfigError::file(path, format!("cannot read: {e}")))?;
    let after = file
        .metadata()
        .map_err(|e| ConfigError::file(path, format!("cannot read: {e}")))?;
    if Stamp::of(&opened) != before
        || Stamp::of(&after) != before
        || bytes.len() as u64 != before.len
    {
        return Err(ConfigError::single(
            Diagnostic::error(path, Pos::FILE, "the file changed while it was read")
                .with_help("try again when the write has finished, or write to a temporary file and rename it over the old one"),
        ));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        ConfigError::file(
            path,
            format!("not valid UTF-8 (at byte {})", e.utf8_error().valid_up_to()),
        )
    })?;
    Ok((
        SourceFile {
            path: path.to_path_buf(),
            text,
        },
        before,
    ))
}

fn too_big(path: &Path, len: u64) -> ConfigError {
    ConfigError::single(
        Diagnostic::error(
            path,
            Pos::FILE,
            format!(
                "file is {len} bytes, larger than the {}-byte limit for configuration files",
                crate::yaml::MAX_FILE_BYTES
            ),
        )
        .with_help("split it into several files in the same directory"),
    )
}

/// Whether a directory entry named `name` is a configuration file.
fn is_yaml_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".yaml") || lower.ends_with(".yml")
}

/// `README`, `README.md`, `readme.txt`, …: documentation kept beside the
/// files, never meant to be loaded, so not worth a warning.
fn is_readme(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower == "readme" || lower.starts_with("readme.")
}

fn collect_dir(
    dir: &Path,
    out: &mut Vec<PathBuf>,
    warnings: &mut Vec<Diagnostic>,
    d: &mut Diagnostics,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        d.push(Diagnostic::error(
            dir,
            Pos::FILE,
            format!("directories nested more than {MAX_DEPTH} levels deep"),
        ));
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            d.push(Diagnostic::error(
                dir,
                Pos::FILE,
                format!("cannot list: {e}"),
            ));
            return;
        }
    };
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                d.push(Diagnostic::error(
                    dir,
                    Pos::FILE,
                    format!("cannot list: {e}"),
                ));
                continue;
            }
        };
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        // Follow symlinks: ConfigMap volumes link each key into `..data/`.
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) => {
                d.push(
                    Diagnostic::error(&path, Pos::FILE, cannot_stat(&path, &e)).with_help(
                        "every entry of a configuration directory is loaded or reported: remove it, or fix what it points to",
                    ),
                );
                continue;
            }
        };
        if meta.is_dir() {
            collect_dir(&path, out, warnings, d, depth + 1);
        } else if let Some(kind) = special_kind(&meta) {
            d.push(
                Diagnostic::error(&path, Pos::FILE, format!("{kind}, not a regular file: it is not read"))
                    .with_help("configuration directories hold regular files (or symlinks to them); remove it or move it elsewhere"),
            );
        } else if is_yaml_name(&name) {
            out.push(path);
        } else if !is_readme(&name) {
            warnings.push(
                Diagnostic::warning(
                    &path,
                    Pos::FILE,
                    "not loaded: only files named `*.yaml` or `*.yml` are read",
                )
                .with_help(
                    "rename it to `.yaml` to load it (JSON is valid YAML), or move it out of the directory",
                ),
            );
        }
    }
}

/// The error for a file with no YAML document in it (empty, or only
/// comments), which is also what a file looks like while it is rewritten in
/// place.
pub(crate) fn empty_document(file: &Path, what: &str, key: &str) -> Diagnostic {
    Diagnostic::error(
        file,
        Pos::FILE,
        format!("{what} is empty: it has no `{key}:` key"),
    )
    .with_help(format!(
        "write `{key}: []` for a file that is empty on purpose; an empty file is refused because a file caught while it is rewritten in place looks empty too"
    ))
}

/// Takes the required top-level list `key` of a policy or inventory file.
/// `key:` with no value is an error of its own (it is also what a file cut
/// short by a rewrite looks like); `key: []` is the explicit empty list.
pub(crate) fn required_root_list<'a>(
    r: &mut MapReader<'a>,
    root: &'a Node,
    key: &str,
    d: &mut Diagnostics,
) -> &'a [Node] {
    let file = r.file();
    if let Value::Map(entries) = &root.value
        && let Some((k, _)) = entries
            .iter()
            .find(|(k, v)| k.name == key && v.value == Value::Null)
    {
        r.take(key);
        d.push(
            Diagnostic::error(file, k.pos, format!("`{key}:` has no value")).with_help(format!(
                "list the entries under `{key}:`, or write `{key}: []` for none"
            )),
        );
        return &[];
    }
    match r.require(key, d) {
        Some(node) => crate::yaml::list_of(file, node, key, d).unwrap_or_default(),
        None => &[],
    }
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
pub(crate) fn compile_glob(pattern: &str) -> Result<globset::Glob, globset::Error> {
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
