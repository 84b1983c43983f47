//! The RIS Live websocket client: connect, subscribe, ping, read; on any loss flush
//! the peers seen, wait (doubling from `backoff_min` to `backoff_max`) and connect
//! again. Every reconnect is a gap in the feed's health.

use super::parse::{RisLiveSession, RisMessage, subscriptions};
use crate::error::FeedError;
use crate::health::{FeedId, HealthTracker};
use crate::{FeedEvent, FeedSender};
use blackout_model::BgpInput;
use blackout_model::PrefixFilter;
use blackout_model::clock::now;
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::http::Uri;

/// A RIS Live feed's settings.
#[derive(Clone, Debug)]
pub struct RisLiveConfig {
    /// The websocket URL (`wss://ris-live.ripe.net/v1/ws/?client=blackout`).
    pub url: String,
    /// What to subscribe to and pass on.
    pub filter: PrefixFilter,
    /// The first wait before reconnecting.
    pub backoff_min: Duration,
    /// The longest wait.
    pub backoff_max: Duration,
    /// How often to send a RIS Live ping, which the server answers with a pong.
    pub ping_interval: Duration,
    /// No message at all (pongs included) for this long: the connection is dead.
    pub idle_timeout: Duration,
    /// How often the health is published.
    pub health_interval: Duration,
}

impl RisLiveConfig {
    /// Defaults for `url` and `filter`: backoff 1 s to 60 s, ping every 20 s, dead after 60 s.
    pub fn new(url: impl Into<String>, filter: PrefixFilter) -> Self {
        RisLiveConfig {
            url: url.into(),
            filter,
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            ping_interval: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            health_interval: Duration::from_secs(5),
        }
    }

    /// The feed's id, named by the URL's host.
    pub fn feed_id(&self) -> Result<FeedId, FeedError> {
        let bad = |reason: &str| FeedError::Url {
            url: blackout_model::text::redact_url(&self.url),
            reason: reason.to_string(),
        };
        let uri: Uri = self.url.parse().map_err(|_| bad("not a URL"))?;
        if !matches!(uri.scheme_str(), Some("ws" | "wss")) {
            return Err(bad("the scheme must be ws or wss"));
        }
        let host = uri.host().ok_or_else(|| bad("no host"))?;
        Ok(FeedId::ris_live(host))
    }
}

/// Runs the client for good. Returns only on a bad URL or when the events' receiver
/// is gone.
pub async fn run_ris_live(config: RisLiveConfig, events: FeedSender) -> Result<(), FeedError> {
    let feed = config.feed_id()?;
    // wss:// needs a process-wide rustls provider: ring, the only one built in. An
    // error means one is installed already, which is as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut health = HealthTracker::new(feed, now());
    publish(&events, &mut health).await?;
    let mut wait = config.backoff_min;
    loop {
        let started = now();
        let reason = match connection(&config, &mut health, &events).await {
            Ok(reason) => reason,
            Err(FeedError::Closed) => return Err(FeedError::Closed),
            Err(other) => other.to_string(),
        };
        let url = blackout_model::text::redact_url(&config.url);
        tracing::info!(%url, %reason, "RIS Live connection ended");
        health.down(now(), reason);
        publish(&events, &mut health).await?;
        if now().secs_since(started) > config.backoff_max.as_secs_f64() {
            wait = config.backoff_min;
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = events.closed() => return Err(FeedError::Closed),
        }
        wait = (wait * 2).min(config.backoff_max);
    }
}

async fn publish(events: &FeedSender, health: &mut HealthTracker) -> Result<(), FeedError> {
    send(events, FeedEvent::Health(health.snapshot(now()))).await
}

async fn send(events: &FeedSender, event: FeedEvent) -> Result<(), FeedError> {
    events.send(event).await.map_err(|_| FeedError::Closed)
}

/// One connection, from dialling to its loss; returns why it was lost.
async fn connection(
    config: &RisLiveConfig,
    health: &mut HealthTracker,
    events: &FeedSender,
) -> Result<String, FeedError> {
    let connect = tokio_tungstenite::connect_async(config.url.as_str());
    let mut socket = match tokio::time::timeout(Duration::from_secs(30), connect).await {
        Ok(Ok((socket, _))) => socket,
        Ok(Err(error)) => return Ok(format!("cannot connect: {error}")),
        Err(_) => return Ok("connecting timed out".into()),
    };
    for subscription in subscriptions(&config.filter.prefixes()) {
        if let Err(error) = socket.send(Message::text(subscription)).await {
            return Ok(format!("cannot subscribe: {error}"));
        }
    }
    if let Some(gap) = health.up(now()) {
        tracing::warn!(from = %gap.from, to = %gap.to, "RIS Live gap: routes may have changed unseen");
    }
    publish(events, health).await?;
    let mut session = RisLiveSession::new(config.filter.clone());
    let mut out: Vec<BgpInput> = Vec::new();
    let mut ping = tokio::time::interval(config.ping_interval);
    let mut ticker = tokio::time::interval(config.health_interval);
    let mut last_message = now();
    let reason = loop {
        tokio::select! {
            message = socket.next() => {
                let at = now();
                let text = match message {
                    None => break "server closed the connection".to_string(),
                    Some(Err(error)) => break format!("websocket error: {error}"),
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(frame))) => {
                        break match frame {
                            Some(frame) => format!("server closed the connection: {}", frame.reason),
                            None => "server closed the connection".to_string(),
                        };
                    }
                    Some(Ok(_)) => {
                        last_message = at;
                        continue;
                    }
                };
                last_message = at;
                health.messages(at, 1);
                match session.handle(at, text.as_str(), &mut out) {
                    RisMessage::Error(error) => health.error(format!("ris_error: {error}")),
                    RisMessage::Malformed(error) => health.error(format!("malformed message: {error}")),
                    _ => {}
                }
                health.set_peers(session.peer_count() as u32);
                for input in out.drain(..) {
                    send(events, FeedEvent::Input(input)).await?;
                }
            }
            _ = ping.tick() => {
                if now().secs_since(last_message) > config.idle_timeout.as_secs_f64() {
                    break format!("nothing received for {} s", config.idle_timeout.as_secs());
                }
                if let Err(error) = socket.send(Message::text(r#"{"type":"ping"}"#)).await {
                    break format!("cannot send ping: {error}");
                }
            }
            _ = ticker.tick() => publish(events, health).await?,
            () = events.closed() => return Err(FeedError::Closed),
        }
    };
    let _ = socket.close(None).await;
    session.connection_lost(now(), &mut out);
    for input in out.drain(..) {
        send(events, FeedEvent::Input(input)).await?;
    }
    Ok(reason)
}
