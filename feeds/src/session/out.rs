//! The producer side of a session's event ring, with the back-pressure rule.
//!
//! A full ring never blocks the feed thread and never loses book data silently:
//! * a trade, venue BBO or mark price that does not fit is dropped and counted;
//! * a book event (snapshot, level, state) that does not fit puts its instrument in overflow:
//!   every later book event of that instrument is dropped until a `Stale` state change (reason
//!   `Gap`: the consumer missed updates) has been delivered, and the protocol invalidates the
//!   instrument's synchronisation so that a new snapshot rebuilds the book. The consumer
//!   therefore sees, after the last complete message it got, `Stale` before anything else of
//!   that book — it never publishes a book built from dropped updates.
//!
//! Nothing here allocates after construction.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use crpbot_core::{BookState, BookStateChange, InstrumentId, MarketEvent, StateReason};
use rtrb::Producer;

use super::stats::{Shared, bump};
use crate::sync::SyncSink;

/// Where a venue protocol writes normalized events: the ring's producer end.
#[derive(Debug)]
pub struct RingOut {
    tx: Producer<MarketEvent>,
    shared: Arc<Shared>,
    /// Per instrument index: book events are being dropped until `pending` is delivered.
    overflow: Vec<bool>,
    /// Per instrument index: the `Stale` change owed to the consumer.
    pending: Vec<Option<MarketEvent>>,
    n_overflowed: usize,
}

impl RingOut {
    pub(crate) fn new(tx: Producer<MarketEvent>, shared: Arc<Shared>, n: usize) -> RingOut {
        RingOut { tx, shared, overflow: vec![false; n], pending: vec![None; n], n_overflowed: 0 }
    }

    /// Free slots in the ring now.
    #[inline]
    pub fn slots(&self) -> usize {
        self.tx.slots()
    }

    /// True while book events of `id` are being dropped (a `Stale` is owed to the consumer).
    #[inline]
    pub fn is_overflowed(&self, id: InstrumentId) -> bool {
        self.overflow.get(id.index()).copied().unwrap_or(false)
    }

    /// Checks that `n` more events of `id` fit; if not, puts `id` in overflow (the caller
    /// must then invalidate the instrument's synchronisation) and returns false.
    #[inline]
    pub fn reserve(&mut self, id: InstrumentId, n: usize, ts_local_ns: i64) -> bool {
        if self.is_overflowed(id) {
            return false;
        }
        if self.tx.slots() >= n {
            return true;
        }
        self.enter_overflow(id, ts_local_ns);
        false
    }

    fn enter_overflow(&mut self, id: InstrumentId, ts_local_ns: i64) {
        let i = id.index();
        if i >= self.overflow.len() || self.overflow[i] {
            return;
        }
        self.overflow[i] = true;
        self.n_overflowed += 1;
        bump(&self.shared.counters.backpressure_resyncs);
        self.pending[i] = Some(MarketEvent::State(BookStateChange {
            ts_exch_ns: 0,
            ts_local_ns,
            update_id: 0,
            instrument: id,
            state: BookState::Stale,
            reason: StateReason::Gap,
            _pad: 0,
        }));
    }

    /// Tries to deliver the `Stale` changes owed after overflows; true when none is left.
    pub fn flush(&mut self) -> bool {
        if self.n_overflowed == 0 {
            return true;
        }
        for i in 0..self.pending.len() {
            if let Some(ev) = self.pending[i] {
                if self.tx.push(ev).is_err() {
                    return false;
                }
                self.note_state(&ev);
                self.pending[i] = None;
                self.overflow[i] = false;
                self.n_overflowed -= 1;
            }
        }
        true
    }

    fn note_state(&self, ev: &MarketEvent) {
        if let MarketEvent::State(c) = ev
            && let Some(s) = self.shared.states.get(c.instrument.index())
        {
            s.store(c.state as u8, Relaxed);
        }
    }

    /// Records a sequence gap detected by the protocol (for the counters and status line).
    #[inline]
    pub fn note_gap(&self, id: InstrumentId, ts_local_ns: i64) {
        bump(&self.shared.counters.gaps);
        self.shared.last_gap_ns.store(ts_local_ns, Relaxed);
        self.shared.last_gap_instrument.store(u64::from(id.0), Relaxed);
    }

    /// Records an applied snapshot (`resync`: it restored a lost sync).
    pub fn note_snapshot(&self, resync: bool) {
        bump(&self.shared.counters.snapshots);
        if resync {
            bump(&self.shared.counters.resyncs);
        }
    }

    /// Pushes one event under the back-pressure rule; false if it was not delivered.
    #[inline]
    pub fn push(&mut self, ev: MarketEvent) -> bool {
        let id = ev.instrument();
        let book_event =
            matches!(ev, MarketEvent::Snapshot(_) | MarketEvent::Level(_) | MarketEvent::State(_));
        if book_event && self.is_overflowed(id) {
            // Try to settle the debt first; the event itself belongs to the dropped episode.
            let _ = self.flush();
            bump(&self.shared.counters.ring_full);
            return false;
        }
        match self.tx.push(ev) {
            Ok(()) => {
                self.note_state(&ev);
                true
            }
            Err(_) => {
                bump(&self.shared.counters.ring_full);
                if book_event {
                    self.enter_overflow(id, ev.ts_local_ns());
                }
                false
            }
        }
    }
}

impl SyncSink for RingOut {
    #[inline]
    fn event(&mut self, ev: MarketEvent) {
        let _ = self.push(ev);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crpbot_core::{LevelUpdate, Px, Qty, Side, level_flags};

    fn lvl(id: u16, px: i64, last: bool) -> MarketEvent {
        MarketEvent::Level(LevelUpdate {
            ts_exch_ns: 1,
            ts_local_ns: 2,
            update_id: 3,
            px: Px(px),
            qty: Qty(1),
            instrument: InstrumentId(id),
            side: Side::Buy,
            flags: if last { level_flags::LAST } else { 0 },
            _pad: 0,
        })
    }

    #[test]
    fn full_ring_drops_then_delivers_stale_before_anything_else() {
        let shared = Shared::new(2);
        let (tx, mut rx) = rtrb::RingBuffer::new(3);
        let mut out = RingOut::new(tx, Arc::clone(&shared), 2);
        assert!(out.push(lvl(0, 1, false)));
        assert!(out.push(lvl(0, 2, false)));
        assert!(out.push(lvl(1, 3, true)));
        assert!(!out.push(lvl(0, 4, true)), "ring full");
        assert!(out.is_overflowed(InstrumentId(0)));
        assert!(!out.is_overflowed(InstrumentId(1)));
        // Room again, but the episode's remaining events of instrument 0 are still dropped
        // until the Stale change goes out — which the next push attempt delivers first.
        rx.pop().unwrap();
        assert!(!out.push(lvl(0, 5, true)));
        assert!(!out.is_overflowed(InstrumentId(0)));
        let got: Vec<_> = std::iter::from_fn(|| rx.pop().ok()).collect();
        assert_eq!(got.len(), 3);
        let MarketEvent::State(c) = got[2] else { panic!("{got:?}") };
        assert_eq!(
            (c.instrument, c.state, c.reason),
            (InstrumentId(0), BookState::Stale, StateReason::Gap)
        );
        assert_eq!(shared.state(InstrumentId(0)), Some(BookState::Stale));
        let s = shared.stats();
        assert_eq!((s.ring_full, s.backpressure_resyncs, s.gaps), (2, 1, 0));
    }

    #[test]
    fn reserve_refuses_without_room_and_flush_settles() {
        let shared = Shared::new(1);
        let (tx, mut rx) = rtrb::RingBuffer::new(4);
        let mut out = RingOut::new(tx, shared, 1);
        assert!(out.reserve(InstrumentId(0), 4, 0));
        assert!(!out.reserve(InstrumentId(0), 5, 0));
        assert!(out.is_overflowed(InstrumentId(0)));
        assert!(out.flush());
        assert!(matches!(rx.pop(), Ok(MarketEvent::State(_))));
        assert!(out.reserve(InstrumentId(0), 1, 0));
    }
}
