//! `check` against curl: the same index document fetched by
//! `curl -o /dev/null` and read by `check`, cold and warm.
//!
//! `check` keeps answers for conditional requests in
//! `$TMPDIR/patchline-cache`. A cold run gets an empty `TMPDIR` of its own,
//! so it fetches the whole document as the first check of a container
//! does; a warm run keeps one primed folder, so the server answers `304`
//! and `check` reads the document from its cache, as every later check
//! of a container does.

use std::path::Path;

use anyhow::{ensure, Context, Result};
use serde_json::{json, Value};

use crate::fixtures::CheckIndex;
use crate::measure::{self, Sample, Stats};
use crate::{fresh_folder, settle, Setup};

/// How many versions before the latest the "current version" run starts.
pub const BEHIND: usize = 10;

/// The figures of the index.
pub struct Checks {
    /// The document's size in bytes.
    pub bytes: u64,
    pub curl: Stats,
    /// No current version: the latest only.
    pub latest: Stats,
    /// A current version [`BEHIND`] before the latest: it and every newer.
    pub behind: Stats,
    /// The latest again, answered `304` from the cache.
    pub warm: Stats,
    /// How many warm runs the server answered `304`, of how many.
    pub warm_not_modified: (u64, usize),
}

#[derive(Clone, Copy)]
enum Contender {
    Curl,
    Latest,
    Behind,
    Warm,
}

const CONTENDERS: [Contender; 4] = [
    Contender::Curl,
    Contender::Latest,
    Contender::Behind,
    Contender::Warm,
];

/// Measure `check` of `index` against fetching it with curl.
pub fn measure(setup: &Setup, index: &CheckIndex) -> Result<Checks> {
    let url = setup.server.url(&index.name);
    let source = json!({"feed": "index", "uri": url});
    let latest_request = serde_json::to_vec(&json!({"source": source, "version": null}))?;
    let from = index.versions.len().saturating_sub(BEHIND + 1);
    let behind_request = serde_json::to_vec(&json!({
        "source": source,
        "version": {"version": index.versions[from]},
    }))?;
    let latest_answer = &index.versions[index.versions.len() - 1..];
    let behind_answer = &index.versions[from..];

    let cold = setup.runs.join("check-cold");
    let warm = setup.runs.join("check-warm");
    fresh_folder(&warm)?;
    let (_, stdout) = check(
        setup,
        &latest_request,
        &warm,
        &setup.logs.join("check-prime"),
    )?;
    expect_versions(&stdout, latest_answer)?;

    let mut samples: [Vec<Sample>; 4] = Default::default();
    let not_modified_before = setup.server.not_modified();
    for round in 0..setup.rounds {
        for turn in 0..CONTENDERS.len() {
            let which = (round + turn) % CONTENDERS.len();
            let contender = CONTENDERS[which];
            let logs = setup.logs.join(format!(
                "{}-{}",
                name(contender).replace(' ', "-"),
                round + 1
            ));
            fresh_folder(&cold)?;
            settle();

            let sample = match contender {
                Contender::Curl => {
                    measure::once(
                        measure::command("curl").args(["-sS", "-o", "/dev/null", &url]),
                        b"",
                        &logs,
                    )?
                    .0
                }
                Contender::Latest => {
                    let (sample, stdout) = check(setup, &latest_request, &cold, &logs)?;
                    expect_versions(&stdout, latest_answer)?;
                    sample
                }
                Contender::Behind => {
                    let (sample, stdout) = check(setup, &behind_request, &cold, &logs)?;
                    expect_versions(&stdout, behind_answer)?;
                    sample
                }
                Contender::Warm => {
                    let (sample, stdout) = check(setup, &latest_request, &warm, &logs)?;
                    expect_versions(&stdout, latest_answer)?;
                    sample
                }
            };
            eprintln!(
                "{}, round {} of {}: {:.3} s, peak {:.1} MiB",
                name(contender),
                round + 1,
                setup.rounds,
                sample.wall.as_secs_f64(),
                sample.peak_kib as f64 / 1024.0
            );
            samples[which].push(sample);
        }
    }

    let not_modified = setup.server.not_modified() - not_modified_before;
    let [curl, latest, behind, warm] = samples.map(|runs| Stats::of(&runs));
    Ok(Checks {
        bytes: index.bytes,
        curl,
        latest,
        behind,
        warm,
        warm_not_modified: (not_modified, setup.rounds),
    })
}

fn name(contender: Contender) -> &'static str {
    match contender {
        Contender::Curl => "curl index",
        Contender::Latest => "check latest cold",
        Contender::Behind => "check behind cold",
        Contender::Warm => "check latest warm",
    }
}

/// Run `check` with `tmp` as its `TMPDIR`.
fn check(setup: &Setup, request: &[u8], tmp: &Path, logs: &Path) -> Result<(Sample, Vec<u8>)> {
    measure::once(
        measure::command(&setup.check_link).env("TMPDIR", tmp),
        request,
        logs,
    )
}

/// Check that `check` answered exactly `expected`, oldest first.
fn expect_versions(stdout: &[u8], expected: &[String]) -> Result<()> {
    let answer: Vec<Value> =
        serde_json::from_slice(stdout).context("check: stdout is not a JSON list")?;
    let versions: Vec<&str> = answer
        .iter()
        .map(|v| v["version"].as_str().unwrap_or_default())
        .collect();
    ensure!(
        versions == expected,
        "check answered {versions:?}, expected {expected:?}"
    );
    Ok(())
}
