//! One module per command; each parses its input, calls one library
//! function and prints the result.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

mod apply;
mod check;
mod demo;
mod get;
mod put;
mod smoke_test;

/// What `patchline` prints when it is started without a command.
pub const USAGE: &str = "usage: patchline <check|in|out|apply|smoke-test|demo> [args...]";

/// Run `command` with `args` (`args[0]` is the command name itself).
pub fn run(command: &str, args: Vec<OsString>) -> anyhow::Result<ExitCode> {
    match command {
        "check" => check::run(args),
        "in" => get::run(args),
        "out" => put::run(args),
        "apply" => apply::run(args),
        "smoke-test" => smoke_test::run(args),
        "demo" => demo::run(args),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        "version" | "--version" | "-V" => {
            println!("patchline {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        other => anyhow::bail!("unknown command {other:?}; {USAGE}"),
    }
}

/// Print `value` as the one JSON document on stdout.
fn print_json(value: &impl serde::Serialize) -> anyhow::Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer(&mut stdout, value)?;
    writeln!(stdout)?;
    Ok(ExitCode::SUCCESS)
}

/// Return the folder Concourse passes as `$1` to `in` and `out`.
fn folder_argument(args: &[OsString], what: &str) -> anyhow::Result<PathBuf> {
    match args.get(1) {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => {
            let command = std::path::Path::new(&args[0])
                .file_name()
                .unwrap_or_default();
            anyhow::bail!(
                "$1: missing the {what} argument (usage: {} <{what}>)",
                command.to_string_lossy()
            )
        }
    }
}
