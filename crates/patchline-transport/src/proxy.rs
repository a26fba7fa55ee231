//! Proxies from the environment, as operators set them for curl:
//! `HTTPS_PROXY` for `https://` URLs, `HTTP_PROXY` for `http://` URLs
//! (lower-case spellings too), and `NO_PROXY`, a comma-separated list of
//! hosts that go direct. A `NO_PROXY` entry matches the host and every
//! host under it (`example.com` and `.example.com` both cover
//! `a.example.com`); `*` matches everything.

use ureq::Proxy;

use crate::{TransportError, UrlParts};

/// The proxies this process was told to use.
#[derive(Debug, Default)]
pub(crate) struct Proxies {
    http: Option<Proxy>,
    https: Option<Proxy>,
    no_proxy: Vec<String>,
}

/// Which agent a request goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Direct,
    HttpProxy,
    HttpsProxy,
}

impl Proxies {
    /// Read the proxy variables of this process.
    pub fn from_env() -> Result<Self, TransportError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, TransportError> {
        // An empty value counts as unset, so the other spelling applies.
        let set = |name: &str| get(name).filter(|value| !value.trim().is_empty());
        let var = |upper: &str| set(upper).or_else(|| set(&upper.to_ascii_lowercase()));
        let proxy = |name: &str| -> Result<Option<Proxy>, TransportError> {
            var(name)
                .map(|url| {
                    let refused = || {
                        TransportError::Config(format!(
                            "{name}: {} is not an http:// proxy URL",
                            patchline_core::secret::redact_url(&url)
                        ))
                    };
                    // Only HTTP proxies (CONNECT): ureq is built without
                    // SOCKS, so another scheme is refused here rather than
                    // failing on the first request.
                    let url = url.trim();
                    match url.split_once("://").map(|(scheme, _)| scheme) {
                        None | Some("http") | Some("https") => {
                            Proxy::new(url).map_err(|_| refused())
                        }
                        Some(_) => Err(refused()),
                    }
                })
                .transpose()
        };
        Ok(Proxies {
            http: proxy("HTTP_PROXY")?,
            https: proxy("HTTPS_PROXY")?,
            no_proxy: var("NO_PROXY")
                .map(|list| {
                    list.split(',')
                        .map(|entry| entry.trim().to_ascii_lowercase())
                        .filter(|entry| !entry.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// Return the proxy of one route.
    pub fn proxy(&self, route: Route) -> Option<Proxy> {
        match route {
            Route::Direct => None,
            Route::HttpProxy => self.http.clone(),
            Route::HttpsProxy => self.https.clone(),
        }
    }

    /// Decide how to reach `url`.
    pub fn route(&self, url: &str) -> Route {
        let https = url.starts_with("https://");
        let configured = if https { &self.https } else { &self.http };
        if configured.is_none() || self.bypasses(&host_of(url)) {
            Route::Direct
        } else if https {
            Route::HttpsProxy
        } else {
            Route::HttpProxy
        }
    }

    fn bypasses(&self, host: &str) -> bool {
        let host_is_ip = host.parse::<std::net::IpAddr>().is_ok();
        self.no_proxy.iter().any(|entry| {
            if entry == "*" {
                return true;
            }
            let name = strip_port(entry.trim_start_matches('*'));
            let domain = name.trim_start_matches('.');
            // An entry that names nothing (".", ":8080") matches nothing,
            // rather than everything; addresses match only exactly.
            !domain.is_empty()
                && (host == domain
                    || (!host_is_ip
                        && host
                            .strip_suffix(domain)
                            .is_some_and(|head| head.ends_with('.'))))
        })
    }
}

/// Return the lower-case host of a URL, without port or brackets.
pub(crate) fn host_of(url: &str) -> String {
    let host_port = UrlParts::of(url).map_or("", |parts| parts.host_port());
    strip_port(host_port).to_ascii_lowercase()
}

fn strip_port(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default();
    }
    if authority.matches(':').count() > 1 {
        // An IPv6 address written without brackets has no port.
        return authority;
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => authority,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(vars: &[(&str, &str)]) -> Proxies {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Proxies::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
            .unwrap()
    }

    #[test]
    fn each_scheme_takes_its_own_proxy() {
        let p = proxies(&[("HTTPS_PROXY", "http://proxy:3128")]);
        assert_eq!(p.route("https://bosh.io/api"), Route::HttpsProxy);
        assert_eq!(p.route("http://bosh.io/api"), Route::Direct);
        let p = proxies(&[("http_proxy", "http://proxy:3128")]);
        assert_eq!(p.route("http://bosh.io/api"), Route::HttpProxy);
        assert_eq!(p.route("https://bosh.io/api"), Route::Direct);
    }

    #[test]
    fn no_proxy_covers_the_host_and_those_under_it() {
        let p = proxies(&[
            ("HTTPS_PROXY", "http://proxy:3128"),
            ("NO_PROXY", "localhost, .corp.example,github.com:443,[::1]"),
        ]);
        assert_eq!(p.route("https://a.corp.example/x"), Route::Direct);
        assert_eq!(p.route("https://corp.example/x"), Route::Direct);
        assert_eq!(p.route("https://api.github.com/repos"), Route::Direct);
        assert_eq!(p.route("https://localhost:8443/"), Route::Direct);
        assert_eq!(p.route("https://[::1]:8443/"), Route::Direct);
        assert_eq!(p.route("https://notgithub.com/"), Route::HttpsProxy);
        assert_eq!(p.route("https://u:p@bosh.io/"), Route::HttpsProxy);
        let p = proxies(&[("HTTPS_PROXY", "http://proxy:3128"), ("NO_PROXY", "*")]);
        assert_eq!(p.route("https://bosh.io/"), Route::Direct);
        // Entries that name nothing bypass nothing; addresses match only
        // exactly; a bare IPv6 address matches its bracketed form.
        let p = proxies(&[
            ("HTTPS_PROXY", "http://proxy:3128"),
            ("NO_PROXY", ".,:8080,0.0.1,::1"),
        ]);
        assert_eq!(p.route("https://bosh.io/"), Route::HttpsProxy);
        assert_eq!(p.route("https://127.0.0.1/"), Route::HttpsProxy);
        assert_eq!(p.route("https://[::1]:8443/"), Route::Direct);
        // An empty upper-case variable leaves the lower-case one in force.
        let p = proxies(&[("HTTPS_PROXY", ""), ("https_proxy", "http://proxy:3128")]);
        assert_eq!(p.route("https://bosh.io/"), Route::HttpsProxy);
    }

    #[test]
    fn a_bad_proxy_names_the_variable_not_its_password() {
        let err = Proxies::from_lookup(|name| {
            (name == "HTTPS_PROXY").then(|| "fake://u:hunter2@proxy:1".to_string())
        })
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "HTTPS_PROXY: fake://***@proxy:1 is not an http:// proxy URL"
        );
        let err = Proxies::from_lookup(|name| {
            (name == "HTTPS_PROXY").then(|| "socks5://proxy.example:1080".to_string())
        })
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "HTTPS_PROXY: socks5://proxy.example:1080 is not an http:// proxy URL"
        );
    }
}
