//! The pivnet feed: releases of one product on Tanzu Network (formerly
//! Pivotal Network), read through its API v2.
//!
//! Tanzu Network takes two kinds of API token. A legacy token (20
//! characters or fewer) is sent as it is (`Authorization: Token ...`). A
//! longer one is a UAA refresh token: it is exchanged for an access token
//! that lives an hour (`Authorization: Bearer ...`). The exchange happens
//! once, in [`list`] or [`prepare`], and its result is kept in the
//! [`Config`] and shared by its clones, so the downloads of `in`, which
//! run after both, reuse it.
//!
//! A release's files are its product files, saved under the last part of
//! their `aws_object_key`. A file downloads through its `download` link,
//! which answers with a redirect to a signed URL on a storage host; the
//! transport gives the token to the API host only, and asks the link again
//! when the signed URL has expired. The link answers `451` until the
//! release's EULA is accepted, which [`prepare`] does.
//!
//! Each release is read on its own: one that does not have the shape the
//! API documents, or has a product file that does not, is skipped with
//! the reason, and the others are still offered.
//!
//! Not handled: files a release holds only inside file groups are not
//! listed (only the release's own product files are), and an access token
//! is not renewed, so a download that starts more than an hour after the
//! exchange is refused (`HTTP 401`) and the step must be run again.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use patchline_core::secret::{redact_url, Secret};
use patchline_core::{HashAlgorithm, Release, ReleaseFile, Version};
use patchline_transport::{Request, Transport, TransportError};
use serde::Deserialize;
use serde_json::Value;

use crate::{FeedError, Listing, Skipped};

/// The public Tanzu Network.
pub const PUBLIC_ENDPOINT: &str = "https://network.tanzu.vmware.com";

/// The longest legacy API token; a longer token is a UAA refresh token.
const LEGACY_TOKEN_MAX_LEN: usize = 20;

/// The largest API answer read: a product with hundreds of releases
/// stays well below it.
const ANSWER_LIMIT: u64 = 32 << 20;

/// A pivnet source.
#[derive(Debug, Clone)]
pub struct Config {
    /// A legacy API token (20 characters or fewer) or a UAA refresh token.
    pub api_token: Secret,
    /// The product's slug (`elastic-runtime`).
    pub product_slug: String,
    /// The API's base URL, without a trailing slash.
    pub endpoint: String,
    /// Only releases of this type (`Security Release`, in any case), when
    /// set.
    pub release_type: Option<String>,
    /// The `Authorization` value once a refresh token was exchanged,
    /// shared by every clone so that one run exchanges once.
    bearer: Arc<Mutex<Option<Secret>>>,
}

impl Config {
    /// Create a source; a trailing slash of `endpoint` is dropped.
    pub fn new(
        api_token: Secret,
        product_slug: impl Into<String>,
        endpoint: impl Into<String>,
        release_type: Option<String>,
    ) -> Self {
        Config {
            api_token,
            product_slug: product_slug.into(),
            endpoint: endpoint.into().trim_end_matches('/').to_string(),
            release_type,
            bearer: Arc::default(),
        }
    }

    /// Say what is followed, for logs.
    pub fn describe(&self) -> String {
        let product = format!("Tanzu Network product {}", self.product_slug);
        if self.endpoint == PUBLIC_ENDPOINT {
            product
        } else {
            format!("{product} at {}", redact_url(&self.endpoint))
        }
    }

    /// Return the `Authorization` value of a legacy API token; `None`
    /// for a refresh token.
    fn legacy_authorization(&self) -> Option<Secret> {
        let token = self.api_token.expose();
        (token.len() <= LEGACY_TOKEN_MAX_LEN).then(|| Secret::new(format!("Token {token}")))
    }

    /// Return the `Authorization` value known without asking Tanzu
    /// Network: a legacy token's, or the bearer of an earlier exchange.
    fn known_authorization(&self) -> Option<Secret> {
        self.legacy_authorization().or_else(|| {
            self.bearer
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        })
    }

    /// Return the `Authorization` value, exchanging a refresh token the
    /// first time. The lock is held during the exchange, so concurrent
    /// callers wait for the one exchange rather than start their own.
    fn authorization(&self, transport: &Transport) -> Result<Secret, FeedError> {
        if let Some(value) = self.legacy_authorization() {
            return Ok(value);
        }
        let mut bearer = self.bearer.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(value) = &*bearer {
            return Ok(value.clone());
        }
        let value = Secret::new(format!("Bearer {}", self.access_token(transport)?.expose()));
        *bearer = Some(value.clone());
        Ok(value)
    }

    /// Exchange the refresh token for an access token.
    fn access_token(&self, transport: &Transport) -> Result<Secret, FeedError> {
        #[derive(Deserialize)]
        struct Answer {
            access_token: Secret,
        }

        let request = Request::post_json(
            format!("{}/api/v2/authentication/access_tokens", self.endpoint),
            &serde_json::json!({ "refresh_token": self.api_token.expose() }),
        )
        .header("Accept", "application/json");
        let answer: Answer = transport
            .send(&request, ANSWER_LIMIT)
            .and_then(|response| response.json())
            .map_err(|err| blame(err, None))?;
        Ok(answer.access_token)
    }

    /// Return the URL of the API's `path` for this product.
    fn product_url(&self, path: &str) -> String {
        format!(
            "{}/api/v2/products/{}{path}",
            self.endpoint, self.product_slug
        )
    }
}

/// Read every release of the product (of `release_type`, when set) with
/// its files. Each release costs one request for its files, so releases
/// older than `current` (the version a check already has, or the one `in`
/// wants) are left out: neither needs them. Both kinds of request are
/// conditional, so an unchanged product costs `304`s.
pub fn list(
    config: &Config,
    transport: &Transport,
    current: Option<&str>,
) -> Result<Listing, FeedError> {
    let current = crate::current_version(current);
    check_slug(&config.product_slug)?;
    let authorization = config.authorization(transport)?;

    let releases: Releases = get(
        config,
        &config.product_url("/releases"),
        &authorization,
        transport,
    )
    .map_err(|err| {
        blame(
            err,
            Some(format!(
                "Tanzu Network knows no product {:?}",
                config.product_slug
            )),
        )
    })?;

    let mut listing = Listing::default();
    for (index, value) in releases.releases.into_iter().enumerate() {
        let name = match value.get("version").and_then(Value::as_str) {
            Some(version) => version.to_string(),
            None => format!("entry {}", index + 1),
        };
        let entry: ReleaseEntry = match serde_json::from_value(value) {
            Ok(entry) => entry,
            Err(err) => {
                listing.skipped.push(Skipped {
                    entry: name,
                    reason: err.to_string(),
                });
                continue;
            }
        };
        let wanted = config.release_type.as_ref().is_none_or(|wanted| {
            entry
                .release_type
                .as_deref()
                .is_some_and(|kind| kind.eq_ignore_ascii_case(wanted))
        });
        if !wanted {
            continue;
        }
        let version = match Version::parse(&entry.version) {
            Ok(version) if crate::is_older(&version, current.as_ref()) => {
                listing.passed_over += 1;
                continue;
            }
            Ok(version) => version,
            Err(err) => {
                listing.skipped.push(Skipped {
                    entry: entry.version,
                    reason: err.to_string(),
                });
                continue;
            }
        };
        let files: ProductFiles = get(
            config,
            &config.product_url(&format!("/releases/{}/product_files", entry.id)),
            &authorization,
            transport,
        )
        .map_err(|err| blame(err, None))?;
        let files = match release_files(files.product_files) {
            Ok(files) => files,
            Err(reason) => {
                listing.skipped.push(Skipped {
                    entry: entry.version,
                    reason,
                });
                continue;
            }
        };
        listing.releases.push(Release {
            version,
            published: published(entry.release_date.as_deref()),
            files,
            handle: Some(entry.id.to_string()),
        });
    }
    Ok(listing)
}

/// Accept the release's EULA before its files are downloaded.
pub fn prepare(
    config: &Config,
    release: &mut Release,
    transport: &Transport,
) -> Result<(), FeedError> {
    let version = release.version.as_str();
    let Some(id) = &release.handle else {
        return Err(FeedError::source(
            "endpoint",
            format!("version {version} carries no Tanzu Network release id"),
        ));
    };
    let authorization = config.authorization(transport)?;

    let request = Request::post_json(
        config.product_url(&format!("/releases/{id}/pivnet_resource_eula_acceptance")),
        &serde_json::json!({}),
    )
    .header("Accept", "application/json")
    .authorization(authorization);
    transport.send(&request, ANSWER_LIMIT).map_err(|err| {
        blame(
            err,
            Some(format!(
                "Tanzu Network knows no release {version} (id {id}) of product {:?}",
                config.product_slug
            )),
        )
    })?;
    Ok(())
}

/// The request downloading one file through its `download` link, with the
/// token for the API host only.
///
/// A refresh token must have been exchanged by [`list`] or [`prepare`]
/// first (`in` always runs both before downloading); without that the
/// request goes without credentials and Tanzu Network answers `401`.
pub fn download_request(config: &Config, url: &str) -> Request {
    let request = Request::get(url);
    if !patchline_transport::is_under(url, &config.endpoint) {
        return request;
    }
    match config.known_authorization() {
        Some(authorization) => request.authorization(authorization),
        None => request,
    }
}

/// `GET /releases`; its releases are read one by one.
#[derive(Deserialize)]
struct Releases {
    releases: Vec<Value>,
}

/// One release as the API describes it.
#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct ReleaseEntry {
    id: u64,
    version: String,
    #[serde(default)]
    release_type: Option<String>,
    #[serde(default)]
    release_date: Option<String>,
}

/// `GET /releases/<id>/product_files`; its files are read one by one.
#[derive(Deserialize)]
struct ProductFiles {
    product_files: Vec<Value>,
}

/// One product file as the API describes it.
#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct ProductFile {
    aws_object_key: String,
    #[serde(default)]
    sha256: Option<String>,
    #[serde(default)]
    md5: Option<String>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default, rename = "_links")]
    links: Links,
}

#[derive(Deserialize, Default)]
struct Links {
    download: Option<Link>,
}

#[derive(Deserialize)]
struct Link {
    href: String,
}

/// Refuse a slug that would change the API path it is put in.
fn check_slug(slug: &str) -> Result<(), FeedError> {
    let valid = !slug.is_empty()
        && slug
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !slug.contains("..");
    if valid {
        Ok(())
    } else {
        Err(FeedError::source(
            "product_slug",
            format!("{slug:?} is not a product slug (letters, digits, \"-\", \"_\" and \".\")"),
        ))
    }
}

/// Read one listing of the API as JSON, conditionally.
/// Cached answers are keyed on the configured token, since an exchanged
/// bearer token is new in every run.
fn get<T: serde::de::DeserializeOwned>(
    config: &Config,
    url: &str,
    authorization: &Secret,
    transport: &Transport,
) -> Result<T, TransportError> {
    let request = Request::get(url)
        .header("Accept", "application/json")
        .authorization(authorization.clone())
        .cache_identity(config.api_token.clone());
    transport.send_cached(&request, ANSWER_LIMIT)?.json()
}

/// Blame a failed request on the source field to fix; `not_found` says
/// what a `404` means, when it means more than a wrong endpoint.
fn blame(err: TransportError, not_found: Option<String>) -> FeedError {
    match (err.status(), not_found) {
        (Some(401), _) => {
            FeedError::source("api_token", "Tanzu Network refused the token (HTTP 401)")
        }
        (Some(404), Some(what)) => FeedError::source("product_slug", format!("{what} (HTTP 404)")),
        _ => FeedError::source("endpoint", err),
    }
}

/// Read a release date (`2026-11-20`) as its midnight UTC.
fn published(date: Option<&str>) -> Option<DateTime<Utc>> {
    let date = NaiveDate::parse_from_str(date?, "%Y-%m-%d").ok()?;
    Some(date.and_time(NaiveTime::MIN).and_utc())
}

/// Read a release's product files, or say which one keeps the release
/// from being offered: a release missing a file would be a different
/// release.
fn release_files(files: Vec<Value>) -> Result<Vec<ReleaseFile>, String> {
    files
        .into_iter()
        .enumerate()
        .map(|(index, value)| {
            let name = match value.get("aws_object_key").and_then(Value::as_str) {
                Some(key) => format!("{:?}", file_name(key)),
                None => (index + 1).to_string(),
            };
            serde_json::from_value(value)
                .map(release_file)
                .map_err(|err| format!("product file {name}: {err}"))
        })
        .collect()
}

/// Return the name a file is saved under: the last part of its object key.
fn file_name(aws_object_key: &str) -> &str {
    aws_object_key.rsplit('/').next().unwrap_or_default()
}

/// Turn a product file into a release file: named after its object key,
/// with its SHA-256, or its MD5 for files older than Tanzu Network's
/// SHA-256 digests.
fn release_file(file: ProductFile) -> ReleaseFile {
    let name = file_name(&file.aws_object_key).to_string();
    let digest = |hex: Option<String>| hex.filter(|hex| !hex.is_empty());
    let mut hashes = BTreeMap::new();
    if let Some(sha256) = digest(file.sha256) {
        hashes.insert(HashAlgorithm::Sha256, sha256.to_ascii_lowercase());
    } else if let Some(md5) = digest(file.md5) {
        hashes.insert(HashAlgorithm::Md5, md5.to_ascii_lowercase());
    }
    ReleaseFile {
        name,
        // Files uploaded before sizes were recorded say 0, which no
        // download could match.
        size: file.size.filter(|size| *size > 0),
        hashes,
        urls: file
            .links
            .download
            .map(|link| link.href)
            .into_iter()
            .collect(),
    }
}
