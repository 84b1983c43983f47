//! RIS Live messages (<https://ris-live.ripe.net/manual/>), sans-IO: one JSON text in,
//! route inputs and what the message was out.
//!
//! The message `type` is switched on first: `ris_message` of every kind (UPDATE,
//! OPEN, NOTIFICATION, KEEPALIVE, RIS_PEER_STATE), `ris_error`, `pong` and the
//! rest. An UPDATE's announcements and withdrawals become route inputs; a peer
//! going down (RIS_PEER_STATE `down`, or a NOTIFICATION on its session) flushes its
//! routes; when the websocket itself is lost, [`RisLiveSession::connection_lost`]
//! flushes every peer seen, since the gap may hide withdrawals.

use blackout_model::PrefixFilter;
use blackout_model::{
    AsPath, Asn, BgpInput, PathSegment, PeerKey, RouteChange, RouteUpdate, Timestamp,
};
use ipnet::IpNet;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

/// What one RIS Live message was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RisMessage {
    /// An UPDATE: routes announced and withdrawn (after the filter).
    Update {
        /// Announced routes passed on.
        announced: u32,
        /// Withdrawn routes passed on.
        withdrawn: u32,
    },
    /// A peer's session changed state (`connected`, `down`).
    PeerState {
        /// The collector.
        host: String,
        /// The peer.
        peer: IpAddr,
        /// The new state.
        state: String,
    },
    /// An OPEN on a collector's session.
    Open,
    /// A NOTIFICATION on a collector's session: that session is down.
    Notification,
    /// A KEEPALIVE on a collector's session.
    Keepalive,
    /// The server's answer to a ping.
    Pong,
    /// The server reports an error (a bad subscription, for one).
    Error(String),
    /// A message type this client does not use (`ris_rrc_list`, `ris_subscribe_ok`...).
    Other(String),
    /// Not a RIS Live message: not JSON, or fields of the wrong shape.
    Malformed(String),
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type")]
    kind: String,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Number {
    Int(u32),
    Text(String),
}

impl Number {
    fn get(&self) -> Option<u32> {
        match self {
            Number::Int(n) => Some(*n),
            Number::Text(text) => text.parse().ok(),
        }
    }
}

/// One element of a path: an AS, or an AS_SET as a nested list.
enum PathElement {
    Asn(u32),
    Set(Vec<u32>),
}

/// Read by a visitor of its own rather than `#[serde(untagged)]`, which buffers
/// every element into an intermediate value before trying each shape: the path
/// is read for every UPDATE of a full feed.
impl<'de> Deserialize<'de> for PathElement {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ElementVisitor;
        impl<'de> serde::de::Visitor<'de> for ElementVisitor {
            type Value = PathElement;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an AS number or a list of AS numbers")
            }

            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<PathElement, E> {
                u32::try_from(n)
                    .map(PathElement::Asn)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(n), &self))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<PathElement, A::Error> {
                let mut set = Vec::new();
                while let Some(asn) = seq.next_element::<u32>()? {
                    set.push(asn);
                }
                Ok(PathElement::Set(set))
            }
        }
        deserializer.deserialize_any(ElementVisitor)
    }
}

#[derive(Deserialize)]
struct Announcement<'a> {
    /// Borrowed from the message where it has no escapes (as prefixes never do).
    #[serde(borrow, default)]
    prefixes: Vec<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RisData<'a> {
    timestamp: Option<f64>,
    peer: Option<String>,
    peer_asn: Option<Number>,
    host: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    path: Option<Vec<PathElement>>,
    #[serde(borrow)]
    announcements: Option<Vec<Announcement<'a>>>,
    #[serde(borrow)]
    withdrawals: Option<Vec<Cow<'a, str>>>,
    state: Option<String>,
}

#[derive(Deserialize)]
struct ErrorData {
    message: Option<String>,
}

/// One websocket session's worth of RIS Live.
#[derive(Debug)]
pub struct RisLiveSession {
    filter: PrefixFilter,
    peers: BTreeSet<PeerKey>,
    hosts: HashMap<String, Arc<str>>,
}

impl RisLiveSession {
    /// A session passing the routes `filter` wants.
    pub fn new(filter: PrefixFilter) -> Self {
        RisLiveSession {
            filter,
            peers: BTreeSet::new(),
            hosts: HashMap::new(),
        }
    }

    /// Peers seen so far.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// Handles one text message received at `now`.
    pub fn handle(&mut self, now: Timestamp, text: &str, out: &mut Vec<BgpInput>) -> RisMessage {
        let envelope: Envelope<'_> = match serde_json::from_str(text) {
            Ok(envelope) => envelope,
            Err(error) => return RisMessage::Malformed(outside(&error.to_string())),
        };
        match envelope.kind.as_str() {
            "ris_message" => {
                let Some(raw) = envelope.data else {
                    return RisMessage::Malformed("ris_message without data".into());
                };
                match serde_json::from_str::<RisData>(raw.get()) {
                    Ok(data) => self.ris_message(now, data, out),
                    Err(error) => RisMessage::Malformed(outside(&error.to_string())),
                }
            }
            "ris_error" => {
                let message = envelope
                    .data
                    .and_then(|raw| serde_json::from_str::<ErrorData>(raw.get()).ok())
                    .and_then(|data| data.message)
                    .unwrap_or_else(|| "ris_error without a message".into());
                RisMessage::Error(outside(&message))
            }
            "pong" => RisMessage::Pong,
            other => RisMessage::Other(outside(other)),
        }
    }

    /// The websocket is gone: every peer's routes are unknown until it is back.
    pub fn connection_lost(&mut self, now: Timestamp, out: &mut Vec<BgpInput>) {
        for peer in std::mem::take(&mut self.peers) {
            out.push(BgpInput::PeerDown { at: now, peer });
        }
    }

    fn key(&mut self, data: &RisData<'_>) -> Option<PeerKey> {
        let host = data.host.as_deref()?;
        let ip: IpAddr = data.peer.as_deref()?.parse().ok()?;
        let asn = data.peer_asn.as_ref()?.get()?;
        let collector = Arc::clone(
            self.hosts
                .entry(host.to_string())
                .or_insert_with(|| Arc::from(outside(host))),
        );
        Some(PeerKey {
            collector,
            ip,
            asn: Asn(asn),
        })
    }

    fn ris_message(
        &mut self,
        now: Timestamp,
        data: RisData<'_>,
        out: &mut Vec<BgpInput>,
    ) -> RisMessage {
        let at = data
            .timestamp
            .filter(|t| t.is_finite() && *t > 0.0)
            .map_or(now, Timestamp::from_secs_f64);
        let Some(key) = self.key(&data) else {
            return RisMessage::Malformed("ris_message without host, peer or peer_asn".into());
        };
        match data.kind.as_deref() {
            Some("UPDATE") => {
                let (mut announced, mut withdrawn) = (0, 0);
                for text in data.withdrawals.iter().flatten() {
                    let Ok(prefix) = text.parse::<IpNet>() else {
                        continue;
                    };
                    let prefix = prefix.trunc();
                    if self.filter.wants(&prefix) {
                        withdrawn += 1;
                        out.push(route(at, &key, prefix, RouteChange::Withdraw));
                    }
                }
                let path = data.path.map(as_path).unwrap_or_default();
                for announcement in data.announcements.iter().flatten() {
                    for text in &announcement.prefixes {
                        let Ok(prefix) = text.parse::<IpNet>() else {
                            continue;
                        };
                        let prefix = prefix.trunc();
                        if self.filter.wants(&prefix) {
                            announced += 1;
                            out.push(route(
                                at,
                                &key,
                                prefix,
                                RouteChange::Announce {
                                    as_path: path.clone(),
                                },
                            ));
                        }
                    }
                }
                if announced + withdrawn > 0 {
                    self.peers.insert(key);
                }
                RisMessage::Update {
                    announced,
                    withdrawn,
                }
            }
            Some("RIS_PEER_STATE") => {
                let state = outside(&data.state.unwrap_or_default());
                let (host, peer) = (key.collector.to_string(), key.ip);
                if state != "connected" {
                    self.peers.remove(&key);
                    out.push(BgpInput::PeerDown { at, peer: key });
                }
                RisMessage::PeerState { host, peer, state }
            }
            Some("NOTIFICATION") => {
                self.peers.remove(&key);
                out.push(BgpInput::PeerDown { at, peer: key });
                RisMessage::Notification
            }
            Some("OPEN") => RisMessage::Open,
            Some("KEEPALIVE") => RisMessage::Keepalive,
            Some(other) => RisMessage::Other(outside(other)),
            None => RisMessage::Malformed("ris_message without a type".into()),
        }
    }
}

fn route(at: Timestamp, key: &PeerKey, prefix: IpNet, change: RouteChange) -> BgpInput {
    BgpInput::Route(RouteUpdate {
        at,
        peer: key.clone(),
        prefix,
        path_id: None,
        change,
    })
}

/// RIS Live writes a path as numbers, with an AS_SET as a nested list.
fn as_path(elements: Vec<PathElement>) -> AsPath {
    let mut segments = Vec::new();
    let mut sequence = Vec::new();
    for element in elements {
        match element {
            PathElement::Asn(asn) => sequence.push(Asn(asn)),
            PathElement::Set(set) => {
                if !sequence.is_empty() {
                    segments.push(PathSegment::Sequence(std::mem::take(&mut sequence)));
                }
                segments.push(PathSegment::Set(set.into_iter().map(Asn).collect()));
            }
        }
    }
    if !sequence.is_empty() {
        segments.push(PathSegment::Sequence(sequence));
    }
    AsPath::from_segments(segments)
}

/// The messages that subscribe to the routes of `prefixes` (more- and less-specific
/// included) and to every peer's state changes.
pub fn subscriptions(prefixes: &[IpNet]) -> Vec<String> {
    let mut out: Vec<String> = prefixes
        .iter()
        .map(|prefix| {
            serde_json::json!({
                "type": "ris_subscribe",
                "data": {
                    "prefix": prefix.to_string(),
                    "moreSpecific": true,
                    "lessSpecific": true,
                    "socketOptions": { "includeRaw": false }
                }
            })
            .to_string()
        })
        .collect();
    out.push(
        serde_json::json!({
            "type": "ris_subscribe",
            "data": { "type": "RIS_PEER_STATE" }
        })
        .to_string(),
    );
    out
}

/// A field of a RIS Live message made inert: the server's text reaches logs, the
/// status and the peer keys of the model.
fn outside(text: &str) -> String {
    blackout_model::text::inert(text, blackout_model::text::MAX_OUTSIDE_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_in_path() {
        let path = as_path(vec![
            PathElement::Asn(1),
            PathElement::Asn(2),
            PathElement::Set(vec![3, 4]),
        ]);
        assert_eq!(path.to_string(), "1 2 {3,4}");
    }

    #[test]
    fn a_path_with_a_set_is_read_from_json_and_an_oversized_asn_is_malformed() {
        let mut session = RisLiveSession::new(PrefixFilter::everything());
        let mut out = Vec::new();
        let update = r#"{"type":"ris_message","data":{"type":"UPDATE","host":"rrc00","peer":"192.0.2.1","peer_asn":64496,"path":[64496,64500,[64501,64502]],"announcements":[{"prefixes":["203.0.113.0/24"]}],"withdrawals":["198.51.100.0/24"]}}"#;
        assert_eq!(
            session.handle(Timestamp::EPOCH, update, &mut out),
            RisMessage::Update {
                announced: 1,
                withdrawn: 1
            }
        );
        let Some(BgpInput::Route(RouteUpdate {
            change: RouteChange::Announce { as_path },
            ..
        })) = out.last()
        else {
            panic!("no announcement: {out:?}");
        };
        assert_eq!(as_path.to_string(), "64496 64500 {64501,64502}");
        let oversized = r#"{"type":"ris_message","data":{"type":"UPDATE","host":"rrc00","peer":"192.0.2.1","peer_asn":64496,"path":[64496,4294967296],"announcements":[{"prefixes":["203.0.113.0/24"]}]}}"#;
        assert!(matches!(
            session.handle(Timestamp::EPOCH, oversized, &mut out),
            RisMessage::Malformed(_)
        ));
    }

    #[test]
    fn hostile_fields_are_inert() {
        let mut session = RisLiveSession::new(PrefixFilter::everything());
        let mut out = Vec::new();
        let state = r#"{"type":"ris_message","data":{"type":"RIS_PEER_STATE","host":"rrc00\u001b]0;owned\u0007","peer":"192.0.2.1","peer_asn":"64496","state":"down\u001b[2J"}}"#;
        let RisMessage::PeerState { host, state, .. } =
            session.handle(Timestamp::EPOCH, state, &mut out)
        else {
            panic!("not a peer state");
        };
        assert_eq!(host, "rrc00\\x1b]0;owned\\x07");
        assert_eq!(state, "down\\x1b[2J");
        let [BgpInput::PeerDown { peer, .. }] = out.as_slice() else {
            panic!("no peer down: {out:?}");
        };
        assert_eq!(&*peer.collector, "rrc00\\x1b]0;owned\\x07");
        let error = r#"{"type":"ris_error","data":{"message":"bad\u0008\u0008\u0008ok"}}"#;
        assert_eq!(
            session.handle(Timestamp::EPOCH, error, &mut out),
            RisMessage::Error("bad\\x08\\x08\\x08ok".into())
        );
        let other = "{\"type\":\"x\\u001bc\"}";
        assert_eq!(
            session.handle(Timestamp::EPOCH, other, &mut out),
            RisMessage::Other("x\\x1bc".into())
        );
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let mut session = RisLiveSession::new(PrefixFilter::everything());
        let mut out = Vec::new();
        for text in [
            "",
            "{",
            "[]",
            r#"{"type":"ris_message"}"#,
            r#"{"type":"ris_message","data":[1]}"#,
        ] {
            assert!(
                matches!(
                    session.handle(Timestamp::EPOCH, text, &mut out),
                    RisMessage::Malformed(_)
                ),
                "{text}"
            );
        }
        assert!(out.is_empty());
    }
}
