//! Requests and answers, as feeds see them.

use patchline_core::secret::Secret;
use serde::de::DeserializeOwned;

use crate::TransportError;

/// The HTTP methods patchline uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Read.
    Get,
    /// Act (a token exchange, an EULA acceptance).
    Post,
}

/// One request: a URL, headers, and credentials that are sent only to the
/// URL's own host (never to a redirect target elsewhere).
#[derive(Debug, Clone)]
pub struct Request {
    pub(crate) method: Method,
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) authorization: Option<Secret>,
    pub(crate) cache_identity: Option<Secret>,
    pub(crate) body: Option<Vec<u8>>,
}

impl Request {
    /// A `GET` of `url`.
    pub fn get(url: impl Into<String>) -> Self {
        Request {
            method: Method::Get,
            url: url.into(),
            headers: Vec::new(),
            authorization: None,
            cache_identity: None,
            body: None,
        }
    }

    /// A `POST` of a JSON document to `url`.
    pub fn post_json(url: impl Into<String>, body: &serde_json::Value) -> Self {
        Request {
            method: Method::Post,
            body: Some(serde_json::to_vec(body).expect("a JSON value serializes")),
            ..Request::get(url)
        }
        .header("Content-Type", "application/json")
    }

    /// Add a header that is not a secret.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Send `value` as the `Authorization` header, to this URL's host only.
    pub fn authorization(mut self, value: Secret) -> Self {
        self.authorization = Some(value);
        self
    }

    /// Key cached answers on `identity` instead of the `Authorization`
    /// value: for credentials that change every run (a bearer token
    /// exchanged from a long-lived one), the long-lived one says whose
    /// answer it is.
    pub fn cache_identity(mut self, identity: Secret) -> Self {
        self.cache_identity = Some(identity);
        self
    }

    /// Return the URL asked for.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Return the method.
    pub fn method(&self) -> Method {
        self.method
    }
}

/// A successful answer, read whole.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status (2xx; an answer from the conditional cache reads 200).
    pub status: u16,
    /// The URL that answered, after redirects.
    pub url: String,
    /// Response headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// True when the server said `304 Not Modified` and the body is the
    /// one cached from an earlier check.
    pub from_cache: bool,
}

impl Response {
    /// Return the first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Return the `rel="next"` target of the `Link` header, if any.
    pub fn next_link(&self) -> Option<String> {
        next_link(self.header("link")?)
    }

    /// Read the body as JSON of type `T`; a body that is not names the URL.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, TransportError> {
        serde_json::from_slice(&self.body).map_err(|err| TransportError::Http {
            url: patchline_core::secret::redact_url(&self.url),
            reason: format!("the answer is not the JSON expected: {err}"),
        })
    }
}

/// Find the `rel="next"` URL of a `Link` header (RFC 8288).
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|link| {
        let (target, params) = link.trim().split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        params
            .split(';')
            .any(|param| {
                param
                    .trim()
                    .strip_prefix("rel=")
                    .is_some_and(|rel| rel.trim_matches('"').split(' ').any(|r| r == "next"))
            })
            .then(|| target.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_next_link() {
        let header = r#"<https://api.github.com/repositories/1/releases?per_page=100&page=2>; rel="next", <https://api.github.com/repositories/1/releases?per_page=100&page=5>; rel="last""#;
        assert_eq!(
            next_link(header).as_deref(),
            Some("https://api.github.com/repositories/1/releases?per_page=100&page=2")
        );
        assert_eq!(next_link(r#"<https://x/?page=1>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
    }
}
