//! The bosh-io, github and pivnet feeds end to end: the real binary run as
//! `check` and `in`, JSON on stdin, the folder as `$1`, against the local
//! stand-ins of bosh.io, GitHub and Tanzu Network (and a server that
//! answers `503` where a stand-in cannot).
//!
//! Every run gets a `TMPDIR` of its own, since `check` keeps its
//! conditional-request cache there: runs never share answers unless a test
//! means them to. Tokens are planted in every source that takes one and
//! searched for in everything the runs print and leave behind.

mod support;

use std::fs;
use std::path::Path;

use patchline_core::HashAlgorithm;
use patchline_standins::bosh_io::{self, BoshIo, BoshRelease, Digest, Stemcell};
use patchline_standins::faults::{Fault, FaultServer};
use patchline_standins::github::{AssetSpec, GitHub, ReleaseSpec, Repository};
use patchline_standins::pivnet::{self, Pivnet, Product, ProductFile};
use serde_json::{json, Value};
use support::{hex, run_as, Run};

const JAMMY: &str = "bosh-aws-xen-hvm-ubuntu-jammy-go_agent";
const UAA: &str = "github.com/cloudfoundry/uaa-release";
const SLUG: &str = "elastic-runtime";

/// A GitHub token, planted to be searched for.
const GITHUB_TOKEN: &str = "ghp_plantedGithubToken0123456789";
/// A legacy Tanzu Network token: 20 characters, the longest there is.
const PIVNET_LEGACY: &str = "planted-legacy-12345";
/// A UAA refresh token for Tanzu Network.
const PIVNET_REFRESH: &str = "planted-uaa-refresh-token-0123456789abcdef";
/// A password in a bosh.io mirror's URL, where users put credentials for
/// a mirror that wants them.
const MIRROR_PASSWORD: &str = "plantedMirrorPassword";

fn sha256(bytes: &[u8]) -> String {
    hex(HashAlgorithm::Sha256, bytes)
}

fn sha1(bytes: &[u8]) -> String {
    hex(HashAlgorithm::Sha1, bytes)
}

/// Compute a fingerprint from its definition, independently of the code
/// under test: SHA-256 over the sorted lines `<name>\t<digest>\n`, where
/// the digest is `<algorithm>:<hex>` or `none`.
fn fingerprint(files: &[(&str, &str)]) -> String {
    let mut lines: Vec<String> = files
        .iter()
        .map(|(name, digest)| format!("{name}\t{digest}\n"))
        .collect();
    lines.sort();
    format!("sha256:{}", sha256(lines.concat().as_bytes()))
}

fn version(version: &str, fingerprint: String) -> Value {
    json!({"version": version, "fingerprint": fingerprint})
}

/// Run `check` with `TMPDIR` set to `tmp`.
fn check(source: &Value, current: Option<&Value>, tmp: &Path) -> Run {
    let request = json!({"source": source, "version": current});
    run_as("check", &[], &request.to_string(), &[("TMPDIR", path(tmp))])
}

/// Run `in` of `wanted` into `dest` with `TMPDIR` set to `tmp`.
fn fetch(source: &Value, wanted: &Value, params: Value, dest: &Path, tmp: &Path) -> Run {
    let request = json!({"source": source, "version": wanted, "params": params});
    run_as(
        "in",
        &[path(dest)],
        &request.to_string(),
        &[("TMPDIR", path(tmp))],
    )
}

fn path(dir: &Path) -> &str {
    dir.to_str().unwrap()
}

/// Return the answer of a run that must succeed; stdout must be JSON and
/// nothing else.
fn answer(run: &Run) -> Value {
    assert!(run.ok, "failed: {}", run.stderr);
    run.json()
}

fn metadata(dest: &Path) -> Value {
    serde_json::from_slice(&fs::read(dest.join("metadata.json")).unwrap()).unwrap()
}

/// Return the names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// Replace the seconds of `(gave up after N attempts in 1s)`, which depend
/// on the jittered wait, with `N`.
fn without_seconds(line: &str) -> String {
    match line
        .strip_suffix("s)")
        .and_then(|head| head.rsplit_once(" in "))
    {
        Some((head, seconds)) if seconds.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{head} in Ns)")
        }
        _ => line.to_string(),
    }
}

/// Assert that `run` failed with `error` as the last line of stderr and
/// its only error line, with nothing on stdout and none of `secrets` in
/// what it printed.
fn assert_fails(run: &Run, error: &str, secrets: &[&str]) {
    assert!(!run.ok, "succeeded: {}", run.stdout);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(run.stdout, "", "stdout carries only the protocol answer");
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|line| line.contains(": error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{}", run.stderr);
    let last = run.stderr.lines().last().unwrap();
    assert_eq!(without_seconds(last), error, "{}", run.stderr);
    assert_no_secret(run, secrets);
}

fn assert_no_secret(run: &Run, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "{secret:?} printed:\n{}\n{}",
            run.stdout,
            run.stderr
        );
    }
}

/// Assert that no file under `dir` holds `secret`.
fn assert_not_kept(dir: &Path, secret: &str) {
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            assert_not_kept(&entry.path(), secret);
        } else {
            let bytes = fs::read(entry.path()).unwrap();
            assert!(
                !bytes
                    .windows(secret.len())
                    .any(|window| window == secret.as_bytes()),
                "{} holds {secret:?}",
                entry.path().display()
            );
        }
    }
}

/// A server answering `503` to the next two requests for `path`.
fn unavailable(path: &str) -> FaultServer {
    let server = FaultServer::start();
    let busy = Fault::Status {
        code: 503,
        retry_after: None,
        body: "upstream connect error".into(),
    };
    server.inject(path, [busy.clone(), busy]);
    server
}

/// Assert that `run` logged one retry of `request` after a `503` and then
/// gave up with `error`.
fn assert_gave_up(run: &Run, request: &str, error: &str, secrets: &[&str]) {
    assert_fails(run, error, secrets);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", run.stderr);
    let retry = lines[0];
    assert!(
        retry.starts_with(&format!("{request}: answered HTTP 503; retrying in "))
            && retry.ends_with("s (attempt 2 of 2)"),
        "{retry}"
    );
}

fn stemcell_file(flavor: &str, version: &str) -> String {
    format!("{flavor}bosh-stemcell-{version}-aws-xen-hvm-ubuntu-jammy-go_agent.tgz")
}

fn stemcell_bytes(flavor: &str, version: &str) -> Vec<u8> {
    format!("jammy {flavor}{version} image").into_bytes()
}

/// Three versions of jammy, published out of version order, as bosh.io's
/// order is: the light tarball of 1.101 is not out yet.
fn jammy() -> BoshIo {
    let tarball = |flavor: &str, version: &str| bosh_io::File::new(stemcell_bytes(flavor, version));
    BoshIo::start(
        vec![
            Stemcell::new(JAMMY, "1.101").regular(tarball("", "1.101")),
            Stemcell::new(JAMMY, "1.99")
                .regular(tarball("", "1.99"))
                .light(tarball("light-", "1.99")),
            Stemcell::new(JAMMY, "1.100")
                .regular(tarball("", "1.100"))
                .light(tarball("light-", "1.100")),
        ],
        vec![],
    )
}

/// Return jammy `version` of `flavor` as check answers it.
fn jammy_version(flavor: &str, version: &str) -> Value {
    let digest = format!("sha256:{}", sha256(&stemcell_bytes(flavor, version)));
    self::version(
        version,
        fingerprint(&[(&stemcell_file(flavor, version), &digest)]),
    )
}

#[test]
fn bosh_io_stemcells_are_checked_in_version_order_and_fetched_verified() {
    let bosh_io = jammy();
    let tmp = tempfile::tempdir().unwrap();
    let regular = json!({"feed": "bosh-io", "stemcell": JAMMY, "endpoint": bosh_io.url()});

    let latest = answer(&check(&regular, None, tmp.path()));
    assert_eq!(latest, json!([jammy_version("", "1.101")]));

    let from_1_99 = answer(&check(
        &regular,
        Some(&json!({"version": "1.99"})),
        tmp.path(),
    ));
    assert_eq!(
        from_1_99,
        json!([
            jammy_version("", "1.99"),
            jammy_version("", "1.100"),
            jammy_version("", "1.101"),
        ])
    );

    // The light tarball of 1.101 is not out: 1.101 is held back, and the
    // log says why.
    let light =
        json!({"feed": "bosh-io", "stemcell": JAMMY, "flavor": "light", "endpoint": bosh_io.url()});
    let run = check(&light, None, tmp.path());
    assert_eq!(answer(&run), json!([jammy_version("light-", "1.100")]));
    assert_eq!(
        run.stderr,
        format!(
            "skipping 1.101: light stemcell not published yet (regular is)\n\
             bosh-io feed bosh.io stemcell {JAMMY} (light) at {}: 3 versions published, 2 offered\n",
            bosh_io.url()
        )
    );
    let current = jammy_version("light-", "1.99");
    assert_eq!(
        answer(&check(&light, Some(&current), tmp.path())),
        json!([current, jammy_version("light-", "1.100")])
    );

    let dest = tempfile::tempdir().unwrap();
    let wanted = jammy_version("", "1.101");
    let asked_before = bosh_io.requests().len();
    let run = fetch(&regular, &wanted, json!({}), dest.path(), tmp.path());

    let name = stemcell_file("", "1.101");
    let bytes = stemcell_bytes("", "1.101");
    assert_eq!(
        answer(&run),
        json!({
            "version": wanted,
            "metadata": [
                {"name": "version", "value": "1.101"},
                {"name": "fingerprint", "value": wanted["fingerprint"]},
                {"name": "files", "value": name},
            ],
        })
    );
    assert_eq!(fs::read(dest.path().join(&name)).unwrap(), bytes);
    assert_eq!(
        names(dest.path()),
        [name.as_str(), "metadata.json", "version", "version.json"]
    );
    let download = format!("/d/stemcells/1.101/{name}");
    assert_eq!(
        metadata(dest.path()),
        json!({
            "version": "1.101",
            "fingerprint": wanted["fingerprint"],
            "published": null,
            "files": [{
                "name": name,
                "size": bytes.len(),
                "hashes": {"sha256": sha256(&bytes)},
                "urls": [format!("{}{download}", bosh_io.url())],
                "computed": {"algorithm": "sha256", "digest": sha256(&bytes)},
                "verified": true,
            }],
        })
    );
    let recorded: Value =
        serde_json::from_slice(&fs::read(dest.path().join("version.json")).unwrap()).unwrap();
    assert_eq!(recorded, wanted);
    assert_eq!(
        fs::read_to_string(dest.path().join("version")).unwrap(),
        "1.101"
    );
    let asked: Vec<String> = bosh_io.requests()[asked_before..]
        .iter()
        .map(|r| r.url.clone())
        .collect();
    assert_eq!(
        asked,
        [
            format!("/api/v1/stemcells/{JAMMY}?all=1"),
            download,
            format!("/storage/stemcells/1.101/{name}"),
        ]
    );
    assert!(
        run.stderr
            .lines()
            .any(|line| line.starts_with(&format!("verified {name} sha256 {} (", sha256(&bytes)))),
        "{}",
        run.stderr
    );
}

#[test]
fn a_bosh_io_release_publishing_only_sha1_is_verified_with_sha1() {
    let old = b"uaa release 77.19.0".to_vec();
    let new = b"uaa release 77.20.0".to_vec();
    let bosh_io = BoshIo::start(
        vec![],
        vec![
            BoshRelease::new(
                UAA,
                "77.20.0",
                bosh_io::File::new(new.clone())
                    .without(Digest::Sha256)
                    .digest(Digest::Sha1, &sha1(&new)),
            ),
            BoshRelease::new(UAA, "77.19.0", bosh_io::File::new(old.clone())),
        ],
    );
    let tmp = tempfile::tempdir().unwrap();
    let source = json!({"feed": "bosh-io", "release": UAA, "endpoint": bosh_io.url()});
    let name = "uaa-release-77.20.0.tgz";
    let wanted = version(
        "77.20.0",
        fingerprint(&[(name, &format!("sha1:{}", sha1(&new)))]),
    );
    let older = version(
        "77.19.0",
        fingerprint(&[(
            "uaa-release-77.19.0.tgz",
            &format!("sha256:{}", sha256(&old)),
        )]),
    );

    assert_eq!(
        answer(&check(&source, None, tmp.path())),
        json!([wanted.clone()])
    );
    assert_eq!(
        answer(&check(&source, Some(&older), tmp.path())),
        json!([older, wanted.clone()])
    );

    let dest = tempfile::tempdir().unwrap();
    let run = fetch(&source, &wanted, json!({}), dest.path(), tmp.path());
    assert_eq!(answer(&run)["version"], wanted);
    assert_eq!(fs::read(dest.path().join(name)).unwrap(), new);
    assert_eq!(
        metadata(dest.path())["files"],
        json!([{
            "name": name,
            // bosh.io publishes no size for releases.
            "size": null,
            "hashes": {"sha1": sha1(&new)},
            // The download URL's query (`?v=77.20.0`) is redacted, as
            // every query is: signed URLs carry credentials there.
            "urls": [format!("{}/d/{UAA}?***", bosh_io.url())],
            "computed": {"algorithm": "sha1", "digest": sha1(&new)},
            "verified": true,
        }])
    );
    let stored = bosh_io.requests().last().unwrap().url.clone();
    assert_eq!(
        stored,
        format!("/storage/releases/{UAA}/uaa-release-77.20.0.tgz")
    );
}

/// The amd64 tarball of 1.1.0 has no `digest`; SHA256SUMS names it. The
/// arm64 tarball has neither.
fn widget() -> GitHub {
    GitHub::start(
        Repository::new("acme", "widget")
            .release(
                ReleaseSpec::new("v1.0.0")
                    .asset(AssetSpec::new(
                        "widget-linux-amd64.tgz",
                        b"widget 1.0.0 amd64",
                    ))
                    .asset(AssetSpec::new("README.txt", b"read me")),
            )
            .release(
                ReleaseSpec::new("v1.1.0")
                    .asset(
                        AssetSpec::new("widget-linux-amd64.tgz", b"widget 1.1.0 amd64")
                            .without_digest(),
                    )
                    .asset(
                        AssetSpec::new("widget-linux-arm64.tgz", b"widget 1.1.0 arm64")
                            .without_digest(),
                    )
                    .asset(
                        AssetSpec::new(
                            "SHA256SUMS",
                            format!(
                                "{}  widget-linux-amd64.tgz\n",
                                sha256(b"widget 1.1.0 amd64")
                            )
                            .as_bytes(),
                        )
                        .without_digest(),
                    ),
            )
            .release(
                ReleaseSpec::new("v1.2.0-rc.1")
                    .prerelease()
                    .asset(AssetSpec::new(
                        "widget-linux-amd64.tgz",
                        b"widget 1.2.0-rc.1",
                    )),
            ),
    )
}

fn widget_source(github: &GitHub) -> Value {
    json!({
        "feed": "github",
        "owner": "acme",
        "repository": "widget",
        "api_url": github.api_url(),
        "files": ["widget-linux-*.tgz"],
        "checksums": "SHA256SUMS",
    })
}

fn widget_1_0_0() -> Value {
    let digest = format!("sha256:{}", sha256(b"widget 1.0.0 amd64"));
    version("1.0.0", fingerprint(&[("widget-linux-amd64.tgz", &digest)]))
}

/// 1.1.0 as check offers it: the amd64 tarball's digest comes from the
/// checksums asset, which the listing reads; arm64 has none.
fn widget_1_1_0() -> Value {
    let amd64 = format!("sha256:{}", sha256(b"widget 1.1.0 amd64"));
    version(
        "1.1.0",
        fingerprint(&[
            ("widget-linux-amd64.tgz", &amd64),
            ("widget-linux-arm64.tgz", "none"),
        ]),
    )
}

#[test]
fn a_github_file_rebuilt_under_the_same_version_changes_its_fingerprint() {
    // The only checksum is in SHA256SUMS: a rebuilt file must still roll
    // again from sandbox, so the listing's fingerprint has to see it.
    let publish = |bytes: &[u8]| {
        GitHub::start(
            Repository::new("acme", "widget").release(
                ReleaseSpec::new("v1.1.0")
                    .asset(AssetSpec::new("widget-linux-amd64.tgz", bytes).without_digest())
                    .asset(
                        AssetSpec::new(
                            "SHA256SUMS",
                            format!("{}  widget-linux-amd64.tgz\n", sha256(bytes)).as_bytes(),
                        )
                        .without_digest(),
                    ),
            ),
        )
    };
    let tmp = tempfile::tempdir().unwrap();
    let first = publish(b"first build");
    let second = publish(b"second build");
    let fingerprint_of = |github: &GitHub| {
        answer(&check(&widget_source(github), None, tmp.path()))[0]["fingerprint"].clone()
    };
    let expected = |bytes: &[u8]| {
        json!(fingerprint(&[(
            "widget-linux-amd64.tgz",
            &format!("sha256:{}", sha256(bytes))
        )]))
    };
    assert_eq!(fingerprint_of(&first), expected(b"first build"));
    assert_eq!(fingerprint_of(&second), expected(b"second build"));
}

#[test]
fn github_assets_are_checked_by_glob_and_fetched_verified_by_digest_or_checksums() {
    let github = widget();
    let source = widget_source(&github);
    let tmp = tempfile::tempdir().unwrap();
    let host = github.api_url().strip_prefix("http://").unwrap();

    let run = check(&source, None, tmp.path());
    assert_eq!(answer(&run), json!([widget_1_1_0()]));
    assert_eq!(
        run.stderr,
        format!(
            "skipping v1.2.0-rc.1: a pre-release (source.include_prereleases is false)\n\
             github feed {host}/acme/widget releases: 3 versions published, 2 offered\n"
        )
    );
    assert_eq!(
        answer(&check(
            &source,
            Some(&json!({"version": "1.0.0"})),
            tmp.path()
        )),
        json!([widget_1_0_0(), widget_1_1_0()])
    );

    // An asset with GitHub's digest; README.txt is outside source.files.
    let dest = tempfile::tempdir().unwrap();
    let run = fetch(&source, &widget_1_0_0(), json!({}), dest.path(), tmp.path());
    assert_eq!(answer(&run)["version"], widget_1_0_0());
    assert_eq!(
        names(dest.path()),
        [
            "metadata.json",
            "version",
            "version.json",
            "widget-linux-amd64.tgz"
        ]
    );
    assert_eq!(
        fs::read(dest.path().join("widget-linux-amd64.tgz")).unwrap(),
        b"widget 1.0.0 amd64"
    );
    let digest = sha256(b"widget 1.0.0 amd64");
    assert_eq!(
        metadata(dest.path()),
        json!({
            "version": "1.0.0",
            "fingerprint": widget_1_0_0()["fingerprint"],
            "published": "2026-01-01T00:00:00+00:00",
            "files": [{
                "name": "widget-linux-amd64.tgz",
                "size": 18,
                "hashes": {"sha256": digest},
                "urls": [format!("{}/acme/widget/releases/download/v1.0.0/widget-linux-amd64.tgz", github.api_url())],
                "computed": {"algorithm": "sha256", "digest": digest},
                "verified": true,
            }],
        })
    );

    // An asset without a digest, verified from SHA256SUMS.
    let dest = tempfile::tempdir().unwrap();
    let run = fetch(
        &source,
        &widget_1_1_0(),
        json!({"files": ["*amd64*"]}),
        dest.path(),
        tmp.path(),
    );
    assert_eq!(answer(&run)["version"], widget_1_1_0());
    assert_eq!(
        fs::read(dest.path().join("widget-linux-amd64.tgz")).unwrap(),
        b"widget 1.1.0 amd64"
    );
    let digest = sha256(b"widget 1.1.0 amd64");
    let files = &metadata(dest.path())["files"];
    assert_eq!(files.as_array().unwrap().len(), 1);
    assert_eq!(files[0]["hashes"], json!({"sha256": digest}));
    assert_eq!(
        files[0]["computed"],
        json!({"algorithm": "sha256", "digest": digest})
    );
    assert_eq!(files[0]["verified"], true);

    // Without a token every download went to the public URLs, and the
    // file host saw only signed URLs.
    let served = github.file_requests();
    let downloads = served
        .iter()
        .filter(|r| !r.path.contains("filename%3DSHA256SUMS"))
        .count();
    assert_eq!(downloads, 2, "{served:?}");
    assert!(served
        .iter()
        .all(|r| matches!(r.status, 200 | 304) && r.header("authorization").is_none()));
}

#[test]
fn a_github_asset_without_any_checksum_needs_allow_unverified() {
    let github = widget();
    let source = widget_source(&github);
    let tmp = tempfile::tempdir().unwrap();

    let dest = tempfile::tempdir().unwrap();
    let run = fetch(&source, &widget_1_1_0(), json!({}), dest.path(), tmp.path());
    assert_fails(
        &run,
        "in: error: widget-linux-arm64.tgz: the feed publishes no checksum, so the download \
         cannot be verified; set allow_unverified: true to accept it",
        &[],
    );
    // Refused before any download: nothing under any name.
    assert_eq!(names(dest.path()), Vec::<String>::new());
    let arm64 = format!("/{}", github.asset_id("v1.1.0", "widget-linux-arm64.tgz"));
    assert!(github.file_requests().iter().all(|r| !r
        .path
        .split('?')
        .next()
        .unwrap()
        .ends_with(&arm64)));

    let dest = tempfile::tempdir().unwrap();
    let run = fetch(
        &source,
        &widget_1_1_0(),
        json!({"allow_unverified": true}),
        dest.path(),
        tmp.path(),
    );
    assert_eq!(answer(&run)["version"], widget_1_1_0());
    assert_eq!(
        fs::read(dest.path().join("widget-linux-arm64.tgz")).unwrap(),
        b"widget 1.1.0 arm64"
    );
    let files = &metadata(dest.path())["files"];
    assert_eq!(files[0]["name"], "widget-linux-amd64.tgz");
    assert_eq!(files[0]["verified"], true);
    assert_eq!(
        files[1],
        json!({
            "name": "widget-linux-arm64.tgz",
            "size": 18,
            "hashes": {},
            "urls": [format!("{}/acme/widget/releases/download/v1.1.0/widget-linux-arm64.tgz", github.api_url())],
            "computed": {"algorithm": "sha256", "digest": sha256(b"widget 1.1.0 arm64")},
            "verified": false,
        })
    );
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|line| line.starts_with("WARNING: "))
        .collect();
    assert_eq!(
        warnings,
        [
            "WARNING: widget-linux-arm64.tgz has no published checksum; allow_unverified is \
          true, so it is accepted unverified (its sha256 is recorded)"
        ]
    );
}

#[test]
fn a_private_github_repository_is_fetched_and_the_token_stays_with_the_api() {
    let bytes = b"private app 2.0.0";
    let github = GitHub::start(
        Repository::new("acme", "secret-app")
            .token(GITHUB_TOKEN)
            .private()
            .release(ReleaseSpec::new("2.0.0").asset(AssetSpec::new("app.tgz", bytes))),
    );
    let source = json!({
        "feed": "github",
        "owner": "acme",
        "repository": "secret-app",
        "access_token": GITHUB_TOKEN,
        "api_url": github.api_url(),
        // The most the resource logs, searched for the token too.
        "debug": true,
    });
    let tmp = tempfile::tempdir().unwrap();
    let digest = sha256(bytes);
    let wanted = version(
        "2.0.0",
        fingerprint(&[("app.tgz", &format!("sha256:{digest}"))]),
    );

    let run = check(&source, None, tmp.path());
    assert_eq!(answer(&run), json!([wanted.clone()]));
    assert_no_secret(&run, &[GITHUB_TOKEN]);

    let dest = tempfile::tempdir().unwrap();
    let run = fetch(&source, &wanted, json!({}), dest.path(), tmp.path());
    assert_eq!(answer(&run)["version"], wanted);
    assert_no_secret(&run, &[GITHUB_TOKEN]);
    assert_eq!(fs::read(dest.path().join("app.tgz")).unwrap(), bytes);
    let asset = github.asset_id("2.0.0", "app.tgz");
    assert_eq!(
        metadata(dest.path())["files"][0]["urls"],
        json!([format!(
            "{}/repos/acme/secret-app/releases/assets/{asset}",
            github.api_url()
        )])
    );
    assert_eq!(metadata(dest.path())["files"][0]["verified"], true);

    // Every API request carried the token; the file host got none.
    let api = github.api_requests();
    assert!(api
        .iter()
        .all(|r| r.header("authorization") == Some(&*format!("Bearer {GITHUB_TOKEN}"))));
    let served = github.file_requests();
    assert_eq!(served.len(), 1);
    assert_eq!(served[0].status, 200);
    assert_eq!(served[0].header("authorization"), None);
    assert!(served[0]
        .headers
        .iter()
        .all(|(_, value)| !value.contains(GITHUB_TOKEN)));
    assert_not_kept(tmp.path(), GITHUB_TOKEN);
    assert_not_kept(dest.path(), GITHUB_TOKEN);
}

/// The bytes of the TAS tile of `version`.
fn tile(version: &str) -> Vec<u8> {
    format!("tas tile {version}").into_bytes()
}

fn tanzu_network() -> Pivnet {
    let release = |id: u64, version: &str, kind: &str, date: &str, file: u64| {
        pivnet::Release::new(id, version, kind, date).file(ProductFile::new(
            file,
            &format!("product-files/{SLUG}/cf-{version}.pivotal"),
            "TAS",
            &tile(version),
        ))
    };
    let product = Product::new(SLUG)
        .release(release(121, "2.12.9", "Security Release", "2026-11-19", 8))
        .release(release(120, "2.13.1", "Minor Release", "2026-11-18", 7))
        .release(release(119, "2.11.5", "Security Release", "2026-11-20", 9));
    Pivnet::start(PIVNET_LEGACY, PIVNET_REFRESH, vec![product])
}

fn tas_version(version: &str) -> Value {
    let digest = format!("sha256:{}", sha256(&tile(version)));
    self::version(
        version,
        fingerprint(&[(&format!("cf-{version}.pivotal"), &digest)]),
    )
}

fn pivnet_source(pivnet: &Pivnet, token: &str) -> Value {
    json!({"feed": "pivnet", "api_token": token, "product_slug": SLUG, "endpoint": pivnet.endpoint()})
}

/// Return `METHOD path status` of each request.
fn pivnet_log(requests: &[pivnet::Recorded]) -> Vec<String> {
    requests
        .iter()
        .map(|r| {
            let path = r.url.split('?').next().unwrap();
            format!("{} {path} {}", r.method, r.status)
        })
        .collect()
}

#[test]
fn pivnet_is_checked_and_fetched_with_either_kind_of_token() {
    let releases = format!("/api/v2/products/{SLUG}/releases");
    for (token, exchange) in [(PIVNET_REFRESH, true), (PIVNET_LEGACY, false)] {
        let pivnet = tanzu_network();
        let source = pivnet_source(&pivnet, token);
        let tmp = tempfile::tempdir().unwrap();

        let run = check(&source, None, tmp.path());
        assert_eq!(answer(&run), json!([tas_version("2.13.1")]));
        assert_no_secret(&run, &[token]);
        let run = check(&source, Some(&json!({"version": "2.11.5"})), tmp.path());
        assert_eq!(
            answer(&run),
            json!([
                tas_version("2.11.5"),
                tas_version("2.12.9"),
                tas_version("2.13.1")
            ])
        );
        assert_no_secret(&run, &[token]);
        assert!(!pivnet.eula_accepted(120), "check accepts no EULA");

        let dest = tempfile::tempdir().unwrap();
        let asked_before = pivnet.api_requests().len();
        let run = fetch(
            &source,
            &tas_version("2.13.1"),
            json!({}),
            dest.path(),
            tmp.path(),
        );
        let wanted = tas_version("2.13.1");
        assert_eq!(
            answer(&run),
            json!({
                "version": wanted,
                "metadata": [
                    {"name": "version", "value": "2.13.1"},
                    {"name": "fingerprint", "value": wanted["fingerprint"]},
                    {"name": "published", "value": "2026-11-18T00:00:00+00:00"},
                    {"name": "files", "value": "cf-2.13.1.pivotal"},
                ],
            })
        );
        assert_no_secret(&run, &[token]);
        assert!(pivnet.eula_accepted(120));
        assert!(!pivnet.eula_accepted(121));
        assert_eq!(
            fs::read(dest.path().join("cf-2.13.1.pivotal")).unwrap(),
            tile("2.13.1")
        );
        let link = format!(
            "{}{releases}/120/product_files/7/download",
            pivnet.endpoint()
        );
        assert_eq!(
            metadata(dest.path())["files"],
            json!([{
                "name": "cf-2.13.1.pivotal",
                "size": tile("2.13.1").len(),
                "hashes": {"sha256": sha256(&tile("2.13.1"))},
                "urls": [link],
                "computed": {"algorithm": "sha256", "digest": sha256(&tile("2.13.1"))},
                "verified": true,
            }])
        );

        // One exchange per run with a refresh token; releases older than
        // the one wanted cost no request.
        let mut expected = Vec::new();
        if exchange {
            expected.push("POST /api/v2/authentication/access_tokens 200".to_string());
        }
        expected.extend([
            format!("GET {releases} 200"),
            format!("GET {releases}/120/product_files 200"),
            format!("POST {releases}/120/pivnet_resource_eula_acceptance 200"),
            format!("GET {releases}/120/product_files/7/download 302"),
        ]);
        assert_eq!(pivnet_log(&pivnet.api_requests()[asked_before..]), expected);
        let credential = if exchange {
            format!("Bearer {}", pivnet.access_tokens().last().unwrap())
        } else {
            format!("Token {PIVNET_LEGACY}")
        };
        assert!(pivnet.api_requests()[asked_before..]
            .iter()
            .skip(usize::from(exchange))
            .all(|r| r.header("authorization") == Some(credential.as_str())));
        assert_eq!(pivnet.access_tokens().len(), if exchange { 3 } else { 0 });
        assert_eq!(
            pivnet_log(&pivnet.file_requests()),
            [format!("GET /product-files/{SLUG}/cf-2.13.1.pivotal 200")]
        );
        assert_file_host_saw_no_credentials(&pivnet, token);
        assert_not_kept(tmp.path(), token);
    }
}

#[test]
fn an_expired_signed_url_is_asked_for_again() {
    let pivnet = tanzu_network();
    let source = pivnet_source(&pivnet, PIVNET_REFRESH);
    let tmp = tempfile::tempdir().unwrap();
    let dest = tempfile::tempdir().unwrap();
    pivnet.expire_next_signed_urls(1);

    let run = fetch(
        &source,
        &tas_version("2.12.9"),
        json!({}),
        dest.path(),
        tmp.path(),
    );

    assert_eq!(answer(&run)["version"], tas_version("2.12.9"));
    assert_no_secret(&run, &[PIVNET_REFRESH, "access-token-"]);
    assert_eq!(
        fs::read(dest.path().join("cf-2.12.9.pivotal")).unwrap(),
        tile("2.12.9")
    );
    assert_eq!(metadata(dest.path())["files"][0]["verified"], true);
    let object = format!("/product-files/{SLUG}/cf-2.12.9.pivotal");
    assert_eq!(
        pivnet_log(&pivnet.file_requests()),
        [format!("GET {object} 403"), format!("GET {object} 200")]
    );
    let links = pivnet
        .api_requests()
        .iter()
        .filter(|r| r.url.ends_with("/download") && r.status == 302)
        .count();
    assert_eq!(links, 2, "the download link was asked again");
    assert_file_host_saw_no_credentials(&pivnet, PIVNET_REFRESH);
}

/// Assert that the storage host got no `Authorization` and no token of
/// any kind in any header.
fn assert_file_host_saw_no_credentials(pivnet: &Pivnet, token: &str) {
    let issued = pivnet.access_tokens();
    for request in pivnet.file_requests() {
        assert_eq!(request.header("authorization"), None, "{}", request.url);
        for (name, value) in &request.headers {
            assert!(
                !value.contains(token) && issued.iter().all(|t| !value.contains(t.as_str())),
                "{name}: {value}"
            );
        }
    }
}

#[test]
fn bosh_io_failures_are_one_line_without_the_mirror_password() {
    let bosh_io = jammy();
    let tmp = tempfile::tempdir().unwrap();
    let authority = bosh_io.url().strip_prefix("http://").unwrap();
    let endpoint = format!("http://mirror:{MIRROR_PASSWORD}@{authority}");
    let secrets = [MIRROR_PASSWORD];

    let source = json!({"feed": "bosh-io", "stemcell": JAMMY, "endpoint": endpoint});
    let run = check(&source, None, tmp.path());
    assert_eq!(answer(&run), json!([jammy_version("", "1.101")]));
    assert_no_secret(&run, &secrets);
    assert_eq!(
        run.stderr,
        format!(
            "bosh-io feed bosh.io stemcell {JAMMY} (regular) at http://***@{authority}: \
             3 versions published, 3 offered\n"
        )
    );

    // bosh.io lists an unknown name as [], never a 404.
    let unknown = json!({"feed": "bosh-io", "stemcell": "bosh-nothing", "endpoint": endpoint});
    assert_fails(
        &check(&unknown, None, tmp.path()),
        "check: error: source.stemcell: bosh.io knows no stemcell \"bosh-nothing\" (it lists no versions)",
        &secrets,
    );

    bosh_io.answer_next(2, 503, "text/plain", "upstream connect error");
    let source = json!({"feed": "bosh-io", "stemcell": JAMMY, "endpoint": endpoint, "attempts": 2});
    let listing = format!("http://***@{authority}/api/v1/stemcells/{JAMMY}?***");
    assert_gave_up(
        &check(&source, None, tmp.path()),
        &format!("GET {listing}"),
        &format!(
            "check: error: source.endpoint: {listing}: server answered HTTP 503 \
             (gave up after 2 attempts in Ns)"
        ),
        &secrets,
    );

    let dest = tempfile::tempdir().unwrap();
    bosh_io.answer_next(2, 503, "text/plain", "upstream connect error");
    assert_gave_up(
        &fetch(
            &source,
            &jammy_version("", "1.101"),
            json!({}),
            dest.path(),
            tmp.path(),
        ),
        &format!("GET {listing}"),
        &format!(
            "in: error: source.endpoint: {listing}: server answered HTTP 503 \
             (gave up after 2 attempts in Ns)"
        ),
        &secrets,
    );
    assert_eq!(names(dest.path()), Vec::<String>::new());
}

#[test]
fn github_failures_are_one_line_without_the_token() {
    let github = GitHub::start(
        Repository::new("acme", "widget")
            .token(GITHUB_TOKEN)
            .release(ReleaseSpec::new("v1.0.0").asset(AssetSpec::new("w.tgz", b"w"))),
    );
    let tmp = tempfile::tempdir().unwrap();
    let source = |token: &str, repository: &str, api_url: &str| {
        json!({
            "feed": "github",
            "owner": "acme",
            "repository": repository,
            "access_token": token,
            "api_url": api_url,
            "attempts": 2,
        })
    };
    let wrong = "ghp_plantedWrongToken9876543210";
    let secrets = [GITHUB_TOKEN, wrong];

    assert_fails(
        &check(&source(wrong, "widget", github.api_url()), None, tmp.path()),
        "check: error: source.access_token: GitHub refused the request (HTTP 401)",
        &secrets,
    );
    let dest = tempfile::tempdir().unwrap();
    assert_fails(
        &fetch(
            &source(wrong, "widget", github.api_url()),
            &json!({"version": "1.0.0"}),
            json!({}),
            dest.path(),
            tmp.path(),
        ),
        "in: error: source.access_token: GitHub refused the request (HTTP 401)",
        &secrets,
    );
    assert_eq!(names(dest.path()), Vec::<String>::new());
    assert_fails(
        &check(
            &source(GITHUB_TOKEN, "nothing", github.api_url()),
            None,
            tmp.path(),
        ),
        "check: error: source.repository: GitHub knows no repository acme/nothing (HTTP 404)",
        &secrets,
    );

    let busy = unavailable("/repos/acme/widget/releases");
    let listing = format!("{}/repos/acme/widget/releases?***", busy.base());
    assert_gave_up(
        &check(
            &source(GITHUB_TOKEN, "widget", &busy.base()),
            None,
            tmp.path(),
        ),
        &format!("GET {listing}"),
        &format!(
            "check: error: source.api_url: {listing}: server answered HTTP 503 \
             (gave up after 2 attempts in Ns)"
        ),
        &secrets,
    );
    assert_eq!(busy.requests().len(), 2);
}

#[test]
fn pivnet_failures_are_one_line_without_the_token() {
    let pivnet = tanzu_network();
    let tmp = tempfile::tempdir().unwrap();
    let source = |token: &str, slug: &str, endpoint: &str| json!({"feed": "pivnet", "api_token": token, "product_slug": slug, "endpoint": endpoint, "attempts": 2});
    let wrong_legacy = "planted-wrong-legacy";
    let wrong_refresh = "planted-wrong-refresh-token-0123456789";
    let secrets = [PIVNET_LEGACY, PIVNET_REFRESH, wrong_legacy, wrong_refresh];

    for wrong in [wrong_legacy, wrong_refresh] {
        assert_fails(
            &check(&source(wrong, SLUG, pivnet.endpoint()), None, tmp.path()),
            "check: error: source.api_token: Tanzu Network refused the token (HTTP 401)",
            &secrets,
        );
    }
    for token in [PIVNET_LEGACY, PIVNET_REFRESH] {
        assert_fails(
            &check(&source(token, "nope", pivnet.endpoint()), None, tmp.path()),
            "check: error: source.product_slug: Tanzu Network knows no product \"nope\" (HTTP 404)",
            &secrets,
        );
    }
    let dest = tempfile::tempdir().unwrap();
    assert_fails(
        &fetch(
            &source(wrong_refresh, SLUG, pivnet.endpoint()),
            &json!({"version": "2.13.1"}),
            json!({}),
            dest.path(),
            tmp.path(),
        ),
        "in: error: source.api_token: Tanzu Network refused the token (HTTP 401)",
        &secrets,
    );
    assert_eq!(names(dest.path()), Vec::<String>::new());
    assert!(!pivnet.eula_accepted(120));

    // A legacy token goes straight to the listing; a refresh token is
    // exchanged first.
    for (token, path) in [
        (PIVNET_LEGACY, format!("/api/v2/products/{SLUG}/releases")),
        (
            PIVNET_REFRESH,
            "/api/v2/authentication/access_tokens".to_string(),
        ),
    ] {
        let busy = unavailable(&path);
        let method = if token == PIVNET_LEGACY {
            "GET"
        } else {
            "POST"
        };
        let url = format!("{}{path}", busy.base());
        assert_gave_up(
            &check(&source(token, SLUG, &busy.base()), None, tmp.path()),
            &format!("{method} {url}"),
            &format!(
                "check: error: source.endpoint: {url}: server answered HTTP 503 \
                 (gave up after 2 attempts in Ns)"
            ),
            &secrets,
        );
        assert_eq!(busy.requests().len(), 2);
    }
}

#[test]
fn an_unchanged_github_repository_is_checked_with_not_modified_answers() {
    let github = widget();
    let source = widget_source(&github);
    let tmp = tempfile::tempdir().unwrap();
    let current = json!({"version": "1.0.0"});

    let first = answer(&check(&source, Some(&current), tmp.path()));
    let pages = || -> Vec<_> {
        github
            .api_requests()
            .into_iter()
            .filter(|r| r.path.contains("/releases?"))
            .collect()
    };
    let asked_first = pages().len();
    let second = answer(&check(&source, Some(&current), tmp.path()));

    assert_eq!(second, first);
    assert_eq!(first, json!([widget_1_0_0(), widget_1_1_0()]));
    let asked = pages();
    assert_eq!(asked_first, 1);
    assert_eq!(asked.len(), 2);
    assert_eq!(asked[0].status, 200);
    assert_eq!(asked[0].header("if-none-match"), None);
    assert_eq!(asked[1].status, 304);
    assert_eq!(asked[1].path, asked[0].path);
    assert!(
        asked[1]
            .header("if-none-match")
            .unwrap()
            .starts_with("W/\""),
        "{:?}",
        asked[1]
    );
    // The checksums asset, read by both checks, costs a 304 the second
    // time too.
    let sums: Vec<u16> = github
        .file_requests()
        .iter()
        .filter(|r| r.path.contains("filename%3DSHA256SUMS"))
        .map(|r| r.status)
        .collect();
    assert_eq!(sums, [200, 304]);
    assert!(
        tmp.path().join("patchline-cache").is_dir(),
        "the cache lives in TMPDIR"
    );

    // Another TMPDIR shares nothing: a full answer again.
    let other = tempfile::tempdir().unwrap();
    assert_eq!(answer(&check(&source, Some(&current), other.path())), first);
    assert_eq!(pages()[2].status, 200);
}

#[test]
fn an_unchanged_pivnet_product_is_checked_with_not_modified_answers() {
    let pivnet = tanzu_network();
    let source = pivnet_source(&pivnet, PIVNET_REFRESH);
    let tmp = tempfile::tempdir().unwrap();
    let current = json!({"version": "2.12.9"});

    let first = answer(&check(&source, Some(&current), tmp.path()));
    let second = answer(&check(&source, Some(&current), tmp.path()));

    assert_eq!(second, first);
    assert_eq!(first, json!([tas_version("2.12.9"), tas_version("2.13.1")]));
    // Each run exchanges the refresh token for a new access token; the
    // answers cached under the first one still serve the second.
    let releases = format!("/api/v2/products/{SLUG}/releases");
    let listings = |status: u16| {
        [
            "POST /api/v2/authentication/access_tokens 200".to_string(),
            format!("GET {releases} {status}"),
            format!("GET {releases}/121/product_files {status}"),
            format!("GET {releases}/120/product_files {status}"),
        ]
    };
    assert_eq!(
        pivnet_log(&pivnet.api_requests()),
        [listings(200), listings(304)].concat()
    );
    assert_eq!(pivnet.access_tokens().len(), 2);
    assert_not_kept(tmp.path(), PIVNET_REFRESH);
    assert_not_kept(tmp.path(), "access-token-");
}
