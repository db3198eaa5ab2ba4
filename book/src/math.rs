//! Read-side formulas over levels, shared by [`crate::Book`] and
//! [`crate::reference::RefBook`] so that both answer bit-for-bit alike. The books differ in
//! how they store and walk levels; that is what the property tests compare. The formulas
//! themselves are checked against hand-computed values in the unit tests.

use crpbot_core::{Px, Qty, Side};

use crate::types::{FillEstimate, Level};

/// `(ask − bid) / mid × 1e4`.
#[inline]
pub(crate) fn spread_bps(bid: Px, ask: Px) -> f64 {
    let mid = (i128::from(bid.0) + i128::from(ask.0)) as f64 / 2.0;
    (ask.0 - bid.0) as f64 / mid * 1e4
}

/// `(bid × ask_qty + ask × bid_qty) / (bid_qty + ask_qty)` in ticks.
#[inline]
pub(crate) fn microprice(bid: Level, ask: Level) -> f64 {
    let num =
        i128::from(bid.px.0) * i128::from(ask.qty.0) + i128::from(ask.px.0) * i128::from(bid.qty.0);
    let den = i128::from(bid.qty.0) + i128::from(ask.qty.0);
    num as f64 / den as f64
}

/// Σ qty, exact.
#[inline]
pub(crate) fn sum_qty(levels: impl Iterator<Item = Level>) -> i128 {
    levels.map(|l| i128::from(l.qty.0)).sum()
}

/// `(bid − ask) / (bid + ask)`, `None` when both are zero.
#[inline]
pub(crate) fn imbalance(bid: i128, ask: i128) -> Option<f64> {
    let total = bid + ask;
    (total != 0).then(|| (bid - ask) as f64 / total as f64)
}

/// A market order walking levels best first: feed it with [`Fill::push`] until it returns
/// `false`, then [`Fill::finish`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fill {
    left: i64,
    filled: i64,
    notional: i128,
    n_levels: u32,
    touch: Option<Px>,
    worst: Px,
}

impl Fill {
    #[inline]
    pub(crate) fn new(qty: Qty) -> Fill {
        Fill { left: qty.0.max(0), filled: 0, notional: 0, n_levels: 0, touch: None, worst: Px(0) }
    }

    /// Takes what it needs from `level`; `false` once the order is filled.
    #[inline]
    pub(crate) fn push(&mut self, level: Level) -> bool {
        if self.left == 0 {
            return false;
        }
        self.touch.get_or_insert(level.px);
        let take = self.left.min(level.qty.0);
        self.left -= take;
        self.filled += take;
        self.notional += i128::from(level.px.0) * i128::from(take);
        self.n_levels += 1;
        self.worst = level.px;
        self.left != 0
    }

    /// The estimate for a taker on `taker` side; `None` when nothing filled.
    #[inline]
    pub(crate) fn finish(self, taker: Side) -> Option<FillEstimate> {
        let touch = self.touch?;
        let filled = self.filled;
        let at_touch = i128::from(touch.0) * i128::from(filled);
        let adverse = match taker {
            Side::Buy => self.notional - at_touch,
            Side::Sell => at_touch - self.notional,
        };
        Some(FillEstimate {
            filled: Qty(filled),
            levels: self.n_levels,
            avg_px_ticks: self.notional as f64 / filled as f64,
            worst_px: self.worst,
            slippage_ticks: adverse as f64 / filled as f64,
            notional: self.notional,
        })
    }
}

/// Walks `levels` (the side opposite to `taker`, best first) with a market order of `qty`.
#[inline]
pub(crate) fn market_fill(
    taker: Side,
    qty: Qty,
    levels: impl Iterator<Item = Level>,
) -> Option<FillEstimate> {
    let mut fill = Fill::new(qty);
    if qty.0 > 0 {
        for level in levels {
            if !fill.push(level) {
                break;
            }
        }
    }
    fill.finish(taker)
}
