//! Target errors: every way an apply can fail, each a one-line message a
//! platform operator can act on.

use std::path::PathBuf;

/// A failed apply, repave or rollback, or a target config that cannot work.
///
/// Each message is a single line and names the flag, file or config field
/// that is wrong. Messages never carry `env` values of a command target,
/// because those are where pipelines put credentials.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The target config is not valid; `field` names the offending key.
    #[error("target: {field}: {reason}")]
    Config {
        /// The config key, e.g. `keep` or `change_window.start`.
        field: String,
        /// Why the value cannot be used.
        reason: String,
    },

    /// The target config is not valid YAML or does not fit its kind's
    /// schema; the message names the field and its position.
    #[error("target: {0}")]
    Syntax(String),

    /// The patch folder is missing or not a patch folder.
    #[error("patch folder {}: {reason}", path.display())]
    Patch {
        /// The patch folder given with `--patch`.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A file system operation failed.
    #[error("could not {action} {}: {err}", path.display())]
    Io {
        /// What was being done, e.g. `create` or `read`.
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The operating system's reason.
        err: std::io::Error,
    },

    /// The change window of the target is closed now.
    #[error("change window {window} is closed (now {now})")]
    WindowClosed {
        /// The window as configured, e.g. `Friday 09:30-11:30 Europe/Amsterdam`.
        window: String,
        /// The local time in the window's zone, e.g. `Thursday 14:02 Europe/Amsterdam`.
        now: String,
    },

    /// Another apply held the environment's lock for longer than allowed.
    #[error(
        "environment {environment} is still locked by {holder} after {waited} \
         (lock file {}; raise --lock-timeout to wait longer)",
        path.display()
    )]
    LockTimeout {
        /// The environment being applied to.
        environment: String,
        /// Who holds the lock, as written in the lock file.
        holder: String,
        /// How long we waited, humantime formatted.
        waited: String,
        /// The lock file.
        path: PathBuf,
    },

    /// The environment's deployed state is unreadable.
    #[error("deployed state {}: {reason}", path.display())]
    State {
        /// The state file.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },

    /// `--rollback` found nothing to go back to.
    #[error("cannot roll back: {0}")]
    NoRollback(String),

    /// The command of a command target failed, timed out or could not start.
    #[error("command {program}: {reason}")]
    Command {
        /// The program (first element of `command`); arguments are left out
        /// because they may hold credentials.
        program: String,
        /// What went wrong.
        reason: String,
    },
}

impl TargetError {
    /// Build an [`TargetError::Io`] for `action` on `path`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, err: std::io::Error) -> Self {
        TargetError::Io {
            action,
            path: path.into(),
            err,
        }
    }

    /// Build a [`TargetError::Config`] for `field`.
    pub fn config(field: impl Into<String>, reason: impl Into<String>) -> Self {
        TargetError::Config {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
