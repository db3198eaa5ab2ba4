//! Position sizing (fractional Kelly) and exit rules, reusable by strategies' callers.
//!
//! Floats are used for the Kelly fraction (signal math); sizes and prices stay integers.
//! Bad inputs (NaN, infinite, non-positive) size to zero and never exit spuriously.

use crpbot_core::{Instrument, Money, Px, Qty, Side};

/// Fractional Kelly sizing: `f = mult × (p − (1 − p) / b)`, clamped to `[0, cap]`.
///
/// # Examples
/// ```
/// use crpbot_risk::PositionSizer;
/// let s = PositionSizer::default(); // half Kelly, capped at 25 %
/// // p = 0.6, b = 1: full Kelly 0.2, half 0.1.
/// assert!((s.fraction(0.6, 1.0) - 0.1).abs() < 1e-12);
/// assert_eq!(s.fraction(0.99, 10.0), 0.25); // capped
/// assert_eq!(s.fraction(0.3, 1.0), 0.0);    // negative edge: no trade
/// assert_eq!(s.fraction(f64::NAN, 1.0), 0.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PositionSizer {
    /// Kelly multiplier (0.5 = half Kelly).
    pub kelly_mult: f64,
    /// Largest fraction of equity.
    pub cap: f64,
}

impl Default for PositionSizer {
    fn default() -> PositionSizer {
        PositionSizer { kelly_mult: 0.5, cap: 0.25 }
    }
}

impl PositionSizer {
    /// The fraction of equity to commit for win probability `p` and win/loss ratio `b`.
    pub fn fraction(&self, p: f64, b: f64) -> f64 {
        if !(p.is_finite() && b.is_finite() && b > 0.0 && (0.0..=1.0).contains(&p)) {
            return 0.0;
        }
        let f = self.kelly_mult * (p - (1.0 - p) / b);
        if f.is_finite() { f.clamp(0.0, self.cap.max(0.0)) } else { 0.0 }
    }

    /// Lots to buy or sell at `entry` so that the notional is at most `fraction × equity` and
    /// the loss to `stop` at most `max_risk_frac × equity`; zero on bad input.
    ///
    /// # Examples
    /// ```
    /// use crpbot_core::{Money, Px, Registry, Venue};
    /// use crpbot_risk::PositionSizer;
    /// let reg = Registry::with_defaults();
    /// let btc = reg.get(reg.lookup(Venue::BinanceSpot, b"BTCUSDT").unwrap());
    /// let s = PositionSizer::default();
    /// // 100,000 equity, 10 % → 10,000 notional at 50,000.00 = 0.2 BTC; the stop 1 % away
    /// // risks 100 ≤ 2 % × 100,000, so the notional binds.
    /// let q = s.qty(btc, Money::from_units(100_000), Px(5_000_000), Px(4_950_000), 0.1, 0.02);
    /// assert_eq!(q.0, 20_000_000);
    /// ```
    pub fn qty(
        &self,
        inst: &Instrument,
        equity: Money,
        entry: Px,
        stop: Px,
        fraction: f64,
        max_risk_frac: f64,
    ) -> Qty {
        let ok = |f: f64| f.is_finite() && f > 0.0;
        if equity.0 <= 0 || entry.0 <= 0 || !ok(fraction) || !ok(max_risk_frac) {
            return Qty(0);
        }
        const PROBE: i64 = 1_000_000;
        let per = |px: i64| Money::notional(inst, Px(px), Qty(PROBE)).map(|m| m.0);
        let budget = |f: f64| (equity.0 as f64 * f.min(1.0)) as i128;
        let mut lots = match per(entry.0) {
            Some(n) if n > 0 => budget(fraction) * i128::from(PROBE) / i128::from(n),
            _ => return Qty(0),
        };
        let dist = (entry.0 - stop.0).abs();
        if stop.0 > 0
            && dist > 0
            && let Some(n) = per(dist).filter(|&n| n > 0)
        {
            lots = lots.min(budget(max_risk_frac) * i128::from(PROBE) / i128::from(n));
        }
        Qty(lots.clamp(0, i128::from(i64::MAX)) as i64)
    }
}

/// Exit rule settings, in basis points of the entry price.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitConfig {
    /// Move the stop to the entry once the gain reaches this (default 25 = +0.25 %).
    pub break_even_bps: i64,
    /// Start trailing once the gain reaches this (default 50 = +0.5 %).
    pub trail_start_bps: i64,
    /// Trail this far behind the best price (default 20 = 0.2 %).
    pub trail_bps: i64,
    /// Close after this long (default 1 h; 0 = never).
    pub max_hold_ns: i64,
    /// Partial take-profits: (gain in bps, share of the initial size in bps of it); `(0, 0)`
    /// entries are unused. Default: a third at +0.75 %, a third at +1.5 %.
    pub take_profits: [(i64, i64); 4],
}

impl Default for ExitConfig {
    fn default() -> ExitConfig {
        ExitConfig {
            break_even_bps: 25,
            trail_start_bps: 50,
            trail_bps: 20,
            max_hold_ns: 3_600_000_000_000,
            take_profits: [(75, 3_333), (150, 3_333), (0, 0), (0, 0)],
        }
    }
}

/// What the exit manager asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitAction {
    /// Keep the position.
    Hold,
    /// Close this many lots (a partial take-profit).
    Reduce(Qty),
    /// Close everything: the (possibly moved) stop was hit.
    StopHit,
    /// Close everything: the maximum holding time passed.
    MaxHold,
}

/// Exit state of one position: break-even stop, trailing stop, max hold, partial profits.
///
/// # Examples
/// ```
/// use crpbot_core::{Px, Qty, Side};
/// use crpbot_risk::{ExitAction, ExitConfig, ExitManager};
/// let cfg = ExitConfig { take_profits: [(0, 0); 4], ..ExitConfig::default() };
/// let mut x = ExitManager::new(cfg, Side::Buy, Px(10_000), Px(9_900), Qty(10), 0);
/// assert_eq!(x.on_price(Px(10_025), 1), ExitAction::Hold); // +0.25 %: stop to entry
/// assert_eq!(x.stop(), Px(10_000));
/// assert_eq!(x.on_price(Px(10_100), 2), ExitAction::Hold); // +1 %: trail 0.2 % behind
/// assert_eq!(x.stop(), Px(10_080));
/// assert_eq!(x.on_price(Px(10_080), 3), ExitAction::StopHit);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitManager {
    cfg: ExitConfig,
    side: Side,
    entry: Px,
    stop: Px,
    best: Px,
    initial_qty: Qty,
    open_ts_ns: i64,
    tp_done: [bool; 4],
}

impl ExitManager {
    /// A position of `qty` entered at `entry` on `side` at `open_ts_ns` with initial `stop`
    /// (`Px(0)` for none).
    pub fn new(
        cfg: ExitConfig,
        side: Side,
        entry: Px,
        stop: Px,
        qty: Qty,
        open_ts_ns: i64,
    ) -> ExitManager {
        ExitManager {
            cfg,
            side,
            entry,
            stop,
            best: entry,
            initial_qty: qty,
            open_ts_ns,
            tp_done: [false; 4],
        }
    }

    /// The current stop.
    pub fn stop(&self) -> Px {
        self.stop
    }

    /// Favourable move of `px` from the entry, in bps (floor).
    fn gain_bps(&self, px: Px) -> i64 {
        if self.entry.0 <= 0 {
            return 0;
        }
        let d = i128::from(self.side.sign()) * (i128::from(px.0) - i128::from(self.entry.0));
        (d * 10_000).div_euclid(i128::from(self.entry.0)) as i64
    }

    /// Tightens the stop towards `to` (never loosens it).
    fn tighten(&mut self, to: Px) {
        let better = self.stop.0 == 0 || self.side.sign() * (to.0 - self.stop.0) > 0;
        if better {
            self.stop = to;
        }
    }

    /// A new price (mark or last trade) at `ts_ns`: updates the stops and says what to do.
    /// Non-positive prices are ignored.
    pub fn on_price(&mut self, px: Px, ts_ns: i64) -> ExitAction {
        if px.0 <= 0 {
            return ExitAction::Hold;
        }
        if self.stop.0 > 0 && self.side.sign() * (px.0 - self.stop.0) <= 0 {
            return ExitAction::StopHit;
        }
        if self.cfg.max_hold_ns > 0 && ts_ns - self.open_ts_ns >= self.cfg.max_hold_ns {
            return ExitAction::MaxHold;
        }
        if self.side.sign() * (px.0 - self.best.0) > 0 {
            self.best = px;
        }
        let best_gain = self.gain_bps(self.best);
        if best_gain >= self.cfg.break_even_bps {
            self.tighten(self.entry);
        }
        if best_gain >= self.cfg.trail_start_bps {
            let off = (i128::from(self.best.0) * i128::from(self.cfg.trail_bps) / 10_000) as i64;
            self.tighten(Px(self.best.0 - self.side.sign() * off));
        }
        let gain = self.gain_bps(px);
        for (k, &(at, share)) in self.cfg.take_profits.iter().enumerate() {
            if at > 0 && share > 0 && !self.tp_done[k] && gain >= at {
                self.tp_done[k] = true;
                let q = self.initial_qty.0 * share / 10_000;
                if q > 0 {
                    return ExitAction::Reduce(Qty(q));
                }
            }
        }
        ExitAction::Hold
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_side_trailing_partials_and_max_hold() {
        let cfg = ExitConfig { max_hold_ns: 100, ..ExitConfig::default() };
        let mut x = ExitManager::new(cfg, Side::Sell, Px(10_000), Px(10_100), Qty(9), 0);
        assert_eq!(x.on_price(Px(9_990), 1), ExitAction::Hold);
        assert_eq!(x.stop(), Px(10_100));
        assert_eq!(x.on_price(Px(9_975), 2), ExitAction::Hold); // +0.25 %: break-even
        assert_eq!(x.stop(), Px(10_000));
        // +0.75 %: first take-profit, a third of 9 = 2 (floor of 2.9997); trail from 99.25.
        assert_eq!(x.on_price(Px(9_925), 3), ExitAction::Reduce(Qty(2)));
        assert_eq!(x.stop(), Px(9_944)); // 9925 + 19 (0.2 % of 9925, floor)
        assert_eq!(x.on_price(Px(9_930), 4), ExitAction::Hold); // stop never loosens
        assert_eq!(x.stop(), Px(9_944));
        assert_eq!(x.on_price(Px(9_930), 100), ExitAction::MaxHold);
        assert_eq!(x.on_price(Px(9_944), 5), ExitAction::StopHit);
        assert_eq!(x.on_price(Px(0), 5), ExitAction::Hold);
    }

    #[test]
    fn sizer_fails_closed() {
        let s = PositionSizer::default();
        assert_eq!(s.fraction(0.6, 0.0), 0.0);
        assert_eq!(s.fraction(1.5, 1.0), 0.0);
        assert_eq!(s.fraction(0.6, f64::INFINITY), 0.0);
        let reg = crpbot_core::Registry::with_defaults();
        let btc = reg.get(reg.lookup(crpbot_core::Venue::BinanceSpot, b"BTCUSDT").unwrap());
        let eq = Money::from_units(100_000);
        assert_eq!(s.qty(btc, eq, Px(5_000_000), Px(0), f64::NAN, 0.02), Qty(0));
        assert_eq!(s.qty(btc, Money(0), Px(5_000_000), Px(0), 0.1, 0.02), Qty(0));
        assert_eq!(s.qty(btc, eq, Px(-1), Px(0), 0.1, 0.02), Qty(0));
        // Stop binds: 2 % of 100,000 = 2,000 at a 10 % stop (5,000 per BTC) = 0.4 BTC.
        let q = s.qty(btc, eq, Px(5_000_000), Px(4_500_000), 0.25, 0.02);
        assert_eq!(q, Qty(40_000_000));
    }
}
