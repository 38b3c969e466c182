//! agent-safe core: the model, loaders, policy engine and audit log.
//!
//! This crate knows nothing of command lines, HTTP or Python; the `agent-safe`
//! CLI, the sidecar and the Python binding are thin layers over it.
//!
//! Layers: YAML files are parsed into a located tree ([`yaml`]), read into the
//! typed model ([`model`]) by the strict loaders ([`load`], [`config`]), and
//! compiled into an immutable snapshot that evaluates requests.
//!
//! # Where to start
//!
//! The types most callers need are re-exported here:
//!
//! - [`AgentSafe`]: the facade. It loads a configuration
//!   ([`AgentSafe::open`]), answers a [`CheckRequest`] or a [`PlanRequest`]
//!   with a [`Decision`] or a [`PlanDecision`], and records each answer in the
//!   audit log before returning it.
//! - [`Config`] ([`load_config`]) and [`Snapshot`] ([`Snapshot::load`]): the
//!   configuration and the compiled, immutable policy set that
//!   evaluates requests without I/O.
//! - [`ConfigError`] and [`Diagnostic`]: every problem found while loading,
//!   each with its file, line and column.
//! - [`AuditLog`], [`AuditEvent`] and [`VerifyReport`]: the hash-chained log,
//!   one event of it, and what verifying it found.
//! - [`Caller`] and [`IdentityConfig`]: who asks, and how tokens are verified.
//!
//! The modules below hold the rest, one concern each.
pub mod access;
pub mod approval;
pub mod audit;
pub mod config;
pub mod coverage;
pub mod diag;
pub mod engine;
pub mod facade;
pub mod fmt;
pub mod identity;
pub mod json;
pub mod k8s;
pub mod load;
pub mod manifest;
pub mod mapping;
pub mod migrate;
pub mod model;
mod params;
pub mod plan;
pub mod privilege;
pub mod rbac;
pub mod registry;
pub mod replay;
pub mod shadow;
pub mod yaml;

pub use approval::{ApprovalError, ApprovalReceipt, ApprovalRequest};
pub use audit::{AuditEvent, AuditLog, VerifyReport};
pub use config::{Config, load_config};
pub use diag::{ConfigError, Diagnostic};
pub use engine::Snapshot;
pub use engine::{Decision, PlanDecision};
pub use facade::{AgentSafe, Approval, CheckRequest};
pub use identity::{Caller, IdentityConfig};
pub use model::{DecisionResult, RiskClass, Sensitivity};
pub use plan::{PlanError, PlanRequest, PlanStep};
