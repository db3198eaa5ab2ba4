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

/// Walks `levels` (the side opposite to `taker`, best first) with a market order of `qty`.
#[inline]
pub(crate) fn market_fill(
    taker: Side,
    qty: Qty,
    levels: impl Iterator<Item = Level>,
) -> Option<FillEstimate> {
    if qty.0 <= 0 {
        return None;
    }
    let mut left = qty.0;
    let mut filled = 0i64;
    let mut notional = 0i128;
    let mut n_levels = 0u32;
    let mut touch = None;
    let mut worst = Px(0);
    for level in levels {
        if left == 0 {
            break;
        }
        touch.get_or_insert(level.px);
        let take = left.min(level.qty.0);
        left -= take;
        filled += take;
        notional += i128::from(level.px.0) * i128::from(take);
        n_levels += 1;
        worst = level.px;
    }
    let touch = touch?;
    let at_touch = i128::from(touch.0) * i128::from(filled);
    let adverse = match taker {
        Side::Buy => notional - at_touch,
        Side::Sell => at_touch - notional,
    };
    Some(FillEstimate {
        filled: Qty(filled),
        levels: n_levels,
        avg_px_ticks: notional as f64 / filled as f64,
        worst_px: worst,
        slippage_ticks: adverse as f64 / filled as f64,
        notional,
    })
}
