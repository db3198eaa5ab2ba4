//! Trade-driven signals: VWAP (session and rolling), aggressive buy/sell pressure, traded
//! volume rates and large-order ("whale") detection on trades and on book levels.
//!
//! All sums are exact integers: sizes in lots, notionals in tick·lot units (`i128`). Ratios
//! are formed in `f64` only when read.

use crpbot_book::{Book, Level};
use crpbot_core::{Side, Trade};

use super::window::{Acc, BucketWindow};

/// Volume and notional sums of trades (or of level sizes, for the level-size mean).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VolAcc {
    /// Σ px × qty in tick·lot units.
    pub notional: i128,
    /// Σ qty in lots.
    pub qty: i128,
    /// Number of items (trades or levels).
    pub count: i64,
}

impl Acc for VolAcc {
    #[inline]
    fn add(&mut self, o: &VolAcc) {
        self.notional = self.notional.wrapping_add(o.notional);
        self.qty = self.qty.wrapping_add(o.qty);
        self.count = self.count.wrapping_add(o.count);
    }
    #[inline]
    fn sub(&mut self, o: &VolAcc) {
        self.notional = self.notional.wrapping_sub(o.notional);
        self.qty = self.qty.wrapping_sub(o.qty);
        self.count = self.count.wrapping_sub(o.count);
    }
}

impl VolAcc {
    /// `notional / qty` in ticks (the VWAP); `None` without volume.
    #[inline]
    pub fn vwap_ticks(&self) -> Option<f64> {
        (self.qty > 0).then(|| self.notional as f64 / self.qty as f64)
    }

    /// `qty / count` (mean size); `None` when empty.
    #[inline]
    pub fn mean_qty(&self) -> Option<f64> {
        (self.count > 0 && self.qty >= 0).then(|| self.qty as f64 / self.count as f64)
    }
}

/// Aggressor-split trade flow in a window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowAcc {
    /// Lots bought by takers.
    pub buy_qty: i128,
    /// Lots sold by takers.
    pub sell_qty: i128,
    /// Lots of whale buys.
    pub whale_buy_qty: i128,
    /// Lots of whale sells.
    pub whale_sell_qty: i128,
}

impl Acc for FlowAcc {
    #[inline]
    fn add(&mut self, o: &FlowAcc) {
        self.buy_qty = self.buy_qty.wrapping_add(o.buy_qty);
        self.sell_qty = self.sell_qty.wrapping_add(o.sell_qty);
        self.whale_buy_qty = self.whale_buy_qty.wrapping_add(o.whale_buy_qty);
        self.whale_sell_qty = self.whale_sell_qty.wrapping_add(o.whale_sell_qty);
    }
    #[inline]
    fn sub(&mut self, o: &FlowAcc) {
        self.buy_qty = self.buy_qty.wrapping_sub(o.buy_qty);
        self.sell_qty = self.sell_qty.wrapping_sub(o.sell_qty);
        self.whale_buy_qty = self.whale_buy_qty.wrapping_sub(o.whale_buy_qty);
        self.whale_sell_qty = self.whale_sell_qty.wrapping_sub(o.whale_sell_qty);
    }
}

impl FlowAcc {
    /// Share of aggressive volume that was buying, in `[0, 1]`; `None` without trades.
    #[inline]
    pub fn buy_share(&self) -> Option<f64> {
        let total = self.buy_qty.wrapping_add(self.sell_qty);
        (total > 0 && self.buy_qty >= 0)
            .then(|| (self.buy_qty as f64 / total as f64).clamp(0.0, 1.0))
    }

    /// Whale buy lots minus whale sell lots.
    #[inline]
    pub fn whale_net(&self) -> i128 {
        self.whale_buy_qty.wrapping_sub(self.whale_sell_qty)
    }
}

/// Window lengths and thresholds of [`TradeFlow`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TradeFlowParams {
    /// Rolling VWAP window (also the "long" volume window and the trade-size mean window).
    pub vwap_window_ns: i64,
    /// Bucket of the VWAP window.
    pub vwap_bucket_ns: i64,
    /// Aggressive-flow and whale-flow window.
    pub flow_window_ns: i64,
    /// Short volume window (compared with the long one's rate).
    pub short_window_ns: i64,
    /// Bucket of the flow and short windows.
    pub fast_bucket_ns: i64,
    /// A trade is a whale when its size exceeds `whale_k ×` the rolling mean trade size.
    pub whale_k: f64,
    /// Trades needed in the mean window before whales are flagged.
    pub whale_min_samples: i64,
}

/// Streaming trade signals of one instrument.
///
/// **Memory.** Windows allocated at construction; no allocation afterwards.
///
/// # Examples
/// ```
/// use crpbot_core::{InstrumentId, Px, Qty, Side, Trade};
/// use crpbot_strategies::fast::{TradeFlow, TradeFlowParams};
/// let s = 1_000_000_000;
/// let p = TradeFlowParams {
///     vwap_window_ns: 60 * s, vwap_bucket_ns: s, flow_window_ns: 10 * s,
///     short_window_ns: 5 * s, fast_bucket_ns: s / 10, whale_k: 5.0, whale_min_samples: 3,
/// };
/// let mut f = TradeFlow::new(&p);
/// let t = |ts, px, qty, aggressor| Trade {
///     ts_exch_ns: ts, ts_local_ns: ts, trade_id: 0, px: Px(px), qty: Qty(qty),
///     instrument: InstrumentId(0), aggressor, _pad: [0; 5],
/// };
/// f.on_trade(&t(0, 100, 1, Side::Buy));
/// f.on_trade(&t(1, 102, 3, Side::Sell));
/// // VWAP = (100·1 + 102·3) / 4 = 101.5
/// assert_eq!(f.session_vwap_ticks(), Some(101.5));
/// assert_eq!(f.flow().buy_share(), Some(0.25));
/// ```
#[derive(Clone, Debug)]
pub struct TradeFlow {
    params: TradeFlowParams,
    session: VolAcc,
    vwap_win: BucketWindow<VolAcc>,
    flow_win: BucketWindow<FlowAcc>,
    short_win: BucketWindow<i128>,
    first_ts_ns: Option<i64>,
    last_ts_ns: i64,
    last_whale: Option<Side>,
    whales: u64,
}

impl TradeFlow {
    /// Empty flow with the given windows.
    pub fn new(p: &TradeFlowParams) -> TradeFlow {
        TradeFlow {
            params: *p,
            session: VolAcc::default(),
            vwap_win: BucketWindow::new(p.vwap_window_ns, p.vwap_bucket_ns),
            flow_win: BucketWindow::new(p.flow_window_ns, p.fast_bucket_ns),
            short_win: BucketWindow::new(p.short_window_ns, p.fast_bucket_ns),
            first_ts_ns: None,
            last_ts_ns: i64::MIN,
            last_whale: None,
            whales: 0,
        }
    }

    /// Takes one trade. Returns whether it was a whale (size above `whale_k ×` the rolling mean
    /// trade size measured before it, once `whale_min_samples` trades are in the window).
    pub fn on_trade(&mut self, t: &Trade) -> bool {
        let ts = t.ts_exch_ns.max(self.last_ts_ns);
        self.last_ts_ns = ts;
        self.first_ts_ns.get_or_insert(ts);
        self.advance(ts);
        if t.qty.0 <= 0 || t.px.0 <= 0 {
            return false;
        }
        let q = i128::from(t.qty.0);
        let notional = i128::from(t.px.0).wrapping_mul(q);
        let before = self.vwap_win.sum();
        let whale = before.count >= self.params.whale_min_samples
            && before.mean_qty().is_some_and(|m| t.qty.0 as f64 > self.params.whale_k * m);
        let v = VolAcc { notional, qty: q, count: 1 };
        self.session.add(&v);
        self.vwap_win.add(ts, v);
        self.short_win.add(ts, q);
        let mut f = FlowAcc::default();
        match t.aggressor {
            Side::Buy => f.buy_qty = q,
            Side::Sell => f.sell_qty = q,
        }
        if whale {
            match t.aggressor {
                Side::Buy => f.whale_buy_qty = q,
                Side::Sell => f.whale_sell_qty = q,
            }
            self.whales += 1;
            self.last_whale = Some(t.aggressor);
        } else {
            self.last_whale = None;
        }
        self.flow_win.add(ts, f);
        whale
    }

    /// Moves all windows to `ts_ns` (call before reading at a book event's time).
    pub fn advance(&mut self, ts_ns: i64) {
        let ts = ts_ns.max(self.last_ts_ns);
        self.vwap_win.advance(ts);
        self.flow_win.advance(ts);
        self.short_win.advance(ts);
    }

    /// Session VWAP in ticks (since construction or [`TradeFlow::reset_session`]).
    pub fn session_vwap_ticks(&self) -> Option<f64> {
        self.session.vwap_ticks()
    }

    /// Rolling VWAP in ticks over the VWAP window.
    pub fn rolling_vwap_ticks(&self) -> Option<f64> {
        self.vwap_win.sum().vwap_ticks()
    }

    /// Sums of the VWAP window.
    pub fn vwap_window(&self) -> VolAcc {
        self.vwap_win.sum()
    }

    /// Sums of the flow window.
    pub fn flow(&self) -> FlowAcc {
        self.flow_win.sum()
    }

    /// Short-window volume rate over long-window volume rate (`> 1`: above-average volume).
    /// The long window's span is the time seen so far until it is full. `None` without volume
    /// in the long window.
    pub fn volume_ratio(&self, now_ns: i64) -> Option<f64> {
        let long_q = self.vwap_win.sum().qty;
        let first = self.first_ts_ns?;
        if long_q <= 0 {
            return None;
        }
        let bucket = self.vwap_win.bucket_ns();
        let elapsed = now_ns.saturating_sub(first).saturating_add(bucket);
        let long_span = elapsed.clamp(bucket, self.vwap_win.span_ns()) as f64;
        let short_span = elapsed.clamp(self.params.fast_bucket_ns, self.short_win.span_ns()) as f64;
        let short_q = self.short_win.sum().max(0) as f64;
        Some((short_q / short_span) / (long_q as f64 / long_span))
    }

    /// The aggressor of the last trade if it was a whale.
    pub fn last_whale(&self) -> Option<Side> {
        self.last_whale
    }

    /// Whale trades seen.
    pub fn whale_count(&self) -> u64 {
        self.whales
    }

    /// Restarts the session VWAP.
    pub fn reset_session(&mut self) {
        self.session = VolAcc::default();
    }
}

/// Large resting orders: levels among the top N whose size exceeds `k ×` the rolling mean size
/// of top-N levels (measured over previous book events).
///
/// # Examples
/// ```
/// use crpbot_book::{Book, BookConfig};
/// use crpbot_core::{Px, Qty, Side};
/// use crpbot_strategies::fast::LevelWhales;
/// let mut book = Book::new(BookConfig { window_ticks: 64, far_capacity: 8 });
/// book.set(Side::Buy, Px(100), Qty(2)).unwrap();
/// book.set(Side::Sell, Px(101), Qty(2)).unwrap();
/// let mut w = LevelWhales::new(1, 3.0, 2, 60_000_000_000, 1_000_000_000);
/// assert_eq!(w.update(&book, 0), (0, 0)); // mean unknown yet
/// book.set(Side::Buy, Px(100), Qty(7)).unwrap(); // 7 > 3 × mean 2
/// assert_eq!(w.update(&book, 1), (7, 0));
/// ```
#[derive(Clone, Debug)]
pub struct LevelWhales {
    n_levels: usize,
    k: f64,
    min_samples: i64,
    sizes: BucketWindow<VolAcc>,
    last: (i128, i128),
}

impl LevelWhales {
    /// Follows the top `n_levels` (clamped to `1..=20`); mean over a `window_ns` window.
    pub fn new(
        n_levels: usize,
        k: f64,
        min_samples: i64,
        window_ns: i64,
        bucket_ns: i64,
    ) -> LevelWhales {
        LevelWhales {
            n_levels: n_levels.clamp(1, 20),
            k,
            min_samples,
            sizes: BucketWindow::new(window_ns, bucket_ns),
            last: (0, 0),
        }
    }

    /// Takes a book state; returns the whale lots on the (bid, ask) side among the top levels.
    pub fn update(&mut self, book: &Book, ts_ns: i64) -> (i128, i128) {
        let mut lv = [Level::default(); 20];
        let n = self.n_levels;
        self.sizes.advance(ts_ns);
        let before = self.sizes.sum();
        let thr = (before.count >= self.min_samples)
            .then(|| before.mean_qty())
            .flatten()
            .map(|m| self.k * m);
        let mut add = VolAcc::default();
        let mut out = [0i128; 2];
        for side in [Side::Buy, Side::Sell] {
            let got = book.top(side, &mut lv[..n]);
            for l in &lv[..got] {
                let q = i128::from(l.qty.0);
                add.qty = add.qty.wrapping_add(q);
                add.count += 1;
                if thr.is_some_and(|t| l.qty.0 as f64 > t) {
                    out[side.index()] = out[side.index()].wrapping_add(q);
                }
            }
        }
        if add.count > 0 {
            self.sizes.add(ts_ns, add);
        }
        self.last = (out[0], out[1]);
        self.last
    }

    /// The last result.
    pub fn last(&self) -> (i128, i128) {
        self.last
    }
}
