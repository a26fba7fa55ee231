//! Ledger event: the one JSON record written for each apply, failure,
//! rollback or repave of a patch in an environment, and the Concourse build
//! that did it.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::LedgerError;

/// The record layout version written into every event.
pub const SCHEMA: u32 = 1;

/// Say what happened to an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The patch was installed.
    Applied,
    /// Installing the patch failed.
    Failed,
    /// The environment went back to an earlier version.
    RolledBack,
    /// The environment was recreated from the same patch.
    Repaved,
}

impl Status {
    /// Every status, in the order the docs list them.
    pub const ALL: [Status; 4] = [
        Status::Applied,
        Status::Failed,
        Status::RolledBack,
        Status::Repaved,
    ];

    /// Return the word used in JSON, params and commit messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Applied => "applied",
            Status::Failed => "failed",
            Status::RolledBack => "rolled-back",
            Status::Repaved => "repaved",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = LedgerError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| LedgerError::Event {
                field: "status",
                reason: format!("{s:?} is not one of applied, failed, rolled-back, repaved"),
            })
    }
}

/// Describe the Concourse build that caused an event.
///
/// Every field is `null` when Concourse did not provide it (for example when
/// the ledger is written from a shell rather than a build).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Build {
    /// `BUILD_ID`: the build's global number.
    pub id: Option<String>,
    /// `BUILD_NAME`: the build's number within its job.
    pub name: Option<String>,
    /// `BUILD_JOB_NAME`.
    pub job_name: Option<String>,
    /// `BUILD_PIPELINE_NAME`.
    pub pipeline_name: Option<String>,
    /// `BUILD_PIPELINE_INSTANCE_VARS`, parsed as JSON (kept as a string when
    /// it is not JSON).
    pub pipeline_instance_vars: Option<serde_json::Value>,
    /// `BUILD_TEAM_NAME`.
    pub team_name: Option<String>,
    /// `BUILD_CREATED_BY`: who started a manually triggered build.
    pub created_by: Option<String>,
    /// `ATC_EXTERNAL_URL`: the Concourse web address.
    pub atc_external_url: Option<String>,
    /// The build's page in the Concourse web UI, when enough is known.
    pub url: Option<String>,
}

impl Build {
    /// Read the build variables Concourse gives a resource's `out`.
    pub fn from_env() -> Self {
        Build::from_lookup(|name| std::env::var(name).ok())
    }

    /// Read the build variables from a map of the same names
    /// (`BUILD_ID`, `ATC_EXTERNAL_URL`, ...), as `from_env` would.
    pub fn from_map(vars: &BTreeMap<String, String>) -> Self {
        Build::from_lookup(|name| vars.get(name).cloned())
    }

    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        // Concourse sets unknown values to empty strings in some versions.
        let get = |name: &str| lookup(name).filter(|value| !value.is_empty());
        let pipeline_instance_vars = get("BUILD_PIPELINE_INSTANCE_VARS")
            .map(|raw| serde_json::from_str(&raw).unwrap_or(serde_json::Value::String(raw)));
        let mut build = Build {
            id: get("BUILD_ID"),
            name: get("BUILD_NAME"),
            job_name: get("BUILD_JOB_NAME"),
            pipeline_name: get("BUILD_PIPELINE_NAME"),
            pipeline_instance_vars,
            team_name: get("BUILD_TEAM_NAME"),
            created_by: get("BUILD_CREATED_BY"),
            atc_external_url: get("ATC_EXTERNAL_URL"),
            url: None,
        };
        build.url = build.web_url();
        build
    }

    /// Compute the build's web address: the job build page for pipeline
    /// builds, `/builds/<id>` for one-off builds.
    fn web_url(&self) -> Option<String> {
        let atc = self.atc_external_url.as_deref()?.trim_end_matches('/');
        match (
            &self.team_name,
            &self.pipeline_name,
            &self.job_name,
            &self.name,
        ) {
            (Some(team), Some(pipeline), Some(job), Some(name)) => {
                let mut url = format!(
                    "{atc}/teams/{}/pipelines/{}/jobs/{}/builds/{}",
                    encode(team),
                    encode(pipeline),
                    encode(job),
                    encode(name)
                );
                if let Some(serde_json::Value::Object(vars)) = &self.pipeline_instance_vars {
                    let mut query = Vec::new();
                    instance_var_params(vars, "", &mut query);
                    if !query.is_empty() {
                        url.push('?');
                        url.push_str(&query.join("&"));
                    }
                }
                Some(url)
            }
            _ => self
                .id
                .as_ref()
                .map(|id| format!("{atc}/builds/{}", encode(id))),
        }
    }
}

/// Flatten instance vars the way the Concourse web UI addresses an
/// instanced pipeline: `vars.<dotted.path>=<JSON value>`.
fn instance_var_params(
    vars: &serde_json::Map<String, serde_json::Value>,
    prefix: &str,
    out: &mut Vec<String>,
) {
    for (key, value) in vars {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            serde_json::Value::Object(inner) => instance_var_params(inner, &path, out),
            other => out.push(format!(
                "vars.{}={}",
                encode(&path).replace("%2E", "."),
                encode(&other.to_string())
            )),
        }
    }
}

/// Percent-encode everything but RFC 3986 unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// One ledger record: what happened to which environment, when, and which
/// build did it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The record layout version, [`SCHEMA`].
    pub schema: u32,
    /// When it happened, in UTC, to the second.
    #[serde(serialize_with = "rfc3339_seconds", deserialize_with = "rfc3339")]
    pub time: DateTime<Utc>,
    /// The environment changed (`sandbox`, `production`, ...).
    pub environment: String,
    /// The patch version, as published.
    pub version: String,
    /// The patch fingerprint (`sha256:<hex>`).
    pub fingerprint: String,
    /// What happened.
    pub status: Status,
    /// The build that did it.
    #[serde(default)]
    pub build: Build,
    /// Free text from the `notes` file of the put step.
    #[serde(default)]
    pub notes: Option<String>,
    /// The `apply.json` record of the apply task, when there was one.
    #[serde(default)]
    pub apply: Option<serde_json::Value>,
    /// The patch line the version belongs to: the resource's feed, its
    /// location (credentials removed) and version line, so reports can
    /// tell the stemcell of an environment from its products.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<serde_json::Value>,
}

impl Event {
    /// Create an event that happens now, without notes or an apply record.
    pub fn new(
        environment: impl Into<String>,
        version: impl Into<String>,
        fingerprint: impl Into<String>,
        status: Status,
        build: Build,
    ) -> Self {
        Event {
            schema: SCHEMA,
            time: Utc::now().trunc_subsecs(0),
            environment: environment.into(),
            version: version.into(),
            fingerprint: fingerprint.into(),
            status,
            build,
            notes: None,
            apply: None,
            line: None,
        }
    }

    /// Set the time of the event (truncated to the second, as recorded).
    pub fn at(mut self, time: DateTime<Utc>) -> Self {
        self.time = time.trunc_subsecs(0);
        self
    }

    /// Attach notes.
    pub fn with_notes(mut self, notes: impl Into<String>) -> Self {
        self.notes = Some(notes.into());
        self
    }

    /// Name the patch line the event belongs to.
    pub fn with_line(mut self, line: serde_json::Value) -> Self {
        self.line = Some(line);
        self
    }

    /// Attach the apply task's `apply.json` record.
    pub fn with_apply(mut self, apply: serde_json::Value) -> Self {
        self.apply = Some(apply);
        self
    }

    /// Return the commit subject for this event: `sandbox: applied 621.125`.
    pub fn summary(&self) -> String {
        format!("{}: {} {}", self.environment, self.status, self.version)
    }

    /// Check the fields that become paths and commit text.
    ///
    /// The environment names a folder, so it is held to a safe alphabet; the
    /// version only loses unsafe characters in the file name and is kept
    /// intact inside the record.
    pub fn validate(&self) -> Result<(), LedgerError> {
        if self.schema != SCHEMA {
            return Err(event_error(
                "schema",
                format!(
                    "{} is not the schema this patchline writes ({SCHEMA})",
                    self.schema
                ),
            ));
        }
        let environment = &self.environment;
        let safe_environment = environment.len() <= 100
            && environment
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric())
            && environment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !safe_environment {
            return Err(event_error(
                "environment",
                format!(
                    "{environment:?} cannot name a ledger folder; use up to 100 letters, \
                     digits, '.', '_' or '-', starting with a letter or digit"
                ),
            ));
        }
        for (field, value) in [
            ("version", &self.version),
            ("fingerprint", &self.fingerprint),
        ] {
            if value.trim().is_empty() {
                return Err(event_error(field, "is empty".to_string()));
            }
            if value.len() > 200 || value.chars().any(char::is_control) {
                return Err(event_error(
                    field,
                    format!("{value:?} is longer than 200 characters or holds control characters"),
                ));
            }
        }
        Ok(())
    }

    /// Return the event's path in the ledger repository, with `id`
    /// distinguishing events of the same second and version:
    /// `events/sandbox/20261204T152117Z-621.125-0a1b2c3d.json`.
    pub fn relative_path(&self, id: &str) -> String {
        let version: String = self
            .version
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._+-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!(
            "events/{}/{}-{}-{}.json",
            self.environment,
            self.time.format("%Y%m%dT%H%M%SZ"),
            version,
            id
        )
    }
}

fn event_error(field: &'static str, reason: String) -> LedgerError {
    LedgerError::Event { field, reason }
}

fn rfc3339_seconds<S: Serializer>(time: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&time.to_rfc3339_opts(SecondsFormat::Secs, true))
}

fn rfc3339<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    let text = String::deserialize(deserializer)?;
    DateTime::parse_from_rfc3339(&text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|err| serde::de::Error::custom(format!("time {text:?}: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn concourse_vars() -> BTreeMap<String, String> {
        [
            ("BUILD_ID", "4711"),
            ("BUILD_NAME", "12"),
            ("BUILD_JOB_NAME", "apply sandbox"),
            ("BUILD_PIPELINE_NAME", "upgrades"),
            ("BUILD_TEAM_NAME", "platform"),
            ("BUILD_CREATED_BY", "ops"),
            ("ATC_EXTERNAL_URL", "https://ci.example/"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn status_words_round_trip() {
        for status in Status::ALL {
            assert_eq!(status.as_str().parse::<Status>().unwrap(), status);
            assert_eq!(
                serde_json::to_string(&status).unwrap(),
                format!("\"{status}\"")
            );
        }
        assert_eq!(Status::RolledBack.to_string(), "rolled-back");
        assert_eq!(
            "rolledback".parse::<Status>().unwrap_err().to_string(),
            "status: \"rolledback\" is not one of applied, failed, rolled-back, repaved"
        );
    }

    #[test]
    fn build_url_points_at_the_job_build() {
        let build = Build::from_map(&concourse_vars());
        assert_eq!(build.id.as_deref(), Some("4711"));
        assert_eq!(build.created_by.as_deref(), Some("ops"));
        assert_eq!(
            build.url.as_deref(),
            Some("https://ci.example/teams/platform/pipelines/upgrades/jobs/apply%20sandbox/builds/12")
        );
    }

    #[test]
    fn build_url_addresses_an_instanced_pipeline() {
        let mut vars = concourse_vars();
        vars.insert(
            "BUILD_PIPELINE_INSTANCE_VARS".into(),
            r#"{"foundation":{"name":"eu 1"},"tier":2}"#.into(),
        );
        let build = Build::from_map(&vars);
        assert_eq!(
            build.pipeline_instance_vars,
            Some(serde_json::json!({"foundation": {"name": "eu 1"}, "tier": 2}))
        );
        assert_eq!(
            build.url.as_deref(),
            Some(
                "https://ci.example/teams/platform/pipelines/upgrades/jobs/apply%20sandbox/builds/12\
                 ?vars.foundation.name=%22eu%201%22&vars.tier=2"
            )
        );
    }

    #[test]
    fn one_off_builds_and_bare_shells() {
        let vars: BTreeMap<String, String> = [
            ("BUILD_ID", "99"),
            ("ATC_EXTERNAL_URL", "https://ci.example"),
            ("BUILD_JOB_NAME", ""),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let build = Build::from_map(&vars);
        assert_eq!(build.job_name, None);
        assert_eq!(build.url.as_deref(), Some("https://ci.example/builds/99"));
        assert_eq!(Build::from_map(&BTreeMap::new()), Build::default());
    }

    #[test]
    fn event_json_has_every_field() {
        let time = Utc.with_ymd_and_hms(2026, 12, 4, 15, 21, 17).unwrap();
        let event = Event::new(
            "sandbox",
            "621.125",
            "sha256:ab",
            Status::Applied,
            Build::default(),
        )
        .at(time)
        .with_notes("first try")
        .with_apply(serde_json::json!({"status": "applied"}));
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "schema": 1,
                "time": "2026-12-04T15:21:17Z",
                "environment": "sandbox",
                "version": "621.125",
                "fingerprint": "sha256:ab",
                "status": "applied",
                "build": {
                    "id": null, "name": null, "job_name": null, "pipeline_name": null,
                    "pipeline_instance_vars": null, "team_name": null, "created_by": null,
                    "atc_external_url": null, "url": null
                },
                "notes": "first try",
                "apply": {"status": "applied"}
            })
        );
        let back: Event = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
        assert_eq!(event.summary(), "sandbox: applied 621.125");
        assert_eq!(
            event.relative_path("0a1b2c3d"),
            "events/sandbox/20261204T152117Z-621.125-0a1b2c3d.json"
        );
    }

    #[test]
    fn version_is_made_safe_only_in_the_file_name() {
        let time = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let event = Event::new(
            "prod",
            "1.2/3 beta",
            "sha256:ab",
            Status::Failed,
            Build::default(),
        )
        .at(time);
        assert!(event.validate().is_ok());
        assert_eq!(
            event.relative_path("ffffffff"),
            "events/prod/20260102T030405Z-1.2_3_beta-ffffffff.json"
        );
    }

    #[test]
    fn unsafe_environments_are_refused() {
        for bad in ["", "../etc", ".hidden", "a/b", "sand box", "x\ny"] {
            let event = Event::new(bad, "1.0", "sha256:ab", Status::Applied, Build::default());
            let err = event.validate().unwrap_err().to_string();
            assert!(err.starts_with("environment: "), "{err}");
            assert!(!err.contains('\n'), "{err}");
        }
        let event = Event::new(
            "sandbox",
            " ",
            "sha256:ab",
            Status::Applied,
            Build::default(),
        );
        assert_eq!(
            event.validate().unwrap_err().to_string(),
            "version: is empty"
        );
    }

    #[test]
    fn the_documented_example_is_a_real_event() {
        let docs = include_str!("../../../docs/ledger.md");
        let start = docs.find("```json\n").unwrap() + "```json\n".len();
        let example = &docs[start..start + docs[start..].find("```").unwrap()];

        let event: Event = serde_json::from_str(example).unwrap();

        assert!(event.validate().is_ok());
        assert_eq!(event.summary(), "sandbox: applied 621.125");
        let written = serde_json::to_string_pretty(&event).unwrap();
        assert_eq!(written, example.trim_end());
    }
}
