//! The core's integration tests, in one test binary: one link instead of one
//! per file. Each file is a module, loaded with `#[path]` so that it is read
//! as a `mod.rs`-style file and its own `mod common;` finds `common/` here.
//!
//! Tests that must own their process stay separate binaries: the
//! `identity_provider_*` files (each installs a crypto provider, process-wide)
//! and the `audit_*` files (they re-run their own binary as child processes by
//! test name).
#![expect(
    clippy::duplicate_mod,
    reason = "each test file keeps its own `mod common;`, read from this directory"
)]

#[path = "access_could_permit.rs"]
mod access_could_permit;
#[path = "agent_id_globs.rs"]
mod agent_id_globs;
#[path = "catalogue.rs"]
mod catalogue;
#[path = "docs_blocks.rs"]
mod docs_blocks;
#[path = "engine_analysis.rs"]
mod engine_analysis;
#[path = "engine_decisions.rs"]
mod engine_decisions;
#[path = "engine_props.rs"]
mod engine_props;
#[path = "engine_selectors.rs"]
mod engine_selectors;
#[path = "engine_versions_and_targets.rs"]
mod engine_versions_and_targets;
#[path = "fmt_policy.rs"]
mod fmt_policy;
#[path = "identity_jwt.rs"]
mod identity_jwt;
#[path = "loader_errors.rs"]
mod loader_errors;
#[path = "loader_files.rs"]
mod loader_files;
#[path = "parity.rs"]
mod parity;
#[path = "rbac_example.rs"]
mod rbac_example;
#[path = "target_binding.rs"]
mod target_binding;
