//! Statistics over closed signal results: Bayesian win rates, per-variant A/B arms, Welch's
//! t-test and the sample size an A/B comparison needs.
//!
//! * Win rate: Beta(1, 1) prior (uniform), a win is a success, a loss or breakeven a failure;
//!   the posterior is Beta(1 + wins, 1 + losses + breakeven), reported as its mean and the
//!   equal-tailed 95 % credible interval (2.5 % / 97.5 % quantiles, `statrs`).
//! * Sharpe of a variant: mean / sample standard deviation of its per-signal `pnl_pct`
//!   (not annualised: signals are not evenly spaced in time).
//! * Welch's two-sample t-test on per-signal `pnl_pct`: `t = (m₁ − m₂)/√(s₁²/n₁ + s₂²/n₂)`,
//!   Welch–Satterthwaite `df = (s₁²/n₁ + s₂²/n₂)² / ((s₁²/n₁)²/(n₁−1) + (s₂²/n₂)²/(n₂−1))`,
//!   two-sided `p = 2·P(T_df > |t|)`.
//! * Minimum sample size per arm to detect win rates `p₁` vs `p₂` with a two-sided test at
//!   level α and power 1 − β (normal approximation, no continuity correction, Fleiss):
//!   `n = (z_{1−α/2}·√(2·p̄(1−p̄)) + z_{1−β}·√(p₁(1−p₁) + p₂(1−p₂)))² / (p₁ − p₂)²`,
//!   `p̄ = (p₁+p₂)/2`, rounded up. 50 % vs 60 % at α 0.05, power 0.8 needs 388 per arm.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use statrs::distribution::{Beta, ContinuousCDF, Normal, StudentsT};

use super::Outcome;

/// Posterior of a win rate under a Beta(1, 1) prior.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BetaPosterior {
    /// `1 + successes`.
    pub alpha: f64,
    /// `1 + failures`.
    pub beta: f64,
    /// Posterior mean `α / (α + β)`.
    pub mean: f64,
    /// 2.5 % quantile.
    pub lower_95: f64,
    /// 97.5 % quantile.
    pub upper_95: f64,
}

impl BetaPosterior {
    /// The posterior after `successes` and `failures` from a uniform Beta(1, 1) prior.
    ///
    /// # Examples
    /// ```
    /// use crpbot_strategies::swing::signal::ab::BetaPosterior;
    /// // Beta(2, 1) has CDF x², so its 97.5 % quantile is √0.975.
    /// let p = BetaPosterior::from_counts(1, 0);
    /// assert!((p.mean - 2.0 / 3.0).abs() < 1e-12);
    /// assert!((p.upper_95 - 0.975f64.sqrt()).abs() < 1e-9);
    /// ```
    #[must_use]
    pub fn from_counts(successes: u64, failures: u64) -> Self {
        let alpha = 1.0 + successes as f64;
        let beta = 1.0 + failures as f64;
        let (lower_95, upper_95) = match Beta::new(alpha, beta) {
            Ok(d) => (d.inverse_cdf(0.025), d.inverse_cdf(0.975)),
            Err(_) => (f64::NAN, f64::NAN),
        };
        Self { alpha, beta, mean: alpha / (alpha + beta), lower_95, upper_95 }
    }
}

/// Sample mean and standard deviation (n − 1); `None` for fewer than 2 values.
fn mean_sd(x: &[f64]) -> Option<(f64, f64)> {
    if x.len() < 2 {
        return None;
    }
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let v = x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n - 1.0);
    Some((m, v.sqrt()))
}

/// One arm (variant) of an A/B comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmStats {
    /// Variant name.
    pub variant: String,
    /// Closed results.
    pub n: usize,
    /// Wins.
    pub wins: usize,
    /// Losses.
    pub losses: usize,
    /// Breakevens.
    pub breakeven: usize,
    /// Observed win rate `wins / n` (NaN when `n = 0`).
    pub win_rate: f64,
    /// Beta(1, 1) posterior of the win rate.
    pub posterior: BetaPosterior,
    /// Mean `pnl_pct` (NaN when `n = 0`).
    pub mean_pnl_pct: f64,
    /// Sample standard deviation of `pnl_pct` (`None` below 2 results).
    pub sd_pnl_pct: Option<f64>,
    /// `mean / sd` of per-signal `pnl_pct` (`None` below 2 results or with zero spread).
    pub sharpe: Option<f64>,
}

impl ArmStats {
    /// Statistics of one variant's closed results `(outcome, pnl_pct)`; `Open` rows are
    /// ignored.
    #[must_use]
    pub fn from_results(variant: &str, results: &[(Outcome, f64)]) -> Self {
        let closed: Vec<(Outcome, f64)> =
            results.iter().copied().filter(|(o, _)| *o != Outcome::Open).collect();
        let count = |want: Outcome| closed.iter().filter(|(o, _)| *o == want).count();
        let (wins, losses, breakeven) =
            (count(Outcome::Win), count(Outcome::Loss), count(Outcome::Breakeven));
        let n = closed.len();
        let pnl: Vec<f64> = closed.iter().map(|(_, p)| *p).collect();
        let ms = mean_sd(&pnl);
        let mean_pnl_pct = if n == 0 { f64::NAN } else { pnl.iter().sum::<f64>() / n as f64 };
        Self {
            variant: variant.to_string(),
            n,
            wins,
            losses,
            breakeven,
            win_rate: if n == 0 { f64::NAN } else { wins as f64 / n as f64 },
            posterior: BetaPosterior::from_counts(wins as u64, (losses + breakeven) as u64),
            mean_pnl_pct,
            sd_pnl_pct: ms.map(|(_, sd)| sd),
            sharpe: ms.and_then(|(m, sd)| (sd > 0.0).then_some(m / sd)),
        }
    }
}

/// Result of Welch's two-sample t-test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WelchTest {
    /// `t` statistic (positive when the first sample's mean is larger).
    pub t: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub df: f64,
    /// Two-sided p-value.
    pub p_two_sided: f64,
}

/// Welch's t-test of equal means; `None` when either sample has fewer than 2 values or both
/// have zero variance.
///
/// # Examples
/// ```
/// use crpbot_strategies::swing::signal::ab::welch_t_test;
/// let w = welch_t_test(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]).unwrap();
/// assert_eq!(w.t, 0.0);
/// assert!((w.p_two_sided - 1.0).abs() < 1e-12);
/// ```
#[must_use]
pub fn welch_t_test(a: &[f64], b: &[f64]) -> Option<WelchTest> {
    let (m1, s1) = mean_sd(a)?;
    let (m2, s2) = mean_sd(b)?;
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let (q1, q2) = (s1 * s1 / n1, s2 * s2 / n2);
    let se2 = q1 + q2;
    if se2.is_nan() || se2 <= 0.0 {
        return None;
    }
    let t = (m1 - m2) / se2.sqrt();
    let df = se2 * se2 / (q1 * q1 / (n1 - 1.0) + q2 * q2 / (n2 - 1.0));
    let p = StudentsT::new(0.0, 1.0, df).ok().map(|d| 2.0 * d.sf(t.abs()))?;
    Some(WelchTest { t, df, p_two_sided: p.min(1.0) })
}

/// Minimum closed results per arm to detect win rates `p1` vs `p2` (two-sided level `alpha`,
/// power `power`); formula in the module docs. `None` for rates outside (0, 1), equal rates
/// or `alpha`/`power` outside (0, 1).
///
/// # Examples
/// ```
/// use crpbot_strategies::swing::signal::ab::min_sample_size_per_arm;
/// assert_eq!(min_sample_size_per_arm(0.5, 0.6, 0.05, 0.8), Some(388));
/// ```
#[must_use]
pub fn min_sample_size_per_arm(p1: f64, p2: f64, alpha: f64, power: f64) -> Option<u64> {
    let unit = |x: f64| x > 0.0 && x < 1.0;
    if !(unit(p1) && unit(p2) && unit(alpha) && unit(power)) || p1 == p2 {
        return None;
    }
    let z = Normal::new(0.0, 1.0).ok()?;
    let (za, zb) = (z.inverse_cdf(1.0 - alpha / 2.0), z.inverse_cdf(power));
    let pbar = (p1 + p2) / 2.0;
    let num =
        za * (2.0 * pbar * (1.0 - pbar)).sqrt() + zb * (p1 * (1.0 - p1) + p2 * (1.0 - p2)).sqrt();
    let n = (num * num / ((p1 - p2) * (p1 - p2))).ceil();
    (n.is_finite() && n >= 1.0).then_some(n as u64)
}

/// The effect an A/B report sizes its sample for.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AbConfig {
    /// Win rate of the baseline arm (default 0.5, the most demanding variance).
    pub baseline_win_rate: f64,
    /// Win-rate difference to detect (default 0.10: ten points).
    pub effect: f64,
    /// Two-sided significance level (default 0.05).
    pub alpha: f64,
    /// Power (default 0.8).
    pub power: f64,
}

impl Default for AbConfig {
    fn default() -> Self {
        Self { baseline_win_rate: 0.5, effect: 0.10, alpha: 0.05, power: 0.8 }
    }
}

/// Two arms compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// First variant.
    pub a: String,
    /// Second variant.
    pub b: String,
    /// Observed win rate of `a` minus that of `b`.
    pub win_rate_diff: f64,
    /// Welch's t-test on per-signal `pnl_pct` (`None` when a sample is too small).
    pub welch: Option<WelchTest>,
    /// Closed results each arm needs for [`AbConfig`]'s effect.
    pub required_n_per_arm: Option<u64>,
    /// True when either arm has fewer closed results than `required_n_per_arm`: the
    /// comparison cannot tell the configured effect from noise yet.
    pub underpowered: bool,
}

/// Per-variant statistics and every pairwise comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AbReport {
    /// The effect sized for.
    pub config: AbConfig,
    /// One entry per variant, by name.
    pub arms: Vec<ArmStats>,
    /// Every pair `(a, b)` with `a < b` by name.
    pub comparisons: Vec<Comparison>,
}

/// Builds the A/B report from each variant's closed `(outcome, pnl_pct)` results.
#[must_use]
pub fn ab_report(results: &BTreeMap<String, Vec<(Outcome, f64)>>, config: AbConfig) -> AbReport {
    let arms: Vec<ArmStats> = results.iter().map(|(v, r)| ArmStats::from_results(v, r)).collect();
    let required = min_sample_size_per_arm(
        config.baseline_win_rate,
        config.baseline_win_rate + config.effect,
        config.alpha,
        config.power,
    );
    let pnl = |v: &str| -> Vec<f64> {
        results
            .get(v)
            .map(|r| r.iter().filter(|(o, _)| *o != Outcome::Open).map(|(_, p)| *p).collect())
            .unwrap_or_default()
    };
    let mut comparisons = Vec::new();
    for (i, a) in arms.iter().enumerate() {
        for b in &arms[i + 1..] {
            let smaller = a.n.min(b.n) as u64;
            comparisons.push(Comparison {
                a: a.variant.clone(),
                b: b.variant.clone(),
                win_rate_diff: a.win_rate - b.win_rate,
                welch: welch_t_test(&pnl(&a.variant), &pnl(&b.variant)),
                required_n_per_arm: required,
                underpowered: required.is_none_or(|r| smaller < r),
            });
        }
    }
    AbReport { config, arms, comparisons }
}

fn opt(v: Option<f64>, prec: usize) -> String {
    v.filter(|x| x.is_finite()).map_or_else(|| "-".to_string(), |x| format!("{x:.prec$}"))
}

impl fmt::Display for AbReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<24} {:>6} {:>6} {:>9} {:>17} {:>10} {:>8}",
            "variant", "n", "wins", "win_rate", "posterior_95", "mean_pnl%", "sharpe"
        )?;
        for a in &self.arms {
            writeln!(
                f,
                "{:<24} {:>6} {:>6} {:>9} {:>17} {:>10} {:>8}",
                a.variant,
                a.n,
                a.wins,
                opt(Some(a.win_rate), 3),
                format!(
                    "{:.3} [{:.3},{:.3}]",
                    a.posterior.mean, a.posterior.lower_95, a.posterior.upper_95
                ),
                opt(Some(a.mean_pnl_pct), 3),
                opt(a.sharpe, 3),
            )?;
        }
        let c = &self.config;
        for cmp in &self.comparisons {
            let (t, df, p) = match cmp.welch {
                Some(w) => (opt(Some(w.t), 3), opt(Some(w.df), 1), opt(Some(w.p_two_sided), 4)),
                None => ("-".into(), "-".into(), "-".into()),
            };
            writeln!(
                f,
                "{} vs {}: win-rate diff {}, Welch t {t} df {df} p {p}; need {} per arm to detect \
                 {:.0} points at alpha {} power {}{}",
                cmp.a,
                cmp.b,
                opt(Some(cmp.win_rate_diff), 3),
                cmp.required_n_per_arm.map_or_else(|| "-".to_string(), |n| n.to_string()),
                c.effect * 100.0,
                c.alpha,
                c.power,
                if cmp.underpowered { " (UNDERPOWERED: fewer results than that)" } else { "" },
            )?;
        }
        Ok(())
    }
}
