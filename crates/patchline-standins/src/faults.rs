//! A loopback HTTP server that misbehaves on purpose, the way real file
//! hosts and networks do: connections that break mid-body, bodies that
//! stall, `5xx` and `429` answers, HTML error pages served as `200`,
//! ranges answered wrongly or not at all, redirects to another host and
//! signed URLs that expired.
//!
//! [`FaultServer::start`] serves files a test registers. Each path has a
//! queue of [`Fault`]s: every request to the path takes the next one, and
//! once the queue is empty the path is served normally (`Range: bytes=N-`
//! answered with `206`). Query strings are not part of the path, so a
//! signed URL (`?X-Amz-Signature=...`) reaches its file. Every request is
//! recorded with its headers, so a test can assert what was sent.
//!
//! The server is a plain `std::net` listener rather than an HTTP library,
//! so a fault can do to the socket what a broken network does. Every
//! answer closes its connection (`Connection: close`), so each request
//! arrives on a connection of its own.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The most connections one server accepts, so a client stuck in a loop
/// cannot keep a test running.
const MAX_CONNECTIONS: usize = 2000;

/// How long a connection may sit idle, either way, before it is dropped.
const SOCKET_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest request head read.
const MAX_HEAD: usize = 64 * 1024;

/// The page a misconfigured host serves as `200` instead of the file.
const HTML_ERROR_PAGE: &str = "<!DOCTYPE html>\n<html><head><title>Service Unavailable</title></head>\n<body><h1>Sorry, the download service is down for maintenance.</h1></body></html>\n";

/// What S3 answers to a signed URL past its expiry.
const EXPIRED_SIGNATURE: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>\n";

/// One way of answering one request instead of serving the file normally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer as usual (`200`, or `206` to a range request) with the full
    /// `Content-Length`, send `after_bytes` bytes of the body, then close
    /// the connection: the client sees the body end early. The close is a
    /// plain one (`std` cannot send a TCP reset), which a client reads
    /// the same way: the peer went away mid-body.
    Reset {
        /// Body bytes sent before the connection is closed.
        after_bytes: usize,
    },
    /// Answer `code` with `body` (as `text/plain`) and, if given, a
    /// `Retry-After` header.
    Status {
        /// The status code.
        code: u16,
        /// The `Retry-After` value: seconds or an HTTP date.
        retry_after: Option<String>,
        /// The body.
        body: String,
    },
    /// Answer as usual, send `after_bytes` bytes of the body, wait
    /// `for_secs` seconds without sending anything, then send the rest
    /// (to a client that is usually gone by then).
    Stall {
        /// Body bytes sent before the pause.
        after_bytes: usize,
        /// How long the pause lasts.
        for_secs: u64,
    },
    /// Answer `200` with an HTML error page and that page's own
    /// `Content-Length`, as a misconfigured host or a captive portal does.
    HtmlInsteadOf200,
    /// Answer `200` with an HTML error page and no `Content-Length`, the
    /// body ending where the connection closes, as HTTP/1.0 servers and
    /// captive portals answer.
    HtmlUntilClose,
    /// Answer a range request `bytes=N-` with `206` and the bytes from
    /// N/2 on, their `Content-Range` saying so. A request without a range
    /// is served normally.
    WrongRange,
    /// Answer a range request with `200` and the whole file.
    IgnoreRange,
    /// Answer `302 Found` pointing at `url` (another server, say).
    RedirectTo {
        /// The `Location`.
        url: String,
    },
    /// Answer `403` with S3's "Request has expired" document, as a file
    /// host does to a signed URL whose time is up.
    Forbidden403,
}

/// One request the server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The method (`GET`).
    pub method: String,
    /// The path and query string, as sent.
    pub target: String,
    /// The headers, names in lower case, in the order sent.
    pub headers: Vec<(String, String)>,
    /// When the request head had arrived.
    pub received: Instant,
}

impl Recorded {
    /// Return the path without its query string.
    pub fn path(&self) -> &str {
        path_of(&self.target)
    }

    /// Return the first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::header(&self.headers, name)
    }
}

#[derive(Default)]
struct State {
    files: HashMap<String, Vec<u8>>,
    faults: HashMap<String, VecDeque<Fault>>,
    requests: Vec<Recorded>,
}

/// A misbehaving file server on `127.0.0.1`; it stops when dropped.
pub struct FaultServer {
    address: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    accepting: Option<JoinHandle<()>>,
}

impl FaultServer {
    /// Start a server on a free loopback port.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port is free");
        let address = listener
            .local_addr()
            .expect("a bound listener has an address");
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let accepting = {
            let state = state.clone();
            let stop = stop.clone();
            std::thread::spawn(move || accept(listener, state, stop))
        };
        FaultServer {
            address,
            state,
            stop,
            accepting: Some(accepting),
        }
    }

    /// Return `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Return the URL of `path` (which starts with `/`) on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    /// Serve `bytes` at `path` (which starts with `/`); return its URL.
    pub fn serve(&self, path: &str, bytes: impl Into<Vec<u8>>) -> String {
        self.lock().files.insert(path.to_string(), bytes.into());
        self.url(path)
    }

    /// Queue `faults` for the next requests to `path`, one per request,
    /// after any already queued.
    pub fn inject(&self, path: &str, faults: impl IntoIterator<Item = Fault>) {
        self.lock()
            .faults
            .entry(path.to_string())
            .or_default()
            .extend(faults);
    }

    /// Return every request received so far, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    /// Return the requests received for `path` (query strings ignored).
    pub fn requests_for(&self, path: &str) -> Vec<Recorded> {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.path() == path)
            .cloned()
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        lock(&self.state)
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accepting thread, blocked in `accept`.
        let _ = TcpStream::connect(self.address);
        if let Some(accepting) = self.accepting.take() {
            let _ = accepting.join();
        }
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    // A panicking connection thread leaves the state usable.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Accept connections until told to stop, each answered on its own
/// thread so a stalled answer does not hold up the client's retry.
fn accept(listener: TcpListener, state: Arc<Mutex<State>>, stop: Arc<AtomicBool>) {
    let mut connections = Vec::new();
    for stream in listener.incoming().take(MAX_CONNECTIONS) {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let state = state.clone();
        let stop = stop.clone();
        connections.push(std::thread::spawn(move || {
            let _ = answer(stream, &state, &stop);
        }));
        connections.retain(|c: &JoinHandle<()>| !c.is_finished());
    }
    stop.store(true, Ordering::SeqCst);
    for connection in connections {
        let _ = connection.join();
    }
}

/// Read one request, record it, and answer it as its path's next fault
/// (or normally) says.
fn answer(stream: TcpStream, state: &Mutex<State>, stop: &AtomicBool) -> std::io::Result<()> {
    stream.set_read_timeout(Some(SOCKET_TIMEOUT))?;
    stream.set_write_timeout(Some(SOCKET_TIMEOUT))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let Some(request) = read_request(&mut reader)? else {
        return Ok(());
    };
    let (fault, file) = {
        let mut state = lock(state);
        state.requests.push(request.clone());
        let path = request.path();
        let fault = state.faults.get_mut(path).and_then(VecDeque::pop_front);
        (fault, state.files.get(path).cloned())
    };
    let mut out = stream;
    let range = request.header("range").and_then(range_start);
    // The client may have given up on a slow or wrong answer: its closed
    // socket is not the server's failure.
    let _ = match (fault, file) {
        (
            Some(Fault::Status {
                code,
                retry_after,
                body,
            }),
            _,
        ) => {
            let mut headers = vec![("Content-Type", "text/plain".to_string())];
            if let Some(after) = retry_after {
                headers.push(("Retry-After", after));
            }
            write_whole(&mut out, code, &headers, body.as_bytes())
        }
        (Some(Fault::HtmlInsteadOf200), _) => write_whole(
            &mut out,
            200,
            &[("Content-Type", "text/html; charset=utf-8".to_string())],
            HTML_ERROR_PAGE.as_bytes(),
        ),
        (Some(Fault::HtmlUntilClose), _) => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n";
            out.write_all(head.as_bytes())
                .and_then(|()| out.write_all(HTML_ERROR_PAGE.as_bytes()))
        }
        (Some(Fault::RedirectTo { url }), _) => {
            write_whole(&mut out, 302, &[("Location", url)], b"")
        }
        (Some(Fault::Forbidden403), _) => write_whole(
            &mut out,
            403,
            &[("Content-Type", "application/xml".to_string())],
            EXPIRED_SIGNATURE.as_bytes(),
        ),
        (_, None) => write_whole(
            &mut out,
            404,
            &[("Content-Type", "text/plain".to_string())],
            b"not found",
        ),
        (Some(Fault::IgnoreRange), Some(file)) => write_file(&mut out, &file, None, Pace::Steady),
        (Some(Fault::WrongRange), Some(file)) => {
            let wrong = range.map(|start| start / 2);
            write_file(&mut out, &file, wrong, Pace::Steady)
        }
        (Some(Fault::Reset { after_bytes }), Some(file)) => {
            write_file(&mut out, &file, range, Pace::CloseAfter(after_bytes))
        }
        (
            Some(Fault::Stall {
                after_bytes,
                for_secs,
            }),
            Some(file),
        ) => write_file(
            &mut out,
            &file,
            range,
            Pace::PauseAfter(after_bytes, Duration::from_secs(for_secs), stop),
        ),
        (None, Some(file)) => write_file(&mut out, &file, range, Pace::Steady),
    };
    let _ = out.flush();
    out.shutdown(Shutdown::Both)
}

/// How a body is sent.
enum Pace<'a> {
    /// All of it.
    Steady,
    /// This many bytes, then the connection closes.
    CloseAfter(usize),
    /// This many bytes, a silence (cut short when the server stops), the
    /// rest.
    PauseAfter(usize, Duration, &'a AtomicBool),
}

/// Send `file`, from `start` with `206` when a range start is given and
/// inside the file, whole with `200` when not.
fn write_file(
    out: &mut TcpStream,
    file: &[u8],
    start: Option<u64>,
    pace: Pace,
) -> std::io::Result<()> {
    let total = file.len() as u64;
    let (status, body, mut headers) = match start {
        Some(start) if start >= total => {
            let headers = vec![("Content-Range", format!("bytes */{total}"))];
            return write_whole(out, 416, &headers, b"");
        }
        Some(start) => (
            206,
            &file[start as usize..],
            vec![(
                "Content-Range",
                format!("bytes {start}-{}/{total}", total - 1),
            )],
        ),
        None => (200, file, Vec::new()),
    };
    headers.push(("Content-Type", "application/octet-stream".to_string()));
    headers.push(("Accept-Ranges", "bytes".to_string()));
    write_head(out, status, &headers, body.len())?;
    match pace {
        Pace::Steady => out.write_all(body),
        Pace::CloseAfter(bytes) => out.write_all(&body[..bytes.min(body.len())]),
        Pace::PauseAfter(bytes, pause, stop) => {
            let (first, rest) = body.split_at(bytes.min(body.len()));
            out.write_all(first)?;
            out.flush()?;
            let until = Instant::now() + pause;
            while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
            }
            out.write_all(rest)
        }
    }
}

fn write_whole(
    out: &mut TcpStream,
    status: u16,
    headers: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<()> {
    write_head(out, status, headers, body.len())?;
    out.write_all(body)
}

fn write_head(
    out: &mut TcpStream,
    status: u16,
    headers: &[(&str, String)],
    length: usize,
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {length}\r\nConnection: close\r\n\r\n"
    ));
    out.write_all(head.as_bytes())
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        302 => "Found",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// Read a request head (and skip any body); `None` when the client
/// closed the connection without sending one.
fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<Recorded>> {
    let mut lines = Vec::new();
    let mut read = 0;
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line)?;
        read += n;
        if n == 0 {
            if lines.is_empty() {
                return Ok(None);
            }
            break;
        }
        if read > MAX_HEAD {
            return Err(std::io::Error::other("request head too large"));
        }
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        if line.is_empty() {
            break;
        }
        lines.push(line);
    }
    let Some((request_line, header_lines)) = lines.split_first() else {
        return Ok(None);
    };
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = header_lines
        .iter()
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    let request = Recorded {
        method,
        target,
        headers,
        received: Instant::now(),
    };
    let length: u64 = request
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    std::io::copy(&mut reader.take(length), &mut std::io::sink())?;
    Ok(Some(request))
}

/// Return N of `Range: bytes=N-`; other range forms are not served.
fn range_start(header: &str) -> Option<u64> {
    let range = header.trim().strip_prefix("bytes=")?;
    range.strip_suffix('-')?.parse().ok()
}

fn path_of(target: &str) -> &str {
    target.split(['?', '#']).next().unwrap_or(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Send a raw GET of `target`, return the whole answer as text.
    fn get(server: &FaultServer, target: &str, range: Option<&str>) -> String {
        let mut stream = TcpStream::connect(server.address).unwrap();
        let range = range.map_or(String::new(), |r| format!("Range: {r}\r\n"));
        write!(
            stream,
            "GET {target} HTTP/1.1\r\nHost: x\r\n{range}Authorization: Bearer t\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    }

    #[test]
    fn faults_apply_in_order_then_the_file_is_served() {
        let server = FaultServer::start();
        server.serve("/f", b"0123456789".to_vec());
        server.inject(
            "/f",
            [
                Fault::Reset { after_bytes: 4 },
                Fault::Status {
                    code: 429,
                    retry_after: Some("1".into()),
                    body: "slow down".into(),
                },
                Fault::WrongRange,
                Fault::IgnoreRange,
            ],
        );

        let reset = get(&server, "/f?sig=1", None);
        assert!(reset.starts_with("HTTP/1.1 200 OK\r\n"), "{reset}");
        assert!(reset.contains("Content-Length: 10\r\n"), "{reset}");
        assert!(reset.ends_with("\r\n\r\n0123"), "{reset}");

        let limited = get(&server, "/f", None);
        assert!(limited.starts_with("HTTP/1.1 429 "), "{limited}");
        assert!(limited.contains("Retry-After: 1\r\n"), "{limited}");

        let wrong = get(&server, "/f", Some("bytes=8-"));
        assert!(wrong.contains("Content-Range: bytes 4-9/10\r\n"), "{wrong}");
        assert!(wrong.ends_with("\r\n\r\n456789"), "{wrong}");

        let ignored = get(&server, "/f", Some("bytes=8-"));
        assert!(ignored.starts_with("HTTP/1.1 200 OK\r\n"), "{ignored}");
        assert!(ignored.ends_with("\r\n\r\n0123456789"), "{ignored}");

        let normal = get(&server, "/f", Some("bytes=8-"));
        assert!(normal.starts_with("HTTP/1.1 206 "), "{normal}");
        assert!(
            normal.contains("Content-Range: bytes 8-9/10\r\n"),
            "{normal}"
        );
        assert!(normal.ends_with("\r\n\r\n89"), "{normal}");

        let beyond = get(&server, "/f", Some("bytes=10-"));
        assert!(beyond.starts_with("HTTP/1.1 416 "), "{beyond}");
        assert!(get(&server, "/missing", None).starts_with("HTTP/1.1 404 "));

        let requests = server.requests_for("/f");
        assert_eq!(requests.len(), 6);
        assert_eq!(requests[0].target, "/f?sig=1");
        assert_eq!(requests[0].header("authorization"), Some("Bearer t"));
        assert_eq!(requests[2].header("Range"), Some("bytes=8-"));
        assert_eq!(server.requests().len(), 7);
    }

    #[test]
    fn redirects_and_expired_signatures() {
        let server = FaultServer::start();
        server.serve("/f", b"x".to_vec());
        server.inject(
            "/f",
            [
                Fault::RedirectTo {
                    url: "http://127.0.0.1:9/f".into(),
                },
                Fault::Forbidden403,
                Fault::HtmlInsteadOf200,
            ],
        );
        let redirect = get(&server, "/f", None);
        assert!(redirect.starts_with("HTTP/1.1 302 Found\r\n"), "{redirect}");
        assert!(redirect.contains("Location: http://127.0.0.1:9/f\r\n"));
        assert!(get(&server, "/f", None).contains("Request has expired"));
        let html = get(&server, "/f", None);
        assert!(html.starts_with("HTTP/1.1 200 OK\r\n"), "{html}");
        assert!(html.contains(&format!("Content-Length: {}\r\n", HTML_ERROR_PAGE.len())));
    }

    #[test]
    fn a_stall_pauses_then_sends_the_rest() {
        let server = FaultServer::start();
        server.serve("/f", b"abcdef".to_vec());
        server.inject(
            "/f",
            [Fault::Stall {
                after_bytes: 2,
                for_secs: 1,
            }],
        );
        let started = Instant::now();
        let answer = get(&server, "/f", None);
        assert!(started.elapsed() >= Duration::from_secs(1));
        assert!(answer.ends_with("\r\n\r\nabcdef"), "{answer}");
    }
}
