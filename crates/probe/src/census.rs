//! The census: sweep every address of a prefix with ICMP echo, and try the given
//! TCP ports on each, to list the hosts that answer.
//!
//! The ICMP sweep is built for speed: a few threads, each with its own socket,
//! sending in batches and draining their replies between batches without
//! blocking; a bitmap of who answered; a bound on requests in flight (so that the
//! replies never overflow a socket's buffer); a second pass for the silent
//! addresses; and an early end once every address has answered. A raw socket gets
//! a BPF filter so the kernel hands over only our own echo replies.

use crate::icmp::{IcmpAccess, IcmpMode, open_socket, packet};
use crate::result::Outcome;
use crate::tcp;
use ipnet::IpNet;
use serde::Serialize;
use socket2::SockFilter;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The default bound on an IPv4 census: a /16.
pub const DEFAULT_MAX_V4: u64 = 1 << 16;
/// The default bound on an IPv6 census: a /116 (4,096 addresses). IPv6 prefixes are
/// sparse, and a /64 swept address by address would never end.
pub const DEFAULT_MAX_V6: u64 = 1 << 12;
/// No census sweeps more than this many addresses, `force` or not (every IPv4
/// prefix fits; an IPv6 prefix shorter than a /96 does not).
pub const HARD_MAX: u64 = 1 << 32;

/// The default bound on the census of `prefix`, by its family.
pub fn default_max(prefix: &IpNet) -> u64 {
    match prefix {
        IpNet::V4(_) => DEFAULT_MAX_V4,
        IpNet::V6(_) => DEFAULT_MAX_V6,
    }
}

/// A prefix larger than the bound, without `force`, or larger than any census.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CensusError {
    /// Too many addresses.
    #[error(
        "{prefix} has {count} addresses, more than the bound of {max} (by default a /16 for IPv4, a /116 for IPv6): narrow the prefix, raise --max-addresses, or add --force"
    )]
    TooLarge {
        /// The prefix.
        prefix: IpNet,
        /// Its size (saturated at u64::MAX).
        count: u64,
        /// The bound.
        max: u64,
    },
    /// More addresses than any sweep can visit.
    #[error(
        "{prefix} has more than {HARD_MAX} addresses, which no census sweeps address by address: narrow the prefix (for IPv6, a /96 at the widest)"
    )]
    Unsweepable {
        /// The prefix.
        prefix: IpNet,
    },
}

/// The number of addresses in a prefix (saturating).
pub fn prefix_size(prefix: &IpNet) -> u64 {
    let host_bits = u32::from(prefix.max_prefix_len() - prefix.prefix_len());
    if host_bits >= 64 {
        u64::MAX
    } else {
        1u64 << host_bits
    }
}

/// Refuses a prefix larger than `max` addresses unless `force`.
pub fn check_size(prefix: &IpNet, max: u64, force: bool) -> Result<u64, CensusError> {
    let count = prefix_size(prefix);
    if count > HARD_MAX {
        return Err(CensusError::Unsweepable { prefix: *prefix });
    }
    if count > max && !force {
        return Err(CensusError::TooLarge {
            prefix: *prefix,
            count,
            max,
        });
    }
    Ok(count)
}

/// The `index`th address of a prefix.
pub fn nth_address(prefix: &IpNet, index: u64) -> IpAddr {
    match prefix.trunc() {
        IpNet::V4(net) => IpAddr::V4((u32::from(net.network()).wrapping_add(index as u32)).into()),
        IpNet::V6(net) => {
            IpAddr::V6((u128::from(net.network()).wrapping_add(u128::from(index))).into())
        }
    }
}

/// The index of `address` within `prefix`, if it is in it.
pub fn index_of(prefix: &IpNet, address: IpAddr) -> Option<u64> {
    let prefix = prefix.trunc();
    if !prefix.contains(&address) {
        return None;
    }
    match (prefix, address) {
        (IpNet::V4(net), IpAddr::V4(ip)) => {
            Some(u64::from(u32::from(ip) - u32::from(net.network())))
        }
        (IpNet::V6(net), IpAddr::V6(ip)) => {
            u64::try_from(u128::from(ip) - u128::from(net.network())).ok()
        }
        _ => None,
    }
}

/// How to sweep.
#[derive(Clone, Debug)]
pub struct CensusOptions {
    /// TCP ports to try on every address.
    pub ports: Vec<u16>,
    /// How long to wait for answers after the last request of a pass (and for each
    /// TCP connect).
    pub timeout: Duration,
    /// Passes after the first, for the addresses still silent.
    pub retries: u32,
    /// Echo requests per second (0: as fast as the window allows).
    pub rate: u32,
    /// Requests in flight at most.
    pub window: u64,
    /// TCP connects in flight at most.
    pub concurrency: usize,
    /// Threads (each with its own ICMP socket) that share the sweep.
    pub workers: usize,
}

impl Default for CensusOptions {
    fn default() -> Self {
        CensusOptions {
            ports: Vec::new(),
            timeout: Duration::from_secs(1),
            retries: 1,
            rate: 0,
            window: 2048,
            concurrency: 512,
            workers: std::thread::available_parallelism().map_or(1, |n| n.get().min(2)),
        }
    }
}

/// One host that answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CensusHost {
    /// Its address.
    pub address: IpAddr,
    /// Did it answer ICMP echo?
    pub icmp: bool,
    /// The TCP ports that accepted a connection.
    pub open_ports: Vec<u16>,
}

/// What a census found.
#[derive(Clone, Debug, Serialize)]
pub struct CensusReport {
    /// The prefix swept.
    pub prefix: IpNet,
    /// Its addresses.
    pub addresses: u64,
    /// The ICMP mode used, if any.
    pub icmp_mode: Option<IcmpMode>,
    /// Why ICMP could not be used, if it could not.
    pub icmp_error: Option<String>,
    /// Echo requests sent.
    pub requests: u64,
    /// Seconds the ICMP sweep took.
    pub icmp_secs: f64,
    /// Seconds the whole census took.
    pub total_secs: f64,
    /// The hosts that answered ICMP or a port, in address order.
    pub hosts: Vec<CensusHost>,
}

impl CensusReport {
    /// The number of hosts that answered ICMP.
    pub fn icmp_alive(&self) -> usize {
        self.hosts.iter().filter(|h| h.icmp).count()
    }
}

/// Progress reports: (done, total) of the current phase, with its name.
pub type Progress = Arc<dyn Fn(&'static str, u64, u64) + Send + Sync>;

/// Sweeps `prefix` (the caller checks its size with [`check_size`]).
pub async fn census(prefix: IpNet, options: CensusOptions, progress: Progress) -> CensusReport {
    let started = Instant::now();
    let prefix = prefix.trunc();
    let count = prefix_size(&prefix);
    let access = IcmpAccess::detect();
    let (icmp_mode, icmp_error) = match &access.mode {
        Ok(mode) => (Some(*mode), None),
        Err(why) => (None, Some(why.to_string())),
    };
    let mut alive = vec![0u64; 0];
    let mut requests = 0;
    let mut icmp_error = icmp_error;
    let icmp_started = Instant::now();
    if let Some(mode) = icmp_mode {
        let sweep_options = options.clone();
        let sweep_progress = progress.clone();
        let joined = tokio::task::spawn_blocking(move || {
            icmp_sweep(prefix, mode, &sweep_options, sweep_progress.as_ref())
        })
        .await;
        match joined {
            Ok(Ok((bits, sent))) => {
                alive = bits;
                requests = sent;
            }
            Ok(Err(error)) => icmp_error = Some(format!("ICMP sweep failed: {error}")),
            Err(error) => icmp_error = Some(format!("ICMP sweep stopped: {error}")),
        }
    }
    let icmp_secs = icmp_started.elapsed().as_secs_f64();
    let is_alive = |index: u64| {
        alive
            .get((index / 64) as usize)
            .is_some_and(|word| word & (1 << (index % 64)) != 0)
    };
    let mut open: std::collections::BTreeMap<u64, Vec<u16>> = std::collections::BTreeMap::new();
    if !options.ports.is_empty() {
        open = port_sweep(prefix, count, &options, &progress).await;
    }
    let mut hosts = Vec::new();
    let mut index = 0u64;
    let mut next_open = open.into_iter().peekable();
    // Walk the alive bits and the open ports together, in address order.
    let words = alive.len() as u64;
    loop {
        let next_alive = (index..words * 64).find(|i| is_alive(*i) && *i < count);
        let port_index = next_open.peek().map(|(i, _)| *i);
        let current = match (next_alive, port_index) {
            (None, None) => break,
            (Some(a), Some(p)) => a.min(p),
            (Some(a), None) => a,
            (None, Some(p)) => p,
        };
        let open_ports = if port_index == Some(current) {
            next_open.next().map(|(_, ports)| ports).unwrap_or_default()
        } else {
            Vec::new()
        };
        hosts.push(CensusHost {
            address: nth_address(&prefix, current),
            icmp: is_alive(current),
            open_ports,
        });
        index = current + 1;
    }
    CensusReport {
        prefix,
        addresses: count,
        icmp_mode,
        icmp_error,
        requests,
        icmp_secs,
        total_secs: started.elapsed().as_secs_f64(),
        hosts,
    }
}

/// A BPF program for a raw IPv4 socket: echo replies with our identifier only.
fn echo_reply_filter(ident: u16) -> Vec<SockFilter> {
    vec![
        SockFilter::new(0xb1, 0, 0, 0),                // X = IP header length
        SockFilter::new(0x50, 0, 0, 0),                // A = ICMP type
        SockFilter::new(0x15, 0, 3, 0),                // echo reply? else drop
        SockFilter::new(0x48, 0, 0, 4),                // A = identifier
        SockFilter::new(0x15, 0, 1, u32::from(ident)), // ours? else drop
        SockFilter::new(0x06, 0, 0, 0xffff),           // accept
        SockFilter::new(0x06, 0, 0, 0),                // drop
    ]
}

/// The ICMP sweep: returns the bitmap of addresses that answered and the number
/// of requests sent. The addresses are split among a few workers (threads), each
/// with its own socket, that send a batch and then drain the replies that came,
/// without blocking, so that no thread is woken for every reply.
fn icmp_sweep(
    prefix: IpNet,
    mode: IcmpMode,
    options: &CensusOptions,
    progress: &(dyn Fn(&'static str, u64, u64) + Send + Sync),
) -> std::io::Result<(Vec<u64>, u64)> {
    let count = prefix_size(&prefix);
    let words = count.div_ceil(64) as usize;
    let shared = Shared {
        bitmap: (0..words).map(|_| AtomicU64::new(0)).collect(),
        answered: AtomicU64::new(0),
        sent: AtomicU64::new(0),
    };
    let workers = options.workers.clamp(1, 16).min(count.max(1) as usize);
    let mut sockets = Vec::with_capacity(workers);
    for worker in 0..workers {
        sockets.push(Worker::open(prefix, mode, worker as u16)?);
    }
    let started = Instant::now();
    let mut failure = None;
    for pass in 0..=options.retries {
        let results: Vec<std::io::Result<()>> = std::thread::scope(|scope| {
            let handles: Vec<_> = sockets
                .iter_mut()
                .enumerate()
                .map(|(index, worker)| {
                    let shared = &shared;
                    scope.spawn(move || {
                        worker.pass(
                            shared,
                            options,
                            pass,
                            index as u64,
                            workers as u64,
                            started,
                            &|| progress("icmp", shared.answered.load(Ordering::Relaxed), count),
                        )
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(std::io::Error::other("a census worker panicked")))
                })
                .collect()
        });
        if let Some(error) = results.into_iter().find_map(Result::err) {
            failure = Some(error);
            break;
        }
        if shared.answered.load(Ordering::Relaxed) >= count {
            break;
        }
    }
    progress("icmp", shared.answered.load(Ordering::Relaxed), count);
    if let Some(error) = failure {
        return Err(error);
    }
    let bits = shared
        .bitmap
        .iter()
        .map(|w| w.load(Ordering::Relaxed))
        .collect();
    Ok((bits, shared.sent.load(Ordering::Relaxed)))
}

/// What the workers share.
struct Shared {
    bitmap: Vec<AtomicU64>,
    answered: AtomicU64,
    sent: AtomicU64,
}

impl Shared {
    fn is_set(&self, index: u64) -> bool {
        self.bitmap
            .get((index / 64) as usize)
            .is_some_and(|w| w.load(Ordering::Relaxed) & (1 << (index % 64)) != 0)
    }

    /// Marks an address as alive; true if it was news.
    fn set(&self, index: u64) -> bool {
        let Some(word) = self.bitmap.get((index / 64) as usize) else {
            return false;
        };
        let bit = 1u64 << (index % 64);
        let news = word.fetch_or(bit, Ordering::Relaxed) & bit == 0;
        if news {
            self.answered.fetch_add(1, Ordering::Relaxed);
        }
        news
    }
}

/// One census worker: a socket and its own share of the addresses.
struct Worker {
    socket: std::net::UdpSocket,
    prefix: IpNet,
    v6: bool,
    ip_header: bool,
    ident: Option<u16>,
    template: Vec<u8>,
    buf: Vec<u8>,
}

impl Worker {
    fn open(prefix: IpNet, mode: IcmpMode, number: u16) -> std::io::Result<Worker> {
        let v6 = matches!(prefix, IpNet::V6(_));
        let socket = open_socket(v6, mode)?;
        let ident = (std::process::id() as u16) ^ 0x5a5a ^ number.wrapping_mul(0x0101);
        if mode == IcmpMode::Raw && !v6 {
            socket.attach_filter(&echo_reply_filter(ident))?;
        }
        // Room for the replies of a whole window, whatever the kernel's default.
        let _ = socket.set_recv_buffer_size(8 << 20);
        socket.set_nonblocking(true)?;
        Ok(Worker {
            socket: std::net::UdpSocket::from(socket),
            prefix,
            v6,
            ip_header: mode == IcmpMode::Raw && !v6,
            // A ping socket's identifier is the kernel's, and only its replies arrive.
            ident: (mode == IcmpMode::Raw).then_some(ident),
            template: packet::echo_request(v6, ident, 0, b"blackout census"),
            buf: vec![0u8; 1500],
        })
    }

    /// Reads every reply waiting, without blocking; returns how many were ours.
    fn drain(&mut self, shared: &Shared) -> u64 {
        let mut got = 0;
        while let Ok((len, from)) = self.socket.recv_from(&mut self.buf) {
            let Some((_, packet::IcmpMessage::EchoReply { ident, .. })) =
                packet::decode(self.v6, self.ip_header, self.buf.get(..len).unwrap_or(&[]))
            else {
                continue;
            };
            if self.ident.is_some_and(|ours| ours != ident) {
                continue;
            }
            if let Some(index) = index_of(&self.prefix, from.ip())
                && shared.set(index)
            {
                got += 1;
            }
        }
        got
    }

    /// One pass over this worker's addresses (every `stride`th from `first`),
    /// skipping those that already answered, then a wait for the stragglers.
    #[allow(clippy::too_many_arguments)]
    fn pass(
        &mut self,
        shared: &Shared,
        options: &CensusOptions,
        pass: u32,
        first: u64,
        stride: u64,
        started: Instant,
        report: &dyn Fn(),
    ) -> std::io::Result<()> {
        let count = prefix_size(&self.prefix);
        let window = (options.window / stride).max(16);
        let pace = (options.rate > 0)
            .then(|| Duration::from_secs_f64(stride as f64 / f64::from(options.rate)));
        let (mut in_flight, mut sent_here) = (0u64, 0u64);
        let mut index = first;
        let mut batch = 0;
        while index < count {
            if shared.answered.load(Ordering::Relaxed) >= count {
                return Ok(());
            }
            if pass > 0 && shared.is_set(index) {
                index += stride;
                continue;
            }
            if in_flight >= window || batch >= 64 {
                in_flight = in_flight.saturating_sub(self.drain(shared));
                batch = 0;
                if in_flight >= window {
                    // Replies may never come: wait a little, then count them lost.
                    let waited = Instant::now();
                    while in_flight >= window && waited.elapsed() < Duration::from_millis(5) {
                        std::thread::sleep(Duration::from_micros(100));
                        in_flight = in_flight.saturating_sub(self.drain(shared));
                    }
                    in_flight = in_flight.min(window / 2);
                }
                report();
            }
            if let Some(pace) = pace {
                let due = started + pace.mul_f64(sent_here as f64);
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
            }
            let seq = (sent_here & 0xffff) as u16;
            if let Some(field) = self.template.get_mut(6..8) {
                field.copy_from_slice(&seq.to_be_bytes());
            }
            if !self.v6 {
                if let Some(field) = self.template.get_mut(2..4) {
                    field.copy_from_slice(&[0, 0]);
                }
                let sum = packet::checksum(&self.template);
                if let Some(field) = self.template.get_mut(2..4) {
                    field.copy_from_slice(&sum.to_be_bytes());
                }
            }
            let address = SocketAddr::new(nth_address(&self.prefix, index), 0);
            match self.socket.send_to(&self.template, address) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    // The send buffer is full: make room by reading, then retry.
                    std::thread::sleep(Duration::from_micros(200));
                    self.drain(shared);
                    continue;
                }
                // No route to one address says nothing about the next.
                Err(e) if matches!(e.raw_os_error(), Some(101 | 113 | 105)) => {}
                Err(e) => return Err(e),
            }
            shared.sent.fetch_add(1, Ordering::Relaxed);
            sent_here += 1;
            in_flight += 1;
            batch += 1;
            index += stride;
        }
        // Wait for the stragglers of this pass.
        let deadline = Instant::now() + options.timeout;
        while Instant::now() < deadline && shared.answered.load(Ordering::Relaxed) < count {
            if self.drain(shared) == 0 {
                std::thread::sleep(Duration::from_micros(500));
            }
        }
        self.drain(shared);
        Ok(())
    }
}

/// Tries every port on every address; returns the open ports by address index.
async fn port_sweep(
    prefix: IpNet,
    count: u64,
    options: &CensusOptions,
    progress: &Progress,
) -> std::collections::BTreeMap<u64, Vec<u16>> {
    let total = count.saturating_mul(options.ports.len() as u64);
    let gate = Arc::new(tokio::sync::Semaphore::new(options.concurrency.max(1)));
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    let mut open: std::collections::BTreeMap<u64, Vec<u16>> = std::collections::BTreeMap::new();
    for index in 0..count {
        for port in options.ports.iter().copied() {
            let Ok(permit) = gate.clone().acquire_owned().await else {
                break;
            };
            let address = SocketAddr::new(nth_address(&prefix, index), port);
            let timeout = options.timeout;
            let done = done.clone();
            let progress = progress.clone();
            tasks.spawn(async move {
                let result = tcp::connect(address, timeout).await;
                drop(permit);
                let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                if finished.is_multiple_of(64) || finished == total {
                    progress("tcp", finished, total);
                }
                (index, port, matches!(result, Ok(_) | Err(Outcome::Ok)))
            });
            while let Some(Ok((index, port, is_open))) = tasks.try_join_next() {
                if is_open {
                    open.entry(index).or_default().push(port);
                }
            }
        }
    }
    while let Some(joined) = tasks.join_next().await {
        if let Ok((index, port, true)) = joined {
            open.entry(index).or_default().push(port);
        }
    }
    for ports in open.values_mut() {
        ports.sort_unstable();
    }
    open
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_bounds() {
        let p22: IpNet = "127.1.0.0/22".parse().unwrap();
        assert_eq!(prefix_size(&p22), 1024);
        assert_eq!(check_size(&p22, 65536, false), Ok(1024));
        let p8: IpNet = "127.0.0.0/8".parse().unwrap();
        assert!(matches!(
            check_size(&p8, 65536, false),
            Err(CensusError::TooLarge {
                count: 16_777_216,
                ..
            })
        ));
        assert_eq!(check_size(&p8, 65536, true), Ok(16_777_216));
        let v6: IpNet = "2001:db8::/32".parse().unwrap();
        assert_eq!(prefix_size(&v6), u64::MAX);
        assert_eq!(
            check_size(&v6, u64::MAX, true),
            Err(CensusError::Unsweepable { prefix: v6 })
        );
        // IPv6: a /116 by default, a /115 only when the bound is raised.
        let p116: IpNet = "2001:db8::/116".parse().unwrap();
        let p115: IpNet = "2001:db8::/115".parse().unwrap();
        assert_eq!(default_max(&p116), 4096);
        assert_eq!(check_size(&p116, default_max(&p116), false), Ok(4096));
        let error = check_size(&p115, default_max(&p115), false).unwrap_err();
        assert!(error.to_string().contains("a /116 for IPv6"), "{error}");
        assert_eq!(check_size(&p115, 8192, false), Ok(8192));
        assert_eq!(default_max(&"127.0.0.0/8".parse().unwrap()), 65536);
        assert_eq!(prefix_size(&"::1/128".parse().unwrap()), 1);
    }

    #[test]
    fn addresses_and_indexes() {
        let p: IpNet = "127.1.0.0/22".parse().unwrap();
        assert_eq!(nth_address(&p, 0), "127.1.0.0".parse::<IpAddr>().unwrap());
        assert_eq!(
            nth_address(&p, 1023),
            "127.1.3.255".parse::<IpAddr>().unwrap()
        );
        assert_eq!(index_of(&p, "127.1.2.1".parse().unwrap()), Some(513));
        assert_eq!(index_of(&p, "127.1.4.0".parse().unwrap()), None);
        let v6: IpNet = "2001:db8::/120".parse().unwrap();
        assert_eq!(index_of(&v6, nth_address(&v6, 77)), Some(77));
    }
}
