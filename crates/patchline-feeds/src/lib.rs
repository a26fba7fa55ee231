//! Feeds: where releases are published, read into [`Release`]s.
//!
//! Each feed is one module that turns its source into a [`Listing`]: the
//! releases it publishes, in whatever order it publishes them, plus the
//! entries it had to skip and why. Filtering by version line and files,
//! sorting and fingerprinting happen after the feed, the same for every
//! feed, so a feed never needs to know about them.

use std::fmt;

use patchline_core::secret::redact_url;
use patchline_core::{Release, Version};
use patchline_transport::{Request, Transport, TransportError};
use serde::Deserialize;

pub mod bosh_io;
mod git;
pub mod github;
pub mod index;
pub mod metalink;
pub mod pivnet;

/// The kinds of feed a resource can follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeedKind {
    /// A metalink repository: one folder per version with `*.meta4` files.
    Metalink,
    /// A JSON index document.
    Index,
    /// bosh.io's API: stemcells and BOSH releases.
    BoshIo,
    /// GitHub releases (github.com or GitHub Enterprise).
    Github,
    /// Tanzu Network (formerly Pivotal Network).
    Pivnet,
}

impl fmt::Display for FeedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FeedKind::Metalink => "metalink",
            FeedKind::Index => "index",
            FeedKind::BoshIo => "bosh-io",
            FeedKind::Github => "github",
            FeedKind::Pivnet => "pivnet",
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
    /// Releases older than the caller's current version, not read further
    /// (their files cost time and nobody asked for them).
    pub passed_over: usize,
}

/// What the caller will use of a listing, so that a feed can skip work:
/// reading the files of thousands of versions nobody asked for is most of
/// the cost of a large feed. Both are hints; a feed may ignore them.
#[derive(Default, Clone, Copy)]
pub struct Wanted<'a> {
    /// The version the caller has (check) or wants (in): releases older
    /// than it may be passed over.
    pub current: Option<&'a str>,
    /// The caller keeps only the newest release this accepts (a first
    /// check): a feed that can read releases newest first may stop there.
    pub only_newest: Option<&'a dyn Fn(&Release) -> bool>,
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
    /// An API feed failed; `field` is the source field to look at
    /// (`endpoint`, `access_token`, `product_slug`, ...).
    #[error("source.{field}: {message}")]
    Source {
        /// The source field, without the `source.` prefix.
        field: &'static str,
        /// What went wrong, URLs redacted.
        message: String,
    },
}

impl FeedError {
    /// An API feed's failure, blamed on `field`.
    pub fn source(field: &'static str, message: impl fmt::Display) -> Self {
        FeedError::Source {
            field,
            message: message.to_string(),
        }
    }
}

impl From<TransportError> for FeedError {
    fn from(err: TransportError) -> Self {
        FeedError::Transport(err)
    }
}

/// A feed and its settings, read from the resource's `source`.
#[derive(Debug, Clone)]
pub enum FeedConfig {
    /// A metalink repository at `uri`.
    Metalink {
        /// Path, `file://` URL or `git+<url>//<folder>`.
        uri: String,
    },
    /// A JSON index document at `uri`.
    Index {
        /// Path, `file://` URL or `http(s)://` URL.
        uri: String,
    },
    /// bosh.io.
    BoshIo(bosh_io::Config),
    /// GitHub releases.
    Github(github::Config),
    /// Tanzu Network.
    Pivnet(pivnet::Config),
}

impl FeedConfig {
    /// Return the kind of feed.
    pub fn kind(&self) -> FeedKind {
        match self {
            FeedConfig::Metalink { .. } => FeedKind::Metalink,
            FeedConfig::Index { .. } => FeedKind::Index,
            FeedConfig::BoshIo(_) => FeedKind::BoshIo,
            FeedConfig::Github(_) => FeedKind::Github,
            FeedConfig::Pivnet(_) => FeedKind::Pivnet,
        }
    }

    /// Say where the feed is, for log lines and ledger events: no
    /// credentials, no query strings.
    pub fn describe(&self) -> String {
        match self {
            FeedConfig::Metalink { uri } | FeedConfig::Index { uri } => redact_url(uri),
            FeedConfig::BoshIo(config) => config.describe(),
            FeedConfig::Github(config) => config.describe(),
            FeedConfig::Pivnet(config) => config.describe(),
        }
    }

    /// Read the releases the feed publishes, skipping what `wanted` says
    /// the caller will not use.
    pub fn list(&self, transport: &Transport, wanted: &Wanted) -> Result<Listing, FeedError> {
        let current = wanted.current;
        match self {
            FeedConfig::Metalink { uri } => metalink::list(uri),
            FeedConfig::Index { uri } => index::list(uri, transport, wanted),
            FeedConfig::BoshIo(config) => bosh_io::list(config, transport),
            FeedConfig::Github(config) => github::list(config, transport, current),
            FeedConfig::Pivnet(config) => pivnet::list(config, transport, current),
        }
    }

    /// Make `release` ready for `in`, after its files were chosen (Tanzu
    /// Network wants its EULA accepted first).
    pub fn prepare(&self, release: &mut Release, transport: &Transport) -> Result<(), FeedError> {
        match self {
            FeedConfig::Pivnet(config) => pivnet::prepare(config, release, transport),
            _ => Ok(()),
        }
    }

    /// Say whether the feed may name files of this machine (`file://` or
    /// a path) as download URLs: only a feed that is itself a local
    /// folder or document may. A feed from the network naming a local
    /// file would make `in` copy it.
    pub fn may_name_local_files(&self) -> bool {
        match self {
            FeedConfig::Metalink { uri } => !uri.starts_with("git+"),
            FeedConfig::Index { uri } => {
                matches!(
                    patchline_transport::Location::parse(uri),
                    Ok(patchline_transport::Location::Path(_))
                )
            }
            _ => false,
        }
    }

    /// Return the request that downloads `url`, one of a file's URLs, with
    /// the credentials the feed's host needs.
    pub fn download_request(&self, url: &str) -> Request {
        match self {
            FeedConfig::Github(config) => github::download_request(config, url),
            FeedConfig::Pivnet(config) => pivnet::download_request(config, url),
            _ => Request::get(url),
        }
    }
}

/// Read the version a caller has or wants; one that does not parse names
/// no release, so nothing is older than it.
pub(crate) fn current_version(current: Option<&str>) -> Option<Version> {
    current.and_then(|version| Version::parse(version).ok())
}

/// Say whether `version` is older than `current`: a release nobody asked
/// for, whose files need not be read.
pub(crate) fn is_older(version: &Version, current: Option<&Version>) -> bool {
    current.is_some_and(|current| version.cmp_precedence(current).is_lt())
}
