//! The `--quick` benchmark end to end, against the release `patchline`
//! binary when one is built (the benchmark measures nothing else).

use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// The rows of a quick run, in order, each with its size.
const ROWS: [(&str, &str); 10] = [
    ("curl -o, random", "64.0 MiB"),
    ("curl -o && sha256sum, random", "64.0 MiB"),
    ("in (download and verify), random", "64.0 MiB"),
    ("curl -o, sparse", "256.0 MiB"),
    ("curl -o && sha256sum, sparse", "256.0 MiB"),
    ("in (download and verify), sparse", "256.0 MiB"),
    ("curl -o /dev/null, index", ""),
    ("check, latest, cold", ""),
    ("check, 10 behind, cold", ""),
    ("check, latest, warm (304)", ""),
];

#[test]
fn a_quick_run_reports_every_row_and_in_verifies_the_bytes() {
    let release = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/release/patchline");
    if !release.is_file() {
        eprintln!(
            "skipped: no {}; run `cargo build --release --bin patchline` first",
            release.display()
        );
        return;
    }
    let workdir = tempfile::tempdir().unwrap();

    let output = Command::new(env!("CARGO_BIN_EXE_patchline-bench"))
        .args(["--quick", "--workdir"])
        .arg(workdir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");

    let table: Vec<&str> = stdout
        .lines()
        .skip_while(|line| !line.starts_with("what "))
        .skip(1)
        .take(ROWS.len())
        .collect();
    for ((what, size), line) in ROWS.iter().zip(&table) {
        assert!(line.starts_with(what), "{line:?} is not the row of {what}");
        // From the right: size (number and unit), median, x curl,
        // x curl+sha256sum, peak.
        let fields: Vec<&str> = line.split_whitespace().rev().take(6).collect();
        let [peak, vs_sha, vs_curl, median, unit, number] = fields[..] else {
            panic!("{line:?} has too few fields");
        };
        if !size.is_empty() {
            assert_eq!(format!("{number} {unit}"), *size, "{line}");
        }
        let median: f64 = median.parse().unwrap();
        let peak: f64 = peak.parse().unwrap();
        let vs_curl: f64 = vs_curl.parse().unwrap();
        assert!(median > 0.0 && peak > 1.0 && vs_curl > 0.0, "{line}");
        if what.starts_with("curl -o, ") {
            assert_eq!(vs_curl, 1.0, "{line}");
        }
        if size.is_empty() {
            assert_eq!(vs_sha, "-", "{line}");
        } else {
            assert!(vs_sha.parse::<f64>().unwrap() > 0.0, "{line}");
        }
    }
    assert_eq!(table.len(), ROWS.len(), "{stdout}");

    let verdicts: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with("met ") || line.starts_with("NOT met "))
        .collect();
    assert_eq!(verdicts.len(), 6, "{stdout}");

    // What `in` recorded: both files verified, with the digest of the
    // bytes the server holds, as sha256sum computes it.
    for (label, size) in [("64M", 64u64 << 20), ("256M", 256 << 20)] {
        let served = workdir.path().join(format!("files/release-{label}.bin"));
        let sha256sum = Command::new("sha256sum").arg(&served).output().unwrap();
        let digest = String::from_utf8(sha256sum.stdout).unwrap()[..64].to_string();
        let metadata: Value = serde_json::from_slice(
            &fs::read(
                workdir
                    .path()
                    .join(format!("runs/in-{label}/metadata.json")),
            )
            .unwrap(),
        )
        .unwrap();
        let file = &metadata["files"][0];
        assert_eq!(file["name"], format!("release-{label}.bin"));
        assert_eq!(file["verified"], true, "{metadata}");
        assert_eq!(file["computed"]["digest"], digest.as_str(), "{metadata}");
        assert_eq!(file["size"], size);
    }
}
