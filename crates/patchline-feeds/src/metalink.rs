//! The metalink feed: a repository with one folder per version, each holding
//! one or more `*.meta4` files (RFC 5854), as bosh.io publishes its stemcell
//! and release indexes.
//!
//! `uri` is a folder given as a path or `file://` URL, or a folder inside a
//! git repository written `git+<git url>//<folder>`. The version comes from
//! the files' `<version>` elements, and from the folder name only when they
//! carry none (release folders are often named `uaa-75.5.0` while the files
//! say `75.5.0`).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use patchline_core::{HashAlgorithm, Release, ReleaseFile, Version};

use crate::{git, FeedError, Listing, Skipped};

/// Where a metalink repository lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repository {
    /// A folder on this machine.
    Local(PathBuf),
    /// A folder inside a git repository.
    Git {
        /// The repository's URL, as git takes it.
        url: String,
        /// The folder inside it (empty for the top).
        folder: String,
    },
}

impl Repository {
    /// Read a metalink `uri`.
    pub fn parse(uri: &str) -> Result<Self, FeedError> {
        if let Some(rest) = uri.strip_prefix("git+") {
            // The folder follows the first `//` after the URL's own `://`.
            let after_scheme = rest.find("://").map_or(0, |i| i + 3);
            let (url, folder) = match rest[after_scheme..].find("//") {
                Some(i) => (&rest[..after_scheme + i], &rest[after_scheme + i + 2..]),
                None => (rest, ""),
            };
            if url.is_empty() {
                return Err(FeedError::Uri(format!("{uri:?} names no git repository")));
            }
            // git would read a leading `-` as one of its options.
            if url.starts_with('-') {
                return Err(FeedError::Uri(format!(
                    "{:?} is not a git repository URL or path",
                    patchline_core::secret::redact_url(url)
                )));
            }
            if folder.split('/').any(|part| part == "..") {
                return Err(FeedError::Uri(format!(
                    "{uri:?}: the folder may not contain \"..\""
                )));
            }
            return Ok(Repository::Git {
                url: url.to_string(),
                folder: folder.trim_matches('/').to_string(),
            });
        }
        let path = uri.strip_prefix("file://").unwrap_or(uri);
        if path.is_empty() || path.contains("://") {
            return Err(FeedError::Uri(format!(
                "{uri:?} is not a folder, file:// URL or git+<url>//<folder>"
            )));
        }
        Ok(Repository::Local(PathBuf::from(path)))
    }
}

/// Read every release of the metalink repository at `uri`.
pub fn list(uri: &str) -> Result<Listing, FeedError> {
    let root = match Repository::parse(uri)? {
        Repository::Local(path) => path,
        Repository::Git { url, folder } => git::checkout(&url)?.join(folder),
    };
    read_repository(&root)
}

/// Read every version folder under `root`.
pub fn read_repository(root: &Path) -> Result<Listing, FeedError> {
    let entries = fs::read_dir(root)
        .map_err(|err| FeedError::Uri(format!("cannot read folder {}: {err}", root.display())))?;
    let mut listing = Listing::default();
    for entry in entries {
        let entry = entry.map_err(|err| {
            FeedError::Uri(format!("cannot read folder {}: {err}", root.display()))
        })?;
        let path = entry.path();
        if !path.is_dir() || entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let folder = entry.file_name().to_string_lossy().into_owned();
        match read_version_folder(&path, &folder) {
            Ok(Some(release)) => listing.releases.push(release),
            Ok(None) => {}
            Err(reason) => listing.skipped.push(Skipped {
                entry: folder,
                reason,
            }),
        }
    }
    Ok(listing)
}

/// Read one version folder; `None` when it holds no metalink file at all.
fn read_version_folder(dir: &Path, folder: &str) -> Result<Option<Release>, String> {
    let mut meta4: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|err| format!("cannot read the folder: {err}"))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "meta4") && p.is_file())
        .collect();
    if meta4.is_empty() {
        return Ok(None);
    }
    meta4.sort();

    let mut files = Vec::new();
    let mut versions = Vec::new();
    let mut published = None;
    for path in &meta4 {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let xml = fs::read_to_string(path).map_err(|err| format!("{name}: {err}"))?;
        let document = parse_document(&xml).map_err(|reason| format!("{name}: {reason}"))?;
        files.extend(document.files);
        versions.extend(document.versions);
        published = published.max(document.published);
    }

    versions.sort();
    versions.dedup();
    let version = match versions.as_slice() {
        [] => folder.to_string(),
        [one] => one.clone(),
        many => {
            return Err(format!(
                "its files disagree on the version ({})",
                many.join(", ")
            ))
        }
    };
    let version = Version::parse(&version).map_err(|err| err.to_string())?;
    Ok(Some(Release {
        version,
        published,
        files,
        handle: None,
    }))
}

/// What one metalink document says.
#[derive(Debug, Default)]
pub struct Document {
    /// The files described.
    pub files: Vec<ReleaseFile>,
    /// Every distinct `<version>` of its files.
    pub versions: Vec<String>,
    /// The document's `<published>` time.
    pub published: Option<DateTime<Utc>>,
}

/// Parse a metalink (RFC 5854) document.
pub fn parse_document(xml: &str) -> Result<Document, String> {
    let tree = roxmltree::Document::parse(xml).map_err(|err| format!("not valid XML: {err}"))?;
    let root = tree.root_element();
    if root.tag_name().name() != "metalink" {
        return Err(format!(
            "the root element is <{}>, not <metalink>",
            root.tag_name().name()
        ));
    }
    let mut document = Document::default();
    for node in root.children().filter(|n| n.is_element()) {
        match node.tag_name().name() {
            "published" => {
                let text = node.text().unwrap_or("").trim();
                let time = DateTime::parse_from_rfc3339(text)
                    .map_err(|err| format!("<published> {text:?}: {err}"))?;
                document.published = Some(time.with_timezone(&Utc));
            }
            "file" => {
                let (file, version) = parse_file(node)?;
                if let Some(version) = version {
                    if !document.versions.contains(&version) {
                        document.versions.push(version);
                    }
                }
                document.files.push(file);
            }
            _ => {}
        }
    }
    Ok(document)
}

fn parse_file(node: roxmltree::Node) -> Result<(ReleaseFile, Option<String>), String> {
    let name = node
        .attribute("name")
        .ok_or("a <file> has no name attribute")?
        .to_string();
    let mut hashes = BTreeMap::new();
    let mut urls: Vec<(u32, String)> = Vec::new();
    let mut size = None;
    let mut version = None;
    for child in node.children().filter(|n| n.is_element()) {
        let text = child.text().unwrap_or("").trim();
        match child.tag_name().name() {
            "hash" => {
                let kind = child.attribute("type").unwrap_or("");
                // Unknown algorithms (sha-384, say) cannot be verified here;
                // the known ones of the same file still are.
                if let Some(algorithm) = HashAlgorithm::from_name(kind) {
                    hashes.insert(algorithm, text.to_ascii_lowercase());
                }
            }
            "size" => {
                size = Some(
                    text.parse::<u64>()
                        .map_err(|_| format!("{name}: <size> {text:?} is not a number"))?,
                );
            }
            "url" => {
                // RFC 5854: a lower priority value is preferred; none is last.
                let priority = child
                    .attribute("priority")
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(u32::MAX);
                urls.push((priority, text.to_string()));
            }
            "version" => version = Some(text.to_string()),
            _ => {}
        }
    }
    urls.sort_by_key(|(priority, _)| *priority);
    Ok((
        ReleaseFile {
            name,
            size,
            hashes,
            urls: urls.into_iter().map(|(_, url)| url).collect(),
        },
        version,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<metalink xmlns="urn:ietf:params:xml:ns:metalink">
  <published>2019-04-25T17:05:46.075639386Z</published>
  <file name="bosh-stemcell-621.12-vsphere-esxi.tgz">
    <hash type="sha-1">49A33DA9A254BE6F21039E70FBAA32FBA5C6DBEB</hash>
    <hash type="sha-256">c58c36d3232320a2daba27f8d653e36a7f82203ffbaf7f027d847db2a47db8e6</hash>
    <hash type="sha-384">ignored</hash>
    <size>520484355</size>
    <url>https://mirror-b/x.tgz</url>
    <url priority="1">https://mirror-a/x.tgz</url>
    <version>621.12</version>
  </file>
</metalink>"#;

    #[test]
    fn reads_files_hashes_urls_and_publish_time() {
        let doc = parse_document(DOC).unwrap();
        assert_eq!(doc.versions, ["621.12"]);
        assert_eq!(
            doc.published.unwrap().to_rfc3339(),
            "2019-04-25T17:05:46.075639386+00:00"
        );
        let file = &doc.files[0];
        assert_eq!(file.name, "bosh-stemcell-621.12-vsphere-esxi.tgz");
        assert_eq!(file.size, Some(520484355));
        assert_eq!(
            file.urls,
            ["https://mirror-a/x.tgz", "https://mirror-b/x.tgz"]
        );
        assert_eq!(file.hashes.len(), 2);
        assert_eq!(
            file.hashes[&HashAlgorithm::Sha1],
            "49a33da9a254be6f21039e70fbaa32fba5c6dbeb"
        );
    }

    #[test]
    fn malformed_documents_say_why() {
        assert!(parse_document("<metalink>")
            .unwrap_err()
            .starts_with("not valid XML"));
        assert_eq!(
            parse_document("<feed/>").unwrap_err(),
            "the root element is <feed>, not <metalink>"
        );
        let bad_size = DOC.replace("520484355", "big");
        assert!(parse_document(&bad_size)
            .unwrap_err()
            .contains("<size> \"big\" is not a number"));
    }

    #[test]
    fn uris_name_folders_or_git_repositories() {
        assert_eq!(
            Repository::parse("/srv/index").unwrap(),
            Repository::Local("/srv/index".into())
        );
        assert_eq!(
            Repository::parse("file:///srv/index").unwrap(),
            Repository::Local("/srv/index".into())
        );
        assert_eq!(
            Repository::parse("git+https://git.example/index.git//published/ubuntu-xenial")
                .unwrap(),
            Repository::Git {
                url: "https://git.example/index.git".into(),
                folder: "published/ubuntu-xenial".into()
            }
        );
        assert_eq!(
            Repository::parse("git+/srv/repo").unwrap(),
            Repository::Git {
                url: "/srv/repo".into(),
                folder: String::new()
            }
        );
        assert!(Repository::parse("https://host/x").is_err());
        assert!(Repository::parse("git+--upload-pack=touch x//f").is_err());
        assert!(Repository::parse("git+https://h/r//a/../../etc").is_err());
    }

    #[test]
    fn folders_become_releases_and_bad_ones_are_skipped() {
        let root = tempfile::tempdir().unwrap();
        let write = |folder: &str, name: &str, body: &str| {
            let dir = root.path().join(folder);
            fs::create_dir_all(&dir).unwrap();
            fs::write(dir.join(name), body).unwrap();
        };
        write("621.12", "stemcells.meta4", DOC);
        write("uaa-9", "source.meta4", &DOC.replace("621.12", "9"));
        write(
            "latest",
            "stemcells.meta4",
            &DOC.replace("<version>621.12</version>", ""),
        );
        write("621.13", "a.meta4", DOC);
        write("621.13", "b.meta4", &DOC.replace("621.12", "621.13"));
        write("notes", "README", "not a version");

        let listing = read_repository(root.path()).unwrap();
        let mut versions: Vec<_> = listing
            .releases
            .iter()
            .map(|r| r.version.to_string())
            .collect();
        versions.sort();
        assert_eq!(versions, ["621.12", "9"]);
        let mut skipped: Vec<_> = listing
            .skipped
            .iter()
            .map(|s| (s.entry.as_str(), s.reason.as_str()))
            .collect();
        skipped.sort();
        assert_eq!(
            skipped,
            [
                (
                    "621.13",
                    "its files disagree on the version (621.12, 621.13)"
                ),
                (
                    "latest",
                    "version \"latest\" does not parse: each release component must be a number"
                ),
            ]
        );
    }
}
