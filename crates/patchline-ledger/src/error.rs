//! Ledger errors: every way recording or reading the ledger can fail.
//!
//! Each message is one line that names the source field a user can fix
//! (`ledger.uri`, `ledger.branch`, `environment`, ...). Messages carry the
//! detail as text rather than as a source chain, so a plain `{}` and an
//! anyhow `{:#}` both print the whole story exactly once. URLs in them are
//! already redacted.

use std::path::PathBuf;

/// Say why the ledger could not be recorded or read.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// A field of the `ledger` source object is missing or malformed.
    #[error("ledger.{field}: {reason}")]
    Config {
        /// The field under `ledger`, e.g. `uri`.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// An event cannot be recorded as given (bad environment name, ...).
    #[error("{field}: {reason}")]
    Event {
        /// The event field, e.g. `environment`.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// The ledger repository could not be reached, fetched or pushed to.
    #[error("ledger.uri: cannot {action} {uri}: {detail}")]
    Remote {
        /// What was attempted: `reach`, `fetch from`, `push to`.
        action: &'static str,
        /// The repository URL with credentials redacted.
        uri: String,
        /// The last meaningful line git printed.
        detail: String,
    },

    /// Other writers kept pushing first until the attempts ran out.
    #[error(
        "ledger.branch: push to {branch} of {uri} was rejected {attempts} times because \
         other writers pushed first; run the step again"
    )]
    Contended {
        /// The repository URL with credentials redacted.
        uri: String,
        /// The ledger branch.
        branch: String,
        /// How many pushes were tried.
        attempts: u32,
    },

    /// A git command on the local scratch clone failed.
    #[error("ledger: git {action} failed in {dir}: {detail}")]
    Local {
        /// The git subcommand.
        action: String,
        /// The scratch clone.
        dir: PathBuf,
        /// The last meaningful line git printed.
        detail: String,
    },

    /// git itself could not be started.
    #[error("ledger: cannot run git ({detail}); git must be installed and on PATH")]
    GitMissing {
        /// The operating system's reason.
        detail: String,
    },

    /// A local file or folder could not be read or written.
    #[error("ledger: cannot {action} {path}: {detail}")]
    Io {
        /// What was attempted, e.g. `write`.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The operating system's reason.
        detail: String,
    },

    /// A file under `events/` is not an event this version understands.
    #[error("ledger: {path}: not a valid event: {detail}")]
    Parse {
        /// The event file.
        path: PathBuf,
        /// Why it was refused.
        detail: String,
    },
}

impl LedgerError {
    /// Build an [`LedgerError::Io`] from an I/O failure on `path`.
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, err: std::io::Error) -> Self {
        LedgerError::Io {
            action,
            path: path.into(),
            detail: err.to_string(),
        }
    }
}
