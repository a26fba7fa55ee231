//! The bosh-io feed against the bosh.io stand-in: listings of stemcells of
//! either flavor and of releases, what is skipped and why, and the errors a
//! user reads.

use std::collections::BTreeMap;
use std::sync::Arc;

use patchline_core::{HashAlgorithm, Release, ReleaseFile};
use patchline_feeds::bosh_io::{self, Config, Flavor, Subject, PUBLIC_ENDPOINT};
use patchline_feeds::{FeedConfig, Skipped};
use patchline_standins::bosh_io::{BoshIo, BoshRelease, Digest, File, Stemcell};
use patchline_transport::{Request, Transport, TransportConfig};

const JAMMY: &str = "bosh-aws-xen-hvm-ubuntu-jammy-go_agent";
const UAA: &str = "github.com/cloudfoundry/uaa-release";

fn transport(attempts: u32) -> Transport {
    Transport::new(TransportConfig {
        attempts,
        log: Arc::new(|_| {}),
        ..TransportConfig::default()
    })
    .unwrap()
}

fn config(bosh_io: &BoshIo, subject: Subject, flavor: Flavor) -> Config {
    Config {
        subject,
        flavor,
        endpoint: bosh_io.url().to_string(),
    }
}

fn stemcell(bosh_io: &BoshIo, name: &str, flavor: Flavor) -> Config {
    config(bosh_io, Subject::Stemcell(name.into()), flavor)
}

fn versions(releases: &[Release]) -> Vec<&str> {
    releases.iter().map(|r| r.version.as_str()).collect()
}

fn hashes(pairs: &[(HashAlgorithm, &str)]) -> BTreeMap<HashAlgorithm, String> {
    pairs.iter().map(|(a, h)| (*a, h.to_string())).collect()
}

fn skipped(entry: &str, reason: &str) -> Skipped {
    Skipped {
        entry: entry.into(),
        reason: reason.into(),
    }
}

/// Two versions of the jammy stemcell; the light tarball of 1.506 is not
/// out yet.
fn jammy_with_light_pending() -> BoshIo {
    BoshIo::start(
        vec![
            Stemcell::new(JAMMY, "1.506").regular(File::new(b"jammy 1.506 full image".to_vec())),
            Stemcell::new(JAMMY, "1.505")
                .regular(File::new(b"jammy 1.505 full image".to_vec()))
                .light(File::new(b"jammy 1.505 light".to_vec())),
        ],
        vec![],
    )
}

#[test]
fn regular_stemcells_list_every_version_with_its_tarball() {
    let bosh_io = BoshIo::start(
        vec![Stemcell::new(JAMMY, "1.506").regular(
            File::new(b"jammy 1.506 full image".to_vec())
                .digest(Digest::Sha1, "A5C3065438FE06989E20C1927B2E59D0458CBCE6")
                .digest(Digest::Md5, ""),
        )],
        vec![],
    );
    let feed = FeedConfig::BoshIo(stemcell(&bosh_io, JAMMY, Flavor::Regular));

    let listing = feed.list(&transport(1), &Default::default()).unwrap();

    assert_eq!(versions(&listing.releases), ["1.506"]);
    assert_eq!(listing.skipped, []);
    let release = &listing.releases[0];
    assert_eq!(release.published, None);
    assert_eq!(release.handle, None);
    assert_eq!(
        release.files,
        [ReleaseFile {
            name: "bosh-stemcell-1.506-aws-xen-hvm-ubuntu-jammy-go_agent.tgz".into(),
            size: Some(22),
            hashes: hashes(&[
                (
                    HashAlgorithm::Sha256,
                    "ac47f5b98ecfbcac7098635aff4a4219ec10f48e72dbd48738cd6fa2dda3ae0c"
                ),
                (
                    HashAlgorithm::Sha1,
                    "a5c3065438fe06989e20c1927b2e59d0458cbce6"
                ),
            ]),
            urls: vec![format!(
                "{}/d/stemcells/1.506/bosh-stemcell-1.506-aws-xen-hvm-ubuntu-jammy-go_agent.tgz",
                bosh_io.url()
            )],
        }]
    );

    let requests = bosh_io.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "GET");
    assert_eq!(
        requests[0].url,
        "/api/v1/stemcells/bosh-aws-xen-hvm-ubuntu-jammy-go_agent?all=1"
    );
    assert_eq!(
        requests[0].header("user-agent"),
        Some(concat!("patchline/", env!("CARGO_PKG_VERSION")))
    );
}

#[test]
fn a_light_stemcell_published_later_is_held_back_with_its_reason() {
    let bosh_io = jammy_with_light_pending();

    let light = bosh_io::list(&stemcell(&bosh_io, JAMMY, Flavor::Light), &transport(1)).unwrap();

    assert_eq!(versions(&light.releases), ["1.505"]);
    assert_eq!(
        light.skipped,
        [skipped(
            "1.506",
            "light stemcell not published yet (regular is)"
        )]
    );
    let file = &light.releases[0].files[0];
    assert_eq!(
        file.name,
        "light-bosh-stemcell-1.505-aws-xen-hvm-ubuntu-jammy-go_agent.tgz"
    );
    assert_eq!(file.size, Some(17));
    assert_eq!(
        file.hashes,
        hashes(&[(
            HashAlgorithm::Sha256,
            "661bd02b46c264a6a7c4329d71d4d7be02c1b992c0bcd3dea780132228e53bcd"
        )])
    );

    let regular =
        bosh_io::list(&stemcell(&bosh_io, JAMMY, Flavor::Regular), &transport(1)).unwrap();
    assert_eq!(versions(&regular.releases), ["1.506", "1.505"]);
    assert_eq!(regular.skipped, []);
    assert_eq!(
        regular.releases[1].files[0].name,
        "bosh-stemcell-1.505-aws-xen-hvm-ubuntu-jammy-go_agent.tgz"
    );
}

#[test]
fn a_version_without_the_flavor_says_which_tarballs_exist() {
    use patchline_standins::bosh_io::Flavor as Tarball;

    let bosh_io = BoshIo::start(
        vec![
            Stemcell::new(JAMMY, "1.507"),
            Stemcell::new(JAMMY, "1.506")
                .regular(File::new(b"full".to_vec()))
                .tarball(Tarball::LightChina, File::new(b"china".to_vec())),
            Stemcell::new(JAMMY, "1.505").light(File::new(b"light".to_vec())),
        ],
        vec![],
    );

    let light = bosh_io::list(&stemcell(&bosh_io, JAMMY, Flavor::Light), &transport(1)).unwrap();
    assert_eq!(versions(&light.releases), ["1.505"]);
    assert_eq!(
        light.skipped,
        [
            skipped("1.507", "no stemcell tarball published"),
            skipped(
                "1.506",
                "light stemcell not published yet (regular and light_china are)"
            ),
        ]
    );

    let regular =
        bosh_io::list(&stemcell(&bosh_io, JAMMY, Flavor::Regular), &transport(1)).unwrap();
    assert_eq!(versions(&regular.releases), ["1.506"]);
    assert_eq!(
        regular.skipped,
        [
            skipped("1.507", "no stemcell tarball published"),
            skipped("1.505", "regular stemcell not published yet (light is)"),
        ]
    );
}

#[test]
fn mixed_length_unsorted_versions_are_all_reported_in_publish_order() {
    let name = "bosh-vsphere-esxi-ubuntu-xenial-go_agent";
    let published = ["621.99", "621.100", "621.9", "3586.x", "456.151", "621.125"];
    let bosh_io = BoshIo::start(
        published
            .iter()
            .map(|v| Stemcell::new(name, v).regular(File::new(v.as_bytes().to_vec())))
            .collect(),
        vec![],
    );

    let listing = bosh_io::list(&stemcell(&bosh_io, name, Flavor::Regular), &transport(1)).unwrap();

    assert_eq!(
        versions(&listing.releases),
        ["621.99", "621.100", "621.9", "456.151", "621.125"]
    );
    assert_eq!(
        listing.skipped,
        [skipped(
            "3586.x",
            "version \"3586.x\" does not parse: each release component must be a number"
        )]
    );
    assert_eq!(
        listing.releases[1].files[0].name,
        "bosh-stemcell-621.100-vsphere-esxi-ubuntu-xenial-go_agent.tgz"
    );

    // Without `all=1` bosh.io keeps only the newest of each line, which
    // is why the feed always asks for all.
    let latest = transport(1)
        .send(
            &Request::get(format!("{}/api/v1/stemcells/{name}", bosh_io.url())),
            1 << 20,
        )
        .unwrap()
        .json::<Vec<serde_json::Value>>()
        .unwrap();
    let latest: Vec<&str> = latest
        .iter()
        .map(|entry| entry["version"].as_str().unwrap())
        .collect();
    assert_eq!(latest, ["621.99", "3586.x", "456.151"]);
}

#[test]
fn missing_and_empty_digests_are_left_out() {
    let bosh_io = BoshIo::start(
        vec![
            Stemcell::new(JAMMY, "1.3")
                .regular(File::new(b"none".to_vec()).without(Digest::Sha256)),
            Stemcell::new(JAMMY, "1.2").regular(
                File::new(b"md5 only".to_vec())
                    .without(Digest::Sha256)
                    .digest(Digest::Md5, "D41D8CD98F00B204E9800998ECF8427E")
                    .digest(Digest::Sha1, ""),
            ),
        ],
        vec![],
    );

    let listing =
        bosh_io::list(&stemcell(&bosh_io, JAMMY, Flavor::Regular), &transport(1)).unwrap();

    assert_eq!(versions(&listing.releases), ["1.3", "1.2"]);
    assert_eq!(listing.releases[0].files[0].hashes, hashes(&[]));
    assert_eq!(listing.releases[0].files[0].size, Some(4));
    assert_eq!(
        listing.releases[1].files[0].hashes,
        hashes(&[(HashAlgorithm::Md5, "d41d8cd98f00b204e9800998ecf8427e")])
    );
}

#[test]
fn releases_are_named_after_their_repository_and_version() {
    let bosh_io = BoshIo::start(
        vec![],
        vec![
            BoshRelease::new(
                UAA,
                "77.20.0",
                File::new(b"uaa 77.20.0".to_vec())
                    .digest(Digest::Sha1, "87ff538aef60f6da1eb4edec82c7f4941859159c"),
            ),
            BoshRelease::new(
                "github.com/cloudfoundry/bpm-release",
                "1.4.2",
                File::new(b"bpm".to_vec()),
            ),
            BoshRelease::new(
                UAA,
                "77.19.0",
                File::new(b"uaa 77.19.0".to_vec())
                    .without(Digest::Sha256)
                    .digest(Digest::Sha1, "E9B2BC8BC45D028907014B20034B7ECCFF0B1493"),
            ),
        ],
    );
    let config = config(&bosh_io, Subject::Release(UAA.into()), Flavor::Light);

    let listing = bosh_io::list(&config, &transport(1)).unwrap();

    assert_eq!(versions(&listing.releases), ["77.20.0", "77.19.0"]);
    assert_eq!(listing.skipped, []);
    let files: Vec<&ReleaseFile> = listing.releases.iter().map(|r| &r.files[0]).collect();
    assert_eq!(
        files,
        [
            &ReleaseFile {
                name: "uaa-release-77.20.0.tgz".into(),
                size: None,
                hashes: hashes(&[
                    (
                        HashAlgorithm::Sha256,
                        "900d3e4cda3ac21e9246fa1b534c1f06b62923cfb7d75466a4dbf7a7923f79d7"
                    ),
                    (
                        HashAlgorithm::Sha1,
                        "87ff538aef60f6da1eb4edec82c7f4941859159c"
                    ),
                ]),
                urls: vec![format!(
                    "{}/d/github.com/cloudfoundry/uaa-release?v=77.20.0",
                    bosh_io.url()
                )],
            },
            &ReleaseFile {
                name: "uaa-release-77.19.0.tgz".into(),
                size: None,
                hashes: hashes(&[(
                    HashAlgorithm::Sha1,
                    "e9b2bc8bc45d028907014b20034b7eccff0b1493"
                )]),
                urls: vec![format!(
                    "{}/d/github.com/cloudfoundry/uaa-release?v=77.19.0",
                    bosh_io.url()
                )],
            },
        ]
    );
    assert_eq!(
        bosh_io
            .requests()
            .iter()
            .map(|r| r.url.as_str())
            .collect::<Vec<_>>(),
        ["/api/v1/releases/github.com/cloudfoundry/uaa-release"]
    );
}

#[test]
fn download_urls_redirect_to_storage_and_honour_ranges() {
    let bosh_io = BoshIo::start(
        vec![Stemcell::new(JAMMY, "1.506").light(File::new(b"jammy 1.506 light".to_vec()))],
        vec![BoshRelease::new(
            UAA,
            "77.20.0",
            File::new(b"uaa 77.20.0".to_vec()),
        )],
    );
    let transport = transport(1);
    let stemcell_url = bosh_io::list(&stemcell(&bosh_io, JAMMY, Flavor::Light), &transport)
        .unwrap()
        .releases[0]
        .files[0]
        .urls[0]
        .clone();
    let release = config(&bosh_io, Subject::Release(UAA.into()), Flavor::Regular);
    let release_url =
        bosh_io::list(&release, &transport).unwrap().releases[0].files[0].urls[0].clone();

    let whole = transport.send(&Request::get(&stemcell_url), 1024).unwrap();
    assert_eq!(whole.body, b"jammy 1.506 light");
    assert_eq!(
        whole.url,
        format!(
            "{}/storage/stemcells/1.506/light-bosh-stemcell-1.506-aws-xen-hvm-ubuntu-jammy-go_agent.tgz",
            bosh_io.url()
        )
    );
    let tail = transport
        .send(
            &Request::get(&stemcell_url).header("Range", "bytes=12-"),
            1024,
        )
        .unwrap();
    assert_eq!((tail.status, tail.body.as_slice()), (206, &b"light"[..]));
    let release_bytes = transport.send(&Request::get(&release_url), 1024).unwrap();
    assert_eq!(release_bytes.body, b"uaa 77.20.0");

    let urls: Vec<String> = bosh_io.requests().into_iter().map(|r| r.url).collect();
    assert_eq!(
        urls[2..],
        [
            "/d/stemcells/1.506/light-bosh-stemcell-1.506-aws-xen-hvm-ubuntu-jammy-go_agent.tgz",
            "/storage/stemcells/1.506/light-bosh-stemcell-1.506-aws-xen-hvm-ubuntu-jammy-go_agent.tgz",
            "/d/stemcells/1.506/light-bosh-stemcell-1.506-aws-xen-hvm-ubuntu-jammy-go_agent.tgz",
            "/storage/stemcells/1.506/light-bosh-stemcell-1.506-aws-xen-hvm-ubuntu-jammy-go_agent.tgz",
            "/d/github.com/cloudfoundry/uaa-release?v=77.20.0",
            "/storage/releases/github.com/cloudfoundry/uaa-release/uaa-release-77.20.0.tgz",
        ]
    );
}

#[test]
fn an_unknown_stemcell_or_release_is_named() {
    let bosh_io = jammy_with_light_pending();
    let unknown_stemcell = stemcell(&bosh_io, "bosh-nope-go_agent", Flavor::Regular);
    let unknown_release = config(
        &bosh_io,
        Subject::Release("github.com/nope/nope-release".into()),
        Flavor::Regular,
    );
    let error = |config: &Config| {
        bosh_io::list(config, &transport(1))
            .unwrap_err()
            .to_string()
    };

    // bosh.io's own answer to an unknown name: an empty list.
    assert_eq!(
        error(&unknown_stemcell),
        "source.stemcell: bosh.io knows no stemcell \"bosh-nope-go_agent\" (it lists no versions)"
    );
    assert_eq!(
        error(&unknown_release),
        "source.release: bosh.io knows no release \"github.com/nope/nope-release\" (it lists no versions)"
    );

    bosh_io.answer_next(2, 404, "text/plain", "404 page not found");
    assert_eq!(
        error(&unknown_stemcell),
        "source.stemcell: bosh.io knows no stemcell \"bosh-nope-go_agent\" (HTTP 404)"
    );
    assert_eq!(
        error(&unknown_release),
        "source.release: bosh.io knows no release \"github.com/nope/nope-release\" (HTTP 404)"
    );
}

#[test]
fn server_errors_name_the_endpoint_and_are_retried() {
    let bosh_io = jammy_with_light_pending();
    let config = stemcell(&bosh_io, JAMMY, Flavor::Regular);

    bosh_io.answer_next(1, 503, "text/plain", "upstream connect error");
    assert_eq!(
        bosh_io::list(&config, &transport(1))
            .unwrap_err()
            .to_string(),
        format!(
            "source.endpoint: {}/api/v1/stemcells/{JAMMY}?***: server answered HTTP 503 \
             (gave up after 1 attempt in 0s)",
            bosh_io.url()
        )
    );

    bosh_io.answer_next(1, 502, "text/plain", "bad gateway");
    let listing = bosh_io::list(&config, &transport(2)).unwrap();
    assert_eq!(versions(&listing.releases), ["1.506", "1.505"]);
    assert_eq!(bosh_io.requests().len(), 3);
}

#[test]
fn hostile_names_are_refused_before_any_request() {
    let bosh_io = jammy_with_light_pending();
    let cases = [
        (
            Subject::Stemcell("bosh-x/../../d".into()),
            r#"source.stemcell: stemcell "bosh-x/../../d" may not contain '/'"#,
        ),
        (
            Subject::Stemcell("..".into()),
            r#"source.stemcell: stemcell ".." may not contain "..""#,
        ),
        (
            Subject::Stemcell(".".into()),
            r#"source.stemcell: stemcell "." has an empty or "." path segment"#,
        ),
        (
            Subject::Stemcell(format!("{JAMMY}?all=0")),
            r#"source.stemcell: stemcell "bosh-aws-xen-hvm-ubuntu-jammy-go_agent?all=0" may not contain '?'"#,
        ),
        (
            Subject::Stemcell("bosh-x#y".into()),
            r#"source.stemcell: stemcell "bosh-x#y" may not contain '#'"#,
        ),
        (
            Subject::Stemcell("bosh x".into()),
            r#"source.stemcell: stemcell "bosh x" may not contain ' '"#,
        ),
        (
            Subject::Stemcell("bosh-x\r\nHost: evil".into()),
            r#"source.stemcell: stemcell "bosh-x\r\nHost: evil" may not contain '\r'"#,
        ),
        (
            Subject::Stemcell("%2e%2e".into()),
            r#"source.stemcell: stemcell "%2e%2e" may not contain '%'"#,
        ),
        (
            Subject::Stemcell(String::new()),
            r#"source.stemcell: stemcell "" is empty"#,
        ),
        (
            Subject::Release("github.com/../../d/x".into()),
            r#"source.release: release "github.com/../../d/x" may not contain "..""#,
        ),
        (
            Subject::Release("/github.com/x/y".into()),
            r#"source.release: release "/github.com/x/y" has an empty or "." path segment"#,
        ),
        (
            Subject::Release("github.com/x/./y".into()),
            r#"source.release: release "github.com/x/./y" has an empty or "." path segment"#,
        ),
        (
            Subject::Release(format!("{UAA}?v=1")),
            r#"source.release: release "github.com/cloudfoundry/uaa-release?v=1" may not contain '?'"#,
        ),
    ];

    for (subject, expected) in cases {
        let config = config(&bosh_io, subject, Flavor::Regular);
        let error = bosh_io::list(&config, &transport(1)).unwrap_err();
        assert_eq!(error.to_string(), expected);
    }
    assert_eq!(bosh_io.requests(), []);
}

#[test]
fn a_body_that_is_not_the_listing_names_the_url() {
    let bosh_io = jammy_with_light_pending();

    bosh_io.answer_next(
        1,
        200,
        "text/html",
        "<html><body>Please sign in to the proxy</body></html>",
    );
    let error = bosh_io::list(&stemcell(&bosh_io, JAMMY, Flavor::Light), &transport(1))
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        format!(
            "source.endpoint: {}/api/v1/stemcells/{JAMMY}?***: the answer is not the JSON \
             expected: expected value at line 1 column 1",
            bosh_io.url()
        )
    );

    bosh_io.answer_next(1, 200, "application/json", r#"{"error": "rate limited"}"#);
    let release = config(&bosh_io, Subject::Release(UAA.into()), Flavor::Regular);
    let error = bosh_io::list(&release, &transport(1))
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        format!(
            "source.endpoint: {}/api/v1/releases/{UAA}: the answer is not the JSON expected: \
             invalid type: map, expected a sequence at line 1 column 0",
            bosh_io.url()
        )
    );
}

#[test]
fn a_malformed_entry_is_skipped_and_the_others_still_listed() {
    let bosh_io = jammy_with_light_pending();
    let sha1 = "a5c3065438fe06989e20c1927b2e59d0458cbce6";
    let tarball = |version: &str, size: &str| {
        format!(
            r#"{{"url": "{}/d/stemcells/{version}/bosh-stemcell-{version}.tgz", "size": {size}, "sha1": "{sha1}"}}"#,
            bosh_io.url()
        )
    };
    let listing = format!(
        "[{}]",
        [
            format!(
                r#"{{"version": "1.508", "regular": {}}}"#,
                tarball("1.508", "-1")
            ),
            format!(r#"{{"version": 1.2, "regular": {}}}"#, tarball("1.2", "7")),
            format!(
                r#"{{"version": "1.507", "regular": {}}}"#,
                tarball("1.507", "1180591620717411303424")
            ),
            format!(
                r#"{{"version": "1.506", "regular": {}}}"#,
                tarball("1.506", "22")
            ),
            r#""1.505""#.to_string(),
        ]
        .join(", ")
    );
    bosh_io.answer_next(1, 200, "application/json", &listing);

    let listing =
        bosh_io::list(&stemcell(&bosh_io, JAMMY, Flavor::Regular), &transport(1)).unwrap();

    assert_eq!(versions(&listing.releases), ["1.506"]);
    assert_eq!(
        listing.releases[0].files,
        [ReleaseFile {
            name: "bosh-stemcell-1.506.tgz".into(),
            size: Some(22),
            hashes: hashes(&[(HashAlgorithm::Sha1, sha1)]),
            urls: vec![format!(
                "{}/d/stemcells/1.506/bosh-stemcell-1.506.tgz",
                bosh_io.url()
            )],
        }]
    );
    assert_eq!(
        listing.skipped,
        [
            skipped("1.508", "invalid value: integer `-1`, expected u64"),
            skipped(
                "entry 2",
                "invalid type: floating point `1.2`, expected a string"
            ),
            skipped(
                "1.507",
                "invalid type: floating point `1.1805916207174113e+21`, expected u64"
            ),
            skipped(
                "entry 5",
                "invalid type: string \"1.505\", expected a JSON object"
            ),
        ]
    );

    // A release's tarball fields sit beside its version.
    bosh_io.answer_next(
        1,
        200,
        "application/json",
        r#"[{"version": "77.21.0", "url": "https://bosh.example/d/uaa?v=77.21.0", "size": -5},
            {"version": "77.20.0", "url": "https://bosh.example/d/uaa?v=77.20.0", "size": 9}]"#,
    );
    let release = config(&bosh_io, Subject::Release(UAA.into()), Flavor::Regular);
    let listing = bosh_io::list(&release, &transport(1)).unwrap();
    assert_eq!(versions(&listing.releases), ["77.20.0"]);
    assert_eq!(
        listing.skipped,
        [skipped(
            "77.21.0",
            "invalid value: integer `-5`, expected u64"
        )]
    );
}

#[test]
fn describe_names_the_subject_and_a_private_endpoint() {
    let public = |subject, flavor| Config {
        subject,
        flavor,
        endpoint: PUBLIC_ENDPOINT.into(),
    };
    assert_eq!(
        public(Subject::Stemcell(JAMMY.into()), Flavor::Light).describe(),
        "bosh.io stemcell bosh-aws-xen-hvm-ubuntu-jammy-go_agent (light)"
    );
    assert_eq!(
        public(Subject::Stemcell(JAMMY.into()), Flavor::Regular).describe(),
        "bosh.io stemcell bosh-aws-xen-hvm-ubuntu-jammy-go_agent (regular)"
    );
    assert_eq!(
        public(Subject::Release(UAA.into()), Flavor::Regular).describe(),
        "bosh.io release github.com/cloudfoundry/uaa-release"
    );
    let private = Config {
        endpoint: "https://mirror:s3cret@bosh.example.internal/".into(),
        ..public(Subject::Release(UAA.into()), Flavor::Regular)
    };
    assert_eq!(
        FeedConfig::BoshIo(private).describe(),
        "bosh.io release github.com/cloudfoundry/uaa-release at https://***@bosh.example.internal"
    );
}
