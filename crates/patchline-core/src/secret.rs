//! Secrets: values that must never reach a log, an error or stdout.
//!
//! Tokens, private keys and passwords are held in [`Secret`], whose `Debug`
//! and `Display` print a fixed placeholder, so formatting a config or an
//! error that carries one cannot leak it. Only [`Secret::expose`] gives the
//! value, at the one place that must hand it to another program.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// A value that prints as `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// Return the value itself, for handing to the program that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<'de> Deserialize<'de> for Secret {
    /// Accept a string; anything else is refused without echoing the value,
    /// as serde's own messages would (`invalid type: integer 424242`).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SecretVisitor;

        impl serde::de::Visitor<'_> for SecretVisitor {
            type Value = Secret;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Secret, E> {
                Ok(Secret(value.to_string()))
            }

            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Secret, E> {
                Err(not_a_string())
            }

            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Secret, E> {
                Err(not_a_string())
            }

            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Secret, E> {
                Err(not_a_string())
            }

            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Secret, E> {
                Err(not_a_string())
            }
        }

        fn not_a_string<E: serde::de::Error>() -> E {
            E::custom("expected a string (the value given is not shown)")
        }

        deserializer.deserialize_any(SecretVisitor)
    }
}

/// Hide the parts of a URL that may carry credentials, so it can be
/// logged: the user information (`https://user:token@host/`) and the query
/// string, where signed download URLs keep their signature.
///
/// A password with an unencoded `/` or `#` (`https://u:pa/ss@host/`) makes
/// the URL ambiguous; any `user:...@` before the last `@` is hidden too,
/// since showing a password costs more than hiding a path.
pub fn redact_url(url: &str) -> String {
    let (url, had_query) = match url.split_once('?') {
        Some((base, _)) => (base, true),
        None => (url, false),
    };
    let query = if had_query { "?***" } else { "" };
    let Some((scheme, rest)) = url.split_once("://") else {
        return format!("{url}{query}");
    };
    let authority_end = rest.find(['/', '#']).unwrap_or(rest.len());
    let userinfo_end = rest[..authority_end]
        .rfind('@')
        .or_else(|| rest.rfind('@').filter(|at| rest[..*at].contains(':')));
    match userinfo_end {
        Some(at) => format!("{scheme}://***@{}{query}", &rest[at + 1..]),
        None => format!("{url}{query}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_value() {
        let secret: Secret = serde_json::from_str("\"hunter2\"").unwrap();
        assert_eq!(format!("{secret} {secret:?}"), "<redacted> <redacted>");
        assert_eq!(secret.expose(), "hunter2");
        let err = serde_json::from_str::<Secret>("424242")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("424242"), "{err}");
    }

    #[test]
    fn urls_lose_their_credentials() {
        assert_eq!(
            redact_url("https://u:tok@git.example/r.git"),
            "https://***@git.example/r.git"
        );
        assert_eq!(
            redact_url("https://git.example/a@b"),
            "https://git.example/a@b"
        );
        assert_eq!(redact_url("/srv/ledger"), "/srv/ledger");
        assert_eq!(redact_url("https://u:SEC/RET@host/x"), "https://***@host/x");
        assert_eq!(redact_url("https://u:SEC#RET@host/x"), "https://***@host/x");
        assert_eq!(
            redact_url("https://s3.example/f.tgz?X-Amz-Signature=abc"),
            "https://s3.example/f.tgz?***"
        );
    }
}
