//! `registry lock`.

use std::io::Write;

use agent_safe_core::manifest::write_manifest;
use agent_safe_core::registry::Registry;

use crate::cli::RegistryCmd;
use crate::error::{CliError, CmdResult, exit};
use crate::output::{Io, paint, style};
use crate::project::{Ctx, display_path, project_action_sources};

/// `registry ...`.
pub(crate) fn registry(io: &mut Io, ctx: &Ctx, cmd: RegistryCmd) -> CmdResult {
    match cmd {
        RegistryCmd::Lock => lock(io, ctx),
    }
}

fn lock(io: &mut Io, ctx: &Ctx) -> CmdResult {
    let config = ctx.require_config("`agent-safe registry lock`")?;
    let sources = project_action_sources(&config)?;
    // Lock only definitions that load: a lock of broken files helps nobody.
    let registry = match Registry::from_sources(config.builtin_actions, &sources) {
        Ok(r) => r,
        Err(e) => {
            writeln!(io.out, "{e}")?;
            return Err(CliError::Failed(
                "the action files have errors; nothing was locked".into(),
            ));
        }
    };
    let path = config.manifest_path();
    let n = write_manifest(&path, config.builtin_actions, &sources)
        .map_err(|e| CliError::Failed(format!("cannot write `{}`: {e}", path.display())))?;
    let w = &mut io.out;
    let what = match (config.builtin_actions, n) {
        (true, 0) => "the built-in catalogue, no project action files".to_owned(),
        (true, n) => format!(
            "the built-in catalogue and {n} project action file{}",
            if n == 1 { "" } else { "s" }
        ),
        (false, n) => format!("{n} project action file{}", if n == 1 { "" } else { "s" }),
    };
    writeln!(
        w,
        "{} {} actions ({what}) in {}",
        paint(style::GOOD, "locked"),
        registry.len(),
        display_path(&path)
    )?;
    for f in &sources {
        writeln!(w, "  {}", display_path(&f.path))?;
    }
    writeln!(
        w,
        "commit it; loading now refuses changed, missing or extra action files"
    )?;
    Ok(exit::OK)
}
