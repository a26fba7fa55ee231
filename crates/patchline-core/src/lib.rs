//! The words of the upgrade machine, as types: versions and version lines,
//! releases and their files, fingerprints, verification of downloaded bytes
//! and secrets that never print. Nothing here does I/O.

pub mod files;
pub mod fingerprint;
pub mod line;
pub mod release;
pub mod secret;
pub mod verify;
pub mod version;

pub use files::FileFilter;
pub use fingerprint::{fingerprint, is_fingerprint};
pub use line::VersionLine;
pub use release::{HashAlgorithm, Release, ReleaseFile};
pub use secret::Secret;
pub use version::Version;
