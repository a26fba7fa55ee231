//! Environment lock: one apply per environment at a time, across processes.
//!
//! The lock is an exclusive advisory lock on a file; the operating system
//! drops it when the holder exits, however it exits, so a crashed apply
//! never leaves an environment locked. The file itself stays: removing it
//! would let two processes lock two different files of the same name.

use std::fs::{File, TryLockError};
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::TargetError;

/// How often a waiting apply tries the lock again.
const POLL: Duration = Duration::from_millis(100);

/// Who holds a lock, written into the lock file so waiters can say so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// Process id of the holding apply.
    pub pid: u32,
    /// When it took the lock, RFC 3339.
    pub started_at: String,
    /// The version it is applying.
    pub version: String,
    /// `apply`, `repave` or `rollback`.
    pub action: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pid {} ({} {} since {})",
            self.pid, self.action, self.version, self.started_at
        )
    }
}

/// A held environment lock; dropping it releases the lock.
#[derive(Debug)]
pub struct EnvironmentLock {
    file: File,
}

impl EnvironmentLock {
    /// Take the lock at `path` for `environment`, waiting up to `timeout`
    /// while another process holds it.
    ///
    /// Return the lock and whether we had to wait for it. While waiting,
    /// print one line to stderr naming the holder.
    pub fn acquire(
        path: &Path,
        environment: &str,
        holder: &Holder,
        timeout: Duration,
    ) -> Result<(EnvironmentLock, bool), TargetError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|err| TargetError::io("create", parent, err))?;
        }
        // No truncation on open: until we hold the lock, the file's content
        // is the current holder's and waiters read it.
        let mut file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|err| TargetError::io("open lock file", path, err))?;

        let started = Instant::now();
        let mut waited = false;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(err)) => return Err(TargetError::io("lock", path, err)),
            }
            if !waited {
                eprintln!(
                    "environment {environment} is locked by {}; waiting up to {} (--lock-timeout)",
                    describe_holder(path),
                    humantime::format_duration(timeout)
                );
                waited = true;
            }
            if started.elapsed() >= timeout {
                return Err(TargetError::LockTimeout {
                    environment: environment.to_string(),
                    holder: describe_holder(path),
                    waited: humantime::format_duration(timeout).to_string(),
                    path: path.to_path_buf(),
                });
            }
            std::thread::sleep(POLL.min(timeout.saturating_sub(started.elapsed())));
        }

        let mut line = serde_json::to_string(holder).expect("a holder always serializes");
        line.push('\n');
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(line.as_bytes()))
            .map_err(|err| TargetError::io("write lock file", path, err))?;
        Ok((EnvironmentLock { file }, waited))
    }
}

impl Drop for EnvironmentLock {
    fn drop(&mut self) {
        // Closing the file releases the lock too; unlocking first makes the
        // release immediate even if a child process inherited the descriptor.
        let _ = self.file.unlock();
    }
}

/// Describe the holder named in the lock file at `path`.
fn describe_holder(path: &Path) -> String {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| serde_json::from_str::<Holder>(text.trim()).ok())
        .map(|holder| holder.to_string())
        .unwrap_or_else(|| "another process".into())
}

/// The default lock file of an environment whose target keeps no folder of
/// its own: `$TMPDIR/patchline-<environment>.lock`.
pub fn default_lock_path(environment: &str) -> PathBuf {
    std::env::temp_dir().join(format!("patchline-{environment}.lock"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(version: &str) -> Holder {
        Holder {
            pid: 4242,
            started_at: "2025-01-10T09:00:00Z".into(),
            version: version.into(),
            action: "apply".into(),
        }
    }

    #[test]
    fn second_taker_times_out_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".patchline.lock");
        let (_held, waited) =
            EnvironmentLock::acquire(&path, "sandbox", &holder("621.125"), Duration::ZERO).unwrap();
        assert!(!waited);

        let started = Instant::now();
        let err = EnvironmentLock::acquire(
            &path,
            "sandbox",
            &holder("621.126"),
            Duration::from_millis(250),
        )
        .unwrap_err()
        .to_string();

        assert!(started.elapsed() >= Duration::from_millis(250));
        assert_eq!(
            err,
            format!(
                "environment sandbox is still locked by pid 4242 (apply 621.125 since 2025-01-10T09:00:00Z) \
                 after 250ms (lock file {}; raise --lock-timeout to wait longer)",
                path.display()
            )
        );
    }

    #[test]
    fn released_on_drop_and_rewritten_by_the_next_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("env.lock");
        let (held, _) =
            EnvironmentLock::acquire(&path, "dev", &holder("1.0.0-long-version"), Duration::ZERO)
                .unwrap();
        drop(held);

        let (_held, waited) =
            EnvironmentLock::acquire(&path, "dev", &holder("2.0"), Duration::ZERO).unwrap();

        assert!(!waited);
        let written: Holder =
            serde_json::from_str(std::fs::read_to_string(&path).unwrap().trim()).unwrap();
        assert_eq!(written, holder("2.0"));
    }

    #[test]
    fn default_path_is_in_the_temp_folder() {
        assert_eq!(
            default_lock_path("production"),
            std::env::temp_dir().join("patchline-production.lock")
        );
    }
}
