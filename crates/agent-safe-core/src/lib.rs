//! agent-safe core: the model, loaders, policy engine and audit log.
//!
//! This crate knows nothing of command lines, HTTP or Python; the `agent-safe`
//! CLI, the sidecar and the Python binding are thin layers over it.
pub mod audit;
pub mod diag;
pub mod identity;
pub mod yaml;
