//! Candidates: the versions a resource offers, shared by `check` and `in`.
//!
//! The feed's own order is never trusted: releases are filtered (version
//! line, pre-releases, files), fingerprinted over their matching files and
//! sorted locally, oldest first.

use std::collections::BTreeSet;

use patchline_core::release::check_file_name;
use patchline_core::{fingerprint, FileFilter, Release, ReleaseFile};
use patchline_feeds::{FeedConfig, Wanted};
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
/// `current` is the version the caller has or wants: older ones are not
/// needed. With `only_latest`, the caller needs the newest offered
/// version alone (a first check), which spares reading the others.
pub fn candidates(
    source: &Source,
    feed: &FeedConfig,
    transport: &Transport,
    log: &Log,
    current: Option<&str>,
    only_latest: bool,
) -> Result<Vec<Candidate>, ResourceError> {
    let filter = source.file_filter()?;
    let accept = |release: &Release| admit(source, &filter, release.clone()).is_ok();
    let wanted = Wanted {
        current,
        only_newest: only_latest.then_some(&accept as &dyn Fn(&Release) -> bool),
    };
    let listing = feed.list(transport, &wanted)?;
    for skipped in &listing.skipped {
        log.info(format!("skipping {}: {}", skipped.entry, skipped.reason));
    }

    let published = listing.releases.len() + listing.skipped.len() + listing.passed_over;
    let mut candidates: Vec<Candidate> = Vec::new();
    for release in listing.releases {
        match admit(source, &filter, release) {
            Ok(candidate) => candidates.push(candidate),
            Err(Refusal::Quiet(reason)) => log.debug(reason),
            Err(Refusal::Loud(reason)) => log.info(reason),
        }
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

/// Why a release is not offered: `Quiet` for the filters the operator
/// chose (logged with `debug`), `Loud` for what is wrong with the release.
enum Refusal {
    Quiet(String),
    Loud(String),
}

/// Offer `release` if `source` wants it, narrowed to its matching files
/// and fingerprinted over them.
fn admit(source: &Source, filter: &FileFilter, mut release: Release) -> Result<Candidate, Refusal> {
    let version = release.version.as_str().to_string();
    if let Some(line) = &source.version {
        if !line.matches(&release.version) {
            return Err(Refusal::Quiet(format!(
                "skipping {version}: outside version line {line}"
            )));
        }
    }
    if release.version.is_prerelease() && !source.include_prereleases {
        return Err(Refusal::Quiet(format!(
            "skipping {version}: a pre-release (include_prereleases is false)"
        )));
    }
    if release.files.is_empty() {
        return Err(Refusal::Quiet(format!(
            "skipping {version}: it has no files"
        )));
    }
    release.files.retain(|file| filter.matches(&file.name));
    if release.files.is_empty() {
        return Err(Refusal::Quiet(format!(
            "skipping {version}: no file matches {:?}",
            filter.globs()
        )));
    }
    if let Err(reason) = check_files(&release.files) {
        return Err(Refusal::Loud(format!("skipping {version}: {reason}")));
    }
    let fingerprint = fingerprint(&release.files);
    Ok(Candidate {
        release,
        fingerprint,
    })
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
