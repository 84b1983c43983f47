//! Incident reports (being written).
