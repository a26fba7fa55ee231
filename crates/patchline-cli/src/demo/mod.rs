//! `patchline demo`: the upgrade machine, rehearsed end to end on this
//! machine with nothing to install.
//!
//! A sample product and stemcell publish patches over loopback HTTP in
//! three rounds; `pipelines/upgrade.yml` (the repository's own, built in)
//! is rehearsed against them: every patch checked, fetched, applied to
//! sandbox, smoke-tested and recorded in a git ledger, promoted to dev,
//! and finally the review-window switch sends what dev passed to
//! production, one patch line at a time. One patch is broken on purpose:
//! it fails its smoke test in sandbox and never reaches dev.

mod rehearsal;
mod report;
mod world;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use chrono::{Datelike, Utc};
use patchline_concourse::{Pipeline, Vars};
use serde_yaml_ng::{Mapping, Value};

use rehearsal::Rehearsal;
pub use report::Summary;
use world::World;

/// The pipeline rehearsed, as the repository ships it.
const PIPELINE: &str = include_str!("../../../../pipelines/upgrade.yml");
/// The task configs its `patchline` git resource provides.
const TASKS: &[(&str, &str)] = &[
    (
        "ci/tasks/apply.yml",
        include_str!("../../../../ci/tasks/apply.yml"),
    ),
    (
        "ci/tasks/smoke-test.yml",
        include_str!("../../../../ci/tasks/smoke-test.yml"),
    ),
];
/// Marks a folder as made by the demo, so a rerun may clear it.
const MARKER: &str = ".patchline-demo";
/// The commands the pipeline's resource and tasks run.
const COMMANDS: &[&str] = &["check", "in", "out", "apply", "smoke-test"];
const LINES: &[&str] = &["stemcell", "product"];
const ENVIRONMENTS: &[&str] = &["sandbox", "dev", "production"];

/// Run the demo in `workdir`; print the story as it happens and return
/// the summary also written to `workdir/summary.json`.
pub fn run(workdir: &Path) -> anyhow::Result<Summary> {
    prepare(workdir)?;
    let workdir = workdir.canonicalize()?;
    let bin = link_commands(&workdir)?;
    let ledger = workdir.join("ledger.git");
    git(
        &["init", "--quiet", "--bare", "--initial-branch=main"],
        &ledger,
    )?;
    let repository = workdir.join("patchline-repo");
    for (path, text) in TASKS {
        let file = repository.join(path);
        fs::create_dir_all(file.parent().expect("task files live in ci/tasks"))?;
        fs::write(file, text)?;
    }

    let mut world = World::start(&workdir)?;
    let vars = demo_vars(&world, &ledger);
    let pipeline = Pipeline::from_yaml(PIPELINE, Some(&vars)).context("pipelines/upgrade.yml")?;
    let mut rehearsal = Rehearsal::new(
        pipeline,
        "upgrade",
        &bin,
        &workdir.join("builds"),
        BTreeMap::from([("patchline".to_string(), repository)]),
    );

    println!(
        "patchline demo: rehearsing pipelines/upgrade.yml in {}",
        workdir.display()
    );
    println!(
        "feeds and environment health served at {}\n",
        world.base_url()
    );
    for (round, patches) in world::ROUNDS.iter().enumerate() {
        world.release(patches)?;
        println!(
            "round {}: released {}",
            round + 1,
            report::describe(patches)
        );
        rehearsal.check_all()?;
        let builds = rehearsal.settle()?;
        report::print_builds(&builds);
    }

    println!(
        "review window open: the switch sends what dev passed to production, each line on its own"
    );
    let mut production = Vec::new();
    for line in LINES {
        if let Some(build) = rehearsal.trigger(&format!("production-{line}"))? {
            production.push(build);
        }
    }
    report::print_builds(&production);
    drop(world);

    let scratch = tempfile::tempdir_in(&workdir)?;
    let events = patchline_ledger::read_ledger(
        &patchline_ledger::LedgerConfig::new(ledger.to_string_lossy()),
        scratch.path(),
    )?;
    let summary = Summary::new(&workdir, rehearsal.builds(), events, &vars);
    summary.print();
    summary.write(&workdir.join("summary.json"))?;
    println!("\nsummary: {}", workdir.join("summary.json").display());
    Ok(summary)
}

/// Make `workdir` an empty folder of the demo's, refusing to clear a
/// folder the demo did not make.
fn prepare(workdir: &Path) -> anyhow::Result<()> {
    if workdir.exists() {
        let empty = fs::read_dir(workdir)
            .with_context(|| format!("--workdir: cannot read {}", workdir.display()))?
            .next()
            .is_none();
        if !empty {
            if !workdir.join(MARKER).exists() {
                bail!(
                    "--workdir: {} is not empty and was not made by patchline demo; give a new or empty folder",
                    workdir.display()
                );
            }
            fs::remove_dir_all(workdir)
                .with_context(|| format!("--workdir: cannot clear {}", workdir.display()))?;
        }
    }
    fs::create_dir_all(workdir)
        .with_context(|| format!("--workdir: cannot create {}", workdir.display()))?;
    fs::write(
        workdir.join(MARKER),
        "made by patchline demo; a rerun clears this folder\n",
    )?;
    Ok(())
}

/// Link every command to this executable, as the image does.
fn link_commands(workdir: &Path) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the patchline executable")?;
    let bin = workdir.join("bin");
    fs::create_dir_all(&bin)?;
    for command in COMMANDS {
        std::os::unix::fs::symlink(&exe, bin.join(command))?;
    }
    Ok(bin)
}

fn git(args: &[&str], dir: &Path) -> anyhow::Result<()> {
    let output = Command::new("git")
        .args(args)
        .arg(dir)
        .output()
        .context("cannot run git (is it installed?)")?;
    if !output.status.success() {
        bail!(
            "git {}: {}",
            args[0],
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// The pipeline vars of the sample world: what an operator's vars file
/// holds, pointing at the loopback feeds, the ledger and local targets.
fn demo_vars(world: &World, ledger: &Path) -> Vars {
    let text = |s: &str| Value::String(s.to_string());
    let map = |pairs: Vec<(&str, Value)>| {
        Value::Mapping(
            pairs
                .into_iter()
                .map(|(k, v)| (text(k), v))
                .collect::<Mapping>(),
        )
    };
    // The window is today, all day, so the rehearsal's switch is inside it.
    let today = patchline_targets::day_name(Utc::now().weekday());
    let window = map(vec![
        ("days", Value::Sequence(vec![text(today)])),
        ("start", text("00:00")),
        ("stop", text("23:59")),
        ("location", text("UTC")),
    ]);

    let mut vars = Vars::new();
    let mut set = |name: &str, value: Value| vars.set(name, value);
    set("patchline_image", text("patchline"));
    set("patchline_tag", text("latest"));
    set("patchline_git_uri", text("rehearsal"));
    set("patchline_git_branch", text("main"));
    set("stemcell_feed", text("metalink"));
    set(
        "stemcell_uri",
        text(&world.stemcell_repository().to_string_lossy()),
    );
    set("stemcell_version", text("621.x"));
    set(
        "stemcell_files",
        Value::Sequence(vec![text("*vsphere-esxi*")]),
    );
    set("product_feed", text("index"));
    set("product_uri", text(&world.product_index_url()));
    set("product_version", text("~2.4"));
    set(
        "product_files",
        Value::Sequence(vec![text(&format!("{}-*", world::PRODUCT))]),
    );
    set("ledger_uri", text(&ledger.to_string_lossy()));
    set("ledger_branch", text("main"));
    set("ledger_private_key", text(""));
    set("review_day", text(today));
    set("review_start", text("00:00"));
    set("review_stop", text("23:59"));
    set("review_location", text("UTC"));
    for environment in ENVIRONMENTS {
        let targets = LINES
            .iter()
            .map(|line| {
                let mut target = vec![
                    ("kind", text("local")),
                    (
                        "root",
                        text(&world.environment_root(environment, line).to_string_lossy()),
                    ),
                    ("keep", Value::Number(3.into())),
                ];
                if *environment == "production" {
                    target.push(("change_window", window.clone()));
                }
                (*line, map(target))
            })
            .collect();
        set(&format!("{environment}_target"), map(targets));
        let checks = LINES
            .iter()
            .map(|line| {
                let health = map(vec![
                    ("url", text(&world.health_url(environment, line))),
                    ("status", Value::Number(200.into())),
                    ("body_contains", text("${PATCHLINE_VERSION} healthy")),
                ]);
                let check = map(vec![("name", text("health")), ("http", health)]);
                (
                    *line,
                    map(vec![
                        ("deadline", text("3s")),
                        ("checks", Value::Sequence(vec![check])),
                    ]),
                )
            })
            .collect();
        set(&format!("{environment}_checks"), map(checks));
    }
    vars
}
