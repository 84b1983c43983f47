//! Prints the BMP messages of a capture file, one line each (a debugging aid).

use blackout_feeds::bmp::{BmpFramer, decode};

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: dump_bmp FILE");
        std::process::exit(2);
    };
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    let mut framer = BmpFramer::new();
    framer.push(&bytes);
    loop {
        match framer.next_message() {
            Ok(Some(message)) => println!("{:?}", decode(message)),
            Ok(None) => break,
            Err(e) => {
                eprintln!("{path}: {e}");
                std::process::exit(1);
            }
        }
    }
}
