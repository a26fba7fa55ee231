//! Smoke-test configuration: the checks an operator lists in YAML, read
//! strictly so that a typo fails before anything is probed.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;
use serde_yaml_ng::Value;
use ureq::http::{HeaderName, HeaderValue, Method, Uri};

use crate::expand::Expand;

/// How long a check may keep retrying when neither it nor the config sets a
/// `deadline`.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);

/// A parsed, expanded and validated smoke-test config.
#[derive(Debug, Clone)]
pub struct Config {
    /// The checks, in config order.
    pub checks: Vec<Check>,
}

/// One named check.
#[derive(Debug, Clone)]
pub struct Check {
    /// Unique within the config; names the JUnit test case.
    pub name: String,
    /// How long the check may keep retrying before it fails.
    pub deadline: Duration,
    /// What the check probes.
    pub probe: Probe,
}

/// What a check probes; exactly one kind per check.
#[derive(Debug, Clone)]
pub enum Probe {
    /// An HTTP request and what its answer must look like.
    Http(HttpProbe),
    /// A TCP connect.
    Tcp(TcpProbe),
    /// A command that must exit 0.
    Command(CommandProbe),
}

/// The kind of a check, as written in the config and the reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `http:`
    Http,
    /// `tcp:`
    Tcp,
    /// `command:`
    Command,
}

/// An HTTP check. Redirects are never followed: a 3xx answer is compared
/// with `status` like any other, so a redirect can be checked on purpose.
#[derive(Debug, Clone)]
pub struct HttpProbe {
    /// An `http://` or `https://` URL.
    pub url: String,
    /// The request method (`GET` unless set).
    pub method: Method,
    /// Extra request headers.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The status the answer must have (200 unless set).
    pub status: u16,
    /// Text the body must contain.
    pub body_contains: Option<String>,
    /// A regular expression the body must match.
    pub body_matches: Option<Regex>,
    /// The longest the full answer may take; a slower one fails.
    pub max_latency: Option<Duration>,
}

/// A TCP check: it passes when a connection opens.
#[derive(Debug, Clone)]
pub struct TcpProbe {
    /// A host name or IP address.
    pub host: String,
    /// The port, 1 to 65535.
    pub port: u16,
}

/// A command check: it passes when the command exits 0.
#[derive(Debug, Clone)]
pub struct CommandProbe {
    /// The program and its arguments; no shell is involved.
    pub run: Vec<String>,
    /// Variables added to the inherited environment.
    pub env: Vec<(String, String)>,
}

/// A config that cannot be used; `path` names the offending field, such as
/// `checks[1] (database).tcp.port`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// Where in the config the problem is; empty for the document itself.
    pub path: String,
    /// What is wrong there.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl Kind {
    /// Return the name used in the config and the reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Http => "http",
            Kind::Tcp => "tcp",
            Kind::Command => "command",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Probe {
    /// Return the kind of this probe.
    pub fn kind(&self) -> Kind {
        match self {
            Probe::Http(_) => Kind::Http,
            Probe::Tcp(_) => Kind::Tcp,
            Probe::Command(_) => Kind::Command,
        }
    }
}

/// A string field that also takes a plain YAML number or boolean as its
/// text, so `run: [sleep, 1]` and `env: {RETRIES: 3}` read as written.
struct Text(String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl serde::de::Visitor<'_> for Visitor {
            type Value = Text;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }

            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }

            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
        }

        deserializer.deserialize_any(Visitor)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    deadline: Option<String>,
    checks: Vec<RawCheck>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    name: String,
    #[serde(default)]
    deadline: Option<String>,
    #[serde(default)]
    http: Option<RawHttp>,
    #[serde(default)]
    tcp: Option<RawTcp>,
    #[serde(default)]
    command: Option<RawCommand>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    url: String,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, Text>,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    body_contains: Option<Text>,
    #[serde(default)]
    body_matches: Option<String>,
    #[serde(default)]
    max_latency: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTcp {
    host: String,
    port: u16,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCommand {
    run: Vec<Text>,
    #[serde(default)]
    env: BTreeMap<String, Text>,
}

impl Config {
    /// Parse `text`, expand `${NAME}` references in the checks' string
    /// fields from `vars`, and validate every field.
    pub fn from_yaml(text: &str, vars: &Expand) -> Result<Config, ConfigError> {
        let document: Value = serde_yaml_ng::from_str(text).map_err(|err| ConfigError {
            path: String::new(),
            message: format!("not valid YAML: {}", one_line(&err.to_string())),
        })?;

        // Deserialising the parsed value (not the text) lets the error path be
        // rebuilt with the check's name in it, which is what an operator
        // searches the file for.
        let raw: RawConfig =
            serde_path_to_error::deserialize(document.clone()).map_err(|err| ConfigError {
                path: field_path(err.path(), &document),
                message: one_line(&err.inner().to_string()),
            })?;

        let default_deadline = match &raw.deadline {
            Some(text) => parse_duration(text).map_err(|message| ConfigError {
                path: "deadline".to_string(),
                message,
            })?,
            None => DEFAULT_DEADLINE,
        };
        if raw.checks.is_empty() {
            return Err(ConfigError {
                path: "checks".to_string(),
                message: "lists no checks".to_string(),
            });
        }

        let mut seen = HashSet::new();
        let mut checks = Vec::with_capacity(raw.checks.len());
        for (index, check) in raw.checks.into_iter().enumerate() {
            let at = Place {
                prefix: format!("checks[{index}] ({})", check.name),
            };
            if check.name.trim().is_empty() {
                return Err(at.error("name", "is empty"));
            }
            if !seen.insert(check.name.clone()) {
                return Err(at.error("name", "is used by an earlier check; names must be unique"));
            }
            checks.push(check_from_raw(check, default_deadline, &at, vars)?);
        }
        Ok(Config { checks })
    }
}

/// Where a check sits in the config, for error messages.
struct Place {
    prefix: String,
}

impl Place {
    fn error(&self, field: &str, message: impl Into<String>) -> ConfigError {
        let path = if field.is_empty() {
            self.prefix.clone()
        } else {
            format!("{}.{field}", self.prefix)
        };
        ConfigError {
            path,
            message: message.into(),
        }
    }

    fn expand(&self, vars: &Expand, field: &str, text: &str) -> Result<String, ConfigError> {
        vars.expand(text)
            .map_err(|err| self.error(field, err.to_string()))
    }
}

fn check_from_raw(
    raw: RawCheck,
    default_deadline: Duration,
    at: &Place,
    vars: &Expand,
) -> Result<Check, ConfigError> {
    let deadline = match &raw.deadline {
        Some(text) => parse_duration(text).map_err(|message| at.error("deadline", message))?,
        None => default_deadline,
    };
    if deadline.is_zero() {
        return Err(at.error("deadline", "must be longer than zero"));
    }

    let probe = match (raw.http, raw.tcp, raw.command) {
        (Some(http), None, None) => Probe::Http(http_from_raw(http, at, vars)?),
        (None, Some(tcp), None) => Probe::Tcp(tcp_from_raw(tcp, at, vars)?),
        (None, None, Some(command)) => Probe::Command(command_from_raw(command, at, vars)?),
        _ => return Err(at.error("", "needs exactly one of http, tcp, command")),
    };
    Ok(Check {
        name: raw.name,
        deadline,
        probe,
    })
}

fn http_from_raw(raw: RawHttp, at: &Place, vars: &Expand) -> Result<HttpProbe, ConfigError> {
    let url = at.expand(vars, "http.url", &raw.url)?;
    let uri: Uri = url
        .parse()
        .map_err(|_| at.error("http.url", "is not a valid URL"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(at.error("http.url", "must be an http:// or https:// URL with a host"));
    }

    let method = match &raw.method {
        Some(text) => {
            let text = at.expand(vars, "http.method", text)?;
            Method::from_bytes(text.to_ascii_uppercase().as_bytes())
                .map_err(|_| at.error("http.method", format!("{text:?} is not an HTTP method")))?
        }
        None => Method::GET,
    };

    let mut headers = Vec::with_capacity(raw.headers.len());
    for (name, value) in &raw.headers {
        let field = format!("http.headers.{name}");
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| at.error(&field, "is not a valid header name"))?;
        // The value may carry a token from the environment: never echo it.
        let value = HeaderValue::from_str(&at.expand(vars, &field, &value.0)?)
            .map_err(|_| at.error(&field, "value contains characters a header cannot carry"))?;
        headers.push((header, value));
    }

    let status = raw.status.unwrap_or(200);
    if !(100..=599).contains(&status) {
        return Err(at.error(
            "http.status",
            format!("{status} is not an HTTP status (100 to 599)"),
        ));
    }

    let body_contains = match &raw.body_contains {
        Some(text) => Some(at.expand(vars, "http.body_contains", &text.0)?),
        None => None,
    };
    let body_matches = match &raw.body_matches {
        Some(text) => {
            let pattern = at.expand(vars, "http.body_matches", text)?;
            Some(Regex::new(&pattern).map_err(|err| {
                at.error(
                    "http.body_matches",
                    format!("not a valid regex: {}", one_line(&err.to_string())),
                )
            })?)
        }
        None => None,
    };
    let max_latency = match &raw.max_latency {
        Some(text) => {
            Some(parse_duration(text).map_err(|message| at.error("http.max_latency", message))?)
        }
        None => None,
    };

    Ok(HttpProbe {
        url,
        method,
        headers,
        status,
        body_contains,
        body_matches,
        max_latency,
    })
}

fn tcp_from_raw(raw: RawTcp, at: &Place, vars: &Expand) -> Result<TcpProbe, ConfigError> {
    let host = at.expand(vars, "tcp.host", &raw.host)?;
    if host.trim().is_empty() {
        return Err(at.error("tcp.host", "is empty"));
    }
    if raw.port == 0 {
        return Err(at.error("tcp.port", "must be between 1 and 65535"));
    }
    Ok(TcpProbe {
        host,
        port: raw.port,
    })
}

fn command_from_raw(
    raw: RawCommand,
    at: &Place,
    vars: &Expand,
) -> Result<CommandProbe, ConfigError> {
    if raw.run.first().is_none_or(|program| program.0.is_empty()) {
        return Err(at.error("command.run", "must name a program"));
    }
    let run = raw
        .run
        .iter()
        .enumerate()
        .map(|(i, arg)| at.expand(vars, &format!("command.run[{i}]"), &arg.0))
        .collect::<Result<Vec<_>, _>>()?;

    let mut env = Vec::with_capacity(raw.env.len());
    for (name, value) in &raw.env {
        let field = format!("command.env.{name}");
        if name.is_empty() || name.contains(['=', '\0']) {
            return Err(at.error(&field, "is not a valid variable name"));
        }
        let value = at.expand(vars, &field, &value.0)?;
        if value.contains('\0') {
            return Err(at.error(&field, "value contains a NUL byte"));
        }
        env.push((name.clone(), value));
    }
    Ok(CommandProbe { run, env })
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|err| format!("{text:?} is not a duration such as 30s or 2m ({err})"))
}

/// Render a deserialisation path, putting the check's name after its index
/// (`checks[1] (database).tcp.port`).
fn field_path(path: &serde_path_to_error::Path, document: &Value) -> String {
    use serde_path_to_error::Segment;

    let mut out = String::new();
    let mut in_checks = false;
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => {
                out.push_str(&format!("[{index}]"));
                if in_checks {
                    let name = document
                        .get("checks")
                        .and_then(|checks| checks.get(*index))
                        .and_then(|check| check.get("name"))
                        .and_then(Value::as_str);
                    if let Some(name) = name {
                        out.push_str(&format!(" ({name})"));
                    }
                }
            }
            Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Enum { variant } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(variant);
            }
            Segment::Unknown => {}
        }
        in_checks = out == "checks";
    }
    out
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_yaml(
            text,
            &Expand::new([("PORT".to_string(), "8080".to_string())]),
        )
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn reads_every_kind_and_default() {
        let config = parse(
            r#"
deadline: 2m
checks:
  - name: homepage
    http: {url: "http://127.0.0.1:${PORT}/", body_contains: ok, body_matches: 'v\d+$',
           max_latency: 500ms, method: head, headers: {Accept: text/plain}}
  - name: database
    tcp: {host: 127.0.0.1, port: 5432}
  - name: version
    command: {run: [sh, -c, "test -f /x"], env: {A: b}}
    deadline: 30s
"#,
        )
        .unwrap();
        assert_eq!(config.checks.len(), 3);
        let Probe::Http(http) = &config.checks[0].probe else {
            panic!("first check is not http");
        };
        assert_eq!(http.url, "http://127.0.0.1:8080/");
        assert_eq!(http.method, Method::HEAD);
        assert_eq!(http.status, 200);
        assert_eq!(http.headers[0].0.as_str(), "accept");
        assert_eq!(http.headers[0].1.to_str().unwrap(), "text/plain");
        assert_eq!(http.body_matches.as_ref().unwrap().as_str(), r"v\d+$");
        assert_eq!(http.max_latency, Some(Duration::from_millis(500)));
        assert_eq!(config.checks[0].deadline, Duration::from_secs(120));
        let Probe::Tcp(tcp) = &config.checks[1].probe else {
            panic!("second check is not tcp");
        };
        assert_eq!((tcp.host.as_str(), tcp.port), ("127.0.0.1", 5432));
        let Probe::Command(command) = &config.checks[2].probe else {
            panic!("third check is not a command");
        };
        assert_eq!(command.run, ["sh", "-c", "test -f /x"]);
        assert_eq!(command.env, [("A".to_string(), "b".to_string())]);
        assert_eq!(config.checks[2].deadline, Duration::from_secs(30));
        assert_eq!(config.checks[2].probe.kind(), Kind::Command);
    }

    #[test]
    fn plain_scalars_read_as_text() {
        let config = parse(
            "checks: [{name: nap, command: {run: [sleep, 1], env: {RETRIES: 3, QUIET: true}}}]",
        )
        .unwrap();
        let Probe::Command(command) = &config.checks[0].probe else {
            panic!("not a command check");
        };
        assert_eq!(command.run, ["sleep", "1"]);
        assert_eq!(
            command.env,
            [
                ("QUIET".to_string(), "true".to_string()),
                ("RETRIES".to_string(), "3".to_string())
            ]
        );
        assert_eq!(
            error("checks: [{name: nap, command: {run: [sleep, [1]]}}]"),
            "checks[0] (nap).command.run[1]: invalid type: sequence, expected a string"
        );
    }

    #[test]
    fn deadline_defaults_to_one_minute() {
        let config = parse("checks: [{name: db, tcp: {host: localhost, port: 1}}]").unwrap();
        assert_eq!(config.checks[0].deadline, DEFAULT_DEADLINE);
    }

    #[test]
    fn type_error_names_check_and_field() {
        assert_eq!(
            error("checks:\n- {name: web, tcp: {host: a, port: 1}}\n- {name: database, tcp: {host: a, port: high}}\n"),
            "checks[1] (database).tcp.port: invalid type: string \"high\", expected u16"
        );
    }

    #[test]
    fn unknown_field_names_check() {
        let message = error("checks:\n- {name: web, http: {url: 'http://a/', statuz: 200}}\n");
        assert!(
            message.starts_with("checks[0] (web).http.statuz: unknown field `statuz`"),
            "{message}"
        );
    }

    #[test]
    fn unknown_top_level_field() {
        let message = error("checks: []\ntimeout: 3s\n");
        assert!(
            message.starts_with("timeout: unknown field `timeout`"),
            "{message}"
        );
    }

    #[test]
    fn semantic_errors_name_check_and_field() {
        assert_eq!(
            error("checks: [{name: db, tcp: {host: a, port: 0}}]"),
            "checks[0] (db).tcp.port: must be between 1 and 65535"
        );
        assert_eq!(
            error("checks: [{name: db, tcp: {host: a, port: 1}, deadline: soon}]"),
            "checks[0] (db).deadline: \"soon\" is not a duration such as 30s or 2m (expected number at 0)"
        );
        assert_eq!(
            error("checks: [{name: web, http: {url: 'ftp://a/'}}]"),
            "checks[0] (web).http.url: must be an http:// or https:// URL with a host"
        );
        assert_eq!(
            error("checks: [{name: web, http: {url: 'http://a/', status: 700}}]"),
            "checks[0] (web).http.status: 700 is not an HTTP status (100 to 599)"
        );
        assert_eq!(
            error("checks: [{name: web, http: {url: 'http://a/', body_matches: '('}}]")
                .split(':')
                .take(2)
                .collect::<Vec<_>>(),
            ["checks[0] (web).http.body_matches", " not a valid regex"]
        );
        assert_eq!(
            error("checks: [{name: x, command: {run: []}}]"),
            "checks[0] (x).command.run: must name a program"
        );
        assert_eq!(
            error("checks: [{name: x}]"),
            "checks[0] (x): needs exactly one of http, tcp, command"
        );
        assert_eq!(
            error("checks: [{name: x, tcp: {host: a, port: 1}, command: {run: ['true']}}]"),
            "checks[0] (x): needs exactly one of http, tcp, command"
        );
    }

    #[test]
    fn names_must_be_unique_and_present() {
        assert_eq!(
            error("checks:\n- {name: db, tcp: {host: a, port: 1}}\n- {name: db, tcp: {host: b, port: 1}}\n"),
            "checks[1] (db).name: is used by an earlier check; names must be unique"
        );
        assert_eq!(
            error("checks: [{name: '', tcp: {host: a, port: 1}}]"),
            "checks[0] ().name: is empty"
        );
        assert_eq!(error("checks: []"), "checks: lists no checks");
        assert_eq!(error("deadline: 1s\n"), "missing field `checks`");
    }

    #[test]
    fn unset_variable_names_check_and_field() {
        assert_eq!(
            error("checks: [{name: version, command: {run: [echo, '${NOPE}']}}]"),
            "checks[0] (version).command.run[1]: ${NOPE} is not set"
        );
        assert_eq!(
            error("checks: [{name: api, http: {url: 'http://a/', headers: {Authorization: 'Bearer ${TOKEN}'}}}]"),
            "checks[0] (api).http.headers.Authorization: ${TOKEN} is not set"
        );
    }

    #[test]
    fn yaml_syntax_error_is_one_line() {
        let message = error("checks: [\n  {name: a\n");
        assert!(message.starts_with("not valid YAML: "), "{message}");
        assert!(!message.contains('\n'), "{message}");
    }
}
