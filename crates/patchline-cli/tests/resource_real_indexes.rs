//! `check` and `in` (skip_download) against the real bosh.io indexes in
//! `../shared/data`, asserting exact answers.

mod support;

use std::path::PathBuf;

use serde_json::{json, Value};
use support::run_as;

/// The shared release indexes beside the checkout, if present.
fn data_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    if dir.is_dir() {
        Some(dir.canonicalize().unwrap())
    } else {
        support::skipped(&format!(
            "real-index test skipped: {} not found",
            dir.display()
        ));
        None
    }
}

fn check_versions(source: Value, current: Option<&str>) -> Vec<String> {
    let request = json!({"source": source, "version": current.map(|v| json!({"version": v}))});
    let run = run_as("check", &[], &request.to_string(), &[]);
    assert!(run.ok, "check failed: {}", run.stderr);
    let answer: Vec<Value> = serde_json::from_str(&run.stdout).unwrap();
    answer
        .iter()
        .map(|v| {
            assert!(v["fingerprint"].as_str().unwrap().starts_with("sha256:"));
            v["version"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn xenial_621_line_from_a_current_version() {
    let Some(data) = data_dir() else { return };
    let uri = data.join("stemcells-core-index/published/ubuntu-xenial");
    let source =
        json!({"feed": "metalink", "uri": uri, "version": "621.x", "files": ["*vsphere-esxi*"]});
    assert_eq!(
        check_versions(source.clone(), Some("621.113")),
        ["621.113", "621.115", "621.117", "621.123", "621.125"]
    );
    assert_eq!(check_versions(source, None), ["621.125"]);
}

#[test]
fn the_170_line_sorts_numerically() {
    let Some(data) = data_dir() else { return };
    let uri = data.join("stemcells-core-index/published/ubuntu-xenial");
    let source =
        json!({"feed": "metalink", "uri": format!("file://{}", uri.display()), "version": "170.x"});
    // Text order would call 170.93 the latest.
    assert_eq!(check_versions(source.clone(), None), ["170.223"]);
    let from_170_9 = check_versions(source.clone(), Some("170.9"));
    assert_eq!(from_170_9[..4], ["170.9", "170.12", "170.13", "170.14"]);
    assert_eq!(from_170_9.len(), 56);
    let tail = &from_170_9[from_170_9.len() - 4..];
    assert_eq!(tail, ["170.220", "170.221", "170.222", "170.223"]);

    // A current version that vanished upstream: every newer one.
    assert_eq!(
        check_versions(source, Some("170.218")),
        ["170.219", "170.220", "170.221", "170.222", "170.223"]
    );
}

#[test]
fn single_component_versions_are_first_class() {
    let Some(data) = data_dir() else { return };
    let uri = data.join("stemcells-core-index/published/ubuntu-trusty");
    let source = json!({"feed": "metalink", "uri": uri, "version": "3468.x", "files": "*warden*"});
    let versions = check_versions(source.clone(), Some("3468"));
    assert_eq!(
        versions[..5],
        ["3468", "3468.1", "3468.5", "3468.11", "3468.12"]
    );
    assert_eq!(versions.last().unwrap(), "3468.78");
    assert_eq!(versions.len(), 36);
    // A whole number in the source works as the line it names.
    let source = json!({"feed": "metalink", "uri": uri, "version": 3586});
    assert_eq!(check_versions(source, None), ["3586.100"]);
}

#[test]
fn releases_with_sha1_only_fetch_their_metadata() {
    let Some(data) = data_dir() else { return };
    let uri = data.join("releases-index/github.com/cloudfoundry/uaa-release");
    let source = json!({"feed": "metalink", "uri": uri});
    assert_eq!(check_versions(source.clone(), None), ["75.5.0"]);
    assert_eq!(
        check_versions(
            json!({"feed": "metalink", "uri": uri, "version": "^74.29"}),
            Some("74.29.0")
        ),
        ["74.29.0", "74.30.0", "74.31.0"]
    );

    let dest = tempfile::tempdir().unwrap();
    let request =
        json!({"source": source, "version": {"version": "9"}, "params": {"skip_download": true}});
    let run = run_as(
        "in",
        &[dest.path().to_str().unwrap()],
        &request.to_string(),
        &[],
    );
    assert!(run.ok, "in failed: {}", run.stderr);
    let answer = run.json();
    assert_eq!(answer["version"]["version"], "9");
    assert_eq!(
        std::fs::read_to_string(dest.path().join("version")).unwrap(),
        "9"
    );
    let metadata: Value =
        serde_json::from_str(&std::fs::read_to_string(dest.path().join("metadata.json")).unwrap())
            .unwrap();
    assert_eq!(metadata["files"][0]["name"], "uaa-9.tgz");
    assert_eq!(
        metadata["files"][0]["hashes"],
        json!({"sha1": "0d6d1358f0fb108ecf115c709103dd5c10f1608c"})
    );
    assert_eq!(metadata["files"][0]["computed"], Value::Null);
    assert_eq!(metadata["files"][0]["verified"], false);
    let version_json: Value =
        serde_json::from_str(&std::fs::read_to_string(dest.path().join("version.json")).unwrap())
            .unwrap();
    assert_eq!(version_json, answer["version"]);
    assert_eq!(
        std::fs::read_dir(dest.path()).unwrap().count(),
        3,
        "no file was downloaded"
    );
}
