//! blackout-geo against its fixtures and the real ranges in `../shared/data/geo`: one
//! test binary, one module per concern.

mod common;
mod delegated;
mod load;
mod mmdb;
mod oracle;
mod shared_data;
