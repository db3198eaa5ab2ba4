//! Entropy, Hurst, Markov regimes, Kalman filter and Bayesian win rate.

use serde::Serialize;

use crate::swing::special::{beta_inc_inv, ln_gamma};

pub(crate) fn clamp1(v: f64) -> f64 {
    if v.is_finite() { v.clamp(-1.0, 1.0) } else { 0.0 }
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

fn mean(x: &[f64]) -> f64 {
    if x.is_empty() { 0.0 } else { x.iter().sum::<f64>() / x.len() as f64 }
}

fn std_pop(x: &[f64]) -> f64 {
    let m = mean(x);
    (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

/// Shannon entropy of binned returns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entropy {
    /// Normalized entropy `H / ln(bins)` in [0, 1] (1 = uniform, unpredictable).
    pub value: f64,
    /// Number of equal-width bins between the min and max return.
    pub bins: usize,
    /// `(1 − value) · sign(Σ returns)`: structured moves follow their drift.
    pub signal: f64,
}

/// Normalized Shannon entropy of `returns` in `bins` equal-width bins.
///
/// # Examples
/// ```
/// use crpbot_strategies::swing::theories::entropy;
/// let e = entropy(&[0.01; 50], 10);
/// assert_eq!(e.value, 0.0);
/// ```
#[must_use]
pub fn entropy(returns: &[f64], bins: usize) -> Entropy {
    let bins = bins.max(2);
    let (lo, hi) =
        returns.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(*v), b.max(*v)));
    if returns.is_empty() || hi <= lo {
        return Entropy { value: 0.0, bins, signal: 0.0 };
    }
    let mut counts = vec![0usize; bins];
    for v in returns {
        let k = (((v - lo) / (hi - lo)) * bins as f64) as usize;
        counts[k.min(bins - 1)] += 1;
    }
    let n = returns.len() as f64;
    let h: f64 =
        counts.iter().filter(|c| **c > 0).map(|c| *c as f64 / n).map(|p| -p * p.ln()).sum();
    let value = h / (bins as f64).ln();
    let drift: f64 = returns.iter().sum();
    Entropy { value, bins, signal: clamp1((1.0 - value) * sign(drift)) }
}

/// Hurst exponent by rescaled range.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hurst {
    /// Slope of ln(R/S) on ln(size).
    pub value: f64,
    /// Window sizes used.
    pub sizes: Vec<usize>,
    /// Mean R/S at each size.
    pub rs: Vec<f64>,
    /// `clamp(2(H − 0.5)) · sign(Σ returns)`: persistent series follow the move,
    /// anti-persistent ones fade it.
    pub signal: f64,
}

/// Hurst exponent of the increments `x` by rescaled range: sizes from 8 to `n/2` in a
/// geometric progression, mean R/S over non-overlapping chunks per size, least-squares slope
/// of ln(R/S) on ln(size). `NaN` value when fewer than 16 points.
///
/// # Examples
/// ```
/// use crpbot_strategies::swing::{rng::Rng, theories::hurst};
/// let mut r = Rng::new(1);
/// let x: Vec<f64> = (0..4096).map(|_| r.normal()).collect();
/// let h = hurst(&x).value;
/// assert!((h - 0.5).abs() < 0.1, "{h}");
/// ```
#[must_use]
pub fn hurst(x: &[f64]) -> Hurst {
    let n = x.len();
    let mut sizes = Vec::new();
    let mut s = 8.0_f64;
    while (s as usize) <= n / 2 {
        let v = s as usize;
        if sizes.last() != Some(&v) {
            sizes.push(v);
        }
        s *= 1.5;
    }
    let mut lx = Vec::new();
    let mut ly = Vec::new();
    let mut rs_out = Vec::new();
    let mut used = Vec::new();
    for &size in &sizes {
        let mut acc = 0.0;
        let mut k = 0;
        for chunk in x.chunks_exact(size) {
            let m = mean(chunk);
            let sd = std_pop(chunk);
            if sd <= 0.0 {
                continue;
            }
            let (mut cum, mut mx, mut mn) = (0.0, f64::NEG_INFINITY, f64::INFINITY);
            for v in chunk {
                cum += v - m;
                mx = mx.max(cum);
                mn = mn.min(cum);
            }
            acc += (mx - mn) / sd;
            k += 1;
        }
        if k > 0 {
            let rs = acc / k as f64;
            lx.push((size as f64).ln());
            ly.push(rs.ln());
            rs_out.push(rs);
            used.push(size);
        }
    }
    let value = if lx.len() >= 2 { slope(&lx, &ly) } else { f64::NAN };
    let drift: f64 = x.iter().sum();
    Hurst { value, sizes: used, rs: rs_out, signal: clamp1(2.0 * (value - 0.5) * sign(drift)) }
}

/// Least-squares slope of `y` on `x`.
pub(crate) fn slope(x: &[f64], y: &[f64]) -> f64 {
    let mx = mean(x);
    let my = mean(y);
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    sxy / sxx
}

/// The six market regimes.
pub const REGIMES: [&str; 6] =
    ["bull_trend", "bear_trend", "high_vol_range", "low_vol_range", "breakout", "consolidation"];

/// Markov regime model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Markov {
    /// Current regime name (one of [`REGIMES`]).
    pub state: String,
    /// Regime of every classified bar (indices into [`REGIMES`]).
    pub states: Vec<usize>,
    /// Row-stochastic empirical transition matrix `P[from][to]` (a row with no observed
    /// transition is uniform).
    pub transition_matrix: Vec<Vec<f64>>,
    /// Probabilities of the next regime from the current one, keyed by regime name.
    pub next_state_probabilities: Vec<(String, f64)>,
    /// Direction of the latest breakout (+1 up, −1 down, 0 none).
    pub breakout_direction: f64,
    /// `P(bull) − P(bear) + breakout_direction · P(breakout)`.
    pub signal: f64,
}

/// Classify bars into six regimes and estimate the transition matrix. For each bar `t ≥ 20`
/// with 20-bar log return `R`, 20-bar return volatility `v` and window volatility `σ`:
/// breakout when the close leaves the previous 20 bars' high/low range; else bull/bear trend
/// when `|R| > 0.75 σ √20`; else high-vol range when `v > 1.25 σ`; consolidation when
/// `v < 0.6 σ`; otherwise low-vol range.
#[must_use]
/// # Examples
/// ```
/// use crpbot_strategies::swing::theories::markov;
/// let c: Vec<f64> = (0..100).map(|i| 100.0 + i as f64).collect();
/// let m = markov(&c, &c, &c);
/// assert_eq!(m.state, "breakout");
/// assert!(m.signal > 0.9);
/// ```
pub fn markov(high: &[f64], low: &[f64], close: &[f64]) -> Markov {
    let n = close.len();
    let r: Vec<f64> = close.windows(2).map(|w| (w[1] / w[0]).ln()).collect();
    let sigma = std_pop(&r);
    let mut states = Vec::new();
    let mut bdir = 0.0;
    for t in 20..n {
        let hh = high[t - 20..t].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let ll = low[t - 20..t].iter().copied().fold(f64::INFINITY, f64::min);
        let rr = &r[t - 20..t];
        let ret: f64 = rr.iter().sum();
        let v = std_pop(rr);
        let s = if close[t] > hh {
            bdir = 1.0;
            4
        } else if close[t] < ll {
            bdir = -1.0;
            4
        } else if ret > 0.75 * sigma * 20f64.sqrt() {
            0
        } else if ret < -0.75 * sigma * 20f64.sqrt() {
            1
        } else if v > 1.25 * sigma {
            2
        } else if v < 0.6 * sigma {
            5
        } else {
            3
        };
        states.push(s);
    }
    let mut counts = [[0.0f64; 6]; 6];
    for w in states.windows(2) {
        counts[w[0]][w[1]] += 1.0;
    }
    let tm: Vec<Vec<f64>> = counts
        .iter()
        .map(|row| {
            let s: f64 = row.iter().sum();
            if s > 0.0 { row.iter().map(|c| c / s).collect() } else { vec![1.0 / 6.0; 6] }
        })
        .collect();
    let cur = states.last().copied();
    let next = cur.map_or_else(|| vec![1.0 / 6.0; 6], |c| tm[c].clone());
    if cur != Some(4) {
        bdir = if cur.is_some() { bdir } else { 0.0 };
    }
    let signal = clamp1(next[0] - next[1] + bdir * next[4]);
    Markov {
        state: cur.map_or("unknown", |c| REGIMES[c]).to_string(),
        states,
        transition_matrix: tm,
        next_state_probabilities: REGIMES.iter().map(|s| (*s).to_string()).zip(next).collect(),
        breakout_direction: bdir,
        signal,
    }
}

/// Kalman filter estimate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Kalman {
    /// Filtered price.
    pub price: f64,
    /// Velocity (price units per bar).
    pub velocity: f64,
    /// Acceleration (price units per bar²).
    pub acceleration: f64,
    /// Measurement noise variance used.
    pub r: f64,
    /// Process noise variance used.
    pub q: f64,
    /// `tanh(velocity / sd(Δprice))`.
    pub signal: f64,
}

/// Constant-acceleration Kalman filter over `prices` (state price, velocity, acceleration;
/// transition `[[1,1,½],[0,1,1],[0,0,1]]`, process noise `q·I`, measurement noise `r`).
/// With `None`, `r = max(var(Δp)/2, (1e-6·p̄)²)` and `q = r/100`.
///
/// # Examples
/// ```
/// use crpbot_strategies::swing::theories::kalman;
/// let p: Vec<f64> = (0..200).map(|i| 100.0 + 2.0 * i as f64).collect();
/// let k = kalman(&p, None);
/// assert!((k.velocity - 2.0).abs() < 1e-6);
/// ```
#[must_use]
pub fn kalman(prices: &[f64], noise: Option<(f64, f64)>) -> Kalman {
    let d: Vec<f64> = prices.windows(2).map(|w| w[1] - w[0]).collect();
    let sd = std_pop(&d);
    let pbar = mean(prices);
    let (q, r) = noise.unwrap_or_else(|| {
        let r = (sd * sd / 2.0).max((1e-6 * pbar).powi(2)).max(1e-12);
        (r / 100.0, r)
    });
    let Some(&p0) = prices.first() else {
        return Kalman { price: f64::NAN, velocity: 0.0, acceleration: 0.0, r, q, signal: 0.0 };
    };
    let mut x = [p0, 0.0, 0.0];
    let big = 1e6 * r.max(1.0);
    let mut p = [[big, 0.0, 0.0], [0.0, big, 0.0], [0.0, 0.0, big]];
    let f = [[1.0, 1.0, 0.5], [0.0, 1.0, 1.0], [0.0, 0.0, 1.0]];
    for &z in &prices[1..] {
        // Predict.
        let xp = [x[0] + x[1] + 0.5 * x[2], x[1] + x[2], x[2]];
        let mut fp = [[0.0; 3]; 3];
        for i in 0..3 {
            for j in 0..3 {
                fp[i][j] = (0..3).map(|k| f[i][k] * p[k][j]).sum();
            }
        }
        let mut pp = [[0.0; 3]; 3];
        for i in 0..3 {
            for j in 0..3 {
                pp[i][j] =
                    (0..3).map(|k| fp[i][k] * f[j][k]).sum::<f64>() + if i == j { q } else { 0.0 };
            }
        }
        // Update with H = [1, 0, 0].
        let s = pp[0][0] + r;
        let k = [pp[0][0] / s, pp[1][0] / s, pp[2][0] / s];
        let y = z - xp[0];
        x = [xp[0] + k[0] * y, xp[1] + k[1] * y, xp[2] + k[2] * y];
        let mut np = pp;
        for i in 0..3 {
            for j in 0..3 {
                np[i][j] = pp[i][j] - k[i] * pp[0][j];
            }
        }
        p = np;
    }
    let signal = if sd > 0.0 { (x[1] / sd).tanh() } else { sign(x[1]) };
    Kalman { price: x[0], velocity: x[1], acceleration: x[2], r, q, signal }
}

/// Bayesian win-rate estimate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BayesWinRate {
    /// Wins observed.
    pub wins: usize,
    /// Losses observed.
    pub losses: usize,
    /// Prior Beta(α, β) (centred at 50 %).
    pub prior: (f64, f64),
    /// Posterior mean win rate.
    pub posterior_mean: f64,
    /// 90 % equal-tailed credible interval (5 %, 95 % quantiles).
    pub credible_90: (f64, f64),
    /// `(mean − 0.5) / (half-width of the interval)`, clamped.
    pub signal: f64,
    /// Log marginal likelihood of the outcomes under the prior.
    pub log_evidence: f64,
}

/// Beta–Binomial posterior from `outcomes` (true = win) with prior `Beta(a, a)` (50 %).
///
/// # Examples
/// ```
/// use crpbot_strategies::swing::theories::bayes_win_rate;
/// let b = bayes_win_rate(&[true, true, false, true], 1.0);
/// assert!((b.posterior_mean - 4.0 / 6.0).abs() < 1e-12);
/// ```
#[must_use]
pub fn bayes_win_rate(outcomes: &[bool], a: f64) -> BayesWinRate {
    let wins = outcomes.iter().filter(|o| **o).count();
    let losses = outcomes.len() - wins;
    let pa = a + wins as f64;
    let pb = a + losses as f64;
    let mean = pa / (pa + pb);
    let lo = beta_inc_inv(pa, pb, 0.05);
    let hi = beta_inc_inv(pa, pb, 0.95);
    let half = ((hi - lo) / 2.0).max(1e-12);
    let lbeta = |x: f64, y: f64| ln_gamma(x) + ln_gamma(y) - ln_gamma(x + y);
    BayesWinRate {
        wins,
        losses,
        prior: (a, a),
        posterior_mean: mean,
        credible_90: (lo, hi),
        signal: clamp1((mean - 0.5) / half),
        log_evidence: lbeta(pa, pb) - lbeta(a, a),
    }
}
