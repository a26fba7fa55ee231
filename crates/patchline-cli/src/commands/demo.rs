//! `patchline demo`: rehearse the upgrade pipeline on a built-in sample.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Rehearse pipelines/upgrade.yml end to end on a sample product and
/// stemcell served over loopback HTTP.
#[derive(Debug, Parser)]
#[command(name = "patchline demo")]
struct Args {
    /// Folder for the feeds, environments, ledger and builds; created if
    /// missing, cleared if an earlier demo made it
    #[arg(long, value_name = "DIR")]
    workdir: PathBuf,
}

pub fn run(args: Vec<OsString>) -> anyhow::Result<ExitCode> {
    let args = match Args::try_parse_from(args) {
        Ok(args) => args,
        Err(err) => {
            // --help is an answer (exit 0); a bad argument is not (exit 2).
            let _ = err.print();
            return Ok(ExitCode::from(err.exit_code() as u8));
        }
    };
    crate::demo::run(&args.workdir)?;
    Ok(ExitCode::SUCCESS)
}
