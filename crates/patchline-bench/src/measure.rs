//! Running a contender once: the wall time from start to exit, and the
//! peak memory of that very process.
//!
//! The child is reaped with `wait4(2)`, which returns the resource usage
//! of that one process; `getrusage(RUSAGE_CHILDREN)` would report the
//! largest of every child so far instead.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// One run of one contender.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub wall: Duration,
    /// The peak resident set size, in KiB.
    pub peak_kib: u64,
}

impl Sample {
    /// Combine two runs made one after the other: their times add up,
    /// the peak is the larger.
    pub fn then(self, next: Sample) -> Sample {
        Sample {
            wall: self.wall + next.wall,
            peak_kib: self.peak_kib.max(next.peak_kib),
        }
    }
}

/// The median time and the highest peak of a contender's runs.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    pub median: Duration,
    pub peak_kib: u64,
}

impl Stats {
    /// Summarize the runs of one contender.
    pub fn of(samples: &[Sample]) -> Stats {
        let mut walls: Vec<Duration> = samples.iter().map(|s| s.wall).collect();
        walls.sort();
        let middle = walls.len() / 2;
        let median = if walls.len() % 2 == 1 {
            walls[middle]
        } else {
            (walls[middle - 1] + walls[middle]) / 2
        };
        Stats {
            median,
            peak_kib: samples.iter().map(|s| s.peak_kib).max().unwrap_or(0),
        }
    }

    /// Return this median divided by `other`'s.
    pub fn ratio(&self, other: &Stats) -> f64 {
        self.median.as_secs_f64() / other.median.as_secs_f64()
    }

    /// Return the peak in MiB.
    pub fn peak_mib(&self) -> f64 {
        self.peak_kib as f64 / 1024.0
    }
}

/// Prepare to run `program` as every contender runs: in the same
/// environment, minus proxy settings, so no request leaves loopback
/// through a proxy.
pub fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new(program);
    for name in PROXY_VARIABLES {
        command.env_remove(name);
    }
    command
}

const PROXY_VARIABLES: [&str; 8] = [
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
];

/// Run `command` with `stdin` as its input until it exits, its stdout and
/// stderr going to `<logs>.out` and `<logs>.err`. Returns the sample and
/// the stdout; a failed exit is an error quoting the last stderr line.
pub fn once(command: &mut Command, stdin: &[u8], logs: &Path) -> Result<(Sample, Vec<u8>)> {
    let with_suffix = |suffix: &str| {
        let mut path = logs.as_os_str().to_os_string();
        path.push(suffix);
        std::path::PathBuf::from(path)
    };
    let out_path = with_suffix(".out");
    let err_path = with_suffix(".err");
    let program = command.get_program().to_string_lossy().into_owned();
    command
        .stdin(if stdin.is_empty() {
            Stdio::null()
        } else {
            Stdio::piped()
        })
        .stdout(File::create(&out_path).with_context(|| out_path.display().to_string())?)
        .stderr(File::create(&err_path).with_context(|| err_path.display().to_string())?);

    let started = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start {program}"))?;
    if let Some(mut input) = child.stdin.take() {
        input
            .write_all(stdin)
            .with_context(|| format!("{program}: cannot write its stdin"))?;
    }
    let (status, usage) = wait4(child.id() as libc::pid_t)
        .with_context(|| format!("{program}: cannot wait for it"))?;
    let wall = started.elapsed();

    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        let how = if libc::WIFEXITED(status) {
            format!("exited with {}", libc::WEXITSTATUS(status))
        } else {
            format!("was killed by signal {}", libc::WTERMSIG(status))
        };
        let stderr = fs::read_to_string(&err_path).unwrap_or_default();
        let last = stderr.lines().last().unwrap_or("(nothing on stderr)");
        bail!("{program} {how}: {last}");
    }
    let stdout = fs::read(&out_path).with_context(|| out_path.display().to_string())?;
    let sample = Sample {
        wall,
        // Linux counts ru_maxrss in KiB.
        peak_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
    };
    Ok((sample, stdout))
}

fn wait4(pid: libc::pid_t) -> io::Result<(libc::c_int, libc::rusage)> {
    let mut status = 0;
    // SAFETY: rusage is plain data; all zeros is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are valid for writes for the whole call.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            return Ok((status, usage));
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(millis: u64, peak_kib: u64) -> Sample {
        Sample {
            wall: Duration::from_millis(millis),
            peak_kib,
        }
    }

    #[test]
    fn the_median_time_and_the_highest_peak() {
        let stats = Stats::of(&[sample(300, 10), sample(100, 30), sample(200, 20)]);
        assert_eq!(stats.median, Duration::from_millis(200));
        assert_eq!(stats.peak_kib, 30);
        let even = Stats::of(&[
            sample(100, 1),
            sample(400, 1),
            sample(200, 1),
            sample(300, 1),
        ]);
        assert_eq!(even.median, Duration::from_millis(250));
        assert_eq!(
            sample(100, 5).then(sample(50, 3)).wall,
            Duration::from_millis(150)
        );
    }

    #[test]
    fn a_run_reports_its_output_and_a_failure_its_last_stderr_line() {
        let dir = tempfile::tempdir().unwrap();
        let (sample, stdout) = once(
            Command::new("cat").arg("-"),
            b"hello",
            &dir.path().join("cat"),
        )
        .unwrap();
        assert_eq!(stdout, b"hello");
        assert!(sample.peak_kib > 0);

        let err = once(
            Command::new("sh").args(["-c", "echo first >&2; echo last >&2; exit 3"]),
            b"",
            &dir.path().join("sh"),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "sh exited with 3: last");
    }
}
