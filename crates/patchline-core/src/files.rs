//! File filters: which files of a release a resource covers.
//!
//! A stemcell version publishes one file per infrastructure; a team on
//! vSphere wants only `*vsphere-esxi*`. Globs match the published file name
//! (`*` never crosses a `/`, which names cannot contain anyway).

use globset::{Glob, GlobSet, GlobSetBuilder};

/// Why a file glob could not be read.
#[derive(Debug, Clone, thiserror::Error)]
#[error("glob {glob:?} does not parse: {reason}")]
pub struct GlobError {
    glob: String,
    reason: String,
}

/// A set of globs; empty means every file.
#[derive(Debug, Clone, Default)]
pub struct FileFilter {
    globs: Vec<String>,
    set: Option<GlobSet>,
}

impl FileFilter {
    /// Build a filter from globs; no globs matches every file.
    pub fn new(globs: &[String]) -> Result<Self, GlobError> {
        if globs.is_empty() {
            return Ok(FileFilter::default());
        }
        let mut builder = GlobSetBuilder::new();
        for glob in globs {
            let parsed = Glob::new(glob).map_err(|err| GlobError {
                glob: glob.clone(),
                reason: err.kind().to_string(),
            })?;
            builder.add(parsed);
        }
        let set = builder.build().map_err(|err| GlobError {
            glob: globs.join(", "),
            reason: err.to_string(),
        })?;
        Ok(FileFilter {
            globs: globs.to_vec(),
            set: Some(set),
        })
    }

    /// Say whether a file name passes the filter.
    pub fn matches(&self, name: &str) -> bool {
        self.set.as_ref().is_none_or(|set| set.is_match(name))
    }

    /// Return the globs as given.
    pub fn globs(&self) -> &[String] {
        &self.globs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_file_names() {
        let filter = FileFilter::new(&["*vsphere-esxi*".into(), "*.sha1".into()]).unwrap();
        assert!(filter.matches("bosh-stemcell-621.125-vsphere-esxi-ubuntu-xenial-go_agent.tgz"));
        assert!(filter.matches("x.sha1"));
        assert!(!filter.matches("bosh-stemcell-621.125-aws-xen-hvm-ubuntu-xenial-go_agent.tgz"));
        assert!(FileFilter::new(&[]).unwrap().matches("anything"));
    }

    #[test]
    fn a_bad_glob_is_named() {
        let err = FileFilter::new(&["[a-".into()]).unwrap_err().to_string();
        assert!(err.starts_with("glob \"[a-\" does not parse"), "{err}");
    }
}
