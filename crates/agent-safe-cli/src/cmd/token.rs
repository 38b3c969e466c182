//! `token create`.

use std::io::Write;

use agent_safe_core::engine::identity_config;
use agent_safe_core::identity::{IdentityError, MintRequest, mint_token};

use crate::cli::{TokenCmd, TokenCreateArgs};
use crate::error::{CliError, CmdResult, exit};
use crate::output::Io;
use crate::project::Ctx;

/// `token ...`.
pub(crate) fn token(io: &mut Io, ctx: &Ctx, cmd: TokenCmd) -> CmdResult {
    match cmd {
        TokenCmd::Create(a) => create(io, ctx, a),
    }
}

/// Parses a lifetime: `3600`, `90s`, `15m`, `1h`, `7d`.
pub(crate) fn parse_ttl(s: &str) -> Result<u64, CliError> {
    let bad = || {
        CliError::usage_help(
            format!("--ttl: invalid lifetime `{s}`"),
            "write seconds (`3600`) or a number with s, m, h or d (`90s`, `15m`, `1h`, `7d`)",
        )
    };
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (
            s.get(..i).unwrap_or_default(),
            s.get(i..).unwrap_or_default(),
        ),
        None => (s, "s"),
    };
    let n: u64 = num.parse().map_err(|_| bad())?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    let secs = n.checked_mul(mult).ok_or_else(bad)?;
    if secs == 0 {
        return Err(CliError::usage(
            "--ttl: the lifetime must be at least 1 second",
        ));
    }
    Ok(secs)
}

fn create(io: &mut Io, ctx: &Ctx, a: TokenCreateArgs) -> CmdResult {
    let ttl_seconds = parse_ttl(&a.ttl)?;
    let config = ctx.require_config("`agent-safe token create`")?;
    let identity = identity_config(&config)?;
    let req = MintRequest {
        agent_id: a.agent_id,
        agent_name: a.name,
        roles: a.roles.into_iter().filter(|r| !r.is_empty()).collect(),
        groups: a.groups.into_iter().filter(|g| !g.is_empty()).collect(),
        ttl_seconds,
        kid: a.kid,
    };
    let now = jiff::Timestamp::now().as_second();
    let token = mint_token(&identity, &req, now).map_err(|e| match e {
        IdentityError::NoKeyConfigured => CliError::usage_help(
            "no signing key is configured",
            "add `identity: {keys: [{kid: key-1, secret_file: secrets/signing.key}]}` to agent-safe.yaml (`agent-safe init` creates one)",
        ),
        other => CliError::usage(format!("cannot create the token: {other}")),
    })?;
    writeln!(io.out, "{token}")?;
    Ok(exit::OK)
}
