//! Loads prefix-to-country files into one map and reports what each gave; with
//! `--lookups FILE`, times `country_of` (or, with `--first-address`, the country of
//! each prefix's first address) over the prefixes of FILE. `bench/geo.sh` runs it.
//!
//! ```text
//! cargo run --release -p blackout-geo --example geo -- [--lookups FILE] [--repeat N] [--first-address] [--show PREFIX]... FILE...
//! ```
//! FILE of lookups: one prefix (or address) per line as the first field (space, tab or
//! comma separated), plain or gzip; lines that are not prefixes are skipped. Prints
//! `key=value` lines so that scripts can read them.

use blackout_geo::{GeoMap, load_files};
use blackout_model::CountryLookup;
use flate2::read::MultiGzDecoder;
use ipnet::IpNet;
use std::io::Read;
use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Instant;

struct Args {
    files: Vec<String>,
    lookups: Option<String>,
    repeat: usize,
    first_address: bool,
    show: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        files: Vec::new(),
        lookups: None,
        repeat: 1,
        first_address: false,
        show: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--lookups" => args.lookups = Some(it.next().ok_or("--lookups needs a file")?),
            "--repeat" => {
                args.repeat = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or("--repeat needs a number")?
            }
            "--first-address" => args.first_address = true,
            "--show" => args.show.push(it.next().ok_or("--show needs a prefix")?),
            _ => args.files.push(arg),
        }
    }
    if args.files.is_empty() {
        return Err(
            "usage: geo [--lookups FILE] [--repeat N] [--first-address] [--show PREFIX]... FILE..."
                .into(),
        );
    }
    Ok(args)
}

fn read_prefixes(path: &str) -> Result<Vec<IpNet>, String> {
    let raw = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let mut text = String::new();
    if raw.starts_with(&[0x1f, 0x8b]) {
        MultiGzDecoder::new(&raw[..])
            .read_to_string(&mut text)
            .map_err(|e| format!("{path}: {e}"))?;
    } else {
        text = String::from_utf8_lossy(&raw).into_owned();
    }
    Ok(text
        .lines()
        .filter_map(|line| line.split([' ', '\t', ',']).next())
        .filter_map(|field| {
            field
                .parse::<IpNet>()
                .ok()
                .or_else(|| field.parse::<IpAddr>().ok().map(IpNet::from))
        })
        .collect())
}

/// Times `repeat` passes over the prefixes, after one untimed pass (so that 1x does
/// not measure the first touch of a freshly built map's pages).
fn time_lookups(map: &GeoMap, prefixes: &[IpNet], repeat: usize, first_address: bool) {
    let pass = || {
        prefixes
            .iter()
            .filter(|prefix| {
                if first_address {
                    map.country_at(prefix.network()).is_some()
                } else {
                    map.country_of(prefix).is_some()
                }
            })
            .count()
    };
    let warm = pass();
    let started = Instant::now();
    let mut known = 0usize;
    for _ in 0..repeat {
        known += pass();
    }
    assert_eq!(
        known,
        warm * repeat,
        "the same lookups gave different answers"
    );
    let seconds = started.elapsed().as_secs_f64();
    let lookups = prefixes.len() * repeat;
    println!("lookups={lookups}");
    println!("lookup_known={known}");
    println!("lookup_seconds={seconds:.6}");
    println!(
        "lookups_per_second={:.0}",
        lookups as f64 / seconds.max(1e-9)
    );
}

/// FNV-1a over the map's ranges as text: equal maps give equal digests, so that
/// scripts can tell whether two files hold the same map.
fn digest(map: &GeoMap) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for range in map.ranges() {
        for byte in range.to_string().bytes().chain([b'\n']) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let loaded = match load_files(&args.files) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(1);
        }
    };
    println!("load_seconds={:.6}", started.elapsed().as_secs_f64());
    for report in &loaded.reports {
        println!("report={report}");
        for problem in &report.problems {
            println!("problem={problem}");
        }
    }
    let map = &loaded.map;
    println!("ipv4_ranges={}", map.ipv4_range_count());
    println!("ipv6_ranges={}", map.ipv6_range_count());
    println!("countries={}", map.countries().len());
    println!("asn_blocks={}", loaded.asns.len());
    println!("digest={:016x}", digest(map));
    for text in &args.show {
        let answer = text.parse::<IpNet>().map(|p| {
            map.country_of(&p)
                .map_or("unknown".to_string(), |c| c.to_string())
        });
        println!(
            "show {text}={}",
            answer.unwrap_or_else(|_| "not a prefix".into())
        );
    }
    if let Some(path) = &args.lookups {
        let prefixes = match read_prefixes(path) {
            Ok(p) => p,
            Err(message) => {
                eprintln!("{message}");
                return ExitCode::from(1);
            }
        };
        time_lookups(map, &prefixes, args.repeat, args.first_address);
    }
    ExitCode::SUCCESS
}
