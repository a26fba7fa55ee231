//! Release versions as feeds publish them, ordered the way operators read them.
//!
//! Feeds publish versions of every shape: `3468` (one component), `621.125`
//! (two), `1.2.3`, `3.0.2.2` (four), with a leading `v`, with a pre-release
//! (`1.0.0-rc.1`, `2.0.0-build.9`) or build metadata (`+linux`). A
//! [`Version`] keeps the string exactly as published, so it can be handed
//! back to the feed and written in records, and compares numerically
//! component by component: `621.9 < 621.10 < 621.100`, `3232 < 3232.1`.
//! Pre-release identifiers compare as semantic versioning says: numeric ones
//! numerically, others as text, numeric before text, and any pre-release
//! before the release itself.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// Why a published version string could not be read as a version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("version {input:?} does not parse: {reason}")]
pub struct VersionError {
    input: String,
    reason: &'static str,
}

/// A version as published, with its numeric reading.
#[derive(Debug, Clone)]
pub struct Version {
    raw: String,
    numbers: Vec<u64>,
    pre: Vec<Identifier>,
}

/// One dot-separated part of a pre-release.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Identifier {
    // Declared first so that a numeric identifier sorts before a textual one.
    Numeric(u64),
    Text(String),
}

impl Version {
    /// Read a published version string.
    pub fn parse(input: &str) -> Result<Self, VersionError> {
        let fail = |reason| VersionError {
            input: input.to_string(),
            reason,
        };
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(fail("it is empty"));
        }
        let unprefixed = trimmed
            .strip_prefix('v')
            .or_else(|| trimmed.strip_prefix('V'))
            .unwrap_or(trimmed);

        // Build metadata never takes part in ordering.
        let without_build = unprefixed.split_once('+').map_or(unprefixed, |(v, _)| v);
        let (release, pre) = match without_build.split_once('-') {
            Some((release, pre)) => (release, Some(pre)),
            None => (without_build, None),
        };

        let numbers = release
            .split('.')
            .map(|part| {
                if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(fail("each release component must be a number"));
                }
                part.parse::<u64>()
                    .map_err(|_| fail("a release component is too large"))
            })
            .collect::<Result<Vec<_>, _>>()?;

        let pre = match pre {
            None => Vec::new(),
            Some(pre) => pre
                .split('.')
                .map(|part| {
                    if part.is_empty()
                        || !part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    {
                        return Err(fail(
                            "a pre-release identifier is empty or has odd characters",
                        ));
                    }
                    Ok(match part.parse::<u64>() {
                        Ok(n) if part.bytes().all(|b| b.is_ascii_digit()) => Identifier::Numeric(n),
                        _ => Identifier::Text(part.to_string()),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        };

        Ok(Version {
            raw: trimmed.to_string(),
            numbers,
            pre,
        })
    }

    /// Return the version exactly as the feed published it.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Return the numeric release components (`621.125` gives `[621, 125]`).
    pub fn numbers(&self) -> &[u64] {
        &self.numbers
    }

    /// Say whether this is a pre-release (`1.0.0-rc.1`).
    pub fn is_prerelease(&self) -> bool {
        !self.pre.is_empty()
    }

    /// Compare release components only, a missing component counting as 0,
    /// so `1.3` and `1.3.0` are the same release here.
    pub fn cmp_release(&self, other: &Version) -> Ordering {
        let len = self.numbers.len().max(other.numbers.len());
        (0..len)
            .map(|i| {
                let a = self.numbers.get(i).copied().unwrap_or(0);
                let b = other.numbers.get(i).copied().unwrap_or(0);
                a.cmp(&b)
            })
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }

    /// Compare as [`Version::cmp_release`], then pre-releases before the
    /// release and pre-release identifiers as semantic versioning says.
    pub fn cmp_precedence(&self, other: &Version) -> Ordering {
        self.cmp_release(other)
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => self.pre.cmp(&other.pre),
            })
    }
}

impl Ord for Version {
    /// Order by precedence; versions of equal precedence but different
    /// spelling (`3232` and `3232.0`, `v1.2` and `1.2`) still get a stable,
    /// total order so sorting is deterministic.
    fn cmp(&self, other: &Self) -> Ordering {
        self.cmp_precedence(other)
            .then_with(|| self.numbers.len().cmp(&other.numbers.len()))
            .then_with(|| self.raw.cmp(&other.raw))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Version {}

impl FromStr for Version {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Version::parse(s)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn sorted(input: &[&str]) -> Vec<String> {
        let mut versions: Vec<Version> = input.iter().map(|s| v(s)).collect();
        versions.sort();
        versions.iter().map(|v| v.as_str().to_string()).collect()
    }

    #[test]
    fn components_compare_numerically() {
        assert_eq!(
            sorted(&["621.100", "621.9", "621.10", "170.9", "3232.1", "3232"]),
            ["170.9", "621.9", "621.10", "621.100", "3232", "3232.1"]
        );
    }

    #[test]
    fn component_counts_mix() {
        assert_eq!(
            sorted(&["3.0.2.2", "3.0.2", "3", "3.0.10", "2.99"]),
            ["2.99", "3", "3.0.2", "3.0.2.2", "3.0.10"]
        );
    }

    #[test]
    fn leading_v_is_kept_but_ignored_for_order() {
        let a = v("v1.2.3");
        assert_eq!(a.as_str(), "v1.2.3");
        assert_eq!(a.numbers(), [1, 2, 3]);
        assert_eq!(sorted(&["v1.10.0", "1.9.0"]), ["1.9.0", "v1.10.0"]);
    }

    #[test]
    fn prereleases_follow_semver() {
        assert_eq!(
            sorted(&[
                "1.0.0",
                "1.0.0-build.10",
                "1.0.0-build.9",
                "1.0.0-alpha",
                "1.0.0-alpha.1",
                "1.0.0-1",
                "0.9.9"
            ]),
            [
                "0.9.9",
                "1.0.0-1",
                "1.0.0-alpha",
                "1.0.0-alpha.1",
                "1.0.0-build.9",
                "1.0.0-build.10",
                "1.0.0"
            ]
        );
        assert!(v("1.0.0-rc.1").is_prerelease());
        assert!(!v("1.0.0+linux").is_prerelease());
    }

    #[test]
    fn release_comparison_pads_with_zero() {
        assert_eq!(v("1.3").cmp_release(&v("1.3.0")), Ordering::Equal);
        assert!(v("1.3") < v("1.3.0"), "total order still tells them apart");
    }

    #[test]
    fn garbage_is_refused_with_the_input_named() {
        for bad in [
            "",
            "latest",
            "1..2",
            "1.2.x",
            "1.0.0-",
            "1.0.0-a..b",
            "99999999999999999999",
        ] {
            let err = Version::parse(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("{:?}", bad.trim())), "{err}");
        }
    }
}
