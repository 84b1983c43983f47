//! Prints every input of one archive, one per line (a debugging aid).
//!
//! `cargo run -p blackout-archive --example dump -- FILE`

use blackout_archive::{ArchiveInput, Location, ReaderOptions, open};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for arg in std::env::args().skip(1) {
        let input = ArchiveInput::from_location(Location::File(arg.into()));
        let mut reader = open(&input, &ReaderOptions::default())?;
        for item in reader.by_ref() {
            println!("{item:?}");
        }
        eprintln!("{:?}", reader.stats());
    }
    Ok(())
}
