//! Reconnect pacing: exponential backoff with jitter, and a sliding-window cap on connection
//! attempts (Binance: at most 300 attempts per 5 minutes per IP).

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// Exponential backoff with "equal jitter": the n-th delay is uniform in
/// `[d/2, d]` where `d = min(max, initial · 2ⁿ)`.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use crpbot_feeds::session::backoff::Backoff;
/// let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1), 7);
/// let d0 = b.next_delay();
/// assert!(d0 >= Duration::from_millis(50) && d0 <= Duration::from_millis(100));
/// for _ in 0..10 { b.next_delay(); }
/// assert!(b.next_delay() <= Duration::from_secs(1));
/// b.reset();
/// assert!(b.next_delay() <= Duration::from_millis(100));
/// ```
#[derive(Clone, Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
    rng: u64,
}

impl Backoff {
    /// A backoff from `initial` doubling up to `max`, jitter seeded by `seed`.
    pub fn new(initial: Duration, max: Duration, seed: u64) -> Backoff {
        // Scramble the seed so that neighbouring seeds jitter differently.
        let rng = (seed ^ 0x853c_49e6_748f_ea9b).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        Backoff { initial, max: max.max(initial), attempt: 0, rng }
    }

    /// The next delay; each call doubles the base until `max`.
    pub fn next_delay(&mut self) -> Duration {
        let base = self.initial.saturating_mul(1u32 << self.attempt.min(20)).min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        // xorshift64*: seeded, deterministic, good enough for jitter.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let r = self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11; // 53 bits
        let frac = r as f64 / (1u64 << 53) as f64;
        base / 2 + base.mul_f64(frac / 2.0)
    }

    /// Back to the initial delay (after a healthy connection).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// Delays handed out since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

/// At most `max` connection attempts in any `window`.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use crpbot_feeds::session::backoff::ConnectLimiter;
/// use tokio::time::Instant;
/// let mut l = ConnectLimiter::new(2, Duration::from_secs(300));
/// let t0 = Instant::now();
/// assert_eq!(l.wait_until(t0), None);
/// l.record(t0);
/// l.record(t0);
/// assert_eq!(l.wait_until(t0), Some(t0 + Duration::from_secs(300)));
/// ```
#[derive(Clone, Debug)]
pub struct ConnectLimiter {
    max: usize,
    window: Duration,
    attempts: VecDeque<Instant>,
}

impl ConnectLimiter {
    /// A limiter of `max` attempts per `window` (`max` 0 is treated as 1).
    pub fn new(max: u32, window: Duration) -> ConnectLimiter {
        let max = (max as usize).max(1);
        ConnectLimiter { max, window, attempts: VecDeque::with_capacity(max) }
    }

    /// `None` if an attempt may start at `now`, else the instant it may.
    pub fn wait_until(&mut self, now: Instant) -> Option<Instant> {
        while self.attempts.front().is_some_and(|&t| now.duration_since(t) >= self.window) {
            self.attempts.pop_front();
        }
        if self.attempts.len() < self.max {
            None
        } else {
            self.attempts.front().map(|&t| t + self.window)
        }
    }

    /// Records an attempt at `now`.
    pub fn record(&mut self, now: Instant) {
        if self.attempts.len() >= self.max {
            self.attempts.pop_front();
        }
        self.attempts.push_back(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_within_jitter_and_cap() {
        let mut b = Backoff::new(Duration::from_millis(250), Duration::from_secs(3), 42);
        let bases = [250u64, 500, 1000, 2000, 3000, 3000];
        for base in bases {
            let d = b.next_delay().as_millis() as u64;
            assert!(d >= base / 2 && d <= base, "{d} not in [{}, {base}]", base / 2);
        }
        assert_eq!(b.attempts(), 6);
    }

    #[test]
    fn jitter_spreads_delays() {
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..20 {
            let mut b = Backoff::new(Duration::from_millis(1000), Duration::from_secs(1), seed);
            seen.insert(b.next_delay().as_micros());
        }
        assert!(seen.len() > 10, "{seen:?}");
    }

    #[test]
    fn limiter_keeps_300_attempts_per_5_minutes() {
        let window = Duration::from_secs(300);
        let mut l = ConnectLimiter::new(300, window);
        let t0 = Instant::now();
        // 1000 attempts as fast as the limiter allows: never more than 300 in any window.
        let mut now = t0;
        let mut times = Vec::new();
        for _ in 0..1000 {
            if let Some(t) = l.wait_until(now) {
                now = t;
            }
            assert!(l.wait_until(now).is_none());
            l.record(now);
            times.push(now);
        }
        for (i, &t) in times.iter().enumerate() {
            let in_window =
                times[i..].iter().take_while(|&&u| u.duration_since(t) < window).count();
            assert!(in_window <= 300, "{in_window} attempts within 5 min from #{i}");
        }
        assert!(times[999].duration_since(t0) >= window * 3);
    }
}
