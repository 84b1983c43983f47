//! The API's integration tests: one binary, a real server on loopback over a real
//! SQLite store in a temp dir per test.
//!
//! - `rejects`: malformed and oversized requests get JSON errors;
//! - `queries`: status, events, signals and series answers, and the OpenAPI
//!   description against the routes served;
//! - `stream`: server-sent events deliver status changes and events;
//! - `slow_clients`: a request head not whole by the deadline closes the connection;
//!   the connection cap makes new clients wait;
//! - `dashboard`: the page in headless Chromium shows the status and the events,
//!   escapes what came from the network, and updates live (needs `chromium`);
//! - `overview`: `/api/v1/entities` pages through 250 countries and 70,000 ASes,
//!   and the overview page shows them a page at a time in headless Chromium;
//! - `prometheus`: a real Prometheus scrapes `/metrics` (needs `prometheus`).

mod browser;
mod common;
mod dashboard;
mod overview;
mod prometheus;
mod queries;
mod rejects;
mod slow_clients;
mod stream;
