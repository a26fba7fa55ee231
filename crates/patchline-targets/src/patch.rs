//! Patch folder: what `in` fetched, read back as the version to apply and
//! the files that make it up.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::TargetError;

/// Files of a patch folder that describe the release rather than belong to it.
const DESCRIPTORS: &[&str] = &["version", "version.json", "metadata.json"];

/// The Concourse version object of a patch, as in `version.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRef {
    /// The version string as published.
    pub version: String,
    /// `sha256:<64 hex>` over the names and hashes of the release's files.
    pub fingerprint: String,
}

/// A patch folder read from disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    /// The folder, absolute.
    pub dir: PathBuf,
    /// Version and fingerprint from `version.json`.
    pub version: VersionRef,
    /// The release's files, relative to `dir`, sorted; the descriptor files
    /// (`version`, `version.json`, `metadata.json`) are not among them.
    pub files: Vec<PathBuf>,
}

impl Patch {
    /// Read the patch folder at `dir`.
    ///
    /// Only `version.json` is required: a patch fetched with `skip_download`
    /// has no files, and applying it is up to the target.
    pub fn read(dir: &Path) -> Result<Patch, TargetError> {
        let bad = |reason: String| TargetError::Patch {
            path: dir.to_path_buf(),
            reason,
        };
        let absolute =
            std::fs::canonicalize(dir).map_err(|err| bad(format!("cannot open it ({err})")))?;
        if !absolute.is_dir() {
            return Err(bad("is not a folder".into()));
        }

        let version_json = absolute.join("version.json");
        let text = match std::fs::read_to_string(&version_json) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(bad(
                    "has no version.json (is it the output of a patchline `get`?)".into(),
                ))
            }
            Err(err) => return Err(bad(format!("cannot read version.json ({err})"))),
        };
        let version: VersionRef =
            serde_json::from_str(&text).map_err(|err| bad(format!("version.json: {err}")))?;
        check_version(&version.version)
            .map_err(|reason| bad(format!("version.json: version {reason}")))?;
        check_fingerprint(&version.fingerprint)
            .map_err(|reason| bad(format!("version.json: fingerprint {reason}")))?;

        let mut files = Vec::new();
        collect_files(&absolute, Path::new(""), &mut files)?;
        files.sort();
        Ok(Patch {
            dir: absolute,
            version,
            files,
        })
    }

    /// Return the absolute paths of the release's files.
    pub fn absolute_files(&self) -> Vec<PathBuf> {
        self.files.iter().map(|file| self.dir.join(file)).collect()
    }
}

/// Walk `root/relative` and add every file below it, following links the
/// way a copy would.
fn collect_files(
    root: &Path,
    relative: &Path,
    files: &mut Vec<PathBuf>,
) -> Result<(), TargetError> {
    let dir = root.join(relative);
    let entries = std::fs::read_dir(&dir).map_err(|err| TargetError::io("list", &dir, err))?;
    for entry in entries {
        let entry = entry.map_err(|err| TargetError::io("list", &dir, err))?;
        let name = entry.file_name();
        if relative.as_os_str().is_empty() && DESCRIPTORS.iter().any(|d| name == *d) {
            continue;
        }
        let child = relative.join(&name);
        let meta = std::fs::metadata(entry.path())
            .map_err(|err| TargetError::io("read", entry.path(), err))?;
        if meta.is_dir() {
            collect_files(root, &child, files)?;
        } else {
            files.push(child);
        }
    }
    Ok(())
}

/// Refuse version strings no target could pass on: empty or with control
/// characters (which also rules out the NUL an environment variable cannot hold).
fn check_version(version: &str) -> Result<(), String> {
    if version.trim().is_empty() {
        return Err("is empty".into());
    }
    if version.chars().any(char::is_control) {
        return Err(format!("{version:?} contains a control character"));
    }
    Ok(())
}

/// Refuse fingerprints that are not `sha256:` and 64 lower-case hex digits.
fn check_fingerprint(fingerprint: &str) -> Result<(), String> {
    let ok = fingerprint.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if ok {
        Ok(())
    } else {
        Err(format!("{fingerprint:?} is not sha256:<64 hex digits>"))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Write a patch folder for `version` with `files` (name, content) into `dir`.
    pub(crate) fn write_patch(
        dir: &Path,
        version: &str,
        fingerprint_digit: char,
        files: &[(&str, &str)],
    ) {
        std::fs::create_dir_all(dir).unwrap();
        let fingerprint = format!("sha256:{}", fingerprint_digit.to_string().repeat(64));
        std::fs::write(dir.join("version"), version).unwrap();
        std::fs::write(
            dir.join("version.json"),
            serde_json::json!({"version": version, "fingerprint": fingerprint}).to_string(),
        )
        .unwrap();
        std::fs::write(dir.join("metadata.json"), "{}").unwrap();
        for (name, content) in files {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
    }

    #[test]
    fn reads_version_and_lists_release_files_only() {
        let dir = tempfile::tempdir().unwrap();
        write_patch(
            dir.path(),
            "621.125",
            'a',
            &[("stemcell.tgz", "x"), ("extra/notes.txt", "y")],
        );

        let patch = Patch::read(dir.path()).unwrap();

        assert_eq!(patch.dir, dir.path().canonicalize().unwrap());
        assert_eq!(patch.version.version, "621.125");
        assert_eq!(
            patch.version.fingerprint,
            format!("sha256:{}", "a".repeat(64))
        );
        assert_eq!(
            patch.files,
            vec![
                PathBuf::from("extra/notes.txt"),
                PathBuf::from("stemcell.tgz")
            ]
        );
        assert_eq!(patch.absolute_files()[1], patch.dir.join("stemcell.tgz"));
    }

    #[test]
    fn refuses_a_folder_without_version_json() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("version"), "1.0").unwrap();

        let err = Patch::read(dir.path()).unwrap_err().to_string();

        assert_eq!(
            err,
            format!(
                "patch folder {}: has no version.json (is it the output of a patchline `get`?)",
                dir.path().display()
            )
        );
    }

    #[test]
    fn refuses_a_malformed_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("version.json"),
            r#"{"version": "1.0", "fingerprint": "md5:abc"}"#,
        )
        .unwrap();

        let err = Patch::read(dir.path()).unwrap_err().to_string();

        assert!(
            err.ends_with(r#"version.json: fingerprint "md5:abc" is not sha256:<64 hex digits>"#),
            "{err}"
        );
    }

    #[test]
    fn refuses_a_missing_folder() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("patch");

        let err = Patch::read(&missing).unwrap_err().to_string();

        assert!(
            err.starts_with(&format!(
                "patch folder {}: cannot open it (",
                missing.display()
            )),
            "{err}"
        );
    }
}
