//! Small statistics on preallocated storage: a fixed ring of samples, OLS, and the augmented
//! Dickey–Fuller regression used by the Engle–Granger cointegration check.

/// A fixed-capacity ring of `f64` samples, oldest first. Allocated once; pushing overwrites
/// the oldest sample when full.
///
/// # Examples
/// ```
/// use crpbot_strategies::fast::Ring;
/// let mut r = Ring::new(2);
/// r.push(1.0);
/// r.push(2.0);
/// r.push(3.0);
/// assert_eq!((r.len(), r.get(0), r.get(1)), (2, Some(2.0), Some(3.0)));
/// ```
#[derive(Clone, Debug)]
pub struct Ring {
    buf: Box<[f64]>,
    start: usize,
    len: usize,
}

impl Ring {
    /// A ring of `capacity` samples (at least 1).
    pub fn new(capacity: usize) -> Ring {
        Ring { buf: vec![0.0; capacity.max(1)].into_boxed_slice(), start: 0, len: 0 }
    }

    /// Appends a sample (dropping the oldest when full).
    #[inline]
    pub fn push(&mut self, v: f64) {
        let cap = self.buf.len();
        if self.len < cap {
            self.buf[(self.start + self.len) % cap] = v;
            self.len += 1;
        } else {
            self.buf[self.start] = v;
            self.start = (self.start + 1) % cap;
        }
    }

    /// The `i`-th sample, oldest first.
    #[inline]
    pub fn get(&self, i: usize) -> Option<f64> {
        (i < self.len).then(|| self.buf[(self.start + i) % self.buf.len()])
    }

    /// Samples held.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when holding `capacity` samples.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.len == self.buf.len()
    }

    /// Samples, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = f64> + '_ {
        (0..self.len).map(move |i| self.buf[(self.start + i) % self.buf.len()])
    }

    /// Mean and population standard deviation (two passes); `None` when empty or not finite.
    pub fn mean_std(&self) -> Option<(f64, f64)> {
        if self.len == 0 {
            return None;
        }
        let n = self.len as f64;
        let mean = self.iter().sum::<f64>() / n;
        let var = self.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        let sd = var.max(0.0).sqrt();
        (mean.is_finite() && sd.is_finite()).then_some((mean, sd))
    }

    /// Empties the ring.
    pub fn clear(&mut self) {
        self.start = 0;
        self.len = 0;
    }
}

/// Ordinary least squares `y = a + b·x` over paired samples: `(a, b)`, or `None` when `x` has
/// no variance or the result is not finite.
///
/// # Examples
/// ```
/// use crpbot_strategies::fast::ols;
/// let (a, b) = ols([(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)].into_iter()).unwrap();
/// assert!((a - 1.0).abs() < 1e-12 && (b - 2.0).abs() < 1e-12);
/// ```
pub fn ols(pairs: impl Iterator<Item = (f64, f64)> + Clone) -> Option<(f64, f64)> {
    let (mut n, mut sx, mut sy) = (0.0, 0.0, 0.0);
    for (x, y) in pairs.clone() {
        n += 1.0;
        sx += x;
        sy += y;
    }
    if n < 2.0 {
        return None;
    }
    let (mx, my) = (sx / n, sy / n);
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for (x, y) in pairs {
        sxx += (x - mx) * (x - mx);
        sxy += (x - mx) * (y - my);
    }
    if sxx <= 0.0 || !sxx.is_finite() {
        return None;
    }
    let b = sxy / sxx;
    let a = my - b * mx;
    (a.is_finite() && b.is_finite()).then_some((a, b))
}

/// Most lagged differences the ADF regression takes.
pub const MAX_ADF_LAG: usize = 4;

/// The augmented Dickey–Fuller t-statistic of `e` (a residual series, oldest first) with `lag`
/// lagged differences and no deterministic terms:
///
/// `Δe_t = γ·e_{t−1} + Σ_{j=1..lag} φ_j·Δe_{t−j} + u_t`, for `t = lag+1 .. T−1`,
///
/// returning `γ̂ / se(γ̂)` with `se² = s²·[(X'X)⁻¹]₀₀`, `s² = RSS / (n − k)`. This is the
/// form of the second step of Engle–Granger: the cointegrating regression already removed
/// the constant, so the residuals are tested without one (as statsmodels' `coint` does).
/// `None` when there are too few observations or the regression is degenerate.
///
/// # Examples
/// ```
/// use crpbot_strategies::fast::adf_t;
/// // White noise is as stationary as it gets: a very negative t (5 % critical ≈ −3.4).
/// let e: Vec<f64> = (0..200u64).map(|t| (t.wrapping_mul(2_654_435_761) % 1000) as f64 - 500.0).collect();
/// assert!(adf_t(e.iter().copied(), e.len(), 1).unwrap() < -6.0);
/// // A random walk is not: its t stays above the critical value.
/// let mut w = 0.0;
/// let walk: Vec<f64> = e.iter().map(|d| { w += d; w }).collect();
/// assert!(adf_t(walk.iter().copied(), walk.len(), 1).unwrap() > -3.4);
/// ```
#[allow(clippy::needless_range_loop)] // matrix index arithmetic reads clearer
pub fn adf_t(e: impl Iterator<Item = f64> + Clone, len: usize, lag: usize) -> Option<f64> {
    let p = lag.min(MAX_ADF_LAG);
    let k = p + 1;
    if len < p + 2 + k + 1 {
        return None;
    }
    // Normal equations accumulated in one pass with a small window of past values.
    let mut xtx = [[0.0f64; MAX_ADF_LAG + 1]; MAX_ADF_LAG + 1];
    let mut xty = [0.0f64; MAX_ADF_LAG + 1];
    let mut yty = 0.0;
    let mut n = 0usize;
    // diffs[j] = Δe_{t−1−j} while processing Δe_t.
    let mut prev: Option<f64> = None;
    let mut diffs = [0.0f64; MAX_ADF_LAG + 1];
    let mut seen_diffs = 0usize;
    for v in e {
        if let Some(pv) = prev {
            let d = v - pv;
            if seen_diffs >= p {
                // Row: y = d (Δe_t), x = [e_{t−1}, Δe_{t−1}, …, Δe_{t−p}].
                let mut x = [0.0f64; MAX_ADF_LAG + 1];
                x[0] = pv;
                x[1..k].copy_from_slice(&diffs[..p]);
                for i in 0..k {
                    for j in 0..k {
                        xtx[i][j] += x[i] * x[j];
                    }
                    xty[i] += x[i] * d;
                }
                yty += d * d;
                n += 1;
            }
            // Shift the lagged differences.
            for j in (1..=MAX_ADF_LAG).rev() {
                diffs[j] = diffs[j - 1];
            }
            diffs[0] = d;
            seen_diffs += 1;
        }
        prev = Some(v);
    }
    if n <= k {
        return None;
    }
    let beta = solve(&xtx, &xty, k)?;
    let mut unit = [0.0f64; MAX_ADF_LAG + 1];
    unit[0] = 1.0;
    let inv0 = solve(&xtx, &unit, k)?;
    // RSS = y'y − 2β'X'y + β'X'Xβ = y'y − β'X'y (normal equations).
    let rss = yty - (0..k).map(|i| beta[i] * xty[i]).sum::<f64>();
    let s2 = rss.max(0.0) / (n - k) as f64;
    let se = (s2 * inv0[0]).sqrt();
    let t = beta[0] / se;
    (se > 0.0 && t.is_finite()).then_some(t)
}

/// Solves `A·x = b` for the leading `k × k` block by Gaussian elimination with partial
/// pivoting; `None` when singular.
#[allow(clippy::needless_range_loop)] // matrix index arithmetic reads clearer
fn solve(
    a: &[[f64; MAX_ADF_LAG + 1]; MAX_ADF_LAG + 1],
    b: &[f64; MAX_ADF_LAG + 1],
    k: usize,
) -> Option<[f64; MAX_ADF_LAG + 1]> {
    let mut m = *a;
    let mut v = *b;
    let scale = (0..k).map(|i| m[i][i].abs()).fold(0.0f64, f64::max);
    if scale <= 0.0 || !scale.is_finite() {
        return None;
    }
    for col in 0..k {
        let piv = (col..k).max_by(|&i, &j| m[i][col].abs().total_cmp(&m[j][col].abs()))?;
        if m[piv][col].abs() <= scale * 1e-14 {
            return None;
        }
        m.swap(col, piv);
        v.swap(col, piv);
        for r in col + 1..k {
            let f = m[r][col] / m[col][col];
            for c in col..k {
                m[r][c] -= f * m[col][c];
            }
            v[r] -= f * v[col];
        }
    }
    let mut x = [0.0f64; MAX_ADF_LAG + 1];
    for r in (0..k).rev() {
        let s: f64 = (r + 1..k).map(|c| m[r][c] * x[c]).sum();
        x[r] = (v[r] - s) / m[r][r];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// MacKinnon (2010) 5 % critical value of the Engle–Granger test for two variables with a
/// constant in the cointegrating regression: `−3.33613 − 6.1101/T − 6.823/T²`
/// (J. G. MacKinnon, "Critical Values for Cointegration Tests", Queen's Economics Department
/// Working Paper 1227, 2010, table 2, N = 2, "c").
///
/// # Examples
/// ```
/// use crpbot_strategies::fast::eg_critical_5pct;
/// assert!((eg_critical_5pct(100.0) - (-3.33613 - 0.061101 - 0.0006823)).abs() < 1e-12);
/// ```
pub fn eg_critical_5pct(t_obs: f64) -> f64 {
    -3.33613 - 6.1101 / t_obs - 6.823 / (t_obs * t_obs)
}
