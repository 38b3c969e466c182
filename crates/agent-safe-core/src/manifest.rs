//! The registry integrity manifest (`registry.lock`).
//!
//! `agent-safe registry lock` records the SHA-256 of every action file: the
//! project's own files, and the embedded built-in catalogue as one entry.
//! When the manifest exists, loading refuses any file whose hash differs, any
//! file missing from the disk, and any file not in the manifest. The format
//! is `sha256sum`-compatible for the file lines (`<hex>  <path>`), so
//! `sha256sum -c` can check the project files too; comment lines start with `#`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::diag::{ConfigError, Diagnostic, Diagnostics, Pos};
use crate::load::SourceFile;

/// The manifest's file name, beside `agent-safe.yaml`.
pub const MANIFEST_FILE_NAME: &str = "registry.lock";
const HEADER: &str = "# agent-safe registry lock v1: SHA-256 of every action file.\n# Written by `agent-safe registry lock`; loading refuses changed, missing or extra files.\n";
const BUILTIN_TAG: &str = "# builtin-catalogue ";

/// Hex SHA-256 of some bytes.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// One hash over the whole embedded catalogue (names and contents).
pub(crate) fn builtin_catalogue_hash() -> String {
    let mut h = Sha256::new();
    for (name, text) in crate::registry::builtin_sources() {
        h.update(name.as_bytes());
        h.update([0]);
        h.update(text.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

fn rel(base: &Path, p: &Path) -> String {
    p.strip_prefix(base)
        .unwrap_or(p)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Renders the manifest for the given project action files (and the built-in
/// catalogue when it is enabled). Paths are written relative to `base`.
pub(crate) fn render_manifest(base: &Path, builtin: bool, files: &[SourceFile]) -> String {
    let mut out = String::from(HEADER);
    if builtin {
        let _ = writeln!(out, "{BUILTIN_TAG}{}", builtin_catalogue_hash());
    }
    let mut lines: Vec<(String, String)> = files
        .iter()
        .map(|f| (rel(base, &f.path), sha256_hex(f.text.as_bytes())))
        .collect();
    lines.sort();
    for (path, hash) in lines {
        let _ = writeln!(out, "{hash}  {path}");
    }
    out
}

/// Writes the manifest to `path`, returning the number of file entries.
pub fn write_manifest(path: &Path, builtin: bool, files: &[SourceFile]) -> std::io::Result<usize> {
    let base = path.parent().unwrap_or(Path::new("."));
    let text = render_manifest(base, builtin, files);
    let tmp = path.with_extension("lock.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)?;
    Ok(files.len())
}

/// Whether a manifest is present at `path` in any form. A dangling symlink,
/// a FIFO or a directory there counts as present, so that checking it fails
/// loudly instead of the integrity check being skipped.
pub fn manifest_exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// Checks the project files (and the built-in catalogue) against the manifest
/// at `path`, reporting every changed, missing and extra file.
pub(crate) fn check_manifest(
    path: &Path,
    builtin: bool,
    files: &[SourceFile],
) -> Result<(), ConfigError> {
    let text = crate::load::read_file(path)?.text;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut d = Diagnostics::new();
    let mut expected: BTreeMap<String, (String, u32)> = BTreeMap::new();
    let mut builtin_hash: Option<(String, u32)> = None;
    for (i, line) in text.lines().enumerate() {
        let line_no = u32::try_from(i + 1).unwrap_or(u32::MAX);
        if let Some(h) = line.strip_prefix(BUILTIN_TAG) {
            builtin_hash = Some((h.trim().to_owned(), line_no));
            continue;
        }
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once("  ") {
            Some((hash, file))
                if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                expected.insert(file.to_owned(), (hash.to_ascii_lowercase(), line_no));
            }
            _ => d.push(
                Diagnostic::error(path, Pos::new(line_no, 1), "malformed manifest line").with_help(
                    "lines are `<sha256 hex>  <path>`; regenerate with `agent-safe registry lock`",
                ),
            ),
        }
    }
    let relock = "if the change is intended, run `agent-safe registry lock` and commit the new registry.lock";
    match (builtin, builtin_hash) {
        (true, Some((h, line))) if h != builtin_catalogue_hash() => d.push(
            Diagnostic::error(path, Pos::new(line, 1), "the built-in action catalogue differs from the one recorded in the manifest (agent-safe was upgraded?)")
                .with_help(relock),
        ),
        (true, None) => d.push(
            Diagnostic::error(path, Pos::FILE, "the manifest does not cover the built-in action catalogue")
                .with_help(relock),
        ),
        (false, Some((_, line))) => d.push(
            Diagnostic::error(path, Pos::new(line, 1), "the manifest records the built-in catalogue, but the config disables it")
                .with_help(relock),
        ),
        _ => {}
    }
    let mut actual: BTreeMap<String, &SourceFile> = BTreeMap::new();
    for f in files {
        actual.insert(rel(base, &f.path), f);
    }
    for (file, f) in &actual {
        match expected.get(file) {
            None => d.push(
                Diagnostic::error(
                    &f.path,
                    Pos::FILE,
                    format!(
                        "action file is not in the registry manifest {}",
                        path.display()
                    ),
                )
                .with_help(relock),
            ),
            Some((hash, line)) if *hash != sha256_hex(f.text.as_bytes()) => d.push(
                Diagnostic::error(
                    &f.path,
                    Pos::FILE,
                    format!(
                        "action file changed since it was locked (manifest {}:{line})",
                        path.display()
                    ),
                )
                .with_help(relock),
            ),
            Some(_) => {}
        }
    }
    for (file, (_, line)) in &expected {
        if !actual.contains_key(file) {
            d.push(
                Diagnostic::error(
                    path,
                    Pos::new(*line, 1),
                    format!("action file `{file}` is in the manifest but missing"),
                )
                .with_help(relock),
            );
        }
    }
    d.finish(())
}
