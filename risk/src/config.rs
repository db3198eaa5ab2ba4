//! Risk configuration: plain data with documented defaults, validated once at construction.

use serde::Deserialize;

/// What the daily loss floor is anchored to at each Prague midnight.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DailyAnchor {
    /// Start-of-day equity (closed + open PnL): the product's rule, the default.
    #[default]
    Equity,
    /// Start-of-day balance (closed PnL only): FTMO's literal rule (PROTOCOLS.md §6.1).
    Balance,
}

/// What the daily loss fraction is a fraction of.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DailyBase {
    /// The anchor itself (start-of-day equity or balance): the default.
    #[default]
    Anchor,
    /// The initial equity (FTMO: 5 % of initial capital).
    Initial,
}

/// Limits of the circuit breaker. Fractions are of equity unless said otherwise; every float
/// is validated (finite, in range) and converted to integers at construction.
///
/// Read from TOML with every field optional:
/// ```
/// let cfg: crpbot_risk::RiskConfig = toml::from_str("initial_equity = 50000.0").unwrap();
/// assert_eq!(cfg.initial_equity, 50_000.0);
/// assert_eq!(cfg.max_open_positions, 3);
/// ```
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RiskConfig {
    /// Initial equity in quote units (default 100,000).
    pub initial_equity: f64,
    /// Strategies are `StrategyId(0..n_strategies)` (default 16).
    pub n_strategies: u16,
    /// Strategy ids of the fast (order-flow) strategies, which get the tighter per-trade risk
    /// and the larger open-position allowance.
    pub fast_strategies: Vec<u16>,
    /// Per-trade risk as a fraction of equity (default 0.02).
    pub trade_risk_frac: f64,
    /// Per-trade risk for fast strategies (default 0.005).
    pub fast_trade_risk_frac: f64,
    /// Stop distance assumed when an intent has no stop, in basis points of the entry
    /// (default 100 = 1 %).
    pub default_stop_bps: u32,
    /// Taker fee assumed in the risk of a trade, in parts per million of notional, charged on
    /// entry and on exit at the stop (default 1000 = 0.1 %).
    pub fee_ppm: u32,
    /// Max |position + worst-case working qty| notional per instrument (default 0.30).
    pub position_notional_frac: f64,
    /// Max open positions per strategy (default 3).
    pub max_open_positions: u32,
    /// Max open positions per fast strategy (default 5).
    pub fast_max_open_positions: u32,
    /// Daily loss limit as a fraction (default 0.045).
    pub daily_loss_frac: f64,
    /// What the daily floor is anchored to (default equity).
    pub daily_anchor: DailyAnchor,
    /// What the daily fraction is a fraction of (default the anchor).
    pub daily_base: DailyBase,
    /// Total loss limit as a fraction of initial equity (default 0.09).
    pub total_loss_frac: f64,
    /// Token bucket burst (default 20 orders).
    pub rate_burst: u32,
    /// Token bucket refill per second (default 2.0: with the burst, at most 40 orders in any
    /// 10 s — 80 % of Binance spot's 50 per 10 s).
    pub rate_per_sec: f64,
    /// Max order size in lots, per instrument id; instruments past the end use
    /// `default_max_order_qty` (default: empty).
    pub max_order_qty: Vec<i64>,
    /// Max order size in lots where not given per instrument (default unlimited).
    pub default_max_order_qty: i64,
    /// Max order notional in quote units (default 50,000).
    pub max_order_notional: f64,
    /// Price collar: |price − mid| ≤ this many basis points of the mid (default 100).
    pub collar_bps: u32,
    /// A book older than this is stale (default 2 s).
    pub stale_ns: i64,
    /// Window of the same-content duplicate check (default 1 s).
    pub dup_window_ns: i64,
    /// How many accepted client ids are remembered for the duplicate-id check (default 65,536).
    pub dup_id_memory: u32,
    /// Capacity of the working-order table (default 1024).
    pub max_working_orders: u32,
    /// Correlation above which a same-side position is refused (default 0.7).
    pub corr_threshold: f64,
}

impl Default for RiskConfig {
    fn default() -> RiskConfig {
        RiskConfig {
            initial_equity: 100_000.0,
            n_strategies: 16,
            fast_strategies: Vec::new(),
            trade_risk_frac: 0.02,
            fast_trade_risk_frac: 0.005,
            default_stop_bps: 100,
            fee_ppm: 1000,
            position_notional_frac: 0.30,
            max_open_positions: 3,
            fast_max_open_positions: 5,
            daily_loss_frac: 0.045,
            daily_anchor: DailyAnchor::Equity,
            daily_base: DailyBase::Anchor,
            total_loss_frac: 0.09,
            rate_burst: 20,
            rate_per_sec: 2.0,
            max_order_qty: Vec::new(),
            default_max_order_qty: i64::MAX,
            max_order_notional: 50_000.0,
            collar_bps: 100,
            stale_ns: 2_000_000_000,
            dup_window_ns: 1_000_000_000,
            dup_id_memory: 65_536,
            max_working_orders: 1024,
            corr_threshold: 0.7,
        }
    }
}

/// Why a risk configuration was refused (the breaker never starts on a bad one).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RiskConfigError {
    /// A fraction is NaN, infinite or outside its range.
    #[error("risk config: {field} = {value} is not a valid fraction in (0, {max}]")]
    Fraction {
        /// The field.
        field: &'static str,
        /// Its value.
        value: f64,
        /// The largest value allowed.
        max: f64,
    },
    /// A money amount is NaN, infinite, zero or negative.
    #[error("risk config: {field} = {value} must be a positive finite amount")]
    Amount {
        /// The field.
        field: &'static str,
        /// Its value.
        value: f64,
    },
    /// A count or duration is zero or negative.
    #[error("risk config: {field} must be positive")]
    NotPositive {
        /// The field.
        field: &'static str,
    },
    /// A fast strategy id is not below `n_strategies`.
    #[error("risk config: fast strategy {0} is not below n_strategies")]
    UnknownStrategy(u16),
    /// No instruments were given.
    #[error("risk config: no instruments")]
    NoInstruments,
}

/// Parts per million of a validated fraction in `(0, max]`.
pub(crate) fn ppm(field: &'static str, value: f64, max: f64) -> Result<i64, RiskConfigError> {
    if !value.is_finite() || value <= 0.0 || value > max {
        return Err(RiskConfigError::Fraction { field, value, max });
    }
    Ok((value * 1e6).round() as i64)
}

/// A positive finite money amount.
pub(crate) fn amount(
    field: &'static str,
    value: f64,
) -> Result<crpbot_core::Money, RiskConfigError> {
    match crpbot_core::Money::from_f64(value) {
        Some(m) if m.0 > 0 => Ok(m),
        _ => Err(RiskConfigError::Amount { field, value }),
    }
}

/// A positive integer.
pub(crate) fn positive(field: &'static str, value: i64) -> Result<i64, RiskConfigError> {
    if value > 0 { Ok(value) } else { Err(RiskConfigError::NotPositive { field }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_fails_closed() {
        assert!(ppm("x", f64::NAN, 1.0).is_err());
        assert!(ppm("x", f64::INFINITY, 1.0).is_err());
        assert!(ppm("x", 0.0, 1.0).is_err());
        assert!(ppm("x", -0.1, 1.0).is_err());
        assert!(ppm("x", 1.5, 1.0).is_err());
        assert_eq!(ppm("x", 0.045, 1.0), Ok(45_000));
        assert!(amount("x", f64::NAN).is_err());
        assert!(amount("x", 0.0).is_err());
        assert!(amount("x", -5.0).is_err());
        assert!(positive("x", 0).is_err());
    }

    #[test]
    fn toml_rejects_unknown_fields() {
        assert!(toml::from_str::<RiskConfig>("nope = 1").is_err());
        let c: RiskConfig = toml::from_str("daily_anchor = \"balance\"").unwrap();
        assert_eq!(c.daily_anchor, DailyAnchor::Balance);
    }
}
