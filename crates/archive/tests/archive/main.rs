//! The archive reader against real MRT data (`../shared/data`): one test binary, one
//! module per concern.

mod common;
mod conformance;
