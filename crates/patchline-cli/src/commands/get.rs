//! `in`: stdin is the request, `$1` the destination folder, stdout the
//! version fetched and its metadata.

use std::ffi::OsString;
use std::process::ExitCode;

use patchline_resource::{get, read_request, InRequest};

pub fn run(args: Vec<OsString>) -> anyhow::Result<ExitCode> {
    let dest = super::folder_argument(&args, "destination")?;
    let request: InRequest = read_request(std::io::stdin().lock())?;
    let response = get(&request, &dest)?;
    super::print_json(&response)
}
