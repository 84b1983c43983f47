//! Several readers as one stream in time order: a RIB followed by update files, or the
//! archives of several collectors side by side.
//!
//! A k-way merge over the readers' next inputs; each reader is assumed to be in time
//! order itself (collectors write them so). Ties go to the reader given first, so a RIB
//! listed before the updates of its minute stays before them.

use crate::{ArchiveReader, Coverage, Progress, ReadStats};
use blackout_model::{BgpInput, Timestamp};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// The merged stream of [`merge`].
pub struct Merged {
    readers: Vec<ArchiveReader>,
    heads: Vec<Option<BgpInput>>,
    order: BinaryHeap<Reverse<(Timestamp, usize)>>,
}

/// Merges readers by time; ties are broken by the order of `readers`.
pub fn merge(readers: Vec<ArchiveReader>) -> Merged {
    let mut merged = Merged {
        heads: Vec::with_capacity(readers.len()),
        order: BinaryHeap::with_capacity(readers.len()),
        readers,
    };
    for index in 0..merged.readers.len() {
        let head = merged.readers.get_mut(index).and_then(Iterator::next);
        if let Some(input) = &head {
            merged.order.push(Reverse((input.at(), index)));
        }
        merged.heads.push(head);
    }
    merged
}

impl Merged {
    /// The readers' statistics, in the order the readers were given.
    pub fn stats(&self) -> Vec<ReadStats> {
        self.readers.iter().map(ArchiveReader::stats).collect()
    }

    /// The readers' progress added up; the total is known when every reader's is.
    pub fn progress(&self) -> Progress {
        let all: Vec<Progress> = self.readers.iter().map(ArchiveReader::progress).collect();
        Progress {
            read: all.iter().map(|progress| progress.read).sum(),
            total: all.iter().map(|progress| progress.total).sum(),
        }
    }

    /// What the inputs hold per collector, as far as read: right after [`merge`] every
    /// reader has read its first record (and a TABLE_DUMP_V2 RIB its peer index); once
    /// the merged stream has ended, everything.
    pub fn coverage(&self) -> Coverage {
        Coverage::of(&self.readers)
    }

    /// The readers themselves, e.g. for their progress handles, locations and stats.
    pub fn readers(&self) -> &[ArchiveReader] {
        &self.readers
    }
}

impl Iterator for Merged {
    type Item = BgpInput;

    fn next(&mut self) -> Option<BgpInput> {
        let Reverse((_, index)) = self.order.pop()?;
        let input = self.heads.get_mut(index)?.take();
        let next = self.readers.get_mut(index).and_then(Iterator::next);
        if let Some(next_input) = &next {
            self.order.push(Reverse((next_input.at(), index)));
        }
        if let Some(head) = self.heads.get_mut(index) {
            *head = next;
        }
        input
    }
}
