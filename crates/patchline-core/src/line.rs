//! Version lines: which versions of a feed a resource follows.
//!
//! A team rolls one patch line (`621.x`, the 2.4 series) through its
//! environments; a new major line is a project, not a patch. The line is
//! written either as a wildcard prefix (`621.x`, `621.*`, `2.4.x`, or just
//! `621`) or as a semantic-versioning requirement made of comma-separated
//! comparators that must all hold (`~2.4`, `^1.2`, `>=1.2.3, <1.3`).
//! `||` alternatives are not supported; a line using them is refused.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::version::Version;

/// Why a version line could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("version line {input:?} does not parse: {reason}")]
pub struct VersionLineError {
    input: String,
    reason: String,
}

/// A parsed version line; every term must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionLine {
    raw: String,
    terms: Vec<Term>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    /// The release components start with these numbers.
    Prefix(Vec<u64>),
    Compare(Op, Version),
    /// `>= low` and a release strictly below `high`; pre-releases of `high`
    /// itself stay outside, as in semantic versioning.
    Range {
        low: Version,
        high: Version,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

impl VersionLine {
    /// Read a version line.
    pub fn parse(input: &str) -> Result<Self, VersionLineError> {
        let fail = |reason: &str| VersionLineError {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(fail("it is empty"));
        }
        if trimmed.contains("||") {
            return Err(fail("alternatives with || are not supported"));
        }
        let terms = trimmed
            .split(',')
            .map(|term| parse_term(term.trim()).map_err(|reason| fail(&reason)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(VersionLine {
            raw: trimmed.to_string(),
            terms,
        })
    }

    /// Say whether `version` belongs to this line.
    pub fn matches(&self, version: &Version) -> bool {
        self.terms.iter().all(|term| term.matches(version))
    }

    /// Return the line as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }
}

impl Term {
    fn matches(&self, version: &Version) -> bool {
        match self {
            Term::Prefix(prefix) => version.numbers().starts_with(prefix),
            // `<2.5` leaves out 2.5.0-rc.1 too: a pre-release of the bound
            // belongs to the next line, as in semantic versioning.
            Term::Compare(Op::Lt, bound) if !bound.is_prerelease() => {
                version.cmp_release(bound) == Ordering::Less
            }
            Term::Compare(op, bound) => {
                let ord = version.cmp_precedence(bound);
                match op {
                    Op::Eq => ord == Ordering::Equal,
                    Op::Gt => ord == Ordering::Greater,
                    Op::Ge => ord != Ordering::Less,
                    Op::Lt => ord == Ordering::Less,
                    Op::Le => ord != Ordering::Greater,
                }
            }
            Term::Range { low, high } => {
                version.cmp_precedence(low) != Ordering::Less
                    && version.cmp_release(high) == Ordering::Less
            }
        }
    }
}

fn parse_term(term: &str) -> Result<Term, String> {
    if term.is_empty() {
        return Err("an empty term between commas".into());
    }
    if matches!(term, "*" | "x" | "X") {
        return Ok(Term::Prefix(Vec::new()));
    }
    let operators = [">=", "<=", ">", "<", "=", "~", "^"];
    let (op, rest) = operators
        .iter()
        .find_map(|op| term.strip_prefix(op).map(|rest| (*op, rest.trim())))
        .unwrap_or(("", term));

    if op.is_empty() {
        return parse_prefix(rest).map(Term::Prefix);
    }
    let bound =
        Version::parse(rest).map_err(|_| format!("{rest:?} after {op:?} is not a version"))?;
    Ok(match op {
        "=" => Term::Compare(Op::Eq, bound),
        ">" => Term::Compare(Op::Gt, bound),
        ">=" => Term::Compare(Op::Ge, bound),
        "<" => Term::Compare(Op::Lt, bound),
        "<=" => Term::Compare(Op::Le, bound),
        "~" => {
            // ~1.2.3 and ~1.2 stay within 1.2; ~1 stays within 1.
            let bump_at = bound.numbers().len().min(2) - 1;
            range_to_next(bound, bump_at)
        }
        _ => {
            // ^1.2.3 stays within 1; ^0.2.3 within 0.2; ^0.0.3 within 0.0.3.
            let numbers = bound.numbers();
            let bump_at = numbers
                .iter()
                .position(|n| *n != 0)
                .unwrap_or(numbers.len() - 1);
            range_to_next(bound, bump_at)
        }
    })
}

fn range_to_next(low: Version, bump_at: usize) -> Term {
    let mut high: Vec<u64> = low.numbers()[..=bump_at].to_vec();
    high[bump_at] += 1;
    let high = high
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".");
    let high = Version::parse(&high).expect("numeric components always parse");
    Term::Range { low, high }
}

fn parse_prefix(pattern: &str) -> Result<Vec<u64>, String> {
    let pattern = pattern
        .strip_prefix('v')
        .or_else(|| pattern.strip_prefix('V'))
        .unwrap_or(pattern);
    let mut prefix = Vec::new();
    let mut parts = pattern.split('.').peekable();
    while let Some(part) = parts.next() {
        if matches!(part, "x" | "X" | "*") {
            if parts.peek().is_some() {
                return Err("a wildcard may only end the line (621.x, not x.1)".into());
            }
            break;
        }
        let number = part
            .parse::<u64>()
            .ok()
            .filter(|_| part.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| format!("{part:?} is neither a number nor a wildcard (x or *)"))?;
        prefix.push(number);
    }
    Ok(prefix)
}

impl FromStr for VersionLine {
    type Err = VersionLineError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        VersionLine::parse(s)
    }
}

impl fmt::Display for VersionLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl<'de> serde::Deserialize<'de> for VersionLine {
    /// Accept a string, or a whole number (YAML `version: 621` reaches the
    /// resource as the JSON number 621). A fractional number is refused:
    /// YAML reads `621.10` as 621.1, which is another line.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LineVisitor;

        impl serde::de::Visitor<'_> for LineVisitor {
            type Value = VersionLine;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a version line such as \"621.x\" or \"~2.4\"")
            }

            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<VersionLine, E> {
                VersionLine::parse(s).map_err(E::custom)
            }

            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<VersionLine, E> {
                self.visit_str(&n.to_string())
            }

            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<VersionLine, E> {
                self.visit_str(&n.to_string())
            }

            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<VersionLine, E> {
                Err(E::custom(format!(
                    "the number {n} is ambiguous (YAML reads 621.10 as 621.1); quote the version line"
                )))
            }
        }

        deserializer.deserialize_any(LineVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(s: &str) -> VersionLine {
        VersionLine::parse(s).unwrap()
    }

    fn matching<'a>(l: &str, versions: &[&'a str]) -> Vec<&'a str> {
        let l = line(l);
        versions
            .iter()
            .copied()
            .filter(|v| l.matches(&Version::parse(v).unwrap()))
            .collect()
    }

    const SAMPLE: &[&str] = &[
        "621",
        "621.9",
        "621.10",
        "621.125",
        "6210.1",
        "62.1",
        "456.1",
        "2.3.9",
        "2.4.0",
        "2.4.7",
        "2.4.7.1",
        "2.5.0-rc.1",
        "2.5.0",
        "3.0.0",
    ];

    #[test]
    fn wildcard_lines_are_prefixes() {
        let line_621 = ["621", "621.9", "621.10", "621.125"];
        assert_eq!(matching("621.x", SAMPLE), line_621);
        assert_eq!(matching("621.*", SAMPLE), line_621);
        assert_eq!(matching("621", SAMPLE), line_621);
        assert_eq!(matching("2.4.x", SAMPLE), ["2.4.0", "2.4.7", "2.4.7.1"]);
        assert_eq!(matching("*", SAMPLE).len(), SAMPLE.len());
    }

    #[test]
    fn tilde_stays_in_the_minor_line() {
        assert_eq!(matching("~2.4", SAMPLE), ["2.4.0", "2.4.7", "2.4.7.1"]);
        assert_eq!(matching("~2.4.7", SAMPLE), ["2.4.7", "2.4.7.1"]);
        assert_eq!(
            matching("~621", SAMPLE),
            ["621", "621.9", "621.10", "621.125"]
        );
    }

    #[test]
    fn caret_stays_in_the_major_line_and_skips_next_prereleases() {
        assert_eq!(
            matching("^2.4", SAMPLE),
            ["2.4.0", "2.4.7", "2.4.7.1", "2.5.0-rc.1", "2.5.0"]
        );
        assert_eq!(
            matching("^0.2.3", &["0.2.3", "0.2.9", "0.3.0"]),
            ["0.2.3", "0.2.9"]
        );
        assert_eq!(
            matching("~2.4", &["2.5.0-rc.1", "2.4.9-rc.1"]),
            ["2.4.9-rc.1"]
        );
    }

    #[test]
    fn comparators_combine() {
        assert_eq!(matching(">=2.4.7, <2.5", SAMPLE), ["2.4.7", "2.4.7.1"]);
        assert_eq!(matching(">621.9,<=621.125", SAMPLE), ["621.10", "621.125"]);
        assert_eq!(matching("=2.4.7", SAMPLE), ["2.4.7"]);
    }

    #[test]
    fn bad_lines_name_the_problem() {
        for (bad, reason) in [
            ("", "it is empty"),
            ("x.1", "a wildcard may only end the line"),
            ("621.y", "\"y\" is neither a number nor a wildcard"),
            (">=abc", "\"abc\" after \">=\" is not a version"),
            ("1.x || 2.x", "alternatives with || are not supported"),
            ("1.x,", "an empty term between commas"),
        ] {
            let err = VersionLine::parse(bad).unwrap_err().to_string();
            assert!(err.contains(reason), "{bad:?}: {err}");
        }
    }

    #[test]
    fn deserializes_from_string_or_whole_number_only() {
        let l: VersionLine = serde_json::from_str("\"621.x\"").unwrap();
        assert_eq!(l.as_str(), "621.x");
        let l: VersionLine = serde_json::from_str("3468").unwrap();
        assert!(l.matches(&Version::parse("3468.12").unwrap()));
        let err = serde_json::from_str::<VersionLine>("621.1")
            .unwrap_err()
            .to_string();
        assert!(err.contains("quote the version line"), "{err}");
    }
}
