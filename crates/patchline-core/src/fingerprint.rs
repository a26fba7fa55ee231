//! Fingerprints: which bytes a version stands for.
//!
//! A version string alone cannot tell a release from the same release
//! republished with other bytes. The fingerprint is a SHA-256 over the names
//! and published digests of the files a resource covers, so a metadata edit
//! upstream (a new mirror URL, a corrected publish time) never changes it,
//! while new bytes under an old version do, and the patch rolls again from
//! sandbox. Each file contributes its most preferred digest; a feed that
//! starts publishing a stronger digest for old files therefore changes the
//! fingerprint once, which errs on the safe side.

use sha2::{Digest, Sha256};

use crate::release::ReleaseFile;

/// Compute the fingerprint (`sha256:<hex>`) of the given files; their order
/// does not matter.
pub fn fingerprint<'a>(files: impl IntoIterator<Item = &'a ReleaseFile>) -> String {
    let mut lines: Vec<String> = files
        .into_iter()
        .map(|file| match file.strongest_hash() {
            Some((algo, hex)) => format!("{}\t{}:{}\n", file.name, algo, hex.to_ascii_lowercase()),
            None => format!("{}\tnone\n", file.name),
        })
        .collect();
    lines.sort();

    let mut hasher = Sha256::new();
    for line in &lines {
        hasher.update(line.as_bytes());
    }
    format!("sha256:{}", hex::encode(hasher.finalize()))
}

/// Say whether `text` has the shape of a fingerprint: `sha256:` and 64
/// lower-case hexadecimal digits.
pub fn is_fingerprint(text: &str) -> bool {
    text.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::release::HashAlgorithm;

    fn file(name: &str, sha256: &str, url: &str) -> ReleaseFile {
        ReleaseFile {
            name: name.into(),
            size: Some(1),
            hashes: BTreeMap::from([(HashAlgorithm::Sha256, sha256.into())]),
            urls: vec![url.into()],
        }
    }

    #[test]
    fn covers_names_and_hashes_only() {
        let a = file("a.tgz", "AA", "https://one/a");
        let b = file("b.tgz", "bb", "https://one/b");
        let base = fingerprint([&a, &b]);
        assert!(base.starts_with("sha256:") && base.len() == 7 + 64);

        // Order, URL, size and hex case are metadata: same fingerprint.
        let mut moved = file("a.tgz", "aa", "https://mirror/a");
        moved.size = Some(99);
        assert_eq!(fingerprint([&b, &moved]), base);

        // Other bytes or another file set: another fingerprint.
        assert_ne!(fingerprint([&file("a.tgz", "ab", "u"), &b]), base);
        assert_ne!(fingerprint([&a]), base);
    }

    #[test]
    fn only_sha256_fingerprints_have_the_shape() {
        let a = file("a.tgz", "aa", "u");
        assert!(is_fingerprint(&fingerprint([&a])));
        assert!(!is_fingerprint("md5:abc"));
        assert!(!is_fingerprint(&format!("sha256:{}", "A".repeat(64))));
    }

    #[test]
    fn known_value_is_stable() {
        let a = file("a.tgz", "aa", "u");
        // sha256 of "a.tgz\tsha256:aa\n"
        assert_eq!(
            fingerprint([&a]),
            "sha256:8bab7de38b4e93b7f6d6fff6517ce6e5072d3154828da7afc29859a96b52ca89"
        );
    }
}
