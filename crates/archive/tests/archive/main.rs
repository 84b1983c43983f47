//! The archive reader against real MRT data (`../shared/data`): one test binary, one
//! module per concern. A local HTTP server on 127.0.0.1 stands in for an archive site.

#[macro_use]
mod common;
mod conformance;
mod coverage;
mod damage;
mod inputs;
mod merge;
mod robustness;
mod url;
mod watch;
