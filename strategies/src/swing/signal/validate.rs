//! Validation of swing signals before anything downstream sees them: confidence by regime,
//! price sanity, reward/risk and sliding-window rate limits. Pure (the clock is `now_ms`).
//! The risk-engine check comes after, in the binary.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

use super::{Direction, Regime, SwingSignal};

/// Validation limits.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationConfig {
    /// Minimum confidence (0–100) in a trending regime (default 60).
    pub min_confidence_trending: f64,
    /// In consolidation (default 70).
    pub min_confidence_consolidation: f64,
    /// In a sideways (low-volatility range) regime (default 75).
    pub min_confidence_sideways: f64,
    /// In a high-volatility regime (default 80).
    pub min_confidence_high_volatility: f64,
    /// Minimum reward/risk `|target − entry| / |entry − stop|` (default 1).
    pub min_reward_risk: f64,
    /// Accepted signals per symbol per window (default 3).
    pub max_per_symbol: usize,
    /// Accepted signals over all symbols per window (default 10).
    pub max_total: usize,
    /// Sliding-window length in ms (default one hour).
    pub rate_window_ms: i64,
}

impl Default for ValidationConfig {
    fn default() -> Self {
        Self {
            min_confidence_trending: 60.0,
            min_confidence_consolidation: 70.0,
            min_confidence_sideways: 75.0,
            min_confidence_high_volatility: 80.0,
            min_reward_risk: 1.0,
            max_per_symbol: 3,
            max_total: 10,
            rate_window_ms: 3_600_000,
        }
    }
}

impl ValidationConfig {
    /// The confidence threshold of `regime`.
    #[must_use]
    pub fn min_confidence(&self, regime: Regime) -> f64 {
        match regime {
            Regime::Trending => self.min_confidence_trending,
            Regime::Consolidation => self.min_confidence_consolidation,
            Regime::Sideways => self.min_confidence_sideways,
            Regime::HighVolatility => self.min_confidence_high_volatility,
        }
    }
}

/// Why validation rejected an actionable signal.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// Confidence is not a number in 0–100.
    #[error("confidence {0} is outside 0-100")]
    ConfidenceOutOfRange(f64),
    /// Confidence below the regime's threshold.
    #[error("confidence {confidence} is below {threshold} for the {regime:?} regime")]
    LowConfidence {
        /// The signal's confidence.
        confidence: f64,
        /// The threshold.
        threshold: f64,
        /// The regime.
        regime: Regime,
    },
    /// Entry, stop or target is not finite and positive.
    #[error("prices must be finite and positive (entry {entry}, stop {stop}, target {target})")]
    BadPrice {
        /// Entry.
        entry: f64,
        /// Stop.
        stop: f64,
        /// Target.
        target: f64,
    },
    /// The stop is not on the losing side of the entry.
    #[error("stop {stop} is on the wrong side of entry {entry}")]
    StopWrongSide {
        /// Entry.
        entry: f64,
        /// Stop.
        stop: f64,
    },
    /// The target is not on the winning side of the entry.
    #[error("target {target} is on the wrong side of entry {entry}")]
    TargetWrongSide {
        /// Entry.
        entry: f64,
        /// Target.
        target: f64,
    },
    /// Reward/risk below the minimum.
    #[error("reward/risk {ratio} is below {min}")]
    RewardRisk {
        /// The signal's ratio.
        ratio: f64,
        /// Minimum.
        min: f64,
    },
    /// Too many accepted signals for this symbol in the window.
    #[error("rate limit: {limit} signals per window for {symbol} already accepted")]
    SymbolRate {
        /// Symbol.
        symbol: String,
        /// Limit.
        limit: usize,
    },
    /// Too many accepted signals over all symbols in the window.
    #[error("rate limit: {limit} signals per window in total already accepted")]
    TotalRate {
        /// Limit.
        limit: usize,
    },
}

/// Sliding-window rate limiter of accepted signals, per symbol and in total: a signal
/// accepted at `t` counts against the limits while `now − t < window`.
///
/// # Examples
/// ```
/// use crpbot_strategies::swing::signal::RateLimiter;
/// let mut rl = RateLimiter::new(2, 10, 1000);
/// for t in [0, 10] {
///     assert!(rl.check("BTC", t).is_ok());
///     rl.record("BTC", t);
/// }
/// assert!(rl.check("BTC", 999).is_err());
/// assert!(rl.check("ETH", 999).is_ok());
/// assert!(rl.check("BTC", 1000).is_ok()); // the first one left the window
/// ```
#[derive(Debug, Clone)]
pub struct RateLimiter {
    per_symbol: usize,
    total: usize,
    window_ms: i64,
    by_symbol: BTreeMap<String, VecDeque<i64>>,
    all: VecDeque<i64>,
}

impl RateLimiter {
    /// At most `per_symbol` per symbol and `total` overall within `window_ms`.
    #[must_use]
    pub fn new(per_symbol: usize, total: usize, window_ms: i64) -> Self {
        Self { per_symbol, total, window_ms, by_symbol: BTreeMap::new(), all: VecDeque::new() }
    }

    /// The limits of `cfg`.
    #[must_use]
    pub fn from_config(cfg: &ValidationConfig) -> Self {
        Self::new(cfg.max_per_symbol, cfg.max_total, cfg.rate_window_ms)
    }

    fn prune(&mut self, now_ms: i64) {
        let w = self.window_ms;
        let old = |q: &mut VecDeque<i64>| {
            while q.front().is_some_and(|t| now_ms.saturating_sub(*t) >= w) {
                q.pop_front();
            }
        };
        old(&mut self.all);
        self.by_symbol.values_mut().for_each(old);
        self.by_symbol.retain(|_, q| !q.is_empty());
    }

    /// Whether one more signal for `symbol` at `now_ms` stays within the limits.
    ///
    /// # Errors
    /// [`Rejection::SymbolRate`] or [`Rejection::TotalRate`].
    pub fn check(&mut self, symbol: &str, now_ms: i64) -> Result<(), Rejection> {
        self.prune(now_ms);
        if self.by_symbol.get(symbol).map_or(0, VecDeque::len) >= self.per_symbol {
            return Err(Rejection::SymbolRate {
                symbol: symbol.to_string(),
                limit: self.per_symbol,
            });
        }
        if self.all.len() >= self.total {
            return Err(Rejection::TotalRate { limit: self.total });
        }
        Ok(())
    }

    /// Counts an accepted signal for `symbol` at `now_ms`.
    pub fn record(&mut self, symbol: &str, now_ms: i64) {
        self.by_symbol.entry(symbol.to_string()).or_default().push_back(now_ms);
        self.all.push_back(now_ms);
    }

    /// Signals of `symbol` in the window ending at `now_ms`.
    pub fn count(&mut self, symbol: &str, now_ms: i64) -> usize {
        self.prune(now_ms);
        self.by_symbol.get(symbol).map_or(0, VecDeque::len)
    }
}

/// Checks an actionable signal against `cfg` and the rate limits, in this order: confidence
/// in 0–100, finite positive prices, stop and target on the correct sides of the entry,
/// reward/risk ≥ the minimum, confidence ≥ the regime's threshold, rate limits. An accepted
/// signal is recorded in `limiter`. A HOLD is `Ok` and not counted (nothing to act on).
///
/// # Errors
/// The first [`Rejection`] met.
///
/// # Examples
/// ```
/// use crpbot_strategies::swing::signal::*;
/// let mut s = SwingSignal {
///     symbol: "BTCUSDT".into(), bar_open_time_ms: 0, created_ms: 0,
///     direction: Direction::Long, confidence: 65.0,
///     entry: 100.0, stop_loss: 95.0, take_profit: 110.0,
///     reasoning: String::new(), key_factors: vec![], variant: "math-v1".into(),
///     regime: Regime::Trending, theories: TheoryValues::new(),
///     raw_response: None, hold_reason: None,
/// };
/// let cfg = ValidationConfig::default();
/// let mut rl = RateLimiter::from_config(&cfg);
/// assert!(validate(&s, &cfg, &mut rl, 0).is_ok());
/// s.regime = Regime::HighVolatility; // needs 80
/// assert!(matches!(validate(&s, &cfg, &mut rl, 0), Err(Rejection::LowConfidence { .. })));
/// ```
pub fn validate(
    signal: &SwingSignal,
    cfg: &ValidationConfig,
    limiter: &mut RateLimiter,
    now_ms: i64,
) -> Result<(), Rejection> {
    let side = match signal.direction {
        Direction::Long => 1.0,
        Direction::Short => -1.0,
        Direction::Hold => return Ok(()),
    };
    let c = signal.confidence;
    if !(c.is_finite() && (0.0..=100.0).contains(&c)) {
        return Err(Rejection::ConfidenceOutOfRange(c));
    }
    let (entry, stop, target) = (signal.entry, signal.stop_loss, signal.take_profit);
    if ![entry, stop, target].iter().all(|p| p.is_finite() && *p > 0.0) {
        return Err(Rejection::BadPrice { entry, stop, target });
    }
    let (risk, reward) = (side * (entry - stop), side * (target - entry));
    if risk <= 0.0 {
        return Err(Rejection::StopWrongSide { entry, stop });
    }
    if reward <= 0.0 {
        return Err(Rejection::TargetWrongSide { entry, target });
    }
    let ratio = reward / risk;
    let ratio_ok = ratio >= cfg.min_reward_risk; // false for a NaN minimum
    if !ratio_ok {
        return Err(Rejection::RewardRisk { ratio, min: cfg.min_reward_risk });
    }
    let threshold = cfg.min_confidence(signal.regime);
    let confident = c >= threshold;
    if !confident {
        return Err(Rejection::LowConfidence { confidence: c, threshold, regime: signal.regime });
    }
    limiter.check(&signal.symbol, now_ms)?;
    limiter.record(&signal.symbol, now_ms);
    Ok(())
}

/// Result of validation, as printed next to a signal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidationOutcome {
    /// `accepted` (actionable and valid), `rejected` (turned into HOLD here) or `hold` (the
    /// synthesiser itself said HOLD).
    pub status: &'static str,
    /// Why, for `rejected` and `hold`.
    pub reason: Option<String>,
}

/// [`validate`], turning a rejected signal into a HOLD: `direction` becomes HOLD and
/// `hold_reason` says `validation rejected <LONG|SHORT>: <why>`; every other field (confidence,
/// prices, reasoning, …) is kept as the synthesiser produced it, for the record.
#[must_use]
pub fn validate_signal(
    mut signal: SwingSignal,
    cfg: &ValidationConfig,
    limiter: &mut RateLimiter,
    now_ms: i64,
) -> (SwingSignal, ValidationOutcome) {
    if signal.direction == Direction::Hold {
        let reason = signal.hold_reason.clone().or_else(|| Some("synthesiser said HOLD".into()));
        return (signal, ValidationOutcome { status: "hold", reason });
    }
    match validate(&signal, cfg, limiter, now_ms) {
        Ok(()) => (signal, ValidationOutcome { status: "accepted", reason: None }),
        Err(e) => {
            let reason = format!("validation rejected {}: {e}", signal.direction.as_str());
            signal.direction = Direction::Hold;
            signal.hold_reason = Some(reason.clone());
            (signal, ValidationOutcome { status: "rejected", reason: Some(reason) })
        }
    }
}
