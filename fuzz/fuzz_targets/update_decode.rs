//! Arbitrary bytes as the body of a BGP UPDATE, in every session context.
//!
//! Invariants beyond "no panic": prefixes have no host bits set; path identifiers
//! appear exactly when the family uses ADD-PATH; a filter that wants nothing yields no
//! announcement and no path, and withdraws the same routes as one that wants all.

#![no_main]

use blackout_feeds::update::{UpdateContext, decode_update};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, body)) = data.split_first() else {
        return;
    };
    let ctx = UpdateContext {
        asn4: flags & 1 != 0,
        add_path_v4: flags & 2 != 0,
        add_path_v6: flags & 4 != 0,
    };
    let all = decode_update(body, &ctx, &|_| true);
    let none = decode_update(body, &ctx, &|_| false);
    assert_eq!(all.is_ok(), none.is_ok());
    let (Ok(all), Ok(none)) = (all, none) else {
        return;
    };
    for nlri in all.announced.iter().chain(&all.withdrawn) {
        assert_eq!(nlri.prefix, nlri.prefix.trunc(), "host bits set");
        let add_path = match nlri.prefix {
            ipnet::IpNet::V4(_) => ctx.add_path_v4,
            ipnet::IpNet::V6(_) => ctx.add_path_v6,
        };
        assert_eq!(nlri.path_id.is_some(), add_path);
    }
    assert!(none.announced.is_empty() && none.as_path.is_none());
    if !all.treat_as_withdraw {
        assert_eq!(none.withdrawn, all.withdrawn);
        assert_eq!(none.filtered as usize, all.announced.len());
    }
});
