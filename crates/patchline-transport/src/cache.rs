//! Conditional requests for `check`: an answer carrying an `ETag` or a
//! `Last-Modified` is kept in the cache folder (the check container's
//! temporary folder, which Concourse keeps between checks), and the next
//! request for the same URL asks `If-None-Match` / `If-Modified-Since`. An
//! unchanged feed then costs a `304` and no body.
//!
//! Entries are keyed by a digest of the URL and the credentials, so two
//! sources with different tokens never share an answer; file names hold
//! no URL or token, and an entry records its URL redacted. An entry whose
//! body does not match its recorded length and SHA-256 is ignored, as is
//! one larger than the caller accepts; a cache that cannot be written
//! only costs the next full answer.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::exchange::read_whole;
use crate::{Request, Response, Transport, TransportError};

/// What is kept of an answer besides its body.
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    etag: Option<String>,
    last_modified: Option<String>,
    /// The headers feeds read (`link` for paging).
    headers: Vec<(String, String)>,
    /// The URL that answered, redacted.
    url: String,
    /// The body's length and SHA-256: a body that does not match is
    /// damaged (or replaced) and ignored.
    length: u64,
    sha256: String,
}

/// The headers worth keeping with a cached answer.
const KEPT_HEADERS: [&str; 3] = ["link", "content-type", "x-total-count"];

impl Transport {
    /// Like [`Transport::send`], but conditional when an earlier answer to
    /// the same request is cached; a `304` gives that answer back with
    /// `from_cache` set.
    pub fn send_cached(&self, request: &Request, limit: u64) -> Result<Response, TransportError> {
        let Some(folder) = &self.config.cache_dir else {
            return self.send(request, limit);
        };
        let paths = EntryPaths::new(folder, request);
        let cached = paths.read(limit);
        let mut conditions = Vec::new();
        if let Some((entry, _)) = &cached {
            if let Some(etag) = &entry.etag {
                conditions.push(("If-None-Match", etag.clone()));
            }
            if let Some(modified) = &entry.last_modified {
                conditions.push(("If-Modified-Since", modified.clone()));
            }
        }
        let fresh = self.with_retries(request, |_| {
            let opened = self.open(request, &conditions)?;
            if opened.status == 304 && cached.is_some() {
                return Ok(None);
            }
            if !(200..300).contains(&opened.status) {
                return Err(opened.failure());
            }
            read_whole(opened, limit).map(Some)
        })?;
        match (fresh, cached) {
            (Some(response), _) => {
                paths.write(&response);
                Ok(response)
            }
            (None, Some((entry, body))) => Ok(Response {
                status: 200,
                url: entry.url,
                headers: entry.headers,
                body,
                from_cache: true,
            }),
            (None, None) => unreachable!("a 304 is only accepted with a cached answer"),
        }
    }
}

struct EntryPaths {
    meta: PathBuf,
    body: PathBuf,
}

impl EntryPaths {
    fn new(folder: &Path, request: &Request) -> Self {
        let mut key = Sha256::new();
        key.update(request.url.as_bytes());
        key.update([0]);
        if let Some(secret) = request
            .cache_identity
            .as_ref()
            .or(request.authorization.as_ref())
        {
            key.update(secret.expose().as_bytes());
        }
        for (name, value) in &request.headers {
            key.update([0]);
            key.update(name.as_bytes());
            key.update([0]);
            key.update(value.as_bytes());
        }
        let key = hex::encode(key.finalize());
        EntryPaths {
            meta: folder.join(format!("{key}.json")),
            body: folder.join(format!("{key}.body")),
        }
    }

    /// Read an entry whose body is intact and within `limit`; anything
    /// else is no entry (the next answer replaces it).
    fn read(&self, limit: u64) -> Option<(Entry, Vec<u8>)> {
        let meta = fs::File::open(&self.meta).ok()?;
        let entry: Entry = serde_json::from_reader(meta.take(1 << 20)).ok()?;
        if entry.length > limit {
            return None;
        }
        let mut body = Vec::with_capacity(entry.length as usize + 1);
        fs::File::open(&self.body)
            .ok()?
            .take(entry.length + 1)
            .read_to_end(&mut body)
            .ok()?;
        let intact =
            body.len() as u64 == entry.length && hex::encode(Sha256::digest(&body)) == entry.sha256;
        intact.then_some((entry, body))
    }

    fn write(&self, response: &Response) {
        let etag = response.header("etag").map(str::to_string);
        let last_modified = response.header("last-modified").map(str::to_string);
        if etag.is_none() && last_modified.is_none() {
            let _ = fs::remove_file(&self.meta);
            return;
        }
        let entry = Entry {
            etag,
            last_modified,
            headers: response
                .headers
                .iter()
                .filter(|(name, _)| KEPT_HEADERS.contains(&name.as_str()))
                .cloned()
                .collect(),
            url: patchline_core::secret::redact_url(&response.url),
            length: response.body.len() as u64,
            sha256: hex::encode(Sha256::digest(&response.body)),
        };
        // Body first, then the entry naming it: a reader never finds an
        // entry whose body is from another answer. Failures only cost the
        // next check a full answer.
        let _ = self
            .meta
            .parent()
            .map(fs::create_dir_all)
            .transpose()
            .and_then(|_| {
                let _ = fs::remove_file(&self.meta);
                write_replacing(&self.body, &response.body)?;
                write_replacing(
                    &self.meta,
                    &serde_json::to_vec(&entry).expect("an entry serializes"),
                )
            });
    }
}

fn write_replacing(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temp = path.with_extension("tmp");
    fs::write(&temp, bytes)?;
    fs::rename(&temp, path)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::TransportConfig;

    /// Serve `body` with an ETag, answering 304 to a matching
    /// If-None-Match; record each request's If-None-Match.
    fn server(body: &'static str, requests: usize) -> (String, Arc<Mutex<Vec<Option<String>>>>) {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let url = format!("http://{}/index.json", server.server_addr());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        std::thread::spawn(move || {
            for request in server.incoming_requests().take(requests) {
                let asked = request
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("If-None-Match"))
                    .map(|h| h.value.to_string());
                let etag = tiny_http::Header::from_bytes("ETag", "\"v1\"").unwrap();
                let response = if asked.as_deref() == Some("\"v1\"") {
                    tiny_http::Response::from_string("").with_status_code(304)
                } else {
                    tiny_http::Response::from_string(body)
                };
                record.lock().unwrap().push(asked);
                request.respond(response.with_header(etag)).unwrap();
            }
        });
        (url, seen)
    }

    #[test]
    fn an_unchanged_answer_costs_a_304_and_a_damaged_one_a_full_answer() {
        let (url, seen) = server("{\"releases\": []}", 4);
        let folder = tempfile::tempdir().unwrap();
        let transport = Transport::new(TransportConfig {
            cache_dir: Some(folder.path().to_path_buf()),
            ..TransportConfig::default()
        })
        .unwrap();
        let request = Request::get(url.as_str());

        let first = transport.send_cached(&request, 1024).unwrap();
        let second = transport.send_cached(&request, 1024).unwrap();
        assert!(!first.from_cache && second.from_cache);
        assert_eq!(second.body, first.body);

        // A body cut short (or swapped) is not trusted: no condition is
        // sent, and the full answer replaces it.
        let body = fs::read_dir(folder.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "body"))
            .unwrap();
        fs::write(&body, "{\"rel").unwrap();
        let third = transport.send_cached(&request, 1024).unwrap();
        assert!(!third.from_cache);
        assert_eq!(third.body, first.body);
        // An entry larger than the caller accepts is not read either.
        let fourth = transport.send_cached(&request, 4).unwrap_err();
        assert!(
            matches!(fourth, TransportError::TooLarge { .. }),
            "{fourth}"
        );

        let conditions: Vec<Option<String>> = seen.lock().unwrap().clone();
        assert_eq!(conditions, [None, Some("\"v1\"".to_string()), None, None]);
    }
}
