//! Atomic file writes: a reader sees the old file or the new one, never a
//! half-written one.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::TargetError;

/// Write `bytes` to `path` through a temporary file in the same folder that
/// is renamed over `path` once complete.
///
/// The temporary file lives beside `path` because a rename is only atomic
/// within one file system.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), TargetError> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut file = tempfile::Builder::new()
        .prefix(".patchline-")
        .tempfile_in(dir)
        .map_err(|err| TargetError::io("create a temporary file in", dir, err))?;
    // Temporary files are private; the files written here are records
    // that later steps, possibly as another user, must read.
    file.write_all(bytes)
        .and_then(|()| {
            file.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644))
        })
        .and_then(|()| file.as_file().sync_all())
        .map_err(|err| TargetError::io("write", file.path().to_path_buf(), err))?;
    file.persist(path)
        .map_err(|err| TargetError::io("replace", path, err.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, "old").unwrap();

        write_atomically(&path, b"new").unwrap();

        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("state.json")]);
    }

    #[test]
    fn names_the_folder_when_it_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("apply.json");

        let err = write_atomically(&path, b"{}").unwrap_err().to_string();

        assert!(
            err.starts_with(&format!(
                "could not create a temporary file in {}/missing: ",
                dir.path().display()
            )),
            "{err}"
        );
    }
}
