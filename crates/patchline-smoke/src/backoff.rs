//! Retry pacing: how long a failing check waits before its next attempt.

use std::time::Duration;

/// Exponential backoff: the first wait, doubled after each failure, never
/// longer than the cap.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    cap: Duration,
}

impl Backoff {
    /// The first wait of [`Backoff::default`].
    pub const FIRST: Duration = Duration::from_millis(250);
    /// The longest wait of [`Backoff::default`]: short enough that a service
    /// coming back is noticed within a few seconds.
    pub const CAP: Duration = Duration::from_secs(4);

    /// Create a backoff that waits `first`, then twice that, up to `cap`.
    pub fn new(first: Duration, cap: Duration) -> Self {
        Self {
            next: first.min(cap),
            cap,
        }
    }

    /// Return the wait before the next attempt and double the one after it.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = self.next.saturating_mul(2).min(self.cap);
        delay
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(Self::FIRST, Self::CAP)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_until_the_cap() {
        let mut backoff = Backoff::default();
        let waits: Vec<u64> = (0..7)
            .map(|_| backoff.next_delay().as_millis() as u64)
            .collect();
        assert_eq!(waits, [250, 500, 1000, 2000, 4000, 4000, 4000]);
    }

    #[test]
    fn first_wait_above_cap_is_capped() {
        let mut backoff = Backoff::new(Duration::from_secs(10), Duration::from_secs(3));
        assert_eq!(backoff.next_delay(), Duration::from_secs(3));
        assert_eq!(backoff.next_delay(), Duration::from_secs(3));
    }
}
