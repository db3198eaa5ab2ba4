//! The books of all instruments and their published state.
//!
//! [`BookSet`] applies the normalized events a synchroniser emits. It is the single place that
//! decides whether a book may be published as valid: its state is `Synced` and, after the last
//! level of a message, it is neither crossed nor locked. A crossed result or a rejected level is
//! reported to the caller, which must invalidate the feed's synchronisation (and resync).

use crpbot_book::{Book, BookConfig, CrossState};
use crpbot_core::{BookState, InstrumentId, MarketEvent};

/// One instrument's book and what is known about it.
#[derive(Debug)]
pub struct TrackedBook {
    /// The book.
    pub book: Book,
    /// Synchronisation state as last announced by the feed (or `Stale` after a crossed result).
    pub state: BookState,
    /// Update id of the last applied message.
    pub update_id: u64,
    /// Venue time of the last applied message.
    pub ts_exch_ns: i64,
    /// Local time of the last applied message.
    pub ts_local_ns: i64,
}

impl TrackedBook {
    /// True when the book may be used: synced, and not crossed or locked.
    #[inline]
    pub fn is_valid(&self) -> bool {
        self.state == BookState::Synced && self.book.cross_state() == CrossState::Normal
    }
}

/// What applying one event did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BookEffect {
    /// Nothing to publish (mid-message level, trade, state change...).
    None,
    /// A whole message was applied and the book is valid: publish it.
    Updated,
    /// A whole message was applied but the book is not valid (not synced, or one-sided/empty).
    Unpublishable,
    /// The message left a synced book crossed or locked: the caller must resync.
    Crossed,
    /// The book refused a level (negative size or bad price): the caller must resync.
    Rejected,
}

/// Counters of a [`BookSet`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BookSetStats {
    /// Levels applied.
    pub levels: u64,
    /// Messages after which a synced book was crossed or locked.
    pub crossed: u64,
    /// Levels the book refused.
    pub rejected: u64,
    /// Events for instruments outside the set.
    pub unknown_instrument: u64,
}

/// Books indexed by [`InstrumentId`].
#[derive(Debug)]
pub struct BookSet {
    books: Vec<TrackedBook>,
    stats: BookSetStats,
}

impl BookSet {
    /// Books for instrument ids `0..n`, each built with `cfg`.
    pub fn new(n: usize, cfg: BookConfig) -> BookSet {
        BookSet::build(n, |_| cfg)
    }

    /// Books for instrument ids `0..n`: those in `active` built with `cfg`, the others with
    /// [`BookConfig::MIN_WINDOW_TICKS`] slots and no far reservation. A run that trades two of
    /// the registry's two dozen instruments then zeroes two full books at start-up, not two
    /// dozen (each full book is megabytes, pre-faulted). An event for an inactive instrument is
    /// still applied exactly: its book grows, and the growth is counted in its stats.
    pub fn with_active(n: usize, active: &[InstrumentId], cfg: BookConfig) -> BookSet {
        let small = BookConfig { window_ticks: BookConfig::MIN_WINDOW_TICKS, far_capacity: 0 };
        BookSet::build(n, |i| if active.iter().any(|a| a.index() == i) { cfg } else { small })
    }

    fn build(n: usize, cfg_of: impl Fn(usize) -> BookConfig) -> BookSet {
        let books = (0..n)
            .map(|i| TrackedBook {
                book: Book::new(cfg_of(i)),
                state: BookState::Syncing,
                update_id: 0,
                ts_exch_ns: 0,
                ts_local_ns: 0,
            })
            .collect();
        BookSet { books, stats: BookSetStats::default() }
    }

    /// The book of an instrument.
    #[inline]
    pub fn get(&self, id: InstrumentId) -> Option<&TrackedBook> {
        self.books.get(id.index())
    }

    /// The counters.
    pub fn stats(&self) -> BookSetStats {
        self.stats
    }

    /// Applies one event.
    #[inline]
    pub fn apply(&mut self, ev: &MarketEvent) -> BookEffect {
        let Some(tb) = self.books.get_mut(ev.instrument().index()) else {
            self.stats.unknown_instrument += 1;
            return BookEffect::None;
        };
        match ev {
            MarketEvent::Snapshot(s) => {
                tb.book.clear();
                tb.update_id = s.update_id;
                BookEffect::None
            }
            MarketEvent::Level(l) => {
                if tb.book.apply(l).is_err() {
                    self.stats.rejected += 1;
                    tb.state = BookState::Stale;
                    return BookEffect::Rejected;
                }
                self.stats.levels += 1;
                if !l.is_last() {
                    return BookEffect::None;
                }
                tb.update_id = l.update_id;
                tb.ts_exch_ns = l.ts_exch_ns;
                tb.ts_local_ns = l.ts_local_ns;
                if tb.state != BookState::Synced {
                    return BookEffect::Unpublishable;
                }
                match tb.book.cross_state() {
                    CrossState::Normal => BookEffect::Updated,
                    CrossState::Crossed | CrossState::Locked => {
                        self.stats.crossed += 1;
                        tb.state = BookState::Stale;
                        BookEffect::Crossed
                    }
                    CrossState::Empty | CrossState::OneSided => BookEffect::Unpublishable,
                }
            }
            MarketEvent::State(c) => {
                tb.state = c.state;
                BookEffect::None
            }
            _ => BookEffect::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crpbot_core::{LevelUpdate, Px, Qty, Side};

    fn level(id: u16, side: Side, px: i64, qty: i64) -> MarketEvent {
        MarketEvent::Level(LevelUpdate {
            ts_exch_ns: 0,
            ts_local_ns: 0,
            update_id: 1,
            px: Px(px),
            qty: Qty(qty),
            instrument: InstrumentId(id),
            side,
            flags: 0,
            _pad: 0,
        })
    }

    /// An inactive instrument's small book holds the same levels as a full one: far levels
    /// make it grow (counted), nothing is dropped.
    #[test]
    fn inactive_books_are_small_but_exact() {
        let cfg = BookConfig { window_ticks: 1 << 12, far_capacity: 256 };
        let mut set = BookSet::with_active(3, &[InstrumentId(1)], cfg);
        let mut full = BookSet::new(3, cfg);
        let mut x = 12_345u64;
        for _ in 0..5_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let side = if x & 1 == 0 { Side::Buy } else { Side::Sell };
            let base = if side == Side::Buy { 100_000 } else { 100_100 };
            let off = (x >> 8) as i64 % 3_000;
            let px = if side == Side::Buy { base - off } else { base + off };
            let qty = if (x >> 40).is_multiple_of(5) { 0 } else { (x >> 20) as i64 % 1_000 + 1 };
            for id in [0u16, 1, 2] {
                set.apply(&level(id, side, px, qty));
                full.apply(&level(id, side, px, qty));
            }
        }
        for id in 0..3 {
            let (a, b) = (
                &set.get(InstrumentId(id)).unwrap().book,
                &full.get(InstrumentId(id)).unwrap().book,
            );
            for side in [Side::Buy, Side::Sell] {
                assert!(a.levels(side).eq(b.levels(side)), "instrument {id} {side:?}");
            }
        }
        assert_eq!(set.stats().rejected, 0);
        assert!(set.get(InstrumentId(0)).unwrap().book.stats().far_grows > 0);
    }
}
