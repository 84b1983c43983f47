//! Streaming an archive over HTTP from a server on 127.0.0.1, through the cache.

use crate::common::*;
use blackout_archive::{ArchiveError, ArchiveInput, Location, ReaderOptions, open};
use blackout_model::BgpInput;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Serves `body` at `/<name>` (404 elsewhere) until the test ends; counts requests.
fn serve(name: &'static str, body: Vec<u8>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let address = listener.local_addr().expect("address");
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&requests);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            counter.fetch_add(1, Ordering::SeqCst);
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                    break;
                }
            }
            let path = request_line.split_whitespace().nth(1).unwrap_or("");
            let response = if path.ends_with(&format!("/{name}")) {
                let mut response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                response.extend_from_slice(&body);
                response
            } else {
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
            };
            let _ = stream.write_all(&response);
        }
    });
    (format!("http://{address}"), requests)
}

#[test]
fn a_url_is_streamed_cached_and_reused() {
    require_data!("a_url_is_streamed_cached_and_reused");
    let path = data_dir().join("mrt/ris-rrc06_updates.20150401.0000.gz");
    let body = std::fs::read(&path).expect("data file");
    let size = body.len() as u64;
    let name = "updates.20150401.0000.gz";
    let (base, requests) = serve(name, body);
    let url = format!("{base}/rrc06/2015.04/{name}");
    let cache = tempfile::tempdir().expect("temp dir");
    let options = ReaderOptions {
        watch: None,
        cache_dir: cache.path().to_path_buf(),
    };
    let input = ArchiveInput::from_location(Location::Url(url.clone()));
    assert_eq!(&*input.collector, "rrc06");
    let expected = read_file(&path, None);

    let mut reader = open(&input, &options).expect("open URL");
    let inputs: Vec<BgpInput> = reader.by_ref().collect();
    assert_eq!(
        inputs.iter().filter_map(route_line).collect::<Vec<_>>(),
        expected.lines
    );
    assert_eq!(reader.progress().read, size);
    assert_eq!(reader.progress().total, Some(size));
    drop(reader);
    assert_eq!(requests.load(Ordering::SeqCst), 1);
    let cached: Vec<_> = std::fs::read_dir(cache.path())
        .expect("cache dir")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(
        cached.len(),
        1,
        "one complete file, no leftovers: {cached:?}"
    );
    assert_eq!(std::fs::metadata(&cached[0]).expect("cached").len(), size);

    // the second open reads the cache, not the server
    let mut again = open(&input, &options).expect("open cached URL");
    assert_eq!(
        again
            .by_ref()
            .filter(|i| matches!(i, BgpInput::Route(_)))
            .count(),
        expected.lines.len()
    );
    assert_eq!(requests.load(Ordering::SeqCst), 1);

    // a reader dropped early leaves no partial file behind, and caches nothing
    let cache2 = tempfile::tempdir().expect("temp dir");
    let options2 = ReaderOptions {
        watch: None,
        cache_dir: cache2.path().to_path_buf(),
    };
    let early = ArchiveInput::from_location(Location::Url(format!("{base}/{name}")));
    let mut reader = open(&early, &options2).expect("open URL");
    let _ = reader.next();
    drop(reader);
    assert_eq!(
        std::fs::read_dir(cache2.path()).expect("cache dir").count(),
        0
    );

    // a missing file is an HTTP error naming the URL
    let missing = ArchiveInput::from_location(Location::Url(format!("{base}/nothing.gz")));
    match open(&missing, &options) {
        Err(error @ ArchiveError::Http { .. }) => assert!(error.to_string().contains("nothing.gz")),
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("a 404 was read"),
    }
}
