//! What the detector watches, and its thresholds, taken from a profile.

use blackout_model::{Asn, Family};
use blackout_profile::{ProbeSettings, Profile, Thresholds};
use std::collections::{BTreeMap, BTreeSet};

/// The detector's view of a profile (the networks themselves, their prefixes and
/// entities are the BGP state's).
#[derive(Clone, Debug, PartialEq)]
pub struct DetectorConfig {
    /// What to call the whole watched network in a sentence (`North Korea`), for
    /// verdicts about the vantage point.
    pub network_name: String,
    /// The upstreams expected now (primary and backup), with their names.
    pub upstreams: Vec<(Asn, String)>,
    /// Every upstream the profile names (expected or historical).
    pub known_upstreams: BTreeSet<Asn>,
    /// Names of the upstreams the profile knows, historical ones included.
    pub upstream_names: BTreeMap<Asn, String>,
    /// The thresholds.
    pub thresholds: Thresholds,
    /// How the checks are probed: after the network or a vantage point comes back,
    /// checks need a round or two to say so.
    pub probes: ProbeSettings,
    /// The network (by its entity's text) each probed target belongs to, when the
    /// profile has several; a target not listed belongs to the first network.
    pub target_networks: BTreeMap<String, String>,
    /// The family each named host is probed over (its address in the profile);
    /// a target that is an address is its own.
    pub host_families: BTreeMap<String, Family>,
}

impl DetectorConfig {
    /// The configuration for a profile.
    pub fn from_profile(profile: &Profile) -> Self {
        let network_name = match (&profile.label, &profile.country, profile.networks.first()) {
            (Some(label), ..) => label.clone(),
            (None, Some(country), _) => country.clone(),
            (None, None, Some(network)) => format!("{} ({})", network.name, network.asn),
            (None, None, None) => profile.name.clone(),
        };
        let mut target_networks = BTreeMap::new();
        if profile.networks.len() > 1 {
            for host in &profile.hosts {
                let Some(address) = host.address else {
                    continue;
                };
                if let Some(network) = profile.networks.iter().find(|n| {
                    n.prefixes
                        .iter()
                        .chain(&n.aggregates)
                        .any(|p| p.contains(&address))
                }) {
                    target_networks.insert(host.name.clone(), format!("as:{}", network.asn.0));
                }
            }
        }
        DetectorConfig {
            network_name,
            upstreams: profile
                .upstreams
                .iter()
                .filter(|u| u.is_expected())
                .map(|u| (u.asn, u.name.clone()))
                .collect(),
            known_upstreams: profile.upstreams.iter().map(|u| u.asn).collect(),
            upstream_names: profile
                .upstreams
                .iter()
                .map(|u| (u.asn, u.name.clone()))
                .collect(),
            thresholds: profile.thresholds.clone(),
            probes: profile.probes.clone(),
            target_networks,
            host_families: profile
                .hosts
                .iter()
                .filter_map(|h| Some((h.name.clone(), Family::of_addr(&h.address?))))
                .collect(),
        }
    }

    /// The family a check goes over: its target's own address, or the address the
    /// profile gives the host; None for a name the profile gives no address.
    pub fn target_family(&self, target: &str) -> Option<Family> {
        // DNS targets are `zone@server`; addresses may be bracketed.
        let host = target.rsplit('@').next().unwrap_or(target);
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        match bare.parse::<std::net::IpAddr>() {
            Ok(address) => Some(Family::of_addr(&address)),
            Err(_) => self.host_families.get(bare).copied(),
        }
    }

    /// The name of an upstream, or its number.
    pub fn upstream_label(&self, asn: Asn) -> String {
        self.upstream_names
            .get(&asn)
            .map(|name| format!("{asn} {name}"))
            .unwrap_or_else(|| asn.to_string())
    }
}
