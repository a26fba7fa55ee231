//! `check`: stdin is the request, stdout the versions, oldest first.

use std::ffi::OsString;
use std::process::ExitCode;

use patchline_resource::{check, read_request, CheckRequest};

pub fn run(_args: Vec<OsString>) -> anyhow::Result<ExitCode> {
    let request: CheckRequest = read_request(std::io::stdin().lock())?;
    let versions = check(&request)?;
    super::print_json(&versions)
}
