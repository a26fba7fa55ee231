//! The Concourse resource protocol: what `check`, `in` and `out` read on
//! stdin and answer on stdout.
//!
//! A version is `{"version": "621.125", "fingerprint": "sha256:..."}`. A
//! version holding only `version` is accepted everywhere, since that is what
//! `fly check-resource --from version:621.125` sends.

use std::io::Read;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::source::Source;
use crate::ResourceError;

/// One version of a resource, as Concourse stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRef {
    /// The version as published.
    pub version: String,
    /// The fingerprint of the files the resource covers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

/// One name/value pair shown in the Concourse UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetadataPair {
    /// The label.
    pub name: String,
    /// The value.
    pub value: String,
}

impl MetadataPair {
    /// Create a pair.
    pub fn new(name: &str, value: impl Into<String>) -> Self {
        MetadataPair {
            name: name.to_string(),
            value: value.into(),
        }
    }
}

/// What `check` reads.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// The resource's source.
    pub source: Source,
    /// The version Concourse has now, if any.
    #[serde(default)]
    pub version: Option<VersionRef>,
}

/// What `in` reads.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InRequest {
    /// The resource's source.
    pub source: Source,
    /// The version to fetch.
    pub version: VersionRef,
    /// The `get` step's params.
    #[serde(default)]
    pub params: Option<InParams>,
}

/// The params of a `get` step.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InParams {
    /// Globs narrowing `source.files` for this step.
    #[serde(default, deserialize_with = "crate::source::one_or_many")]
    pub files: Vec<String>,
    /// Write only the metadata, download nothing.
    #[serde(default)]
    pub skip_download: bool,
    /// Accept a file whose only published checksum is MD5.
    #[serde(default)]
    pub allow_weak_checksums: bool,
    /// Accept a file whose feed publishes no checksum at all.
    #[serde(default)]
    pub allow_unverified: bool,
}

/// What `out` reads.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutRequest {
    /// The resource's source.
    pub source: Source,
    /// The `put` step's params.
    #[serde(default)]
    pub params: Option<OutParams>,
}

/// The params of a `put` step.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutParams {
    /// The environment the event happened in.
    #[serde(default)]
    pub environment: Option<String>,
    /// The folder holding the version: a `get` of this resource or an
    /// `apply` output.
    #[serde(default)]
    pub from: Option<String>,
    /// What happened; defaults to the apply record's status, else applied.
    #[serde(default)]
    pub status: Option<patchline_ledger::Status>,
    /// A file whose text is kept with the event.
    #[serde(default)]
    pub notes: Option<String>,
}

/// What `in` and `out` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Response {
    /// The version fetched or recorded.
    pub version: VersionRef,
    /// Pairs for the Concourse UI.
    pub metadata: Vec<MetadataPair>,
}

/// Read a request from `input`; errors name the field that is wrong
/// (`source.version: ...`).
pub fn read_request<T: DeserializeOwned>(input: impl Read) -> Result<T, ResourceError> {
    let mut text = String::new();
    let mut input = input;
    input
        .read_to_string(&mut text)
        .map_err(|err| ResourceError::Request(format!("stdin: cannot read the request: {err}")))?;
    if text.trim().is_empty() {
        return Err(ResourceError::Request(
            "stdin: empty; expected a JSON request from Concourse".into(),
        ));
    }
    let deserializer = &mut serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ResourceError::Request(format!("stdin: not a JSON request: {inner}"));
        }
        // The field path says where the problem is better than a column.
        let text = inner.to_string();
        let reason = text
            .rsplit_once(" at line ")
            .map_or(text.as_str(), |(reason, _)| reason);
        let message = if path == "." {
            format!("request: {reason}")
        } else {
            format!("{path}: {reason}")
        };
        ResourceError::Request(message)
    })
}
