//! The MRT reader: one archive's records in, [`BgpInput`]s out.
//!
//! Each record is judged before bgpkit-parser's `chunk_mrt_record` frames it over a
//! [`PeekStream`]: the 12 bytes at the head must look like a header, and the record's
//! own structure (a BGP message's length, a RIB record's entries, a peer index's peers;
//! see the `framing` module) must end where its length field says. Then:
//!
//! - TABLE_DUMP_V2 RIB records are walked here ([`ArchiveReader::rib_afi`]): the prefix
//!   sits at a fixed place at the start of the body, so a prefix that overlaps no
//!   watched prefix costs only a walk over the entry headers (to count each peer's
//!   table); the attributes of wanted entries go to bgpkit's `parse_attributes`, given
//!   only the AS_PATH and AS4_PATH attributes.
//! - Everything else (TABLE_DUMP, BGP4MP, BGP4MP_ET, deprecated BGP) is decoded by
//!   bgpkit's `RawMrtRecord::parse`.
//!
//! Damage never stops the reader where a record boundary can be found. A record whose
//! body fails to decode is counted and skipped (its framing held). A header that is
//! not one, or a length its record's structure contradicts (a damaged length field,
//! which would otherwise swallow every record it covers), starts a scan
//! ([`ArchiveReader::resync`]) for the next header whose time fits the stream, whose
//! record is structured to its length and whose body decodes. A stream that ends
//! inside a record is truncated; a decompressor's error (a gzip checksum, cut
//! compressed data) is named for what it is.
//!
//! No judgement looks past a record's declared length, and one that needs bytes
//! beyond the end of the stream ends the reading: so a stream cut anywhere reads as
//! the whole stream does, up to the cut, and never yields more.
//!
//! RIB dumps also produce one [`BgpInput::TableSize`] per peer when the RIB part of the
//! stream ends, counted over every entry whether or not its route is yielded. The
//! reader remembers which peers a table dump named and which sent updates, for
//! [`Coverage`](crate::Coverage).

use crate::ArchiveError;
use crate::convert::{as_path_from_attributes, convert_path};
use crate::framing::{
    Header, Structure, TABLE_DUMP, TABLE_DUMP_V2, mrt_start, plausible_header, rib_prefix,
    structure,
};
use crate::input::{ArchiveInput, DumpKind};
use crate::source::{
    Compression, Progress, ProgressHandle, StreamFailure, classify_failure, open_mrt, open_stored,
};
use crate::stream::PeekStream;
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
use ipnet::IpNet;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr};
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

/// How much of a record is read ahead to judge it, at first: enough for nearly every
/// record's structure, so that a damaged length of 16 MiB is not read ahead in full.
const FIRST_LOOK: usize = 64 * 1024;

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
    /// Times the framing was lost (a header that was not one, a length that did not
    /// end at a record) and found again by scanning.
    pub resyncs: u64,
    /// The stream ends inside a record, or the compressed data ends early.
    pub truncated: bool,
    /// gzip members whose trailer (CRC-32 and length) does not match their data.
    pub checksum_errors: u64,
    /// Why the stream ended before its end, when it did: a gzip checksum error, cut
    /// compressed data, a read error.
    pub stream_error: Option<String>,
    /// Multicast or labelled routes, left out because the observatory follows unicast.
    pub non_unicast_routes: u64,
    /// Decompressed bytes read.
    pub bytes: u64,
    /// The first few problems, for the report.
    pub errors: Vec<String>,
}

impl ReadStats {
    /// Did the reader meet damage: damaged records, skipped bytes, a truncation, a
    /// checksum or decompression error?
    pub fn is_damaged(&self) -> bool {
        self.damaged_records + self.skipped_bytes + self.resyncs + self.checksum_errors > 0
            || self.truncated
            || self.stream_error.is_some()
    }

    /// The damage in one line: `2 damaged records, 4512 bytes skipped, 1 resync,
    /// truncated`, then what ended the stream early, if something did (`; gzip
    /// checksum error at …`); `no damage` when there is none.
    pub fn damage_summary(&self) -> String {
        if !self.is_damaged() {
            return "no damage".into();
        }
        let plural =
            |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut parts = vec![plural(
            self.damaged_records,
            "damaged record",
            "damaged records",
        )];
        if self.skipped_bytes > 0 {
            parts.push(plural(self.skipped_bytes, "byte skipped", "bytes skipped"));
        }
        if self.resyncs > 0 {
            parts.push(plural(self.resyncs, "resync", "resyncs"));
        }
        if self.truncated {
            parts.push("truncated".into());
        }
        let mut summary = parts.join(", ");
        match &self.stream_error {
            // it names the checksum error
            Some(error) => {
                let _ = write!(summary, "; {error}");
            }
            None if self.checksum_errors > 0 => {
                let _ = write!(
                    summary,
                    ", {}",
                    plural(
                        self.checksum_errors,
                        "gzip checksum error",
                        "gzip checksum errors"
                    )
                );
            }
            None => {}
        }
        summary
    }
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

/// A peer as the reader tells peers apart (its collector is the reader's).
pub(crate) type PeerId = (IpAddr, u32);

/// The peers an archive named: in a table dump, and as senders of UPDATEs (a peer
/// that only opened, kept alive or changed state sent no route).
#[derive(Debug, Default)]
pub(crate) struct SeenPeers {
    pub(crate) table: HashSet<PeerId>,
    pub(crate) updates: HashSet<PeerId>,
    /// The last update peer inserted: consecutive records mostly share one.
    last_update: Option<PeerId>,
}

impl SeenPeers {
    fn update(&mut self, peer: PeerId) {
        if self.last_update != Some(peer) {
            self.last_update = Some(peer);
            self.updates.insert(peer);
        }
    }
}

/// What to do with the record at the head of the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Judgement {
    /// Frame it: its structure fits its length (or it has none), and its bytes are read.
    Whole,
    /// Its length does not match its structure: scan for the next record.
    Damaged,
    /// The stream ends before the record does, or before the bytes that would tell.
    Cut,
}

/// Whether a header found by scanning is where reading resumes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Candidate {
    Good,
    Bad,
    /// The stream ends before it could be told: the scan stops there.
    Cut,
}

/// Streams the [`BgpInput`]s of one archive. Damaged, truncated or unknown records are
/// skipped and counted in [`ReadStats`]; the reader never panics on its input.
pub struct ArchiveReader {
    stream: PeekStream,
    compression: Compression,
    location: String,
    collector: Arc<str>,
    content: DumpKind,
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
    peers: SeenPeers,
}

/// Opens one input: picks gzip, bzip2 or plain by magic bytes, streams a URL through
/// the cache, and checks that the data starts with an MRT header
/// ([`ArchiveError::NotMrt`] otherwise).
pub fn open(input: &ArchiveInput, options: &ReaderOptions) -> Result<ArchiveReader, ArchiveError> {
    let (stored, progress) = open_stored(input, options)?;
    let location = input.location.to_string();
    let (stream, compression) = open_mrt(stored, &location)?;
    Ok(ArchiveReader::new(
        stream,
        compression,
        location,
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
    let location = format!("stream of {collector}");
    let (stream, compression) = open_mrt(stored, &location)?;
    Ok(ArchiveReader::new(
        stream,
        compression,
        location,
        collector,
        options,
        ProgressHandle::default(),
    ))
}

impl ArchiveReader {
    fn new(
        stream: PeekStream,
        compression: Compression,
        location: String,
        collector: Arc<str>,
        options: &ReaderOptions,
        progress: ProgressHandle,
    ) -> Self {
        let content = match mrt_start(stream.peek()) {
            Some(header) if header.is_table_dump() => DumpKind::Rib,
            Some(_) => DumpKind::Updates,
            None => DumpKind::Unknown,
        };
        ArchiveReader {
            stream,
            compression,
            location,
            collector,
            content,
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
            peers: SeenPeers::default(),
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

    /// The file or URL read (`stream of <collector>` for [`open_stream`]).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// What the archive holds, by its first record: a table dump
    /// ([`DumpKind::Rib`]: TABLE_DUMP or TABLE_DUMP_V2), updates (BGP4MP and the
    /// rest), or nothing ([`DumpKind::Unknown`]: an empty archive).
    pub fn content(&self) -> DumpKind {
        self.content
    }

    pub(crate) fn seen_peers(&self) -> &SeenPeers {
        &self.peers
    }

    fn note(&mut self, message: String) {
        tracing::debug!(collector = %self.collector, location = %self.location, "{message}");
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

    /// The stream ends inside a record; the damaged record was counted already.
    fn truncated(&mut self, message: String) {
        self.stats.truncated = true;
        self.note(message);
    }

    fn finish(&mut self) {
        self.flush_tally();
        if let Some((error, at)) = self.stream.failure() {
            let failure = classify_failure(self.compression, error, at);
            let lost_data = !matches!(failure, StreamFailure::Checksum(_));
            // A stream cut inside a record has counted that record already.
            let counted = self.stats.truncated;
            let text = match failure {
                StreamFailure::Checksum(text) => {
                    self.stats.checksum_errors += 1;
                    text
                }
                StreamFailure::Truncated(text) => {
                    self.stats.truncated = true;
                    text
                }
                StreamFailure::Other(text) => text,
            };
            if lost_data && !counted {
                self.stats.damaged_records += 1;
            }
            self.stats.stream_error = Some(text.clone());
            self.note(text);
        }
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
        let available = self.stream.fill(12);
        if available == 0 {
            return self.finish();
        }
        if available < 12 {
            return self.cut(
                offset,
                format!("the stream ends inside a record header at offset {offset}"),
            );
        }
        let Some(header) = plausible_header(self.stream.peek()) else {
            return self.resync(offset, format!("no MRT header at offset {offset}"));
        };
        // (built only when something is wrong: formatting every record costs time)
        let described = || {
            format!(
                "the record at offset {offset} (type {}, subtype {}, {} bytes)",
                header.entry_type, header.subtype, header.length
            )
        };
        let far = self
            .last_timestamp
            .is_some_and(|last| header.timestamp.abs_diff(last) > SCAN_TIME_WINDOW);
        // A header dated far from its neighbours is taken only on the evidence a resync
        // asks for.
        let (judgement, damage) = if far {
            let judgement = match self.candidate(header) {
                Candidate::Good => Judgement::Whole,
                Candidate::Bad => Judgement::Damaged,
                Candidate::Cut => Judgement::Cut,
            };
            (judgement, "is dated more than a day from the record before")
        } else {
            (
                self.judge(header),
                "does not hold what its length says: its length is damaged",
            )
        };
        match judgement {
            Judgement::Whole => self.frame(offset, header),
            Judgement::Damaged => self.resync(offset, format!("{} {damage}", described())),
            Judgement::Cut => self.cut(offset, format!("{} runs past the end", described())),
        }
    }

    /// Judges the record at the head of the stream by its structure and its bytes,
    /// reading ahead no further than its declared length (and 4 bytes more, for a
    /// historical TABLE_DUMP record) and at first no more than [`FIRST_LOOK`].
    fn judge(&mut self, header: Header) -> Judgement {
        let whole = header.record_len() + 4;
        let mut want = whole.min(FIRST_LOOK);
        loop {
            let available = self.stream.fill(want);
            match structure(header, self.stream.peek()) {
                Structure::DoesNotFit => return Judgement::Damaged,
                Structure::Fits(end) if end <= available => return Judgement::Whole,
                Structure::Unstructured if header.record_len() <= available => {
                    return Judgement::Whole;
                }
                Structure::Fits(_) | Structure::Unknown | Structure::Unstructured => {}
            }
            if available < want || want == whole {
                return Judgement::Cut;
            }
            want = whole;
        }
    }

    /// Is the record at the head of the stream one to resume reading at: within
    /// [`MAX_CANDIDATE`], structured to its length, its body decoding (and, for a record
    /// whose structure says nothing of its length, followed by a plausible header)?
    fn candidate(&mut self, header: Header) -> Candidate {
        let len = header.record_len();
        if len > MAX_CANDIDATE {
            return Candidate::Bad;
        }
        match self.judge(header) {
            Judgement::Damaged => return Candidate::Bad,
            Judgement::Cut => return Candidate::Cut,
            Judgement::Whole => {}
        }
        let unstructured = structure(header, self.stream.peek()) == Structure::Unstructured;
        if unstructured {
            if self.stream.fill(len + 12) < len + 12 {
                return Candidate::Cut;
            }
            if plausible_header(&self.stream.peek()[len..]).is_none() {
                return Candidate::Bad;
            }
        }
        let decodes = match header.entry_type {
            // the structure of a table dump is its test; bgpkit-parser does not decode
            // TABLE_DUMP_V2 here (the reader walks its RIB records itself)
            TABLE_DUMP | TABLE_DUMP_V2 => true,
            entry_type => {
                let body = self
                    .stream
                    .peek()
                    .get(header.body_start()..len)
                    .unwrap_or_default();
                parse_mrt_body(entry_type, header.subtype, Bytes::copy_from_slice(body)).is_ok()
            }
        };
        if decodes {
            Candidate::Good
        } else {
            Candidate::Bad
        }
    }

    /// Frames the record at the head of the stream, whose bytes are all read ahead.
    fn frame(&mut self, offset: u64, header: Header) {
        match chunk_mrt_record(&mut self.stream) {
            Ok(raw) => {
                self.stats.records += 1;
                self.last_timestamp = Some(raw.common_header.timestamp);
                self.record(raw);
            }
            // Only a header bgpkit refuses gets here; the record is consumed.
            Err(error) => self.damaged(format!(
                "the record at offset {offset} (type {}, subtype {}, {} bytes): {}",
                header.entry_type, header.subtype, header.length, error.error
            )),
        }
    }

    /// The stream ends inside the record at `offset`: it and the bytes after it are
    /// lost, and the stream is truncated.
    fn cut(&mut self, offset: u64, why: String) {
        let rest = self.stream.peek().len();
        self.stream.consume(rest);
        self.stats.skipped_bytes += rest as u64;
        self.stats.damaged_records += 1;
        self.truncated(format!(
            "{why}: the stream is truncated at offset {}",
            offset + rest as u64
        ));
        self.finish();
    }

    /// Skips bytes from `from` (the start of the lost record) until a record boundary
    /// is found again: a plausible header, near in time to the last good record, that
    /// is a [`candidate`](Self::candidate). A candidate that runs past the end of the
    /// stream ends the scan (the stream is truncated): what a cut stream reads is then
    /// always what the whole stream reads, up to the cut.
    fn resync(&mut self, from: u64, why: String) {
        self.damaged(format!("{why}; looking for the next record"));
        loop {
            self.stream.consume(1);
            let skipped = self.stream.offset() - from;
            if skipped > MAX_SCAN {
                self.stats.skipped_bytes += skipped;
                self.note(format!(
                    "no record boundary within {MAX_SCAN} bytes after offset {from}; giving up"
                ));
                return self.finish();
            }
            let available = self.stream.fill(12);
            if available < 12 {
                self.stream.consume(available);
                self.stats.skipped_bytes += skipped + available as u64;
                self.note(format!(
                    "no record boundary after offset {from} up to the end of the stream"
                ));
                return self.finish();
            }
            let Some(header) = plausible_header(self.stream.peek()) else {
                continue;
            };
            let near = self
                .last_timestamp
                .is_none_or(|last| header.timestamp.abs_diff(last) <= SCAN_TIME_WINDOW);
            if !near {
                continue;
            }
            match self.candidate(header) {
                Candidate::Good => {
                    self.stats.skipped_bytes += skipped;
                    self.stats.resyncs += 1;
                    tracing::debug!(from, to = from + skipped, "record boundary found");
                    return;
                }
                Candidate::Bad => {}
                Candidate::Cut => {
                    let at = self.stream.offset();
                    let rest = self.stream.peek().len();
                    self.stream.consume(rest);
                    self.stats.skipped_bytes += skipped + rest as u64;
                    self.truncated(format!(
                        "the stream ends inside what may be a record at offset {at}: truncated"
                    ));
                    return self.finish();
                }
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
        self.peers.update((ip, asn.to_u32()));
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
        let table_peers = &mut self.peers.table;
        let index = *tally
            .by_address
            .entry((peer.ip, peer.asn.0))
            .or_insert_with(|| {
                // a peer new to this dump: the only time it needs noting
                table_peers.insert((peer.ip, peer.asn.0));
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
                        Some(peer) => {
                            self.peers
                                .table
                                .insert((peer.peer_ip, peer.peer_asn.to_u32()));
                            self.peer(peer.peer_ip, peer.peer_asn)
                        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_can_move_to_another_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<ArchiveReader>();
        assert_send::<crate::Merged>();
    }
}
