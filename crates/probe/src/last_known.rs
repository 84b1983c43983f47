//! The last address each name resolved to.
//!
//! Many watched hosts are known by name only (the `kp` profile resolves KCNA, Naenara
//! and the rest at run time), and their names are served by the watched network's own
//! name servers. When that network goes dark, its names stop resolving with it: a
//! probe that needs the name would end as an error that says nothing about the host,
//! and the host's outage would be invisible. So the engine remembers, per name, the
//! last address it resolved to, and when resolution fails it probes that address
//! instead, saying so in the result ([`LastKnownAddress`]).
//!
//! [`LastKnown`] is the memory itself: plain values in, plain values out; the engine
//! reads the clock and does the resolving.

use crate::result::LastKnownAddress;
use crate::target::{Address, Target};
use blackout_model::Timestamp;
use std::collections::HashMap;
use std::net::IpAddr;

/// What is resolved: a host name, or a mail domain through its MX records (the same
/// text can be both, with different answers).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct NameKey {
    pub(crate) name: String,
    pub(crate) mx: bool,
}

impl NameKey {
    /// What a target's address is resolved from (nothing is, for a fixed one).
    pub(crate) fn of(target: &Target) -> NameKey {
        NameKey {
            name: target.name.clone(),
            mx: target.address == Address::Mx,
        }
    }
}

/// Per name, the last address it resolved to and when.
#[derive(Debug, Default)]
pub(crate) struct LastKnown {
    addresses: HashMap<NameKey, (IpAddr, Timestamp)>,
}

impl LastKnown {
    /// Notes that `key` resolved to `address` at `at`; an older answer is kept if this
    /// one is older still (rounds resolve concurrently and may finish out of order).
    pub(crate) fn remember(&mut self, key: NameKey, address: IpAddr, at: Timestamp) {
        let entry = self.addresses.entry(key).or_insert((address, at));
        if at >= entry.1 {
            *entry = (address, at);
        }
    }

    /// The last address `key` resolved to, for a probe at `at` whose resolution failed
    /// with `error`; None if the name never resolved.
    pub(crate) fn recall(
        &self,
        key: &NameKey,
        at: Timestamp,
        error: &str,
    ) -> Option<(IpAddr, LastKnownAddress)> {
        self.addresses.get(key).map(|(address, resolved_at)| {
            (
                *address,
                LastKnownAddress {
                    resolved_at: *resolved_at,
                    age_secs: at.secs_since(*resolved_at).max(0.0),
                    resolve_error: error.to_string(),
                },
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, mx: bool) -> NameKey {
        NameKey {
            name: name.to_string(),
            mx,
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_name_that_never_resolved_has_no_last_address() {
        let memory = LastKnown::default();
        assert_eq!(
            memory.recall(&key("kcna.kp", false), Timestamp::from_secs(100), "x"),
            None
        );
    }

    #[test]
    fn the_latest_answer_is_recalled_with_its_age_and_the_failure() {
        let mut memory = LastKnown::default();
        memory.remember(
            key("kcna.kp", false),
            ip("203.0.113.5"),
            Timestamp::from_secs(100),
        );
        memory.remember(
            key("kcna.kp", false),
            ip("203.0.113.6"),
            Timestamp::from_secs(160),
        );
        // A slower lookup from an earlier round does not overwrite a newer answer.
        memory.remember(
            key("kcna.kp", false),
            ip("203.0.113.7"),
            Timestamp::from_secs(130),
        );
        let (address, last) = memory
            .recall(
                &key("kcna.kp", false),
                Timestamp::from_secs(460),
                "no answer from the system resolver",
            )
            .unwrap();
        assert_eq!(address, ip("203.0.113.6"));
        assert_eq!(last.resolved_at, Timestamp::from_secs(160));
        assert_eq!(last.age_secs, 300.0);
        assert_eq!(last.resolve_error, "no answer from the system resolver");
    }

    #[test]
    fn a_host_name_and_a_mail_domain_are_remembered_apart() {
        let mut memory = LastKnown::default();
        memory.remember(
            key("star.kp", true),
            ip("203.0.113.25"),
            Timestamp::from_secs(1),
        );
        assert!(
            memory
                .recall(&key("star.kp", false), Timestamp::from_secs(2), "x")
                .is_none()
        );
        assert_eq!(
            memory
                .recall(&key("star.kp", true), Timestamp::from_secs(2), "x")
                .map(|(a, _)| a),
            Some(ip("203.0.113.25"))
        );
    }
}
