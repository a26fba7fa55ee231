//! A stand-in for Tanzu Network's API v2 (formerly Pivotal Network).
//!
//! Two listeners on loopback: the API, and the storage host its signed
//! download URLs point to (S3 or a CDN in the real service), so that a
//! test can see credentials stay with the API host. The API serves:
//!
//! - `POST /api/v2/authentication/access_tokens` with
//!   `{"refresh_token": ...}`: a new access token;
//! - `GET /api/v2/products/<slug>/releases`: newest release date first;
//! - `GET .../releases/<id>/product_files`;
//! - `POST .../releases/<id>/pivnet_resource_eula_acceptance`;
//! - `GET` (or `POST`, which the real service keeps for old clients)
//!   `.../releases/<id>/product_files/<id>/download`: `451` until the
//!   release's EULA is accepted, then `302` to a signed URL.
//!
//! Credentials are `Authorization: Token <legacy token>` or `Bearer
//! <access token>`; wrong ones answer `401` on any route. Listings answer
//! without credentials too (public products); accepting an EULA and
//! downloading need them. Listings carry an `ETag` and answer `304` to a
//! matching `If-None-Match`. Signed URLs carry `X-Amz-Expires` and
//! `X-Amz-Signature` and answer `403` once expired, as S3 does; a test
//! can have the next ones issued already expired.
//!
//! A test can have a release or product file served with a field of
//! another type or range (`overriding`), as an answer a client was not
//! written for but must survive.
//!
//! Each listener answers one request at a time, serves at most
//! [`MAX_REQUESTS`] requests and stops after [`MAX_LIFETIME`] or when the
//! [`Pivnet`] is dropped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The most requests one listener serves.
pub const MAX_REQUESTS: usize = 100_000;

/// The longest a listener runs.
pub const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// How long a signed URL lives unless issued expired.
const SIGNED_URL_TTL: Duration = Duration::from_secs(3600);

/// One file of a release.
#[derive(Debug, Clone)]
pub struct ProductFile {
    /// The file's id.
    pub id: u64,
    /// Where the file is stored; its last part is the file's name.
    pub aws_object_key: String,
    /// The name shown on the release page (`Small Footprint TAS`).
    pub name: String,
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// The SHA-256 published, hexadecimal; empty for none.
    pub sha256: String,
    /// The MD5 published, hexadecimal; empty for none.
    pub md5: String,
    /// Fields of the file's JSON served as these values instead.
    pub overrides: Vec<(String, Value)>,
}

impl ProductFile {
    /// A file publishing the SHA-256 of `bytes`.
    pub fn new(id: u64, aws_object_key: &str, name: &str, bytes: &[u8]) -> Self {
        ProductFile {
            id,
            aws_object_key: aws_object_key.to_string(),
            name: name.to_string(),
            bytes: bytes.to_vec(),
            sha256: hex::encode(Sha256::digest(bytes)),
            md5: String::new(),
            overrides: Vec::new(),
        }
    }

    /// Serve `field` of the file's JSON as `value` instead.
    pub fn overriding(mut self, field: &str, value: Value) -> Self {
        self.overrides.push((field.to_string(), value));
        self
    }

    /// Publish `md5` and no SHA-256, as files uploaded before Tanzu Network
    /// recorded SHA-256 digests do.
    pub fn md5_only(self, md5: &str) -> Self {
        ProductFile {
            sha256: String::new(),
            md5: md5.to_string(),
            ..self
        }
    }
}

/// One release of a product.
#[derive(Debug, Clone)]
pub struct Release {
    /// The release's id.
    pub id: u64,
    /// The version as published.
    pub version: String,
    /// `Security Release`, `Major Release`, ...
    pub release_type: String,
    /// `YYYY-MM-DD`.
    pub release_date: String,
    /// The release's product files.
    pub files: Vec<ProductFile>,
    /// Fields of the release's JSON served as these values instead.
    pub overrides: Vec<(String, Value)>,
}

impl Release {
    /// A release without files.
    pub fn new(id: u64, version: &str, release_type: &str, release_date: &str) -> Self {
        Release {
            id,
            version: version.to_string(),
            release_type: release_type.to_string(),
            release_date: release_date.to_string(),
            files: Vec::new(),
            overrides: Vec::new(),
        }
    }

    /// Add a file.
    pub fn file(mut self, file: ProductFile) -> Self {
        self.files.push(file);
        self
    }

    /// Serve `field` of the release's JSON as `value` instead.
    pub fn overriding(mut self, field: &str, value: Value) -> Self {
        self.overrides.push((field.to_string(), value));
        self
    }
}

/// One product and its releases.
#[derive(Debug, Clone)]
pub struct Product {
    /// The product's slug (`elastic-runtime`).
    pub slug: String,
    /// Its releases, in any order.
    pub releases: Vec<Release>,
}

impl Product {
    /// A product without releases.
    pub fn new(slug: &str) -> Self {
        Product {
            slug: slug.to_string(),
            releases: Vec::new(),
        }
    }

    /// Add a release.
    pub fn release(mut self, release: Release) -> Self {
        self.releases.push(release);
        self
    }
}

/// One request a listener answered.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path and query.
    pub url: String,
    /// The headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The status answered.
    pub status: u16,
}

impl Recorded {
    /// Return the first value of header `name` (any case), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::header(&self.headers, name)
    }
}

/// A running stand-in; both listeners stop when it is dropped.
pub struct Pivnet {
    endpoint: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Pivnet {
    /// Serve `products`, accepting `legacy_token` and access tokens
    /// exchanged for `refresh_token`.
    pub fn start(legacy_token: &str, refresh_token: &str, products: Vec<Product>) -> Pivnet {
        let api = tiny_http::Server::http("127.0.0.1:0").expect("a loopback port is free");
        let files = tiny_http::Server::http("127.0.0.1:0").expect("a loopback port is free");
        let endpoint = format!("http://{}", api.server_addr());
        let state = Arc::new(Mutex::new(State {
            endpoint: endpoint.clone(),
            file_host: format!("http://{}", files.server_addr()),
            legacy_token: legacy_token.to_string(),
            refresh_token: refresh_token.to_string(),
            products,
            access_tokens: Vec::new(),
            accepted: Vec::new(),
            signed: HashMap::new(),
            expire_next: 0,
            api_requests: Vec::new(),
            file_requests: Vec::new(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let threads = vec![
            serve(api, state.clone(), stop.clone(), State::api),
            serve(files, state.clone(), stop.clone(), State::file_host),
        ];
        Pivnet {
            endpoint,
            state,
            stop,
            threads,
        }
    }

    /// Return the API's base URL (`http://127.0.0.1:PORT`), for
    /// `source.endpoint`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Return the storage host's base URL.
    pub fn file_host(&self) -> String {
        self.state().file_host.clone()
    }

    /// Return the requests the API answered, in order.
    pub fn api_requests(&self) -> Vec<Recorded> {
        self.state().api_requests.clone()
    }

    /// Return the requests the storage host answered, in order.
    pub fn file_requests(&self) -> Vec<Recorded> {
        self.state().file_requests.clone()
    }

    /// Return the access tokens issued, in order.
    pub fn access_tokens(&self) -> Vec<String> {
        self.state().access_tokens.clone()
    }

    /// Say whether the EULA of release `id` was accepted.
    pub fn eula_accepted(&self, id: u64) -> bool {
        self.state().accepted.contains(&id)
    }

    /// Issue the next `count` signed URLs already expired.
    pub fn expire_next_signed_urls(&self, count: usize) {
        self.state().expire_next = count;
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Pivnet {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// An answer: status, extra headers, body.
type Answer = (u16, Vec<(&'static str, String)>, Vec<u8>);

/// What a listener asked for.
struct Asked {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Asked {
    fn header(&self, name: &str) -> Option<&str> {
        crate::header(&self.headers, name)
    }
}

/// A URL the storage host accepts until it expires.
struct Signed {
    path: String,
    issued: Instant,
    ttl: Duration,
}

/// Who a request comes from.
#[derive(PartialEq)]
enum Caller {
    Anonymous,
    Known,
    Refused,
}

struct State {
    endpoint: String,
    file_host: String,
    legacy_token: String,
    refresh_token: String,
    products: Vec<Product>,
    access_tokens: Vec<String>,
    accepted: Vec<u64>,
    /// Signed URLs by signature.
    signed: HashMap<String, Signed>,
    /// How many of the next signed URLs are issued expired.
    expire_next: usize,
    api_requests: Vec<Recorded>,
    file_requests: Vec<Recorded>,
}

/// Answer requests on `server` with `handle` until stopped or bounded out.
fn serve(
    server: tiny_http::Server,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    handle: fn(&mut State, &Asked) -> Answer,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let started = Instant::now();
        let mut served = 0;
        while served < MAX_REQUESTS
            && started.elapsed() < MAX_LIFETIME
            && !stop.load(Ordering::Relaxed)
        {
            let Ok(Some(mut request)) = server.recv_timeout(Duration::from_millis(50)) else {
                continue;
            };
            served += 1;
            let mut body = Vec::new();
            let _ = request.as_reader().read_to_end(&mut body);
            let asked = Asked {
                method: request.method().as_str().to_string(),
                url: request.url().to_string(),
                headers: request
                    .headers()
                    .iter()
                    .map(|h| {
                        (
                            h.field.as_str().as_str().to_ascii_lowercase(),
                            h.value.as_str().to_string(),
                        )
                    })
                    .collect(),
                body,
            };
            let (status, headers, body) = {
                let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
                handle(&mut state, &asked)
            };
            let mut response = tiny_http::Response::from_data(body).with_status_code(status);
            for (name, value) in headers {
                let header = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes())
                    .expect("a valid header");
                response = response.with_header(header);
            }
            let _ = request.respond(response);
        }
    })
}

/// A JSON answer.
fn json_answer(status: u16, value: &Value) -> Answer {
    (
        status,
        vec![("Content-Type", "application/json; charset=utf-8".into())],
        serde_json::to_vec(value).expect("JSON serializes"),
    )
}

/// An error as the API words it.
fn error(status: u16, message: &str) -> Answer {
    json_answer(status, &json!({ "status": status, "message": message }))
}

/// A listing with an `ETag`, or `304` when the client has it already.
fn listing(asked: &Asked, value: &Value) -> Answer {
    let body = serde_json::to_vec(value).expect("JSON serializes");
    let etag = format!("W/\"{}\"", &hex::encode(Sha256::digest(&body))[..32]);
    if asked.header("if-none-match") == Some(etag.as_str()) {
        return (304, vec![("ETag", etag)], Vec::new());
    }
    let headers = vec![
        ("Content-Type", "application/json; charset=utf-8".into()),
        ("ETag", etag),
    ];
    (200, headers, body)
}

impl State {
    /// Answer an API request and record it.
    fn api(&mut self, asked: &Asked) -> Answer {
        let answer = self.route(asked);
        self.api_requests.push(record(asked, answer.0));
        answer
    }

    /// Answer a request for a signed URL and record it.
    fn file_host(&mut self, asked: &Asked) -> Answer {
        let answer = self.signed_file(asked);
        self.file_requests.push(record(asked, answer.0));
        answer
    }

    fn route(&mut self, asked: &Asked) -> Answer {
        let caller = self.caller(asked.header("authorization"));
        if caller == Caller::Refused {
            return error(401, "You must be authenticated to access this resource");
        }
        let path = asked.url.split('?').next().unwrap_or_default();
        let Some(path) = path.strip_prefix("/api/v2/") else {
            return error(404, "Not found");
        };
        let parts: Vec<&str> = path.split('/').collect();
        let method = asked.method.as_str();
        match (method, parts.as_slice()) {
            ("POST", ["authentication", "access_tokens"]) => self.exchange(&asked.body),
            ("GET", ["products", slug, "releases"]) => match self.product(slug) {
                Some(product) => listing(asked, &self.releases_json(product)),
                None => error(404, "Product not found"),
            },
            ("GET", ["products", slug, "releases", id, "product_files"]) => {
                match self.release(slug, id) {
                    Some(release) => listing(asked, &self.files_json(slug, release)),
                    None => error(404, "Release not found"),
                }
            }
            ("POST", ["products", slug, "releases", id, "pivnet_resource_eula_acceptance"]) => {
                if caller != Caller::Known {
                    return error(401, "You must be authenticated to access this resource");
                }
                match self.release(slug, id).map(|r| r.id) {
                    Some(id) => {
                        if !self.accepted.contains(&id) {
                            self.accepted.push(id);
                        }
                        json_answer(200, &json!({}))
                    }
                    None => error(404, "Release not found"),
                }
            }
            (
                "GET" | "POST",
                ["products", slug, "releases", id, "product_files", file, "download"],
            ) => {
                if caller != Caller::Known {
                    return error(401, "You must be authenticated to access this resource");
                }
                let Some(release) = self.release(slug, id) else {
                    return error(404, "Release not found");
                };
                let Some(key) = release
                    .files
                    .iter()
                    .find(|f| f.id.to_string() == *file)
                    .map(|f| f.aws_object_key.clone())
                else {
                    return error(404, "Product file not found");
                };
                if !self.accepted.contains(&release.id) {
                    return error(
                        451,
                        "The user must accept the current EULA for this release to download files",
                    );
                }
                (302, vec![("Location", self.sign(&key))], Vec::new())
            }
            _ => error(404, "Not found"),
        }
    }

    fn caller(&self, authorization: Option<&str>) -> Caller {
        let Some(authorization) = authorization else {
            return Caller::Anonymous;
        };
        let legacy = authorization
            .strip_prefix("Token ")
            .is_some_and(|token| token == self.legacy_token);
        let bearer = authorization
            .strip_prefix("Bearer ")
            .is_some_and(|token| self.access_tokens.iter().any(|t| t == token));
        if legacy || bearer {
            Caller::Known
        } else {
            Caller::Refused
        }
    }

    /// Exchange a refresh token for a new access token.
    fn exchange(&mut self, body: &[u8]) -> Answer {
        let refresh = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v["refresh_token"].as_str().map(str::to_string));
        if refresh.as_deref() != Some(self.refresh_token.as_str()) {
            return error(401, "The refresh token is invalid or has expired");
        }
        let token = format!("access-token-{}", self.access_tokens.len() + 1);
        self.access_tokens.push(token.clone());
        json_answer(200, &json!({ "access_token": token }))
    }

    fn product(&self, slug: &str) -> Option<&Product> {
        self.products.iter().find(|p| p.slug == slug)
    }

    fn release(&self, slug: &str, id: &str) -> Option<&Release> {
        self.product(slug)?
            .releases
            .iter()
            .find(|r| r.id.to_string() == id)
    }

    fn releases_json(&self, product: &Product) -> Value {
        let mut releases: Vec<&Release> = product.releases.iter().collect();
        releases.sort_by(|a, b| b.release_date.cmp(&a.release_date));
        let releases: Vec<Value> = releases
            .into_iter()
            .map(|release| {
                let base = format!(
                    "{}/api/v2/products/{}/releases/{}",
                    self.endpoint, product.slug, release.id
                );
                let json = json!({
                    "id": release.id,
                    "version": release.version,
                    "release_type": release.release_type,
                    "release_date": release.release_date,
                    "availability": "All Users",
                    "eula": {
                        "id": 120,
                        "slug": "vmware-eula",
                        "name": "VMware EULA",
                        "_links": {"self": {"href": format!("{}/api/v2/eulas/120", self.endpoint)}}
                    },
                    "_links": {
                        "self": {"href": base},
                        "product_files": {"href": format!("{base}/product_files")},
                        "eula_acceptance": {"href": format!("{base}/pivnet_resource_eula_acceptance")}
                    }
                });
                overridden(json, &release.overrides)
            })
            .collect();
        json!({ "releases": releases })
    }

    fn files_json(&self, slug: &str, release: &Release) -> Value {
        let files: Vec<Value> = release
            .files
            .iter()
            .map(|file| {
                let base = format!(
                    "{}/api/v2/products/{slug}/releases/{}/product_files/{}",
                    self.endpoint, release.id, file.id
                );
                let json = json!({
                    "id": file.id,
                    "aws_object_key": file.aws_object_key,
                    "file_type": "Software",
                    "file_version": release.version,
                    "name": file.name,
                    "sha256": file.sha256,
                    "md5": file.md5,
                    "size": file.bytes.len(),
                    "_links": {
                        "self": {"href": base},
                        "download": {"href": format!("{base}/download")}
                    }
                });
                overridden(json, &file.overrides)
            })
            .collect();
        json!({ "product_files": files })
    }

    /// Return a new signed URL for the object `key`.
    fn sign(&mut self, key: &str) -> String {
        let ttl = if self.expire_next > 0 {
            self.expire_next -= 1;
            Duration::ZERO
        } else {
            SIGNED_URL_TTL
        };
        let signature = hex::encode(Sha256::digest(format!("{key}\n{}", self.signed.len())));
        self.signed.insert(
            signature.clone(),
            Signed {
                path: format!("/{key}"),
                issued: Instant::now(),
                ttl,
            },
        );
        format!(
            "{}/{key}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires={}&X-Amz-Signature={signature}",
            self.file_host,
            ttl.as_secs()
        )
    }

    /// Serve the object a signed URL names, or refuse as S3 does.
    fn signed_file(&self, asked: &Asked) -> Answer {
        let (path, query) = asked.url.split_once('?').unwrap_or((&asked.url, ""));
        let signed = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("X-Amz-Signature="))
            .and_then(|signature| self.signed.get(signature))
            .filter(|signed| signed.path == path && asked.method == "GET");
        let Some(signed) = signed else {
            return denied(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided",
            );
        };
        if signed.issued.elapsed() >= signed.ttl {
            return denied("AccessDenied", "Request has expired");
        }
        let bytes = self
            .products
            .iter()
            .flat_map(|p| &p.releases)
            .flat_map(|r| &r.files)
            .find(|f| format!("/{}", f.aws_object_key) == path)
            .map(|f| f.bytes.clone())
            .unwrap_or_default();
        (
            200,
            vec![("Content-Type", "application/octet-stream".into())],
            bytes,
        )
    }
}

/// Return `json` (an object) with each `(field, value)` of `overrides` set.
fn overridden(mut json: Value, overrides: &[(String, Value)]) -> Value {
    for (field, value) in overrides {
        json[field.as_str()] = value.clone();
    }
    json
}

/// S3's refusal.
fn denied(code: &str, message: &str) -> Answer {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    (
        403,
        vec![("Content-Type", "application/xml".into())],
        body.into_bytes(),
    )
}

fn record(asked: &Asked, status: u16) -> Recorded {
    Recorded {
        method: asked.method.clone(),
        url: asked.url.clone(),
        headers: asked.headers.clone(),
        status,
    }
}
