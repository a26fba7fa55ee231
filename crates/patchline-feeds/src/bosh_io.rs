//! The bosh-io feed: stemcells and BOSH releases from bosh.io's API.
//!
//! A stemcell is listed from `GET /api/v1/stemcells/<name>?all=1`; without
//! `all=1` bosh.io lists only the newest version of each line. Each version
//! offers up to three tarballs (`regular`, `light`, `light_china`) and the
//! source's flavor picks one. A version that lacks it is skipped, not an
//! error: bosh.io often publishes a light stemcell hours after the regular
//! one, and a later check finds it. The tarball keeps the name its URL ends
//! in (`light-bosh-stemcell-1.506-aws-xen-hvm-ubuntu-jammy-go_agent.tgz`).
//!
//! A release is listed from `GET /api/v1/releases/<source>`. Its download
//! URL ends in a query (`/d/github.com/cloudfoundry/uaa-release?v=77.20.0`),
//! so its tarball is named `<repository>-<version>.tgz`
//! (`uaa-release-77.20.0.tgz`).
//!
//! bosh.io answers an unknown name with `[]` rather than a 404, and nothing
//! is published there without a version, so an empty listing is an error
//! naming the stemcell or release: a typo fails the check instead of
//! finding nothing forever.
//!
//! Each version is read on its own: one that does not have the shape the
//! API documents (a negative size, a number for a version) is skipped with
//! the reason, and the others are still offered.
//!
//! bosh.io publishes no dates, so `published` stays empty. Its download URLs
//! redirect to a storage host; following them is the transport's job.

use std::collections::BTreeMap;

use patchline_core::secret::redact_url;
use patchline_core::{HashAlgorithm, Release, ReleaseFile, Version};
use patchline_transport::{Request, Transport};
use serde::Deserialize;
use serde_json::Value;

use crate::{FeedError, Listing, Skipped};

/// The public bosh.io.
pub const PUBLIC_ENDPOINT: &str = "https://bosh.io";

/// The largest listing read; every version of the busiest stemcell takes
/// well under a megabyte.
const MAX_LISTING_BYTES: u64 = 64 * 1024 * 1024;

/// What a bosh-io source follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A stemcell by name (`bosh-vsphere-esxi-ubuntu-jammy-go_agent`).
    Stemcell(String),
    /// A release by source (`github.com/cloudfoundry/uaa-release`).
    Release(String),
}

impl Subject {
    /// Return the source field that names the subject, which is also the
    /// word for it.
    fn field(&self) -> &'static str {
        match self {
            Subject::Stemcell(_) => "stemcell",
            Subject::Release(_) => "release",
        }
    }

    fn name(&self) -> &str {
        match self {
            Subject::Stemcell(name) | Subject::Release(name) => name,
        }
    }

    /// Refuse a name that would not stay one path of the API: bosh.io's
    /// names hold only letters, digits, `-`, `_` and `.`, plus `/` between
    /// the parts of a release source.
    fn check(&self) -> Result<(), FeedError> {
        let name = self.name();
        let slashes = matches!(self, Subject::Release(_));
        let refuse = |why: String| {
            FeedError::source(self.field(), format!("{} {name:?} {why}", self.field()))
        };
        if name.is_empty() {
            return Err(refuse("is empty".into()));
        }
        let odd = name.chars().find(|c| {
            !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') || (slashes && *c == '/'))
        });
        if let Some(c) = odd {
            return Err(refuse(format!("may not contain {c:?}")));
        }
        if name.contains("..") {
            return Err(refuse("may not contain \"..\"".into()));
        }
        if name
            .split('/')
            .any(|segment| segment.is_empty() || segment == ".")
        {
            return Err(refuse("has an empty or \".\" path segment".into()));
        }
        Ok(())
    }
}

/// Which stemcell tarball is followed, as written in `source.flavor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    /// The full image (`regular` in the API).
    #[default]
    Regular,
    /// The light stemcell (`light` in the API).
    Light,
}

impl Flavor {
    /// Return the flavor's field in the API.
    fn field(self) -> &'static str {
        match self {
            Flavor::Regular => "regular",
            Flavor::Light => "light",
        }
    }
}

/// A bosh-io source.
#[derive(Debug, Clone)]
pub struct Config {
    /// The stemcell or release followed.
    pub subject: Subject,
    /// The stemcell flavor (ignored for releases).
    pub flavor: Flavor,
    /// The API's base URL, without a trailing slash.
    pub endpoint: String,
}

impl Config {
    /// Say what is followed, for logs.
    pub fn describe(&self) -> String {
        let subject = match &self.subject {
            Subject::Stemcell(name) => format!("stemcell {name} ({})", self.flavor.field()),
            Subject::Release(source) => format!("release {source}"),
        };
        if self.endpoint() == PUBLIC_ENDPOINT {
            format!("bosh.io {subject}")
        } else {
            format!("bosh.io {subject} at {}", redact_url(self.endpoint()))
        }
    }

    fn endpoint(&self) -> &str {
        self.endpoint.trim_end_matches('/')
    }
}

/// One version in a stemcell listing.
#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct StemcellEntry {
    version: String,
    regular: Option<Tarball>,
    light: Option<Tarball>,
    light_china: Option<Tarball>,
}

/// One version in a release listing.
#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct ReleaseEntry {
    version: String,
    #[serde(flatten)]
    tarball: Tarball,
}

/// A tarball as the API describes it; every field may be missing.
#[derive(Deserialize)]
struct Tarball {
    url: Option<String>,
    size: Option<u64>,
    md5: Option<String>,
    sha1: Option<String>,
    sha256: Option<String>,
}

/// Read every version bosh.io publishes of the subject.
pub fn list(config: &Config, transport: &Transport) -> Result<Listing, FeedError> {
    let subject = &config.subject;
    subject.check()?;
    let url = match subject {
        Subject::Stemcell(name) => format!("{}/api/v1/stemcells/{name}?all=1", config.endpoint()),
        Subject::Release(source) => format!("{}/api/v1/releases/{source}", config.endpoint()),
    };

    let unknown = |why: &str| {
        FeedError::source(
            subject.field(),
            format!(
                "bosh.io knows no {} {:?} ({why})",
                subject.field(),
                subject.name()
            ),
        )
    };
    let response = transport
        .send_cached(&Request::get(&url), MAX_LISTING_BYTES)
        .map_err(|err| match err.status() {
            Some(404) => unknown("HTTP 404"),
            _ => FeedError::source("endpoint", err),
        })?;

    let entries: Vec<Value> = response
        .json()
        .map_err(|err| FeedError::source("endpoint", err))?;
    // bosh.io answers an unknown name with an empty list rather than a 404;
    // nothing is published there without a version.
    if entries.is_empty() {
        return Err(unknown("it lists no versions"));
    }

    let mut listing = Listing::default();
    for (index, value) in entries.into_iter().enumerate() {
        let entry = match value.get("version").and_then(Value::as_str) {
            Some(version) => version.to_string(),
            None => format!("entry {}", index + 1),
        };
        let read = match subject {
            Subject::Stemcell(_) => serde_json::from_value(value)
                .map_err(|err| err.to_string())
                .and_then(|version| stemcell(version, config.flavor)),
            Subject::Release(source) => {
                let repository = source.rsplit('/').next().unwrap_or(source);
                serde_json::from_value(value)
                    .map_err(|err| err.to_string())
                    .and_then(|version| release(version, repository))
            }
        };
        match read {
            Ok(release) => listing.releases.push(release),
            Err(reason) => listing.skipped.push(Skipped { entry, reason }),
        }
    }
    Ok(listing)
}

/// Read a stemcell version with its tarball of `flavor`.
fn stemcell(entry: StemcellEntry, flavor: Flavor) -> Result<Release, String> {
    let version = Version::parse(&entry.version).map_err(|err| err.to_string())?;
    let (chosen, others) = match flavor {
        Flavor::Regular => (
            entry.regular,
            [("light", &entry.light), ("light_china", &entry.light_china)],
        ),
        Flavor::Light => (
            entry.light,
            [
                ("regular", &entry.regular),
                ("light_china", &entry.light_china),
            ],
        ),
    };
    let Some(tarball) = chosen else {
        let published: Vec<&str> = others
            .iter()
            .filter(|(_, tarball)| tarball.is_some())
            .map(|(field, _)| *field)
            .collect();
        return Err(match published.as_slice() {
            [] => "no stemcell tarball published".to_string(),
            [one] => format!("{} stemcell not published yet ({one} is)", flavor.field()),
            many => format!(
                "{} stemcell not published yet ({} are)",
                flavor.field(),
                many.join(" and ")
            ),
        });
    };

    let url = tarball
        .url
        .as_deref()
        .ok_or_else(|| format!("the {} stemcell has no download URL", flavor.field()))?;
    let name = last_segment(url)
        .ok_or_else(|| format!("the {} stemcell's URL names no file", flavor.field()))?
        .to_string();
    Ok(one_file(version, name, tarball))
}

/// Read a release version; its tarball is named after `repository`.
fn release(entry: ReleaseEntry, repository: &str) -> Result<Release, String> {
    let version = Version::parse(&entry.version).map_err(|err| err.to_string())?;
    if entry.tarball.url.is_none() {
        return Err("the release has no download URL".into());
    }
    let name = format!("{repository}-{}.tgz", version.as_str());
    Ok(one_file(version, name, entry.tarball))
}

/// Make the release of one tarball, whose `url` is known to be present.
fn one_file(version: Version, name: String, tarball: Tarball) -> Release {
    let hashes: BTreeMap<HashAlgorithm, String> = [
        (HashAlgorithm::Sha256, tarball.sha256),
        (HashAlgorithm::Sha1, tarball.sha1),
        (HashAlgorithm::Md5, tarball.md5),
    ]
    .into_iter()
    .filter_map(|(algorithm, hex)| {
        let hex = hex?.trim().to_ascii_lowercase();
        (!hex.is_empty()).then_some((algorithm, hex))
    })
    .collect();
    Release {
        version,
        published: None,
        files: vec![ReleaseFile {
            name,
            size: tarball.size,
            hashes,
            urls: tarball.url.into_iter().collect(),
        }],
        handle: None,
    }
}

/// Return the last segment of `url`'s path, without query or fragment.
fn last_segment(url: &str) -> Option<&str> {
    let without_query = url.split(['?', '#']).next().unwrap_or(url);
    let after_scheme = without_query
        .split_once("://")
        .map_or(without_query, |(_, rest)| rest);
    let (_, path) = after_scheme.split_once('/')?;
    path.rsplit('/').next().filter(|name| !name.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_the_last_path_segment() {
        assert_eq!(
            last_segment("https://s3.example/1.506/light-bosh-stemcell-1.506-aws.tgz?x=1"),
            Some("light-bosh-stemcell-1.506-aws.tgz")
        );
        assert_eq!(last_segment("https://bosh.io"), None);
        assert_eq!(last_segment("https://bosh.io/d/"), None);
        assert_eq!(last_segment("/local/a.tgz#part"), Some("a.tgz"));
    }
}
