//! `list-actions` and `show-action`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use agent_safe_core::model::{ActionDef, Constraints, Parameter};
use agent_safe_core::registry::{BUILTIN_PREFIX, builtin_sources};

use crate::cli::{Format, ListArgs, ShowArgs, ShowFormat};
use crate::error::{CliError, CmdResult, exit};
use crate::output::{Io, paint, style, table};

use crate::project::Ctx;
use agent_safe_core::registry::Registry;

/// `list-actions`.
pub(crate) fn list(io: &mut Io, ctx: &Ctx, a: ListArgs) -> CmdResult {
    let config = ctx.load_config()?;
    let registry = Registry::for_config(&config)?;
    let actions = registry.filter(a.tag.as_deref(), a.risk.map(Into::into));
    match a.output {
        Format::Json => {
            let defs: Vec<&ActionDef> = actions.iter().map(|a| a.as_ref()).collect();
            let text = serde_json::to_string_pretty(&defs).map_err(anyhow::Error::from)?;
            writeln!(io.out, "{text}")?;
        }
        Format::Text => {
            if actions.is_empty() {
                writeln!(
                    io.err,
                    "no action matches the filters ({} actions in all)",
                    registry.len()
                )?;
                return Ok(exit::OK);
            }
            let rows = actions
                .iter()
                .map(|a| {
                    vec![
                        a.name.clone(),
                        a.version.clone(),
                        a.risk_class.as_str().to_owned(),
                        a.target_types.join(", "),
                        a.tags.join(", "),
                    ]
                })
                .collect();
            io.out.write_all(
                table(&["name", "version", "risk", "target types", "tags"], rows).as_bytes(),
            )?;
        }
    }
    Ok(exit::OK)
}

/// `show-action`.
pub(crate) fn show(io: &mut Io, ctx: &Ctx, a: ShowArgs) -> CmdResult {
    let config = ctx.load_config()?;
    let registry = Registry::for_config(&config)?;
    let action = registry.get(&a.name).map_err(|e| {
        CliError::usage_help(
            e.to_string(),
            "`agent-safe list-actions` lists the known actions",
        )
    })?;
    let mut buf: Vec<u8> = Vec::new();
    match a.output {
        ShowFormat::Json => {
            let text =
                serde_json::to_string_pretty(action.as_ref()).map_err(anyhow::Error::from)?;
            writeln!(buf, "{text}")?;
        }
        ShowFormat::Yaml => {
            let text = source_text(action)?;
            buf.write_all(text.as_bytes())?;
            if !text.ends_with('\n') {
                writeln!(buf)?;
            }
        }
        ShowFormat::Text => {
            let others: Vec<String> = registry
                .all_versions()
                .filter(|o| o.name == action.name && o.version != action.version)
                .map(|o| o.version.clone())
                .collect();
            write_action(&mut buf, action, &others)?;
        }
    }
    let Some(out) = &a.out else {
        io.out.write_all(&buf)?;
        return Ok(exit::OK);
    };
    if a.output == ShowFormat::Text {
        // The text view is painted for a terminal; a file gets plain text.
        buf = anstream::adapter::strip_bytes(&buf).into_vec();
    }
    write_atomically(out, &buf, a.force)?;
    writeln!(io.out, "wrote {}", out.display())?;
    if a.output == ShowFormat::Yaml {
        writeln!(
            io.out,
            "  edit it; in the project's actions directory it replaces {}",
            action.key()
        )?;
        if agent_safe_core::manifest::manifest_exists(&config.manifest_path()) {
            writeln!(
                io.out,
                "  then run `agent-safe registry lock`: registry.lock lists the action files"
            )?;
        }
    }
    Ok(exit::OK)
}

/// Writes `bytes` to `path` through a hidden temporary file in the same
/// directory and a rename: readers (and the loaders, which skip names that
/// start with `.`) never see a partial or empty file. Refuses to replace an
/// existing file unless `force`.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8], force: bool) -> Result<(), CliError> {
    if !force && std::fs::symlink_metadata(path).is_ok() {
        return Err(CliError::usage_help(
            format!("`{}` already exists", path.display()),
            "pass --force to replace it, or choose another --out path",
        ));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| CliError::usage(format!("--out `{}` is not a file path", path.display())))?;
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let fail =
        |e: std::io::Error| CliError::Failed(format!("cannot write {}: {e}", path.display()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail(e)
    })
}

/// The YAML file that defines `action`, as written.
fn source_text(action: &ActionDef) -> Result<String, CliError> {
    let file = &action.origin.file;
    if let Ok(rel) = file.strip_prefix(BUILTIN_PREFIX) {
        let name = rel.to_string_lossy();
        return builtin_sources()
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, text)| (*text).to_owned())
            .ok_or_else(|| {
                CliError::Failed(format!(
                    "the built-in source of `{}` is missing",
                    action.key()
                ))
            });
    }
    std::fs::read_to_string(file)
        .map_err(|e| CliError::Failed(format!("cannot read {}: {e}", file.display())))
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn none_if_empty(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

/// Wraps `text` at `width` columns, each line starting with `indent`.
fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            out.push_str(indent);
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(indent);
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn write_action(
    w: &mut impl Write,
    a: &Arc<ActionDef>,
    other_versions: &[String],
) -> std::io::Result<()> {
    writeln!(w, "{} {}", paint(style::LABEL, &a.name), a.version)?;
    w.write_all(wrap(&a.description, 78, "  ").as_bytes())?;
    writeln!(w)?;
    let target_params: Vec<String> = a
        .target_params
        .iter()
        .map(|(coord, param)| format!("{coord} = params.{param}"))
        .collect();
    let mut rows = vec![
        ("risk class", a.risk_class.as_str().to_owned()),
        ("target types", a.target_types.join(", ")),
        ("target binding", none_if_empty(&target_params)),
        ("reversible", yes_no(a.reversible).to_owned()),
    ];
    if let Some(rb) = &a.rollback_action {
        rows.push(("rollback", rb.clone()));
    }
    let (other, rbac): (Vec<String>, Vec<String>) = a
        .required_privileges
        .iter()
        .cloned()
        .partition(|p| agent_safe_core::privilege::provider_privilege(p).is_some());
    rows.push(("privileges", none_if_empty(&rbac)));
    if !other.is_empty() {
        rows.push((
            "not RBAC",
            format!(
                "{} (another provider's; not granted by `rbac`)",
                other.join(", ")
            ),
        ));
    }
    rows.push(("tags", none_if_empty(&a.tags)));
    rows.push(("defined in", a.origin.file.display().to_string()));
    if !other_versions.is_empty() {
        rows.push(("other versions", other_versions.join(", ")));
    }
    for (label, value) in rows {
        writeln!(
            w,
            "  {}{value}",
            paint(style::LABEL, &format!("{:<16}", format!("{label}:")))
        )?;
    }
    writeln!(w)?;
    if a.parameters.is_empty() {
        writeln!(w, "{} none", paint(style::LABEL, "parameters:"))?;
    } else {
        writeln!(w, "{}", paint(style::LABEL, "parameters:"))?;
        for p in &a.parameters {
            write_param(w, p)?;
        }
    }
    if !a.prechecks.is_empty() {
        writeln!(w)?;
        writeln!(
            w,
            "{} (an executor verifies these first)",
            paint(style::LABEL, "prechecks:")
        )?;
        for p in &a.prechecks {
            writeln!(w, "  - {}", paint(style::LABEL, &p.name))?;
            w.write_all(wrap(&p.description, 74, "    ").as_bytes())?;
        }
    }
    Ok(())
}

fn write_param(w: &mut impl Write, p: &Parameter) -> std::io::Result<()> {
    let mut facts = vec![p.param_type.as_str().to_owned()];
    facts.push(
        if p.required && p.default.is_none() {
            "required"
        } else {
            "optional"
        }
        .to_owned(),
    );
    if let Some(d) = &p.default {
        facts.push(format!("default {d}"));
    }
    writeln!(
        w,
        "  {} ({})",
        paint(style::LABEL, &p.name),
        facts.join(", ")
    )?;
    if let Some(desc) = &p.description {
        w.write_all(wrap(desc, 74, "    ").as_bytes())?;
    }
    if let Some(c) = p
        .constraints
        .as_ref()
        .map(constraints_text)
        .filter(|c| !c.is_empty())
    {
        writeln!(w, "    {} {c}", paint(style::DIM, "constraints:"))?;
    }
    Ok(())
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        v.to_string()
    }
}

fn constraints_text(c: &Constraints) -> String {
    let mut parts = Vec::new();
    match (c.min_value, c.max_value) {
        (Some(lo), Some(hi)) => parts.push(format!("{}..={}", fmt_num(lo), fmt_num(hi))),
        (Some(lo), None) => parts.push(format!(">= {}", fmt_num(lo))),
        (None, Some(hi)) => parts.push(format!("<= {}", fmt_num(hi))),
        (None, None) => {}
    }
    match (c.min_length, c.max_length) {
        (Some(lo), Some(hi)) => parts.push(format!("length {lo}..={hi}")),
        (Some(lo), None) => parts.push(format!("length >= {lo}")),
        (None, Some(hi)) => parts.push(format!("length <= {hi}")),
        (None, None) => {}
    }
    if let Some(p) = &c.pattern {
        parts.push(format!("pattern {p}"));
    }
    if let Some(values) = &c.enum_values {
        let vs: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        parts.push(format!("one of {}", vs.join(", ")));
    }
    parts.join("; ")
}
