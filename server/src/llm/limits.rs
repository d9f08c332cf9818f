//! What an LLM request may cost: a per-client rate limit (token bucket) and a token budget per
//! period over all clients, reserved before each call goes out and settled with what it used.

use crate::error::ApiError;
use axum::http::StatusCode;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Requests per minute per client, with a burst.
pub struct RateLimiter {
    per_minute: u32,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// `per_minute` 0 turns the limit off.
    pub fn new(per_minute: u32, burst: u32) -> RateLimiter {
        RateLimiter {
            per_minute,
            burst: burst.max(1) as f64,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Take one request from `client`'s bucket, or say in how many seconds one is free.
    pub fn check(&self, client: &str) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let rate = self.per_minute as f64 / 60.0;
        let now = Instant::now();
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if b.len() > 50_000 {
            // Forget clients whose bucket is full again.
            let burst = self.burst;
            b.retain(|_, (t, at)| *t + now.duration_since(*at).as_secs_f64() * rate < burst);
        }
        let (tokens, at) = b.entry(client.to_string()).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / rate).ceil() as u64)
        }
    }
}

struct Period {
    start: Instant,
    used: u64,
    reserved: u64,
}

/// Tokens allowed per period, over every client and backend that is metered.
pub struct Budget {
    limit: u64,
    period: Duration,
    state: Mutex<Period>,
}

/// Tokens set aside for one call; settle it with what the call used. Dropped unsettled, the
/// whole reservation counts as used (the call went out; its cost is unknown).
pub struct Reservation {
    budget: Arc<Budget>,
    tokens: u64,
    settled: bool,
}

impl Reservation {
    pub fn settle(mut self, used: u64) {
        self.budget.finish(self.tokens, used);
        self.settled = true;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.settled {
            self.budget.finish(self.tokens, self.tokens);
        }
    }
}

/// A rough token count for text: about four characters a token, as OpenAI's guides say.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

impl Budget {
    /// `limit` 0 = unlimited.
    pub fn new(limit: u64, period: Duration) -> Arc<Budget> {
        Arc::new(Budget {
            limit,
            period,
            state: Mutex::new(Period {
                start: Instant::now(),
                used: 0,
                reserved: 0,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Period> {
        let mut p = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if now.duration_since(p.start) >= self.period {
            let periods = now.duration_since(p.start).as_nanos() / self.period.as_nanos();
            p.start += self.period * periods as u32;
            p.used = 0;
        }
        p
    }

    /// Set `tokens` aside, or refuse (429 with the time until the next period) when they would
    /// take the period's spending over the limit.
    pub fn reserve(self: &Arc<Self>, tokens: u64) -> Result<Reservation, ApiError> {
        let mut p = self.lock();
        if self.limit > 0 && p.used + p.reserved + tokens > self.limit {
            let left = self.limit.saturating_sub(p.used + p.reserved);
            let wait = self
                .period
                .saturating_sub(Instant::now().duration_since(p.start))
                .as_secs()
                + 1;
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "budget_exceeded",
                format!(
                    "token budget exhausted: this call needs up to {tokens} tokens, {left} of {} \
                     are left in this period (it renews in {wait} s)",
                    self.limit
                ),
            )
            .with_retry_after(wait));
        }
        p.reserved += tokens;
        Ok(Reservation {
            budget: self.clone(),
            tokens,
            settled: false,
        })
    }

    fn finish(&self, reserved: u64, used: u64) {
        let mut p = self.lock();
        p.reserved = p.reserved.saturating_sub(reserved);
        p.used += used;
    }

    /// (used, limit, seconds until the period renews)
    pub fn status(&self) -> (u64, u64, u64) {
        let p = self.lock();
        let left = self
            .period
            .saturating_sub(Instant::now().duration_since(p.start));
        (p.used, self.limit, left.as_secs())
    }

    pub fn period(&self) -> Duration {
        self.period
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_refuse_past_the_burst_and_say_when() {
        let r = RateLimiter::new(60, 2);
        assert!(r.check("a").is_ok());
        assert!(r.check("a").is_ok());
        assert_eq!(r.check("a"), Err(1));
        assert!(r.check("b").is_ok(), "clients have their own buckets");
        assert!(RateLimiter::new(0, 1).check("a").is_ok());
    }

    #[test]
    fn budget_counts_reservations_and_settles() {
        let b = Budget::new(100, Duration::from_secs(60));
        let r1 = b.reserve(60).unwrap();
        let e = b.reserve(50).err().unwrap();
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(e.retry_after.is_some());
        r1.settle(20);
        let r2 = b.reserve(50).unwrap();
        drop(r2); // unsettled: counted in full
        assert_eq!(b.status().0, 70);
        assert!(b.reserve(31).is_err());
        assert!(
            Budget::new(0, Duration::from_secs(1))
                .reserve(1 << 40)
                .is_ok()
        );
    }
}
