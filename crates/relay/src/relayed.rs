//! The agent's side of relayed feeds: a vantage point's BGP/BMP/RIS Live feeds
//! run at the agent, and their route inputs cut into [`AgentRoutes`] batches
//! for the publisher.
//!
//! [`RouteBatcher`] is pure: inputs and the time go in, sealed batches come out.
//! A batch is sealed when it holds [`MAX_ROUTES_PER_BATCH`] inputs or when the
//! agent's route tick comes ([`ROUTES_EVERY`]), so that a withdrawal waits at
//! most that long at the agent. A batch whose JSON would pass
//! [`MAX_ROUTES_BYTES`] (long AS paths) is split in halves until each fits.
//! The central learns of a lost session from the `PeerDown` inputs the feed
//! ends it with; the feed's health goes on its own ([`crate::feed_health`]).
//!
//! The batcher also keeps the feed's routes as they stand (its Adj-RIB-In of
//! each peer, only the watched prefixes unless the filter passes everything).
//! A central that starts again has lost what it learnt; it asks
//! (`blackout-ask.v1.PROFILE.routes`), and [`RouteBatcher::resend`] sends the
//! table again as a new session, which the central takes as a feed that came
//! back.

use crate::routes::{AgentRoutes, MAX_ROUTES_BYTES, MAX_ROUTES_PER_BATCH};
use crate::wire::{Encoded, seal_in_halves};
use blackout_feeds::Feed;
use blackout_model::subject::SCHEMA_VERSION;
use blackout_model::{AsPath, BgpInput, PeerKey, RouteChange, RouteUpdate, Timestamp};
use blackout_profile::FeedConfig;
use ipnet::IpNet;
use std::collections::HashMap;
use std::time::Duration;

/// How long a route input waits at the agent, at most, before it is sent.
pub const ROUTES_EVERY: Duration = Duration::from_millis(100);

/// A feed the agent runs and relays, with the name its batches carry.
#[derive(Clone, Debug)]
pub struct RelayedFeed {
    /// The feed's name: its kind and where it listens or dials
    /// (`bmp-0.0.0.0:11019`, `bgp-192.0.2.1`, `ris-live`).
    pub name: String,
    /// The feed, ready to run.
    pub feed: Feed,
}

impl RelayedFeed {
    /// The feed a profile's `[[feed]]` describes, passing the routes `filter`
    /// wants (the watch set's prefixes and aggregates).
    pub fn from_config(config: &FeedConfig, filter: &blackout_model::PrefixFilter) -> RelayedFeed {
        let name = match config {
            FeedConfig::RisLive { .. } => "ris-live".to_string(),
            FeedConfig::Bmp { listen, .. } => format!("bmp-{listen}"),
            FeedConfig::Bgp { peer, .. } => format!("bgp-{peer}"),
        };
        RelayedFeed {
            name,
            feed: Feed::from_config(config, filter),
        }
    }
}

/// The inputs of one feed waiting to be sent, and the names its batches carry.
#[derive(Debug)]
pub struct RouteBatcher {
    profile: String,
    vantage: String,
    feed: String,
    session: Timestamp,
    waiting: Vec<BgpInput>,
    /// Each peer's routes now: (prefix, path id) to the path.
    table: HashMap<PeerKey, HashMap<(IpNet, Option<u32>), AsPath>>,
}

impl RouteBatcher {
    /// A batcher for `feed` of the agent `vantage` running `profile`, whose
    /// feed session began at `session`.
    pub fn new(profile: &str, vantage: &str, feed: &str, session: Timestamp) -> Self {
        RouteBatcher {
            profile: profile.to_string(),
            vantage: vantage.to_string(),
            feed: feed.to_string(),
            session,
            waiting: Vec::new(),
            table: HashMap::new(),
        }
    }

    /// Takes one input; a full batch comes back sealed, numbered from `sequence`.
    pub fn push(&mut self, input: BgpInput, now: Timestamp, sequence: &mut u64) -> Vec<Encoded> {
        self.remember(&input);
        self.waiting.push(input);
        if self.waiting.len() >= MAX_ROUTES_PER_BATCH {
            self.seal(now, sequence)
        } else {
            Vec::new()
        }
    }

    /// The feed's name.
    pub fn feed(&self) -> &str {
        &self.feed
    }

    /// Routes held, over all peers.
    pub fn routes(&self) -> usize {
        self.table.values().map(HashMap::len).sum()
    }

    /// Sends the table again as a new session beginning at `now` (a central
    /// that started again asked): what waits is sealed in the old session, then
    /// every route held is announced again, at `now`.
    pub fn resend(&mut self, now: Timestamp, sequence: &mut u64) -> Vec<Encoded> {
        let mut sealed = self.seal(now, sequence);
        self.session = now;
        // In one order, whatever the map's: by peer, then prefix and path id.
        let mut held: Vec<(&PeerKey, IpNet, Option<u32>, &AsPath)> = self
            .table
            .iter()
            .flat_map(|(peer, routes)| {
                routes
                    .iter()
                    .map(move |(&(prefix, path_id), as_path)| (peer, prefix, path_id, as_path))
            })
            .collect();
        held.sort_unstable_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
        let routes: Vec<BgpInput> = held
            .into_iter()
            .map(|(peer, prefix, path_id, as_path)| {
                BgpInput::Route(RouteUpdate {
                    at: now,
                    peer: peer.clone(),
                    prefix,
                    path_id,
                    change: RouteChange::Announce {
                        as_path: as_path.clone(),
                    },
                })
            })
            .collect();
        for chunk in routes.chunks(MAX_ROUTES_PER_BATCH) {
            self.seal_into(chunk.to_vec(), now, sequence, &mut sealed);
        }
        sealed
    }

    /// Keeps the table as the input leaves it.
    fn remember(&mut self, input: &BgpInput) {
        match input {
            BgpInput::Route(update) => {
                let key = (update.prefix, update.path_id);
                match &update.change {
                    // The peer's key is cloned only for its first route.
                    RouteChange::Announce { as_path } => match self.table.get_mut(&update.peer) {
                        Some(routes) => {
                            routes.insert(key, as_path.clone());
                        }
                        None => {
                            let routes = HashMap::from([(key, as_path.clone())]);
                            self.table.insert(update.peer.clone(), routes);
                        }
                    },
                    RouteChange::Withdraw => {
                        if let Some(routes) = self.table.get_mut(&update.peer) {
                            routes.remove(&key);
                        }
                    }
                }
            }
            BgpInput::PeerDown { peer, .. } => {
                self.table.remove(peer);
            }
            BgpInput::TableSize { .. } => {}
        }
    }

    /// Inputs waiting.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Seals what waits (nothing when nothing does), numbered from `sequence`.
    pub fn seal(&mut self, now: Timestamp, sequence: &mut u64) -> Vec<Encoded> {
        let inputs = std::mem::take(&mut self.waiting);
        let mut sealed = Vec::new();
        self.seal_into(inputs, now, sequence, &mut sealed);
        sealed
    }

    fn seal_into(
        &self,
        inputs: Vec<BgpInput>,
        now: Timestamp,
        sequence: &mut u64,
        sealed: &mut Vec<Encoded>,
    ) {
        let encode = |inputs: Vec<BgpInput>, sequence: u64| {
            let batch = AgentRoutes {
                schema: SCHEMA_VERSION,
                profile: self.profile.clone(),
                vantage: self.vantage.clone(),
                feed: self.feed.clone(),
                session: self.session,
                sequence,
                sent_at: now,
                inputs,
            };
            (batch.encode().ok(), batch.inputs)
        };
        // A batch has one number.
        seal_in_halves(inputs, MAX_ROUTES_BYTES, sequence, |_| 1, &encode, sealed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::decode_routes;
    use blackout_model::{AsPath, Asn, PeerKey, RouteChange, RouteUpdate};
    use std::sync::Arc;

    fn route(n: u32, path_length: usize) -> BgpInput {
        let at = Timestamp::from_secs_f64(1_700_000_000.0);
        BgpInput::Route(RouteUpdate {
            at,
            peer: PeerKey {
                collector: Arc::from("bmp:192.0.2.1"),
                ip: "192.0.2.1".parse().unwrap(),
                asn: Asn(64496),
            },
            prefix: format!("2001:db8::{n:x}/128").parse().unwrap(),
            path_id: None,
            change: RouteChange::Announce {
                as_path: AsPath::from_sequence(
                    (0..path_length).map(|hop| 64496 + (hop as u32 % 16)),
                ),
            },
        })
    }

    fn decoded(sealed: &[Encoded]) -> Vec<AgentRoutes> {
        sealed
            .iter()
            .map(|encoded| decode_routes(&encoded.subject, &encoded.payload).unwrap())
            .collect()
    }

    #[test]
    fn a_full_batch_is_sealed_and_the_rest_waits_for_the_tick() {
        let now = Timestamp::from_secs_f64(1_700_000_001.0);
        let mut batcher = RouteBatcher::new("kp", "vp-1", "bmp-0.0.0.0:11019", now);
        let mut sequence = 10;
        let mut sealed = Vec::new();
        for n in 0..(MAX_ROUTES_PER_BATCH as u32 + 5) {
            sealed.extend(batcher.push(route(n, 3), now, &mut sequence));
        }
        assert_eq!(sealed.len(), 1);
        assert_eq!(batcher.waiting(), 5);
        sealed.extend(batcher.seal(now, &mut sequence));
        assert!(batcher.seal(now, &mut sequence).is_empty());
        assert_eq!(sequence, 12);
        let batches = decoded(&sealed);
        assert_eq!(batches[0].inputs.len(), MAX_ROUTES_PER_BATCH);
        assert_eq!(batches[1].inputs.len(), 5);
        assert_eq!(
            (batches[0].sequence, batches[1].sequence),
            (10, 11),
            "each batch has its own message id"
        );
        assert_eq!(sealed[0].id, "kp.vp-1.10");
        assert_eq!(sealed[1].subject, "blackout.v1.kp.vp-1.routes");
        assert!(batches.iter().all(|batch| batch.feed == "bmp-0.0.0.0:11019"
            && batch.session == now
            && batch.vantage == "vp-1"));
    }

    #[test]
    fn a_batch_of_long_paths_is_split_until_each_part_fits_a_message() {
        let now = Timestamp::from_secs_f64(1_700_000_001.0);
        let mut batcher = RouteBatcher::new("kp", "vp-1", "bgp-192.0.2.1", now);
        let mut sequence = 0;
        let mut sealed = Vec::new();
        for n in 0..MAX_ROUTES_PER_BATCH as u32 {
            sealed.extend(batcher.push(route(n, 200), now, &mut sequence));
        }
        assert!(sealed.len() > 1, "200-AS paths do not fit one message");
        assert!(
            sealed
                .iter()
                .all(|encoded| encoded.payload.len() <= MAX_ROUTES_BYTES)
        );
        let inputs: Vec<BgpInput> = decoded(&sealed)
            .into_iter()
            .flat_map(|batch| batch.inputs)
            .collect();
        let sent: Vec<BgpInput> = (0..MAX_ROUTES_PER_BATCH as u32)
            .map(|n| route(n, 200))
            .collect();
        assert_eq!(inputs, sent, "every input once, in order");
        assert_eq!(sequence as usize, sealed.len());
    }

    #[test]
    fn the_table_as_it_stands_is_sent_again_as_a_new_session() {
        let start = Timestamp::from_secs_f64(1_700_000_001.0);
        let mut batcher = RouteBatcher::new("kp", "vp-1", "bgp-192.0.2.1", start);
        let mut sequence = 0;
        let mut sealed = Vec::new();
        for n in 0..(MAX_ROUTES_PER_BATCH as u32 + 10) {
            sealed.extend(batcher.push(route(n, 3), start, &mut sequence));
        }
        // Two withdrawn; one withdrawal of a route never held changes nothing.
        for n in [0, 1, 0xffff] {
            let BgpInput::Route(mut update) = route(n, 3) else {
                unreachable!()
            };
            update.change = RouteChange::Withdraw;
            sealed.extend(batcher.push(BgpInput::Route(update), start, &mut sequence));
        }
        assert_eq!(batcher.routes(), MAX_ROUTES_PER_BATCH + 8);
        let later = Timestamp::from_secs_f64(1_700_000_060.0);
        let resent = decoded(&batcher.resend(later, &mut sequence));
        // What waited, in the old session; then the table, in the new one.
        assert_eq!(resent[0].session, start);
        assert_eq!(resent[0].inputs.len(), 13);
        let again: Vec<&BgpInput> = resent[1..]
            .iter()
            .inspect(|batch| assert_eq!(batch.session, later))
            .flat_map(|batch| &batch.inputs)
            .collect();
        assert_eq!(again.len(), MAX_ROUTES_PER_BATCH + 8);
        let mut prefixes = std::collections::BTreeSet::new();
        for input in again {
            let BgpInput::Route(update) = input else {
                panic!("{input:?}")
            };
            assert_eq!(update.at, later);
            assert!(matches!(update.change, RouteChange::Announce { .. }));
            prefixes.insert(update.prefix);
        }
        assert_eq!(prefixes.len(), MAX_ROUTES_PER_BATCH + 8);
        assert!(!prefixes.contains(&"2001:db8::/128".parse().unwrap()));

        // The peer lost: nothing held, nothing to send again.
        let BgpInput::Route(update) = route(5, 3) else {
            unreachable!()
        };
        batcher.push(
            BgpInput::PeerDown {
                at: later,
                peer: update.peer,
            },
            later,
            &mut sequence,
        );
        assert_eq!(batcher.routes(), 0);
        assert_eq!(decoded(&batcher.resend(later, &mut sequence)).len(), 1);
    }

    #[test]
    fn feeds_are_named_by_kind_and_place() {
        let filter = blackout_model::PrefixFilter::default();
        let bmp = FeedConfig::Bmp {
            listen: "127.0.0.1:11019".parse().unwrap(),
            allow: Vec::new(),
            views: Vec::new(),
        };
        assert_eq!(
            RelayedFeed::from_config(&bmp, &filter).name,
            "bmp-127.0.0.1:11019"
        );
        let ris = FeedConfig::RisLive {
            url: "wss://ris-live.example/v1/ws/".into(),
        };
        assert_eq!(RelayedFeed::from_config(&ris, &filter).name, "ris-live");
    }
}
