//! `merge` interleaves readers by time, ties in input order.

use crate::common::*;
use blackout_archive::{ArchiveInput, Location, ReaderOptions, merge, open};
use blackout_model::BgpInput;
use std::sync::Arc;

#[test]
fn merge_orders_by_time_and_keeps_every_input() {
    require_data!("merge_orders_by_time_and_keeps_every_input");
    let data = data_dir();
    let files = [
        "mrt/ris-rrc05_bview.20020722.2337.gz",
        "mrt/ris-rrc05_updates.20020722.2238.gz",
        "mrt/ris-rrc06_updates.20150401.0000.gz",
        "mrt/routeviews-jinx_updates.20150401.0000.bz2",
    ];
    let options = ReaderOptions::default();
    let readers = files
        .iter()
        .map(|f| {
            let input = ArchiveInput::from_location(Location::File(data.join(f)));
            open(&input, &options).expect("open")
        })
        .collect();
    let merged: Vec<BgpInput> = merge(readers).collect();
    let separate: usize = files
        .iter()
        .map(|f| read_file(&data.join(f), None).inputs.len())
        .sum();
    assert_eq!(merged.len(), separate);
    assert!(
        merged.windows(2).all(|w| w[0].at() <= w[1].at()),
        "not in time order"
    );
    // the 22:38 updates come before the 23:37 RIB although listed after it
    let first_rib = merged
        .iter()
        .position(|i| matches!(i, BgpInput::Route(r) if r.at.as_secs() == 1_027_381_055))
        .expect("RIB entries");
    assert!(
        merged[..first_rib]
            .iter()
            .any(|i| matches!(i, BgpInput::Route(_)))
    );
}

#[test]
fn ties_keep_the_input_order() {
    require_data!("ties_keep_the_input_order");
    let path = data_dir().join("mrt/ris-rrc06_updates.20150401.0000.gz");
    let readers = ["first", "second"]
        .iter()
        .map(|name| {
            let input = ArchiveInput {
                collector: Arc::from(*name),
                ..ArchiveInput::from_location(Location::File(path.clone()))
            };
            open(&input, &ReaderOptions::default()).expect("open")
        })
        .collect();
    let merged: Vec<BgpInput> = merge(readers).collect();
    let collector = |input: &BgpInput| match input {
        BgpInput::Route(r) => r.peer.collector.to_string(),
        BgpInput::PeerDown { peer, .. } | BgpInput::TableSize { peer, .. } => {
            peer.collector.to_string()
        }
    };
    for pair in merged.windows(2) {
        if pair[0].at() == pair[1].at() {
            assert!(
                !(collector(&pair[0]) == "second" && collector(&pair[1]) == "first"),
                "a tie went to the later input"
            );
        }
    }
    assert_eq!(
        merged.iter().filter(|i| collector(i) == "first").count() * 2,
        merged.len()
    );
}
