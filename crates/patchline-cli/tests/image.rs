//! Container image: build the repository's Dockerfile and run the resource
//! inside it the way Concourse does.
//!
//! The test creates the local base images (`.ci/image/base-images.sh`),
//! builds the image from them, then runs `check`, `in` and `out` in
//! containers with the protocol JSON on stdin, `/` as working directory,
//! the destination as `$1` and the host's certificates mounted read-only.
//! The feed is a metalink repository in a temp dir whose URLs point at a
//! loopback HTTP server; the ledger is a bare git repository. Without a
//! Docker engine, or with `PATCHLINE_IMAGE_TEST=skip`, it says so on stderr
//! and passes without running anything.

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use patchline_core::{fingerprint, HashAlgorithm, ReleaseFile};
use serde_json::{json, Value};

/// Tag that keeps the builder stage, and with it the compiled dependencies,
/// between runs; the older builder images it replaces are pruned.
const BUILDER_CACHE_TAG: &str = "patchline-image-test/builder:cache";

/// Label the Dockerfile puts on its build stages, so pruning touches only
/// images this build made.
const STAGE_LABEL: &str = "dev.patchline.image.stage";

/// Published versions in the metalink repository, oldest first.
const VERSIONS: [&str; 2] = ["1.0.1", "1.0.2"];

#[test]
fn image_builds_and_serves_the_resource_protocol() {
    if std::env::var("PATCHLINE_IMAGE_TEST").as_deref() == Ok("skip") {
        support::skipped("image test skipped: PATCHLINE_IMAGE_TEST=skip");
        return;
    }
    let engine = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !matches!(engine, Ok(status) if status.success()) {
        support::skipped("image test skipped: no Docker engine");
        return;
    }

    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root");
    let unique = unique_suffix();
    let image = Image::build(&root, &format!("patchline-image-test:{unique}"));

    // The links are the contract Concourse and task configs rely on.
    let links = image.run_ok(
        &unique,
        "links",
        &[
            "sh",
            "-c",
            "readlink /opt/resource/check /opt/resource/in /opt/resource/out \
             /usr/local/bin/apply /usr/local/bin/smoke-test; \
             for command in apply smoke-test patchline; do command -v $command; done",
        ],
    );
    assert_eq!(
        links,
        "/usr/local/bin/patchline\n".repeat(5)
            + "/usr/local/bin/apply\n/usr/local/bin/smoke-test\n/usr/local/bin/patchline\n"
    );
    let tools = image.run_ok(
        &unique,
        "tools",
        &[
            "sh",
            "-c",
            "git --version >/dev/null && ssh -V 2>/dev/null && echo ok",
        ],
    );
    assert_eq!(tools, "ok\n");
    for task in ["apply", "smoke-test"] {
        let help = image.run_ok(&unique, task, &[task, "--help"]);
        assert!(
            help.contains("--environment"),
            "{task} --help printed:\n{help}"
        );
    }

    let work = tempfile::tempdir().expect("temp dir");
    let files = Arc::new(release_files());
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("loopback server"));
    let port = server.server_addr().to_ip().expect("ip address").port();
    let serving = serve(Arc::clone(&server), Arc::clone(&files));
    let feed = write_metalink_feed(work.path(), port, &files);
    let expected_version =
        json!({"version": "1.0.2", "fingerprint": fingerprint_of("1.0.2", &files)});
    let source = json!({"feed": "metalink", "uri": "/feed"});
    let certs = "/etc/ssl/certs:/etc/ssl/certs:ro".to_string();
    let feed_mount = format!("{}:/feed:ro", feed.display());

    // check: no build variables, only the source and the last version.
    let check = image.resource(
        &unique,
        "check",
        &[certs.clone(), feed_mount.clone()],
        false,
        &json!({"source": source, "version": null}),
        &["/opt/resource/check"],
    );
    assert_eq!(check, json!([expected_version]));

    // in: Concourse hands over an empty destination as $1.
    let build = work.path().join("build");
    let patch = build.join("patch");
    std::fs::create_dir_all(&patch).expect("destination");
    let got = image.resource(
        &unique,
        "in",
        &[
            certs.clone(),
            feed_mount.clone(),
            format!("{}:/tmp/build/get", patch.display()),
        ],
        true,
        &json!({"source": source, "version": expected_version, "params": {}}),
        &["/opt/resource/in", "/tmp/build/get"],
    );
    assert_eq!(got["version"], expected_version);
    assert_metadata_names(&got, &["version", "fingerprint", "published", "files"]);
    assert_eq!(got["metadata"][0]["value"], "1.0.2");
    assert_patch_folder(&patch, &expected_version, &files, port);

    // out: the patch folder from `in`, recorded into the mounted ledger.
    let ledger = bare_ledger(work.path());
    let mut put_source = source.clone();
    put_source["ledger"] = json!({"uri": "/ledger", "branch": "main"});
    let put = image.resource(
        &unique,
        "out",
        &[
            certs,
            feed_mount,
            format!("{}:/tmp/build/put", build.display()),
            format!("{}:/ledger", ledger.display()),
        ],
        true,
        &json!({"source": put_source, "params": {"environment": "sandbox", "from": "patch"}}),
        &["/opt/resource/out", "/tmp/build/put"],
    );
    assert_eq!(put["version"], expected_version);
    assert_metadata_names(&put, &["environment", "status", "event", "commit"]);
    assert_eq!(put["metadata"][0]["value"], "sandbox");
    assert_eq!(put["metadata"][1]["value"], "applied");
    assert_eq!(git(&ledger, &["rev-list", "--count", "main"]), "2\n");
    let record = git(&ledger, &["show", "--format=%s%n%b", "main"]);
    assert!(
        record.contains("sandbox") && record.contains("1.0.2"),
        "the ledger commit does not name both the environment and the version:\n{record}"
    );

    server.unblock();
    serving.join().expect("server thread");
}

/// A built image, removed with everything it started when dropped.
struct Image {
    tag: String,
}

impl Image {
    /// Create the base images, then build the repository's Dockerfile from
    /// them under `tag`.
    fn build(root: &Path, tag: &str) -> Image {
        let script = root.join(".ci/image/base-images.sh");
        let bases = checked(Command::new("bash").arg(&script), "base image script");
        let args: BTreeMap<&str, &str> = bases
            .lines()
            .filter_map(|line| line.split_once('='))
            .collect();
        let rust_image = format!("RUST_IMAGE={}", args["RUST_IMAGE"]);
        let base_image = format!("BASE_IMAGE={}", args["BASE_IMAGE"]);
        let common = ["--build-arg", &rust_image, "--build-arg", &base_image];

        // Tagging the builder stage keeps it as the cache of the next
        // build; untagged builder images of earlier runs are garbage.
        let mut cache = Command::new("docker");
        cache
            .args([
                "build",
                "--force-rm",
                "--target",
                "builder",
                "-t",
                BUILDER_CACHE_TAG,
            ])
            .args(common)
            .arg(root);
        checked(&mut cache, "docker build (builder stage)");
        let mut full = Command::new("docker");
        full.args(["build", "--force-rm", "-t", tag])
            .args(common)
            .arg(root);
        let image = Image {
            tag: tag.to_string(),
        };
        checked(&mut full, "docker build");
        checked(
            Command::new("docker")
                .args(["image", "prune", "--force", "--filter"])
                .arg(format!("label={STAGE_LABEL}")),
            "docker image prune",
        );
        image
    }

    /// Run `command` in a fresh container and return its stdout; fail the
    /// test when it exits non-zero.
    fn run_ok(&self, unique: &str, what: &str, command: &[&str]) -> String {
        let name = format!("patchline-image-test-{unique}-{what}");
        let _container = Container(name.clone());
        let mut run = Command::new("docker");
        run.args([
            "run",
            "--rm",
            "--name",
            &name,
            "--network",
            "none",
            &self.tag,
        ])
        .args(command);
        checked(&mut run, &format!("{} in the image", command.join(" ")))
    }

    /// Run a resource command as Concourse does: `request` on stdin,
    /// working directory `/`, loopback network, `mounts` bound; return its
    /// stdout parsed as JSON.
    fn resource(
        &self,
        unique: &str,
        what: &str,
        mounts: &[String],
        build_variables: bool,
        request: &Value,
        command: &[&str],
    ) -> Value {
        let name = format!("patchline-image-test-{unique}-{what}");
        let _container = Container(name.clone());
        let mut run = Command::new("docker");
        run.args([
            "run",
            "--rm",
            "-i",
            "--name",
            &name,
            "--network",
            "host",
            "--workdir",
            "/",
        ]);
        for mount in mounts {
            run.args(["--volume", mount]);
        }
        if build_variables {
            for (key, value) in [
                ("BUILD_ID", "42"),
                ("BUILD_NAME", "7"),
                ("BUILD_JOB_NAME", "apply-sandbox"),
                ("BUILD_PIPELINE_NAME", "upgrade"),
                ("BUILD_TEAM_NAME", "main"),
                ("ATC_EXTERNAL_URL", "http://127.0.0.1:8080"),
            ] {
                run.args(["--env", &format!("{key}={value}")]);
            }
        }
        run.arg(&self.tag).args(command);

        let mut child = run
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start docker run");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(request.to_string().as_bytes())
            .expect("write request");
        let output = child.wait_with_output().expect("docker run");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{what} failed: {}",
            describe(&output)
        );
        serde_json::from_str(&stdout)
            .unwrap_or_else(|err| panic!("{what} printed no JSON ({err}): {stdout:?}"))
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rmi", "--force", &self.tag])
            .output();
    }
}

/// A container name; the container is removed on drop even when the test
/// fails half-way (`--rm` alone misses a docker client that was killed).
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "--force", &self.0])
            .output();
    }
}

/// Run `command`; return its stdout, or fail the test with both streams.
fn checked(command: &mut Command, what: &str) -> String {
    let output = command
        .output()
        .unwrap_or_else(|err| panic!("cannot start {what}: {err}"));
    assert!(
        output.status.success(),
        "{what} failed: {}",
        describe(&output)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

/// Summarise a failed process: exit status and the end of both streams.
fn describe(output: &Output) -> String {
    let tail = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    };
    format!(
        "{}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        tail(&output.stdout),
        tail(&output.stderr)
    )
}

/// A name part no other run of this test uses at the same time.
fn unique_suffix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .subsec_nanos();
    format!("{}-{nanos}", std::process::id())
}

/// One file per published version: (name, content).
fn release_files() -> Vec<(String, Vec<u8>)> {
    VERSIONS
        .iter()
        .map(|version| {
            (
                format!("product-{version}.tgz"),
                format!("product {version} bits\n").into_bytes(),
            )
        })
        .collect()
}

/// The SHA-256 of `bytes` in hex, taken with the system's `sha256sum` so
/// the expected digests do not come from the code under test.
fn sha256_hex(bytes: &[u8]) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sha256sum");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(bytes)
        .expect("write");
    let output = child.wait_with_output().expect("sha256sum");
    String::from_utf8(output.stdout).expect("utf-8")[..64].to_string()
}

/// The file of `version` as a release file the fingerprint covers.
fn release_file(version: &str, files: &[(String, Vec<u8>)], port: Option<u16>) -> ReleaseFile {
    let (name, bytes) = files
        .iter()
        .find(|(name, _)| name == &format!("product-{version}.tgz"))
        .expect("known version");
    ReleaseFile {
        name: name.clone(),
        size: Some(bytes.len() as u64),
        hashes: BTreeMap::from([(HashAlgorithm::Sha256, sha256_hex(bytes))]),
        urls: port
            .map(|port| format!("http://127.0.0.1:{port}/{name}"))
            .into_iter()
            .collect(),
    }
}

/// The fingerprint the resource must report for `version`.
fn fingerprint_of(version: &str, files: &[(String, Vec<u8>)]) -> String {
    fingerprint([&release_file(version, files, None)])
}

/// Write `feed/<version>/product-<version>.meta4` (RFC 5854) for every
/// version, with URLs on the loopback server; return the feed folder.
fn write_metalink_feed(dir: &Path, port: u16, files: &[(String, Vec<u8>)]) -> PathBuf {
    let feed = dir.join("feed");
    for version in VERSIONS {
        let file = release_file(version, files, Some(port));
        let folder = feed.join(version);
        std::fs::create_dir_all(&folder).expect("version folder");
        let meta4 = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<metalink xmlns="urn:ietf:params:xml:ns:metalink">
  <published>2024-03-0{day}T10:00:00Z</published>
  <file name="{name}">
    <version>{version}</version>
    <size>{size}</size>
    <hash type="sha-256">{sha256}</hash>
    <url>{url}</url>
  </file>
</metalink>
"#,
            day = if version == "1.0.1" { 1 } else { 2 },
            name = file.name,
            size = file.size.expect("size"),
            sha256 = file.hashes[&HashAlgorithm::Sha256],
            url = file.urls[0],
        );
        std::fs::write(folder.join(format!("product-{version}.meta4")), meta4).expect("meta4");
    }
    feed
}

/// Serve `files` by name until the server is unblocked.
fn serve(
    server: Arc<tiny_http::Server>,
    files: Arc<Vec<(String, Vec<u8>)>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let wanted = request.url().trim_start_matches('/').to_string();
            let response = match files.iter().find(|(name, _)| *name == wanted) {
                Some((_, bytes)) => tiny_http::Response::from_data(bytes.clone()),
                None => tiny_http::Response::from_data(b"not found".to_vec()).with_status_code(404),
            };
            let _ = request.respond(response);
        }
    })
}

/// Assert that `response` carries Concourse metadata: name/value strings
/// with exactly these names, in this order.
fn assert_metadata_names(response: &Value, names: &[&str]) {
    let metadata = response["metadata"]
        .as_array()
        .expect("metadata is an array");
    for pair in metadata {
        assert!(
            pair["name"].is_string() && pair["value"].is_string(),
            "metadata entry is not a name/value pair of strings: {pair}"
        );
    }
    let got: Vec<&str> = metadata
        .iter()
        .map(|pair| pair["name"].as_str().unwrap())
        .collect();
    assert_eq!(got, names, "metadata names of {response}");
}

/// Assert the patch folder `in` wrote: the contract's files, exactly.
fn assert_patch_folder(patch: &Path, version: &Value, files: &[(String, Vec<u8>)], port: u16) {
    let read = |name: &str| {
        std::fs::read_to_string(patch.join(name)).unwrap_or_else(|err| panic!("{name}: {err}"))
    };
    assert_eq!(read("version"), "1.0.2");
    assert_eq!(
        serde_json::from_str::<Value>(&read("version.json")).expect("version.json"),
        *version
    );

    let file = release_file("1.0.2", files, Some(port));
    let metadata: Value = serde_json::from_str(&read("metadata.json")).expect("metadata.json");
    assert_eq!(metadata["version"], "1.0.2");
    assert_eq!(metadata["fingerprint"], version["fingerprint"]);
    // Both spellings of UTC are RFC 3339; the instant is what must match.
    let published = metadata["published"]
        .as_str()
        .expect("published is a string");
    assert!(
        ["2024-03-02T10:00:00Z", "2024-03-02T10:00:00+00:00"].contains(&published),
        "published is {published}"
    );
    // The contract's fields exactly; a file entry may carry more.
    let listed = metadata["files"].as_array().expect("files is an array");
    assert_eq!(listed.len(), 1, "files: {listed:?}");
    let sha256 = &file.hashes[&HashAlgorithm::Sha256];
    assert_eq!(listed[0]["name"], "product-1.0.2.tgz");
    assert_eq!(listed[0]["size"], json!(file.size));
    assert_eq!(listed[0]["hashes"], json!({"sha256": sha256}));
    assert_eq!(listed[0]["urls"], json!(file.urls));
    assert_eq!(listed[0]["verified"], true);
    assert_eq!(
        listed[0]["computed"],
        json!({"algorithm": "sha256", "digest": sha256})
    );
    let (_, bytes) = &files[1];
    assert_eq!(
        std::fs::read(patch.join("product-1.0.2.tgz")).expect("downloaded file"),
        *bytes
    );
}

/// Create a bare ledger repository whose `main` has one commit; return it.
fn bare_ledger(dir: &Path) -> PathBuf {
    let seed = dir.join("ledger-seed");
    std::fs::create_dir_all(&seed).expect("seed");
    git(&seed, &["init", "--quiet", "--initial-branch=main"]);
    std::fs::write(
        seed.join("README.md"),
        "Applies of patches, one record per change.\n",
    )
    .expect("readme");
    git(&seed, &["add", "README.md"]);
    git(
        &seed,
        &[
            "-c",
            "user.name=patchline test",
            "-c",
            "user.email=test@patchline.invalid",
            "commit",
            "--quiet",
            "-m",
            "Start the ledger",
        ],
    );
    let ledger = dir.join("ledger.git");
    checked(
        Command::new("git")
            .args(["clone", "--quiet", "--bare"])
            .arg(&seed)
            .arg(&ledger),
        "git clone --bare",
    );
    ledger
}

/// Run git in `repo` and return its stdout.
fn git(repo: &Path, args: &[&str]) -> String {
    checked(
        Command::new("git").arg("-C").arg(repo).args(args),
        &format!("git {}", args.join(" ")),
    )
}
