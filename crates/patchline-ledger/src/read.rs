//! Reading the ledger: fetching a copy of it and loading its events in the
//! order they happened, for reports and the demo.

use std::path::{Path, PathBuf};

use crate::config::LedgerConfig;
use crate::error::LedgerError;
use crate::event::{Event, SCHEMA};
use crate::git::Git;
use crate::repo;

/// Fetch the ledger branch into `dir` (which must not exist yet or be
/// empty), with depth 1: every event is a file in the tip.
///
/// Returns the commit fetched, or `None` when the branch does not exist
/// yet; `dir` is then an empty repository and [`read_events`] returns no
/// events. A key file, when needed, lives in the system temp folder only
/// while git runs.
pub fn clone_for_reading(config: &LedgerConfig, dir: &Path) -> Result<Option<String>, LedgerError> {
    config.validate()?;
    let key_dir = std::env::temp_dir();
    let git = Git::new(config.private_key.as_ref(), &key_dir, "ssh")?;
    let commit = repo::open(&git, config, dir)?;
    if commit.is_none() {
        eprintln!(
            "ledger: {} has no branch {} yet, so no events",
            config.display_uri(),
            config.branch
        );
    }
    Ok(commit)
}

/// Fetch the ledger into a temporary folder under `scratch_dir` and return
/// its events, oldest first.
pub fn read_ledger(config: &LedgerConfig, scratch_dir: &Path) -> Result<Vec<Event>, LedgerError> {
    let work = tempfile::Builder::new()
        .prefix("ledger-read-")
        .tempdir_in(scratch_dir)
        .map_err(|err| LedgerError::io("create a folder in", scratch_dir, err))?;
    let dir = work.path().join("ledger");
    clone_for_reading(config, &dir)?;
    read_events(&dir)
}

/// Load every event under `repo_dir/events`, oldest first.
///
/// Events of the same second keep the order of their file paths, so the
/// result is the same on every machine. A repository without `events/`
/// has no events. Any other file than `*.json` is ignored; a `*.json` that
/// is not an event is an error naming the file.
pub fn read_events(repo_dir: &Path) -> Result<Vec<Event>, LedgerError> {
    let events_dir = repo_dir.join("events");
    if !events_dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut found: Vec<(PathBuf, Event)> = Vec::new();
    for environment in sorted_entries(&events_dir)? {
        if !environment.is_dir() {
            continue;
        }
        for file in sorted_entries(&environment)? {
            if file.extension().is_some_and(|ext| ext == "json") && file.is_file() {
                let event = parse_event(&file)?;
                found.push((file, event));
            }
        }
    }
    found.sort_by(|(path_a, a), (path_b, b)| a.time.cmp(&b.time).then_with(|| path_a.cmp(path_b)));
    Ok(found.into_iter().map(|(_, event)| event).collect())
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, LedgerError> {
    let entries = std::fs::read_dir(dir).map_err(|err| LedgerError::io("read", dir, err))?;
    let mut paths = entries
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| LedgerError::io("read", dir, err))?;
    paths.sort();
    Ok(paths)
}

fn parse_event(path: &Path) -> Result<Event, LedgerError> {
    let text = std::fs::read_to_string(path).map_err(|err| LedgerError::io("read", path, err))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|err| LedgerError::Parse {
            path: path.to_path_buf(),
            detail: err.to_string(),
        })?;
    // Checked before the fields so a newer layout is reported as such rather
    // than as a missing field.
    let schema = value.get("schema").and_then(serde_json::Value::as_u64);
    if schema != Some(u64::from(SCHEMA)) {
        return Err(LedgerError::Parse {
            path: path.to_path_buf(),
            detail: format!(
                "schema {} is not {SCHEMA}, the one this patchline reads",
                value
                    .get("schema")
                    .map_or("(missing)".to_string(), |s| s.to_string())
            ),
        });
    }
    serde_json::from_value(value).map_err(|err| LedgerError::Parse {
        path: path.to_path_buf(),
        detail: err.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{bare_repo, event};

    fn write_event(repo: &Path, relative: &str, event: &Event) {
        let path = repo.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, serde_json::to_string(event).unwrap()).unwrap();
    }

    #[test]
    fn events_come_back_oldest_first_with_ties_in_path_order() {
        let repo = tempfile::tempdir().unwrap();
        write_event(
            repo.path(),
            "events/sandbox/c.json",
            &event("sandbox", "3.0", 30),
        );
        write_event(
            repo.path(),
            "events/sandbox/a.json",
            &event("sandbox", "1.0", 10),
        );
        write_event(repo.path(), "events/prod/z.json", &event("prod", "2.0", 20));
        write_event(repo.path(), "events/dev/y.json", &event("dev", "2.1", 20));
        std::fs::write(repo.path().join("events/sandbox/notes.txt"), "not an event").unwrap();
        std::fs::write(repo.path().join("events/stray.json"), "{}").unwrap();

        let events = read_events(repo.path()).unwrap();

        let seen: Vec<(&str, &str)> = events
            .iter()
            .map(|e| (e.environment.as_str(), e.version.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                ("sandbox", "1.0"),
                ("dev", "2.1"),
                ("prod", "2.0"),
                ("sandbox", "3.0")
            ]
        );
    }

    #[test]
    fn a_repository_without_events_has_none() {
        let repo = tempfile::tempdir().unwrap();
        assert!(read_events(repo.path()).unwrap().is_empty());
    }

    #[test]
    fn a_newer_schema_is_named_with_its_file() {
        let repo = tempfile::tempdir().unwrap();
        let path = repo.path().join("events/sandbox/next.json");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, r#"{"schema": 2, "when": "later"}"#).unwrap();

        let err = read_events(repo.path()).unwrap_err().to_string();

        assert_eq!(
            err,
            format!(
                "ledger: {}: not a valid event: schema 2 is not 1, the one this patchline reads",
                path.display()
            )
        );
    }

    #[test]
    fn a_broken_event_is_named_with_its_file() {
        let repo = tempfile::tempdir().unwrap();
        let path = repo.path().join("events/sandbox/broken.json");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, r#"{"schema": 1, "time": "2026-12-04T15:21:17Z"}"#).unwrap();

        let err = read_events(repo.path()).unwrap_err().to_string();

        assert!(
            err.starts_with(&format!(
                "ledger: {}: not a valid event: missing field",
                path.display()
            )),
            "{err}"
        );
    }

    #[test]
    fn reading_a_ledger_without_the_branch_gives_no_events() {
        let tmp = tempfile::tempdir().unwrap();
        let bare = bare_repo(tmp.path(), "ledger.git");
        let config = LedgerConfig::new(bare.to_str().unwrap());

        assert!(read_ledger(&config, tmp.path()).unwrap().is_empty());

        let dir = tmp.path().join("copy");
        assert_eq!(clone_for_reading(&config, &dir).unwrap(), None);
        assert!(dir.join(".git").is_dir());
    }

    #[test]
    fn clone_for_reading_checks_out_the_recorded_events() {
        let tmp = tempfile::tempdir().unwrap();
        let bare = bare_repo(tmp.path(), "ledger.git");
        let config = LedgerConfig::new(bare.to_str().unwrap());
        let recorded =
            crate::record(&config, &event("sandbox", "621.125", 17), tmp.path()).unwrap();

        let dir = tmp.path().join("copy");
        let commit = clone_for_reading(&config, &dir).unwrap();

        assert_eq!(commit.as_deref(), Some(recorded.commit.as_str()));
        assert!(dir.join(&recorded.path).is_file());
        assert_eq!(
            read_events(&dir).unwrap(),
            [event("sandbox", "621.125", 17)]
        );
    }
}
