//! `ofi`: the order-flow composite strategy.
//!
//! A weighted score in `[-1, 1]` from seven signals (weights are the product design's
//! defaults, all configurable):
//!
//! | component | weight | contribution |
//! |---|---|---|
//! | volume-profile bias | ±0.30 | `clamp((mid − POC centre) / (value-area half width), −1, 1)` |
//! | book imbalance (top 5) | ±0.20 | `sign(imb)` when `|imb| > 0.20`, else 0 |
//! | OFI momentum | ±0.15 | window OFI / Σ|OFI| ∈ `[-1, 1]` |
//! | price vs VWAP | ±0.15 | `clamp(dev_bps / vwap_scale_bps, −1, 1)` (rolling VWAP) |
//! | depth (top 20) | ±0.10 | depth imbalance ∈ `[-1, 1]` |
//! | aggressive flow | ±0.10 | `+1` when buys > 65 % of taker volume, `−1` below 35 % |
//! | whale orders | ±0.10 | `clamp(sign(whale trade net) + sign(whale level net), −1, 1)` |
//!
//! A missing signal contributes 0. Long when the score is at or above `+0.4`, short at or
//! below `−0.4` (if `allow_short`); a long is closed when the score falls below
//! `exit_threshold` (default 0), a short when it rises above `−exit_threshold`, or at its
//! stop, target or maximum holding time.

use crpbot_book::Book;
use crpbot_core::{Fill, InstrumentId, Registry, Side, StrategyId, Trade};
use serde::Deserialize;

use super::intent::{IntentBuf, Strategy, StrategyStats};
use super::leg::{
    BuildError, Ctx, ExecParams, IdGen, Leg, Protect, close, enter, leg_mut, leg_table, ms_to_ns,
    pct_to_ppm, position_of, resolve,
};
use super::signals::Signals;

/// Why the `ofi` strategy trades (stable numbers).
#[repr(u16)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OfiReason {
    /// Score at or above the long threshold.
    LongScore = 101,
    /// Score at or below the short threshold.
    ShortScore = 102,
    /// The score crossed back through the exit threshold.
    ExitScore = 110,
    /// Stop reached.
    ExitStop = 111,
    /// Target reached.
    ExitTakeProfit = 112,
    /// Held for the maximum time.
    ExitMaxHold = 113,
}

impl OfiReason {
    /// All reasons, in code order.
    pub const ALL: [OfiReason; 6] = [
        OfiReason::LongScore,
        OfiReason::ShortScore,
        OfiReason::ExitScore,
        OfiReason::ExitStop,
        OfiReason::ExitTakeProfit,
        OfiReason::ExitMaxHold,
    ];

    /// The reason of a code.
    pub fn from_u16(code: u16) -> Option<OfiReason> {
        Self::ALL.into_iter().find(|r| *r as u16 == code)
    }
}

/// Configuration of the `ofi` strategy (serde; every field defaulted).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OfiConfig {
    /// Run it at all.
    pub enabled: bool,
    /// Venue of `symbols` (`binance-spot`, ...).
    pub venue: String,
    /// Instruments traded.
    pub symbols: Vec<String>,
    /// Notional per entry in quote units (e.g. USDT).
    pub notional: f64,
    /// Minimum time between two intents of one instrument (ms).
    pub cooldown_ms: i64,
    /// A working order with no fill after this long is given up (ms).
    pub pending_timeout_ms: i64,
    /// Market orders are capped this far beyond the touch (bps).
    pub max_slippage_bps: f64,
    /// Allow short entries.
    pub allow_short: bool,
    /// Long at or above this score.
    pub long_threshold: f64,
    /// Short at or below this score.
    pub short_threshold: f64,
    /// A long exits below this score (a short above its negation).
    pub exit_threshold: f64,
    /// Book imbalance counts beyond this magnitude.
    pub imbalance_min: f64,
    /// Aggressive flow counts beyond this buy share (or below `1 −` it).
    pub aggressive_share: f64,
    /// VWAP deviation (bps) that earns the full VWAP weight.
    pub vwap_scale_bps: f64,
    /// Weight of the volume-profile bias.
    pub w_profile: f64,
    /// Weight of the book imbalance.
    pub w_imbalance: f64,
    /// Weight of the OFI momentum.
    pub w_ofi: f64,
    /// Weight of price vs VWAP.
    pub w_vwap: f64,
    /// Weight of the depth imbalance.
    pub w_depth: f64,
    /// Weight of the aggressive flow.
    pub w_aggressive: f64,
    /// Weight of the whale orders.
    pub w_whale: f64,
    /// Stop distance from the touch (%).
    pub stop_pct: f64,
    /// Target distance from the touch (%).
    pub take_profit_pct: f64,
    /// Maximum holding time (ms, 0 = none).
    pub max_hold_ms: i64,
}

impl Default for OfiConfig {
    fn default() -> OfiConfig {
        OfiConfig {
            enabled: true,
            venue: "binance-spot".into(),
            symbols: vec!["BTCUSDT".into(), "ETHUSDT".into()],
            notional: 1_000.0,
            cooldown_ms: 30_000,
            pending_timeout_ms: 5_000,
            max_slippage_bps: 10.0,
            allow_short: true,
            long_threshold: 0.4,
            short_threshold: -0.4,
            exit_threshold: 0.0,
            imbalance_min: 0.20,
            aggressive_share: 0.65,
            vwap_scale_bps: 5.0,
            w_profile: 0.30,
            w_imbalance: 0.20,
            w_ofi: 0.15,
            w_vwap: 0.15,
            w_depth: 0.10,
            w_aggressive: 0.10,
            w_whale: 0.10,
            stop_pct: 0.3,
            take_profit_pct: 0.6,
            max_hold_ms: 30 * 60_000,
        }
    }
}

/// The composite score and its seven parts (profile, imbalance, OFI, VWAP, depth,
/// aggressive, whale).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CompositeScore {
    /// Σ parts.
    pub total: f64,
    /// Weighted contributions, in the table's order.
    pub parts: [f64; 7],
}

fn sign_i(v: i128) -> f64 {
    v.signum() as f64
}

impl OfiConfig {
    /// The score of a snapshot; `None` without a mid.
    ///
    /// # Examples
    /// ```
    /// use crpbot_strategies::fast::{OfiConfig, Signals};
    /// let s = Signals { mid: Some(100.0), imbalance: Some(0.5), ofi_norm: Some(1.0),
    ///                   ..Default::default() };
    /// let sc = OfiConfig::default().score(&s).unwrap();
    /// assert!((sc.total - 0.35).abs() < 1e-12); // 0.20 + 0.15
    /// ```
    pub fn score(&self, s: &Signals) -> Option<CompositeScore> {
        let mid = s.mid?;
        let mut p = [0.0f64; 7];
        if let Some(va) = s.value_area {
            let w = va.bucket_ticks as f64;
            let centre = va.poc.0 as f64 + w / 2.0;
            let half = (((va.vah.0 - va.val.0) as f64 + w) / 2.0).max(w);
            p[0] = ((mid - centre) / half).clamp(-1.0, 1.0) * self.w_profile;
        }
        if let Some(imb) = s.imbalance
            && imb.abs() > self.imbalance_min
        {
            p[1] = imb.signum() * self.w_imbalance;
        }
        p[2] = s.ofi_norm.unwrap_or(0.0).clamp(-1.0, 1.0) * self.w_ofi;
        if let Some(d) = s.vwap_dev_bps
            && self.vwap_scale_bps > 0.0
        {
            p[3] = (d / self.vwap_scale_bps).clamp(-1.0, 1.0) * self.w_vwap;
        }
        p[4] = s.depth_imbalance.unwrap_or(0.0).clamp(-1.0, 1.0) * self.w_depth;
        if let Some(b) = s.buy_share {
            if b > self.aggressive_share {
                p[5] = self.w_aggressive;
            } else if b < 1.0 - self.aggressive_share {
                p[5] = -self.w_aggressive;
            }
        }
        p[6] =
            (sign_i(s.whale_trade_net) + sign_i(s.whale_level_net)).clamp(-1.0, 1.0) * self.w_whale;
        let total = p.iter().sum::<f64>();
        total.is_finite().then_some(CompositeScore { total, parts: p })
    }
}

/// The `ofi` strategy.
///
/// **Memory.** Allocated at construction; `on_*` never allocate.
#[derive(Debug)]
pub struct OfiStrategy {
    cfg: OfiConfig,
    ex: ExecParams,
    stop_ppm: i64,
    tp_ppm: i64,
    max_hold_ns: i64,
    ids: IdGen,
    legs: Vec<Option<Leg>>,
    stats: StrategyStats,
}

impl OfiStrategy {
    /// Builds the strategy; `id` is stamped on its intents and client ids.
    ///
    /// # Errors
    /// [`BuildError`] for an unknown venue or symbol, or a parameter out of range.
    pub fn new(cfg: &OfiConfig, id: StrategyId, registry: &Registry) -> Result<Self, BuildError> {
        let insts = resolve(registry, &cfg.venue, &cfg.symbols)?;
        if !(cfg.long_threshold > cfg.exit_threshold && cfg.short_threshold < -cfg.exit_threshold) {
            return Err(BuildError::Invalid("ofi thresholds"));
        }
        Ok(OfiStrategy {
            ex: ExecParams::new(
                cfg.notional,
                cfg.cooldown_ms,
                cfg.pending_timeout_ms,
                cfg.max_slippage_bps,
            )?,
            stop_ppm: pct_to_ppm(cfg.stop_pct, "stop_pct")?,
            tp_ppm: pct_to_ppm(cfg.take_profit_pct, "take_profit_pct")?,
            max_hold_ns: ms_to_ns(cfg.max_hold_ms, "max_hold_ms")?,
            ids: IdGen::new(id),
            legs: leg_table(&insts),
            stats: StrategyStats::default(),
            cfg: cfg.clone(),
        })
    }
}

impl Strategy for OfiStrategy {
    fn on_book(
        &mut self,
        id: InstrumentId,
        _book: &Book,
        sig: &Signals,
        ts_ns: i64,
        out: &mut IntentBuf,
    ) {
        let Some(leg) = leg_mut(&mut self.legs, id) else { return };
        let (Some(bid), Some(ask)) = (sig.bid, sig.ask) else { return };
        leg.expire(ts_ns, &self.ex, &mut self.stats);
        if leg.busy() {
            return;
        }
        let Some(score) = self.cfg.score(sig) else { return };
        let mut c = Ctx {
            ids: &mut self.ids,
            ex: &self.ex,
            stats: &mut self.stats,
            out,
            ts_ns,
            bid: bid.px,
            ask: ask.px,
        };
        if leg.pos != 0 {
            let reason = match leg.protect(bid.px, ask.px, ts_ns, self.max_hold_ns) {
                Some(Protect::Stop) => Some(OfiReason::ExitStop),
                Some(Protect::TakeProfit) => Some(OfiReason::ExitTakeProfit),
                Some(Protect::MaxHold) => Some(OfiReason::ExitMaxHold),
                None if leg.pos > 0 && score.total < self.cfg.exit_threshold => {
                    Some(OfiReason::ExitScore)
                }
                None if leg.pos < 0 && score.total > -self.cfg.exit_threshold => {
                    Some(OfiReason::ExitScore)
                }
                None => None,
            };
            if let Some(r) = reason {
                close(leg, &mut c, r as u16);
            }
            return;
        }
        let (side, reason) = if score.total >= self.cfg.long_threshold {
            (Side::Buy, OfiReason::LongScore)
        } else if self.cfg.allow_short && score.total <= self.cfg.short_threshold {
            (Side::Sell, OfiReason::ShortScore)
        } else {
            return;
        };
        enter(leg, &mut c, side, None, self.stop_ppm, self.tp_ppm, reason as u16);
    }

    fn on_trade(&mut self, _t: &Trade, _sig: &Signals, _out: &mut IntentBuf) {}

    fn on_fill(&mut self, f: &Fill) {
        if f.strategy != self.ids.sid() {
            return;
        }
        if let Some(leg) = leg_mut(&mut self.legs, f.instrument) {
            self.stats.fills += 1;
            leg.on_fill(f);
        }
    }

    fn name(&self) -> &'static str {
        "ofi"
    }

    fn id(&self) -> StrategyId {
        self.ids.sid()
    }

    fn stats(&self) -> StrategyStats {
        self.stats
    }

    fn position(&self, id: InstrumentId) -> i64 {
        position_of(&self.legs, id)
    }
}
