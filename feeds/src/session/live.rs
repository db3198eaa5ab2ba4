//! The consumer side of a session's ring: live books.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use crpbot_book::BookConfig;
use crpbot_core::{InstrumentId, MarketEvent, Registry};

use super::stats::Shared;
use crate::binance::DepthHeader;
use crate::books::{BookEffect, BookSet};
use crate::replay::{Published, ReplaySink};

/// Asks a session to resync an instrument (from the consumer thread: one atomic store).
#[derive(Clone, Debug)]
pub struct ResyncRequester {
    shared: Arc<Shared>,
}

impl ResyncRequester {
    pub(crate) fn new(shared: Arc<Shared>) -> ResyncRequester {
        ResyncRequester { shared }
    }

    /// A requester not tied to a session, for `n_instruments` instruments: the feed stage of
    /// a replay pipeline polls it with [`ResyncRequester::take`].
    pub fn detached(n_instruments: usize) -> ResyncRequester {
        ResyncRequester { shared: Shared::new(n_instruments) }
    }

    /// Takes (clears) a pending request for `id`.
    #[inline]
    pub fn take(&self, id: InstrumentId) -> bool {
        self.shared.resync.get(id.index()).is_some_and(|f| f.swap(false, Relaxed))
    }

    /// Requests a new snapshot for `id`; the session invalidates the book (reason `Crossed`)
    /// on its next tick.
    #[inline]
    pub fn request(&self, id: InstrumentId) {
        if let Some(f) = self.shared.resync.get(id.index()) {
            f.store(true, Relaxed);
        }
    }
}

/// Counters of a [`LiveBooks`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveStats {
    /// Events taken from the ring.
    pub events: u64,
    /// Whole depth messages after which the book was valid and published.
    pub published: u64,
    /// Resyncs requested because a synced book came out crossed or refused a level.
    pub resync_requests: u64,
}

/// Books kept from a session's ring, publishing each whole, valid depth message to a
/// [`ReplaySink`] (so [`BboCsv`](crate::replay::BboCsv) works live as in replay).
///
/// A book is published only when its state is `Synced` and it is neither crossed nor locked;
/// a crossed or refused result asks the session for a resync.
#[derive(Debug)]
pub struct LiveBooks {
    books: BookSet,
    resync: ResyncRequester,
    stats: LiveStats,
}

impl LiveBooks {
    /// Books for every instrument of `registry`.
    pub fn new(registry: &Registry, resync: ResyncRequester) -> LiveBooks {
        LiveBooks {
            books: BookSet::new(registry.len(), Self::CONFIG),
            resync,
            stats: LiveStats::default(),
        }
    }

    /// Full-size books for the `active` instruments only (see [`BookSet::with_active`]); empty
    /// `active` means every instrument.
    pub fn for_instruments(
        registry: &Registry,
        active: &[InstrumentId],
        resync: ResyncRequester,
    ) -> LiveBooks {
        if active.is_empty() {
            return LiveBooks::new(registry, resync);
        }
        LiveBooks {
            books: BookSet::with_active(registry.len(), active, Self::CONFIG),
            resync,
            stats: LiveStats::default(),
        }
    }

    /// The size of a live book: 65,536 ticks each side of the window, 4,096 far levels.
    const CONFIG: BookConfig = BookConfig { window_ticks: 1 << 16, far_capacity: 4096 };

    /// The books.
    pub fn books(&self) -> &BookSet {
        &self.books
    }

    /// The counters.
    pub fn stats(&self) -> LiveStats {
        self.stats
    }

    /// Applies one event; publishes to `sink` when it completes a valid book.
    #[inline]
    pub fn apply(&mut self, ev: &MarketEvent, sink: &mut impl ReplaySink) {
        self.stats.events += 1;
        sink.on_event(ev);
        match self.books.apply(ev) {
            BookEffect::Updated => {
                if let MarketEvent::Level(l) = ev {
                    if l.is_snapshot() {
                        // A snapshot's last level: the book is valid, but no depth message
                        // completed it; the next diff publishes.
                        return;
                    }
                    let depth = DepthHeader {
                        instrument: l.instrument,
                        first_update_id: l.update_id,
                        final_update_id: l.update_id,
                        prev_final_update_id: None,
                        ts_exch_ns: l.ts_exch_ns,
                        ts_local_ns: l.ts_local_ns,
                    };
                    if let Some(book) = self.books.get(l.instrument) {
                        self.stats.published += 1;
                        sink.on_book(&Published { depth: &depth, book });
                    }
                }
            }
            BookEffect::Crossed | BookEffect::Rejected => {
                self.stats.resync_requests += 1;
                self.resync.request(ev.instrument());
            }
            BookEffect::None | BookEffect::Unpublishable => {}
        }
    }

    /// Drains the ring; returns how many events were applied.
    #[inline]
    pub fn drain(
        &mut self,
        rx: &mut rtrb::Consumer<MarketEvent>,
        sink: &mut impl ReplaySink,
    ) -> usize {
        let mut n = 0;
        while let Ok(ev) = rx.pop() {
            self.apply(&ev, sink);
            n += 1;
        }
        n
    }
}
