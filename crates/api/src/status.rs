//! The status snapshot: what `blackout watch` believes right now, as plain data.
//!
//! [`Status`] is built by the watch loop (the one writer) and handed to readers as an
//! immutable `Arc` through a `tokio::sync::watch` channel. [`Headline`] is the one
//! sentence the dashboard shows at the top, decided here so that the page, the API and
//! the tests agree on it.

pub use crate::entities::WatchedEntities;
use blackout_bgp::PrefixView;
use blackout_model::{Cause, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use blackout_model::EntityState;

/// Everything the watch loop believes at one moment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// When the snapshot was taken.
    pub generated_at: Timestamp,
    /// The profile watched (`kp`).
    pub profile: String,
    /// The watched network as a whole (`country:KP`).
    pub network: EntityStatus,
    /// Every other watched entity (origins, prefixes, upstreams, hosts, services, feeds).
    pub entities: Vec<EntityStatus>,
    /// Each upstream of the network and how much of the network it carries.
    pub upstreams: Vec<UpstreamStatus>,
    /// Each watched prefix as the BGP feeds see it.
    pub prefixes: Vec<PrefixStatus>,
    /// The latest result of each probe check.
    pub probes: Vec<ProbeStatus>,
    /// The health of blackout's own feeds.
    pub feeds: Vec<FeedStatus>,
    /// The vantage point blackout probes from.
    pub vantage: EntityStatus,
    /// Every vantage point whose results reach this blackout (one for a single
    /// `watch`, each agent's for a central): its health and its latest result.
    #[serde(default)]
    pub vantages: Vec<VantageStatus>,
    /// The profile's names for people, by entity (`host:kcna.kp` → `kcna.kp
    /// (Korean Central News Agency)`), for the dashboard to show beside the targets.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Every watched entity, in entity order, for `/api/v1/entities` and the
    /// overview. Not part of the status's JSON: the global view watches every
    /// country and origin AS, tens of thousands of them, which the entity list
    /// serves a page at a time.
    #[serde(skip)]
    pub watched: WatchedEntities,
}

/// One watched entity as `/api/v1/entities` lists it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WatchedEntity {
    /// The entity, in the contract's text form (`country:IR`, `as:44244`).
    pub entity: String,
    /// Its kind: the part of the entity before the first `:` (`country`, `as`,
    /// `upstream`, `host`, `service`, `feed`, `vantage`, `prefix`).
    pub kind: String,
    /// A name for people.
    pub name: String,
    /// Its state.
    pub state: EntityState,
    /// Since when it has been in that state, where an event says.
    pub since: Option<Timestamp>,
    /// Why it is not up, where an event says.
    pub cause: Option<Cause>,
    /// The event that explains the state, where there is one.
    pub event_id: Option<String>,
    /// Its prefixes, for a network, country or AS.
    pub prefixes: Option<u32>,
    /// How many of them are dark now.
    pub dark: Option<u32>,
    /// The share of (prefix, full-feed peer) pairs that see its prefixes, when
    /// any peer counts.
    pub visibility: Option<f64>,
}

impl WatchedEntity {
    /// The kind of an entity's text form.
    pub fn kind_of(entity: &str) -> &str {
        entity.split(':').next().unwrap_or_default()
    }
}

impl From<&EntityStatus> for WatchedEntity {
    fn from(status: &EntityStatus) -> Self {
        WatchedEntity {
            entity: status.entity.clone(),
            kind: WatchedEntity::kind_of(&status.entity).to_string(),
            name: status.name.clone(),
            state: status.state,
            since: status.since,
            cause: status.cause,
            event_id: status.event_id.clone(),
            ..WatchedEntity::default()
        }
    }
}

/// One entity's state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EntityStatus {
    /// The entity, in the contract's text form (`upstream:4837`).
    pub entity: String,
    /// A name for people (`China Unicom`).
    pub name: String,
    /// Its state.
    pub state: EntityState,
    /// Since when it has been in that state, where known.
    pub since: Option<Timestamp>,
    /// Why it is not up, where an event says.
    pub cause: Option<Cause>,
    /// The event that explains the state, where there is one.
    pub event_id: Option<String>,
    /// What else a person should know.
    pub detail: String,
}

/// One vantage point: is it online, does it see the targets as the others do,
/// and what did it see last?
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VantageStatus {
    /// Its name (`local`, `tokyo`).
    pub name: String,
    /// `up`: its controls answer and it sees what the others see; `degraded`:
    /// it sees targets down that the other vantage points reach (its path);
    /// `down`: its controls fail, it is offline and does not vote; `unknown`:
    /// no control result yet.
    pub state: EntityState,
    /// Since when, where an event says (or since its controls failed).
    pub since: Option<Timestamp>,
    /// The event about it, where there is one.
    pub event_id: Option<String>,
    /// What else a person should know (its event's summary).
    pub detail: String,
    /// How many targets' checks it runs.
    pub checks: u32,
    /// How many of them fail from there now.
    pub failing: u32,
    /// Its latest result, of any check.
    pub last: Option<VantageResult>,
}

/// The latest result of a vantage point.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VantageResult {
    /// When it ran.
    pub at: Timestamp,
    /// The target.
    pub target: String,
    /// The kind of check (`probe.icmp`, ...).
    pub kind: String,
    /// Did it pass?
    pub ok: bool,
    /// Round-trip time, where measured.
    pub rtt_ms: Option<f64>,
    /// What was seen, as received.
    pub text: String,
}

/// One upstream of the watched network.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UpstreamStatus {
    /// Its AS number.
    pub asn: u32,
    /// Its name (`China Unicom`).
    pub name: String,
    /// The share of full-feed peers whose paths to the network go through it (0 to 1).
    pub visibility: f64,
    /// Its state.
    pub state: EntityState,
}

/// One watched prefix as the BGP feeds see it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PrefixStatus {
    /// The prefix.
    pub prefix: String,
    /// The share of full-feed peers that see it (0 to 1).
    pub visibility: f64,
    /// How many full-feed peers see it.
    pub seen_by: u32,
    /// How many full-feed peers there are.
    pub full_feed_peers: u32,
    /// For each upstream AS (as text), how many peers' paths use it.
    pub upstreams: BTreeMap<String, u32>,
    /// The origin ASes seen.
    pub origins: Vec<u32>,
    /// Why a route to it is RPKI-invalid, while one is: a warning state, not an
    /// event (the network's event tells when it loses visibility while invalid).
    pub rpki_invalid: Option<String>,
}

impl From<&PrefixView> for PrefixStatus {
    fn from(view: &PrefixView) -> Self {
        PrefixStatus {
            prefix: view.prefix.to_string(),
            visibility: view.visibility(),
            seen_by: view.seen_by,
            full_feed_peers: view.full_feed_peers,
            upstreams: view
                .upstreams
                .iter()
                .map(|(asn, count)| (asn.0.to_string(), *count))
                .collect(),
            origins: view.origins.keys().map(|asn| asn.0).collect(),
            rpki_invalid: None,
        }
    }
}

/// The latest result of one probe check.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProbeStatus {
    /// When it ran.
    pub at: Timestamp,
    /// From where.
    pub vantage: String,
    /// The target (host name or address).
    pub target: String,
    /// The check's name in the profile.
    pub check: String,
    /// The kind of check (`probe.icmp`, `probe.dns`, ...).
    pub kind: String,
    /// Did it pass?
    pub ok: bool,
    /// A short outcome (`ok`, `timeout`, `refused`, `servfail`, ...).
    pub outcome: String,
    /// Round-trip time, where measured.
    pub rtt_ms: Option<f64>,
    /// Loss ratio (0 to 1), where measured.
    pub loss: Option<f64>,
    /// What else was seen (a banner, a status line), as received.
    pub detail: String,
    /// The address probed, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Set when the target's name did not resolve (its name servers may be as
    /// dark as the host) and the last address it resolved to was probed instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_known_address: Option<LastKnownAddress>,
}

/// Why a probe went to an address its name no longer resolves to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LastKnownAddress {
    /// When the name last resolved to the address.
    pub resolved_at: Timestamp,
    /// Why the name did not resolve this time.
    pub resolve_error: String,
}

/// The health of one of blackout's feeds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FeedStatus {
    /// The feed (`bmp:198.51.100.1`).
    pub name: String,
    /// `up`, `stale`, `down`, ...
    pub state: String,
    /// Its last message.
    pub last_message: Option<Timestamp>,
    /// Messages per second.
    pub rate: Option<f64>,
    /// What else was seen.
    pub detail: String,
    /// Messages come but none carries a route blackout can use: why, in words.
    #[serde(default)]
    pub why_no_routes: Option<String>,
    /// A BMP feed's router: its name, views and monitored peers.
    #[serde(default)]
    pub router: Option<RouterStatus>,
}

/// A BMP router as its feed sees it. Its texts come from the router: show them as
/// text only.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RouterStatus {
    /// sysName from the router's Initiation.
    pub sys_name: Option<String>,
    /// sysDescr from the router's Initiation.
    pub sys_descr: Option<String>,
    /// The views the profile lets feed the BGP state (`pre-policy`, `post-policy`,
    /// `loc-rib`).
    pub views_configured: Vec<String>,
    /// The views the router sends.
    pub views_sent: Vec<String>,
    /// The views that feed the BGP state now.
    pub views_used: Vec<String>,
    /// What the feed skips, and why.
    pub skipped: Vec<SkippedStatus>,
    /// Monitored peers (at most 256, those holding watched routes first).
    pub peers: Vec<BmpPeerStatus>,
    /// Monitored peers known in all.
    pub peers_total: u32,
    /// Of which up.
    pub peers_up: u32,
    /// The latest Peer Downs of peers that held watched routes (at most 16).
    pub peer_downs: Vec<PeerDownStatus>,
}

/// Routes a feed does not use, and why.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedStatus {
    /// What (`ipv4-vpn routes (VPN)`).
    pub what: String,
    /// Why.
    pub why: String,
    /// Messages skipped.
    pub messages: u64,
}

/// One peer a BMP router monitors (or its Loc-RIB).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BmpPeerStatus {
    /// Its address (a Loc-RIB's: the router's).
    pub address: String,
    /// Its AS.
    pub asn: u32,
    /// Its BGP identifier.
    pub bgp_id: String,
    /// `global`, `rd-instance`, `local-instance` or `loc-rib`.
    pub peer_type: String,
    /// Its route distinguisher, for a VRF's peer or Loc-RIB.
    pub distinguisher: Option<String>,
    /// The VRF or table name the router gave.
    pub table_name: Option<String>,
    /// A filtered Loc-RIB: not the complete table.
    pub filtered: bool,
    /// `up` or `down`.
    pub state: String,
    /// Since when.
    pub since: Timestamp,
    /// The Peer Down reason code (RFC 7854 §4.9, RFC 9069), when it is down.
    pub reason_code: Option<u8>,
    /// Why it is down, in words.
    pub reason: Option<String>,
    /// The views the router sends of it.
    pub views_sent: Vec<String>,
    /// The view that feeds the BGP state, if one does.
    pub view: Option<String>,
    /// Watched routes held.
    pub routes: u32,
    /// Of which IPv4.
    pub routes_ipv4: u32,
    /// Of which IPv6.
    pub routes_ipv6: u32,
    /// The router's count of its routes (all families), from its Statistics Reports.
    pub table_routes: Option<u64>,
    /// The same for IPv4 unicast.
    pub table_ipv4: Option<u64>,
    /// The same for IPv6 unicast.
    pub table_ipv6: Option<u64>,
}

/// A monitored peer that held watched routes went down.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerDownStatus {
    /// The peer as the BGP state knows it (`bmp:198.51.100.1 192.0.2.4 AS64499`).
    pub peer: String,
    /// When.
    pub at: Timestamp,
    /// The Peer Down reason code, if one came.
    pub reason_code: Option<u8>,
    /// Why, in words.
    pub reason: String,
    /// Watched routes it held.
    pub routes: u32,
}

/// The answer at a glance, as the dashboard's header shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Headline {
    /// `online`, `degraded`, `dark` or `no-verdict`: the page colours by it.
    pub state: String,
    /// The sentence (`North Korea: ONLINE via AS4837 China Unicom`).
    pub text: String,
}

impl Status {
    /// Whether `other` says the same as this snapshot in its JSON, whatever the moment
    /// each was taken: the stream sends a status only when something in it changed.
    pub fn same_as(&self, other: &Status) -> bool {
        // Destructured so that a new field cannot be forgotten here.
        let Status {
            generated_at: _,
            profile,
            network,
            entities,
            upstreams,
            prefixes,
            probes,
            feeds,
            vantage,
            vantages,
            labels,
            // Not in the stream's JSON: the entity list is paged through the API.
            watched: _,
        } = self;
        *profile == other.profile
            && *network == other.network
            && *vantage == other.vantage
            && *vantages == other.vantages
            && *entities == other.entities
            && *upstreams == other.upstreams
            && *prefixes == other.prefixes
            && *probes == other.probes
            && *feeds == other.feeds
            && *labels == other.labels
    }

    /// The sentence that answers "is it online?" at a glance.
    ///
    /// The vantage point comes first: when it is offline nothing blackout sees of the
    /// target means anything, so it gives no verdict rather than a false "dark".
    pub fn headline(&self) -> Headline {
        let name = [&self.network.name, &self.network.entity, &self.profile]
            .into_iter()
            .find(|n| !n.is_empty())
            .map_or("the network", |n| n.as_str());
        let since = |s: &EntityStatus| s.since.map(|t| format!(" since {t}")).unwrap_or_default();
        let cause = |s: &EntityStatus| s.cause.map(|c| format!(" cause {c}")).unwrap_or_default();
        if self.vantage.state == EntityState::Down {
            return Headline {
                state: "no-verdict".into(),
                text: format!(
                    "this observatory is offline: its vantage point cannot reach the Internet{} (no verdict on {name})",
                    since(&self.vantage)
                ),
            };
        }
        let via = self.carrying_upstreams();
        match self.network.state {
            EntityState::Up => Headline {
                state: "online".into(),
                text: if via.is_empty() {
                    format!("{name}: ONLINE")
                } else {
                    format!("{name}: ONLINE via {via}")
                },
            },
            EntityState::Degraded => Headline {
                state: "degraded".into(),
                text: format!(
                    "{name}: DEGRADED{}{}{}",
                    since(&self.network),
                    cause(&self.network),
                    if via.is_empty() {
                        String::new()
                    } else {
                        format!(", via {via}")
                    }
                ),
            },
            EntityState::Down => Headline {
                state: "dark".into(),
                text: format!(
                    "{name}: DARK{}{}",
                    since(&self.network),
                    cause(&self.network)
                ),
            },
            EntityState::Unknown => {
                let feeds_up = self.feeds.iter().any(|f| f.state == "up");
                // The observatory's own state comes first: with no feed up it is
                // blind, which says nothing about the network.
                let text = if !self.feeds.is_empty() && !feeds_up {
                    format!("this observatory is offline: no feed is up (no verdict on {name})")
                } else if self.network.detail.is_empty() {
                    format!("this observatory has not seen enough yet (no verdict on {name})")
                } else {
                    format!("{name}: no verdict: {}", self.network.detail)
                };
                Headline {
                    state: "no-verdict".into(),
                    text,
                }
            }
        }
    }

    /// "AS4837 China Unicom, AS20485 TransTelecom": the upstreams that carry routes,
    /// most visible first.
    fn carrying_upstreams(&self) -> String {
        let mut carrying: Vec<&UpstreamStatus> = self
            .upstreams
            .iter()
            .filter(|u| u.visibility > 0.0 && u.state != EntityState::Down)
            .collect();
        carrying.sort_by(|a, b| {
            b.visibility
                .total_cmp(&a.visibility)
                .then(a.asn.cmp(&b.asn))
        });
        carrying
            .iter()
            .map(|u| {
                if u.name.is_empty() {
                    format!("AS{}", u.asn)
                } else {
                    format!("AS{} {}", u.asn, u.name)
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What `/api/v1/status` and the stream's `status` messages carry: the snapshot and
/// its headline.
#[derive(Serialize)]
pub(crate) struct StatusBody<'a> {
    #[serde(flatten)]
    pub status: &'a Status,
    pub headline: Headline,
}

impl<'a> StatusBody<'a> {
    pub(crate) fn new(status: &'a Status) -> Self {
        StatusBody {
            status,
            headline: status.headline(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kp() -> Status {
        Status {
            profile: "kp".into(),
            network: EntityStatus {
                entity: "country:KP".into(),
                name: "North Korea".into(),
                state: EntityState::Up,
                ..EntityStatus::default()
            },
            upstreams: vec![
                UpstreamStatus {
                    asn: 20485,
                    name: "TransTelecom".into(),
                    visibility: 0.4,
                    state: EntityState::Up,
                },
                UpstreamStatus {
                    asn: 4837,
                    name: "China Unicom".into(),
                    visibility: 0.9,
                    state: EntityState::Up,
                },
                UpstreamStatus {
                    asn: 9002,
                    name: "RETN".into(),
                    visibility: 0.0,
                    state: EntityState::Down,
                },
            ],
            ..Status::default()
        }
    }

    #[test]
    fn online_names_the_carrying_upstreams_most_visible_first() {
        let headline = kp().headline();
        assert_eq!(headline.state, "online");
        assert_eq!(
            headline.text,
            "North Korea: ONLINE via AS4837 China Unicom, AS20485 TransTelecom"
        );
    }

    #[test]
    fn dark_says_since_when_and_why() {
        let mut status = kp();
        status.network.state = EntityState::Down;
        status.network.since = Some(Timestamp::from_secs(1_642_118_400));
        status.network.cause = Some(Cause::Internal);
        let headline = status.headline();
        assert_eq!(headline.state, "dark");
        assert_eq!(
            headline.text,
            "North Korea: DARK since 2022-01-14T00:00:00Z cause internal"
        );
    }

    #[test]
    fn an_offline_vantage_point_gives_no_verdict_whatever_the_network_seems() {
        let mut status = kp();
        status.network.state = EntityState::Down;
        status.vantage.state = EntityState::Down;
        let headline = status.headline();
        assert_eq!(headline.state, "no-verdict");
        assert_eq!(
            headline.text,
            "this observatory is offline: its vantage point cannot reach the Internet (no verdict on North Korea)"
        );
    }

    #[test]
    fn unknown_with_every_feed_down_says_so() {
        let mut status = kp();
        status.network.state = EntityState::Unknown;
        status.feeds = vec![FeedStatus {
            name: "bmp:198.51.100.1".into(),
            state: "down".into(),
            ..FeedStatus::default()
        }];
        assert_eq!(
            status.headline().text,
            "this observatory is offline: no feed is up (no verdict on North Korea)"
        );
        assert_eq!(
            Status::default().headline().text,
            "this observatory has not seen enough yet (no verdict on the network)"
        );
    }

    #[test]
    fn states_serialize_in_lowercase_and_status_round_trips() {
        let status = kp();
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(json["network"]["state"], "up");
        assert_eq!(json["upstreams"][2]["state"], "down");
        let back: Status = serde_json::from_value(json).unwrap();
        assert_eq!(back, status);
    }
}
