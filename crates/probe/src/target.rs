//! What to probe: [`Target`]s built from a profile ([`targets_from_profile`]) or
//! parsed from the command line ([`Target::parse`]).
//!
//! The command-line syntax is `[KIND:]HOST[:PORT]`:
//!
//! | written | probes |
//! |---|---|
//! | `127.0.0.1`, `icmp:host` | ICMP echo |
//! | `tcp:127.0.0.1:80`, `tcp:[::1]:22` | TCP connect |
//! | `http:host[:port]`, `https:host[:port]`, `http://host:port/path` | HTTP(S) GET |
//! | `smtp:host[:port]` | SMTP banner and EHLO (port 25 by default) |
//! | `dns:ZONE@SERVER[:PORT]` | the zone's SOA, NS and A, asked of SERVER |
//! | `trace:host`, `trace-udp:host` | Paris traceroute (ICMP or UDP) |

use blackout_model::{ProbeKind, ProbeRole};
use blackout_profile::{Check, Profile};
use std::fmt;
use std::net::IpAddr;

/// How a traceroute's probes are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TraceMode {
    /// ICMP echo requests with a constant identifier and checksum.
    Icmp,
    /// UDP datagrams with constant ports and checksum.
    Udp,
}

/// One check on one target.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CheckSpec {
    /// ICMP echo.
    Icmp,
    /// TCP connect.
    Tcp(u16),
    /// HTTP(S) GET.
    Http {
        /// Port.
        port: u16,
        /// HTTPS?
        tls: bool,
        /// Path (with query) to get.
        path: String,
    },
    /// SMTP banner and EHLO.
    Smtp(u16),
    /// Queries about `zone` to the target, an authoritative server.
    Dns {
        /// The zone.
        zone: String,
        /// The server's port.
        port: u16,
        /// Ask the apex's AAAA records too (a server reached over IPv6, or a
        /// dual-stack profile, whose IPv6 users need them).
        aaaa: bool,
    },
    /// Paris traceroute.
    Trace(TraceMode),
}

impl CheckSpec {
    /// The kind of probe this check makes.
    pub fn kind(&self) -> ProbeKind {
        match self {
            CheckSpec::Icmp => ProbeKind::Icmp,
            CheckSpec::Tcp(_) => ProbeKind::Tcp,
            CheckSpec::Http { .. } => ProbeKind::Http,
            CheckSpec::Smtp(_) => ProbeKind::Smtp,
            CheckSpec::Dns { .. } => ProbeKind::Dns,
            CheckSpec::Trace(_) => ProbeKind::Trace,
        }
    }

    fn from_profile(check: &Check) -> CheckSpec {
        match check {
            Check::Icmp => CheckSpec::Icmp,
            Check::Tcp(port) => CheckSpec::Tcp(*port),
            Check::Http { port, tls } => CheckSpec::Http {
                port: *port,
                tls: *tls,
                path: "/".to_string(),
            },
            Check::Smtp(port) => CheckSpec::Smtp(*port),
            Check::Trace => CheckSpec::Trace(TraceMode::Icmp),
        }
    }
}

impl fmt::Display for CheckSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckSpec::Icmp => f.write_str("icmp"),
            CheckSpec::Tcp(port) => write!(f, "tcp:{port}"),
            CheckSpec::Http { port, tls, path } => {
                write!(f, "{}:{port}", if *tls { "https" } else { "http" })?;
                if path != "/" {
                    f.write_str(path)?;
                }
                Ok(())
            }
            CheckSpec::Smtp(port) => write!(f, "smtp:{port}"),
            CheckSpec::Dns { zone, port, .. } => {
                write!(f, "dns:{zone}")?;
                if *port != 53 {
                    write!(f, ":{port}")?;
                }
                Ok(())
            }
            CheckSpec::Trace(TraceMode::Icmp) => f.write_str("trace"),
            CheckSpec::Trace(TraceMode::Udp) => f.write_str("trace-udp"),
        }
    }
}

/// Where a target's address comes from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Address {
    /// A fixed address.
    Fixed(IpAddr),
    /// Resolve the name with the system resolver when probing.
    Resolve,
    /// Look up the MX records of the name (a mail domain), then resolve the first
    /// exchange.
    Mx,
}

/// One check on one host.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    /// The host's name (or the address literal).
    pub name: String,
    /// Where its address comes from.
    pub address: Address,
    /// The check.
    pub check: CheckSpec,
    /// What it is in the profile.
    pub role: ProbeRole,
}

/// A command-line target that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{input}` is not a target: {reason} (use e.g. 127.0.0.1, tcp:127.0.0.1:80, http:host:8080, https:host, smtp:host:2525, dns:zone@127.0.0.1:5353, trace:host, trace-udp:host)"
)]
pub struct TargetError {
    /// What was given.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Target {
    /// A target with a fixed address or a name to resolve, decided by the name.
    pub fn new(name: &str, check: CheckSpec, role: ProbeRole) -> Target {
        let address = match name.parse::<IpAddr>() {
            Ok(ip) => Address::Fixed(ip),
            Err(_) => Address::Resolve,
        };
        Target {
            name: name.to_string(),
            address,
            check,
            role,
        }
    }

    /// Parses the command-line syntax described in the module docs.
    pub fn parse(input: &str) -> Result<Target, TargetError> {
        let fail = |reason: &str| TargetError {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        // URLs first: their `//` would confuse the KIND: split.
        for (scheme, tls) in [("http://", false), ("https://", true)] {
            if let Some(rest) = input.strip_prefix(scheme) {
                let (authority, path) = match rest.find('/') {
                    Some(at) => (&rest[..at], &rest[at..]),
                    None => (rest, "/"),
                };
                let (host, port) = split_host_port(authority).map_err(|r| fail(&r))?;
                let port = port.unwrap_or(if tls { 443 } else { 80 });
                return Ok(Target::new(
                    &host,
                    CheckSpec::Http {
                        port,
                        tls,
                        path: path.to_string(),
                    },
                    ProbeRole::Cli,
                ));
            }
        }
        let (kind, rest) = match input.split_once(':') {
            Some((kind, rest))
                if matches!(
                    kind,
                    "icmp" | "tcp" | "http" | "https" | "smtp" | "dns" | "trace" | "trace-udp"
                ) =>
            {
                (kind, rest)
            }
            _ => ("icmp", input),
        };
        if kind == "dns" {
            let (zone, server) = rest
                .split_once('@')
                .ok_or_else(|| fail("a DNS target is dns:ZONE@SERVER[:PORT]"))?;
            if zone.is_empty() {
                return Err(fail("the zone is empty"));
            }
            let (host, port) = split_host_port(server).map_err(|r| fail(&r))?;
            return Ok(Target::new(
                &host,
                CheckSpec::Dns {
                    zone: zone.trim_end_matches('.').to_string(),
                    port: port.unwrap_or(53),
                    aaaa: host.parse::<IpAddr>().is_ok_and(|ip| ip.is_ipv6()),
                },
                ProbeRole::Cli,
            ));
        }
        let (host, port) = split_host_port(rest).map_err(|r| fail(&r))?;
        let check = match (kind, port) {
            ("icmp", None) => CheckSpec::Icmp,
            ("trace", None) => CheckSpec::Trace(TraceMode::Icmp),
            ("trace-udp", None) => CheckSpec::Trace(TraceMode::Udp),
            ("icmp" | "trace" | "trace-udp", Some(_)) => {
                return Err(fail("ICMP and traceroute targets take no port"));
            }
            ("tcp", Some(port)) => CheckSpec::Tcp(port),
            ("tcp", None) => return Err(fail("a TCP target needs a port: tcp:HOST:PORT")),
            ("http", port) => CheckSpec::Http {
                port: port.unwrap_or(80),
                tls: false,
                path: "/".to_string(),
            },
            ("https", port) => CheckSpec::Http {
                port: port.unwrap_or(443),
                tls: true,
                path: "/".to_string(),
            },
            (_, port) => CheckSpec::Smtp(port.unwrap_or(25)),
        };
        Ok(Target::new(&host, check, ProbeRole::Cli))
    }

    /// The check as shown in output: `tcp:80`, `dns:kp`.
    pub fn check_label(&self) -> String {
        self.check.to_string()
    }
}

/// Splits `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 literal.
fn split_host_port(text: &str) -> Result<(String, Option<u16>), String> {
    if text.is_empty() {
        return Err("the host is empty".to_string());
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| "an IPv6 address in brackets lacks its `]`".to_string())?;
        let port = match after {
            "" => None,
            _ => {
                Some(parse_port(after.strip_prefix(':').ok_or_else(|| {
                    format!("`{after}` after `]` is not :PORT")
                })?)?)
            }
        };
        return Ok((host.to_string(), port));
    }
    if text.parse::<std::net::Ipv6Addr>().is_ok() {
        return Ok((text.to_string(), None));
    }
    match text.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() => Ok((host.to_string(), Some(parse_port(port)?))),
        Some(_) => Err("the host is empty".to_string()),
        None => Ok((text.to_string(), None)),
    }
}

fn parse_port(text: &str) -> Result<u16, String> {
    text.parse::<u16>()
        .ok()
        .filter(|port| *port != 0)
        .ok_or_else(|| format!("`{text}` is not a port (1-65535)"))
}

/// Every target a profile names: its hosts' checks, each zone asked of each of its
/// authoritative servers, its mail servers, and its controls' checks.
pub fn targets_from_profile(profile: &Profile) -> Vec<Target> {
    let mut targets = Vec::new();
    for (hosts, role) in [
        (&profile.hosts, ProbeRole::Host),
        (&profile.controls, ProbeRole::Control),
    ] {
        for host in hosts {
            for check in &host.checks {
                let mut target = Target::new(&host.name, CheckSpec::from_profile(check), role);
                if let Some(address) = host.address {
                    target.address = Address::Fixed(address);
                }
                targets.push(target);
            }
        }
    }
    // A dual-stack profile asks every zone server for the apex's AAAA records too.
    let dual_stack = profile
        .watched_prefixes()
        .iter()
        .any(|p| matches!(p, ipnet::IpNet::V6(_)))
        || profile
            .hosts
            .iter()
            .any(|h| h.address.is_some_and(|a| a.is_ipv6()));
    for zone in &profile.zones {
        for server in &zone.servers {
            let mut target = Target::new(
                &server.name,
                CheckSpec::Dns {
                    zone: zone.name.clone(),
                    port: 53,
                    aaaa: dual_stack || server.address.is_some_and(|a| a.is_ipv6()),
                },
                ProbeRole::Zone,
            );
            if let Some(address) = server.address {
                target.address = Address::Fixed(address);
            }
            targets.push(target);
        }
    }
    for mail in &profile.mail {
        let check = CheckSpec::Smtp(mail.port);
        let target = match (&mail.host, &mail.domain, mail.address) {
            (Some(host), _, Some(address)) => Target {
                name: host.clone(),
                address: Address::Fixed(address),
                check,
                role: ProbeRole::Mail,
            },
            (Some(host), _, None) => Target::new(host, check, ProbeRole::Mail),
            (None, Some(domain), _) => Target {
                name: domain.clone(),
                address: Address::Mx,
                check,
                role: ProbeRole::Mail,
            },
            (None, None, Some(address)) => {
                Target::new(&address.to_string(), check, ProbeRole::Mail)
            }
            (None, None, None) => continue,
        };
        targets.push(target);
    }
    targets
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Target {
        Target::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn command_line_syntax() {
        assert_eq!(parse("127.0.0.1").check, CheckSpec::Icmp);
        assert_eq!(
            parse("127.0.0.1").address,
            Address::Fixed("127.0.0.1".parse().unwrap())
        );
        assert_eq!(parse("::1").check, CheckSpec::Icmp);
        assert_eq!(parse("tcp:127.0.0.1:80").check, CheckSpec::Tcp(80));
        assert_eq!(parse("tcp:[::1]:22").name, "::1");
        let http = parse("http://127.0.0.2:8080/index.html");
        assert_eq!(
            http.check,
            CheckSpec::Http {
                port: 8080,
                tls: false,
                path: "/index.html".into()
            }
        );
        assert_eq!(parse("https:example.org").check.to_string(), "https:443");
        assert_eq!(parse("smtp:127.0.0.1").check, CheckSpec::Smtp(25));
        let dns = parse("dns:lab.example.@127.0.0.1:5353");
        assert_eq!(dns.name, "127.0.0.1");
        assert_eq!(
            dns.check,
            CheckSpec::Dns {
                zone: "lab.example".into(),
                port: 5353,
                aaaa: false,
            }
        );
        assert_eq!(parse("kcna.kp").address, Address::Resolve);
        assert_eq!(
            parse("trace-udp:198.51.100.1").check,
            CheckSpec::Trace(TraceMode::Udp)
        );
        for bad in [
            "tcp:127.0.0.1",
            "tcp:host:0",
            "dns:kp",
            "icmp:host:80",
            "tcp:[::1",
            "",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn profile_targets() {
        let profile = blackout_profile::builtin("lab").unwrap();
        let targets = targets_from_profile(&profile);
        assert!(targets.iter().any(|t| t.name == "www.lab.example"
            && t.check == CheckSpec::Trace(TraceMode::Icmp)
            && t.address == Address::Fixed("203.0.113.11".parse().unwrap())));
        // Both name servers, each on both families.
        assert_eq!(
            targets.iter().filter(|t| t.role == ProbeRole::Zone).count(),
            4
        );
        assert!(
            targets
                .iter()
                .any(|t| t.role == ProbeRole::Mail && t.check == CheckSpec::Smtp(25))
        );
        assert!(targets.iter().any(|t| t.role == ProbeRole::Control));
        let kp = targets_from_profile(&blackout_profile::builtin("kp").unwrap());
        assert!(
            kp.iter()
                .any(|t| t.name == "star-co.net.kp" && t.address == Address::Mx)
        );
        assert!(
            kp.iter()
                .all(|t| t.role != ProbeRole::Host || t.address == Address::Resolve)
        );
        // The dual-stack lab asks every zone server for the apex's AAAA records
        // too; the IPv4-only kp profile asks only those of its servers it
        // reaches over IPv6 (none).
        let aaaa = |targets: &[Target]| -> Vec<bool> {
            targets
                .iter()
                .filter_map(|t| match t.check {
                    CheckSpec::Dns { aaaa, .. } => Some(aaaa),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(aaaa(&targets), vec![true; 4]);
        assert!(!aaaa(&kp).is_empty() && aaaa(&kp).iter().all(|asked| !asked));
        let over_v6 = Target::parse("dns:lab.example@[::1]:5353").unwrap();
        assert!(matches!(over_v6.check, CheckSpec::Dns { aaaa: true, .. }));
    }
}
