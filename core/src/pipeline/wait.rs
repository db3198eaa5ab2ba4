//! How an idle thread waits, and the park/unpark hand-shake of [`WaitStrategy::SpinThenPark`].
//!
//! | strategy | use it for | cost when idle | hand-off cost |
//! |---|---|---|---|
//! | [`WaitStrategy::Spin`] | pinned threads on dedicated cores: `Split` with one core per group, or `Fused` on its own core | one core at 100 % | none (no flag, no fence) |
//! | [`WaitStrategy::SpinThenPark`] | shared machines (CI, a laptop, 2 cores with other work) in either topology | spins, then sleeps in the kernel | a `SeqCst` fence and one load of an unshared line per push; a syscall only when the consumer had parked |
//! | [`WaitStrategy::Yield`] | tests on oversubscribed machines (`Split` with more groups than cores) | a `sched_yield` per idle loop | none |
//!
//! The park protocol (Dekker-style; loom-checked in `pipeline::loom`):
//! consumer: `parked = true; fence(SeqCst); if ring empty { park_timeout } ; parked = false`.
//! producer, after each push: `fence(SeqCst); if parked { unpark }`.
//! Of the two fences one comes first in the single total order, so either the consumer sees the
//! item and does not park, or the producer sees the flag and unparks. The timeout is a safety
//! net only; the loom model runs without it and would deadlock on a lost wake-up.

use std::time::Duration;

use crossbeam_utils::CachePadded;

use super::sync::{Arc, AtomicBool, Ordering, Thread, fence, park_timeout};

/// How a stage thread waits when it has nothing to do. See the module table for which suits
/// which topology.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitStrategy {
    /// Busy-spin with `std::hint::spin_loop` (no syscall ever). Pinned, dedicated cores only.
    Spin,
    /// Spin `spins` idle rounds, then park for at most `park` until the upstream producer
    /// unparks the thread. For shared machines.
    SpinThenPark {
        /// Idle rounds spent spinning before parking.
        spins: u32,
        /// Longest park; also the polling period of a parked source group.
        park: Duration,
    },
    /// `std::thread::yield_now` per idle round: lets oversubscribed test machines make progress.
    Yield,
}

impl WaitStrategy {
    /// True for the strategy that needs producers to notify (and so pay a fence per push).
    pub const fn parks(self) -> bool {
        matches!(self, WaitStrategy::SpinThenPark { .. })
    }
}

/// The flag a consumer raises before parking; shared with its producer's [`Notifier`].
#[derive(Debug)]
pub(crate) struct ParkSlot {
    parked: CachePadded<AtomicBool>,
}

impl ParkSlot {
    pub(crate) fn new() -> Arc<ParkSlot> {
        Arc::new(ParkSlot { parked: CachePadded::new(AtomicBool::new(false)) })
    }

    /// Parks the current thread for at most `timeout` unless `has_work` (re-checked after the
    /// flag is raised) finds something to do. Returns true if it actually parked.
    pub(crate) fn park_unless(&self, has_work: impl FnOnce() -> bool, timeout: Duration) -> bool {
        self.parked.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        let park = !has_work();
        if park {
            park_timeout(timeout);
        }
        self.parked.store(false, Ordering::Relaxed);
        park
    }
}

/// The producer's half of the park protocol: wakes the consumer thread if it flagged itself
/// parked.
#[derive(Debug, Clone)]
pub(crate) struct Notifier {
    slot: Arc<ParkSlot>,
    thread: Thread,
}

impl Notifier {
    pub(crate) fn new(slot: Arc<ParkSlot>, thread: Thread) -> Notifier {
        Notifier { slot, thread }
    }

    /// Call after publishing an item. No syscall unless the consumer is parked.
    ///
    /// Every push between the consumer raising its flag and lowering it after waking calls
    /// `unpark` (std's unpark is an atomic swap, and a futex wake only if the thread is really
    /// asleep). Clearing the flag from the producer side (`swap(false)`) would make that one
    /// call, but the loom model reports a lost wake-up for that variant (not yet analysed whether
    /// that is loom's fence modelling or a real race), so it is not used.
    #[inline]
    pub(crate) fn notify(&self) -> bool {
        fence(Ordering::SeqCst);
        if self.slot.parked.load(Ordering::Relaxed) {
            self.thread.unpark();
            true
        } else {
            false
        }
    }

    /// Unconditional wake (shutdown, producer gone).
    pub(crate) fn wake(&self) {
        self.thread.unpark();
    }
}

/// Per-thread idle state for a [`WaitStrategy`].
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct Waiter {
    strategy: WaitStrategy,
    idle_rounds: u32,
    slot: Arc<ParkSlot>,
    /// Times the thread actually parked.
    pub(crate) parks: u64,
}

#[cfg(not(loom))]
impl Waiter {
    pub(crate) fn new(strategy: WaitStrategy, slot: Arc<ParkSlot>) -> Waiter {
        Waiter { strategy, idle_rounds: 0, slot, parks: 0 }
    }

    /// Work was done: the next idle round starts spinning afresh.
    #[inline]
    pub(crate) fn reset(&mut self) {
        self.idle_rounds = 0;
    }

    /// One idle round. `has_work` is re-checked before parking.
    #[inline]
    pub(crate) fn idle(&mut self, has_work: impl Fn() -> bool) {
        match self.strategy {
            WaitStrategy::Spin => std::hint::spin_loop(),
            WaitStrategy::Yield => std::thread::yield_now(),
            WaitStrategy::SpinThenPark { spins, park } => {
                if self.idle_rounds < spins {
                    self.idle_rounds += 1;
                    std::hint::spin_loop();
                } else if self.slot.park_unless(has_work, park) {
                    self.parks += 1;
                }
            }
        }
    }
}

/// Longest nap of a producer waiting for room under `SpinThenPark`.
#[cfg(not(loom))]
const PRODUCER_NAP: Duration = Duration::from_micros(50);

/// A producer waiting for room on a full decision edge (trading is halted). The consumer does
/// not signal room, so under `SpinThenPark` the producer spins `spins` rounds and then naps for
/// at most 50 µs (or `park`, if shorter) per round rather than parking for the full `park`.
#[cfg(not(loom))]
#[inline]
pub(crate) fn backoff(strategy: WaitStrategy, round: u32) {
    match strategy {
        WaitStrategy::Spin => std::hint::spin_loop(),
        WaitStrategy::Yield => std::thread::yield_now(),
        WaitStrategy::SpinThenPark { spins, park } => {
            if round < spins {
                std::hint::spin_loop();
            } else {
                std::thread::park_timeout(park.min(PRODUCER_NAP));
            }
        }
    }
}
