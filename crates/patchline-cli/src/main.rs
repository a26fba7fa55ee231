//! The one `patchline` executable.
//!
//! Concourse runs `/opt/resource/check`, `in` and `out`, and pipelines run
//! `apply` and `smoke-test` as task commands. All of them are this binary
//! under another name (a link): the name it was started as picks the
//! command, and `patchline <command>` works the same way. One binary keeps
//! the image small and every command on the same code.

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

mod commands;
mod demo;

/// A `check` of a large feed builds and frees hundreds of thousands of
/// small strings; mimalloc does that several times faster than glibc's
/// allocator (see docs/benchmark.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The commands that can be started through a link of their own name.
const LINKED: &[&str] = &["check", "in", "out", "apply", "smoke-test"];

fn main() -> ExitCode {
    // Die quietly when a reader closes the pipe (`patchline demo | head`),
    // as other command-line tools do, instead of panicking on the write.
    // SAFETY: resetting a signal to its default action before any thread
    // starts has no memory-safety requirements.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }

    let mut args: Vec<OsString> = std::env::args_os().collect();
    let invoked = args
        .first()
        .and_then(|arg0| Path::new(arg0).file_name())
        .and_then(|name| name.to_str())
        .unwrap_or("patchline")
        .to_string();

    let command = if LINKED.contains(&invoked.as_str()) {
        invoked
    } else {
        args.remove(0);
        match args.first().and_then(|arg| arg.to_str()) {
            Some(name) => name.to_string(),
            None => {
                eprintln!("{}", commands::USAGE);
                return ExitCode::from(2);
            }
        }
    };

    match commands::run(&command, args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("{command}: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
