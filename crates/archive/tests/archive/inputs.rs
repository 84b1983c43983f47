//! `expand_inputs` over the real data directory.

use crate::common::*;
use blackout_archive::{DumpKind, Location, expand_inputs};

#[test]
fn a_data_directory_expands_to_its_mrt_files_in_time_order() {
    require_data!("a_data_directory_expands_to_its_mrt_files_in_time_order");
    let data = data_dir();
    let inputs = expand_inputs(&[data.display().to_string()], None).expect("expand");
    let files: Vec<String> = inputs
        .iter()
        .map(|input| match &input.location {
            Location::File(path) => path
                .strip_prefix(&data)
                .expect("under data")
                .display()
                .to_string(),
            Location::Url(url) => panic!("unexpected URL {url}"),
        })
        .collect();
    // the 38 MRT files, and none of the text, BMP, JSON or expected-output files
    assert_eq!(files.len(), 38, "{files:#?}");
    assert!(
        files
            .iter()
            .all(|f| f.starts_with("mrt") || f.starts_with("derived")),
        "{files:#?}"
    );
    let starts: Vec<_> = inputs.iter().map(|i| i.start).collect();
    assert!(starts.windows(2).all(|w| w[0] <= w[1]), "not in time order");
    let rrc06 = inputs
        .iter()
        .find(|i| matches!(&i.location, Location::File(p) if p.ends_with("ris-rrc06_updates.20150401.0000.gz")))
        .expect("rrc06 updates");
    assert_eq!(&*rrc06.collector, "rrc06");
    assert_eq!(rrc06.kind, DumpKind::Updates);
    assert_eq!(rrc06.start.map(|t| t.as_secs()), Some(1_427_846_400));
}

#[test]
fn a_rib_comes_before_updates_of_the_same_time() {
    require_data!("a_rib_comes_before_updates_of_the_same_time");
    let dir = tempfile::tempdir().expect("temp dir");
    let data = data_dir();
    let updates = dir.path().join("updates.20140523.0600.bz2");
    let rib = dir.path().join("rib.20140523.0600.bz2");
    let earlier = dir.path().join("updates.20140523.0545.bz2");
    for path in [&updates, &rib, &earlier] {
        std::fs::copy(
            data.join("mrt/routeviews2_rib.20140523.0600.first1MiB-truncated.bz2"),
            path,
        )
        .expect("copy");
    }
    let args: Vec<String> = [&updates, &rib, &earlier]
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let inputs = expand_inputs(&args, None).expect("expand");
    let kinds: Vec<DumpKind> = inputs.iter().map(|i| i.kind).collect();
    assert_eq!(kinds, [DumpKind::Updates, DumpKind::Rib, DumpKind::Updates]);
    assert!(matches!(&inputs[0].location, Location::File(p) if p == &earlier));
    // a directory without MRT is an error, as is a missing path
    let empty = tempfile::tempdir().expect("temp dir");
    std::fs::write(empty.path().join("README.md"), "not MRT").expect("write");
    assert!(expand_inputs(&[empty.path().display().to_string()], None).is_err());
    assert!(expand_inputs(&["/nonexistent/updates.20150401.0000.gz".to_string()], None).is_err());
}
