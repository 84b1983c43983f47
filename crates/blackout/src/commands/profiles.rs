//! `blackout profiles`: the built-in profiles, one line each.

use crate::Failure;

pub fn run() -> Result<(), Failure> {
    for (name, _) in blackout_profile::BUILTIN {
        let profile = blackout_profile::builtin(name).map_err(|e| Failure::Work(e.into()))?;
        let prefixes = profile.announced_prefixes().len();
        let upstreams = profile.upstreams.iter().filter(|u| u.is_expected()).count();
        println!(
            "{name:<6} {} ({prefixes} prefixes, {upstreams} upstreams, {} hosts)",
            profile.description,
            profile.hosts.len()
        );
    }
    Ok(())
}
