//! What the detector watches, and its thresholds, taken from a profile.

use blackout_model::{Asn, Entity};
use blackout_profile::{Profile, Thresholds};
use ipnet::IpNet;

/// The detector's view of a profile.
#[derive(Clone, Debug, PartialEq)]
pub struct DetectorConfig {
    /// The entity that stands for the whole watched network (`country:KP`, or `as:N`).
    pub network: Entity,
    /// A name for people (`North Korea`, `AS64500`).
    pub network_name: String,
    /// The prefixes announced on their own.
    pub prefixes: Vec<IpNet>,
    /// The upstreams expected now (primary and backup), with their names.
    pub upstreams: Vec<(Asn, String)>,
    /// The thresholds.
    pub thresholds: Thresholds,
    /// Seconds between two probe rounds of a check: after the network or a vantage
    /// point comes back, checks need that long to say so.
    pub probe_interval_secs: f64,
}

impl DetectorConfig {
    /// The configuration for a profile.
    pub fn from_profile(profile: &Profile) -> Self {
        let (network, network_name) = match (&profile.country, profile.networks.first()) {
            (Some(country), _) => (Entity::Country(country.clone()), country.clone()),
            (None, Some(network)) => (
                Entity::As(network.asn),
                format!("{} ({})", network.name, network.asn),
            ),
            (None, None) => (Entity::Vantage("none".into()), profile.name.clone()),
        };
        let network_name = profile.label.clone().unwrap_or(network_name);
        DetectorConfig {
            network,
            network_name,
            prefixes: profile.announced_prefixes(),
            upstreams: profile
                .upstreams
                .iter()
                .filter(|u| u.is_expected())
                .map(|u| (u.asn, u.name.clone()))
                .collect(),
            thresholds: profile.thresholds.clone(),
            probe_interval_secs: profile.probes.interval_secs,
        }
    }

    /// The name of an upstream, or its number.
    pub fn upstream_label(&self, asn: Asn) -> String {
        self.upstreams
            .iter()
            .find(|(a, _)| *a == asn)
            .map(|(a, name)| format!("{a} {name}"))
            .unwrap_or_else(|| asn.to_string())
    }
}
