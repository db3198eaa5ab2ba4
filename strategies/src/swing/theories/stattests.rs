//! Time-series tests matching statsmodels/scipy: ACF, PACF (Yule–Walker adjusted), Ljung–Box,
//! Augmented Dickey–Fuller (`adfuller` defaults), Levene/Brown–Forsythe and the Lo–MacKinlay
//! variance ratio.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::swing::linalg::ols;
use crate::swing::special::{chi2_sf, f_sf, norm_cdf};

/// Why a statistical test could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StatError {
    /// Too few observations for the requested test.
    #[error("{test}: need at least {needed} observations, got {got}")]
    TooShort {
        /// Test name.
        test: &'static str,
        /// Minimum.
        needed: usize,
        /// Provided.
        got: usize,
    },
    /// A NaN or infinite input.
    #[error("{test}: non-finite input")]
    NonFinite {
        /// Test name.
        test: &'static str,
    },
    /// The regression design is singular (e.g. a constant series).
    #[error("{test}: singular regression (constant input?)")]
    Singular {
        /// Test name.
        test: &'static str,
    },
}

fn check(test: &'static str, x: &[f64], needed: usize) -> Result<(), StatError> {
    if x.len() < needed {
        return Err(StatError::TooShort { test, needed, got: x.len() });
    }
    if x.iter().any(|v| !v.is_finite()) {
        return Err(StatError::NonFinite { test });
    }
    Ok(())
}

fn demeaned(x: &[f64]) -> Vec<f64> {
    let m = x.iter().sum::<f64>() / x.len() as f64;
    x.iter().map(|v| v - m).collect()
}

/// Sample autocorrelations at lags `0..=nlags` (statsmodels `acf`, `adjusted=False`).
///
/// # Errors
/// [`StatError`] when `x` has `nlags + 2` or fewer values, is constant or not finite.
///
/// # Examples
/// ```
/// let a = crpbot_strategies::swing::theories::acf(&[1.0, 2.0, 1.0, 2.0, 1.0, 2.0], 2).unwrap();
/// assert_eq!(a[0], 1.0);
/// assert!(a[1] < -0.8);
/// ```
pub fn acf(x: &[f64], nlags: usize) -> Result<Vec<f64>, StatError> {
    check("acf", x, nlags + 2)?;
    let d = demeaned(x);
    let n = d.len() as f64;
    let c0 = d.iter().map(|v| v * v).sum::<f64>() / n;
    if c0 == 0.0 {
        return Err(StatError::Singular { test: "acf" });
    }
    Ok((0..=nlags)
        .map(|k| d[k..].iter().zip(&d).map(|(a, b)| a * b).sum::<f64>() / n / c0)
        .collect())
}

/// Partial autocorrelations at lags `0..=nlags` by Yule–Walker with the adjusted
/// autocovariance (`Σ/(n−k)`), statsmodels' default `pacf(method="ywadjusted")`, computed by
/// Durbin–Levinson.
///
/// # Errors
/// As [`acf`].
/// # Examples
/// ```
/// let x: Vec<f64> = (0..100).map(|i| ((i * 7919) % 101) as f64).collect();
/// let p = crpbot_strategies::swing::theories::pacf(&x, 5).unwrap();
/// assert_eq!(p.len(), 6);
/// assert_eq!(p[0], 1.0);
/// ```
pub fn pacf(x: &[f64], nlags: usize) -> Result<Vec<f64>, StatError> {
    check("pacf", x, nlags + 2)?;
    let d = demeaned(x);
    let n = d.len();
    let r: Vec<f64> = (0..=nlags)
        .map(|k| d[k..].iter().zip(&d).map(|(a, b)| a * b).sum::<f64>() / (n - k) as f64)
        .collect();
    if r[0] == 0.0 {
        return Err(StatError::Singular { test: "pacf" });
    }
    let mut out = vec![1.0];
    let mut phi: Vec<f64> = Vec::new();
    let mut v = r[0];
    for k in 1..=nlags {
        let num = r[k] - phi.iter().enumerate().map(|(j, p)| p * r[k - 1 - j]).sum::<f64>();
        let kk = num / v;
        let mut next = phi.clone();
        for j in 0..phi.len() {
            next[j] = phi[j] - kk * phi[phi.len() - 1 - j];
        }
        next.push(kk);
        phi = next;
        v *= 1.0 - kk * kk;
        out.push(kk);
    }
    Ok(out)
}

/// Ljung–Box portmanteau test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LjungBox {
    /// Number of lags.
    pub lags: usize,
    /// Q statistic.
    pub q: f64,
    /// Chi-square(lags) p-value.
    pub p_value: f64,
}

/// Ljung–Box Q at `lags` (statsmodels `acorr_ljungbox(x, lags=[lags])`).
///
/// # Errors
/// As [`acf`].
/// # Examples
/// ```
/// let x: Vec<f64> = (0..200).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 }).collect();
/// let lb = crpbot_strategies::swing::theories::ljung_box(&x, 20).unwrap();
/// assert!(lb.p_value < 1e-10);
/// ```
pub fn ljung_box(x: &[f64], lags: usize) -> Result<LjungBox, StatError> {
    let a = acf(x, lags)?;
    let n = x.len() as f64;
    let q = n * (n + 2.0) * (1..=lags).map(|k| a[k] * a[k] / (n - k as f64)).sum::<f64>();
    Ok(LjungBox { lags, q, p_value: chi2_sf(q, lags as f64) })
}

/// Augmented Dickey–Fuller result (`regression='c'`, `autolag='AIC'`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Adf {
    /// t-statistic of the lagged level.
    pub statistic: f64,
    /// MacKinnon (1994) approximate p-value.
    pub p_value: f64,
    /// Lagged differences chosen by AIC.
    pub used_lag: usize,
    /// Observations in the final regression.
    pub nobs: usize,
    /// MacKinnon (2010) critical values keyed `"1%"`, `"5%"`, `"10%"`.
    pub critical_values: BTreeMap<String, f64>,
    /// AIC of the chosen lag.
    pub icbest: f64,
}

/// Augmented Dickey–Fuller test with statsmodels `adfuller` defaults: constant only, maximum
/// lag `ceil(12·(n/100)^¼)` (capped at `n/2 − 2`), lag chosen by AIC on a common sample,
/// MacKinnon p-value and critical values.
///
/// # Errors
/// [`StatError`] for fewer than 8 values, non-finite or constant input.
/// # Examples
/// ```
/// use crpbot_strategies::swing::{rng::Rng, theories::adfuller};
/// let mut r = Rng::new(3);
/// let noise: Vec<f64> = (0..300).map(|_| r.normal()).collect();
/// let a = adfuller(&noise).unwrap();
/// assert!(a.p_value < 0.01 && a.statistic < a.critical_values["1%"]);
/// ```
pub fn adfuller(x: &[f64]) -> Result<Adf, StatError> {
    const T: &str = "adf";
    check(T, x, 8)?;
    let n = x.len();
    let maxlag = ((12.0 * (n as f64 / 100.0).powf(0.25)).ceil() as usize).min(n / 2 - 2);
    let dx: Vec<f64> = x.windows(2).map(|w| w[1] - w[0]).collect();
    let design = |lag: usize, rows_from: usize, const_first: bool| {
        let rows = rows_from..dx.len();
        let y: Vec<f64> = dx[rows.clone()].to_vec();
        let mut cols = Vec::new();
        let level: Vec<f64> = rows.clone().map(|t| x[t]).collect();
        let ones = vec![1.0; y.len()];
        if const_first {
            cols.push(ones.clone());
        }
        cols.push(level);
        for l in 1..=lag {
            cols.push(rows.clone().map(|t| dx[t - l]).collect());
        }
        if !const_first {
            cols.push(ones);
        }
        (y, cols)
    };
    let mut best: Option<(f64, usize)> = None;
    for lag in 0..=maxlag {
        let (y, cols) = design(lag, maxlag, true);
        let fit = ols(&y, &cols).ok_or(StatError::Singular { test: T })?;
        let aic = fit.aic();
        if best.is_none_or(|(b, _)| aic < b) {
            best = Some((aic, lag));
        }
    }
    let (icbest, used_lag) = best.ok_or(StatError::Singular { test: T })?;
    let (y, cols) = design(used_lag, used_lag, false);
    let fit = ols(&y, &cols).ok_or(StatError::Singular { test: T })?;
    let statistic = fit.tvalue(0);
    let nobs = y.len();
    Ok(Adf {
        statistic,
        p_value: mackinnon_p(statistic),
        used_lag,
        nobs,
        critical_values: mackinnon_crit(nobs),
        icbest,
    })
}

/// MacKinnon (1994) p-value for the constant-only, one-variable ADF statistic.
#[must_use]
/// # Examples
/// ```
/// let p = crpbot_strategies::swing::theories::mackinnon_p(-2.86);
/// assert!((p - 0.05).abs() < 0.005);
/// ```
pub fn mackinnon_p(stat: f64) -> f64 {
    const SMALL: [f64; 3] = [2.1659, 1.4412, 0.038269];
    const LARGE: [f64; 4] = [1.7339, 0.93202, -0.12745, -0.010368];
    if stat > 2.74 {
        return 1.0;
    }
    if stat < -18.83 {
        return 0.0;
    }
    let coef: &[f64] = if stat <= -1.61 { &SMALL } else { &LARGE };
    let poly = coef.iter().rev().fold(0.0, |acc, c| acc * stat + c);
    norm_cdf(poly)
}

/// MacKinnon (2010) critical values (constant, one variable) for `nobs` observations.
#[must_use]
/// # Examples
/// ```
/// let c = crpbot_strategies::swing::theories::mackinnon_crit(200);
/// assert!((c["5%"] + 2.876).abs() < 1e-3);
/// ```
pub fn mackinnon_crit(nobs: usize) -> BTreeMap<String, f64> {
    const TAU: [(&str, [f64; 4]); 3] = [
        ("1%", [-3.43035, -6.5393, -16.786, -79.433]),
        ("5%", [-2.86154, -2.8903, -4.234, -40.04]),
        ("10%", [-2.56677, -1.5384, -2.809, 0.0]),
    ];
    let inv = 1.0 / nobs as f64;
    TAU.iter()
        .map(|(k, c)| {
            ((*k).to_string(), c[0] + c[1] * inv + c[2] * inv * inv + c[3] * inv * inv * inv)
        })
        .collect()
}

/// Levene's test for equal variances between groups.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Levene {
    /// Brown–Forsythe statistic (median-centred; scipy's default `center='median'`).
    pub statistic: f64,
    /// Its F p-value.
    pub p_value: f64,
    /// Classic Levene statistic (mean-centred).
    pub mean_statistic: f64,
    /// Its F p-value.
    pub mean_p_value: f64,
}

fn median(x: &[f64]) -> f64 {
    let mut v = x.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) }
}

fn levene_w(groups: &[&[f64]], center: impl Fn(&[f64]) -> f64) -> (f64, f64) {
    let k = groups.len() as f64;
    let z: Vec<Vec<f64>> = groups
        .iter()
        .map(|g| {
            let c = center(g);
            g.iter().map(|v| (v - c).abs()).collect()
        })
        .collect();
    let ntot: usize = z.iter().map(Vec::len).sum();
    let n = ntot as f64;
    let means: Vec<f64> = z.iter().map(|g| g.iter().sum::<f64>() / g.len() as f64).collect();
    let grand = z.iter().flatten().sum::<f64>() / n;
    let between: f64 =
        z.iter().zip(&means).map(|(g, m)| g.len() as f64 * (m - grand).powi(2)).sum();
    let within: f64 =
        z.iter().zip(&means).map(|(g, m)| g.iter().map(|v| (v - m).powi(2)).sum::<f64>()).sum();
    let w = (n - k) / (k - 1.0) * between / within;
    (w, f_sf(w, k - 1.0, n - k))
}

/// Levene / Brown–Forsythe test between two samples (scipy `stats.levene`).
///
/// # Errors
/// [`StatError`] when a sample has fewer than 2 values or is not finite.
/// # Examples
/// ```
/// let a = [1.0, -1.0, 1.0, -1.0, 1.0, -1.0];
/// let b = [5.0, -5.0, 5.0, -5.0, 5.0, -5.0];
/// let l = crpbot_strategies::swing::theories::levene(&a, &b).unwrap();
/// assert!(l.p_value < 0.001);
/// ```
pub fn levene(a: &[f64], b: &[f64]) -> Result<Levene, StatError> {
    check("levene", a, 2)?;
    check("levene", b, 2)?;
    let (statistic, p_value) = levene_w(&[a, b], median);
    let (mean_statistic, mean_p_value) =
        levene_w(&[a, b], |g: &[f64]| g.iter().sum::<f64>() / g.len() as f64);
    Ok(Levene { statistic, p_value, mean_statistic, mean_p_value })
}

/// Lo–MacKinlay variance ratio at one horizon.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct VarianceRatio {
    /// Horizon `q` in bars.
    pub q: usize,
    /// VR(q): overlapping q-bar variance over q times the 1-bar variance (bias-corrected).
    pub ratio: f64,
    /// Homoskedastic z statistic.
    pub z: f64,
    /// Heteroskedasticity-robust z* statistic.
    pub z_robust: f64,
    /// Two-sided p-value of z*.
    pub p_value: f64,
}

/// Lo–MacKinlay (1988) variance ratio of the returns `r` at horizon `q`.
///
/// # Errors
/// [`StatError`] when `r` is shorter than `2q + 1`, constant or not finite.
/// # Examples
/// ```
/// let r: Vec<f64> = (0..400).map(|i| if (i / 8) % 2 == 0 { 1.0 } else { -1.0 }).collect();
/// let v = crpbot_strategies::swing::theories::variance_ratio(&r, 4).unwrap();
/// assert!(v.ratio > 2.0);
/// ```
pub fn variance_ratio(r: &[f64], q: usize) -> Result<VarianceRatio, StatError> {
    const T: &str = "variance_ratio";
    check(T, r, 2 * q + 1)?;
    let nt = r.len() as f64;
    let mu = r.iter().sum::<f64>() / nt;
    let d: Vec<f64> = r.iter().map(|v| v - mu).collect();
    let ss: f64 = d.iter().map(|v| v * v).sum();
    if ss == 0.0 || q < 2 {
        return Err(StatError::Singular { test: T });
    }
    let var_a = ss / (nt - 1.0);
    let qf = q as f64;
    let m = qf * (nt - qf + 1.0) * (1.0 - qf / nt);
    let var_c: f64 =
        r.windows(q).map(|w| (w.iter().sum::<f64>() - qf * mu).powi(2)).sum::<f64>() / m;
    let ratio = var_c / var_a;
    let z = (ratio - 1.0) / (2.0 * (2.0 * qf - 1.0) * (qf - 1.0) / (3.0 * qf * nt)).sqrt();
    let theta: f64 = (1..q)
        .map(|j| {
            let delta = nt * (j..r.len()).map(|t| d[t] * d[t] * d[t - j] * d[t - j]).sum::<f64>()
                / (ss * ss);
            (2.0 * (qf - j as f64) / qf).powi(2) * delta
        })
        .sum();
    let z_robust = (ratio - 1.0) / theta.sqrt();
    Ok(VarianceRatio { q, ratio, z, z_robust, p_value: 2.0 * (1.0 - norm_cdf(z_robust.abs())) })
}
