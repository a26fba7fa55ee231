//! Recording: adding one event to the ledger and pushing it, even while
//! other pipelines record theirs at the same moment.
//!
//! Every event gets a file of its own, so concurrent writers never touch the
//! same path. When a push is refused because another writer got there
//! first, the event is written again on top of the new branch tip in a fresh
//! shallow clone (a rebase of one commit that cannot conflict) and pushed
//! again, a bounded number of times with a short randomised wait.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::LedgerConfig;
use crate::error::LedgerError;
use crate::event::Event;
use crate::git::Git;
use crate::repo;

/// How many pushes are tried before giving up to other writers.
pub const MAX_ATTEMPTS: u32 = 5;

/// The README written at the root of a ledger on first use.
const README: &str = "\
# Upgrade ledger

This repository is written by patchline: every time a patch is applied to an
environment, fails, is rolled back or is repaved, the `out` step of the
patchline resource adds one event here. Nobody edits it by hand.

## Layout

    events/<environment>/<UTC time>-<version>-<id>.json

One file per event, so two pipelines recording at the same moment never edit
the same file. The time reads like `20261204T152117Z`; the id is 8 random hex
digits that tell apart events of the same second.

Each file is one JSON object with `schema` (1), `time` (RFC 3339, UTC),
`environment`, `version`, `fingerprint`, `status` (applied, failed,
rolled-back or repaved), `build` (the Concourse build and its URL), `notes`
and `apply` (the apply task's record, when there was one).

## Reading

    git log --oneline
    jq -s 'sort_by(.time)' events/*/*.json
    jq -s 'sort_by(.time) | last' events/production/*.json
";

/// Say where an event landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The event file, relative to the repository root, `/`-separated.
    pub path: String,
    /// The commit on the ledger branch that holds it.
    pub commit: String,
    /// How many pushes it took (1 when nobody else was writing).
    pub attempts: u32,
}

/// Add `event` to the ledger and push it.
///
/// `scratch_dir` holds the temporary clones and the key file; both are
/// removed before this returns. A push refused for any reason other than a
/// concurrent writer (a protected branch, missing permission) fails at once
/// with git's reason.
pub fn record(
    config: &LedgerConfig,
    event: &Event,
    scratch_dir: &Path,
) -> Result<Recorded, LedgerError> {
    record_with_ssh(config, event, scratch_dir, "ssh")
}

/// [`record`], with the ssh program named so tests can watch the key file.
pub(crate) fn record_with_ssh(
    config: &LedgerConfig,
    event: &Event,
    scratch_dir: &Path,
    ssh_program: &str,
) -> Result<Recorded, LedgerError> {
    config.validate()?;
    event.validate()?;

    // The id is chosen once so every attempt writes the same file.
    let path = event.relative_path(&format!("{:08x}", random_u64() as u32));
    let mut body = serde_json::to_string_pretty(event).map_err(|err| LedgerError::Event {
        field: "apply",
        reason: format!("cannot be written as JSON: {err}"),
    })?;
    body.push('\n');

    let work = tempfile::Builder::new()
        .prefix("ledger-")
        .tempdir_in(scratch_dir)
        .map_err(|err| LedgerError::io("create a folder in", scratch_dir, err))?;
    let git = Git::new(config.private_key.as_ref(), work.path(), ssh_program)?;
    eprintln!(
        "ledger: recording {} in {} (branch {})",
        event.summary(),
        config.display_uri(),
        config.branch
    );

    for attempt in 1..=MAX_ATTEMPTS {
        let clone = work.path().join(format!("attempt-{attempt}"));
        let base = repo::open(&git, config, &clone)?;

        let file = clone.join(&path);
        if std::fs::read_to_string(&file).is_ok_and(|existing| existing == body) {
            // An earlier push landed although git reported it as failed
            // (the connection dropped after the remote updated the branch).
            if let Some(commit) = base {
                return Ok(Recorded {
                    path,
                    commit,
                    attempts: attempt,
                });
            }
        }
        let commit = commit_event(&git, event, &clone, &path, &body)?;

        let branch_ref = format!("HEAD:refs/heads/{}", config.branch);
        let push = git.run(Some(&clone), &["push", "-q", "origin", &branch_ref])?;
        if push.success {
            eprintln!("ledger: recorded {path} in commit {commit}");
            return Ok(Recorded {
                path,
                commit,
                attempts: attempt,
            });
        }

        // Only a moved branch means another writer won the race; anything
        // else (a hook, a permission) will not change by trying again.
        if repo::remote_tip(&git, config, &clone)? == base {
            return Err(LedgerError::Remote {
                action: "push to",
                uri: config.display_uri(),
                detail: push.reason(),
            });
        }
        if attempt < MAX_ATTEMPTS {
            let wait = backoff(attempt);
            eprintln!(
                "ledger: another writer pushed to {} first; writing the event on top of theirs \
                 in {} ms (attempt {} of {MAX_ATTEMPTS})",
                config.branch,
                wait.as_millis(),
                attempt + 1
            );
            std::thread::sleep(wait);
        }
    }
    Err(LedgerError::Contended {
        uri: config.display_uri(),
        branch: config.branch.clone(),
        attempts: MAX_ATTEMPTS,
    })
}

/// Write the README when missing and the event file, and commit both.
fn commit_event(
    git: &Git,
    event: &Event,
    clone: &Path,
    path: &str,
    body: &str,
) -> Result<String, LedgerError> {
    let readme = clone.join("README.md");
    let mut paths = vec![path];
    if !readme.exists() {
        write(&readme, README)?;
        paths.push("README.md");
    }
    write(&clone.join(path), body)?;

    let mut add = vec!["add", "--"];
    add.extend(paths);
    git.local(clone, &add)?;
    let mut message = format!(
        "{}\n\nfingerprint: {}\n",
        event.summary(),
        event.fingerprint
    );
    if let Some(url) = &event.build.url {
        message.push_str(&format!("build: {url}\n"));
    }
    git.local(clone, &["commit", "-q", "--no-verify", "-m", &message])?;
    git.local(clone, &["rev-parse", "HEAD"])
}

fn write(path: &Path, text: &str) -> Result<(), LedgerError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|err| LedgerError::io("create", PathBuf::from(parent), err))?;
    }
    std::fs::write(path, text).map_err(|err| LedgerError::io("write", path, err))
}

/// Wait longer after each lost race, with jitter so racing writers spread
/// out instead of colliding again.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100 * u64::from(attempt) + random_u64() % 250)
}

/// Return a random number from the standard library's per-process random
/// hash keys; good enough for file ids and jitter, not for secrets.
fn random_u64() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_nanos())
        .unwrap_or_default();
    hasher.write_u128(nanos);
    hasher.write_u32(std::process::id());
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Barrier};

    use super::*;
    use crate::event::Status;
    use crate::testutil::{bare_repo, event, git, hook};
    use crate::{read_ledger, Secret};

    fn config(bare: &Path) -> LedgerConfig {
        LedgerConfig::new(bare.to_str().unwrap())
    }

    #[test]
    fn records_into_an_empty_repository() {
        let tmp = tempfile::tempdir().unwrap();
        let bare = bare_repo(tmp.path(), "ledger.git");
        let scratch = tmp.path().join("scratch");
        std::fs::create_dir(&scratch).unwrap();
        let event = event("sandbox", "621.125", 17).with_notes("first patch");

        let recorded = record(&config(&bare), &event, &scratch).unwrap();

        assert_eq!(recorded.attempts, 1);
        assert!(
            recorded
                .path
                .starts_with("events/sandbox/20261204T152117Z-621.125-"),
            "{}",
            recorded.path
        );
        assert_eq!(
            recorded.path.len(),
            "events/sandbox/20261204T152117Z-621.125-".len() + 13
        );
        assert_eq!(recorded.commit, git(&bare, &["rev-parse", "main"]));
        assert_eq!(
            git(&bare, &["log", "--format=%an <%ae>|%cn <%ce>|%s", "main"]),
            "patchline <patchline@localhost>|patchline <patchline@localhost>|sandbox: applied 621.125"
        );
        assert_eq!(
            git(&bare, &["log", "-1", "--format=%b", "main"]),
            format!("fingerprint: sha256:{}", "ab".repeat(32))
        );
        assert_eq!(
            git(&bare, &["ls-tree", "-r", "--name-only", "main"]),
            format!("README.md\n{}", recorded.path)
        );
        assert_eq!(git(&bare, &["show", "main:README.md"]), README.trim_end());
        let stored: Event =
            serde_json::from_str(&git(&bare, &["show", &format!("main:{}", recorded.path)]))
                .unwrap();
        assert_eq!(stored, event);
        // Clones and key files are gone once record returns.
        assert_eq!(std::fs::read_dir(&scratch).unwrap().count(), 0);
    }

    #[test]
    fn later_events_add_files_and_keep_the_readme() {
        let tmp = tempfile::tempdir().unwrap();
        let bare = bare_repo(tmp.path(), "ledger.git");
        let first = record(&config(&bare), &event("sandbox", "621.125", 1), tmp.path()).unwrap();
        let mut failed = event("production", "621.126", 2);
        failed.status = Status::Failed;
        let second = record(&config(&bare), &failed, tmp.path()).unwrap();

        assert_eq!(
            git(&bare, &["log", "--format=%s", "main"]),
            "production: failed 621.126\nsandbox: applied 621.125"
        );
        assert_eq!(
            git(&bare, &["log", "--format=%s", "main", "--", "README.md"]),
            "sandbox: applied 621.125"
        );
        assert_eq!(
            git(&bare, &["ls-tree", "-r", "--name-only", "main"]),
            format!("README.md\n{}\n{}", second.path, first.path)
        );
    }

    #[test]
    fn creates_a_missing_branch_beside_existing_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let bare = bare_repo(tmp.path(), "ledger.git");
        let work = tmp.path().join("work");
        git(
            tmp.path(),
            &[
                "clone",
                "-q",
                bare.to_str().unwrap(),
                work.to_str().unwrap(),
            ],
        );
        std::fs::write(work.join("other.txt"), "unrelated\n").unwrap();
        git(&work, &["add", "other.txt"]);
        git(&work, &["commit", "-q", "-m", "unrelated"]);
        git(&work, &["push", "-q", "origin", "HEAD:refs/heads/main"]);
        let main_before = git(&bare, &["rev-parse", "main"]);

        let mut config = config(&bare);
        config.branch = "upgrade-ledger".into();
        let recorded = record(&config, &event("dev", "1.2.3", 5), tmp.path()).unwrap();

        assert_eq!(git(&bare, &["rev-parse", "main"]), main_before);
        assert_eq!(git(&bare, &["rev-list", "--count", "upgrade-ledger"]), "1");
        assert_eq!(
            git(&bare, &["rev-parse", "upgrade-ledger"]),
            recorded.commit
        );
        assert_eq!(
            git(&bare, &["ls-tree", "-r", "--name-only", "upgrade-ledger"]),
            format!("README.md\n{}", recorded.path)
        );
    }

    #[test]
    fn racing_recorders_all_land() {
        let tmp = tempfile::tempdir().unwrap();
        let bare = bare_repo(tmp.path(), "ledger.git");
        record(&config(&bare), &event("sandbox", "1.0.0", 0), tmp.path()).unwrap();
        // A slow receiving side makes the racing pushes overlap for certain.
        hook(
            &bare,
            "pre-receive",
            "#!/bin/sh\ncat >/dev/null\nsleep 0.2\n",
        );

        let writers = 3;
        let barrier = Arc::new(Barrier::new(writers));
        let handles: Vec<_> = (0..writers)
            .map(|n| {
                let barrier = Arc::clone(&barrier);
                let config = config(&bare);
                let scratch = tmp.path().to_path_buf();
                std::thread::spawn(move || {
                    let event = event(&format!("env-{n}"), "1.0.1", 10 + n as u32);
                    barrier.wait();
                    record(&config, &event, &scratch).unwrap()
                })
            })
            .collect();
        let recorded: Vec<Recorded> = handles.into_iter().map(|h| h.join().unwrap()).collect();

        let attempts: u32 = recorded.iter().map(|r| r.attempts).sum();
        assert!(
            attempts > writers as u32,
            "nobody had to retry: {recorded:?}"
        );
        assert_eq!(git(&bare, &["rev-list", "--count", "main"]), "4");
        let events = read_ledger(&config(&bare), tmp.path()).unwrap();
        let environments: Vec<&str> = events.iter().map(|e| e.environment.as_str()).collect();
        assert_eq!(environments, ["sandbox", "env-0", "env-1", "env-2"]);
    }

    #[test]
    fn a_declined_push_fails_at_once_with_gits_reason() {
        let tmp = tempfile::tempdir().unwrap();
        let bare = bare_repo(tmp.path(), "ledger.git");
        hook(
            &bare,
            "pre-receive",
            "#!/bin/sh\necho 'ledger is frozen' >&2\nexit 1\n",
        );

        let err = record(&config(&bare), &event("sandbox", "1.0", 0), tmp.path())
            .unwrap_err()
            .to_string();

        assert_eq!(
            err,
            format!(
                "ledger.uri: cannot push to {}: ! [remote rejected] HEAD -> main (pre-receive hook declined)",
                bare.display()
            )
        );
        assert_eq!(git(&bare, &["for-each-ref"]), "");
    }

    #[test]
    fn a_missing_repository_is_a_one_line_error() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("missing.git");

        let err = record(&config(&missing), &event("sandbox", "1.0", 0), tmp.path())
            .unwrap_err()
            .to_string();

        let prefix = format!("ledger.uri: cannot reach {}: fatal: ", missing.display());
        assert!(err.starts_with(&prefix), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn credentials_in_the_uri_never_reach_the_error() {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let port = server.server_addr().to_ip().unwrap().port();
        let serving = std::thread::spawn(move || {
            let mut seen = Vec::new();
            while let Ok(Some(request)) = server.recv_timeout(std::time::Duration::from_millis(500))
            {
                seen.push(request.url().to_string());
                let challenge: tiny_http::Header =
                    "WWW-Authenticate: Basic realm=\"ledger\"".parse().unwrap();
                let _ = request.respond(
                    tiny_http::Response::from_string("no")
                        .with_status_code(401)
                        .with_header(challenge),
                );
            }
            seen
        });
        let tmp = tempfile::tempdir().unwrap();
        let uri = format!("http://ops:s3cr3t-t0ken@127.0.0.1:{port}/ledger.git");

        let err = record(
            &LedgerConfig::new(&uri),
            &event("sandbox", "1.0", 0),
            tmp.path(),
        )
        .unwrap_err()
        .to_string();

        assert!(
            err.starts_with(&format!(
                "ledger.uri: cannot reach http://***@127.0.0.1:{port}/ledger.git: fatal: "
            )),
            "{err}"
        );
        assert!(!err.contains("s3cr3t"), "{err}");
        assert!(!err.contains('\n'), "{err}");
        let seen = serving.join().unwrap();
        assert!(
            seen.iter()
                .all(|url| url == "/ledger.git/info/refs?service=git-upload-pack"),
            "{seen:?}"
        );
        assert!(!seen.is_empty());
    }

    #[test]
    fn the_private_key_is_private_to_ssh_and_removed_after() {
        use std::os::unix::fs::PermissionsExt;

        let tmp = tempfile::tempdir().unwrap();
        let bin = tmp.path().join("bin");
        let log = tmp.path().join("log");
        let scratch = tmp.path().join("scratch");
        for dir in [&bin, &log, &scratch] {
            std::fs::create_dir(dir).unwrap();
        }
        // Stands in for ssh: notes what it was given instead of connecting.
        let fake_ssh = bin.join("ssh");
        std::fs::write(
            &fake_ssh,
            format!(
                "#!/bin/sh\nwhile [ $# -gt 0 ]; do [ \"$1\" = -i ] && key=\"$2\"; shift; done\n\
                 echo \"$key\" > {log}/path\nstat -c %a \"$key\" > {log}/mode\n\
                 cat \"$key\" > {log}/key\necho 'ssh: connect to host refused' >&2\nexit 255\n",
                log = log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&fake_ssh, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut config = LedgerConfig::new("ssh://git@127.0.0.1/ledger.git");
        config.private_key = Some(Secret::new(
            "-----BEGIN KEY-----\nKEY-MATERIAL\n-----END KEY-----",
        ));

        let err = record_with_ssh(
            &config,
            &event("sandbox", "1.0", 0),
            &scratch,
            fake_ssh.to_str().unwrap(),
        )
        .unwrap_err()
        .to_string();

        assert!(
            err.starts_with("ledger.uri: cannot reach ssh://***@127.0.0.1/ledger.git: "),
            "{err}"
        );
        assert!(!err.contains("KEY-MATERIAL"), "{err}");
        assert_eq!(std::fs::read_to_string(log.join("mode")).unwrap(), "600\n");
        assert_eq!(
            std::fs::read_to_string(log.join("key")).unwrap(),
            "-----BEGIN KEY-----\nKEY-MATERIAL\n-----END KEY-----\n"
        );
        let key_path = std::fs::read_to_string(log.join("path")).unwrap();
        assert!(
            key_path.starts_with(scratch.to_str().unwrap()),
            "{key_path}"
        );
        assert!(!Path::new(key_path.trim_end()).exists());
        assert_eq!(std::fs::read_dir(&scratch).unwrap().count(), 0);
    }

    #[test]
    fn bad_events_and_branches_are_refused_before_git_runs() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("missing.git");
        let err = record(&config(&missing), &event("../etc", "1.0", 0), tmp.path()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("environment: \"../etc\" cannot name a ledger folder"),
            "{err}"
        );

        let bare = bare_repo(tmp.path(), "ledger.git");
        let mut config = config(&bare);
        config.branch = "a..b".into();
        let err = record(&config, &event("sandbox", "1.0", 0), tmp.path()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "ledger.branch: \"a..b\" is not a valid git branch name"
        );
    }
}
