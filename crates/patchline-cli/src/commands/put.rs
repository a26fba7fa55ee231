//! `out`: stdin is the request, `$1` the build's folder of artifacts,
//! stdout the version recorded and where.

use std::ffi::OsString;
use std::process::ExitCode;

use patchline_resource::{put, read_request, OutRequest};

pub fn run(args: Vec<OsString>) -> anyhow::Result<ExitCode> {
    let build_dir = super::folder_argument(&args, "build folder")?;
    let request: OutRequest = read_request(std::io::stdin().lock())?;
    let response = put(&request, &build_dir)?;
    super::print_json(&response)
}
