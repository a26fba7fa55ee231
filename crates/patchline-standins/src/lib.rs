//! Local stand-ins of the services patchline reads: bosh.io, GitHub's
//! releases API and Tanzu Network. Each one is an HTTP server on loopback
//! that answers as the service's public API documents it (field names,
//! ordering, pagination, redirects), from releases a test describes.
//! `faults` is a file host that misbehaves on purpose (resets, stalls,
//! wrong ranges, error pages) to prove the transport. They serve tests
//! only; nothing in a shipped binary uses them.

pub mod bosh_io;
pub mod faults;
pub mod github;
pub mod pivnet;

/// Return the first value of header `name` (any case) among recorded
/// headers, whose names every stand-in keeps in lower case.
fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    let name = name.to_ascii_lowercase();
    headers
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
}
