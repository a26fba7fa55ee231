//! Test fixtures: real bare git repositories standing in for the ledger
//! remote, and a hermetic way to inspect them.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{TimeZone, Utc};

use crate::event::{Build, Event, Status};

/// Run git in `dir` without any user config, panicking when it fails, and
/// return its stdout trimmed.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=fixture",
            "-c",
            "user.email=fixture@localhost",
        ])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

/// Create an empty bare repository `name` under `parent`.
pub fn bare_repo(parent: &Path, name: &str) -> PathBuf {
    let path = parent.join(name);
    git(
        parent,
        &["init", "-q", "--bare", "-b", "main", path.to_str().unwrap()],
    );
    path
}

/// Install an executable hook in a bare repository.
pub fn hook(bare: &Path, name: &str, script: &str) {
    use std::os::unix::fs::PermissionsExt;

    let path = bare.join("hooks").join(name);
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Return an event at a fixed time.
pub fn event(environment: &str, version: &str, second: u32) -> Event {
    Event::new(
        environment,
        version,
        format!("sha256:{}", "ab".repeat(32)),
        Status::Applied,
        Build::default(),
    )
    .at(Utc.with_ymd_and_hms(2026, 12, 4, 15, 21, second).unwrap())
}
