//! Injected time. Nothing in crpbot reads the wall clock directly: it asks a [`Clock`].

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of nanoseconds since the Unix epoch.
pub trait Clock: Send + Sync {
    /// The current time in nanoseconds since the Unix epoch.
    fn now_ns(&self) -> i64;
}

/// The system's real-time clock (read through the vDSO: no syscall on Linux x86-64).
#[derive(Clone, Copy, Debug, Default)]
pub struct LiveClock;

impl Clock for LiveClock {
    #[inline]
    fn now_ns(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
    }
}

/// A clock driven by replayed events: it reads the timestamp of the latest event it was
/// advanced to, and never goes backwards.
///
/// # Examples
/// ```
/// use crpbot_core::{Clock, ReplayClock};
/// let clock = ReplayClock::new(100);
/// clock.advance_to(250);
/// clock.advance_to(200); // ignored: time does not go backwards
/// assert_eq!(clock.now_ns(), 250);
/// ```
#[derive(Debug, Default)]
pub struct ReplayClock {
    now_ns: AtomicI64,
}

impl ReplayClock {
    /// A replay clock starting at `start_ns`.
    pub const fn new(start_ns: i64) -> ReplayClock {
        ReplayClock { now_ns: AtomicI64::new(start_ns) }
    }

    /// Moves the clock to `ts_ns` if that is later than now.
    #[inline]
    pub fn advance_to(&self, ts_ns: i64) {
        self.now_ns.fetch_max(ts_ns, Ordering::Relaxed);
    }
}

impl Clock for ReplayClock {
    #[inline]
    fn now_ns(&self) -> i64 {
        self.now_ns.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_clock_is_after_2024() {
        assert!(LiveClock.now_ns() > 1_704_067_200_000_000_000);
    }

    #[test]
    fn replay_clock_is_monotonic() {
        let c = ReplayClock::new(5);
        assert_eq!(c.now_ns(), 5);
        c.advance_to(3);
        assert_eq!(c.now_ns(), 5);
        c.advance_to(7);
        assert_eq!(c.now_ns(), 7);
    }
}
