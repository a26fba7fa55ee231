//! Local target: an environment that is a folder on this machine.
//!
//! Layout under `root`:
//!
//! ```text
//! root/
//!   versions/<version>/   the patch's files, one folder per version kept
//!   current -> versions/<version>
//!   state.json            what is deployed, and every apply before
//!   .patchline.lock       the environment lock
//! ```
//!
//! Every change is made beside its destination and renamed into place, so
//! a reader of `current` or `state.json` sees the old environment or the
//! new one. One gap remains: re-applying a version whose bytes were
//! republished swaps its folder with two renames, and for the instant
//! between them `current` points at nothing.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{write_atomically, Action, Job, Outcome, Status, Target, TargetError, VersionRef};

/// A folder environment, see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalTarget {
    root: PathBuf,
    keep: usize,
}

/// `root/state.json`: what is deployed and how it got there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// The deployed version, `None` before the first apply.
    pub current: Option<Deployment>,
    /// Every change, oldest first.
    pub history: Vec<Deployment>,
}

/// One change to the environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    /// The version deployed by this change.
    pub version: String,
    /// Its fingerprint.
    pub fingerprint: String,
    /// `apply`, `repave` or `rollback`.
    pub action: String,
    /// When, RFC 3339.
    pub at: String,
}

impl LocalTarget {
    /// Describe the environment at `root` keeping `keep` versions on disk.
    ///
    /// A relative `root` is taken from the current folder.
    pub fn new(root: PathBuf, keep: usize) -> Result<LocalTarget, TargetError> {
        if keep == 0 {
            return Err(TargetError::config("keep", "must be at least 1"));
        }
        if root.as_os_str().is_empty() {
            return Err(TargetError::config("root", "is empty"));
        }
        let root = std::path::absolute(&root)
            .map_err(|err| TargetError::config("root", format!("cannot resolve it ({err})")))?;
        Ok(LocalTarget { root, keep })
    }

    /// Return the environment's folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Return how many versions are kept on disk.
    pub fn keep(&self) -> usize {
        self.keep
    }

    /// Read `state.json`; an environment never applied to has empty state.
    pub fn state(&self) -> Result<State, TargetError> {
        let path = self.root.join("state.json");
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|err| TargetError::State {
                path,
                reason: err.to_string(),
            }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(err) => Err(TargetError::io("read", path, err)),
        }
    }

    fn versions(&self) -> PathBuf {
        self.root.join("versions")
    }

    fn save_state(&self, state: &State) -> Result<(), TargetError> {
        let mut text = serde_json::to_string_pretty(state).expect("state always serializes");
        text.push('\n');
        write_atomically(&self.root.join("state.json"), text.as_bytes())
    }

    /// Install the patch (unless `action` is a plain apply of what is
    /// already deployed), switch `current` to it and prune old versions.
    fn install(&self, job: &Job<'_>, action: Action) -> Result<Outcome, TargetError> {
        let wanted = &job.patch.version;
        let name = folder_name(&wanted.version)?;
        let mut state = self.state()?;
        let previous = state.current.as_ref().map(|d| d.version.clone());
        let folder = self.versions().join(name);

        let deployed = state
            .current
            .as_ref()
            .is_some_and(|d| d.version == wanted.version && d.fingerprint == wanted.fingerprint);
        if action == Action::Apply && deployed && folder.is_dir() {
            return Ok(Outcome {
                status: Status::Applied,
                changed: false,
                version: wanted.clone(),
                previous_version: previous,
                detail: format!(
                    "{} is already deployed with fingerprint {}; nothing changed",
                    wanted.version, wanted.fingerprint
                ),
            });
        }

        self.stage(job, name, &folder)?;
        self.switch_current(name)?;
        let entry = Deployment {
            version: wanted.version.clone(),
            fingerprint: wanted.fingerprint.clone(),
            action: action.as_str().into(),
            at: job.clock.stamp(),
        };
        state.current = Some(entry.clone());
        state.history.push(entry);
        self.save_state(&state)?;
        self.prune(&state)?;

        let (status, verb) = match action {
            Action::Repave => (Status::Repaved, "repaved"),
            _ => (Status::Applied, "applied"),
        };
        let was = match &previous {
            Some(version) => format!("was {version}"),
            None => "first apply".into(),
        };
        Ok(Outcome {
            status,
            changed: true,
            version: wanted.clone(),
            previous_version: previous,
            detail: format!(
                "{verb} {} to {} ({was})",
                wanted.version,
                self.root.display()
            ),
        })
    }

    /// Copy the patch's files into a staging folder inside `root` and
    /// rename it to `folder`, retiring an existing folder of that name.
    fn stage(&self, job: &Job<'_>, name: &str, folder: &Path) -> Result<(), TargetError> {
        let versions = self.versions();
        std::fs::create_dir_all(&versions)
            .map_err(|err| TargetError::io("create", &versions, err))?;
        self.clear_leftovers()?;
        let staging = tempfile::Builder::new()
            .prefix(".staging-")
            .tempdir_in(&self.root)
            .map_err(|err| TargetError::io("create a staging folder in", &self.root, err))?;

        for (relative, source) in job.patch.files.iter().zip(job.patch.absolute_files()) {
            let dest = staging.path().join(relative);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|err| TargetError::io("create", parent, err))?;
            }
            std::fs::copy(&source, &dest).map_err(|err| TargetError::io("copy", &source, err))?;
        }
        // Staging folders are private while incomplete; a deployed version is
        // readable like any installed software.
        std::fs::set_permissions(staging.path(), std::fs::Permissions::from_mode(0o755))
            .map_err(|err| TargetError::io("set permissions of", staging.path(), err))?;
        eprintln!(
            "staged {} file(s) of {} in {}",
            job.patch.files.len(),
            name,
            folder.display()
        );

        // A rename cannot replace a folder that has files in it, so the old
        // copy of a republished version moves aside first and is removed
        // when `retired` goes out of scope.
        let retired = tempfile::Builder::new()
            .prefix(".retired-")
            .tempdir_in(&self.root)
            .map_err(|err| TargetError::io("create a folder in", &self.root, err))?;
        if folder.symlink_metadata().is_ok() {
            std::fs::rename(folder, retired.path().join(name))
                .map_err(|err| TargetError::io("move aside", folder, err))?;
        }
        let staged = staging.keep();
        std::fs::rename(&staged, folder).map_err(|err| {
            let _ = std::fs::remove_dir_all(&staged);
            TargetError::io("move into place", folder, err)
        })?;
        Ok(())
    }

    /// Remove what an apply killed mid-way left behind (staging and
    /// retired folders, a half-made link). Only called under the
    /// environment lock, so no running apply owns them.
    fn clear_leftovers(&self) -> Result<(), TargetError> {
        let entries = std::fs::read_dir(&self.root)
            .map_err(|err| TargetError::io("read", &self.root, err))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if [".staging-", ".retired-", ".current-"]
                .iter()
                .any(|prefix| name.starts_with(prefix))
            {
                let path = entry.path();
                let removed = if path.is_dir() && !path.is_symlink() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
                removed.map_err(|err| TargetError::io("remove", &path, err))?;
                eprintln!("removed {name}, left by an interrupted apply");
            }
        }
        Ok(())
    }

    /// Point `current` at `versions/<name>` by renaming a new link over it.
    fn switch_current(&self, name: &str) -> Result<(), TargetError> {
        let link = self.root.join("current");
        let temporary = self.root.join(format!(".current-{}", std::process::id()));
        let _ = std::fs::remove_file(&temporary);
        std::os::unix::fs::symlink(Path::new("versions").join(name), &temporary)
            .map_err(|err| TargetError::io("create link", &temporary, err))?;
        std::fs::rename(&temporary, &link).map_err(|err| {
            let _ = std::fs::remove_file(&temporary);
            TargetError::io("switch", &link, err)
        })?;
        eprintln!("current -> versions/{name}");
        Ok(())
    }

    /// Return the most recent deployment, other than the current version,
    /// whose folder is still on disk.
    fn previous_on_disk<'s>(&self, state: &'s State) -> Option<&'s Deployment> {
        let current = state.current.as_ref().map(|d| d.version.as_str());
        state.history.iter().rev().find(|d| {
            Some(d.version.as_str()) != current
                && folder_name(&d.version).is_ok_and(|name| self.versions().join(name).is_dir())
        })
    }

    /// Remove version folders beyond the `keep` most recently deployed,
    /// never the current or the previous one.
    fn prune(&self, state: &State) -> Result<(), TargetError> {
        let versions = self.versions();
        let entries =
            std::fs::read_dir(&versions).map_err(|err| TargetError::io("list", &versions, err))?;
        let mut on_disk = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|err| TargetError::io("list", &versions, err))?;
            if let (Ok(name), true) = (entry.file_name().into_string(), entry.path().is_dir()) {
                on_disk.push(name);
            }
        }

        // Most recently deployed first; folders the history does not know
        // sort last and go first.
        let last_deployed = |name: &str| state.history.iter().rposition(|d| d.version == name);
        on_disk.sort_by_key(|name| std::cmp::Reverse(last_deployed(name)));

        let current = state.current.as_ref().map(|d| d.version.as_str());
        let previous = self.previous_on_disk(state).map(|d| d.version.as_str());
        for name in on_disk.iter().skip(self.keep) {
            if Some(name.as_str()) == current || Some(name.as_str()) == previous {
                continue;
            }
            let folder = versions.join(name);
            std::fs::remove_dir_all(&folder)
                .map_err(|err| TargetError::io("remove", &folder, err))?;
            eprintln!("removed version {name} (keep: {})", self.keep);
        }
        Ok(())
    }
}

impl Target for LocalTarget {
    fn kind(&self) -> &'static str {
        "local"
    }

    fn lock_path(&self, _environment: &str) -> PathBuf {
        self.root.join(".patchline.lock")
    }

    /// Refuse a version that cannot name a folder; a rollback takes its
    /// version from the deployed state, not from the patch.
    fn check(&self, job: &Job<'_>, action: Action) -> Result<(), TargetError> {
        if action != Action::Rollback {
            folder_name(&job.patch.version.version)?;
        }
        Ok(())
    }

    fn deployed(&self) -> Result<Option<VersionRef>, TargetError> {
        Ok(self.state()?.current.map(|d| VersionRef {
            version: d.version,
            fingerprint: d.fingerprint,
        }))
    }

    fn apply(&self, job: &Job<'_>) -> Result<Outcome, TargetError> {
        self.install(job, Action::Apply)
    }

    fn repave(&self, job: &Job<'_>) -> Result<Outcome, TargetError> {
        self.install(job, Action::Repave)
    }

    /// Switch `current` back to the previous version still on disk; the
    /// job's patch plays no part.
    fn rollback(&self, job: &Job<'_>) -> Result<Outcome, TargetError> {
        let mut state = self.state()?;
        let Some(current) = state.current.clone() else {
            return Err(TargetError::NoRollback(format!(
                "nothing is deployed in {} yet",
                self.root.display()
            )));
        };
        let Some(target) = self.previous_on_disk(&state).cloned() else {
            return Err(TargetError::NoRollback(format!(
                "no version other than the current {} is on disk in {}",
                current.version,
                self.versions().display()
            )));
        };

        self.switch_current(folder_name(&target.version)?)?;
        let entry = Deployment {
            action: Action::Rollback.as_str().into(),
            at: job.clock.stamp(),
            ..target.clone()
        };
        state.current = Some(entry.clone());
        state.history.push(entry);
        self.save_state(&state)?;

        Ok(Outcome {
            status: Status::RolledBack,
            changed: true,
            version: VersionRef {
                version: target.version.clone(),
                fingerprint: target.fingerprint,
            },
            previous_version: Some(current.version.clone()),
            detail: format!(
                "rolled back {} from {} to {}",
                self.root.display(),
                current.version,
                target.version
            ),
        })
    }
}

/// Return `version` when it is safe as a single folder name.
fn folder_name(version: &str) -> Result<&str, TargetError> {
    let unsafe_reason = if version.contains('/') || version.contains('\\') {
        Some("contains a path separator")
    } else if version.contains("..") {
        Some("contains `..`")
    } else if version.starts_with('.') {
        Some("starts with `.`")
    } else if version.is_empty() || version.chars().any(char::is_control) {
        Some("is empty or has control characters")
    } else {
        None
    };
    match unsafe_reason {
        None => Ok(version),
        Some(reason) => Err(TargetError::config(
            "root",
            format!("version {version:?} cannot name a folder: it {reason}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::tests::write_patch;
    use crate::{Clock, Patch};
    use chrono::DateTime;

    struct Env {
        _dir: tempfile::TempDir,
        base: PathBuf,
        target: LocalTarget,
    }

    fn env(keep: usize) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().to_path_buf();
        let target = LocalTarget::new(base.join("env"), keep).unwrap();
        Env {
            _dir: dir,
            base,
            target,
        }
    }

    fn clock(minute: u32) -> Clock {
        Clock::Fixed(
            DateTime::parse_from_rfc3339(&format!("2025-01-10T09:{minute:02}:00Z"))
                .unwrap()
                .into(),
        )
    }

    fn patch(env: &Env, version: &str, digit: char) -> Patch {
        let dir = env.base.join(format!("patch-{version}-{digit}"));
        write_patch(
            &dir,
            version,
            digit,
            &[("release.tgz", &format!("{version}{digit}"))],
        );
        Patch::read(&dir).unwrap()
    }

    fn run(env: &Env, patch: &Patch, minute: u32, action: Action) -> Result<Outcome, TargetError> {
        let job = Job {
            environment: "sandbox",
            patch,
            clock: clock(minute),
        };
        match action {
            Action::Apply => env.target.apply(&job),
            Action::Repave => env.target.repave(&job),
            Action::Rollback => env.target.rollback(&job),
        }
    }

    fn on_disk(env: &Env) -> Vec<String> {
        let mut names: Vec<_> = std::fs::read_dir(env.target.root().join("versions"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn prune_keeps_recent_current_and_previous() {
        let env = env(2);
        for (minute, version) in ["1.1", "1.2", "1.3", "1.4"].iter().enumerate() {
            run(
                &env,
                &patch(&env, version, 'a'),
                minute as u32,
                Action::Apply,
            )
            .unwrap();
        }
        assert_eq!(on_disk(&env), vec!["1.3", "1.4"]);

        // After rolling back to 1.3, 1.4 is the previous one and survives
        // the next apply although keep is 2.
        run(&env, &patch(&env, "1.4", 'a'), 10, Action::Rollback).unwrap();
        run(&env, &patch(&env, "1.5", 'a'), 11, Action::Apply).unwrap();
        assert_eq!(on_disk(&env), vec!["1.3", "1.5"]);
    }

    #[test]
    fn leftovers_of_a_killed_apply_are_removed_by_the_next() {
        let env = env(5);
        run(&env, &patch(&env, "1.1", 'a'), 1, Action::Apply).unwrap();
        let root = env.target.root();
        std::fs::create_dir_all(root.join(".staging-x1/deep")).unwrap();
        std::fs::create_dir(root.join(".retired-x2")).unwrap();
        std::os::unix::fs::symlink("versions/1.1", root.join(".current-77")).unwrap();

        run(&env, &patch(&env, "1.2", 'b'), 2, Action::Apply).unwrap();
        let mut names: Vec<_> = std::fs::read_dir(root)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["current", "state.json", "versions"]);
    }

    #[test]
    fn rollback_goes_back_and_forth() {
        let env = env(5);
        run(&env, &patch(&env, "1.1", 'a'), 1, Action::Apply).unwrap();
        run(&env, &patch(&env, "1.2", 'b'), 2, Action::Apply).unwrap();

        let back = run(&env, &patch(&env, "1.2", 'b'), 3, Action::Rollback).unwrap();
        assert_eq!(back.version.version, "1.1");
        assert_eq!(
            back.version.fingerprint,
            format!("sha256:{}", "a".repeat(64))
        );
        assert_eq!(back.previous_version.as_deref(), Some("1.2"));

        let forth = run(&env, &patch(&env, "1.2", 'b'), 4, Action::Rollback).unwrap();
        assert_eq!(forth.version.version, "1.2");
        assert_eq!(
            std::fs::read_link(env.target.root().join("current")).unwrap(),
            PathBuf::from("versions/1.2")
        );
    }

    #[test]
    fn rollback_without_history_fails() {
        let env = env(5);
        let p = patch(&env, "1.1", 'a');
        let err = run(&env, &p, 1, Action::Rollback).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "cannot roll back: nothing is deployed in {} yet",
                env.target.root().display()
            )
        );

        run(&env, &p, 2, Action::Apply).unwrap();
        let err = run(&env, &p, 3, Action::Rollback).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "cannot roll back: no version other than the current 1.1 is on disk in {}/versions",
                env.target.root().display()
            )
        );
    }

    #[test]
    fn unsafe_versions_touch_nothing() {
        let env = env(5);
        for version in ["../evil", "a/b", "..", ".hidden"] {
            let dir = env.base.join("odd");
            let _ = std::fs::remove_dir_all(&dir);
            write_patch(&dir, version, 'a', &[]);
            let p = Patch::read(&dir).unwrap();

            let err = run(&env, &p, 1, Action::Apply).unwrap_err().to_string();

            assert!(
                err.starts_with(&format!(
                    "target: root: version {version:?} cannot name a folder"
                )),
                "{err}"
            );
            assert!(!env.target.root().exists());
        }
    }

    #[test]
    fn corrupt_state_is_reported_not_overwritten() {
        let env = env(5);
        std::fs::create_dir_all(env.target.root()).unwrap();
        std::fs::write(env.target.root().join("state.json"), "{not json").unwrap();

        let err = run(&env, &patch(&env, "1.1", 'a'), 1, Action::Apply)
            .unwrap_err()
            .to_string();

        assert!(
            err.starts_with(&format!(
                "deployed state {}/state.json: ",
                env.target.root().display()
            )),
            "{err}"
        );
        assert_eq!(
            std::fs::read_to_string(env.target.root().join("state.json")).unwrap(),
            "{not json"
        );
    }

    #[test]
    fn relative_root_is_made_absolute_and_keep_zero_refused() {
        let target = LocalTarget::new(PathBuf::from("env"), 1).unwrap();
        assert_eq!(target.root(), std::env::current_dir().unwrap().join("env"));
        assert_eq!(
            LocalTarget::new(PathBuf::from("/x"), 0)
                .unwrap_err()
                .to_string(),
            "target: keep: must be at least 1"
        );
    }
}
