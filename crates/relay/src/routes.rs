//! Route inputs an agent relays from its vantage point's BGP/BMP feeds: one
//! [`AgentRoutes`] batch per NATS message on
//! `blackout.v1.<profile>.<vantage>.routes`, as JSON with the schema version.
//!
//! A full table is hundreds of thousands of routes, so an agent sends them in
//! batches of at most [`MAX_ROUTES_PER_BATCH`] inputs, and a batch stays below
//! [`MAX_ROUTES_BYTES`] (under nats-server's default 1 MiB payload limit).
//! A batch carries the agent's feed `session`, the time its feed session began:
//! a central that has to rebuild a vantage's route state replays that
//! vantage's routes subject from the start of its newest session.
//!
//! [`decode_routes`] is the central's side: it takes any bytes and returns a
//! batch or a [`DecodeError`], never a panic. The batch is checked (schema,
//! names that are subject tokens, the subject its content names, the batch
//! size) and its texts are made inert. [`AgentRoutes::into_inputs`] hands the
//! inputs on with every peer's collector prefixed by the vantage point's name
//! (`fra-1/bmp-edge`), so the evidence says which vantage's feed saw a route.
//!
//! [`RelayedSessions`] is the central's memory of each vantage point's feed
//! sessions: an agent killed (or cut off for good) sends no loss of its peers,
//! so when a batch of a newer session of the same vantage and feed comes, the
//! peers the older session reported are flushed first, as a feed flushes the
//! peers of a session it lost.

use crate::feed_health::AgentFeedHealth;
use crate::wire::{Addressed, DecodeError, Encoded, MAX_MESSAGE_BYTES, parse_addressed};
use blackout_model::subject::{self, ResultKind, SubjectError};
use blackout_model::text::{MAX_OUTSIDE_CHARS, inert};
use blackout_model::{BgpInput, Timestamp};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The most inputs one batch carries.
pub const MAX_ROUTES_PER_BATCH: usize = 2000;
/// The largest routes message the central decodes (and an agent sends).
pub const MAX_ROUTES_BYTES: usize = crate::wire::MAX_BATCH_BYTES;

/// A batch of route inputs of one feed of one vantage point, as published.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentRoutes {
    /// The schema version ([`SCHEMA_VERSION`](blackout_model::subject::SCHEMA_VERSION)).
    pub schema: u32,
    /// The profile the agent runs for.
    pub profile: String,
    /// The vantage point's name.
    pub vantage: String,
    /// The profile's name of the feed the inputs came from.
    pub feed: String,
    /// When the agent's feed session began: inputs of one session rebuild the
    /// vantage's routes from nothing.
    pub session: Timestamp,
    /// The agent's sequence number (shared with its results); with the profile
    /// and the vantage point it is the message id.
    pub sequence: u64,
    /// When the agent published it first.
    pub sent_at: Timestamp,
    /// The inputs, in the order the feed reported them.
    pub inputs: Vec<BgpInput>,
}

impl AgentRoutes {
    /// The subject, message id and bytes to publish.
    pub fn encode(&self) -> Result<Encoded, SubjectError> {
        Encoded::of_vantage(
            self,
            &self.profile,
            &self.vantage,
            ResultKind::Routes,
            self.sequence,
        )
    }

    /// The inputs for the central's engine, each peer's collector named
    /// `VANTAGE/COLLECTOR` so the evidence says which vantage's feed saw it.
    pub fn into_inputs(self) -> Vec<BgpInput> {
        let vantage = self.vantage;
        self.inputs
            .into_iter()
            .map(|mut input| {
                let peer = match &mut input {
                    BgpInput::Route(update) => &mut update.peer,
                    BgpInput::PeerDown { peer, .. } | BgpInput::TableSize { peer, .. } => peer,
                };
                peer.collector = Arc::from(format!("{vantage}/{}", peer.collector));
                input
            })
            .collect()
    }
}

impl Addressed for AgentRoutes {
    fn schema(&self) -> u32 {
        self.schema
    }
    fn expected_subject(&self) -> Result<String, SubjectError> {
        subject::result_subject(&self.profile, &self.vantage, ResultKind::Routes)
    }
}

/// The peers each vantage point's feed session has reported routes of, at the
/// central.
#[derive(Debug, Default)]
pub struct RelayedSessions {
    sessions: std::collections::HashMap<(String, String), RelayedSession>,
    /// When every agent was last asked for its routes (as the central started).
    asked_everyone: Option<Timestamp>,
    /// When each vantage point was last asked on its own.
    asked: std::collections::HashMap<String, Timestamp>,
    /// When this central first took routes of each vantage point.
    heard: std::collections::HashMap<String, Timestamp>,
    /// The last health report of each vantage point's relayed feed.
    reports: std::collections::BTreeMap<(String, String), AgentFeedHealth>,
}

#[derive(Debug)]
struct RelayedSession {
    started: Timestamp,
    peers: std::collections::BTreeSet<blackout_model::PeerKey>,
}

impl RelayedSessions {
    /// The inputs for the engine of a decoded batch (peers named
    /// `VANTAGE/COLLECTOR`), after the losses of the peers of an older session
    /// of its vantage and feed. A batch of a session older than one already seen
    /// (it cannot come in order; its routes are stale) gives nothing.
    pub fn inputs(&mut self, batch: AgentRoutes) -> Vec<BgpInput> {
        let key = (batch.vantage.clone(), batch.feed.clone());
        let session = self.sessions.entry(key).or_insert_with(|| RelayedSession {
            started: batch.session,
            peers: Default::default(),
        });
        if batch.session < session.started {
            tracing::warn!(
                "a routes batch of {}'s feed {} from a session older than the one it runs now is set aside",
                batch.vantage,
                batch.feed
            );
            return Vec::new();
        }
        let mut inputs = Vec::new();
        if batch.session > session.started {
            let older = std::mem::take(&mut session.peers);
            inputs.extend(older.into_iter().map(|peer| BgpInput::PeerDown {
                at: batch.session,
                peer,
            }));
            session.started = batch.session;
        }
        for input in batch.into_inputs() {
            match &input {
                BgpInput::Route(update) => {
                    if !session.peers.contains(&update.peer) {
                        session.peers.insert(update.peer.clone());
                    }
                }
                BgpInput::PeerDown { peer, .. } => {
                    session.peers.remove(peer);
                }
                BgpInput::TableSize { .. } => {}
            }
            inputs.push(input);
        }
        inputs
    }
}

impl RelayedSessions {
    /// Notes that every agent was asked for its routes at `at` (the central
    /// does that as it starts).
    pub fn asked_everyone(&mut self, at: Timestamp) {
        self.asked_everyone = Some(at);
    }

    /// Notes that routes of `vantage` came at `now` (only the first time counts).
    /// The first time, its feeds' tables are awaited only a few seconds more:
    /// returns each of its feeds' last health report with the new deadline
    /// ([`RelayedSessions::table_arriving_until`]), so that the central need
    /// not wait for the next report to know.
    pub fn heard_from(
        &mut self,
        vantage: &str,
        now: Timestamp,
    ) -> Vec<(AgentFeedHealth, Option<Timestamp>)> {
        if self.heard.contains_key(vantage) {
            return Vec::new();
        }
        self.heard.insert(vantage.to_string(), now);
        self.reports
            .range((vantage.to_string(), String::new())..)
            .take_while(|((of, _), _)| of == vantage)
            .map(|(_, report)| (report.clone(), self.table_arriving_until(report)))
            .collect()
    }

    /// Notes a relayed feed's health report, and says until when its table may
    /// still be on its way ([`RelayedSessions::table_arriving_until`]).
    pub fn feed_reported(&mut self, report: &AgentFeedHealth) -> Option<Timestamp> {
        self.reports.insert(
            (report.vantage.clone(), report.feed.clone()),
            report.clone(),
        );
        self.table_arriving_until(report)
    }

    /// Until when the table of the vantage point whose feed reported `health`
    /// may still be on its way to this central; None when none is. The feed's
    /// health is the agent's: up for hours there, while the central that just
    /// started has asked for the table and not all of it has come. Until
    /// [`RELAYED_TABLE_SECS`] after its first routes came; before any came, until
    /// [`ASK_AGAIN_AFTER_SECS`] after it was last asked (a vantage point whose
    /// feed passes none of the watched prefixes sends nothing).
    pub fn table_arriving_until(&self, health: &AgentFeedHealth) -> Option<Timestamp> {
        if health.peers == 0 || health.state != blackout_feeds::FeedState::Up {
            return None;
        }
        if let Some(first) = self.heard.get(&health.vantage) {
            return Some(first.add_secs(RELAYED_TABLE_SECS));
        }
        let asked = [
            self.asked_everyone,
            self.asked.get(&health.vantage).copied(),
        ]
        .into_iter()
        .flatten()
        .max()?;
        Some(asked.add_secs(ASK_AGAIN_AFTER_SECS as i64))
    }

    /// Should the vantage point whose feed reported `health` at `now` be asked
    /// for its routes? Yes when that feed has peers but the central holds no
    /// session of the vantage point: it was away when the central started, so
    /// it missed the request and its table is not here. Not again within
    /// [`ASK_AGAIN_AFTER_SECS`] of the last request it was sent (nor of the one
    /// to every agent), so that a table under way is not asked for twice.
    /// Notes the request when it says yes.
    pub fn table_wanted(&mut self, health: &AgentFeedHealth, now: Timestamp) -> bool {
        if health.peers == 0
            || self
                .sessions
                .keys()
                .any(|(vantage, _)| *vantage == health.vantage)
        {
            return false;
        }
        let recent = |at: Option<&Timestamp>| {
            at.is_some_and(|at| now.as_secs_f64() - at.as_secs_f64() < ASK_AGAIN_AFTER_SECS)
        };
        if recent(self.asked_everyone.as_ref()) || recent(self.asked.get(&health.vantage)) {
            return false;
        }
        self.asked.insert(health.vantage.clone(), now);
        true
    }
}

/// How long after the first routes of a vantage point came to the central the
/// rest of its table is taken to be still coming (a full table takes a few
/// seconds).
pub const RELAYED_TABLE_SECS: i64 = 10;

/// How long the central waits for a table it asked a vantage point for before
/// it asks again: its feed health comes at least every 30 s, and a full table
/// takes a few seconds to come.
pub const ASK_AGAIN_AFTER_SECS: f64 = 60.0;

/// A central's request for relayed routes, on
/// [`routes_request_subject`](blackout_model::subject::routes_request_subject):
/// of every agent of the profile, or of one vantage point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutesRequest {
    /// The schema version ([`SCHEMA_VERSION`](blackout_model::subject::SCHEMA_VERSION)).
    pub schema: u32,
    /// The one vantage point asked; none: every agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vantage: Option<String>,
}

impl RoutesRequest {
    /// Is this request for the agent of `vantage`?
    pub fn asks(&self, vantage: &str) -> bool {
        self.vantage.as_deref().is_none_or(|asked| asked == vantage)
    }
}

/// An agent's decoder of a routes request: any bytes give a request or an
/// error, never a panic.
pub fn decode_routes_request(bytes: &[u8]) -> Result<RoutesRequest, DecodeError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(DecodeError::TooLong(bytes.len()));
    }
    let request: RoutesRequest =
        serde_json::from_slice(bytes).map_err(|error| DecodeError::Json(error.to_string()))?;
    if request.schema != subject::SCHEMA_VERSION {
        return Err(DecodeError::Schema(request.schema));
    }
    Ok(request)
}

/// The central's decoder of a routes message that came on `subject`.
pub fn decode_routes(subject: &str, bytes: &[u8]) -> Result<AgentRoutes, DecodeError> {
    let mut batch: AgentRoutes = parse_addressed(subject, bytes, MAX_ROUTES_BYTES)?;
    if batch.inputs.len() > MAX_ROUTES_PER_BATCH {
        return Err(DecodeError::Json(format!(
            "a batch of {} route inputs is more than the {MAX_ROUTES_PER_BATCH} a batch may have",
            batch.inputs.len()
        )));
    }
    batch.feed = inert(&batch.feed, MAX_OUTSIDE_CHARS);
    for input in &mut batch.inputs {
        let peer = match input {
            BgpInput::Route(update) => &mut update.peer,
            BgpInput::PeerDown { peer, .. } | BgpInput::TableSize { peer, .. } => peer,
        };
        peer.collector = Arc::from(inert(&peer.collector, MAX_OUTSIDE_CHARS));
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use blackout_model::subject::SCHEMA_VERSION;
    use blackout_model::{AsPath, Asn, PeerKey, RouteChange, RouteUpdate};

    fn peer(collector: &str) -> PeerKey {
        PeerKey {
            collector: Arc::from(collector),
            ip: "192.0.2.1".parse().unwrap(),
            asn: Asn(64496),
        }
    }

    fn batch() -> AgentRoutes {
        let at = Timestamp::from_secs_f64(1_700_000_000.0);
        AgentRoutes {
            schema: SCHEMA_VERSION,
            profile: "kp".into(),
            vantage: "fra-1".into(),
            feed: "edge".into(),
            session: at,
            sequence: 7,
            sent_at: at,
            inputs: vec![
                BgpInput::Route(RouteUpdate {
                    at,
                    peer: peer("bmp-edge"),
                    prefix: "203.0.113.0/24".parse().unwrap(),
                    path_id: None,
                    change: RouteChange::Announce {
                        as_path: AsPath::from_sequence([64496, 64511]),
                    },
                }),
                BgpInput::Route(RouteUpdate {
                    at,
                    peer: peer("bmp-edge"),
                    prefix: "2001:db8::/32".parse().unwrap(),
                    path_id: Some(3),
                    change: RouteChange::Withdraw,
                }),
                BgpInput::TableSize {
                    at,
                    peer: peer("bmp-edge"),
                    ipv4: 1,
                    ipv6: 0,
                },
                BgpInput::PeerDown {
                    at,
                    peer: peer("bmp-edge"),
                },
            ],
        }
    }

    #[test]
    fn a_batch_round_trips_on_its_routes_subject() {
        let sent = batch();
        let encoded = sent.encode().unwrap();
        assert_eq!(encoded.subject, "blackout.v1.kp.fra-1.routes");
        assert_eq!(encoded.id, "kp.fra-1.7");
        assert_eq!(
            decode_routes(&encoded.subject, &encoded.payload).unwrap(),
            sent
        );
    }

    #[test]
    fn peers_are_named_by_the_vantage_that_saw_them() {
        let inputs = batch().into_inputs();
        assert_eq!(inputs.len(), 4);
        for input in inputs {
            let peer = match input {
                BgpInput::Route(update) => update.peer,
                BgpInput::PeerDown { peer, .. } | BgpInput::TableSize { peer, .. } => peer,
            };
            assert_eq!(&*peer.collector, "fra-1/bmp-edge");
        }
    }

    #[test]
    fn a_batch_on_another_subject_or_schema_or_too_big_is_refused() {
        let encoded = batch().encode().unwrap();
        assert!(matches!(
            decode_routes("blackout.v1.kp.ams-1.routes", &encoded.payload),
            Err(DecodeError::Subject { .. })
        ));
        let mut other = batch();
        other.schema = 2;
        assert!(matches!(
            decode_routes(&encoded.subject, &serde_json::to_vec(&other).unwrap()),
            Err(DecodeError::Schema(2))
        ));
        let mut big = batch();
        let route = big.inputs[0].clone();
        big.inputs = vec![route; MAX_ROUTES_PER_BATCH + 1];
        assert!(decode_routes(&encoded.subject, &serde_json::to_vec(&big).unwrap()).is_err());
        assert!(matches!(
            decode_routes(&encoded.subject, &vec![b' '; MAX_ROUTES_BYTES + 1]),
            Err(DecodeError::TooLong(_))
        ));
    }

    #[test]
    fn collector_and_feed_names_are_made_inert() {
        let mut sent = batch();
        sent.feed = "edge\u{1b}[2J".into();
        if let BgpInput::Route(update) = &mut sent.inputs[0] {
            update.peer.collector = Arc::from("bmp\u{7}\nedge");
        }
        let encoded = sent.encode().unwrap();
        let got = decode_routes(&encoded.subject, &encoded.payload).unwrap();
        assert!(!got.feed.chars().any(char::is_control));
        for input in got.into_inputs() {
            if let BgpInput::Route(update) = input {
                assert!(!update.peer.collector.chars().any(char::is_control));
            }
        }
    }

    #[test]
    fn a_newer_session_of_a_vantages_feed_flushes_the_peers_of_the_older_one() {
        let mut sessions = RelayedSessions::default();
        let first = batch();
        let inputs = sessions.inputs(first.clone());
        assert_eq!(inputs.len(), 4, "the first session's inputs as they came");

        // The same session again: a route, no flush.
        let mut more = batch();
        more.inputs.truncate(1);
        assert_eq!(sessions.inputs(more.clone()), more.clone().into_inputs());

        // Another feed of the same vantage is a session of its own.
        let mut other_feed = more.clone();
        other_feed.feed = "bgp-192.0.2.9".into();
        assert_eq!(sessions.inputs(other_feed.clone()).len(), 1);

        // The agent restarted: its feed's peer is lost first, once.
        let mut restarted = more.clone();
        restarted.session = Timestamp::from_secs_f64(1_700_000_100.0);
        let inputs = sessions.inputs(restarted.clone());
        assert_eq!(inputs.len(), 2, "{inputs:?}");
        assert!(matches!(&inputs[0], BgpInput::PeerDown { at, peer }
            if *at == restarted.session && &*peer.collector == "fra-1/bmp-edge"));
        assert_eq!(inputs[1], restarted.clone().into_inputs()[0]);
        assert_eq!(sessions.inputs(restarted.clone()).len(), 1);

        // A late batch of the older session is stale.
        assert!(sessions.inputs(more).is_empty());

        // A session whose peer was lost already has nothing to flush.
        let mut lost = restarted.clone();
        lost.inputs = vec![BgpInput::PeerDown {
            at: restarted.session,
            peer: peer("bmp-edge"),
        }];
        sessions.inputs(lost);
        let mut third = restarted;
        third.session = Timestamp::from_secs_f64(1_700_000_200.0);
        assert_eq!(sessions.inputs(third).len(), 1);
    }

    #[test]
    fn a_full_batch_fits_in_a_message() {
        let mut full = batch();
        let route = full.inputs[0].clone();
        full.inputs = vec![route; MAX_ROUTES_PER_BATCH];
        let encoded = full.encode().unwrap();
        assert!(encoded.payload.len() <= MAX_ROUTES_BYTES);
        assert!(decode_routes(&encoded.subject, &encoded.payload).is_ok());
    }

    fn health_of(vantage: &str, peers: u32) -> AgentFeedHealth {
        let mut health = crate::feed_health::sample_health();
        health.peers = peers;
        AgentFeedHealth::new("kp", vantage, 1, health.since, &health)
    }

    #[test]
    fn a_vantage_whose_feed_has_peers_but_whose_table_is_missing_is_asked_once_a_while() {
        let start = Timestamp::from_secs(1_700_000_000);
        let at = |secs: i64| Timestamp::from_secs(1_700_000_000 + secs);
        let mut sessions = RelayedSessions::default();
        sessions.asked_everyone(start);
        // Within a minute of the request to every agent, its answer may be under way.
        assert!(!sessions.table_wanted(&health_of("fra-1", 1), at(30)));
        // After that a vantage point that did not answer is asked on its own,
        // and not again for a minute.
        assert!(sessions.table_wanted(&health_of("fra-1", 1), at(61)));
        assert!(!sessions.table_wanted(&health_of("fra-1", 1), at(90)));
        assert!(sessions.table_wanted(&health_of("fra-1", 1), at(122)));
        // A feed with no peers has no table to send.
        assert!(!sessions.table_wanted(&health_of("ams-2", 0), at(200)));
        // Once routes of the vantage point came, it is not asked.
        let mut routes = batch();
        routes.vantage = "ams-2".into();
        assert!(!sessions.inputs(routes).is_empty());
        assert!(!sessions.table_wanted(&health_of("ams-2", 3), at(300)));
        assert!(sessions.table_wanted(&health_of("fra-1", 1), at(300)));
    }

    #[test]
    fn a_vantages_table_is_arriving_after_the_central_asked_until_it_came() {
        let at = |secs: i64| Timestamp::from_secs(1_700_000_000 + secs);
        let mut sessions = RelayedSessions::default();
        // Nothing asked: nothing awaited, even of a feed with peers.
        assert_eq!(sessions.table_arriving_until(&health_of("fra-1", 1)), None);
        sessions.asked_everyone(at(0));
        assert_eq!(
            sessions.table_arriving_until(&health_of("fra-1", 1)),
            Some(at(60))
        );
        // A feed with no peers, or down, has no table to send.
        assert_eq!(sessions.table_arriving_until(&health_of("ams-2", 0)), None);
        let mut down = health_of("ams-2", 2);
        down.state = blackout_feeds::FeedState::Down;
        assert_eq!(sessions.table_arriving_until(&down), None);
        // Asked again on its own: awaited from then.
        assert!(sessions.table_wanted(&health_of("fra-1", 1), at(70)));
        assert_eq!(
            sessions.table_arriving_until(&health_of("fra-1", 1)),
            Some(at(130))
        );
        // Its first routes came: the rest within seconds, whatever comes later.
        // The feed reported before them is handed back with that deadline.
        assert_eq!(
            sessions.feed_reported(&health_of("fra-1", 1)),
            Some(at(130))
        );
        let sooner = sessions.heard_from("fra-1", at(75));
        assert_eq!(sooner.len(), 1);
        assert_eq!(sooner[0].0.vantage, "fra-1");
        assert_eq!(sooner[0].1, Some(at(85)));
        assert!(sessions.heard_from("fra-1", at(200)).is_empty());
        assert_eq!(
            sessions.table_arriving_until(&health_of("fra-1", 1)),
            Some(at(85))
        );
        // Another vantage's feeds are not handed back with it.
        assert!(sessions.heard_from("ams-2", at(80)).is_empty());
    }

    #[test]
    fn a_routes_request_asks_every_agent_or_one() {
        let every = decode_routes_request(br#"{"schema":1}"#).unwrap();
        assert!(every.asks("fra-1") && every.asks("ams-2"));
        let one = decode_routes_request(br#"{"schema":1,"vantage":"fra-1"}"#).unwrap();
        assert!(one.asks("fra-1") && !one.asks("ams-2"));
        assert!(matches!(
            decode_routes_request(br#"{"schema":2}"#),
            Err(DecodeError::Schema(2))
        ));
        assert!(decode_routes_request(br#"{"schema":1,"x":1}"#).is_err());
        assert!(decode_routes_request(b"\xff{").is_err());
        assert!(decode_routes_request(&vec![b' '; MAX_MESSAGE_BYTES + 1]).is_err());
    }
}
