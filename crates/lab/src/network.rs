//! The lab's network, made from the [`crate::Topology`]: the namespaces and
//! their sysctls (forwarding on the routers; IPv6 on everywhere, with no
//! duplicate address detection, router advertisements or autoconfiguration, so
//! addresses are usable at once and the links stay quiet, and with its addresses
//! kept while a link is down, as IPv4's are), the veth links with
//! their addresses of both families, the leaves' routes, and the management
//! bridge in the central's namespace with a port per vantage point.
//!
//! Each namespace's commands go through one `ip -batch` process, which keeps
//! `up` fast; `repair_network` (used by `heal`) does the same for the links and
//! routes that faults take away.

use crate::error::Result;
use crate::exec;
use crate::lab::Lab;
use crate::topology::{Endpoint, Leaf};
use std::collections::BTreeMap;

/// The sysctls of every namespace, and those of a router.
fn sysctls(router: bool) -> Vec<&'static str> {
    let mut out = vec![
        "-qw",
        "net.ipv4.conf.all.rp_filter=0",
        "net.ipv4.conf.default.rp_filter=0",
        "net.ipv6.conf.all.disable_ipv6=0",
        "net.ipv6.conf.default.disable_ipv6=0",
        "net.ipv6.conf.all.accept_dad=0",
        "net.ipv6.conf.default.accept_dad=0",
        "net.ipv6.conf.all.accept_ra=0",
        "net.ipv6.conf.default.accept_ra=0",
        "net.ipv6.conf.all.autoconf=0",
        "net.ipv6.conf.default.autoconf=0",
        "net.ipv6.conf.all.router_solicitations=0",
        "net.ipv6.conf.default.router_solicitations=0",
        // Linux drops an interface's IPv6 addresses when it goes down (its IPv4
        // ones stay): a cut link must come back as it was.
        "net.ipv6.conf.all.keep_addr_on_down=1",
        "net.ipv6.conf.default.keep_addr_on_down=1",
    ];
    if router {
        out.extend(["net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"]);
    }
    out
}

/// `ip` commands that give an interface its addresses and bring it up.
fn address(lines: &mut Vec<String>, ifname: &str, addrs: impl IntoIterator<Item = String>) {
    for addr in addrs {
        // Without DAD an IPv6 address is usable at once: daemons bind to it.
        let nodad = if addr.contains(':') { " nodad" } else { "" };
        lines.push(format!("addr add {addr} dev {ifname}{nodad}"));
    }
    lines.push(format!("link set {ifname} up"));
}

/// `ip route VERB` (`add`, `replace`) commands for every leaf's routes, each in
/// its namespace's batch.
fn routes<'a>(batches: &mut BTreeMap<&'a str, Vec<String>>, leaves: &'a [Leaf], verb: &str) {
    for leaf in leaves {
        batches.entry(&leaf.ns).or_default().extend(
            leaf.routes
                .iter()
                .map(|r| format!("route {verb} {} via {}", r.to, r.via)),
        );
    }
}

/// Runs each namespace's batch of `ip` commands.
fn run_batches(batches: &BTreeMap<&str, Vec<String>>) -> Result<()> {
    for (ns, lines) in batches {
        exec::ip_batch(Some(ns), lines)?;
    }
    Ok(())
}

fn end_addrs(end: &Endpoint) -> Vec<String> {
    end.addrs.iter().map(ToString::to_string).collect()
}

impl Lab {
    pub(crate) fn make_network(&self) -> Result<()> {
        let topo = &self.topo;
        let adds: Vec<String> = topo
            .namespaces
            .iter()
            .map(|n| format!("netns add {n}"))
            .collect();
        exec::ip_batch(None, &adds)?;
        for n in &topo.namespaces {
            exec::run_ns(n, "sysctl", &sysctls(topo.router(n).is_some()))?;
        }

        // Every interface is made directly inside its namespace (a veth's peer
        // straight into the far one): no interface of the lab ever appears in the
        // host's namespace.
        let central = &topo.central;
        let mut create: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        create.entry(&central.ns).or_default().push(format!(
            "link add {} type bridge stp_state 0 forward_delay 0 mcast_snooping 0",
            central.bridge
        ));
        for link in &topo.links {
            create.entry(&link.a.ns).or_default().push(format!(
                "link add {} type veth peer name {} netns {}",
                link.a.ifname, link.b.ifname, link.b.ns
            ));
        }
        for v in topo.vantages() {
            create.entry(&v.ns).or_default().push(format!(
                "link add {} type veth peer name {} netns {}",
                central.vantage_ifname,
                central.port(v),
                central.ns
            ));
        }
        // Every namespace exists by now, so the order does not matter.
        run_batches(&create)?;

        let leaves = topo.leaves();
        let mut configure: BTreeMap<&str, Vec<String>> = topo
            .namespaces
            .iter()
            .map(|n| (n.as_str(), vec!["link set lo up".to_string()]))
            .collect();
        for link in &topo.links {
            for end in [&link.a, &link.b] {
                let lines = configure.entry(&end.ns).or_default();
                address(lines, &end.ifname, end_addrs(end));
            }
        }
        let lines = configure.entry(&central.ns).or_default();
        for v in topo.vantages() {
            let port = central.port(v);
            lines.push(format!("link set {port} master {}", central.bridge));
            lines.push(format!("link set {port} up"));
        }
        address(
            lines,
            &central.bridge,
            [
                format!("{}/{}", central.addr, central.net.prefix_len()),
                format!("{}/{}", central.addr6, central.net6.prefix_len()),
            ],
        );
        for v in topo.vantages() {
            address(
                configure.entry(&v.ns).or_default(),
                &central.vantage_ifname,
                [
                    format!("{}/{}", v.mgmt, central.net.prefix_len()),
                    format!("{}/{}", v.mgmt6, central.net6.prefix_len()),
                ],
            );
        }
        routes(&mut configure, &leaves, "add");
        run_batches(&configure)
    }

    /// Puts the network back as `up` made it: every link up, and the routes of
    /// every leaf namespace, which the kernel drops while their link is down.
    pub(crate) fn repair_network(&self) -> Result<()> {
        let leaves = self.topo.leaves();
        let mut lines: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for link in &self.topo.links {
            for end in [&link.a, &link.b] {
                lines
                    .entry(&end.ns)
                    .or_default()
                    .push(format!("link set {} up", end.ifname));
            }
        }
        routes(&mut lines, &leaves, "replace");
        run_batches(&lines)
    }

    /// Takes a link between two namespaces down, or brings it back up (and with
    /// it the routes the kernel dropped).
    pub(crate) fn set_link(&self, a: &str, b: &str, up: bool) -> Result<()> {
        let state = if up { "up" } else { "down" };
        let Some((here, there)) = self.topo.link_between(a, b) else {
            return Ok(());
        };
        for end in [here, there] {
            exec::run("ip", &["-n", &end.ns, "link", "set", &end.ifname, state])?;
        }
        if up {
            self.repair_network()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_skip_dad_and_routers_forward_both_families() {
        let mut lines = Vec::new();
        address(
            &mut lines,
            "up1",
            [
                "198.51.100.5/30".to_string(),
                "2001:db8:0:1::1/64".to_string(),
            ],
        );
        assert_eq!(
            lines,
            [
                "addr add 198.51.100.5/30 dev up1",
                "addr add 2001:db8:0:1::1/64 dev up1 nodad",
                "link set up1 up"
            ]
        );
        assert!(sysctls(true).contains(&"net.ipv6.conf.all.forwarding=1"));
        assert!(!sysctls(false).iter().any(|s| s.contains("forward")));
    }
}
