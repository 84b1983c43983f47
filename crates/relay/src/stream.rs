//! The broker's side shared by agents and the central: the connection (which
//! keeps trying while the broker is away) and the one stream of results.

use crate::RelayError;
use async_nats::jetstream::{self, stream};
use blackout_model::subject::STREAM;
use std::time::Duration;

/// How long JetStream remembers a message id: a result resent from an agent's
/// buffer within this time after its first copy was stored is stored once.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(3600);
/// How long the stream keeps results.
pub const MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// A client of the broker at `url` that connects in the background and
/// reconnects forever (every 100 ms at first, at most every 2 s).
pub async fn connect(url: &str) -> Result<async_nats::Client, RelayError> {
    async_nats::ConnectOptions::new()
        .name("blackout")
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(2))
        .reconnect_delay_callback(|attempts| {
            Duration::from_millis((attempts as u64).saturating_mul(100).min(2000))
        })
        .connect(url)
        .await
        .map_err(|error| RelayError::Connect {
            url: url.to_string(),
            reason: error.to_string(),
        })
}

/// The stream's settings: every subject under `blackout.`, on disk, ids
/// remembered for [`DUPLICATE_WINDOW`].
pub fn stream_config() -> stream::Config {
    stream::Config {
        name: STREAM.to_string(),
        subjects: vec!["blackout.>".to_string()],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        discard: stream::DiscardPolicy::Old,
        duplicate_window: DUPLICATE_WINDOW,
        max_age: MAX_AGE,
        description: Some("blackout: probe results of every agent".to_string()),
        ..Default::default()
    }
}

/// Creates the stream if it is not there (one made by hand with other limits
/// is left as it is).
pub async fn ensure_stream(js: &jetstream::Context) -> Result<(), RelayError> {
    js.get_or_create_stream(stream_config())
        .await
        .map(|_| ())
        .map_err(|error| RelayError::Stream(error.to_string()))
}
