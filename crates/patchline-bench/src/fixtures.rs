//! What the server serves: the release files `in` downloads and the index
//! documents that publish them, and the large index `check` reads.
//!
//! A release file is made once and reused by later runs in the same
//! workdir: its digest is kept beside it in `.<name>.sha256`, because
//! hashing 8 GiB again on every run would cost more than the benchmark.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use sha2::{Digest, Sha256};

/// The size of one write while a release file is made.
const BLOCK: usize = 1 << 20;

/// A release file `in` downloads.
pub struct Payload {
    /// The file name, served at `/<name>`.
    pub name: String,
    pub size: u64,
    /// Lower-case hex.
    pub sha256: String,
    /// Sparse: a hole served as zeros, so disk space is not spent on it.
    pub sparse: bool,
    /// The version of the in-index publishing it.
    pub version: String,
}

/// How a fixture came to be.
pub struct Prepared {
    pub took: Duration,
    pub reused: bool,
}

/// Make (or reuse) the release file of `size` bytes in `dir`.
pub fn payload(
    dir: &Path,
    size: u64,
    sparse: bool,
    version: &str,
) -> io::Result<(Payload, Prepared)> {
    let started = Instant::now();
    let name = format!("release-{}.bin", size_label(size));
    let path = dir.join(&name);
    let sidecar = dir.join(format!(".{name}.sha256"));
    let kind = if sparse { "sparse" } else { "random" };

    let remembered = fs::read_to_string(&sidecar).ok().and_then(|text| {
        let mut words = text.split_whitespace();
        let (digest, recorded_size, recorded_kind) = (words.next()?, words.next()?, words.next()?);
        (recorded_size == size.to_string() && recorded_kind == kind).then(|| digest.to_string())
    });
    let on_disk = fs::metadata(&path).map(|m| m.len()).ok();
    let (sha256, reused) = match remembered {
        Some(digest) if on_disk == Some(size) => (digest, true),
        _ => {
            let _ = fs::remove_file(&sidecar);
            let digest = if sparse {
                write_sparse(&path, size)?
            } else {
                write_random(&path, size)?
            };
            fs::write(&sidecar, format!("{digest} {size} {kind}\n"))?;
            (digest, false)
        }
    };
    let payload = Payload {
        name,
        size,
        sha256,
        sparse,
        version: version.to_string(),
    };
    let prepared = Prepared {
        took: started.elapsed(),
        reused,
    };
    Ok((payload, prepared))
}

/// Write `size` pseudo-random bytes (none of them a long run of zeros a
/// file system could skip) and return their sha256.
fn write_random(path: &Path, size: u64) -> io::Result<String> {
    let mut file = File::create(path)?;
    let mut random = XorShift::new(size);
    let mut block = vec![0u8; BLOCK];
    let mut hasher = Sha256::new();
    let mut left = size;
    while left > 0 {
        let n = left.min(BLOCK as u64) as usize;
        random.fill(&mut block[..n]);
        hasher.update(&block[..n]);
        file.write_all(&block[..n])?;
        left -= n as u64;
    }
    file.sync_all()?;
    Ok(hex::encode(hasher.finalize()))
}

/// Make a hole of `size` bytes and return the sha256 of that many zeros.
fn write_sparse(path: &Path, size: u64) -> io::Result<String> {
    let file = File::create(path)?;
    file.set_len(size)?;
    let zeros = vec![0u8; BLOCK];
    let mut hasher = Sha256::new();
    let mut left = size;
    while left > 0 {
        let n = left.min(BLOCK as u64) as usize;
        hasher.update(&zeros[..n]);
        left -= n as u64;
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Write the index `in` reads: one version per release file, its URL
/// relative to the index.
pub fn write_in_index(dir: &Path, payloads: &[Payload]) -> io::Result<String> {
    let name = "in-index.json".to_string();
    let releases: Vec<_> = payloads
        .iter()
        .map(|payload| {
            json!({
                "version": payload.version,
                "files": [{
                    "name": payload.name,
                    "size": payload.size,
                    "hashes": {"sha256": payload.sha256},
                    "urls": [payload.name],
                }],
            })
        })
        .collect();
    fs::write(
        dir.join(&name),
        serde_json::to_vec(&json!({ "releases": releases }))?,
    )?;
    Ok(name)
}

/// The index `check` reads.
pub struct CheckIndex {
    /// The file name, served at `/<name>`.
    pub name: String,
    /// The document's size in bytes.
    pub bytes: u64,
    /// Every version, oldest first.
    pub versions: Vec<String>,
}

/// Write an index of `versions` releases of `files` files each, shaped
/// like a real product's: names, sizes, digests, relative URLs and
/// publication times, one release per line.
pub fn write_check_index(dir: &Path, versions: usize, files: usize) -> io::Result<CheckIndex> {
    let name = format!("index-{versions}x{files}.json");
    let path = dir.join(&name);
    let mut out = BufWriter::new(File::create(&path)?);
    let mut random = XorShift::new((versions * files) as u64);
    let mut all = Vec::with_capacity(versions);

    out.write_all(b"{\"releases\": [\n")?;
    for i in 0..versions {
        let version = format!("{}.{}.{}", 1 + i / 1000, (i / 100) % 10, i % 100);
        let entries: Vec<_> = (1..=files)
            .map(|n| {
                let file = format!("product-{version}-{n}.tgz");
                json!({
                    "name": file,
                    "size": (1 << 20) + random.next() % (4 << 30),
                    "hashes": {"sha256": random.hex(32)},
                    "urls": [format!("files/{version}/{file}")],
                })
            })
            .collect();
        let release = json!({
            "version": version,
            "published": published(i),
            "files": entries,
        });
        serde_json::to_writer(&mut out, &release)?;
        out.write_all(if i + 1 < versions { b",\n" } else { b"\n" })?;
        all.push(version);
    }
    out.write_all(b"]}\n")?;
    out.into_inner()
        .map_err(|err| err.into_error())?
        .sync_all()?;
    Ok(CheckIndex {
        name,
        bytes: fs::metadata(&path)?.len(),
        versions: all,
    })
}

/// An RFC 3339 time, one hour later for each release.
fn published(release: usize) -> String {
    let day = release / 24;
    format!(
        "{}-{:02}-{:02}T{:02}:00:00Z",
        2020 + day / 336,
        1 + (day / 28) % 12,
        1 + day % 28,
        release % 24
    )
}

/// Name a size the way `--sizes` spells it: `2G`, `64M`, `512K`, `1000`.
pub fn size_label(size: u64) -> String {
    for (unit, shift) in [("G", 30), ("M", 20), ("K", 10)] {
        if size >= 1 << shift && size.is_multiple_of(1 << shift) {
            return format!("{}{unit}", size >> shift);
        }
    }
    size.to_string()
}

/// Read a size as `--sizes` spells it: bytes, or a whole number of
/// `K`, `M` or `G` (binary units).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, shift) = match text.char_indices().last() {
        Some((at, 'k' | 'K')) => (&text[..at], 10),
        Some((at, 'm' | 'M')) => (&text[..at], 20),
        Some((at, 'g' | 'G')) => (&text[..at], 30),
        _ => (text, 0),
    };
    number
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| {
            format!("{text:?} is not a size: a number of bytes, or with K, M or G (64M, 2G)")
        })
}

/// A fast generator of bytes that look random; the same seed gives the
/// same bytes, so a fixture is the same on every machine.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        XorShift(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn fill(&mut self, bytes: &mut [u8]) {
        let mut words = bytes.chunks_exact_mut(8);
        for word in &mut words {
            word.copy_from_slice(&self.next().to_le_bytes());
        }
        let tail = words.into_remainder();
        let last = self.next().to_le_bytes();
        tail.copy_from_slice(&last[..tail.len()]);
    }

    fn hex(&mut self, bytes: usize) -> String {
        let mut raw = vec![0u8; bytes];
        self.fill(&mut raw);
        hex::encode(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_and_print_alike() {
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("64m"), Ok(64 << 20));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(
            parse_size("2X"),
            Err("\"2X\" is not a size: a number of bytes, or with K, M or G (64M, 2G)".to_string())
        );
        assert!(parse_size("0G").is_err());
        assert_eq!(size_label(8 << 30), "8G");
        assert_eq!(size_label(1536 << 20), "1536M");
        assert_eq!(size_label(1000), "1000");
    }

    #[test]
    fn a_payload_is_made_once_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let (random, made) = payload(dir.path(), 3 << 20, false, "1.0.0").unwrap();
        assert!(!made.reused);
        let bytes = fs::read(dir.path().join("release-3M.bin")).unwrap();
        assert_eq!(bytes.len(), 3 << 20);
        assert_eq!(random.sha256, hex::encode(Sha256::digest(&bytes)));
        assert!(!bytes.windows(16).any(|w| w == [0u8; 16]));

        let (again, second) = payload(dir.path(), 3 << 20, false, "1.0.0").unwrap();
        assert!(second.reused);
        assert_eq!(again.sha256, random.sha256);

        let (sparse, _) = payload(dir.path(), 1000, true, "2.0.0").unwrap();
        assert_eq!(sparse.sha256, hex::encode(Sha256::digest([0u8; 1000])));
        assert_eq!(
            fs::read(dir.path().join("release-1000.bin")).unwrap(),
            [0u8; 1000]
        );
    }

    #[test]
    fn the_check_index_lists_every_version_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let index = write_check_index(dir.path(), 120, 2).unwrap();
        assert_eq!(index.versions.first().unwrap(), "1.0.0");
        assert_eq!(index.versions[119], "1.1.19");
        let document: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.path().join(&index.name)).unwrap()).unwrap();
        let releases = document["releases"].as_array().unwrap();
        assert_eq!(releases.len(), 120);
        let last = &releases[119];
        assert_eq!(last["version"], "1.1.19");
        assert_eq!(last["published"], "2020-01-05T23:00:00Z");
        assert_eq!(last["files"][1]["name"], "product-1.1.19-2.tgz");
        assert_eq!(
            last["files"][1]["urls"][0],
            "files/1.1.19/product-1.1.19-2.tgz"
        );
        assert_eq!(
            last["files"][1]["hashes"]["sha256"].as_str().unwrap().len(),
            64
        );
    }
}
