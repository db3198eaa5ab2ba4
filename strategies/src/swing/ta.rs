//! TA-Lib-compatible indicator primitives.
//!
//! Each function returns a series as long as its input with `NaN` during the warm-up
//! ("lookback") that TA-Lib reports, and follows TA-Lib's C code (default compatibility mode,
//! unstable period 0 — TA-Lib's default for every function) operation for operation, including
//! its running sums, so results match TA-Lib to rounding.

/// TA-Lib's `TA_IS_ZERO`.
fn is_zero(v: f64) -> bool {
    -1e-8 < v && v < 1e-8
}

fn nan(n: usize) -> Vec<f64> {
    vec![f64::NAN; n]
}

/// Simple moving average (`TA_SMA`), first value at `period - 1`.
///
/// # Examples
/// ```
/// let s = crpbot_strategies::swing::ta::sma(&[1.0, 2.0, 3.0, 4.0], 2);
/// assert!(s[0].is_nan());
/// assert_eq!(&s[1..], &[1.5, 2.5, 3.5]);
/// ```
#[must_use]
pub fn sma(x: &[f64], period: usize) -> Vec<f64> {
    let n = x.len();
    let mut out = nan(n);
    if period == 0 || n < period {
        return out;
    }
    let mut total = 0.0;
    for v in &x[..period - 1] {
        total += v;
    }
    for (trailing, i) in (period - 1..n).enumerate() {
        total += x[i];
        let t = total;
        total -= x[trailing];
        out[i] = t / period as f64;
    }
    out
}

/// Exponential moving average with smoothing `k`, seeded with the SMA of the first `period`
/// values starting at `start` (TA-Lib `TA_INT_EMA`); first value at `start + period - 1`.
fn ema_k_from(x: &[f64], start: usize, period: usize, k: f64) -> Vec<f64> {
    let n = x.len();
    let mut out = nan(n);
    if period == 0 || n < start + period {
        return out;
    }
    let mut prev = x[start..start + period].iter().sum::<f64>() / period as f64;
    let first = start + period - 1;
    out[first] = prev;
    for i in first + 1..n {
        prev = (x[i] - prev) * k + prev;
        out[i] = prev;
    }
    out
}

/// Index of the first non-NaN value.
fn first_valid(x: &[f64]) -> Option<usize> {
    x.iter().position(|v| !v.is_nan())
}

/// Exponential moving average (`TA_EMA`, k = 2 / (period + 1), SMA seed), skipping a leading
/// NaN warm-up in the input (so EMAs chain as TA-Lib chains them).
///
/// # Examples
/// ```
/// let e = crpbot_strategies::swing::ta::ema(&[1.0, 2.0, 3.0, 4.0], 3);
/// assert_eq!(e[2], 2.0);
/// assert_eq!(e[3], 3.0);
/// ```
#[must_use]
pub fn ema(x: &[f64], period: usize) -> Vec<f64> {
    let k = 2.0 / (period as f64 + 1.0);
    match first_valid(x) {
        Some(s) => ema_k_from(x, s, period, k),
        None => nan(x.len()),
    }
}

/// `TA_RSI` (Wilder smoothing), first value at `period`.
#[must_use]
/// # Examples
/// ```
/// use crpbot_strategies::swing::ta;
/// let r = ta::rsi(&[1.0, 2.0, 3.0, 2.0, 3.0, 4.0], 3);
/// assert!(r[2].is_nan());
/// assert!((r[3] - 66.66666666666667).abs() < 1e-9);
/// ```
pub fn rsi(x: &[f64], period: usize) -> Vec<f64> {
    wilder_osc(x, period, |g, l| {
        let t = g + l;
        if is_zero(t) { 0.0 } else { 100.0 * (g / t) }
    })
}

/// `TA_CMO`: Chande momentum oscillator with TA-Lib's Wilder-smoothed gains and losses.
#[must_use]
/// # Examples
/// ```
/// use crpbot_strategies::swing::ta;
/// let r = ta::cmo(&[1.0, 2.0, 3.0, 4.0], 2);
/// assert_eq!(r[2], 100.0);
/// ```
pub fn cmo(x: &[f64], period: usize) -> Vec<f64> {
    wilder_osc(x, period, |g, l| {
        let t = g + l;
        if is_zero(t) { 0.0 } else { 100.0 * ((g - l) / t) }
    })
}

fn wilder_osc(x: &[f64], period: usize, f: impl Fn(f64, f64) -> f64) -> Vec<f64> {
    let n = x.len();
    let mut out = nan(n);
    if period < 2 || n <= period {
        return out;
    }
    let p = period as f64;
    let (mut gain, mut loss) = (0.0, 0.0);
    for i in 1..=period {
        let d = x[i] - x[i - 1];
        if d < 0.0 {
            loss -= d;
        } else {
            gain += d;
        }
    }
    loss /= p;
    gain /= p;
    out[period] = f(gain, loss);
    for i in period + 1..n {
        let d = x[i] - x[i - 1];
        loss *= p - 1.0;
        gain *= p - 1.0;
        if d < 0.0 {
            loss -= d;
        } else {
            gain += d;
        }
        loss /= p;
        gain /= p;
        out[i] = f(gain, loss);
    }
    out
}

/// MACD line, signal and histogram (`TA_MACD`, 12/26/9 by default). As in TA-Lib, the fast
/// EMA is seeded so that its first value lines up with the slow EMA's (`slow - 1`), i.e. with
/// the SMA of the `fast` bars ending there; all outputs start at `slow + signal - 2`.
#[must_use]
/// # Examples
/// ```
/// use crpbot_strategies::swing::ta;
/// let x: Vec<f64> = (0..40).map(|i| i as f64).collect();
/// let [m, s, h] = ta::macd(&x, 12, 26, 9);
/// assert!(m[32].is_nan() && !m[33].is_nan());
/// assert!((m[39] - s[39] - h[39]).abs() < 1e-12);
/// ```
pub fn macd(x: &[f64], fast: usize, slow: usize, signal: usize) -> [Vec<f64>; 3] {
    let n = x.len();
    let (fast, slow) = if slow < fast { (slow, fast) } else { (fast, slow) };
    if fast == 0 || signal == 0 || slow + signal < 2 {
        return [nan(n), nan(n), nan(n)];
    }
    let lookback = slow + signal - 2;
    if n <= lookback {
        return [nan(n), nan(n), nan(n)];
    }
    let kf = 2.0 / (fast as f64 + 1.0);
    let ks = 2.0 / (slow as f64 + 1.0);
    let start = slow - 1;
    let f = ema_k_from(x, start + 1 - fast, fast, kf);
    let s = ema_k_from(x, 0, slow, ks);
    let mut line = nan(n);
    for i in start..n {
        line[i] = f[i] - s[i];
    }
    let sig = ema_k_from(&line, start, signal, 2.0 / (signal as f64 + 1.0));
    let mut m = nan(n);
    let mut sg = nan(n);
    let mut h = nan(n);
    for i in lookback..n {
        m[i] = line[i];
        sg[i] = sig[i];
        h[i] = line[i] - sig[i];
    }
    [m, sg, h]
}

/// Highest value over `period` bars (`TA_MAX`).
#[must_use]
pub fn max(x: &[f64], period: usize) -> Vec<f64> {
    rolling_extreme(x, period, |a, b| a >= b)
}

/// Lowest value over `period` bars (`TA_MIN`).
#[must_use]
pub fn min(x: &[f64], period: usize) -> Vec<f64> {
    rolling_extreme(x, period, |a, b| a <= b)
}

/// Rolling extreme in O(n) with a monotonic deque; `keep(a, b)` is true when `a` dominates `b`.
fn rolling_extreme(x: &[f64], period: usize, keep: impl Fn(f64, f64) -> bool) -> Vec<f64> {
    let n = x.len();
    let mut out = nan(n);
    if period == 0 || n < period {
        return out;
    }
    let mut dq: std::collections::VecDeque<usize> =
        std::collections::VecDeque::with_capacity(period);
    for i in 0..n {
        while dq.back().is_some_and(|&j| keep(x[i], x[j])) {
            dq.pop_back();
        }
        dq.push_back(i);
        if dq.front().is_some_and(|&j| j + period <= i) {
            dq.pop_front();
        }
        if i + 1 >= period {
            out[i] = dq.front().map_or(f64::NAN, |&j| x[j]);
        }
    }
    out
}

/// Apply `f` to each full trailing window of `period` values.
pub(crate) fn rolling(x: &[f64], period: usize, f: impl Fn(&[f64]) -> f64) -> Vec<f64> {
    let n = x.len();
    let mut out = nan(n);
    if period == 0 || n < period {
        return out;
    }
    for i in period - 1..n {
        out[i] = f(&x[i + 1 - period..=i]);
    }
    out
}

/// Stochastic %K/%D (`TA_STOCH` with SMA smoothing): fast %K over `k_period`, slow %K = SMA
/// `slow_k` of it, %D = SMA `d` of slow %K.
#[must_use]
/// # Examples
/// ```
/// use crpbot_strategies::swing::ta;
/// let h = [2.0, 3.0, 4.0, 5.0, 6.0];
/// let l = [1.0, 2.0, 3.0, 4.0, 5.0];
/// let [k, d] = ta::stoch(&h, &l, &h, 2, 2, 2);
/// assert_eq!((k[3], d[4]), (100.0, 100.0));
/// ```
pub fn stoch(
    h: &[f64],
    l: &[f64],
    c: &[f64],
    k_period: usize,
    slow_k: usize,
    d: usize,
) -> [Vec<f64>; 2] {
    let n = c.len();
    let hh = max(h, k_period);
    let ll = min(l, k_period);
    let mut fast = nan(n);
    for i in 0..n {
        if hh[i].is_nan() {
            continue;
        }
        let diff = (hh[i] - ll[i]) / 100.0;
        fast[i] = if diff != 0.0 { (c[i] - ll[i]) / diff } else { 0.0 };
    }
    let k = sma_skip(&fast, slow_k);
    let dd = sma_skip(&k, d);
    // TA-Lib reports both outputs from the %D start.
    let mut kk = nan(n);
    for i in 0..n {
        if !dd[i].is_nan() {
            kk[i] = k[i];
        }
    }
    [kk, dd]
}

/// SMA over a series with a leading NaN warm-up.
pub(crate) fn sma_skip(x: &[f64], period: usize) -> Vec<f64> {
    let n = x.len();
    match first_valid(x) {
        Some(s) => {
            let mut out = nan(n);
            let part = sma(&x[s..], period);
            out[s..].copy_from_slice(&part);
            out
        }
        None => nan(n),
    }
}

/// Williams %R (`TA_WILLR`), in [−100, 0].
#[must_use]
/// # Examples
/// ```
/// use crpbot_strategies::swing::ta;
/// let w = ta::willr(&[2.0, 4.0], &[1.0, 1.0], &[1.5, 1.0], 2);
/// assert_eq!(w[1], -100.0);
/// ```
pub fn willr(h: &[f64], l: &[f64], c: &[f64], period: usize) -> Vec<f64> {
    let hh = max(h, period);
    let ll = min(l, period);
    (0..c.len())
        .map(|i| {
            if hh[i].is_nan() {
                return f64::NAN;
            }
            let diff = (hh[i] - ll[i]) / -100.0;
            if diff != 0.0 { (hh[i] - c[i]) / diff } else { 0.0 }
        })
        .collect()
}

/// Rate of change in percent (`TA_ROC`).
#[must_use]
/// # Examples
/// ```
/// use crpbot_strategies::swing::ta;
/// assert_eq!(ta::roc(&[100.0, 110.0], 1)[1], 10.000000000000009);
/// ```
pub fn roc(x: &[f64], period: usize) -> Vec<f64> {
    (0..x.len())
        .map(|i| {
            if i < period {
                return f64::NAN;
            }
            let p = x[i - period];
            if p != 0.0 { ((x[i] / p) - 1.0) * 100.0 } else { 0.0 }
        })
        .collect()
}

/// True range (`TA_TRANGE`), from index 1.
#[must_use]
/// # Examples
/// ```
/// use crpbot_strategies::swing::ta;
/// let tr = ta::trange(&[10.0, 12.0], &[9.0, 11.0], &[9.5, 11.5]);
/// assert_eq!(tr[1], 2.5);
/// ```
pub fn trange(h: &[f64], l: &[f64], c: &[f64]) -> Vec<f64> {
    let mut out = nan(c.len());
    for i in 1..c.len() {
        out[i] = true_range(h[i], l[i], c[i - 1]);
    }
    out
}

fn true_range(h: f64, l: f64, yc: f64) -> f64 {
    let mut r = h - l;
    let t = (h - yc).abs();
    if t > r {
        r = t;
    }
    let t = (l - yc).abs();
    if t > r {
        r = t;
    }
    r
}

/// Average true range (`TA_ATR`, Wilder), first value at `period`.
#[must_use]
/// # Examples
/// ```
/// use crpbot_strategies::swing::ta;
/// let a = ta::atr(&[2.0; 5], &[1.0; 5], &[1.5; 5], 3);
/// assert_eq!(a[3], 1.0);
/// ```
pub fn atr(h: &[f64], l: &[f64], c: &[f64], period: usize) -> Vec<f64> {
    let n = c.len();
    let mut out = nan(n);
    if period == 0 || n <= period {
        return out;
    }
    let tr = trange(h, l, c);
    let p = period as f64;
    let mut prev = tr[1..=period].iter().sum::<f64>() / p;
    out[period] = prev;
    for i in period + 1..n {
        prev *= p - 1.0;
        prev += tr[i];
        prev /= p;
        out[i] = prev;
    }
    out
}

/// Bollinger bands (`TA_BBANDS`, SMA middle, population standard deviation from TA-Lib's
/// running sum of squares): upper, middle, lower.
#[must_use]
/// # Examples
/// ```
/// use crpbot_strategies::swing::ta;
/// let [u, m, l] = ta::bbands(&[1.0, 3.0], 2, 2.0);
/// assert_eq!((u[1], m[1], l[1]), (4.0, 2.0, 0.0));
/// ```
pub fn bbands(x: &[f64], period: usize, k: f64) -> [Vec<f64>; 3] {
    let n = x.len();
    let mid = sma(x, period);
    let mut up = nan(n);
    let mut lo = nan(n);
    if period == 0 || n < period {
        return [up, mid, lo];
    }
    let p = period as f64;
    let mut total2 = 0.0;
    for v in &x[..period - 1] {
        total2 += v * v;
    }
    for i in period - 1..n {
        total2 += x[i] * x[i];
        let mut mean2 = total2 / p;
        let old = x[i + 1 - period];
        total2 -= old * old;
        mean2 -= mid[i] * mid[i];
        let sd = if mean2 < 1e-8 { 0.0 } else { mean2.sqrt() };
        up[i] = mid[i] + k * sd;
        lo[i] = mid[i] - k * sd;
    }
    [up, mid, lo]
}

/// Directional movement: ADX, +DI and −DI (`TA_ADX`, `TA_PLUS_DI`, `TA_MINUS_DI`, Wilder).
/// +DI/−DI start at `period`, ADX at `2 * period - 1`.
#[must_use]
/// # Examples
/// ```
/// use crpbot_strategies::swing::ta;
/// let h: Vec<f64> = (0..40).map(|i| 10.0 + i as f64).collect();
/// let l: Vec<f64> = h.iter().map(|v| v - 1.0).collect();
/// let [adx, p, m] = ta::adx_di(&h, &l, &h, 14);
/// assert!(adx[26].is_nan() && (adx[27] - 100.0).abs() < 1e-9);
/// assert!(p[39] > 0.0 && m[39] == 0.0);
/// ```
pub fn adx_di(h: &[f64], l: &[f64], c: &[f64], period: usize) -> [Vec<f64>; 3] {
    let n = c.len();
    let (mut adx, mut pdi, mut mdi) = (nan(n), nan(n), nan(n));
    if period < 2 || n <= period {
        return [adx, pdi, mdi];
    }
    let p = period as f64;
    let (mut ppdm, mut pmdm, mut ptr) = (0.0, 0.0, 0.0);
    let dm = |i: usize| {
        let dp = h[i] - h[i - 1];
        let dmn = l[i - 1] - l[i];
        let plus = if dp > 0.0 && dp > dmn { dp } else { 0.0 };
        let minus = if dmn > 0.0 && dp < dmn { dmn } else { 0.0 };
        (plus, minus)
    };
    for i in 1..period {
        let (a, b) = dm(i);
        ppdm += a;
        pmdm += b;
        ptr += true_range(h[i], l[i], c[i - 1]);
    }
    let mut sum_dx = 0.0;
    let mut prev_adx = 0.0;
    for i in period..n {
        let (a, b) = dm(i);
        ppdm = ppdm - ppdm / p + a;
        pmdm = pmdm - pmdm / p + b;
        ptr = ptr - ptr / p + true_range(h[i], l[i], c[i - 1]);
        let (plus, minus, dx) = if is_zero(ptr) {
            (0.0, 0.0, None)
        } else {
            let plus = 100.0 * (ppdm / ptr);
            let minus = 100.0 * (pmdm / ptr);
            let t = plus + minus;
            let dx = if is_zero(t) { None } else { Some(100.0 * ((minus - plus).abs() / t)) };
            (plus, minus, dx)
        };
        pdi[i] = plus;
        mdi[i] = minus;
        if i < 2 * period - 1 {
            sum_dx += dx.unwrap_or(0.0);
        } else if i == 2 * period - 1 {
            sum_dx += dx.unwrap_or(0.0);
            prev_adx = sum_dx / p;
            adx[i] = prev_adx;
        } else {
            if let Some(dx) = dx {
                prev_adx = ((prev_adx * (p - 1.0)) + dx) / p;
            }
            adx[i] = prev_adx;
        }
    }
    [adx, pdi, mdi]
}

/// TRIX (`TA_TRIX`): 1-bar rate of change (percent) of a triple EMA.
#[must_use]
/// # Examples
/// ```
/// use crpbot_strategies::swing::ta;
/// let x: Vec<f64> = (1..60).map(|i| i as f64).collect();
/// let t = ta::trix(&x, 5);
/// assert!(t[12].is_nan() && t[13] > 0.0);
/// ```
pub fn trix(x: &[f64], period: usize) -> Vec<f64> {
    let e3 = ema(&ema(&ema(x, period), period), period);
    (0..x.len())
        .map(|i| {
            if i == 0 || e3[i - 1].is_nan() {
                return f64::NAN;
            }
            let p = e3[i - 1];
            if p != 0.0 { ((e3[i] / p) - 1.0) * 100.0 } else { 0.0 }
        })
        .collect()
}

/// On-balance volume (`TA_OBV`, starting from the first bar's volume).
#[must_use]
/// # Examples
/// ```
/// use crpbot_strategies::swing::ta;
/// assert_eq!(ta::obv(&[1.0, 2.0, 1.5], &[5.0, 3.0, 2.0]), vec![5.0, 8.0, 6.0]);
/// ```
pub fn obv(c: &[f64], v: &[f64]) -> Vec<f64> {
    let mut out = nan(c.len());
    if c.is_empty() {
        return out;
    }
    let mut acc = v[0];
    out[0] = acc;
    for i in 1..c.len() {
        if c[i] > c[i - 1] {
            acc += v[i];
        } else if c[i] < c[i - 1] {
            acc -= v[i];
        }
        out[i] = acc;
    }
    out
}

/// Money flow index (`TA_MFI`), first value at `period`.
#[must_use]
/// # Examples
/// ```
/// use crpbot_strategies::swing::ta;
/// let m = ta::mfi(&[2.0, 3.0, 4.0], &[1.0, 2.0, 3.0], &[1.5, 2.5, 3.5], &[10.0; 3], 2);
/// assert_eq!(m[2], 100.0);
/// ```
pub fn mfi(h: &[f64], l: &[f64], c: &[f64], v: &[f64], period: usize) -> Vec<f64> {
    let n = c.len();
    let mut out = nan(n);
    if period == 0 || n <= period {
        return out;
    }
    let mut pos = vec![0.0; period];
    let mut neg = vec![0.0; period];
    let mut idx = 0;
    let (mut psum, mut nsum) = (0.0, 0.0);
    let mut prev = (h[0] + l[0] + c[0]) / 3.0;
    let value = |p: f64, nn: f64| {
        let t = p + nn;
        if t < 1.0 { 0.0 } else { 100.0 * (p / t) }
    };
    for i in 1..n {
        if i > period {
            psum -= pos[idx];
            nsum -= neg[idx];
        }
        let tp = (h[i] + l[i] + c[i]) / 3.0;
        let d = tp - prev;
        prev = tp;
        let mf = tp * v[i];
        if d < 0.0 {
            neg[idx] = mf;
            nsum += mf;
            pos[idx] = 0.0;
        } else if d > 0.0 {
            pos[idx] = mf;
            psum += mf;
            neg[idx] = 0.0;
        } else {
            pos[idx] = 0.0;
            neg[idx] = 0.0;
        }
        idx = (idx + 1) % period;
        if i >= period {
            out[i] = value(psum, nsum);
        }
    }
    out
}

/// Chaikin accumulation/distribution line (`TA_AD`).
#[must_use]
/// # Examples
/// ```
/// use crpbot_strategies::swing::ta;
/// assert_eq!(ta::ad(&[2.0], &[0.0], &[2.0], &[10.0]), vec![10.0]);
/// ```
pub fn ad(h: &[f64], l: &[f64], c: &[f64], v: &[f64]) -> Vec<f64> {
    let mut acc = 0.0;
    (0..c.len())
        .map(|i| {
            let r = h[i] - l[i];
            if r > 0.0 {
                acc += (((c[i] - l[i]) - (h[i] - c[i])) / r) * v[i];
            }
            acc
        })
        .collect()
}

/// Linear-regression slope per bar (`TA_LINEARREG_SLOPE`).
#[must_use]
/// # Examples
/// ```
/// use crpbot_strategies::swing::ta;
/// let s = ta::linreg_slope(&[1.0, 3.0, 5.0, 7.0], 3);
/// assert!((s[3] - 2.0).abs() < 1e-12);
/// ```
pub fn linreg_slope(x: &[f64], period: usize) -> Vec<f64> {
    let p = period as f64;
    let sum_x = p * (p - 1.0) * 0.5;
    let sum_x_sqr = p * (p - 1.0) * (2.0 * p - 1.0) / 6.0;
    let div = sum_x * sum_x - p * sum_x_sqr;
    rolling(x, period, |w| {
        let (mut sxy, mut sy) = (0.0, 0.0);
        for (j, v) in w.iter().enumerate() {
            let bars_ago = (period - 1 - j) as f64;
            sy += v;
            sxy += bars_ago * v;
        }
        (p * sxy - sum_x * sy) / div
    })
}
