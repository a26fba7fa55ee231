//! Targets: how a fetched patch changes an environment.
//!
//! A [`Target`] applies, repaves or rolls back one environment. Each kind of
//! target lives in a module of its own ([`local`], [`command`]); a target
//! config ([`TargetConfig`]) picks one and may add a [`ChangeWindow`].
//! [`run`] is the whole `apply` task: check the change window, take the
//! environment's lock, call the target, and describe the result as an
//! [`ApplyRecord`] that is written to the output folder.
//!
//! ```no_run
//! use patchline_targets::{run, Action, ApplyRequest, Clock, Patch, TargetConfig};
//! use std::path::Path;
//! use std::time::Duration;
//!
//! let request = ApplyRequest {
//!     environment: "sandbox".into(),
//!     patch: Patch::read(Path::new("patch"))?,
//!     config: TargetConfig::parse("{kind: local, root: /tmp/env}")?,
//!     action: Action::Apply,
//!     lock_timeout: Duration::from_secs(600),
//!     clock: Clock::System,
//! };
//! let record = run(&request);
//! record.write(Path::new("applied"))?;
//! # Ok::<(), patchline_targets::TargetError>(())
//! ```

use std::path::PathBuf;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

mod atomic;
pub mod command;
mod config;
mod error;
pub mod local;
mod lock;
mod patch;
mod record;
mod run;
mod window;

pub use atomic::write_atomically;
pub use config::{TargetConfig, TargetKind};
pub use error::TargetError;
pub use lock::{default_lock_path, EnvironmentLock, Holder};
pub use patch::{Patch, VersionRef};
pub use record::ApplyRecord;
pub use run::{check_environment_name, run, ApplyRequest};
pub use window::{day_name, ChangeWindow, ChangeWindowConfig};

/// What an apply does to the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Install the patch unless it is already deployed.
    Apply,
    /// Install the patch again from scratch, even if it is deployed.
    Repave,
    /// Go back to the version deployed before the current one.
    Rollback,
}

impl Action {
    /// Return the name used in `PATCHLINE_ACTION`, logs and state files.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Apply => "apply",
            Action::Repave => "repave",
            Action::Rollback => "rollback",
        }
    }
}

/// The result of an apply as recorded in `apply.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The patch is deployed (possibly already was: see `changed`).
    Applied,
    /// The patch was installed again from scratch.
    Repaved,
    /// The environment went back to an earlier version.
    RolledBack,
    /// Nothing could be done; `detail` says why.
    Failed,
}

/// What a target did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Applied, repaved or rolled back.
    pub status: Status,
    /// Whether the environment changed.
    pub changed: bool,
    /// The version deployed now; for a rollback, the version rolled back to.
    pub version: VersionRef,
    /// The version deployed before, when the target knows it.
    pub previous_version: Option<String>,
    /// One line for the operator.
    pub detail: String,
}

/// Where "now" comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// The system clock.
    System,
    /// A fixed instant, for rehearsing a change window and for tests.
    Fixed(DateTime<Utc>),
}

impl Clock {
    /// Return the current instant.
    pub fn now(self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Fixed(at) => at,
        }
    }

    /// Fix "now" to the RFC 3339 time `text` (how `PATCHLINE_NOW` is read).
    pub fn fixed(text: &str) -> Result<Clock, String> {
        DateTime::parse_from_rfc3339(text)
            .map(|at| Clock::Fixed(at.with_timezone(&Utc)))
            .map_err(|err| {
                format!("{text:?} is not an RFC 3339 time like 2025-01-10T09:45:00+01:00 ({err})")
            })
    }

    /// Return the current instant as RFC 3339 in UTC, whole seconds.
    pub fn stamp(self) -> String {
        self.now().to_rfc3339_opts(SecondsFormat::Secs, true)
    }
}

/// Parse a duration such as `30s`, `10m` or `1h 30m`.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(text)
        .map_err(|err| format!("{text:?} is not a duration like 30s, 10m or 1h ({err})"))
}

/// One apply handed to a target.
#[derive(Debug, Clone, Copy)]
pub struct Job<'a> {
    /// The environment's name, e.g. `sandbox`.
    pub environment: &'a str,
    /// The patch to apply (for a local rollback, only reported on failure).
    pub patch: &'a Patch,
    /// The clock for timestamps in deployed state.
    pub clock: Clock,
}

/// A way of changing an environment.
///
/// Implementations assume the caller holds the environment's lock (at
/// [`Target::lock_path`]) for the whole call, so they need not guard
/// against a second apply running beside them.
pub trait Target {
    /// Return the name of the kind of target, as recorded in `apply.json`.
    fn kind(&self) -> &'static str;

    /// Return the lock file that serializes applies to `environment`.
    fn lock_path(&self, environment: &str) -> PathBuf;

    /// Return the version deployed now, or `None` when nothing is or the
    /// target cannot know.
    fn deployed(&self) -> Result<Option<VersionRef>, TargetError>;

    /// Refuse a job this target could never carry out, before the lock is
    /// taken or anything is touched.
    fn check(&self, _job: &Job<'_>, _action: Action) -> Result<(), TargetError> {
        Ok(())
    }

    /// Install the job's patch unless it is already deployed.
    fn apply(&self, job: &Job<'_>) -> Result<Outcome, TargetError>;

    /// Install the job's patch again from scratch.
    fn repave(&self, job: &Job<'_>) -> Result<Outcome, TargetError>;

    /// Go back to the previously deployed version.
    fn rollback(&self, job: &Job<'_>) -> Result<Outcome, TargetError>;
}
