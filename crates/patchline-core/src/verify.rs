//! Verification of downloaded bytes against what the feed published.
//!
//! Bytes are hashed while they stream in (the caller feeds a [`Hasher`]),
//! so a file of any size is verified in one pass with bounded memory. The
//! strongest published digest is used: SHA-256 when there is one (CPUs
//! accelerate it), else SHA-512, else SHA-1. MD5 alone proves too little
//! and is refused unless the operator allows weak checksums; a file with no
//! digest at all is refused unless the operator allows unverified files,
//! and is then still hashed with SHA-256 so the record says what arrived.

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use crate::release::{HashAlgorithm, ReleaseFile};

/// Why a file cannot be, or was not, verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The feed publishes no digest for the file.
    #[error(
        "{file}: the feed publishes no checksum, so the download cannot be verified; set allow_unverified: true to accept it"
    )]
    NoChecksum {
        /// The file name.
        file: String,
    },
    /// Only MD5 is published and weak checksums are not allowed.
    #[error(
        "{file}: only an md5 checksum is published; set allow_weak_checksums: true to accept it"
    )]
    OnlyWeak {
        /// The file name.
        file: String,
    },
    /// The published digest is not hexadecimal of the right length.
    #[error("{file}: the published {algorithm} checksum {digest:?} is malformed")]
    Malformed {
        /// The file name.
        file: String,
        /// The algorithm.
        algorithm: HashAlgorithm,
        /// The digest as published.
        digest: String,
    },
    /// The bytes do not hash to the published digest.
    #[error("{file}: {algorithm} mismatch: published {expected}, downloaded bytes give {actual}")]
    Mismatch {
        /// The file name.
        file: String,
        /// The algorithm.
        algorithm: HashAlgorithm,
        /// The published digest.
        expected: String,
        /// The digest of the bytes received.
        actual: String,
    },
    /// The byte count differs from the published size.
    #[error("{file}: size mismatch: published {expected} bytes, received {actual}")]
    Size {
        /// The file name.
        file: String,
        /// The published size.
        expected: u64,
        /// The bytes received.
        actual: u64,
    },
}

/// What the operator accepts besides a strong published digest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Allow {
    /// Accept MD5 as the only digest.
    pub weak: bool,
    /// Accept a file with no published digest at all.
    pub unverified: bool,
}

/// What a download must match: one digest (when published) and, when
/// published, a size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    /// The file name, for messages.
    pub file: String,
    /// The algorithm the bytes are hashed with.
    pub algorithm: HashAlgorithm,
    /// The published digest, lower-case hexadecimal; `None` for a file
    /// accepted unverified.
    pub digest: Option<String>,
    /// The published size.
    pub size: Option<u64>,
}

impl Expectation {
    /// Choose how to verify `file`: its strongest digest, refusing MD5 alone
    /// or no digest at all unless `allow` says otherwise.
    pub fn for_file(file: &ReleaseFile, allow: Allow) -> Result<Self, VerifyError> {
        let Some((algorithm, digest)) = file.strongest_hash() else {
            if !allow.unverified {
                return Err(VerifyError::NoChecksum {
                    file: file.name.clone(),
                });
            }
            return Ok(Expectation {
                file: file.name.clone(),
                algorithm: HashAlgorithm::Sha256,
                digest: None,
                size: file.size,
            });
        };
        if algorithm.is_weak() && !allow.weak {
            return Err(VerifyError::OnlyWeak {
                file: file.name.clone(),
            });
        }
        let digest = digest.to_ascii_lowercase();
        if digest.len() != algorithm.hex_len() || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(VerifyError::Malformed {
                file: file.name.clone(),
                algorithm,
                digest,
            });
        }
        Ok(Expectation {
            file: file.name.clone(),
            algorithm,
            digest: Some(digest),
            size: file.size,
        })
    }

    /// Say whether `received` bytes are already more than published.
    pub fn is_oversized(&self, received: u64) -> bool {
        self.size.is_some_and(|size| received > size)
    }

    /// Compare what arrived (`received` bytes hashing to `actual`) with
    /// what was published; on success return the digest computed.
    pub fn check(&self, received: u64, actual: String) -> Result<String, VerifyError> {
        if let Some(expected) = self.size {
            if expected != received {
                return Err(VerifyError::Size {
                    file: self.file.clone(),
                    expected,
                    actual: received,
                });
            }
        }
        match &self.digest {
            Some(expected) if *expected != actual => Err(VerifyError::Mismatch {
                file: self.file.clone(),
                algorithm: self.algorithm,
                expected: expected.clone(),
                actual,
            }),
            _ => Ok(actual),
        }
    }
}

/// One running digest of any supported algorithm.
pub enum Hasher {
    /// SHA-256.
    Sha256(Sha256),
    /// SHA-512.
    Sha512(Sha512),
    /// SHA-1.
    Sha1(Sha1),
    /// MD5.
    Md5(Md5),
}

impl Hasher {
    /// Start a digest.
    pub fn new(algorithm: HashAlgorithm) -> Self {
        match algorithm {
            HashAlgorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            HashAlgorithm::Sha512 => Hasher::Sha512(Sha512::new()),
            HashAlgorithm::Sha1 => Hasher::Sha1(Sha1::new()),
            HashAlgorithm::Md5 => Hasher::Md5(Md5::new()),
        }
    }

    /// Feed bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
            Hasher::Sha1(h) => h.update(bytes),
            Hasher::Md5(h) => h.update(bytes),
        }
    }

    /// Finish and return lower-case hexadecimal.
    pub fn finish_hex(self) -> String {
        match self {
            Hasher::Sha256(h) => hex::encode(h.finalize()),
            Hasher::Sha512(h) => hex::encode(h.finalize()),
            Hasher::Sha1(h) => hex::encode(h.finalize()),
            Hasher::Md5(h) => hex::encode(h.finalize()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const HELLO_SHA256: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    const HELLO_SHA1: &str = "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d";
    const HELLO_MD5: &str = "5d41402abc4b2a76b9719d911017c592";

    fn file(hashes: &[(HashAlgorithm, &str)], size: Option<u64>) -> ReleaseFile {
        ReleaseFile {
            name: "hello.txt".into(),
            size,
            hashes: hashes
                .iter()
                .map(|(a, h)| (*a, h.to_string()))
                .collect::<BTreeMap<_, _>>(),
            urls: vec![],
        }
    }

    fn verify(
        file: &ReleaseFile,
        allow_weak: bool,
        chunks: &[&[u8]],
    ) -> Result<String, VerifyError> {
        let allow = Allow {
            weak: allow_weak,
            unverified: false,
        };
        let expectation = Expectation::for_file(file, allow)?;
        let mut hasher = Hasher::new(expectation.algorithm);
        let mut received = 0;
        for chunk in chunks {
            hasher.update(chunk);
            received += chunk.len() as u64;
        }
        expectation.check(received, hasher.finish_hex())
    }

    #[test]
    fn streamed_bytes_verify_with_the_strongest_digest() {
        let f = file(
            &[
                (HashAlgorithm::Sha256, HELLO_SHA256),
                (HashAlgorithm::Sha1, "0000"),
            ],
            Some(5),
        );
        assert_eq!(verify(&f, false, &[b"he", b"llo"]).unwrap(), HELLO_SHA256);
        let f = file(&[(HashAlgorithm::Sha1, HELLO_SHA1)], None);
        assert_eq!(verify(&f, false, &[b"hello"]).unwrap(), HELLO_SHA1);
    }

    #[test]
    fn md5_alone_needs_permission() {
        let f = file(&[(HashAlgorithm::Md5, HELLO_MD5)], Some(5));
        assert!(matches!(
            verify(&f, false, &[b"hello"]),
            Err(VerifyError::OnlyWeak { .. })
        ));
        assert_eq!(verify(&f, true, &[b"hello"]).unwrap(), HELLO_MD5);
    }

    #[test]
    fn wrong_bytes_or_size_fail_with_both_values() {
        let f = file(&[(HashAlgorithm::Sha256, HELLO_SHA256)], Some(5));
        let err = verify(&f, false, &[b"hellO"]).unwrap_err().to_string();
        assert!(
            err.contains(HELLO_SHA256) && err.contains("mismatch"),
            "{err}"
        );
        let err = verify(&f, false, &[b"hello!"]).unwrap_err().to_string();
        assert_eq!(
            err,
            "hello.txt: size mismatch: published 5 bytes, received 6"
        );
    }

    #[test]
    fn missing_or_malformed_digests_are_refused() {
        let weak = Allow {
            weak: true,
            unverified: false,
        };
        assert!(matches!(
            Expectation::for_file(&file(&[], None), weak),
            Err(VerifyError::NoChecksum { .. })
        ));
        assert!(matches!(
            Expectation::for_file(&file(&[(HashAlgorithm::Sha256, "abc")], None), weak),
            Err(VerifyError::Malformed { .. })
        ));
    }

    #[test]
    fn a_file_without_digest_is_hashed_when_allowed() {
        let allow = Allow {
            weak: false,
            unverified: true,
        };
        let expectation = Expectation::for_file(&file(&[], Some(5)), allow).unwrap();
        assert_eq!(expectation.algorithm, HashAlgorithm::Sha256);
        assert_eq!(expectation.digest, None);
        let mut hasher = Hasher::new(expectation.algorithm);
        hasher.update(b"hello");
        assert_eq!(
            expectation.check(5, hasher.finish_hex()).unwrap(),
            HELLO_SHA256
        );
        assert!(expectation.is_oversized(6));
    }
}
