//! Getting an archive's bytes: local files and http(s) URLs (through a cache), the
//! decompressor picked by magic bytes, and the progress counter.
//!
//! A URL is streamed: the body is written to a temporary file in the cache directory
//! while the reader decodes it, and the file is renamed to its final name only when the
//! body arrived whole, so a later run reuses it and an interrupted one leaves nothing
//! that looks complete.

use crate::framing::mrt_start;
use crate::input::Location;
use crate::stream::PeekStream;
use crate::{ArchiveError, ArchiveInput, ReaderOptions};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How far the reader has got through its input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Bytes of the input as stored (compressed) read so far.
    pub read: u64,
    /// The input's stored size, when known.
    pub total: Option<u64>,
}

/// A handle on a reader's progress that another thread can poll while the reader runs.
#[derive(Clone, Debug, Default)]
pub struct ProgressHandle {
    read: Arc<AtomicU64>,
    total: Option<u64>,
}

impl ProgressHandle {
    /// The progress now.
    pub fn get(&self) -> Progress {
        Progress {
            read: self.read.load(Ordering::Relaxed),
            total: self.total,
        }
    }
}

/// Counts the bytes that pass through it.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(out)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// The stored bytes of an input, and its progress handle.
pub(crate) fn open_stored(
    input: &ArchiveInput,
    options: &ReaderOptions,
) -> Result<(Box<dyn Read + Send>, ProgressHandle), ArchiveError> {
    match &input.location {
        Location::File(path) => open_file(path),
        Location::Url(url) => {
            let cached = options.cache_dir.join(cache_name(url));
            if cached.is_file() {
                let url = blackout_model::text::redact_url(url);
                tracing::debug!(%url, cache = %cached.display(), "reusing cached archive");
                return open_file(&cached);
            }
            download(url, &options.cache_dir, cached)
        }
    }
}

fn open_file(path: &Path) -> Result<(Box<dyn Read + Send>, ProgressHandle), ArchiveError> {
    let file = File::open(path).map_err(|source| ArchiveError::io("open", path, source))?;
    let total = file.metadata().ok().map(|metadata| metadata.len());
    let read = Arc::new(AtomicU64::new(0));
    let counting = Counting {
        inner: file,
        read: Arc::clone(&read),
    };
    Ok((Box::new(counting), ProgressHandle { read, total }))
}

/// The cache file of a URL: a hash of the whole URL (so distinct URLs never share a
/// file) followed by the readable file name.
pub(crate) fn cache_name(url: &str) -> String {
    // FNV-1a: stable across runs and platforms, unlike std's hasher.
    let hash = url.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    let base = url
        .split(['?', '#'])
        .next()
        .and_then(|path| path.rsplit('/').next())
        .unwrap_or("");
    let base: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{hash:016x}-{base}")
}

fn download(
    url: &str,
    cache_dir: &Path,
    cached: PathBuf,
) -> Result<(Box<dyn Read + Send>, ProgressHandle), ArchiveError> {
    std::fs::create_dir_all(cache_dir)
        .map_err(|source| ArchiveError::io("create cache directory", cache_dir, source))?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .build()
        .into();
    let response = agent.get(url).call().map_err(|error| ArchiveError::Http {
        url: blackout_model::text::redact_url(url),
        // ureq's message may quote the URL itself.
        message: error
            .to_string()
            .replace(url, &blackout_model::text::redact_url(url)),
    })?;
    let body = response.into_body();
    let total = body.content_length();
    let temp = cache_dir.join(format!(
        ".{}.part-{}",
        cached
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("archive"),
        std::process::id()
    ));
    let file = File::create(&temp)
        .map_err(|source| ArchiveError::io("create cache file", &temp, source))?;
    let read = Arc::new(AtomicU64::new(0));
    let tee = CacheTee {
        inner: Some(body.into_reader()),
        file: Some(io::BufWriter::new(file)),
        temp,
        cached,
        expected: total,
        written: 0,
    };
    let counting = Counting {
        inner: tee,
        read: Arc::clone(&read),
    };
    Ok((Box::new(counting), ProgressHandle { read, total }))
}

/// Copies a download into the cache as it is read; renames the copy into place when
/// the body ends whole, and removes it when the reader is dropped early.
struct CacheTee<R> {
    inner: Option<R>,
    file: Option<io::BufWriter<File>>,
    temp: PathBuf,
    cached: PathBuf,
    expected: Option<u64>,
    written: u64,
}

impl<R: Read> Read for CacheTee<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let Some(inner) = self.inner.as_mut() else {
            return Ok(0);
        };
        let n = inner.read(out)?;
        if let Some(file) = self.file.as_mut() {
            if n > 0 {
                file.write_all(&out[..n])?;
                self.written += n as u64;
            } else {
                self.complete()?;
            }
        }
        if n == 0 {
            self.inner = None;
        }
        Ok(n)
    }
}

impl<R> CacheTee<R> {
    fn complete(&mut self) -> io::Result<()> {
        let Some(file) = self.file.take() else {
            return Ok(());
        };
        if self
            .expected
            .is_some_and(|expected| expected != self.written)
        {
            drop(file);
            let _ = std::fs::remove_file(&self.temp);
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "download ended after {} of {} bytes",
                    self.written,
                    self.expected.unwrap_or_default()
                ),
            ));
        }
        let file = file.into_inner().map_err(|error| error.into_error())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&self.temp, &self.cached)?;
        tracing::debug!(cache = %self.cached.display(), bytes = self.written, "archive cached");
        Ok(())
    }
}

impl<R> Drop for CacheTee<R> {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// The compression of a stream, told by its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Compression {
    Gzip,
    Bzip2,
    Plain,
}

impl Compression {
    fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Bzip2 => "bzip2",
            Compression::Plain => "plain",
        }
    }
}

/// Why a stream ended before its end, as the reader reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum StreamFailure {
    /// The data decompressed, but a gzip trailer's CRC-32 or length does not match it.
    Checksum(String),
    /// The stored data ends early: a cut download or file.
    Truncated(String),
    /// Anything else: corrupt compressed data, an I/O error.
    Other(String),
}

/// Names a read error of a decompressed stream, `at` its decompressed offset.
pub(crate) fn classify_failure(
    compression: Compression,
    error: &std::io::Error,
    at: u64,
) -> StreamFailure {
    // flate2 reports a trailer mismatch (CRC-32 or ISIZE) with this one message and
    // kind; the unit test below pins it, so an upgrade that changes it is noticed.
    let checksum = compression == Compression::Gzip
        && error.kind() == io::ErrorKind::InvalidInput
        && error.to_string().contains("checksum");
    if checksum {
        return StreamFailure::Checksum(format!(
            "gzip checksum error at decompressed offset {at}: the gzip trailer's CRC-32 or \
             length does not match the data, some of which may be damaged"
        ));
    }
    if error.kind() == io::ErrorKind::UnexpectedEof {
        return StreamFailure::Truncated(format!(
            "the {} data ends early, at decompressed offset {at}: the file is truncated \
             ({error})",
            compression.name()
        ));
    }
    StreamFailure::Other(match compression {
        Compression::Plain => format!("read failed at offset {at}: {error}"),
        Compression::Bzip2 => format!(
            "bzip2 data error at decompressed offset {at}: a block's checksum does not \
             match or the data is corrupt ({error}); the rest of the file is lost"
        ),
        Compression::Gzip => format!(
            "gzip data error at decompressed offset {at}: {error}; the rest of the file is lost"
        ),
    })
}

/// Wraps the stored bytes in the decompressor their magic bytes call for.
pub(crate) fn decompress(
    stored: Box<dyn Read + Send>,
) -> io::Result<(Box<dyn Read + Send>, Compression)> {
    let mut buffered = BufReader::with_capacity(128 * 1024, stored);
    let magic = {
        let head = buffered.fill_buf()?;
        head.get(..3).map(|m| [m[0], m[1], m[2]])
    };
    Ok(match magic {
        Some([0x1f, 0x8b, _]) => (
            Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
            Compression::Gzip,
        ),
        Some([b'B', b'Z', b'h']) => (
            Box::new(bzip2::bufread::MultiBzDecoder::new(buffered)),
            Compression::Bzip2,
        ),
        _ => (Box::new(buffered), Compression::Plain),
    })
}

/// Opens the decompressed stream and checks that it starts with an MRT header.
/// An empty stream is accepted: collectors publish empty update files.
pub(crate) fn open_mrt(
    stored: Box<dyn Read + Send>,
    location: &str,
) -> Result<(PeekStream, Compression), ArchiveError> {
    let not_mrt = |reason: String| ArchiveError::NotMrt {
        location: location.to_string(),
        reason,
    };
    let (decompressed, compression) =
        decompress(stored).map_err(|error| not_mrt(format!("cannot read it: {error}")))?;
    let mut stream = PeekStream::new(decompressed);
    let available = stream.fill(12);
    if available < 12
        && let Some((error, _)) = stream.failure()
    {
        return Err(not_mrt(format!(
            "its {} data cannot be decompressed: {error}",
            compression.name()
        )));
    }
    if available == 0 {
        return Ok((stream, compression));
    }
    let head = stream.peek();
    let text = head
        .iter()
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
    if available < 12 {
        return Err(not_mrt(if text {
            format!("it is text ({:?})", String::from_utf8_lossy(head))
        } else {
            format!("it holds {available} bytes, fewer than one MRT header")
        }));
    }
    if mrt_start(stream.peek()).is_none() {
        let head = &stream.peek()[..12];
        return Err(not_mrt(if text {
            format!("it starts with text ({:?})", String::from_utf8_lossy(head))
        } else {
            format!("its first 12 bytes ({head:02x?}) are not an MRT header of a known type")
        }));
    }
    Ok((stream, compression))
}

/// True when a file's first decompressed bytes are an MRT header.
pub(crate) fn sniff_file(path: &Path) -> bool {
    let Ok((stored, _)) = open_file(path) else {
        return false;
    };
    match open_mrt(stored, "") {
        Ok((mut stream, _)) => stream.fill(12) >= 12,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).expect("gzip");
        encoder.finish().expect("gzip")
    }

    /// Decompresses `stored` to its end and names how it failed.
    fn failure_of(stored: Vec<u8>) -> Option<StreamFailure> {
        let (decompressed, compression) =
            decompress(Box::new(io::Cursor::new(stored))).expect("open");
        let mut stream = PeekStream::new(decompressed);
        let mut all = Vec::new();
        stream
            .read_to_end(&mut all)
            .expect("the failure is kept, not returned");
        stream
            .failure()
            .map(|(error, at)| classify_failure(compression, error, at))
    }

    #[test]
    fn gzip_failures_are_named() {
        let data: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_be_bytes())
            .collect();
        let good = gzip(&data);
        assert_eq!(failure_of(good.clone()), None);
        // the trailer: CRC-32, then the length
        for at in [good.len() - 8, good.len() - 1] {
            let mut bad = good.clone();
            bad[at] ^= 0x55;
            match failure_of(bad) {
                Some(StreamFailure::Checksum(text)) => {
                    assert!(
                        text.starts_with("gzip checksum error at decompressed offset 400000"),
                        "{text}"
                    );
                }
                other => panic!("{other:?}"),
            }
        }
        let cut = good[..good.len() / 2].to_vec();
        assert!(matches!(failure_of(cut), Some(StreamFailure::Truncated(_))));
    }
}
