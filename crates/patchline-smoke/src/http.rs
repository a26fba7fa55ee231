//! The HTTP check: one request, then its status, latency and body compared
//! with what the config expects.

use std::io::{ErrorKind, Read};
use std::time::{Duration, Instant};

use ureq::http::{Request, Uri};
use ureq::Agent;

use crate::config::HttpProbe;
use crate::report::seconds;

/// The most body a check reads; a smoke-test page larger than this is
/// compared on its first part only.
const BODY_LIMIT: u64 = 4 * 1024 * 1024;

/// Make one request, giving up after `time_left`; `Err` carries why the
/// answer is not the expected one.
pub(crate) fn attempt(probe: &HttpProbe, time_left: Duration) -> Result<(), String> {
    let agent: Agent = Agent::config_builder()
        .tls_config(patchline_transport::tls_config())
        .timeout_global(Some(time_left))
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .into();

    let mut request = Request::builder()
        .method(probe.method.clone())
        .uri(probe.url.as_str());
    for (name, value) in &probe.headers {
        request = request.header(name, value);
    }
    let request = request
        .body(())
        .map_err(|err| format!("cannot build the request: {err}"))?;

    let started = Instant::now();
    let mut response = agent
        .run(request)
        .map_err(|err| describe(&err, &probe.url, time_left))?;
    // Only the first BODY_LIMIT bytes are compared: read that much and stop,
    // so a huge answer costs neither memory nor a false failure.
    let mut body = Vec::new();
    let body = response
        .body_mut()
        .as_reader()
        .take(BODY_LIMIT)
        .read_to_end(&mut body)
        .map(|_| body);
    let latency = started.elapsed();

    let status = response.status().as_u16();
    if status != probe.status {
        return Err(format!("status {status}, expected {}", probe.status));
    }
    if let Some(max) = probe.max_latency {
        if latency > max {
            return Err(format!(
                "answered in {}s, over max_latency {}",
                seconds(latency),
                humantime::format_duration(max)
            ));
        }
    }
    let body = match body {
        Ok(body) => body,
        // A read failure means the answer never fully arrived.
        Err(err) => {
            return Err(format!(
                "reading the body failed: {}",
                describe(&ureq::Error::Io(err), &probe.url, time_left)
            ))
        }
    };
    let body = String::from_utf8_lossy(&body);
    if let Some(needle) = &probe.body_contains {
        if !body.contains(needle.as_str()) {
            return Err(format!("body does not contain {needle:?}"));
        }
    }
    if let Some(pattern) = &probe.body_matches {
        if !pattern.is_match(&body) {
            return Err(format!("body does not match /{pattern}/"));
        }
    }
    Ok(())
}

/// Say why a request failed in a few words plus the host and port, never
/// the full URL: it may carry credentials or a token in its query.
fn describe(err: &ureq::Error, url: &str, time_left: Duration) -> String {
    let what = match err {
        ureq::Error::Timeout(_) => format!("no answer within {}s", seconds(time_left)),
        ureq::Error::HostNotFound => "host not found".to_string(),
        ureq::Error::ConnectionFailed => "connection failed".to_string(),
        ureq::Error::Io(io) => match io.kind() {
            ErrorKind::ConnectionRefused => "connection refused".to_string(),
            ErrorKind::ConnectionReset => "connection reset".to_string(),
            ErrorKind::TimedOut => format!("no answer within {}s", seconds(time_left)),
            ErrorKind::UnexpectedEof => "connection closed before an answer".to_string(),
            _ => io.to_string(),
        },
        other => other.to_string(),
    };
    match url.parse::<Uri>() {
        Ok(uri) => {
            let host = uri.host().unwrap_or_default();
            let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
                Some("https") => 443,
                _ => 80,
            });
            format!("{what} ({host}:{port})")
        }
        Err(_) => what,
    }
}

#[cfg(test)]
mod tests {
    use crate::{run_check, Backoff, Config, Expand};

    #[test]
    fn a_body_past_the_limit_is_compared_on_its_first_bytes() {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let url = format!("http://{}/big", server.server_addr());
        let big = "a".repeat(5_000_000) + "tail";
        let serving = std::thread::spawn(move || {
            for request in server.incoming_requests().take(2) {
                let _ = request.respond(tiny_http::Response::from_string(big.clone()));
            }
        });
        let config = Config::from_yaml(
            &format!(
                "deadline: 5s\nchecks:\n- {{name: head, http: {{url: '{url}', body_contains: aaa}}}}\n\
                 - {{name: tail, deadline: 300ms, http: {{url: '{url}', body_contains: tail}}}}\n"
            ),
            &Expand::new([]),
        )
        .unwrap();
        let backoff = || {
            Backoff::new(
                std::time::Duration::from_secs(5),
                std::time::Duration::from_secs(5),
            )
        };

        let head = run_check(&config.checks[0], backoff());
        assert!(head.passed, "{:?}", head.reason);
        let tail = run_check(&config.checks[1], backoff());
        assert_eq!(
            tail.reason.as_deref(),
            Some("body does not contain \"tail\"")
        );
        serving.join().unwrap();
    }
}
