//! The digest that names a loaded snapshot in every decision event
//! (`snapshot` in the v2 audit line), so each line says which exact policy
//! version decided it.
//!
//! It is the SHA-256 of a small manifest: this build's version (the embedded
//! catalogue comes with it) and whether the catalogue is used, the config
//! file's bytes, and every action, policy and inventory file's path (relative
//! to its configured path) and bytes, in the loader's order. Two projects with
//! byte-identical files have the same digest; any edit changes it.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::load::read_sources;

/// `sha256:<hex>` of the files `config` names, or `None` when one of them
/// can no longer be read (it changed between loading and hashing; the
/// snapshot itself is still good, its events then carry no digest).
pub(crate) fn snapshot_digest(config: &Config) -> Option<String> {
    let mut manifest = Sha256::new();
    manifest.update(b"agent-safe snapshot digest v1\n");
    manifest.update(
        format!(
            "build {} builtin_actions={}\n",
            env!("CARGO_PKG_VERSION"),
            config.builtin_actions
        )
        .as_bytes(),
    );
    if let Some(src) = &config.source {
        let bytes = std::fs::read(src).ok()?;
        manifest.update(format!("config {}\n", hex::encode(Sha256::digest(&bytes))).as_bytes());
    }
    for (kind, root) in [
        ("actions", &config.actions),
        ("policies", &config.policies),
        ("inventory", &config.inventory),
    ] {
        let Some(root) = root else { continue };
        for file in read_sources(root).ok()? {
            let rel = file.path.strip_prefix(root).unwrap_or(Path::new(""));
            let rel = if rel.as_os_str().is_empty() {
                file.path.file_name().map(Path::new).unwrap_or(rel)
            } else {
                rel
            };
            manifest.update(
                format!(
                    "{kind} {} {}\n",
                    rel.display(),
                    hex::encode(Sha256::digest(file.text.as_bytes()))
                )
                .as_bytes(),
            );
        }
    }
    Some(format!("sha256:{}", hex::encode(manifest.finalize())))
}
