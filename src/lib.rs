//! netscan's packet core, exposed to Python as `netscan._core`.
//!
//! Everything below the Python package's inventory lives here: capture reading, link
//! and IP decoding, the flow table, TCP reassembly and the high-volume dissectors.
//! Nothing in this crate may panic across the boundary: every entry point catches a
//! panic and turns it into a counted warning or a Python exception.

use pyo3::prelude::*;

pub mod capture;
pub mod decode;
pub mod dissect;
pub mod engine;
pub mod events;
pub mod flow;
pub mod loss;
pub mod pipeline;
#[cfg(test)]
mod proptests;
mod pycore;
pub mod reassembly;

/// The version of the core, so the Python side can say which core it runs.
#[pyfunction]
fn core_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(core_version, m)?)?;
    dissect::register(m)?;
    pycore::register(m)?;
    Ok(())
}
