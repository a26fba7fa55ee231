//! Target config: the YAML (or JSON) that says which target changes an
//! environment and when it may.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::command::CommandTarget;
use crate::local::LocalTarget;
use crate::{ChangeWindow, ChangeWindowConfig, Target, TargetError};

/// A parsed and validated target config.
#[derive(Debug)]
pub struct TargetConfig {
    /// The target the config describes.
    pub kind: TargetKind,
    /// When the environment may be changed; always when `None`.
    pub change_window: Option<ChangeWindow>,
}

/// The targets a config can name with `kind`.
#[derive(Debug)]
pub enum TargetKind {
    /// `kind: local`: a folder on this machine.
    Local(LocalTarget),
    /// `kind: command`: a program that does the work.
    Command(CommandTarget),
}

/// Only `kind`, read first to pick the schema the rest must follow.
#[derive(Deserialize)]
struct KindOnly {
    kind: Option<String>,
}

/// `kind: local` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LocalFields {
    #[serde(rename = "kind")]
    _kind: serde::de::IgnoredAny,
    root: PathBuf,
    #[serde(default = "default_keep")]
    keep: usize,
    change_window: Option<ChangeWindowConfig>,
}

fn default_keep() -> usize {
    5
}

/// `kind: command` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandFields {
    #[serde(rename = "kind")]
    _kind: serde::de::IgnoredAny,
    command: Vec<String>,
    timeout: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    lock_file: Option<PathBuf>,
    change_window: Option<ChangeWindowConfig>,
}

impl TargetConfig {
    /// Parse a target config from YAML or JSON text.
    ///
    /// The text is read twice: once for `kind` alone, then against that
    /// kind's schema, so that an unknown field is reported as unknown to
    /// the chosen kind, with its line and column.
    pub fn parse(text: &str) -> Result<TargetConfig, TargetError> {
        let kind = parse_yaml::<KindOnly>(text)?
            .kind
            .ok_or_else(|| TargetError::config("kind", "is missing (local or command)"))?;

        match kind.as_str() {
            "local" => {
                let fields: LocalFields = parse_yaml(text)?;
                let window = fields
                    .change_window
                    .as_ref()
                    .map(ChangeWindow::new)
                    .transpose()?;
                Ok(TargetConfig {
                    kind: TargetKind::Local(LocalTarget::new(fields.root, fields.keep)?),
                    change_window: window,
                })
            }
            "command" => {
                let fields: CommandFields = parse_yaml(text)?;
                let window = fields
                    .change_window
                    .as_ref()
                    .map(ChangeWindow::new)
                    .transpose()?;
                let timeout = match &fields.timeout {
                    None => Duration::from_secs(30 * 60),
                    Some(text) => humantime::parse_duration(text).map_err(|err| {
                        TargetError::config(
                            "timeout",
                            format!("{text:?} is not a duration like 30m ({err})"),
                        )
                    })?,
                };
                Ok(TargetConfig {
                    kind: TargetKind::Command(CommandTarget::new(
                        fields.command,
                        timeout,
                        fields.env,
                        fields.lock_file,
                    )?),
                    change_window: window,
                })
            }
            other => Err(TargetError::config(
                "kind",
                format!("unknown kind {other:?} (expected local or command)"),
            )),
        }
    }

    /// Return the target the config describes.
    pub fn target(&self) -> &dyn Target {
        match &self.kind {
            TargetKind::Local(target) => target,
            TargetKind::Command(target) => target,
        }
    }
}

/// Deserialize `text` as `T`, turning a YAML error into one line.
fn parse_yaml<T: DeserializeOwned>(text: &str) -> Result<T, TargetError> {
    if text.trim().is_empty() {
        return Err(TargetError::config(
            "kind",
            "is missing: the target config is empty",
        ));
    }
    serde_yaml_ng::from_str(text).map_err(|err| TargetError::Syntax(one_line(&err.to_string())))
}

/// Collapse a possibly multi-line message into one line.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        TargetConfig::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn local_with_defaults() {
        let config = TargetConfig::parse("{kind: local, root: /tmp/env}").unwrap();

        assert!(config.change_window.is_none());
        let TargetKind::Local(local) = &config.kind else {
            panic!("not local: {config:?}")
        };
        assert_eq!(local.root(), std::path::Path::new("/tmp/env"));
        assert_eq!(local.keep(), 5);
        assert_eq!(config.target().kind(), "local");
    }

    #[test]
    fn command_in_json_with_window() {
        let config = TargetConfig::parse(
            r#"{"kind": "command", "command": ["deploy", "--now"], "timeout": "90s",
                "env": {"REGION": "eu"}, "lock_file": "/tmp/x.lock",
                "change_window": {"days": ["Fri"], "start": "09:30", "stop": "11:30",
                                  "location": "Europe/Amsterdam"}}"#,
        )
        .unwrap();

        assert_eq!(
            config.change_window.unwrap().to_string(),
            "Friday 09:30-11:30 Europe/Amsterdam"
        );
        let TargetKind::Command(command) = &config.kind else {
            panic!("not command")
        };
        assert_eq!(command.timeout(), Duration::from_secs(90));
        assert_eq!(command.lock_path("sandbox"), PathBuf::from("/tmp/x.lock"));
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(
            error("root: /tmp/env"),
            "target: kind: is missing (local or command)"
        );
        assert_eq!(
            error(""),
            "target: kind: is missing: the target config is empty"
        );
        assert_eq!(
            error("{kind: bosh}"),
            "target: kind: unknown kind \"bosh\" (expected local or command)"
        );
        assert_eq!(error("{kind: local}"), "target: missing field `root`");
        assert!(
            error("{kind: local, root: /x, rot: 1}")
                .starts_with("target: unknown field `rot`, expected one of `kind`, `root`, `keep`, `change_window`"),
            "{}",
            error("{kind: local, root: /x, rot: 1}")
        );
        assert!(
            error("{kind: local, root: /x, keep: many}").starts_with("target: keep: invalid type"),
            "{}",
            error("{kind: local, root: /x, keep: many}")
        );
        assert_eq!(
            error("{kind: local, root: /x, keep: 0}"),
            "target: keep: must be at least 1"
        );
        assert_eq!(
            error("{kind: command, command: []}"),
            "target: command: is empty; give the program and its arguments"
        );
        assert_eq!(
            error("{kind: command, command: [x], timeout: soon}"),
            "target: timeout: \"soon\" is not a duration like 30m (expected number at 0)"
        );
        assert_eq!(
            error("{kind: command, command: [x], env: {PATCHLINE_VERSION: '1'}}"),
            "target: env.PATCHLINE_VERSION: is set by apply itself and cannot be overridden"
        );
        assert!(
            error("{kind: local, root: /x, change_window: {start: '09:00'}}")
                .starts_with("target: change_window: missing field `stop`"),
            "{}",
            error("{kind: local, root: /x, change_window: {start: '09:00'}}")
        );
    }
}
