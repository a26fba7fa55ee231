//! `out`: record one event (a patch applied, failed, rolled back or
//! repaved in an environment) in the ledger.

use std::fs;
use std::path::{Path, PathBuf};

use patchline_ledger::{Build, Event, Status};

use crate::log::Log;
use crate::protocol::{MetadataPair, OutRequest, Response, VersionRef};
use crate::ResourceError;

/// The most text of a notes file kept with an event.
const MAX_NOTES_BYTES: u64 = 64 * 1024;

/// Record the event the put step describes; `build_dir` is the folder
/// Concourse gives as `$1`, holding the build's artifacts.
pub fn put(request: &OutRequest, build_dir: &Path) -> Result<Response, ResourceError> {
    let log = Log::new(request.source.debug);
    let params = request.params.as_ref().cloned().unwrap_or_default();
    let feed = request.source.feed_config()?;
    let ledger = request.source.ledger.as_ref().ok_or_else(|| {
        ResourceError::Request(
            "source.ledger: required by put: the git repository where events are recorded".into(),
        )
    })?;
    let environment = params
        .environment
        .filter(|e| !e.trim().is_empty())
        .ok_or_else(|| {
            ResourceError::Request(
                "params.environment: required (sandbox, dev, production, ...)".into(),
            )
        })?;
    let from = params.from.filter(|from| !from.is_empty()).ok_or_else(|| {
        ResourceError::Request(
            "params.from: required: the folder of a get of this resource or of an apply output"
                .into(),
        )
    })?;
    let from_dir = inside_build(build_dir, "params.from", &from)?;

    let (version, fingerprint, apply) = read_version(&from_dir, &from)?;
    if !patchline_core::is_fingerprint(&fingerprint) {
        return Err(ResourceError::Request(format!(
            "params.from: {from} holds the fingerprint {fingerprint:?}, not sha256:<64 hex digits>"
        )));
    }
    let status = match (
        params.status,
        apply
            .as_ref()
            .and_then(|a| a.get("status"))
            .and_then(|s| s.as_str()),
    ) {
        (Some(status), _) => status,
        (None, Some(recorded)) => recorded.parse::<Status>().map_err(|_| {
            ResourceError::Request(format!(
                "params.from: {from}/apply.json has an unknown status {recorded:?}"
            ))
        })?,
        (None, None) => Status::Applied,
    };

    let mut event = Event::new(
        &environment,
        &version.version,
        fingerprint,
        status,
        Build::from_env(),
    );
    if let Some(notes) = &params.notes {
        let path = inside_build(build_dir, "params.notes", notes)?;
        event = event.with_notes(read_notes(&path, notes)?);
    }
    if let Some(apply) = apply {
        event = event.with_apply(apply);
    }
    let source = &request.source;
    event = event.with_line(serde_json::json!({
        "feed": feed.kind().to_string(),
        "uri": feed.describe(),
        "version": source.version.as_ref().map(|line| line.as_str()),
        "files": source.files,
    }));

    let recorded = patchline_ledger::record(ledger, &event, &std::env::temp_dir())
        .map_err(name_ledger_field)?;
    log.debug(format!(
        "ledger {} holds {}",
        ledger.display_uri(),
        recorded.path
    ));

    Ok(Response {
        version,
        metadata: vec![
            MetadataPair::new("environment", &environment),
            MetadataPair::new("status", status.as_str()),
            MetadataPair::new("event", &recorded.path),
            MetadataPair::new("commit", &recorded.commit),
        ],
    })
}

/// A version read from the build, with its fingerprint and the apply
/// record when there was one.
type Recordable = (VersionRef, String, Option<serde_json::Value>);

/// Read the version from an apply output (`apply.json`) or a get folder
/// (`version.json`).
fn read_version(dir: &Path, from: &str) -> Result<Recordable, ResourceError> {
    let field = |reason: String| ResourceError::Request(format!("params.from: {reason}"));
    if !dir.is_dir() {
        return Err(field(format!("{from:?} is not a folder of this build")));
    }
    let apply_path = dir.join("apply.json");
    if apply_path.is_file() {
        let text =
            fs::read_to_string(&apply_path).map_err(|err| ResourceError::io(&apply_path, err))?;
        let apply: serde_json::Value = serde_json::from_str(&text)
            .map_err(|err| field(format!("{from}/apply.json is not JSON: {err}")))?;
        let text_of = |key: &str| apply.get(key).and_then(|v| v.as_str()).map(str::to_string);
        let version =
            text_of("version").ok_or_else(|| field(format!("{from}/apply.json has no version")))?;
        let fingerprint = text_of("fingerprint")
            .ok_or_else(|| field(format!("{from}/apply.json has no fingerprint")))?;
        return Ok((
            VersionRef {
                version,
                fingerprint: Some(fingerprint.clone()),
            },
            fingerprint,
            Some(apply),
        ));
    }
    let version_path = dir.join("version.json");
    let text = fs::read_to_string(&version_path)
        .map_err(|_| field(format!("{from} holds neither apply.json nor version.json")))?;
    let version: VersionRef =
        serde_json::from_str(&text).map_err(|err| field(format!("{from}/version.json: {err}")))?;
    let Some(fingerprint) = version.fingerprint.clone() else {
        return Err(field(format!("{from}/version.json has no fingerprint")));
    };
    Ok((version, fingerprint, None))
}

fn read_notes(path: &Path, given: &str) -> Result<String, ResourceError> {
    let meta = fs::metadata(path).map_err(|err| {
        ResourceError::Request(format!("params.notes: cannot read {given:?}: {err}"))
    })?;
    if meta.len() > MAX_NOTES_BYTES {
        return Err(ResourceError::Request(format!(
            "params.notes: {given:?} is larger than {MAX_NOTES_BYTES} bytes"
        )));
    }
    fs::read_to_string(path)
        .map(|text| text.trim_end().to_string())
        .map_err(|err| {
            ResourceError::Request(format!("params.notes: cannot read {given:?}: {err}"))
        })
}

/// Resolve a path param inside the build's folder: `from` and `notes`
/// name artifacts of the build, never other files of the container, not
/// even through a symbolic link.
fn inside_build(build_dir: &Path, field: &str, given: &str) -> Result<PathBuf, ResourceError> {
    let refuse = || {
        ResourceError::Request(format!(
            "{field}: {given:?} must be a path inside the build (relative, without ..)"
        ))
    };
    let relative = Path::new(given);
    if given.is_empty()
        || relative.is_absolute()
        || relative
            .components()
            .any(|part| matches!(part, std::path::Component::ParentDir))
    {
        return Err(refuse());
    }
    let path = build_dir.join(relative);
    // A path that does not exist yet is reported by its reader.
    if let (Ok(real), Ok(root)) = (path.canonicalize(), build_dir.canonicalize()) {
        if !real.starts_with(&root) {
            return Err(refuse());
        }
    }
    Ok(path)
}

/// Name ledger errors by the field of the put step they come from:
/// `source.ledger.uri`, `params.environment`.
fn name_ledger_field(err: patchline_ledger::LedgerError) -> ResourceError {
    let message = err.to_string();
    let named = if message.starts_with("ledger.") {
        format!("source.{message}")
    } else if message.starts_with("environment:") {
        format!("params.{message}")
    } else {
        message
    };
    ResourceError::Request(named)
}
