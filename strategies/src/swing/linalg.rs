//! Ordinary least squares by Householder QR (numerically close to statsmodels' pinv OLS).

/// An OLS fit.
#[derive(Debug, Clone)]
pub struct Ols {
    /// Coefficients, one per column.
    pub params: Vec<f64>,
    /// Standard errors.
    pub bse: Vec<f64>,
    /// Sum of squared residuals.
    pub ssr: f64,
    /// Observations.
    pub nobs: usize,
}

impl Ols {
    /// t-statistic of coefficient `j`.
    #[must_use]
    pub fn tvalue(&self, j: usize) -> f64 {
        self.params[j] / self.bse[j]
    }

    /// Akaike information criterion as statsmodels computes it for OLS:
    /// `nobs·(ln 2π + ln(ssr/nobs) + 1) + 2k`.
    #[must_use]
    pub fn aic(&self) -> f64 {
        let n = self.nobs as f64;
        n * ((2.0 * std::f64::consts::PI).ln() + (self.ssr / n).ln() + 1.0)
            + 2.0 * self.params.len() as f64
    }
}

/// Fit `y = X b` where `x` holds `k` columns each of length `y.len()`. `None` when the design
/// is rank deficient or has fewer rows than columns.
///
/// # Examples
/// ```
/// use crpbot_strategies::swing::linalg::ols;
/// let x = vec![vec![1.0; 4], vec![0.0, 1.0, 2.0, 3.0]];
/// let f = ols(&[1.0, 3.0, 5.0, 7.0], &x).unwrap();
/// assert!((f.params[1] - 2.0).abs() < 1e-12 && (f.params[0] - 1.0).abs() < 1e-12);
/// ```
#[must_use]
pub fn ols(y: &[f64], x: &[Vec<f64>]) -> Option<Ols> {
    let n = y.len();
    let k = x.len();
    if k == 0 || n <= k || x.iter().any(|c| c.len() != n) {
        return None;
    }
    // Column-major copy of X and y; Householder reflections applied in place.
    let mut a: Vec<Vec<f64>> = x.to_vec();
    let mut b = y.to_vec();
    for j in 0..k {
        let norm = a[j][j..].iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm == 0.0 {
            return None;
        }
        let alpha = if a[j][j] > 0.0 { -norm } else { norm };
        let mut v: Vec<f64> = a[j][j..].to_vec();
        v[0] -= alpha;
        let vnorm2: f64 = v.iter().map(|t| t * t).sum();
        if vnorm2 == 0.0 {
            continue;
        }
        for col in a.iter_mut().skip(j) {
            let dot: f64 = v.iter().zip(&col[j..]).map(|(p, q)| p * q).sum();
            let f = 2.0 * dot / vnorm2;
            for (c, vi) in col[j..].iter_mut().zip(&v) {
                *c -= f * vi;
            }
        }
        let dot: f64 = v.iter().zip(&b[j..]).map(|(p, q)| p * q).sum();
        let f = 2.0 * dot / vnorm2;
        for (c, vi) in b[j..].iter_mut().zip(&v) {
            *c -= f * vi;
        }
    }
    // R is a[j][i] for i <= j; check rank.
    let rmax = (0..k).map(|j| a[j][j].abs()).fold(0.0, f64::max);
    if (0..k).any(|j| a[j][j].abs() <= rmax * 1e-13) {
        return None;
    }
    let mut params = vec![0.0; k];
    for i in (0..k).rev() {
        let mut s = b[i];
        for j in i + 1..k {
            s -= a[j][i] * params[j];
        }
        params[i] = s / a[i][i];
    }
    let ssr: f64 = b[k..].iter().map(|v| v * v).sum();
    // (X'X)^-1 = R^-1 R^-T; diag = row norms of R^-1.
    let mut rinv = vec![vec![0.0; k]; k]; // rinv[i][j], upper triangular
    for i in 0..k {
        rinv[i][i] = 1.0 / a[i][i];
        for j in (0..i).rev() {
            let mut s = 0.0;
            for m in j + 1..=i {
                s += a[m][j] * rinv[m][i];
            }
            rinv[j][i] = -s / a[j][j];
        }
    }
    let sigma2 = ssr / (n - k) as f64;
    let bse = (0..k)
        .map(|i| (sigma2 * (i..k).map(|j| rinv[i][j] * rinv[i][j]).sum::<f64>()).sqrt())
        .collect();
    Some(Ols { params, bse, ssr, nobs: n })
}
