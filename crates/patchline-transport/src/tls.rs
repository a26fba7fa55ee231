//! TLS trust: the system's roots from `/etc/ssl/certs` (where Concourse
//! mounts the worker's certificates), plus an operator's own authority
//! given as PEM text, or no verification at all when asked (loudly).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

use crate::TransportError;

/// Where the system keeps its trusted certificates.
const SYSTEM_CERTS: &str = "/etc/ssl/certs";

/// Return the TLS settings every HTTPS client of patchline uses by default:
/// the system's roots (see [`system_roots`]), read once per process.
pub fn tls_config() -> TlsConfig {
    TlsConfig::builder()
        .root_certs(system_certs().clone())
        .build()
}

/// Read the operator's own authorities from `ca_cert` (PEM text).
pub(crate) fn extra_roots(
    ca_cert: Option<&str>,
) -> Result<Vec<Certificate<'static>>, TransportError> {
    let Some(pem) = ca_cert else {
        return Ok(Vec::new());
    };
    let extra = certificates(pem.as_bytes());
    if extra.is_empty() {
        return Err(TransportError::Config(
            "ca_cert: no PEM certificate found in it".into(),
        ));
    }
    Ok(extra)
}

/// Return TLS settings trusting the system's roots plus `extra`, or
/// trusting anything when `skip_verification`.
pub(crate) fn tls_config_with(
    extra: &[Certificate<'static>],
    skip_verification: bool,
) -> TlsConfig {
    if skip_verification {
        return TlsConfig::builder().disable_verification(true).build();
    }
    if extra.is_empty() {
        return tls_config();
    }
    let mut all: Vec<Certificate<'static>> = match system_certs() {
        RootCerts::Specific(certs) => certs.iter().map(|c| c.to_owned()).collect(),
        _ => Vec::new(),
    };
    // Without a system bundle, the operator's authority and Mozilla's
    // roots cannot be combined in one set; the operator's is the one
    // their proxy or mirror needs.
    all.extend(extra.iter().cloned());
    TlsConfig::builder()
        .root_certs(RootCerts::new_with_certs(&all))
        .build()
}

fn system_certs() -> &'static RootCerts {
    static ROOTS: OnceLock<RootCerts> = OnceLock::new();
    ROOTS.get_or_init(|| system_roots(Path::new(SYSTEM_CERTS)))
}

fn certificates(pem: &[u8]) -> Vec<Certificate<'static>> {
    ureq::tls::parse_pem(pem)
        .flatten()
        .filter_map(|item| match item {
            PemItem::Certificate(cert) => Some(cert.to_owned()),
            _ => None,
        })
        .collect()
}

/// Read the certificates of a certificates folder: Debian's bundle
/// `ca-certificates.crt` and every other certificate file in it that is
/// not a link (Concourse mounts the worker's folder there, with the
/// operator's own authorities as plain files; the links of a Debian folder
/// point at certificates the bundle already holds). Without the bundle,
/// every file is read. Mozilla's roots are used when nothing is found.
fn system_roots(folder: &Path) -> RootCerts {
    let bundle = folder.join("ca-certificates.crt");
    let has_bundle = bundle.is_file();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(folder)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    paths.sort();
    paths.retain(|path| {
        path.is_file()
            && (!has_bundle
                || *path == bundle
                || (!path.is_symlink()
                    && path
                        .extension()
                        .is_some_and(|ext| ext == "pem" || ext == "crt")))
    });

    let certs: Vec<Certificate<'static>> = paths
        .iter()
        .filter_map(|path| std::fs::read(path).ok())
        .flat_map(|pem| certificates(&pem))
        .collect();
    if certs.is_empty() {
        RootCerts::WebPki
    } else {
        RootCerts::new_with_certs(&certs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Return the first `n` certificates of the host's bundle, one PEM each.
    fn host_certificates(n: usize) -> Option<Vec<String>> {
        let bundle = std::fs::read_to_string("/etc/ssl/certs/ca-certificates.crt").ok()?;
        let end = "-----END CERTIFICATE-----";
        let certs: Vec<String> = bundle
            .split_inclusive(end)
            .filter(|part| part.contains("BEGIN CERTIFICATE"))
            .map(|part| format!("{}\n", part.trim()))
            .take(n)
            .collect();
        (certs.len() == n).then_some(certs)
    }

    fn count(roots: RootCerts) -> usize {
        match roots {
            RootCerts::Specific(certs) => certs.len(),
            _ => 0,
        }
    }

    #[test]
    fn roots_are_the_bundle_plus_plain_certificate_files() {
        let Some(certs) = host_certificates(3) else {
            return;
        };
        let folder = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::fs::write(folder.path().join("ca-certificates.crt"), &certs[0]).unwrap();
        std::fs::write(folder.path().join("operator-ca.pem"), &certs[1]).unwrap();
        std::fs::write(elsewhere.path().join("c.pem"), &certs[2]).unwrap();
        std::os::unix::fs::symlink(elsewhere.path().join("c.pem"), folder.path().join("c.pem"))
            .unwrap();
        assert_eq!(
            count(system_roots(folder.path())),
            2,
            "the link is in the bundle"
        );

        std::fs::remove_file(folder.path().join("ca-certificates.crt")).unwrap();
        assert_eq!(
            count(system_roots(folder.path())),
            2,
            "without a bundle, every file"
        );

        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(system_roots(empty.path()), RootCerts::WebPki));
    }

    #[test]
    fn ca_cert_must_hold_a_certificate() {
        let err = extra_roots(Some("not a pem")).unwrap_err();
        assert_eq!(err.to_string(), "ca_cert: no PEM certificate found in it");
        if let Some(certs) = host_certificates(1) {
            assert_eq!(extra_roots(Some(&certs[0])).unwrap().len(), 1);
        }
    }
}
