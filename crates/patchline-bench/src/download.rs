//! `in` against curl: one release file downloaded by `curl -o`, by
//! `curl -o` followed by `sha256sum`, and by `in` (download and verify).
//!
//! Every contender writes to the same file system, starts with its
//! destination gone and the page cache's dirty pages written out (`sync`,
//! not timed), and runs as often as the others. The order rotates each
//! round, so no contender always runs right after the same other one.

use std::fs;
use std::path::Path;

use anyhow::{bail, ensure, Context, Result};
use serde_json::{json, Value};

use crate::fixtures::{size_label, Payload};
use crate::measure::{self, Sample, Stats};
use crate::{fresh_folder, settle, Setup};

/// The figures of one release file.
pub struct Download {
    pub size: u64,
    pub sparse: bool,
    pub curl: Stats,
    pub curl_sha256sum: Stats,
    pub get: Stats,
}

#[derive(Clone, Copy)]
enum Contender {
    Curl,
    CurlSha256sum,
    Get,
}

const CONTENDERS: [Contender; 3] = [Contender::Curl, Contender::CurlSha256sum, Contender::Get];

/// Measure the download of `payload`, published in the index `in_index`.
pub fn measure(setup: &Setup, payload: &Payload, in_index: &str) -> Result<Download> {
    let label = size_label(payload.size);
    let curl_dir = setup.runs.join(format!("curl-{label}"));
    let curl_file = curl_dir.join(&payload.name);
    let get_dir = setup.runs.join(format!("in-{label}"));
    let url = setup.server.url(&payload.name);
    let request = serde_json::to_vec(&json!({
        "source": {"feed": "index", "uri": setup.server.url(in_index)},
        "version": {"version": payload.version},
        "params": {},
    }))?;

    let mut samples: [Vec<Sample>; 3] = Default::default();
    for round in 0..setup.rounds {
        for turn in 0..CONTENDERS.len() {
            let which = (round + turn) % CONTENDERS.len();
            let contender = CONTENDERS[which];
            let logs = setup
                .logs
                .join(format!("{label}-{}-{}", name(contender), round + 1));
            fresh_folder(&curl_dir)?;
            if let Contender::Get = contender {
                fresh_folder(&get_dir)?;
            }
            settle();

            let sample = match contender {
                Contender::Curl => {
                    let (sample, _) = curl(&url, &curl_file, &logs)?;
                    ensure!(
                        fs::metadata(&curl_file)?.len() == payload.size,
                        "curl {url}: the downloaded file is not {} bytes",
                        payload.size
                    );
                    sample
                }
                Contender::CurlSha256sum => {
                    let (fetched, _) = curl(&url, &curl_file, &logs)?;
                    let (hashed, stdout) = measure::once(
                        measure::command("sha256sum").arg(&curl_file),
                        b"",
                        &setup.logs.join(format!("{label}-sha256sum-{}", round + 1)),
                    )?;
                    ensure!(
                        String::from_utf8_lossy(&stdout).starts_with(&payload.sha256),
                        "sha256sum of {url}: the downloaded bytes are not the served ones"
                    );
                    fetched.then(hashed)
                }
                Contender::Get => {
                    let (sample, stdout) = measure::once(
                        measure::command(&setup.in_link).arg(&get_dir),
                        &request,
                        &logs,
                    )
                    .with_context(|| format!("in of {label}"))?;
                    check_get(&get_dir, payload, &stdout)
                        .with_context(|| format!("in of {label}"))?;
                    sample
                }
            };
            eprintln!(
                "{} {label}, round {} of {}: {:.2} s, peak {:.1} MiB",
                name(contender),
                round + 1,
                setup.rounds,
                sample.wall.as_secs_f64(),
                sample.peak_kib as f64 / 1024.0
            );
            samples[which].push(sample);

            // The download goes at once, so the disk holds one copy at
            // most; `in`'s records stay, for a look at what it wrote.
            fs::remove_dir_all(&curl_dir)
                .with_context(|| format!("cannot remove {}", curl_dir.display()))?;
            let got = get_dir.join(&payload.name);
            if got.exists() {
                fs::remove_file(&got)
                    .with_context(|| format!("cannot remove {}", got.display()))?;
            }
        }
    }

    let [curl, curl_sha256sum, get] = samples.map(|runs| Stats::of(&runs));
    Ok(Download {
        size: payload.size,
        sparse: payload.sparse,
        curl,
        curl_sha256sum,
        get,
    })
}

fn name(contender: Contender) -> &'static str {
    match contender {
        Contender::Curl => "curl",
        Contender::CurlSha256sum => "curl+sha256sum",
        Contender::Get => "in",
    }
}

fn curl(url: &str, file: &Path, logs: &Path) -> Result<(Sample, Vec<u8>)> {
    measure::once(
        measure::command("curl")
            .args(["-sS", "-o"])
            .arg(file)
            .arg(url),
        b"",
        logs,
    )
}

/// Check that `in` answered the version and recorded the file as
/// verified, with the digest of the served bytes.
fn check_get(dest: &Path, payload: &Payload, stdout: &[u8]) -> Result<()> {
    let answer: Value = serde_json::from_slice(stdout).context("stdout is not JSON")?;
    ensure!(
        answer["version"]["version"] == payload.version.as_str(),
        "answered {}, not version {}",
        answer["version"],
        payload.version
    );
    let path = dest.join("metadata.json");
    let metadata: Value =
        serde_json::from_slice(&fs::read(&path).with_context(|| path.display().to_string())?)
            .with_context(|| format!("{} is not JSON", path.display()))?;
    let file = &metadata["files"][0];
    if file["verified"] != true || file["computed"]["digest"] != payload.sha256.as_str() {
        bail!(
            "{} does not record {} as verified with sha256 {}: {file}",
            path.display(),
            payload.name,
            payload.sha256
        );
    }
    ensure!(
        fs::metadata(dest.join(&payload.name))?.len() == payload.size,
        "{} is not {} bytes",
        payload.name,
        payload.size
    );
    Ok(())
}
