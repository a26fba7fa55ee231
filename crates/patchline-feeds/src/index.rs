//! The index feed: one JSON document listing every release.
//!
//! For products that publish no metalink repository, a team (or its
//! vendor) writes an index like this, at a path, a `file://` URL or an
//! `http(s)://` URL:
//!
//! ```json
//! {
//!   "releases": [
//!     {
//!       "version": "2.4.7",
//!       "published": "2026-11-20T10:00:00Z",
//!       "files": [
//!         {
//!           "name": "product-2.4.7.tgz",
//!           "size": 1048576,
//!           "hashes": {"sha256": "<64 hex digits>"},
//!           "urls": ["https://downloads.example.com/product-2.4.7.tgz"]
//!         }
//!       ]
//!     }
//!   ]
//! }
//! ```
//!
//! `published`, `size` and `hashes` are optional; hash names are `sha256`,
//! `sha512`, `sha1` and `md5` (`sha-256` spellings are accepted too, others
//! ignored). A relative URL is resolved against the index's own location.
//! Fields the schema does not name are ignored, so publishers can add their
//! own.

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use patchline_core::{HashAlgorithm, Release, ReleaseFile, Version};
use patchline_transport::{Location, Transport};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::{FeedError, Listing, Skipped, Wanted};

/// The largest index document read; 5,000 versions of 20 files fit easily.
const MAX_INDEX_BYTES: u64 = 256 * 1024 * 1024;

/// The document, read without copying: a release's files stay raw JSON
/// until the release is known to be wanted, so a check of a long history
/// reads the files of the few versions it answers with, not of all.
#[derive(Deserialize)]
struct IndexDocument<'a> {
    #[serde(borrow)]
    releases: Vec<IndexRelease<'a>>,
}

#[derive(Deserialize)]
struct IndexRelease<'a> {
    #[serde(borrow)]
    version: Cow<'a, str>,
    #[serde(default)]
    published: Option<DateTime<Utc>>,
    #[serde(default, borrow)]
    files: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct IndexFile<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default, borrow)]
    hashes: BTreeMap<Cow<'a, str>, Cow<'a, str>>,
    #[serde(default, borrow)]
    urls: Vec<Cow<'a, str>>,
}

/// Read the releases of the index at `uri` that `wanted` leaves.
pub fn list(uri: &str, transport: &Transport, wanted: &Wanted) -> Result<Listing, FeedError> {
    let location = Location::parse(uri)?;
    let bytes = transport.fetch(&location, MAX_INDEX_BYTES)?;
    parse(&bytes, &location, wanted)
}

/// Parse an index document found at `location`: every version, but the
/// files only of releases `wanted` leaves.
pub fn parse(bytes: &[u8], location: &Location, wanted: &Wanted) -> Result<Listing, FeedError> {
    let document: IndexDocument = serde_json::from_slice(bytes).map_err(malformed)?;
    let current = crate::current_version(wanted.current);

    let mut listing = Listing::default();
    let mut entries = Vec::with_capacity(document.releases.len());
    for entry in document.releases {
        match Version::parse(&entry.version) {
            Ok(version) if crate::is_older(&version, current.as_ref()) => {
                listing.passed_over += 1;
            }
            Ok(version) => entries.push((version, entry)),
            Err(err) => listing.skipped.push(Skipped {
                entry: entry.version.into_owned(),
                reason: err.to_string(),
            }),
        }
    }

    if let Some(accept) = wanted.only_newest {
        // Newest first, reading files until a release is accepted; its
        // twins (the same version listed again) are kept too, so the
        // caller still chooses among them.
        entries.sort_by(|(a, _), (b, _)| b.cmp(a));
        let mut found: Option<Version> = None;
        for (version, entry) in entries {
            if found
                .as_ref()
                .is_some_and(|found| found.as_str() != version.as_str())
            {
                listing.passed_over += 1;
                continue;
            }
            match release(version, entry, location)? {
                Ok(release) if found.is_some() || accept(&release) => {
                    found = Some(release.version.clone());
                    listing.releases.push(release);
                }
                Ok(_) => listing.passed_over += 1,
                Err(skipped) => listing.skipped.push(skipped),
            }
        }
        return Ok(listing);
    }
    for (version, entry) in entries {
        match release(version, entry, location)? {
            Ok(release) => listing.releases.push(release),
            Err(skipped) => listing.skipped.push(skipped),
        }
    }
    Ok(listing)
}

fn malformed(err: serde_json::Error) -> FeedError {
    FeedError::Malformed(format!("not an index document: {err}"))
}

/// Read the files of one entry: the release, or why it is skipped.
fn release(
    version: Version,
    entry: IndexRelease,
    location: &Location,
) -> Result<Result<Release, Skipped>, FeedError> {
    let files: Vec<IndexFile> = match entry.files {
        Some(raw) => serde_json::from_str(raw.get()).map_err(malformed)?,
        None => Vec::new(),
    };
    let files = files
        .into_iter()
        .map(|file| release_file(file, location))
        .collect::<Result<Vec<_>, _>>();
    Ok(match files {
        Ok(files) => Ok(Release {
            version,
            published: entry.published,
            files,
            handle: None,
        }),
        Err(reason) => Err(Skipped {
            entry: entry.version.into_owned(),
            reason,
        }),
    })
}

fn release_file(file: IndexFile, location: &Location) -> Result<ReleaseFile, String> {
    let hashes = file
        .hashes
        .into_iter()
        .filter_map(|(name, hex)| {
            HashAlgorithm::from_name(&name).map(|a| (a, hex.to_ascii_lowercase()))
        })
        .collect();
    let urls = file
        .urls
        .iter()
        .map(|url| match location.join(url) {
            Ok(Location::Http(url)) => Ok(url),
            Ok(Location::Path(path)) => Ok(format!("file://{}", path.display())),
            Err(err) => Err(format!("{}: {err}", file.name)),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ReleaseFile {
        name: file.name.into_owned(),
        size: file.size,
        hashes,
        urls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_releases_and_resolves_relative_urls() {
        let json = br#"{"publisher": "ignored", "releases": [
            {"version": "2.4.7", "published": "2026-11-20T10:00:00Z",
             "files": [{"name": "p.tgz", "size": 3, "hashes": {"sha-256": "AB", "crc": "x"},
                        "urls": ["files/p.tgz", "https://mirror.example/p.tgz"]}]},
            {"version": "nightly", "files": []},
            {"version": "2.4.8"}
        ]}"#;
        let location = Location::parse("http://127.0.0.1:9/feed/index.json").unwrap();
        let listing = parse(json, &location, &Wanted::default()).unwrap();
        assert_eq!(listing.releases.len(), 2);
        let first = &listing.releases[0];
        assert_eq!(first.version.as_str(), "2.4.7");
        assert_eq!(
            first.published.unwrap().to_rfc3339(),
            "2026-11-20T10:00:00+00:00"
        );
        assert_eq!(
            first.files[0].urls,
            [
                "http://127.0.0.1:9/feed/files/p.tgz",
                "https://mirror.example/p.tgz"
            ]
        );
        assert_eq!(first.files[0].hashes.len(), 1);
        assert_eq!(first.files[0].hashes[&HashAlgorithm::Sha256], "ab");
        assert_eq!(listing.skipped[0].entry, "nightly");

        let local = parse(
            json,
            &Location::parse("/srv/feed/index.json").unwrap(),
            &Wanted::default(),
        )
        .unwrap();
        assert_eq!(
            local.releases[0].files[0].urls[0],
            "file:///srv/feed/files/p.tgz"
        );
    }

    #[test]
    fn wanted_spares_reading_what_the_caller_will_not_use() {
        let json = br#"{"releases": [
            {"version": "1.0", "files": [{"name": "a"}]},
            {"version": "3.0", "files": [{"name": "b"}]},
            {"version": "2.0", "files": [{"name": "c"}]},
            {"version": "3.0", "files": [{"name": "d"}]},
            {"version": "0.9", "files": "not even files"}
        ]}"#;
        let location = Location::parse("/srv/index.json").unwrap();
        let versions = |listing: &Listing| -> Vec<String> {
            listing
                .releases
                .iter()
                .map(|r| format!("{} {}", r.version.as_str(), r.files[0].name))
                .collect()
        };

        // Older than the current version: passed over, files unread (the
        // malformed files of 0.9 are never parsed).
        let wanted = Wanted {
            current: Some("2.0"),
            only_newest: None,
        };
        let listing = parse(json, &location, &wanted).unwrap();
        assert_eq!(versions(&listing), ["3.0 b", "2.0 c", "3.0 d"]);
        assert_eq!(listing.passed_over, 2);

        // Only the newest accepted one, with its twin.
        let everything = |_: &Release| true;
        let wanted = Wanted {
            current: Some("1.0"),
            only_newest: Some(&everything),
        };
        let listing = parse(json, &location, &wanted).unwrap();
        assert_eq!(versions(&listing), ["3.0 b", "3.0 d"]);
        assert_eq!(listing.passed_over, 3);

        let not_three = |release: &Release| release.version.as_str() != "3.0";
        let wanted = Wanted {
            current: Some("1.0"),
            only_newest: Some(&not_three),
        };
        let listing = parse(json, &location, &wanted).unwrap();
        assert_eq!(versions(&listing), ["2.0 c"]);
        assert_eq!(listing.passed_over, 4);
    }

    #[test]
    fn a_document_of_another_shape_is_refused() {
        let location = Location::parse("/srv/index.json").unwrap();
        let err = parse(b"[1, 2]", &location, &Wanted::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("source.uri: not an index document: invalid type"),
            "{err}"
        );
    }
}
