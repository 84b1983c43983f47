//! Coverage (issue 13): which collectors had a table dump among the inputs, which
//! peers it named, and the warnings about updates without one or with peers that match
//! none of its peers; with archives under names of one's own. Real files from
//! ../shared/data, copied under other names in a temp dir; without the data each test
//! says it was skipped, and why, and passes.

use crate::common::*;
use blackout_archive::{
    ArchiveInput, Coverage, CoverageWarning, DumpKind, Merged, ReaderOptions, UNNAMED_COLLECTOR,
    expand_inputs, merge, open,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// RIS rrc05 on 2002-07-22: a RIB of 36 peers, and the updates of the hour before it,
/// from 3 of those peers.
const RIB: &str = "mrt/ris-rrc05_bview.20020722.2337.gz";
const UPDATES: &str = "mrt/ris-rrc05_updates.20020722.2238.gz";

fn open_all(inputs: &[ArchiveInput], options: &ReaderOptions) -> Merged {
    merge(
        inputs
            .iter()
            .map(|input| open(input, options).expect("open"))
            .collect(),
    )
}

/// Every input read to its end; the coverage then.
fn read_through(inputs: &[ArchiveInput]) -> Coverage {
    let mut merged = open_all(inputs, &ReaderOptions::default());
    merged.by_ref().for_each(drop);
    merged.coverage()
}

fn copy(from: &Path, to: PathBuf) -> String {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::copy(from, &to).expect("copy");
    to.display().to_string()
}

fn rrc05(test: &str) -> Option<(PathBuf, PathBuf)> {
    Some((
        data_file_or_skip(test, RIB)?,
        data_file_or_skip(test, UPDATES)?,
    ))
}

#[test]
fn a_rib_and_updates_under_names_of_ones_own_are_one_collector_with_a_table() {
    let test = "a_rib_and_updates_under_names_of_ones_own_are_one_collector_with_a_table";
    let Some((rib, updates)) = rrc05(test) else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let args = [
        copy(&updates, dir.path().join("mydump.updates.mrt")),
        copy(&rib, dir.path().join("mydump.rib.mrt")),
    ];
    let inputs = expand_inputs(&args, None).expect("expand");
    assert!(
        inputs
            .iter()
            .all(|input| &*input.collector == UNNAMED_COLLECTOR)
    );
    // names without a time keep their order, but a RIB comes before updates
    assert_eq!(
        inputs.iter().map(|i| i.kind).collect::<Vec<_>>(),
        [DumpKind::Rib, DumpKind::Updates]
    );
    let coverage = read_through(&inputs);
    assert_eq!(coverage.collectors().len(), 1);
    let collector = &coverage.collectors()[0];
    assert!(collector.table_seen());
    assert_eq!((collector.table_inputs, collector.update_inputs), (1, 1));
    assert_eq!(collector.table_peers.len(), 36);
    assert_eq!(collector.update_peers.len(), 3);
    assert_eq!(collector.peers_without_table().count(), 0);
    assert!(
        collector
            .update_peers
            .iter()
            .all(|peer| coverage.table_seen_for(peer))
    );
    assert_eq!(coverage.warnings(), []);
}

#[test]
fn a_rib_filed_under_another_collector_is_warned_of_and_a_given_collector_mends_it() {
    let test = "a_rib_filed_under_another_collector_is_warned_of_and_a_given_collector_mends_it";
    let Some((rib, updates)) = rrc05(test) else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let args = [
        copy(&rib, dir.path().join("rrc05/bview.20020722.2337.gz")),
        copy(&updates, dir.path().join("updates.20020722.2238.gz")),
    ];
    let inputs = expand_inputs(&args, None).expect("expand");
    let coverage = read_through(&inputs);
    let unnamed: Arc<str> = Arc::from(UNNAMED_COLLECTOR);
    assert_eq!(
        coverage.warnings(),
        [
            CoverageWarning::UpdatesOnly {
                collector: Arc::clone(&unnamed),
                update_inputs: 1,
            },
            CoverageWarning::UnmatchedPeers {
                input: args[1].clone(),
                collector: Arc::clone(&unnamed),
                peers: 3,
                table_peers: 0,
                elsewhere: vec![(Arc::from("rrc05"), 3)],
            },
        ]
    );
    let text = coverage.warnings()[1].to_string();
    assert!(
        text.ends_with(
            "updates.20020722.2238.gz: its 3 peers match no RIB peer: collector unnamed has \
             no table dump; 3 of them are in the table dump of collector rrc05"
        ),
        "{text}"
    );
    assert!(
        !coverage
            .collector(UNNAMED_COLLECTOR)
            .expect("unnamed")
            .table_seen()
    );

    // one collector for all: the peers meet
    let inputs = expand_inputs(&args, Some("rrc05")).expect("expand");
    let coverage = read_through(&inputs);
    assert_eq!(coverage.collectors().len(), 1);
    assert_eq!(coverage.warnings(), []);
}

#[test]
fn updates_only_are_known_before_anything_is_read() {
    let test = "updates_only_are_known_before_anything_is_read";
    let Some(updates) = data_file_or_skip(test, "mrt/ris-rrc06_updates.20150401.0000.gz") else {
        return;
    };
    let inputs = expand_inputs(&[updates.display().to_string()], None).expect("expand");
    let merged = open_all(&inputs, &ReaderOptions::default());
    let coverage = merged.coverage();
    let only: Vec<&str> = coverage.updates_only().map(|c| &*c.collector).collect();
    assert_eq!(only, ["rrc06"]);
    assert_eq!(
        coverage
            .warnings()
            .first()
            .map(ToString::to_string)
            .as_deref(),
        Some(
            "collector rrc06: updates only (1 file), no table dump (RIB) among the inputs: its \
             peers' tables were never seen, so which of them are full-feed is unknown and no \
             outage verdict rests on them"
        )
    );
}

#[test]
fn a_table_dump_v2_names_its_peers_before_its_routes_are_read() {
    let test = "a_table_dump_v2_names_its_peers_before_its_routes_are_read";
    let Some(rib) = data_file_or_skip(
        test,
        "mrt/routeviews2_rib.20140523.0600.first1MiB-truncated.bz2",
    ) else {
        return;
    };
    let inputs = expand_inputs(&[rib.display().to_string()], None).expect("expand");
    let merged = open_all(&inputs, &ReaderOptions::default());
    // merge has read one input from each reader: the peer index and the first RIB record
    assert!(merged.stats()[0].records <= 2);
    let coverage = merged.coverage();
    let collector = coverage.collector("route-views2").expect("route-views2");
    assert!(collector.table_seen());
    // the peer index names 47 peers; 35 of them have routes in the file's first MiB
    assert_eq!(collector.table_peers.len(), 47);
}
