//! `patchline demo` end to end: the README's first command, on its
//! built-in sample, through the real binaries.

use std::process::Command;

use serde_json::{json, Value};

#[test]
fn the_demo_rolls_every_patch_and_records_every_step() {
    let dir = tempfile::tempdir().unwrap();
    let workdir = dir.path().join("demo");
    let output = Command::new(env!("CARGO_BIN_EXE_patchline"))
        .args(["demo", "--workdir"])
        .arg(&workdir)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "demo failed:\n{stdout}\n{stderr}");

    let summary: Value =
        serde_json::from_slice(&std::fs::read(workdir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(
        summary["environments"],
        json!({
            "sandbox": {"stemcell": "621.126", "product": "2.4.4"},
            "dev": {"stemcell": "621.126", "product": "2.4.4"},
            "production": {"stemcell": "621.126", "product": "2.4.4"},
        })
    );

    let builds: Vec<(String, String, String)> = summary["builds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let version = b["versions"]
                .as_object()
                .unwrap()
                .iter()
                .find(|(k, _)| *k != "patchline" && *k != "review-window")
                .unwrap()
                .1;
            (
                format!("{} #{}", b["job"].as_str().unwrap(), b["build"]),
                version.as_str().unwrap().to_string(),
                b["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("sandbox-stemcell #1", "621.125", "succeeded"),
        ("dev-stemcell #1", "621.125", "succeeded"),
        ("sandbox-product #1", "2.4.1", "succeeded"),
        ("dev-product #1", "2.4.1", "succeeded"),
        ("sandbox-product #2", "2.4.2", "succeeded"),
        ("sandbox-product #3", "2.4.3", "failed"),
        ("dev-product #2", "2.4.2", "succeeded"),
        ("sandbox-stemcell #2", "621.126", "succeeded"),
        ("dev-stemcell #2", "621.126", "succeeded"),
        ("sandbox-product #4", "2.4.4", "succeeded"),
        ("dev-product #3", "2.4.4", "succeeded"),
        ("production-stemcell #1", "621.126", "succeeded"),
        ("production-product #1", "2.4.4", "succeeded"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(builds, expected);

    // The broken patch failed its smoke test in sandbox and never went on.
    let failed = &summary["builds"][5];
    assert_eq!(
        failed["failure"],
        "smoke-test: exited 1: smoke-test: 1 of 1 checks failed: health"
    );

    // One ledger event per put, in order, each with the build that made it.
    let events: Vec<(String, String, String)> = summary["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["environment"].as_str().unwrap().to_string(),
                e["version"].as_str().unwrap().to_string(),
                e["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(events.len(), 13);
    assert_eq!(events.iter().filter(|e| e.2 == "failed").count(), 1);
    assert!(events.contains(&("sandbox".into(), "2.4.3".into(), "failed".into())));
    assert!(
        !events.iter().any(|e| e.1 == "2.4.3" && e.0 != "sandbox"),
        "2.4.3 was never promoted"
    );
    for event in summary["events"].as_array().unwrap() {
        assert!(event["fingerprint"]
            .as_str()
            .unwrap()
            .starts_with("sha256:"));
        assert_eq!(event["build"]["pipeline_name"], "upgrade");
        assert!(
            event["apply"]["environment"] == event["environment"],
            "{event}"
        );
    }

    // The readable table, and nothing left listening.
    assert!(
        stdout.contains("production   621.126      2.4.4"),
        "{stdout}"
    );
    let base = stdout
        .lines()
        .find_map(|l| l.strip_prefix("feeds and environment health served at "))
        .unwrap();
    let address = base.trim_start_matches("http://");
    assert!(
        std::net::TcpStream::connect(address).is_err(),
        "the demo's server is still up"
    );

    // A second run in the same folder starts afresh.
    let again = Command::new(env!("CARGO_BIN_EXE_patchline"))
        .args(["demo", "--workdir"])
        .arg(&workdir)
        .output()
        .unwrap();
    assert!(again.status.success());
}

#[test]
fn the_demo_refuses_a_folder_it_did_not_make() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("precious.txt"), "keep me").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_patchline"))
        .args(["demo", "--workdir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        stderr,
        format!(
            "demo: error: --workdir: {} is not empty and was not made by patchline demo; give a new or empty folder\n",
            dir.path().display()
        )
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("precious.txt")).unwrap(),
        "keep me"
    );
}
