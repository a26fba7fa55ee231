//! The shared transport against a server that misbehaves on purpose,
//! through the real `in` binary: connections that break, bodies that
//! stall, `503` and `429`, HTML pages served as `200`, ranges answered
//! wrongly, redirects to another host and expired signed URLs.
//!
//! Every run either ends with the exact bytes published, verified, or
//! fails with one `in: error:` line naming the reason and leaves nothing
//! behind in the destination. Failing runs are searched for credentials
//! planted where users put them.

mod support;

use std::fs;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use patchline_core::secret::Secret;
use patchline_core::HashAlgorithm;
use patchline_standins::faults::{Fault, FaultServer};
use patchline_transport::{Request, Transport, TransportConfig};
use serde_json::{json, Value};
use support::{hex, run_as, Run};

const VERSION: &str = "2.4.7";
const NAME: &str = "product-2.4.7.tgz";
const FILE_PATH: &str = "/files/product-2.4.7.tgz";
/// Bytes sent before a connection breaks or stalls.
const CUT: usize = 100_000;

/// The file every test downloads: 300 KiB, not a repeating pattern a
/// misplaced range could reproduce.
fn file_bytes() -> Vec<u8> {
    let mut state: u32 = 0x9e37_79b9;
    (0..300 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 24) as u8
        })
        .collect()
}

/// Serve an index at `/index.json` on `server` publishing the file as
/// `NAME` at `file_url`; return the index's URL.
fn publish_index(server: &FaultServer, file_url: &str) -> String {
    let bytes = &file_bytes();
    let index = json!({"releases": [{
        "version": VERSION,
        "files": [{
            "name": NAME,
            "size": bytes.len(),
            "hashes": {"sha256": hex(HashAlgorithm::Sha256, bytes)},
            "urls": [file_url],
        }],
    }]});
    server.serve("/index.json", index.to_string())
}

/// A server publishing the file at `FILE_PATH`, with `faults` queued for
/// it; returns the server and the `source` of an index feed reading it.
fn serve_with(faults: Vec<Fault>, attempts: u32) -> (FaultServer, Value) {
    let server = FaultServer::start();
    let file_url = server.serve(FILE_PATH, file_bytes());
    server.inject(FILE_PATH, faults);
    let uri = publish_index(&server, &file_url);
    let source = json!({"feed": "index", "uri": uri, "attempts": attempts, "read_timeout": 1});
    (server, source)
}

/// Run `in` with `source` into `dest`.
fn fetch(source: &Value, dest: &Path) -> Run {
    let request = json!({"source": source, "version": {"version": VERSION}});
    let run = run_as("in", &[dest.to_str().unwrap()], &request.to_string(), &[]);
    eprintln!("=====\n{}", run.stderr);
    run
}

/// Assert that `run` wrote the exact bytes under `NAME`, verified, and
/// left no partial file.
fn assert_verified(run: &Run, dest: &Path) {
    assert!(run.ok, "in failed: {}", run.stderr);
    assert_eq!(run.json()["version"]["version"], VERSION);
    assert!(
        fs::read(dest.join(NAME)).unwrap() == file_bytes(),
        "the bytes differ from the published ones"
    );
    let metadata: Value =
        serde_json::from_slice(&fs::read(dest.join("metadata.json")).unwrap()).unwrap();
    let file = &metadata["files"][0];
    assert_eq!(file["verified"], true);
    assert_eq!(
        file["computed"],
        json!({"algorithm": "sha256", "digest": hex(HashAlgorithm::Sha256, &file_bytes())})
    );
    assert!(!dest.join(format!(".{NAME}.partial")).exists());
}

/// Assert that `run` failed with one error line containing every one of
/// `reasons`, and left the destination empty; return the error line.
fn assert_failed(run: &Run, dest: &Path, reasons: &[&str]) -> String {
    assert!(!run.ok, "in succeeded: {}", run.stderr);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(run.stdout, "", "stdout carries only the protocol answer");
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|line| line.starts_with("in: error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{}", run.stderr);
    for reason in reasons {
        assert!(
            errors[0].contains(reason),
            "{:?} lacks {reason:?}",
            errors[0]
        );
    }
    let left: Vec<String> = fs::read_dir(dest)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, Vec::<String>::new(), "a failed in leaves nothing");
    errors[0].to_string()
}

/// Return the `Range` header of every request `server` had for the file.
fn ranges(server: &FaultServer) -> Vec<Option<String>> {
    server
        .requests_for(FILE_PATH)
        .iter()
        .map(|r| r.header("range").map(str::to_string))
        .collect()
}

/// Return the wait, in seconds, of the retry line that contains `reason`.
fn logged_wait(stderr: &str, reason: &str) -> f64 {
    let line = stderr
        .lines()
        .find(|line| line.contains(reason) && line.contains("; retrying in "))
        .unwrap_or_else(|| panic!("no retry line with {reason:?}: {stderr}"));
    let wait = line.split("; retrying in ").nth(1).unwrap();
    wait.split('s').next().unwrap().parse().unwrap()
}

#[test]
fn a_reset_mid_body_resumes_where_it_broke() {
    let (server, source) = serve_with(vec![Fault::Reset { after_bytes: CUT }], 3);
    let dest = tempfile::tempdir().unwrap();

    let run = fetch(&source, dest.path());

    assert_verified(&run, dest.path());
    assert_eq!(ranges(&server), [None, Some(format!("bytes={CUT}-"))]);
    assert!(
        run.stderr.contains(&format!("resuming at byte {CUT}")),
        "{}",
        run.stderr
    );
}

#[test]
fn a_503_is_retried_after_a_logged_backoff() {
    let busy = Fault::Status {
        code: 503,
        retry_after: None,
        body: "busy".into(),
    };
    let (server, source) = serve_with(vec![busy], 3);
    let dest = tempfile::tempdir().unwrap();

    let run = fetch(&source, dest.path());

    assert_verified(&run, dest.path());
    assert_eq!(server.requests_for(FILE_PATH).len(), 2);
    let wait = logged_wait(&run.stderr, "answered HTTP 503");
    assert!((0.5..=1.0).contains(&wait), "{wait}");
    assert!(run.stderr.contains("(attempt 2 of 3)"), "{}", run.stderr);
}

#[test]
fn a_429_waits_as_long_as_retry_after_says() {
    let limited = Fault::Status {
        code: 429,
        retry_after: Some("1".into()),
        body: "slow down".into(),
    };
    let (server, source) = serve_with(vec![limited], 3);
    let dest = tempfile::tempdir().unwrap();

    let run = fetch(&source, dest.path());

    assert_verified(&run, dest.path());
    assert_eq!(logged_wait(&run.stderr, "answered HTTP 429"), 1.0);
    let requests = server.requests_for(FILE_PATH);
    assert_eq!(requests.len(), 2);
    let waited = requests[1].received - requests[0].received;
    assert!(waited >= Duration::from_secs(1), "{waited:?}");
}

#[test]
fn a_stalled_body_resumes_after_the_read_timeout() {
    let stall = Fault::Stall {
        after_bytes: CUT,
        for_secs: 30,
    };
    let (server, source) = serve_with(vec![stall], 3);
    let dest = tempfile::tempdir().unwrap();

    let run = fetch(&source, dest.path());

    assert_verified(&run, dest.path());
    assert_eq!(ranges(&server), [None, Some(format!("bytes={CUT}-"))]);
    logged_wait(&run.stderr, "stalled");
}

#[test]
fn a_body_that_always_stalls_gives_up_after_the_attempts() {
    let stall = Fault::Stall {
        after_bytes: CUT,
        for_secs: 30,
    };
    let (server, source) = serve_with(vec![stall.clone(), stall], 2);
    let dest = tempfile::tempdir().unwrap();

    let run = fetch(&source, dest.path());

    assert_failed(
        &run,
        dest.path(),
        &[
            "stalled",
            "gave up after 2 attempts",
            "/files/product-2.4.7.tgz",
        ],
    );
    assert_eq!(ranges(&server), [None, Some(format!("bytes={CUT}-"))]);
}

#[test]
fn an_html_page_served_as_200_fails_at_once() {
    let (server, source) = serve_with(vec![Fault::HtmlInsteadOf200], 3);
    let dest = tempfile::tempdir().unwrap();

    let run = fetch(&source, dest.path());

    let line = assert_failed(
        &run,
        dest.path(),
        &["text/html", "the feed publishes 307200"],
    );
    assert!(!line.contains("gave up"), "{line}");
    assert_eq!(server.requests_for(FILE_PATH).len(), 1, "no retry loop");
}

/// A page whose length is not declared ends "short" like a broken
/// transfer; resuming after it splices the page onto the file's tail.
#[test]
fn an_html_page_without_a_length_is_not_resumed() {
    let (server, source) = serve_with(vec![Fault::HtmlUntilClose], 3);
    let dest = tempfile::tempdir().unwrap();

    let run = fetch(&source, dest.path());

    assert_verified(&run, dest.path());
    assert_eq!(
        ranges(&server),
        [None, None],
        "the whole file is asked for again"
    );
}

#[test]
fn a_resume_answered_with_the_wrong_range_starts_over() {
    let faults = vec![Fault::Reset { after_bytes: CUT }, Fault::WrongRange];
    let (server, source) = serve_with(faults, 4);
    let dest = tempfile::tempdir().unwrap();

    let run = fetch(&source, dest.path());

    assert_verified(&run, dest.path());
    assert_eq!(
        ranges(&server),
        [None, Some(format!("bytes={CUT}-")), None],
        "after a wrong range the whole file is asked for"
    );
    assert!(
        run.stderr.contains(&format!(
            "asked for bytes from {CUT}, got \"bytes {}-307199/307200\"; starting over from zero",
            CUT / 2
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn a_resume_answered_with_the_whole_file_starts_over() {
    let faults = vec![Fault::Reset { after_bytes: CUT }, Fault::IgnoreRange];
    let (server, source) = serve_with(faults, 3);
    let dest = tempfile::tempdir().unwrap();

    let run = fetch(&source, dest.path());

    assert_verified(&run, dest.path());
    assert_eq!(ranges(&server), [None, Some(format!("bytes={CUT}-"))]);
    assert!(
        run.stderr
            .contains("the server ignored the range request; starting over from zero"),
        "{}",
        run.stderr
    );
}

#[test]
fn authorization_stays_with_its_own_host_across_a_redirect() {
    let api = FaultServer::start();
    let files = FaultServer::start();
    let target = files.serve("/f", b"file bytes".to_vec());
    api.inject("/f", [Fault::RedirectTo { url: target }]);
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let logged = lines.clone();
    let transport = Transport::new(TransportConfig {
        attempts: 1,
        log: Arc::new(move |line| logged.lock().unwrap().push(line.to_string())),
        ..TransportConfig::default()
    })
    .unwrap();

    let request =
        Request::get(api.url("/f")).authorization(Secret::new("Bearer planted-secret-123"));
    let response = transport.send(&request, 1024).unwrap();

    assert_eq!(response.body, b"file bytes");
    assert_eq!(response.url, files.url("/f"));
    let asked = api.requests_for("/f");
    assert_eq!(asked.len(), 1);
    assert_eq!(
        asked[0].header("authorization"),
        Some("Bearer planted-secret-123")
    );
    let redirected = files.requests_for("/f");
    assert_eq!(redirected.len(), 1);
    assert_eq!(redirected[0].header("authorization"), None);

    // Credentials in the URL's user information stay with their host too.
    api.inject(
        "/g",
        [Fault::RedirectTo {
            url: files.url("/f"),
        }],
    );
    let with_userinfo = api.url("/g").replace("://", "://user:planted-pass@");
    transport.send(&Request::get(with_userinfo), 1024).unwrap();
    assert_eq!(
        api.requests_for("/g")[0].header("authorization"),
        Some(PLANTED_BASIC)
    );
    assert_eq!(files.requests_for("/f")[1].header("authorization"), None);

    let lines = lines.lock().unwrap();
    assert!(lines
        .iter()
        .all(|line| !line.contains("planted-secret-123") && !line.contains("planted-pass")));
}

#[test]
fn an_expired_signed_url_is_asked_for_again_from_the_feed() {
    let feed = FaultServer::start();
    let files = FaultServer::start();
    let signed = |n: u32| files.url(&format!("{FILE_PATH}?X-Amz-Signature=sig{n}"));
    files.serve(FILE_PATH, file_bytes());
    files.inject(FILE_PATH, [Fault::Forbidden403]);
    feed.inject(
        FILE_PATH,
        [
            Fault::RedirectTo { url: signed(1) },
            Fault::RedirectTo { url: signed(2) },
        ],
    );
    let uri = publish_index(&feed, &feed.url(FILE_PATH));
    let source = json!({"feed": "index", "uri": uri, "attempts": 2, "read_timeout": 1});
    let dest = tempfile::tempdir().unwrap();

    let run = fetch(&source, dest.path());

    assert_verified(&run, dest.path());
    assert_eq!(
        feed.requests_for(FILE_PATH).len(),
        2,
        "the feed's URL is asked again"
    );
    let targets: Vec<String> = files
        .requests_for(FILE_PATH)
        .into_iter()
        .map(|r| r.target)
        .collect();
    assert_eq!(
        targets,
        [
            format!("{FILE_PATH}?X-Amz-Signature=sig1"),
            format!("{FILE_PATH}?X-Amz-Signature=sig2"),
        ]
    );
    assert_eq!(logged_wait(&run.stderr, "answered HTTP 403"), 0.0);
}

#[test]
fn a_404_fails_at_once() {
    let server = FaultServer::start();
    let uri = publish_index(&server, &server.url(FILE_PATH));
    let source = json!({"feed": "index", "uri": uri, "attempts": 3, "read_timeout": 1});
    let dest = tempfile::tempdir().unwrap();

    let run = fetch(&source, dest.path());

    let line = assert_failed(&run, dest.path(), &["server answered HTTP 404"]);
    assert!(!line.contains("gave up"), "{line}");
    assert_eq!(server.requests_for(FILE_PATH).len(), 1);
}

/// Credentials a user might put in a feed's or a file's URL, and the
/// base64 of `user:planted-pass` as a `Basic` header carries it.
const PLANTED: [&str; 4] = [
    "planted-pass",
    "planted-token",
    "planted-sig",
    "dXNlcjpwbGFudGVkLXBhc3M",
];

/// The `Authorization` header `user:planted-pass@` becomes (base64).
const PLANTED_BASIC: &str = "Basic dXNlcjpwbGFudGVkLXBhc3M=";

/// Fail an `in` whose index URL carries a password and a token and whose
/// file URL carries a signature, the index or the file answering with
/// faults; assert the failure names `reasons` and no credential shows.
fn fails_without_secrets(index_faults: Vec<Fault>, file_faults: Vec<Fault>, reasons: &[&str]) {
    let server = FaultServer::start();
    let with_password = server.base().replace("://", "://user:planted-pass@");
    server.serve(FILE_PATH, file_bytes());
    publish_index(
        &server,
        &format!("{with_password}{FILE_PATH}?X-Amz-Signature=planted-sig"),
    );
    server.inject("/index.json", index_faults);
    server.inject(FILE_PATH, file_faults);
    let uri = format!("{with_password}/index.json?token=planted-token");
    let source = json!({
        "feed": "index", "uri": uri, "attempts": 2, "read_timeout": 1, "debug": true,
    });
    let dest = tempfile::tempdir().unwrap();

    let run = fetch(&source, dest.path());

    let line = assert_failed(&run, dest.path(), reasons);
    assert!(line.contains("***"), "the URL is shown redacted: {line}");
    let index = &server.requests_for("/index.json")[0];
    assert_eq!(index.target, "/index.json?token=planted-token");
    assert_eq!(index.header("authorization"), Some(PLANTED_BASIC));
    for planted in PLANTED {
        assert!(
            !run.stdout.contains(planted) && !run.stderr.contains(planted),
            "{planted} shown: {}",
            run.stderr
        );
    }
}

#[test]
fn failures_never_show_planted_credentials() {
    let unavailable = || Fault::Status {
        code: 503,
        retry_after: None,
        body: "busy".into(),
    };
    let stall = || Fault::Stall {
        after_bytes: CUT,
        for_secs: 30,
    };
    fails_without_secrets(
        vec![Fault::Status {
            code: 404,
            retry_after: None,
            body: "no index".into(),
        }],
        vec![],
        &["source.uri: ", "server answered HTTP 404"],
    );
    fails_without_secrets(
        vec![unavailable(), unavailable()],
        vec![],
        &["source.uri: ", "HTTP 503", "gave up after 2 attempts"],
    );
    fails_without_secrets(
        vec![],
        vec![Fault::Status {
            code: 404,
            retry_after: None,
            body: "gone".into(),
        }],
        &["server answered HTTP 404"],
    );
    fails_without_secrets(
        vec![],
        vec![unavailable(), unavailable()],
        &["HTTP 503", "gave up after 2 attempts"],
    );
    fails_without_secrets(vec![], vec![Fault::HtmlInsteadOf200], &["text/html"]);
    fails_without_secrets(
        vec![],
        vec![stall(), stall()],
        &["stalled", "gave up after 2 attempts"],
    );
}

#[test]
fn a_feed_from_the_network_cannot_name_files_of_this_machine() {
    // A local file with the published digest: only the rule stops it.
    let local = tempfile::tempdir().unwrap();
    let secret_file = local.path().join("secret.tgz");
    fs::write(&secret_file, file_bytes()).unwrap();
    let server = FaultServer::start();
    let file_url = format!("file://{}", secret_file.display());
    let uri = publish_index(&server, &file_url);
    let source = json!({"feed": "index", "uri": uri});
    let dest = tempfile::tempdir().unwrap();

    let run = fetch(&source, dest.path());
    assert_failed(
        &run,
        dest.path(),
        &[&format!(
            "in: error: {NAME}: the feed names a file of this machine ({file_url}); only a local feed may"
        )],
    );

    // The same index read from a folder of this machine may.
    let index = local.path().join("index.json");
    let document = server_body(&uri);
    fs::write(&index, document).unwrap();
    let local_source = json!({"feed": "index", "uri": index.to_str().unwrap()});
    let dest = tempfile::tempdir().unwrap();
    assert_verified(&fetch(&local_source, dest.path()), dest.path());
}

/// Read what `url` serves, with the transport itself.
fn server_body(url: &str) -> Vec<u8> {
    let transport = Transport::new(TransportConfig::default()).unwrap();
    transport.send(&Request::get(url), 1 << 20).unwrap().body
}

#[test]
fn a_bad_proxy_variable_is_named_and_spares_local_feeds() {
    let server = FaultServer::start();
    let uri = publish_index(&server, "http://127.0.0.1:1/never.tgz");
    let check = |source: &Value| {
        let request = json!({"source": source}).to_string();
        run_as(
            "check",
            &[],
            &request,
            &[(
                "HTTP_PROXY",
                "socks5://user:planted-proxy-pass@proxy.example:1080",
            )],
        )
    };

    let run = check(&json!({"feed": "index", "uri": uri}));
    assert_eq!(run.code, Some(1));
    assert_eq!(
        run.stderr,
        "check: error: HTTP_PROXY: socks5://***@proxy.example:1080 is not an http:// proxy URL\n"
    );
    assert!(server.requests().is_empty(), "nothing was asked");

    // A feed on this machine makes no request, so the variable is no
    // concern of its.
    let local = tempfile::tempdir().unwrap();
    let index = local.path().join("index.json");
    fs::write(&index, server_body(&uri)).unwrap();
    let run = check(&json!({"feed": "index", "uri": index.to_str().unwrap()}));
    assert!(run.ok, "{}", run.stderr);
    assert_eq!(run.json()[0]["version"], VERSION);
}
