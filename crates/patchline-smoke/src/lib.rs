//! Smoke tests: the checks that say an environment still works after a
//! patch was applied.
//!
//! A [`Config`] lists named checks (an HTTP request, a TCP connect, a
//! command). [`run`] runs them side by side, retrying each with
//! [`Backoff`] until it passes or its deadline passes, and returns a
//! [`Report`] that can be written as JUnit XML and `summary.json`.
//!
//! ```no_run
//! use patchline_smoke::{run, Config, Expand};
//!
//! let text = "checks: [{name: web, http: {url: 'http://127.0.0.1:8080/'}}]";
//! let config = Config::from_yaml(text, &Expand::from_env()).unwrap();
//! let report = run(&config, None, |result| eprintln!("{result}"));
//! report.write(std::path::Path::new("smoke-report")).unwrap();
//! ```

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

mod backoff;
mod command;
mod config;
mod expand;
mod http;
mod report;
mod tcp;

pub use backoff::Backoff;
pub use config::{
    Check, CommandProbe, Config, ConfigError, HttpProbe, Kind, Probe, TcpProbe, DEFAULT_DEADLINE,
};
pub use expand::{Expand, ExpandError};
pub use report::{seconds, CheckResult, Report, WriteError, DEFAULT_SUITE};

/// Run every check of `config` at once, calling `on_result` with each
/// result in config order as soon as it and all checks before it are done,
/// and return the report for `environment`.
pub fn run(
    config: &Config,
    environment: Option<&str>,
    mut on_result: impl FnMut(&CheckResult),
) -> Report {
    let started = Instant::now();
    let mut results: Vec<Option<CheckResult>> = vec![None; config.checks.len()];

    thread::scope(|scope| {
        let (sender, receiver) = mpsc::channel();
        for (index, check) in config.checks.iter().enumerate() {
            let sender = sender.clone();
            scope.spawn(move || {
                let _ = sender.send((index, run_check(check, Backoff::default())));
            });
        }
        drop(sender);

        let mut next = 0;
        for (index, result) in receiver {
            results[index] = Some(result);
            while let Some(Some(result)) = results.get(next) {
                on_result(result);
                next += 1;
            }
        }
    });

    Report {
        environment: environment.map(str::to_string),
        checks: results.into_iter().flatten().collect(),
        duration: started.elapsed(),
    }
}

/// Retry one check until an attempt passes or its deadline passes; each
/// attempt may use only the time that is left.
pub fn run_check(check: &Check, mut backoff: Backoff) -> CheckResult {
    let started = Instant::now();
    let mut attempts = 0;
    let mut reason = String::new();

    loop {
        let left = check.deadline.saturating_sub(started.elapsed());
        if left.is_zero() {
            break;
        }
        attempts += 1;
        match attempt(&check.probe, left) {
            Ok(()) => {
                return CheckResult {
                    name: check.name.clone(),
                    kind: check.probe.kind(),
                    passed: true,
                    attempts,
                    duration: started.elapsed(),
                    reason: None,
                }
            }
            Err(why) => reason = why,
        }

        let left = check.deadline.saturating_sub(started.elapsed());
        thread::sleep(backoff.next_delay().min(left));
    }

    CheckResult {
        name: check.name.clone(),
        kind: check.probe.kind(),
        passed: false,
        attempts,
        duration: started.elapsed(),
        reason: Some(reason),
    }
}

fn attempt(probe: &Probe, time_left: Duration) -> Result<(), String> {
    match probe {
        Probe::Http(http) => http::attempt(http, time_left),
        Probe::Tcp(tcp) => tcp::attempt(tcp, time_left),
        Probe::Command(command) => command::attempt(command, time_left),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn config(text: &str) -> Config {
        Config::from_yaml(text, &Expand::new([])).unwrap()
    }

    #[test]
    fn failing_check_retries_until_its_deadline() {
        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let config = config(&format!(
            "checks: [{{name: db, deadline: 400ms, tcp: {{host: 127.0.0.1, port: {port}}}}}]"
        ));

        let result = run_check(
            &config.checks[0],
            Backoff::new(Duration::from_millis(50), Duration::from_millis(100)),
        );
        // Attempts start at 0, 50, 150, 250 and 350 ms; a busy machine may
        // push the last one past the deadline.
        assert!((4..=5).contains(&result.attempts), "{}", result.attempts);
        assert!(!result.passed);
        assert_eq!(
            result.reason,
            Some(format!("connection refused (127.0.0.1:{port})"))
        );
        assert!(
            result.duration >= Duration::from_millis(400),
            "{:?}",
            result.duration
        );
        assert!(
            result.duration < Duration::from_millis(900),
            "{:?}",
            result.duration
        );
    }

    #[test]
    fn results_arrive_in_config_order() {
        let config = config(
            "checks:\n- {name: slow, command: {run: [sleep, '0.5']}}\n- {name: fast, command: {run: [sleep, '0.3']}}\n",
        );
        let mut seen = Vec::new();
        let report = run(&config, Some("sandbox"), |result| {
            seen.push(result.name.clone())
        });
        assert_eq!(seen, ["slow", "fast"]);
        assert!(report.passed());
        assert_eq!(report.environment.as_deref(), Some("sandbox"));
        // Side by side (0.5 s), not one after the other (0.8 s).
        assert!(
            report.duration < Duration::from_millis(750),
            "{:?}",
            report.duration
        );
    }
}
