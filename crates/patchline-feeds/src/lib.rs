//! Feeds: where releases are published, read into [`Release`]s.
//!
//! Each feed is one module that turns its source into a [`Listing`]: the
//! releases it publishes, in whatever order it publishes them, plus the
//! entries it had to skip and why. Filtering by version line and files,
//! sorting and fingerprinting happen after the feed, the same for every
//! feed, so a feed never needs to know about them.

use std::fmt;

use patchline_core::Release;
use patchline_transport::{Transport, TransportError};
use serde::Deserialize;

mod git;
pub mod index;
pub mod metalink;

/// The kinds of feed a resource can follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeedKind {
    /// A metalink repository: one folder per version with `*.meta4` files.
    Metalink,
    /// A JSON index document.
    Index,
}

impl fmt::Display for FeedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FeedKind::Metalink => "metalink",
            FeedKind::Index => "index",
        })
    }
}

/// What a feed publishes.
#[derive(Debug, Default)]
pub struct Listing {
    /// Releases whose version parsed, in the feed's order.
    pub releases: Vec<Release>,
    /// Entries left out, each with the reason.
    pub skipped: Vec<Skipped>,
}

/// An entry of a feed that could not be read as a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The version as published, or the entry's name.
    pub entry: String,
    /// Why it was left out.
    pub reason: String,
}

/// Why a feed could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// The feed's `uri` is not usable.
    #[error("source.uri: {0}")]
    Uri(String),
    /// Reading the feed failed.
    #[error("source.uri: {0}")]
    Transport(TransportError),
    /// The feed's document is not what the feed kind expects.
    #[error("source.uri: {0}")]
    Malformed(String),
    /// A git command failed.
    #[error("source.uri: {0}")]
    Git(String),
}

impl From<TransportError> for FeedError {
    fn from(err: TransportError) -> Self {
        FeedError::Transport(err)
    }
}

/// Read every release a feed publishes.
pub fn list(kind: FeedKind, uri: &str, transport: &Transport) -> Result<Listing, FeedError> {
    match kind {
        FeedKind::Metalink => metalink::list(uri),
        FeedKind::Index => index::list(uri, transport),
    }
}
