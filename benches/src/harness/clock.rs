//! The harness clock: monotonic nanoseconds since a process-wide epoch.

use std::sync::OnceLock;
use std::time::Instant;

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Monotonic nanoseconds since a process-wide epoch (the first call of this function), for
/// stage [`Stamps`](super::Stamps).
///
/// Never returns 0 (0 marks a stage that was not reached), never goes backwards, and is
/// comparable across threads (the OS monotonic clock; on Linux `CLOCK_MONOTONIC` through the
/// vDSO, no syscall when the clock source is the TSC or kvm-clock).
///
/// **Cost.** After the first call: one acquire load of the epoch (no lock, no allocation) and
/// one `Instant::now()`. [`measure_now_ns_cost`] measures it on the running machine: on the
/// project's 2-vCPU VM (TSC clock source, vDSO) 30–55 ns per call in a release build with the
/// machine loaded (load average ≈ 7); more under contention. The first call initialises the
/// epoch (a one-time `OnceLock` initialisation); call it once at start-up.
///
/// # Examples
/// ```
/// use crpbot_benches::harness::now_ns;
/// let a = now_ns();
/// let b = now_ns();
/// assert!(a >= 1 && b >= a);
/// ```
#[inline]
pub fn now_ns() -> u64 {
    let epoch = *EPOCH.get_or_init(Instant::now);
    let d = Instant::now().saturating_duration_since(epoch);
    // 2^64 ns is 584 years: the multiplication cannot overflow in a process's lifetime, but
    // saturate anyway rather than wrap.
    d.as_secs().saturating_mul(1_000_000_000).saturating_add(u64::from(d.subsec_nanos())).max(1)
}

/// The mean cost of one [`now_ns`] call in nanoseconds, over `calls` back-to-back calls
/// (at least 1). Report it next to stage latencies: every stamp pays it once.
///
/// # Examples
/// ```
/// let ns = crpbot_benches::harness::measure_now_ns_cost(10_000);
/// assert!(ns.is_finite() && ns >= 0.0);
/// ```
pub fn measure_now_ns_cost(calls: u32) -> f64 {
    let calls = calls.max(1);
    let _ = now_ns();
    let start = Instant::now();
    let mut acc = 0u64;
    for _ in 0..calls {
        acc = acc.wrapping_add(std::hint::black_box(now_ns()));
    }
    std::hint::black_box(acc);
    start.elapsed().as_nanos() as f64 / f64::from(calls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_zero_and_monotonic_across_threads() {
        let mut prev = now_ns();
        assert!(prev >= 1);
        for _ in 0..10_000 {
            let t = now_ns();
            assert!(t >= prev);
            prev = t;
        }
        let main = now_ns();
        let other = std::thread::spawn(now_ns).join().unwrap();
        assert!(other >= main, "the epoch is process-wide");
    }
}
