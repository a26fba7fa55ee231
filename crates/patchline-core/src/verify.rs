//! Verification of downloaded bytes against what the feed published.
//!
//! Bytes are hashed while they stream in, so a file of any size is verified
//! in one pass with bounded memory. The strongest published digest is used:
//! SHA-256 when there is one (CPUs accelerate it), else SHA-512, else SHA-1.
//! MD5 alone proves too little and is refused unless the operator allows
//! weak checksums.

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use crate::release::{HashAlgorithm, ReleaseFile};

/// Why a file cannot be, or was not, verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The feed publishes no digest for the file.
    #[error("{file}: the feed publishes no checksum, so the download cannot be verified")]
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

/// What a download must match: one digest and, when published, a size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    /// The file name, for messages.
    pub file: String,
    /// The algorithm chosen.
    pub algorithm: HashAlgorithm,
    /// The published digest, lower-case hexadecimal.
    pub digest: String,
    /// The published size.
    pub size: Option<u64>,
}

impl Expectation {
    /// Choose how to verify `file`: its strongest digest, refusing MD5 alone
    /// unless `allow_weak`.
    pub fn for_file(file: &ReleaseFile, allow_weak: bool) -> Result<Self, VerifyError> {
        let (algorithm, digest) = file
            .strongest_hash()
            .ok_or_else(|| VerifyError::NoChecksum {
                file: file.name.clone(),
            })?;
        if algorithm.is_weak() && !allow_weak {
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
            digest,
            size: file.size,
        })
    }

    /// Start hashing a stream of bytes for this expectation.
    pub fn start(&self) -> StreamVerifier<'_> {
        StreamVerifier {
            expectation: self,
            hasher: Hasher::new(self.algorithm),
            received: 0,
        }
    }
}

/// Hashes bytes as they arrive and checks them at the end.
pub struct StreamVerifier<'a> {
    expectation: &'a Expectation,
    hasher: Hasher,
    received: u64,
}

impl StreamVerifier<'_> {
    /// Feed the next bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.received += bytes.len() as u64;
    }

    /// Return how many bytes were fed so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Say whether more bytes than published have arrived already.
    pub fn is_oversized(&self) -> bool {
        self.expectation
            .size
            .is_some_and(|size| self.received > size)
    }

    /// Compare size and digest with what was published; on success return
    /// the digest computed.
    pub fn finish(self) -> Result<String, VerifyError> {
        let expectation = self.expectation;
        if let Some(expected) = expectation.size {
            if expected != self.received {
                return Err(VerifyError::Size {
                    file: expectation.file.clone(),
                    expected,
                    actual: self.received,
                });
            }
        }
        let actual = self.hasher.finish_hex();
        if actual != expectation.digest {
            return Err(VerifyError::Mismatch {
                file: expectation.file.clone(),
                algorithm: expectation.algorithm,
                expected: expectation.digest.clone(),
                actual,
            });
        }
        Ok(actual)
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
        let expectation = Expectation::for_file(file, allow_weak)?;
        let mut verifier = expectation.start();
        for chunk in chunks {
            verifier.update(chunk);
        }
        verifier.finish()
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
        assert!(matches!(
            Expectation::for_file(&file(&[], None), true),
            Err(VerifyError::NoChecksum { .. })
        ));
        assert!(matches!(
            Expectation::for_file(&file(&[(HashAlgorithm::Sha256, "abc")], None), true),
            Err(VerifyError::Malformed { .. })
        ));
    }
}
