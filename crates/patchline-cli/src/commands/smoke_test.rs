//! The `smoke-test` task command: run the checks of a config against an
//! environment and say whether it still works.
//!
//! Exit 0 when every check passed, 1 when any failed, 2 when the flags or
//! the config are wrong (then nothing was checked).

use std::ffi::OsString;
use std::fs;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Parser;
use patchline_smoke::{Config, Expand};

/// The patch folder looked for when `--patch` is not given.
const DEFAULT_PATCH: &str = "patch";

/// Where the report goes when `--report` is not given.
const DEFAULT_REPORT: &str = "smoke-report";

/// Flags of `smoke-test`; each has an environment fallback so a Concourse
/// task can set it as a param. Empty values count as unset, because a task
/// param declared without a value reaches the process as an empty string;
/// paths are taken as `OsString` since clap's path parser refuses those.
#[derive(Parser, Debug)]
#[command(name = "smoke-test", about = "Check that an environment still works")]
struct Args {
    /// The checks as inline YAML.
    #[arg(long, env = "CHECKS", hide_env_values = true, value_name = "YAML")]
    checks: Option<String>,

    /// A file holding the checks as YAML.
    #[arg(long, env = "CHECKS_FILE", hide_env_values = true, value_name = "PATH")]
    checks_file: Option<OsString>,

    /// Where `junit.xml` and `summary.json` are written [default: smoke-report].
    #[arg(long, env = "REPORT_DIR", hide_env_values = true, value_name = "DIR")]
    report: Option<OsString>,

    /// The environment under test; names the JUnit test suite.
    #[arg(long, env = "ENVIRONMENT", hide_env_values = true, value_name = "NAME")]
    environment: Option<String>,

    /// A patch folder whose `version` file sets ${PATCHLINE_VERSION}
    /// (default: `patch` when that folder exists).
    #[arg(
        long = "patch",
        env = "PATCH_DIR",
        hide_env_values = true,
        value_name = "DIR"
    )]
    patch: Option<OsString>,
}

/// Run `smoke-test` with `args` (`args[0]` is the command name).
pub fn run(args: Vec<OsString>) -> anyhow::Result<ExitCode> {
    let args = match Args::try_parse_from(args) {
        Ok(args) => args,
        Err(err) if !err.use_stderr() => {
            // --help and --version are answers, not errors.
            print!("{err}");
            return Ok(ExitCode::SUCCESS);
        }
        Err(err) => return Ok(config_error(&clap_message(&err))),
    };

    let (config, environment) = match load(&args) {
        Ok(loaded) => loaded,
        Err(err) => return Ok(config_error(&format!("{err:#}"))),
    };

    eprintln!(
        "smoke-test: running {} check{} against {}",
        config.checks.len(),
        if config.checks.len() == 1 { "" } else { "s" },
        environment.as_deref().unwrap_or("the environment")
    );
    let report = patchline_smoke::run(&config, environment.as_deref(), |result| {
        eprintln!("{result}");
    });
    let report_dir = non_empty_path(&args.report).unwrap_or(Path::new(DEFAULT_REPORT));
    report.write(report_dir).context("--report")?;

    if report.passed() {
        Ok(ExitCode::SUCCESS)
    } else {
        let failed: Vec<&str> = report
            .checks
            .iter()
            .filter(|check| !check.passed)
            .map(|check| check.name.as_str())
            .collect();
        eprintln!(
            "smoke-test: {} of {} checks failed: {}",
            failed.len(),
            report.checks.len(),
            failed.join(", ")
        );
        Ok(ExitCode::FAILURE)
    }
}

/// Read the checks and the patch version, expanding the config with them.
fn load(args: &Args) -> anyhow::Result<(Config, Option<String>)> {
    let (flag, text) = match (non_empty(&args.checks), non_empty_path(&args.checks_file)) {
        (Some(text), None) => ("--checks", text.to_string()),
        (None, Some(path)) => (
            "--checks-file",
            fs::read_to_string(path)
                .with_context(|| format!("--checks-file: cannot read {}", path.display()))?,
        ),
        (Some(_), Some(_)) => {
            bail!("--checks and --checks-file (CHECKS, CHECKS_FILE): give only one")
        }
        (None, None) => bail!("--checks or --checks-file (CHECKS, CHECKS_FILE) is required"),
    };

    let mut vars = Expand::from_env();
    if let Some(version) = patch_version(non_empty_path(&args.patch))? {
        vars.set("PATCHLINE_VERSION", version);
    }
    let config = Config::from_yaml(&text, &vars).with_context(|| flag.to_string())?;
    Ok((config, non_empty(&args.environment).map(str::to_string)))
}

/// Read the version of the patch folder, if there is one to read.
fn patch_version(given: Option<&Path>) -> anyhow::Result<Option<String>> {
    let dir = match given {
        Some(dir) => dir,
        None if Path::new(DEFAULT_PATCH).is_dir() => Path::new(DEFAULT_PATCH),
        None => return Ok(None),
    };
    let file = dir.join("version");
    let version = fs::read_to_string(&file)
        .with_context(|| format!("--patch: cannot read {}", file.display()))?;
    let version = version.trim();
    if version.is_empty() {
        bail!("--patch: {} is empty", file.display());
    }
    Ok(Some(version.to_string()))
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|text| !text.is_empty())
}

fn non_empty_path(value: &Option<OsString>) -> Option<&Path> {
    value
        .as_deref()
        .filter(|path| !path.is_empty())
        .map(Path::new)
}

/// Report a problem found before any check ran; exit code 2 tells it apart
/// from a failed check.
fn config_error(message: &str) -> ExitCode {
    eprintln!("smoke-test: error: {message}");
    ExitCode::from(2)
}

/// Keep the first line of a clap error, which names the flag; the usage
/// text after it would break the one-line error rule.
fn clap_message(err: &clap::Error) -> String {
    let text = err.to_string();
    let first = text
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("invalid arguments");
    first.trim_start_matches("error: ").trim().to_string()
}
