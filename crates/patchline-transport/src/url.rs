//! The parts of a URL patchline needs, read one way everywhere: for
//! routing through proxies, for resolving redirects and relative links,
//! and for deciding where credentials may go.

/// A URL split at `://` and at the end of its authority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlParts<'a> {
    /// The scheme, as written.
    pub scheme: &'a str,
    /// The authority as written, user information included.
    pub authority: &'a str,
    /// Everything after the authority: path, query and fragment.
    pub rest: &'a str,
}

impl<'a> UrlParts<'a> {
    /// Split an absolute URL; `None` when it has no `://`.
    pub fn of(url: &'a str) -> Option<Self> {
        let (scheme, after) = url.split_once("://")?;
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        let (authority, rest) = after.split_at(end);
        Some(UrlParts {
            scheme,
            authority,
            rest,
        })
    }

    /// Return `host` or `host:port` as written, without user information.
    pub fn host_port(&self) -> &'a str {
        self.authority.rsplit('@').next().unwrap_or_default()
    }

    /// Return the path, without query or fragment.
    pub fn path(&self) -> &'a str {
        self.rest.split(['?', '#']).next().unwrap_or_default()
    }
}

/// Say whether `url` lies under `base`: the same scheme and host (any
/// case, user information ignored on both) and a path below `base`'s.
/// This is where credentials given for `base` may go.
pub fn is_under(url: &str, base: &str) -> bool {
    let (Some(base), Some(asked)) = (UrlParts::of(base), UrlParts::of(url)) else {
        return false;
    };
    base.scheme.eq_ignore_ascii_case(asked.scheme)
        && base.host_port().eq_ignore_ascii_case(asked.host_port())
        && asked
            .path()
            .strip_prefix(base.path().trim_end_matches('/'))
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_their_parts() {
        let parts = UrlParts::of("https://u:p@Host.example:8443/a/b?q=1#f").unwrap();
        assert_eq!(parts.scheme, "https");
        assert_eq!(parts.authority, "u:p@Host.example:8443");
        assert_eq!(parts.host_port(), "Host.example:8443");
        assert_eq!(parts.path(), "/a/b");
        assert_eq!(UrlParts::of("http://h?x").unwrap().path(), "");
        assert_eq!(UrlParts::of("/srv/index.json"), None);
    }

    #[test]
    fn credentials_scope() {
        let api = "https://user:pw@GHE.example/api/v3";
        assert!(is_under("https://ghe.example/api/v3/repos/o/r", api));
        assert!(!is_under("https://ghe.example/api/v30/x", api));
        assert!(!is_under("http://ghe.example/api/v3/x", api));
        assert!(!is_under("https://ghe.example:8443/api/v3/x", api));
        assert!(!is_under("https://objects.example/api/v3/x", api));
    }
}
