//! TLS trust and proxies, proved against real servers on loopback: an
//! HTTPS server whose certificate comes from an authority made here, a
//! CONNECT proxy that records where it was asked to go, and a plain HTTP
//! server.
//!
//! The proxy settings come from the process environment, which every test
//! thread shares, so each test holds [`ProxyEnv`] (one lock, the proxy
//! variables cleared and restored) while it builds transports.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use patchline_transport::{Request, Transport, TransportConfig, TransportError};

/// The longest any server of these tests stays up, whatever happens.
const SERVER_LIFETIME: Duration = Duration::from_secs(60);
/// How long one connection of a server may wait for bytes.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// The body every server answers with.
const BODY: &[u8] = b"patch release index\n";
/// The largest answer a test reads.
const LIMIT: u64 = 1 << 20;

/// Every proxy variable the transport reads.
const PROXY_VARS: [&str; 6] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// The proxy variables of this process, held by one test at a time:
/// cleared when taken, restored to what they were when dropped.
struct ProxyEnv {
    saved: Vec<(&'static str, Option<String>)>,
    _lock: MutexGuard<'static, ()>,
}

impl ProxyEnv {
    fn take() -> Self {
        static LOCK: Mutex<()> = Mutex::new(());
        let lock = LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let saved = PROXY_VARS
            .iter()
            .map(|name| (*name, std::env::var(name).ok()))
            .collect();
        let env = ProxyEnv { saved, _lock: lock };
        env.set(&[]);
        env
    }

    /// Leave exactly `vars` set among the proxy variables.
    fn set(&self, vars: &[(&str, &str)]) {
        for name in PROXY_VARS {
            std::env::remove_var(name);
        }
        for (name, value) in vars {
            std::env::set_var(name, value);
        }
    }
}

impl Drop for ProxyEnv {
    fn drop(&mut self) {
        for (name, value) in &self.saved {
            match value {
                Some(value) => std::env::set_var(name, value),
                None => std::env::remove_var(name),
            }
        }
    }
}

/// An authority made for one test run, and a server configuration whose
/// certificate (for `localhost` and `127.0.0.1`) it signed.
struct Pki {
    ca_pem: String,
    server: Arc<rustls::ServerConfig>,
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "patchline test authority");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();

    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
        )
        .unwrap();
    Pki {
        ca_pem: ca.pem(),
        server: Arc::new(server),
    }
}

/// A server thread on a loopback port that stops when dropped (or after
/// [`SERVER_LIFETIME`]), counting the connections it accepted.
struct Server {
    port: u16,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Accept connections on 127.0.0.1 and hand each to `serve` on a
    /// thread of its own.
    fn start(serve: impl Fn(TcpStream) + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let serve = Arc::new(serve);
        let thread = {
            let (connections, stop) = (connections.clone(), stop.clone());
            std::thread::spawn(move || {
                let started = Instant::now();
                while !stop.load(Ordering::SeqCst) && started.elapsed() < SERVER_LIFETIME {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            connections.fetch_add(1, Ordering::SeqCst);
                            stream.set_nonblocking(false).unwrap();
                            stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                            stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
                            let serve = serve.clone();
                            std::thread::spawn(move || serve(stream));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        Server {
            port,
            connections,
            stop,
            thread: Some(thread),
        }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Read an HTTP request head (up to the blank line), at most 16 KiB.
fn read_head(stream: &mut impl Read) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 * 1024 || stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    String::from_utf8(head).ok()
}

/// Start an HTTPS server answering every request with [`BODY`].
fn tls_server(config: Arc<rustls::ServerConfig>) -> Server {
    Server::start(move |stream| {
        let Ok(connection) = rustls::ServerConnection::new(config.clone()) else {
            return;
        };
        let mut tls = rustls::StreamOwned::new(connection, stream);
        // A client that refuses the certificate ends here, in the handshake.
        if read_head(&mut tls).is_none() {
            return;
        }
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            BODY.len()
        );
        let _ = tls.write_all(head.as_bytes());
        let _ = tls.write_all(BODY);
        tls.conn.send_close_notify();
        let _ = tls.flush();
    })
}

/// Start a plain HTTP server answering every request with [`BODY`],
/// recording each request's path.
fn http_server() -> (Server, Arc<Mutex<Vec<String>>>) {
    let paths = Arc::new(Mutex::new(Vec::new()));
    let seen = paths.clone();
    let server = Server::start(move |mut stream| {
        let Some(head) = read_head(&mut stream) else {
            return;
        };
        let path = head.split(' ').nth(1).unwrap_or_default().to_string();
        seen.lock().unwrap().push(path);
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            BODY.len()
        );
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(BODY);
    });
    (server, paths)
}

/// Start a CONNECT proxy that records the target of every tunnel it was
/// asked for, then copies bytes both ways until one side closes.
fn connect_proxy() -> (Server, Arc<Mutex<Vec<String>>>) {
    let targets = Arc::new(Mutex::new(Vec::new()));
    let seen = targets.clone();
    let server = Server::start(move |mut client| {
        let Some(head) = read_head(&mut client) else {
            return;
        };
        let mut words = head.split_whitespace();
        let (Some("CONNECT"), Some(target)) = (words.next(), words.next()) else {
            let _ = client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n");
            return;
        };
        seen.lock().unwrap().push(target.to_string());
        let Ok(upstream) = TcpStream::connect(target) else {
            let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
            return;
        };
        upstream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        if client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .is_err()
        {
            return;
        }
        let (mut from_client, mut to_upstream) =
            (client.try_clone().unwrap(), upstream.try_clone().unwrap());
        let up = std::thread::spawn(move || {
            let _ = std::io::copy(&mut from_client, &mut to_upstream);
            let _ = to_upstream.shutdown(Shutdown::Write);
        });
        let (mut from_upstream, mut to_client) = (upstream, client);
        let _ = std::io::copy(&mut from_upstream, &mut to_client);
        let _ = to_client.shutdown(Shutdown::Write);
        let _ = up.join();
    });
    (server, targets)
}

/// Return a configuration that keeps its log lines, and those lines.
fn logged(config: TransportConfig) -> (TransportConfig, Arc<Mutex<Vec<String>>>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let config = TransportConfig {
        log: Arc::new(move |line: &str| sink.lock().unwrap().push(line.to_string())),
        ..config
    };
    (config, lines)
}

fn transport(config: TransportConfig) -> Transport {
    match Transport::new(config) {
        Ok(transport) => transport,
        Err(err) => panic!("Transport::new: {err}"),
    }
}

fn get(transport: &Transport, url: &str) -> Result<Vec<u8>, TransportError> {
    transport.send(&Request::get(url), LIMIT).map(|r| r.body)
}

#[test]
fn an_unknown_authority_fails_once_with_a_certificate_error() {
    let _env = ProxyEnv::take();
    let pki = pki();
    let server = tls_server(pki.server.clone());
    let url = format!("https://localhost:{}/x", server.port);
    let (config, log) = logged(TransportConfig::default());

    let started = Instant::now();
    let err = get(&transport(config), &url).unwrap_err().to_string();

    assert_eq!(
        err,
        format!(
            "https://localhost:{}/x: TLS: invalid peer certificate: UnknownIssuer",
            server.port
        )
    );
    assert_eq!(
        server.connections(),
        1,
        "a certificate error is not retried"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(*log.lock().unwrap(), Vec::<String>::new());
}

#[test]
fn the_operators_authority_is_trusted() {
    let _env = ProxyEnv::take();
    let pki = pki();
    let server = tls_server(pki.server.clone());
    let transport = transport(TransportConfig {
        ca_cert: Some(pki.ca_pem.clone()),
        ..TransportConfig::default()
    });

    let response = transport
        .send(
            &Request::get(format!("https://localhost:{}/x", server.port)),
            LIMIT,
        )
        .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.body, BODY);

    let by_address = get(&transport, &format!("https://127.0.0.1:{}/x", server.port)).unwrap();
    assert_eq!(by_address, BODY);
    assert_eq!(server.connections(), 2);
}

#[test]
fn a_ca_cert_without_a_certificate_is_refused() {
    let _env = ProxyEnv::take();
    let err = Transport::new(TransportConfig {
        ca_cert: Some("garbage".into()),
        ..TransportConfig::default()
    })
    .err()
    .expect("garbage is no authority");
    assert_eq!(err.to_string(), "ca_cert: no PEM certificate found in it");
}

#[test]
fn skipping_validation_trusts_anything_and_warns() {
    let _env = ProxyEnv::take();
    let pki = pki();
    let server = tls_server(pki.server.clone());
    let (config, log) = logged(TransportConfig {
        skip_ssl_validation: true,
        ..TransportConfig::default()
    });
    let transport = transport(config);

    let body = get(&transport, &format!("https://localhost:{}/x", server.port)).unwrap();
    assert_eq!(body, BODY);
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 1, "{log:?}");
    assert!(
        log[0].starts_with("WARNING: skip_ssl_validation"),
        "{log:?}"
    );
}

/// Every proxy case in one test: the variables are process-wide.
#[test]
fn proxies_come_from_the_environment() {
    let env = ProxyEnv::take();
    let pki = pki();
    let (proxy, tunnels) = connect_proxy();
    let (web, paths) = http_server();
    let secure = tls_server(pki.server.clone());
    let proxy_url = format!("http://127.0.0.1:{}", proxy.port);
    let plain_url = format!("http://127.0.0.1:{}/feed", web.port);
    let secure_url = format!("https://localhost:{}/x", secure.port);
    let tunnels_so_far = || tunnels.lock().unwrap().clone();

    // HTTP_PROXY carries http:// URLs, through a CONNECT tunnel.
    env.set(&[("HTTP_PROXY", &proxy_url)]);
    assert_eq!(
        get(&transport(TransportConfig::default()), &plain_url).unwrap(),
        BODY
    );
    assert_eq!(tunnels_so_far(), [format!("127.0.0.1:{}", web.port)]);
    assert_eq!(*paths.lock().unwrap(), ["/feed"]);

    // The lower-case spelling counts too.
    env.set(&[("http_proxy", &proxy_url)]);
    assert_eq!(
        get(&transport(TransportConfig::default()), &plain_url).unwrap(),
        BODY
    );
    assert_eq!(tunnels_so_far().len(), 2);

    // NO_PROXY sends its hosts direct.
    env.set(&[("HTTP_PROXY", &proxy_url), ("NO_PROXY", "127.0.0.1")]);
    assert_eq!(
        get(&transport(TransportConfig::default()), &plain_url).unwrap(),
        BODY
    );
    assert_eq!(
        tunnels_so_far().len(),
        2,
        "NO_PROXY=127.0.0.1 went through the proxy"
    );

    // HTTPS_PROXY is for https:// URLs only.
    env.set(&[("HTTPS_PROXY", &proxy_url)]);
    assert_eq!(
        get(&transport(TransportConfig::default()), &plain_url).unwrap(),
        BODY
    );
    assert_eq!(tunnels_so_far().len(), 2, "an http:// URL took HTTPS_PROXY");
    assert_eq!(paths.lock().unwrap().len(), 4);

    // An https:// URL tunnels through HTTPS_PROXY, then verifies the
    // server against the operator's authority end to end.
    let through_proxy = transport(TransportConfig {
        ca_cert: Some(pki.ca_pem.clone()),
        ..TransportConfig::default()
    });
    assert_eq!(get(&through_proxy, &secure_url).unwrap(), BODY);
    assert_eq!(
        tunnels_so_far()[2..],
        [format!("localhost:{}", secure.port)]
    );
    assert_eq!(secure.connections(), 1);

    // A proxy's password appears in no error and no log line, even when
    // the proxy cannot be reached and the request is retried.
    let closed_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let password = "planted-proxy-pass";
    let with_password = format!("http://user:{password}@127.0.0.1:{closed_port}");
    env.set(&[
        ("HTTPS_PROXY", &with_password),
        ("HTTP_PROXY", &with_password),
    ]);
    for url in [&secure_url, &plain_url] {
        let (config, log) = logged(TransportConfig {
            ca_cert: Some(pki.ca_pem.clone()),
            attempts: 2,
            ..TransportConfig::default()
        });
        let err = get(&transport(config), url).unwrap_err();
        let shown = err.to_string();
        assert!(shown.contains("(gave up after 2 attempts"), "{shown}");
        assert!(!shown.contains('\n'), "{shown}");
        assert!(!shown.contains(password), "{shown}");
        assert!(!format!("{err:?}").contains(password), "{err:?}");
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 1, "one retry is logged: {log:?}");
        assert!(log.iter().all(|line| !line.contains(password)), "{log:?}");
    }
    assert_eq!(tunnels_so_far().len(), 3);
    assert_eq!(paths.lock().unwrap().len(), 4);
    assert_eq!(secure.connections(), 1);
}
