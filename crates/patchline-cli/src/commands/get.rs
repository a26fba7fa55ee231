use std::ffi::OsString;
use std::process::ExitCode;

pub fn run(_args: Vec<OsString>) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not built yet")
}
