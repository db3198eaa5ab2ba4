//! [`Pacer`]: releases messages at a fixed rate and reports how far behind schedule it fell.

use std::time::Duration;

use super::clock::now_ns;

/// How a [`Pacer`] waits for the next message's scheduled time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaceWait {
    /// Busy-spin on [`now_ns`] (no syscall; one core at 100 %). For a pinned load generator.
    Spin,
    /// `std::thread::yield_now` between clock reads (a syscall per round). For shared machines.
    Yield,
    /// Sleep while more than `margin_ns` remain, then spin. For low rates, where spinning
    /// between messages would waste a core; the sleep's own lateness shows as lag.
    SleepThenSpin {
        /// Time before the due time at which sleeping stops and spinning starts.
        margin_ns: u64,
    },
}

/// Creating a [`Pacer`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PacerError {
    /// A rate of 0 messages per second.
    #[error("the rate must be at least 1 message per second")]
    ZeroRate,
}

/// How well a [`Pacer`] kept its schedule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacerStats {
    /// Messages released.
    pub released: u64,
    /// Largest lateness of a release (ns after its scheduled time).
    pub max_lag_ns: u64,
    /// Sum of the lateness of every release (ns).
    pub total_lag_ns: u64,
    /// Releases more than one interval late: the schedule could not be kept.
    pub late: u64,
}

/// Fixed-rate load: message `i` is due at `start + i · 1e9 / rate` ns (exact integer
/// arithmetic, so the schedule does not drift). [`Pacer::wait_next`] waits until the next
/// message is due and returns its scheduled time.
///
/// **Coordinated omission.** Stamp `ingress` with [`now_ns`] *after* `next` returns (the actual
/// release) and build the recorder with
/// [`with_expected_interval(pacer.interval_ns())`](super::LatencyRecorder::with_expected_interval):
/// HdrHistogram's `record_correct` then adds the samples that a stall kept from being sent.
/// Stamping the scheduled time instead would also charge the wait to every per-stage interval
/// from ingress and, with the recorder's correction on, count the omission twice.
///
/// A pacer that falls behind does not skip messages: it releases them as fast as it can and
/// counts the lateness ([`PacerStats`], [`Pacer::behind_note`]).
///
/// # Examples
/// ```
/// use crpbot_benches::harness::{PaceWait, Pacer};
/// let mut p = Pacer::with_start(4, PaceWait::Spin, 1_000)?;
/// assert_eq!(p.interval_ns(), 250_000_000);
/// assert_eq!(p.scheduled_ns(0), 1_000);
/// assert_eq!(p.scheduled_ns(3), 750_001_000);
/// // A start in the past: released at once, lateness counted.
/// let due = p.wait_next();
/// assert_eq!(due, 1_000);
/// assert!(p.stats().max_lag_ns > 0);
/// # Ok::<(), crpbot_benches::harness::PacerError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Pacer {
    rate: u64,
    wait: PaceWait,
    start_ns: u64,
    index: u64,
    stats: PacerStats,
}

impl Pacer {
    /// A pacer at `rate` messages per second whose first message is due now.
    ///
    /// # Errors
    /// [`PacerError::ZeroRate`] for `rate == 0`.
    pub fn new(rate: u64, wait: PaceWait) -> Result<Pacer, PacerError> {
        Pacer::with_start(rate, wait, now_ns())
    }

    /// A pacer whose first message is due at `start_ns` ([`now_ns`] time).
    ///
    /// # Errors
    /// [`PacerError::ZeroRate`] for `rate == 0`.
    pub fn with_start(rate: u64, wait: PaceWait, start_ns: u64) -> Result<Pacer, PacerError> {
        if rate == 0 {
            return Err(PacerError::ZeroRate);
        }
        Ok(Pacer { rate, wait, start_ns, index: 0, stats: PacerStats::default() })
    }

    /// Messages per second.
    pub fn rate(&self) -> u64 {
        self.rate
    }

    /// Nominal interval between messages, ns (`1e9 / rate`, rounded down; at least 1). Pass it
    /// to
    /// [`LatencyRecorder::with_expected_interval`](super::LatencyRecorder::with_expected_interval).
    pub fn interval_ns(&self) -> u64 {
        (1_000_000_000 / self.rate).max(1)
    }

    /// When message `index` is due: `start + index · 1e9 / rate` (saturating).
    pub fn scheduled_ns(&self, index: u64) -> u64 {
        let offset = u128::from(index) * 1_000_000_000 / u128::from(self.rate);
        self.start_ns.saturating_add(u64::try_from(offset).unwrap_or(u64::MAX))
    }

    /// Index of the next message to release.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Waits until the next message is due, then returns its scheduled time (ns).
    /// No allocation; syscalls only with [`PaceWait::Yield`] / [`PaceWait::SleepThenSpin`].
    #[inline]
    pub fn wait_next(&mut self) -> u64 {
        let due = self.scheduled_ns(self.index);
        let mut now = now_ns();
        while now < due {
            match self.wait {
                PaceWait::Spin => std::hint::spin_loop(),
                PaceWait::Yield => std::thread::yield_now(),
                PaceWait::SleepThenSpin { margin_ns } => {
                    let left = due - now;
                    if left > margin_ns {
                        std::thread::sleep(Duration::from_nanos(left - margin_ns));
                    } else {
                        std::hint::spin_loop();
                    }
                }
            }
            now = now_ns();
        }
        self.record_release(due, now);
        due
    }

    /// Accounts a release at `now` of a message due at `due` (public for load generators that
    /// wait their own way).
    #[inline]
    pub fn record_release(&mut self, due: u64, now: u64) {
        let lag = now.saturating_sub(due);
        let interval = self.interval_ns();
        let s = &mut self.stats;
        s.released += 1;
        s.max_lag_ns = s.max_lag_ns.max(lag);
        s.total_lag_ns = s.total_lag_ns.saturating_add(lag);
        if lag > interval {
            s.late += 1;
        }
        self.index += 1;
    }

    /// Schedule keeping so far.
    pub fn stats(&self) -> PacerStats {
        self.stats
    }

    /// `Some(note)` if any release was more than one interval late: the run could not keep up
    /// with its nominal rate, and says so. Allocates (control path).
    pub fn behind_note(&self) -> Option<String> {
        let s = self.stats;
        (s.late > 0).then(|| {
            format!(
                "pacer fell behind at {} msg/s: {} of {} messages released more than one interval \
                 ({} ns) late, max lag {} ns",
                self.rate,
                s.late,
                s.released,
                self.interval_ns(),
                s.max_lag_ns
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_is_exact_and_does_not_drift() {
        // 3 msg/s: the interval is not a whole number of ns.
        let p = Pacer::with_start(3, PaceWait::Spin, 10).unwrap();
        assert_eq!(p.interval_ns(), 333_333_333);
        assert_eq!(p.scheduled_ns(1), 10 + 333_333_333);
        assert_eq!(p.scheduled_ns(2), 10 + 666_666_666);
        assert_eq!(p.scheduled_ns(3), 10 + 1_000_000_000);
        assert_eq!(p.scheduled_ns(3_000_000), 10 + 1_000_000_000_000_000);
        // Huge indices saturate instead of wrapping.
        assert_eq!(p.scheduled_ns(u64::MAX), u64::MAX);
        let fast = Pacer::with_start(2_000_000_000, PaceWait::Spin, 0).unwrap();
        assert_eq!(fast.interval_ns(), 1);
        assert_eq!(fast.scheduled_ns(5), 2);
        assert_eq!(Pacer::new(0, PaceWait::Spin).err(), Some(PacerError::ZeroRate));
    }

    #[test]
    fn lateness_is_accounted() {
        let mut p = Pacer::with_start(1_000, PaceWait::Spin, 1_000_000).unwrap();
        p.record_release(p.scheduled_ns(0), 1_000_000); // on time
        p.record_release(p.scheduled_ns(1), 2_000_500); // 500 ns late: within one interval
        p.record_release(p.scheduled_ns(2), 3_000_000 + 2_000_000); // 2 ms late
        let s = p.stats();
        assert_eq!(
            s,
            PacerStats { released: 3, max_lag_ns: 2_000_000, total_lag_ns: 2_000_500, late: 1 }
        );
        assert_eq!(p.index(), 3);
        let note = p.behind_note().unwrap();
        assert!(note.contains("1 of 3") && note.contains("max lag 2000000 ns"), "{note}");
    }

    #[test]
    fn next_never_releases_early() {
        for wait in [PaceWait::Spin, PaceWait::Yield, PaceWait::SleepThenSpin { margin_ns: 50_000 }]
        {
            let mut p = Pacer::new(200_000, wait).unwrap();
            assert!(p.behind_note().is_none());
            for i in 0..50 {
                let due = p.wait_next();
                assert_eq!(due, p.scheduled_ns(i));
                assert!(now_ns() >= due);
            }
            assert_eq!(p.stats().released, 50);
        }
    }
}
