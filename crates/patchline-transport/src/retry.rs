//! When to try again, and how long to wait first.
//!
//! Connection failures, resets, timeouts, `408`, `429` and `5xx` are worth
//! another try; every other `4xx` is an answer. Waits grow exponentially
//! from one second to thirty with random jitter, so many workers that
//! failed together do not come back together; a server's `Retry-After` is
//! honoured. Attempts and the total time spent waiting are both bounded.

use std::time::{Duration, SystemTime};

/// What a failed attempt allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// The answer is final.
    Never,
    /// Try again after an exponential, jittered wait.
    Backoff,
    /// Try again after what the server asked for (`Retry-After`).
    After(Duration),
    /// Try again at once (a restart from zero, a fresh signed URL).
    Now,
}

/// The first wait.
const BASE: Duration = Duration::from_secs(1);
/// The longest wait between two attempts.
const CAP: Duration = Duration::from_secs(30);

/// Return the wait before attempt `next` (2 for the first retry).
pub(crate) fn wait_before(next: u32, retry: Retry) -> Duration {
    match retry {
        Retry::Never | Retry::Now => Duration::ZERO,
        Retry::After(wait) => wait,
        Retry::Backoff => {
            let exponential = BASE.saturating_mul(1 << (next.saturating_sub(2)).min(16));
            exponential.min(CAP).mul_f64(0.5 + 0.5 * random_unit())
        }
    }
}

/// Say whether an HTTP status is worth another try.
pub(crate) fn retryable_status(status: u16) -> bool {
    status == 408 || status == 429 || (500..600).contains(&status)
}

/// Read a `Retry-After` value: seconds, or an HTTP date.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let at: SystemTime = at.into();
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// A number in [0, 1) that differs between processes and calls; jitter
/// needs no better randomness than this.
fn random_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_with_jitter_and_a_cap() {
        for _ in 0..50 {
            let first = wait_before(2, Retry::Backoff);
            assert!(
                first >= Duration::from_millis(500) && first <= BASE,
                "{first:?}"
            );
            let third = wait_before(4, Retry::Backoff);
            assert!(third >= Duration::from_secs(2) && third <= Duration::from_secs(4));
            let late = wait_before(30, Retry::Backoff);
            assert!(late >= CAP / 2 && late <= CAP, "{late:?}");
        }
        assert_eq!(
            wait_before(2, Retry::After(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
        assert_eq!(wait_before(2, Retry::Now), Duration::ZERO);
    }

    #[test]
    fn statuses_worth_a_retry() {
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(retryable_status(status), "{status}");
        }
        for status in [400, 401, 403, 404, 410, 416] {
            assert!(!retryable_status(status), "{status}");
        }
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
