//! The command check: anything a script can test, passing when it exits 0.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::config::CommandProbe;
use crate::report::seconds;

/// How often a running command is polled for its exit.
const POLL: Duration = Duration::from_millis(10);

/// How long to wait for the rest of stderr once the command has ended; a
/// background child holding the pipe open must not stall the check.
const DRAIN: Duration = Duration::from_millis(200);

/// Run the command, killing it when `time_left` runs out; `Err` carries the
/// exit code and the last line it wrote to stderr. Only the process itself
/// is killed: children it started in the background keep running.
pub(crate) fn attempt(probe: &CommandProbe, time_left: Duration) -> Result<(), String> {
    let started = Instant::now();
    let mut child = Command::new(&probe.run[0])
        .args(&probe.run[1..])
        .envs(probe.env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| format!("cannot start {:?}: {err}", probe.run[0]))?;

    // Read stderr on the side so a chatty command cannot fill the pipe and
    // block; the buffer is shared so a killed command's output is still seen
    // even if a background child keeps the pipe open.
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let (drained, drained_rx) = mpsc::channel::<()>();
    if let Some(mut pipe) = child.stderr.take() {
        let sink = Arc::clone(&stderr);
        thread::spawn(move || {
            let _done = drained;
            let mut chunk = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                if let Ok(mut buffer) = sink.lock() {
                    buffer.extend_from_slice(&chunk[..n]);
                }
            }
        });
    }

    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() >= time_left => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = drained_rx.recv_timeout(DRAIN);
                return Err(with_stderr(
                    format!("still running after {}s, killed", seconds(time_left)),
                    &stderr,
                ));
            }
            Ok(None) => thread::sleep(POLL),
            Err(err) => return Err(format!("cannot wait for {:?}: {err}", probe.run[0])),
        }
    };
    if status.success() {
        return Ok(());
    }

    let _ = drained_rx.recv_timeout(DRAIN);
    let what = match status.code() {
        Some(code) => format!("exit code {code}"),
        None => {
            use std::os::unix::process::ExitStatusExt;
            format!("killed by signal {}", status.signal().unwrap_or(0))
        }
    };
    Err(with_stderr(what, &stderr))
}

fn with_stderr(what: String, stderr: &Mutex<Vec<u8>>) -> String {
    let buffer = stderr.lock().map(|b| b.clone()).unwrap_or_default();
    let text = String::from_utf8_lossy(&buffer);
    match text.lines().map(str::trim).rfind(|line| !line.is_empty()) {
        Some(line) => format!("{what}: {line}"),
        None => what,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(script: &str) -> CommandProbe {
        CommandProbe {
            run: vec!["sh".to_string(), "-c".to_string(), script.to_string()],
            env: vec![("SMOKE_WORD".to_string(), "hello".to_string())],
        }
    }

    #[test]
    fn exit_zero_passes_and_sees_env() {
        assert_eq!(
            attempt(
                &probe("test \"$SMOKE_WORD\" = hello"),
                Duration::from_secs(5)
            ),
            Ok(())
        );
    }

    #[test]
    fn failure_carries_code_and_last_stderr_line() {
        assert_eq!(
            attempt(
                &probe("echo first >&2; echo 'disk full' >&2; exit 3"),
                Duration::from_secs(5)
            ),
            Err("exit code 3: disk full".to_string())
        );
    }

    #[test]
    fn overrunning_command_is_killed() {
        let started = Instant::now();
        let result = attempt(&probe("exec sleep 5"), Duration::from_millis(200));
        assert_eq!(result, Err("still running after 0.20s, killed".to_string()));
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn missing_program_is_named() {
        let probe = CommandProbe {
            run: vec!["/nonexistent/smoke".to_string()],
            env: Vec::new(),
        };
        let reason = attempt(&probe, Duration::from_secs(1)).unwrap_err();
        assert!(
            reason.starts_with("cannot start \"/nonexistent/smoke\": "),
            "{reason}"
        );
    }
}
