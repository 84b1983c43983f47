//! Prometheus metrics: the status snapshot as gauges, plus counters other parts bump.
//!
//! [`Metrics::update_from`] rewrites every gauge from a [`Status`] (the scrape handler
//! calls it with the latest snapshot, so a scrape never sees an older state than the
//! API). Label sets that are gone from the status (a feed removed, a probe renamed) are
//! dropped, not left at their last value. [`Metrics::alert_delivered`],
//! [`Metrics::alert_failed`] and [`Metrics::alert_dropped`] are the handle the alert
//! component increments.
//!
//! Names follow Prometheus' conventions: base units (seconds, ratios), `_total` on
//! counters, and a state set (`blackout_entity_state{state="down"} 1`) rather than a
//! number that encodes the state.
//!
//! A BMP feed's monitored peers get series of their own (up, watched routes and the
//! router's route counts, per family), for at most [`MAX_PEERS_PER_FEED`] peers per
//! feed (those holding watched routes first), so that a route reflector with
//! hundreds of peers does not multiply the series; `blackout_bmp_peers` counts them
//! all. Their labels are the peer's address, AS, type and route distinguisher,
//! never text the router chose.

use crate::status::{BmpPeerStatus, EntityState, EntityStatus, FeedStatus, Status};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::RwLock;
use std::sync::atomic::AtomicU64;

type Labels = Vec<(&'static str, String)>;

/// The most monitored peers of one BMP feed that get series of their own.
pub const MAX_PEERS_PER_FEED: usize = 32;
type FloatGauge = Gauge<f64, AtomicU64>;

/// The registry and every metric in it.
pub struct Metrics {
    registry: Registry,
    /// Held for writing while the gauges are rewritten and for reading while they are
    /// encoded, so that a scrape never sees a half-updated status.
    consistency: RwLock<()>,
    entity_state: Family<Labels, Gauge>,
    entity_since: Family<Labels, FloatGauge>,
    prefix_visibility: Family<Labels, FloatGauge>,
    prefix_seen_by: Family<Labels, Gauge>,
    prefix_full_feed_peers: Family<Labels, Gauge>,
    prefix_upstream_paths: Family<Labels, Gauge>,
    upstream_visibility: Family<Labels, FloatGauge>,
    upstream_state: Family<Labels, Gauge>,
    probe_ok: Family<Labels, Gauge>,
    probe_loss: Family<Labels, FloatGauge>,
    probe_rtt: Family<Labels, FloatGauge>,
    probe_at: Family<Labels, FloatGauge>,
    feed_state: Family<Labels, Gauge>,
    feed_last_message: Family<Labels, FloatGauge>,
    feed_age: Family<Labels, FloatGauge>,
    feed_rate: Family<Labels, FloatGauge>,
    feed_no_usable_routes: Family<Labels, Gauge>,
    bmp_peers: Family<Labels, Gauge>,
    bmp_peer_up: Family<Labels, Gauge>,
    bmp_peer_routes: Family<Labels, Gauge>,
    bmp_peer_table_routes: Family<Labels, Gauge>,
    status_generated: FloatGauge,
    alerts_delivered: Family<Labels, Counter>,
    alerts_failed: Family<Labels, Counter>,
    alerts_dropped: Counter,
    http_requests: Family<Labels, Counter>,
    stream_clients: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric registered and no values yet.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("blackout");
        let mut metrics = Metrics {
            registry: Registry::default(),
            consistency: RwLock::new(()),
            entity_state: Family::default(),
            entity_since: Family::default(),
            prefix_visibility: Family::default(),
            prefix_seen_by: Family::default(),
            prefix_full_feed_peers: Family::default(),
            prefix_upstream_paths: Family::default(),
            upstream_visibility: Family::default(),
            upstream_state: Family::default(),
            probe_ok: Family::default(),
            probe_loss: Family::default(),
            probe_rtt: Family::default(),
            probe_at: Family::default(),
            feed_state: Family::default(),
            feed_last_message: Family::default(),
            feed_age: Family::default(),
            feed_rate: Family::default(),
            feed_no_usable_routes: Family::default(),
            bmp_peers: Family::default(),
            bmp_peer_up: Family::default(),
            bmp_peer_routes: Family::default(),
            bmp_peer_table_routes: Family::default(),
            status_generated: FloatGauge::default(),
            alerts_delivered: Family::default(),
            alerts_failed: Family::default(),
            alerts_dropped: Counter::default(),
            http_requests: Family::default(),
            stream_clients: Gauge::default(),
        };
        let m = &metrics;
        let r = &mut registry;
        r.register(
            "entity_state",
            "1 for the state each entity is in (up, degraded, down, unknown), 0 for the others",
            m.entity_state.clone(),
        );
        r.register(
            "entity_state_since_timestamp_seconds",
            "Since when each entity has been in its state",
            m.entity_since.clone(),
        );
        r.register(
            "prefix_visibility_ratio",
            "Share of full-feed BGP peers that see each watched prefix",
            m.prefix_visibility.clone(),
        );
        r.register(
            "prefix_seen_by_peers",
            "Full-feed BGP peers that see each watched prefix",
            m.prefix_seen_by.clone(),
        );
        r.register(
            "prefix_full_feed_peers",
            "Full-feed BGP peers in all (the denominator of the visibility)",
            m.prefix_full_feed_peers.clone(),
        );
        r.register(
            "prefix_upstream_paths",
            "Peers whose path to each watched prefix goes through each upstream",
            m.prefix_upstream_paths.clone(),
        );
        r.register(
            "upstream_visibility_ratio",
            "Share of full-feed peers whose paths to the network go through each upstream",
            m.upstream_visibility.clone(),
        );
        r.register(
            "upstream_state",
            "1 for the state each upstream is in, 0 for the others",
            m.upstream_state.clone(),
        );
        r.register(
            "probe_ok",
            "1 if the latest run of each probe check passed, 0 if it failed",
            m.probe_ok.clone(),
        );
        r.register(
            "probe_loss_ratio",
            "Loss ratio of the latest run of each probe check",
            m.probe_loss.clone(),
        );
        r.register(
            "probe_rtt_seconds",
            "Round-trip time of the latest run of each probe check",
            m.probe_rtt.clone(),
        );
        r.register(
            "probe_last_run_timestamp_seconds",
            "When each probe check last ran",
            m.probe_at.clone(),
        );
        r.register(
            "feed_state",
            "1 for the state each feed is in (as the feed reports it), 0 for the others",
            m.feed_state.clone(),
        );
        r.register(
            "feed_last_message_timestamp_seconds",
            "When each feed last delivered a message",
            m.feed_last_message.clone(),
        );
        r.register(
            "feed_age_seconds",
            "Age of each feed's last message when the status was taken",
            m.feed_age.clone(),
        );
        r.register(
            "feed_message_rate",
            "Messages per second on each feed",
            m.feed_rate.clone(),
        );
        r.register(
            "feed_no_usable_routes",
            "1 when a feed delivers messages but no route blackout can use (the status says why)",
            m.feed_no_usable_routes.clone(),
        );
        r.register(
            "bmp_peers",
            "Peers each BMP router monitors, up and down",
            m.bmp_peers.clone(),
        );
        r.register(
            "bmp_peer_up",
            "1 while a BMP router's monitored peer is up, 0 after its Peer Down",
            m.bmp_peer_up.clone(),
        );
        r.register(
            "bmp_peer_routes",
            "Watched routes a BMP router's monitored peer holds, per family",
            m.bmp_peer_routes.clone(),
        );
        r.register(
            "bmp_peer_table_routes",
            "Routes a BMP router counts for a monitored peer (its Statistics Reports), per family",
            m.bmp_peer_table_routes.clone(),
        );
        r.register(
            "status_generated_timestamp_seconds",
            "When the status snapshot behind these metrics was taken",
            m.status_generated.clone(),
        );
        r.register(
            "alerts_delivered",
            "Alerts delivered, per channel",
            m.alerts_delivered.clone(),
        );
        r.register(
            "alerts_failed",
            "Alert deliveries that failed, per channel",
            m.alerts_failed.clone(),
        );
        r.register(
            "alerts_dropped",
            "Alerts dropped before delivery because the delivery queue was full",
            m.alerts_dropped.clone(),
        );
        r.register(
            "http_requests",
            "HTTP requests answered, per status code",
            m.http_requests.clone(),
        );
        r.register(
            "stream_clients",
            "Clients connected to the live stream",
            m.stream_clients.clone(),
        );
        metrics.registry = registry;
        metrics
    }

    /// Rewrites every gauge from a status snapshot.
    pub fn update_from(&self, status: &Status) {
        let _write = self
            .consistency
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for family in [
            &self.entity_state,
            &self.prefix_seen_by,
            &self.prefix_full_feed_peers,
            &self.prefix_upstream_paths,
            &self.upstream_state,
            &self.probe_ok,
            &self.feed_state,
            &self.feed_no_usable_routes,
            &self.bmp_peers,
            &self.bmp_peer_up,
            &self.bmp_peer_routes,
            &self.bmp_peer_table_routes,
        ] {
            family.clear();
        }
        for family in [
            &self.entity_since,
            &self.prefix_visibility,
            &self.upstream_visibility,
            &self.probe_loss,
            &self.probe_rtt,
            &self.probe_at,
            &self.feed_last_message,
            &self.feed_age,
            &self.feed_rate,
        ] {
            family.clear();
        }

        self.status_generated.set(status.generated_at.as_secs_f64());
        let entities = std::iter::once(&status.network)
            .chain(std::iter::once(&status.vantage))
            .chain(status.entities.iter())
            .filter(|e| !e.entity.is_empty());
        for entity in entities {
            self.entity(entity);
        }
        for prefix in &status.prefixes {
            let labels = vec![("prefix", prefix.prefix.clone())];
            self.prefix_visibility
                .get_or_create(&labels)
                .set(prefix.visibility);
            self.prefix_seen_by
                .get_or_create(&labels)
                .set(i64::from(prefix.seen_by));
            self.prefix_full_feed_peers
                .get_or_create(&labels)
                .set(i64::from(prefix.full_feed_peers));
            for (upstream, paths) in &prefix.upstreams {
                self.prefix_upstream_paths
                    .get_or_create(&vec![
                        ("prefix", prefix.prefix.clone()),
                        ("upstream", upstream.clone()),
                    ])
                    .set(i64::from(*paths));
            }
        }
        for upstream in &status.upstreams {
            let labels = vec![
                ("asn", upstream.asn.to_string()),
                ("name", upstream.name.clone()),
            ];
            self.upstream_visibility
                .get_or_create(&labels)
                .set(upstream.visibility);
            for state in EntityState::ALL {
                let mut labels = labels.clone();
                labels.push(("state", state.as_str().to_string()));
                self.upstream_state
                    .get_or_create(&labels)
                    .set(i64::from(state == upstream.state));
            }
        }
        for probe in &status.probes {
            let labels = vec![
                ("vantage", probe.vantage.clone()),
                ("target", probe.target.clone()),
                ("check", probe.check.clone()),
                ("kind", probe.kind.clone()),
            ];
            self.probe_ok
                .get_or_create(&labels)
                .set(i64::from(probe.ok));
            self.probe_at
                .get_or_create(&labels)
                .set(probe.at.as_secs_f64());
            if let Some(loss) = probe.loss {
                self.probe_loss.get_or_create(&labels).set(loss);
            }
            if let Some(rtt) = probe.rtt_ms {
                self.probe_rtt.get_or_create(&labels).set(rtt / 1000.0);
            }
        }
        for feed in &status.feeds {
            let labels = vec![("feed", feed.name.clone())];
            // The feed's own state, plus the usual three so that an alert rule on
            // `state="up"` sees a 0 rather than no series when the feed is down.
            let mut states = vec!["up", "stale", "down"];
            if !states.contains(&feed.state.as_str()) {
                states.push(feed.state.as_str());
            }
            for state in states {
                let mut labels = labels.clone();
                labels.push(("state", state.to_string()));
                self.feed_state
                    .get_or_create(&labels)
                    .set(i64::from(state == feed.state));
            }
            if let Some(last) = feed.last_message {
                self.feed_last_message
                    .get_or_create(&labels)
                    .set(last.as_secs_f64());
                self.feed_age
                    .get_or_create(&labels)
                    .set(status.generated_at.secs_since(last).max(0.0));
            }
            if let Some(rate) = feed.rate {
                self.feed_rate.get_or_create(&labels).set(rate);
            }
            self.feed_no_usable_routes
                .get_or_create(&labels)
                .set(i64::from(feed.why_no_routes.is_some()));
            self.bmp_router(feed);
        }
    }

    /// A BMP feed's router: its peers, counted, and the first of them one by one.
    fn bmp_router(&self, feed: &FeedStatus) {
        let Some(router) = &feed.router else {
            return;
        };
        let name = || ("feed", feed.name.clone());
        for (state, count) in [
            ("up", router.peers_up),
            ("down", router.peers_total.saturating_sub(router.peers_up)),
        ] {
            self.bmp_peers
                .get_or_create(&vec![name(), ("state", state.to_string())])
                .set(i64::from(count));
        }
        for peer in router.peers.iter().take(MAX_PEERS_PER_FEED) {
            let labels = peer_labels(feed, peer);
            self.bmp_peer_up
                .get_or_create(&labels)
                .set(i64::from(peer.state == "up"));
            for (family, routes, table) in [
                ("ipv4", peer.routes_ipv4, peer.table_ipv4),
                ("ipv6", peer.routes_ipv6, peer.table_ipv6),
            ] {
                let mut labels = labels.clone();
                labels.push(("family", family.to_string()));
                self.bmp_peer_routes
                    .get_or_create(&labels)
                    .set(i64::from(routes));
                if let Some(table) = table {
                    self.bmp_peer_table_routes
                        .get_or_create(&labels)
                        .set(i64::try_from(table).unwrap_or(i64::MAX));
                }
            }
        }
    }

    fn entity(&self, entity: &EntityStatus) {
        for state in EntityState::ALL {
            self.entity_state
                .get_or_create(&vec![
                    ("entity", entity.entity.clone()),
                    ("state", state.as_str().to_string()),
                ])
                .set(i64::from(state == entity.state));
        }
        if let Some(since) = entity.since {
            self.entity_since
                .get_or_create(&vec![("entity", entity.entity.clone())])
                .set(since.as_secs_f64());
        }
    }

    /// Counts an alert delivered on `channel` (`webhook`, `email`, ...).
    pub fn alert_delivered(&self, channel: &str) {
        self.alerts_delivered
            .get_or_create(&vec![("channel", channel.to_string())])
            .inc();
    }

    /// Counts an alert delivery on `channel` that failed.
    pub fn alert_failed(&self, channel: &str) {
        self.alerts_failed
            .get_or_create(&vec![("channel", channel.to_string())])
            .inc();
    }

    /// Counts an alert dropped before delivery (the queue to the deliverer was full).
    pub fn alert_dropped(&self) {
        self.alerts_dropped.inc();
    }

    /// Counts an HTTP response.
    pub(crate) fn http_response(&self, status: u16) {
        self.http_requests
            .get_or_create(&vec![("code", status.to_string())])
            .inc();
    }

    /// A live-stream client connected (+1) or left (-1).
    pub(crate) fn stream_clients_add(&self, delta: i64) {
        self.stream_clients.inc_by(delta);
    }

    /// Everything, in Prometheus' text exposition format (0.0.4), which Prometheus
    /// scrapes and `promtool check metrics` lints.
    pub fn encode(&self) -> String {
        prometheus_text(&self.encode_openmetrics())
    }

    /// Everything, in the OpenMetrics text format that the registry writes.
    fn encode_openmetrics(&self) -> String {
        let _read = self
            .consistency
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut text = String::new();
        // Writing into a String cannot fail; an encoder error would be a bug in a
        // metric's own encoding, and an empty scrape says so more safely than a panic.
        if encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}

/// OpenMetrics text made Prometheus' text format: a counter family's help and type
/// name its samples (`x_total`, where OpenMetrics names the family `x`), and the
/// `# UNIT` and `# EOF` lines, which that format lacks, are left out. Without this,
/// `promtool check metrics` finds no help text for any counter.
fn prometheus_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|head| {
            let rest = line.strip_prefix(head)?;
            let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            counters
                .contains(name)
                .then(|| format!("{head}{name}_total {tail}"))
        });
        match renamed {
            Some(line) => out.push_str(line.trim_end()),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// A monitored peer's labels: numbers and addresses only, never the router's text.
fn peer_labels(feed: &FeedStatus, peer: &BmpPeerStatus) -> Labels {
    vec![
        ("feed", feed.name.clone()),
        ("peer", peer.address.clone()),
        ("asn", peer.asn.to_string()),
        ("type", peer.peer_type.clone()),
        ("rd", peer.distinguisher.clone().unwrap_or_default()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{
        BmpPeerStatus, FeedStatus, PrefixStatus, ProbeStatus, RouterStatus, UpstreamStatus,
    };
    use blackout_model::Timestamp;

    #[test]
    fn a_status_becomes_gauges_and_stale_series_go() {
        let metrics = Metrics::new();
        let mut status = Status {
            generated_at: Timestamp::from_secs(1000),
            network: EntityStatus {
                entity: "country:KP".into(),
                state: EntityState::Down,
                ..EntityStatus::default()
            },
            upstreams: vec![UpstreamStatus {
                asn: 4837,
                name: "China \"Unicom\"".into(),
                visibility: 0.75,
                state: EntityState::Up,
            }],
            prefixes: vec![PrefixStatus {
                prefix: "175.45.176.0/24".into(),
                visibility: 0.5,
                seen_by: 10,
                full_feed_peers: 20,
                ..PrefixStatus::default()
            }],
            probes: vec![ProbeStatus {
                target: "kcna.kp".into(),
                check: "web".into(),
                kind: "probe.http".into(),
                ok: true,
                rtt_ms: Some(250.0),
                loss: Some(0.0),
                ..ProbeStatus::default()
            }],
            feeds: vec![FeedStatus {
                name: "bmp:198.51.100.1".into(),
                state: "up".into(),
                last_message: Some(Timestamp::from_secs(990)),
                rate: Some(3.5),
                detail: String::new(),
                why_no_routes: None,
                router: Some(RouterStatus {
                    sys_name: Some("core1\" {evil=\"1\"}".into()),
                    // A route reflector's worth of peers: series for the first few.
                    peers: (0..40u8)
                        .map(|i| BmpPeerStatus {
                            address: format!("192.0.2.{i}"),
                            asn: 64496,
                            peer_type: "global".into(),
                            state: if i == 0 { "down" } else { "up" }.into(),
                            routes_ipv4: u32::from(i),
                            table_ipv6: Some(200_000),
                            ..BmpPeerStatus::default()
                        })
                        .collect(),
                    peers_total: 300,
                    peers_up: 299,
                    ..RouterStatus::default()
                }),
            }],
            ..Status::default()
        };
        metrics.update_from(&status);
        metrics.alert_delivered("webhook");
        metrics.alert_delivered("webhook");
        metrics.alert_failed("email");
        let text = metrics.encode();
        for line in [
            "blackout_entity_state{entity=\"country:KP\",state=\"down\"} 1",
            "blackout_entity_state{entity=\"country:KP\",state=\"up\"} 0",
            "blackout_upstream_visibility_ratio{asn=\"4837\",name=\"China \\\"Unicom\\\"\"} 0.75",
            "blackout_prefix_visibility_ratio{prefix=\"175.45.176.0/24\"} 0.5",
            "blackout_probe_rtt_seconds{vantage=\"\",target=\"kcna.kp\",check=\"web\",kind=\"probe.http\"} 0.25",
            "blackout_feed_age_seconds{feed=\"bmp:198.51.100.1\"} 10.0",
            "blackout_feed_state{feed=\"bmp:198.51.100.1\",state=\"up\"} 1",
            "blackout_alerts_delivered_total{channel=\"webhook\"} 2",
            "blackout_alerts_failed_total{channel=\"email\"} 1",
            "blackout_feed_no_usable_routes{feed=\"bmp:198.51.100.1\"} 0",
            "blackout_bmp_peers{feed=\"bmp:198.51.100.1\",state=\"down\"} 1",
            "blackout_bmp_peers{feed=\"bmp:198.51.100.1\",state=\"up\"} 299",
            "blackout_bmp_peer_up{feed=\"bmp:198.51.100.1\",peer=\"192.0.2.0\",asn=\"64496\",type=\"global\",rd=\"\"} 0",
            "blackout_bmp_peer_routes{feed=\"bmp:198.51.100.1\",peer=\"192.0.2.7\",asn=\"64496\",type=\"global\",rd=\"\",family=\"ipv4\"} 7",
            "blackout_bmp_peer_table_routes{feed=\"bmp:198.51.100.1\",peer=\"192.0.2.7\",asn=\"64496\",type=\"global\",rd=\"\",family=\"ipv6\"} 200000",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        // Series for MAX_PEERS_PER_FEED peers only, and no text of the router's.
        assert_eq!(
            text.matches("blackout_bmp_peer_up{").count(),
            MAX_PEERS_PER_FEED
        );
        assert!(!text.contains("192.0.2.35"));
        assert!(!text.contains("evil"));
        assert!(!text.contains("# EOF"));
        assert!(text.contains("# HELP blackout_alerts_delivered_total "));
        assert!(text.contains("# TYPE blackout_alerts_delivered_total counter\n"));

        status.feeds.clear();
        metrics.update_from(&status);
        let text = metrics.encode();
        assert!(!text.contains("bmp:198.51.100.1"), "{text}");
        assert!(text.contains("blackout_alerts_delivered_total{channel=\"webhook\"} 2"));
    }
}
