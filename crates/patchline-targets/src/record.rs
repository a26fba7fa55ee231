//! Apply record: the output folder an apply leaves for the steps after it
//! (`out` to the ledger, smoke tests, notifications), success or not.

use std::path::Path;

use serde::Serialize;

use crate::{write_atomically, Status, TargetError, VersionRef};

/// `apply.json`, field for field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApplyRecord {
    /// The environment applied to.
    pub environment: String,
    /// The version deployed now; after a rollback, the version rolled back
    /// to; after a failure, the version that was to be applied.
    pub version: String,
    /// That version's fingerprint.
    pub fingerprint: String,
    /// What happened.
    pub status: Status,
    /// Whether the environment changed.
    pub changed: bool,
    /// The version deployed before, when the target knows it.
    pub previous_version: Option<String>,
    /// The kind of target (`local`, `command`).
    pub target: String,
    /// When the apply started, RFC 3339.
    pub started_at: String,
    /// When it finished, RFC 3339.
    pub finished_at: String,
    /// One line for the operator; on failure, the reason.
    pub detail: String,
}

impl ApplyRecord {
    /// Return whether the apply failed.
    pub fn failed(&self) -> bool {
        self.status == Status::Failed
    }

    /// Write `version`, `version.json` and `apply.json` into `dir`.
    ///
    /// Each file is replaced atomically and `apply.json` comes last, so a
    /// reader that finds it finds the other two complete. The folder itself
    /// is not replaced: Concourse mounts task outputs, and a mount point
    /// cannot be renamed over.
    pub fn write(&self, dir: &Path) -> Result<(), TargetError> {
        std::fs::create_dir_all(dir).map_err(|err| TargetError::io("create", dir, err))?;
        let version = VersionRef {
            version: self.version.clone(),
            fingerprint: self.fingerprint.clone(),
        };
        write_atomically(&dir.join("version"), self.version.as_bytes())?;
        write_atomically(&dir.join("version.json"), &json(&version))?;
        write_atomically(&dir.join("apply.json"), &json(self))
    }
}

fn json<T: Serialize>(value: &T) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("records always serialize");
    bytes.push(b'\n');
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_three_files() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("applied");
        let record = ApplyRecord {
            environment: "sandbox".into(),
            version: "621.125".into(),
            fingerprint: format!("sha256:{}", "0".repeat(64)),
            status: Status::RolledBack,
            changed: true,
            previous_version: None,
            target: "local".into(),
            started_at: "2025-01-10T09:00:00Z".into(),
            finished_at: "2025-01-10T09:00:01Z".into(),
            detail: "rolled back".into(),
        };

        record.write(&out).unwrap();

        assert_eq!(
            std::fs::read_to_string(out.join("version")).unwrap(),
            "621.125"
        );
        let version: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("version.json")).unwrap())
                .unwrap();
        assert_eq!(
            version,
            serde_json::json!({"version": "621.125", "fingerprint": format!("sha256:{}", "0".repeat(64))})
        );
        let apply: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("apply.json")).unwrap())
                .unwrap();
        assert_eq!(apply["status"], "rolled-back");
        assert_eq!(apply["previous_version"], serde_json::Value::Null);
        assert_eq!(apply.as_object().unwrap().len(), 10);
    }
}
