//! `in`: fetch one version into the destination folder, verified.
//!
//! Every file is hashed while its bytes stream in and written under a
//! temporary name; only a file whose size and strongest published digest
//! match is renamed to its published name, so no unverified file ever
//! carries the real name. The records (`metadata.json`, `version.json`,
//! `version`) are written last, each atomically.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use patchline_core::secret::redact_url;
use patchline_core::verify::Expectation;
use patchline_core::{FileFilter, HashAlgorithm, ReleaseFile};
use patchline_transport::{Location, Transport};
use serde::Serialize;

use crate::candidates::{candidates, Candidate};
use crate::log::Log;
use crate::protocol::{InRequest, MetadataPair, Response, VersionRef};
use crate::ResourceError;

/// How many files of one version download at once.
const PARALLEL_DOWNLOADS: usize = 4;

/// The `metadata.json` written beside the files.
#[derive(Debug, Serialize)]
struct Metadata<'a> {
    version: &'a str,
    fingerprint: &'a str,
    published: Option<String>,
    files: Vec<FileRecord<'a>>,
}

#[derive(Debug, Serialize)]
struct FileRecord<'a> {
    name: &'a str,
    size: Option<u64>,
    hashes: &'a std::collections::BTreeMap<HashAlgorithm, String>,
    urls: Vec<String>,
    /// The digest computed from the bytes received; absent with skip_download.
    verified: Option<Verified>,
}

#[derive(Debug, Clone, Serialize)]
struct Verified {
    algorithm: HashAlgorithm,
    digest: String,
}

/// Fetch the requested version into `dest`.
pub fn get(
    request: &InRequest,
    dest: &Path,
    transport: &Transport,
) -> Result<Response, ResourceError> {
    let log = Log::new(request.source.debug);
    let params = request.params.as_ref().cloned().unwrap_or_default();
    let wanted = &request.version;

    let offered = candidates(&request.source, transport, &log)?;
    let candidate = find(&offered, wanted, &request.source.uri)?;
    let narrow = FileFilter::new(&params.files)
        .map_err(|err| ResourceError::Request(format!("params.files: {err}")))?;
    let files: Vec<&ReleaseFile> = candidate
        .release
        .files
        .iter()
        .filter(|file| narrow.matches(&file.name))
        .collect();
    if files.is_empty() {
        return Err(ResourceError::Request(format!(
            "params.files: no file of version {} matches {:?}",
            wanted.version, params.files
        )));
    }
    fs::create_dir_all(dest).map_err(|err| ResourceError::io(dest, err))?;
    let verified = if params.skip_download {
        log.info(format!(
            "skip_download: writing the metadata of {} only",
            wanted.version
        ));
        vec![None; files.len()]
    } else {
        // Decide on every file before downloading any, so a file that
        // cannot be verified stops the step before bytes are spent.
        let expectations = files
            .iter()
            .map(|file| Expectation::for_file(file, params.allow_weak_checksums))
            .collect::<Result<Vec<_>, _>>()?;
        download_all(&files, &expectations, dest, transport, &log)?
            .into_iter()
            .map(Some)
            .collect()
    };

    let version = candidate.version_ref();
    let metadata = Metadata {
        version: &version.version,
        fingerprint: &candidate.fingerprint,
        published: candidate.release.published.map(|t| t.to_rfc3339()),
        files: files
            .iter()
            .zip(verified)
            .map(|(file, verified)| FileRecord {
                name: &file.name,
                size: file.size,
                hashes: &file.hashes,
                urls: file.urls.iter().map(|u| redact_url(u)).collect(),
                verified,
            })
            .collect(),
    };
    write_atomically(&dest.join("metadata.json"), &to_json(&metadata))?;
    write_atomically(&dest.join("version.json"), &to_json(&version))?;
    write_atomically(&dest.join("version"), version.version.as_bytes())?;

    let mut pairs = vec![
        MetadataPair::new("version", &version.version),
        MetadataPair::new("fingerprint", &candidate.fingerprint),
    ];
    if let Some(published) = &metadata.published {
        pairs.push(MetadataPair::new("published", published));
    }
    pairs.push(MetadataPair::new(
        "files",
        files
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    ));
    Ok(Response {
        version,
        metadata: pairs,
    })
}

fn find<'a>(
    offered: &'a [Candidate],
    wanted: &VersionRef,
    uri: &str,
) -> Result<&'a Candidate, ResourceError> {
    let candidate = offered
        .iter()
        .find(|c| c.release.version.as_str() == wanted.version)
        .ok_or_else(|| {
            ResourceError::Feed(format!(
                "version {} is no longer offered by {} (removed upstream, or outside source.version/files now)",
                wanted.version,
                redact_url(uri)
            ))
        })?;
    if let Some(requested) = &wanted.fingerprint {
        if requested != &candidate.fingerprint {
            return Err(ResourceError::Feed(format!(
                "version {} was republished with other files: requested fingerprint {}, the feed now gives {}",
                wanted.version, requested, candidate.fingerprint
            )));
        }
    }
    Ok(candidate)
}

fn download_all(
    files: &[&ReleaseFile],
    expectations: &[Expectation],
    dest: &Path,
    transport: &Transport,
    log: &Log,
) -> Result<Vec<Verified>, ResourceError> {
    let jobs: Vec<(&ReleaseFile, &Expectation)> = files.iter().copied().zip(expectations).collect();
    let mut verified = Vec::with_capacity(jobs.len());
    for batch in jobs.chunks(PARALLEL_DOWNLOADS) {
        // Every download of the batch finishes (or fails) before the first
        // failure is reported, so none is left writing after we return.
        let results: Vec<Result<Verified, ResourceError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = batch
                .iter()
                .map(|(file, exp)| scope.spawn(move || download(file, exp, dest, transport, log)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a download thread panicked"))
                .collect()
        });
        for result in results {
            verified.push(result?);
        }
    }
    Ok(verified)
}

/// Download one file from its first URL that works, verified.
fn download(
    file: &ReleaseFile,
    expectation: &Expectation,
    dest: &Path,
    transport: &Transport,
    log: &Log,
) -> Result<Verified, ResourceError> {
    if file.urls.is_empty() {
        return Err(ResourceError::Feed(format!(
            "{}: the feed gives no URL to download it from",
            file.name
        )));
    }
    let final_path = dest.join(&file.name);
    let partial = dest.join(format!(".{}.partial", file.name));
    let mut last_error = None;
    for url in &file.urls {
        let started = Instant::now();
        log.info(format!(
            "downloading {} ({}) from {}",
            file.name,
            file.size.map_or("size unknown".to_string(), human_bytes),
            redact_url(url)
        ));
        match download_from(url, expectation, &partial, transport) {
            Ok(digest) => {
                fs::rename(&partial, &final_path)
                    .map_err(|err| ResourceError::io(&final_path, err))?;
                log.info(format!(
                    "verified {} {} {} ({}{:.1}s)",
                    file.name,
                    expectation.algorithm,
                    digest,
                    file.size
                        .map_or(String::new(), |size| format!("{} in ", human_bytes(size))),
                    started.elapsed().as_secs_f64()
                ));
                return Ok(Verified {
                    algorithm: expectation.algorithm,
                    digest,
                });
            }
            Err(err) => {
                let _ = fs::remove_file(&partial);
                // A verification failure is about the bytes, not the mirror:
                // another URL of the same file would serve the same release.
                if matches!(err, ResourceError::Verify(_)) {
                    return Err(err);
                }
                log.info(format!("{}: {err}", file.name));
                last_error = Some(err);
            }
        }
    }
    Err(last_error.expect("at least one URL was tried"))
}

fn download_from(
    url: &str,
    expectation: &Expectation,
    partial: &Path,
    transport: &Transport,
) -> Result<String, ResourceError> {
    let location = Location::parse(url)?;
    // A leftover of an earlier, killed run (even a link planted there) is
    // removed, never written through.
    let _ = fs::remove_file(partial);
    let file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(partial)
        .map_err(|err| ResourceError::io(partial, err))?;
    let mut writer = BufWriter::with_capacity(1 << 20, file);
    let mut verifier = expectation.start();
    let streamed = transport.stream(&location, |bytes| {
        verifier.update(bytes);
        if verifier.is_oversized() {
            return Err(std::io::Error::other("more bytes than the published size"));
        }
        writer.write_all(bytes)
    });
    if let Err(err) = streamed {
        // Too many bytes is about the release, not the mirror: report it as
        // the verification failure it is, so no other URL is tried.
        return Err(if verifier.is_oversized() {
            verifier
                .finish()
                .err()
                .map_or(err.into(), ResourceError::Verify)
        } else {
            err.into()
        });
    }
    let file = writer
        .into_inner()
        .map_err(|err| ResourceError::io(partial, err.into_error()))?;
    file.sync_all()
        .map_err(|err| ResourceError::io(partial, err))?;
    Ok(verifier.finish()?)
}

fn to_json(value: &impl Serialize) -> Vec<u8> {
    let mut json = serde_json::to_vec_pretty(value).expect("records serialize");
    json.push(b'\n');
    json
}

/// Write `bytes` to `path` through a temporary file and a rename.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ResourceError> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temp: PathBuf = path.with_file_name(format!(".{name}.tmp"));
    fs::write(&temp, bytes).map_err(|err| ResourceError::io(&temp, err))?;
    fs::rename(&temp, path).map_err(|err| ResourceError::io(path, err))
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
