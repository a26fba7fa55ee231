//! Command target: an environment changed by a program the operator gives
//! (a script around `om`, `bosh`, `terraform`, ...).
//!
//! What is deployed lives outside patchline, so the command runs on every
//! apply, repave and rollback, and deciding that there is nothing to do is
//! its business. It learns what to do from `PATCHLINE_*` variables and
//! reports success with its exit status.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::{default_lock_path, Action, Job, Outcome, Status, Target, TargetError, VersionRef};

/// How long a timed-out command may take to exit after SIGTERM before its
/// process group gets SIGKILL.
const GRACE: Duration = Duration::from_secs(5);

/// How often a running command is checked for exit.
const POLL: Duration = Duration::from_millis(50);

/// A program that changes the environment, see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandTarget {
    command: Vec<String>,
    timeout: Duration,
    env: BTreeMap<String, String>,
    lock_file: Option<PathBuf>,
}

impl CommandTarget {
    /// Describe a target that runs `command` (program and arguments, no
    /// shell) with the extra environment `env`, killed after `timeout`.
    ///
    /// A relative program path with a `/` in it is taken from the current
    /// folder, not from the patch folder the command runs in, so that
    /// `config/deploy.sh` names a script of the task's `config` input.
    pub fn new(
        mut command: Vec<String>,
        timeout: Duration,
        env: BTreeMap<String, String>,
        lock_file: Option<PathBuf>,
    ) -> Result<CommandTarget, TargetError> {
        match command.first() {
            None => {
                return Err(TargetError::config(
                    "command",
                    "is empty; give the program and its arguments",
                ))
            }
            Some(program) if program.is_empty() => {
                return Err(TargetError::config(
                    "command",
                    "the program (first element) is empty",
                ))
            }
            Some(program) if program.contains('/') && Path::new(program).is_relative() => {
                let absolute = std::path::absolute(program).map_err(|err| {
                    TargetError::config("command", format!("cannot resolve {program:?} ({err})"))
                })?;
                command[0] = absolute.to_string_lossy().into_owned();
            }
            Some(_) => {}
        }
        if timeout.is_zero() {
            return Err(TargetError::config("timeout", "must be longer than zero"));
        }
        for key in env.keys() {
            if key.is_empty() || key.contains('=') || key.contains('\0') {
                return Err(TargetError::config(
                    format!("env.{key}"),
                    "is not a valid variable name",
                ));
            }
            if key.starts_with("PATCHLINE_") {
                return Err(TargetError::config(
                    format!("env.{key}"),
                    "is set by apply itself and cannot be overridden",
                ));
            }
        }
        let lock_file = lock_file
            .map(|path| {
                std::path::absolute(&path)
                    .map_err(|err| TargetError::config("lock_file", err.to_string()))
            })
            .transpose()?;
        Ok(CommandTarget {
            command,
            timeout,
            env,
            lock_file,
        })
    }

    /// Return how long the command may run.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn program(&self) -> &str {
        &self.command[0]
    }

    fn fail(&self, reason: String) -> TargetError {
        TargetError::Command {
            program: self.program().to_string(),
            reason,
        }
    }

    /// Run the command for `action` and wait for it, at most `timeout`.
    fn execute(&self, job: &Job<'_>, action: Action) -> Result<Outcome, TargetError> {
        let patch = job.patch;
        let files: Vec<String> = patch
            .absolute_files()
            .iter()
            .map(|path| path.to_string_lossy().into_owned())
            .collect();

        // A process group of its own lets a timeout stop everything the
        // command started, not just the command itself. Its output goes to
        // our stderr because stdout of a task is not the operator's log.
        let mut command = Command::new(self.program());
        command
            .args(&self.command[1..])
            .current_dir(&patch.dir)
            .envs(&self.env)
            .env("PATCHLINE_VERSION", &patch.version.version)
            .env("PATCHLINE_FINGERPRINT", &patch.version.fingerprint)
            .env("PATCHLINE_PATCH_DIR", &patch.dir)
            .env("PATCHLINE_FILES", files.join("\n"))
            .env("PATCHLINE_ENVIRONMENT", job.environment)
            .env("PATCHLINE_ACTION", action.as_str())
            .stdin(Stdio::null())
            .stdout(std::io::stderr())
            .stderr(std::io::stderr())
            .process_group(0);

        eprintln!(
            "running {} for {} of {} (timeout {})",
            self.program(),
            action.as_str(),
            patch.version.version,
            humantime::format_duration(self.timeout)
        );
        let started = Instant::now();
        let mut child = command
            .spawn()
            .map_err(|err| self.fail(format!("could not start it: {err}")))?;
        let status = match self.wait(&mut child, started)? {
            Some(status) => status,
            None => {
                stop_group(&mut child);
                return Err(self.fail(format!(
                    "timed out after {} and was killed with its process group (timeout)",
                    humantime::format_duration(self.timeout)
                )));
            }
        };
        let took = humantime::format_duration(Duration::from_secs(started.elapsed().as_secs()));
        if !status.success() {
            return Err(self.fail(describe_failure(status)));
        }

        let status = match action {
            Action::Apply => Status::Applied,
            Action::Repave => Status::Repaved,
            Action::Rollback => Status::RolledBack,
        };
        Ok(Outcome {
            status,
            changed: true,
            version: patch.version.clone(),
            previous_version: None,
            detail: format!(
                "command {} succeeded for {} of {} in {took}",
                self.program(),
                action.as_str(),
                patch.version.version
            ),
        })
    }

    /// Wait for `child` until the timeout; `None` when it is still running.
    fn wait(&self, child: &mut Child, started: Instant) -> Result<Option<ExitStatus>, TargetError> {
        loop {
            if let Some(status) = child
                .try_wait()
                .map_err(|err| self.fail(format!("could not wait for it: {err}")))?
            {
                return Ok(Some(status));
            }
            let left = self.timeout.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Ok(None);
            }
            std::thread::sleep(POLL.min(left));
        }
    }
}

/// Stop the process group of `child`: SIGTERM, then SIGKILL after [`GRACE`].
fn stop_group(child: &mut Child) {
    let group = -(child.id() as libc::pid_t);
    // SAFETY: kill(2) only sends a signal; a negative pid addresses the
    // process group the child leads, which we created for it.
    unsafe { libc::kill(group, libc::SIGTERM) };
    let deadline = Instant::now() + GRACE;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            // The leader is gone; anything it left in the group still gets
            // the SIGKILL below.
            break;
        }
        std::thread::sleep(POLL);
    }
    // SAFETY: as above.
    unsafe { libc::kill(group, libc::SIGKILL) };
    let _ = child.wait();
}

/// Describe a failed exit status in a few words.
fn describe_failure(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        (None, None) => format!("failed ({status})"),
    }
}

impl Target for CommandTarget {
    fn kind(&self) -> &'static str {
        "command"
    }

    fn lock_path(&self, environment: &str) -> PathBuf {
        self.lock_file
            .clone()
            .unwrap_or_else(|| default_lock_path(environment))
    }

    fn deployed(&self) -> Result<Option<VersionRef>, TargetError> {
        Ok(None)
    }

    fn apply(&self, job: &Job<'_>) -> Result<Outcome, TargetError> {
        self.execute(job, Action::Apply)
    }

    fn repave(&self, job: &Job<'_>) -> Result<Outcome, TargetError> {
        self.execute(job, Action::Repave)
    }

    /// Run the command with `PATCHLINE_ACTION=rollback`; the job's patch is
    /// the version to roll back to.
    fn rollback(&self, job: &Job<'_>) -> Result<Outcome, TargetError> {
        self.execute(job, Action::Rollback)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::tests::write_patch;
    use crate::{Clock, Patch};

    fn sh(script: &str, timeout: Duration) -> CommandTarget {
        CommandTarget::new(
            vec!["sh".into(), "-c".into(), script.into()],
            timeout,
            BTreeMap::from([("GREETING".to_string(), "hello world".to_string())]),
            None,
        )
        .unwrap()
    }

    #[test]
    fn command_sees_variables_and_runs_in_the_patch_folder() {
        let dir = tempfile::tempdir().unwrap();
        let patch_dir = dir.path().join("patch");
        write_patch(&patch_dir, "2.4.1", 'c', &[("a.tgz", "1"), ("b.tgz", "2")]);
        let patch = Patch::read(&patch_dir).unwrap();
        let out = dir.path().join("seen");
        let target = sh(
            &format!(
                "{{ pwd; echo \"$GREETING\"; echo \"$PATCHLINE_ACTION $PATCHLINE_ENVIRONMENT\"; echo \"$PATCHLINE_FILES\"; }} > {}",
                out.display()
            ),
            Duration::from_secs(10),
        );

        let outcome = target
            .repave(&Job {
                environment: "dev",
                patch: &patch,
                clock: Clock::System,
            })
            .unwrap();

        assert_eq!(outcome.status, Status::Repaved);
        let dir = patch.dir.display();
        assert_eq!(
            std::fs::read_to_string(out).unwrap(),
            format!("{dir}\nhello world\nrepave dev\n{dir}/a.tgz\n{dir}/b.tgz\n")
        );
    }

    #[test]
    fn failure_names_program_and_status_only() {
        let dir = tempfile::tempdir().unwrap();
        write_patch(dir.path(), "1.0", 'a', &[]);
        let patch = Patch::read(dir.path()).unwrap();
        let target = sh("exit 3 # secret-token", Duration::from_secs(10));

        let err = target
            .apply(&Job {
                environment: "dev",
                patch: &patch,
                clock: Clock::System,
            })
            .unwrap_err()
            .to_string();

        assert_eq!(err, "command sh: exited with status 3");
    }

    #[test]
    fn config_errors_name_the_field() {
        let err = |command: Vec<&str>, env: &[(&str, &str)]| {
            CommandTarget::new(
                command.into_iter().map(String::from).collect(),
                Duration::from_secs(1),
                env.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                None,
            )
            .unwrap_err()
            .to_string()
        };
        assert_eq!(
            err(vec![""], &[]),
            "target: command: the program (first element) is empty"
        );
        assert_eq!(
            err(vec!["x"], &[("A=B", "1")]),
            "target: env.A=B: is not a valid variable name"
        );
        assert_eq!(
            CommandTarget::new(vec!["x".into()], Duration::ZERO, BTreeMap::new(), None)
                .unwrap_err()
                .to_string(),
            "target: timeout: must be longer than zero"
        );
    }

    #[test]
    fn relative_program_is_taken_from_the_current_folder() {
        let target = CommandTarget::new(
            vec!["config/deploy.sh".into()],
            Duration::from_secs(1),
            BTreeMap::new(),
            None,
        )
        .unwrap();
        assert_eq!(
            PathBuf::from(target.program()),
            std::env::current_dir().unwrap().join("config/deploy.sh")
        );
    }
}
