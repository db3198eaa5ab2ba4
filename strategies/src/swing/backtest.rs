//! Vectorized swing backtest with costs, performance metrics and walk-forward evaluation of
//! named strategies (`trend`, `meanrev`, `theories`).

use std::collections::BTreeMap;

use serde::Serialize;

use super::candles::{Candle, CandleError, validate_candles};
use super::indicators::{Indicators, supertrend};
use super::ta;
use super::theories;

/// Trading costs per side, as fractions of traded notional.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Costs {
    /// Exchange fee per side (default 0.1 %).
    pub fee: f64,
    /// Slippage per side (default 0.05 %).
    pub slippage: f64,
}

impl Default for Costs {
    fn default() -> Self {
        Self { fee: 0.001, slippage: 0.0005 }
    }
}

/// Walk-forward layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WalkForward {
    /// Training span in days (parameters are chosen here).
    pub train_days: u32,
    /// Test span in days (parameters are evaluated here, out of sample).
    pub test_days: u32,
    /// `true`: the training window always starts at the first bar and grows; `false`: it rolls.
    pub anchored: bool,
}

impl Default for WalkForward {
    fn default() -> Self {
        Self { train_days: 180, test_days: 30, anchored: false }
    }
}

/// Performance metrics of a return series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Metrics {
    /// Bars.
    pub bars: usize,
    /// Compounded total return.
    pub total_return: f64,
    /// Annualized (geometric) return.
    pub annual_return: f64,
    /// Annualized Sharpe ratio (risk-free 0, sample standard deviation).
    pub sharpe: f64,
    /// Maximum drawdown of the equity curve (fraction, positive).
    pub max_drawdown: f64,
    /// Fraction of closed trades with a positive return (NaN without trades).
    pub win_rate: f64,
    /// Gross trade profits over gross trade losses.
    pub profit_factor: f64,
    /// Annual return over max drawdown.
    pub calmar: f64,
    /// Omega ratio at 0: Σ positive bar returns / Σ |negative bar returns|.
    pub omega: f64,
    /// Trades (runs of a constant non-zero position).
    pub trades: usize,
    /// Fraction of bars with a position.
    pub exposure: f64,
}

/// Why a backtest failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BacktestError {
    /// Bad candle series.
    #[error("bad candles: {0}")]
    Candles(#[from] CandleError),
    /// Unknown strategy name.
    #[error("unknown strategy {0:?} (known: trend, meanrev, theories)")]
    UnknownStrategy(String),
    /// Positions and candles differ in length.
    #[error("{positions} positions for {candles} candles")]
    LengthMismatch {
        /// Positions.
        positions: usize,
        /// Candles.
        candles: usize,
    },
    /// The data does not span one train + test period.
    #[error("data spans {have_days:.1} days, walk-forward needs {need_days}")]
    TooShort {
        /// Days needed.
        need_days: u32,
        /// Days available.
        have_days: f64,
    },
    /// Zero train or test days.
    #[error("train and test spans must be positive")]
    BadWalkForward,
}

/// Bars per year from the median bar spacing.
#[must_use]
pub fn bars_per_year(candles: &[Candle]) -> f64 {
    let mut d: Vec<i64> =
        candles.windows(2).map(|w| w[1].open_time_ms - w[0].open_time_ms).collect();
    if d.is_empty() {
        return 365.0;
    }
    d.sort_unstable();
    365.0 * 86_400_000.0 / d[d.len() / 2].max(1) as f64
}

/// Per-bar strategy returns: the position decided at bar `t`'s close earns bar `t+1`'s
/// close-to-close return; changing position from `p` to `q` costs `(fee + slippage)·|q − p|`
/// (both sides of a reversal are charged). `out[0] = 0`.
///
/// # Errors
/// [`BacktestError::LengthMismatch`].
///
/// # Examples
/// ```
/// use crpbot_strategies::swing::{backtest::{strategy_returns, Costs}, Candle};
/// let c: Vec<Candle> = [100.0, 110.0, 121.0].iter().enumerate()
///     .map(|(i, p)| Candle::new(i as i64 * 3_600_000, *p, *p, *p, *p, 1.0)).collect();
/// let r = strategy_returns(&c, &[1.0, 1.0, 0.0], Costs { fee: 0.0, slippage: 0.0 }).unwrap();
/// assert!((r[1] - 0.1).abs() < 1e-12 && (r[2] - 0.1).abs() < 1e-12);
/// ```
pub fn strategy_returns(
    candles: &[Candle],
    positions: &[f64],
    costs: Costs,
) -> Result<Vec<f64>, BacktestError> {
    if positions.len() != candles.len() {
        return Err(BacktestError::LengthMismatch {
            positions: positions.len(),
            candles: candles.len(),
        });
    }
    let side = costs.fee + costs.slippage;
    let mut out = vec![0.0; candles.len()];
    for t in 1..candles.len() {
        let prev_pos = if t >= 2 { positions[t - 2] } else { 0.0 };
        let p = positions[t - 1];
        let r = candles[t].close / candles[t - 1].close - 1.0;
        out[t] = p * r - side * (p - prev_pos).abs();
    }
    Ok(out)
}

/// Metrics of strategy returns `r` held with positions `pos` (`pos[t]` earns `r[t+1]`).
#[must_use]
/// # Examples
/// ```
/// use crpbot_strategies::swing::backtest::metrics;
/// let m = metrics(&[0.0, 0.1, -0.05], &[1.0, 1.0, 0.0], 365.0);
/// assert_eq!(m.trades, 1);
/// assert!((m.max_drawdown - 0.05).abs() < 1e-12);
/// ```
pub fn metrics(r: &[f64], pos: &[f64], bars_per_year: f64) -> Metrics {
    let n = r.len();
    let nf = n.max(1) as f64;
    let mean = r.iter().sum::<f64>() / nf;
    let sd = if n > 1 {
        (r.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (nf - 1.0)).sqrt()
    } else {
        0.0
    };
    let sharpe = if sd > 0.0 { mean / sd * bars_per_year.sqrt() } else { 0.0 };
    let (mut eq, mut peak, mut mdd) = (1.0f64, 1.0f64, 0.0f64);
    for v in r {
        eq *= 1.0 + v;
        peak = peak.max(eq);
        mdd = mdd.max(1.0 - eq / peak);
    }
    let total_return = eq - 1.0;
    let annual_return = if eq > 0.0 { eq.powf(bars_per_year / nf) - 1.0 } else { -1.0 };
    // Trades: runs of constant non-zero position; a run held at pos[t] earns r[t+1].
    let mut trades = Vec::new();
    let mut cur: Option<(f64, f64)> = None;
    for t in 0..n {
        let p = pos.get(t).copied().unwrap_or(0.0);
        let earned = r.get(t + 1).copied();
        match cur {
            Some((cp, acc)) if cp == p => {
                if let Some(e) = earned {
                    cur = Some((cp, acc * (1.0 + e)));
                }
            }
            _ => {
                if let Some((_, acc)) = cur.take() {
                    trades.push(acc - 1.0);
                }
                if p != 0.0 {
                    cur = Some((p, 1.0 + earned.unwrap_or(0.0)));
                }
            }
        }
    }
    if let Some((_, acc)) = cur {
        trades.push(acc - 1.0);
    }
    let wins = trades.iter().filter(|t| **t > 0.0).count();
    let gp: f64 = trades.iter().filter(|t| **t > 0.0).sum();
    let gl: f64 = -trades.iter().filter(|t| **t < 0.0).sum::<f64>();
    let up: f64 = r.iter().filter(|v| **v > 0.0).sum();
    let dn: f64 = -r.iter().filter(|v| **v < 0.0).sum::<f64>();
    let div = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    Metrics {
        bars: n,
        total_return,
        annual_return,
        sharpe,
        max_drawdown: mdd,
        win_rate: div(wins as f64, trades.len() as f64),
        profit_factor: div(gp, gl),
        calmar: div(annual_return, mdd),
        omega: div(up, dn),
        trades: trades.len(),
        exposure: pos.iter().take(n).filter(|p| **p != 0.0).count() as f64 / nf,
    }
}

/// A named strategy with a parameter grid; positions are causal functions of the candles.
#[derive(Debug, Clone)]
pub struct StrategySet {
    name: String,
    /// Parameter sets (name → value), in grid order.
    pub grid: Vec<BTreeMap<String, f64>>,
    /// Full-series positions for each grid entry.
    pub positions: Vec<Vec<f64>>,
}

/// Strategy names accepted by [`swing_backtest`].
pub const STRATEGIES: [&str; 3] = ["trend", "meanrev", "theories"];

impl StrategySet {
    /// Build the grid and positions of strategy `name` over `candles`.
    ///
    /// * `trend`: long when MACD histogram > 0, Supertrend(10, m) up and ADX(14) > a; short
    ///   on the mirror condition; flat otherwise. Grid a ∈ {15, 20, 25, 30}, m ∈ {2, 3, 4}.
    /// * `meanrev`: enter long when the close is below the Bollinger(20, k) lower band and
    ///   RSI(14) < lo, exit at the middle band; short mirrored. Grid k ∈ {1.5, 2, 2.5},
    ///   (lo, hi) ∈ {(30, 70), (25, 75), (20, 80)}.
    /// * `theories`: composite of Kalman, Hurst, entropy, variance-ratio and lag-1
    ///   autocorrelation signals over the last 200 bars, recomputed every 24 bars; long
    ///   above +θ, short below −θ. Grid θ ∈ {0.05, 0.1, 0.2, 0.3}.
    ///
    /// Every grid starts with `{stand_aside: 1}` (always flat), so walk-forward only trades a
    /// fold when some parameter set earned a positive Sharpe on its training span.
    ///
    /// # Errors
    /// [`BacktestError::UnknownStrategy`].
    pub fn new(name: &str, candles: &[Candle]) -> Result<Self, BacktestError> {
        let ind = Indicators::compute(candles);
        let s = |k: &str| ind.get(k).unwrap_or(&[]).to_vec();
        let close: Vec<f64> = candles.iter().map(|c| c.close).collect();
        let high: Vec<f64> = candles.iter().map(|c| c.high).collect();
        let low: Vec<f64> = candles.iter().map(|c| c.low).collect();
        let n = candles.len();
        let mut grid = Vec::new();
        let mut positions = Vec::new();
        match name {
            "trend" => {
                let hist = s("macd_hist");
                let adx = s("adx_14");
                for m in [2.0, 3.0, 4.0] {
                    let (_, dir) = supertrend(&high, &low, &close, 10, m);
                    for a in [15.0, 20.0, 25.0, 30.0] {
                        let pos = (0..n)
                            .map(|i| {
                                if adx[i].is_nan() || adx[i] <= a {
                                    0.0
                                } else if hist[i] > 0.0 && dir[i] > 0.0 {
                                    1.0
                                } else if hist[i] < 0.0 && dir[i] < 0.0 {
                                    -1.0
                                } else {
                                    0.0
                                }
                            })
                            .collect();
                        grid.push(BTreeMap::from([("adx_min".into(), a), ("st_mult".into(), m)]));
                        positions.push(pos);
                    }
                }
            }
            "meanrev" => {
                let rsi = s("rsi_14");
                for k in [1.5, 2.0, 2.5] {
                    let [up, mid, lo] = ta::bbands(&close, 20, k);
                    for (rl, rh) in [(30.0, 70.0), (25.0, 75.0), (20.0, 80.0)] {
                        let mut p = 0.0;
                        let pos = (0..n)
                            .map(|i| {
                                if mid[i].is_nan() || rsi[i].is_nan() {
                                    return 0.0;
                                }
                                let c = close[i];
                                p = if p == 0.0 {
                                    if c < lo[i] && rsi[i] < rl {
                                        1.0
                                    } else if c > up[i] && rsi[i] > rh {
                                        -1.0
                                    } else {
                                        0.0
                                    }
                                } else if (p > 0.0 && c >= mid[i]) || (p < 0.0 && c <= mid[i]) {
                                    0.0
                                } else {
                                    p
                                };
                                p
                            })
                            .collect();
                        grid.push(BTreeMap::from([
                            ("bb_k".into(), k),
                            ("rsi_low".into(), rl),
                            ("rsi_high".into(), rh),
                        ]));
                        positions.push(pos);
                    }
                }
            }
            "theories" => {
                let comp = theory_composite(&close, 200, 24);
                for th in [0.05, 0.1, 0.2, 0.3] {
                    let pos = comp
                        .iter()
                        .map(|v| {
                            if *v > th {
                                1.0
                            } else if *v < -th {
                                -1.0
                            } else {
                                0.0
                            }
                        })
                        .collect();
                    grid.push(BTreeMap::from([("threshold".into(), th)]));
                    positions.push(pos);
                }
            }
            other => return Err(BacktestError::UnknownStrategy(other.to_string())),
        }
        // Standing aside is always a candidate: a fold trades only when some grid entry has
        // a positive training Sharpe (flat scores 0 and wins ties, being first).
        grid.insert(0, BTreeMap::from([("stand_aside".into(), 1.0)]));
        positions.insert(0, vec![0.0; n]);
        Ok(Self { name: name.to_string(), grid, positions })
    }

    /// The strategy name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Rolling composite of cheap theory signals (mean of Kalman, Hurst, entropy, VR(4) and
/// lag-1 ACF signals over the last `window` closes), recomputed every `stride` bars and held
/// in between; 0 before the first full window. Causal.
#[must_use]
/// # Examples
/// ```
/// let c: Vec<f64> = (0..300).map(|i| 100.0 + i as f64).collect();
/// let s = crpbot_strategies::swing::backtest::theory_composite(&c, 200, 24);
/// assert_eq!(s[198], 0.0);
/// assert!(s[299] > 0.0);
/// ```
pub fn theory_composite(close: &[f64], window: usize, stride: usize) -> Vec<f64> {
    let n = close.len();
    let mut out = vec![0.0; n];
    let mut cur = 0.0;
    for i in 0..n {
        if i + 1 >= window && (i + 1 - window).is_multiple_of(stride.max(1)) {
            let w = &close[i + 1 - window..=i];
            let r: Vec<f64> = w.windows(2).map(|p| (p[1] / p[0]).ln()).collect();
            let drift: f64 = r.iter().sum();
            let sg = if drift > 0.0 { 1.0 } else { -1.0 };
            let k = theories::kalman(w, None).signal;
            let h = theories::hurst(&r).signal;
            let e = theories::entropy(&r, 10).signal;
            let vr = theories::variance_ratio(&r, 4)
                .map_or(0.0, |v| (2.0 * (v.ratio - 1.0)).clamp(-1.0, 1.0) * sg);
            let recent: f64 = r.iter().rev().take(5).sum();
            let a = theories::acf(&r, 1).map_or(0.0, |a| {
                (a[1] * (r.len() as f64).sqrt() / 3.0).clamp(-1.0, 1.0)
                    * if recent > 0.0 { 1.0 } else { -1.0 }
            });
            let s = (k + h + e + vr + a) / 5.0;
            cur = if s.is_finite() { s } else { 0.0 };
        }
        out[i] = cur;
    }
    out
}

/// One walk-forward fold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fold {
    /// First training bar's open time.
    pub train_start_ms: i64,
    /// First test bar's open time (= end of training, exclusive).
    pub test_start_ms: i64,
    /// End of the test span (exclusive).
    pub test_end_ms: i64,
    /// Parameters chosen on the training span (best Sharpe).
    pub params: BTreeMap<String, f64>,
    /// Metrics on the training span with those parameters.
    pub in_sample: Metrics,
    /// Metrics on the test span.
    pub out_of_sample: Metrics,
}

/// Walk-forward report (serialize with `serde_json::to_value`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Strategy name.
    pub strategy: String,
    /// Layout used.
    pub walk_forward: WalkForward,
    /// Costs used.
    pub costs: Costs,
    /// Bars per year used for annualization.
    pub bars_per_year: f64,
    /// Folds.
    pub folds: Vec<Fold>,
    /// Mean in-sample Sharpe over folds.
    pub in_sample_sharpe: f64,
    /// Mean in-sample annual return over folds.
    pub in_sample_annual_return: f64,
    /// Metrics of the concatenated out-of-sample returns.
    pub out_of_sample: Metrics,
    /// Walk-forward efficiency: OOS annual return / mean IS annual return (NaN, i.e. JSON
    /// `null`, when the in-sample figure is not positive).
    pub walk_forward_efficiency: f64,
    /// OOS Sharpe / mean IS Sharpe (NaN when the in-sample Sharpe is not positive).
    pub sharpe_efficiency: f64,
}

/// Walk-forward evaluation of a named strategy (see [`StrategySet::new`]) on `candles` with
/// the default costs: per fold, choose the grid entry with the best training Sharpe and
/// evaluate it on the following test span. The position entering each span is taken as flat
/// (entry costs are charged inside the span).
///
/// # Errors
/// [`BacktestError`] for bad candles, an unknown strategy or data shorter than one fold.
///
/// # Examples
/// ```
/// use crpbot_strategies::swing::{swing_backtest, Candle, WalkForward};
/// let c: Vec<Candle> = (0..24 * 60)
///     .map(|i| { let p = 100.0 + (i as f64 / 50.0).sin() * 5.0; Candle::new(i * 3_600_000, p, p + 0.5, p - 0.5, p, 1.0) })
///     .collect();
/// let wf = WalkForward { train_days: 30, test_days: 10, anchored: false };
/// let r = swing_backtest(&c, "meanrev", wf).unwrap();
/// assert_eq!(r.folds.len(), 3);
/// assert!(swing_backtest(&c, "nope", wf).is_err());
/// ```
pub fn swing_backtest(
    candles: &[Candle],
    strategy: &str,
    walk_forward: WalkForward,
) -> Result<Report, BacktestError> {
    swing_backtest_with(candles, strategy, walk_forward, Costs::default())
}

/// [`swing_backtest`] with explicit costs.
///
/// # Errors
/// As [`swing_backtest`].
pub fn swing_backtest_with(
    candles: &[Candle],
    strategy: &str,
    wf: WalkForward,
    costs: Costs,
) -> Result<Report, BacktestError> {
    validate_candles(candles)?;
    if wf.train_days == 0 || wf.test_days == 0 {
        return Err(BacktestError::BadWalkForward);
    }
    let day = 86_400_000i64;
    let t0 = candles[0].open_time_ms;
    let t_last = candles[candles.len() - 1].open_time_ms;
    let need = wf.train_days + wf.test_days;
    if t_last - t0 < i64::from(need) * day - bars_interval(candles) {
        return Err(BacktestError::TooShort {
            need_days: need,
            have_days: (t_last - t0) as f64 / day as f64,
        });
    }
    if !STRATEGIES.contains(&strategy) {
        return Err(BacktestError::UnknownStrategy(strategy.to_string()));
    }
    let set = StrategySet::new(strategy, candles)?;
    let bpy = bars_per_year(candles);
    let close: Vec<f64> = candles.iter().map(|c| c.close).collect();
    let idx_at = |t: i64| candles.partition_point(|c| c.open_time_ms < t);
    let span_returns = |pos: &[f64], a: usize, b: usize| -> (Vec<f64>, Vec<f64>) {
        let side = costs.fee + costs.slippage;
        let p = &pos[a..b];
        let r = (a..b)
            .map(|t| {
                let prev = if t > a { pos[t - 1] } else { 0.0 };
                let before = if t >= a + 2 { pos[t - 2] } else { 0.0 };
                let earn = if t > a { prev * (close[t] / close[t - 1] - 1.0) } else { 0.0 };
                earn - side * (prev - before).abs()
            })
            .collect();
        (r, p.to_vec())
    };
    let mut folds = Vec::new();
    let mut oos_r = Vec::new();
    let mut oos_p = Vec::new();
    let mut k = 0i64;
    loop {
        let test_start = t0 + i64::from(wf.train_days) * day + k * i64::from(wf.test_days) * day;
        let test_end = test_start + i64::from(wf.test_days) * day;
        if test_end > t_last + bars_interval(candles) {
            break;
        }
        let train_start =
            if wf.anchored { t0 } else { test_start - i64::from(wf.train_days) * day };
        let (a, b, c) = (idx_at(train_start), idx_at(test_start), idx_at(test_end));
        k += 1;
        if b - a < 2 || c - b < 2 {
            continue;
        }
        let mut best: Option<(f64, usize, Metrics)> = None;
        for (g, pos) in set.positions.iter().enumerate() {
            let (r, p) = span_returns(pos, a, b);
            let m = metrics(&r, &p, bpy);
            if best.is_none_or(|(s, _, _)| m.sharpe > s) {
                best = Some((m.sharpe, g, m));
            }
        }
        let Some((_, g, is)) = best else { continue };
        let (r, p) = span_returns(&set.positions[g], b, c);
        let oos = metrics(&r, &p, bpy);
        oos_r.extend_from_slice(&r);
        oos_p.extend_from_slice(&p);
        folds.push(Fold {
            train_start_ms: candles[a].open_time_ms,
            test_start_ms: test_start,
            test_end_ms: test_end,
            params: set.grid[g].clone(),
            in_sample: is,
            out_of_sample: oos,
        });
    }
    let nf = folds.len().max(1) as f64;
    let is_sharpe = folds.iter().map(|f| f.in_sample.sharpe).sum::<f64>() / nf;
    let is_ann = folds.iter().map(|f| f.in_sample.annual_return).sum::<f64>() / nf;
    let out_of_sample = metrics(&oos_r, &oos_p, bpy);
    // Efficiency ratios are only meaningful against a positive in-sample figure.
    let div = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    Ok(Report {
        strategy: strategy.to_string(),
        walk_forward: wf,
        costs,
        bars_per_year: bpy,
        in_sample_sharpe: is_sharpe,
        in_sample_annual_return: is_ann,
        walk_forward_efficiency: div(out_of_sample.annual_return, is_ann),
        sharpe_efficiency: div(out_of_sample.sharpe, is_sharpe),
        out_of_sample,
        folds,
    })
}

fn bars_interval(candles: &[Candle]) -> i64 {
    (365.0 * 86_400_000.0 / bars_per_year(candles)) as i64
}
