//! The swing indicator set: every series computed once over a candle series.
//!
//! Names and definitions are listed in the [`crate::swing`] module docs.

use serde_json::{Map, Value};

use super::candles::Candle;
use super::ta;

/// The names of every indicator output, in output order.
pub const INDICATOR_NAMES: [&str; 35] = [
    "rsi_14",
    "rsi_28",
    "macd",
    "macd_signal",
    "macd_hist",
    "stoch_k",
    "stoch_d",
    "willr_14",
    "roc_12",
    "cmo_14",
    "atr_14",
    "bb_upper",
    "bb_middle",
    "bb_lower",
    "bb_width",
    "kc_upper",
    "kc_middle",
    "kc_lower",
    "dc_upper",
    "dc_middle",
    "dc_lower",
    "adx_14",
    "plus_di_14",
    "minus_di_14",
    "supertrend",
    "supertrend_dir",
    "trix_15",
    "obv",
    "vwap",
    "mfi_14",
    "ad",
    "cmf_20",
    "zscore_20",
    "pct_rank_100",
    "linreg_slope_20",
];

/// Every indicator series over one candle series (`NaN` during each one's warm-up).
#[derive(Debug, Clone)]
pub struct Indicators {
    series: Vec<Vec<f64>>,
    len: usize,
}

/// Column arrays of a candle slice.
#[derive(Debug, Clone, Default)]
pub struct Columns {
    /// Open times.
    pub t: Vec<i64>,
    /// Opens.
    pub o: Vec<f64>,
    /// Highs.
    pub h: Vec<f64>,
    /// Lows.
    pub l: Vec<f64>,
    /// Closes.
    pub c: Vec<f64>,
    /// Volumes.
    pub v: Vec<f64>,
}

impl Columns {
    /// Split candles into columns.
    #[must_use]
    pub fn new(candles: &[Candle]) -> Self {
        Self {
            t: candles.iter().map(|c| c.open_time_ms).collect(),
            o: candles.iter().map(|c| c.open).collect(),
            h: candles.iter().map(|c| c.high).collect(),
            l: candles.iter().map(|c| c.low).collect(),
            c: candles.iter().map(|c| c.close).collect(),
            v: candles.iter().map(|c| c.volume).collect(),
        }
    }
}

impl Indicators {
    /// Compute every indicator over `candles` (causal: the value at bar `i` depends only on
    /// bars `0..=i`, as TA-Lib computes it over the same series).
    ///
    /// # Examples
    /// ```
    /// use crpbot_strategies::swing::{Candle, Indicators};
    /// let c: Vec<Candle> = (0..60)
    ///     .map(|i| { let p = 100.0 + i as f64; Candle::new(i * 3_600_000, p, p + 1.0, p - 1.0, p, 1.0) })
    ///     .collect();
    /// let ind = Indicators::compute(&c);
    /// assert_eq!(ind.get("rsi_14").map(|s| s[59]), Some(100.0));
    /// ```
    #[must_use]
    pub fn compute(candles: &[Candle]) -> Self {
        let cols = Columns::new(candles);
        let (h, l, c, v) = (&cols.h, &cols.l, &cols.c, &cols.v);
        let n = c.len();
        let [macd, macd_sig, macd_hist] = ta::macd(c, 12, 26, 9);
        let [sk, sd] = ta::stoch(h, l, c, 14, 3, 3);
        let [bbu, bbm, bbl] = ta::bbands(c, 20, 2.0);
        let bbw: Vec<f64> = (0..n).map(|i| (bbu[i] - bbl[i]) / bbm[i]).collect();
        let kc_mid = ta::ema(c, 20);
        let atr20 = ta::atr(h, l, c, 20);
        let kcu: Vec<f64> = (0..n).map(|i| kc_mid[i] + 2.0 * atr20[i]).collect();
        let kcl: Vec<f64> = (0..n).map(|i| kc_mid[i] - 2.0 * atr20[i]).collect();
        let dcu = ta::max(h, 20);
        let dcl = ta::min(l, 20);
        let dcm: Vec<f64> = (0..n).map(|i| (dcu[i] + dcl[i]) / 2.0).collect();
        let [adx, pdi, mdi] = ta::adx_di(h, l, c, 14);
        let (st, st_dir) = supertrend(h, l, c, 10, 3.0);
        let series = vec![
            ta::rsi(c, 14),
            ta::rsi(c, 28),
            macd,
            macd_sig,
            macd_hist,
            sk,
            sd,
            ta::willr(h, l, c, 14),
            ta::roc(c, 12),
            ta::cmo(c, 14),
            ta::atr(h, l, c, 14),
            bbu,
            bbm,
            bbl,
            bbw,
            kcu,
            kc_mid,
            kcl,
            dcu,
            dcm,
            dcl,
            adx,
            pdi,
            mdi,
            st,
            st_dir,
            ta::trix(c, 15),
            ta::obv(c, v),
            vwap_daily(&cols.t, h, l, c, v),
            ta::mfi(h, l, c, v, 14),
            ta::ad(h, l, c, v),
            cmf(h, l, c, v, 20),
            zscore(c, 20),
            pct_rank(c, 100),
            ta::linreg_slope(c, 20),
        ];
        Self { series, len: n }
    }

    /// The series named `name` (see [`INDICATOR_NAMES`]).
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&[f64]> {
        INDICATOR_NAMES.iter().position(|n| *n == name).map(|i| self.series[i].as_slice())
    }

    /// Number of bars.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` when computed over no bars.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// All indicators at bar `i` as a JSON object (`null` during warm-up).
    #[must_use]
    pub fn at_json(&self, i: usize) -> Value {
        let mut m = Map::new();
        for (name, s) in INDICATOR_NAMES.iter().zip(&self.series) {
            m.insert((*name).to_string(), num(s.get(i).copied().unwrap_or(f64::NAN)));
        }
        Value::Object(m)
    }
}

/// A finite float as a JSON number, anything else as `null`.
pub(crate) fn num(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

/// Supertrend line and direction (+1 up, −1 down) from TA-Lib ATR(`period`) and
/// `hl2 ± mult·ATR` final bands; starts at bar `period` with direction up.
#[must_use]
/// # Examples
/// ```
/// let h: Vec<f64> = (0..30).map(|i| 101.0 + i as f64).collect();
/// let l: Vec<f64> = h.iter().map(|v| v - 2.0).collect();
/// let c: Vec<f64> = h.iter().map(|v| v - 1.0).collect();
/// let (st, dir) = crpbot_strategies::swing::indicators::supertrend(&h, &l, &c, 10, 3.0);
/// assert_eq!(dir[29], 1.0);
/// assert!(st[29] < c[29]);
/// ```
pub fn supertrend(
    h: &[f64],
    l: &[f64],
    c: &[f64],
    period: usize,
    mult: f64,
) -> (Vec<f64>, Vec<f64>) {
    let n = c.len();
    let atr = ta::atr(h, l, c, period);
    let mut st = vec![f64::NAN; n];
    let mut dir = vec![f64::NAN; n];
    if n <= period {
        return (st, dir);
    }
    let bands = |i: usize| {
        let hl2 = (h[i] + l[i]) / 2.0;
        (hl2 + mult * atr[i], hl2 - mult * atr[i])
    };
    let s = period;
    let (mut fu, mut fl) = bands(s);
    let mut d = 1.0;
    st[s] = fl;
    dir[s] = d;
    for i in s + 1..n {
        let (bu, bl) = bands(i);
        let nfu = if bu < fu || c[i - 1] > fu { bu } else { fu };
        let nfl = if bl > fl || c[i - 1] < fl { bl } else { fl };
        fu = nfu;
        fl = nfl;
        d = if d > 0.0 {
            if c[i] < fl { -1.0 } else { 1.0 }
        } else if c[i] > fu {
            1.0
        } else {
            -1.0
        };
        st[i] = if d > 0.0 { fl } else { fu };
        dir[i] = d;
    }
    (st, dir)
}

/// VWAP of the typical price `(h + l + c) / 3`, anchored at each UTC day (resets at 00:00).
#[must_use]
pub fn vwap_daily(t: &[i64], h: &[f64], l: &[f64], c: &[f64], v: &[f64]) -> Vec<f64> {
    let mut day = i64::MIN;
    let (mut pv, mut vv) = (0.0, 0.0);
    (0..c.len())
        .map(|i| {
            let d = t[i].div_euclid(86_400_000);
            if d != day {
                day = d;
                pv = 0.0;
                vv = 0.0;
            }
            let tp = (h[i] + l[i] + c[i]) / 3.0;
            pv += tp * v[i];
            vv += v[i];
            if vv > 0.0 { pv / vv } else { tp }
        })
        .collect()
}

/// Chaikin money flow: `Σ mfm·v / Σ v` over `period` bars, `mfm = ((c−l)−(h−c))/(h−l)`
/// (0 when `h = l`); 0 when the window has no volume.
#[must_use]
pub fn cmf(h: &[f64], l: &[f64], c: &[f64], v: &[f64], period: usize) -> Vec<f64> {
    let n = c.len();
    let mfv: Vec<f64> = (0..n)
        .map(|i| {
            let r = h[i] - l[i];
            if r > 0.0 { ((c[i] - l[i]) - (h[i] - c[i])) / r * v[i] } else { 0.0 }
        })
        .collect();
    let mut out = vec![f64::NAN; n];
    if period == 0 || n < period {
        return out;
    }
    for i in period - 1..n {
        let sv: f64 = v[i + 1 - period..=i].iter().sum();
        let sm: f64 = mfv[i + 1 - period..=i].iter().sum();
        out[i] = if sv > 0.0 { sm / sv } else { 0.0 };
    }
    out
}

/// Z-score of the close against its `period`-bar mean and population standard deviation
/// (two-pass); 0 when the deviation is 0.
#[must_use]
/// # Examples
/// ```
/// let z = crpbot_strategies::swing::indicators::zscore(&[1.0, 3.0], 2);
/// assert_eq!(z[1], 1.0);
/// ```
pub fn zscore(x: &[f64], period: usize) -> Vec<f64> {
    ta::rolling(x, period, |w| {
        let m = w.iter().sum::<f64>() / w.len() as f64;
        let var = w.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / w.len() as f64;
        let last = w[w.len() - 1];
        if var > 0.0 { (last - m) / var.sqrt() } else { 0.0 }
    })
}

/// Percentile rank of the close within the last `period` closes (inclusive):
/// `100 · #{x_j ≤ x_now} / period`.
#[must_use]
/// # Examples
/// ```
/// let r = crpbot_strategies::swing::indicators::pct_rank(&[3.0, 1.0, 2.0, 4.0], 4);
/// assert_eq!(r[3], 100.0);
/// ```
pub fn pct_rank(x: &[f64], period: usize) -> Vec<f64> {
    ta::rolling(x, period, |w| {
        let last = w[w.len() - 1];
        100.0 * w.iter().filter(|v| **v <= last).count() as f64 / w.len() as f64
    })
}
