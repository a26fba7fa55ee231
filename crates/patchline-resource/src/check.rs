//! `check`: which versions Concourse should know about.

use patchline_core::Version;

use crate::candidates::{candidates, Candidate};
use crate::log::Log;
use crate::protocol::{CheckRequest, VersionRef};
use crate::source::Purpose;
use crate::ResourceError;

/// Answer a check, oldest first: with no current version only the latest;
/// with the current version still offered, it (under its fingerprint now)
/// and every newer one; with the current version gone, every newer one, or
/// the latest if none is newer. An empty feed answers nothing.
pub fn check(request: &CheckRequest) -> Result<Vec<VersionRef>, ResourceError> {
    let log = Log::new(request.source.debug);
    let feed = request.source.feed_config()?;
    let transport = request.source.transport(&feed, log, Purpose::Check)?;
    let current = request.version.as_ref().map(|v| v.version.as_str());
    let offered = candidates(
        &request.source,
        &feed,
        &transport,
        &log,
        current,
        current.is_none(),
    )?;
    let Some(latest) = offered.last() else {
        return Ok(Vec::new());
    };
    let Some(current) = &request.version else {
        return Ok(vec![latest.version_ref()]);
    };

    if let Some(at) = offered
        .iter()
        .position(|c| c.release.version.as_str() == current.version)
    {
        let now = &offered[at].fingerprint;
        if let Some(before) = current.fingerprint.as_ref().filter(|before| *before != now) {
            log.info(format!(
                "version {} was republished: fingerprint {before} is now {now}",
                current.version
            ));
        }
        return Ok(offered[at..].iter().map(Candidate::version_ref).collect());
    }

    let newer: Vec<VersionRef> = match Version::parse(&current.version) {
        Ok(current) => offered
            .iter()
            .filter(|c| c.release.version.cmp_precedence(&current).is_gt())
            .map(Candidate::version_ref)
            .collect(),
        Err(_) => Vec::new(),
    };
    log.info(format!(
        "current version {} is no longer offered; answering {}",
        current.version,
        if newer.is_empty() {
            "the latest"
        } else {
            "every newer version"
        }
    ));
    Ok(if newer.is_empty() {
        vec![latest.version_ref()]
    } else {
        newer
    })
}
