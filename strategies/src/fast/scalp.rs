//! `scalp`: microstructure scalping.
//!
//! Long when the book imbalance (top `imbalance_levels`) exceeds `+30 %`, the windowed OFI is
//! positive and traded volume is above average (short-window rate over long-window rate
//! above `min_volume_ratio`); short on the mirror image. The target grows with the strength of
//! the imbalance, linearly from `target_min_pct` (0.1 %) at the threshold to `target_max_pct`
//! (0.3 %) at a fully one-sided book; the stop is 0.15 %, the maximum hold 15 minutes.

use crpbot_book::Book;
use crpbot_core::{Fill, InstrumentId, Registry, Side, StrategyId, Trade};
use serde::Deserialize;

use super::intent::{IntentBuf, Strategy, StrategyStats};
use super::leg::{
    BuildError, Ctx, ExecParams, IdGen, Leg, Protect, close, enter, leg_mut, leg_table, ms_to_ns,
    pct_to_ppm, position_of, resolve,
};
use super::signals::Signals;

/// Why the `scalp` strategy trades (stable numbers).
#[repr(u16)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScalpReason {
    /// Bid-heavy book, positive OFI, busy tape.
    LongImbalance = 201,
    /// Ask-heavy book, negative OFI, busy tape.
    ShortImbalance = 202,
    /// Stop reached.
    ExitStop = 211,
    /// Target reached.
    ExitTakeProfit = 212,
    /// Held for the maximum time.
    ExitMaxHold = 213,
}

impl ScalpReason {
    /// All reasons, in code order.
    pub const ALL: [ScalpReason; 5] = [
        ScalpReason::LongImbalance,
        ScalpReason::ShortImbalance,
        ScalpReason::ExitStop,
        ScalpReason::ExitTakeProfit,
        ScalpReason::ExitMaxHold,
    ];

    /// The reason of a code.
    pub fn from_u16(code: u16) -> Option<ScalpReason> {
        Self::ALL.into_iter().find(|r| *r as u16 == code)
    }
}

/// Configuration of the `scalp` strategy (serde; every field defaulted).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScalpConfig {
    /// Run it at all.
    pub enabled: bool,
    /// Venue of `symbols`.
    pub venue: String,
    /// Instruments traded.
    pub symbols: Vec<String>,
    /// Notional per entry in quote units.
    pub notional: f64,
    /// Minimum time between two intents of one instrument (ms).
    pub cooldown_ms: i64,
    /// A working order with no fill after this long is given up (ms).
    pub pending_timeout_ms: i64,
    /// Market orders are capped this far beyond the touch (bps).
    pub max_slippage_bps: f64,
    /// Allow short entries.
    pub allow_short: bool,
    /// Book imbalance beyond this magnitude (0.30 = 30 %).
    pub imbalance_threshold: f64,
    /// Short-window over long-window volume rate above this.
    pub min_volume_ratio: f64,
    /// Target at the imbalance threshold (%).
    pub target_min_pct: f64,
    /// Target at a fully one-sided imbalance (%).
    pub target_max_pct: f64,
    /// Stop (%).
    pub stop_pct: f64,
    /// Maximum holding time (ms).
    pub max_hold_ms: i64,
}

impl Default for ScalpConfig {
    fn default() -> ScalpConfig {
        ScalpConfig {
            enabled: true,
            venue: "binance-spot".into(),
            symbols: vec!["BTCUSDT".into(), "ETHUSDT".into()],
            notional: 1_000.0,
            cooldown_ms: 5_000,
            pending_timeout_ms: 5_000,
            max_slippage_bps: 5.0,
            allow_short: true,
            imbalance_threshold: 0.30,
            min_volume_ratio: 1.0,
            target_min_pct: 0.1,
            target_max_pct: 0.3,
            stop_pct: 0.15,
            max_hold_ms: 15 * 60_000,
        }
    }
}

/// The `scalp` strategy.
///
/// **Memory.** Allocated at construction; `on_*` never allocate.
#[derive(Debug)]
pub struct ScalpStrategy {
    cfg: ScalpConfig,
    ex: ExecParams,
    stop_ppm: i64,
    max_hold_ns: i64,
    ids: IdGen,
    legs: Vec<Option<Leg>>,
    stats: StrategyStats,
}

impl ScalpStrategy {
    /// Builds the strategy.
    ///
    /// # Errors
    /// [`BuildError`] for an unknown venue or symbol, or a parameter out of range.
    pub fn new(cfg: &ScalpConfig, id: StrategyId, registry: &Registry) -> Result<Self, BuildError> {
        let insts = resolve(registry, &cfg.venue, &cfg.symbols)?;
        pct_to_ppm(cfg.target_min_pct, "target_min_pct")?;
        pct_to_ppm(cfg.target_max_pct, "target_max_pct")?;
        let thr = cfg.imbalance_threshold;
        if !(thr.is_finite() && (0.0..1.0).contains(&thr))
            || cfg.target_max_pct < cfg.target_min_pct
        {
            return Err(BuildError::Invalid("scalp thresholds"));
        }
        Ok(ScalpStrategy {
            ex: ExecParams::new(
                cfg.notional,
                cfg.cooldown_ms,
                cfg.pending_timeout_ms,
                cfg.max_slippage_bps,
            )?,
            stop_ppm: pct_to_ppm(cfg.stop_pct, "stop_pct")?,
            max_hold_ns: ms_to_ns(cfg.max_hold_ms, "max_hold_ms")?,
            ids: IdGen::new(id),
            legs: leg_table(&insts),
            stats: StrategyStats::default(),
            cfg: cfg.clone(),
        })
    }

    /// The target (%) for an imbalance of magnitude `imb` (at least the threshold).
    ///
    /// # Examples
    /// ```
    /// use crpbot_strategies::fast::{ScalpConfig, ScalpStrategy};
    /// let cfg = ScalpConfig::default();
    /// assert!((ScalpStrategy::target_pct(&cfg, 0.30) - 0.1).abs() < 1e-12);
    /// assert!((ScalpStrategy::target_pct(&cfg, 0.65) - 0.2).abs() < 1e-12);
    /// assert!((ScalpStrategy::target_pct(&cfg, 1.0) - 0.3).abs() < 1e-12);
    /// ```
    pub fn target_pct(cfg: &ScalpConfig, imb: f64) -> f64 {
        let thr = cfg.imbalance_threshold;
        let x = ((imb.abs() - thr) / (1.0 - thr)).clamp(0.0, 1.0);
        cfg.target_min_pct + x * (cfg.target_max_pct - cfg.target_min_pct)
    }
}

impl Strategy for ScalpStrategy {
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
                Some(Protect::Stop) => ScalpReason::ExitStop,
                Some(Protect::TakeProfit) => ScalpReason::ExitTakeProfit,
                Some(Protect::MaxHold) => ScalpReason::ExitMaxHold,
                None => return,
            };
            close(leg, &mut c, reason as u16);
            return;
        }
        let (Some(imb), Some(vol)) = (sig.imbalance, sig.volume_ratio) else { return };
        if vol <= self.cfg.min_volume_ratio {
            return;
        }
        let thr = self.cfg.imbalance_threshold;
        let (side, reason) = if imb > thr && sig.ofi_window > 0 {
            (Side::Buy, ScalpReason::LongImbalance)
        } else if self.cfg.allow_short && imb < -thr && sig.ofi_window < 0 {
            (Side::Sell, ScalpReason::ShortImbalance)
        } else {
            return;
        };
        let tp_ppm = (Self::target_pct(&self.cfg, imb) * 10_000.0).round() as i64;
        enter(leg, &mut c, side, None, self.stop_ppm, tp_ppm, reason as u16);
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
        "scalp"
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
