//! Git runner: runs the `git` CLI for the ledger, isolated from the machine
//! it runs on, and keeps credentials out of everything it prints.
//!
//! Each run ignores the system and global git config (so neither HOME nor a
//! user's `commit.gpgsign` matters), never prompts, and commits as
//! `patchline <patchline@localhost>`. Git's stderr is passed on to ours with
//! URL credentials redacted. With a private key, the key is written to a
//! 0600 file that lives exactly as long as the runner.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::LazyLock;

use regex::Regex;
use tempfile::NamedTempFile;

use crate::error::LedgerError;
use crate::Secret;

/// Variables a surrounding git process (a hook, a CI step) may have set that
/// would point our commands at another repository or change the author.
const INHERITED_GIT_VARIABLES: [&str; 13] = [
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
];

/// What a finished git command said.
pub(crate) struct GitOutput {
    /// Whether it exited with status 0.
    pub success: bool,
    /// Its exit code, when it was not killed by a signal.
    pub code: Option<i32>,
    /// Its stdout, trimmed.
    pub stdout: String,
    /// Its stderr, redacted.
    pub stderr: String,
}

impl GitOutput {
    /// Return the line of stderr that best says why git failed: a `fatal:`
    /// line, else the `! [rejected] ...` line of a push, else an `error:`
    /// line, else the last line.
    pub fn reason(&self) -> String {
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect();
        let first_with = |prefix: &str| lines.iter().find(|line| line.starts_with(prefix));
        first_with("fatal:")
            .or_else(|| first_with("! "))
            .or_else(|| first_with("error:"))
            .or(lines.last())
            .map(|line| line.to_string())
            .unwrap_or_else(|| match self.code {
                Some(code) => format!("git exited with status {code}"),
                None => "git was killed by a signal".to_string(),
            })
    }
}

/// Run git for one ledger operation.
pub(crate) struct Git {
    ssh_command: Option<String>,
    // Held so the key file is removed when the runner is dropped.
    _key_file: Option<NamedTempFile>,
}

impl Git {
    /// Prepare a runner; with a key, write it to a 0600 file in `key_dir`
    /// and have git's ssh use only that key.
    ///
    /// Host keys are not checked (`StrictHostKeyChecking=no`): a container
    /// has no `known_hosts`, and the source has no field to supply one.
    pub fn new(
        private_key: Option<&Secret>,
        key_dir: &Path,
        ssh_program: &str,
    ) -> Result<Self, LedgerError> {
        // An empty key is what a pipeline sets when the ledger needs none.
        let Some(key) = private_key.filter(|key| !key.expose().trim().is_empty()) else {
            return Ok(Git {
                ssh_command: None,
                _key_file: None,
            });
        };
        let key_file = write_key(key, key_dir)?;
        let ssh_command = format!(
            "{ssh_program} -i {} -o StrictHostKeyChecking=no -o IdentitiesOnly=yes -o BatchMode=yes {SSH_DEADLINES}",
            shell_quote(&key_file.path().to_string_lossy())
        );
        Ok(Git {
            ssh_command: Some(ssh_command),
            _key_file: Some(key_file),
        })
    }

    /// Run `git <args>` (in `dir` when given) and return what it said.
    pub fn run(&self, dir: Option<&Path>, args: &[&str]) -> Result<GitOutput, LedgerError> {
        let mut command = Command::new("git");
        if let Some(dir) = dir {
            command.arg("-C").arg(dir);
        }
        command
            .args([
                "-c",
                "user.name=patchline",
                "-c",
                "user.email=patchline@localhost",
                "-c",
                "commit.gpgsign=false",
                "-c",
                "core.hooksPath=/dev/null",
                // A server that stops answering fails the step instead of
                // hanging it: under 1 byte/s for a minute aborts HTTP(S).
                "-c",
                "http.lowSpeedLimit=1",
                "-c",
                "http.lowSpeedTime=60",
            ])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for name in INHERITED_GIT_VARIABLES {
            command.env_remove(name);
        }
        command
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            // Git's messages end up in our errors; keep them in one language.
            .env("LC_ALL", "C");
        if let Some(ssh_command) = &self.ssh_command {
            command.env("GIT_SSH_COMMAND", ssh_command);
        }

        let output = command.output().map_err(|err| LedgerError::GitMissing {
            detail: err.to_string(),
        })?;
        let stderr = redact_text(&String::from_utf8_lossy(&output.stderr));
        if !stderr.trim().is_empty() {
            eprint!("{stderr}");
            if !stderr.ends_with('\n') {
                eprintln!();
            }
        }
        Ok(GitOutput {
            success: output.status.success(),
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).trim().to_string(),
            stderr,
        })
    }

    /// Run a git command in the local clone `dir` that must succeed.
    pub fn local(&self, dir: &Path, args: &[&str]) -> Result<String, LedgerError> {
        let output = self.run(Some(dir), args)?;
        if output.success {
            Ok(output.stdout)
        } else {
            Err(LedgerError::Local {
                action: args.first().copied().unwrap_or("").to_string(),
                dir: dir.to_path_buf(),
                detail: output.reason(),
            })
        }
    }
}

/// Write the key to a fresh 0600 file, ending it with the newline ssh
/// requires (keys pasted into a credential manager often lose it).
fn write_key(key: &Secret, dir: &Path) -> Result<NamedTempFile, LedgerError> {
    use std::os::unix::fs::PermissionsExt;

    let mut file = tempfile::Builder::new()
        .prefix(".ledger-key-")
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)
        .map_err(|err| LedgerError::io("create a key file in", dir, err))?;
    let mut material = key.expose().to_string();
    if !material.ends_with('\n') {
        material.push('\n');
    }
    let path: PathBuf = file.path().to_path_buf();
    file.write_all(material.as_bytes())
        .and_then(|()| file.flush())
        .map_err(|err| LedgerError::io("write the key file", path, err))?;
    Ok(file)
}

/// ssh gives up on a server that does not answer within 30 s, or stops
/// answering for a minute, instead of hanging the step.
const SSH_DEADLINES: &str =
    "-o ConnectTimeout=30 -o ServerAliveInterval=15 -o ServerAliveCountMax=4";

/// Quote `text` for the shell that runs `GIT_SSH_COMMAND`.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Redact the credentials of every URL in `text`.
pub(crate) fn redact_text(text: &str) -> String {
    static URL: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"[A-Za-z][A-Za-z0-9+.-]*://[^\s'"`]+"#).expect("URL pattern is valid")
    });
    URL.replace_all(text, |caps: &regex::Captures<'_>| {
        patchline_core::secret::redact_url(&caps[0])
    })
    .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_inside_git_messages_lose_their_credentials() {
        assert_eq!(
            redact_text(
                "fatal: unable to access 'https://ops:tok3n@git.example/ledger.git/': 403\n\
                 see http://u@h/x and /srv/plain.git"
            ),
            "fatal: unable to access 'https://***@git.example/ledger.git/': 403\n\
             see http://***@h/x and /srv/plain.git"
        );
    }

    #[test]
    fn reason_prefers_the_fatal_line() {
        let output = GitOutput {
            success: false,
            code: Some(128),
            stdout: String::new(),
            stderr: "fatal: repository not found\nhint: check the URL\n".into(),
        };
        assert_eq!(output.reason(), "fatal: repository not found");
        let push = GitOutput {
            stderr: "remote: frozen\nTo /srv/l.git\n ! [remote rejected] HEAD -> main (pre-receive hook declined)\nerror: failed to push some refs to '/srv/l.git'\n".into(),
            ..output
        };
        assert_eq!(
            push.reason(),
            "! [remote rejected] HEAD -> main (pre-receive hook declined)"
        );
        let silent = GitOutput {
            stderr: String::new(),
            ..push
        };
        assert_eq!(silent.reason(), "git exited with status 128");
    }

    #[test]
    fn key_file_is_private_quoted_and_removed_with_the_runner() {
        use std::os::unix::fs::PermissionsExt;

        let dir = tempfile::tempdir().unwrap();
        let key = Secret::new("KEY-MATERIAL");
        let git = Git::new(Some(&key), dir.path(), "ssh").unwrap();
        let key_path = git._key_file.as_ref().unwrap().path().to_path_buf();
        assert_eq!(key_path.parent().unwrap(), dir.path());
        let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            std::fs::read_to_string(&key_path).unwrap(),
            "KEY-MATERIAL\n"
        );
        assert_eq!(
            git.ssh_command.as_deref().unwrap(),
            format!(
                "ssh -i '{}' -o StrictHostKeyChecking=no -o IdentitiesOnly=yes -o BatchMode=yes \
                 -o ConnectTimeout=30 -o ServerAliveInterval=15 -o ServerAliveCountMax=4",
                key_path.display()
            )
        );
        drop(git);
        assert!(!key_path.exists());
    }

    #[test]
    fn shell_quote_survives_single_quotes() {
        assert_eq!(shell_quote("/tmp/it's"), r"'/tmp/it'\''s'");
    }
}
