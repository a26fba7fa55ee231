//! A stand-in of bosh.io: its stemcell and release listings and the
//! downloads they point at, served on loopback from versions a test
//! describes.
//!
//! It answers as bosh.io's public API does:
//!
//! - `GET /api/v1/stemcells/<name>?all=1` lists every version of the
//!   stemcell, newest first by bosh.io's own publish order, which is the
//!   order the test gives (not version order: a `621.99` published after
//!   `621.100` comes first). Each version carries the tarballs that exist
//!   (`regular`, `light`, `light_china`), each with its URL, size and the
//!   digests the test chose to publish. Without `all=1` only the newest
//!   version of each major version line is listed.
//! - `GET /api/v1/releases/<source>` lists every version of a release
//!   (`github.com/cloudfoundry/uaa-release`), newest first, each with a
//!   download URL `/d/<source>?v=<version>` and its digests.
//! - An unknown stemcell or release lists as `[]`, as on bosh.io.
//! - Download URLs under `/d/` answer `302` to `/storage/...` on the same
//!   server, as bosh.io sends clients on to its storage host, which serves
//!   the bytes (single byte ranges honoured, so downloads can resume).
//!
//! Every request is recorded (method, path and query, headers) for tests to
//! assert, and [`BoshIo::answer_next`] scripts failures (a `503`, an HTML
//! page) for the next requests.
//!
//! ```no_run
//! use patchline_standins::bosh_io::{BoshIo, File, Stemcell};
//!
//! let bosh_io = BoshIo::start(
//!     vec![Stemcell::new("bosh-aws-xen-hvm-ubuntu-jammy-go_agent", "1.506")
//!         .regular(File::new(b"full image".to_vec()))],
//!     vec![],
//! );
//! let listing = format!(
//!     "{}/api/v1/stemcells/bosh-aws-xen-hvm-ubuntu-jammy-go_agent?all=1",
//!     bosh_io.url()
//! );
//! # let _ = listing;
//! ```

use std::collections::{HashSet, VecDeque};
use std::io::Cursor;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use tiny_http::{Header, Server};

/// A stemcell tarball kind, named as the API's fields are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// The full image: `regular`, `bosh-stemcell-<version>-<os>.tgz`.
    Regular,
    /// A light stemcell: `light`, `light-bosh-stemcell-...`.
    Light,
    /// A light stemcell for China regions: `light_china`.
    LightChina,
}

impl Flavor {
    fn field(self) -> &'static str {
        match self {
            Flavor::Regular => "regular",
            Flavor::Light => "light",
            Flavor::LightChina => "light_china",
        }
    }

    fn file_prefix(self) -> &'static str {
        match self {
            Flavor::Regular => "",
            Flavor::Light => "light-",
            Flavor::LightChina => "light-china-",
        }
    }
}

/// A digest field bosh.io may publish for a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digest {
    /// `md5`.
    Md5,
    /// `sha1`.
    Sha1,
    /// `sha256`.
    Sha256,
}

impl Digest {
    fn field(self) -> &'static str {
        match self {
            Digest::Md5 => "md5",
            Digest::Sha1 => "sha1",
            Digest::Sha256 => "sha256",
        }
    }
}

/// A file's bytes and the digests published for it.
#[derive(Debug, Clone)]
pub struct File {
    bytes: Vec<u8>,
    digests: Vec<(Digest, String)>,
}

impl File {
    /// A file published with its SHA-256, as bosh.io publishes current
    /// files. SHA-256 is the one digest the stand-in computes; publish
    /// `sha1` or `md5` with [`File::digest`].
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        let bytes = bytes.into();
        let sha256 = hex::encode(Sha256::digest(&bytes));
        File {
            bytes,
            digests: vec![(Digest::Sha256, sha256)],
        }
    }

    /// Publish `value` as the `digest` field, replacing any earlier one:
    /// a digest computed elsewhere, a wrong one, upper case, or `""`.
    pub fn digest(mut self, digest: Digest, value: &str) -> Self {
        self.digests.retain(|(d, _)| *d != digest);
        self.digests.push((digest, value.to_string()));
        self
    }

    /// Publish no `digest` field at all, as for old versions.
    pub fn without(mut self, digest: Digest) -> Self {
        self.digests.retain(|(d, _)| *d != digest);
        self
    }

    fn publish_digests(&self, object: &mut Map<String, Value>) {
        for (digest, value) in &self.digests {
            object.insert(digest.field().into(), value.as_str().into());
        }
    }
}

/// One version of a stemcell and the tarballs published for it.
#[derive(Debug, Clone)]
pub struct Stemcell {
    name: String,
    version: String,
    tarballs: Vec<(Flavor, File)>,
}

impl Stemcell {
    /// A version of stemcell `name` with no tarball yet.
    pub fn new(name: &str, version: &str) -> Self {
        Stemcell {
            name: name.into(),
            version: version.into(),
            tarballs: Vec::new(),
        }
    }

    /// Publish the regular tarball.
    pub fn regular(self, file: File) -> Self {
        self.tarball(Flavor::Regular, file)
    }

    /// Publish the light tarball.
    pub fn light(self, file: File) -> Self {
        self.tarball(Flavor::Light, file)
    }

    /// Publish the tarball of `flavor`.
    pub fn tarball(mut self, flavor: Flavor, file: File) -> Self {
        self.tarballs.retain(|(f, _)| *f != flavor);
        self.tarballs.push((flavor, file));
        self
    }

    /// Return the file name bosh.io gives the tarball of `flavor`
    /// (`light-bosh-stemcell-1.506-aws-xen-hvm-ubuntu-jammy-go_agent.tgz`).
    pub fn file_name(&self, flavor: Flavor) -> String {
        let os = self.name.strip_prefix("bosh-").unwrap_or(&self.name);
        format!(
            "{}bosh-stemcell-{}-{os}.tgz",
            flavor.file_prefix(),
            self.version
        )
    }

    fn download_path(&self, flavor: Flavor) -> String {
        format!("/d/stemcells/{}/{}", self.version, self.file_name(flavor))
    }

    fn storage_path(&self, flavor: Flavor) -> String {
        format!(
            "/storage/stemcells/{}/{}",
            self.version,
            self.file_name(flavor)
        )
    }
}

/// One version of a BOSH release.
#[derive(Debug, Clone)]
pub struct BoshRelease {
    source: String,
    version: String,
    file: File,
}

impl BoshRelease {
    /// Version `version` of the release at `source`
    /// (`github.com/cloudfoundry/uaa-release`), its tarball `file`.
    pub fn new(source: &str, version: &str, file: File) -> Self {
        BoshRelease {
            source: source.into(),
            version: version.into(),
            file,
        }
    }

    fn download_path(&self) -> String {
        format!("/d/{}?v={}", self.source, self.version)
    }

    fn storage_path(&self) -> String {
        let repository = self.source.rsplit('/').next().unwrap_or(&self.source);
        format!(
            "/storage/releases/{}/{repository}-{}.tgz",
            self.source, self.version
        )
    }
}

/// A request the stand-in received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// `GET`, `HEAD`, ...
    pub method: String,
    /// The path and query, as sent (`/api/v1/stemcells/x?all=1`).
    pub url: String,
    /// The headers, names in lower case.
    pub headers: Vec<(String, String)>,
}

impl Recorded {
    /// Return the first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::header(&self.headers, name)
    }
}

/// An answer scripted by [`BoshIo::answer_next`].
#[derive(Debug, Clone)]
struct Canned {
    status: u16,
    content_type: String,
    body: String,
}

/// What the serving thread reads.
struct State {
    base: String,
    stemcells: Vec<Stemcell>,
    releases: Vec<BoshRelease>,
    requests: Mutex<Vec<Recorded>>,
    canned: Mutex<VecDeque<Canned>>,
}

/// A running stand-in; it stops serving when dropped.
pub struct BoshIo {
    state: Arc<State>,
    server: Arc<Server>,
    thread: Option<JoinHandle<()>>,
}

type Answer = tiny_http::Response<Cursor<Vec<u8>>>;

impl BoshIo {
    /// Serve `stemcells` and `releases` on `127.0.0.1`, a free port. Each
    /// list is in bosh.io's publish order, newest first.
    pub fn start(stemcells: Vec<Stemcell>, releases: Vec<BoshRelease>) -> Self {
        let server = Arc::new(Server::http("127.0.0.1:0").expect("listen on 127.0.0.1"));
        let state = Arc::new(State {
            base: format!("http://{}", server.server_addr()),
            stemcells,
            releases,
            requests: Mutex::default(),
            canned: Mutex::default(),
        });
        let (serving, served) = (server.clone(), state.clone());
        let thread = std::thread::spawn(move || {
            for request in serving.incoming_requests() {
                let answer = served.answer(&request);
                let _ = request.respond(answer);
            }
        });
        BoshIo {
            state,
            server,
            thread: Some(thread),
        }
    }

    /// Return the base URL (`http://127.0.0.1:<port>`), the feed's
    /// `endpoint`.
    pub fn url(&self) -> &str {
        &self.state.base
    }

    /// Return every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().expect("request log").clone()
    }

    /// Answer the next `count` requests, whatever they ask, with `status`
    /// and `body` of `content_type`, as a failing or misconfigured bosh.io
    /// (or a proxy in front of it) would.
    pub fn answer_next(&self, count: usize, status: u16, content_type: &str, body: &str) {
        let canned = Canned {
            status,
            content_type: content_type.into(),
            body: body.into(),
        };
        let mut queue = self.state.canned.lock().expect("canned answers");
        queue.extend(std::iter::repeat_n(canned, count));
    }
}

impl Drop for BoshIo {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl State {
    fn answer(&self, request: &tiny_http::Request) -> Answer {
        let headers = request
            .headers()
            .iter()
            .map(|h| {
                (
                    h.field.as_str().as_str().to_ascii_lowercase(),
                    h.value.as_str().to_string(),
                )
            })
            .collect::<Vec<_>>();
        let recorded = Recorded {
            method: request.method().as_str().to_string(),
            url: request.url().to_string(),
            headers,
        };
        self.requests
            .lock()
            .expect("request log")
            .push(recorded.clone());

        if let Some(canned) = self.canned.lock().expect("canned answers").pop_front() {
            return answer(
                canned.status,
                &canned.content_type,
                canned.body.into_bytes(),
            );
        }
        if recorded.method != "GET" {
            return answer(405, "text/plain", b"method not allowed".to_vec());
        }
        self.route(&recorded)
    }

    fn route(&self, request: &Recorded) -> Answer {
        let (path, query) = request
            .url
            .split_once('?')
            .unwrap_or((request.url.as_str(), ""));
        if let Some(name) = path.strip_prefix("/api/v1/stemcells/") {
            let all = query.split('&').any(|pair| pair == "all=1");
            return json_answer(self.stemcell_listing(name, all));
        }
        if let Some(source) = path.strip_prefix("/api/v1/releases/") {
            return json_answer(self.release_listing(source));
        }
        if path.starts_with("/d/") {
            return match self.storage_path_of(&request.url) {
                Some(target) => answer(302, "text/plain", Vec::new())
                    .with_header(header("Location", &format!("{}{target}", self.base))),
                None => answer(404, "text/plain", b"not found".to_vec()),
            };
        }
        match self.stored_bytes(path) {
            Some(bytes) => serve_bytes(bytes, request.header("range")),
            None => answer(404, "text/plain", b"not found".to_vec()),
        }
    }

    fn stemcell_listing(&self, name: &str, all: bool) -> Value {
        let mut lines = HashSet::new();
        let entries = self
            .stemcells
            .iter()
            .filter(|stemcell| stemcell.name == name)
            // Newest first, so the first version seen of a line is its newest.
            .filter(|stemcell| all || lines.insert(major(&stemcell.version)))
            .map(|stemcell| {
                let mut entry = Map::new();
                entry.insert("name".into(), stemcell.name.as_str().into());
                entry.insert("version".into(), stemcell.version.as_str().into());
                for (flavor, file) in &stemcell.tarballs {
                    let mut tarball = Map::new();
                    let url = format!("{}{}", self.base, stemcell.download_path(*flavor));
                    tarball.insert("url".into(), url.into());
                    tarball.insert("size".into(), file.bytes.len().into());
                    file.publish_digests(&mut tarball);
                    entry.insert(flavor.field().into(), tarball.into());
                }
                Value::Object(entry)
            })
            .collect();
        Value::Array(entries)
    }

    fn release_listing(&self, source: &str) -> Value {
        let entries = self
            .releases
            .iter()
            .filter(|release| release.source == source)
            .map(|release| {
                let mut entry = Map::new();
                entry.insert("name".into(), release.source.as_str().into());
                entry.insert("version".into(), release.version.as_str().into());
                let url = format!("{}{}", self.base, release.download_path());
                entry.insert("url".into(), url.into());
                release.file.publish_digests(&mut entry);
                Value::Object(entry)
            })
            .collect();
        Value::Array(entries)
    }

    /// Return where the download URL `url` (path and query) redirects.
    fn storage_path_of(&self, url: &str) -> Option<String> {
        let stemcells = self.stemcells.iter().flat_map(|stemcell| {
            stemcell.tarballs.iter().map(|(flavor, _)| {
                (
                    stemcell.download_path(*flavor),
                    stemcell.storage_path(*flavor),
                )
            })
        });
        let releases = self
            .releases
            .iter()
            .map(|release| (release.download_path(), release.storage_path()));
        stemcells
            .chain(releases)
            .find(|(download, _)| download == url)
            .map(|(_, storage)| storage)
    }

    fn stored_bytes(&self, path: &str) -> Option<&[u8]> {
        let stemcells = self.stemcells.iter().flat_map(|stemcell| {
            stemcell
                .tarballs
                .iter()
                .map(|(flavor, file)| (stemcell.storage_path(*flavor), file))
        });
        let releases = self
            .releases
            .iter()
            .map(|release| (release.storage_path(), &release.file));
        stemcells
            .chain(releases)
            .find(|(storage, _)| storage == path)
            .map(|(_, file)| file.bytes.as_slice())
    }
}

/// Return a version's major version line (`621` of `621.125`).
fn major(version: &str) -> &str {
    version.split('.').next().unwrap_or(version)
}

/// Serve `bytes`, or the one range `bytes=<start>-[<end>]` asked for, as
/// storage hosts do.
fn serve_bytes(bytes: &[u8], range: Option<&str>) -> Answer {
    let len = bytes.len();
    let Some((start, end)) = range.and_then(|range| {
        let (start, end) = range.strip_prefix("bytes=")?.split_once('-')?;
        let start: usize = start.parse().ok()?;
        let end = match end {
            "" => len.saturating_sub(1),
            end => end.parse::<usize>().ok()?.min(len.saturating_sub(1)),
        };
        Some((start, end))
    }) else {
        return answer(200, "application/octet-stream", bytes.to_vec())
            .with_header(header("Accept-Ranges", "bytes"));
    };
    if start >= len || start > end {
        return answer(416, "text/plain", Vec::new())
            .with_header(header("Content-Range", &format!("bytes */{len}")));
    }
    answer(206, "application/octet-stream", bytes[start..=end].to_vec()).with_header(header(
        "Content-Range",
        &format!("bytes {start}-{end}/{len}"),
    ))
}

fn json_answer(value: Value) -> Answer {
    let body = serde_json::to_vec(&value).expect("a JSON value serializes");
    answer(200, "application/json", body)
}

fn answer(status: u16, content_type: &str, body: Vec<u8>) -> Answer {
    tiny_http::Response::from_data(body)
        .with_status_code(status)
        .with_header(header("Content-Type", content_type))
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name, value).expect("a valid header")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stemcell_file_names_follow_bosh_io() {
        let stemcell = Stemcell::new("bosh-aws-xen-hvm-ubuntu-jammy-go_agent", "1.506");
        assert_eq!(
            stemcell.file_name(Flavor::Regular),
            "bosh-stemcell-1.506-aws-xen-hvm-ubuntu-jammy-go_agent.tgz"
        );
        assert_eq!(
            stemcell.file_name(Flavor::Light),
            "light-bosh-stemcell-1.506-aws-xen-hvm-ubuntu-jammy-go_agent.tgz"
        );
    }

    #[test]
    fn ranges_as_storage_hosts_serve_them() {
        let read = |range| {
            let answer = serve_bytes(b"0123456789", range);
            let status = answer.status_code().0;
            let body = answer.into_reader().into_inner();
            (status, String::from_utf8(body).unwrap())
        };
        assert_eq!(read(None), (200, "0123456789".into()));
        assert_eq!(read(Some("bytes=7-")), (206, "789".into()));
        assert_eq!(read(Some("bytes=2-4")), (206, "234".into()));
        assert_eq!(read(Some("bytes=10-")), (416, String::new()));
        assert_eq!(read(Some("lines=1-")), (200, "0123456789".into()));
    }
}
