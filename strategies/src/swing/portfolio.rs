//! Mean–variance portfolio analytics across symbols: max Sharpe, min volatility, a 100-point
//! efficient frontier and risk parity — long-only, each weight capped (default 30 %).

use std::collections::BTreeMap;

use serde::Serialize;

use super::candles::Candle;

/// Why portfolio analytics failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PortfolioError {
    /// Fewer than two assets, or `n_assets · cap < 1` (no feasible long-only portfolio).
    #[error("infeasible: {assets} assets with cap {cap}")]
    Infeasible {
        /// Assets.
        assets: usize,
        /// Weight cap.
        cap: f64,
    },
    /// Too few common bars to estimate returns.
    #[error("only {0} common bars across the symbols")]
    TooFewBars(usize),
}

/// Portfolio settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PortfolioParams {
    /// Per-asset weight cap.
    pub cap: f64,
    /// Risk-free rate per year.
    pub risk_free: f64,
    /// Bars per year for annualization.
    pub bars_per_year: f64,
    /// Frontier points.
    pub frontier_points: usize,
}

impl Default for PortfolioParams {
    fn default() -> Self {
        Self { cap: 0.3, risk_free: 0.0, bars_per_year: 8760.0, frontier_points: 100 }
    }
}

/// One portfolio.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Allocation {
    /// Weights by symbol (sum to 1, each in [0, cap]).
    pub weights: BTreeMap<String, f64>,
    /// Annualized expected return.
    pub expected_return: f64,
    /// Annualized volatility.
    pub volatility: f64,
    /// (return − risk-free) / volatility.
    pub sharpe: f64,
}

/// Portfolio analytics result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PortfolioReport {
    /// Symbols in order.
    pub symbols: Vec<String>,
    /// Common bars used.
    pub bars: usize,
    /// Maximum Sharpe portfolio.
    pub max_sharpe: Allocation,
    /// Minimum volatility portfolio.
    pub min_volatility: Allocation,
    /// Equal-risk-contribution portfolio (capped, renormalized).
    pub risk_parity: Allocation,
    /// Efficient frontier: minimum-variance portfolios at evenly spaced target returns from
    /// the min-volatility return to the highest feasible return.
    pub frontier: Vec<Allocation>,
}

/// Euclidean projection onto `{w : Σw = 1, 0 ≤ w_i ≤ cap}` (bisection on the shift).
#[must_use]
/// # Examples
/// ```
/// let w = crpbot_strategies::swing::portfolio::project_capped_simplex(&[5.0, 0.0, 0.0, 0.0], 0.3);
/// assert!((w[0] - 0.3).abs() < 1e-12 && (w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
/// ```
pub fn project_capped_simplex(v: &[f64], cap: f64) -> Vec<f64> {
    let f = |tau: f64| v.iter().map(|x| (x - tau).clamp(0.0, cap)).sum::<f64>();
    let (mut lo, mut hi) = (
        v.iter().copied().fold(f64::INFINITY, f64::min) - cap - 1.0,
        v.iter().copied().fold(f64::NEG_INFINITY, f64::max) + 1.0,
    );
    for _ in 0..64 {
        let mid = 0.5 * (lo + hi);
        if f(mid) > 1.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let tau = 0.5 * (lo + hi);
    v.iter().map(|x| (x - tau).clamp(0.0, cap)).collect()
}

fn quad(w: &[f64], cov: &[Vec<f64>]) -> f64 {
    w.iter()
        .enumerate()
        .map(|(i, wi)| wi * cov[i].iter().zip(w).map(|(c, wj)| c * wj).sum::<f64>())
        .sum()
}

fn matvec(cov: &[Vec<f64>], w: &[f64]) -> Vec<f64> {
    cov.iter().map(|row| row.iter().zip(w).map(|(a, b)| a * b).sum()).collect()
}

/// Largest eigenvalue of a symmetric PSD matrix (power iteration).
fn max_eig(cov: &[Vec<f64>]) -> f64 {
    let mut v = vec![1.0; cov.len()];
    let mut lam = 0.0;
    for _ in 0..100 {
        let w = matvec(cov, &v);
        let n = w.iter().map(|x| x * x).sum::<f64>().sqrt();
        if n == 0.0 {
            return 0.0;
        }
        lam = n / v.iter().map(|x| x * x).sum::<f64>().sqrt();
        v = w.iter().map(|x| x / n).collect();
    }
    lam
}

/// Minimize `wᵀΣw − λ μᵀw` over the capped simplex by accelerated projected gradient
/// (FISTA, step `1/(2·λmax(Σ))`).
fn solve(
    mu: &[f64],
    cov: &[Vec<f64>],
    lambda: f64,
    cap: f64,
    start: &[f64],
    lmax: f64,
) -> Vec<f64> {
    let step = 1.0 / (2.0 * lmax).max(1e-18);
    let mut w = start.to_vec();
    let mut y = w.clone();
    let mut t = 1.0f64;
    for _ in 0..5000 {
        let g = matvec(cov, &y);
        let v: Vec<f64> = y
            .iter()
            .zip(&g)
            .zip(mu)
            .map(|((yi, gi), m)| yi - step * (2.0 * gi - lambda * m))
            .collect();
        let nw = project_capped_simplex(&v, cap);
        let tn = 0.5 * (1.0 + (1.0 + 4.0 * t * t).sqrt());
        let d: f64 = nw.iter().zip(&w).map(|(a, b)| (a - b).abs()).sum();
        y = nw.iter().zip(&w).map(|(a, b)| a + (t - 1.0) / tn * (a - b)).collect();
        w = nw;
        t = tn;
        if d < 1e-13 {
            break;
        }
    }
    w
}

/// Mean–variance analytics from per-bar simple returns `returns[asset][bar]` (aligned).
///
/// # Errors
/// [`PortfolioError`] when infeasible or too short.
///
/// # Examples
/// ```
/// use crpbot_strategies::swing::portfolio::{optimize, PortfolioParams};
/// let r: Vec<Vec<f64>> = (0..4)
///     .map(|a| (0..500).map(|t| 0.001 * a as f64 + 0.01 * ((t * (a + 3)) as f64).sin()).collect())
///     .collect();
/// let names: Vec<String> = ["A", "B", "C", "D"].iter().map(|s| s.to_string()).collect();
/// let p = optimize(&names, &r, PortfolioParams::default()).unwrap();
/// let s: f64 = p.max_sharpe.weights.values().sum();
/// assert!((s - 1.0).abs() < 1e-9);
/// assert!(p.max_sharpe.weights.values().all(|w| *w <= 0.3 + 1e-9));
/// assert_eq!(p.frontier.len(), 100);
/// ```
pub fn optimize(
    symbols: &[String],
    returns: &[Vec<f64>],
    p: PortfolioParams,
) -> Result<PortfolioReport, PortfolioError> {
    let k = returns.len();
    if k < 2 || (k as f64) * p.cap < 1.0 - 1e-12 || symbols.len() != k {
        return Err(PortfolioError::Infeasible { assets: k, cap: p.cap });
    }
    let t = returns.iter().map(Vec::len).min().unwrap_or(0);
    if t < 30 {
        return Err(PortfolioError::TooFewBars(t));
    }
    let mu: Vec<f64> =
        returns.iter().map(|r| r[..t].iter().sum::<f64>() / t as f64 * p.bars_per_year).collect();
    let means: Vec<f64> = returns.iter().map(|r| r[..t].iter().sum::<f64>() / t as f64).collect();
    let cov: Vec<Vec<f64>> = (0..k)
        .map(|i| {
            (0..k)
                .map(|j| {
                    (0..t)
                        .map(|b| (returns[i][b] - means[i]) * (returns[j][b] - means[j]))
                        .sum::<f64>()
                        / (t as f64 - 1.0)
                        * p.bars_per_year
                })
                .collect()
        })
        .collect();
    let alloc = |w: &[f64]| {
        let ret: f64 = w.iter().zip(&mu).map(|(a, b)| a * b).sum();
        let vol = quad(w, &cov).max(0.0).sqrt();
        Allocation {
            weights: symbols.iter().cloned().zip(w.iter().copied()).collect(),
            expected_return: ret,
            volatility: vol,
            sharpe: if vol > 0.0 { (ret - p.risk_free) / vol } else { 0.0 },
        }
    };
    let eq = vec![1.0 / k as f64; k];
    let lmax = max_eig(&cov);
    let w_min = solve(&mu, &cov, 0.0, p.cap, &eq, lmax);
    // Highest feasible return: fill the best assets up to the cap.
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|a, b| mu[*b].total_cmp(&mu[*a]));
    let mut w_max = vec![0.0; k];
    let mut left = 1.0f64;
    for i in order {
        let x = left.min(p.cap);
        w_max[i] = x;
        left -= x;
    }
    let r_min = alloc(&w_min).expected_return;
    let r_max = alloc(&w_max).expected_return;
    // Frontier by bisection on the risk-aversion trade-off λ for each target return.
    let mut frontier = Vec::with_capacity(p.frontier_points);
    let scale = cov.iter().enumerate().map(|(i, r)| r[i]).sum::<f64>()
        / mu.iter().map(|m| m.abs()).sum::<f64>().max(1e-12);
    let mut warm = w_min.clone();
    for j in 0..p.frontier_points {
        let target = r_min + (r_max - r_min) * j as f64 / (p.frontier_points.max(2) - 1) as f64;
        let w = if j == 0 {
            w_min.clone()
        } else if j + 1 == p.frontier_points {
            w_max.clone()
        } else {
            let (mut lo, mut hi) = (0.0, 1e3 * scale);
            let mut best = warm.clone();
            for _ in 0..30 {
                let lam = 0.5 * (lo + hi);
                let w = solve(&mu, &cov, lam, p.cap, &warm, lmax);
                let r: f64 = w.iter().zip(&mu).map(|(a, b)| a * b).sum();
                if r < target {
                    lo = lam;
                } else {
                    hi = lam;
                    best = w;
                }
            }
            best
        };
        warm = w.clone();
        frontier.push(alloc(&w));
    }
    // Max Sharpe: best of the frontier, then refined by projected gradient ascent.
    let mut ws = frontier
        .iter()
        .max_by(|a, b| a.sharpe.total_cmp(&b.sharpe))
        .map(|a| a.weights.values().copied().collect::<Vec<f64>>())
        .unwrap_or_else(|| eq.clone());
    let sharpe = |w: &[f64]| {
        let r: f64 = w.iter().zip(&mu).map(|(a, b)| a * b).sum();
        let v = quad(w, &cov).sqrt();
        if v > 0.0 { (r - p.risk_free) / v } else { f64::NEG_INFINITY }
    };
    let mut step = 0.05;
    for _ in 0..2000 {
        let r: f64 = ws.iter().zip(&mu).map(|(a, b)| a * b).sum();
        let v2 = quad(&ws, &cov);
        let v = v2.sqrt();
        let g = matvec(&cov, &ws);
        let grad: Vec<f64> =
            mu.iter().zip(&g).map(|(m, gi)| m / v - (r - p.risk_free) * gi / (v2 * v)).collect();
        let cand = project_capped_simplex(
            &ws.iter().zip(&grad).map(|(w, d)| w + step * d).collect::<Vec<_>>(),
            p.cap,
        );
        if sharpe(&cand) > sharpe(&ws) {
            ws = cand;
        } else {
            step *= 0.5;
            if step < 1e-10 {
                break;
            }
        }
    }
    // Risk parity: w_i ∝ 1/(Σw)_i fixed point, then cap and renormalize.
    let mut wr = eq.clone();
    for _ in 0..500 {
        let g = matvec(&cov, &wr);
        let v: Vec<f64> = wr.iter().zip(&g).map(|(w, gi)| (w / gi.max(1e-18)).sqrt()).collect();
        let s: f64 = v.iter().sum();
        wr = v.iter().map(|x| x / s).collect();
    }
    let wr = project_capped_simplex(&wr, p.cap);
    Ok(PortfolioReport {
        symbols: symbols.to_vec(),
        bars: t,
        max_sharpe: alloc(&ws),
        min_volatility: alloc(&w_min),
        risk_parity: alloc(&wr),
        frontier,
    })
}

/// Align several candle series on common open times and return per-bar simple returns
/// (only consecutive common bars, so outages in any series are skipped, not bridged).
#[must_use]
pub fn aligned_returns(series: &[Vec<Candle>]) -> Vec<Vec<f64>> {
    use std::collections::BTreeSet;
    let Some(first) = series.first() else { return Vec::new() };
    let mut common: BTreeSet<i64> = first.iter().map(|c| c.open_time_ms).collect();
    for s in &series[1..] {
        let t: BTreeSet<i64> = s.iter().map(|c| c.open_time_ms).collect();
        common = common.intersection(&t).copied().collect();
    }
    let times: Vec<i64> = common.into_iter().collect();
    let maps: Vec<BTreeMap<i64, f64>> =
        series.iter().map(|s| s.iter().map(|c| (c.open_time_ms, c.close)).collect()).collect();
    let step = times.windows(2).map(|w| w[1] - w[0]).min().unwrap_or(0);
    maps.iter()
        .map(|m| {
            times
                .windows(2)
                .filter(|w| w[1] - w[0] == step)
                .map(|w| {
                    m.get(&w[1]).copied().unwrap_or(f64::NAN)
                        / m.get(&w[0]).copied().unwrap_or(f64::NAN)
                        - 1.0
                })
                .collect()
        })
        .collect()
}
