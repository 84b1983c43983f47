//! Feed health: each feed's own signals (session state, last message, message rate,
//! reconnects, gaps), and the pure judgement of which feeds are stale or down.
//!
//! A feed that is down or silent is the feed's problem (cause `feed`, entity
//! `feed:bmp:198.51.100.1`), never an outage of the target: [`feed_problems`] says
//! which feeds to discount, and the detector says nothing about the target from them.
//!
//! [`HealthTracker`] is fed the time by its caller (the I/O layer), never reads a clock.

use crate::bmp::BmpRouterHealth;
use crate::update::Family;
use blackout_model::{Entity, Timestamp};
use serde::{Serialize, Serializer};
use std::fmt;
use std::net::IpAddr;

/// What kind of feed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FeedKind {
    /// A router's BMP session.
    Bmp,
    /// A BGP session with a router.
    Bgp,
    /// RIPE RIS Live.
    RisLive,
}

impl FeedKind {
    /// The kind as a feed's name begins with it (`bmp`, `bgp`, `rislive`).
    pub fn as_str(self) -> &'static str {
        match self {
            FeedKind::Bmp => "bmp",
            FeedKind::Bgp => "bgp",
            FeedKind::RisLive => "rislive",
        }
    }

    /// The kind a feed's name (`bmp:198.51.100.1`) begins with, if any.
    pub fn of_name(name: &str) -> Option<FeedKind> {
        let (kind, _) = name.split_once(':')?;
        [FeedKind::Bmp, FeedKind::Bgp, FeedKind::RisLive]
            .into_iter()
            .find(|k| k.as_str() == kind)
    }
}

/// A feed's name, as in its entity: `bmp:198.51.100.1`, `bgp:192.0.2.1`,
/// `rislive:ris-live.ripe.net`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FeedId {
    /// The kind.
    pub kind: FeedKind,
    /// The router's address, or the RIS Live host.
    pub name: String,
}

impl FeedId {
    /// A router's BMP feed.
    pub fn bmp(router: IpAddr) -> Self {
        FeedId {
            kind: FeedKind::Bmp,
            name: router.to_string(),
        }
    }

    /// A BGP session's feed.
    pub fn bgp(peer: IpAddr) -> Self {
        FeedId {
            kind: FeedKind::Bgp,
            name: peer.to_string(),
        }
    }

    /// A RIS Live feed, named by its host.
    pub fn ris_live(host: &str) -> Self {
        FeedId {
            kind: FeedKind::RisLive,
            name: host.to_string(),
        }
    }

    /// The entity events about this feed name.
    pub fn entity(&self) -> Entity {
        Entity::Feed(self.to_string())
    }
}

impl fmt::Display for FeedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.as_str(), self.name)
    }
}

impl Serialize for FeedId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The state of a feed's session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeedState {
    /// Waiting for the router to connect, or connecting; never up yet.
    Connecting,
    /// Up: routes flow.
    Up,
    /// Was up, is not now (it may be reconnecting).
    Down,
}

/// A time without a session: routes may have changed unseen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Gap {
    /// When the session was lost.
    pub from: Timestamp,
    /// When it was back.
    pub to: Timestamp,
}

/// A feed's health, as a later `watch` exposes it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FeedHealth {
    /// Which feed.
    pub feed: FeedId,
    /// Its session state.
    pub state: FeedState,
    /// Since when it is in that state.
    pub since: Timestamp,
    /// The last message received (any kind, keepalives included).
    pub last_message: Option<Timestamp>,
    /// Messages received since the feed started.
    pub messages: u64,
    /// Messages per second over the last 10 to 20 seconds.
    pub messages_per_sec: f64,
    /// Times the session came back after being lost.
    pub reconnects: u32,
    /// Gaps in the feed (one per reconnect).
    pub gaps: u32,
    /// The last gap.
    pub last_gap: Option<Gap>,
    /// Peers the feed reports routes of.
    pub peers: u32,
    /// The last problem, in words; cleared when the session is up again.
    pub last_error: Option<String>,
    /// Messages arrive but none carries a route blackout can use: why, in words
    /// ("views configured: pre-policy; the router sends: post-policy, loc-rib").
    pub why_no_routes: Option<String>,
    /// Sessions closed because the other side stalled in the middle of a message.
    pub stalled: u32,
    /// A BMP feed's router: its name, views, what was skipped, its monitored peers
    /// and the recent Peer Downs of peers that held watched routes. Boxed: most feeds
    /// have none, and health is sent often.
    pub router: Option<Box<BmpRouterHealth>>,
    /// A BGP session's families and routes.
    pub session: Option<SessionHealth>,
}

/// What a BGP session carries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SessionHealth {
    /// The families the router offered in its OPEN (IPv4 unicast when it offered
    /// none: RFC 4760 §8).
    pub router_families: Vec<Family>,
    /// The families both sides offered: those the router may send.
    pub families: Vec<Family>,
    /// Watched IPv4 routes held.
    pub routes_ipv4: u32,
    /// Watched IPv6 routes held.
    pub routes_ipv6: u32,
    /// The families whose End-of-RIB came: their table is complete.
    pub end_of_rib: Vec<Family>,
}

const WINDOW_MICROS: i64 = 10_000_000;

/// Keeps one feed's health up to date from what its I/O layer sees.
#[derive(Clone, Debug)]
pub struct HealthTracker {
    health: FeedHealth,
    window_start: Timestamp,
    window_count: u64,
    previous_window: u64,
    ever_up: bool,
}

impl HealthTracker {
    /// A feed that starts now, not yet connected.
    pub fn new(feed: FeedId, now: Timestamp) -> Self {
        HealthTracker {
            health: FeedHealth {
                feed,
                state: FeedState::Connecting,
                since: now,
                last_message: None,
                messages: 0,
                messages_per_sec: 0.0,
                reconnects: 0,
                gaps: 0,
                last_gap: None,
                peers: 0,
                last_error: None,
                why_no_routes: None,
                stalled: 0,
                router: None,
                session: None,
            },
            window_start: now,
            window_count: 0,
            previous_window: 0,
            ever_up: false,
        }
    }

    /// The feed's id.
    pub fn feed(&self) -> &FeedId {
        &self.health.feed
    }

    /// The session is up: the last error is cleared. Returns the gap it closes, if
    /// it was up before.
    pub fn up(&mut self, now: Timestamp) -> Option<Gap> {
        if self.health.state == FeedState::Up {
            return None;
        }
        self.health.last_error = None;
        self.health.why_no_routes = None;
        let gap = if self.ever_up {
            let gap = Gap {
                from: self.health.since,
                to: now,
            };
            self.health.reconnects += 1;
            self.health.gaps += 1;
            self.health.last_gap = Some(gap);
            Some(gap)
        } else {
            None
        };
        self.ever_up = true;
        self.health.state = FeedState::Up;
        self.health.since = now;
        gap
    }

    /// The session is lost (or could not be set up), with the reason.
    pub fn down(&mut self, now: Timestamp, reason: impl Into<String>) {
        self.health.last_error = Some(reason.into());
        self.health.peers = 0;
        if self.health.state == FeedState::Up {
            self.health.state = FeedState::Down;
            self.health.since = now;
        }
    }

    /// A problem that did not end the session (a message that did not decode, a
    /// ris_error).
    pub fn error(&mut self, reason: impl Into<String>) {
        self.health.last_error = Some(reason.into());
    }

    /// `count` messages arrived.
    pub fn messages(&mut self, now: Timestamp, count: u64) {
        self.roll(now);
        self.health.messages += count;
        self.window_count += count;
        self.health.last_message = Some(now);
    }

    /// How many peers the feed reports.
    pub fn set_peers(&mut self, peers: u32) {
        self.health.peers = peers;
    }

    /// Why no route the feed delivers is usable, or `None` when some is.
    pub fn set_why_no_routes(&mut self, why: Option<String>) {
        self.health.why_no_routes = why;
    }

    /// The other side stalled in the middle of a message, and the session was closed.
    pub fn stalled(&mut self) {
        self.health.stalled += 1;
    }

    /// A BMP feed's router, as it is now.
    pub fn set_router(&mut self, router: BmpRouterHealth) {
        self.health.router = Some(Box::new(router));
    }

    /// A BGP session's families and routes, as they are now.
    pub fn set_session(&mut self, session: SessionHealth) {
        self.health.session = Some(session);
    }

    /// The health now.
    pub fn snapshot(&mut self, now: Timestamp) -> FeedHealth {
        self.roll(now);
        let elapsed = (now.as_micros() - self.window_start.as_micros()).max(0) + WINDOW_MICROS;
        let mut health = self.health.clone();
        health.messages_per_sec =
            (self.previous_window + self.window_count) as f64 / (elapsed as f64 / 1e6);
        health
    }

    fn roll(&mut self, now: Timestamp) {
        let elapsed = now.as_micros() - self.window_start.as_micros();
        if elapsed >= 2 * WINDOW_MICROS {
            self.previous_window = 0;
            self.window_count = 0;
            self.window_start = now;
        } else if elapsed >= WINDOW_MICROS {
            self.previous_window = self.window_count;
            self.window_count = 0;
            self.window_start =
                Timestamp::from_micros(self.window_start.as_micros() + WINDOW_MICROS);
        }
    }
}

/// What is wrong with a feed.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "problem", rename_all = "kebab-case")]
pub enum FeedProblemKind {
    /// The session is not up.
    Down {
        /// Was it ever up?
        ever_up: bool,
        /// The reason last given.
        reason: Option<String>,
    },
    /// The session is up but nothing came for longer than the profile allows.
    Stale {
        /// Seconds since the last message (or since it came up, if none came).
        silent_secs: f64,
    },
}

/// A feed whose routes say nothing about the target now.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FeedProblem {
    /// The feed.
    pub feed: FeedId,
    /// Since when.
    pub since: Timestamp,
    /// What.
    pub kind: FeedProblemKind,
}

impl FeedProblem {
    /// The entity of the event that reports it (`feed:bmp:198.51.100.1`).
    pub fn entity(&self) -> Entity {
        self.feed.entity()
    }
}

/// Which feeds are down or stale at `now`: a feed not up is down; an up feed that has
/// sent nothing for more than `stale_secs` (the profile's `feed_stale_secs`) is stale.
/// BGP sessions send keepalives and RIS Live sends something every few seconds, so
/// silence means a dead feed; BMP has no keepalive, so BMP routers should be set to
/// send Statistics Reports more often than that (FRR: `bmp stats interval`).
pub fn feed_problems(
    snapshots: &[FeedHealth],
    now: Timestamp,
    stale_secs: u64,
) -> Vec<FeedProblem> {
    let mut problems = Vec::new();
    for health in snapshots {
        match health.state {
            FeedState::Connecting | FeedState::Down => problems.push(FeedProblem {
                feed: health.feed.clone(),
                since: health.since,
                kind: FeedProblemKind::Down {
                    ever_up: health.state == FeedState::Down,
                    reason: health.last_error.clone(),
                },
            }),
            FeedState::Up => {
                let last = health
                    .last_message
                    .map_or(health.since, |last| last.max(health.since));
                let silent = now.secs_since(last);
                if silent > stale_secs as f64 {
                    problems.push(FeedProblem {
                        feed: health.feed.clone(),
                        since: last,
                        kind: FeedProblemKind::Stale {
                            silent_secs: silent,
                        },
                    });
                }
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_secs(secs)
    }

    #[test]
    fn up_down_up_is_one_gap_and_one_reconnect() {
        let mut tracker = HealthTracker::new(FeedId::bmp("198.51.100.1".parse().unwrap()), t(0));
        assert_eq!(tracker.up(t(1)), None);
        tracker.messages(t(2), 50);
        tracker.down(t(5), "connection reset");
        assert_eq!(
            tracker.snapshot(t(6)).last_error.as_deref(),
            Some("connection reset")
        );
        let gap = tracker.up(t(9)).unwrap();
        assert_eq!(
            gap,
            Gap {
                from: t(5),
                to: t(9)
            }
        );
        let health = tracker.snapshot(t(9));
        assert_eq!((health.reconnects, health.gaps), (1, 1));
        assert_eq!(health.last_error, None, "cleared once the feed is up again");
        assert_eq!(health.feed.entity().to_string(), "feed:bmp:198.51.100.1");
        assert_eq!(health.messages, 50);
        assert!(health.messages_per_sec > 0.0);
        // Silence lets the rate fall to zero.
        assert_eq!(tracker.snapshot(t(60)).messages_per_sec, 0.0);
    }

    #[test]
    fn problems_down_and_stale() {
        let mut up = HealthTracker::new(FeedId::bgp("192.0.2.1".parse().unwrap()), t(0));
        up.up(t(0));
        up.messages(t(100), 1);
        let mut never = HealthTracker::new(FeedId::ris_live("localhost"), t(0));
        never.down(t(3), "connection refused");
        let snapshots = [up.snapshot(t(350)), never.snapshot(t(350))];
        let problems = feed_problems(&snapshots, t(350), 300);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(matches!(
            problems[0].kind,
            FeedProblemKind::Down { ever_up: false, .. }
        ));
        let problems = feed_problems(&snapshots, t(401), 300);
        assert_eq!(problems.len(), 2);
        assert!(
            matches!(problems[0].kind, FeedProblemKind::Stale { silent_secs } if silent_secs > 300.0)
        );
        assert_eq!(problems[0].entity().to_string(), "feed:bgp:192.0.2.1");
    }
}
