//! Cross-thread control latches: the [`HaltFlag`] a full decision edge sets, and the
//! [`Shutdown`] token that stops sources and, as a last resort, aborts blocked pushes.
//!
//! Each flag is one atomic on its own cache line (`CachePadded`), so reading it on every loop
//! iteration of a hot thread costs a load from a line nobody writes in steady state.

use crossbeam_utils::CachePadded;

use super::sync::{Arc, AtomicBool, AtomicU8, Ordering};

/// A latch that halts trading: set when a decision-carrying edge finds its ring full (so the
/// decision waits instead of being dropped), or by anything else that must stop new orders.
///
/// Clones share the latch. It can be set ([`HaltFlag::latch`]) and read by anyone holding a
/// clone, but only cleared through the [`HaltReset`] returned by [`HaltFlag::new`], which the
/// control plane keeps (re-arming is an operator action, not a strategy's).
///
/// # Examples
/// ```
/// use crpbot_core::pipeline::HaltFlag;
/// let (halt, reset) = HaltFlag::new();
/// let seen_by_risk = halt.clone();
/// assert!(!seen_by_risk.is_halted());
/// halt.latch();
/// assert!(seen_by_risk.is_halted());
/// reset.rearm();
/// assert!(!seen_by_risk.is_halted());
/// ```
#[derive(Clone, Debug)]
pub struct HaltFlag {
    halted: Arc<CachePadded<AtomicBool>>,
}

/// The one handle that can clear a [`HaltFlag`]; deliberately not `Clone`.
#[derive(Debug)]
pub struct HaltReset {
    halted: Arc<CachePadded<AtomicBool>>,
}

impl HaltFlag {
    /// A clear latch and its reset handle.
    pub fn new() -> (HaltFlag, HaltReset) {
        let halted = Arc::new(CachePadded::new(AtomicBool::new(false)));
        (HaltFlag { halted: halted.clone() }, HaltReset { halted })
    }

    /// Sets the latch. Release ordering: whatever the caller wrote before latching (counters, a
    /// reason code) is visible to a thread that then sees [`HaltFlag::is_halted`] return true.
    #[inline]
    pub fn latch(&self) {
        self.halted.store(true, Ordering::Release);
    }

    /// True once latched, until an operator re-arms.
    #[inline]
    pub fn is_halted(&self) -> bool {
        self.halted.load(Ordering::Acquire)
    }
}

impl HaltReset {
    /// Clears the latch (an operator action; journal it).
    pub fn rearm(&self) {
        self.halted.store(false, Ordering::Release);
    }

    /// A flag sharing this latch.
    pub fn flag(&self) -> HaltFlag {
        HaltFlag { halted: self.halted.clone() }
    }
}

// States only move up (`fetch_max`), so a stop never downgrades an abort.
const RUNNING: u8 = 0;
const STOPPING: u8 = 1;
const ABORTED: u8 = 2;

/// The stop token shared by every stage thread of a pipeline.
///
/// * [`Shutdown::stop`]: graceful. Sources stop being polled; every downstream group drains its
///   input ring until the upstream thread has finished and the ring is empty, then returns.
///   Nothing in flight is lost.
/// * [`Shutdown::abort`]: last resort for a consumer that never recovers. Producers blocked on a
///   full decision edge give the item back (counted as handed back) and every loop returns
///   without draining.
///
/// # Examples
/// ```
/// use crpbot_core::pipeline::Shutdown;
/// let s = Shutdown::new();
/// assert!(!s.is_stopping());
/// s.stop();
/// assert!(s.is_stopping() && !s.is_aborted());
/// s.abort();
/// assert!(s.is_stopping() && s.is_aborted());
/// ```
#[derive(Clone, Debug)]
pub struct Shutdown {
    state: Arc<CachePadded<AtomicU8>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::new()
    }
}

impl Shutdown {
    /// A running token.
    pub fn new() -> Shutdown {
        Shutdown { state: Arc::new(CachePadded::new(AtomicU8::new(RUNNING))) }
    }

    /// Requests a graceful stop (drain, then return). Idempotent; never downgrades an abort.
    pub fn stop(&self) {
        self.state.fetch_max(STOPPING, Ordering::AcqRel);
    }

    /// Requests an immediate stop without draining.
    pub fn abort(&self) {
        self.state.fetch_max(ABORTED, Ordering::AcqRel);
    }

    /// True after [`Shutdown::stop`] or [`Shutdown::abort`].
    #[inline]
    pub fn is_stopping(&self) -> bool {
        self.state.load(Ordering::Acquire) != RUNNING
    }

    /// True after [`Shutdown::abort`].
    #[inline]
    pub fn is_aborted(&self) -> bool {
        self.state.load(Ordering::Acquire) == ABORTED
    }
}
