//! Git checkouts of feeds published as git repositories.
//!
//! A check container lives for many checks, so the repository is cloned
//! once into the temporary folder and only fetched afterwards. A clone is
//! made under a temporary name and renamed into place, so a check killed
//! mid-clone leaves nothing half-cloned behind for the next one.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;

use patchline_core::secret::redact_url;
use sha2::{Digest, Sha256};

use crate::FeedError;

/// Where `git` is looked for when the environment has no `PATH`, as a
/// Concourse check may have none.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Return an up-to-date checkout of `url`'s default branch.
pub fn checkout(url: &str) -> Result<PathBuf, FeedError> {
    let cache = std::env::temp_dir().join("patchline-feeds");
    fs::create_dir_all(&cache)
        .map_err(|err| FeedError::Git(format!("cannot create {}: {err}", cache.display())))?;
    let key = hex::encode(&Sha256::digest(url.as_bytes())[..8]);
    let dir = cache.join(&key);

    // Two checks of the same feed in one container must not fetch into the
    // same checkout at once.
    let lock = File::create(cache.join(format!("{key}.lock")))
        .and_then(|file| file.lock().map(|()| file))
        .map_err(|err| {
            FeedError::Git(format!(
                "cannot lock the checkout of {}: {err}",
                redact_url(url)
            ))
        })?;

    if dir.join(".git").is_dir() {
        git(
            url,
            Some(&dir),
            &["fetch", "--quiet", "--depth", "1", "origin", "HEAD"],
        )?;
        git(
            url,
            Some(&dir),
            &["reset", "--quiet", "--hard", "FETCH_HEAD"],
        )?;
    } else {
        let staging = cache.join(format!("{key}.cloning"));
        let _ = fs::remove_dir_all(&staging);
        let staging_arg = staging.to_string_lossy().into_owned();
        git(
            url,
            None,
            &["clone", "--quiet", "--depth", "1", "--", url, &staging_arg],
        )?;
        fs::rename(&staging, &dir)
            .map_err(|err| FeedError::Git(format!("cannot move the clone into place: {err}")))?;
    }
    drop(lock);
    Ok(dir)
}

fn git(url: &str, dir: Option<&Path>, args: &[&str]) -> Result<(), FeedError> {
    let mut command = Command::new("git");
    if let Some(dir) = dir {
        command.arg("-C").arg(dir);
    }
    command.args(args).env("GIT_TERMINAL_PROMPT", "0");
    if std::env::var_os("PATH").is_none() {
        command.env("PATH", DEFAULT_PATH);
    }
    if std::env::var_os("HOME").is_none() {
        command.env("HOME", std::env::temp_dir());
    }
    let output = command
        .output()
        .map_err(|err| FeedError::Git(format!("cannot run git: {err}")))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    // git ends with hints; its `fatal:` line says what went wrong.
    let lines = || stderr.lines().filter(|line| !line.trim().is_empty());
    let reason = lines()
        .find(|line| line.starts_with("fatal:") || line.starts_with("error:"))
        .or_else(|| lines().next_back())
        .unwrap_or("no message");
    Err(FeedError::Git(format!(
        "git {} of {} failed: {}",
        args[0],
        redact_url(url),
        redact_secrets_in(reason, url)
    )))
}

/// Git repeats the URL it was given in its messages, credentials included.
fn redact_secrets_in(message: &str, url: &str) -> String {
    message.replace(url, &redact_url(url))
}
