//! `${NAME}` expansion: how a smoke-test config borrows values (hosts,
//! tokens, the patch version) from the task's environment.

use std::collections::HashMap;

/// The variables a config's `${NAME}` references are expanded from.
#[derive(Debug, Clone, Default)]
pub struct Expand {
    vars: HashMap<String, String>,
}

/// Why a string could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    /// The string references a variable that has no value.
    #[error("${{{0}}} is not set")]
    Unset(String),
    /// A `${` has no closing `}`.
    #[error("unterminated ${{ (write $${{ for a literal ${{)")]
    Unterminated,
    /// The text between `${` and `}` is not a variable name.
    #[error("{0:?} is not a variable name (letters, digits and _)")]
    BadName(String),
}

impl Expand {
    /// Create an expansion over exactly `vars`.
    pub fn new(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            vars: vars.into_iter().collect(),
        }
    }

    /// Create an expansion over this process's environment; variables whose
    /// name or value is not UTF-8 are left out, so referencing one reads as
    /// unset rather than as mangled text.
    pub fn from_env() -> Self {
        Self::new(std::env::vars_os().filter_map(|(name, value)| {
            Some((name.into_string().ok()?, value.into_string().ok()?))
        }))
    }

    /// Set (or replace) one variable.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.vars.insert(name.into(), value.into());
    }

    /// Return `text` with every `${NAME}` replaced by its value and every
    /// `$${` by a literal `${`; any other `$` stays as written, so regular
    /// expressions such as `ok$` need no escaping.
    pub fn expand(&self, text: &str) -> Result<String, ExpandError> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            rest = &rest[at..];
            if let Some(after) = rest.strip_prefix("$${") {
                out.push_str("${");
                rest = after;
            } else if let Some(after) = rest.strip_prefix("${") {
                let end = after.find('}').ok_or(ExpandError::Unterminated)?;
                let name = &after[..end];
                if !is_name(name) {
                    return Err(ExpandError::BadName(name.to_string()));
                }
                let value = self
                    .vars
                    .get(name)
                    .ok_or_else(|| ExpandError::Unset(name.to_string()))?;
                out.push_str(value);
                rest = &after[end + 1..];
            } else {
                out.push('$');
                rest = &rest[1..];
            }
        }
        out.push_str(rest);
        Ok(out)
    }
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Expand {
        Expand::new([
            ("HOST".to_string(), "db.internal".to_string()),
            ("PATCHLINE_VERSION".to_string(), "621.125".to_string()),
        ])
    }

    #[test]
    fn replaces_every_reference() {
        assert_eq!(
            vars()
                .expand("http://${HOST}:8080/v/${PATCHLINE_VERSION}")
                .unwrap(),
            "http://db.internal:8080/v/621.125"
        );
    }

    #[test]
    fn keeps_lone_dollars_and_unescapes_double_dollar() {
        assert_eq!(vars().expand("ok$ $5 $${HOST}").unwrap(), "ok$ $5 ${HOST}");
    }

    #[test]
    fn unset_names_the_variable() {
        assert_eq!(
            vars().expand("${MISSING}"),
            Err(ExpandError::Unset("MISSING".to_string()))
        );
        assert_eq!(
            ExpandError::Unset("MISSING".to_string()).to_string(),
            "${MISSING} is not set"
        );
    }

    #[test]
    fn rejects_unterminated_and_bad_names() {
        assert_eq!(vars().expand("a ${HOST"), Err(ExpandError::Unterminated));
        assert_eq!(
            vars().expand("${1X}"),
            Err(ExpandError::BadName("1X".to_string()))
        );
        assert_eq!(
            vars().expand("${}"),
            Err(ExpandError::BadName(String::new()))
        );
    }

    #[test]
    fn set_overrides_the_environment() {
        let mut expand = vars();
        expand.set("HOST", "other");
        assert_eq!(expand.expand("${HOST}").unwrap(), "other");
    }
}
