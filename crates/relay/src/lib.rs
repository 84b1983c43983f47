//! Many vantage points: agents publish their probe results to NATS JetStream and
//! a central reads them all.
//!
//! - [`wire`]: the messages (schema-versioned JSON) and the central's
//!   [`decode_message`], which takes any bytes without panicking and makes the
//!   text in them inert; [`results`]: the probe results a vantage point makes
//!   within a tenth of a second, one message ([`AgentResults`], cut by the
//!   [`ResultBatcher`]).
//! - `stream`: the connection that keeps trying, and the one stream of results
//!   (`blackout_model::subject` names its subjects and message ids).
//! - [`buffer`]: the agent's bounded disk buffer for the broker's absences.
//! - `agent`: [`run_agent`], `blackout agent`: the profile's probes and
//!   self-check, published, or buffered and resent in order; and the
//!   traceroutes the central asks for, run and published the same way.
//! - [`routes`] and [`relayed`]: the route inputs of an agent's own BGP/BMP
//!   feeds, cut into batches at the agent and decoded at the central;
//!   [`feed_health`]: those feeds' health, reported to the central.
//! - `central`: [`consume`], the durable pull consumer of `blackout watch --nats`,
//!   handing each result (or traceroute report) on as a [`Delivery`] to
//!   acknowledge once it is stored; [`ask_agents`], which asks every agent for the
//!   traceroutes the engine wants when an event starts, and a vantage point for its
//!   relayed routes.

mod agent;
pub mod buffer;
mod central;
pub mod feed_health;
pub mod relayed;
pub mod results;
pub mod routes;
mod stream;
pub mod wire;

pub use agent::{
    AgentConfig, AgentCounters, AgentReport, DEFAULT_BUFFER_BYTES, Publisher, run_agent,
};
pub use buffer::{BufferError, DiskBuffer};
pub use central::{CentralConfig, CentralCounters, Delivery, ack_all, ask_agents, consume};
pub use feed_health::{AgentFeedHealth, FEED_HEALTH_EVERY, decode_feed_health, health_every};
pub use relayed::{ROUTES_EVERY, RelayedFeed, RouteBatcher};
pub use results::{
    AgentResults, MAX_RESULTS_BYTES, MAX_RESULTS_PER_MESSAGE, RESULTS_EVERY, ResultBatcher,
    decode_results,
};
pub use routes::{
    ASK_AGAIN_AFTER_SECS, AgentRoutes, MAX_ROUTES_BYTES, MAX_ROUTES_PER_BATCH, RelayedSessions,
    RoutesRequest, decode_routes, decode_routes_request,
};
pub use stream::{
    DUPLICATE_WINDOW, NatsUrl, ResultsStream, connect, ensure_stream, redact, stream_config,
};
pub use wire::{
    AgentMessage, AgentResult, AgentTrace, AgentTraceRequest, DecodeError, Encoded, decode,
    decode_message, decode_trace_request,
};

use blackout_model::subject::SubjectError;

/// Why an agent or the central stopped, or could not do something.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// A name that cannot be part of a subject (a usage error).
    #[error(transparent)]
    Name(#[from] SubjectError),
    /// The disk buffer cannot be used.
    #[error(transparent)]
    Buffer(#[from] BufferError),
    /// The broker's address is not usable.
    #[error("cannot connect to the broker at {url}: {reason}")]
    Connect {
        /// The URL, as given.
        url: String,
        /// Why.
        reason: String,
    },
    /// The stream or the consumer cannot be made or read.
    #[error("JetStream stream {name}: {reason}")]
    Stream {
        /// The stream's name.
        name: String,
        /// Why.
        reason: String,
    },
    /// The central's trace requests cannot be subscribed to.
    #[error("cannot subscribe to the central's trace requests: {0}")]
    Subscribe(String),
    /// An acknowledgement did not reach the broker.
    #[error("cannot acknowledge a result: {0}")]
    Ack(String),
}
