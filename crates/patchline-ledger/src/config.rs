//! Ledger config: the `ledger` object of the resource source, which says
//! where the ledger repository lives and how to authenticate to it.

use serde::Deserialize;

use crate::error::LedgerError;
use crate::Secret;

/// The branch used when the source does not name one.
pub const DEFAULT_BRANCH: &str = "main";

/// Say where the ledger lives: the `ledger` object of the resource source.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerConfig {
    /// Any URL or path git can push to (`git@host:org/ledger.git`,
    /// `https://user:token@host/ledger.git`, `/srv/ledger.git`).
    pub uri: String,
    /// The branch holding the events; created on first use.
    #[serde(default = "default_branch")]
    pub branch: String,
    /// An SSH private key for `ssh` URIs.
    #[serde(default)]
    pub private_key: Option<Secret>,
}

fn default_branch() -> String {
    DEFAULT_BRANCH.to_string()
}

impl LedgerConfig {
    /// Create a config for `uri` on the default branch, without a key.
    pub fn new(uri: impl Into<String>) -> Self {
        LedgerConfig {
            uri: uri.into(),
            branch: default_branch(),
            private_key: None,
        }
    }

    /// Return the URI with any credentials replaced by `***`, for logs.
    pub fn display_uri(&self) -> String {
        patchline_core::secret::redact_url(&self.uri)
    }

    /// Check the fields git will be given, before any git runs.
    ///
    /// A leading `-` is refused in both fields because git would read it as
    /// an option. Branch names are checked further by `git check-ref-format`
    /// when the ledger is opened.
    pub fn validate(&self) -> Result<(), LedgerError> {
        let uri = self.uri.trim();
        if uri.is_empty() {
            return Err(config_error(
                "uri",
                "is empty; set it to the ledger git repository",
            ));
        }
        if uri.starts_with('-') || self.uri.chars().any(char::is_control) {
            return Err(config_error(
                "uri",
                &format!(
                    "{:?} is not a git repository URL or path",
                    self.display_uri()
                ),
            ));
        }
        if self.branch.is_empty() {
            return Err(config_error("branch", "is empty; leave it out to use main"));
        }
        if self.branch.starts_with('-') || self.branch.chars().any(|c| c.is_control() || c == ' ') {
            return Err(config_error(
                "branch",
                &format!("{:?} is not a valid git branch name", self.branch),
            ));
        }
        Ok(())
    }
}

fn config_error(field: &'static str, reason: &str) -> LedgerError {
    LedgerError::Config {
        field,
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_defaults_to_main_and_key_to_none() {
        let config: LedgerConfig = serde_json::from_str(r#"{"uri": "/srv/ledger.git"}"#).unwrap();
        assert_eq!(config, LedgerConfig::new("/srv/ledger.git"));
        assert_eq!(config.branch, "main");
        assert!(config.private_key.is_none());
    }

    #[test]
    fn private_key_is_read_and_never_printed() {
        let config: LedgerConfig = serde_json::from_str(
            r#"{"uri": "git@host:ledger.git", "branch": "events", "private_key": "KEY-MATERIAL"}"#,
        )
        .unwrap();
        assert_eq!(config.branch, "events");
        assert_eq!(
            config.private_key.as_ref().unwrap().expose(),
            "KEY-MATERIAL"
        );
        let debug = format!("{config:?}");
        assert!(!debug.contains("KEY-MATERIAL"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }

    #[test]
    fn unknown_fields_are_refused_by_name() {
        let err = serde_json::from_str::<LedgerConfig>(r#"{"uri": "x", "brnach": "main"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("unknown field `brnach`"), "{err}");
    }

    #[test]
    fn display_uri_hides_credentials() {
        let config = LedgerConfig::new("https://ops:tok3n@git.example/ledger.git");
        assert_eq!(config.display_uri(), "https://***@git.example/ledger.git");
    }

    #[test]
    fn validate_names_the_wrong_field() {
        let mut config = LedgerConfig::new("  ");
        assert_eq!(
            config.validate().unwrap_err().to_string(),
            "ledger.uri: is empty; set it to the ledger git repository"
        );
        config.uri = "--upload-pack=touch /tmp/x".into();
        assert_eq!(
            config.validate().unwrap_err().to_string(),
            "ledger.uri: \"--upload-pack=touch /tmp/x\" is not a git repository URL or path"
        );
        config.uri = "/srv/ledger.git".into();
        config.branch = "-f".into();
        assert_eq!(
            config.validate().unwrap_err().to_string(),
            "ledger.branch: \"-f\" is not a valid git branch name"
        );
        config.branch = "main".into();
        assert!(config.validate().is_ok());
    }
}
