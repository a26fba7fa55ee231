//! The `source` of a patchline resource: which feed and its settings,
//! which version line, which files, how to reach the network, and where
//! the ledger is.
//!
//! Every feed's fields live in one flat object, as Concourse users write
//! them; [`Source::feed_config`] checks that the fields given belong to
//! the chosen feed and that its required ones are there, naming the field
//! when not.

use std::sync::Arc;
use std::time::Duration;

use patchline_core::secret::Secret;
use patchline_core::{FileFilter, VersionLine};
use patchline_feeds::{bosh_io, github, pivnet, FeedConfig, FeedKind};
use patchline_ledger::LedgerConfig;
use patchline_transport::{Transport, TransportConfig};
use serde::{Deserialize, Deserializer};

use crate::log::Log;
use crate::ResourceError;

/// The resource's `source` object.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Where releases come from.
    pub feed: FeedKind,
    /// metalink, index: the feed's location.
    #[serde(default)]
    pub uri: Option<String>,
    /// bosh-io: a stemcell name.
    #[serde(default)]
    pub stemcell: Option<String>,
    /// bosh-io: a release source (`github.com/cloudfoundry/uaa-release`).
    #[serde(default)]
    pub release: Option<String>,
    /// bosh-io: `regular` or `light` stemcells.
    #[serde(default)]
    pub flavor: Option<bosh_io::Flavor>,
    /// bosh-io, pivnet: the service's base URL.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// github: the repository's owner.
    #[serde(default)]
    pub owner: Option<String>,
    /// github: the repository's name.
    #[serde(default)]
    pub repository: Option<String>,
    /// github: a token.
    #[serde(default)]
    pub access_token: Option<Secret>,
    /// github: the API's base URL (GitHub Enterprise).
    #[serde(default)]
    pub api_url: Option<String>,
    /// github: a regex whose first group is the version.
    #[serde(default)]
    pub tag_filter: Option<String>,
    /// github: a glob naming the checksum asset.
    #[serde(default)]
    pub checksums: Option<String>,
    /// pivnet: an API token (legacy or refresh token).
    #[serde(default)]
    pub api_token: Option<Secret>,
    /// pivnet: the product's slug.
    #[serde(default)]
    pub product_slug: Option<String>,
    /// pivnet: only releases of this type.
    #[serde(default)]
    pub release_type: Option<String>,
    /// The version line followed; absent follows every version.
    #[serde(default)]
    pub version: Option<VersionLine>,
    /// Globs on file names; a version is offered only if a file matches.
    #[serde(default, deserialize_with = "one_or_many")]
    pub files: Vec<String>,
    /// Offer pre-releases too.
    #[serde(default)]
    pub include_prereleases: bool,
    /// PEM text of authorities to trust besides the system's.
    #[serde(default)]
    pub ca_cert: Option<String>,
    /// Trust any certificate; warned about on every run.
    #[serde(default)]
    pub skip_ssl_validation: bool,
    /// How many times a request is tried before giving up.
    #[serde(default)]
    pub attempts: Option<u32>,
    /// Seconds a transfer may go without a byte before it counts as broken.
    #[serde(default)]
    pub read_timeout: Option<u64>,
    /// Where `out` records events.
    #[serde(default)]
    pub ledger: Option<LedgerConfig>,
    /// Log more on stderr.
    #[serde(default)]
    pub debug: bool,
}

/// What a transport is for: `check` keeps a conditional-request cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `check`.
    Check,
    /// `in`.
    Fetch,
}

impl Source {
    /// Build the filter of `files`, naming the field when a glob is bad.
    pub fn file_filter(&self) -> Result<FileFilter, ResourceError> {
        FileFilter::new(&self.files)
            .map_err(|err| ResourceError::Request(format!("source.files: {err}")))
    }

    /// Return the feed's settings, after checking that every field given
    /// belongs to the feed and every field it needs is there.
    pub fn feed_config(&self) -> Result<FeedConfig, ResourceError> {
        let feed = self.feed;
        let given: [(&str, bool); 14] = [
            ("uri", self.uri.is_some()),
            ("stemcell", self.stemcell.is_some()),
            ("release", self.release.is_some()),
            ("flavor", self.flavor.is_some()),
            ("endpoint", self.endpoint.is_some()),
            ("owner", self.owner.is_some()),
            ("repository", self.repository.is_some()),
            ("access_token", self.access_token.is_some()),
            ("api_url", self.api_url.is_some()),
            ("tag_filter", self.tag_filter.is_some()),
            ("checksums", self.checksums.is_some()),
            ("api_token", self.api_token.is_some()),
            ("product_slug", self.product_slug.is_some()),
            ("release_type", self.release_type.is_some()),
        ];
        let allowed = feed_fields(feed);
        if let Some((field, _)) = given
            .iter()
            .find(|(field, set)| *set && !allowed.contains(field))
        {
            return Err(request(format!(
                "source.{field}: not a field of feed {feed} (it takes {})",
                allowed.join(", ")
            )));
        }
        let required = |field: &str, value: &Option<String>| -> Result<String, ResourceError> {
            match value.as_deref().map(str::trim) {
                Some(value) if !value.is_empty() => Ok(value.to_string()),
                _ => Err(request(format!("source.{field}: required by feed {feed}"))),
            }
        };
        let endpoint = |default: &str| {
            self.endpoint
                .as_deref()
                .unwrap_or(default)
                .trim_end_matches('/')
                .to_string()
        };
        Ok(match feed {
            FeedKind::Metalink => FeedConfig::Metalink {
                uri: required("uri", &self.uri)?,
            },
            FeedKind::Index => FeedConfig::Index {
                uri: required("uri", &self.uri)?,
            },
            FeedKind::BoshIo => {
                let subject = match (&self.stemcell, &self.release) {
                    (Some(_), None) => {
                        bosh_io::Subject::Stemcell(required("stemcell", &self.stemcell)?)
                    }
                    (None, Some(_)) => {
                        bosh_io::Subject::Release(required("release", &self.release)?)
                    }
                    (Some(_), Some(_)) => {
                        return Err(request(
                            "source.release: give either stemcell or release, not both".into(),
                        ))
                    }
                    (None, None) => {
                        return Err(request(
                            "source.stemcell: required by feed bosh-io (or source.release)".into(),
                        ))
                    }
                };
                if self.flavor.is_some() && matches!(subject, bosh_io::Subject::Release(_)) {
                    return Err(request("source.flavor: only stemcells have flavors".into()));
                }
                FeedConfig::BoshIo(bosh_io::Config {
                    subject,
                    flavor: self.flavor.unwrap_or_default(),
                    endpoint: endpoint(bosh_io::PUBLIC_ENDPOINT),
                })
            }
            FeedKind::Github => FeedConfig::Github(github::Config {
                owner: required("owner", &self.owner)?,
                repository: required("repository", &self.repository)?,
                access_token: self
                    .access_token
                    .clone()
                    .filter(|token| !token.expose().trim().is_empty()),
                api_url: self
                    .api_url
                    .as_deref()
                    .unwrap_or(github::PUBLIC_API)
                    .trim_end_matches('/')
                    .to_string(),
                tag_filter: self.tag_filter.clone(),
                checksums: self.checksums.clone(),
                include_prereleases: self.include_prereleases,
            }),
            FeedKind::Pivnet => {
                let token = self
                    .api_token
                    .clone()
                    .filter(|token| !token.expose().trim().is_empty())
                    .ok_or_else(|| request("source.api_token: required by feed pivnet".into()))?;
                FeedConfig::Pivnet(pivnet::Config::new(
                    token,
                    required("product_slug", &self.product_slug)?,
                    endpoint(pivnet::PUBLIC_ENDPOINT),
                    self.release_type.clone(),
                ))
            }
        })
    }

    /// Build the transport this source asks for; log lines go to `log`.
    /// For a feed read over HTTP, the proxy variables are checked now, so
    /// a bad one is reported by its own name.
    pub fn transport(
        &self,
        feed: &FeedConfig,
        log: Log,
        purpose: Purpose,
    ) -> Result<Transport, ResourceError> {
        let defaults = TransportConfig::default();
        if self.attempts == Some(0) {
            return Err(request("source.attempts: must be at least 1".into()));
        }
        if self.read_timeout == Some(0) {
            return Err(request(
                "source.read_timeout: must be at least 1 second".into(),
            ));
        }
        let config = TransportConfig {
            ca_cert: self.ca_cert.clone().filter(|pem| !pem.trim().is_empty()),
            skip_ssl_validation: self.skip_ssl_validation,
            attempts: self.attempts.unwrap_or(defaults.attempts),
            read_timeout: self
                .read_timeout
                .map_or(defaults.read_timeout, Duration::from_secs),
            cache_dir: (purpose == Purpose::Check)
                .then(|| std::env::temp_dir().join("patchline-cache")),
            log: Arc::new(move |line| log.info(line)),
            ..defaults
        };
        let transport = Transport::new(config).map_err(|err| request(format!("source.{err}")))?;
        // git fetches metalink feeds itself, with its own proxy settings.
        let over_http =
            !feed.may_name_local_files() && !matches!(feed, FeedConfig::Metalink { .. });
        if over_http {
            transport
                .check_proxies()
                .map_err(|err| request(err.to_string()))?;
        }
        Ok(transport)
    }
}

/// Return the feed-specific fields each feed takes.
fn feed_fields(feed: FeedKind) -> &'static [&'static str] {
    match feed {
        FeedKind::Metalink | FeedKind::Index => &["uri"],
        FeedKind::BoshIo => &["stemcell", "release", "flavor", "endpoint"],
        FeedKind::Github => &[
            "owner",
            "repository",
            "access_token",
            "api_url",
            "tag_filter",
            "checksums",
        ],
        FeedKind::Pivnet => &["api_token", "product_slug", "endpoint", "release_type"],
    }
}

fn request(message: String) -> ResourceError {
    ResourceError::Request(message)
}

/// Accept a single string where a list of strings is expected, since
/// `files: "*vsphere*"` is an easy thing to write.
pub(crate) fn one_or_many<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    struct Globs;

    impl<'de> serde::de::Visitor<'de> for Globs {
        type Value = Vec<String>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a glob or a list of globs")
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Vec<String>, E> {
            Ok(Vec::new())
        }

        fn visit_str<E: serde::de::Error>(self, glob: &str) -> Result<Vec<String>, E> {
            Ok(vec![glob.to_string()])
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Vec<String>, A::Error> {
            let mut globs = Vec::new();
            while let Some(glob) = seq.next_element::<String>()? {
                globs.push(glob);
            }
            Ok(globs)
        }
    }

    deserializer.deserialize_any(Globs)
}
