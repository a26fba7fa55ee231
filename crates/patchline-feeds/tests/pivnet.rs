//! The pivnet feed against the Tanzu Network stand-in: both kinds of
//! token, listings, EULA acceptance and downloads through signed URLs.

use std::collections::BTreeMap;
use std::sync::Arc;

use patchline_core::secret::Secret;
use patchline_core::{HashAlgorithm, Release, ReleaseFile};
use patchline_feeds::pivnet::{self, Config, PUBLIC_ENDPOINT};
use patchline_feeds::Skipped;
use patchline_standins::pivnet::{Pivnet, Product, ProductFile, Recorded};
use patchline_transport::{Transport, TransportConfig};
use serde_json::json;

/// A legacy token: exactly the longest one there is.
const LEGACY: &str = "legacy-token-1234567";
/// A UAA refresh token.
const REFRESH: &str = "uaa-refresh-token-0123456789abcdef";
const SLUG: &str = "elastic-runtime";

/// Release 123's first file: `md5("hello")`, published in upper case.
const HELLO_MD5: &str = "5D41402ABC4B2A76B9719D911017C592";

fn tanzu_network() -> Pivnet {
    use patchline_standins::pivnet::Release;

    let product = Product::new(SLUG)
        .release(
            Release::new(120, "2.13.1", "Minor Release", "2026-11-18").file(ProductFile::new(
                7,
                "product-files/elastic-runtime/cf-2.13.1-build.1.pivotal",
                "TAS",
                b"tas tile 2.13.1",
            )),
        )
        .release(
            Release::new(123, "2.11.5", "Security Release", "2026-11-20")
                .file(ProductFile::new(
                    9,
                    "product-files/elastic-runtime/cf-2.11.5-build.3.pivotal",
                    "TAS",
                    b"tas tile 2.11.5",
                ))
                .file(ProductFile::new(
                    10,
                    "product-files/elastic-runtime/srt-2.11.5-build.3.pivotal",
                    "Small Footprint TAS",
                    b"small footprint 2.11.5",
                ))
                .file(
                    ProductFile::new(
                        11,
                        "product-files/elastic-runtime/hello-2.11.5.txt",
                        "Hello",
                        b"hello",
                    )
                    .md5_only(HELLO_MD5),
                ),
        )
        .release(Release::new(
            90,
            "Preview of 2.14",
            "Alpha Release",
            "2026-11-21",
        ))
        .release(
            Release::new(121, "2.12.9", "Security Release", "2026-11-19").file(ProductFile::new(
                8,
                "product-files/elastic-runtime/cf-2.12.9-build.2.pivotal",
                "TAS",
                b"tas tile 2.12.9",
            )),
        );
    Pivnet::start(LEGACY, REFRESH, vec![product])
}

fn transport(attempts: u32) -> Transport {
    Transport::new(TransportConfig {
        attempts,
        log: Arc::new(|_| {}),
        ..TransportConfig::default()
    })
    .unwrap()
}

fn config(pivnet: &Pivnet, token: &str, release_type: Option<&str>) -> Config {
    Config::new(
        Secret::new(token),
        SLUG,
        pivnet.endpoint(),
        release_type.map(str::to_string),
    )
}

fn versions(releases: &[Release]) -> Vec<&str> {
    releases.iter().map(|r| r.version.as_str()).collect()
}

fn download_url(pivnet: &Pivnet, release: u64, file: u64) -> String {
    format!(
        "{}/api/v2/products/elastic-runtime/releases/{release}/product_files/{file}/download",
        pivnet.endpoint()
    )
}

fn paths(requests: &[Recorded]) -> Vec<String> {
    requests
        .iter()
        .map(|r| format!("{} {} {}", r.method, r.url, r.status))
        .collect()
}

#[test]
fn reports_releases_in_the_api_order_newest_date_first() {
    let pivnet = tanzu_network();
    let listing = pivnet::list(&config(&pivnet, LEGACY, None), &transport(1), None).unwrap();

    assert_eq!(versions(&listing.releases), ["2.11.5", "2.12.9", "2.13.1"]);
    let published: Vec<String> = listing
        .releases
        .iter()
        .map(|r| r.published.unwrap().to_rfc3339())
        .collect();
    assert_eq!(
        published,
        [
            "2026-11-20T00:00:00+00:00",
            "2026-11-19T00:00:00+00:00",
            "2026-11-18T00:00:00+00:00"
        ]
    );
    let handles: Vec<_> = listing
        .releases
        .iter()
        .map(|r| r.handle.as_deref())
        .collect();
    assert_eq!(handles, [Some("123"), Some("121"), Some("120")]);
    assert_eq!(listing.skipped.len(), 1);
    assert_eq!(listing.skipped[0].entry, "Preview of 2.14");
    assert_eq!(
        listing.skipped[0].reason,
        "version \"Preview of 2.14\" does not parse: each release component must be a number"
    );

    // Given the version a check already has, older releases are left
    // out, and so are their product_files requests.
    let before = pivnet.api_requests().len();
    let listing = pivnet::list(
        &config(&pivnet, LEGACY, None),
        &transport(1),
        Some("2.12.9"),
    )
    .unwrap();
    assert_eq!(versions(&listing.releases), ["2.12.9", "2.13.1"]);
    let files_asked = pivnet.api_requests()[before..]
        .iter()
        .filter(|r| r.url.ends_with("/product_files"))
        .count();
    assert_eq!(files_asked, 2);
}

#[test]
fn files_are_named_after_their_object_key_with_their_digest() {
    let pivnet = tanzu_network();
    let listing = pivnet::list(&config(&pivnet, LEGACY, None), &transport(1), None).unwrap();

    let sha256 = |hex: &str| BTreeMap::from([(HashAlgorithm::Sha256, hex.to_string())]);
    assert_eq!(
        listing.releases[0].files,
        [
            ReleaseFile {
                name: "cf-2.11.5-build.3.pivotal".into(),
                size: Some(15),
                hashes: sha256("aaf5b31d79c0b66be2f4acaf2eb48eb864e20bd4067bbbe679ca73f5ce6404ed"),
                urls: vec![download_url(&pivnet, 123, 9)],
            },
            ReleaseFile {
                name: "srt-2.11.5-build.3.pivotal".into(),
                size: Some(22),
                hashes: sha256("04cf39833e38d449585d8a0dd6697c93c9bf1b7de4e17da91e864981fe4cb002"),
                urls: vec![download_url(&pivnet, 123, 10)],
            },
            ReleaseFile {
                name: "hello-2.11.5.txt".into(),
                size: Some(5),
                hashes: BTreeMap::from([(
                    HashAlgorithm::Md5,
                    "5d41402abc4b2a76b9719d911017c592".to_string()
                )]),
                urls: vec![download_url(&pivnet, 123, 11)],
            },
        ]
    );
}

#[test]
fn release_type_keeps_only_releases_of_that_type() {
    let pivnet = tanzu_network();
    let config = config(&pivnet, LEGACY, Some("security release"));
    let listing = pivnet::list(&config, &transport(1), None).unwrap();

    assert_eq!(versions(&listing.releases), ["2.11.5", "2.12.9"]);
    assert!(listing.skipped.is_empty());
    // Releases of other types cost no request for their files.
    assert_eq!(
        paths(&pivnet.api_requests()),
        [
            "GET /api/v2/products/elastic-runtime/releases 200",
            "GET /api/v2/products/elastic-runtime/releases/123/product_files 200",
            "GET /api/v2/products/elastic-runtime/releases/121/product_files 200",
        ]
    );
}

#[test]
fn a_malformed_release_or_product_file_skips_that_release_only() {
    use patchline_standins::pivnet::Release;

    let file = |id: u64, version: &str| {
        ProductFile::new(
            id,
            &format!("product-files/{SLUG}/cf-{version}.pivotal"),
            "TAS",
            version.as_bytes(),
        )
    };
    let product = Product::new(SLUG)
        .release(Release::new(300, "3.0.0", "Major Release", "2026-12-01").file(file(30, "3.0.0")))
        .release(
            Release::new(301, "3.0.1", "Security Release", "2026-12-02")
                .file(file(31, "3.0.1"))
                .file(file(32, "3.0.1-extra").overriding("size", json!(-1))),
        )
        .release(
            Release::new(302, "3.0.2", "Security Release", "2026-12-03")
                .overriding("id", json!("x")),
        )
        .release(
            Release::new(303, "3.0.3", "Security Release", "2026-12-04")
                .overriding("version", json!(3.1)),
        )
        .release(
            Release::new(304, "3.0.4", "Security Release", "2026-12-05")
                .file(file(34, "3.0.4").overriding("aws_object_key", json!(7))),
        );
    let pivnet = Pivnet::start(LEGACY, REFRESH, vec![product]);

    let listing = pivnet::list(&config(&pivnet, LEGACY, None), &transport(1), None).unwrap();

    assert_eq!(versions(&listing.releases), ["3.0.0"]);
    assert_eq!(listing.releases[0].files[0].name, "cf-3.0.0.pivotal");
    let skipped = |entry: &str, reason: &str| Skipped {
        entry: entry.into(),
        reason: reason.into(),
    };
    assert_eq!(
        listing.skipped,
        [
            skipped(
                "3.0.4",
                "product file 1: invalid type: integer `7`, expected a string"
            ),
            skipped(
                "entry 2",
                "invalid type: floating point `3.1`, expected a string"
            ),
            skipped("3.0.2", "invalid type: string \"x\", expected u64"),
            skipped(
                "3.0.1",
                "product file \"cf-3.0.1-extra.pivotal\": invalid value: integer `-1`, \
                 expected u64"
            ),
        ]
    );
}

#[test]
fn a_legacy_token_is_sent_as_token() {
    let pivnet = tanzu_network();
    pivnet::list(&config(&pivnet, LEGACY, None), &transport(1), None).unwrap();

    let requests = pivnet.api_requests();
    assert_eq!(requests.len(), 4);
    for request in &requests {
        assert_eq!(
            request.header("authorization"),
            Some("Token legacy-token-1234567"),
            "{}",
            request.url
        );
    }
    assert!(pivnet.access_tokens().is_empty());
}

#[test]
fn a_refresh_token_is_exchanged_once_then_sent_as_bearer() {
    let pivnet = tanzu_network();
    let config = config(&pivnet, REFRESH, Some("Security Release"));
    let transport = transport(1);

    let mut listing = pivnet::list(&config, &transport, None).unwrap();
    pivnet::prepare(&config, &mut listing.releases[0], &transport).unwrap();
    // `in` downloads through clones of the source's config.
    let request = pivnet::download_request(&config.clone(), &listing.releases[0].files[0].urls[0]);
    let bytes = transport.send(&request, 1 << 20).unwrap().body;
    assert_eq!(bytes, b"tas tile 2.11.5");

    assert_eq!(pivnet.access_tokens(), ["access-token-1"]);
    let requests = pivnet.api_requests();
    assert_eq!(
        paths(&requests),
        [
            "POST /api/v2/authentication/access_tokens 200",
            "GET /api/v2/products/elastic-runtime/releases 200",
            "GET /api/v2/products/elastic-runtime/releases/123/product_files 200",
            "GET /api/v2/products/elastic-runtime/releases/121/product_files 200",
            "POST /api/v2/products/elastic-runtime/releases/123/pivnet_resource_eula_acceptance 200",
            "GET /api/v2/products/elastic-runtime/releases/123/product_files/9/download 302",
        ]
    );
    assert_eq!(requests[0].header("authorization"), None);
    for request in &requests[1..] {
        assert_eq!(
            request.header("authorization"),
            Some("Bearer access-token-1"),
            "{}",
            request.url
        );
    }
}

#[test]
fn a_refused_token_is_one_line_without_the_token() {
    let pivnet = tanzu_network();
    for token in ["wrong-legacy-token", "wrong-refresh-token-0123456789"] {
        let err = pivnet::list(&config(&pivnet, token, None), &transport(1), None)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "source.api_token: Tanzu Network refused the token (HTTP 401)"
        );
        assert!(!err.contains(token));
    }
    assert_eq!(
        paths(&pivnet.api_requests()),
        [
            "GET /api/v2/products/elastic-runtime/releases 401",
            "POST /api/v2/authentication/access_tokens 401",
        ]
    );
}

#[test]
fn an_unknown_product_is_blamed_on_the_slug() {
    let pivnet = tanzu_network();
    let config = Config::new(Secret::new(LEGACY), "nope", pivnet.endpoint(), None);
    let err = pivnet::list(&config, &transport(1), None)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "source.product_slug: Tanzu Network knows no product \"nope\" (HTTP 404)"
    );
}

#[test]
fn a_slug_that_would_change_the_path_is_refused() {
    let config = Config::new(Secret::new(LEGACY), "../admin", PUBLIC_ENDPOINT, None);
    let err = pivnet::list(&config, &transport(1), None)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "source.product_slug: \"../admin\" is not a product slug (letters, digits, \"-\", \"_\" and \".\")"
    );
}

#[test]
fn prepare_accepts_the_eula_the_download_needs() {
    let pivnet = tanzu_network();
    let config = config(&pivnet, LEGACY, None);
    let transport = transport(1);
    let mut listing = pivnet::list(&config, &transport, None).unwrap();
    let url = &listing.releases[0].files[0].urls[0];

    let refused = transport
        .send(&pivnet::download_request(&config, url), 1 << 20)
        .unwrap_err();
    assert_eq!(refused.status(), Some(451));
    assert!(!pivnet.eula_accepted(123));

    pivnet::prepare(&config, &mut listing.releases[0], &transport).unwrap();
    assert!(pivnet.eula_accepted(123));
    assert!(!pivnet.eula_accepted(121));
    let acceptance = pivnet.api_requests().pop().unwrap();
    assert_eq!(
        paths(std::slice::from_ref(&acceptance)),
        ["POST /api/v2/products/elastic-runtime/releases/123/pivnet_resource_eula_acceptance 200"]
    );
    assert_eq!(
        acceptance.header("authorization"),
        Some("Token legacy-token-1234567")
    );
}

#[test]
fn a_download_gets_the_bytes_and_the_file_host_never_sees_the_token() {
    let pivnet = tanzu_network();
    let config = config(&pivnet, LEGACY, None);
    let transport = transport(1);
    let mut listing = pivnet::list(&config, &transport, None).unwrap();
    pivnet::prepare(&config, &mut listing.releases[0], &transport).unwrap();

    for (file, bytes) in listing.releases[0].files.iter().zip([
        &b"tas tile 2.11.5"[..],
        b"small footprint 2.11.5",
        b"hello",
    ]) {
        let request = pivnet::download_request(&config, &file.urls[0]);
        assert_eq!(transport.send(&request, 1 << 20).unwrap().body, bytes);
    }

    let downloads: Vec<Recorded> = pivnet
        .api_requests()
        .into_iter()
        .filter(|r| r.url.ends_with("/download"))
        .collect();
    assert_eq!(downloads.len(), 3);
    assert!(downloads
        .iter()
        .all(|r| r.header("authorization") == Some("Token legacy-token-1234567")));
    let served = pivnet.file_requests();
    let served_paths: Vec<&str> = served
        .iter()
        .map(|r| r.url.split('?').next().unwrap())
        .collect();
    assert_eq!(
        served_paths,
        [
            "/product-files/elastic-runtime/cf-2.11.5-build.3.pivotal",
            "/product-files/elastic-runtime/srt-2.11.5-build.3.pivotal",
            "/product-files/elastic-runtime/hello-2.11.5.txt",
        ]
    );
    assert!(served.iter().all(|r| r.status == 200));
    assert!(served.iter().all(|r| r.header("authorization").is_none()));
}

#[test]
fn an_expired_signed_url_is_asked_for_again() {
    let pivnet = tanzu_network();
    let config = config(&pivnet, LEGACY, None);
    let transport = transport(2);
    let mut listing = pivnet::list(&config, &transport, None).unwrap();
    pivnet::prepare(&config, &mut listing.releases[0], &transport).unwrap();

    pivnet.expire_next_signed_urls(1);
    let request = pivnet::download_request(&config, &listing.releases[0].files[0].urls[0]);
    assert_eq!(
        transport.send(&request, 1 << 20).unwrap().body,
        b"tas tile 2.11.5"
    );

    let served = pivnet.file_requests();
    let statuses: Vec<u16> = served.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [403, 200]);
    assert!(served[0].url.contains("X-Amz-Expires=0&"));
    assert!(served[1].url.contains("X-Amz-Expires=3600&"));
    let links = pivnet
        .api_requests()
        .iter()
        .filter(|r| r.url.ends_with("/download"))
        .count();
    assert_eq!(links, 2);
}

#[test]
fn the_token_goes_to_the_api_host_only() {
    let pivnet = tanzu_network();
    let config = config(&pivnet, LEGACY, None);
    let elsewhere = format!(
        "{}/product-files/elastic-runtime/x.pivotal",
        pivnet.file_host()
    );

    let refused = transport(1)
        .send(&pivnet::download_request(&config, &elsewhere), 1 << 20)
        .unwrap_err();
    assert_eq!(refused.status(), Some(403));
    let served = pivnet.file_requests();
    assert_eq!(served.len(), 1);
    assert_eq!(served[0].header("authorization"), None);
}

#[test]
fn an_unchanged_product_costs_not_modified_answers() {
    let pivnet = tanzu_network();
    let cache = tempfile::tempdir().unwrap();
    let transport = Transport::new(TransportConfig {
        attempts: 1,
        cache_dir: Some(cache.path().to_path_buf()),
        log: Arc::new(|_| {}),
        ..TransportConfig::default()
    })
    .unwrap();
    let config = config(&pivnet, LEGACY, Some("Minor Release"));

    let first = pivnet::list(&config, &transport, None).unwrap();
    let second = pivnet::list(&config, &transport, None).unwrap();

    assert_eq!(versions(&first.releases), ["2.13.1"]);
    assert_eq!(second.releases[0].files, first.releases[0].files);
    assert_eq!(
        paths(&pivnet.api_requests()),
        [
            "GET /api/v2/products/elastic-runtime/releases 200",
            "GET /api/v2/products/elastic-runtime/releases/120/product_files 200",
            "GET /api/v2/products/elastic-runtime/releases 304",
            "GET /api/v2/products/elastic-runtime/releases/120/product_files 304",
        ]
    );
}

#[test]
fn describes_the_product_and_a_private_endpoint() {
    let public = Config::new(
        Secret::new(LEGACY),
        SLUG,
        format!("{PUBLIC_ENDPOINT}/"),
        None,
    );
    assert_eq!(public.describe(), "Tanzu Network product elastic-runtime");
    let private = Config::new(Secret::new(LEGACY), SLUG, "https://pivnet.example", None);
    assert_eq!(
        private.describe(),
        "Tanzu Network product elastic-runtime at https://pivnet.example"
    );
}
