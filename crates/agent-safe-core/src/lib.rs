//! agent-safe core: the model, loaders, policy engine and audit log.
//!
//! This crate knows nothing of command lines, HTTP or Python; the `agent-safe`
//! CLI, the sidecar and the Python binding are thin layers over it.
//!
//! Layers: YAML files are parsed into a located tree ([`yaml`]), read into the
//! typed model ([`model`]) by the strict loaders ([`load`], [`config`]), and
//! compiled into an immutable snapshot that evaluates requests.
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
pub mod model;
pub mod params;
pub mod plan;
pub mod privilege;
pub mod rbac;
pub mod registry;
pub mod replay;
pub mod shadow;
pub mod yaml;

pub use approval::{ApprovalError, ApprovalReceipt, ApprovalRequest};
pub use engine::{Decision, PlanDecision};
pub use facade::{AgentSafe, Approval, CheckRequest};
pub use model::{DecisionResult, RiskClass, Sensitivity};
pub use plan::{PlanError, PlanRequest, PlanStep};
