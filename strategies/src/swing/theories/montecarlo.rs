//! Seeded Monte Carlo of future paths: geometric Brownian motion and bootstrap.

use serde::Serialize;

use super::basic::clamp1;
use crate::swing::rng::Rng;

/// Monte Carlo settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MonteCarloParams {
    /// Paths per method.
    pub paths: usize,
    /// Bars simulated.
    pub horizon: usize,
    /// Seed (the result is a pure function of inputs and seed).
    pub seed: u64,
    /// Take-profit as a simple return (e.g. 0.02); `None` = `2 σ √horizon`.
    pub take_profit: Option<f64>,
    /// Stop-loss as a positive simple return; `None` = `σ √horizon`.
    pub stop_loss: Option<f64>,
}

impl Default for MonteCarloParams {
    fn default() -> Self {
        Self { paths: 10_000, horizon: 24, seed: 42, take_profit: None, stop_loss: None }
    }
}

/// Outcome statistics of one simulation method.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PathStats {
    /// P(final price > start).
    pub prob_profit: f64,
    /// P(take-profit touched before stop-loss) (paths touching neither count as no).
    pub prob_tp_before_sl: f64,
    /// 95 % value at risk of the horizon return (a positive number is a loss).
    pub var95: f64,
    /// 95 % conditional VaR (mean loss beyond VaR).
    pub cvar95: f64,
    /// Mean horizon return.
    pub mean_return: f64,
    /// Max-drawdown distribution over paths: mean, median, 95th percentile, worst.
    pub drawdown_mean: f64,
    /// Median max drawdown.
    pub drawdown_p50: f64,
    /// 95th percentile max drawdown.
    pub drawdown_p95: f64,
    /// Worst max drawdown.
    pub drawdown_max: f64,
}

/// Monte Carlo result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonteCarlo {
    /// Settings used (with the resolved take-profit/stop-loss).
    pub params: MonteCarloParams,
    /// GBM with the window's mean and volatility of log returns.
    pub gbm: PathStats,
    /// Bootstrap resampling of the window's log returns.
    pub bootstrap: PathStats,
    /// Mean over both methods of `2·P(profit) − 1` and `2·P(tp first) − 1`… averaged.
    pub signal: f64,
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

fn simulate(mut step: impl FnMut() -> f64, p: &MonteCarloParams, tp: f64, sl: f64) -> PathStats {
    let mut finals = Vec::with_capacity(p.paths);
    let mut dds = Vec::with_capacity(p.paths);
    let (ln_tp, ln_sl) = ((1.0 + tp).ln(), (1.0 - sl).ln());
    let mut tp_first = 0usize;
    for _ in 0..p.paths {
        // Drawdown tracked in log space; converted once per path.
        let (mut lp, mut peak, mut ldd) = (0.0f64, 0.0f64, 0.0f64);
        let mut decided = false;
        for _ in 0..p.horizon {
            lp += step();
            peak = peak.max(lp);
            ldd = ldd.max(peak - lp);
            if !decided {
                if lp >= ln_tp {
                    tp_first += 1;
                    decided = true;
                } else if lp <= ln_sl {
                    decided = true;
                }
            }
        }
        finals.push(lp.exp() - 1.0);
        dds.push(1.0 - (-ldd).exp());
    }
    let n = p.paths.max(1) as f64;
    let prob_profit = finals.iter().filter(|r| **r > 0.0).count() as f64 / n;
    let mean_return = finals.iter().sum::<f64>() / n;
    finals.sort_by(f64::total_cmp);
    dds.sort_by(f64::total_cmp);
    let q05 = quantile(&finals, 0.05);
    let tail: Vec<f64> = finals.iter().copied().filter(|r| *r <= q05).collect();
    let cvar = -tail.iter().sum::<f64>() / tail.len().max(1) as f64;
    PathStats {
        prob_profit,
        prob_tp_before_sl: tp_first as f64 / n,
        var95: -q05,
        cvar95: cvar,
        mean_return,
        drawdown_mean: dds.iter().sum::<f64>() / n,
        drawdown_p50: quantile(&dds, 0.5),
        drawdown_p95: quantile(&dds, 0.95),
        drawdown_max: dds.last().copied().unwrap_or(f64::NAN),
    }
}

/// Simulate `params.paths` paths of `params.horizon` bars by GBM (log-return mean and standard
/// deviation of `log_returns`) and by bootstrap (i.i.d. resampling of `log_returns`).
/// Deterministic for a seed.
///
/// # Examples
/// ```
/// use crpbot_strategies::swing::theories::{monte_carlo, MonteCarloParams};
/// let r: Vec<f64> = (0..100).map(|i| if i % 2 == 0 { 0.01 } else { -0.008 }).collect();
/// let p = MonteCarloParams { paths: 500, ..Default::default() };
/// assert_eq!(monte_carlo(&r, p), monte_carlo(&r, p));
/// ```
#[must_use]
pub fn monte_carlo(log_returns: &[f64], params: MonteCarloParams) -> MonteCarlo {
    let n = log_returns.len().max(1) as f64;
    let mu = log_returns.iter().sum::<f64>() / n;
    let sigma =
        (log_returns.iter().map(|r| (r - mu).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt();
    let scale = sigma * (params.horizon as f64).sqrt();
    let tp = params.take_profit.unwrap_or(2.0 * scale).max(1e-9);
    let sl = params.stop_loss.unwrap_or(scale).clamp(1e-9, 0.999_999);
    let mut resolved = params;
    resolved.take_profit = Some(tp);
    resolved.stop_loss = Some(sl);
    let mut rng = Rng::new(params.seed);
    let gbm = simulate(|| mu + sigma * rng.normal(), &params, tp, sl);
    let mut rng = Rng::new(params.seed ^ 0x5DEE_CE66_D1CE_5EED);
    let boot = if log_returns.is_empty() {
        simulate(|| 0.0, &params, tp, sl)
    } else {
        simulate(|| log_returns[rng.below(log_returns.len())], &params, tp, sl)
    };
    let s = |p: &PathStats| {
        let be = sl / (tp + sl); // break-even hit probability for this tp/sl
        0.5 * (2.0 * p.prob_profit - 1.0) + 0.5 * (p.prob_tp_before_sl - be) / be.max(1e-9)
    };
    let signal = clamp1(0.5 * (s(&gbm) + s(&boot)));
    MonteCarlo { params: resolved, gbm, bootstrap: boot, signal }
}
