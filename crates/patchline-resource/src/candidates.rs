//! Candidates: the versions a resource offers, shared by `check` and `in`.
//!
//! The feed's own order is never trusted: releases are filtered (version
//! line, pre-releases, files), fingerprinted over their matching files and
//! sorted locally, oldest first.

use std::collections::BTreeSet;

use patchline_core::release::check_file_name;
use patchline_core::{fingerprint, Release, ReleaseFile};
use patchline_feeds::FeedConfig;
use patchline_transport::Transport;

use crate::log::Log;
use crate::protocol::VersionRef;
use crate::source::Source;
use crate::ResourceError;

/// A release the resource offers, holding only the files it covers.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The release, its files narrowed to those matching `source.files`.
    pub release: Release,
    /// The fingerprint of those files.
    pub fingerprint: String,
}

impl Candidate {
    /// Return the version as Concourse stores it.
    pub fn version_ref(&self) -> VersionRef {
        VersionRef {
            version: self.release.version.as_str().to_string(),
            fingerprint: Some(self.fingerprint.clone()),
        }
    }
}

/// Return the versions `source` offers from `feed`, oldest first.
/// `current` is the version the caller has or wants; feeds that page
/// newest first may stop reading once past it.
pub fn candidates(
    source: &Source,
    feed: &FeedConfig,
    transport: &Transport,
    log: &Log,
    current: Option<&str>,
) -> Result<Vec<Candidate>, ResourceError> {
    let filter = source.file_filter()?;
    let listing = feed.list(transport, current)?;
    for skipped in &listing.skipped {
        log.info(format!("skipping {}: {}", skipped.entry, skipped.reason));
    }

    let published = listing.releases.len() + listing.skipped.len() + listing.passed_over;
    let mut candidates: Vec<Candidate> = Vec::new();
    for mut release in listing.releases {
        let version = release.version.as_str().to_string();
        if let Some(line) = &source.version {
            if !line.matches(&release.version) {
                log.debug(format!("skipping {version}: outside version line {line}"));
                continue;
            }
        }
        if release.version.is_prerelease() && !source.include_prereleases {
            log.debug(format!(
                "skipping {version}: a pre-release (include_prereleases is false)"
            ));
            continue;
        }
        if release.files.is_empty() {
            log.debug(format!("skipping {version}: it has no files"));
            continue;
        }
        release.files.retain(|file| filter.matches(&file.name));
        if release.files.is_empty() {
            log.debug(format!(
                "skipping {version}: no file matches {:?}",
                filter.globs()
            ));
            continue;
        }
        if let Err(reason) = check_files(&release.files) {
            log.info(format!("skipping {version}: {reason}"));
            continue;
        }
        let fingerprint = fingerprint(&release.files);
        candidates.push(Candidate {
            release,
            fingerprint,
        });
    }

    candidates.sort_by(|a, b| {
        a.release
            .version
            .cmp(&b.release.version)
            .then_with(|| a.fingerprint.cmp(&b.fingerprint))
    });
    // The same version published twice (two folders, a repeated index
    // entry) is offered once: the one with the lowest fingerprint, so the
    // choice does not depend on the order the feed lists them in.
    candidates.dedup_by(|later, earlier| {
        let same = later.release.version.as_str() == earlier.release.version.as_str();
        if same {
            log.info(format!(
                "version {} is published more than once; using one of them",
                later.release.version
            ));
        }
        same
    });
    log.info(format!(
        "{} feed {}: {} versions published, {} offered{}",
        feed.kind(),
        feed.describe(),
        published,
        candidates.len(),
        source
            .version
            .as_ref()
            .map(|line| format!(" in version line {line}"))
            .unwrap_or_default()
    ));
    Ok(candidates)
}

/// Refuse a release `in` could not save safely: a file name that escapes
/// the destination or hides, or two files under one name.
fn check_files(files: &[ReleaseFile]) -> Result<(), String> {
    let mut names = BTreeSet::new();
    for file in files {
        check_file_name(&file.name)?;
        if !names.insert(file.name.as_str()) {
            return Err(format!("two of its files are named {:?}", file.name));
        }
    }
    Ok(())
}
