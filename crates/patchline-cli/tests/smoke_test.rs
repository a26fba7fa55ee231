//! The `smoke-test` command driven as a real process against a real HTTP
//! server, a closed TCP port and real commands on this machine.

use std::fs;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_patchline");

/// Variables the command reads; cleared so the caller's environment cannot
/// leak into a test.
const PARAMS: &[&str] = &[
    "CHECKS",
    "CHECKS_FILE",
    "REPORT_DIR",
    "ENVIRONMENT",
    "PATCH_DIR",
];

/// Start a loopback HTTP server and return its port. `/ok` answers with a
/// healthy page, `/down` with 503, `/maintenance` with the wrong body,
/// `/slow` after 300 ms, `/flaky` with 500 twice and then 200, and
/// `/echo/...` with its own path.
fn serve() -> u16 {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let port = server.server_addr().to_ip().unwrap().port();
    let flaky = Arc::new(AtomicUsize::new(0));
    thread::spawn(move || {
        for request in server.incoming_requests() {
            let flaky = Arc::clone(&flaky);
            thread::spawn(move || {
                let url = request.url().to_string();
                let (status, body) = match url.as_str() {
                    "/ok" => (200, "status: ok\nversion: 42\n".to_string()),
                    "/down" => (503, "down".to_string()),
                    "/maintenance" => (200, "under maintenance".to_string()),
                    "/slow" => {
                        thread::sleep(Duration::from_millis(300));
                        (200, "ok".to_string())
                    }
                    "/flaky" if flaky.fetch_add(1, Ordering::SeqCst) < 2 => {
                        (500, "warming up".to_string())
                    }
                    "/flaky" => (200, "ok".to_string()),
                    path if path.starts_with("/echo/") => (200, path.to_string()),
                    _ => (404, "not found".to_string()),
                };
                let response = tiny_http::Response::from_string(body).with_status_code(status);
                let _ = request.respond(response);
            });
        }
    });
    port
}

/// Return a loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn smoke(program: &Path, args: &[&str], env: &[(&str, &str)], cwd: &Path) -> Output {
    let mut command = Command::new(program);
    command.args(args).current_dir(cwd);
    for name in PARAMS {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    command.output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn results(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|line| line.starts_with("PASS ") || line.starts_with("FAIL "))
        .collect()
}

#[test]
fn every_kind_of_check_is_reported_in_config_order() {
    let port = serve();
    let closed = closed_port();
    let dir = tempfile::tempdir().unwrap();
    let patch = dir.path().join("patch-in");
    fs::create_dir(&patch).unwrap();
    fs::write(patch.join("version"), "621.125").unwrap();
    let checks = dir.path().join("checks.yml");
    fs::write(
        &checks,
        format!(
            r#"
deadline: 1s
checks:
  - name: homepage
    http: {{url: "http://127.0.0.1:{port}/ok", body_contains: ok, body_matches: 'version: \d+'}}
  - name: down
    http: {{url: "http://127.0.0.1:{port}/down"}}
  - name: maintenance
    http: {{url: "http://127.0.0.1:{port}/maintenance", body_contains: "status: ok"}}
  - name: slow
    http: {{url: "http://127.0.0.1:{port}/slow", max_latency: 100ms}}
  - name: flaky
    http: {{url: "http://127.0.0.1:{port}/flaky"}}
    deadline: 1500ms
  - name: database
    tcp: {{host: 127.0.0.1, port: {closed}}}
    deadline: 300ms
  - name: version
    command: {{run: [sh, -c, 'test "$WANT" = 621.125'], env: {{WANT: "${{PATCHLINE_VERSION}}"}}}}
  - name: migrations
    command: {{run: [sh, -c, "echo starting >&2; echo 'no such table: users' >&2; exit 4"]}}
    deadline: 200ms
"#
        ),
    )
    .unwrap();

    let output = smoke(
        Path::new(BIN),
        &[
            "smoke-test",
            "--checks-file",
            checks.to_str().unwrap(),
            "--environment",
            "sandbox",
            "--patch",
            patch.to_str().unwrap(),
            "--report",
            "out",
        ],
        &[],
        dir.path(),
    );
    let log = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{log}");
    assert!(output.stdout.is_empty());

    let lines = results(&log);
    let names: Vec<&str> = lines
        .iter()
        .map(|line| line[5..].split([' ', ':']).next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "homepage",
            "down",
            "maintenance",
            "slow",
            "flaky",
            "database",
            "version",
            "migrations"
        ]
    );
    assert!(
        lines[0].starts_with("PASS homepage (1 attempt, 0."),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("FAIL down: status 503, expected 200 after "),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("FAIL maintenance: body does not contain \"status: ok\" after "),
        "{}",
        lines[2]
    );
    assert!(
        lines[3].starts_with("FAIL slow: answered in 0."),
        "{}",
        lines[3]
    );
    assert!(
        lines[3].contains("s, over max_latency 100ms after "),
        "{}",
        lines[3]
    );
    assert!(
        lines[4].starts_with("PASS flaky (3 attempts, "),
        "{}",
        lines[4]
    );
    assert!(
        lines[5].starts_with(&format!(
            "FAIL database: connection refused (127.0.0.1:{closed}) after "
        )),
        "{}",
        lines[5]
    );
    assert!(
        lines[6].starts_with("PASS version (1 attempt, "),
        "{}",
        lines[6]
    );
    assert!(
        lines[7].starts_with("FAIL migrations: exit code 4: no such table: users after "),
        "{}",
        lines[7]
    );
    assert!(
        log.contains("\nsmoke-test: 5 of 8 checks failed: "),
        "{log}"
    );

    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("out/summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["environment"], "sandbox");
    assert_eq!(summary["passed"], false);
    let checks = summary["checks"].as_array().unwrap();
    let fields = |i: usize| {
        (
            checks[i]["name"].as_str().unwrap(),
            checks[i]["kind"].as_str().unwrap(),
            checks[i]["passed"].as_bool().unwrap(),
            checks[i]["reason"].as_str(),
        )
    };
    assert_eq!(fields(0), ("homepage", "http", true, None));
    assert_eq!(
        fields(1),
        ("down", "http", false, Some("status 503, expected 200"))
    );
    assert_eq!(
        fields(2),
        (
            "maintenance",
            "http",
            false,
            Some("body does not contain \"status: ok\"")
        )
    );
    assert_eq!(fields(4), ("flaky", "http", true, None));
    let refused = format!("connection refused (127.0.0.1:{closed})");
    assert_eq!(
        fields(5),
        ("database", "tcp", false, Some(refused.as_str()))
    );
    assert_eq!(fields(6), ("version", "command", true, None));
    assert_eq!(
        fields(7),
        (
            "migrations",
            "command",
            false,
            Some("exit code 4: no such table: users")
        )
    );
    assert_eq!(checks[0]["attempts"], 1);
    assert_eq!(checks[4]["attempts"], 3);
    // Two failures back off 250 ms and 500 ms before the third attempt.
    let flaky = checks[4]["duration_seconds"].as_f64().unwrap();
    assert!((0.75..1.5).contains(&flaky), "{flaky}");
    assert_eq!(checks[6]["attempts"], 1);
    // A check that keeps failing is retried, and gives up at its deadline.
    assert!(
        checks[1]["attempts"].as_u64().unwrap() >= 3,
        "{}",
        checks[1]
    );
    let down = checks[1]["duration_seconds"].as_f64().unwrap();
    assert!((1.0..2.0).contains(&down), "{down}");
    let database = checks[5]["duration_seconds"].as_f64().unwrap();
    assert!((0.3..1.0).contains(&database), "{database}");

    let junit = fs::read_to_string(dir.path().join("out/junit.xml")).unwrap();
    assert!(
        junit.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
        "{junit}"
    );
    assert!(
        junit.contains("<testsuite name=\"sandbox\" tests=\"8\" failures=\"5\" errors=\"0\" skipped=\"0\" time=\""),
        "{junit}"
    );
    assert!(
        junit.contains("<testcase name=\"homepage\" classname=\"sandbox.http\" time=\""),
        "{junit}"
    );
    assert!(
        junit.contains("<failure message=\"status 503, expected 200\" type=\"http\">"),
        "{junit}"
    );
    assert!(
        junit.contains(
            "<failure message=\"body does not contain &quot;status: ok&quot;\" type=\"http\">"
        ),
        "{junit}"
    );
    assert!(
        junit.contains(&format!("<failure message=\"{refused}\" type=\"tcp\">")),
        "{junit}"
    );
    assert_eq!(junit.matches("<testcase ").count(), 8);
    assert_eq!(junit.matches("<failure ").count(), 5);
}

#[test]
fn linked_as_smoke_test_it_reads_params_and_the_default_patch_folder() {
    let port = serve();
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("smoke-test");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    fs::create_dir(dir.path().join("patch")).unwrap();
    fs::write(dir.path().join("patch/version"), "2.4.7").unwrap();
    let checks = format!(
        "checks: [{{name: release page, http: {{url: 'http://127.0.0.1:{port}/echo/${{PATCHLINE_VERSION}}', \
         body_contains: '/echo/2.4.7'}}}}]"
    );

    // Params a task declares but does not set arrive as empty strings.
    let output = smoke(
        &link,
        &[],
        &[
            ("CHECKS", checks.as_str()),
            ("CHECKS_FILE", ""),
            ("ENVIRONMENT", ""),
            ("PATCH_DIR", ""),
        ],
        dir.path(),
    );
    let log = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{log}");
    assert!(
        log.starts_with("smoke-test: running 1 check against the environment\n"),
        "{log}"
    );
    assert!(
        results(&log)[0].starts_with("PASS release page (1 attempt, "),
        "{log}"
    );

    let summary: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(dir.path().join("smoke-report/summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["environment"], serde_json::Value::Null);
    assert_eq!(summary["passed"], true);
    assert_eq!(summary["checks"][0]["reason"], serde_json::Value::Null);
    let junit = fs::read_to_string(dir.path().join("smoke-report/junit.xml")).unwrap();
    assert!(
        junit.contains("<testsuite name=\"smoke-test\" tests=\"1\" failures=\"0\""),
        "{junit}"
    );
    assert!(
        junit.contains("<testcase name=\"release page\" classname=\"smoke-test.http\""),
        "{junit}"
    );
}

/// Arguments, environment and the expected error message of one bad call.
type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);

#[test]
fn config_errors_exit_2_with_one_line_and_no_report() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("checks.yml");
    fs::write(
        &file,
        "checks:\n- {name: web, http: {url: 'http://127.0.0.1:1/'}}\n- {name: database, tcp: {host: 127.0.0.1, port: high}}\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let cases: &[Case] = &[
        (
            &["smoke-test", "--checks-file", file],
            &[],
            "--checks-file: checks[1] (database).tcp.port: invalid type: string \"high\", expected u16",
        ),
        (
            &["smoke-test", "--checks", "checks: [{name: api, tcp: {host: '${SMOKE_TEST_UNSET_HOST}', port: 1}}]"],
            &[],
            "--checks: checks[0] (api).tcp.host: ${SMOKE_TEST_UNSET_HOST} is not set",
        ),
        (
            &["smoke-test", "--checks", "checks: []"],
            &[("CHECKS_FILE", file)],
            "--checks and --checks-file (CHECKS, CHECKS_FILE): give only one",
        ),
        (
            &["smoke-test"],
            &[],
            "--checks or --checks-file (CHECKS, CHECKS_FILE) is required",
        ),
        (
            &["smoke-test", "--checks-file", file, "--patch", "no-such-patch"],
            &[],
            "--patch: cannot read no-such-patch/version: No such file or directory (os error 2)",
        ),
        (
            &["smoke-test", "--checks-file", "missing.yml"],
            &[],
            "--checks-file: cannot read missing.yml: No such file or directory (os error 2)",
        ),
        (
            &["smoke-test", "--retries", "3"],
            &[],
            "unexpected argument '--retries' found",
        ),
    ];

    for (args, env, message) in cases {
        let output = smoke(Path::new(BIN), args, env, dir.path());
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert_eq!(
            stderr(&output),
            format!("smoke-test: error: {message}\n"),
            "{args:?}"
        );
    }
    assert!(!dir.path().join("smoke-report").exists());
}
