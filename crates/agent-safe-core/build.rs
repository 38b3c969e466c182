//! Embeds the built-in action catalogue and the example project (what
//! `agent-safe init` scaffolds) into the library.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn collect(dir: &Path, base: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(&path, base, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            let rel = path
                .strip_prefix(base)
                .map(|p| p.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default();
            out.push((rel, path));
        }
    }
}

fn table(name: &str, files: &[(String, PathBuf)]) -> String {
    let mut s = format!("pub static {name}: &[(&str, &str)] = &[\n");
    for (rel, path) in files {
        let _ = writeln!(
            s,
            "    ({rel:?}, include_str!({:?})),",
            path.display().to_string()
        );
    }
    s.push_str("];\n");
    s
}

/// The catalogue as JSON, converted at build time: parsing JSON at run time is
/// much faster than YAML, and a one-shot `agent-safe check` loads the whole
/// catalogue. The loader reads the same tree either way.
fn json_table(name: &str, files: &[(String, PathBuf)]) -> String {
    let mut s = format!("pub static {name}: &[(&str, &str)] = &[\n");
    for (rel, path) in files {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let value: serde_json::Value = match serde_saphyr::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                println!(
                    "cargo:warning=invalid catalogue file {}: {e}",
                    path.display()
                );
                std::process::exit(1);
            }
        };
        let _ = writeln!(s, "    ({rel:?}, {:?}),", value.to_string());
    }
    s.push_str("];\n");
    s
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let cat = root.join("catalogue");
    println!("cargo:rerun-if-changed={}", cat.display());
    let mut actions = Vec::new();
    collect(&cat.join("actions"), &cat.join("actions"), &mut actions);
    let mut example = Vec::new();
    collect(&cat.join("example"), &cat.join("example"), &mut example);
    // Directory mtimes do not change when a file inside is edited: watch each file.
    for (_, p) in actions.iter().chain(&example) {
        println!("cargo:rerun-if-changed={}", p.display());
    }
    let mut out = String::new();
    out.push_str(&table("BUILTIN_ACTIONS", &actions));
    out.push_str(&table("EXAMPLE_PROJECT", &example));
    out.push_str(&json_table("BUILTIN_ACTIONS_JSON", &actions));
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("catalogue.rs");
    if let Err(e) = std::fs::write(&dest, out) {
        println!("cargo:warning=cannot write {}: {e}", dest.display());
        std::process::exit(1);
    }
}
