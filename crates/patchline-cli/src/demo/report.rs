//! What the demo prints and writes: the builds as they run, each
//! environment's final versions, and `summary.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use patchline_concourse::Vars;
use patchline_ledger::{Event, Status};
use serde::Serialize;
use serde_json::Value;

use super::rehearsal::Build;
use super::world::Patch;
use super::{ENVIRONMENTS, LINES};

/// The outcome of a demo, as written to `summary.json`.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// The demo's folder.
    pub workdir: PathBuf,
    /// Each environment's final version per patch line, from the ledger.
    pub environments: BTreeMap<String, BTreeMap<String, String>>,
    /// Every build, in the order it ran.
    pub builds: Vec<BuildSummary>,
    /// Every ledger event, in time order.
    pub events: Vec<Event>,
}

/// One build in `summary.json`.
#[derive(Debug, Serialize)]
pub struct BuildSummary {
    job: String,
    build: u32,
    versions: BTreeMap<String, String>,
    status: &'static str,
    failure: Option<String>,
    log: PathBuf,
}

impl Summary {
    /// Summarise the builds and the ledger's events.
    pub fn new(workdir: &Path, builds: &[Build], events: Vec<Event>, vars: &Vars) -> Self {
        // The ledger names the patch line by the resource's feed location.
        let line_of = |event: &Event| {
            let uri = event.line.as_ref()?.get("uri")?.as_str()?;
            LINES
                .iter()
                .find(|line| vars.get(&format!("{line}_uri")).and_then(|v| v.as_str()) == Some(uri))
                .map(|line| line.to_string())
        };
        let mut environments: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for event in &events {
            if event.status == Status::Failed {
                continue;
            }
            if let Some(line) = line_of(event) {
                environments
                    .entry(event.environment.clone())
                    .or_default()
                    .insert(line, event.version.clone());
            }
        }
        Summary {
            workdir: workdir.to_path_buf(),
            environments,
            builds: builds.iter().map(BuildSummary::from).collect(),
            events,
        }
    }

    /// Print each environment's versions and the ledger's totals.
    pub fn print(&self) {
        println!("{:<12} {:<12} product", "environment", "stemcell");
        for environment in ENVIRONMENTS {
            let versions = self.environments.get(*environment);
            let version = |line: &str| {
                versions
                    .and_then(|v| v.get(line))
                    .map_or("-", String::as_str)
            };
            println!(
                "{:<12} {:<12} {}",
                environment,
                version("stemcell"),
                version("product")
            );
        }
        let count = |status: Status| self.events.iter().filter(|e| e.status == status).count();
        println!(
            "\nledger: {} events ({} applied, {} failed) in {}",
            self.events.len(),
            count(Status::Applied),
            count(Status::Failed),
            self.workdir.join("ledger.git").display()
        );
    }

    /// Write the summary as JSON, atomically.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        patchline_targets::write_atomically(path, &serde_json::to_vec_pretty(self)?)?;
        Ok(())
    }
}

impl From<&Build> for BuildSummary {
    fn from(build: &Build) -> Self {
        BuildSummary {
            job: build.job.clone(),
            build: build.number,
            versions: build
                .inputs
                .iter()
                .filter_map(|(resource, version)| {
                    version
                        .get("version")
                        .and_then(Value::as_str)
                        .map(|v| (resource.clone(), v.to_string()))
                })
                .collect(),
            status: if build.succeeded {
                "succeeded"
            } else {
                "failed"
            },
            failure: build.failure.clone(),
            log: build.dir.join("build.log"),
        }
    }
}

/// Print one line per build: job, number, patch version, result.
pub fn print_builds(builds: &[Build]) {
    for build in builds {
        let summary = BuildSummary::from(build);
        let version = LINES
            .iter()
            .find_map(|line| summary.versions.get(*line))
            .map_or("-", String::as_str);
        let result = match &build.failure {
            None => "succeeded".to_string(),
            Some(failure) => format!("FAILED {failure}"),
        };
        println!(
            "  {:<22} {:<10} {}",
            format!("{} #{}", build.job, build.number),
            version,
            result
        );
    }
    println!();
}

/// Say what a round released: `stemcell 621.123, product 2.4.3 (broken)`.
pub fn describe(patches: &[Patch]) -> String {
    patches
        .iter()
        .map(|patch| {
            format!(
                "{} {}{}",
                patch.line,
                patch.version,
                if patch.broken { " (broken)" } else { "" }
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}
