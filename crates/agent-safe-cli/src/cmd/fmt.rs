//! `fmt [PATH...] [--check] [--diff]`: policy files and the inventory in one
//! stable style.
//!
//! The formatting itself is the core's (`agent_safe_core::fmt`); this
//! command finds the files, reports, and writes atomically.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use agent_safe_core::diag::ConfigError;
use agent_safe_core::fmt::{FileKind, Formatted, format_file};
use agent_safe_core::load::read_sources;

use crate::cli::FmtArgs;
use crate::error::{CliError, CmdResult, exit};
use crate::output::{Io, paint, style};
use crate::project::{Ctx, display_path};

/// `fmt`.
pub(crate) fn fmt(io: &mut Io, ctx: &Ctx, a: FmtArgs) -> CmdResult {
    // (file, kind): the project's policy files and inventory, or the named
    // files, each read as an inventory when its top-level key is `targets:`.
    let mut files = Vec::new();
    if a.paths.is_empty() {
        let config = ctx.require_config("`agent-safe fmt` without a PATH")?;
        if config.policies.is_none() && config.inventory.is_none() {
            return Err(CliError::usage_help(
                "the configuration names no policy files or inventory (`policies:`, `inventory:`)",
                "set them in agent-safe.yaml, or name the files: `agent-safe fmt FILE...`",
            ));
        }
        if let Some(p) = &config.policies {
            files.extend(read_sources(p)?.into_iter().map(|f| (f, FileKind::Policy)));
        }
        if let Some(p) = &config.inventory {
            files.extend(
                read_sources(p)?
                    .into_iter()
                    .map(|f| (f, FileKind::Inventory)),
            );
        }
    } else {
        for p in &a.paths {
            for f in read_sources(p)? {
                let kind = FileKind::of(&f.text);
                files.push((f, kind));
            }
        }
    }

    // Format everything before writing anything: one file that does not load
    // stops the command with nothing written.
    let mut errors = Vec::new();
    let mut results = Vec::new();
    for (f, kind) in &files {
        match format_file(*kind, &f.path, &f.text) {
            Ok(r) => results.push((f, r)),
            Err(e) => errors.extend(e.into_diagnostics()),
        }
    }
    if let Some(e) = ConfigError::from_diagnostics(errors) {
        return Err(CliError::Config(e));
    }

    let write = !a.check && !a.diff;
    let (mut changed, mut unchanged, mut left, mut refused) = (0usize, 0usize, 0usize, 0usize);
    for (f, r) in results {
        let shown = display_path(&f.path);
        match r {
            Formatted::Text(t) if t == f.text => unchanged += 1,
            Formatted::Text(t) => {
                changed += 1;
                if a.diff {
                    let diff = similar::TextDiff::from_lines(f.text.as_str(), t.as_str());
                    let old = format!("a/{shown}");
                    let new = format!("b/{shown}");
                    write!(
                        io.out,
                        "{}",
                        diff.unified_diff().context_radius(3).header(&old, &new)
                    )?;
                }
                if a.check {
                    writeln!(io.out, "would reformat {shown}")?;
                }
                if write {
                    write_atomically(&f.path, &f.text, &t)
                        .map_err(|e| CliError::Failed(format!("cannot write `{shown}`: {e}")))?;
                    writeln!(io.out, "formatted {shown}")?;
                }
            }
            Formatted::LeftAsIs { pos, why } => {
                left += 1;
                writeln!(
                    io.err,
                    "{} {shown}:{}:{}: left as it is: {why} (fmt does not rewrite files that use it)",
                    paint(style::WARN, "note:"),
                    pos.line,
                    pos.col
                )?;
            }
            Formatted::Refused { why } => {
                refused += 1;
                writeln!(
                    io.err,
                    "{} {shown}: not formatted: {why}\n  help: the file is unchanged; this is a bug in `agent-safe fmt`, please report it with the file",
                    paint(style::BAD, "error:"),
                )?;
            }
        }
    }

    let files_word = |n: usize| if n == 1 { "file" } else { "files" };
    let mut summary = if write {
        format!(
            "{changed} {} formatted, {unchanged} already formatted",
            files_word(changed)
        )
    } else {
        format!(
            "{changed} {} would be reformatted, {unchanged} already formatted",
            files_word(changed)
        )
    };
    if left > 0 {
        summary.push_str(&format!(
            ", {left} left as {}",
            if left == 1 { "it is" } else { "they are" }
        ));
    }
    // With --diff, stdout is the patch alone.
    if a.diff {
        writeln!(io.err, "{summary}")?;
    } else {
        writeln!(io.out, "{summary}")?;
    }
    if refused > 0 || (!write && changed > 0) {
        Ok(exit::FAILURE)
    } else {
        Ok(exit::OK)
    }
}

/// Replaces `path` with `text`: a temporary file beside it, synced, then
/// renamed over it. A symbolic link is followed (the file it points to is
/// replaced; the link stays). If the file changed since it was read
/// (`expected`), nothing is replaced.
fn write_atomically(path: &Path, expected: &str, text: &str) -> std::io::Result<()> {
    let target = fs::canonicalize(path)?;
    let dir = target.parent().map(Path::to_path_buf).unwrap_or_default();
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let perms = fs::metadata(&target)?.permissions();
    // A leading dot: the loaders skip it should they read the directory now.
    let tmp: PathBuf = dir.join(format!(".{name}.fmt-{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.set_permissions(perms)?;
        f.sync_all()?;
        if fs::read_to_string(&target)? != expected {
            return Err(std::io::Error::other(
                "it changed while it was being formatted; run fmt again",
            ));
        }
        fs::rename(&tmp, &target)?;
        if let Ok(d) = fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
