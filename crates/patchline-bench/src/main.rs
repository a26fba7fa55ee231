//! The benchmark of the patchline resource: how `in` (download and
//! verify) and `check` compare with curl doing the bare transfer.
//!
//! A local server ([`server`]) serves release files and index documents
//! made once in the workdir ([`fixtures`]). The release `patchline`
//! binary runs through links named `in` and `check`, exactly as Concourse
//! starts it, against `curl -o`, `curl -o` followed by `sha256sum`, and
//! curl fetching the index ([`download`], [`check`]). Each contender runs
//! a few times; the table gives medians and peak memory ([`measure`],
//! [`report`]). Missing a target is a result, not a failure: the exit
//! code is non-zero only when something could not run.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Parser;
use patchline_transport::human_bytes;

mod check;
mod download;
mod fixtures;
mod measure;
mod report;
mod server;

use server::Server;

#[derive(Parser)]
#[command(
    name = "patchline-bench",
    about = "Measure patchline's `in` and `check` against curl on a local server"
)]
struct Options {
    /// Where the served files, links and downloads go. Release files found
    /// there from an earlier run are reused. Default: a temporary folder,
    /// removed at the end.
    #[arg(long)]
    workdir: Option<PathBuf>,

    /// Sizes of the release files `in` downloads, e.g. 2G,8G: the first
    /// holds pseudo-random bytes, every other one is a sparse file of zeros.
    /// Default: 2G,8G (64M,256M with --quick).
    #[arg(long, value_delimiter = ',', value_parser = fixtures::parse_size)]
    sizes: Option<Vec<u64>>,

    /// Versions in the index `check` reads. Default: 5000 (500 with --quick).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    versions: Option<u32>,

    /// Files of each version in that index.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    files: u32,

    /// Runs of each contender; the median is reported.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,

    /// A small run that takes seconds: the defaults become 64M,256M and
    /// 500 versions.
    #[arg(long)]
    quick: bool,
}

/// What every measurement shares.
pub struct Setup {
    pub server: Server,
    /// The link named `in` to the patchline binary.
    pub in_link: PathBuf,
    /// The link named `check` to the patchline binary.
    pub check_link: PathBuf,
    /// Where downloads and `check`'s temporary folders go.
    pub runs: PathBuf,
    /// Where each run's stdout and stderr are kept.
    pub logs: PathBuf,
    /// Runs of each contender.
    pub rounds: usize,
}

fn main() -> ExitCode {
    let options = Options::parse();
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("patchline-bench: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(options: &Options) -> Result<()> {
    let sizes = options.sizes.clone().unwrap_or_else(|| {
        if options.quick {
            vec![64 << 20, 256 << 20]
        } else {
            vec![2 << 30, 8 << 30]
        }
    });
    for (i, size) in sizes.iter().enumerate() {
        if sizes[..i].contains(size) {
            bail!("--sizes: {} is given twice", fixtures::size_label(*size));
        }
    }
    let versions = options
        .versions
        .unwrap_or(if options.quick { 500 } else { 5000 }) as usize;
    let patchline = release_binary()?;

    let temporary;
    let workdir = match &options.workdir {
        Some(dir) => dir.clone(),
        None => {
            temporary = tempfile::Builder::new()
                .prefix("patchline-bench-")
                .tempdir()
                .context("cannot make a temporary workdir")?;
            temporary.path().to_path_buf()
        }
    };
    let workdir = std::path::absolute(&workdir).context("--workdir")?;
    let files = workdir.join("files");
    let bin = workdir.join("bin");
    for dir in [&files, &bin] {
        fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
    }
    let in_link = link(&patchline, &bin, "in")?;
    let check_link = link(&patchline, &bin, "check")?;
    let rounds = options.runs as usize;

    println!(
        "patchline benchmark: {}, {} CPUs, median of {rounds} runs, workdir {}",
        patchline.display(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        workdir.display()
    );
    let mut payloads = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        let (payload, prepared) = fixtures::payload(&files, size, i > 0, &format!("{}.0.0", i + 1))
            .with_context(|| format!("cannot make the {} release file", human_bytes(size)))?;
        println!(
            "release file {} ({}, {}): {} in {:.1} s, sha256 {}",
            payload.name,
            human_bytes(size),
            if payload.sparse {
                "sparse"
            } else {
                "pseudo-random"
            },
            if prepared.reused {
                "reused"
            } else {
                "made and hashed"
            },
            prepared.took.as_secs_f64(),
            payload.sha256
        );
        payloads.push(payload);
    }
    let in_index =
        fixtures::write_in_index(&files, &payloads).context("cannot write the in index")?;
    let started = std::time::Instant::now();
    let index = fixtures::write_check_index(&files, versions, options.files as usize)
        .context("cannot write the check index")?;
    println!(
        "check index {} ({}, {versions} versions of {} files): made in {:.1} s",
        index.name,
        human_bytes(index.bytes),
        options.files,
        started.elapsed().as_secs_f64()
    );
    println!();

    let setup = Setup {
        server: Server::start(&files).context("cannot start the file server")?,
        in_link,
        check_link,
        runs: workdir.join("runs"),
        logs: workdir.join("logs"),
        rounds,
    };
    for dir in [&setup.runs, &setup.logs] {
        fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
    }
    let downloads = payloads
        .iter()
        .map(|payload| download::measure(&setup, payload, &in_index))
        .collect::<Result<Vec<_>>>()?;
    let checks = check::measure(&setup, &index)?;
    print!("{}", report::render(&downloads, &checks));
    Ok(())
}

/// Find the release `patchline` binary in the target folder this
/// benchmark was built in, whichever profile the benchmark itself has.
fn release_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find this executable")?;
    let target = exe
        .parent()
        .and_then(Path::parent)
        .context("this executable is not in a cargo target folder")?;
    let binary = target.join("release").join("patchline");
    if !binary.is_file() {
        bail!(
            "no release build of patchline at {}: run `cargo build --release --bin patchline` first",
            binary.display()
        );
    }
    Ok(binary)
}

/// Link `bin/<name>` to `patchline`: the name picks the command.
fn link(patchline: &Path, bin: &Path, name: &str) -> Result<PathBuf> {
    let path = bin.join(name);
    let _ = fs::remove_file(&path);
    std::os::unix::fs::symlink(patchline, &path)
        .with_context(|| format!("cannot link {} to {}", path.display(), patchline.display()))?;
    Ok(path)
}

/// Make `folder` exist and be empty.
pub fn fresh_folder(folder: &Path) -> Result<()> {
    match fs::remove_dir_all(folder) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
            return Err(err).with_context(|| format!("cannot empty {}", folder.display()))
        }
        _ => {}
    }
    fs::create_dir_all(folder).with_context(|| format!("cannot make {}", folder.display()))
}

/// Write out the dirty pages a run left behind, untimed, so no contender
/// pays for another's writes.
pub fn settle() {
    // SAFETY: sync takes no arguments and cannot fail.
    unsafe { libc::sync() };
}
