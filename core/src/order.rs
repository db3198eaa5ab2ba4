//! Orders, fills and money: what strategies ask for, what risk decides, what a venue does.
//!
//! All types here are `Copy`, `#[repr(C)]` and fixed-size, like the market events, so they can
//! cross rings and be journaled as bytes.

use crate::event::Side;
use crate::fixed::{Px, Qty};
use crate::instrument::{Instrument, InstrumentId};

/// An amount of quote currency in units of 10⁻⁸ (e.g. USDT), for PnL, fees and equity.
///
/// Integer so that accounting is exact and deterministic; conversions from price × size round
/// half away from zero at the 10⁻⁸ digit (documented on [`Money::notional`]).
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(pub i64);

impl Money {
    /// Units per whole quote currency unit.
    pub const SCALE: i64 = 100_000_000;
    /// Zero.
    pub const ZERO: Money = Money(0);

    /// Whole quote units (e.g. `Money::from_units(100_000)` is 100,000 USDT).
    pub const fn from_units(units: i64) -> Money {
        Money(units * Self::SCALE)
    }

    /// As an `f64` number of quote units (reports and ratios only).
    pub fn to_f64(self) -> f64 {
        self.0 as f64 / Self::SCALE as f64
    }

    /// From an `f64` number of quote units, rounded to the nearest 10⁻⁸ (configuration input
    /// only); `None` for NaN, infinities and out-of-range values.
    pub fn from_f64(v: f64) -> Option<Money> {
        let scaled = (v * Self::SCALE as f64).round();
        (scaled.is_finite() && scaled.abs() < 9.0e18).then_some(Money(scaled as i64))
    }

    /// The notional value `px × qty` of an instrument, rounded half away from zero to 10⁻⁸
    /// quote units; `None` on overflow.
    ///
    /// # Examples
    /// ```
    /// use crpbot_core::{Money, Px, Qty, Registry, Venue};
    /// let reg = Registry::with_defaults();
    /// let btc = reg.get(reg.lookup(Venue::BinanceSpot, b"BTCUSDT").unwrap());
    /// // 0.5 BTC at 60000.00 USDT = 30000 USDT.
    /// let n = Money::notional(btc, Px(6_000_000), Qty(50_000_000)).unwrap();
    /// assert_eq!(n, Money::from_units(30_000));
    /// ```
    pub fn notional(inst: &Instrument, px: Px, qty: Qty) -> Option<Money> {
        let (p, q) = (inst.price, inst.qty);
        // value = px·p.step·10^-pd × qty·q.step·10^-qd quote units.
        let raw = i128::from(px.0)
            .checked_mul(i128::from(p.step()))?
            .checked_mul(i128::from(qty.0))?
            .checked_mul(i128::from(q.step()))?;
        let exp = i32::from(p.decimals()) + i32::from(q.decimals()) - 8;
        let units = if exp <= 0 {
            raw.checked_mul(10i128.checked_pow(exp.unsigned_abs())?)?
        } else {
            let div = 10i128.checked_pow(exp.unsigned_abs())?;
            let (quot, rem) = (raw / div, raw % div);
            if rem.abs() * 2 >= div { quot + raw.signum() } else { quot }
        };
        i64::try_from(units).ok().map(Money)
    }

    /// Checked addition.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    /// Checked subtraction.
    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }
}

/// Which strategy (or lane) an intent comes from; a dense index into the configured list.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StrategyId(pub u16);

/// A client order id, unique per process run (and per journal).
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientOrderId(pub u64);

/// How an order executes.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrderType {
    /// Takes liquidity now, walking the book (a `px` limit, if non-zero, caps the walk).
    Market = 0,
    /// Rests at `px` (joins the back of the queue) unless marketable.
    Limit = 1,
}

/// What an intent asks for.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntentAction {
    /// A new order.
    New = 0,
    /// Change the price and/or size of a working order (`client_id` names it).
    Modify = 1,
    /// Cancel a working order (`client_id` names it). Always allowed by risk.
    Cancel = 2,
}

/// A strategy's request to trade, before risk.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderIntent {
    /// When the strategy decided (clock time).
    pub ts_ns: i64,
    /// Order id (for `Modify`/`Cancel`, the order concerned).
    pub client_id: ClientOrderId,
    /// Limit price (or price cap for market orders; `Px(0)` for none).
    pub px: Px,
    /// Size.
    pub qty: Qty,
    /// Protective stop (`Px(0)` for none): used by risk to size the worst-case loss.
    pub stop_px: Px,
    /// Take-profit (`Px(0)` for none).
    pub take_profit_px: Px,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Strategy.
    pub strategy: StrategyId,
    /// Strategy-specific reason code (why it wants to trade).
    pub reason: u16,
    /// Side.
    pub side: Side,
    /// Market or limit.
    pub order_type: OrderType,
    /// New, modify or cancel.
    pub action: IntentAction,
    /// Only reduces an existing position (exits): allowed even when halted.
    pub reduce_only: bool,
    /// Padding, always zero.
    pub _pad: [u8; 6],
}

/// Whether a fill added or took liquidity.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Liquidity {
    /// Rested on the book and was hit.
    Maker = 0,
    /// Crossed the spread.
    Taker = 1,
}

/// An execution of (part of) an order.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill {
    /// Venue (or paper venue) time of the fill.
    pub ts_ns: i64,
    /// The order filled.
    pub client_id: ClientOrderId,
    /// Price.
    pub px: Px,
    /// Size of this fill.
    pub qty: Qty,
    /// Fee paid (positive) or rebate (negative).
    pub fee: Money,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Strategy of the order.
    pub strategy: StrategyId,
    /// Side of the order.
    pub side: Side,
    /// Maker or taker.
    pub liquidity: Liquidity,
    /// True when the order is now completely filled.
    pub last: bool,
    /// Padding, always zero.
    pub _pad: [u8; 1],
}

/// The circuit breaker's decision on one intent, as journaled. `code` is crpbot-risk's stable
/// reason code (0 = accepted).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RiskVerdict {
    /// When the verdict was given.
    pub ts_ns: i64,
    /// The intent's order id.
    pub client_id: ClientOrderId,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Strategy.
    pub strategy: StrategyId,
    /// Reason code.
    pub code: u16,
    /// Whether the intent may go to the venue.
    pub accepted: bool,
    /// Padding, always zero.
    pub _pad: [u8; 1],
}

/// The signals an intent was decided on, journaled just before the intent (same `client_id`),
/// so a researcher sees why each order was wanted without re-running the strategies. Values are
/// fixed-point, scaled by [`SignalRecord::SCALE`]; [`SignalRecord::NONE`] where the signal had no
/// value yet (the full signal series is re-derived by replaying the journal's market events).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignalRecord {
    /// When the strategy decided.
    pub ts_ns: i64,
    /// The intent this signal produced.
    pub client_id: ClientOrderId,
    /// Microprice of the intent's instrument, in ticks × `SCALE`.
    pub microprice: i64,
    /// Top-of-book size imbalance in `[-1, 1]` × `SCALE`.
    pub imbalance: i64,
    /// Normalised window order-flow imbalance in `[-1, 1]` × `SCALE`.
    pub ofi_norm: i64,
    /// Mid's deviation from the rolling VWAP in bps × `SCALE`.
    pub vwap_dev_bps: i64,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Strategy.
    pub strategy: StrategyId,
    /// The strategy's reason code (as on the intent).
    pub reason: u16,
    /// Padding, always zero.
    pub _pad: [u8; 2],
}

impl SignalRecord {
    /// Fixed-point scale of the values.
    pub const SCALE: f64 = 1e6;
    /// A signal without a value.
    pub const NONE: i64 = i64::MIN;

    /// `v × SCALE` rounded, or [`SignalRecord::NONE`] for `None`, NaN or out of range.
    #[inline]
    pub fn fixed(v: Option<f64>) -> i64 {
        match v {
            Some(x) if x.is_finite() && (x * Self::SCALE).abs() < 9.0e18 => {
                (x * Self::SCALE).round() as i64
            }
            _ => Self::NONE,
        }
    }

    /// The value of a fixed-point field, `None` for [`SignalRecord::NONE`].
    #[inline]
    pub fn value(fixed: i64) -> Option<f64> {
        (fixed != Self::NONE).then(|| fixed as f64 / Self::SCALE)
    }
}

/// One strategy's position in one instrument, journaled after each fill that changed it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PositionSnapshot {
    /// Time of the fill.
    pub ts_ns: i64,
    /// Signed size in lots (positive long).
    pub qty_lots: i64,
    /// Entry notional of the open size.
    pub cost: Money,
    /// Realized PnL before fees.
    pub realized: Money,
    /// Fees paid on this position (rebates negative).
    pub fees: Money,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Strategy.
    pub strategy: StrategyId,
    /// Padding, always zero.
    pub _pad: [u8; 4],
}

/// The paper account, journaled after each fill.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EquitySnapshot {
    /// Time of the fill.
    pub ts_ns: i64,
    /// Equity (cash plus open positions at their marks).
    pub equity: Money,
    /// Fees paid so far.
    pub fees: Money,
    /// Round trips closed so far.
    pub closed_trades: u32,
    /// Positions open (strategy × instrument).
    pub open_positions: u32,
    /// Whether the circuit breaker has halted trading.
    pub halted: bool,
    /// Padding, always zero.
    pub _pad: [u8; 7],
}

const _: () = assert!(std::mem::size_of::<OrderIntent>() == 64);
const _: () = assert!(std::mem::size_of::<Fill>() == 48);
const _: () = assert!(std::mem::size_of::<SignalRecord>() == 56);
const _: () = assert!(std::mem::size_of::<PositionSnapshot>() == 48);
const _: () = assert!(std::mem::size_of::<EquitySnapshot>() == 40);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Registry, Venue};

    #[test]
    fn signal_values_are_fixed_point_with_a_none_sentinel() {
        assert_eq!(SignalRecord::fixed(Some(0.25)), 250_000);
        assert_eq!(SignalRecord::fixed(Some(-1.0)), -1_000_000);
        assert_eq!(SignalRecord::fixed(Some(1e-7)), 0);
        assert_eq!(SignalRecord::fixed(Some(123_456.789_012_3)), 123_456_789_012);
        for bad in [None, Some(f64::NAN), Some(f64::INFINITY), Some(1e13), Some(-1e13)] {
            assert_eq!(SignalRecord::fixed(bad), SignalRecord::NONE, "{bad:?}");
        }
        assert_eq!(SignalRecord::value(SignalRecord::NONE), None);
        assert_eq!(SignalRecord::value(-1_500_000), Some(-1.5));
    }

    #[test]
    fn notional_is_exact_and_rounds_half_away_from_zero() {
        let reg = Registry::with_defaults();
        let btc = reg.get(reg.lookup(Venue::BinanceSpot, b"BTCUSDT").unwrap());
        // 61837.63 × 0.00001234 = 0.7630763542 → 0.76307635 (rounded down at 1e-8).
        assert_eq!(Money::notional(btc, Px(6_183_763), Qty(1234)), Some(Money(76_307_635)));
        // 0.05 × 0.00000001 = 5e-10: a twentieth of a unit, rounds to 0.
        assert_eq!(Money::notional(btc, Px(5), Qty(1)), Some(Money(0)));
        // 0.50 × 0.00000001 = 5e-9 = half a unit → 1.
        assert_eq!(Money::notional(btc, Px(50), Qty(1)), Some(Money(1)));
        assert_eq!(Money::notional(btc, Px(-50), Qty(1)), Some(Money(-1)));
        let fut = reg.get(reg.lookup(Venue::BinanceUsdm, b"BTCUSDT").unwrap());
        // 60000.1 × 0.002 = 120.0002 exactly.
        assert_eq!(Money::notional(fut, Px(600_001), Qty(2)), Some(Money(12_000_020_000)));
        assert_eq!(Money::notional(btc, Px(i64::MAX), Qty(i64::MAX)), None);
    }

    #[test]
    fn money_conversions() {
        assert_eq!(Money::from_units(3).0, 300_000_000);
        assert_eq!(Money::from_f64(1.5), Some(Money(150_000_000)));
        assert_eq!(Money::from_f64(f64::NAN), None);
        assert_eq!(Money(250_000_000).to_f64(), 2.5);
    }
}
