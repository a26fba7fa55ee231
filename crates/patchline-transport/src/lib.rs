//! The one way patchline reads bytes: a local path, a `file://` URL or an
//! `http(s)://` URL, for every feed and every download.
//!
//! HTTP is blocking (ureq): a resource's `check` runs every minute for every
//! resource, so a short start-up matters more than thousands of concurrent
//! connections, and threads give downloads their concurrency. On top of it
//! this crate adds what real networks need:
//!
//! - retries with backoff and jitter on failures worth retrying
//!   ([`retry`]), bounded in attempts and total time;
//! - redirects followed by hand, so credentials reach only their own host
//!   and an expired signed URL is asked for again ([`exchange`]);
//! - downloads that resume where they broke ([`download`]), with progress;
//! - conditional requests for `check` ([`cache`]);
//! - proxies from the environment ([`proxy`]) and the system's trust plus
//!   the operator's own authority ([`tls`]).
//!
//! URLs in errors and logs are redacted: no credentials, no query strings.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use patchline_core::secret::redact_url;
use ureq::Agent;

mod cache;
mod download;
mod exchange;
mod proxy;
mod request;
mod retry;
mod tls;
mod url;

pub use download::{human_bytes, Sink};
pub use request::{Method, Request, Response};
pub use tls::tls_config;
pub use url::{is_under, UrlParts};

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
    /// Every attempt failed; the last failure is kept.
    #[error(
        "{last} (gave up after {attempts} attempt{} in {seconds:.0}s)",
        if *attempts == 1 { "" } else { "s" }
    )]
    GaveUp {
        /// The last attempt's failure.
        last: Box<TransportError>,
        /// How many attempts were made.
        attempts: u32,
        /// How long they took.
        seconds: f64,
    },
    /// A local file could not be read.
    #[error("{path}: {source}")]
    Local {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
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
        reason: std::io::Error,
    },
    /// A setting of the transport is unusable; the message starts with the
    /// setting's name (`ca_cert: ...`, `HTTPS_PROXY: ...`).
    #[error("{0}")]
    Config(String),
}

impl TransportError {
    /// Return the HTTP status of the failure, if the server answered one.
    pub fn status(&self) -> Option<u16> {
        match self {
            TransportError::Status { status, .. } => Some(*status),
            TransportError::GaveUp { last, .. } => last.status(),
            _ => None,
        }
    }
}

/// Where log lines of the transport go (retries, progress, warnings).
pub type Logger = Arc<dyn Fn(&str) + Send + Sync>;

/// How the transport behaves; [`TransportConfig::default`] suits a
/// resource run.
#[derive(Clone)]
pub struct TransportConfig {
    /// PEM text of authorities to trust besides the system's.
    pub ca_cert: Option<String>,
    /// Trust any certificate (warned about on every run).
    pub skip_ssl_validation: bool,
    /// Attempts per request, the first one included.
    pub attempts: u32,
    /// The most time one request may spend waiting between attempts
    /// (a long transfer that breaks still gets its resume).
    pub retry_budget: Duration,
    /// How long a read may wait for bytes before the connection counts as
    /// broken.
    pub read_timeout: Duration,
    /// How long connecting may take.
    pub connect_timeout: Duration,
    /// Where `check` keeps answers for conditional requests; none caches
    /// nothing.
    pub cache_dir: Option<PathBuf>,
    /// How often a long download logs its progress.
    pub progress_every: Duration,
    /// Where log lines go.
    pub log: Logger,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            ca_cert: None,
            skip_ssl_validation: false,
            attempts: 5,
            retry_budget: Duration::from_secs(600),
            read_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(30),
            cache_dir: None,
            progress_every: Duration::from_secs(10),
            log: Arc::new(|line| eprintln!("{line}")),
        }
    }
}

impl std::fmt::Debug for TransportConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransportConfig")
            .field("ca_cert", &self.ca_cert.as_ref().map(|_| "<pem>"))
            .field("skip_ssl_validation", &self.skip_ssl_validation)
            .field("attempts", &self.attempts)
            .field("retry_budget", &self.retry_budget)
            .field("read_timeout", &self.read_timeout)
            .field("cache_dir", &self.cache_dir)
            .finish_non_exhaustive()
    }
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
        if reference.contains("://") {
            return Location::parse(reference);
        }
        match self {
            Location::Path(_) if reference.starts_with('/') => Location::parse(reference),
            // On a server, `/x` is a path of the same server, never a
            // file of this machine.
            Location::Http(url) if reference.starts_with('/') => {
                let parts = UrlParts::of(url).expect("an http location has a scheme");
                Ok(Location::Http(format!(
                    "{}://{}{reference}",
                    parts.scheme, parts.authority
                )))
            }
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

/// Reads locations. Trust, proxies and agents (one direct, one per proxy)
/// are set up on the first HTTP request, so a `check` of a local feed
/// never loads certificates nor minds the proxy variables.
pub struct Transport {
    config: TransportConfig,
    extra_roots: Vec<ureq::tls::Certificate<'static>>,
    tls: OnceLock<ureq::tls::TlsConfig>,
    proxies: OnceLock<Result<proxy::Proxies, String>>,
    agents: [OnceLock<Agent>; 3],
}

impl Transport {
    /// Create a transport; `ca_cert` is checked now, the rest on first use.
    pub fn new(config: TransportConfig) -> Result<Self, TransportError> {
        let extra_roots = tls::extra_roots(config.ca_cert.as_deref())?;
        if config.skip_ssl_validation {
            (config.log)(
                "WARNING: skip_ssl_validation is true: certificates are NOT checked, \
                 so anyone on the network path can serve these files",
            );
        }
        Ok(Transport {
            config,
            extra_roots,
            tls: OnceLock::new(),
            proxies: OnceLock::new(),
            agents: Default::default(),
        })
    }

    /// Return the settings in force.
    pub fn config(&self) -> &TransportConfig {
        &self.config
    }

    /// Read a whole document of at most `limit` bytes; over HTTP with
    /// retries and, when a cache folder is set, a conditional request.
    pub fn fetch(&self, location: &Location, limit: u64) -> Result<Vec<u8>, TransportError> {
        match location {
            Location::Path(path) => read_local(path, limit),
            Location::Http(url) => Ok(self.send_cached(&Request::get(url.as_str()), limit)?.body),
        }
    }

    /// Read the proxy variables now and say whether they are usable; a
    /// caller that will surely go to the network calls this first, so a
    /// bad variable is reported as what it is, before any feed runs.
    pub fn check_proxies(&self) -> Result<(), TransportError> {
        self.proxies()?;
        Ok(())
    }

    fn proxies(&self) -> Result<&proxy::Proxies, TransportError> {
        self.proxies
            .get_or_init(|| proxy::Proxies::from_env().map_err(|err| err.to_string()))
            .as_ref()
            .map_err(|message| TransportError::Config(message.clone()))
    }

    pub(crate) fn log(&self, line: &str) {
        (self.config.log)(line);
    }

    /// Return the agent for `url`: direct or through its proxy. A proxy
    /// variable that is not usable fails here, on first use.
    fn agent(&self, url: &str) -> Result<&Agent, TransportError> {
        let proxies = self.proxies()?;
        let route = proxies.route(url);
        let slot = match route {
            proxy::Route::Direct => &self.agents[0],
            proxy::Route::HttpProxy => &self.agents[1],
            proxy::Route::HttpsProxy => &self.agents[2],
        };
        Ok(slot.get_or_init(|| {
            let tls = self.tls.get_or_init(|| {
                tls::tls_config_with(&self.extra_roots, self.config.skip_ssl_validation)
            });
            Agent::config_builder()
                .tls_config(tls.clone())
                .proxy(proxies.proxy(route))
                .http_status_as_error(false)
                .max_redirects(0)
                .max_redirects_will_error(false)
                .timeout_connect(Some(self.config.connect_timeout))
                .timeout_recv_response(Some(self.config.read_timeout))
                .timeout_per_read(Some(self.config.read_timeout))
                .user_agent(concat!("patchline/", env!("CARGO_PKG_VERSION")))
                .build()
                .into()
        }))
    }
}

fn read_local(path: &Path, limit: u64) -> Result<Vec<u8>, TransportError> {
    let local = |source| TransportError::Local {
        path: path.display().to_string(),
        source,
    };
    let size = std::fs::metadata(path).map_err(local)?.len();
    if size > limit {
        return Err(TransportError::TooLarge {
            url: path.display().to_string(),
            limit,
        });
    }
    std::fs::read(path).map_err(local)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(
            index.join("/etc/passwd").unwrap(),
            Location::Http("http://127.0.0.1:8080/etc/passwd".into()),
            "an absolute path stays on the index's server"
        );
    }
}
