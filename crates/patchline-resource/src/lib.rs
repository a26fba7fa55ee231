//! The patchline Concourse resource type: `check` finds the versions of a
//! patch line, `in` fetches one verified, `out` records what happened to it
//! in an environment.
//!
//! Each command is one function here; the binary only reads stdin, calls it
//! and prints the answer on stdout.

use std::path::Path;

pub mod candidates;
pub mod check;
pub mod get;
pub mod log;
pub mod protocol;
pub mod put;
pub mod source;

pub use check::check;
pub use get::get;
pub use protocol::{read_request, CheckRequest, InRequest, OutRequest, Response, VersionRef};
pub use put::put;

/// Why a resource command failed; each reads as one line for the build log.
#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    /// The request or a field of it is wrong.
    #[error("{0}")]
    Request(String),
    /// The feed could not be read.
    #[error(transparent)]
    Listing(#[from] patchline_feeds::FeedError),
    /// The feed does not offer what was asked.
    #[error("{0}")]
    Feed(String),
    /// A download failed.
    #[error(transparent)]
    Transport(#[from] patchline_transport::TransportError),
    /// Downloaded bytes do not match what was published.
    #[error(transparent)]
    Verify(#[from] patchline_core::verify::VerifyError),
    /// A local file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

impl ResourceError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        ResourceError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
