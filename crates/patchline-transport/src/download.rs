//! Downloads that survive real networks.
//!
//! Bytes go to a [`Sink`] as they arrive (the caller hashes and writes
//! them), so memory stays the same whatever the file's size. When the
//! transfer breaks, the next attempt asks for the rest with a `Range`
//! request and accepts it only if `Content-Range` starts exactly at the
//! bytes already written; a server that ignores ranges, or answers another
//! range, makes the sink start over from zero; so does a break in an
//! answer that never said its length (an error page ended by closing the
//! connection is not the start of the file). Bytes are never appended
//! twice. A `Content-Length` that disagrees with the published size stops
//! the download before any byte is written (an HTML error page served as
//! `200`, say). Long downloads log their progress every few seconds.

use std::io::{self, Read};
use std::time::{Duration, Instant};

use patchline_core::secret::redact_url;

use crate::exchange::{io_failure, Failure, Opened};
use crate::retry::Retry;
use crate::{Location, Request, Transport, TransportError};

/// Where a download's bytes go.
pub trait Sink {
    /// Take the next bytes of the file.
    fn write(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Return how many bytes were taken since the start (or last restart).
    fn written(&self) -> u64;
    /// Forget every byte taken: the download starts over from zero.
    fn restart(&mut self) -> io::Result<()>;
}

/// The size of one read.
const CHUNK: usize = 1 << 20;

impl Transport {
    /// Download `request` into `sink`. `size` is the published size, when
    /// known. `label` names the file in progress lines. Returns the number
    /// of bytes the sink holds.
    pub fn download(
        &self,
        request: &Request,
        size: Option<u64>,
        label: &str,
        sink: &mut dyn Sink,
    ) -> Result<u64, TransportError> {
        if let Location::Path(path) = Location::parse(&request.url)? {
            return copy_local(&path, sink);
        }
        let mut progress = Progress::new(self, label, size);
        // Bytes are resumed from only when the answer that brought them
        // said how long it was: a page that ends by closing the connection
        // (an error page without a length) is not the start of the file.
        let mut resumable = false;
        self.with_retries(request, |_| {
            if sink.written() > 0 && !resumable {
                self.log(&format!(
                    "{}: the answer did not say its length, so its bytes cannot be resumed from; starting over from zero",
                    redact_url(&request.url)
                ));
                sink.restart()
                    .map_err(|err| sink_failure(&request.url, err))?;
            }
            let offset = sink.written();
            if offset > 0 && size == Some(offset) {
                // Every byte arrived before the connection broke.
                return Ok(());
            }
            let mut extra = vec![("Accept-Encoding", "identity".to_string())];
            if offset > 0 {
                extra.push(("Range", format!("bytes={offset}-")));
            }
            let opened = self.open(request, &extra)?;
            let start = self.accept(&opened, offset, size, sink)?;
            if start == 0 && offset > 0 {
                sink.restart()
                    .map_err(|err| sink_failure(&opened.url, err))?;
            }
            resumable = start > 0 || opened.header("content-length").is_some();
            let url = opened.url.clone();
            stream(opened.body.into_reader(), sink, &mut progress).map_err(
                |(err, from_sink)| {
                    if from_sink {
                        sink_failure(&url, err)
                    } else {
                        io_failure(&url, &err)
                    }
                },
            )?;
            if let Some(size) = size {
                if sink.written() < size {
                    return Err(Failure {
                        error: TransportError::Http {
                            url: redact_url(&url),
                            reason: format!(
                                "the transfer ended at {} of {size} bytes",
                                sink.written()
                            ),
                        },
                        retry: Retry::Backoff,
                    });
                }
            }
            Ok(())
        })?;
        progress.finish(sink.written());
        Ok(sink.written())
    }

    /// Decide where the answer's bytes start: 0 for a whole file, `offset`
    /// for the rest of it. Anything else is a failure.
    fn accept(
        &self,
        opened: &Opened,
        offset: u64,
        size: Option<u64>,
        sink: &mut dyn Sink,
    ) -> Result<u64, Failure> {
        let shown = redact_url(&opened.url);
        match opened.status {
            200 => {
                if offset > 0 {
                    self.log(&format!(
                        "{shown}: the server ignored the range request; starting over from zero"
                    ));
                }
                let length: Option<u64> =
                    opened.header("content-length").and_then(|v| v.parse().ok());
                if let (Some(length), Some(size)) = (length, size) {
                    if length != size {
                        return Err(Failure::final_(TransportError::Http {
                            url: shown,
                            reason: format!(
                                "the server sends {length} bytes ({}) but the feed publishes {size}",
                                opened.header("content-type").unwrap_or("no content type")
                            ),
                        }));
                    }
                }
                Ok(0)
            }
            206 if offset > 0 => {
                let range = opened.header("content-range").unwrap_or_default();
                if range_start(range) == Some(offset) {
                    self.log(&format!("{shown}: resuming at byte {offset}"));
                    return Ok(offset);
                }
                // A wrong range is never spliced in: forget what we have
                // and ask for the whole file again.
                self.log(&format!(
                    "{shown}: asked for bytes from {offset}, got {range:?}; starting over from zero"
                ));
                sink.restart()
                    .map_err(|err| sink_failure(&opened.url, err))?;
                Err(Failure {
                    error: TransportError::Http {
                        url: shown,
                        reason: format!("the server answered the wrong range {range:?}"),
                    },
                    retry: Retry::Now,
                })
            }
            _ => Err(opened.failure()),
        }
    }
}

/// Return the first byte of a `Content-Range: bytes FIRST-LAST/TOTAL`.
fn range_start(header: &str) -> Option<u64> {
    let range = header.trim().strip_prefix("bytes ")?;
    range.split('-').next()?.trim().parse().ok()
}

fn sink_failure(url: &str, err: io::Error) -> Failure {
    Failure::final_(TransportError::Sink {
        url: redact_url(url),
        reason: err,
    })
}

/// Copy `reader` into `sink`; on failure say whether the sink failed.
fn stream(
    mut reader: impl Read,
    sink: &mut dyn Sink,
    progress: &mut Progress,
) -> Result<(), (io::Error, bool)> {
    let mut buffer = vec![0u8; CHUNK];
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err((err, false)),
        };
        sink.write(&buffer[..n]).map_err(|err| (err, true))?;
        progress.update(sink.written());
    }
}

fn copy_local(path: &std::path::Path, sink: &mut dyn Sink) -> Result<u64, TransportError> {
    let shown = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| TransportError::Local {
        path: shown.clone(),
        source,
    })?;
    let mut reader = io::BufReader::with_capacity(CHUNK, file);
    let mut buffer = vec![0u8; CHUNK];
    loop {
        let n = reader
            .read(&mut buffer)
            .map_err(|source| TransportError::Local {
                path: shown.clone(),
                source,
            })?;
        if n == 0 {
            return Ok(sink.written());
        }
        sink.write(&buffer[..n])
            .map_err(|reason| TransportError::Sink {
                url: shown.clone(),
                reason,
            })?;
    }
}

/// Progress lines: one every `progress_every`, never a carriage return,
/// so Concourse's build log stays readable.
struct Progress<'a> {
    transport: &'a Transport,
    label: String,
    size: Option<u64>,
    started: Instant,
    last_line: Instant,
    bytes_at_last_line: u64,
}

impl<'a> Progress<'a> {
    fn new(transport: &'a Transport, label: &str, size: Option<u64>) -> Self {
        let now = Instant::now();
        Progress {
            transport,
            label: label.to_string(),
            size,
            started: now,
            last_line: now,
            bytes_at_last_line: 0,
        }
    }

    fn update(&mut self, written: u64) {
        let every = self.transport.config.progress_every;
        let since = self.last_line.elapsed();
        if since < every {
            return;
        }
        let rate = written.saturating_sub(self.bytes_at_last_line) as f64 / since.as_secs_f64();
        let mut line = format!("{}: {}", self.label, human_bytes(written));
        if let Some(size) = self.size.filter(|size| *size > 0) {
            line.push_str(&format!(
                " of {} ({:.0}%)",
                human_bytes(size),
                written as f64 * 100.0 / size as f64
            ));
        }
        line.push_str(&format!(", {}/s", human_bytes(rate as u64)));
        if let Some(size) = self.size {
            if rate > 0.0 && size > written {
                let left = Duration::from_secs_f64((size - written) as f64 / rate);
                line.push_str(&format!(", about {} left", human_duration(left)));
            }
        }
        self.transport.log(&line);
        self.last_line = Instant::now();
        self.bytes_at_last_line = written;
    }

    fn finish(&self, written: u64) {
        let elapsed = self.started.elapsed();
        if elapsed >= self.transport.config.progress_every {
            self.transport.log(&format!(
                "{}: {} in {}, {}/s on average",
                self.label,
                human_bytes(written),
                human_duration(elapsed),
                human_bytes((written as f64 / elapsed.as_secs_f64()) as u64)
            ));
        }
    }
}

/// Say a byte count the way people read it (`1.5 GiB`).
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn human_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    if seconds >= 3600 {
        format!("{}h{:02}m", seconds / 3600, seconds % 3600 / 60)
    } else if seconds >= 60 {
        format!("{}m{:02}s", seconds / 60, seconds % 60)
    } else {
        format!("{:.1}s", duration.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Collect(Vec<u8>);

    impl Sink for Collect {
        fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
            self.0.extend_from_slice(bytes);
            Ok(())
        }
        fn written(&self) -> u64 {
            self.0.len() as u64
        }
        fn restart(&mut self) -> io::Result<()> {
            self.0.clear();
            Ok(())
        }
    }

    #[test]
    fn progress_lines_name_bytes_rate_and_time_left() {
        let body: Vec<u8> = (0..3 << 20).map(|i| (i % 251) as u8).collect();
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let url = format!("http://{}/f.bin", server.server_addr());
        let served = body.clone();
        let handle = std::thread::spawn(move || {
            let request = server.recv().unwrap();
            request
                .respond(tiny_http::Response::from_data(served))
                .unwrap();
        });
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let captured = lines.clone();
        let transport = Transport::new(crate::TransportConfig {
            progress_every: Duration::ZERO,
            log: std::sync::Arc::new(move |line| captured.lock().unwrap().push(line.into())),
            ..Default::default()
        })
        .unwrap();
        let mut sink = Collect(Vec::new());
        let size = body.len() as u64;
        let got = transport
            .download(&Request::get(url), Some(size), "f.bin", &mut sink)
            .unwrap();
        handle.join().unwrap();
        assert_eq!(got, size);
        assert!(sink.0 == body, "the bytes arrive unchanged");

        let lines = lines.lock().unwrap();
        let progress: Vec<&String> = lines
            .iter()
            .filter(|l| l.contains(" of 3.0 MiB ("))
            .collect();
        assert!(!progress.is_empty(), "{lines:?}");
        for line in &progress {
            assert!(line.starts_with("f.bin: "), "{line}");
            assert!(line.contains("/s"), "{line}");
            assert!(!line.contains('\r'), "{line}");
        }
        let last = lines.last().unwrap();
        assert!(
            last.starts_with("f.bin: 3.0 MiB in ") && last.ends_with("/s on average"),
            "{last}"
        );
    }

    #[test]
    fn content_range_start() {
        assert_eq!(range_start("bytes 100-199/200"), Some(100));
        assert_eq!(range_start("bytes */200"), None);
        assert_eq!(range_start(""), None);
    }

    #[test]
    fn humane_units() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
        assert_eq!(human_duration(Duration::from_secs(75)), "1m15s");
        assert_eq!(human_duration(Duration::from_secs(7260)), "2h01m");
    }
}
