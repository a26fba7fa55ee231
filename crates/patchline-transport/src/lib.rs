//! The one way patchline reads bytes from a location: a local path, a
//! `file://` URL or an `http(s)://` URL.
//!
//! HTTP is blocking (ureq): a resource's `check` runs every minute for every
//! resource, so a short start-up matters more than thousands of concurrent
//! connections, and threads give downloads their concurrency. TLS is rustls,
//! trusting the system's roots from `/etc/ssl/certs` (where Concourse mounts
//! the worker's certificates) and Mozilla's roots when that folder is empty.
//! URLs in errors and logs are redacted: no credentials, no query strings.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use patchline_core::secret::redact_url;
use ureq::tls::{Certificate, RootCerts, TlsConfig};
use ureq::Agent;

/// Where the system keeps its trusted certificates.
const SYSTEM_CERTS: &str = "/etc/ssl/certs";

/// Why bytes could not be read from a location.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The server answered with an error status.
    #[error("{url}: server answered HTTP {status}")]
    Status {
        /// The redacted URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The request failed before or while reading the answer.
    #[error("{url}: {reason}")]
    Http {
        /// The redacted URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// A local file could not be read.
    #[error("{path}: {source}")]
    Local {
        /// The path.
        path: String,
        /// The I/O error.
        source: io::Error,
    },
    /// The document is larger than the caller accepts.
    #[error("{url}: larger than {limit} bytes")]
    TooLarge {
        /// The redacted location.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// The location is neither a path nor a supported URL.
    #[error("{0}: unsupported location (use a path, file://, http:// or https://)")]
    Unsupported(String),
    /// The sink refused the bytes (disk full, say).
    #[error("{url}: writing the download failed: {reason}")]
    Sink {
        /// The redacted URL.
        url: String,
        /// Why the sink refused.
        reason: io::Error,
    },
}

/// A location bytes can be read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A file on this machine.
    Path(PathBuf),
    /// An `http://` or `https://` URL.
    Http(String),
}

impl Location {
    /// Read a location: `http(s)://...`, `file://...` or a plain path.
    pub fn parse(location: &str) -> Result<Self, TransportError> {
        if location.starts_with("http://") || location.starts_with("https://") {
            Ok(Location::Http(location.to_string()))
        } else if let Some(path) = location.strip_prefix("file://") {
            Ok(Location::Path(PathBuf::from(path)))
        } else if location.contains("://") || location.is_empty() {
            Err(TransportError::Unsupported(redact_url(location)))
        } else {
            Ok(Location::Path(PathBuf::from(location)))
        }
    }

    /// Resolve `reference` (an absolute URL, a `file://` URL, an absolute
    /// path or a path relative to this location's folder).
    pub fn join(&self, reference: &str) -> Result<Location, TransportError> {
        if reference.contains("://") || reference.starts_with('/') {
            return Location::parse(reference);
        }
        match self {
            Location::Path(path) => Ok(Location::Path(
                path.parent().unwrap_or(Path::new(".")).join(reference),
            )),
            Location::Http(url) => {
                let base_end = url.split(['?', '#']).next().unwrap_or(url).rfind('/');
                let base = &url[..base_end.map_or(url.len(), |i| i + 1)];
                Ok(Location::Http(format!("{base}{reference}")))
            }
        }
    }
}

/// Reads locations; one per process, built on first use of HTTP.
#[derive(Default)]
pub struct Transport {
    agent: OnceLock<Agent>,
}

impl Transport {
    /// Create a transport.
    pub fn new() -> Self {
        Transport::default()
    }

    /// Read a whole document of at most `limit` bytes.
    pub fn fetch(&self, location: &Location, limit: u64) -> Result<Vec<u8>, TransportError> {
        let mut document = Vec::new();
        self.stream(location, |bytes| {
            if document.len() as u64 + bytes.len() as u64 > limit {
                return Err(io::Error::other("too large"));
            }
            document.extend_from_slice(bytes);
            Ok(())
        })
        .map_err(|err| match err {
            TransportError::Sink { url, .. } => TransportError::TooLarge { url, limit },
            other => other,
        })?;
        Ok(document)
    }

    /// Stream the bytes at `location` into `sink`, chunk by chunk; return
    /// the number of bytes read.
    pub fn stream(
        &self,
        location: &Location,
        mut sink: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> Result<u64, TransportError> {
        match location {
            Location::Path(path) => {
                let local = |source| TransportError::Local {
                    path: path.display().to_string(),
                    source,
                };
                let file = File::open(path).map_err(local)?;
                copy(file, &mut sink).map_err(|(err, from_sink)| {
                    if from_sink {
                        TransportError::Sink {
                            url: path.display().to_string(),
                            reason: err,
                        }
                    } else {
                        local(err)
                    }
                })
            }
            Location::Http(url) => {
                let shown = redact_url(url);
                let response = self.agent().get(url).call().map_err(|err| match err {
                    ureq::Error::StatusCode(status) => TransportError::Status {
                        url: shown.clone(),
                        status,
                    },
                    other => TransportError::Http {
                        url: shown.clone(),
                        reason: other.to_string(),
                    },
                })?;
                let body = response.into_body().into_reader();
                copy(body, &mut sink).map_err(|(err, from_sink)| {
                    if from_sink {
                        TransportError::Sink {
                            url: shown,
                            reason: err,
                        }
                    } else {
                        TransportError::Http {
                            url: shown,
                            reason: err.to_string(),
                        }
                    }
                })
            }
        }
    }

    fn agent(&self) -> &Agent {
        self.agent.get_or_init(|| {
            Agent::config_builder()
                .tls_config(tls_config())
                .timeout_connect(Some(Duration::from_secs(30)))
                .timeout_per_read(Some(Duration::from_secs(120)))
                .user_agent(concat!("patchline/", env!("CARGO_PKG_VERSION")))
                .build()
                .into()
        })
    }
}

/// Copy `reader` into `sink`; on failure say whether the sink failed.
fn copy(
    mut reader: impl Read,
    sink: &mut impl FnMut(&[u8]) -> io::Result<()>,
) -> Result<u64, (io::Error, bool)> {
    let mut buffer = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err((err, false)),
        };
        sink(&buffer[..n]).map_err(|err| (err, true))?;
        total += n as u64;
    }
}

/// Return the TLS settings every HTTPS client of patchline uses: the
/// system's roots (see [`system_roots`]), read once per process.
pub fn tls_config() -> TlsConfig {
    static ROOTS: OnceLock<RootCerts> = OnceLock::new();
    let roots = ROOTS.get_or_init(|| system_roots(Path::new(SYSTEM_CERTS)));
    TlsConfig::builder().root_certs(roots.clone()).build()
}

/// Read the certificates of a certificates folder: Debian's bundle
/// `ca-certificates.crt` and every other certificate file in it that is
/// not a link (Concourse mounts the worker's folder there, with the
/// operator's own authorities as plain files; the links of a Debian folder
/// point at certificates the bundle already holds). Without the bundle,
/// every file is read. Mozilla's roots are used when nothing is found.
fn system_roots(folder: &Path) -> RootCerts {
    let bundle = folder.join("ca-certificates.crt");
    let has_bundle = bundle.is_file();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(folder)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    paths.sort();
    paths.retain(|path| {
        path.is_file()
            && (!has_bundle
                || *path == bundle
                || (!path.is_symlink()
                    && path
                        .extension()
                        .is_some_and(|ext| ext == "pem" || ext == "crt")))
    });

    let mut certs = Vec::new();
    for path in &paths {
        if let Ok(pem) = std::fs::read(path) {
            certs.extend(
                ureq::tls::parse_pem(&pem)
                    .flatten()
                    .filter_map(|item| match item {
                        ureq::tls::PemItem::Certificate(cert) => Some(cert),
                        _ => None,
                    }),
            );
        }
    }
    if certs.is_empty() {
        RootCerts::WebPki
    } else {
        RootCerts::new_with_certs(&certs.iter().map(Certificate::to_owned).collect::<Vec<_>>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Return the first `n` certificates of the host's bundle, one PEM each.
    fn host_certificates(n: usize) -> Option<Vec<String>> {
        let bundle = std::fs::read_to_string("/etc/ssl/certs/ca-certificates.crt").ok()?;
        let end = "-----END CERTIFICATE-----";
        let certs: Vec<String> = bundle
            .split_inclusive(end)
            .filter(|part| part.contains("BEGIN CERTIFICATE"))
            .map(|part| format!("{}\n", part.trim()))
            .take(n)
            .collect();
        (certs.len() == n).then_some(certs)
    }

    fn count(roots: RootCerts) -> usize {
        match roots {
            RootCerts::Specific(certs) => certs.len(),
            _ => 0,
        }
    }

    #[test]
    fn roots_are_the_bundle_plus_plain_certificate_files() {
        let Some(certs) = host_certificates(3) else {
            return;
        };
        let folder = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::fs::write(folder.path().join("ca-certificates.crt"), &certs[0]).unwrap();
        std::fs::write(folder.path().join("operator-ca.pem"), &certs[1]).unwrap();
        std::fs::write(elsewhere.path().join("c.pem"), &certs[2]).unwrap();
        std::os::unix::fs::symlink(elsewhere.path().join("c.pem"), folder.path().join("c.pem"))
            .unwrap();
        assert_eq!(
            count(system_roots(folder.path())),
            2,
            "the link is in the bundle"
        );

        std::fs::remove_file(folder.path().join("ca-certificates.crt")).unwrap();
        assert_eq!(
            count(system_roots(folder.path())),
            2,
            "without a bundle, every file"
        );

        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(system_roots(empty.path()), RootCerts::WebPki));
    }

    #[test]
    fn locations_parse_and_join() {
        let index = Location::parse("http://127.0.0.1:8080/feeds/index.json?x=1").unwrap();
        assert_eq!(
            index.join("files/a.tgz").unwrap(),
            Location::Http("http://127.0.0.1:8080/feeds/files/a.tgz".into())
        );
        assert_eq!(
            Location::parse("/srv/index.json")
                .unwrap()
                .join("a.tgz")
                .unwrap(),
            Location::Path("/srv/a.tgz".into())
        );
        assert_eq!(
            Location::parse("file:///srv/x").unwrap(),
            Location::Path("/srv/x".into())
        );
        assert!(Location::parse("ftp://host/x").is_err());
    }

    #[test]
    fn fetches_from_a_real_server_and_a_file() {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let url = format!("http://{}/doc", server.server_addr());
        let handle = std::thread::spawn(move || {
            for (i, request) in server.incoming_requests().take(2).enumerate() {
                let response = if i == 0 {
                    tiny_http::Response::from_string("hello")
                } else {
                    tiny_http::Response::from_string("gone").with_status_code(404)
                };
                request.respond(response).unwrap();
            }
        });
        let transport = Transport::new();
        let location = Location::parse(&url).unwrap();
        assert_eq!(transport.fetch(&location, 100).unwrap(), b"hello");
        let err = transport.fetch(&location, 100).unwrap_err().to_string();
        assert_eq!(err, format!("{url}: server answered HTTP 404"));
        handle.join().unwrap();

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doc");
        std::fs::write(&path, "0123456789").unwrap();
        let location = Location::Path(path);
        assert_eq!(transport.fetch(&location, 10).unwrap(), b"0123456789");
        assert!(matches!(
            transport.fetch(&location, 9),
            Err(TransportError::TooLarge { limit: 9, .. })
        ));
    }
}
