//! [`RefBook`]: a naive book, one `BTreeMap<Px, Qty>` per side, with the same API as
//! [`crate::Book`]. It is the model the property tests and the real-data tests compare the
//! book against, and the baseline of the side-by-side benchmark. It allocates on inserts;
//! do not use it on the hot path.

use std::collections::BTreeMap;
use std::collections::btree_map;

use crpbot_core::{LevelUpdate, Px, Qty, Side};

use crate::math;
use crate::types::{ApplyError, CrossState, FillEstimate, Level, validate};

/// A naive L2 book over two `BTreeMap`s.
///
/// # Examples
/// ```
/// use crpbot_book::reference::RefBook;
/// use crpbot_book::Level;
/// use crpbot_core::{Px, Qty, Side};
/// let mut book = RefBook::new();
/// book.set(Side::Buy, Px(99), Qty(5)).unwrap();
/// book.set(Side::Sell, Px(101), Qty(3)).unwrap();
/// assert_eq!(book.best_bid(), Some(Level::new(Px(99), Qty(5))));
/// assert_eq!(book.mid_x2(), Some(200));
/// ```
#[derive(Clone, Debug, Default)]
pub struct RefBook {
    bids: BTreeMap<Px, Qty>,
    asks: BTreeMap<Px, Qty>,
}

impl RefBook {
    /// An empty book.
    pub fn new() -> RefBook {
        RefBook::default()
    }

    fn map(&self, side: Side) -> &BTreeMap<Px, Qty> {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    /// Sets the absolute size at `px` (`Qty(0)` removes).
    ///
    /// # Errors
    /// The same [`ApplyError`]s as [`crate::Book::set`]; the book is then unchanged.
    pub fn set(&mut self, side: Side, px: Px, qty: Qty) -> Result<(), ApplyError> {
        validate(px, qty)?;
        let map = match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        if qty.is_zero() {
            map.remove(&px);
        } else {
            map.insert(px, qty);
        }
        Ok(())
    }

    /// [`RefBook::set`] from a [`LevelUpdate`].
    ///
    /// # Errors
    /// As [`RefBook::set`].
    pub fn apply(&mut self, update: &LevelUpdate) -> Result<(), ApplyError> {
        self.set(update.side, update.px, update.qty)
    }

    /// Removes every level.
    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
    }

    /// Levels of `side`, best first.
    pub fn levels(&self, side: Side) -> RefLevels<'_> {
        RefLevels { iter: self.map(side).iter(), side }
    }

    /// The best level of `side`.
    pub fn best(&self, side: Side) -> Option<Level> {
        self.levels(side).next()
    }

    /// The best bid.
    pub fn best_bid(&self) -> Option<Level> {
        self.best(Side::Buy)
    }

    /// The best ask.
    pub fn best_ask(&self) -> Option<Level> {
        self.best(Side::Sell)
    }

    /// The size at `px` (`Qty(0)` when none).
    pub fn qty_at(&self, side: Side, px: Px) -> Qty {
        self.map(side).get(&px).copied().unwrap_or(Qty(0))
    }

    /// Levels stored on `side`.
    pub fn level_count(&self, side: Side) -> usize {
        self.map(side).len()
    }

    /// Up to `out.len()` levels of `side`, best first; returns how many.
    pub fn top(&self, side: Side, out: &mut [Level]) -> usize {
        let mut n = 0;
        for (slot, level) in out.iter_mut().zip(self.levels(side)) {
            *slot = level;
            n += 1;
        }
        n
    }

    /// Best bid + best ask in ticks.
    pub fn mid_x2(&self) -> Option<i64> {
        Some(self.best_bid()?.px.0 + self.best_ask()?.px.0)
    }

    /// The mid in ticks.
    pub fn mid_ticks(&self) -> Option<f64> {
        self.mid_x2().map(|m| m as f64 / 2.0)
    }

    /// Best ask − best bid in ticks.
    pub fn spread_ticks(&self) -> Option<i64> {
        Some(self.best_ask()?.px.0 - self.best_bid()?.px.0)
    }

    /// Spread over mid in basis points.
    pub fn spread_bps(&self) -> Option<f64> {
        Some(math::spread_bps(self.best_bid()?.px, self.best_ask()?.px))
    }

    /// Size-weighted mid in ticks.
    pub fn microprice(&self) -> Option<f64> {
        Some(math::microprice(self.best_bid()?, self.best_ask()?))
    }

    /// Empty, one-sided, normal, locked or crossed.
    pub fn cross_state(&self) -> CrossState {
        CrossState::of(self.best_bid().map(|l| l.px), self.best_ask().map(|l| l.px))
    }

    /// Depth imbalance over the best `n_levels` of each side.
    pub fn depth_imbalance(&self, n_levels: usize) -> Option<f64> {
        let bid = math::sum_qty(self.levels(Side::Buy).take(n_levels));
        let ask = math::sum_qty(self.levels(Side::Sell).take(n_levels));
        math::imbalance(bid, ask)
    }

    /// Total size on `side` at prices from the touch to `px` inclusive.
    pub fn cum_qty_to(&self, side: Side, px: Px) -> Qty {
        let sum = match side {
            Side::Buy => self.bids.range(px..).map(|(_, q)| q.0).fold(0i64, i64::saturating_add),
            Side::Sell => self.asks.range(..=px).map(|(_, q)| q.0).fold(0i64, i64::saturating_add),
        };
        Qty(sum)
    }

    /// Market order walk, as [`crate::Book::market_fill`].
    pub fn market_fill(&self, taker_side: Side, qty: Qty) -> Option<FillEstimate> {
        math::market_fill(taker_side, qty, self.levels(taker_side.opposite()))
    }
}

/// Levels of one side of a [`RefBook`], best first.
#[derive(Clone, Debug)]
pub struct RefLevels<'a> {
    iter: btree_map::Iter<'a, Px, Qty>,
    side: Side,
}

impl Iterator for RefLevels<'_> {
    type Item = Level;

    fn next(&mut self) -> Option<Level> {
        let (&px, &qty) = match self.side {
            Side::Buy => self.iter.next_back()?,
            Side::Sell => self.iter.next()?,
        };
        Some(Level::new(px, qty))
    }
}
