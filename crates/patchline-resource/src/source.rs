//! The `source` of a patchline resource: which feed, which version line,
//! which files, and where the ledger is.

use patchline_core::{FileFilter, VersionLine};
use patchline_feeds::FeedKind;
use patchline_ledger::LedgerConfig;
use serde::{Deserialize, Deserializer};

/// The resource's `source` object.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Where releases come from.
    pub feed: FeedKind,
    /// The feed's location.
    pub uri: String,
    /// The version line followed; absent follows every version.
    #[serde(default)]
    pub version: Option<VersionLine>,
    /// Globs on file names; a version is offered only if a file matches.
    #[serde(default, deserialize_with = "one_or_many")]
    pub files: Vec<String>,
    /// Offer pre-releases too.
    #[serde(default)]
    pub include_prereleases: bool,
    /// Where `out` records events.
    #[serde(default)]
    pub ledger: Option<LedgerConfig>,
    /// Log more on stderr.
    #[serde(default)]
    pub debug: bool,
}

impl Source {
    /// Build the filter of `files`, naming the field when a glob is bad.
    pub fn file_filter(&self) -> Result<FileFilter, crate::ResourceError> {
        FileFilter::new(&self.files)
            .map_err(|err| crate::ResourceError::Request(format!("source.files: {err}")))
    }
}

/// Accept a single string where a list of strings is expected, since
/// `files: "*vsphere*"` is an easy thing to write.
pub(crate) fn one_or_many<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    struct Globs;

    impl<'de> serde::de::Visitor<'de> for Globs {
        type Value = Vec<String>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a glob or a list of globs")
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Vec<String>, E> {
            Ok(Vec::new())
        }

        fn visit_str<E: serde::de::Error>(self, glob: &str) -> Result<Vec<String>, E> {
            Ok(vec![glob.to_string()])
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Vec<String>, A::Error> {
            let mut globs = Vec::new();
            while let Some(glob) = seq.next_element::<String>()? {
                globs.push(glob);
            }
            Ok(globs)
        }
    }

    deserializer.deserialize_any(Globs)
}
