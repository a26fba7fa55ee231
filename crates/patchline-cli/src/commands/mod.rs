//! One module per command; each parses its input, calls one library
//! function and prints the result.

use std::ffi::OsString;
use std::process::ExitCode;

mod apply;
mod check;
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
        other => anyhow::bail!("unknown command {other:?}; {USAGE}"),
    }
}
