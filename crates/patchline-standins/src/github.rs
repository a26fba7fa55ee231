//! A stand-in of GitHub's REST releases API, with the separate host that
//! release assets are downloaded from.
//!
//! [`GitHub::start`] serves one repository, described by the test, on two
//! loopback listeners: the API (which also stands for `github.com`, where
//! `browser_download_url` points) and the file host (standing for
//! `objects.githubusercontent.com`, whose URLs are signed with a `sig`
//! query parameter). It answers as GitHub's documentation says:
//!
//! - `GET /repos/{owner}/{repo}/releases`: newest created first, paged by
//!   `per_page` (default 30, at most 100) and `page`, with a `Link` header
//!   whose `next`/`last` targets use `/repositories/{id}/...` as GitHub's
//!   do, and a weak `ETag` honoured by `If-None-Match` (`304`);
//! - `GET /repos/{owner}/{repo}/releases/{id}/assets`: every asset, paged
//!   the same way;
//! - `GET /repos/{owner}/{repo}/releases/assets/{id}`: the asset's JSON, or
//!   with `Accept: application/octet-stream` a `302` to a signed URL;
//! - `GET /{owner}/{repo}/releases/download/{tag}/{name}`: a `302` to a
//!   signed URL, for public repositories only.
//!
//! Drafts are listed only to a caller with the repository's token (GitHub
//! shows them only to users with push access, and the stand-in's token has
//! it). A wrong token is answered `401` everywhere; a private repository
//! asked without a token is answered `404`, as GitHub hides it. GitHub's
//! documentation does not say how many assets a listed release embeds; the
//! stand-in embeds the first 100, so a release with more must be read from
//! its assets endpoint. Like S3 behind the file host, a download carrying
//! both a signature and an `Authorization` header is refused (`400`).
//!
//! Every request is logged with its headers and the status answered, so a
//! test can tell which host saw which credentials.
//!
//! A test can also have it answer what GitHub's documentation does not
//! promise but a client must survive: a release or asset field of another
//! type or range ([`ReleaseSpec::overriding`], [`AssetSpec::overriding`]),
//! and listing pages whose `next` link points back at themselves
//! ([`Repository::next_link_to_itself`]).

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The repository id in `Link` targets (the id of GitHub's own example
/// repository, `octocat/Hello-World`).
pub const REPOSITORY_ID: u64 = 1296269;

/// How many assets a release object embeds.
const EMBEDDED_ASSETS: usize = 100;

/// The file host's bucket, as in GitHub's signed URLs.
const BUCKET: &str = "/github-production-release-asset";

/// The repository a stand-in serves.
#[derive(Debug, Clone)]
pub struct Repository {
    owner: String,
    name: String,
    token: Option<String>,
    private: bool,
    next_link_to_itself: bool,
    releases: Vec<ReleaseSpec>,
}

impl Repository {
    /// A public repository `owner/name` without releases or tokens.
    pub fn new(owner: &str, name: &str) -> Self {
        Repository {
            owner: owner.to_string(),
            name: name.to_string(),
            token: None,
            private: false,
            next_link_to_itself: false,
            releases: Vec::new(),
        }
    }

    /// Accept `token` (as `Bearer` or `token`), with push access.
    pub fn token(mut self, token: &str) -> Self {
        self.token = Some(token.to_string());
        self
    }

    /// Hide the repository from callers without the token.
    pub fn private(mut self) -> Self {
        self.private = true;
        self
    }

    /// Give every listing page a `next` link to the URL just asked, as a
    /// proxy that rewrites links wrongly would.
    pub fn next_link_to_itself(mut self) -> Self {
        self.next_link_to_itself = true;
        self
    }

    /// Add a release, created after every release added before it.
    pub fn release(mut self, release: ReleaseSpec) -> Self {
        self.releases.push(release);
        self
    }
}

/// A release as the test describes it.
#[derive(Debug, Clone)]
pub struct ReleaseSpec {
    tag: String,
    draft: bool,
    prerelease: bool,
    assets: Vec<AssetSpec>,
    overrides: Vec<(String, Value)>,
}

impl ReleaseSpec {
    /// A published release tagged `tag`, without assets.
    pub fn new(tag: &str) -> Self {
        ReleaseSpec {
            tag: tag.to_string(),
            draft: false,
            prerelease: false,
            assets: Vec::new(),
            overrides: Vec::new(),
        }
    }

    /// Make it a draft (never published).
    pub fn draft(mut self) -> Self {
        self.draft = true;
        self
    }

    /// Mark it a pre-release.
    pub fn prerelease(mut self) -> Self {
        self.prerelease = true;
        self
    }

    /// Attach an asset, after the ones attached before.
    pub fn asset(mut self, asset: AssetSpec) -> Self {
        self.assets.push(asset);
        self
    }

    /// Serve `field` of the release's JSON as `value` instead.
    pub fn overriding(mut self, field: &str, value: Value) -> Self {
        self.overrides.push((field.to_string(), value));
        self
    }
}

/// A release asset as the test describes it.
#[derive(Debug, Clone)]
pub struct AssetSpec {
    name: String,
    bytes: Vec<u8>,
    digest: bool,
    state: String,
    overrides: Vec<(String, Value)>,
}

impl AssetSpec {
    /// An uploaded asset whose JSON carries its `sha256:` digest.
    ///
    /// GitHub renames assets to letters, digits, `.`, `-` and `_`; a name
    /// with anything else would not be one GitHub serves, so it panics.
    pub fn new(name: &str, bytes: &[u8]) -> Self {
        assert!(
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
            "GitHub would rename asset {name:?}"
        );
        AssetSpec {
            name: name.to_string(),
            bytes: bytes.to_vec(),
            digest: true,
            state: "uploaded".to_string(),
            overrides: Vec::new(),
        }
    }

    /// Give no digest (`"digest": null`), as for assets uploaded before
    /// GitHub computed them.
    pub fn without_digest(mut self) -> Self {
        self.digest = false;
        self
    }

    /// Set the upload state (`starter` for an upload that never finished).
    pub fn state(mut self, state: &str) -> Self {
        self.state = state.to_string();
        self
    }

    /// Serve `field` of the asset's JSON as `value` instead.
    pub fn overriding(mut self, field: &str, value: Value) -> Self {
        self.overrides.push((field.to_string(), value));
        self
    }
}

/// One request a listener received, and what it answered.
#[derive(Debug, Clone)]
pub struct LoggedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path with its query string.
    pub path: String,
    /// The headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The status answered.
    pub status: u16,
}

impl LoggedRequest {
    /// Return the value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::header(&self.headers, name)
    }
}

/// A running stand-in: the API and the file host, both stopped when it is
/// dropped.
pub struct GitHub {
    api: Listener,
    files: Listener,
    state: Arc<State>,
}

impl GitHub {
    /// Serve `repository` on two new loopback ports.
    pub fn start(repository: Repository) -> Self {
        let api_server = bind();
        let files_server = bind();
        let state = Arc::new(State::new(
            repository,
            format!("http://{}", api_server.server_addr()),
            format!("http://{}", files_server.server_addr()),
        ));
        GitHub {
            api: Listener::spawn(api_server, state.clone(), answer_api),
            files: Listener::spawn(files_server, state.clone(), answer_file),
            state,
        }
    }

    /// Return the API's base URL (`http://127.0.0.1:<port>`), the value of
    /// a source's `api_url`.
    pub fn api_url(&self) -> &str {
        &self.state.api_url
    }

    /// Return the file host's base URL.
    pub fn files_url(&self) -> &str {
        &self.state.files_url
    }

    /// Return the id GitHub gave asset `name` of the release tagged `tag`.
    pub fn asset_id(&self, tag: &str, name: &str) -> u64 {
        self.state
            .releases
            .iter()
            .filter(|release| release.tag == tag)
            .flat_map(|release| &release.assets)
            .find(|asset| asset.name == name)
            .unwrap_or_else(|| panic!("no asset {name} in release {tag}"))
            .id
    }

    /// Return every request the API received so far, oldest first.
    pub fn api_requests(&self) -> Vec<LoggedRequest> {
        self.api.log.lock().unwrap().clone()
    }

    /// Return every request the file host received so far, oldest first.
    pub fn file_requests(&self) -> Vec<LoggedRequest> {
        self.files.log.lock().unwrap().clone()
    }
}

/// One loopback server and its request log.
struct Listener {
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
    log: Arc<Mutex<Vec<LoggedRequest>>>,
}

impl Listener {
    fn spawn(
        server: tiny_http::Server,
        state: Arc<State>,
        answer: fn(&State, &Asked) -> Reply,
    ) -> Self {
        let server = Arc::new(server);
        let log = Arc::new(Mutex::new(Vec::new()));
        let serving = server.clone();
        let logging = log.clone();
        let thread = std::thread::spawn(move || {
            for request in serving.incoming_requests() {
                let asked = Asked::read(&request);
                let reply = answer(&state, &asked);
                logging.lock().unwrap().push(LoggedRequest {
                    method: asked.method,
                    path: asked.url,
                    headers: asked.headers,
                    status: reply.status,
                });
                let _ = request.respond(reply.into_response());
            }
        });
        Listener {
            server,
            thread: Some(thread),
            log,
        }
    }
}

impl Drop for Listener {
    /// Stop serving, so a test leaves nothing running.
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn bind() -> tiny_http::Server {
    tiny_http::Server::http("127.0.0.1:0").expect("a loopback port to listen on")
}

/// What the stand-in serves, fixed at start.
struct State {
    owner: String,
    name: String,
    token: Option<String>,
    private: bool,
    next_link_to_itself: bool,
    api_url: String,
    files_url: String,
    /// Releases in creation order, oldest first.
    releases: Vec<StoredRelease>,
    /// The key signing file host URLs, new for every stand-in.
    signing_key: String,
}

struct StoredRelease {
    id: u64,
    tag: String,
    draft: bool,
    prerelease: bool,
    created_at: String,
    assets: Vec<StoredAsset>,
    overrides: Vec<(String, Value)>,
}

struct StoredAsset {
    id: u64,
    name: String,
    bytes: Vec<u8>,
    digest: bool,
    state: String,
    overrides: Vec<(String, Value)>,
}

impl State {
    fn new(repository: Repository, api_url: String, files_url: String) -> Self {
        let mut next_asset_id = 0;
        let releases = repository
            .releases
            .into_iter()
            .enumerate()
            .map(|(index, release)| StoredRelease {
                id: 1000 + index as u64,
                tag: release.tag,
                draft: release.draft,
                prerelease: release.prerelease,
                created_at: minute_of_2026(index),
                assets: release
                    .assets
                    .into_iter()
                    .map(|asset| {
                        next_asset_id += 1;
                        StoredAsset {
                            id: 5000 + next_asset_id,
                            name: asset.name,
                            bytes: asset.bytes,
                            digest: asset.digest,
                            state: asset.state,
                            overrides: asset.overrides,
                        }
                    })
                    .collect(),
                overrides: release.overrides,
            })
            .collect();
        let signing_key = hex::encode(Sha256::digest(format!(
            "{files_url} {:?}",
            std::time::SystemTime::now()
        )));
        State {
            owner: repository.owner,
            name: repository.name,
            token: repository.token,
            private: repository.private,
            next_link_to_itself: repository.next_link_to_itself,
            api_url,
            files_url,
            releases,
            signing_key,
        }
    }

    /// Say who is asking: nobody, the token's holder, or a wrong token.
    fn caller(&self, asked: &Asked) -> Caller {
        let Some(value) = asked.header("authorization") else {
            return Caller::Anonymous;
        };
        let given = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("token "));
        match (given, &self.token) {
            (Some(given), Some(token)) if given == token => Caller::Pusher,
            _ => Caller::BadCredentials,
        }
    }

    /// Return the releases `caller` may see, newest first.
    fn visible(&self, caller: Caller) -> impl Iterator<Item = &StoredRelease> {
        self.releases
            .iter()
            .rev()
            .filter(move |release| !release.draft || caller == Caller::Pusher)
    }

    fn signed_url(&self, asset: &StoredAsset) -> String {
        format!(
            "{}{BUCKET}/{REPOSITORY_ID}/{}?sig={}&response-content-disposition=attachment%3B%20filename%3D{}&response-content-type=application%2Foctet-stream",
            self.files_url,
            asset.id,
            self.signature(asset.id),
            asset.name
        )
    }

    fn signature(&self, asset_id: u64) -> String {
        hex::encode(Sha256::digest(format!("{}:{asset_id}", self.signing_key)))[..32].to_string()
    }

    fn release_json(&self, release: &StoredRelease) -> Value {
        let repo = format!("{}/repos/{}/{}", self.api_url, self.owner, self.name);
        let json = json!({
            "url": format!("{repo}/releases/{}", release.id),
            "assets_url": format!("{repo}/releases/{}/assets", release.id),
            "upload_url": format!("{repo}/releases/{}/assets{{?name,label}}", release.id),
            "html_url": format!("{}/{}/{}/releases/tag/{}", self.api_url, self.owner, self.name, release.tag),
            "id": release.id,
            "author": {"login": self.owner, "id": 1, "type": "User"},
            "tag_name": release.tag,
            "target_commitish": "main",
            "name": release.tag,
            "draft": release.draft,
            "prerelease": release.prerelease,
            "created_at": release.created_at,
            "published_at": if release.draft { Value::Null } else { json!(release.created_at) },
            "assets": release
                .assets
                .iter()
                .take(EMBEDDED_ASSETS)
                .map(|asset| self.asset_json(release, asset))
                .collect::<Vec<_>>(),
            "tarball_url": format!("{repo}/tarball/{}", release.tag),
            "zipball_url": format!("{repo}/zipball/{}", release.tag),
            "body": "",
        });
        overridden(json, &release.overrides)
    }

    fn asset_json(&self, release: &StoredRelease, asset: &StoredAsset) -> Value {
        let json = json!({
            "url": format!("{}/repos/{}/{}/releases/assets/{}", self.api_url, self.owner, self.name, asset.id),
            "id": asset.id,
            "name": asset.name,
            "label": "",
            "content_type": "application/octet-stream",
            "state": asset.state,
            "size": asset.bytes.len(),
            "digest": if asset.digest {
                json!(format!("sha256:{}", hex::encode(Sha256::digest(&asset.bytes))))
            } else {
                Value::Null
            },
            "download_count": 0,
            "created_at": release.created_at,
            "updated_at": release.created_at,
            "browser_download_url": format!(
                "{}/{}/{}/releases/download/{}/{}",
                self.api_url, self.owner, self.name, release.tag, asset.name
            ),
        });
        overridden(json, &asset.overrides)
    }

    fn find_asset(&self, caller: Caller, id: u64) -> Option<&StoredAsset> {
        self.visible(caller)
            .flat_map(|release| &release.assets)
            .find(|asset| asset.id == id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Anonymous,
    Pusher,
    BadCredentials,
}

/// A request, read before it is answered.
struct Asked {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
}

impl Asked {
    fn read(request: &tiny_http::Request) -> Self {
        Asked {
            method: request.method().to_string(),
            url: request.url().to_string(),
            headers: request
                .headers()
                .iter()
                .map(|h| {
                    (
                        h.field.as_str().as_str().to_ascii_lowercase(),
                        h.value.to_string(),
                    )
                })
                .collect(),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn path(&self) -> &str {
        self.url.split('?').next().unwrap_or_default()
    }

    /// Return query parameter `name` as a number.
    fn number(&self, name: &str) -> Option<usize> {
        let (_, query) = self.url.split_once('?')?;
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| *key == name)
            .and_then(|(_, value)| value.parse().ok())
    }

    fn query(&self, name: &str) -> Option<&str> {
        let (_, query) = self.url.split_once('?')?;
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value)
    }
}

/// An answer before it is sent.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn json(status: u16, body: &Value) -> Self {
        Reply {
            status,
            headers: vec![(
                "Content-Type".into(),
                "application/json; charset=utf-8".into(),
            )],
            body: serde_json::to_vec(body).expect("JSON serializes"),
        }
    }

    fn message(status: u16, message: &str) -> Self {
        Reply::json(
            status,
            &json!({
                "message": message,
                "documentation_url": "https://docs.github.com/rest",
                "status": status.to_string(),
            }),
        )
    }

    fn redirect(location: String) -> Self {
        Reply {
            status: 302,
            headers: vec![("Location".into(), location)],
            body: Vec::new(),
        }
    }

    fn s3_error(status: u16, code: &str, message: &str) -> Self {
        Reply {
            status,
            headers: vec![("Content-Type".into(), "application/xml".into())],
            body: format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
            )
            .into_bytes(),
        }
    }

    fn into_response(self) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
        let mut response = tiny_http::Response::from_data(self.body).with_status_code(self.status);
        for (name, value) in self.headers {
            response.add_header(
                tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes())
                    .expect("a valid header"),
            );
        }
        response
    }
}

fn answer_api(state: &State, asked: &Asked) -> Reply {
    let caller = state.caller(asked);
    if caller == Caller::BadCredentials {
        return Reply::message(401, "Bad credentials");
    }
    if asked.method != "GET" || (state.private && caller == Caller::Anonymous) {
        return Reply::message(404, "Not Found");
    }
    let path = asked.path();

    let download = format!("/{}/{}/releases/download/", state.owner, state.name);
    if let Some(rest) = path.strip_prefix(&download) {
        return browser_download(state, rest);
    }

    let by_name = format!("/repos/{}/{}/", state.owner, state.name);
    let by_id = format!("/repositories/{REPOSITORY_ID}/");
    let Some(rest) =
        strip_prefix_ignoring_case(path, &by_name).or_else(|| path.strip_prefix(&by_id))
    else {
        return Reply::message(404, "Not Found");
    };
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        ["releases"] => {
            let releases: Vec<Value> = state
                .visible(caller)
                .map(|release| state.release_json(release))
                .collect();
            paged(state, asked, "/releases", releases)
        }
        ["releases", "assets", id] => {
            let Some(asset) = id.parse().ok().and_then(|id| state.find_asset(caller, id)) else {
                return Reply::message(404, "Not Found");
            };
            let octets = asked
                .header("accept")
                .is_some_and(|accept| accept.contains("application/octet-stream"));
            if octets {
                return Reply::redirect(state.signed_url(asset));
            }
            let release = state
                .releases
                .iter()
                .find(|release| release.assets.iter().any(|a| a.id == asset.id))
                .expect("an asset belongs to a release");
            Reply::json(200, &state.asset_json(release, asset))
        }
        ["releases", id, "assets"] => {
            let release = id
                .parse::<u64>()
                .ok()
                .and_then(|id| state.visible(caller).find(|release| release.id == id));
            let Some(release) = release else {
                return Reply::message(404, "Not Found");
            };
            let assets = release
                .assets
                .iter()
                .map(|asset| state.asset_json(release, asset))
                .collect();
            paged(
                state,
                asked,
                &format!("/releases/{}/assets", release.id),
                assets,
            )
        }
        _ => Reply::message(404, "Not Found"),
    }
}

/// Answer `github.com/{owner}/{repo}/releases/download/{tag}/{name}`: a
/// redirect to the file host for public repositories; GitHub does not
/// take tokens here, so a private repository's assets are not found.
fn browser_download(state: &State, tag_and_name: &str) -> Reply {
    let Some((tag, name)) = tag_and_name.rsplit_once('/') else {
        return Reply::message(404, "Not Found");
    };
    let asset = state
        .releases
        .iter()
        .filter(|release| !release.draft && release.tag == tag)
        .flat_map(|release| &release.assets)
        .find(|asset| asset.name == name);
    match asset {
        Some(asset) if !state.private => Reply::redirect(state.signed_url(asset)),
        _ => Reply::message(404, "Not Found"),
    }
}

/// Answer one page of `items`, with GitHub's `Link` and `ETag` headers.
/// `rest` is the path after the repository, for the links.
fn paged(state: &State, asked: &Asked, rest: &str, items: Vec<Value>) -> Reply {
    let per_page = asked.number("per_page").unwrap_or(30).clamp(1, 100);
    let page = asked.number("page").unwrap_or(1).max(1);
    let last = items.len().div_ceil(per_page).max(1);
    let shown: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();

    let mut reply = Reply::json(200, &Value::Array(shown));
    let etag = format!("W/\"{}\"", hex::encode(Sha256::digest(&reply.body)));
    if asked.header("if-none-match") == Some(etag.as_str()) {
        reply.status = 304;
        reply.body.clear();
    }
    reply.headers.push(("ETag".into(), etag));

    let link = |page: usize, rel: &str| {
        format!(
            "<{}/repositories/{REPOSITORY_ID}{rest}?per_page={per_page}&page={page}>; rel=\"{rel}\"",
            state.api_url
        )
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(link((page - 1).min(last), "prev"));
    }
    if page < last {
        links.push(link(page + 1, "next"));
        links.push(link(last, "last"));
    }
    if page > 1 {
        links.push(link(1, "first"));
    }
    if state.next_link_to_itself {
        links = vec![format!("<{}{}>; rel=\"next\"", state.api_url, asked.url)];
    }
    if !links.is_empty() {
        reply.headers.push(("Link".into(), links.join(", ")));
    }
    reply
}

fn answer_file(state: &State, asked: &Asked) -> Reply {
    let asset = asked
        .path()
        .strip_prefix(&format!("{BUCKET}/{REPOSITORY_ID}/"))
        .and_then(|id| id.parse::<u64>().ok())
        .and_then(|id| {
            state
                .releases
                .iter()
                .flat_map(|release| &release.assets)
                .find(|asset| asset.id == id)
        });
    let Some(asset) = asset else {
        return Reply::s3_error(404, "NoSuchKey", "The specified key does not exist.");
    };
    if asked.header("authorization").is_some() {
        return Reply::s3_error(
            400,
            "InvalidArgument",
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, \
             Signature query string parameter or the Authorization header should be specified",
        );
    }
    if asked.query("sig") != Some(state.signature(asset.id).as_str()) {
        return Reply::s3_error(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        );
    }
    // Like the storage behind GitHub's file host: a strong ETag of the
    // bytes, honoured by If-None-Match.
    let etag = format!("\"{}\"", hex::encode(Sha256::digest(&asset.bytes)));
    let unchanged = asked.header("if-none-match") == Some(etag.as_str());
    Reply {
        status: if unchanged { 304 } else { 200 },
        headers: vec![
            ("Content-Type".into(), "application/octet-stream".into()),
            (
                "Content-Disposition".into(),
                format!("attachment; filename={}", asset.name),
            ),
            ("ETag".into(), etag),
        ],
        body: if unchanged {
            Vec::new()
        } else {
            asset.bytes.clone()
        },
    }
}

/// Return `json` (an object) with each `(field, value)` of `overrides` set.
fn overridden(mut json: Value, overrides: &[(String, Value)]) -> Value {
    for (field, value) in overrides {
        json[field.as_str()] = value.clone();
    }
    json
}

fn strip_prefix_ignoring_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// Return the `index`th minute of 2026 as GitHub writes times.
fn minute_of_2026(index: usize) -> String {
    let (day, minute) = (index / 1440, index % 1440);
    assert!(day < 31, "the stand-in dates at most 44,640 releases");
    format!(
        "2026-01-{:02}T{:02}:{:02}:00Z",
        day + 1,
        minute / 60,
        minute % 60
    )
}
