//! Ledger repository: opening a fresh, shallow local copy of the ledger
//! branch, the step both recording and reading start with.

use std::path::Path;

use crate::config::LedgerConfig;
use crate::error::LedgerError;
use crate::git::Git;

/// Initialise `dir` as a clone of the ledger branch, fetched with depth 1.
///
/// Returns the commit checked out, or `None` when the repository does not
/// have the branch yet (then `dir` is an empty repository on that branch,
/// ready for a first commit).
pub(crate) fn open(
    git: &Git,
    config: &LedgerConfig,
    dir: &Path,
) -> Result<Option<String>, LedgerError> {
    let dir_text = dir.to_string_lossy();
    let init = git.run(None, &["init", "-q", "-b", &config.branch, "--", &dir_text])?;
    if !init.success {
        // The branch is the only input to `git init`; a bad name is the
        // likely cause, and git's check says so precisely.
        let check = git.run(None, &["check-ref-format", "--branch", &config.branch])?;
        if !check.success {
            return Err(LedgerError::Config {
                field: "branch",
                reason: format!("{:?} is not a valid git branch name", config.branch),
            });
        }
        return Err(LedgerError::Local {
            action: "init".into(),
            dir: dir.to_path_buf(),
            detail: init.reason(),
        });
    }
    git.local(dir, &["remote", "add", "origin", &config.uri])?;

    if remote_tip(git, config, dir)?.is_none() {
        return Ok(None);
    }
    let branch_ref = format!("refs/heads/{}", config.branch);
    let fetch = git.run(
        Some(dir),
        &["fetch", "-q", "--depth", "1", "origin", &branch_ref],
    )?;
    if !fetch.success {
        return Err(LedgerError::Remote {
            action: "fetch from",
            uri: config.display_uri(),
            detail: fetch.reason(),
        });
    }
    git.local(dir, &["reset", "-q", "--hard", "FETCH_HEAD"])?;
    git.local(dir, &["rev-parse", "HEAD"]).map(Some)
}

/// Ask the remote where the ledger branch is now: its commit, or `None`
/// when it does not exist.
pub(crate) fn remote_tip(
    git: &Git,
    config: &LedgerConfig,
    dir: &Path,
) -> Result<Option<String>, LedgerError> {
    let branch_ref = format!("refs/heads/{}", config.branch);
    let output = git.run(
        Some(dir),
        &["ls-remote", "--exit-code", "origin", &branch_ref],
    )?;
    match output.code {
        Some(0) => Ok(output
            .stdout
            .lines()
            .find(|line| line.ends_with(&format!("\t{branch_ref}")))
            .and_then(|line| line.split('\t').next())
            .map(str::to_string)),
        // `--exit-code` makes "no such ref" distinguishable from failure.
        Some(2) => Ok(None),
        _ => Err(LedgerError::Remote {
            action: "reach",
            uri: config.display_uri(),
            detail: output.reason(),
        }),
    }
}
