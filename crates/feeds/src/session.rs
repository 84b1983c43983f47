//! The BGP session's sockets: accept the router's connection (passive) or dial it
//! (active, with backoff), and run the pure [`BgpSession`] over it, sleeping until
//! its next timer.

use crate::error::FeedError;
use crate::fsm::{Action, BgpSession, SessionConfig, SessionState};
use crate::health::{FeedId, HealthTracker};
use crate::{FeedEvent, FeedSender};
use blackout_model::Timestamp;
use blackout_model::clock::now;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Who opens the TCP connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dial {
    /// Listen here and accept the router (only the router).
    Passive(SocketAddr),
    /// Connect to the router here.
    Active(SocketAddr),
}

/// A BGP feed's settings.
#[derive(Clone, Debug)]
pub struct BgpFeedConfig {
    /// The session.
    pub session: SessionConfig,
    /// Who connects.
    pub dial: Dial,
    /// The first wait before dialling again; it doubles up to `retry_max`.
    pub retry_min: Duration,
    /// The longest wait between attempts.
    pub retry_max: Duration,
    /// How often the health is published.
    pub health_interval: Duration,
}

/// Runs the session for good: every loss is retried. Returns only when the listening
/// socket cannot be opened or the events' receiver is gone.
pub async fn run_bgp_session(config: BgpFeedConfig, events: FeedSender) -> Result<(), FeedError> {
    let mut health = HealthTracker::new(FeedId::bgp(config.session.peer), now());
    publish(&events, &mut health).await?;
    let mut session = BgpSession::new(config.session.clone());
    match config.dial {
        Dial::Passive(listen) => {
            let listener = TcpListener::bind(listen)
                .await
                .map_err(|source| FeedError::Listen {
                    what: "BGP",
                    addr: listen,
                    source,
                })?;
            loop {
                let (stream, from) = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok(accepted) => accepted,
                        Err(error) => {
                            tracing::warn!(%error, "BGP accept failed");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    },
                    () = events.closed() => return Err(FeedError::Closed),
                };
                if from.ip().to_canonical() != config.session.peer.to_canonical() {
                    tracing::warn!(%from, "BGP connection refused: not the configured router");
                    continue;
                }
                serve(&config, &mut session, &mut health, stream, &events).await?;
            }
        }
        Dial::Active(target) => {
            let mut wait = config.retry_min;
            loop {
                let connected = tokio::select! {
                    connected = tokio::time::timeout(
                        Duration::from_secs(30),
                        TcpStream::connect(target),
                    ) => connected,
                    () = events.closed() => return Err(FeedError::Closed),
                };
                match connected {
                    Ok(Ok(stream)) => {
                        let before = session.stats().established;
                        serve(&config, &mut session, &mut health, stream, &events).await?;
                        if session.stats().established > before {
                            wait = config.retry_min;
                        }
                    }
                    Ok(Err(error)) => {
                        health.down(now(), format!("cannot connect to {target}: {error}"));
                    }
                    Err(_) => health.down(now(), format!("connecting to {target} timed out")),
                }
                publish(&events, &mut health).await?;
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(config.retry_max);
            }
        }
    }
}

async fn publish(events: &FeedSender, health: &mut HealthTracker) -> Result<(), FeedError> {
    events
        .send(FeedEvent::Health(health.snapshot(now())))
        .await
        .map_err(|_| FeedError::Closed)
}

/// Runs one connection to its end.
async fn serve(
    config: &BgpFeedConfig,
    session: &mut BgpSession,
    health: &mut HealthTracker,
    mut stream: TcpStream,
    events: &FeedSender,
) -> Result<(), FeedError> {
    let _ = stream.set_nodelay(true);
    let mut actions = session.connected(now());
    let mut buf = vec![0u8; 64 * 1024];
    let mut ticker = tokio::time::interval(config.health_interval);
    loop {
        if let Some(reason) = apply(&mut actions, session, &mut stream, health, events).await? {
            tracing::info!(peer = %config.session.peer, %reason, "BGP session ended");
            let _ = stream.shutdown().await;
            return Ok(());
        }
        let deadline = session.next_deadline();
        tokio::select! {
            read = stream.read(&mut buf) => {
                let at = now();
                actions = match read {
                    Ok(0) => session.closed(at, "router closed the connection"),
                    Ok(n) => {
                        health.messages(at, 1);
                        session.received(at, buf.get(..n).unwrap_or(&[]))
                    }
                    Err(error) => session.closed(at, &format!("connection lost: {error}")),
                };
            }
            () = sleep_until(deadline) => actions = session.tick(now()),
            _ = ticker.tick() => {
                health.set_peers(u32::from(session.state() == SessionState::Established));
                health.set_session(session.health());
                health.set_why_no_routes(session.why_no_routes());
                publish(events, health).await?;
            }
            () = events.closed() => {
                actions = session.shutdown(now());
                let _ = apply(&mut actions, session, &mut stream, health, events).await;
                return Err(FeedError::Closed);
            }
        }
    }
}

async fn sleep_until(deadline: Option<Timestamp>) {
    match deadline {
        Some(deadline) => {
            let micros = (deadline.as_micros() - now().as_micros()).max(0);
            tokio::time::sleep(Duration::from_micros(micros as u64)).await;
        }
        None => std::future::pending().await,
    }
}

/// Carries out the machine's actions; returns the reason when it closed the session.
async fn apply(
    actions: &mut Vec<Action>,
    session: &BgpSession,
    stream: &mut TcpStream,
    health: &mut HealthTracker,
    events: &FeedSender,
) -> Result<Option<String>, FeedError> {
    let mut closed = None;
    for action in actions.drain(..) {
        match action {
            Action::Send(bytes) => {
                if closed.is_none()
                    && let Err(error) = stream.write_all(&bytes).await
                {
                    tracing::debug!(%error, "BGP write failed");
                }
            }
            Action::Input(input) => events
                .send(FeedEvent::Input(input))
                .await
                .map_err(|_| FeedError::Closed)?,
            Action::State(SessionState::Established) => {
                health.up(now());
                health.set_peers(1);
                health.set_session(session.health());
                publish(events, health).await?;
            }
            Action::State(_) => {}
            Action::Close { reason } => {
                health.set_session(session.health());
                health.down(now(), reason.clone());
                publish(events, health).await?;
                closed = Some(reason);
            }
        }
    }
    Ok(closed)
}
