//! The private native module `agent_safe._native`.
//!
//! The public package is written in Python (`python/agent_safe/`), in the
//! shape of pydantic-core: this module holds the decision point
//! ([`safe::PyAgentSafe`]), the answer types ([`decision`]), the tool
//! mapping ([`mapping`]) and the entry
//! point of the `agent-safe` console script (`run_cli`, the Rust CLI itself).
//! Typing lives in the hand-written `python/agent_safe/_native.pyi`.

mod convert;
mod decision;
mod errors;
mod mapping;
mod safe;

use std::ffi::OsString;

use pyo3::prelude::*;

/// Runs the `agent-safe` command line (``argv[0]`` is the program name) and
/// returns its exit code. The GIL is released while it runs.
#[pyfunction]
fn run_cli(py: Python<'_>, argv: Vec<OsString>) -> i32 {
    py.detach(move || agent_safe_cli::run(argv))
}

/// The native half of the `agent_safe` package.
#[pymodule]
mod _native {
    use pyo3::prelude::*;

    #[pymodule_export]
    use super::convert::to_json_text;
    #[pymodule_export]
    use super::decision::{PyDecision, PyPlan};
    #[pymodule_export]
    use super::mapping::{PyMappedCall, PyToolMapping};
    #[pymodule_export]
    use super::run_cli;
    #[pymodule_export]
    use super::safe::PyAgentSafe;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))
    }
}
