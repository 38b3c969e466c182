//! The target inventory (`inventory.yaml`).

use std::path::Path;

use super::{SourceFile, check_unique, parse_root, read_sources, sensitivity_of};
use crate::diag::{ConfigError, Diagnostic, Diagnostics};
use crate::model::{Origin, Target};
use crate::yaml::{MapReader, Node, Value};

pub(crate) const ROOT_KEYS: &[&str] = &["targets"];
pub(crate) const TARGET_KEYS: &[&str] = &[
    "id",
    "type",
    "environment",
    "sensitivity",
    "owner",
    "labels",
    "cluster",
    "namespace",
    "name",
];

/// Parses one inventory file, reporting every problem in it.
pub fn parse_inventory(src: &SourceFile) -> Result<Vec<Target>, ConfigError> {
    let mut d = Diagnostics::new();
    let targets = read_inventory(src, &mut d);
    check_unique(
        "target id",
        targets.iter().map(|t| (t.id.as_str(), &t.origin)),
        &mut d,
    );
    d.finish(targets)
}

/// Loads the inventory from a file or a directory of files; target ids must
/// be unique across all of them.
pub fn load_inventory(path: &Path) -> Result<Vec<Target>, ConfigError> {
    let mut d = Diagnostics::new();
    let mut all = Vec::new();
    for src in read_sources(path)? {
        all.extend(read_inventory(&src, &mut d));
    }
    check_unique(
        "target id",
        all.iter().map(|t| (t.id.as_str(), &t.origin)),
        &mut d,
    );
    d.finish(all)
}

fn read_inventory(src: &SourceFile, d: &mut Diagnostics) -> Vec<Target> {
    let file = src.path.as_path();
    let Some(root) = parse_root(src, d) else {
        return Vec::new();
    };
    if root.value == Value::Null {
        d.push(super::empty_document(file, "inventory file", "targets"));
        return Vec::new();
    }
    let Some(mut r) = MapReader::new(file, &root, "inventory", ROOT_KEYS, d) else {
        return Vec::new();
    };
    // As for policies: `targets: []` says "no targets"; an empty or cut-short
    // file is an error, not an inventory that lost its entries.
    let items = super::required_root_list(&mut r, &root, "targets", d);
    r.finish(d);
    items
        .iter()
        .filter_map(|n| read_target(file, n, d))
        .collect()
}

fn read_target(file: &Path, node: &Node, d: &mut Diagnostics) -> Option<Target> {
    let mut r = MapReader::new(file, node, "target", TARGET_KEYS, d)?;
    let id = r.req_str("id", d);
    if let Some((id, pos)) = &id
        && (id.trim().is_empty() || id.chars().any(char::is_whitespace))
    {
        d.push(
            Diagnostic::error(file, *pos, format!("invalid target id `{id}`")).with_help(
                "target ids are non-empty and contain no spaces, e.g. `prod/api-server`",
            ),
        );
    }
    let target_type = r.req_str("type", d);
    let environment = r.req_str("environment", d);
    let sensitivity = r
        .require("sensitivity", d)
        .and_then(|n| sensitivity_of(file, n, "sensitivity", d));
    let owner = r.opt_str("owner", d).map(|(s, _)| s);
    let labels = r
        .opt_str_map("labels", d)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v, _)| (k, v))
        .collect();
    let cluster = r.opt_str("cluster", d).map(|(s, _)| s);
    let namespace = r.opt_str("namespace", d).map(|(s, _)| s);
    let name = r.opt_str("name", d).map(|(s, _)| s);
    r.finish(d);
    Some(Target {
        id: id?.0,
        target_type: target_type?.0,
        environment: environment?.0,
        sensitivity: sensitivity?,
        owner,
        labels,
        cluster,
        namespace,
        name,
        origin: Origin {
            file: file.to_path_buf(),
            pos: node.pos,
        },
    })
}
