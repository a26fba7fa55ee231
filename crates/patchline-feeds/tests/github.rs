//! The github feed against the GitHub stand-in: paging, drafts,
//! pre-releases, many assets, hashes, tokens, conditional requests and
//! errors, over real loopback HTTP.

use std::collections::BTreeMap;
use std::sync::Arc;

use patchline_core::{HashAlgorithm, Release, Secret};
use patchline_feeds::github::{download_request, list, Config};
use patchline_feeds::{FeedConfig, Listing, Skipped};
use patchline_standins::github::{AssetSpec, GitHub, ReleaseSpec, Repository, REPOSITORY_ID};
use patchline_transport::{Transport, TransportConfig};
use serde_json::json;
use sha2::{Digest, Sha256};

const TOKEN: &str = "s3cr3t-token";

fn transport() -> Transport {
    Transport::new(TransportConfig {
        attempts: 1,
        log: Arc::new(|_| {}),
        ..TransportConfig::default()
    })
    .unwrap()
}

fn config(github: &GitHub) -> Config {
    Config {
        owner: "acme".into(),
        repository: "widget".into(),
        access_token: None,
        api_url: github.api_url().into(),
        tag_filter: None,
        checksums: None,
        include_prereleases: false,
    }
}

fn with_token(config: Config, token: &str) -> Config {
    Config {
        access_token: Some(Secret::new(token)),
        ..config
    }
}

fn versions(listing: &Listing) -> Vec<&str> {
    listing
        .releases
        .iter()
        .map(|r| r.version.as_str())
        .collect()
}

fn api_paths(github: &GitHub) -> Vec<String> {
    github.api_requests().into_iter().map(|r| r.path).collect()
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn release<'a>(listing: &'a Listing, version: &str) -> &'a Release {
    listing
        .releases
        .iter()
        .find(|r| r.version.as_str() == version)
        .unwrap_or_else(|| panic!("no release {version}"))
}

#[test]
fn drafts_filling_the_first_page_are_passed_over() {
    let mut repository = Repository::new("acme", "widget")
        .token(TOKEN)
        .release(ReleaseSpec::new("v1.0.0").asset(AssetSpec::new("widget-1.0.0.tgz", b"one")))
        .release(ReleaseSpec::new("v1.0.1"))
        .release(ReleaseSpec::new("v1.1.0"));
    for n in 0..100 {
        repository = repository.release(ReleaseSpec::new(&format!("v2.0.{n}")).draft());
    }
    let github = GitHub::start(repository);

    let listing = list(&with_token(config(&github), TOKEN), &transport(), None).unwrap();

    assert_eq!(versions(&listing), ["1.1.0", "1.0.1", "1.0.0"]);
    assert_eq!(listing.skipped, []);
    assert_eq!(
        api_paths(&github),
        [
            "/repos/acme/widget/releases?per_page=100".to_string(),
            format!("/repositories/{REPOSITORY_ID}/releases?per_page=100&page=2"),
        ]
    );
    let first = release(&listing, "1.0.0");
    assert_eq!(
        first.published.unwrap().to_rfc3339(),
        "2026-01-01T00:00:00+00:00"
    );
    assert_eq!(first.handle, None);
    assert_eq!(first.files.len(), 1);
    let file = &first.files[0];
    assert_eq!(file.name, "widget-1.0.0.tgz");
    assert_eq!(file.size, Some(3));
    assert_eq!(
        file.hashes,
        BTreeMap::from([(HashAlgorithm::Sha256, sha256(b"one"))])
    );
    let asset_id = github.asset_id("v1.0.0", "widget-1.0.0.tgz");
    assert_eq!(
        file.urls,
        [format!(
            "{}/repos/acme/widget/releases/assets/{asset_id}",
            github.api_url()
        )]
    );

    // Without push access GitHub lists no drafts: one page holds it all.
    let anonymous = list(&config(&github), &transport(), None).unwrap();
    assert_eq!(versions(&anonymous), ["1.1.0", "1.0.1", "1.0.0"]);
    assert_eq!(github.api_requests().len(), 3);
}

#[test]
fn prereleases_are_offered_only_when_asked() {
    let github = GitHub::start(
        Repository::new("acme", "widget")
            .release(ReleaseSpec::new("v1.0.0"))
            .release(ReleaseSpec::new("v1.1.0-rc.1").prerelease())
            .release(ReleaseSpec::new("v1.1.0")),
    );

    let listing = list(&config(&github), &transport(), None).unwrap();
    assert_eq!(versions(&listing), ["1.1.0", "1.0.0"]);
    assert_eq!(
        listing.skipped,
        [Skipped {
            entry: "v1.1.0-rc.1".into(),
            reason: "a pre-release (source.include_prereleases is false)".into(),
        }]
    );

    let included = Config {
        include_prereleases: true,
        ..config(&github)
    };
    let listing = list(&included, &transport(), None).unwrap();
    assert_eq!(versions(&listing), ["1.1.0", "1.1.0-rc.1", "1.0.0"]);
    assert_eq!(listing.skipped, []);
}

#[test]
fn a_check_stops_after_the_page_holding_the_current_version() {
    let mut repository = Repository::new("acme", "widget");
    for n in 0..250 {
        repository = repository.release(ReleaseSpec::new(&format!("v1.0.{n}")));
    }
    let github = GitHub::start(repository);
    let config = config(&github);
    let transport = transport();

    // Newest first, 100 a page: 249..150, 149..50, 49..0.
    let listing = list(&config, &transport, Some("1.0.120")).unwrap();
    assert_eq!(github.api_requests().len(), 2);
    assert_eq!(listing.releases.len(), 200);
    assert_eq!(versions(&listing)[0], "1.0.249");
    assert_eq!(versions(&listing)[199], "1.0.50");

    let listing = list(&config, &transport, Some("1.0.200")).unwrap();
    assert_eq!(github.api_requests().len(), 3);
    assert_eq!(listing.releases.len(), 100);

    let listing = list(&config, &transport, None).unwrap();
    assert_eq!(github.api_requests().len(), 6);
    assert_eq!(listing.releases.len(), 250);
    assert_eq!(versions(&listing)[249], "1.0.0");

    // A current version that is gone (a deleted release) reads everything.
    let listing = list(&config, &transport, Some("0.9.0")).unwrap();
    assert_eq!(github.api_requests().len(), 9);
    assert_eq!(listing.releases.len(), 250);
}

#[test]
fn a_release_with_150_assets_lists_them_all() {
    let mut big = ReleaseSpec::new("v3.0.0");
    for n in 0..150 {
        big = big.asset(AssetSpec::new(
            &format!("part-{n:03}.bin"),
            format!("part {n}").as_bytes(),
        ));
    }
    let github = GitHub::start(
        Repository::new("acme", "widget")
            .release(
                ReleaseSpec::new("v2.0.0")
                    .asset(AssetSpec::new("a.bin", b"a"))
                    .asset(AssetSpec::new("b.bin", b"b")),
            )
            .release(big),
    );

    let listing = list(&config(&github), &transport(), None).unwrap();

    assert_eq!(versions(&listing), ["3.0.0", "2.0.0"]);
    let names: Vec<String> = release(&listing, "3.0.0")
        .files
        .iter()
        .map(|f| f.name.clone())
        .collect();
    let expected: Vec<String> = (0..150).map(|n| format!("part-{n:03}.bin")).collect();
    assert_eq!(names, expected);
    let last = &release(&listing, "3.0.0").files[149];
    assert_eq!(last.size, Some(8));
    assert_eq!(last.hashes[&HashAlgorithm::Sha256], sha256(b"part 149"));
    assert_eq!(
        last.urls,
        [format!(
            "{}/acme/widget/releases/download/v3.0.0/part-149.bin",
            github.api_url()
        )]
    );
    assert_eq!(release(&listing, "2.0.0").files.len(), 2);
    assert_eq!(
        api_paths(&github),
        [
            "/repos/acme/widget/releases?per_page=100".to_string(),
            "/repos/acme/widget/releases/1001/assets?per_page=100".to_string(),
            format!("/repositories/{REPOSITORY_ID}/releases/1001/assets?per_page=100&page=2"),
        ]
    );

    // The public download URL redirects to the file host.
    let config = config(&github);
    let body = transport()
        .send(&download_request(&config, &last.urls[0]), 1024)
        .unwrap()
        .body;
    assert_eq!(body, b"part 149");
    let served = github.file_requests();
    assert_eq!(served.len(), 1);
    assert_eq!(served[0].status, 200);
}

#[test]
fn hashes_come_from_digests_or_the_checksums_asset() {
    let sums = format!(
        "{}  widget.tgz\n{} *widget.zip\n",
        sha256(b"not the tgz"),
        sha256(b"zip bytes")
    );
    let github = GitHub::start(
        Repository::new("acme", "widget").release(
            ReleaseSpec::new("v1.4.0")
                .asset(AssetSpec::new("widget.tgz", b"tgz bytes"))
                .asset(AssetSpec::new("widget.zip", b"zip bytes").without_digest())
                .asset(AssetSpec::new("widget.deb", b"deb bytes").without_digest())
                .asset(AssetSpec::new("widget.rpm", b"").state("starter"))
                .asset(AssetSpec::new("SHA256SUMS", sums.as_bytes()).without_digest()),
        ),
    );
    let config = Config {
        checksums: Some("SHA256SUMS".into()),
        ..config(&github)
    };
    let transport = transport();

    // The listing reads the checksums asset itself, so its hashes count
    // in the fingerprint: GitHub's digest wins over the checksums file; a
    // file neither names stays without a hash.
    let listing = list(&config, &transport, None).unwrap();
    let release = &listing.releases[0];
    let sums_id = github.asset_id("v1.4.0", "SHA256SUMS");
    let hashes: Vec<(String, Option<String>)> = release
        .files
        .iter()
        .map(|f| {
            (
                f.name.clone(),
                f.hashes.get(&HashAlgorithm::Sha256).cloned(),
            )
        })
        .collect();
    assert_eq!(
        hashes,
        [
            ("widget.tgz".to_string(), Some(sha256(b"tgz bytes"))),
            ("widget.zip".to_string(), Some(sha256(b"zip bytes"))),
            ("widget.deb".to_string(), None),
            ("SHA256SUMS".to_string(), None),
        ]
    );
    // Without a token the public download URL is used, as for every file.
    let fetched = github.file_requests();
    assert_eq!(fetched.len(), 1);
    assert!(fetched[0].path.starts_with(&format!(
        "/github-production-release-asset/{REPOSITORY_ID}/{sums_id}?sig="
    )));
    assert_eq!(fetched[0].status, 200);

    // A release older than the version a check has is not read again.
    list(&config, &transport, Some("1.5.0")).unwrap();
    assert_eq!(github.file_requests().len(), 1);
}

#[test]
fn a_tag_filter_reads_other_tag_schemes() {
    let github = GitHub::start(
        Repository::new("acme", "widget")
            .release(ReleaseSpec::new("release-2.0.1"))
            .release(ReleaseSpec::new("v3.0.0"))
            .release(ReleaseSpec::new("release-candidate")),
    );
    let filtered = |filter: &str| Config {
        tag_filter: Some(filter.into()),
        ..config(&github)
    };

    let listing = list(&filtered("^release-(.*)$"), &transport(), None).unwrap();
    assert_eq!(versions(&listing), ["2.0.1"]);
    assert_eq!(
        listing.skipped,
        [
            Skipped {
                entry: "release-candidate".into(),
                reason:
                    r#"version "candidate" does not parse: each release component must be a number"#
                        .into(),
            },
            Skipped {
                entry: "v3.0.0".into(),
                reason: r#"the tag does not match source.tag_filter "^release-(.*)$""#.into(),
            },
        ]
    );

    let requests = github.api_requests().len();
    let err = list(&filtered("^release-(.*$"), &transport(), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"source.tag_filter: "^release-(.*$" is not a regex: unclosed group"#
    );
    let err = list(&filtered("^release-.*$"), &transport(), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"source.tag_filter: "^release-.*$" has no group capturing the version"#
    );
    assert_eq!(
        github.api_requests().len(),
        requests,
        "refused before asking"
    );
}

#[test]
fn a_private_repository_needs_the_token() {
    let github = GitHub::start(
        Repository::new("acme", "widget")
            .token(TOKEN)
            .private()
            .release(
                ReleaseSpec::new("v1.0.0").asset(AssetSpec::new("widget.tgz", b"private bytes")),
            ),
    );
    let transport = transport();

    let err = list(&config(&github), &transport, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "source.repository: GitHub knows no repository acme/widget (HTTP 404; \
         a private repository needs source.access_token)"
    );
    let err = list(
        &with_token(config(&github), "wrong-guess"),
        &transport,
        None,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "source.access_token: GitHub refused the request (HTTP 401)"
    );

    let config = with_token(config(&github), TOKEN);
    let listing = list(&config, &transport, None).unwrap();
    let file = &listing.releases[0].files[0];
    let asset_id = github.asset_id("v1.0.0", "widget.tgz");
    assert_eq!(
        file.urls,
        [format!(
            "{}/repos/acme/widget/releases/assets/{asset_id}",
            github.api_url()
        )]
    );

    let body = transport
        .send(&download_request(&config, &file.urls[0]), 1024)
        .unwrap()
        .body;
    assert_eq!(body, b"private bytes");

    // The public URL does not serve a private repository's assets.
    let browser = format!(
        "{}/acme/widget/releases/download/v1.0.0/widget.tgz",
        github.api_url()
    );
    let err = transport
        .send(&download_request(&config, &browser), 1024)
        .unwrap_err();
    assert_eq!(err.status(), Some(404));

    let asked = github.api_requests();
    let download = asked
        .iter()
        .find(|r| r.path.ends_with(&format!("/assets/{asset_id}")))
        .unwrap();
    assert_eq!(
        download.header("authorization"),
        Some("Bearer s3cr3t-token")
    );
    assert_eq!(download.status, 302);
    let served = github.file_requests();
    assert_eq!(served.len(), 1);
    assert_eq!(served[0].status, 200);
    for request in &served {
        assert_eq!(request.header("authorization"), None);
        assert!(
            request
                .headers
                .iter()
                .all(|(_, value)| !value.contains(TOKEN)),
            "{:?}",
            request.headers
        );
    }
}

#[test]
fn an_unchanged_listing_costs_a_304() {
    let mut repository = Repository::new("acme", "widget");
    for n in 0..150 {
        repository = repository.release(ReleaseSpec::new(&format!("v1.{n}.0")));
    }
    let github = GitHub::start(repository);
    let cache = tempfile::tempdir().unwrap();
    let transport = Transport::new(TransportConfig {
        attempts: 1,
        cache_dir: Some(cache.path().to_path_buf()),
        log: Arc::new(|_| {}),
        ..TransportConfig::default()
    })
    .unwrap();

    let first = list(&config(&github), &transport, None).unwrap();
    let again = list(&config(&github), &transport, None).unwrap();

    assert_eq!(versions(&again), versions(&first));
    assert_eq!(again.releases.len(), 150);
    let asked = github.api_requests();
    let statuses: Vec<u16> = asked.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 200, 304, 304]);
    assert_eq!(asked[0].header("if-none-match"), None);
    assert_eq!(asked[2].path, asked[0].path);
    assert_eq!(asked[3].path, asked[1].path);
    assert!(asked[3]
        .header("if-none-match")
        .unwrap()
        .starts_with("W/\""));
}

#[test]
fn failures_name_the_source_field() {
    let github = GitHub::start(Repository::new("acme", "widget").token(TOKEN));

    let unknown = Config {
        repository: "nothing".into(),
        ..with_token(config(&github), TOKEN)
    };
    let err = list(&unknown, &transport(), None).unwrap_err().to_string();
    assert_eq!(
        err,
        "source.repository: GitHub knows no repository acme/nothing (HTTP 404)"
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let api_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let nowhere = Config {
        api_url: api_url.clone(),
        ..with_token(config(&github), TOKEN)
    };
    let err = list(&nowhere, &transport(), None).unwrap_err().to_string();
    let expected = format!("source.api_url: {api_url}/repos/acme/widget/releases?***: ");
    assert!(err.starts_with(&expected), "{err}");
    assert!(!err.contains('\n') && !err.contains(TOKEN), "{err}");
}

#[test]
fn a_malformed_release_or_asset_skips_that_release_only() {
    let mut many = ReleaseSpec::new("v1.3.0");
    for n in 0..100 {
        many = many.asset(AssetSpec::new(&format!("part-{n:03}.bin"), b"part"));
    }
    // Past the 100 a release embeds: read from its assets endpoint.
    many = many.asset(AssetSpec::new("part-100.bin", b"part").overriding("size", json!(-2)));
    let github = GitHub::start(
        Repository::new("acme", "widget")
            .release(ReleaseSpec::new("v1.0.0").asset(AssetSpec::new("widget.tgz", b"good")))
            .release(
                ReleaseSpec::new("v1.1.0")
                    .asset(AssetSpec::new("widget.tgz", b"bad").overriding("size", json!(-1))),
            )
            .release(ReleaseSpec::new("v1.2.0").overriding("id", json!("x")))
            .release(many)
            .release(ReleaseSpec::new("v1.4.0").overriding("tag_name", json!(14)))
            .release(
                ReleaseSpec::new("v1.5.0")
                    .asset(AssetSpec::new("widget.tgz", b"odd").overriding("name", json!(null))),
            ),
    );

    let listing = list(&config(&github), &transport(), None).unwrap();

    assert_eq!(versions(&listing), ["1.0.0"]);
    assert_eq!(release(&listing, "1.0.0").files[0].size, Some(4));
    let skipped = |entry: &str, reason: &str| Skipped {
        entry: entry.into(),
        reason: reason.into(),
    };
    assert_eq!(
        listing.skipped,
        [
            skipped("v1.5.0", "asset 1: invalid type: null, expected a string"),
            skipped("entry 2", "invalid type: integer `14`, expected a string"),
            skipped(
                "v1.3.0",
                "asset \"part-100.bin\": invalid value: integer `-2`, expected u64"
            ),
            skipped("v1.2.0", "invalid type: string \"x\", expected u64"),
            skipped(
                "v1.1.0",
                "asset \"widget.tgz\": invalid value: integer `-1`, expected u64"
            ),
        ]
    );
}

#[test]
fn a_next_link_back_to_a_page_already_read_stops_the_listing() {
    let github = GitHub::start(
        Repository::new("acme", "widget")
            .token(TOKEN)
            .next_link_to_itself()
            .release(ReleaseSpec::new("v1.0.0")),
    );

    let err = list(&with_token(config(&github), TOKEN), &transport(), None)
        .unwrap_err()
        .to_string();

    assert_eq!(
        err,
        format!(
            "source.api_url: GitHub's next-page link repeats \
             {}/repos/acme/widget/releases?***; stopped",
            github.api_url()
        )
    );
    assert_eq!(
        api_paths(&github),
        ["/repos/acme/widget/releases?per_page=100"]
    );
}

#[test]
fn describe_shows_no_credentials_query_or_fragment() {
    let describe = |api_url: &str| {
        FeedConfig::Github(Config {
            owner: "acme".into(),
            repository: "widget".into(),
            access_token: None,
            api_url: api_url.into(),
            tag_filter: None,
            checksums: None,
            include_prereleases: false,
        })
        .describe()
    };
    assert_eq!(
        describe("http://127.0.0.1:8080?access_token=SECRETQ"),
        "127.0.0.1:8080/acme/widget releases"
    );
    assert_eq!(
        describe("https://ghe.example#SECRETF"),
        "ghe.example/acme/widget releases"
    );
    assert_eq!(
        describe("https://u:SEC/RET@ghe.example/api/v3"),
        "ghe.example/acme/widget releases"
    );
    assert_eq!(
        describe("https://api.github.com/?per_page=SECRETQ#SECRETF"),
        "github.com/acme/widget releases"
    );
}

#[test]
fn owner_and_repository_must_be_github_names() {
    let github = GitHub::start(Repository::new("acme", "widget"));
    let cases = [
        (
            "o/x",
            "widget",
            r#"source.owner: "o/x" is not a GitHub owner name"#,
        ),
        (
            "..",
            "widget",
            r#"source.owner: ".." is not a GitHub owner name"#,
        ),
        (
            "",
            "widget",
            r#"source.owner: "" is not a GitHub owner name"#,
        ),
        (
            "acme",
            ".",
            r#"source.repository: "." is not a GitHub repository name"#,
        ),
        (
            "acme",
            "widget?x=1",
            r#"source.repository: "widget?x=1" is not a GitHub repository name"#,
        ),
        (
            "acme",
            "wid get",
            r#"source.repository: "wid get" is not a GitHub repository name"#,
        ),
    ];

    for (owner, repository, expected) in cases {
        let config = Config {
            owner: owner.into(),
            repository: repository.into(),
            ..config(&github)
        };
        let err = list(&config, &transport(), None).unwrap_err().to_string();
        assert_eq!(err, expected);
    }
    assert_eq!(api_paths(&github), Vec::<String>::new());

    let dotted = Config {
        owner: "a_c.m-e".into(),
        repository: "widget.js".into(),
        ..config(&github)
    };
    let err = list(&dotted, &transport(), None).unwrap_err().to_string();
    assert_eq!(
        err,
        "source.repository: GitHub knows no repository a_c.m-e/widget.js (HTTP 404; \
         a private repository needs source.access_token)"
    );
}

#[test]
fn the_token_goes_to_api_urls_though_api_url_holds_user_information() {
    let mut repository = Repository::new("acme", "widget")
        .token(TOKEN)
        .private()
        .release(ReleaseSpec::new("v1.0.0").asset(AssetSpec::new("widget.tgz", b"private bytes")));
    // A second page, whose link GitHub gives without user information.
    for n in 1..=100 {
        repository = repository.release(ReleaseSpec::new(&format!("v1.{n}.0")));
    }
    let github = GitHub::start(repository);
    let config = Config {
        api_url: github.api_url().replace("http://", "http://user:pw@"),
        ..with_token(config(&github), TOKEN)
    };

    let listing = list(&config, &transport(), None).unwrap();

    assert_eq!(listing.releases.len(), 101);
    let file = &release(&listing, "1.0.0").files[0];
    let asset_id = github.asset_id("v1.0.0", "widget.tgz");
    assert_eq!(
        file.urls,
        [format!(
            "{}/repos/acme/widget/releases/assets/{asset_id}",
            github.api_url()
        )]
    );
    let body = transport()
        .send(&download_request(&config, &file.urls[0]), 1024)
        .unwrap()
        .body;
    assert_eq!(body, b"private bytes");
    let asked = github.api_requests();
    let download = asked.last().unwrap();
    assert_eq!(
        download.path,
        format!("/repos/acme/widget/releases/assets/{asset_id}")
    );
    assert_eq!(
        download.header("authorization"),
        Some("Bearer s3cr3t-token")
    );

    // The same path on another host:port is not the API's.
    let elsewhere = format!(
        "{}/repos/acme/widget/releases/assets/{asset_id}",
        github.files_url()
    );
    let err = transport()
        .send(&download_request(&config, &elsewhere), 1024)
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert_eq!(github.file_requests()[0].header("authorization"), None);
}
