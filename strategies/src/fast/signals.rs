//! The signal set of one instrument, and of all instruments ([`SignalBank`]).
//!
//! [`InstrumentSignals`] is fed every published book ([`InstrumentSignals::on_book`]) and every
//! trade ([`InstrumentSignals::on_trade`]) and keeps a `Copy` snapshot, [`Signals`], that the
//! strategies read. Prices in the snapshot are `f64` **ticks** of the instrument (signal math
//! only); sizes are lots. A signal that cannot be formed (empty or one-sided book, no trades
//! yet) is `None`, never NaN or infinite.

use crpbot_book::{Book, Level};
use crpbot_core::{InstrumentId, Px, Qty, Side, Trade};
use serde::Deserialize;

use super::flow::{LevelWhales, TradeFlow, TradeFlowParams};
use super::ofi::OfiTracker;
use super::profile::{ValueArea, VolumeProfile};

const MS: i64 = 1_000_000;

/// Parameters of the signal set (serde, every field defaulted).
///
/// # Examples
/// ```
/// use crpbot_strategies::fast::SignalConfig;
/// let cfg: SignalConfig = toml::from_str("ofi_levels = 5\nwhale_k = 8.0").unwrap();
/// assert_eq!((cfg.ofi_levels, cfg.whale_k), (5, 8.0));
/// assert_eq!(cfg.imbalance_levels, SignalConfig::default().imbalance_levels);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignalConfig {
    /// Levels of the multi-level OFI (1..=20).
    pub ofi_levels: usize,
    /// Rolling OFI window (ms).
    pub ofi_window_ms: i64,
    /// Levels of the "book imbalance" (near the touch).
    pub imbalance_levels: usize,
    /// Levels of the "depth imbalance" (deeper).
    pub depth_levels: usize,
    /// Rolling VWAP window (ms); also the long volume window and the trade-size mean window.
    pub vwap_window_ms: i64,
    /// Bucket of the VWAP window (ms).
    pub vwap_bucket_ms: i64,
    /// Aggressive-flow and whale-flow window (ms).
    pub flow_window_ms: i64,
    /// Short volume window (ms).
    pub short_window_ms: i64,
    /// Bucket of the OFI, flow and short windows (ms).
    pub fast_bucket_ms: i64,
    /// Whale threshold: size above `whale_k ×` the rolling mean (trades and levels).
    pub whale_k: f64,
    /// Samples in the mean before whales are flagged.
    pub whale_min_samples: i64,
    /// Levels per side checked for resting whales.
    pub whale_levels: usize,
    /// Volume-profile bucket width (ticks).
    pub profile_bucket_ticks: i64,
    /// Volume-profile buckets (preallocated).
    pub profile_buckets: usize,
    /// Share of volume in the value area.
    pub value_area_pct: f64,
    /// High-volume node: local max with volume ≥ this × mean bucket volume.
    pub hvn_ratio: f64,
    /// Low-volume node: local min with volume ≤ this × mean bucket volume.
    pub lvn_ratio: f64,
}

impl Default for SignalConfig {
    fn default() -> SignalConfig {
        SignalConfig {
            ofi_levels: 5,
            ofi_window_ms: 10_000,
            imbalance_levels: 5,
            depth_levels: 20,
            vwap_window_ms: 300_000,
            vwap_bucket_ms: 1_000,
            flow_window_ms: 30_000,
            short_window_ms: 10_000,
            fast_bucket_ms: 100,
            whale_k: 10.0,
            whale_min_samples: 50,
            whale_levels: 10,
            profile_bucket_ticks: 100,
            profile_buckets: 4096,
            value_area_pct: 0.70,
            hvn_ratio: 1.5,
            lvn_ratio: 0.5,
        }
    }
}

/// The latest values of an instrument's signals (`Copy`; prices in ticks).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Signals {
    /// Time of the last event folded in (ns, never decreasing).
    pub ts_ns: i64,
    /// Best bid of the last two-sided book.
    pub bid: Option<Level>,
    /// Best ask of the last two-sided book.
    pub ask: Option<Level>,
    /// Mid (ticks).
    pub mid: Option<f64>,
    /// Microprice (ticks).
    pub microprice: Option<f64>,
    /// Spread (bps of mid).
    pub spread_bps: Option<f64>,
    /// `(bid − ask) / (bid + ask)` size over the top `imbalance_levels`.
    pub imbalance: Option<f64>,
    /// The same over the top `depth_levels`.
    pub depth_imbalance: Option<f64>,
    /// OFI of the last book event (lots).
    pub ofi_event: Option<i128>,
    /// Σ OFI over the OFI window (lots).
    pub ofi_window: i128,
    /// Window OFI / Σ|OFI| in `[-1, 1]`.
    pub ofi_norm: Option<f64>,
    /// Session VWAP (ticks).
    pub vwap_session: Option<f64>,
    /// Rolling VWAP (ticks).
    pub vwap_rolling: Option<f64>,
    /// `(mid − rolling VWAP) / rolling VWAP` in bps.
    pub vwap_dev_bps: Option<f64>,
    /// `(mid − session VWAP) / session VWAP` in bps.
    pub vwap_session_dev_bps: Option<f64>,
    /// Share of aggressive volume that bought, over the flow window.
    pub buy_share: Option<f64>,
    /// Short-window over long-window traded-volume rate.
    pub volume_ratio: Option<f64>,
    /// Whale buy lots − whale sell lots over the flow window.
    pub whale_trade_net: i128,
    /// Whale lots resting on the bid − on the ask, among the top `whale_levels`.
    pub whale_level_net: i128,
    /// Whether the last trade was a whale.
    pub last_trade_whale: bool,
    /// POC and value area of the session profile (refreshed at book events).
    pub value_area: Option<ValueArea>,
}

/// Streaming signals of one instrument.
///
/// **Memory.** All windows and the profile are allocated by [`InstrumentSignals::new`];
/// [`InstrumentSignals::on_book`] and [`InstrumentSignals::on_trade`] never allocate.
#[derive(Clone, Debug)]
pub struct InstrumentSignals {
    cfg: SignalConfig,
    ofi: OfiTracker,
    flow: TradeFlow,
    whales: LevelWhales,
    profile: VolumeProfile,
    snap: Signals,
}

/// Finite or `None`.
#[inline]
fn fin(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

/// `(a − b) / b × 1e4`, finite or `None`.
#[inline]
fn dev_bps(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => fin(Some((a - b) / b * 1e4)),
        _ => None,
    }
}

impl InstrumentSignals {
    /// A fresh signal set.
    pub fn new(cfg: &SignalConfig) -> InstrumentSignals {
        let p = TradeFlowParams {
            vwap_window_ns: cfg.vwap_window_ms.saturating_mul(MS),
            vwap_bucket_ns: cfg.vwap_bucket_ms.saturating_mul(MS),
            flow_window_ns: cfg.flow_window_ms.saturating_mul(MS),
            short_window_ns: cfg.short_window_ms.saturating_mul(MS),
            fast_bucket_ns: cfg.fast_bucket_ms.saturating_mul(MS),
            whale_k: cfg.whale_k,
            whale_min_samples: cfg.whale_min_samples,
        };
        InstrumentSignals {
            cfg: *cfg,
            ofi: OfiTracker::new(
                cfg.ofi_levels,
                cfg.ofi_window_ms.saturating_mul(MS),
                p.fast_bucket_ns,
            ),
            flow: TradeFlow::new(&p),
            whales: LevelWhales::new(
                cfg.whale_levels,
                cfg.whale_k,
                cfg.whale_min_samples,
                p.vwap_window_ns,
                p.vwap_bucket_ns,
            ),
            profile: VolumeProfile::new(
                cfg.profile_bucket_ticks,
                cfg.profile_buckets,
                cfg.value_area_pct,
                cfg.hvn_ratio,
                cfg.lvn_ratio,
            ),
            snap: Signals::default(),
        }
    }

    /// Folds in a published book at `ts_ns`. An empty or one-sided book clears the book
    /// signals (mid, microprice, spread, imbalances, OFI event) and resets the OFI state.
    pub fn on_book(&mut self, book: &Book, ts_ns: i64) -> &Signals {
        let ts = ts_ns.max(self.snap.ts_ns);
        self.snap.ts_ns = ts;
        self.flow.advance(ts);
        let ofi = self.ofi.update(book, ts);
        let s = &mut self.snap;
        s.ofi_event = ofi;
        s.ofi_window = self.ofi.window().sum;
        s.ofi_norm = self.ofi.window_norm();
        let (bid, ask) = (book.best_bid(), book.best_ask());
        if let (Some(b), Some(a)) = (bid, ask) {
            s.bid = Some(b);
            s.ask = Some(a);
            s.mid = fin(book.mid_ticks());
            s.microprice = fin(book.microprice());
            s.spread_bps = fin(book.spread_bps());
            s.imbalance = fin(book.depth_imbalance(self.cfg.imbalance_levels));
            s.depth_imbalance = fin(book.depth_imbalance(self.cfg.depth_levels));
            let (wb, wa) = self.whales.update(book, ts);
            s.whale_level_net = wb.wrapping_sub(wa);
        } else {
            s.bid = None;
            s.ask = None;
            s.mid = None;
            s.microprice = None;
            s.spread_bps = None;
            s.imbalance = None;
            s.depth_imbalance = None;
            s.whale_level_net = 0;
        }
        s.value_area = self.profile.value_area();
        self.refresh_flow();
        &self.snap
    }

    /// Folds in a trade (time: its venue timestamp).
    pub fn on_trade(&mut self, t: &Trade) -> &Signals {
        let ts = t.ts_exch_ns.max(self.snap.ts_ns);
        self.snap.ts_ns = ts;
        let whale = self.flow.on_trade(t);
        self.profile.add(t.px, t.qty.0);
        self.snap.last_trade_whale = whale;
        self.refresh_flow();
        &self.snap
    }

    fn refresh_flow(&mut self) {
        let s = &mut self.snap;
        let f = self.flow.flow();
        s.vwap_session = fin(self.flow.session_vwap_ticks());
        s.vwap_rolling = fin(self.flow.rolling_vwap_ticks());
        s.vwap_dev_bps = dev_bps(s.mid, s.vwap_rolling);
        s.vwap_session_dev_bps = dev_bps(s.mid, s.vwap_session);
        s.buy_share = fin(f.buy_share());
        s.whale_trade_net = f.whale_net();
        s.volume_ratio = fin(self.flow.volume_ratio(s.ts_ns));
    }

    /// The latest snapshot.
    #[inline]
    pub fn signals(&self) -> &Signals {
        &self.snap
    }

    /// The OFI tracker.
    pub fn ofi(&self) -> &OfiTracker {
        &self.ofi
    }

    /// The trade flow.
    pub fn flow(&self) -> &TradeFlow {
        &self.flow
    }

    /// The session volume profile (for [`VolumeProfile::nodes`]).
    pub fn profile(&self) -> &VolumeProfile {
        &self.profile
    }

    /// Starts a new session: resets the session VWAP and the volume profile.
    pub fn new_session(&mut self) {
        self.flow.reset_session();
        self.profile.reset();
    }
}

/// Signal sets for instrument ids `0..n` (dense, so iteration order is the id order).
#[derive(Clone, Debug)]
pub struct SignalBank {
    sets: Vec<InstrumentSignals>,
    unknown_instrument: u64,
}

impl SignalBank {
    /// One signal set per instrument id `0..n_instruments`.
    pub fn new(n_instruments: usize, cfg: &SignalConfig) -> SignalBank {
        SignalBank {
            sets: (0..n_instruments).map(|_| InstrumentSignals::new(cfg)).collect(),
            unknown_instrument: 0,
        }
    }

    /// Folds in a published book; `None` (counted) for an id outside the bank.
    #[inline]
    pub fn on_book(&mut self, id: InstrumentId, book: &Book, ts_ns: i64) -> Option<&Signals> {
        match self.sets.get_mut(id.index()) {
            Some(s) => Some(s.on_book(book, ts_ns)),
            None => {
                self.unknown_instrument += 1;
                None
            }
        }
    }

    /// Folds in a trade; `None` (counted) for an id outside the bank.
    #[inline]
    pub fn on_trade(&mut self, t: &Trade) -> Option<&Signals> {
        match self.sets.get_mut(t.instrument.index()) {
            Some(s) => Some(s.on_trade(t)),
            None => {
                self.unknown_instrument += 1;
                None
            }
        }
    }

    /// The signal set of an instrument.
    pub fn get(&self, id: InstrumentId) -> Option<&InstrumentSignals> {
        self.sets.get(id.index())
    }

    /// Events for ids outside the bank.
    pub fn unknown_instrument(&self) -> u64 {
        self.unknown_instrument
    }
}

/// The cost of taking `qty` lots now, from [`Book::market_fill`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PriceImpact {
    /// Lots that the visible book can fill (less than asked when too thin).
    pub filled: Qty,
    /// Levels walked.
    pub levels: u32,
    /// Worst price reached.
    pub worst_px: Px,
    /// Average fill price (ticks).
    pub avg_px_ticks: f64,
    /// `(avg − touch) / touch × 1e4` for a buy, `(touch − avg) / touch × 1e4` for a sell.
    pub impact_bps: f64,
}

/// The price impact of a market order of `qty` lots by a `taker` on `side`; `None` when the
/// opposite side is empty or `qty ≤ 0`.
///
/// # Examples
/// ```
/// use crpbot_book::{Book, BookConfig};
/// use crpbot_core::{Px, Qty, Side};
/// use crpbot_strategies::fast::price_impact;
/// let mut book = Book::new(BookConfig { window_ticks: 64, far_capacity: 8 });
/// book.set(Side::Sell, Px(10_000), Qty(1)).unwrap();
/// book.set(Side::Sell, Px(10_010), Qty(1)).unwrap();
/// let i = price_impact(&book, Side::Buy, Qty(2)).unwrap();
/// // avg 10 005 vs touch 10 000: 5 bps.
/// assert_eq!((i.filled, i.worst_px), (Qty(2), Px(10_010)));
/// assert!((i.impact_bps - 5.0).abs() < 1e-9);
/// ```
pub fn price_impact(book: &Book, taker: Side, qty: Qty) -> Option<PriceImpact> {
    let touch = book.best(taker.opposite())?;
    let f = book.market_fill(taker, qty)?;
    let impact_bps = f.slippage_ticks / touch.px.0 as f64 * 1e4;
    impact_bps.is_finite().then_some(PriceImpact {
        filled: f.filled,
        levels: f.levels,
        worst_px: f.worst_px,
        avg_px_ticks: f.avg_px_ticks,
        impact_bps,
    })
}
