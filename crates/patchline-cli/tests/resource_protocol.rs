//! `check`, `in` and `out` driven as Concourse drives them: the real binary
//! started through links named `check`, `in` and `out`, JSON on stdin, the
//! folder as `$1`, against real metalink repositories, a loopback HTTP
//! server and real git repositories.

mod support;

use std::fs;

use patchline_core::HashAlgorithm;
use serde_json::{json, Value};
use support::{git, publish, run_as, FileServer, TestFile};

fn versions(answer: &Value) -> Vec<String> {
    answer
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap().to_string())
        .collect()
}

fn check(source: &Value, version: Option<Value>) -> Value {
    let run = run_as(
        "check",
        &[],
        &json!({"source": source, "version": version}).to_string(),
        &[],
    );
    assert!(run.ok, "check failed: {}", run.stderr);
    run.json()
}

#[test]
fn check_answers_oldest_first_from_the_current_version() {
    let server = FileServer::start();
    let repo = tempfile::tempdir().unwrap();
    let source = json!({"feed": "metalink", "uri": repo.path(), "version": "2.4.x"});

    assert_eq!(check(&source, None), json!([]), "an empty feed answers []");

    for v in ["2.4.10", "2.4.9", "2.4.100", "2.5.0", "2.4.11-rc.1"] {
        publish(
            repo.path(),
            v,
            v,
            &[TestFile::new(&format!("p-{v}.tgz"), v.as_bytes())],
            &server,
        );
    }
    // A folder whose version does not parse is skipped, loudly.
    publish(
        repo.path(),
        "nightly",
        "nightly",
        &[TestFile::new("n.tgz", b"n")],
        &server,
    );

    let run = run_as("check", &[], &json!({"source": source}).to_string(), &[]);
    assert!(run.ok, "{}", run.stderr);
    assert_eq!(versions(&run.json()), ["2.4.100"]);
    assert!(
        run.stderr
            .contains("skipping nightly: version \"nightly\" does not parse"),
        "{}",
        run.stderr
    );

    let all = check(&source, Some(json!({"version": "2.4.9"})));
    assert_eq!(versions(&all), ["2.4.9", "2.4.10", "2.4.100"]);

    // The same version with its fingerprint: unchanged answer.
    let current = all[1].clone();
    assert_eq!(
        versions(&check(&source, Some(current.clone()))),
        ["2.4.10", "2.4.100"]
    );

    // Republished with other bytes: the new fingerprint and every newer one.
    publish(
        repo.path(),
        "2.4.10",
        "2.4.10",
        &[TestFile::new("p-2.4.10.tgz", b"rebuilt")],
        &server,
    );
    let after = check(&source, Some(current.clone()));
    assert_eq!(versions(&after), ["2.4.10", "2.4.100"]);
    assert_ne!(after[0]["fingerprint"], current["fingerprint"]);

    // The current version gone upstream: every newer one, else the latest.
    assert_eq!(
        versions(&check(&source, Some(json!({"version": "2.4.50"})))),
        ["2.4.100"]
    );
    assert_eq!(
        versions(&check(&source, Some(json!({"version": "2.4.999"})))),
        ["2.4.100"]
    );

    let with_pre = json!({"feed": "metalink", "uri": repo.path(), "version": "2.4.x", "include_prereleases": true});
    assert_eq!(
        versions(&check(&with_pre, Some(json!({"version": "2.4.10"})))),
        ["2.4.10", "2.4.11-rc.1", "2.4.100"]
    );
}

#[test]
fn check_filters_on_files_and_fingerprints_only_matching_ones() {
    let server = FileServer::start();
    let repo = tempfile::tempdir().unwrap();
    publish(
        repo.path(),
        "1",
        "1",
        &[
            TestFile::new("s-vsphere.tgz", b"a"),
            TestFile::new("s-aws.tgz", b"b"),
        ],
        &server,
    );
    publish(
        repo.path(),
        "2",
        "2",
        &[TestFile::new("s-aws.tgz", b"c")],
        &server,
    );
    let vsphere = json!({"feed": "metalink", "uri": repo.path(), "files": ["*vsphere*"]});
    let before = check(&vsphere, None);
    assert_eq!(versions(&before), ["1"]);

    // Another infrastructure's file changing does not touch this fingerprint.
    publish(
        repo.path(),
        "1",
        "1",
        &[
            TestFile::new("s-vsphere.tgz", b"a"),
            TestFile::new("s-aws.tgz", b"x"),
        ],
        &server,
    );
    assert_eq!(check(&vsphere, None), before);
}

#[test]
fn in_downloads_verifies_and_records() {
    let server = FileServer::start();
    let repo = tempfile::tempdir().unwrap();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    publish(
        repo.path(),
        "621.125",
        "621.125",
        &[
            TestFile::new("stemcell-vsphere.tgz", &big),
            TestFile {
                name: "stemcell-aws.tgz",
                bytes: b"aws",
                algorithms: &[HashAlgorithm::Sha1],
            },
            TestFile::new("notes.txt", b"notes"),
        ],
        &server,
    );
    let source = json!({"feed": "metalink", "uri": repo.path(), "files": ["stemcell-*"]});
    let version = check(&source, None)[0].clone();

    let dest = tempfile::tempdir().unwrap();
    let dest_arg = dest.path().to_str().unwrap();
    let run = run_as(
        "in",
        &[dest_arg],
        &json!({"source": source, "version": version}).to_string(),
        &[],
    );
    assert!(run.ok, "{}", run.stderr);
    let answer = run.json();
    assert_eq!(answer["version"], version);
    let pairs: Vec<&str> = answer["metadata"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(pairs, ["version", "fingerprint", "published", "files"]);

    assert_eq!(
        fs::read(dest.path().join("stemcell-vsphere.tgz")).unwrap(),
        big
    );
    assert_eq!(
        fs::read(dest.path().join("stemcell-aws.tgz")).unwrap(),
        b"aws"
    );
    assert!(
        !dest.path().join("notes.txt").exists(),
        "outside source.files"
    );
    assert_eq!(
        fs::read_to_string(dest.path().join("version")).unwrap(),
        "621.125"
    );
    let metadata: Value =
        serde_json::from_slice(&fs::read(dest.path().join("metadata.json")).unwrap()).unwrap();
    assert_eq!(metadata["published"], "2026-11-20T10:00:00+00:00");
    assert_eq!(metadata["fingerprint"], version["fingerprint"]);
    let vsphere = &metadata["files"][0];
    assert_eq!(vsphere["size"], 3_000_000);
    assert_eq!(vsphere["verified"], true);
    assert_eq!(vsphere["computed"]["algorithm"], "sha256");
    assert_eq!(
        vsphere["computed"]["digest"],
        support::hex(HashAlgorithm::Sha256, &big)
    );
    assert_eq!(metadata["files"][1]["computed"]["algorithm"], "sha1");
    let mut names: Vec<String> = fs::read_dir(dest.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "metadata.json",
            "stemcell-aws.tgz",
            "stemcell-vsphere.tgz",
            "version",
            "version.json"
        ]
    );

    // params.files narrows; a version given without fingerprint is fine.
    let narrow = tempfile::tempdir().unwrap();
    let request = json!({"source": source, "version": {"version": "621.125"}, "params": {"files": ["*aws*"]}});
    let run = run_as(
        "in",
        &[narrow.path().to_str().unwrap()],
        &request.to_string(),
        &[],
    );
    assert!(run.ok, "{}", run.stderr);
    assert_eq!(run.json()["version"], version, "answers the full version");
    assert!(narrow.path().join("stemcell-aws.tgz").exists());
    assert!(!narrow.path().join("stemcell-vsphere.tgz").exists());
}

#[test]
fn in_never_leaves_unverified_bytes_under_the_real_name() {
    let server = FileServer::start();
    let repo = tempfile::tempdir().unwrap();
    publish(
        repo.path(),
        "1.0.0",
        "1.0.0",
        &[TestFile::new("p.tgz", b"the real bytes")],
        &server,
    );
    let source = json!({"feed": "metalink", "uri": repo.path()});
    let version = check(&source, None)[0].clone();
    // The mirror now serves other bytes of the same length.
    server.serve("1.0.0/p_tgz", b"the fake bytes");

    let dest = tempfile::tempdir().unwrap();
    let run = run_as(
        "in",
        &[dest.path().to_str().unwrap()],
        &json!({"source": source, "version": version}).to_string(),
        &[],
    );
    assert!(!run.ok);
    assert!(run.stdout.is_empty(), "nothing on stdout: {}", run.stdout);
    let last = run.stderr.lines().last().unwrap();
    assert!(
        last.starts_with("in: error: p.tgz: sha256 mismatch: published "),
        "{last}"
    );
    assert_eq!(
        fs::read_dir(dest.path()).unwrap().count(),
        0,
        "no file, no partial file, no record"
    );
}

#[test]
fn in_refuses_what_it_cannot_trust() {
    let server = FileServer::start();
    let repo = tempfile::tempdir().unwrap();
    publish(
        repo.path(),
        "1",
        "1",
        &[TestFile {
            name: "old.tgz",
            bytes: b"old",
            algorithms: &[HashAlgorithm::Md5],
        }],
        &server,
    );
    publish(
        repo.path(),
        "2",
        "2",
        &[TestFile::new("../escape.tgz", b"x")],
        &server,
    );
    let source = json!({"feed": "metalink", "uri": repo.path()});
    let fetch = |version: Value, params: Value| {
        let dest = tempfile::tempdir().unwrap();
        let request = json!({"source": source, "version": version, "params": params});
        let run = run_as(
            "in",
            &[dest.path().to_str().unwrap()],
            &request.to_string(),
            &[],
        );
        (run, dest)
    };

    let (run, _) = fetch(json!({"version": "1"}), json!({}));
    assert!(!run.ok);
    assert!(run.stderr.ends_with("in: error: old.tgz: only an md5 checksum is published; set allow_weak_checksums: true to accept it\n"), "{}", run.stderr);
    let (run, dest) = fetch(
        json!({"version": "1"}),
        json!({"allow_weak_checksums": true}),
    );
    assert!(run.ok, "{}", run.stderr);
    assert_eq!(fs::read(dest.path().join("old.tgz")).unwrap(), b"old");

    // A release whose file names are unsafe is never offered.
    let (run, dest) = fetch(json!({"version": "2"}), json!({}));
    assert!(!run.ok);
    assert!(
        run.stderr
            .contains("skipping 2: file name \"../escape.tgz\" contains a path separator\n"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("in: error: version 2 is no longer offered by "),
        "{}",
        run.stderr
    );
    assert_eq!(fs::read_dir(dest.path()).unwrap().count(), 0);

    let (run, _) = fetch(
        json!({"version": "1", "fingerprint": "sha256:0000"}),
        json!({"allow_weak_checksums": true}),
    );
    assert!(!run.ok);
    let last = run.stderr.lines().last().unwrap();
    assert!(last.starts_with("in: error: version 1 was republished with other files: requested fingerprint sha256:0000, the feed now gives sha256:"), "{last}");

    // A mirror announcing another size than published is refused before
    // a byte is written (an error page served as 200, say); the next
    // mirror serves the real file.
    let mirror = publish(
        repo.path(),
        "4",
        "4",
        &[TestFile::new("four.tgz", b"1234")],
        &server,
    );
    let meta4 = fs::read_to_string(mirror.join("release.meta4")).unwrap();
    let second_url = server.serve("4/four_tgz_mirror", b"1234");
    fs::write(
        mirror.join("release.meta4"),
        meta4.replace("</url>", &format!("</url>\n    <url>{second_url}</url>")),
    )
    .unwrap();
    server.serve("4/four_tgz", b"12345");
    let (run, dest) = fetch(json!({"version": "4"}), json!({}));
    assert!(run.ok, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "/4/four_tgz: the server sends 5 bytes (no content type) but the feed publishes 4; trying the next URL\n"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(fs::read(dest.path().join("four.tgz")).unwrap(), b"1234");

    let (run, _) = fetch(json!({"version": "3"}), json!({}));
    assert!(!run.ok);
    assert!(
        run.stderr
            .lines()
            .last()
            .unwrap()
            .starts_with("in: error: version 3 is no longer offered by "),
        "{}",
        run.stderr
    );
}

#[test]
fn bad_requests_fail_with_one_line_naming_the_field() {
    let cases = [
        ("check", "not json", "check: error: stdin: not a JSON request: expected ident at line 1 column 2"),
        ("check", "", "check: error: stdin: empty; expected a JSON request from Concourse"),
        ("check", r#"{"source": {"uri": "/x"}}"#, "check: error: source: missing field `feed`"),
        ("check", r#"{"source": {"feed": "ftp", "uri": "/x"}}"#, "check: error: source.feed: unknown variant `ftp`, expected one of `metalink`, `index`, `bosh-io`, `github`, `pivnet`"),
        ("check", r#"{"source": {"feed": "index", "uri": "/x", "version": "banana"}}"#, "check: error: source.version: version line \"banana\" does not parse: \"banana\" is neither a number nor a wildcard (x or *)"),
        ("check", r#"{"source": {"feed": "metalink", "uri": "/does/not/exist"}}"#, "check: error: source.uri: cannot read folder /does/not/exist: No such file or directory (os error 2)"),
        ("in", r#"{"source": {"feed": "metalink", "uri": "/x"}}"#, "in: error: request: missing field `version`"),
        ("out", r#"{"source": {"feed": "metalink", "uri": "/x"}, "params": {"environment": "dev", "from": "p"}}"#, "out: error: source.ledger: required by put: the git repository where events are recorded"),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (command, stdin, expected) in cases {
        let args: &[&str] = if command == "check" {
            &[]
        } else {
            &[dir.path().to_str().unwrap()]
        };
        let run = run_as(command, args, stdin, &[]);
        assert!(!run.ok, "{command} {stdin}");
        assert!(run.stdout.is_empty());
        assert_eq!(run.stderr, format!("{expected}\n"), "{command} {stdin}");
    }
    let server = FileServer::start();
    let missing = format!("{}/nope.json", server.base);
    let run = run_as(
        "check",
        &[],
        &json!({"source": {"feed": "index", "uri": missing}}).to_string(),
        &[],
    );
    assert_eq!(
        run.stderr,
        format!("check: error: source.uri: {missing}: server answered HTTP 404\n")
    );

    let version = run_as("patchline", &["--version"], "", &[]);
    assert_eq!(
        version.stdout,
        format!("patchline {}\n", env!("CARGO_PKG_VERSION"))
    );
    let help = run_as("patchline", &["--help"], "", &[]);
    assert!(
        help.ok
            && help
                .stdout
                .starts_with("usage: patchline <check|in|out|apply|smoke-test|demo>")
    );

    let run = run_as("in", &[], r#"{}"#, &[]);
    assert_eq!(
        run.stderr,
        "in: error: $1: missing the destination argument (usage: in <destination>)\n"
    );
}

#[test]
fn a_metalink_repository_in_git_is_cloned_once_then_fetched() {
    let server = FileServer::start();
    let upstream = tempfile::tempdir().unwrap();
    git(upstream.path(), &["init", "--quiet"]);
    let folder = upstream.path().join("published/ubuntu-jammy");
    publish(
        &folder,
        "1.10",
        "1.10",
        &[TestFile::new("a.tgz", b"a")],
        &server,
    );
    git(upstream.path(), &["add", "."]);
    git(upstream.path(), &["commit", "--quiet", "-m", "1.10"]);

    // Each test run gets its own temporary folder, so its own checkout.
    let tmp = tempfile::tempdir().unwrap();
    let tmp_env = [("TMPDIR", tmp.path().to_str().unwrap())];
    let source = json!({"feed": "metalink", "uri": format!("git+file://{}//published/ubuntu-jammy", upstream.path().display())});
    let request = json!({"source": source}).to_string();
    let run = run_as("check", &[], &request, &tmp_env);
    assert!(run.ok, "{}", run.stderr);
    assert_eq!(versions(&run.json()), ["1.10"]);

    publish(
        &folder,
        "1.9",
        "1.9",
        &[TestFile::new("a.tgz", b"9")],
        &server,
    );
    publish(
        &folder,
        "1.11",
        "1.11",
        &[TestFile::new("a.tgz", b"b")],
        &server,
    );
    git(upstream.path(), &["add", "."]);
    git(
        upstream.path(),
        &["commit", "--quiet", "-m", "1.9 and 1.11"],
    );
    let request = json!({"source": source, "version": {"version": "1.10"}}).to_string();
    let run = run_as("check", &[], &request, &tmp_env);
    assert!(run.ok, "{}", run.stderr);
    assert_eq!(versions(&run.json()), ["1.10", "1.11"]);
    let checkouts: Vec<_> = fs::read_dir(tmp.path().join("patchline-feeds"))
        .unwrap()
        .collect();
    assert_eq!(checkouts.len(), 2, "one checkout and its lock file");
}

#[test]
fn out_records_one_event_per_put_in_the_ledger() {
    let server = FileServer::start();
    let repo = tempfile::tempdir().unwrap();
    publish(
        repo.path(),
        "621.125",
        "621.125",
        &[TestFile::new("s.tgz", b"s")],
        &server,
    );
    let ledger = tempfile::tempdir().unwrap();
    git(ledger.path(), &["init", "--quiet", "--bare"]);
    let source = json!({
        "feed": "metalink",
        "uri": repo.path(),
        "version": "621.x",
        "ledger": {"uri": ledger.path(), "branch": "records"},
    });
    let version = check(&source, None)[0].clone();

    // A build folder as Concourse lays it out: the get, an apply output
    // that failed, and a notes file.
    let build = tempfile::tempdir().unwrap();
    let get = build.path().join("stemcell");
    let run = run_as(
        "in",
        &[get.to_str().unwrap()],
        &json!({"source": source, "version": version, "params": {"skip_download": true}})
            .to_string(),
        &[],
    );
    assert!(run.ok, "{}", run.stderr);
    let applied = build.path().join("applied");
    fs::create_dir_all(&applied).unwrap();
    let apply = json!({"environment": "sandbox", "version": "621.125", "fingerprint": version["fingerprint"], "status": "repaved", "changed": true});
    fs::write(applied.join("apply.json"), apply.to_string()).unwrap();
    fs::write(
        build.path().join("notes.txt"),
        "repaved after a host failure\n",
    )
    .unwrap();

    let build_vars = [
        ("BUILD_ID", "42"),
        ("BUILD_NAME", "7"),
        ("BUILD_JOB_NAME", "sandbox-stemcell"),
        ("BUILD_PIPELINE_NAME", "upgrade"),
        ("BUILD_TEAM_NAME", "main"),
        ("ATC_EXTERNAL_URL", "https://ci.example.com"),
    ];
    let put = |params: Value| {
        let run = run_as(
            "out",
            &[build.path().to_str().unwrap()],
            &json!({"source": source, "params": params}).to_string(),
            &build_vars,
        );
        assert!(run.ok, "{}", run.stderr);
        run.json()
    };
    let first = put(json!({"environment": "sandbox", "from": "applied", "notes": "notes.txt"}));
    assert_eq!(
        first["version"], version,
        "out answers the version it recorded"
    );
    let second = put(json!({"environment": "dev", "from": "stemcell"}));
    let third = put(json!({"environment": "dev", "from": "stemcell", "status": "failed"}));
    let status = |answer: &Value| answer["metadata"][1]["value"].as_str().unwrap().to_string();
    assert_eq!(
        [status(&first), status(&second), status(&third)],
        ["repaved", "applied", "failed"]
    );

    let checkout = tempfile::tempdir().unwrap();
    let clone = checkout.path().join("ledger");
    let out = std::process::Command::new("git")
        .args(["clone", "--quiet", "--branch", "records"])
        .arg(ledger.path())
        .arg(&clone)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(git(&clone, &["rev-list", "--count", "HEAD"]).trim(), "3");
    let event_path = first["metadata"][2]["value"].as_str().unwrap();
    assert!(event_path.starts_with("events/sandbox/"), "{event_path}");
    let event: Value = serde_json::from_slice(&fs::read(clone.join(event_path)).unwrap()).unwrap();
    assert_eq!(event["environment"], "sandbox");
    assert_eq!(event["version"], "621.125");
    assert_eq!(event["fingerprint"], version["fingerprint"]);
    assert_eq!(event["status"], "repaved");
    assert_eq!(event["notes"], "repaved after a host failure");
    assert_eq!(event["apply"], apply);
    assert_eq!(event["build"]["job_name"], "sandbox-stemcell");
    assert_eq!(
        event["build"]["url"],
        "https://ci.example.com/teams/main/pipelines/upgrade/jobs/sandbox-stemcell/builds/7"
    );
    assert_eq!(event["line"]["feed"], "metalink");
    assert_eq!(event["line"]["version"], "621.x");

    // Missing params are one line naming the field; nothing is recorded.
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("secret.txt"), "not for the ledger").unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        build.path().join("linked.txt"),
    )
    .unwrap();
    std::os::unix::fs::symlink(outside.path(), build.path().join("linked")).unwrap();
    fs::create_dir(build.path().join("odd")).unwrap();
    fs::write(
        build.path().join("odd/apply.json"),
        json!({"version": "621.125", "fingerprint": "md5:abc"}).to_string(),
    )
    .unwrap();
    for (params, expected) in [
        (json!({"from": "stemcell"}), "out: error: params.environment: required (sandbox, dev, production, ...)\n"),
        (json!({"environment": "dev"}), "out: error: params.from: required: the folder of a get of this resource or of an apply output\n"),
        (json!({"environment": "dev", "from": "nowhere"}), "out: error: params.from: \"nowhere\" is not a folder of this build\n"),
        (json!({"environment": "dev", "from": ""}), "out: error: params.from: required: the folder of a get of this resource or of an apply output\n"),
        (json!({"environment": "dev", "from": "linked"}), "out: error: params.from: \"linked\" must be a path inside the build (relative, without ..)\n"),
        (json!({"environment": "dev", "from": "stemcell", "notes": "linked.txt"}), "out: error: params.notes: \"linked.txt\" must be a path inside the build (relative, without ..)\n"),
        (json!({"environment": "dev", "from": "odd"}), "out: error: params.from: odd holds the fingerprint \"md5:abc\", not sha256:<64 hex digits>\n"),
        (json!({"environment": "dev", "from": "/etc"}), "out: error: params.from: \"/etc\" must be a path inside the build (relative, without ..)\n"),
        (json!({"environment": "dev", "from": "stemcell", "notes": "../secret"}), "out: error: params.notes: \"../secret\" must be a path inside the build (relative, without ..)\n"),
        (json!({"environment": "dev", "from": "stemcell", "status": "done"}), "out: error: params.status: unknown variant `done`, expected one of `applied`, `failed`, `rolled-back`, `repaved`\n"),
    ] {
        let run = run_as("out", &[build.path().to_str().unwrap()], &json!({"source": source, "params": params}).to_string(), &[]);
        assert!(!run.ok);
        assert_eq!(run.stderr, expected);
    }
    assert_eq!(
        git(&clone, &["ls-remote", "origin", "records"])
            .split_whitespace()
            .next()
            .unwrap(),
        git(&clone, &["rev-parse", "HEAD"]).trim()
    );
}

#[test]
fn check_never_offers_a_release_in_could_not_save_safely() {
    let server = FileServer::start();
    let repo = tempfile::tempdir().unwrap();
    publish(
        repo.path(),
        "1.0.0",
        "1.0.0",
        &[TestFile::new("ok.tgz", b"ok")],
        &server,
    );
    // A hidden name could collide with the temporary file of `x`.
    publish(
        repo.path(),
        "1.0.1",
        "1.0.1",
        &[TestFile::new("x", b"x"), TestFile::new(".x.partial", b"y")],
        &server,
    );
    publish(
        repo.path(),
        "1.0.2",
        "1.0.2",
        &[TestFile::new("dup", b"a"), TestFile::new("dup", b"b")],
        &server,
    );
    let source = json!({"feed": "metalink", "uri": repo.path()});
    let run = run_as(
        "check",
        &[],
        &json!({"source": source, "version": {"version": "1.0.0"}}).to_string(),
        &[],
    );
    assert!(run.ok, "{}", run.stderr);
    assert_eq!(versions(&run.json()), ["1.0.0"]);
    assert!(
        run.stderr
            .contains("skipping 1.0.1: file name \".x.partial\" is hidden (starts with \".\")\n"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("skipping 1.0.2: two of its files are named \"dup\"\n"),
        "{}",
        run.stderr
    );
}
