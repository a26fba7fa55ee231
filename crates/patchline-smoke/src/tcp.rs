//! The TCP check: a service is up when a connection to its port opens.

use std::io::ErrorKind;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::config::TcpProbe;
use crate::report::seconds;

/// Try to connect within `time_left`, to each address the host resolves to
/// in turn; `Err` carries why the last one failed. Name resolution itself
/// uses the system resolver, which has no timeout of its own.
pub(crate) fn attempt(probe: &TcpProbe, time_left: Duration) -> Result<(), String> {
    let started = Instant::now();
    let place = format!("{}:{}", probe.host, probe.port);
    let addresses: Vec<_> = (probe.host.as_str(), probe.port)
        .to_socket_addrs()
        .map_err(|err| format!("cannot resolve {}: {err}", probe.host))?
        .collect();

    let mut last = format!("{} resolves to no address", probe.host);
    for address in addresses {
        let left = time_left.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(format!(
                "no connection within {}s ({place})",
                seconds(time_left)
            ));
        }
        match TcpStream::connect_timeout(&address, left) {
            Ok(_) => return Ok(()),
            Err(err) => {
                let what = match err.kind() {
                    ErrorKind::ConnectionRefused => "connection refused".to_string(),
                    ErrorKind::TimedOut => format!("no connection within {}s", seconds(left)),
                    _ => err.to_string(),
                };
                last = format!("{what} ({address})");
            }
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn passes_on_an_open_port_and_fails_on_a_closed_one() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let probe = TcpProbe {
            host: "127.0.0.1".to_string(),
            port,
        };
        assert_eq!(attempt(&probe, Duration::from_secs(1)), Ok(()));

        drop(listener);
        assert_eq!(
            attempt(&probe, Duration::from_secs(1)),
            Err(format!("connection refused (127.0.0.1:{port})"))
        );
    }
}
