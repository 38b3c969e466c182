//! The core's integration tests, in one test binary: one link instead of one
//! per file. Each file is a module, loaded with `#[path]` so that it is read
//! as a `mod.rs`-style file and its own `mod common;` finds `common/` here.
//!
//! Tests that need a process of their own run this binary again as a child
//! that runs just one `#[ignore]`d test, named by its path here
//! ([`own_process`]): the `identity_provider_*` tests (each installs a crypto
//! provider, process-wide) and the audit crash, contention and disk-full tests.
#![expect(
    clippy::duplicate_mod,
    reason = "each test file keeps its own `mod common;`, read from this directory"
)]

mod own_process;

#[path = "access_could_permit.rs"]
mod access_could_permit;
#[path = "agent_id_globs.rs"]
mod agent_id_globs;
#[path = "audit_basic.rs"]
mod audit_basic;
#[path = "audit_checkpoint.rs"]
mod audit_checkpoint;
#[path = "audit_contention.rs"]
mod audit_contention;
#[path = "audit_crash.rs"]
mod audit_crash;
#[path = "audit_disk_full.rs"]
mod audit_disk_full;
#[path = "audit_merkle.rs"]
mod audit_merkle;
#[path = "audit_mutation.rs"]
mod audit_mutation;
#[path = "audit_numbers.rs"]
mod audit_numbers;
#[path = "audit_proptest.rs"]
mod audit_proptest;
#[path = "audit_verify_torn.rs"]
mod audit_verify_torn;
#[path = "audit_versions.rs"]
mod audit_versions;
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
#[path = "identity_jwks.rs"]
mod identity_jwks;
#[path = "identity_jwt.rs"]
mod identity_jwt;
#[path = "identity_provider_broken.rs"]
mod identity_provider_broken;
#[path = "identity_provider_foreign.rs"]
mod identity_provider_foreign;
#[path = "identity_provider_placeholder.rs"]
mod identity_provider_placeholder;
#[path = "live_inventory.rs"]
mod live_inventory;
#[path = "loader_errors.rs"]
mod loader_errors;
#[path = "loader_files.rs"]
mod loader_files;
#[path = "parity.rs"]
mod parity;
#[path = "rbac_example.rs"]
mod rbac_example;
#[path = "shadow.rs"]
mod shadow;
#[path = "target_binding.rs"]
mod target_binding;
