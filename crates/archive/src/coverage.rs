//! What a run's inputs hold per collector: whether a table dump was among them,
//! which peers it named, and what a user should be told about it.
//!
//! The BGP state tells full-feed peers from partial ones by their tables. A collector
//! whose inputs hold only updates gives peers whose tables were never seen; an updates
//! file whose peers are none of its collector's table peers (the RIB filed under
//! another collector's name, or from another day's peer set) gives withdrawals that
//! touch no route. [`Coverage`] states both, from the readers' first records and from
//! the peers they named, so the command can warn and the BGP state can hold back
//! verdicts from peers without a table.
//!
//! The table dumps' peers are known once their readers have read the peer index
//! (TABLE_DUMP_V2: its first record) or, for TABLE_DUMP, every entry; the updates'
//! peers as the updates are read. [`Coverage::of`] says what is known when it is called:
//! right after [`merge`](crate::merge) for what the first records say, after the last
//! input for the whole picture.

use crate::input::DumpKind;
use crate::reader::{ArchiveReader, PeerId};
use blackout_model::{Asn, PeerKey};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::sync::Arc;

/// One collector's inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectorCoverage {
    /// The collector.
    pub collector: Arc<str>,
    /// Its inputs that were opened.
    pub inputs: usize,
    /// Of them, those whose first record is a table dump (TABLE_DUMP, TABLE_DUMP_V2).
    pub table_inputs: usize,
    /// Of them, those whose first record is an update (BGP4MP and the rest); the
    /// others are empty.
    pub update_inputs: usize,
    /// The peers its table dumps named (a TABLE_DUMP_V2 peer index, the peers of
    /// TABLE_DUMP entries), as far as read.
    pub table_peers: BTreeSet<PeerKey>,
    /// The peers that sent UPDATEs, as far as read.
    pub update_peers: BTreeSet<PeerKey>,
}

impl CollectorCoverage {
    /// Was a table dump among the collector's inputs? Without one, no peer's table
    /// was seen: which peers are full-feed is unknown.
    pub fn table_seen(&self) -> bool {
        self.table_inputs > 0
    }

    /// Updates and no table dump among the collector's inputs.
    pub fn updates_only(&self) -> bool {
        self.table_inputs == 0 && self.update_inputs > 0
    }

    /// Update peers that no table dump of the collector named.
    pub fn peers_without_table(&self) -> impl Iterator<Item = &PeerKey> {
        self.update_peers
            .iter()
            .filter(|peer| !self.table_peers.contains(*peer))
    }
}

/// Something about the inputs that makes the replay's answer weaker than it looks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CoverageWarning {
    /// A collector's inputs hold updates but no table dump: its peers' tables were
    /// never seen.
    UpdatesOnly {
        /// The collector.
        collector: Arc<str>,
        /// Its update inputs.
        update_inputs: usize,
    },
    /// An updates file none of whose peers is among its collector's table peers.
    UnmatchedPeers {
        /// The file or URL.
        input: String,
        /// Its collector.
        collector: Arc<str>,
        /// Its peers.
        peers: usize,
        /// The peers of the collector's table dumps (0: it has none).
        table_peers: usize,
        /// Other collectors whose table dumps name some of the file's peers, and how
        /// many of them each names.
        elsewhere: Vec<(Arc<str>, usize)>,
    },
}

impl fmt::Display for CoverageWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoverageWarning::UpdatesOnly {
                collector,
                update_inputs,
            } => write!(
                f,
                "collector {collector}: updates only ({update_inputs} {}), no table dump \
                 (RIB) among the inputs: its peers' tables were never seen, so which of \
                 them are full-feed is unknown and no outage verdict rests on them",
                if *update_inputs == 1 { "file" } else { "files" }
            ),
            CoverageWarning::UnmatchedPeers {
                input,
                collector,
                peers,
                table_peers,
                elsewhere,
            } => {
                let plural = if *peers == 1 { "peer" } else { "peers" };
                if *table_peers == 0 {
                    write!(
                        f,
                        "{input}: its {peers} {plural} match no RIB peer: collector \
                         {collector} has no table dump"
                    )?;
                } else {
                    write!(
                        f,
                        "{input}: its {peers} {plural} match none of the {table_peers} \
                         peers of collector {collector}'s table dump, so its withdrawals \
                         touch no route of it"
                    )?;
                }
                for (other, count) in elsewhere {
                    write!(
                        f,
                        "; {count} of them are in the table dump of collector {other}"
                    )?;
                }
                Ok(())
            }
        }
    }
}

/// What the inputs of one run hold, per collector.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    collectors: Vec<CollectorCoverage>,
    warnings: Vec<CoverageWarning>,
}

impl Coverage {
    /// The coverage of these readers, as far as they have read.
    pub fn of(readers: &[ArchiveReader]) -> Coverage {
        let mut by_name: BTreeMap<Arc<str>, CollectorCoverage> = BTreeMap::new();
        let mut table_ids: BTreeMap<Arc<str>, HashSet<PeerId>> = BTreeMap::new();
        for reader in readers {
            let collector = Arc::clone(reader.collector());
            let entry =
                by_name
                    .entry(Arc::clone(&collector))
                    .or_insert_with(|| CollectorCoverage {
                        collector: Arc::clone(&collector),
                        inputs: 0,
                        table_inputs: 0,
                        update_inputs: 0,
                        table_peers: BTreeSet::new(),
                        update_peers: BTreeSet::new(),
                    });
            entry.inputs += 1;
            match reader.content() {
                DumpKind::Rib => entry.table_inputs += 1,
                DumpKind::Updates => entry.update_inputs += 1,
                DumpKind::Unknown => {}
            }
            let seen = reader.seen_peers();
            let key = |&(ip, asn): &PeerId| PeerKey {
                collector: Arc::clone(&collector),
                ip,
                asn: Asn(asn),
            };
            entry.table_peers.extend(seen.table.iter().map(key));
            entry.update_peers.extend(seen.updates.iter().map(key));
            table_ids
                .entry(collector)
                .or_default()
                .extend(seen.table.iter().copied());
        }
        let mut warnings = Vec::new();
        for coverage in by_name.values() {
            if coverage.updates_only() {
                warnings.push(CoverageWarning::UpdatesOnly {
                    collector: Arc::clone(&coverage.collector),
                    update_inputs: coverage.update_inputs,
                });
            }
        }
        let any_table = table_ids.values().any(|ids| !ids.is_empty());
        for reader in readers.iter().filter(|r| r.content() == DumpKind::Updates) {
            let peers = &reader.seen_peers().updates;
            let own = table_ids.get(reader.collector());
            let matched = own.is_some_and(|ids| peers.iter().any(|peer| ids.contains(peer)));
            if peers.is_empty() || matched || !any_table {
                continue;
            }
            let elsewhere: Vec<(Arc<str>, usize)> = table_ids
                .iter()
                .filter(|(name, _)| *name != reader.collector())
                .map(|(name, ids)| {
                    let count = peers.iter().filter(|peer| ids.contains(*peer)).count();
                    (Arc::clone(name), count)
                })
                .filter(|(_, count)| *count > 0)
                .collect();
            let table_peers = own.map_or(0, HashSet::len);
            // Without a table of its own and with no peer in another's, the file is
            // simply updates-only, which the collector's warning says.
            if table_peers == 0 && elsewhere.is_empty() {
                continue;
            }
            warnings.push(CoverageWarning::UnmatchedPeers {
                input: reader.location().to_string(),
                collector: Arc::clone(reader.collector()),
                peers: peers.len(),
                table_peers,
                elsewhere,
            });
        }
        Coverage {
            collectors: by_name.into_values().collect(),
            warnings,
        }
    }

    /// Every collector, by name.
    pub fn collectors(&self) -> &[CollectorCoverage] {
        &self.collectors
    }

    /// One collector's coverage.
    pub fn collector(&self, name: &str) -> Option<&CollectorCoverage> {
        self.collectors
            .iter()
            .find(|coverage| &*coverage.collector == name)
    }

    /// Did a table dump of the peer's collector name the peer? A peer for which this
    /// is false has no table to tell whether it is full-feed.
    pub fn table_seen_for(&self, peer: &PeerKey) -> bool {
        self.collector(&peer.collector)
            .is_some_and(|coverage| coverage.table_peers.contains(peer))
    }

    /// Collectors with updates and no table dump.
    pub fn updates_only(&self) -> impl Iterator<Item = &CollectorCoverage> {
        self.collectors
            .iter()
            .filter(|coverage| coverage.updates_only())
    }

    /// What a user should be told: updates-only collectors first, then updates files
    /// whose peers match no table peer.
    pub fn warnings(&self) -> &[CoverageWarning] {
        &self.warnings
    }
}
