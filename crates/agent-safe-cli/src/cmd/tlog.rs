//! `audit checkpoint`, `audit prove`, `audit verify-proof`, `audit key`, and
//! the `--checkpoint` part of `audit verify`: the log's Merkle tree.

use std::io::{Read as _, Write};
use std::path::{Path, PathBuf};

use agent_safe_core::audit::{
    AuditLog, Checkpoint, CheckpointReport, InclusionProof, NoteVerifier, checkpoints_path,
    latest_checkpoint, read_signer_key, split_notes,
};
use agent_safe_core::config::Config;
use agent_safe_core::facade::{audit_config, checkpoint_config};

use crate::cli::{CheckpointArgs, ProveArgs, VerifyProofArgs};
use crate::error::{CliError, CmdResult, exit};
use crate::output::{Io, Stream, paint, style};
use crate::project::Ctx;

const NO_CHECKPOINTS_HELP: &str = "add `checkpoint: {origin: example.com/agent-safe/prod, key_file: secrets/checkpoint.key}` under `audit:` in agent-safe.yaml, then run `agent-safe audit key --generate` (projects made by `agent-safe init` have both)";

fn checkpoint_settings(ctx: &Ctx, what: &str) -> Result<Config, CliError> {
    let config = ctx.require_config(what)?;
    if !config.audit.enabled {
        return Err(CliError::usage(
            "the audit log is disabled in the configuration (`audit: {enabled: false}`)",
        ));
    }
    if config.audit.checkpoint.is_none() {
        return Err(CliError::usage_help(
            "checkpoints are not configured (no `audit.checkpoint` section)",
            NO_CHECKPOINTS_HELP,
        ));
    }
    Ok(config)
}

/// The configured log, opened with its checkpoints.
fn open_log(config: &Config) -> Result<AuditLog, CliError> {
    let cp = checkpoint_config(config).ok_or_else(|| {
        CliError::usage_help("checkpoints are not configured", NO_CHECKPOINTS_HELP)
    })?;
    AuditLog::open_with_checkpoints(audit_config(config), cp)
        .map_err(|e| CliError::Failed(e.to_string()))
}

fn configured_verifier(config: &Config) -> Result<NoteVerifier, CliError> {
    let cp = config.audit.checkpoint.as_ref().ok_or_else(|| {
        CliError::usage_help("checkpoints are not configured", NO_CHECKPOINTS_HELP)
    })?;
    let signer = read_signer_key(&cp.key_file).map_err(|e| CliError::usage(e.to_string()))?;
    NoteVerifier::parse(&signer.verifier_key()).map_err(|e| CliError::Failed(e.to_string()))
}

/// A verifier key given on the command line: the key text, or a file holding it.
fn verifier_arg(key: &str) -> Result<NoteVerifier, CliError> {
    let text = if Path::new(key).is_file() {
        std::fs::read_to_string(key)
            .map_err(|e| CliError::usage(format!("cannot read the key file `{key}`: {e}")))?
    } else {
        key.to_string()
    };
    NoteVerifier::parse(&text).map_err(|e| {
        CliError::usage_help(
            format!("--key: {e}"),
            "give the verifier key printed by `agent-safe audit key` (`<origin>+<key id>+<base64 key>`), or a file holding it",
        )
    })
}

fn read_text(path: &Path, what: &str) -> Result<String, CliError> {
    if path == Path::new("-") {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| CliError::usage(format!("cannot read the {what} from stdin: {e}")))?;
        return Ok(s);
    }
    std::fs::read_to_string(path)
        .map_err(|e| CliError::usage(format!("cannot read the {what} `{}`: {e}", path.display())))
}

/// `audit checkpoint [--new]`.
pub(crate) fn checkpoint(io: &mut Io, ctx: &Ctx, a: CheckpointArgs) -> CmdResult {
    let config = checkpoint_settings(ctx, "`agent-safe audit checkpoint`")?;
    let note = if a.new {
        open_log(&config)?
            .checkpoint_now()
            .map_err(|e| CliError::Failed(e.to_string()))?
    } else {
        let verifier = configured_verifier(&config)?;
        latest_checkpoint(&config.audit.path, &verifier)
            .map_err(|e| CliError::Failed(e.to_string()))?
            .ok_or_else(|| {
                CliError::usage_help(
                    format!(
                        "no checkpoint yet in `{}`",
                        checkpoints_path(&config.audit.path).display()
                    ),
                    "make one now with `agent-safe audit checkpoint --new`",
                )
            })?
    };
    write!(io.out, "{note}")?;
    Ok(exit::OK)
}

/// `audit prove AUDIT_ID [--checkpoint FILE]`.
pub(crate) fn prove(io: &mut Io, ctx: &Ctx, a: ProveArgs) -> CmdResult {
    let config = checkpoint_settings(ctx, "`agent-safe audit prove`")?;
    let note = match &a.checkpoint {
        Some(p) => Some(read_text(p, "checkpoint")?),
        None => None,
    };
    let log = open_log(&config)?;
    let proof = log
        .prove(&a.audit_id, note.as_deref())
        .map_err(|e| CliError::Failed(e.to_string()))?;
    let text = serde_json::to_string_pretty(&proof).map_err(anyhow::Error::from)?;
    writeln!(io.out, "{text}")?;
    Ok(exit::OK)
}

/// `audit verify-proof PROOF [--checkpoint FILE] --key KEY`.
pub(crate) fn verify_proof(io: &mut Io, a: VerifyProofArgs) -> CmdResult {
    let verifier = verifier_arg(&a.key)?;
    let text = read_text(&a.proof, "proof")?;
    let proof: InclusionProof = serde_json::from_str(&text).map_err(|e| {
        CliError::usage_help(
            format!("{}: not a proof: {e}", a.proof.display()),
            "give the JSON printed by `agent-safe audit prove AUDIT_ID`",
        )
    })?;
    let note = match &a.checkpoint {
        Some(p) => Some(read_text(p, "checkpoint")?),
        None => None,
    };
    match proof.verify(&verifier, note.as_deref()) {
        Ok(cp) => {
            writeln!(
                io.out,
                "{} event {} (seq {}) is in the log `{}` of {} events (root {})",
                paint(style::GOOD, "ok:"),
                proof.audit_id,
                proof.seq,
                cp.origin,
                cp.size,
                cp.root
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            )?;
            Ok(exit::OK)
        }
        Err(e) => {
            writeln!(io.out, "{} {e}", paint(style::BAD, "failed:"))?;
            Ok(exit::FAILURE)
        }
    }
}

/// `audit key`.
pub(crate) fn key(io: &mut Io, ctx: &Ctx, generate: bool) -> CmdResult {
    let config = checkpoint_settings(ctx, "`agent-safe audit key`")?;
    let cp = config.audit.checkpoint.as_ref().ok_or_else(|| {
        CliError::usage_help("checkpoints are not configured", NO_CHECKPOINTS_HELP)
    })?;
    if generate {
        agent_safe_core::audit::create_signer_key(&cp.key_file, &cp.origin)
            .map_err(|e| CliError::Failed(e.to_string()))?;
        writeln!(
            io.err,
            "created {} (mode 0600; never commit it)",
            cp.key_file.display()
        )?;
    }
    let signer = read_signer_key(&cp.key_file).map_err(|e| CliError::usage(e.to_string()))?;
    writeln!(io.out, "{}", signer.verifier_key())?;
    Ok(exit::OK)
}

/// The checkpoints in `files`, each checked with `key` (or the configured
/// checkpoint key), named by where they came from.
pub(crate) fn load_checkpoints(
    ctx: &Ctx,
    files: &[PathBuf],
    key: Option<&str>,
) -> Result<Vec<(String, Checkpoint)>, CliError> {
    let verifier = match key {
        Some(k) => verifier_arg(k)?,
        None => {
            let config =
                ctx.require_config("`agent-safe audit verify --checkpoint` without --key")?;
            configured_verifier(&config)?
        }
    };
    let mut cps: Vec<(String, Checkpoint)> = Vec::new();
    for f in files {
        let text = read_text(f, "checkpoint")?;
        let (mut notes, complete) = split_notes(&text);
        // A last note without the blank line after it (or a file of one
        // note) is a note too: nothing in the file is skipped unchecked.
        if let Some(rest) = text.get(complete..).filter(|r| !r.trim().is_empty()) {
            notes.push(rest);
        }
        let several = notes.len() > 1;
        for (i, n) in notes.iter().enumerate() {
            let source = if several {
                format!("{}#{}", f.display(), i + 1)
            } else {
                f.display().to_string()
            };
            let c = Checkpoint::open(n, &verifier).map_err(|e| {
                CliError::Failed(format!("{source}: the checkpoint does not verify: {e}"))
            })?;
            cps.push((source, c));
        }
    }
    Ok(cps)
}

/// The text lines of a checkpoint report, after `audit verify`'s own.
pub(crate) fn write_checkpoint_report(w: &mut Stream, r: &CheckpointReport) -> std::io::Result<()> {
    if let Some(p) = &r.problem {
        writeln!(w, "{} {p}", paint(style::BAD, "error:"))?;
    }
    for c in &r.checkpoints {
        match &c.problem {
            None => writeln!(
                w,
                "{} checkpoint {}: the log contains its tree of {} events",
                paint(style::GOOD, "ok:"),
                c.source,
                c.size
            )?,
            Some(p) => writeln!(w, "{}: {} {p}", c.source, paint(style::BAD, "error:"))?,
        }
    }
    if !r.ok() {
        writeln!(
            w,
            "{} the log does not contain what its checkpoints cover",
            paint(style::BAD, "failed:")
        )?;
    }
    Ok(())
}
