//! `inventory sync`: the inventory from the cluster.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use agent_safe_core::k8s::client::{ClusterSource, KubeClient, fetch};
use agent_safe_core::k8s::sync::{
    InventorySyncSettings, Mapper, load_overrides, merge_overrides, render,
};
use agent_safe_core::model::Target;

use crate::cli::{InventoryCmd, InventorySyncArgs};
use crate::error::{CliError, CmdResult, exit};
use crate::output::{Io, paint, style};
use crate::project::{Ctx, display_path};

/// `inventory ...`.
pub(crate) fn inventory(io: &mut Io, ctx: &Ctx, cmd: InventoryCmd) -> CmdResult {
    match cmd {
        InventoryCmd::Sync(a) => sync(io, ctx, a),
    }
}

/// What changed between two inventories, by id.
#[derive(Debug, Default, PartialEq, Eq)]
struct Changes {
    added: Vec<String>,
    removed: Vec<String>,
    changed: Vec<String>,
}

fn changes(old: &[Target], new: &[Target]) -> Changes {
    let strip = |t: &Target| Target {
        origin: Default::default(),
        ..t.clone()
    };
    let old: BTreeMap<&str, Target> = old.iter().map(|t| (t.id.as_str(), strip(t))).collect();
    let new: BTreeMap<&str, Target> = new.iter().map(|t| (t.id.as_str(), strip(t))).collect();
    let mut c = Changes::default();
    for (id, t) in &new {
        match old.get(id) {
            None => c.added.push((*id).to_owned()),
            Some(o) if o != t => c.changed.push((*id).to_owned()),
            Some(_) => {}
        }
    }
    c.removed = old
        .keys()
        .filter(|id| !new.contains_key(*id))
        .map(|id| (*id).to_owned())
        .collect();
    c
}

fn summary(c: &Changes) -> String {
    format!(
        "{} added, {} removed, {} changed",
        c.added.len(),
        c.removed.len(),
        c.changed.len()
    )
}

fn sync(io: &mut Io, ctx: &Ctx, a: InventorySyncArgs) -> CmdResult {
    let config = ctx.require_config("`agent-safe inventory sync`")?;
    let settings = match &config.inventory_sync {
        Some(s) => s.clone(),
        None => {
            writeln!(
                io.err,
                "warning: agent-safe.yaml has no `inventory_sync:` section: every target gets environment `unknown` and sensitivity `critical` (see docs/INVENTORY.md)"
            )?;
            InventorySyncSettings::default()
        }
    };
    let out: Option<PathBuf> = match a.out.as_deref() {
        Some(p) if p.as_os_str() == "-" => None,
        Some(p) => Some(p.to_path_buf()),
        None => Some(
            settings
                .out
                .clone()
                .or_else(|| config.inventory.clone())
                .ok_or_else(|| {
                    CliError::usage_help(
                        "nowhere to write the inventory",
                        "pass --out FILE (or `-` for stdout), or set `inventory:` or `inventory_sync.out` in agent-safe.yaml",
                    )
                })?,
        ),
    };
    if let Some(p) = &out
        && p.is_dir()
    {
        return Err(CliError::usage_help(
            format!("`{}` is a directory", display_path(p)),
            "the sync writes one file: pass --out FILE, e.g. inventory/synced.yaml inside that directory",
        ));
    }
    let mapper = Mapper::new(&settings).map_err(CliError::Failed)?;
    let overrides = load_overrides(&settings)?;
    let client = KubeClient::connect(&ClusterSource {
        kubeconfig: a.kubeconfig.clone(),
        context: a.context.clone(),
    })
    .map_err(|e| CliError::Failed(e.message))?;
    let started = Instant::now();
    let fetched =
        fetch(&client, &mapper.kinds_to_read()).map_err(|e| CliError::Failed(e.message))?;
    let (synced, warnings) = mapper.targets(&fetched.objects);
    for w in &warnings {
        writeln!(io.err, "warning: {}: {}", w.id, w.message)?;
    }
    let n_synced = synced.len();
    let n_overrides = overrides.len();
    let targets = merge_overrides(synced, overrides);
    let text = render(&targets).map_err(CliError::Failed)?;
    let elapsed = started.elapsed();
    let Some(path) = out else {
        write!(io.out, "{text}")?;
        return Ok(exit::OK);
    };
    let current = std::fs::read(&path).ok();
    let unchanged = current.as_deref() == Some(text.as_bytes());
    // What changed, by id (only read when something did: parsing a large
    // file costs more than the comparison of bytes).
    let c = if unchanged {
        Changes::default()
    } else if path.exists() {
        changes(
            &agent_safe_core::load::load_inventory(&path).unwrap_or_default(),
            &targets,
        )
    } else {
        changes(&[], &targets)
    };
    let shown = display_path(&path);
    if a.check {
        if unchanged {
            writeln!(
                io.out,
                "{} {shown} matches the cluster ({} targets)",
                paint(style::GOOD, "up to date:"),
                targets.len()
            )?;
            return Ok(exit::OK);
        }
        writeln!(
            io.out,
            "{} {shown} differs from the cluster: {}",
            paint(style::BAD, "out of date:"),
            summary(&c)
        )?;
        print_ids(io, &c)?;
        writeln!(io.out, "run `agent-safe inventory sync` to rewrite it")?;
        return Ok(exit::FAILURE);
    }
    if unchanged {
        writeln!(
            io.out,
            "{shown} is up to date: {} targets ({n_synced} from {}, {n_overrides} overrides), read in {} ms",
            targets.len(),
            client.describe,
            elapsed.as_millis()
        )?;
        return Ok(exit::OK);
    }
    crate::cmd::actions::write_atomically(&path, text.as_bytes(), true)?;
    writeln!(
        io.out,
        "{} {} targets to {shown} ({n_synced} from {}, {n_overrides} overrides; {}), read in {} ms",
        paint(style::GOOD, "wrote"),
        targets.len(),
        client.describe,
        summary(&c),
        elapsed.as_millis()
    )?;
    print_ids(io, &c)?;
    Ok(exit::OK)
}

fn print_ids(io: &mut Io, c: &Changes) -> Result<(), CliError> {
    const MAX: usize = 20;
    for (sign, ids) in [("+", &c.added), ("-", &c.removed), ("~", &c.changed)] {
        for id in ids.iter().take(MAX) {
            writeln!(io.out, "  {sign} {id}")?;
        }
        if ids.len() > MAX {
            writeln!(io.out, "  {sign} ... and {} more", ids.len() - MAX)?;
        }
    }
    Ok(())
}
