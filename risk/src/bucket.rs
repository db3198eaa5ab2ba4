//! Order-rate token bucket in integer nanoseconds.

/// A token bucket: `burst` tokens, refilled at one token per `ns_per_token`.
///
/// The level is held as nanoseconds of credit, so refill is one addition and a clamp. Time
/// that goes backwards refills nothing. Never allocates.
///
/// # Examples
/// ```
/// use crpbot_risk::TokenBucket;
/// let mut b = TokenBucket::new(2, 1_000_000_000, 0).unwrap(); // 2 tokens, 1 per second
/// assert!(b.try_take(1));
/// assert!(b.try_take(1));
/// assert!(!b.try_take(1));
/// assert!(b.try_take(1_000_000_001)); // one second later: one more
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenBucket {
    level_ns: i64,
    cap_ns: i64,
    ns_per_token: i64,
    last_ts_ns: i64,
}

impl TokenBucket {
    /// A full bucket of `burst` tokens at time `now_ns`; `None` if a value is not positive
    /// or `burst × ns_per_token` overflows.
    pub fn new(burst: u32, ns_per_token: i64, now_ns: i64) -> Option<TokenBucket> {
        if burst == 0 || ns_per_token <= 0 {
            return None;
        }
        let cap_ns = i64::from(burst).checked_mul(ns_per_token)?;
        Some(TokenBucket { level_ns: cap_ns, cap_ns, ns_per_token, last_ts_ns: now_ns })
    }

    #[inline]
    fn refill(&mut self, now_ns: i64) {
        if now_ns > self.last_ts_ns {
            let add = now_ns - self.last_ts_ns;
            self.level_ns = self.level_ns.saturating_add(add).min(self.cap_ns);
            self.last_ts_ns = now_ns;
        }
    }

    /// True when a token is available at `now_ns` (nothing is taken).
    #[inline]
    pub fn peek(&mut self, now_ns: i64) -> bool {
        self.refill(now_ns);
        self.level_ns >= self.ns_per_token
    }

    /// Takes a token at `now_ns` if one is available.
    #[inline]
    pub fn try_take(&mut self, now_ns: i64) -> bool {
        if self.peek(now_ns) {
            self.level_ns -= self.ns_per_token;
            true
        } else {
            false
        }
    }

    /// Whole tokens available (as of the last refill).
    pub fn tokens(&self) -> i64 {
        self.level_ns / self.ns_per_token
    }
}
