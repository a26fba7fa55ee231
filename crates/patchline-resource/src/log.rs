//! Human log lines for the build log: stderr only, since stdout carries
//! the protocol JSON Concourse reads.

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
    pub fn info(&self, line: impl std::fmt::Display) {
        eprintln!("{line}");
    }

    /// Write a line shown only with `debug: true`.
    pub fn debug(&self, line: impl std::fmt::Display) {
        if self.debug {
            eprintln!("debug: {line}");
        }
    }
}
