//! Whether this vantage point has a route to an address at all, asked of the kernel
//! without sending a packet (a UDP socket's `connect` only looks the route up).
//!
//! Many vantage points have no IPv6 route. Probing an IPv6 target from one fails in
//! the kernel, which says nothing about the target: the [`Prober`](crate::Prober)
//! asks [`RouteLookup`] first, reports such a probe as our own problem
//! ([`Outcome::Error`](crate::Outcome::Error), which no verdict is drawn from) and
//! logs it once. A control target is the exception: the vantage point judges itself by
//! its controls, and one it cannot reach (its uplinks down) fails as itself.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

/// Does the vantage point have a route to an address? The edge the prober asks
/// before it probes an IPv6 target; tests put a table of their own in its place.
pub trait RouteLookup: Send + Sync {
    /// True when the kernel would send a packet to `to` somewhere.
    fn has_route(&self, to: IpAddr) -> bool;
}

/// The kernel's routing table, asked through a UDP socket's `connect`.
#[derive(Clone, Copy, Debug, Default)]
pub struct KernelRoutes;

impl RouteLookup for KernelRoutes {
    fn has_route(&self, to: IpAddr) -> bool {
        let bind: SocketAddr = match to {
            IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let Ok(socket) = UdpSocket::bind(bind) else {
            // No socket of that family at all (IPv6 disabled): no route either.
            return false;
        };
        match socket.connect((to, 9)) {
            Ok(()) => true,
            // ENETUNREACH and EHOSTUNREACH: the kernel has no route; EADDRNOTAVAIL:
            // no address of ours to send from (no IPv6 address at all). Any other
            // error is not about routes, and the probe itself will tell.
            Err(error) => !matches!(error.raw_os_error(), Some(99 | 101 | 113)),
        }
    }
}

/// What a probe of an IPv6 target from a vantage point without an IPv6 route says.
pub fn no_ipv6_route(to: IpAddr) -> String {
    format!("this vantage point has no IPv6 route (to {to}): IPv6 targets are not judged from here")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_has_a_route() {
        assert!(KernelRoutes.has_route(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    }
}
