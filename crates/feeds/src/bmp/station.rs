//! The station's sockets: a tokio listener that accepts routers on the allow-list,
//! one task per connection that frames, decodes and hands the messages to a
//! [`BmpRouter`], and each router's [`HealthTracker`].
//!
//! A router that connects again while its old connection is still open replaces it:
//! the old task flushes its routes first (the new task waits for it), so a late
//! Peer Down never removes routes the new session has reported.
//!
//! A router that sends part of a message and then nothing for
//! [`BmpStationConfig::stall_timeout`] is disconnected and counted
//! ([`crate::FeedHealth::stalled`]), and its peers are flushed as for any lost session:
//! a half-sent message never holds a session open. The health carries the router's
//! report ([`BmpRouter::report`]) and why its routes are not usable, if they are not;
//! it is published every `health_interval`, and at once when a peer goes up or down.

use super::framer::BmpFramer;
use super::router::{BmpOptions, BmpRouter};
use crate::error::FeedError;
use crate::health::{FeedId, HealthTracker};
use crate::{FeedEvent, FeedSender};
use blackout_model::BgpInput;
use blackout_model::clock::now;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

/// A BMP station's settings.
#[derive(Clone, Debug)]
pub struct BmpStationConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Routers allowed to connect; others are refused.
    pub allow: Vec<IpAddr>,
    /// Views and filter.
    pub options: BmpOptions,
    /// How often each router's health is published while it is connected.
    pub health_interval: Duration,
    /// How long the rest of a message that has begun may take to come.
    pub stall_timeout: Duration,
}

/// The default [`BmpStationConfig::stall_timeout`]: a message is at most 256 KiB, so a
/// router that is sending one sends it well within this.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(30);

struct RouterSlot {
    health: Arc<Mutex<HealthTracker>>,
    /// Held by the connection task for its whole life.
    turn: Arc<tokio::sync::Mutex<()>>,
    /// Tells the running connection task to give way.
    replace: Option<watch::Sender<bool>>,
}

/// A bound BMP station.
pub struct BmpStation {
    listener: TcpListener,
    config: BmpStationConfig,
}

impl BmpStation {
    /// Opens the listening socket.
    pub async fn bind(config: BmpStationConfig) -> Result<Self, FeedError> {
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| FeedError::Listen {
                    what: "BMP",
                    addr: config.listen,
                    source,
                })?;
        Ok(BmpStation { listener, config })
    }

    /// The address it listens on (with the port the system chose, if 0 was asked).
    pub fn local_addr(&self) -> Result<SocketAddr, FeedError> {
        self.listener
            .local_addr()
            .map_err(|source| FeedError::Listen {
                what: "BMP",
                addr: self.config.listen,
                source,
            })
    }

    /// Serves routers until the events' receiver is dropped.
    pub async fn run(self, events: FeedSender) -> Result<(), FeedError> {
        let options = Arc::new(self.config.options.clone());
        let start = now();
        let mut slots: HashMap<IpAddr, RouterSlot> = HashMap::new();
        for router in &self.config.allow {
            let router = router.to_canonical();
            let mut tracker = HealthTracker::new(FeedId::bmp(router), start);
            send(&events, FeedEvent::Health(tracker.snapshot(start))).await?;
            slots.insert(
                router,
                RouterSlot {
                    health: Arc::new(Mutex::new(tracker)),
                    turn: Arc::new(tokio::sync::Mutex::new(())),
                    replace: None,
                },
            );
        }
        loop {
            let (stream, from) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors and the like: wait, then go on.
                        tracing::warn!(%error, "BMP accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                () = events.closed() => return Err(FeedError::Closed),
            };
            let router = from.ip().to_canonical();
            let Some(slot) = slots.get_mut(&router) else {
                tracing::warn!(%from, "BMP connection refused: router not on the allow-list");
                drop(stream);
                continue;
            };
            if let Some(previous) = slot.replace.take() {
                let _ = previous.send(true);
            }
            let (replace, replaced) = watch::channel(false);
            slot.replace = Some(replace);
            let connection = Connection {
                router,
                options: Arc::clone(&options),
                health: Arc::clone(&slot.health),
                turn: Arc::clone(&slot.turn),
                events: events.clone(),
                health_interval: self.config.health_interval,
                stall_timeout: self.config.stall_timeout,
            };
            tokio::spawn(connection.serve(stream, replaced));
        }
    }
}

async fn send(events: &FeedSender, event: FeedEvent) -> Result<(), FeedError> {
    events.send(event).await.map_err(|_| FeedError::Closed)
}

struct Connection {
    router: IpAddr,
    options: Arc<BmpOptions>,
    health: Arc<Mutex<HealthTracker>>,
    turn: Arc<tokio::sync::Mutex<()>>,
    events: FeedSender,
    health_interval: Duration,
    stall_timeout: Duration,
}

impl Connection {
    fn health<R>(&self, f: impl FnOnce(&mut HealthTracker) -> R) -> R {
        // A poisoned lock only means another task panicked mid-update; the numbers
        // are still the best there are.
        let mut tracker = match self.health.lock() {
            Ok(tracker) => tracker,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut tracker)
    }

    /// Puts what the session knows of the router into the health.
    fn report(&self, session: &BmpRouter) {
        let (report, why, peers) = (
            session.report(),
            session.why_no_routes(),
            session.fed_peer_count() as u32,
        );
        self.health(|t| {
            t.set_router(report);
            t.set_why_no_routes(why);
            t.set_peers(peers);
        });
    }

    async fn publish(&self) -> Result<(), FeedError> {
        let snapshot = self.health(|t| t.snapshot(now()));
        send(&self.events, FeedEvent::Health(snapshot)).await
    }

    async fn emit(&self, out: &mut Vec<BgpInput>) -> Result<(), FeedError> {
        for input in out.drain(..) {
            send(&self.events, FeedEvent::Input(input)).await?;
        }
        Ok(())
    }

    async fn serve(self, mut stream: TcpStream, mut replaced: watch::Receiver<bool>) {
        let turn = Arc::clone(&self.turn);
        let _turn = turn.lock().await;
        if *replaced.borrow() {
            return;
        }
        let _ = stream.set_nodelay(true);
        self.health(|t| t.up(now()));
        if self.publish().await.is_err() {
            return;
        }
        let mut session = BmpRouter::live(self.router, Arc::clone(&self.options));
        let reason = match self.pump(&mut stream, &mut session, &mut replaced).await {
            Ok(reason) => reason,
            Err(FeedError::Closed) => return,
            Err(other) => other.to_string(),
        };
        tracing::info!(router = %self.router, %reason, "BMP session ended");
        let mut out = Vec::new();
        session.session_lost(now(), &mut out);
        if self.emit(&mut out).await.is_err() {
            return;
        }
        self.report(&session);
        self.health(|t| t.down(now(), reason));
        let _ = self.publish().await;
    }

    /// Reads until the session ends, and says why it ended.
    async fn pump(
        &self,
        stream: &mut TcpStream,
        session: &mut BmpRouter,
        replaced: &mut watch::Receiver<bool>,
    ) -> Result<String, FeedError> {
        let mut framer = BmpFramer::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut out = Vec::new();
        let mut ticker = tokio::time::interval(self.health_interval);
        let mut reported_damage = 0;
        let mut reported_events = None;
        // Since when the message begun in the framer waits for its rest.
        let mut waiting_since: Option<Instant> = None;
        loop {
            let stall = async {
                match waiting_since {
                    Some(since) => tokio::time::sleep_until(since + self.stall_timeout).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                read = stream.read(&mut buf) => {
                    let n = match read {
                        Ok(0) if framer.pending() > 0 => {
                            return Ok(format!(
                                "router closed the connection in the middle of a message ({} bytes left over)",
                                framer.pending()
                            ));
                        }
                        Ok(0) => {
                            return Ok(match session.termination_text() {
                                Some(why) => format!("router sent Termination: {why}"),
                                None => "router closed the connection".into(),
                            });
                        }
                        Ok(n) => n,
                        Err(error) => return Ok(format!("connection lost: {error}")),
                    };
                    let started = Instant::now();
                    let at = now();
                    framer.push(buf.get(..n).unwrap_or(&[]));
                    let mut count = 0;
                    let broken = loop {
                        match framer.next_message() {
                            Ok(Some(message)) => {
                                count += 1;
                                session.handle_bytes(at, message, &mut out);
                            }
                            Ok(None) => break None,
                            Err(error) => break Some(error),
                        }
                    };
                    let stats = session.stats();
                    let damaged = stats.bad_messages + stats.bad_updates;
                    let problem = (damaged > reported_damage).then(|| {
                        format!(
                            "{} BMP messages and {} UPDATEs from this router did not decode (skipped)",
                            stats.bad_messages, stats.bad_updates
                        )
                    });
                    reported_damage = damaged;
                    self.health(|t| {
                        t.messages(at, count);
                        if let Some(problem) = problem {
                            t.error(problem);
                        }
                    });
                    self.emit(&mut out).await?;
                    if let Some(error) = broken {
                        return Ok(format!("router sent bytes that are not BMP: {error}"));
                    }
                    // The wait counts from when a message began, less the time spent
                    // handing its predecessors on (that wait is ours, not the router's).
                    waiting_since = match waiting_since {
                        _ if framer.pending() == 0 => None,
                        Some(since) if count == 0 => Some(since + started.elapsed()),
                        _ => Some(Instant::now()),
                    };
                    if reported_events != Some(session.peer_events()) {
                        reported_events = Some(session.peer_events());
                        self.report(session);
                        self.publish().await?;
                    }
                }
                () = stall => {
                    self.health(HealthTracker::stalled);
                    return Ok(format!(
                        "router sent {} bytes of a message and then nothing for {} s",
                        framer.pending(),
                        self.stall_timeout.as_secs_f64()
                    ));
                }
                _ = ticker.tick() => {
                    self.report(session);
                    self.publish().await?;
                }
                _ = replaced.changed() => {
                    return Ok("replaced by a new connection from the same router".into());
                }
            }
        }
    }
}
