//! Shared by the resource tests: running the binary as Concourse does, and
//! building real metalink repositories whose files a real loopback HTTP
//! server serves.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use patchline_core::verify::Hasher;
use patchline_core::HashAlgorithm;
use serde_json::Value;

/// Say that a test skipped its work, where `cargo test` shows it: the
/// harness captures `eprintln!` of passing tests, not writes to stderr.
pub fn skipped(message: &str) {
    let _ = writeln!(std::io::stderr(), "{message}");
}

/// What one run of a command gave.
pub struct Run {
    pub ok: bool,
    /// The exit code; `None` when a signal ended the run.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|err| {
            panic!(
                "stdout is not JSON ({err}): {:?}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Run the `patchline` binary started under `name` (through a link named
/// so, as the image does), with `args` and `stdin`.
pub fn run_as(name: &str, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Run {
    let links = tempfile::tempdir().unwrap();
    let link = links.path().join(name);
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_patchline"), &link).unwrap();
    let mut child = Command::new(&link)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command refusing its arguments exits before reading stdin.
    if let Err(err) = child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe, "{err}");
    }
    let out = child.wait_with_output().unwrap();
    Run {
        ok: out.status.success(),
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

pub fn hex(algorithm: HashAlgorithm, bytes: &[u8]) -> String {
    let mut hasher = Hasher::new(algorithm);
    hasher.update(bytes);
    hasher.finish_hex()
}

/// A loopback HTTP server answering `GET /<name>` with registered bytes.
pub struct FileServer {
    pub base: String,
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
}

impl FileServer {
    pub fn start() -> Self {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let base = format!("http://{}", server.server_addr());
        let files: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
        let served = files.clone();
        std::thread::spawn(move || {
            for request in server.incoming_requests() {
                let body = served.lock().unwrap().get(request.url()).cloned();
                let response = match body {
                    Some(body) => tiny_http::Response::from_data(body),
                    None => {
                        tiny_http::Response::from_data(b"not found".to_vec()).with_status_code(404)
                    }
                };
                let _ = request.respond(response);
            }
        });
        FileServer { base, files }
    }

    /// Serve `bytes` at `/<path>`; return its URL.
    pub fn serve(&self, path: &str, bytes: &[u8]) -> String {
        self.files
            .lock()
            .unwrap()
            .insert(format!("/{path}"), bytes.to_vec());
        format!("{}/{path}", self.base)
    }
}

/// One file of a release in a test repository.
pub struct TestFile<'a> {
    pub name: &'a str,
    pub bytes: &'a [u8],
    /// The hashes published (default: sha256 only).
    pub algorithms: &'a [HashAlgorithm],
}

impl<'a> TestFile<'a> {
    pub fn new(name: &'a str, bytes: &'a [u8]) -> Self {
        TestFile {
            name,
            bytes,
            algorithms: &[HashAlgorithm::Sha256],
        }
    }
}

/// Write `<root>/<folder>/release.meta4` describing `files`, served by
/// `server`.
pub fn publish(
    root: &Path,
    folder: &str,
    version: &str,
    files: &[TestFile],
    server: &FileServer,
) -> PathBuf {
    let dir = root.join(folder);
    std::fs::create_dir_all(&dir).unwrap();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<metalink xmlns=\"urn:ietf:params:xml:ns:metalink\">\n  <published>2026-11-20T10:00:00Z</published>\n");
    for file in files {
        let url = server.serve(
            &format!("{version}/{}", file.name.replace(['/', '.'], "_")),
            file.bytes,
        );
        xml.push_str(&format!("  <file name=\"{}\">\n", file.name));
        for algorithm in file.algorithms {
            let kind = match algorithm {
                HashAlgorithm::Sha256 => "sha-256",
                HashAlgorithm::Sha512 => "sha-512",
                HashAlgorithm::Sha1 => "sha-1",
                HashAlgorithm::Md5 => "md5",
            };
            xml.push_str(&format!(
                "    <hash type=\"{kind}\">{}</hash>\n",
                hex(*algorithm, file.bytes)
            ));
        }
        xml.push_str(&format!(
            "    <size>{}</size>\n    <url>{url}</url>\n    <version>{version}</version>\n  </file>\n",
            file.bytes.len()
        ));
    }
    xml.push_str("</metalink>\n");
    std::fs::write(dir.join("release.meta4"), xml).unwrap();
    dir
}

/// Run git in `dir`, panicking with its output on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=test",
            "-c",
            "user.email=test@localhost",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
