//! Exact position accounting in integer [`Money`], shared by the breaker and the paper venue.

use crpbot_core::{Instrument, Money, Px, Qty, Side};

/// One position: signed size, entry cost and realized results, all exact integers.
///
/// Accounting is average-cost: the cost of an opening fill is its notional
/// (`Money::notional`, rounded half away from zero at 10⁻⁸); a reducing fill removes
/// `round(cost × closed / |qty|)` of the cost, so the cost of a position that goes flat is
/// removed exactly and realized PnL over a round trip is `Σ proceeds − Σ costs` to the unit.
///
/// # Examples
/// ```
/// use crpbot_core::{Money, Px, Qty, Registry, Side, Venue};
/// use crpbot_risk::Position;
/// let reg = Registry::with_defaults();
/// let btc = reg.get(reg.lookup(Venue::BinanceSpot, b"BTCUSDT").unwrap());
/// let mut p = Position::default();
/// // Buy 1 BTC at 100.00, sell it at 101.50: +1.50 realized, fees tracked apart.
/// p.apply(btc, Side::Buy, Px(10_000), Qty(100_000_000), Money(10)).unwrap();
/// let pnl = p.apply(btc, Side::Sell, Px(10_150), Qty(100_000_000), Money(10)).unwrap();
/// assert_eq!(pnl, Money(150_000_000));
/// assert_eq!((p.qty, p.realized, p.fees), (0, Money(150_000_000), Money(20)));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Position {
    /// Signed size in lots (positive long).
    pub qty: i64,
    /// Entry notional of the open size (never negative).
    pub cost: Money,
    /// Realized PnL, before fees.
    pub realized: Money,
    /// Fees paid (rebates negative).
    pub fees: Money,
}

/// `round_half_away(a × b / d)` in i128; `None` on overflow or `d == 0`.
#[inline]
pub(crate) fn mul_div_round(a: i64, b: i64, d: i64) -> Option<i64> {
    if d == 0 {
        return None;
    }
    let n = i128::from(a) * i128::from(b);
    let d = i128::from(d);
    let (q, r) = (n / d, n % d);
    let q = if r.abs() * 2 >= d.abs() { q + n.signum() * d.signum() } else { q };
    i64::try_from(q).ok()
}

/// `floor(a × ppm / 1e6)` toward zero, for limits (`None` on overflow).
#[inline]
pub(crate) fn frac_ppm(m: Money, ppm: i64) -> Money {
    Money((i128::from(m.0) * i128::from(ppm) / 1_000_000) as i64)
}

impl Position {
    /// Applies a fill of `qty` lots (positive) at `px` on `side`, paying `fee`; returns the
    /// realized PnL of this fill (zero for an opening fill). `None` (state unchanged) on
    /// overflow or a non-positive size.
    pub fn apply(
        &mut self,
        inst: &Instrument,
        side: Side,
        px: Px,
        qty: Qty,
        fee: Money,
    ) -> Option<Money> {
        if qty.0 <= 0 {
            return None;
        }
        let mut next = *self;
        let signed = side.sign() * qty.0;
        let pnl;
        if next.qty == 0 || (next.qty > 0) == (signed > 0) {
            next.cost = next.cost.checked_add(Money::notional(inst, px, qty)?)?;
            next.qty = next.qty.checked_add(signed)?;
            pnl = Money::ZERO;
        } else {
            let open = next.qty.abs();
            let close = qty.0.min(open);
            let removed = Money(mul_div_round(next.cost.0, close, open)?);
            let proceeds = Money::notional(inst, px, Qty(close))?;
            pnl = if next.qty > 0 {
                proceeds.checked_sub(removed)?
            } else {
                removed.checked_sub(proceeds)?
            };
            next.cost = next.cost.checked_sub(removed)?;
            next.qty += side.sign() * close;
            let rest = qty.0 - close;
            if rest > 0 {
                next.qty = side.sign() * rest;
                next.cost = Money::notional(inst, px, Qty(rest))?;
            }
            next.realized = next.realized.checked_add(pnl)?;
        }
        next.fees = next.fees.checked_add(fee)?;
        *self = next;
        Some(pnl)
    }

    /// Open PnL marked at the liquidation side: longs at `bid`, shorts at `ask` (`None` on
    /// overflow).
    pub fn unrealized(&self, inst: &Instrument, bid: Px, ask: Px) -> Option<Money> {
        match self.qty {
            0 => Some(Money::ZERO),
            q if q > 0 => Money::notional(inst, bid, Qty(q))?.checked_sub(self.cost),
            q => self.cost.checked_sub(Money::notional(inst, ask, Qty(-q))?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crpbot_core::{Registry, Venue};

    #[test]
    fn average_cost_partial_close_and_flip() {
        let reg = Registry::with_defaults();
        let sim = reg.get(reg.lookup(Venue::Sim, b"BTC-SIM").unwrap()); // tick 0.01, lot 1e-5
        let mut p = Position::default();
        // Buy 3 lots at 100.00 and 1 lot at 104.00: cost 0.003 + 0.00104 = 0.00404.
        p.apply(sim, Side::Buy, Px(10_000), Qty(3), Money::ZERO).unwrap();
        p.apply(sim, Side::Buy, Px(10_400), Qty(1), Money::ZERO).unwrap();
        assert_eq!(p.cost, Money(404_000));
        // Sell 1 lot at 102.00: removes 404000/4 = 101000, proceeds 102000 → +1000.
        assert_eq!(p.apply(sim, Side::Sell, Px(10_200), Qty(1), Money::ZERO), Some(Money(1000)));
        assert_eq!((p.qty, p.cost), (3, Money(303_000)));
        // Sell 5 at 99.00: closes 3 (proceeds 297000 − 303000 = −6000), opens short 2.
        assert_eq!(p.apply(sim, Side::Sell, Px(9_900), Qty(5), Money(7)), Some(Money(-6000)));
        assert_eq!(
            (p.qty, p.cost, p.realized, p.fees),
            (-2, Money(198_000), Money(-5000), Money(7))
        );
        // Short marked at the ask 98.00: 198000 − 196000 = +2000.
        assert_eq!(p.unrealized(sim, Px(9_790), Px(9_800)), Some(Money(2000)));
        assert_eq!(p.apply(sim, Side::Buy, Px(1), Qty(0), Money::ZERO), None);
    }

    #[test]
    fn rounding_helpers() {
        assert_eq!(mul_div_round(10, 1, 3), Some(3));
        assert_eq!(mul_div_round(20, 1, 3), Some(7));
        assert_eq!(mul_div_round(-20, 1, 3), Some(-7));
        assert_eq!(mul_div_round(1, 1, 0), None);
        assert_eq!(frac_ppm(Money(1_000_000), 45_000), Money(45_000));
    }
}
