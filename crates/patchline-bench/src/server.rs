//! The file server the contenders download from: HTTP/1.1 on loopback, a
//! thread per connection, bodies sent with `sendfile(2)`.
//!
//! The kernel copies the bytes from the page cache to the socket, so the
//! server costs next to nothing and the client is what is measured. It
//! answers `GET` and `HEAD` with `Content-Length` and an `ETag`,
//! `Range: bytes=N-` with `206` and `Content-Range`, and `If-None-Match`
//! with `304`, which is what `in` (resuming) and `check` (conditional
//! requests) ask of a real server. Other range forms get the whole file.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, UNIX_EPOCH};

/// How long a connection may stay silent, or a send stall, before the
/// server drops it.
const IDLE: Duration = Duration::from_secs(60);

/// The most requests one connection may make.
const REQUESTS_PER_CONNECTION: usize = 1000;

/// The largest request head accepted.
const MAX_HEAD: usize = 16 * 1024;

/// The largest count one `sendfile` call is asked for (Linux sends at
/// most about 2 GiB per call).
const SENDFILE_STEP: usize = 1 << 30;

/// A running server; dropping it stops accepting connections.
pub struct Server {
    port: u16,
    stop: Arc<AtomicBool>,
    not_modified: Arc<AtomicU64>,
    accepting: Option<JoinHandle<()>>,
}

impl Server {
    /// Serve the files of `root` on 127.0.0.1, on a free port.
    pub fn start(root: &Path) -> io::Result<Server> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let not_modified = Arc::new(AtomicU64::new(0));
        let shared = Shared {
            root: root.to_path_buf(),
            not_modified: not_modified.clone(),
        };
        let stopping = stop.clone();
        let accepting = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let shared = shared.clone();
                // A client that hangs up mid-answer is no concern of the
                // server's: the contender reports its own failure.
                std::thread::spawn(move || {
                    let _ = serve(stream, &shared);
                });
            }
        });
        Ok(Server {
            port,
            stop,
            not_modified,
            accepting: Some(accepting),
        })
    }

    /// Return the URL of the file `name` of the served folder.
    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}", self.port)
    }

    /// Return how many `304 Not Modified` answers were sent so far.
    pub fn not_modified(&self) -> u64 {
        self.not_modified.load(Ordering::SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // The accepting thread waits in accept(); one more connection
        // wakes it to see the stop flag.
        let _ = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port));
        if let Some(accepting) = self.accepting.take() {
            let _ = accepting.join();
        }
    }
}

#[derive(Clone)]
struct Shared {
    root: PathBuf,
    not_modified: Arc<AtomicU64>,
}

/// What the server reads of a request.
struct Request {
    method: String,
    path: String,
    range_start: Option<u64>,
    if_none_match: Option<String>,
    keep_alive: bool,
}

fn serve(mut stream: TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_read_timeout(Some(IDLE))?;
    stream.set_write_timeout(Some(IDLE))?;
    stream.set_nodelay(true)?;
    let mut pending = Vec::new();
    for _ in 0..REQUESTS_PER_CONNECTION {
        let Some(head) = read_head(&mut stream, &mut pending)? else {
            return Ok(());
        };
        let request = parse(&head)?;
        answer(&mut stream, shared, &request)?;
        if !request.keep_alive {
            break;
        }
    }
    stream.shutdown(Shutdown::Both)
}

/// Read up to the blank line ending a request head; `None` when the
/// client closed the connection. Bytes after the head stay in `pending`.
fn read_head(stream: &mut TcpStream, pending: &mut Vec<u8>) -> io::Result<Option<Vec<u8>>> {
    loop {
        if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok(Some(pending.drain(..end + 4).collect()));
        }
        if pending.len() > MAX_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head too long",
            ));
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(None);
        }
        pending.extend_from_slice(&chunk[..n]);
    }
}

fn parse(head: &[u8]) -> io::Result<Request> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or_default();
    let mut words = first.split(' ');
    let (Some(method), Some(target), Some(protocol)) = (words.next(), words.next(), words.next())
    else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "malformed request line",
        ));
    };
    let mut request = Request {
        method: method.to_string(),
        path: target.split('?').next().unwrap_or_default().to_string(),
        range_start: None,
        if_none_match: None,
        keep_alive: protocol == "HTTP/1.1",
    };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "range" => request.range_start = range_start(value),
            "if-none-match" => request.if_none_match = Some(value.to_string()),
            "connection" => request.keep_alive = !value.eq_ignore_ascii_case("close"),
            _ => {}
        }
    }
    Ok(request)
}

/// Read `bytes=N-`; any other range form is not served as a range.
fn range_start(value: &str) -> Option<u64> {
    let (start, end) = value.strip_prefix("bytes=")?.split_once('-')?;
    if !end.is_empty() {
        return None;
    }
    start.parse().ok()
}

fn answer(stream: &mut TcpStream, shared: &Shared, request: &Request) -> io::Result<()> {
    let connection = if request.keep_alive {
        "keep-alive"
    } else {
        "close"
    };
    if request.method != "GET" && request.method != "HEAD" {
        return stream.write_all(
            format!("HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: {connection}\r\n\r\n")
                .as_bytes(),
        );
    }
    let Some((file, length, etag)) = open(&shared.root, &request.path) else {
        return stream.write_all(
            format!(
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: {connection}\r\n\r\n"
            )
            .as_bytes(),
        );
    };

    if request.if_none_match.as_deref() == Some(etag.as_str()) {
        shared.not_modified.fetch_add(1, Ordering::SeqCst);
        return stream.write_all(
            format!(
                "HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nConnection: {connection}\r\n\r\n"
            )
            .as_bytes(),
        );
    }
    let (status, start, range) = match request.range_start {
        Some(start) if start < length => (
            "206 Partial Content",
            start,
            format!("Content-Range: bytes {start}-{}/{length}\r\n", length - 1),
        ),
        Some(_) => {
            return stream.write_all(
                format!("HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{length}\r\nContent-Length: 0\r\nConnection: {connection}\r\n\r\n")
                    .as_bytes(),
            );
        }
        None => ("200 OK", 0, String::new()),
    };
    stream.write_all(
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n{range}ETag: {etag}\r\nAccept-Ranges: bytes\r\nConnection: {connection}\r\n\r\n",
            length - start
        )
        .as_bytes(),
    )?;
    if request.method == "GET" {
        send_file(stream, &file, start, length - start)?;
    }
    Ok(())
}

/// Open the served file at the request path, with its length and an
/// `ETag` that changes whenever the file is rewritten.
fn open(root: &Path, path: &str) -> Option<(File, u64, String)> {
    let relative = path.strip_prefix('/')?;
    if relative.is_empty() || relative.split('/').any(|part| part == "..") {
        return None;
    }
    let file = File::open(root.join(relative)).ok()?;
    let metadata = file.metadata().ok()?;
    if !metadata.is_file() {
        return None;
    }
    let modified = metadata
        .modified()
        .ok()?
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_nanos();
    let etag = format!("\"{:x}-{modified:x}\"", metadata.len());
    Some((file, metadata.len(), etag))
}

fn send_file(stream: &TcpStream, file: &File, start: u64, count: u64) -> io::Result<()> {
    let mut offset = libc::off_t::try_from(start).map_err(io::Error::other)?;
    let mut left = count;
    while left > 0 {
        let step = usize::try_from(left)
            .unwrap_or(usize::MAX)
            .min(SENDFILE_STEP);
        // SAFETY: both descriptors are open for the whole call and
        // `offset` is a valid, exclusively borrowed off_t.
        let sent =
            unsafe { libc::sendfile(stream.as_raw_fd(), file.as_raw_fd(), &mut offset, step) };
        match sent {
            0 => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file ended before its length",
                ))
            }
            n if n > 0 => left -= n as u64,
            _ => {
                let err = io::Error::last_os_error();
                if err.kind() != io::ErrorKind::Interrupted {
                    return Err(err);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Send `head` to the server and read the whole answer (the request
    /// asks to close the connection).
    fn exchange(server: &Server, head: &str) -> String {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, server.port)).unwrap();
        stream.write_all(head.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    }

    #[test]
    fn serves_whole_files_ranges_and_conditional_answers() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("a.txt"), "0123456789").unwrap();
        let server = Server::start(root.path()).unwrap();

        let whole = exchange(&server, "GET /a.txt HTTP/1.1\r\nConnection: close\r\n\r\n");
        assert!(whole.starts_with("HTTP/1.1 200 OK\r\n"), "{whole}");
        assert!(whole.contains("\r\nContent-Length: 10\r\n"), "{whole}");
        assert!(whole.ends_with("\r\n\r\n0123456789"), "{whole}");

        let rest = exchange(
            &server,
            "GET /a.txt HTTP/1.1\r\nRange: bytes=7-\r\nConnection: close\r\n\r\n",
        );
        assert!(
            rest.starts_with("HTTP/1.1 206 Partial Content\r\n"),
            "{rest}"
        );
        assert!(
            rest.contains("\r\nContent-Range: bytes 7-9/10\r\n"),
            "{rest}"
        );
        assert!(rest.ends_with("\r\n\r\n789"), "{rest}");

        let etag = whole
            .lines()
            .find_map(|line| line.strip_prefix("ETag: "))
            .unwrap();
        let unchanged = exchange(
            &server,
            &format!("GET /a.txt HTTP/1.1\r\nIf-None-Match: {etag}\r\nConnection: close\r\n\r\n"),
        );
        assert!(
            unchanged.starts_with("HTTP/1.1 304 Not Modified\r\n"),
            "{unchanged}"
        );
        assert_eq!(server.not_modified(), 1);

        let head = exchange(&server, "HEAD /a.txt HTTP/1.1\r\nConnection: close\r\n\r\n");
        assert!(head.contains("\r\nContent-Length: 10\r\n"), "{head}");
        assert!(head.ends_with("\r\n\r\n"), "{head}");

        let missing = exchange(
            &server,
            "GET /../a.txt HTTP/1.1\r\nConnection: close\r\n\r\n",
        );
        assert!(
            missing.starts_with("HTTP/1.1 404 Not Found\r\n"),
            "{missing}"
        );
    }
}
