//! RIPE RIS Live over a websocket.
//!
//! - [`RisLiveSession`] (parse): JSON text in, route inputs out, switching on the
//!   message type; [`subscriptions`] builds the subscribe messages;
//! - [`run_ris_live`] (client): connects with tokio-tungstenite, subscribes, pings,
//!   reconnects with backoff, and reports each gap.

mod client;
mod parse;

pub use client::{RisLiveConfig, run_ris_live};
pub use parse::{RisLiveSession, RisMessage, subscriptions};
