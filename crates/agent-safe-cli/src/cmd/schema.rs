//! `schema [KIND]`.

use std::io::Write;

use crate::cli::SchemaArgs;
use crate::error::{CliError, CmdResult, exit};
use crate::output::{Io, paint, style};
use crate::schema::{KINDS, generate};

/// `schema [KIND] [--write-dir DIR]`.
pub(crate) fn schema(io: &mut Io, a: SchemaArgs) -> CmdResult {
    if let Some(dir) = &a.write_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::Failed(format!("cannot create `{}`: {e}", dir.display())))?;
        for (kind, _) in KINDS {
            let text = generate(kind)
                .ok_or_else(|| CliError::Failed(format!("cannot generate the `{kind}` schema")))?;
            let path = dir.join(format!("{kind}.schema.json"));
            std::fs::write(&path, text)
                .map_err(|e| CliError::Failed(format!("cannot write `{}`: {e}", path.display())))?;
            writeln!(io.out, "wrote {}", path.display())?;
        }
        return Ok(exit::OK);
    }
    let Some(kind) = a.kind else {
        writeln!(
            io.out,
            "{}",
            paint(style::LABEL, "Kinds (agent-safe schema KIND):")
        )?;
        for (kind, what) in KINDS {
            writeln!(io.out, "  {kind:<10} {what}")?;
        }
        return Ok(exit::OK);
    };
    match generate(&kind) {
        Some(text) => {
            io.out.write_all(text.as_bytes())?;
            Ok(exit::OK)
        }
        None => {
            let names: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
            let hint = agent_safe_core::diag::did_you_mean(&kind, names.iter().copied())
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            Err(CliError::usage_help(
                format!("unknown schema kind `{kind}`{hint}"),
                format!("kinds: {}", names.join(", ")),
            ))
        }
    }
}
