//! Conditional requests for `check`: an answer carrying an `ETag` or a
//! `Last-Modified` is kept in the cache folder (the check container's
//! temporary folder, which Concourse keeps between checks), and the next
//! request for the same URL asks `If-None-Match` / `If-Modified-Since`. An
//! unchanged feed then costs a `304` and no body.
//!
//! Entries are keyed by a digest of the URL and the credentials, so two
//! sources with different tokens never share an answer, and the folder
//! holds no URL, token or query string in clear. A damaged entry is
//! ignored; a cache that cannot be written only costs the next full answer.

use std::fs;
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
        let cached = paths.read();
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

    fn read(&self) -> Option<(Entry, Vec<u8>)> {
        let entry: Entry = serde_json::from_slice(&fs::read(&self.meta).ok()?).ok()?;
        let body = fs::read(&self.body).ok()?;
        Some((entry, body))
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
