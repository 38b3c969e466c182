//! `init`: scaffold a working project.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use agent_safe_core::identity::generate_secret;
use agent_safe_core::registry::example_project;

use crate::cli::InitArgs;
use crate::error::{CliError, CmdResult, exit};
use crate::output::{Io, paint, style};

/// The check suggested after init: allowed by the example policies at any
/// time (a read on an internal staging Deployment is low effective risk,
/// and `read-only-allowed` outranks the staging freeze). A test keeps it so.
pub const SUGGESTED_CHECK: &str = r#"agent-safe check describe-deployment --target staging/api --caller demo-agent --params '{"namespace":"staging","deployment":"api"}'"#;

/// A check that the example policies send to a human.
pub const SUGGESTED_APPROVAL: &str = r#"agent-safe check restart-deployment --target prod/api --caller demo-agent --params '{"namespace":"prod","deployment":"api"}'"#;

const SECRET_PATH: &str = "secrets/signing.key";
const CHECKPOINT_KEY_PATH: &str = "secrets/checkpoint.key";

/// A checkpoint origin for a new project: `agent-safe.local/<directory>`,
/// with anything but letters, digits, `.`, `_` and `-` replaced.
fn default_origin(dir: &Path) -> String {
    let abs = fs::canonicalize(dir)
        .or_else(|_| std::env::current_dir().map(|c| c.join(dir)))
        .unwrap_or_else(|_| dir.to_path_buf());
    let name: String = abs
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = if name.is_empty() {
        "project".to_owned()
    } else {
        name
    };
    format!("agent-safe.local/{name}")
}

fn config_text(kid: &str, origin: &str) -> String {
    format!(
        "\
# agent-safe project configuration. Paths are relative to this file.
# Reference: `agent-safe schema config`; check everything with `agent-safe validate`.

# Your own action definitions (one per .yaml file), loaded on top of the
# built-in Kubernetes catalogue (`agent-safe list-actions`).
actions: actions
# Who may do what, where and when.
policies: policies
# The targets agent-safe knows about.
inventory: inventory.yaml
# A target that is not in the inventory is denied before any rule runs.
# (`evaluate_as_critical` would let rules without a `targets` selector decide.)
unknown_targets: deny

# Every check is recorded here, hash-chained (`agent-safe audit verify`).
audit:
  path: audit/audit.jsonl
  # Signed checkpoints of the log's Merkle tree (`agent-safe audit checkpoint`):
  # keep them elsewhere to detect removed or rewritten events. Give the log a
  # name unique to it; `agent-safe audit key` prints the key that verifies them.
  checkpoint:
    origin: {origin}
    key_file: {CHECKPOINT_KEY_PATH}

# Keys that sign caller tokens (`agent-safe token create`). Rotate by adding a
# key with a new kid, then removing the old one once its tokens have expired.
identity:
  keys:
    - kid: {kid}
      secret_file: {SECRET_PATH}
"
    )
}

const ACTIONS_README: &str = "\
# Project actions

Put your own action definitions here, one per `.yaml` file. They are loaded on
top of the built-in Kubernetes catalogue (`agent-safe list-actions`); a file
with the same `name` and `version` as a built-in action replaces it:

    agent-safe show-action restart-deployment --output yaml --out actions/restart-deployment.yaml

(`--out` writes the file atomically; a shell redirection `> actions/x.yaml`
would create an empty action file first, which every command then refuses.)

`agent-safe schema action` prints the JSON Schema of the format.
After changing this directory, run `agent-safe validate`, and
`agent-safe registry lock` if you keep a registry.lock.
";

const GITIGNORE: &str = "\
# Written by `agent-safe init`.
# The signing key must never be committed.
secrets/
# The audit log is data, not configuration.
audit/
";

/// Quotes a path for a POSIX shell when it needs it.
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:@%".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// `init [DIR]`.
pub(crate) fn init(io: &mut Io, a: InitArgs) -> CmdResult {
    let dir = a.dir;
    let files = scaffold(&dir)?;
    print_next_steps(io, &dir, &files)
}

/// Writes a new project into `dir` (never overwriting anything) and returns
/// the files written, as (relative path, is the secret).
pub(crate) fn scaffold(dir: &Path) -> Result<Vec<(PathBuf, bool)>, CliError> {
    if dir.exists() && !dir.is_dir() {
        return Err(CliError::usage(format!(
            "`{}` exists and is not a directory",
            dir.display()
        )));
    }
    let kid = format!("key-{}", jiff::Timestamp::now().strftime("%Y%m%d"));
    let secret = generate_secret()
        .map_err(|e| CliError::Failed(format!("cannot generate a signing key: {e}")))?;
    let origin = default_origin(dir);
    let checkpoint_key = agent_safe_core::audit::NoteSigner::generate(&origin)
        .map_err(|e| CliError::Failed(format!("cannot generate a checkpoint key: {e}")))?;

    let mut files: Vec<(PathBuf, String, bool)> = vec![
        (
            PathBuf::from(agent_safe_core::config::CONFIG_FILE_NAME),
            config_text(&kid, &origin),
            false,
        ),
        (
            PathBuf::from("actions/README.md"),
            ACTIONS_README.to_owned(),
            false,
        ),
        (PathBuf::from(".gitignore"), GITIGNORE.to_owned(), false),
        (PathBuf::from(SECRET_PATH), format!("{secret}\n"), true),
        (
            PathBuf::from(CHECKPOINT_KEY_PATH),
            format!("{}\n", checkpoint_key.to_private_text()),
            true,
        ),
    ];
    for (rel, text) in example_project() {
        // The files written here win over an example file of the same path.
        if !files.iter().any(|(p, _, _)| p == Path::new(rel)) {
            files.push((PathBuf::from(rel), (*text).to_owned(), false));
        }
    }
    // JSON Schemas beside the files, and a modeline in each YAML file that
    // points editors (the YAML language server) at its schema.
    for (kind, _) in crate::schema::KINDS {
        if *kind == "decision" {
            continue;
        }
        let text = crate::schema::generate(kind)
            .ok_or_else(|| CliError::Failed(format!("the `{kind}` JSON Schema is missing")))?;
        files.push((
            PathBuf::from(format!("schemas/{kind}.schema.json")),
            text,
            false,
        ));
    }
    for (rel, text, _) in &mut files {
        if let Some(kind) = schema_kind(rel) {
            let up = if rel.parent().is_some_and(|p| !p.as_os_str().is_empty()) {
                "../"
            } else {
                "./"
            };
            *text =
                format!("# yaml-language-server: $schema={up}schemas/{kind}.schema.json\n{text}");
        }
    }
    files.sort_by(|x, y| x.0.cmp(&y.0));

    let existing: Vec<String> = files
        .iter()
        .map(|(rel, _, _)| dir.join(rel))
        .filter(|p| p.symlink_metadata().is_ok())
        .map(|p| format!("`{}`", p.display()))
        .collect();
    if !existing.is_empty() {
        return Err(CliError::usage_help(
            format!(
                "init would overwrite {}: {}",
                if existing.len() == 1 {
                    "a file"
                } else {
                    "files"
                },
                existing.join(", ")
            ),
            "nothing was written; choose another directory (`agent-safe init my-project`) or move these files away",
        ));
    }

    for (rel, text, secret) in &files {
        write_new(dir, rel, text, *secret)?;
    }
    // Directories the project uses but the example does not fill.
    for d in ["actions", "policies", "tests"] {
        fs::create_dir_all(dir.join(d)).map_err(|e| {
            CliError::Failed(format!("cannot create `{}`: {e}", dir.join(d).display()))
        })?;
    }
    Ok(files
        .into_iter()
        .map(|(p, _, secret)| (p, secret))
        .collect())
}

/// The schema kind of a scaffolded YAML file, by its place in the project.
fn schema_kind(rel: &Path) -> Option<&'static str> {
    if rel.extension().is_none_or(|e| e != "yaml") {
        return None;
    }
    let top = rel.components().next()?.as_os_str().to_str()?;
    match top {
        "agent-safe.yaml" => Some("config"),
        "inventory.yaml" => Some("inventory"),
        "policies" => Some("policy"),
        "tests" => Some("tests"),
        "actions" => Some("action"),
        "plans" => Some("plan"),
        _ => None,
    }
}

fn print_next_steps(io: &mut Io, dir: &Path, files: &[(PathBuf, bool)]) -> CmdResult {
    let shown = dir.display().to_string();
    let w = &mut io.out;
    writeln!(
        w,
        "{} a new agent-safe project in {}:",
        paint(style::GOOD, "created"),
        shell_quote(&shown)
    )?;
    let mut schemas = 0;
    for (rel, secret) in files {
        if rel.starts_with("schemas") {
            schemas += 1;
            continue;
        }
        let note = if *secret {
            "  (mode 0600; never commit it)"
        } else {
            ""
        };
        writeln!(w, "  {}{note}", rel.display())?;
    }
    if schemas > 0 {
        writeln!(
            w,
            "  schemas/*.schema.json  ({schemas} JSON Schemas; each YAML file names its schema for editor completion)"
        )?;
    }
    writeln!(w)?;
    writeln!(
        w,
        "{} (every check below is recorded in audit/audit.jsonl)",
        paint(style::LABEL, "Next steps")
    )?;
    let cd = if dir == Path::new(".") {
        String::new()
    } else {
        format!("cd {} && ", shell_quote(&shown))
    };
    writeln!(
        w,
        "  {cd}agent-safe validate && agent-safe test && {SUGGESTED_CHECK}"
    )?;
    writeln!(w)?;
    writeln!(w, "{}", paint(style::LABEL, "Then try"))?;
    writeln!(
        w,
        "  {SUGGESTED_APPROVAL}   # REQUIRE_APPROVAL, exit code 4"
    )?;
    writeln!(
        w,
        "  agent-safe check restart-deployment --target prod/api --caller \"$(agent-safe token create --agent-id deploy-agent --roles deployer)\" --params '{{\"namespace\":\"prod\",\"deployment\":\"api\"}}' --at 2026-03-07T02:30:00Z --explain"
    )?;
    writeln!(w, "  agent-safe audit show && agent-safe audit verify")?;
    writeln!(w)?;
    writeln!(w, "{}", paint(style::LABEL, "Mind the clock"))?;
    writeln!(
        w,
        "  policies/10-staging.yaml freezes staging 22:00-06:00 UTC every day (rule `staging-nightly-refresh-freeze`):"
    )?;
    writeln!(
        w,
        "  changes on staging are DENY then, reads stay allowed. Ask about another time with --at 2026-03-04T12:00:00Z,"
    )?;
    writeln!(w, "  or edit or delete the rule.")?;
    Ok(exit::OK)
}

fn write_new(dir: &Path, rel: &Path, text: &str, secret: bool) -> Result<(), CliError> {
    let path = dir.join(rel);
    let fail = |what: &str, e: std::io::Error| {
        CliError::Failed(format!("cannot {what} `{}`: {e}", path.display()))
    };
    if let Some(parent) = path.parent() {
        let mut b = fs::DirBuilder::new();
        b.recursive(true);
        if secret {
            b.mode(0o700);
        }
        b.create(parent)
            .map_err(|e| fail("create the directory of", e))?;
    }
    let mut opts = OpenOptions::new();
    // create_new: never overwrite, even if a file appeared since the check.
    opts.write(true).create_new(true);
    if secret {
        opts.mode(0o600);
    }
    let mut f = opts.open(&path).map_err(|e| fail("create", e))?;
    f.write_all(text.as_bytes()).map_err(|e| fail("write", e))?;
    Ok(())
}
