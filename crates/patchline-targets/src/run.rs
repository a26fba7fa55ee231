//! Apply run: one `apply` task from start to record, whatever happens.

use std::time::Duration;

use crate::{
    Action, ApplyRecord, Clock, EnvironmentLock, Holder, Job, Outcome, Patch, Status, TargetConfig,
    TargetError,
};

/// Everything an apply needs, parsed and validated.
#[derive(Debug)]
pub struct ApplyRequest {
    /// The environment's name.
    pub environment: String,
    /// The patch to apply.
    pub patch: Patch,
    /// The target and its change window.
    pub config: TargetConfig,
    /// Apply, repave or roll back.
    pub action: Action,
    /// How long to wait for another apply to the same environment.
    pub lock_timeout: Duration,
    /// Where "now" comes from.
    pub clock: Clock,
}

/// Refuse environment names that could not name a lock file or a ledger
/// folder: empty, leading `.`, or anything beyond letters, digits, `.`,
/// `_` and `-`.
pub fn check_environment_name(name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() {
        Err("is empty".into())
    } else if name.starts_with('.') || !name.chars().all(allowed) {
        Err(format!(
            "{name:?} may hold only letters, digits, `.`, `_` and `-`, and not start with `.`"
        ))
    } else {
        Ok(())
    }
}

/// Carry out `request` and describe what happened.
///
/// Never fails: a closed change window, a lock timeout or a failing target
/// come back as a record with status `failed` and the reason in `detail`,
/// because the output folder must be written either way.
pub fn run(request: &ApplyRequest) -> ApplyRecord {
    let target = request.config.target();
    let started_at = request.clock.stamp();
    let job = Job {
        environment: &request.environment,
        patch: &request.patch,
        clock: request.clock,
    };
    match request.action {
        Action::Rollback => eprintln!(
            "rollback of environment {} ({} target)",
            request.environment,
            target.kind()
        ),
        action => eprintln!(
            "{} {} to environment {} ({} target)",
            action.as_str(),
            request.patch.version.version,
            request.environment,
            target.kind()
        ),
    }

    let result = carry_out(request, &job);
    let record = |outcome: Outcome| ApplyRecord {
        environment: request.environment.clone(),
        version: outcome.version.version,
        fingerprint: outcome.version.fingerprint,
        status: outcome.status,
        changed: outcome.changed,
        previous_version: outcome.previous_version,
        target: target.kind().into(),
        started_at: started_at.clone(),
        finished_at: request.clock.stamp(),
        detail: outcome.detail,
    };
    match result {
        Ok(outcome) => {
            eprintln!("{}", outcome.detail);
            record(outcome)
        }
        Err(err) => record(Outcome {
            status: Status::Failed,
            changed: false,
            version: request.patch.version.clone(),
            // Nothing changed, so what is deployed now is what was before.
            previous_version: target.deployed().ok().flatten().map(|v| v.version),
            detail: err.to_string(),
        }),
    }
}

/// Check the window, take the lock and call the target.
fn carry_out(request: &ApplyRequest, job: &Job<'_>) -> Result<Outcome, TargetError> {
    let target = request.config.target();
    let window = request.config.change_window.as_ref();
    if let Some(window) = window {
        window.check(request.clock.now())?;
    }
    target.check(job, request.action)?;

    let holder = Holder {
        pid: std::process::id(),
        started_at: request.clock.stamp(),
        version: request.patch.version.version.clone(),
        action: request.action.as_str().into(),
    };
    let (_lock, waited) = EnvironmentLock::acquire(
        &target.lock_path(&request.environment),
        &request.environment,
        &holder,
        request.lock_timeout,
    )?;
    // The window may have closed while another apply held the lock.
    if let (Some(window), true) = (window, waited) {
        window.check(request.clock.now())?;
    }

    match request.action {
        Action::Apply => target.apply(job),
        Action::Repave => target.repave(job),
        Action::Rollback => target.rollback(job),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::tests::write_patch;
    use chrono::DateTime;

    fn request(dir: &std::path::Path, config: &str, now: &str) -> ApplyRequest {
        let patch_dir = dir.join("patch");
        write_patch(&patch_dir, "621.125", 'a', &[("stemcell.tgz", "bytes")]);
        ApplyRequest {
            environment: "production".into(),
            patch: Patch::read(&patch_dir).unwrap(),
            config: TargetConfig::parse(config).unwrap(),
            action: Action::Apply,
            lock_timeout: Duration::ZERO,
            clock: Clock::Fixed(DateTime::parse_from_rfc3339(now).unwrap().into()),
        }
    }

    #[test]
    fn closed_window_fails_without_touching_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("env");
        let config = format!(
            "{{kind: local, root: {}, change_window: {{days: [Friday], start: '09:30', stop: '11:30', location: Europe/Amsterdam}}}}",
            root.display()
        );
        let request = request(dir.path(), &config, "2025-01-09T13:02:00Z");

        let record = run(&request);

        assert_eq!(
            record,
            ApplyRecord {
                environment: "production".into(),
                version: "621.125".into(),
                fingerprint: format!("sha256:{}", "a".repeat(64)),
                status: Status::Failed,
                changed: false,
                previous_version: None,
                target: "local".into(),
                started_at: "2025-01-09T13:02:00Z".into(),
                finished_at: "2025-01-09T13:02:00Z".into(),
                detail: "change window Friday 09:30-11:30 Europe/Amsterdam is closed (now Thursday 14:02 Europe/Amsterdam)".into(),
            }
        );
        assert!(!root.exists());
    }

    #[test]
    fn open_window_applies() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("env");
        let config = format!(
            "{{kind: local, root: {}, change_window: {{days: [fri], start: '09:30', stop: '11:30', location: Europe/Amsterdam}}}}",
            root.display()
        );
        let request = request(dir.path(), &config, "2025-01-10T08:45:00Z");

        let record = run(&request);

        assert_eq!(record.status, Status::Applied, "{}", record.detail);
        assert_eq!(
            std::fs::read(root.join("current/stemcell.tgz")).unwrap(),
            b"bytes"
        );
    }

    #[test]
    fn environment_names() {
        assert_eq!(check_environment_name("prod-eu_1.a"), Ok(()));
        assert_eq!(check_environment_name(""), Err("is empty".into()));
        assert_eq!(
            check_environment_name("../x"),
            Err(
                "\"../x\" may hold only letters, digits, `.`, `_` and `-`, and not start with `.`"
                    .into()
            )
        );
    }
}
