//! One request, start to answer: redirects followed by hand so the
//! `Authorization` header stays with its own host, every attempt retried
//! as [`crate::retry`] allows, and each retry logged with its reason.

use std::io::Read;
use std::time::{Duration, Instant};

use patchline_core::secret::redact_url;
use ureq::Body;

use crate::proxy::host_of;
use crate::retry::{parse_retry_after, retryable_status, wait_before, Retry};
use crate::{Method, Request, Response, Transport, TransportError, UrlParts};

/// The most redirects one request follows.
const MAX_REDIRECTS: usize = 10;

/// A failed attempt and whether another may follow.
pub(crate) struct Failure {
    pub error: TransportError,
    pub retry: Retry,
}

impl Failure {
    pub fn final_(error: TransportError) -> Self {
        Failure {
            error,
            retry: Retry::Never,
        }
    }
}

/// An answer whose headers are read and whose body is not.
pub(crate) struct Opened {
    pub status: u16,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Body,
    /// True when a redirect led to another host (a file host, say).
    pub crossed_hosts: bool,
}

impl Opened {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Turn a status that is not a success into the failure it is.
    pub fn failure(&self) -> Failure {
        let error = TransportError::Status {
            url: redact_url(&self.url),
            status: self.status,
        };
        let retry = if self.status == 403 && self.crossed_hosts {
            // The file host refused a signed URL the feed handed out: it
            // expired while we waited or retried. The feed signs a new one.
            Retry::Now
        } else if retryable_status(self.status) {
            self.header("retry-after")
                .and_then(parse_retry_after)
                .map_or(Retry::Backoff, Retry::After)
        } else {
            Retry::Never
        };
        Failure { error, retry }
    }
}

impl Transport {
    /// Send `request` and read its answer (at most `limit` bytes), retrying
    /// what is worth retrying. A status that is not a success is an error.
    pub fn send(&self, request: &Request, limit: u64) -> Result<Response, TransportError> {
        self.with_retries(request, |_| {
            let opened = self.open(request, &[])?;
            if !(200..300).contains(&opened.status) {
                return Err(opened.failure());
            }
            read_whole(opened, limit)
        })
    }

    /// Run `attempt` until it succeeds, fails for good, or the attempts or
    /// the time budget run out.
    pub(crate) fn with_retries<T>(
        &self,
        request: &Request,
        mut attempt: impl FnMut(u32) -> Result<T, Failure>,
    ) -> Result<T, TransportError> {
        let started = Instant::now();
        let attempts = self.config.attempts.max(1);
        let mut number = 1;
        // Only waiting counts against the budget: a long download that
        // breaks after an hour of progress deserves its resume.
        let mut waited = Duration::ZERO;
        loop {
            let failure = match attempt(number) {
                Ok(value) => return Ok(value),
                Err(failure) => failure,
            };
            let gave_up = |error| TransportError::GaveUp {
                last: Box::new(error),
                attempts: number,
                seconds: started.elapsed().as_secs_f64(),
            };
            if failure.retry == Retry::Never {
                return Err(if number == 1 {
                    failure.error
                } else {
                    gave_up(failure.error)
                });
            }
            let wait = wait_before(number + 1, failure.retry);
            if number >= attempts {
                return Err(gave_up(failure.error));
            }
            if waited + wait > self.config.retry_budget {
                self.log(&format!(
                    "{}: {}; the next wait ({:.0}s) would pass the {:.0}s retry limit",
                    describe(request),
                    reason_of(&failure.error),
                    wait.as_secs_f64(),
                    self.config.retry_budget.as_secs_f64()
                ));
                return Err(gave_up(failure.error));
            }
            number += 1;
            self.log(&format!(
                "{}: {}; retrying in {:.1}s (attempt {number} of {attempts})",
                describe(request),
                reason_of(&failure.error),
                wait.as_secs_f64()
            ));
            std::thread::sleep(wait);
            waited += wait;
        }
    }

    /// Send `request` once, following redirects; `extra` headers go to
    /// every hop. Credentials go only to hops on the request's own host.
    pub(crate) fn open(
        &self,
        request: &Request,
        extra: &[(&str, String)],
    ) -> Result<Opened, Failure> {
        let home = host_and_port(&request.url);
        let mut url = request.url.clone();
        let mut method = request.method;
        let mut crossed_hosts = false;
        for _ in 0..=MAX_REDIRECTS {
            let same_host = host_and_port(&url) == home;
            crossed_hosts |= !same_host;
            let agent = self.agent(&url).map_err(Failure::final_)?;
            let mut headers: Vec<(&str, &str)> = request
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .chain(extra.iter().map(|(n, v)| (*n, v.as_str())))
                .collect();
            if let (true, Some(secret)) = (same_host, &request.authorization) {
                headers.push(("Authorization", secret.expose()));
            }
            let result = match (method, &request.body) {
                (Method::Post, body) => with_headers(agent.post(&url), &headers)
                    .send(body.as_deref().unwrap_or_default()),
                (Method::Get, _) => with_headers(agent.get(&url), &headers).call(),
            };
            let response = result.map_err(|err| connection_failure(&url, err))?;
            let status = response.status().as_u16();
            let headers: Vec<(String, String)> = response
                .headers()
                .iter()
                .filter_map(|(name, value)| {
                    Some((name.as_str().to_string(), value.to_str().ok()?.to_string()))
                })
                .collect();
            let location = response
                .headers()
                .get("location")
                .and_then(|value| value.to_str().ok());
            if matches!(status, 301 | 302 | 303 | 307 | 308) {
                if let Some(location) = location {
                    let next = resolve(&url, location);
                    let keeps_body = matches!(status, 307 | 308) && method == Method::Post;
                    if keeps_body && host_and_port(&next) != home {
                        // A 307/308 resends the body, and a body can hold
                        // credentials (a token exchange): never to
                        // another host.
                        return Err(Failure::final_(TransportError::Http {
                            url: redact_url(&request.url),
                            reason: format!(
                                "refusing to resend the request's body to another host ({})",
                                redact_url(&next)
                            ),
                        }));
                    }
                    url = next;
                    if status == 303 || (method == Method::Post && matches!(status, 301 | 302)) {
                        method = Method::Get;
                    }
                    continue;
                }
            }
            return Ok(Opened {
                status,
                url,
                headers,
                body: response.into_body(),
                crossed_hosts,
            });
        }
        Err(Failure::final_(TransportError::Http {
            url: redact_url(&request.url),
            reason: format!("more than {MAX_REDIRECTS} redirects"),
        }))
    }
}

/// Add `headers` to a request being built.
fn with_headers<B>(
    builder: ureq::RequestBuilder<B>,
    headers: &[(&str, &str)],
) -> ureq::RequestBuilder<B> {
    headers.iter().fold(builder, |builder, (name, value)| {
        builder.header(*name, *value)
    })
}

/// Read a whole answer of at most `limit` bytes.
pub(crate) fn read_whole(opened: Opened, limit: u64) -> Result<Response, Failure> {
    let shown = redact_url(&opened.url);
    // A stated length (within the limit) sizes the buffer once, instead
    // of doubling it and copying as the body arrives.
    let stated = opened
        .header("content-length")
        .and_then(|length| length.parse::<u64>().ok())
        .filter(|length| *length <= limit);
    let mut body = Vec::with_capacity(stated.unwrap_or(0) as usize + 1);
    let mut reader = opened.body.into_reader().take(limit + 1);
    reader
        .read_to_end(&mut body)
        .map_err(|err| io_failure(&opened.url, &err))?;
    if body.len() as u64 > limit {
        return Err(Failure::final_(TransportError::TooLarge {
            url: shown,
            limit,
        }));
    }
    Ok(Response {
        status: opened.status,
        url: opened.url,
        headers: opened.headers,
        body,
        from_cache: false,
    })
}

/// Classify a failure to get an answer at all.
fn connection_failure(url: &str, err: ureq::Error) -> Failure {
    // rustls reports a refused certificate (and any other failed
    // handshake) as an I/O error of kind `InvalidData`: no later attempt
    // gets another certificate, so it is final.
    if let ureq::Error::Io(io) = &err {
        if io.kind() == std::io::ErrorKind::InvalidData {
            return Failure::final_(TransportError::Http {
                url: redact_url(url),
                reason: format!("TLS: {io}"),
            });
        }
    }
    if let ureq::Error::Timeout(_) = &err {
        return Failure {
            error: TransportError::Http {
                url: redact_url(url),
                reason: "no answer within the read timeout".into(),
            },
            retry: Retry::Backoff,
        };
    }
    let retry = match &err {
        ureq::Error::Io(_)
        | ureq::Error::Timeout(_)
        | ureq::Error::ConnectionFailed
        | ureq::Error::HostNotFound
        | ureq::Error::Protocol(_)
        | ureq::Error::ConnectProxyFailed(_) => Retry::Backoff,
        _ => Retry::Never,
    };
    Failure {
        error: TransportError::Http {
            url: redact_url(url),
            reason: err.to_string(),
        },
        retry,
    }
}

/// Classify a failure while reading a body: always worth another try.
pub(crate) fn io_failure(url: &str, err: &std::io::Error) -> Failure {
    let reason = if err.kind() == std::io::ErrorKind::TimedOut
        || err.to_string().contains("timeout")
        || err.to_string().contains("Timeout")
    {
        "the transfer stalled (no bytes within the read timeout)".to_string()
    } else {
        format!("the transfer broke: {err}")
    };
    Failure {
        error: TransportError::Http {
            url: redact_url(url),
            reason,
        },
        retry: Retry::Backoff,
    }
}

/// Say what a request is, for log lines: method and redacted URL.
pub(crate) fn describe(request: &Request) -> String {
    let method = match request.method {
        Method::Get => "GET",
        Method::Post => "POST",
    };
    format!("{method} {}", redact_url(&request.url))
}

/// Return what went wrong, without the URL the log line already names.
fn reason_of(error: &TransportError) -> String {
    match error {
        TransportError::Status { status, .. } => format!("answered HTTP {status}"),
        TransportError::Http { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

/// Resolve a `Location` header against the URL that sent it.
fn resolve(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    let Some(base) = UrlParts::of(base) else {
        return location.to_string();
    };
    let (scheme, authority) = (base.scheme, base.authority);
    if let Some(path) = location.strip_prefix("//") {
        return format!("{scheme}://{path}");
    }
    if location.starts_with('/') {
        return format!("{scheme}://{authority}{location}");
    }
    let path = base.path();
    let folder = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    let folder = if folder.is_empty() { "/" } else { folder };
    format!("{scheme}://{authority}{folder}{location}")
}

/// Return `host:port` of a URL, the port made explicit, for telling
/// whether a redirect stays with the host credentials belong to.
fn host_and_port(url: &str) -> String {
    let host_port = UrlParts::of(url).map_or("", |parts| parts.host_port());
    let port = host_port
        .rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()) && !port.is_empty())
        .map(|(_, port)| port.to_string())
        .unwrap_or_else(|| {
            if url.starts_with("https://") {
                "443"
            } else {
                "80"
            }
            .to_string()
        });
    format!("{}:{port}", host_of(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_never_resent_to_another_host() {
        let elsewhere = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let stolen = format!("http://{}/steal", elsewhere.server_addr());
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let url = format!("http://{}/token", server.server_addr());
        let handle = std::thread::spawn(move || {
            let request = server.recv().unwrap();
            let location = tiny_http::Header::from_bytes("Location", stolen.as_str()).unwrap();
            request
                .respond(
                    tiny_http::Response::from_string("")
                        .with_status_code(307)
                        .with_header(location),
                )
                .unwrap();
        });
        let transport = Transport::new(crate::TransportConfig::default()).unwrap();
        let body = serde_json::json!({"refresh_token": "planted-refresh-token"});
        let err = transport
            .send(&Request::post_json(url.as_str(), &body), 1024)
            .unwrap_err()
            .to_string();
        handle.join().unwrap();
        assert!(
            err.starts_with(&format!(
                "{url}: refusing to resend the request's body to another host (http://"
            )),
            "{err}"
        );
        assert!(
            elsewhere
                .recv_timeout(std::time::Duration::from_millis(200))
                .unwrap()
                .is_none(),
            "the other host was never asked"
        );
    }

    #[test]
    fn redirect_targets_resolve() {
        assert_eq!(
            resolve("https://a.example/x/y?q=1", "/z"),
            "https://a.example/z"
        );
        assert_eq!(
            resolve("https://a.example/x/y", "z"),
            "https://a.example/x/z"
        );
        assert_eq!(
            resolve("https://a.example/x", "//b.example/f"),
            "https://b.example/f"
        );
        assert_eq!(
            resolve("https://a.example/x", "https://c.example/f?sig=1"),
            "https://c.example/f?sig=1"
        );
    }

    #[test]
    fn hosts_compare_with_their_ports() {
        assert_eq!(host_and_port("https://API.example/x"), "api.example:443");
        assert_eq!(host_and_port("http://127.0.0.1:8080/x"), "127.0.0.1:8080");
        assert_ne!(
            host_and_port("http://127.0.0.1:8080/x"),
            host_and_port("http://127.0.0.1:8081/x")
        );
    }
}
