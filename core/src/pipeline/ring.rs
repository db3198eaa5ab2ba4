//! Bounded SPSC rings (rtrb) with the pipeline's back-pressure rule (RELIABILITY.md J10):
//! a push into a full ring never drops silently and never blocks forever.
//!
//! * [`Producer::try_push`] hands a value back at once as [`Full`], counts it, and on a
//!   [`EdgeKind::Decision`] edge latches the [`HaltFlag`].
//! * [`Producer::push`] applies the edge's rule: a decision edge latches the halt and then waits
//!   (backing off per the [`WaitStrategy`]) until the consumer makes room — trading halts, the
//!   decision is kept — and gives up only if the consumer is gone or the pipeline is aborted;
//!   a data edge retries a bounded number of spins and then hands the value back to the caller.
//!
//! No memory is allocated after construction; every call returns in bounded time except a
//! decision-edge [`Producer::push`], which returns when there is room, the consumer is dropped,
//! or [`Shutdown::abort`] is called.

use super::control::{HaltFlag, Shutdown};
use super::sync::Arc;
use super::wait::{Notifier, ParkSlot, WaitStrategy, backoff};

/// What a full ring on this edge means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdgeKind {
    /// Carries decisions (order intents, risk verdicts, journal records of them): a full ring
    /// latches the halt and the push waits; nothing is dropped.
    Decision,
    /// Carries data that may be retried: spin up to `spins` times, then hand the value back to
    /// the emitting stage, which decides (count and drop, mark stale, or latch a halt itself).
    Data {
        /// Retries before handing back.
        spins: u32,
    },
}

/// The value a full (or closed) ring handed back. The event is already counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full<T>(pub T);

/// Counters of one ring edge, kept by its producer (plain integers: single writer).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EdgeCounters {
    /// Items accepted by the ring.
    pub pushed: u64,
    /// Push calls that found the ring full (each counted once, however long it waited).
    pub full_events: u64,
    /// Items handed back to the caller as [`Full`] (the caller decided what to do with them).
    pub handed_back: u64,
    /// Times this edge latched the halt.
    pub halts_latched: u64,
    /// `unpark` calls on a consumer that had flagged itself parked (`SpinThenPark` only; a
    /// futex syscall only if that thread was really asleep).
    pub unparks: u64,
}

/// Creates a ring of `capacity` items (at least 1) for one edge.
///
/// `wait` is how the producer backs off while waiting for room on a decision edge. The consumer
/// side does not park by itself; the pipeline runtime wires a parked consumer's wake-up.
///
/// # Examples
/// ```
/// use crpbot_core::pipeline::{EdgeKind, Full, HaltFlag, Shutdown, WaitStrategy, ring};
/// let (halt, _reset) = HaltFlag::new();
/// let (mut tx, mut rx) =
///     ring::<u64>(1, EdgeKind::Decision, halt.clone(), Shutdown::new(), WaitStrategy::Spin);
/// assert_eq!(tx.try_push(1), Ok(()));
/// assert_eq!(tx.try_push(2), Err(Full(2))); // handed back, counted, halt latched
/// assert!(halt.is_halted());
/// assert_eq!(rx.pop(), Some(1));
/// assert_eq!(tx.try_push(2), Ok(()));
/// assert_eq!(tx.counters().full_events, 1);
/// ```
pub fn ring<T: Copy + Send>(
    capacity: usize,
    kind: EdgeKind,
    halt: HaltFlag,
    shutdown: Shutdown,
    wait: WaitStrategy,
) -> (Producer<T>, Consumer<T>) {
    let (p, c) = rtrb::RingBuffer::new(capacity.max(1));
    let producer = Producer {
        inner: p,
        kind,
        halt,
        shutdown,
        wait,
        notifier: None,
        counters: EdgeCounters::default(),
    };
    (producer, Consumer { inner: c, popped: 0 })
}

/// The sending half of a ring edge. See the module docs for the back-pressure rule.
#[derive(Debug)]
pub struct Producer<T> {
    inner: rtrb::Producer<T>,
    kind: EdgeKind,
    halt: HaltFlag,
    shutdown: Shutdown,
    wait: WaitStrategy,
    notifier: Option<Notifier>,
    counters: EdgeCounters,
}

impl<T: Copy + Send> Producer<T> {
    /// Wires the park protocol: after each push, wake `thread` if it flagged itself parked on
    /// `slot`.
    pub(crate) fn set_notifier(&mut self, slot: Arc<ParkSlot>, thread: std::thread::Thread) {
        self.notifier = Some(Notifier::new(slot, thread));
    }

    #[inline]
    fn pushed(&mut self) {
        self.counters.pushed += 1;
        if let Some(n) = &self.notifier
            && n.notify()
        {
            self.counters.unparks += 1;
        }
    }

    #[inline]
    fn latch(&mut self) {
        if self.kind == EdgeKind::Decision {
            self.halt.latch();
            self.counters.halts_latched += 1;
        }
    }

    /// Pushes without waiting. A full ring hands the value back; the event is counted and, on a
    /// decision edge, the halt latched.
    #[inline]
    pub fn try_push(&mut self, value: T) -> Result<(), Full<T>> {
        match self.inner.push(value) {
            Ok(()) => {
                self.pushed();
                Ok(())
            }
            Err(rtrb::PushError::Full(v)) => {
                self.counters.full_events += 1;
                self.counters.handed_back += 1;
                self.latch();
                Err(Full(v))
            }
        }
    }

    /// Pushes by the edge's rule (see the module docs). Returns [`Full`] only when the value
    /// is handed back: a data edge after its spins, a decision edge whose consumer is gone or
    /// whose pipeline was aborted.
    #[inline]
    pub fn push(&mut self, value: T) -> Result<(), Full<T>> {
        let mut v = match self.inner.push(value) {
            Ok(()) => {
                self.pushed();
                return Ok(());
            }
            Err(rtrb::PushError::Full(v)) => v,
        };
        self.push_slow(&mut v)
    }

    #[cold]
    fn push_slow(&mut self, v: &mut T) -> Result<(), Full<T>> {
        self.counters.full_events += 1;
        self.latch();
        let mut round: u32 = 0;
        loop {
            match self.kind {
                EdgeKind::Data { spins } if round >= spins => break,
                EdgeKind::Data { .. } => std::hint::spin_loop(),
                EdgeKind::Decision => {
                    if self.inner.is_abandoned() || self.shutdown.is_aborted() {
                        break;
                    }
                    backoff(self.wait, round);
                }
            }
            round = round.saturating_add(1);
            match self.inner.push(*v) {
                Ok(()) => {
                    self.pushed();
                    return Ok(());
                }
                Err(rtrb::PushError::Full(back)) => *v = back,
            }
        }
        self.counters.handed_back += 1;
        Err(Full(*v))
    }

    /// This edge's counters so far.
    pub fn counters(&self) -> EdgeCounters {
        self.counters
    }

    /// Free slots (a fresh read of the consumer's position).
    pub fn slots(&self) -> usize {
        self.inner.slots()
    }

    /// The edge kind.
    pub fn kind(&self) -> EdgeKind {
        self.kind
    }

    /// True if the consumer was dropped.
    pub fn is_abandoned(&self) -> bool {
        self.inner.is_abandoned()
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        // The consumer drains, then sees the ring abandoned; wake it if parked.
        if let Some(n) = &self.notifier {
            n.wake();
        }
    }
}

/// The receiving half of a ring edge. Never blocks.
#[derive(Debug)]
pub struct Consumer<T> {
    inner: rtrb::Consumer<T>,
    popped: u64,
}

impl<T: Copy + Send> Consumer<T> {
    /// The next item, if any.
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        match self.inner.pop() {
            Ok(v) => {
                self.popped += 1;
                Some(v)
            }
            Err(_) => None,
        }
    }

    /// True if no item is waiting (a fresh read of the producer's position).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// True once the producer was dropped (its thread finished). Items may still be waiting.
    #[inline]
    pub fn is_abandoned(&self) -> bool {
        self.inner.is_abandoned()
    }

    /// Items popped so far.
    pub fn popped(&self) -> u64 {
        self.popped
    }
}
