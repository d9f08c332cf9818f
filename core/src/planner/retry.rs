//! When an OpenAI-compatible call is worth another try and how long to wait first: one policy
//! for the trainer's HTTP planner and the server's upstream proxy. No clock: it returns waits.

use core::time::Duration;

/// 429 (rate limited) and 5xx (the server failed) may succeed later; other statuses will not.
pub fn retryable_status(status: u16) -> bool {
    status == 429 || (500..600).contains(&status)
}

/// The wait a response asks for: `retry-after-ms` (OpenAI's, in milliseconds) before
/// `Retry-After` in seconds; a date, a negative or an unreadable value is ignored. At most an
/// hour, whatever the header says.
pub fn retry_after(ms: Option<&str>, secs: Option<&str>) -> Option<Duration> {
    let ms = ms
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v / 1e3);
    let secs = ms.or_else(|| secs.and_then(|v| v.trim().parse::<f64>().ok()))?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(3600.0)))
}

/// Bounded retries with exponential backoff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub retries: u32,
    /// Wait before the first retry; doubled for each further one.
    pub backoff: Duration,
    /// Longest wait, whether from the backoff or from the server's `Retry-After`.
    pub max_wait: Duration,
}

impl RetryPolicy {
    /// The wait before the attempt after failed attempt `attempt` (0-based), or `None` when
    /// the retries are spent. The server's `retry_after` wins over the backoff.
    pub fn wait(&self, attempt: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if attempt >= self.retries {
            return None;
        }
        let backoff = self.backoff.saturating_mul(1 << attempt.min(16));
        Some(retry_after.unwrap_or(backoff).min(self.max_wait))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rate_limits_and_server_errors_retry() {
        for (s, want) in [(429, true), (500, true), (503, true), (599, true)] {
            assert_eq!(retryable_status(s), want, "{s}");
        }
        for s in [200, 400, 401, 404, 413, 422, 600] {
            assert!(!retryable_status(s), "{s}");
        }
    }

    #[test]
    fn retry_after_prefers_milliseconds_and_ignores_dates() {
        assert_eq!(retry_after(None, Some("2")), Some(Duration::from_secs(2)));
        assert_eq!(
            retry_after(Some("250"), Some("1")),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            retry_after(None, Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            None
        );
        assert_eq!(retry_after(None, Some("-1")), None);
        assert_eq!(
            retry_after(None, Some("1e9")),
            Some(Duration::from_secs(3600))
        );
    }

    #[test]
    fn backoff_doubles_is_capped_and_stops() {
        let p = RetryPolicy {
            retries: 3,
            backoff: Duration::from_millis(500),
            max_wait: Duration::from_secs(1),
        };
        assert_eq!(p.wait(0, None), Some(Duration::from_millis(500)));
        assert_eq!(p.wait(1, None), Some(Duration::from_secs(1)), "capped");
        assert_eq!(
            p.wait(2, Some(Duration::from_millis(10))),
            Some(Duration::from_millis(10))
        );
        assert_eq!(
            p.wait(0, Some(Duration::from_secs(60))),
            Some(Duration::from_secs(1))
        );
        assert_eq!(p.wait(3, None), None, "three retries, then no more");
    }
}
