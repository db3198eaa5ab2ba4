//! `analyze`: every indicator and theory at one bar as one JSON object.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::candles::{Candle, CandleError, validate_candles};
use super::indicators::Indicators;
use super::theories::{
    self, Adf, BayesWinRate, Entropy, Forest, ForestParams, Hurst, Kalman, Levene, LjungBox,
    MarketContext, Markov, MonteCarlo, MonteCarloParams, VarianceRatio,
};

/// Smallest accepted theory window (ACF/PACF to lag 20 and ADF need it).
pub const MIN_WINDOW: usize = 50;
/// Default theory window.
pub const DEFAULT_WINDOW: usize = 200;

/// Why `analyze` failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AnalyzeError {
    /// The candle series is empty, has NaN/infinite values or non-increasing times.
    #[error("bad candles: {0}")]
    Candles(#[from] CandleError),
    /// The window is longer than the bars available up to the analysed bar.
    #[error("window {window} is longer than the {available} bars available up to the analysed bar")]
    WindowTooLong {
        /// Requested window.
        window: usize,
        /// Bars up to and including the analysed bar.
        available: usize,
    },
    /// The window is below [`MIN_WINDOW`].
    #[error("window {window} is shorter than the minimum {min}")]
    WindowTooShort {
        /// Requested window.
        window: usize,
        /// Minimum.
        min: usize,
    },
    /// No bar opens at the requested time.
    #[error("no candle opens at {0} ms")]
    BarNotFound(i64),
}

/// A value with a signal in [−1, 1].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WithSignal<T> {
    /// The theory's values.
    #[serde(flatten)]
    pub inner: T,
    /// Normalized signal in [−1, 1].
    pub signal: f64,
}

/// Autocorrelation values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Correlogram {
    /// Values at lags 0..=20.
    pub values: Vec<f64>,
}

/// Random-forest validator output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForestOut {
    /// Probability that the next bar closes up.
    pub prob_up: f64,
    /// Walk-forward accuracy: trained on the first 70 % of the window's labelled bars,
    /// tested on the rest.
    pub oos_accuracy: f64,
    /// Rows in the final training set.
    pub n_train: usize,
    /// Rows in the walk-forward test.
    pub n_test: usize,
    /// Mean decrease in impurity per feature (sums to 1).
    pub importances: BTreeMap<String, f64>,
    /// `2·prob_up − 1`.
    pub signal: f64,
}

/// Variance theory: two-half Levene test, variance ratios and the rolling-variance regime.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VarianceOut {
    /// Lo–MacKinlay ratios at q = 2, 4, 8, 16 (those that fit the window).
    pub variance_ratios: Vec<VarianceRatio>,
    /// Current 20-bar return variance.
    pub rolling_variance: f64,
    /// Its percentile (0–100) among the window's 20-bar variances.
    pub rolling_variance_percentile: f64,
    /// `"high"` (> 80th percentile), `"low"` (< 20th) or `"normal"`.
    pub regime: String,
    /// `clamp(2·(VR(4) − 1)) · sign(window return)`.
    pub signal: f64,
}

/// Everything `analyze` reports; serialize with `serde_json::to_value`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    /// Index of the analysed bar in the input.
    pub bar_index: usize,
    /// Its open time.
    pub open_time_ms: i64,
    /// Its close.
    pub close: f64,
    /// Theory window (bars ending at the analysed bar).
    pub window: usize,
    /// Every indicator at the bar (`null` during warm-up).
    pub indicators: Value,
    /// Shannon entropy of the window's log returns.
    pub entropy: Entropy,
    /// Hurst exponent of the window's log returns.
    pub hurst: Hurst,
    /// Six-state Markov regime.
    pub markov: Markov,
    /// Kalman filter on the window's closes.
    pub kalman: Kalman,
    /// Bayesian win rate of up-closes in the window.
    pub bayes: BayesWinRate,
    /// Monte Carlo (10,000 seeded paths, 24 bars).
    pub monte_carlo: MonteCarlo,
    /// Random-forest validator (`None` when too few complete feature rows).
    pub random_forest: Option<ForestOut>,
    /// ACF of log returns, lags 0–20.
    pub acf: Option<WithSignal<Correlogram>>,
    /// PACF (Yule–Walker adjusted), lags 0–20.
    pub pacf: Option<WithSignal<Correlogram>>,
    /// Ljung–Box at lag 20.
    pub ljung_box: Option<WithSignal<LjungBox>>,
    /// ADF on the window's log closes.
    pub adf: Option<WithSignal<Adf>>,
    /// Levene/Brown–Forsythe between the two halves of the window's log returns.
    pub levene: Option<WithSignal<Levene>>,
    /// Variance theory.
    pub variance: VarianceOut,
    /// Market context (neutral offline unless supplied).
    pub context: MarketContext,
    /// Mean of the theory signals above.
    pub composite_signal: f64,
    /// Per-field errors (e.g. a constant window makes the regressions singular).
    pub errors: BTreeMap<String, String>,
}

impl Analysis {
    /// As a JSON object.
    #[must_use]
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Bars of history (beyond the theory window) over which `analyze` computes the indicators.
///
/// Every recursive indicator forgets its start geometrically — the slowest, Wilder's
/// 28-period RSI, keeps `(27/28)^5000 ≈ 1e-79` of it, and the Supertrend bands re-sync at
/// the first band reset — so the values equal the full-history computation to rounding
/// (`tests/analyze_backtest.rs` checks 1e-9 relative on BTC 1h); OBV and the A/D line are
/// cumulative and are always taken over the full history. Set
/// [`AnalyzeOptions::full_history_indicators`] to compute everything over all bars.
pub const INDICATOR_TAIL: usize = 5000;

/// OBV and A/D line at the last bar over the whole series (same operations as
/// [`crate::swing::ta::obv`] and [`crate::swing::ta::ad`]).
fn cumulative_obv_ad(c: &[Candle]) -> (f64, f64) {
    let mut obv = c.first().map_or(f64::NAN, |b| b.volume);
    for w in c.windows(2) {
        if w[1].close > w[0].close {
            obv += w[1].volume;
        } else if w[1].close < w[0].close {
            obv -= w[1].volume;
        }
    }
    let mut ad = 0.0;
    for b in c {
        let r = b.high - b.low;
        if r > 0.0 {
            ad += (((b.close - b.low) - (b.high - b.close)) / r) * b.volume;
        }
    }
    (obv, ad)
}

/// Options for [`analyze_with`].
#[derive(Debug, Clone, Default)]
pub struct AnalyzeOptions {
    /// Compute the indicators over every bar up to the analysed one instead of the last
    /// `window + INDICATOR_TAIL` (slower on long files; same values to rounding).
    pub full_history_indicators: bool,
    /// Market context to report (from a [`theories::ContextClient`]); `None` = neutral offline.
    pub context: Option<MarketContext>,
    /// Monte Carlo settings (default: 10,000 paths, 24 bars, seed 42).
    pub monte_carlo: Option<MonteCarloParams>,
}

/// Analyse the bar opening at `at_open_time_ms` (default: the last bar): indicators over all
/// candles up to and including it, theories over the last `window` bars.
///
/// # Errors
/// [`AnalyzeError`] for bad candles, an unknown bar or a window that is too long or too short.
///
/// # Examples
/// ```
/// use crpbot_strategies::swing::{analyze, Candle};
/// let c: Vec<Candle> = (0..300)
///     .map(|i| {
///         let p = 100.0 + (i as f64 * 0.37).sin() * 3.0 + i as f64 * 0.05;
///         Candle::new(i * 3_600_000, p, p + 1.0, p - 1.0, p + 0.2, 10.0 + (i % 7) as f64)
///     })
///     .collect();
/// let a = analyze(&c, 200, None).unwrap();
/// let j = a.to_json();
/// assert!(j["adf"]["p_value"].is_number());
/// assert!(j["indicators"]["rsi_14"].is_number());
/// assert!(analyze(&c, 400, None).is_err());
/// ```
pub fn analyze(
    candles: &[Candle],
    window: usize,
    at_open_time_ms: Option<i64>,
) -> Result<Analysis, AnalyzeError> {
    analyze_with(candles, window, at_open_time_ms, &AnalyzeOptions::default())
}

fn sign(v: f64) -> f64 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

fn clamp1(v: f64) -> f64 {
    if v.is_finite() { v.clamp(-1.0, 1.0) } else { 0.0 }
}

/// [`analyze`] with options (market context, Monte Carlo settings).
///
/// # Errors
/// As [`analyze`].
pub fn analyze_with(
    candles: &[Candle],
    window: usize,
    at_open_time_ms: Option<i64>,
    opts: &AnalyzeOptions,
) -> Result<Analysis, AnalyzeError> {
    validate_candles(candles)?;
    if window < MIN_WINDOW {
        return Err(AnalyzeError::WindowTooShort { window, min: MIN_WINDOW });
    }
    let end = match at_open_time_ms {
        None => candles.len() - 1,
        Some(t) => candles
            .binary_search_by_key(&t, |c| c.open_time_ms)
            .map_err(|_| AnalyzeError::BarNotFound(t))?,
    };
    if end + 1 < window {
        return Err(AnalyzeError::WindowTooLong { window, available: end + 1 });
    }
    let upto = &candles[..=end];
    // Indicators: over the last `window + INDICATOR_TAIL` bars unless asked for the full
    // history (see INDICATOR_TAIL); cumulative OBV and A/D always over the full history.
    let base = if opts.full_history_indicators {
        0
    } else {
        (end + 1).saturating_sub(window + INDICATOR_TAIL)
    };
    let tail = &upto[base..];
    let ind = Indicators::compute(tail);
    let mut indicators = ind.at_json(end - base);
    if base > 0
        && let Some(m) = indicators.as_object_mut()
    {
        let (obv, ad) = cumulative_obv_ad(upto);
        m.insert("obv".into(), crate::swing::indicators::num(obv));
        m.insert("ad".into(), crate::swing::indicators::num(ad));
    }
    let w = &upto[end + 1 - window..];
    let closes: Vec<f64> = w.iter().map(|c| c.close).collect();
    let highs: Vec<f64> = w.iter().map(|c| c.high).collect();
    let lows: Vec<f64> = w.iter().map(|c| c.low).collect();
    let lc: Vec<f64> = closes.iter().map(|c| c.ln()).collect();
    let r: Vec<f64> = lc.windows(2).map(|p| p[1] - p[0]).collect();
    let n = r.len() as f64;
    let drift: f64 = r.iter().sum();
    let recent: f64 = r.iter().rev().take(5).sum();
    let mut errors = BTreeMap::new();

    let entropy = theories::entropy(&r, 10);
    let hurst = theories::hurst(&r);
    let markov = theories::markov(&highs, &lows, &closes);
    let kalman = theories::kalman(&closes, None);
    let outcomes: Vec<bool> = r.iter().map(|v| *v > 0.0).collect();
    let bayes = theories::bayes_win_rate(&outcomes, 1.0);
    let monte_carlo = theories::monte_carlo(&r, opts.monte_carlo.unwrap_or_default());
    let random_forest = forest(&ind, tail, end + 1 - window - base, end - base);
    if random_forest.is_none() {
        errors.insert("random_forest".into(), "too few complete feature rows".into());
    }

    let mut note = |k: &str, e: &dyn std::fmt::Display| {
        errors.insert(k.to_string(), e.to_string());
    };
    let acf = match theories::acf(&r, 20) {
        Ok(v) => {
            let s = clamp1(v[1] * n.sqrt() / 3.0 * sign(recent));
            Some(WithSignal { inner: Correlogram { values: v }, signal: s })
        }
        Err(e) => {
            note("acf", &e);
            None
        }
    };
    let pacf = match theories::pacf(&r, 20) {
        Ok(v) => {
            let s = clamp1(v[1] * n.sqrt() / 3.0 * sign(recent));
            Some(WithSignal { inner: Correlogram { values: v }, signal: s })
        }
        Err(e) => {
            note("pacf", &e);
            None
        }
    };
    let ljung_box = match theories::ljung_box(&r, 20) {
        Ok(lb) => {
            let s = acf.as_ref().map_or(0.0, |a| a.signal) * (1.0 - lb.p_value);
            Some(WithSignal { inner: lb, signal: clamp1(s) })
        }
        Err(e) => {
            note("ljung_box", &e);
            None
        }
    };
    let adf = match theories::adfuller(&lc) {
        Ok(a) => {
            let m = lc.iter().sum::<f64>() / lc.len() as f64;
            let sd = (lc.iter().map(|v| (v - m).powi(2)).sum::<f64>() / lc.len() as f64).sqrt();
            let z = if sd > 0.0 { (lc[lc.len() - 1] - m) / sd } else { 0.0 };
            let s = -clamp1(z / 2.0) * (1.0 - a.p_value);
            Some(WithSignal { inner: a, signal: clamp1(s) })
        }
        Err(e) => {
            note("adf", &e);
            None
        }
    };
    let half = r.len() / 2;
    let levene = match theories::levene(&r[..half], &r[half..]) {
        Ok(l) => {
            let var = |x: &[f64]| {
                let m = x.iter().sum::<f64>() / x.len() as f64;
                x.iter().map(|v| (v - m).powi(2)).sum::<f64>()
            };
            let v1 = var(&r[..half]) / half as f64;
            let v2 = var(&r[half..]) / (r.len() - half) as f64;
            let s = -sign(v2 - v1) * (1.0 - l.p_value) * 0.5;
            Some(WithSignal { inner: l, signal: clamp1(s) })
        }
        Err(e) => {
            note("levene", &e);
            None
        }
    };
    let variance = variance_theory(&r, drift, &mut errors);
    let context = opts
        .context
        .clone()
        .unwrap_or_else(|| MarketContext::neutral(vec!["no context source".into()]));

    let mut sigs = vec![
        entropy.signal,
        hurst.signal,
        markov.signal,
        kalman.signal,
        bayes.signal,
        monte_carlo.signal,
        variance.signal,
        context.signal,
    ];
    sigs.extend(random_forest.as_ref().map(|f| f.signal));
    sigs.extend(acf.as_ref().map(|a| a.signal));
    sigs.extend(adf.as_ref().map(|a| a.signal));
    let composite_signal = clamp1(sigs.iter().sum::<f64>() / sigs.len() as f64);
    let bar = &candles[end];
    Ok(Analysis {
        bar_index: end,
        open_time_ms: bar.open_time_ms,
        close: bar.close,
        window,
        indicators,
        entropy,
        hurst,
        markov,
        kalman,
        bayes,
        monte_carlo,
        random_forest,
        acf,
        pacf,
        ljung_box,
        adf,
        levene,
        variance,
        context,
        composite_signal,
        errors,
    })
}

fn variance_theory(r: &[f64], drift: f64, errors: &mut BTreeMap<String, String>) -> VarianceOut {
    let mut ratios = Vec::new();
    for q in [2, 4, 8, 16] {
        match theories::variance_ratio(r, q) {
            Ok(v) => ratios.push(v),
            Err(e) => {
                errors.insert(format!("variance_ratio_{q}"), e.to_string());
            }
        }
    }
    let rv: Vec<f64> = r
        .windows(20)
        .map(|w| {
            let m = w.iter().sum::<f64>() / 20.0;
            w.iter().map(|v| (v - m).powi(2)).sum::<f64>() / 19.0
        })
        .collect();
    let cur = rv.last().copied().unwrap_or(f64::NAN);
    let pct = if rv.is_empty() {
        f64::NAN
    } else {
        100.0 * rv.iter().filter(|v| **v <= cur).count() as f64 / rv.len() as f64
    };
    let regime = if pct > 80.0 {
        "high"
    } else if pct < 20.0 {
        "low"
    } else {
        "normal"
    };
    let vr4 = ratios.iter().find(|v| v.q == 4).map_or(1.0, |v| v.ratio);
    VarianceOut {
        variance_ratios: ratios,
        rolling_variance: cur,
        rolling_variance_percentile: pct,
        regime: regime.into(),
        signal: clamp1(2.0 * (vr4 - 1.0) * sign(drift)),
    }
}

/// Scale-free features for the random forest.
pub const FOREST_FEATURES: [&str; 18] = [
    "rsi_14",
    "macd_hist_rel",
    "stoch_k",
    "willr_14",
    "roc_12",
    "cmo_14",
    "atr_rel",
    "bb_position",
    "bb_width",
    "adx_14",
    "di_spread",
    "supertrend_dir",
    "trix_15",
    "mfi_14",
    "cmf_20",
    "zscore_20",
    "pct_rank_100",
    "linreg_slope_rel",
];

pub(crate) fn feature_row(ind: &Indicators, c: f64, i: usize) -> Option<Vec<f64>> {
    let g = |n: &str| ind.get(n).map_or(f64::NAN, |s| s[i]);
    let bb = g("bb_upper") - g("bb_lower");
    let row = vec![
        g("rsi_14") / 100.0,
        g("macd_hist") / c,
        g("stoch_k") / 100.0,
        g("willr_14") / -100.0,
        g("roc_12"),
        g("cmo_14") / 100.0,
        g("atr_14") / c,
        if bb > 0.0 { (c - g("bb_lower")) / bb } else { 0.5 },
        g("bb_width"),
        g("adx_14") / 100.0,
        (g("plus_di_14") - g("minus_di_14")) / 100.0,
        g("supertrend_dir"),
        g("trix_15"),
        g("mfi_14") / 100.0,
        g("cmf_20"),
        g("zscore_20"),
        g("pct_rank_100") / 100.0,
        g("linreg_slope_20") / c,
    ];
    row.iter().all(|v| v.is_finite()).then_some(row)
}

fn forest(ind: &Indicators, candles: &[Candle], start: usize, end: usize) -> Option<ForestOut> {
    let mut x = Vec::new();
    let mut y = Vec::new();
    for i in start..end {
        if let Some(row) = feature_row(ind, candles[i].close, i) {
            x.push(row);
            y.push(candles[i + 1].close > candles[i].close);
        }
    }
    let now = feature_row(ind, candles[end].close, end)?;
    let split = x.len() * 7 / 10;
    let p = ForestParams::default();
    let (oos_accuracy, n_test) = match Forest::train(&x[..split], &y[..split], p) {
        Some(f) => {
            let hits = (split..x.len()).filter(|&i| (f.predict(&x[i]) > 0.5) == y[i]).count();
            let nt = x.len() - split;
            (if nt > 0 { hits as f64 / nt as f64 } else { f64::NAN }, nt)
        }
        None => (f64::NAN, 0),
    };
    let f = Forest::train(&x, &y, p)?;
    let prob_up = f.predict(&now);
    Some(ForestOut {
        prob_up,
        oos_accuracy,
        n_train: x.len(),
        n_test,
        importances: FOREST_FEATURES
            .iter()
            .map(|s| (*s).to_string())
            .zip(f.importances().iter().copied())
            .collect(),
        signal: clamp1(2.0 * prob_up - 1.0),
    })
}
