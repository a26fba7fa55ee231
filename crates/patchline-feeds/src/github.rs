//! The github feed: releases of one repository through GitHub's REST API.
//!
//! A release's version comes from its tag (`v1.2.3` gives `1.2.3`; a
//! `tag_filter` regex reads other schemes), its files are its assets.
//! Drafts are never offered, pre-releases only when asked. GitHub's
//! `digest` gives an asset's SHA-256; for assets uploaded before GitHub
//! computed digests, a checksums asset (`SHA256SUMS`, named by a glob) is
//! read when the release is fetched.
//!
//! Without a token, files are downloaded from their public
//! `browser_download_url`; with one, from the asset's API URL, which is the
//! only way to a private repository's assets. Both answer with a redirect
//! to a signed URL on another host, which never receives the token.
//!
//! Each release is read on its own: one that does not have the shape the
//! API documents, or has an asset that does not, is skipped with the
//! reason, and the others are still offered.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use patchline_core::secret::{redact_url, Secret};
use patchline_core::{FileFilter, HashAlgorithm, Release, ReleaseFile, Version};
use patchline_transport::{Request, Response, Transport, TransportError};
use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

use crate::{FeedError, Listing, Skipped};

/// The public GitHub API.
pub const PUBLIC_API: &str = "https://api.github.com";

/// The API version every request asks for.
const API_VERSION: &str = "2022-11-28";

/// The tag filter when the source names none: an optional `v`, then the
/// version.
const DEFAULT_TAG_FILTER: &str = r"^v?(\d.*)$";

/// The largest page of releases read; a hundred releases with a hundred
/// assets each take about 1 MiB.
const MAX_PAGE_BYTES: u64 = 64 * 1024 * 1024;

/// The largest checksums asset read.
const MAX_CHECKSUMS_BYTES: u64 = 16 * 1024 * 1024;

/// The most pages one listing follows: 100,000 releases or assets.
const MAX_PAGES: usize = 1000;

/// How many assets a release object may embed; a release with this many
/// may have more, listed by its assets endpoint.
const EMBEDDED_ASSETS: usize = 100;

/// A github source.
#[derive(Debug, Clone)]
pub struct Config {
    /// The repository's owner.
    pub owner: String,
    /// The repository's name.
    pub repository: String,
    /// A token, for private repositories and a higher rate limit.
    pub access_token: Option<Secret>,
    /// The API's base URL (GitHub Enterprise: `https://ghe.example/api/v3`),
    /// without a trailing slash.
    pub api_url: String,
    /// A regex whose first group is the version; `None` means an optional
    /// `v` then the version.
    pub tag_filter: Option<String>,
    /// A glob naming the checksum asset (`SHA256SUMS`), used when GitHub
    /// gives no digest for an asset.
    pub checksums: Option<String>,
    /// Offer releases GitHub marks as pre-releases.
    pub include_prereleases: bool,
}

impl Config {
    /// Say what is followed, for logs and ledger events: the API's host,
    /// never its user information, query or fragment.
    pub fn describe(&self) -> String {
        // Redacting first hides a password even where it holds a `/`.
        let api_url = redact_url(&self.api_url);
        let host = patchline_transport::UrlParts::of(&api_url)
            .map_or_else(String::new, |parts| parts.host_port().to_ascii_lowercase());
        // `api.github.com` serves `github.com`, as `api.<name>.ghe.com`
        // serves `<name>.ghe.com`.
        let host = host.strip_prefix("api.").unwrap_or(&host);
        format!("{host}/{}/{} releases", self.owner, self.repository)
    }

    fn api_base(&self) -> &str {
        self.api_url.trim_end_matches('/')
    }

    /// Say whether `url` is one of the API's own, the only URLs the token
    /// is sent to: same scheme and host:port, under the API's path. User
    /// information counts on neither side, as GitHub's own URLs carry none
    /// whatever `api_url` holds.
    fn is_api_url(&self, url: &str) -> bool {
        patchline_transport::is_under(url, &self.api_url)
    }

    /// Refuse an owner or repository name that GitHub would not give, and
    /// that could change the API path it is put in.
    fn check_names(&self) -> Result<(), FeedError> {
        for (field, name) in [("owner", &self.owner), ("repository", &self.repository)] {
            let valid = !name.is_empty()
                && name != "."
                && name != ".."
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
            if !valid {
                return Err(FeedError::source(
                    field,
                    format!("{name:?} is not a GitHub {field} name"),
                ));
            }
        }
        Ok(())
    }

    fn bearer(&self) -> Option<Secret> {
        self.access_token
            .as_ref()
            .map(|token| Secret::new(format!("Bearer {}", token.expose())))
    }
}

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct ApiRelease {
    id: u64,
    tag_name: String,
    draft: bool,
    prerelease: bool,
    published_at: Option<DateTime<Utc>>,
    /// Read one by one, so that one malformed asset names itself.
    #[serde(default)]
    assets: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct ApiAsset {
    name: String,
    size: u64,
    url: String,
    browser_download_url: String,
    state: String,
    #[serde(default)]
    digest: Option<String>,
}

/// Read the releases, newest first, stopping once past `current`.
///
/// GitHub lists releases by creation date, newest first. Once a page held
/// the release of `current`, every release created after it has been seen,
/// so a check costs one or two requests however long the history. A draft
/// created before `current` and published after it keeps its creation date
/// and is therefore not found by such a check; a check without `current`
/// (a new resource) reads every page and finds it.
pub fn list(
    config: &Config,
    transport: &Transport,
    current: Option<&str>,
) -> Result<Listing, FeedError> {
    config.check_names()?;
    let current_version = crate::current_version(current);
    let tags = TagFilter::new(config.tag_filter.as_deref())?;
    let checksums = config
        .checksums
        .as_ref()
        .map(|glob| FileFilter::new(std::slice::from_ref(glob)))
        .transpose()
        .map_err(|err| FeedError::source("checksums", err))?;

    let mut listing = Listing::default();
    let mut position = 0;
    let first = format!(
        "{}/repos/{}/{}/releases?per_page=100",
        config.api_base(),
        config.owner,
        config.repository
    );
    read_pages(config, transport, first, |page| {
        let mut holds_current = false;
        for value in page {
            position += 1;
            let entry = match value.get("tag_name").and_then(Value::as_str) {
                Some(tag) => tag.to_string(),
                None => format!("entry {position}"),
            };
            let release: ApiRelease = match serde_json::from_value(value) {
                Ok(release) => release,
                Err(err) => {
                    listing.skipped.push(Skipped {
                        entry,
                        reason: err.to_string(),
                    });
                    continue;
                }
            };
            // A draft is not published yet: nothing to offer or report.
            if release.draft {
                continue;
            }
            let version = match tags.version(&release.tag_name) {
                Ok(version) => version,
                Err(reason) => {
                    listing.skipped.push(Skipped { entry, reason });
                    continue;
                }
            };
            holds_current |= current == Some(version.as_str());
            if release.prerelease && !config.include_prereleases {
                listing.skipped.push(Skipped {
                    entry,
                    reason: "a pre-release (source.include_prereleases is false)".into(),
                });
                continue;
            }
            let assets = all_assets(config, transport, release.id, release.assets)?;
            let read = read_release(
                config,
                version,
                release.published_at,
                assets,
                checksums.as_ref(),
            );
            let mut release = match read {
                Ok(release) => release,
                Err(reason) => {
                    listing.skipped.push(Skipped { entry, reason });
                    continue;
                }
            };
            // Hashes from a checksums asset count in the fingerprint, so
            // they are read here, not at download time: a file rebuilt
            // under the same version must give a new fingerprint. Only
            // releases a caller can still want are read.
            if !crate::is_older(&release.version, current_version.as_ref()) {
                fill_from_checksums(config, &mut release, transport)?;
            }
            listing.releases.push(release);
        }
        Ok(!holds_current)
    })?;
    Ok(listing)
}

/// Return every asset of release `id`, reading its assets endpoint when
/// the release object may not embed them all.
fn all_assets(
    config: &Config,
    transport: &Transport,
    id: u64,
    embedded: Vec<Value>,
) -> Result<Vec<Value>, FeedError> {
    if embedded.len() < EMBEDDED_ASSETS {
        return Ok(embedded);
    }
    let mut all = Vec::new();
    let first = format!(
        "{}/repos/{}/{}/releases/{id}/assets?per_page=100",
        config.api_base(),
        config.owner,
        config.repository,
    );
    read_pages(config, transport, first, |page| {
        all.extend(page);
        Ok(true)
    })?;
    Ok(all)
}

/// Turn a release into a [`Release`], or say which asset keeps it from
/// being offered: a release missing a file would be a different release.
fn read_release(
    config: &Config,
    version: Version,
    published: Option<DateTime<Utc>>,
    assets: Vec<Value>,
    checksums: Option<&FileFilter>,
) -> Result<Release, String> {
    let assets = assets
        .into_iter()
        .enumerate()
        .map(|(index, value)| {
            let name = match value.get("name").and_then(Value::as_str) {
                Some(name) => format!("{name:?}"),
                None => (index + 1).to_string(),
            };
            serde_json::from_value::<ApiAsset>(value).map_err(|err| format!("asset {name}: {err}"))
        })
        .collect::<Result<Vec<_>, String>>()?;

    // An asset whose upload never finished has no bytes to download.
    let assets: Vec<ApiAsset> = assets
        .into_iter()
        .filter(|asset| asset.state == "uploaded")
        .collect();
    let handle = checksums.and_then(|filter| {
        assets
            .iter()
            .find(|asset| filter.matches(&asset.name))
            .map(|asset| download_url(config, asset))
    });
    let files = assets
        .into_iter()
        .map(|asset| ReleaseFile {
            hashes: asset
                .digest
                .as_deref()
                .and_then(sha256_of_digest)
                .map(|hex| BTreeMap::from([(HashAlgorithm::Sha256, hex)]))
                .unwrap_or_default(),
            urls: vec![download_url(config, &asset)],
            name: asset.name,
            size: Some(asset.size),
        })
        .collect();
    Ok(Release {
        version,
        published,
        files,
        handle,
    })
}

/// Return where an asset is downloaded from: its public URL, or with a
/// token its API URL (the only way to a private repository's assets).
fn download_url(config: &Config, asset: &ApiAsset) -> String {
    if config.access_token.is_some() {
        asset.url.clone()
    } else {
        asset.browser_download_url.clone()
    }
}

/// Read the pages of a listing from `first` on, handing each page's items
/// to `page` until it says to stop (`false`) or no page follows. A page
/// must be a JSON array; its items are for `page` to read one by one.
fn read_pages(
    config: &Config,
    transport: &Transport,
    first: String,
    mut page: impl FnMut(Vec<Value>) -> Result<bool, FeedError>,
) -> Result<(), FeedError> {
    let mut read = HashSet::new();
    let mut next = Some(first);
    for _ in 0..MAX_PAGES {
        let Some(url) = next.take() else {
            return Ok(());
        };
        let response = send_api(config, transport, &url)?;
        let items = response
            .json()
            .map_err(|err| FeedError::source("api_url", err))?;
        read.insert(url.clone());
        if !page(items)? {
            return Ok(());
        }
        next = response.next_link();
        let Some(link) = &next else {
            continue;
        };
        // The token goes with every page: a link leading elsewhere is not
        // followed.
        if !config.is_api_url(link) {
            return Err(FeedError::source(
                "api_url",
                format!(
                    "{}: the next page is not under {}",
                    redact_url(&url),
                    redact_url(config.api_base())
                ),
            ));
        }
        // Following a link back to a page already read would go round
        // until the page limit, sending the token each time, and still
        // miss the releases beyond.
        if read.contains(link) {
            return Err(FeedError::source(
                "api_url",
                format!(
                    "GitHub's next-page link repeats {}; stopped",
                    redact_url(link)
                ),
            ));
        }
    }
    Err(FeedError::source(
        "api_url",
        format!("GitHub answered more than {MAX_PAGES} pages; stopped there"),
    ))
}

/// Send one listing request, conditional when the transport caches.
fn send_api(config: &Config, transport: &Transport, url: &str) -> Result<Response, FeedError> {
    let mut request = Request::get(url)
        .header("Accept", "application/vnd.github+json")
        .header("X-GitHub-Api-Version", API_VERSION);
    if let Some(bearer) = config.bearer() {
        request = request.authorization(bearer);
    }
    transport
        .send_cached(&request, MAX_PAGE_BYTES)
        .map_err(|err| api_error(config, err))
}

/// Blame a failed request on the source field to fix.
fn api_error(config: &Config, err: TransportError) -> FeedError {
    match err.status() {
        Some(status @ (401 | 403)) => FeedError::source(
            "access_token",
            format!("GitHub refused the request (HTTP {status})"),
        ),
        Some(404) => {
            // GitHub answers a private repository 404, not 401, to callers
            // without a token.
            let hint = if config.access_token.is_none() {
                "; a private repository needs source.access_token"
            } else {
                ""
            };
            FeedError::source(
                "repository",
                format!(
                    "GitHub knows no repository {}/{} (HTTP 404{hint})",
                    config.owner, config.repository
                ),
            )
        }
        _ => FeedError::source("api_url", err),
    }
}

/// Read the hex of a `sha256:<hex>` digest; other algorithms are ignored.
fn sha256_of_digest(digest: &str) -> Option<String> {
    let (algorithm, hex) = digest.split_once(':')?;
    let valid = HashAlgorithm::from_name(algorithm) == Some(HashAlgorithm::Sha256)
        && hex.len() == HashAlgorithm::Sha256.hex_len()
        && hex.bytes().all(|b| b.is_ascii_hexdigit());
    valid.then(|| hex.to_ascii_lowercase())
}

/// Reads versions from tags.
struct TagFilter {
    regex: Regex,
    text: String,
}

impl TagFilter {
    fn new(filter: Option<&str>) -> Result<Self, FeedError> {
        let text = filter.unwrap_or(DEFAULT_TAG_FILTER);
        let regex = Regex::new(text).map_err(|err| {
            // regex explains a syntax error over several lines, pointing at
            // the column; the last line says what is wrong.
            let message = err.to_string();
            let last = message
                .lines()
                .rev()
                .find(|line| !line.trim().is_empty())
                .unwrap_or_default();
            FeedError::source(
                "tag_filter",
                format!(
                    "{text:?} is not a regex: {}",
                    last.strip_prefix("error: ").unwrap_or(last)
                ),
            )
        })?;
        if regex.captures_len() < 2 {
            return Err(FeedError::source(
                "tag_filter",
                format!("{text:?} has no group capturing the version"),
            ));
        }
        Ok(TagFilter {
            regex,
            text: text.to_string(),
        })
    }

    /// Return the version of `tag`, or why it has none.
    fn version(&self, tag: &str) -> Result<Version, String> {
        let captured = self
            .regex
            .captures(tag)
            .and_then(|captures| captures.get(1))
            .ok_or_else(|| format!("the tag does not match source.tag_filter {:?}", self.text))?;
        Version::parse(captured.as_str()).map_err(|err| err.to_string())
    }
}

/// Fill hashes from the checksums asset for files GitHub gives no digest;
/// the request is conditional, so an unchanged asset costs a `304`.
///
/// A file the checksums asset does not name either stays without a hash;
/// whether that is acceptable is the caller's decision.
fn fill_from_checksums(
    config: &Config,
    release: &mut Release,
    transport: &Transport,
) -> Result<(), FeedError> {
    let Some(handle) = &release.handle else {
        return Ok(());
    };
    let lacking = |file: &ReleaseFile| !file.hashes.contains_key(&HashAlgorithm::Sha256);
    if !release.files.iter().any(lacking) {
        return Ok(());
    }
    let response = transport
        .send_cached(&download_request(config, handle), MAX_CHECKSUMS_BYTES)
        .map_err(|err| FeedError::source("checksums", err))?;
    let text = String::from_utf8_lossy(&response.body);
    let sums = parse_checksums(&text);
    for file in release.files.iter_mut().filter(|file| lacking(file)) {
        if let Some(hex) = sums.get(file.name.as_str()) {
            file.hashes.insert(HashAlgorithm::Sha256, hex.clone());
        }
    }
    Ok(())
}

/// Read `sha256sum` output: `<hex>  <name>` (text mode) or `<hex> *<name>`
/// (binary mode), by file name. Lines of any other shape are ignored.
fn parse_checksums(text: &str) -> BTreeMap<&str, String> {
    text.lines()
        .filter_map(|line| {
            let (hex, name) = line.split_once(' ')?;
            let name = name.strip_prefix([' ', '*'])?;
            let name = name.strip_prefix("./").unwrap_or(name);
            let valid = hex.len() == HashAlgorithm::Sha256.hex_len()
                && hex.bytes().all(|b| b.is_ascii_hexdigit())
                && !name.is_empty();
            valid.then(|| (name, hex.to_ascii_lowercase()))
        })
        .collect()
}

/// The request downloading one asset URL, with the token for GitHub's own
/// hosts only.
///
/// An asset's API URL answers JSON unless asked for `application/octet-
/// stream`; then it redirects to the signed URL of the bytes, with or
/// without a token (public repositories need none).
pub fn download_request(config: &Config, url: &str) -> Request {
    if !config.is_api_url(url) {
        return Request::get(url);
    }
    let request = Request::get(url)
        .header("Accept", "application/octet-stream")
        .header("X-GitHub-Api-Version", API_VERSION);
    match config.bearer() {
        Some(bearer) => request.authorization(bearer),
        None => request,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(api_url: &str) -> Config {
        Config {
            owner: "acme".into(),
            repository: "widget".into(),
            access_token: Some(Secret::new("s3cr3t")),
            api_url: api_url.into(),
            tag_filter: None,
            checksums: None,
            include_prereleases: false,
        }
    }

    #[test]
    fn describes_the_repository_on_its_web_host() {
        assert_eq!(
            config(PUBLIC_API).describe(),
            "github.com/acme/widget releases"
        );
        assert_eq!(
            config("https://ghe.example/api/v3").describe(),
            "ghe.example/acme/widget releases"
        );
    }

    #[test]
    fn api_urls_compare_without_user_information() {
        let ghe = config("https://u:p@GHE.example/api/v3/");
        assert!(ghe.is_api_url("https://ghe.example/api/v3/repos/a/b/releases/assets/1"));
        assert!(ghe.is_api_url("HTTPS://x@ghe.example/api/v3/repos?page=2"));
        assert!(!ghe.is_api_url("http://ghe.example/api/v3/repos"));
        assert!(!ghe.is_api_url("https://ghe.example:8443/api/v3/repos"));
        assert!(!ghe.is_api_url("https://ghe.example/api/v3x/repos"));
        assert!(!ghe.is_api_url("https://ghe.example/api/v3"));
        assert!(!ghe.is_api_url("https://ghe.example@evil.example/api/v3/repos"));
        assert!(!ghe.is_api_url("https://evil.example/?https://ghe.example/api/v3/"));
        assert!(!ghe.is_api_url("/api/v3/repos"));
        assert!(config(PUBLIC_API).is_api_url("https://api.github.com/repos/a/b"));
    }

    #[test]
    fn default_tag_filter_drops_a_leading_v() {
        let tags = TagFilter::new(None).unwrap();
        assert_eq!(tags.version("v1.2.3").unwrap().as_str(), "1.2.3");
        assert_eq!(tags.version("621.125").unwrap().as_str(), "621.125");
        assert_eq!(
            tags.version("nightly").unwrap_err(),
            r#"the tag does not match source.tag_filter "^v?(\\d.*)$""#
        );
        assert_eq!(
            tags.version("v1.x").unwrap_err(),
            r#"version "1.x" does not parse: each release component must be a number"#
        );
    }

    #[test]
    fn digests_other_than_sha256_are_ignored() {
        let hex = "AB".repeat(32);
        assert_eq!(
            sha256_of_digest(&format!("sha256:{hex}")),
            Some("ab".repeat(32))
        );
        assert_eq!(sha256_of_digest(&format!("sha512:{hex}")), None);
        assert_eq!(sha256_of_digest("sha256:abc"), None);
    }

    #[test]
    fn checksums_in_text_and_binary_mode() {
        let a = "a".repeat(64);
        let b = "B".repeat(64);
        let text = format!("{a}  widget.tgz\n{b} *./widget.zip\nnot a line\n{a} nospace\n");
        let sums = parse_checksums(&text);
        assert_eq!(
            sums,
            BTreeMap::from([("widget.tgz", a.clone()), ("widget.zip", "b".repeat(64))])
        );
    }
}
