//! `apply` end to end: the real binary against real folders, real `sh`
//! commands and real lock contention between processes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const NOW: &str = "2025-01-10T09:00:00Z";

/// The params `apply` reads from its environment, cleared so the test
/// runner's own environment cannot leak in.
const PARAMS: &[&str] = &[
    "ENVIRONMENT",
    "PATCH_DIR",
    "TARGET",
    "TARGET_FILE",
    "OUTPUT_DIR",
    "REPAVE",
    "ROLLBACK",
    "LOCK_TIMEOUT",
    "PATCHLINE_NOW",
];

fn fingerprint(digit: char) -> String {
    format!("sha256:{}", digit.to_string().repeat(64))
}

/// Write a patch folder of `version` into `dir/name` and return its path.
fn patch(dir: &Path, name: &str, version: &str, digit: char, files: &[(&str, &str)]) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(path.join("version"), version).unwrap();
    std::fs::write(
        path.join("version.json"),
        json!({"version": version, "fingerprint": fingerprint(digit)}).to_string(),
    )
    .unwrap();
    std::fs::write(path.join("metadata.json"), "{}").unwrap();
    for (file, content) in files {
        std::fs::write(path.join(file), content).unwrap();
    }
    path
}

/// A command running `apply` in `dir` with a clean set of params.
fn apply_command(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_patchline"));
    command.arg("apply").current_dir(dir).env("TMPDIR", dir);
    for param in PARAMS {
        command.env_remove(param);
    }
    command
}

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = apply_command(dir);
    command.args(args).envs(env.iter().copied());
    command.output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn local(root: &Path, extra: &str) -> String {
    format!("{{kind: local, root: {}{extra}}}", root.display())
}

/// Apply `patch_dir` to a local root at a fixed time and return the record.
fn apply_local(dir: &Path, patch_dir: &Path, root: &Path, extra: &[&str]) -> Value {
    let target = local(root, ", keep: 2");
    let mut args = vec![
        "--environment",
        "sandbox",
        "--patch",
        patch_dir.to_str().unwrap(),
        "--target",
        &target,
    ];
    args.extend_from_slice(extra);
    let output = run(dir, &args, &[("PATCHLINE_NOW", NOW)]);
    assert!(output.status.success(), "{}", stderr(&output));
    read_json(&dir.join("applied/apply.json"))
}

fn record(
    version: &str,
    digit: char,
    status: &str,
    changed: bool,
    previous: Option<&str>,
    detail: &str,
) -> Value {
    json!({
        "environment": "sandbox",
        "version": version,
        "fingerprint": fingerprint(digit),
        "status": status,
        "changed": changed,
        "previous_version": previous,
        "target": "local",
        "started_at": NOW,
        "finished_at": NOW,
        "detail": detail,
    })
}

#[test]
fn local_apply_through_an_apply_link_records_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let root = dir.join("env");
    let link = dir.join("apply");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_patchline"), &link).unwrap();
    patch(dir, "patch", "621.125", 'a', &[("stemcell.tgz", "one")]);

    // Started as `apply` with params only, the way a Concourse task runs it.
    let mut command = Command::new(&link);
    for param in PARAMS {
        command.env_remove(param);
    }
    let output = command
        .current_dir(dir)
        .env("ENVIRONMENT", "sandbox")
        .env("TARGET", local(&root, ""))
        .env("TARGET_FILE", "")
        .env("REPAVE", "false")
        .env("PATCHLINE_NOW", NOW)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(output.stdout.is_empty());

    let second = patch(dir, "patch2", "621.126", 'b', &[("stemcell.tgz", "two")]);
    let applied = apply_local(dir, &second, &root, &[]);

    let root_text = root.display().to_string();
    assert_eq!(
        applied,
        record(
            "621.126",
            'b',
            "applied",
            true,
            Some("621.125"),
            &format!("applied 621.126 to {root_text} (was 621.125)")
        )
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("applied/version")).unwrap(),
        "621.126"
    );
    assert_eq!(
        read_json(&dir.join("applied/version.json")),
        json!({"version": "621.126", "fingerprint": fingerprint('b')})
    );
    assert_eq!(
        std::fs::read_link(root.join("current")).unwrap(),
        PathBuf::from("versions/621.126")
    );
    assert_eq!(
        std::fs::read_to_string(root.join("current/stemcell.tgz")).unwrap(),
        "two"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("versions/621.125/stemcell.tgz")).unwrap(),
        "one"
    );
    assert!(!root.join("versions/621.126/version.json").exists());
    let entry = |version: &str, digit: char| json!({"version": version, "fingerprint": fingerprint(digit), "action": "apply", "at": NOW});
    assert_eq!(
        read_json(&root.join("state.json")),
        json!({"current": entry("621.126", 'b'), "history": [entry("621.125", 'a'), entry("621.126", 'b')]})
    );
}

#[test]
fn reapply_is_a_no_op_and_repave_recreates() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let root = dir.join("env");
    let patch_dir = patch(dir, "patch", "2.4.1", 'a', &[("tile.pivotal", "original")]);
    apply_local(dir, &patch_dir, &root, &[]);
    std::fs::write(root.join("current/tile.pivotal"), "tampered").unwrap();

    let again = apply_local(dir, &patch_dir, &root, &[]);
    assert_eq!(
        again,
        record(
            "2.4.1",
            'a',
            "applied",
            false,
            Some("2.4.1"),
            &format!(
                "2.4.1 is already deployed with fingerprint {}; nothing changed",
                fingerprint('a')
            )
        )
    );
    assert_eq!(
        std::fs::read_to_string(root.join("current/tile.pivotal")).unwrap(),
        "tampered"
    );

    let repaved = apply_local(dir, &patch_dir, &root, &["--repave"]);
    assert_eq!(repaved["status"], "repaved");
    assert_eq!(repaved["changed"], true);
    assert_eq!(
        std::fs::read_to_string(root.join("current/tile.pivotal")).unwrap(),
        "original"
    );
    assert_eq!(
        read_json(&root.join("state.json"))["history"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn republished_bytes_are_applied_again() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let root = dir.join("env");
    apply_local(
        dir,
        &patch(dir, "first", "1.0", 'a', &[("f.tgz", "old bytes")]),
        &root,
        &[],
    );

    let republished = apply_local(
        dir,
        &patch(dir, "second", "1.0", 'b', &[("f.tgz", "new bytes")]),
        &root,
        &[],
    );

    assert_eq!(republished["changed"], true);
    assert_eq!(republished["fingerprint"], fingerprint('b'));
    assert_eq!(
        std::fs::read_to_string(root.join("current/f.tgz")).unwrap(),
        "new bytes"
    );
    assert_eq!(
        read_json(&root.join("state.json"))["current"]["fingerprint"],
        fingerprint('b')
    );
    let leftovers: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| {
            name.starts_with(".staging")
                || name.starts_with(".retired")
                || name.starts_with(".current")
        })
        .collect();
    assert_eq!(leftovers, Vec::<String>::new());
}

#[test]
fn rollback_returns_to_the_previous_version_and_keep_prunes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let root = dir.join("env");
    for (index, version) in ["1.1", "1.2", "1.3"].iter().enumerate() {
        let digit = char::from(b'a' + index as u8);
        apply_local(
            dir,
            &patch(dir, version, version, digit, &[("v", version)]),
            &root,
            &[],
        );
    }
    let mut kept: Vec<_> = std::fs::read_dir(root.join("versions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    kept.sort();
    assert_eq!(kept, vec!["1.2", "1.3"]);

    let rolled = apply_local(dir, &dir.join("1.3"), &root, &["--rollback"]);

    assert_eq!(
        rolled,
        record(
            "1.2",
            'b',
            "rolled-back",
            true,
            Some("1.3"),
            &format!("rolled back {} from 1.3 to 1.2", root.display())
        )
    );
    assert_eq!(
        std::fs::read_link(root.join("current")).unwrap(),
        PathBuf::from("versions/1.2")
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("applied/version")).unwrap(),
        "1.2"
    );
    let state = read_json(&root.join("state.json"));
    assert_eq!(
        state["current"],
        json!({"version": "1.2", "fingerprint": fingerprint('b'), "action": "rollback", "at": NOW})
    );
}

#[test]
fn command_target_gets_the_patchline_variables() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let patch_dir = patch(
        dir,
        "patch",
        "3.0.7",
        'c',
        &[("a.tgz", "1"), ("b.tgz", "2")],
    )
    .canonicalize()
    .unwrap();
    let seen = dir.join("seen.txt");
    let script = format!(
        "for v in PATCHLINE_VERSION PATCHLINE_FINGERPRINT PATCHLINE_PATCH_DIR PATCHLINE_ENVIRONMENT PATCHLINE_ACTION REGION; \
         do eval \"echo $v=\\$$v\"; done > {seen}; printf '%s\\n' \"$PATCHLINE_FILES\" >> {seen}; pwd >> {seen}; echo deploying",
        seen = seen.display()
    );
    let target =
        json!({"kind": "command", "command": ["sh", "-c", script], "env": {"REGION": "eu-west"}})
            .to_string();

    std::fs::write(dir.join("target.yml"), &target).unwrap();

    // Every input as a task param, the way ci/tasks/apply.yml passes them.
    let output = run(
        dir,
        &[],
        &[
            ("ENVIRONMENT", "dev"),
            ("TARGET", ""),
            ("TARGET_FILE", "target.yml"),
            ("PATCH_DIR", "patch"),
            ("OUTPUT_DIR", "out"),
            ("LOCK_TIMEOUT", "5s"),
            ("PATCHLINE_NOW", NOW),
        ],
    );

    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        output.stdout.is_empty(),
        "the command's stdout must go to stderr"
    );
    assert!(
        stderr(&output).contains("deploying\n"),
        "{}",
        stderr(&output)
    );
    let p = patch_dir.display();
    assert_eq!(
        std::fs::read_to_string(&seen).unwrap(),
        format!(
            "PATCHLINE_VERSION=3.0.7\nPATCHLINE_FINGERPRINT={}\nPATCHLINE_PATCH_DIR={p}\nPATCHLINE_ENVIRONMENT=dev\n\
             PATCHLINE_ACTION=apply\nREGION=eu-west\n{p}/a.tgz\n{p}/b.tgz\n{p}\n",
            fingerprint('c')
        )
    );
    assert!(!dir.join("applied").exists());
    let applied = read_json(&dir.join("out/apply.json"));
    assert_eq!(applied["target"], "command");
    assert_eq!(applied["status"], "applied");
    assert_eq!(applied["previous_version"], Value::Null);
}

#[test]
fn command_timeout_kills_its_process_group() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    patch(dir, "patch", "1.0", 'a', &[]);
    let pid_file = dir.join("sleeper.pid");
    let target = json!({
        "kind": "command",
        "command": ["sh", "-c", format!("sleep 30 & echo $! > {}; wait", pid_file.display())],
        "timeout": "1s",
    })
    .to_string();

    let started = Instant::now();
    let output = run(dir, &["--environment", "dev", "--target", &target], &[]);

    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(output.status.code(), Some(1));
    let last = stderr(&output).lines().last().unwrap().to_string();
    assert_eq!(last, "apply: error: command sh: timed out after 1s and was killed with its process group (timeout)");
    let sleeper = std::fs::read_to_string(&pid_file).unwrap();
    let stat =
        std::fs::read_to_string(format!("/proc/{}/stat", sleeper.trim())).unwrap_or_default();
    assert!(
        stat.is_empty() || stat.contains(") Z "),
        "sleep still runs: {stat}"
    );
    let applied = read_json(&dir.join("applied/apply.json"));
    assert_eq!(applied["status"], "failed");
    assert_eq!(
        applied["detail"],
        "command sh: timed out after 1s and was killed with its process group (timeout)"
    );
}

#[test]
fn second_apply_waits_for_the_lock_or_gives_up() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    patch(dir, "patch", "5.1", 'a', &[]);
    let lock = dir.join("sandbox.lock");
    let started_file = dir.join("started");
    let slow = json!({
        "kind": "command",
        "command": ["sh", "-c", format!("touch {}; sleep 1.5", started_file.display())],
        "lock_file": lock,
    })
    .to_string();
    let quick = json!({"kind": "command", "command": ["true"], "lock_file": lock}).to_string();

    let mut holder = apply_command(dir)
        .args([
            "--environment",
            "sandbox",
            "--target",
            &slow,
            "--output",
            "held",
        ])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !started_file.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let holder_pid = holder.id();

    let gave_up = run(
        dir,
        &[
            "--environment",
            "sandbox",
            "--target",
            &quick,
            "--lock-timeout",
            "200ms",
        ],
        &[],
    );
    let waited = run(
        dir,
        &[
            "--environment",
            "sandbox",
            "--target",
            &quick,
            "--lock-timeout",
            "20s",
        ],
        &[],
    );

    assert!(holder.wait().unwrap().success());
    assert_eq!(gave_up.status.code(), Some(1));
    let last = stderr(&gave_up).lines().last().unwrap().to_string();
    let expected_start = format!(
        "apply: error: environment sandbox is still locked by pid {holder_pid} (apply 5.1 since "
    );
    assert!(last.starts_with(&expected_start), "{last}");
    assert!(
        last.ends_with(&format!(
            "after 200ms (lock file {}; raise --lock-timeout to wait longer)",
            lock.display()
        )),
        "{last}"
    );
    assert!(waited.status.success(), "{}", stderr(&waited));
    assert!(
        stderr(&waited).contains(&format!(
            "environment sandbox is locked by pid {holder_pid} (apply 5.1 since "
        )),
        "{}",
        stderr(&waited)
    );
    assert!(
        stderr(&waited).contains("; waiting up to 20s (--lock-timeout)"),
        "{}",
        stderr(&waited)
    );
}

#[test]
fn change_window_is_checked_against_patchline_now() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let root = dir.join("env");
    patch(dir, "patch", "621.125", 'a', &[("f", "x")]);
    let target = local(
        &root,
        ", change_window: {days: [Friday], start: '09:30', stop: '11:30', location: Europe/Amsterdam}",
    );
    let args = ["--environment", "production", "--target", target.as_str()];

    // Thursday 2025-01-09 14:02 in Amsterdam.
    let closed = run(
        dir,
        &args,
        &[("PATCHLINE_NOW", "2025-01-09T14:02:00+01:00")],
    );

    assert_eq!(closed.status.code(), Some(1));
    let reason = "change window Friday 09:30-11:30 Europe/Amsterdam is closed (now Thursday 14:02 Europe/Amsterdam)";
    assert_eq!(
        stderr(&closed).lines().last().unwrap(),
        format!("apply: error: {reason}")
    );
    assert!(!root.exists());
    assert_eq!(
        read_json(&dir.join("applied/apply.json")),
        json!({
            "environment": "production", "version": "621.125", "fingerprint": fingerprint('a'),
            "status": "failed", "changed": false, "previous_version": null, "target": "local",
            "started_at": "2025-01-09T13:02:00Z", "finished_at": "2025-01-09T13:02:00Z", "detail": reason,
        })
    );

    // Friday 2025-01-10 10:00 in Amsterdam.
    let open = run(
        dir,
        &args,
        &[("PATCHLINE_NOW", "2025-01-10T10:00:00+01:00")],
    );

    assert!(open.status.success(), "{}", stderr(&open));
    assert_eq!(
        read_json(&dir.join("applied/apply.json"))["status"],
        "applied"
    );
}

#[test]
fn bad_input_fails_in_one_line_and_touches_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let root = dir.join("env");
    patch(dir, "patch", "1.0", 'a', &[]);
    std::fs::create_dir(dir.join("empty")).unwrap();
    let good = local(&root, "");
    let target_file = dir.join("target.yml");
    std::fs::write(&target_file, "kind: local\nroot: /x\n").unwrap();
    let target_file = target_file.to_str().unwrap();

    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["--target", &good], "--environment (ENVIRONMENT) is missing: name the environment to apply to".into()),
        (
            vec!["--environment", "dev", "--target", &good, "--target-file", target_file],
            "--target (TARGET) and --target-file (TARGET_FILE) exclude each other; give one".into(),
        ),
        (
            vec!["--environment", "dev"],
            "--target (TARGET) or --target-file (TARGET_FILE) is missing: give the target config".into(),
        ),
        (
            vec!["--environment", "dev", "--target", "{kind: bosh}"],
            "--target (TARGET): target: kind: unknown kind \"bosh\" (expected local or command)".into(),
        ),
        (
            vec!["--environment", "dev", "--target", "{kind: local, root: /x, keeep: 3}"],
            "--target (TARGET): target: unknown field `keeep`, expected one of `kind`, `root`, `keep`, `change_window` at line 1 column 25".into(),
        ),
        (
            vec!["--environment", "dev", "--target", &good, "--patch", "empty"],
            "--patch (PATCH_DIR): patch folder empty: has no version.json (is it the output of a patchline `get`?)".into(),
        ),
        (
            vec!["--environment", "dev", "--target", &good, "--repave", "--rollback"],
            "--repave (REPAVE) and --rollback (ROLLBACK) exclude each other; give one".into(),
        ),
        (
            vec!["--environment", "dev", "--target", &good, "--lock-timeout", "soon"],
            "--lock-timeout (LOCK_TIMEOUT): \"soon\" is not a duration like 30s, 10m or 1h (expected number at 0)".into(),
        ),
        (vec!["--bogus"], "unexpected argument '--bogus' found".into()),
    ];
    for (args, message) in cases {
        let output = run(dir, &args, &[]);

        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert_eq!(
            stderr(&output),
            format!("apply: error: {message}\n"),
            "{args:?}"
        );
        assert!(!root.exists(), "{args:?}");
        assert!(!dir.join("applied").exists(), "{args:?}");
    }
}
