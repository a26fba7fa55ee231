//! Human log lines for the build log: stderr only, since stdout carries
//! the protocol JSON Concourse reads.
//!
//! Lines often quote what a feed or a request said (a version, a file
//! name); control characters in them are escaped and very long lines cut,
//! so a hostile feed cannot forge log lines or flood the build log.

use std::fmt::Display;

/// The longest line written, in characters.
const MAX_LINE: usize = 2000;

/// Writes log lines to stderr; `debug` lines only when the source asks.
#[derive(Debug, Clone, Copy)]
pub struct Log {
    debug: bool,
}

impl Log {
    /// Create a log; `debug` turns on the detailed lines.
    pub fn new(debug: bool) -> Self {
        Log { debug }
    }

    /// Write a line every build log shows.
    pub fn info(&self, line: impl Display) {
        eprintln!("{}", clean(&line.to_string()));
    }

    /// Write a line shown only with `debug: true`.
    pub fn debug(&self, line: impl Display) {
        if self.debug {
            eprintln!("debug: {}", clean(&line.to_string()));
        }
    }
}

fn clean(line: &str) -> String {
    let mut cleaned = String::with_capacity(line.len().min(MAX_LINE));
    for (count, c) in line.chars().enumerate() {
        if count == MAX_LINE {
            cleaned.push_str("...");
            break;
        }
        if c.is_control() {
            cleaned.extend(c.escape_default());
        } else {
            cleaned.push(c);
        }
    }
    cleaned
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_long_lines_cut() {
        assert_eq!(
            clean("skipping 1.0\nforged: line\u{0}"),
            "skipping 1.0\\nforged: line\\u{0}"
        );
        assert_eq!(clean("élan 621.125"), "élan 621.125");
        let long = clean(&"x".repeat(5000));
        assert_eq!(long.len(), MAX_LINE + 3);
    }
}
