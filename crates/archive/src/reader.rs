//! The MRT reader: one archive's records in, [`BgpInput`]s out.
//!
//! Each record is framed by bgpkit-parser's `chunk_mrt_record` over a [`PeekStream`],
//! after the reader has checked that the next 12 bytes look like a header. Then:
//!
//! - TABLE_DUMP_V2 RIB records are walked here ([`ArchiveReader::rib_afi`]): the prefix
//!   sits at a fixed place at the start of the body, so a prefix that overlaps no
//!   watched prefix costs only a walk over the entry headers (to count each peer's
//!   table); the attributes of wanted entries go to bgpkit's `parse_attributes`, given
//!   only the AS_PATH and AS4_PATH attributes.
//! - Everything else (TABLE_DUMP, BGP4MP, BGP4MP_ET, deprecated BGP) is decoded by
//!   bgpkit's `RawMrtRecord::parse`.
//!
//! Damage never stops the reader where a record boundary can be found: a record whose
//! body fails to decode is counted and skipped (its framing held), and bytes that do not
//! look like a header are scanned past until a header whose time fits the stream and
//! whose body decodes is found ([`ArchiveReader::resync`]). A stream that ends inside a
//! record counts one damaged record.
//!
//! RIB dumps also produce one [`BgpInput::TableSize`] per peer when the RIB part of the
//! stream ends, counted over every entry whether or not its route is yielded.

use crate::ArchiveError;
use crate::convert::{as_path_from_attributes, convert_path};
use crate::input::ArchiveInput;
use crate::source::{Progress, ProgressHandle, open_mrt, open_stored};
use crate::stream::{Header, PeekStream, plausible_header};
use bgpkit_parser::RawMrtRecord;
use bgpkit_parser::error::BgpValidationWarning;
use bgpkit_parser::models::{
    Asn as BgpAsn, Bgp4MpEnum, BgpMessage, BgpState, BgpUpdateMessage, EntryType, LegacyBgp,
    MrtMessage, Safi, TableDumpMessage, TableDumpV2Message,
};
use bgpkit_parser::parser::mrt::mrt_record::parse_mrt_body;
use bgpkit_parser::{ParserError, chunk_mrt_record, parse_table_dump_v2_message};
use blackout_model::{Asn, BgpInput, PeerKey, PrefixFilter, RouteChange, RouteUpdate, Timestamp};
use bytes::Bytes;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::collections::{HashMap, VecDeque};
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::Arc;

/// How many error messages [`ReadStats::errors`] keeps.
const KEPT_ERRORS: usize = 10;

/// How far the reader scans for the next record boundary after damage.
const MAX_SCAN: u64 = 8 * 1024 * 1024;

/// A record found by scanning must fit in this much look-ahead to be checked.
const MAX_CANDIDATE: usize = 1024 * 1024;

/// How far (seconds) a record found by scanning may be from the last good record.
const SCAN_TIME_WINDOW: u32 = 86_400;

/// How to read archives.
#[derive(Clone, Debug)]
pub struct ReaderOptions {
    /// Yield routes only for prefixes that overlap one of these (equal, covering or
    /// more specific); `None` yields every route. Table sizes are always counted in full.
    pub watch: Option<Vec<IpNet>>,
    /// Where downloaded archives are cached.
    pub cache_dir: PathBuf,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        ReaderOptions {
            watch: None,
            cache_dir: std::env::temp_dir().join("blackout-archive-cache"),
        }
    }
}

/// What a reader has seen so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// MRT records framed (header and whole body read).
    pub records: u64,
    /// Route updates yielded.
    pub routes: u64,
    /// Unicast RIB entries seen, yielded or not. The table sizes add up to this, less
    /// the extra ADD-PATH entries of a prefix (a peer's prefix counts once).
    pub rib_entries: u64,
    /// Peer-down inputs yielded.
    pub peer_downs: u64,
    /// Table-size inputs yielded.
    pub table_sizes: u64,
    /// Records (or runs of bytes) that could not be decoded: bad bodies, lost framing,
    /// a stream cut inside a record, RIB entries of peers missing from the peer table.
    pub damaged_records: u64,
    /// Records of a type or subtype the reader does not decode (RIB_GENERIC,
    /// BGP4MP_ENTRY, OSPF, …).
    pub unsupported_records: u64,
    /// Bytes skipped while looking for the next record boundary.
    pub skipped_bytes: u64,
    /// Multicast or labelled routes, left out because the observatory follows unicast.
    pub non_unicast_routes: u64,
    /// Decompressed bytes read.
    pub bytes: u64,
    /// The first few problems, for the report.
    pub errors: Vec<String>,
}

/// One peer's share of a RIB dump.
#[derive(Debug)]
struct TallyPeer {
    key: PeerKey,
    ipv4: u32,
    ipv6: u32,
    /// The RIB record this peer was last counted in, so ADD-PATH entries of one prefix
    /// count once.
    last_record: u64,
}

/// The table sizes of the RIB dump being read.
#[derive(Debug)]
struct Tally {
    /// The time of the dump's latest record: the sizes are known then, and a time no
    /// earlier than the entries keeps the reader's output in time order.
    at: Timestamp,
    peers: Vec<TallyPeer>,
    /// TABLE_DUMP (v1) names peers by address and AS instead of an index.
    by_address: HashMap<(IpAddr, u32), usize>,
}

/// Streams the [`BgpInput`]s of one archive. Damaged, truncated or unknown records are
/// skipped and counted in [`ReadStats`]; the reader never panics on its input.
pub struct ArchiveReader {
    stream: PeekStream,
    collector: Arc<str>,
    watch: PrefixFilter,
    progress: ProgressHandle,
    pending: VecDeque<BgpInput>,
    stats: ReadStats,
    finished: bool,
    last_timestamp: Option<u32>,
    /// The TABLE_DUMP_V2 peer index table in force.
    peer_index: Option<Arc<[PeerKey]>>,
    tally: Option<Tally>,
    rib_records: u64,
}

/// Opens one input: picks gzip, bzip2 or plain by magic bytes, streams a URL through
/// the cache, and checks that the data starts with an MRT header
/// ([`ArchiveError::NotMrt`] otherwise).
pub fn open(input: &ArchiveInput, options: &ReaderOptions) -> Result<ArchiveReader, ArchiveError> {
    let (stored, progress) = open_stored(input, options)?;
    let stream = open_mrt(stored, &input.location.to_string())?;
    Ok(ArchiveReader::new(
        stream,
        Arc::clone(&input.collector),
        options,
        progress,
    ))
}

/// Reads MRT from any byte stream (plain, gzip or bzip2), as [`open`] does for a file.
pub fn open_stream(
    stored: Box<dyn Read + Send>,
    collector: Arc<str>,
    options: &ReaderOptions,
) -> Result<ArchiveReader, ArchiveError> {
    let stream = open_mrt(stored, &format!("stream of {collector}"))?;
    Ok(ArchiveReader::new(
        stream,
        collector,
        options,
        ProgressHandle::default(),
    ))
}

impl ArchiveReader {
    fn new(
        stream: PeekStream,
        collector: Arc<str>,
        options: &ReaderOptions,
        progress: ProgressHandle,
    ) -> Self {
        ArchiveReader {
            stream,
            collector,
            watch: options
                .watch
                .as_ref()
                .map_or_else(PrefixFilter::everything, PrefixFilter::new),
            progress,
            pending: VecDeque::new(),
            stats: ReadStats::default(),
            finished: false,
            last_timestamp: None,
            peer_index: None,
            tally: None,
            rib_records: 0,
        }
    }

    /// What the reader has seen so far.
    pub fn stats(&self) -> ReadStats {
        let mut stats = self.stats.clone();
        stats.bytes = self.stream.offset();
        stats
    }

    /// How much of the stored (compressed) input has been read.
    pub fn progress(&self) -> Progress {
        self.progress.get()
    }

    /// A handle to poll the progress from another thread.
    pub fn progress_handle(&self) -> ProgressHandle {
        self.progress.clone()
    }

    /// The collector the routes are attributed to.
    pub fn collector(&self) -> &Arc<str> {
        &self.collector
    }

    fn note(&mut self, message: String) {
        tracing::debug!(collector = %self.collector, "{message}");
        if self.stats.errors.len() < KEPT_ERRORS {
            self.stats.errors.push(message);
        }
    }

    fn damaged(&mut self, message: String) {
        self.stats.damaged_records += 1;
        self.note(message);
    }

    fn unsupported(&mut self, message: String) {
        self.stats.unsupported_records += 1;
        self.note(message);
    }

    fn finish(&mut self) {
        self.flush_tally();
        self.finished = true;
    }

    fn peer(&self, ip: IpAddr, asn: BgpAsn) -> PeerKey {
        PeerKey {
            collector: Arc::clone(&self.collector),
            ip,
            asn: Asn(asn.to_u32()),
        }
    }

    /// Reads one record (or finds the end) and queues what it says.
    fn step(&mut self) {
        let offset = self.stream.offset();
        let available = match self.stream.fill(12) {
            Ok(available) => available,
            Err(error) => {
                self.damaged(format!("read failed at offset {offset}: {error}"));
                return self.finish();
            }
        };
        if available == 0 {
            return self.finish();
        }
        if available < 12 {
            self.damaged(format!(
                "stream ends inside a record header at offset {offset} ({available} bytes)"
            ));
            self.stats.skipped_bytes += available as u64;
            return self.finish();
        }
        let Some(header) = plausible_header(self.stream.peek()) else {
            return self.resync();
        };
        if self
            .last_timestamp
            .is_some_and(|last| header.timestamp.abs_diff(last) > SCAN_TIME_WINDOW)
            && !self.candidate_checks_out(header)
        {
            return self.resync();
        }
        match chunk_mrt_record(&mut self.stream) {
            Ok(raw) => {
                self.stats.records += 1;
                self.last_timestamp = Some(raw.common_header.timestamp);
                self.record(raw);
            }
            Err(error) if matches!(error.error, ParserError::EofExpected) => self.finish(),
            Err(error) => {
                let cut = matches!(
                    error.error,
                    ParserError::IoError(_) | ParserError::EofError(_)
                );
                self.damaged(format!(
                    "record at offset {offset} (type {}, subtype {}, {} bytes): {}",
                    header.entry_type, header.subtype, header.length, error.error
                ));
                if cut {
                    self.stats.skipped_bytes += self.stream.offset() - offset;
                    self.finish();
                }
            }
        }
    }

    /// Skips bytes until a record boundary is found again: a plausible header, near in
    /// time to the last good record, whose body decodes, followed by another plausible
    /// header or the end of the stream.
    fn resync(&mut self) {
        let start = self.stream.offset();
        self.damaged(format!(
            "no MRT header at offset {start}: looking for the next record"
        ));
        loop {
            self.stream.consume(1);
            let skipped = self.stream.offset() - start;
            let available = match self.stream.fill(12) {
                Ok(available) => available,
                Err(error) => {
                    self.stats.skipped_bytes += skipped;
                    self.note(format!(
                        "read failed at offset {}: {error}",
                        start + skipped
                    ));
                    return self.finish();
                }
            };
            if available < 12 || skipped > MAX_SCAN {
                self.stats.skipped_bytes += skipped + available as u64;
                if skipped > MAX_SCAN {
                    self.note(format!(
                        "no record boundary within {MAX_SCAN} bytes after offset {start}; giving up"
                    ));
                }
                return self.finish();
            }
            let Some(header) = plausible_header(self.stream.peek()) else {
                continue;
            };
            let near = self
                .last_timestamp
                .is_none_or(|last| header.timestamp.abs_diff(last) <= SCAN_TIME_WINDOW);
            if near && self.candidate_checks_out(header) {
                self.stats.skipped_bytes += skipped;
                tracing::debug!(from = start, to = start + skipped, "record boundary found");
                return;
            }
        }
    }

    /// Does the record at the head of the stream decode, and is it followed by another
    /// plausible header (or the end)?
    fn candidate_checks_out(&mut self, header: Header) -> bool {
        let len = header.record_len();
        if len > MAX_CANDIDATE {
            return false;
        }
        let Ok(available) = self.stream.fill(len + 12) else {
            return false;
        };
        if available < len {
            return false;
        }
        let bytes = self.stream.peek();
        if available >= len + 12 && plausible_header(&bytes[len..]).is_none() {
            return false;
        }
        let body_start = if header.entry_type == 17 { 16 } else { 12 };
        let body = bytes.get(body_start..len).unwrap_or_default();
        match (header.entry_type, header.subtype) {
            // TABLE_DUMP may be 4 bytes short (see bgpkit's legacy length correction);
            // its header and the next one are evidence enough.
            (12, _) => true,
            (13, subtype) if subtype != 1 => rib_body_is_sane(subtype, body),
            (entry_type, subtype) => {
                parse_mrt_body(entry_type, subtype, Bytes::copy_from_slice(body)).is_ok()
            }
        }
    }

    fn timestamp(raw: &RawMrtRecord) -> Timestamp {
        let header = &raw.common_header;
        let micros = header.microsecond_timestamp.unwrap_or(0).min(999_999);
        Timestamp::from_micros(i64::from(header.timestamp) * 1_000_000 + i64::from(micros))
    }

    fn record(&mut self, raw: RawMrtRecord) {
        let at = Self::timestamp(&raw);
        let entry_type = raw.common_header.entry_type;
        let subtype = raw.common_header.entry_subtype;
        let is_rib = matches!(entry_type, EntryType::TABLE_DUMP | EntryType::TABLE_DUMP_V2);
        if !is_rib {
            self.flush_tally();
        }
        match entry_type {
            EntryType::TABLE_DUMP_V2 => match subtype {
                1 => self.peer_index_table(at, raw.message_bytes),
                2..=5 | 8..=11 => self.rib_afi(at, subtype, raw.message_bytes),
                // GEO_PEER_TABLE: locations of peers, nothing about routes
                7 => {}
                _ => self.unsupported(format!(
                    "TABLE_DUMP_V2 subtype {subtype} (RIB_GENERIC) is not decoded"
                )),
            },
            // BGP4MP_ENTRY and BGP4MP_SNAPSHOT (RFC 6396 §4.4.3 drafts, written by OpenBGPD)
            EntryType::BGP4MP | EntryType::BGP4MP_ET if matches!(subtype, 2 | 3) => self
                .unsupported(format!(
                    "{entry_type:?} subtype {subtype} (BGP4MP_ENTRY/SNAPSHOT) is not decoded"
                )),
            EntryType::TABLE_DUMP | EntryType::BGP4MP | EntryType::BGP4MP_ET | EntryType::BGP => {
                match raw.parse() {
                    Ok(record) => self.message(at, record.message),
                    Err(error) => self.body_error(entry_type, subtype, error),
                }
            }
            other => self.unsupported(format!("MRT type {other:?} is not decoded")),
        }
    }

    fn body_error(&mut self, entry_type: EntryType, subtype: u16, error: ParserError) {
        let message = format!("{entry_type:?} subtype {subtype}: {error}");
        match error {
            ParserError::Unsupported(_) => self.unsupported(message),
            _ => self.damaged(message),
        }
    }

    fn message(&mut self, at: Timestamp, message: MrtMessage) {
        match message {
            MrtMessage::TableDumpMessage(entry) => self.table_dump(at, entry),
            MrtMessage::TableDumpMessageBatch(entries) => {
                for entry in entries {
                    self.table_dump(at, entry);
                }
            }
            MrtMessage::TableDumpV2Message(TableDumpV2Message::PeerIndexTable(_))
            | MrtMessage::TableDumpV2Message(_) => {
                // TABLE_DUMP_V2 never reaches bgpkit's record parser (see `record`).
            }
            MrtMessage::Bgp4Mp(Bgp4MpEnum::StateChange(change)) => self.state_change(
                at,
                change.peer_ip,
                change.peer_asn,
                change.old_state,
                change.new_state,
            ),
            MrtMessage::Bgp4Mp(Bgp4MpEnum::Message(message)) => {
                self.bgp_message(at, message.peer_ip, message.peer_asn, message.bgp_message)
            }
            MrtMessage::LegacyBgp(LegacyBgp::StateChange(change)) => self.state_change(
                at,
                change.peer_ip,
                change.peer_asn,
                change.old_state,
                change.new_state,
            ),
            MrtMessage::LegacyBgp(LegacyBgp::Message(message)) => {
                self.bgp_message(at, message.peer_ip, message.peer_asn, message.bgp_message)
            }
        }
    }

    fn state_change(
        &mut self,
        at: Timestamp,
        ip: IpAddr,
        asn: BgpAsn,
        old: BgpState,
        new: BgpState,
    ) {
        if old == BgpState::Established && new != BgpState::Established {
            let peer = self.peer(ip, asn);
            self.pending.push_back(BgpInput::PeerDown { at, peer });
        }
    }

    fn bgp_message(&mut self, at: Timestamp, ip: IpAddr, asn: BgpAsn, message: BgpMessage) {
        let BgpMessage::Update(update) = message else {
            return;
        };
        let peer = self.peer(ip, asn);
        let BgpUpdateMessage {
            withdrawn_prefixes,
            attributes,
            announced_prefixes,
        } = update;
        // bgpkit keeps an UPDATE whose NLRI does not parse (RFC 7606) but drops that
        // NLRI; the record is damaged, and its prefixes are not guessed at.
        let malformed = attributes
            .validation_warnings()
            .iter()
            .filter(|warning| matches!(warning, BgpValidationWarning::MalformedNlri { .. }))
            .count();
        if malformed > 0 {
            self.damaged(format!(
                "UPDATE from {ip} at {at}: {malformed} NLRI section(s) do not parse and were left out"
            ));
        }
        let mut withdrawn = withdrawn_prefixes;
        let mut announced = announced_prefixes;
        if let Some(nlri) = attributes.get_unreachable_nlri() {
            if is_unicast(nlri.safi) {
                withdrawn.extend_from_slice(&nlri.prefixes);
            } else {
                self.stats.non_unicast_routes += nlri.prefixes.len() as u64;
            }
        }
        if let Some(nlri) = attributes.get_reachable_nlri() {
            if is_unicast(nlri.safi) {
                announced.extend_from_slice(&nlri.prefixes);
            } else {
                self.stats.non_unicast_routes += nlri.prefixes.len() as u64;
            }
        }
        // Withdrawals first: a prefix both withdrawn and announced in one UPDATE ends up announced.
        for prefix in withdrawn {
            if self.watch.wants(&prefix.prefix) {
                self.pending.push_back(BgpInput::Route(RouteUpdate {
                    at,
                    peer: peer.clone(),
                    prefix: prefix.prefix,
                    path_id: prefix.path_id,
                    change: RouteChange::Withdraw,
                }));
            }
        }
        if announced
            .iter()
            .any(|prefix| self.watch.wants(&prefix.prefix))
        {
            let as_path = attributes
                .effective_as_path()
                .map(|path| convert_path(&path))
                .unwrap_or_default();
            for prefix in announced {
                if self.watch.wants(&prefix.prefix) {
                    self.pending.push_back(BgpInput::Route(RouteUpdate {
                        at,
                        peer: peer.clone(),
                        prefix: prefix.prefix,
                        path_id: prefix.path_id,
                        change: RouteChange::Announce {
                            as_path: as_path.clone(),
                        },
                    }));
                }
            }
        }
    }

    /// A TABLE_DUMP (v1) entry: one prefix of one peer.
    fn table_dump(&mut self, at: Timestamp, entry: TableDumpMessage) {
        let peer = self.peer(entry.peer_ip, entry.peer_asn);
        self.stats.rib_entries += 1;
        let tally = self.tally.get_or_insert_with(|| Tally {
            at,
            peers: Vec::new(),
            by_address: HashMap::new(),
        });
        tally.at = tally.at.max(at);
        let index = *tally
            .by_address
            .entry((peer.ip, peer.asn.0))
            .or_insert_with(|| {
                tally.peers.push(TallyPeer {
                    key: peer.clone(),
                    ipv4: 0,
                    ipv6: 0,
                    last_record: 0,
                });
                tally.peers.len() - 1
            });
        if let Some(counted) = tally.peers.get_mut(index) {
            match entry.prefix.prefix {
                IpNet::V4(_) => counted.ipv4 = counted.ipv4.saturating_add(1),
                IpNet::V6(_) => counted.ipv6 = counted.ipv6.saturating_add(1),
            }
        }
        if self.watch.wants(&entry.prefix.prefix) {
            let as_path = entry
                .attributes
                .effective_as_path()
                .map(|path| convert_path(&path))
                .unwrap_or_default();
            self.pending.push_back(BgpInput::Route(RouteUpdate {
                at,
                peer,
                prefix: entry.prefix.prefix,
                path_id: None,
                change: RouteChange::Announce { as_path },
            }));
        }
    }

    fn peer_index_table(&mut self, at: Timestamp, body: Bytes) {
        self.flush_tally();
        match parse_table_dump_v2_message(1, body) {
            Ok(TableDumpV2Message::PeerIndexTable(table)) => {
                let count = table
                    .id_peer_map
                    .keys()
                    .max()
                    .map_or(0, |max| usize::from(*max) + 1);
                let mut keys = Vec::with_capacity(count);
                for index in 0..count {
                    let key = match u16::try_from(index)
                        .ok()
                        .and_then(|index| table.id_peer_map.get(&index))
                    {
                        Some(peer) => self.peer(peer.peer_ip, peer.peer_asn),
                        None => self.peer(IpAddr::V4(Ipv4Addr::UNSPECIFIED), BgpAsn::new_32bit(0)),
                    };
                    keys.push(key);
                }
                let keys: Arc<[PeerKey]> = Arc::from(keys);
                self.tally = Some(Tally {
                    at,
                    peers: keys
                        .iter()
                        .map(|key| TallyPeer {
                            key: key.clone(),
                            ipv4: 0,
                            ipv6: 0,
                            last_record: 0,
                        })
                        .collect(),
                    by_address: HashMap::new(),
                });
                self.peer_index = Some(keys);
            }
            Ok(_) => {}
            Err(error) => self.damaged(format!("PEER_INDEX_TABLE: {error}")),
        }
    }

    /// A TABLE_DUMP_V2 RIB record (RFC 6396 §4.3.2, RFC 8050): one prefix, the entries
    /// of every peer that has it.
    fn rib_afi(&mut self, at: Timestamp, subtype: u16, body: Bytes) {
        let Some(peer_index) = self.peer_index.clone() else {
            return self.damaged(format!(
                "TABLE_DUMP_V2 RIB record (subtype {subtype}) before any PEER_INDEX_TABLE"
            ));
        };
        let v6 = matches!(subtype, 4 | 5 | 10 | 11);
        let add_path = subtype >= 8;
        let unicast = matches!(subtype, 2 | 4 | 8 | 10);
        let Some((prefix, mut pos, entry_count)) = rib_prefix(&body, v6) else {
            return self.damaged(format!(
                "TABLE_DUMP_V2 RIB record (subtype {subtype}) with a broken prefix"
            ));
        };
        let wanted = unicast && self.watch.wants(&prefix);
        if !unicast {
            self.stats.non_unicast_routes += u64::from(entry_count);
        }
        self.rib_records += 1;
        let record_no = self.rib_records;
        if unicast && self.tally.is_none() {
            self.tally = Some(Tally {
                at,
                peers: peer_index
                    .iter()
                    .map(|key| TallyPeer {
                        key: key.clone(),
                        ipv4: 0,
                        ipv6: 0,
                        last_record: 0,
                    })
                    .collect(),
                by_address: HashMap::new(),
            });
        }
        if let Some(tally) = self.tally.as_mut() {
            tally.at = tally.at.max(at);
        }
        let fixed = if add_path { 12 } else { 8 };
        for _ in 0..entry_count {
            let Some(entry) = body.get(pos..pos + fixed) else {
                return self.damaged(format!("RIB record for {prefix} ends inside an entry"));
            };
            let index = usize::from(u16::from_be_bytes([entry[0], entry[1]]));
            let path_id =
                add_path.then(|| u32::from_be_bytes([entry[6], entry[7], entry[8], entry[9]]));
            let attr_len = usize::from(u16::from_be_bytes([entry[fixed - 2], entry[fixed - 1]]));
            let attr_start = pos + fixed;
            pos = attr_start + attr_len;
            if pos > body.len() {
                return self.damaged(format!(
                    "RIB record for {prefix} ends inside the attributes of an entry"
                ));
            }
            let Some(key) = peer_index.get(index) else {
                self.damaged(format!(
                    "RIB entry for {prefix} names peer {index}, but the peer table has {}",
                    peer_index.len()
                ));
                continue;
            };
            if unicast {
                self.stats.rib_entries += 1;
                if let Some(counted) = self.tally.as_mut().and_then(|t| t.peers.get_mut(index))
                    && counted.last_record != record_no
                {
                    counted.last_record = record_no;
                    if v6 {
                        counted.ipv6 = counted.ipv6.saturating_add(1);
                    } else {
                        counted.ipv4 = counted.ipv4.saturating_add(1);
                    }
                }
            }
            if wanted {
                let as_path = as_path_from_attributes(&body.slice(attr_start..pos));
                self.pending.push_back(BgpInput::Route(RouteUpdate {
                    at,
                    peer: key.clone(),
                    prefix,
                    path_id,
                    change: RouteChange::Announce { as_path },
                }));
            }
        }
    }

    /// Emits the table sizes of the RIB dump that just ended.
    fn flush_tally(&mut self) {
        let Some(tally) = self.tally.take() else {
            return;
        };
        for peer in tally.peers {
            self.pending.push_back(BgpInput::TableSize {
                at: tally.at,
                peer: peer.key,
                ipv4: peer.ipv4,
                ipv6: peer.ipv6,
            });
        }
    }
}

impl Iterator for ArchiveReader {
    type Item = BgpInput;

    fn next(&mut self) -> Option<BgpInput> {
        loop {
            if let Some(input) = self.pending.pop_front() {
                match &input {
                    BgpInput::Route(_) => self.stats.routes += 1,
                    BgpInput::PeerDown { .. } => self.stats.peer_downs += 1,
                    BgpInput::TableSize { .. } => self.stats.table_sizes += 1,
                }
                return Some(input);
            }
            if self.finished {
                return None;
            }
            self.step();
        }
    }
}

fn is_unicast(safi: Safi) -> bool {
    matches!(safi, Safi::Unicast | Safi::UnicastMulticast)
}

/// The prefix at the start of a TABLE_DUMP_V2 RIB body (after the 4-byte sequence
/// number), the offset of the first entry, and the entry count.
fn rib_prefix(body: &[u8], v6: bool) -> Option<(IpNet, usize, u16)> {
    let len = *body.get(4)?;
    let max = if v6 { 128 } else { 32 };
    if len > max {
        return None;
    }
    let octets = usize::from(len).div_ceil(8);
    let bytes = body.get(5..5 + octets)?;
    let count = body.get(5 + octets..7 + octets)?;
    let count = u16::from_be_bytes([count[0], count[1]]);
    let prefix = if v6 {
        let mut addr = [0u8; 16];
        addr[..octets].copy_from_slice(bytes);
        IpNet::V6(Ipv6Net::new(Ipv6Addr::from(addr), len).ok()?)
    } else {
        let mut addr = [0u8; 4];
        addr[..octets].copy_from_slice(bytes);
        IpNet::V4(Ipv4Net::new(Ipv4Addr::from(addr), len).ok()?)
    };
    Some((prefix, 7 + octets, count))
}

/// A structural check of a RIB body, used to confirm a record boundary found by scanning.
fn rib_body_is_sane(subtype: u16, body: &[u8]) -> bool {
    if !matches!(subtype, 2..=5 | 8..=11) {
        return true;
    }
    let v6 = matches!(subtype, 4 | 5 | 10 | 11);
    let fixed = if subtype >= 8 { 12 } else { 8 };
    let Some((_, mut pos, count)) = rib_prefix(body, v6) else {
        return false;
    };
    for _ in 0..count {
        let Some(entry) = body.get(pos..pos + fixed) else {
            return false;
        };
        pos += fixed + usize::from(u16::from_be_bytes([entry[fixed - 2], entry[fixed - 1]]));
    }
    pos == body.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_can_move_to_another_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<ArchiveReader>();
        assert_send::<crate::Merged>();
    }

    #[test]
    fn rib_prefix_reads_the_fixed_layout() {
        // sequence 7, 175.45.176.0/22, 3 entries
        let body = [0, 0, 0, 7, 22, 175, 45, 176, 0, 3];
        let (prefix, pos, count) = rib_prefix(&body, false).expect("prefix");
        assert_eq!(prefix.to_string(), "175.45.176.0/22");
        assert_eq!((pos, count), (10, 3));
        assert!(rib_prefix(&[0, 0, 0, 7, 33, 1, 2, 3, 4, 5, 0, 0], false).is_none());
        assert!(rib_prefix(&[0, 0, 0, 7, 24, 1, 2], false).is_none());
        assert!(!rib_body_is_sane(2, &body[..8]));
    }
}
