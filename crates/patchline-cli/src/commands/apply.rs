//! `apply` task: apply a fetched patch to one environment and record what
//! happened in the output folder, also when it fails.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Parser;
use patchline_targets::{
    check_environment_name, parse_duration, run as apply, Action, ApplyRequest, Clock, Patch,
    TargetConfig,
};

// The environment fallbacks are read by `run`, not by clap: Concourse sets
// a param declared without a value to the empty string, which must count
// as unset.

/// Apply a patch folder to an environment through a target.
///
/// Every flag falls back to the environment variable named in its help so
/// that a Concourse task can set it as a param.
#[derive(Debug, Parser)]
#[command(name = "apply", version)]
struct Args {
    /// Name of the environment to change, e.g. sandbox [env: ENVIRONMENT]
    #[arg(long, value_name = "NAME")]
    environment: Option<String>,

    /// Patch folder written by a `get` of the patchline resource [env: PATCH_DIR] [default: patch]
    #[arg(long, value_name = "DIR")]
    patch: Option<PathBuf>,

    /// Target config as inline YAML or JSON [env: TARGET]
    #[arg(long, value_name = "YAML")]
    target: Option<String>,

    /// File holding the target config [env: TARGET_FILE]
    #[arg(long, value_name = "PATH")]
    target_file: Option<PathBuf>,

    /// Folder to write version, version.json and apply.json into [env: OUTPUT_DIR] [default: applied]
    #[arg(long, value_name = "DIR")]
    output: Option<PathBuf>,

    /// Install the patch again from scratch even if it is deployed [env: REPAVE=true]
    #[arg(long)]
    repave: bool,

    /// Go back to the previously deployed version [env: ROLLBACK=true]
    #[arg(long)]
    rollback: bool,

    /// How long to wait while another apply holds the environment [env: LOCK_TIMEOUT] [default: 10m]
    #[arg(long, value_name = "DUR")]
    lock_timeout: Option<String>,
}

/// Run `apply` with `args` (`args[0]` is the command name).
pub fn run(args: Vec<OsString>) -> anyhow::Result<ExitCode> {
    let args = match Args::try_parse_from(args) {
        Ok(args) => args,
        Err(err) if !err.use_stderr() => {
            // --help and --version are answers, not errors.
            err.print().context("cannot print help")?;
            return Ok(ExitCode::SUCCESS);
        }
        Err(err) => bail!("{}", one_line(&err.to_string())),
    };
    let request = request(&args)?;
    let output = path_or_env(args.output.clone(), "OUTPUT_DIR").unwrap_or_else(|| "applied".into());

    let record = apply(&request);
    record
        .write(&output)
        .with_context(|| format!("--output (OUTPUT_DIR) {}", output.display()))?;
    if record.failed() {
        bail!("{}", record.detail);
    }
    Ok(ExitCode::SUCCESS)
}

/// Validate the inputs into a request; nothing is touched yet.
fn request(args: &Args) -> anyhow::Result<ApplyRequest> {
    let Some(environment) = or_env(args.environment.clone(), "ENVIRONMENT") else {
        bail!("--environment (ENVIRONMENT) is missing: name the environment to apply to");
    };
    if let Err(reason) = check_environment_name(&environment) {
        bail!("--environment (ENVIRONMENT): {reason}");
    }

    let repave = args.repave || switch_env("REPAVE")?;
    let rollback = args.rollback || switch_env("ROLLBACK")?;
    let action = match (repave, rollback) {
        (true, true) => {
            bail!("--repave (REPAVE) and --rollback (ROLLBACK) exclude each other; give one")
        }
        (true, false) => Action::Repave,
        (false, true) => Action::Rollback,
        (false, false) => Action::Apply,
    };

    let target_file = path_or_env(args.target_file.clone(), "TARGET_FILE");
    let config = match (or_env(args.target.clone(), "TARGET"), target_file) {
        (Some(text), None) => TargetConfig::parse(&text).context("--target (TARGET)")?,
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "--target-file (TARGET_FILE) {}: cannot read it",
                    path.display()
                )
            })?;
            TargetConfig::parse(&text)
                .with_context(|| format!("--target-file (TARGET_FILE) {}", path.display()))?
        }
        (Some(_), Some(_)) => {
            bail!("--target (TARGET) and --target-file (TARGET_FILE) exclude each other; give one")
        }
        (None, None) => bail!(
            "--target (TARGET) or --target-file (TARGET_FILE) is missing: give the target config"
        ),
    };

    let patch = Patch::read(
        &path_or_env(args.patch.clone(), "PATCH_DIR").unwrap_or_else(|| "patch".into()),
    )
    .context("--patch (PATCH_DIR)")?;
    let lock_timeout =
        or_env(args.lock_timeout.clone(), "LOCK_TIMEOUT").unwrap_or_else(|| "10m".into());
    let lock_timeout = parse_duration(&lock_timeout)
        .map_err(|reason| anyhow::anyhow!("--lock-timeout (LOCK_TIMEOUT): {reason}"))?;

    Ok(ApplyRequest {
        environment,
        patch,
        config,
        action,
        lock_timeout,
        clock: clock()?,
    })
}

/// Return the clock: `PATCHLINE_NOW` (RFC 3339) fixes "now" to rehearse a
/// change window; otherwise the system clock.
fn clock() -> anyhow::Result<Clock> {
    match std::env::var("PATCHLINE_NOW") {
        Ok(text) if !text.is_empty() => {
            Clock::fixed(&text).map_err(|reason| anyhow::anyhow!("PATCHLINE_NOW: {reason}"))
        }
        _ => Ok(Clock::System),
    }
}

/// Return the flag's value, else the non-empty value of the variable `name`.
fn or_env(flag: Option<String>, name: &str) -> Option<String> {
    flag.filter(|value| !value.is_empty())
        .or_else(|| std::env::var(name).ok().filter(|value| !value.is_empty()))
}

/// Return the flag's path, else the non-empty path in the variable `name`.
fn path_or_env(flag: Option<PathBuf>, name: &str) -> Option<PathBuf> {
    flag.filter(|path| !path.as_os_str().is_empty())
        .or_else(|| {
            std::env::var_os(name)
                .filter(|value| !value.is_empty())
                .map(PathBuf::from)
        })
}

/// Read a yes/no param such as `REPAVE`; unset or empty means no.
fn switch_env(name: &str) -> anyhow::Result<bool> {
    let value = std::env::var(name).unwrap_or_default();
    match value.trim().to_ascii_lowercase().as_str() {
        "" | "false" | "no" | "0" | "off" => Ok(false),
        "true" | "yes" | "1" | "on" => Ok(true),
        _ => bail!("{name} {value:?} is neither true nor false"),
    }
}

/// Squeeze a clap error (headline, usage, hint) into its first line.
fn one_line(message: &str) -> String {
    let first = message
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or(message);
    first.trim().trim_start_matches("error: ").to_string()
}
