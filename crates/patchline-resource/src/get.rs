//! `in`: fetch one version into the destination folder, verified.
//!
//! Every file is hashed while its bytes stream in and written under a
//! temporary name; only a file whose size and strongest published digest
//! match is renamed to its published name, so no unverified file ever
//! carries the real name. The records (`metadata.json`, `version.json`,
//! `version`) are written last, each atomically.

use std::fs::{self, File};
use std::io::{self, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;
use std::time::Instant;

use patchline_core::secret::redact_url;
use patchline_core::verify::{Allow, Expectation, Hasher, VerifyError};
use patchline_core::{FileFilter, HashAlgorithm, ReleaseFile};
use patchline_feeds::FeedConfig;
use patchline_transport::{human_bytes, Sink, Transport, TransportError};
use serde::Serialize;

use crate::candidates::{candidates, Candidate};
use crate::log::Log;
use crate::protocol::{InRequest, MetadataPair, Response, VersionRef};
use crate::source::Purpose;
use crate::ResourceError;

/// How many files of one version download at once.
const PARALLEL_DOWNLOADS: usize = 4;

/// How many buffers pass bytes to the hashing thread: memory per
/// download is this many reads (1 MiB each), whatever the file's size.
const BUFFERS: usize = 4;

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
    /// The digest of the bytes received; absent with skip_download.
    computed: Option<Computed>,
    /// Whether `computed` matched a digest the feed published.
    verified: bool,
}

#[derive(Debug, Clone, Serialize)]
struct Computed {
    algorithm: HashAlgorithm,
    digest: String,
}

/// Fetch the requested version into `dest`.
pub fn get(request: &InRequest, dest: &Path) -> Result<Response, ResourceError> {
    let log = Log::new(request.source.debug);
    let params = request.params.as_ref().cloned().unwrap_or_default();
    let wanted = &request.version;
    let feed = request.source.feed_config()?;
    let transport = request.source.transport(&feed, log, Purpose::Fetch)?;

    let offered = candidates(
        &request.source,
        &feed,
        &transport,
        &log,
        Some(&wanted.version),
        false,
    )?;
    let candidate = find(&offered, wanted, &feed)?;
    let narrow = FileFilter::new(&params.files)
        .map_err(|err| ResourceError::Request(format!("params.files: {err}")))?;
    let mut release = candidate.release.clone();
    release.files.retain(|file| narrow.matches(&file.name));
    if release.files.is_empty() {
        return Err(ResourceError::Request(format!(
            "params.files: no file of version {} matches {:?}",
            wanted.version, params.files
        )));
    }
    fs::create_dir_all(dest).map_err(|err| ResourceError::io(dest, err))?;
    let computed = if params.skip_download {
        log.info(format!(
            "skip_download: writing the metadata of {} only",
            wanted.version
        ));
        vec![None; release.files.len()]
    } else {
        feed.prepare(&mut release, &transport)?;
        // Decide on every file before downloading any, so a file that
        // cannot be verified stops the step before bytes are spent.
        let allow = Allow {
            weak: params.allow_weak_checksums,
            unverified: params.allow_unverified,
        };
        let expectations = release
            .files
            .iter()
            .map(|file| Expectation::for_file(file, allow))
            .collect::<Result<Vec<_>, _>>()?;
        for expectation in expectations.iter().filter(|e| e.digest.is_none()) {
            log.info(format!(
                "WARNING: {} has no published checksum; allow_unverified is true, so it is accepted unverified (its sha256 is recorded)",
                expectation.file
            ));
        }
        let jobs = Jobs {
            feed: &feed,
            transport: &transport,
            dest,
            log: &log,
        };
        jobs.download_all(&release.files, &expectations)?
            .into_iter()
            .zip(&expectations)
            .map(|(digest, expectation)| Some((digest, expectation.digest.is_some())))
            .collect()
    };

    let version = candidate.version_ref();
    let metadata = Metadata {
        version: &version.version,
        fingerprint: &candidate.fingerprint,
        published: release.published.map(|t| t.to_rfc3339()),
        files: release
            .files
            .iter()
            .zip(computed)
            .map(|(file, computed)| FileRecord {
                name: &file.name,
                size: file.size,
                hashes: &file.hashes,
                urls: file.urls.iter().map(|u| redact_url(u)).collect(),
                verified: computed.as_ref().is_some_and(|(_, verified)| *verified),
                computed: computed.map(|(computed, _)| computed),
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
        release
            .files
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
    feed: &FeedConfig,
) -> Result<&'a Candidate, ResourceError> {
    let candidate = offered
        .iter()
        .find(|c| c.release.version.as_str() == wanted.version)
        .ok_or_else(|| {
            ResourceError::Feed(format!(
                "version {} is no longer offered by {} (removed upstream, or outside source.version/files now)",
                wanted.version,
                feed.describe()
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

/// What every download of one `in` shares.
struct Jobs<'a> {
    feed: &'a FeedConfig,
    transport: &'a Transport,
    dest: &'a Path,
    log: &'a Log,
}

impl Jobs<'_> {
    fn download_all(
        &self,
        files: &[ReleaseFile],
        expectations: &[Expectation],
    ) -> Result<Vec<Computed>, ResourceError> {
        let jobs: Vec<(&ReleaseFile, &Expectation)> = files.iter().zip(expectations).collect();
        let mut computed = Vec::with_capacity(jobs.len());
        for batch in jobs.chunks(PARALLEL_DOWNLOADS) {
            // Every download of the batch finishes (or fails) before the
            // first failure is reported, so none is left writing after we
            // return.
            let results: Vec<Result<Computed, ResourceError>> = std::thread::scope(|scope| {
                let handles: Vec<_> = batch
                    .iter()
                    .map(|(file, exp)| scope.spawn(move || self.download(file, exp)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("a download thread panicked"))
                    .collect()
            });
            for result in results {
                computed.push(result?);
            }
        }
        Ok(computed)
    }

    /// Download one file from its first URL that works, verified, and
    /// give it its published name.
    fn download(
        &self,
        file: &ReleaseFile,
        expectation: &Expectation,
    ) -> Result<Computed, ResourceError> {
        if file.urls.is_empty() {
            return Err(ResourceError::Feed(format!(
                "{}: the feed gives no URL to download it from",
                file.name
            )));
        }
        let final_path = self.dest.join(&file.name);
        let partial = self.dest.join(format!(".{}.partial", file.name));
        let mut last_error = None;
        for (tried, url) in file.urls.iter().enumerate() {
            let started = Instant::now();
            self.log.info(format!(
                "downloading {} ({}) from {}",
                file.name,
                file.size.map_or("size unknown".to_string(), human_bytes),
                redact_url(url)
            ));
            let local = !(url.starts_with("http://") || url.starts_with("https://"));
            if local && !self.feed.may_name_local_files() {
                last_error = Some(ResourceError::Feed(format!(
                    "{}: the feed names a file of this machine ({}); only a local feed may",
                    file.name,
                    redact_url(url)
                )));
                continue;
            }
            let mut sink = FileSink::create(&partial, expectation)?;
            let request = self.feed.download_request(url);
            let result = match self
                .transport
                .download(&request, file.size, &file.name, &mut sink)
            {
                Ok(_) => sink.finish(),
                Err(err) => Err(sink.abandon(err)),
            };
            match result {
                Ok(digest) => {
                    fs::rename(&partial, &final_path)
                        .map_err(|err| ResourceError::io(&final_path, err))?;
                    self.log.info(format!(
                        "{} {} {} {} ({}{:.1}s)",
                        if expectation.digest.is_some() {
                            "verified"
                        } else {
                            "received (unverified)"
                        },
                        file.name,
                        expectation.algorithm,
                        digest,
                        file.size
                            .map_or(String::new(), |size| format!("{} in ", human_bytes(size))),
                        started.elapsed().as_secs_f64()
                    ));
                    return Ok(Computed {
                        algorithm: expectation.algorithm,
                        digest,
                    });
                }
                Err(err) => {
                    let _ = fs::remove_file(&partial);
                    // A verification failure is about the bytes, not the
                    // mirror: another URL of the same file would serve the
                    // same release.
                    if matches!(err, ResourceError::Verify(_)) {
                        return Err(err);
                    }
                    if tried + 1 < file.urls.len() {
                        self.log
                            .info(format!("{}: {err}; trying the next URL", file.name));
                    }
                    last_error = Some(err);
                }
            }
        }
        Err(last_error.expect("at least one URL was tried"))
    }
}

/// The partial file of one download: bytes are written here on the
/// downloading thread and hashed on a thread of their own, so hashing
/// runs beside the network and the disk instead of after them.
struct FileSink<'a> {
    file: File,
    written: u64,
    oversized: bool,
    expectation: &'a Expectation,
    hashing: Option<(SyncSender<Chunk>, JoinHandle<String>)>,
    /// Buffers the hashing thread is done with; a fixed set goes round,
    /// so memory stays the same however long the download.
    free: Receiver<Vec<u8>>,
}

enum Chunk {
    Bytes(Vec<u8>),
    Restart,
}

impl<'a> FileSink<'a> {
    fn create(path: &Path, expectation: &'a Expectation) -> Result<Self, ResourceError> {
        // A leftover of an earlier, killed run (even a link planted there)
        // is removed, never written through.
        let _ = fs::remove_file(path);
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|err| ResourceError::io(path, err))?;
        let algorithm = expectation.algorithm;
        let (sender, receiver) = sync_channel::<Chunk>(BUFFERS);
        let (give_back, free) = sync_channel::<Vec<u8>>(BUFFERS);
        for _ in 0..BUFFERS {
            give_back
                .send(Vec::with_capacity(1 << 20))
                .expect("the pool has room for every buffer");
        }
        let hasher = std::thread::spawn(move || {
            let mut hasher = Hasher::new(algorithm);
            for chunk in receiver {
                match chunk {
                    Chunk::Bytes(bytes) => {
                        hasher.update(&bytes);
                        // The sink may be gone already (a failed
                        // download); the buffer is then simply dropped.
                        let _ = give_back.send(bytes);
                    }
                    Chunk::Restart => hasher = Hasher::new(algorithm),
                }
            }
            hasher.finish_hex()
        });
        Ok(FileSink {
            file,
            written: 0,
            oversized: false,
            expectation,
            hashing: Some((sender, hasher)),
            free,
        })
    }

    fn send(&self, chunk: Chunk) -> io::Result<()> {
        let (sender, _) = self.hashing.as_ref().expect("hashing runs until finish");
        sender
            .send(chunk)
            .map_err(|_| io::Error::other("the hashing thread stopped"))
    }

    /// Wait for the hash and compare it with what was published.
    ///
    /// The file is not synced to disk: the destination is a build volume
    /// that Concourse discards with its worker, so forcing gigabytes out
    /// of the page cache would only slow every `in` down. What matters,
    /// that only verified bytes ever carry the published name, the rename
    /// after this check guarantees.
    fn finish(mut self) -> Result<String, ResourceError> {
        let (sender, hasher) = self.hashing.take().expect("finish runs once");
        drop(sender);
        let actual = hasher.join().expect("the hashing thread panicked");
        Ok(self.expectation.check(self.written, actual)?)
    }

    /// Turn a failed transfer into the error to report: too many bytes is
    /// about the release, not the mirror, so it is a verification failure.
    fn abandon(self, err: TransportError) -> ResourceError {
        if self.oversized {
            ResourceError::Verify(VerifyError::Size {
                file: self.expectation.file.clone(),
                expected: self.expectation.size.unwrap_or_default(),
                actual: self.written,
            })
        } else {
            err.into()
        }
    }
}

impl Sink for FileSink<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        let received = self.written + bytes.len() as u64;
        if self.expectation.is_oversized(received) {
            // The count says what arrived; the bytes are not kept.
            self.oversized = true;
            self.written = received;
            return Err(io::Error::other("more bytes than the published size"));
        }
        self.file.write_all(bytes)?;
        // Waiting for a free buffer is what keeps hashing from falling
        // behind without bound.
        let mut buffer = self
            .free
            .recv()
            .map_err(|_| io::Error::other("the hashing thread stopped"))?;
        buffer.clear();
        buffer.extend_from_slice(bytes);
        self.send(Chunk::Bytes(buffer))?;
        self.written = received;
        Ok(())
    }

    fn written(&self) -> u64 {
        self.written
    }

    fn restart(&mut self) -> io::Result<()> {
        self.file.set_len(0)?;
        self.file.rewind()?;
        self.written = 0;
        self.send(Chunk::Restart)
    }
}

impl Drop for FileSink<'_> {
    fn drop(&mut self) {
        if let Some((sender, hasher)) = self.hashing.take() {
            drop(sender);
            let _ = hasher.join();
        }
    }
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
