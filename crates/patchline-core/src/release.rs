//! Releases and their files, as every feed reports them.
//!
//! A feed turns whatever it reads (metalink files, a JSON index, an API)
//! into [`Release`]s; everything after the feed (fingerprints, downloads,
//! records) works on these types alone, so a new feed only has to fill them.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::version::Version;

/// A hash algorithm a feed may publish for a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HashAlgorithm {
    /// SHA-256: preferred, since CPUs accelerate it.
    Sha256,
    /// SHA-512.
    Sha512,
    /// SHA-1: weak against collisions, still the only hash of old releases.
    Sha1,
    /// MD5: too weak to trust alone.
    Md5,
}

impl HashAlgorithm {
    /// The algorithms from most to least preferred for verification.
    pub const PREFERENCE: [HashAlgorithm; 4] = [
        HashAlgorithm::Sha256,
        HashAlgorithm::Sha512,
        HashAlgorithm::Sha1,
        HashAlgorithm::Md5,
    ];

    /// Read an algorithm name in any usual spelling (`sha-256`, `sha256`,
    /// `SHA256`, `md5`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "sha256" => Some(HashAlgorithm::Sha256),
            "sha512" => Some(HashAlgorithm::Sha512),
            "sha1" => Some(HashAlgorithm::Sha1),
            "md5" => Some(HashAlgorithm::Md5),
            _ => None,
        }
    }

    /// Return the name used in records and fingerprints (`sha256`).
    pub fn name(self) -> &'static str {
        match self {
            HashAlgorithm::Sha256 => "sha256",
            HashAlgorithm::Sha512 => "sha512",
            HashAlgorithm::Sha1 => "sha1",
            HashAlgorithm::Md5 => "md5",
        }
    }

    /// Return the length of a digest in hexadecimal digits.
    pub fn hex_len(self) -> usize {
        match self {
            HashAlgorithm::Sha256 => 64,
            HashAlgorithm::Sha512 => 128,
            HashAlgorithm::Sha1 => 40,
            HashAlgorithm::Md5 => 32,
        }
    }

    /// Say whether this algorithm alone is too weak to verify a download.
    pub fn is_weak(self) -> bool {
        self == HashAlgorithm::Md5
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One file of a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseFile {
    /// The file name as published; also the name it is saved under.
    pub name: String,
    /// The size in bytes, when the feed publishes it.
    pub size: Option<u64>,
    /// Published digests, lower-case hexadecimal, by algorithm.
    pub hashes: BTreeMap<HashAlgorithm, String>,
    /// Where the file can be downloaded, best first.
    pub urls: Vec<String>,
}

impl ReleaseFile {
    /// Return the most preferred published hash.
    pub fn strongest_hash(&self) -> Option<(HashAlgorithm, &str)> {
        HashAlgorithm::PREFERENCE
            .iter()
            .find_map(|algo| self.hashes.get(algo).map(|hex| (*algo, hex.as_str())))
    }
}

/// One published version of a product or stemcell.
#[derive(Debug, Clone, Serialize)]
pub struct Release {
    /// The version as published.
    pub version: Version,
    /// When the release was published, when the feed says.
    pub published: Option<DateTime<Utc>>,
    /// Every file of the release, in the feed's order.
    pub files: Vec<ReleaseFile>,
    /// The feed's own handle on the release, for `in` (Tanzu Network's
    /// release id, the URL of a GitHub release's checksums asset). Opaque
    /// to everything but the feed; not part of the fingerprint.
    #[serde(skip)]
    pub handle: Option<String>,
}

impl Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Refuse a published file name that could escape the folder it is saved
/// in or overwrite the files `in` writes itself (its records and its
/// hidden temporary files).
pub fn check_file_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("an empty file name".into());
    }
    if name.chars().any(char::is_control) {
        return Err(format!("file name {name:?} contains a control character"));
    }
    // `in` saves a file first as `.<name>.partial`: it must fit the 255
    // bytes a file name has on common file systems.
    if name.len() > 200 {
        return Err(format!(
            "file name of {} bytes is longer than 200",
            name.len()
        ));
    }
    if name.contains(['/', '\\', '\0']) {
        return Err(format!("file name {name:?} contains a path separator"));
    }
    if name.contains("..") {
        return Err(format!("file name {name:?} contains \"..\""));
    }
    // `in` keeps its temporary files under hidden names; a published name
    // never may be one, so the two can never collide.
    if name.starts_with('.') {
        return Err(format!("file name {name:?} is hidden (starts with \".\")"));
    }
    if matches!(name, "version" | "version.json" | "metadata.json") {
        return Err(format!(
            "file name {name:?} is reserved for patchline's own records"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names_in_every_spelling() {
        assert_eq!(
            HashAlgorithm::from_name("sha-256"),
            Some(HashAlgorithm::Sha256)
        );
        assert_eq!(
            HashAlgorithm::from_name("SHA512"),
            Some(HashAlgorithm::Sha512)
        );
        assert_eq!(HashAlgorithm::from_name("sha_1"), Some(HashAlgorithm::Sha1));
        assert_eq!(HashAlgorithm::from_name("MD5"), Some(HashAlgorithm::Md5));
        assert_eq!(HashAlgorithm::from_name("crc32"), None);
    }

    #[test]
    fn strongest_hash_prefers_sha256() {
        let mut file = ReleaseFile {
            name: "a.tgz".into(),
            size: None,
            hashes: BTreeMap::new(),
            urls: vec![],
        };
        assert_eq!(file.strongest_hash(), None);
        file.hashes.insert(HashAlgorithm::Md5, "m".into());
        file.hashes.insert(HashAlgorithm::Sha1, "s1".into());
        assert_eq!(file.strongest_hash(), Some((HashAlgorithm::Sha1, "s1")));
        file.hashes.insert(HashAlgorithm::Sha512, "s5".into());
        file.hashes.insert(HashAlgorithm::Sha256, "s2".into());
        assert_eq!(file.strongest_hash(), Some((HashAlgorithm::Sha256, "s2")));
    }

    #[test]
    fn unsafe_file_names_are_refused() {
        assert!(check_file_name("bosh-stemcell-621.125-vsphere.tgz").is_ok());
        for bad in [
            "",
            "../x",
            "a/b",
            "a\\b",
            "..",
            ".",
            ".x.partial",
            "x..tgz",
            "metadata.json",
            "version",
            "bad\nname",
            "esc\u{1b}[31m",
            &"x".repeat(201),
        ] {
            assert!(check_file_name(bad).is_err(), "{bad:?}");
        }
    }
}
