//! [`Book`]: the exact L2 book of one instrument.

use std::fmt;

use crpbot_core::{LevelUpdate, Px, Qty, Side};

use crate::ladder::{Cursor, Ladder, NONE};
use crate::types::{BookConfig, BookStats, CrossState, FillEstimate, Level, validate};
use crate::{ApplyError, math};

/// The exact L2 book of one instrument: every level it is told about, on both sides.
///
/// Each side keeps a ring-indexed window of `window_ticks` slots around its touch, with an
/// occupancy bitmap, and a sorted far store for the levels beyond the window (see the crate
/// docs). The best bid and ask are cached, so reading them is O(1).
///
/// **Memory.** All storage is allocated by [`Book::new`]; no more memory is allocated after
/// construction, and every function returns without blocking. The one exception is a far store
/// that outgrows [`BookConfig::far_capacity`]: it then grows like a `Vec` (an allocation),
/// keeps every level, and the growth is counted in [`BookStats::far_grows`]. Levels are never
/// dropped.
///
/// The book stores what it is told even when that leaves it crossed or locked;
/// [`Book::cross_state`] says whether it may be published.
///
/// # Examples
/// ```
/// use crpbot_book::{Book, BookConfig, CrossState, Level};
/// use crpbot_core::{Px, Qty, Side};
///
/// let mut book = Book::new(BookConfig::default());
/// book.set(Side::Buy, Px(9_999), Qty(5))?;
/// book.set(Side::Buy, Px(9_990), Qty(7))?;
/// book.set(Side::Sell, Px(10_001), Qty(3))?;
/// book.set(Side::Buy, Px(1), Qty(1))?; // far from the touch: kept exactly
/// assert_eq!(book.best_bid(), Some(Level::new(Px(9_999), Qty(5))));
/// assert_eq!(book.mid_x2(), Some(20_000));
/// assert_eq!(book.level_count(Side::Buy), 3);
/// assert_eq!(book.cross_state(), CrossState::Normal);
/// book.set(Side::Buy, Px(9_999), Qty(0))?; // removal
/// assert_eq!(book.best_bid().map(|l| l.px), Some(Px(9_990)));
/// # Ok::<(), crpbot_book::ApplyError>(())
/// ```
#[derive(Clone)]
pub struct Book {
    /// Indexed by [`Side::index`]: bids (key = px), asks (key = −px).
    sides: [Ladder; 2],
    config: BookConfig,
    rejected: u64,
}

/// Key space: larger is better on both sides.
#[inline(always)]
const fn key_of(side: Side, px: i64) -> i64 {
    match side {
        Side::Buy => px,
        Side::Sell => -px,
    }
}

#[inline(always)]
const fn px_of(side: Side, key: i64) -> Px {
    match side {
        Side::Buy => Px(key),
        Side::Sell => Px(-key),
    }
}

impl Book {
    /// A book with all its storage allocated (see [`BookConfig::normalized`] for how the window
    /// size is rounded).
    pub fn new(config: BookConfig) -> Book {
        let config = config.normalized();
        let mk = || Ladder::new(config.window_ticks, config.far_capacity);
        Book { sides: [mk(), mk()], config, rejected: 0 }
    }

    /// The configuration in use (normalized).
    pub fn config(&self) -> BookConfig {
        self.config
    }

    #[inline(always)]
    fn ladder(&self, side: Side) -> &Ladder {
        match side {
            Side::Buy => &self.sides[0],
            Side::Sell => &self.sides[1],
        }
    }

    /// Sets the absolute size of the level at `px` on `side`; `Qty(0)` removes it (removing a
    /// level that is not there is a no-op, not an error).
    ///
    /// # Errors
    /// [`ApplyError`] for a negative size or a price outside `1..=MAX_PX`; the book is then
    /// unchanged and the refusal counted in [`BookStats::rejected`].
    ///
    /// # Examples
    /// ```
    /// use crpbot_book::{Book, BookConfig};
    /// use crpbot_core::{Px, Qty, Side};
    /// let mut book = Book::new(BookConfig::default());
    /// book.set(Side::Sell, Px(101), Qty(4)).unwrap();
    /// book.set(Side::Sell, Px(105), Qty(0)).unwrap(); // unknown level: fine
    /// assert_eq!(book.qty_at(Side::Sell, Px(101)), Qty(4));
    /// ```
    #[inline]
    pub fn set(&mut self, side: Side, px: Px, qty: Qty) -> Result<(), ApplyError> {
        if let Err(e) = validate(px, qty) {
            self.rejected += 1;
            return Err(e);
        }
        let ladder = match side {
            Side::Buy => &mut self.sides[0],
            Side::Sell => &mut self.sides[1],
        };
        ladder.set(key_of(side, px.0), qty.0);
        Ok(())
    }

    /// [`Book::set`] from a normalized [`LevelUpdate`] (its instrument is not checked).
    ///
    /// # Errors
    /// As [`Book::set`].
    ///
    /// # Examples
    /// ```
    /// use crpbot_book::{Book, BookConfig};
    /// use crpbot_core::{InstrumentId, LevelUpdate, Px, Qty, Side};
    /// let mut book = Book::new(BookConfig::default());
    /// let u = LevelUpdate {
    ///     ts_exch_ns: 0, ts_local_ns: 0, update_id: 1, px: Px(100), qty: Qty(2),
    ///     instrument: InstrumentId(0), side: Side::Buy, flags: 0, _pad: 0,
    /// };
    /// book.apply(&u).unwrap();
    /// assert_eq!(book.best_bid().map(|l| l.qty), Some(Qty(2)));
    /// ```
    #[inline]
    pub fn apply(&mut self, update: &LevelUpdate) -> Result<(), ApplyError> {
        self.set(update.side, update.px, update.qty)
    }

    /// Removes every level (before a snapshot), keeping all storage.
    ///
    /// # Examples
    /// ```
    /// use crpbot_book::{Book, BookConfig, CrossState};
    /// use crpbot_core::{Px, Qty, Side};
    /// let mut book = Book::new(BookConfig::default());
    /// book.set(Side::Buy, Px(100), Qty(2)).unwrap();
    /// book.clear();
    /// assert_eq!(book.cross_state(), CrossState::Empty);
    /// ```
    pub fn clear(&mut self) {
        for ladder in &mut self.sides {
            ladder.clear();
        }
    }

    /// The best level of `side`.
    #[inline]
    pub fn best(&self, side: Side) -> Option<Level> {
        let ladder = self.ladder(side);
        let key = ladder.best_key();
        (key != NONE).then(|| Level::new(px_of(side, key), Qty(ladder.qty_at(key))))
    }

    /// The best bid.
    ///
    /// # Examples
    /// ```
    /// use crpbot_book::{Book, BookConfig, Level};
    /// use crpbot_core::{Px, Qty, Side};
    /// let mut book = Book::new(BookConfig::default());
    /// assert_eq!(book.best_bid(), None);
    /// book.set(Side::Buy, Px(100), Qty(2)).unwrap();
    /// assert_eq!(book.best_bid(), Some(Level::new(Px(100), Qty(2))));
    /// ```
    #[inline]
    pub fn best_bid(&self) -> Option<Level> {
        self.best(Side::Buy)
    }

    /// The best ask.
    ///
    /// # Examples
    /// ```
    /// use crpbot_book::{Book, BookConfig, Level};
    /// use crpbot_core::{Px, Qty, Side};
    /// let mut book = Book::new(BookConfig::default());
    /// book.set(Side::Sell, Px(101), Qty(1)).unwrap();
    /// book.set(Side::Sell, Px(103), Qty(1)).unwrap();
    /// assert_eq!(book.best_ask(), Some(Level::new(Px(101), Qty(1))));
    /// ```
    #[inline]
    pub fn best_ask(&self) -> Option<Level> {
        self.best(Side::Sell)
    }

    /// The size at `px` on `side` (`Qty(0)` when there is no level).
    ///
    /// # Examples
    /// ```
    /// use crpbot_book::{Book, BookConfig};
    /// use crpbot_core::{Px, Qty, Side};
    /// let mut book = Book::new(BookConfig::default());
    /// book.set(Side::Buy, Px(100), Qty(2)).unwrap();
    /// assert_eq!(book.qty_at(Side::Buy, Px(100)), Qty(2));
    /// assert_eq!(book.qty_at(Side::Sell, Px(100)), Qty(0));
    /// ```
    #[inline]
    pub fn qty_at(&self, side: Side, px: Px) -> Qty {
        if validate(px, Qty(0)).is_err() {
            return Qty(0);
        }
        Qty(self.ladder(side).qty_at(key_of(side, px.0)))
    }

    /// Levels stored on `side`.
    ///
    /// # Examples
    /// ```
    /// use crpbot_book::{Book, BookConfig};
    /// use crpbot_core::{Px, Qty, Side};
    /// let mut book = Book::new(BookConfig::default());
    /// book.set(Side::Buy, Px(100), Qty(2)).unwrap();
    /// book.set(Side::Buy, Px(99), Qty(2)).unwrap();
    /// assert_eq!(book.level_count(Side::Buy), 2);
    /// ```
    #[inline]
    pub fn level_count(&self, side: Side) -> usize {
        self.ladder(side).len()
    }

    /// Levels of `side`, best first (allocation-free, but walks the bitmap: prefer
    /// [`Book::top`] on the hot path).
    ///
    /// # Examples
    /// ```
    /// use crpbot_book::{Book, BookConfig};
    /// use crpbot_core::{Px, Qty, Side};
    /// let mut book = Book::new(BookConfig::default());
    /// for px in [103, 101, 102] {
    ///     book.set(Side::Sell, Px(px), Qty(1)).unwrap();
    /// }
    /// let pxs: Vec<i64> = book.levels(Side::Sell).map(|l| l.px.0).collect();
    /// assert_eq!(pxs, [101, 102, 103]);
    /// ```
    #[inline]
    pub fn levels(&self, side: Side) -> Levels<'_> {
        let ladder = self.ladder(side);
        Levels { ladder, side, cursor: ladder.cursor() }
    }

    /// Writes up to `out.len()` levels of `side` into `out`, best first; returns how many.
    ///
    /// # Examples
    /// ```
    /// use crpbot_book::{Book, BookConfig, Level};
    /// use crpbot_core::{Px, Qty, Side};
    /// let mut book = Book::new(BookConfig::default());
    /// book.set(Side::Buy, Px(100), Qty(2)).unwrap();
    /// book.set(Side::Buy, Px(98), Qty(1)).unwrap();
    /// let mut out = [Level::default(); 10];
    /// let n = book.top(Side::Buy, &mut out);
    /// assert_eq!(&out[..n], &[Level::new(Px(100), Qty(2)), Level::new(Px(98), Qty(1))]);
    /// ```
    #[inline]
    pub fn top(&self, side: Side, out: &mut [Level]) -> usize {
        let mut n = 0;
        if !out.is_empty() {
            self.ladder(side).walk(|k, q| {
                if let Some(slot) = out.get_mut(n) {
                    *slot = Level::new(px_of(side, k), Qty(q));
                    n += 1;
                }
                n < out.len()
            });
        }
        n
    }

    /// Σ qty over the best `n_levels` of `side`.
    #[inline]
    fn depth(&self, side: Side, n_levels: usize) -> i128 {
        let (mut sum, mut n) = (0i128, 0usize);
        if n_levels != 0 {
            self.ladder(side).walk(|_, q| {
                sum += i128::from(q);
                n += 1;
                n < n_levels
            });
        }
        sum
    }

    /// Best bid + best ask in ticks: twice the mid, exact. `None` unless both sides have levels.
    ///
    /// # Examples
    /// ```
    /// use crpbot_book::{Book, BookConfig};
    /// use crpbot_core::{Px, Qty, Side};
    /// let mut book = Book::new(BookConfig::default());
    /// book.set(Side::Buy, Px(100), Qty(2)).unwrap();
    /// book.set(Side::Sell, Px(101), Qty(1)).unwrap();
    /// assert_eq!(book.mid_x2(), Some(201));
    /// assert_eq!(book.mid_ticks(), Some(100.5));
    /// ```
    #[inline]
    pub fn mid_x2(&self) -> Option<i64> {
        let (b, a) = self.touch_keys()?;
        Some(b - a)
    }

    /// The mid in ticks.
    #[inline]
    pub fn mid_ticks(&self) -> Option<f64> {
        self.mid_x2().map(|m| m as f64 / 2.0)
    }

    /// Best ask − best bid in ticks (zero or negative when locked or crossed).
    ///
    /// # Examples
    /// ```
    /// use crpbot_book::{Book, BookConfig};
    /// use crpbot_core::{Px, Qty, Side};
    /// let mut book = Book::new(BookConfig::default());
    /// book.set(Side::Buy, Px(10_000), Qty(2)).unwrap();
    /// book.set(Side::Sell, Px(10_002), Qty(1)).unwrap();
    /// assert_eq!(book.spread_ticks(), Some(2));
    /// assert_eq!(book.spread_bps(), Some(2.0 / 10_001.0 * 1e4));
    /// ```
    #[inline]
    pub fn spread_ticks(&self) -> Option<i64> {
        let (b, a) = self.touch_keys()?;
        Some(-a - b)
    }

    /// Spread over mid, in basis points.
    #[inline]
    pub fn spread_bps(&self) -> Option<f64> {
        let (b, a) = self.touch_keys()?;
        Some(math::spread_bps(Px(b), Px(-a)))
    }

    /// Size-weighted mid, `(bid × ask_qty + ask × bid_qty) / (bid_qty + ask_qty)`, in ticks.
    ///
    /// # Examples
    /// ```
    /// use crpbot_book::{Book, BookConfig};
    /// use crpbot_core::{Px, Qty, Side};
    /// let mut book = Book::new(BookConfig::default());
    /// book.set(Side::Buy, Px(100), Qty(3)).unwrap();
    /// book.set(Side::Sell, Px(104), Qty(1)).unwrap();
    /// assert_eq!(book.microprice(), Some(103.0)); // heavy bid pulls towards the ask
    /// ```
    #[inline]
    pub fn microprice(&self) -> Option<f64> {
        Some(math::microprice(self.best_bid()?, self.best_ask()?))
    }

    /// Whether the book is empty, one-sided, normal, locked or crossed.
    ///
    /// # Examples
    /// ```
    /// use crpbot_book::{Book, BookConfig, CrossState};
    /// use crpbot_core::{Px, Qty, Side};
    /// let mut book = Book::new(BookConfig::default());
    /// book.set(Side::Buy, Px(100), Qty(1)).unwrap();
    /// assert_eq!(book.cross_state(), CrossState::OneSided);
    /// book.set(Side::Sell, Px(100), Qty(1)).unwrap();
    /// assert_eq!(book.cross_state(), CrossState::Locked);
    /// book.set(Side::Sell, Px(99), Qty(1)).unwrap();
    /// assert_eq!(book.cross_state(), CrossState::Crossed);
    /// ```
    #[inline]
    pub fn cross_state(&self) -> CrossState {
        CrossState::of(self.best_bid().map(|l| l.px), self.best_ask().map(|l| l.px))
    }

    /// `(Σbid − Σask) / (Σbid + Σask)` over the best `n_levels` of each side; `None` when both
    /// sums are zero.
    ///
    /// # Examples
    /// ```
    /// use crpbot_book::{Book, BookConfig};
    /// use crpbot_core::{Px, Qty, Side};
    /// let mut book = Book::new(BookConfig::default());
    /// book.set(Side::Buy, Px(100), Qty(3)).unwrap();
    /// book.set(Side::Sell, Px(101), Qty(1)).unwrap();
    /// book.set(Side::Sell, Px(102), Qty(100)).unwrap();
    /// assert_eq!(book.depth_imbalance(1), Some(0.5));
    /// ```
    #[inline]
    pub fn depth_imbalance(&self, n_levels: usize) -> Option<f64> {
        math::imbalance(self.depth(Side::Buy, n_levels), self.depth(Side::Sell, n_levels))
    }

    /// Total size on `side` from the touch to `px` inclusive (`Qty(0)` when `px` is better
    /// than the touch).
    ///
    /// # Examples
    /// ```
    /// use crpbot_book::{Book, BookConfig};
    /// use crpbot_core::{Px, Qty, Side};
    /// let mut book = Book::new(BookConfig::default());
    /// for (px, q) in [(101, 1), (102, 2), (105, 4)] {
    ///     book.set(Side::Sell, Px(px), Qty(q)).unwrap();
    /// }
    /// assert_eq!(book.cum_qty_to(Side::Sell, Px(104)), Qty(3));
    /// assert_eq!(book.cum_qty_to(Side::Sell, Px(105)), Qty(7));
    /// ```
    #[inline]
    pub fn cum_qty_to(&self, side: Side, px: Px) -> Qty {
        let limit = key_of(side, px.0);
        let mut sum = 0i64;
        self.ladder(side).walk(|k, q| {
            if k < limit {
                return false;
            }
            sum = sum.saturating_add(q);
            true
        });
        Qty(sum)
    }

    /// Walks the side opposite to `taker_side` with a market order of `qty`: average price,
    /// worst price and slippage against the touch. Partial when the book is too thin; `None`
    /// when nothing fills (`qty <= 0` or an empty side).
    ///
    /// # Examples
    /// ```
    /// use crpbot_book::{Book, BookConfig};
    /// use crpbot_core::{Px, Qty, Side};
    /// let mut book = Book::new(BookConfig::default());
    /// book.set(Side::Buy, Px(100), Qty(1)).unwrap();
    /// let f = book.market_fill(Side::Sell, Qty(5)).unwrap();
    /// assert_eq!((f.filled, f.worst_px, f.slippage_ticks), (Qty(1), Px(100), 0.0));
    /// assert!(book.market_fill(Side::Buy, Qty(5)).is_none());
    /// ```
    #[inline]
    pub fn market_fill(&self, taker_side: Side, qty: Qty) -> Option<FillEstimate> {
        let mut fill = math::Fill::new(qty);
        if qty.0 > 0 {
            let side = taker_side.opposite();
            self.ladder(side).walk(|k, q| fill.push(Level::new(px_of(side, k), Qty(q))));
        }
        fill.finish(taker_side)
    }

    /// Storage counters.
    ///
    /// # Examples
    /// ```
    /// use crpbot_book::{Book, BookConfig};
    /// use crpbot_core::{Px, Qty, Side};
    /// let mut book = Book::new(BookConfig { window_ticks: 64, far_capacity: 16 });
    /// book.set(Side::Buy, Px(1_000), Qty(1)).unwrap();
    /// book.set(Side::Buy, Px(10), Qty(1)).unwrap(); // far below the window
    /// assert_eq!(book.stats().far_levels, 1);
    /// assert_eq!(book.stats().far_grows, 0);
    /// ```
    pub fn stats(&self) -> BookStats {
        let mut s = BookStats { rejected: self.rejected, ..BookStats::default() };
        for l in &self.sides {
            s.far_levels += l.far_len() as u64;
            s.window_levels += l.window_len() as u64;
            s.recentres += l.recentres;
            s.migrated_levels += l.migrated;
            s.far_grows += l.far_grows();
            s.far_updates += l.far_updates;
        }
        s
    }

    /// Best keys `(bid, ask)` (ask key = −ask px) when both sides have levels.
    #[inline]
    fn touch_keys(&self) -> Option<(i64, i64)> {
        let (b, a) = (self.sides[0].best_key(), self.sides[1].best_key());
        (b != NONE && a != NONE).then_some((b, a))
    }

    /// Checks every storage invariant (tests only).
    #[cfg(test)]
    pub(crate) fn check(&self) {
        for l in &self.sides {
            l.check();
        }
    }
}

impl Default for Book {
    fn default() -> Book {
        Book::new(BookConfig::default())
    }
}

impl fmt::Debug for Book {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Book")
            .field("config", &self.config)
            .field("best_bid", &self.best_bid())
            .field("best_ask", &self.best_ask())
            .field("stats", &self.stats())
            .finish()
    }
}

/// Levels of one side of a [`Book`], best first. Returned by [`Book::levels`].
#[derive(Clone)]
pub struct Levels<'a> {
    ladder: &'a Ladder,
    side: Side,
    cursor: Cursor,
}

impl Iterator for Levels<'_> {
    type Item = Level;

    #[inline]
    fn next(&mut self) -> Option<Level> {
        let (k, q) = self.ladder.next_level(&mut self.cursor)?;
        Some(Level::new(px_of(self.side, k), Qty(q)))
    }
}

impl fmt::Debug for Levels<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Levels").field("side", &self.side).field("cursor", &self.cursor).finish()
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod proptests;
