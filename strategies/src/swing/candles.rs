//! Candles: Binance kline CSV loading, candles from trades, and exact UTC-aligned resampling.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::Serialize;

/// One OHLCV bar. Prices and volumes are `f64` (signal math, never accounting).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Candle {
    /// Bar open time, unix milliseconds (UTC).
    pub open_time_ms: i64,
    /// First trade price.
    pub open: f64,
    /// Highest trade price.
    pub high: f64,
    /// Lowest trade price.
    pub low: f64,
    /// Last trade price.
    pub close: f64,
    /// Base-asset volume.
    pub volume: f64,
    /// Bar close time, unix milliseconds; Binance writes `open + interval - 1`, shorter around
    /// outages (kept as is).
    pub close_time_ms: i64,
    /// Quote-asset volume.
    pub quote_volume: f64,
    /// Number of trades.
    pub trades: u64,
    /// Base volume bought by takers.
    pub taker_buy_base_volume: f64,
    /// Quote volume bought by takers.
    pub taker_buy_quote_volume: f64,
    /// `false` when the bar was built from an incomplete set of source bars (resampling across
    /// an outage) or from a bucket only partly covered by a trade recording.
    pub complete: bool,
}

impl Candle {
    /// A complete candle with the given OHLCV and zero for the auxiliary volumes.
    ///
    /// # Examples
    /// ```
    /// use crpbot_strategies::swing::Candle;
    /// let c = Candle::new(0, 1.0, 2.0, 0.5, 1.5, 10.0);
    /// assert_eq!(c.close, 1.5);
    /// ```
    #[must_use]
    pub fn new(open_time_ms: i64, open: f64, high: f64, low: f64, close: f64, volume: f64) -> Self {
        Self {
            open_time_ms,
            open,
            high,
            low,
            close,
            volume,
            close_time_ms: open_time_ms,
            quote_volume: 0.0,
            trades: 0,
            taker_buy_base_volume: 0.0,
            taker_buy_quote_volume: 0.0,
            complete: true,
        }
    }
}

/// A bar interval in milliseconds; resampling targets must be multiples of the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Interval(pub i64);

impl Interval {
    /// One minute.
    pub const M1: Self = Self(60_000);
    /// Five minutes.
    pub const M5: Self = Self(300_000);
    /// Fifteen minutes.
    pub const M15: Self = Self(900_000);
    /// One hour.
    pub const H1: Self = Self(3_600_000);
    /// Four hours.
    pub const H4: Self = Self(14_400_000);
    /// One day (UTC midnight aligned).
    pub const D1: Self = Self(86_400_000);

    /// Milliseconds in the interval.
    #[must_use]
    pub fn ms(self) -> i64 {
        self.0
    }
}

/// Why loading klines failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// File path.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// No data rows.
    #[error("{path}: no data rows")]
    Empty {
        /// File path.
        path: PathBuf,
    },
    /// The header is not the expected one.
    #[error("{path}: unexpected header {found:?}")]
    Header {
        /// File path.
        path: PathBuf,
        /// The header line found.
        found: String,
    },
    /// A field could not be parsed.
    #[error("line {line}: cannot parse field {field} ({value:?})")]
    Parse {
        /// 1-based line number.
        line: usize,
        /// Field name.
        field: &'static str,
        /// Raw text.
        value: String,
    },
    /// A price or volume is NaN, infinite or negative.
    #[error("line {line}: field {field} is not a finite non-negative number")]
    NonFinite {
        /// 1-based line number.
        line: usize,
        /// Field name.
        field: &'static str,
    },
    /// `high < low`, or open/close outside `[low, high]`.
    #[error("line {line}: inconsistent OHLC")]
    Inconsistent {
        /// 1-based line number.
        line: usize,
    },
    /// Open times are not strictly increasing.
    #[error("line {line}: open time {open_time_ms} is not after the previous {previous_ms}")]
    NonMonotonic {
        /// 1-based line number.
        line: usize,
        /// The offending open time.
        open_time_ms: i64,
        /// The previous open time.
        previous_ms: i64,
    },
}

const KLINE_HEADER: &str = "open_time_ms,open,high,low,close,volume,close_time_ms,quote_volume,trades,taker_buy_base_volume,taker_buy_quote_volume";
const KLINE_FIELDS: [&str; 11] = [
    "open_time_ms",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time_ms",
    "quote_volume",
    "trades",
    "taker_buy_base_volume",
    "taker_buy_quote_volume",
];

fn open_maybe_gz(path: &Path) -> Result<Box<dyn BufRead>, std::io::Error> {
    let mut f = std::fs::File::open(path)?;
    let mut magic = [0u8; 2];
    let n = f.read(&mut magic)?;
    let f = std::fs::File::open(path)?;
    if n == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(BufReader::new(flate2::read::GzDecoder::new(f))))
    } else {
        Ok(Box::new(BufReader::new(f)))
    }
}

fn parse_f64(s: &str, line: usize, field: &'static str) -> Result<f64, LoadError> {
    let v: f64 =
        s.trim().parse().map_err(|_| LoadError::Parse { line, field, value: s.to_string() })?;
    if !v.is_finite() || v < 0.0 {
        return Err(LoadError::NonFinite { line, field });
    }
    Ok(v)
}

fn parse_i64(s: &str, line: usize, field: &'static str) -> Result<i64, LoadError> {
    s.trim().parse().map_err(|_| LoadError::Parse { line, field, value: s.to_string() })
}

/// Load a Binance kline CSV (gzip or plain) with the header
/// `open_time_ms,open,high,low,close,volume,close_time_ms,quote_volume,trades,taker_buy_base_volume,taker_buy_quote_volume`.
///
/// Gaps (exchange outages) are kept as gaps — no bars are invented — and bars with a short
/// `close_time_ms` are kept unchanged. Every loaded bar has `complete = true`.
///
/// # Errors
/// [`LoadError`] on I/O failure, a wrong header, no rows, an unparsable, NaN/infinite/negative
/// field, inconsistent OHLC or open times that are not strictly increasing.
///
/// # Examples
/// ```
/// let dir = std::env::temp_dir().join("crpbot_doc_load_klines.csv");
/// std::fs::write(&dir, "open_time_ms,open,high,low,close,volume,close_time_ms,quote_volume,trades,taker_buy_base_volume,taker_buy_quote_volume\n0,1,2,0.5,1.5,10,3599999,15,3,5,7.5\n").unwrap();
/// let c = crpbot_strategies::swing::load_klines(&dir).unwrap();
/// assert_eq!(c.len(), 1);
/// assert_eq!(c[0].high, 2.0);
/// ```
pub fn load_klines(path: impl AsRef<Path>) -> Result<Vec<Candle>, LoadError> {
    let path = path.as_ref();
    let io = |source| LoadError::Io { path: path.to_path_buf(), source };
    let reader = open_maybe_gz(path).map_err(io)?;
    let mut out = Vec::new();
    let mut lines = reader.lines();
    match lines.next() {
        None => return Err(LoadError::Empty { path: path.to_path_buf() }),
        Some(h) => {
            let h = h.map_err(io)?;
            if h.trim() != KLINE_HEADER {
                return Err(LoadError::Header { path: path.to_path_buf(), found: h });
            }
        }
    }
    for (i, l) in lines.enumerate() {
        let line_no = i + 2;
        let l = l.map_err(io)?;
        if l.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = l.split(',').collect();
        if f.len() != KLINE_FIELDS.len() {
            return Err(LoadError::Parse { line: line_no, field: "row", value: l.clone() });
        }
        let c = Candle {
            open_time_ms: parse_i64(f[0], line_no, KLINE_FIELDS[0])?,
            open: parse_f64(f[1], line_no, KLINE_FIELDS[1])?,
            high: parse_f64(f[2], line_no, KLINE_FIELDS[2])?,
            low: parse_f64(f[3], line_no, KLINE_FIELDS[3])?,
            close: parse_f64(f[4], line_no, KLINE_FIELDS[4])?,
            volume: parse_f64(f[5], line_no, KLINE_FIELDS[5])?,
            close_time_ms: parse_i64(f[6], line_no, KLINE_FIELDS[6])?,
            quote_volume: parse_f64(f[7], line_no, KLINE_FIELDS[7])?,
            trades: f[8].trim().parse().map_err(|_| LoadError::Parse {
                line: line_no,
                field: KLINE_FIELDS[8],
                value: f[8].to_string(),
            })?,
            taker_buy_base_volume: parse_f64(f[9], line_no, KLINE_FIELDS[9])?,
            taker_buy_quote_volume: parse_f64(f[10], line_no, KLINE_FIELDS[10])?,
            complete: true,
        };
        check_bar(&c, line_no)?;
        if let Some(prev) = out.last().map(|p: &Candle| p.open_time_ms)
            && c.open_time_ms <= prev
        {
            return Err(LoadError::NonMonotonic {
                line: line_no,
                open_time_ms: c.open_time_ms,
                previous_ms: prev,
            });
        }
        out.push(c);
    }
    if out.is_empty() {
        return Err(LoadError::Empty { path: path.to_path_buf() });
    }
    Ok(out)
}

fn check_bar(c: &Candle, line: usize) -> Result<(), LoadError> {
    let ok = c.high >= c.low
        && c.open <= c.high
        && c.open >= c.low
        && c.close <= c.high
        && c.close >= c.low;
    if ok { Ok(()) } else { Err(LoadError::Inconsistent { line }) }
}

/// Why a candle series is unusable (used by resampling and analysis).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CandleError {
    /// No candles.
    #[error("no candles")]
    Empty,
    /// A NaN or infinite value.
    #[error("candle {index}: non-finite value")]
    NonFinite {
        /// Index into the series.
        index: usize,
    },
    /// Open times not strictly increasing.
    #[error("candle {index}: open time not after the previous one")]
    NonMonotonic {
        /// Index into the series.
        index: usize,
    },
}

/// Check a candle series: non-empty, finite, strictly increasing open times.
///
/// # Errors
/// [`CandleError`] naming the first bad candle.
///
/// # Examples
/// ```
/// use crpbot_strategies::swing::{validate_candles, Candle};
/// assert!(validate_candles(&[Candle::new(0, 1.0, 1.0, 1.0, 1.0, 1.0)]).is_ok());
/// assert!(validate_candles(&[]).is_err());
/// ```
pub fn validate_candles(candles: &[Candle]) -> Result<(), CandleError> {
    if candles.is_empty() {
        return Err(CandleError::Empty);
    }
    for (i, c) in candles.iter().enumerate() {
        if ![c.open, c.high, c.low, c.close, c.volume].iter().all(|v| v.is_finite()) {
            return Err(CandleError::NonFinite { index: i });
        }
        if i > 0 && c.open_time_ms <= candles[i - 1].open_time_ms {
            return Err(CandleError::NonMonotonic { index: i });
        }
    }
    Ok(())
}

/// What to do with a target bar whose source bars are not all present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartialPolicy {
    /// Keep the bar with `complete = false` (its `close_time_ms` is the last source bar's).
    Flag,
    /// Drop the bar.
    Drop,
}

/// Why resampling failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ResampleError {
    /// The target interval is not a positive multiple of the source interval, or the source
    /// interval does not divide a day.
    #[error("target interval {target_ms} ms is not a multiple of source {source_ms} ms")]
    NotMultiple {
        /// Source interval.
        source_ms: i64,
        /// Target interval.
        target_ms: i64,
    },
    /// A source bar is not aligned to the source interval.
    #[error("candle {index} is not aligned to {source_ms} ms")]
    Misaligned {
        /// Index.
        index: usize,
        /// Source interval.
        source_ms: i64,
    },
    /// Bad input series.
    #[error(transparent)]
    Candles(#[from] CandleError),
}

/// Resample to a coarser interval aligned to UTC boundaries (`open_time_ms` multiple of the
/// target interval since the epoch; 1d bars start at 00:00 UTC).
///
/// OHLCV semantics: open of the first source bar, max high, min low, close of the last, sums
/// of volumes and trade counts. A target bar is complete when it holds exactly
/// `target / source` source bars; otherwise `policy` decides (flag or drop).
///
/// # Errors
/// [`ResampleError`] for a bad series, a non-multiple target or misaligned source bars.
///
/// # Examples
/// ```
/// use crpbot_strategies::swing::{resample, Candle, Interval, PartialPolicy};
/// let bars: Vec<Candle> = (0..4)
///     .map(|i| Candle::new(i * 900_000, 1.0 + i as f64, 10.0, 0.5, 2.0 + i as f64, 1.0))
///     .collect();
/// let h = resample(&bars, Interval::M15, Interval::H1, PartialPolicy::Flag).unwrap();
/// assert_eq!(h.len(), 1);
/// assert_eq!((h[0].open, h[0].close, h[0].volume, h[0].complete), (1.0, 5.0, 4.0, true));
/// ```
pub fn resample(
    candles: &[Candle],
    source: Interval,
    target: Interval,
    policy: PartialPolicy,
) -> Result<Vec<Candle>, ResampleError> {
    validate_candles(candles)?;
    let (s, t) = (source.ms(), target.ms());
    if s <= 0 || t < s || t % s != 0 {
        return Err(ResampleError::NotMultiple { source_ms: s, target_ms: t });
    }
    let expected = t / s;
    let mut out = Vec::new();
    let mut cur: Option<(Candle, i64)> = None;
    for (i, c) in candles.iter().enumerate() {
        if c.open_time_ms.rem_euclid(s) != 0 {
            return Err(ResampleError::Misaligned { index: i, source_ms: s });
        }
        let bucket = c.open_time_ms - c.open_time_ms.rem_euclid(t);
        match cur.as_mut() {
            Some((b, n)) if b.open_time_ms == bucket => {
                b.high = b.high.max(c.high);
                b.low = b.low.min(c.low);
                b.close = c.close;
                b.volume += c.volume;
                b.quote_volume += c.quote_volume;
                b.trades += c.trades;
                b.taker_buy_base_volume += c.taker_buy_base_volume;
                b.taker_buy_quote_volume += c.taker_buy_quote_volume;
                b.close_time_ms = c.close_time_ms;
                b.complete &= c.complete;
                *n += 1;
            }
            _ => {
                if let Some((b, n)) = cur.take() {
                    finish(&mut out, b, n, expected, t, policy);
                }
                let mut b = *c;
                b.open_time_ms = bucket;
                cur = Some((b, 1));
            }
        }
    }
    if let Some((b, n)) = cur.take() {
        finish(&mut out, b, n, expected, t, policy);
    }
    Ok(out)
}

fn finish(out: &mut Vec<Candle>, mut b: Candle, n: i64, expected: i64, t: i64, p: PartialPolicy) {
    b.complete &= n == expected;
    if b.complete {
        b.close_time_ms = b.open_time_ms + t - 1;
        out.push(b);
    } else if p == PartialPolicy::Flag {
        out.push(b);
    }
}

/// One spot trade from the trades CSV.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Trade {
    /// Exchange trade time, unix milliseconds.
    pub trade_ts_ms: i64,
    /// Trade id (contiguous per symbol).
    pub trade_id: u64,
    /// Price.
    pub price: f64,
    /// Base quantity.
    pub qty: f64,
    /// `true` when the buyer was the maker (a taker sell).
    pub is_buyer_maker: bool,
}

const TRADES_HEADER: &str =
    "local_ts_ns,event_ts_ms,trade_ts_ms,symbol,trade_id,price,qty,is_buyer_maker";

/// Load a trades CSV (`local_ts_ns,event_ts_ms,trade_ts_ms,symbol,trade_id,price,qty,is_buyer_maker`,
/// gzip or plain).
///
/// # Errors
/// [`LoadError`] as for [`load_klines`]; trade times must be non-decreasing.
pub fn load_trades(path: impl AsRef<Path>) -> Result<Vec<Trade>, LoadError> {
    let path = path.as_ref();
    let io = |source| LoadError::Io { path: path.to_path_buf(), source };
    let reader = open_maybe_gz(path).map_err(io)?;
    let mut lines = reader.lines();
    match lines.next() {
        None => return Err(LoadError::Empty { path: path.to_path_buf() }),
        Some(h) => {
            let h = h.map_err(io)?;
            if h.trim() != TRADES_HEADER {
                return Err(LoadError::Header { path: path.to_path_buf(), found: h });
            }
        }
    }
    let mut out: Vec<Trade> = Vec::new();
    for (i, l) in lines.enumerate() {
        let line = i + 2;
        let l = l.map_err(io)?;
        if l.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = l.split(',').collect();
        if f.len() != 8 {
            return Err(LoadError::Parse { line, field: "row", value: l.clone() });
        }
        let t = Trade {
            trade_ts_ms: parse_i64(f[2], line, "trade_ts_ms")?,
            trade_id: f[4].trim().parse().map_err(|_| LoadError::Parse {
                line,
                field: "trade_id",
                value: f[4].to_string(),
            })?,
            price: parse_f64(f[5], line, "price")?,
            qty: parse_f64(f[6], line, "qty")?,
            is_buyer_maker: match f[7].trim() {
                "1" | "true" | "True" => true,
                "0" | "false" | "False" => false,
                other => {
                    return Err(LoadError::Parse {
                        line,
                        field: "is_buyer_maker",
                        value: other.to_string(),
                    });
                }
            },
        };
        if let Some(p) = out.last()
            && t.trade_ts_ms < p.trade_ts_ms
        {
            return Err(LoadError::NonMonotonic {
                line,
                open_time_ms: t.trade_ts_ms,
                previous_ms: p.trade_ts_ms,
            });
        }
        out.push(t);
    }
    if out.is_empty() {
        return Err(LoadError::Empty { path: path.to_path_buf() });
    }
    Ok(out)
}

/// Build candles from trades, one per UTC-aligned bucket of `interval` that holds at least one
/// trade (empty buckets make no bar). The first and last buckets are flagged
/// `complete = false` because a recording starts and stops mid-bucket.
///
/// # Examples
/// ```
/// use crpbot_strategies::swing::{candles_from_trades, Interval, Trade};
/// let t = |ms, p| Trade { trade_ts_ms: ms, trade_id: 0, price: p, qty: 1.0, is_buyer_maker: false };
/// let c = candles_from_trades(&[t(1_000, 10.0), t(2_000, 12.0), t(61_000, 11.0)], Interval::M1);
/// assert_eq!(c.len(), 2);
/// assert_eq!((c[0].open, c[0].high, c[0].close, c[0].volume), (10.0, 12.0, 12.0, 2.0));
/// ```
#[must_use]
pub fn candles_from_trades(trades: &[Trade], interval: Interval) -> Vec<Candle> {
    let t = interval.ms().max(1);
    let mut map: BTreeMap<i64, Candle> = BTreeMap::new();
    for tr in trades {
        let bucket = tr.trade_ts_ms - tr.trade_ts_ms.rem_euclid(t);
        let e = map.entry(bucket).or_insert_with(|| {
            let mut c = Candle::new(bucket, tr.price, tr.price, tr.price, tr.price, 0.0);
            c.close_time_ms = bucket + t - 1;
            c
        });
        e.high = e.high.max(tr.price);
        e.low = e.low.min(tr.price);
        e.close = tr.price;
        e.volume += tr.qty;
        e.quote_volume += tr.qty * tr.price;
        e.trades += 1;
        if !tr.is_buyer_maker {
            e.taker_buy_base_volume += tr.qty;
            e.taker_buy_quote_volume += tr.qty * tr.price;
        }
    }
    let mut out: Vec<Candle> = map.into_values().collect();
    if let Some(c) = out.first_mut() {
        c.complete = false;
    }
    if let Some(c) = out.last_mut() {
        c.complete = false;
    }
    out
}

/// Locate the shared recordings: `$CRPBOT_DATA_DIR`, else the first `shared/data` directory
/// found walking up from this crate's manifest directory (`<repo>/../shared/data` for a plain
/// checkout; one level further up for a git worktree under `wt/`).
#[must_use]
pub fn locate_data_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("CRPBOT_DATA_DIR") {
        let p = PathBuf::from(d);
        return p.is_dir().then_some(p);
    }
    let mut dir = Path::new(env!("CARGO_MANIFEST_DIR")).parent();
    while let Some(d) = dir {
        let p = d.join("shared").join("data");
        if p.is_dir() {
            return Some(p);
        }
        dir = d.parent();
    }
    None
}
