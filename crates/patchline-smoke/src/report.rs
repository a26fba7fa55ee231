//! Smoke-test results: one line per check for the build log, plus the JUnit
//! XML and `summary.json` files a pipeline keeps or shows.

use std::fmt::{self, Write as _};
use std::fs;
use std::io::{self, Write as _};
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::config::Kind;

/// The JUnit suite name when no environment is given.
pub const DEFAULT_SUITE: &str = "smoke-test";

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckResult {
    /// The check's name from the config.
    pub name: String,
    /// Which kind of check it was.
    pub kind: Kind,
    /// Whether an attempt passed before the deadline.
    pub passed: bool,
    /// How many attempts were made.
    pub attempts: u32,
    /// From the first attempt's start to the result.
    pub duration: Duration,
    /// Why the last attempt failed; `None` when the check passed.
    pub reason: Option<String>,
}

/// The outcome of a whole smoke test.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The environment that was tested, when known.
    pub environment: Option<String>,
    /// One result per check, in config order.
    pub checks: Vec<CheckResult>,
    /// Wall time of the run; checks run side by side, so this is about the
    /// slowest check, not the sum.
    pub duration: Duration,
}

/// Why the report files could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}")]
pub struct WriteError {
    /// The file or folder that could not be written.
    pub path: String,
    /// The underlying failure.
    #[source]
    pub source: io::Error,
}

#[derive(Serialize)]
struct Summary<'a> {
    environment: Option<&'a str>,
    passed: bool,
    checks: Vec<SummaryCheck<'a>>,
}

#[derive(Serialize)]
struct SummaryCheck<'a> {
    name: &'a str,
    kind: &'static str,
    passed: bool,
    attempts: u32,
    duration_seconds: f64,
    reason: Option<&'a str>,
}

impl fmt::Display for CheckResult {
    /// Format the log line: `PASS homepage (3 attempts, 0.12s)` or
    /// `FAIL database: connection refused (...) after 7 attempts in 2.00s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let attempts = if self.attempts == 1 {
            "attempt"
        } else {
            "attempts"
        };
        match (&self.reason, self.passed) {
            (_, true) => write!(
                f,
                "PASS {} ({} {attempts}, {}s)",
                self.name,
                self.attempts,
                seconds(self.duration)
            ),
            (reason, false) => write!(
                f,
                "FAIL {}: {} after {} {attempts} in {}s",
                self.name,
                reason.as_deref().unwrap_or("failed"),
                self.attempts,
                seconds(self.duration)
            ),
        }
    }
}

impl Report {
    /// Return whether every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|check| check.passed)
    }

    /// Return how many checks failed.
    pub fn failures(&self) -> usize {
        self.checks.iter().filter(|check| !check.passed).count()
    }

    /// Write `junit.xml` and `summary.json` into `dir`, creating it. Each
    /// file is written under a temporary name and renamed, so a reader never
    /// sees half a report.
    pub fn write(&self, dir: &Path) -> Result<(), WriteError> {
        let failed = |path: &Path| {
            let path = path.display().to_string();
            move |source| WriteError { path, source }
        };
        fs::create_dir_all(dir).map_err(failed(dir))?;
        let summary = serde_json::to_string_pretty(&self.summary())
            .map_err(io::Error::from)
            .map_err(failed(dir))?;
        for (name, text) in [
            ("junit.xml", self.junit()),
            ("summary.json", summary + "\n"),
        ] {
            let path = dir.join(name);
            let mut file = tempfile::NamedTempFile::new_in(dir).map_err(failed(dir))?;
            file.write_all(text.as_bytes()).map_err(failed(&path))?;
            file.persist(&path)
                .map_err(|err| err.error)
                .map_err(failed(&path))?;
        }
        Ok(())
    }

    fn summary(&self) -> Summary<'_> {
        Summary {
            environment: self.environment.as_deref(),
            passed: self.passed(),
            checks: self
                .checks
                .iter()
                .map(|check| SummaryCheck {
                    name: &check.name,
                    kind: check.kind.as_str(),
                    passed: check.passed,
                    attempts: check.attempts,
                    duration_seconds: (check.duration.as_secs_f64() * 1000.0).round() / 1000.0,
                    reason: check.reason.as_deref(),
                })
                .collect(),
        }
    }

    /// Render the JUnit XML: one suite named after the environment, one test
    /// case per check, a `<failure>` on each failed one.
    pub fn junit(&self) -> String {
        let suite = xml(self.environment.as_deref().unwrap_or(DEFAULT_SUITE));
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            out,
            "<testsuites name=\"{suite}\" tests=\"{}\" failures=\"{}\" errors=\"0\" time=\"{}\">",
            self.checks.len(),
            self.failures(),
            millis(self.duration)
        );
        let _ = writeln!(
            out,
            "  <testsuite name=\"{suite}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"0\" time=\"{}\">",
            self.checks.len(),
            self.failures(),
            millis(self.duration)
        );
        for check in &self.checks {
            let head = format!(
                "    <testcase name=\"{}\" classname=\"{suite}.{}\" time=\"{}\"",
                xml(&check.name),
                check.kind,
                millis(check.duration)
            );
            match (&check.reason, check.passed) {
                (_, true) => {
                    let _ = writeln!(out, "{head}/>");
                }
                (reason, false) => {
                    let reason = xml(reason.as_deref().unwrap_or("failed"));
                    let _ = writeln!(out, "{head}>");
                    let _ = writeln!(
                        out,
                        "      <failure message=\"{reason}\" type=\"{}\">{reason} after {} attempts</failure>",
                        check.kind, check.attempts
                    );
                    let _ = writeln!(out, "    </testcase>");
                }
            }
        }
        out.push_str("  </testsuite>\n</testsuites>\n");
        out
    }
}

/// Format a duration as seconds with two decimals, as the log lines show it.
pub fn seconds(duration: Duration) -> String {
    format!("{:.2}", duration.as_secs_f64())
}

fn millis(duration: Duration) -> String {
    format!("{:.3}", duration.as_secs_f64())
}

/// Escape text for an XML attribute or element, dropping the control
/// characters XML 1.0 cannot carry at all.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push(' '),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        Report {
            environment: Some("sandbox".to_string()),
            checks: vec![
                CheckResult {
                    name: "homepage".to_string(),
                    kind: Kind::Http,
                    passed: true,
                    attempts: 3,
                    duration: Duration::from_millis(120),
                    reason: None,
                },
                CheckResult {
                    name: "db <main>".to_string(),
                    kind: Kind::Tcp,
                    passed: false,
                    attempts: 1,
                    duration: Duration::from_millis(2000),
                    reason: Some("connection refused (\"127.0.0.1:5432\") & \u{1}gone".to_string()),
                },
            ],
            duration: Duration::from_millis(2010),
        }
    }

    #[test]
    fn log_lines() {
        let report = report();
        assert_eq!(
            report.checks[0].to_string(),
            "PASS homepage (3 attempts, 0.12s)"
        );
        assert_eq!(
            report.checks[1].to_string(),
            "FAIL db <main>: connection refused (\"127.0.0.1:5432\") & \u{1}gone after 1 attempt in 2.00s"
        );
    }

    #[test]
    fn junit_is_well_formed_and_complete() {
        let text = report().junit();
        let doc = roxmltree::Document::parse(&text).unwrap();
        let suite = doc
            .descendants()
            .find(|n| n.has_tag_name("testsuite"))
            .unwrap();
        assert_eq!(suite.attribute("name"), Some("sandbox"));
        assert_eq!(suite.attribute("tests"), Some("2"));
        assert_eq!(suite.attribute("failures"), Some("1"));
        assert_eq!(suite.attribute("time"), Some("2.010"));
        let cases: Vec<_> = suite
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(cases[0].attribute("name"), Some("homepage"));
        assert_eq!(cases[0].attribute("time"), Some("0.120"));
        assert_eq!(cases[0].children().filter(|n| n.is_element()).count(), 0);
        assert_eq!(cases[1].attribute("name"), Some("db <main>"));
        assert_eq!(cases[1].attribute("classname"), Some("sandbox.tcp"));
        let failure = cases[1]
            .children()
            .find(|n| n.has_tag_name("failure"))
            .unwrap();
        assert_eq!(
            failure.attribute("message"),
            Some("connection refused (\"127.0.0.1:5432\") & gone")
        );
        assert_eq!(failure.attribute("type"), Some("tcp"));
    }

    #[test]
    fn suite_defaults_to_smoke_test() {
        let mut report = report();
        report.environment = None;
        assert!(report.junit().contains("<testsuite name=\"smoke-test\" "));
    }

    #[test]
    fn write_puts_both_files_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("smoke-report");
        report().write(&target).unwrap();

        let mut names: Vec<_> = fs::read_dir(&target)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["junit.xml", "summary.json"]);

        let summary: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(target.join("summary.json")).unwrap())
                .unwrap();
        assert_eq!(
            summary,
            serde_json::json!({
                "environment": "sandbox",
                "passed": false,
                "checks": [
                    {"name": "homepage", "kind": "http", "passed": true, "attempts": 3,
                     "duration_seconds": 0.12, "reason": null},
                    {"name": "db <main>", "kind": "tcp", "passed": false, "attempts": 1,
                     "duration_seconds": 2.0,
                     "reason": "connection refused (\"127.0.0.1:5432\") & \u{1}gone"},
                ]
            })
        );
    }
}
