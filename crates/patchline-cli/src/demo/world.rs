//! The sample world the demo rehearses against: a product and a stemcell
//! that publish patches over loopback HTTP, and environments whose health
//! a smoke test can ask for.
//!
//! Both feed kinds are exercised: the product publishes a JSON index at
//! `/feeds/product/index.json`, the stemcell a metalink repository (a
//! folder of `*.meta4` files) whose URLs point at the same server. Every
//! environment folder of a local target answers
//! `GET /environments/<environment>/<line>/health` with 200 and the
//! deployed version when every deployed file says `health: ok`, else 503.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::Context;
use patchline_core::verify::Hasher;
use patchline_core::HashAlgorithm;
use serde_json::json;

/// The sample product's name.
pub const PRODUCT: &str = "sample-product";

/// One patch release of the sample world.
pub struct Patch {
    /// `stemcell` or `product`.
    pub line: &'static str,
    /// The version published.
    pub version: &'static str,
    /// Whether the patch breaks the environment it is applied to.
    pub broken: bool,
}

/// What is released in each round of the demo, in order. A new pipeline
/// starts from the latest version of each line (456.160 and 2.5.0 are
/// outside the lines 621.x and ~2.4); from then on every patch rolls.
pub const ROUNDS: &[&[Patch]] = &[
    &[
        Patch {
            line: "stemcell",
            version: "621.123",
            broken: false,
        },
        Patch {
            line: "stemcell",
            version: "621.125",
            broken: false,
        },
        Patch {
            line: "stemcell",
            version: "456.160",
            broken: false,
        },
        Patch {
            line: "product",
            version: "2.4.1",
            broken: false,
        },
        Patch {
            line: "product",
            version: "2.5.0",
            broken: false,
        },
    ],
    &[
        Patch {
            line: "product",
            version: "2.4.2",
            broken: false,
        },
        Patch {
            line: "product",
            version: "2.4.3",
            broken: true,
        },
    ],
    &[
        Patch {
            line: "product",
            version: "2.4.4",
            broken: false,
        },
        Patch {
            line: "stemcell",
            version: "621.126",
            broken: false,
        },
    ],
];

/// The feeds and environments of the demo, served on 127.0.0.1.
pub struct World {
    root: PathBuf,
    base_url: String,
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
    released: Vec<(&'static str, &'static str, bool)>,
}

impl World {
    /// Create the world under `root` and start serving it.
    pub fn start(root: &Path) -> anyhow::Result<Self> {
        fs::create_dir_all(root.join("feeds/product/files"))?;
        fs::create_dir_all(root.join("feeds/stemcells"))?;
        fs::create_dir_all(root.join("environments"))?;
        let server = tiny_http::Server::http("127.0.0.1:0")
            .map_err(|err| anyhow::anyhow!("cannot listen on 127.0.0.1: {err}"))?;
        let server = Arc::new(server);
        let base_url = format!("http://{}", server.server_addr());
        let serving = server.clone();
        let served_root = root.to_path_buf();
        let thread = std::thread::spawn(move || {
            for request in serving.incoming_requests() {
                let response = answer(&served_root, request.url());
                let _ = request.respond(response);
            }
        });
        Ok(World {
            root: root.to_path_buf(),
            base_url,
            server,
            thread: Some(thread),
            released: Vec::new(),
        })
    }

    /// Return the base URL of the server (`http://127.0.0.1:<port>`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Return the URL of the product's index.
    pub fn product_index_url(&self) -> String {
        format!("{}/feeds/product/index.json", self.base_url)
    }

    /// Return the stemcell metalink repository.
    pub fn stemcell_repository(&self) -> PathBuf {
        self.root.join("feeds/stemcells")
    }

    /// Return the root folder of `environment`'s target for `line`.
    pub fn environment_root(&self, environment: &str, line: &str) -> PathBuf {
        self.root.join("environments").join(environment).join(line)
    }

    /// Return the health URL of `environment` for `line`.
    pub fn health_url(&self, environment: &str, line: &str) -> String {
        format!("{}/environments/{environment}/{line}/health", self.base_url)
    }

    /// Publish the patches of one round.
    pub fn release(&mut self, patches: &[Patch]) -> anyhow::Result<()> {
        for patch in patches {
            self.released
                .push((patch.line, patch.version, patch.broken));
            let name = file_name(patch.line, patch.version);
            let body = format!(
                "{} {}\nhealth: {}\n",
                if patch.line == "product" {
                    PRODUCT
                } else {
                    "ubuntu-xenial stemcell"
                },
                patch.version,
                if patch.broken { "failing" } else { "ok" }
            );
            let path = self.root.join("feeds/product/files").join(&name);
            fs::write(&path, &body).with_context(|| format!("cannot write {}", path.display()))?;
            if patch.line == "stemcell" {
                self.write_meta4(patch.version, &name, body.as_bytes())?;
            }
        }
        self.write_index()
    }

    fn write_meta4(&self, version: &str, name: &str, body: &[u8]) -> anyhow::Result<()> {
        let dir = self.stemcell_repository().join(version);
        fs::create_dir_all(&dir)?;
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
             <metalink xmlns=\"urn:ietf:params:xml:ns:metalink\">\n  \
             <published>{}</published>\n  <file name=\"{name}\">\n    \
             <hash type=\"sha-256\">{}</hash>\n    <hash type=\"sha-1\">{}</hash>\n    \
             <size>{}</size>\n    <url>{}/feeds/product/files/{name}</url>\n    \
             <version>{version}</version>\n  </file>\n</metalink>\n",
            chrono::Utc::now().to_rfc3339(),
            digest(HashAlgorithm::Sha256, body),
            digest(HashAlgorithm::Sha1, body),
            body.len(),
            self.base_url,
        );
        fs::write(dir.join("stemcells.meta4"), xml)?;
        Ok(())
    }

    /// Rewrite the product index with every product patch released so far,
    /// newest first as many publishers list them.
    fn write_index(&self) -> anyhow::Result<()> {
        let releases: Vec<_> = self
            .released
            .iter()
            .rev()
            .filter(|(line, _, _)| *line == "product")
            .map(|(line, version, _)| {
                let name = file_name(line, version);
                let body = fs::read(self.root.join("feeds/product/files").join(&name))?;
                Ok(json!({
                    "version": version,
                    "published": chrono::Utc::now().to_rfc3339(),
                    "files": [{
                        "name": name,
                        "size": body.len(),
                        "hashes": {"sha256": digest(HashAlgorithm::Sha256, &body)},
                        "urls": [format!("files/{name}")],
                    }],
                }))
            })
            .collect::<anyhow::Result<_>>()?;
        let index = serde_json::to_vec_pretty(&json!({ "releases": releases }))?;
        patchline_targets::write_atomically(&self.root.join("feeds/product/index.json"), &index)?;
        Ok(())
    }
}

impl Drop for World {
    /// Stop serving, so the demo leaves nothing running.
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Return the file name a patch is published under.
pub fn file_name(line: &str, version: &str) -> String {
    match line {
        "product" => format!("{PRODUCT}-{version}.txt"),
        _ => format!("bosh-stemcell-{version}-vsphere-esxi-ubuntu-xenial-go_agent.txt"),
    }
}

fn digest(algorithm: HashAlgorithm, bytes: &[u8]) -> String {
    let mut hasher = Hasher::new(algorithm);
    hasher.update(bytes);
    hasher.finish_hex()
}

type Response = tiny_http::Response<std::io::Cursor<Vec<u8>>>;

fn answer(root: &Path, url: &str) -> Response {
    let path = url.split('?').next().unwrap_or(url);
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if parts.iter().any(|part| part.is_empty() || *part == "..") {
        return text(404, "not found");
    }
    match parts.as_slice() {
        ["feeds", ..] => match fs::read(root.join(parts.join("/"))) {
            Ok(bytes) => tiny_http::Response::from_data(bytes),
            Err(_) => text(404, "not found"),
        },
        ["environments", environment, line, "health"] => {
            health(&root.join("environments").join(environment).join(line))
        }
        _ => text(404, "not found"),
    }
}

/// Say whether the deployed version of an environment is healthy.
fn health(env_root: &Path) -> Response {
    let current = env_root.join("current");
    let Ok(target) = fs::read_link(&current) else {
        return text(503, "nothing deployed");
    };
    let version = target
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let Ok(entries) = fs::read_dir(&current) else {
        return text(503, &format!("{version}: deployed folder missing"));
    };
    for entry in entries.flatten() {
        let body = fs::read_to_string(entry.path()).unwrap_or_default();
        if !body.contains("health: ok") {
            return text(
                503,
                &format!(
                    "{version} unhealthy: {}",
                    entry.file_name().to_string_lossy()
                ),
            );
        }
    }
    text(200, &format!("{version} healthy"))
}

fn text(status: u16, body: &str) -> Response {
    tiny_http::Response::from_data(format!("{body}\n").into_bytes()).with_status_code(status)
}
