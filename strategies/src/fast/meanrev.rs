//! `meanrev`: mean reversion to VWAP in quiet markets.
//!
//! The mid is sampled every `sample_ms` (on the first book event of each period). Over the
//! last `bb_window` samples it forms Bollinger bands: mean `m`, population standard deviation
//! `σ`, width `4σ / m`. Each new width is ranked against the previous `width_history` widths;
//! the market is *quiet* when at least `width_min_history` widths are known and the new one is
//! at or below their `width_percentile`-th percentile (20th). While quiet, a mid above
//! `VWAP + band_sigmas·σ` (2σ) is sold and one below `VWAP − 2σ` bought. The position is closed
//! when the mid is back at the VWAP, after `max_hold_ms` (2 h), or at a `stop_pct` (0.5 %)
//! stop. The VWAP is the rolling one unless `use_session_vwap`. The entry's take-profit is
//! the VWAP at entry (for risk); the exit itself follows the live VWAP.

use crpbot_book::Book;
use crpbot_core::{Fill, InstrumentId, Registry, Side, StrategyId, Trade};
use serde::Deserialize;

use super::intent::{IntentBuf, Strategy, StrategyStats};
use super::leg::{
    BuildError, Ctx, ExecParams, IdGen, Leg, Protect, close, enter, leg_mut, leg_table, ms_to_ns,
    pct_to_ppm, position_of, resolve,
};
use super::signals::Signals;
use super::stats::Ring;

/// Why the `meanrev` strategy trades (stable numbers).
#[repr(u16)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MeanRevReason {
    /// Mid above VWAP + kσ in a squeeze: sell.
    AboveBand = 301,
    /// Mid below VWAP − kσ in a squeeze: buy.
    BelowBand = 302,
    /// Back at the VWAP.
    ExitAtVwap = 310,
    /// Stop reached.
    ExitStop = 311,
    /// Held for the maximum time.
    ExitMaxHold = 313,
}

impl MeanRevReason {
    /// All reasons, in code order.
    pub const ALL: [MeanRevReason; 5] = [
        MeanRevReason::AboveBand,
        MeanRevReason::BelowBand,
        MeanRevReason::ExitAtVwap,
        MeanRevReason::ExitStop,
        MeanRevReason::ExitMaxHold,
    ];

    /// The reason of a code.
    pub fn from_u16(code: u16) -> Option<MeanRevReason> {
        Self::ALL.into_iter().find(|r| *r as u16 == code)
    }
}

/// Configuration of the `meanrev` strategy (serde; every field defaulted).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MeanRevConfig {
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
    /// Mid sampling period (ms).
    pub sample_ms: i64,
    /// Samples in the Bollinger window.
    pub bb_window: usize,
    /// Widths kept for the percentile rank.
    pub width_history: usize,
    /// Widths needed before trading.
    pub width_min_history: usize,
    /// Quiet when the width is at or below this percentile (0–100).
    pub width_percentile: f64,
    /// Band distance from the VWAP in σ.
    pub band_sigmas: f64,
    /// Use the session VWAP instead of the rolling one.
    pub use_session_vwap: bool,
    /// Stop (%).
    pub stop_pct: f64,
    /// Maximum holding time (ms).
    pub max_hold_ms: i64,
}

impl Default for MeanRevConfig {
    fn default() -> MeanRevConfig {
        MeanRevConfig {
            enabled: true,
            venue: "binance-spot".into(),
            symbols: vec!["BTCUSDT".into(), "ETHUSDT".into()],
            notional: 1_000.0,
            cooldown_ms: 60_000,
            pending_timeout_ms: 5_000,
            max_slippage_bps: 10.0,
            allow_short: true,
            sample_ms: 1_000,
            bb_window: 20,
            width_history: 300,
            width_min_history: 60,
            width_percentile: 20.0,
            band_sigmas: 2.0,
            use_session_vwap: false,
            stop_pct: 0.5,
            max_hold_ms: 2 * 3_600_000,
        }
    }
}

/// Per-instrument band state.
#[derive(Clone, Debug)]
struct Bands {
    mids: Ring,
    widths: Ring,
    next_sample_ns: Option<i64>,
    sigma: Option<f64>,
    quiet: bool,
}

/// The `meanrev` strategy.
///
/// **Memory.** Rings allocated at construction; `on_*` never allocate.
#[derive(Debug)]
pub struct MeanRevStrategy {
    cfg: MeanRevConfig,
    ex: ExecParams,
    stop_ppm: i64,
    sample_ns: i64,
    max_hold_ns: i64,
    ids: IdGen,
    legs: Vec<Option<Leg>>,
    bands: Vec<Bands>,
    stats: StrategyStats,
}

impl MeanRevStrategy {
    /// Builds the strategy.
    ///
    /// # Errors
    /// [`BuildError`] for an unknown venue or symbol, or a parameter out of range.
    pub fn new(
        cfg: &MeanRevConfig,
        id: StrategyId,
        registry: &Registry,
    ) -> Result<Self, BuildError> {
        let insts = resolve(registry, &cfg.venue, &cfg.symbols)?;
        let legs = leg_table(&insts);
        if cfg.bb_window < 2
            || cfg.width_history == 0
            || !(0.0..=100.0).contains(&cfg.width_percentile)
            || !(cfg.band_sigmas.is_finite() && cfg.band_sigmas > 0.0)
            || cfg.sample_ms <= 0
        {
            return Err(BuildError::Invalid("meanrev bands"));
        }
        let bands = legs
            .iter()
            .map(|_| Bands {
                mids: Ring::new(cfg.bb_window),
                widths: Ring::new(cfg.width_history),
                next_sample_ns: None,
                sigma: None,
                quiet: false,
            })
            .collect();
        Ok(MeanRevStrategy {
            ex: ExecParams::new(
                cfg.notional,
                cfg.cooldown_ms,
                cfg.pending_timeout_ms,
                cfg.max_slippage_bps,
            )?,
            stop_ppm: pct_to_ppm(cfg.stop_pct, "stop_pct")?,
            sample_ns: ms_to_ns(cfg.sample_ms, "sample_ms")?,
            max_hold_ns: ms_to_ns(cfg.max_hold_ms, "max_hold_ms")?,
            ids: IdGen::new(id),
            legs,
            bands,
            stats: StrategyStats::default(),
            cfg: cfg.clone(),
        })
    }

    /// σ of the last full Bollinger window and whether the market is quiet, for `id`.
    pub fn bands(&self, id: InstrumentId) -> Option<(Option<f64>, bool)> {
        self.bands.get(id.index()).map(|b| (b.sigma, b.quiet))
    }
}

/// Samples the mid when its period has come and refreshes σ and the quiet flag.
fn sample(b: &mut Bands, cfg: &MeanRevConfig, sample_ns: i64, mid: f64, ts_ns: i64) {
    if b.next_sample_ns.is_some_and(|t| ts_ns < t) {
        return;
    }
    b.next_sample_ns = Some((ts_ns.div_euclid(sample_ns) + 1).saturating_mul(sample_ns));
    b.mids.push(mid);
    if !b.mids.is_full() {
        return;
    }
    let Some((m, sd)) = b.mids.mean_std().filter(|(m, _)| *m > 0.0) else { return };
    let width = 4.0 * sd / m;
    let below = b.widths.iter().filter(|w| *w < width).count();
    let n = b.widths.len();
    b.quiet = n >= cfg.width_min_history.max(1)
        && (below as f64) * 100.0 <= cfg.width_percentile * n as f64;
    b.widths.push(width);
    b.sigma = Some(sd);
}

impl Strategy for MeanRevStrategy {
    fn on_book(
        &mut self,
        id: InstrumentId,
        _book: &Book,
        sig: &Signals,
        ts_ns: i64,
        out: &mut IntentBuf,
    ) {
        let Some(leg) = leg_mut(&mut self.legs, id) else { return };
        let (Some(bid), Some(ask), Some(mid)) = (sig.bid, sig.ask, sig.mid) else { return };
        let Some(b) = self.bands.get_mut(id.index()) else { return };
        sample(b, &self.cfg, self.sample_ns, mid, ts_ns);
        leg.expire(ts_ns, &self.ex, &mut self.stats);
        if leg.busy() {
            return;
        }
        let vwap = if self.cfg.use_session_vwap { sig.vwap_session } else { sig.vwap_rolling };
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
                Some(Protect::Stop) => MeanRevReason::ExitStop,
                Some(Protect::MaxHold) => MeanRevReason::ExitMaxHold,
                Some(Protect::TakeProfit) => MeanRevReason::ExitAtVwap,
                None => match vwap {
                    Some(v) if (leg.pos > 0 && mid >= v) || (leg.pos < 0 && mid <= v) => {
                        MeanRevReason::ExitAtVwap
                    }
                    _ => return,
                },
            };
            close(leg, &mut c, reason as u16);
            return;
        }
        let (Some(v), Some(sd)) = (vwap, b.sigma) else { return };
        if !b.quiet || sd <= 0.0 {
            return;
        }
        let band = self.cfg.band_sigmas * sd;
        let (side, reason) = if mid > v + band && self.cfg.allow_short {
            (Side::Sell, MeanRevReason::AboveBand)
        } else if mid < v - band {
            (Side::Buy, MeanRevReason::BelowBand)
        } else {
            return;
        };
        // Target: the VWAP now, as a distance from the touch (at least one tick).
        let touch = if side == Side::Buy { ask.px } else { bid.px };
        let dist = ((v - touch.0 as f64).abs() / touch.0 as f64 * 1e6) as i64;
        enter(leg, &mut c, side, None, self.stop_ppm, dist.max(1), reason as u16);
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
        "meanrev"
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
