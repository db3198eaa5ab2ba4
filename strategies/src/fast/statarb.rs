//! `statarb`: BTC–ETH statistical arbitrage on the log-price spread.
//!
//! Every `sample_ms`, at the first book after which both legs have been updated since the
//! last sample and their mids are fresh (within `stale_ms` of each other), the pair `(ln y, ln x)` of mids (in ticks: the log of the tick size only shifts the
//! intercept) is appended to a ring of `window` samples. Once `min_samples` are held, the
//! hedge ratio is refitted by OLS `ln y = a + b·ln x` over the ring, the residuals' standard
//! deviation `σ` computed, and the Engle–Granger check run: the augmented Dickey–Fuller
//! t-statistic of the residuals with a fixed `adf_lag` (default 1) lagged difference and no
//! constant ([`super::adf_t`]) against MacKinnon's 5 % critical value for two variables with
//! a constant, `T` = residuals − 1 ([`super::eg_critical_5pct`]).
//!
//! On each book of either leg, `z = (ln y − a − b·ln x) / σ` from the live mids. With the pair
//! cointegrated (if `require_cointegration`) and `|z| < stop_z`, `z ≥ 2` sells the spread (sell y, buy
//! `|b|`-weighted x when `b > 0`) and `z ≤ −2` buys it; both intents are emitted together
//! (a pair). The pair is closed when `|z| ≤ 0.5`, when `|z| ≥ stop_z`, when a leg reaches the
//! stop set on its entry, after `max_hold_ms`, or — if only one leg is open with nothing
//! working — immediately, to stay hedged.

use crpbot_book::Book;
use crpbot_core::{Fill, InstrumentId, Money, Registry, Side, StrategyId, Trade};
use serde::Deserialize;

use super::intent::{IntentBuf, Strategy, StrategyStats};
use super::leg::{
    BuildError, Ctx, ExecParams, IdGen, Leg, Protect, close, enter, lots_for_notional, ms_to_ns,
    pct_to_ppm, resolve,
};
use super::signals::Signals;
use super::stats::{Ring, adf_t, eg_critical_5pct, ols};

/// Why the `statarb` strategy trades (stable numbers).
#[repr(u16)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatArbReason {
    /// Spread rich (`z ≥ entry_z`): sell y, buy x.
    ShortSpread = 401,
    /// Spread cheap (`z ≤ −entry_z`): buy y, sell x.
    LongSpread = 402,
    /// Reverted inside `exit_z`.
    ExitRevert = 410,
    /// Diverged beyond `stop_z`.
    ExitStopZ = 411,
    /// A leg reached its stop.
    ExitLegStop = 412,
    /// Held for the maximum time.
    ExitMaxHold = 413,
    /// One leg open alone.
    ExitUnhedged = 414,
}

impl StatArbReason {
    /// All reasons, in code order.
    pub const ALL: [StatArbReason; 7] = [
        StatArbReason::ShortSpread,
        StatArbReason::LongSpread,
        StatArbReason::ExitRevert,
        StatArbReason::ExitStopZ,
        StatArbReason::ExitLegStop,
        StatArbReason::ExitMaxHold,
        StatArbReason::ExitUnhedged,
    ];

    /// The reason of a code.
    pub fn from_u16(code: u16) -> Option<StatArbReason> {
        Self::ALL.into_iter().find(|r| *r as u16 == code)
    }
}

/// Configuration of the `statarb` strategy (serde; every field defaulted).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatArbConfig {
    /// Run it at all.
    pub enabled: bool,
    /// Venue of both legs.
    pub venue: String,
    /// The dependent leg (`ln y = a + b·ln x`).
    pub y_symbol: String,
    /// The regressor leg.
    pub x_symbol: String,
    /// Notional of the y leg per entry (quote units); the x leg gets `|b|` times it.
    pub notional: f64,
    /// Minimum time between two entries (ms).
    pub cooldown_ms: i64,
    /// A working order with no fill after this long is given up (ms).
    pub pending_timeout_ms: i64,
    /// Market orders are capped this far beyond the touch (bps).
    pub max_slippage_bps: f64,
    /// Sampling period of the pair (ms).
    pub sample_ms: i64,
    /// Samples in the regression window.
    pub window: usize,
    /// Samples needed before fitting.
    pub min_samples: usize,
    /// Lagged differences in the ADF regression (0..=4).
    pub adf_lag: usize,
    /// Trade only while the Engle–Granger test rejects at 5 %.
    pub require_cointegration: bool,
    /// Enter beyond this |z|.
    pub entry_z: f64,
    /// Exit inside this |z|.
    pub exit_z: f64,
    /// Exit beyond this |z| (divergence stop).
    pub stop_z: f64,
    /// Stop of each leg from its touch (%), also given to risk.
    pub stop_pct: f64,
    /// Maximum holding time (ms).
    pub max_hold_ms: i64,
    /// The two mids must be at most this far apart in time (ms).
    pub stale_ms: i64,
}

impl Default for StatArbConfig {
    fn default() -> StatArbConfig {
        StatArbConfig {
            enabled: true,
            venue: "binance-spot".into(),
            y_symbol: "ETHUSDT".into(),
            x_symbol: "BTCUSDT".into(),
            notional: 1_000.0,
            cooldown_ms: 60_000,
            pending_timeout_ms: 5_000,
            max_slippage_bps: 10.0,
            sample_ms: 1_000,
            window: 300,
            min_samples: 120,
            adf_lag: 1,
            require_cointegration: true,
            entry_z: 2.0,
            exit_z: 0.5,
            stop_z: 4.0,
            stop_pct: 2.0,
            max_hold_ms: 2 * 3_600_000,
            stale_ms: 500,
        }
    }
}

/// The last fit of the pair.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PairFit {
    /// Intercept.
    pub a: f64,
    /// Hedge ratio.
    pub b: f64,
    /// Residual standard deviation.
    pub sd: f64,
    /// ADF t-statistic of the residuals.
    pub adf_t: f64,
    /// MacKinnon 5 % critical value used.
    pub critical: f64,
    /// `adf_t < critical`.
    pub cointegrated: bool,
    /// Samples in the fit.
    pub n: usize,
}

/// The `statarb` strategy.
///
/// **Memory.** Rings allocated at construction; `on_*` never allocate. A refit (once per
/// sample) costs O(`window`).
#[derive(Debug)]
pub struct StatArbStrategy {
    cfg: StatArbConfig,
    ex: ExecParams,
    stop_ppm: i64,
    sample_ns: i64,
    stale_ns: i64,
    max_hold_ns: i64,
    ids: IdGen,
    /// `[y, x]`.
    legs: [Leg; 2],
    /// Last (mid ticks, bid, ask, ts) of each leg.
    last: [Option<(f64, crpbot_core::Px, crpbot_core::Px, i64)>; 2],
    /// Each leg updated since the last sample.
    updated: [bool; 2],
    ly: Ring,
    lx: Ring,
    next_sample_ns: Option<i64>,
    fit: Option<PairFit>,
    z: Option<f64>,
    stats: StrategyStats,
}

impl StatArbStrategy {
    /// Builds the strategy.
    ///
    /// # Errors
    /// [`BuildError`] for an unknown venue or symbol, or a parameter out of range.
    pub fn new(
        cfg: &StatArbConfig,
        id: StrategyId,
        registry: &Registry,
    ) -> Result<Self, BuildError> {
        let insts = resolve(registry, &cfg.venue, &[cfg.y_symbol.clone(), cfg.x_symbol.clone()])?;
        let (y, x) = (insts[0], insts[1]);
        if y.id == x.id
            || cfg.window < 10
            || cfg.min_samples < 10
            || cfg.min_samples > cfg.window
            || cfg.adf_lag > super::stats::MAX_ADF_LAG
            || cfg.sample_ms <= 0
            || !(cfg.exit_z >= 0.0 && cfg.entry_z > cfg.exit_z && cfg.stop_z > cfg.entry_z)
        {
            return Err(BuildError::Invalid("statarb parameters"));
        }
        Ok(StatArbStrategy {
            ex: ExecParams::new(
                cfg.notional,
                cfg.cooldown_ms,
                cfg.pending_timeout_ms,
                cfg.max_slippage_bps,
            )?,
            stop_ppm: pct_to_ppm(cfg.stop_pct, "stop_pct")?,
            sample_ns: ms_to_ns(cfg.sample_ms, "sample_ms")?,
            stale_ns: ms_to_ns(cfg.stale_ms, "stale_ms")?,
            max_hold_ns: ms_to_ns(cfg.max_hold_ms, "max_hold_ms")?,
            ids: IdGen::new(id),
            legs: [Leg::new(y), Leg::new(x)],
            last: [None; 2],
            updated: [false; 2],
            ly: Ring::new(cfg.window),
            lx: Ring::new(cfg.window),
            next_sample_ns: None,
            fit: None,
            z: None,
            stats: StrategyStats::default(),
            cfg: cfg.clone(),
        })
    }

    /// The last fit.
    pub fn fit(&self) -> Option<PairFit> {
        self.fit
    }

    /// The last z-score.
    pub fn z(&self) -> Option<f64> {
        self.z
    }

    fn refit(&mut self) {
        let n = self.ly.len();
        let pairs = (0..n).filter_map(|i| Some((self.lx.get(i)?, self.ly.get(i)?)));
        let Some((a, b)) = ols(pairs.clone()) else {
            self.fit = None;
            return;
        };
        let resid = pairs.map(move |(x, y)| y - a - b * x);
        let var = resid.clone().map(|e| e * e).sum::<f64>() / n as f64;
        let sd = var.sqrt();
        let t = adf_t(resid, n, self.cfg.adf_lag);
        self.fit = match t {
            Some(t) if sd > 0.0 && sd.is_finite() => {
                let critical = eg_critical_5pct((n - 1) as f64);
                Some(PairFit { a, b, sd, adf_t: t, critical, cointegrated: t < critical, n })
            }
            _ => None,
        };
    }

    /// Exits every open leg.
    fn close_all(&mut self, out: &mut IntentBuf, ts_ns: i64, reason: StatArbReason) {
        for (leg, last) in self.legs.iter_mut().zip(self.last) {
            let Some((_, bid, ask, _)) = last else { continue };
            if leg.pos == 0 || leg.busy() {
                continue;
            }
            let mut c = Ctx {
                ids: &mut self.ids,
                ex: &self.ex,
                stats: &mut self.stats,
                out: &mut *out,
                ts_ns,
                bid,
                ask,
            };
            close(leg, &mut c, reason as u16);
        }
    }
}

impl Strategy for StatArbStrategy {
    fn on_book(
        &mut self,
        id: InstrumentId,
        _book: &Book,
        sig: &Signals,
        ts_ns: i64,
        out: &mut IntentBuf,
    ) {
        let k = if id == self.legs[0].inst.id {
            0
        } else if id == self.legs[1].inst.id {
            1
        } else {
            return;
        };
        let (Some(bid), Some(ask), Some(mid)) = (sig.bid, sig.ask, sig.mid) else { return };
        if mid <= 0.0 {
            return;
        }
        self.last[k] = Some((mid, bid.px, ask.px, ts_ns));
        self.updated[k] = true;
        let (Some(y), Some(x)) = (self.last[0], self.last[1]) else { return };
        let fresh = (y.3 - x.3).abs() <= self.stale_ns;
        if fresh && self.updated == [true; 2] && self.next_sample_ns.is_none_or(|t| ts_ns >= t) {
            self.updated = [false; 2];
            self.next_sample_ns =
                Some((ts_ns.div_euclid(self.sample_ns) + 1).saturating_mul(self.sample_ns));
            self.ly.push(y.0.ln());
            self.lx.push(x.0.ln());
            if self.ly.len() >= self.cfg.min_samples {
                self.refit();
            }
        }
        self.z = match self.fit {
            Some(f) if fresh => Some((y.0.ln() - f.a - f.b * x.0.ln()) / f.sd),
            _ => None,
        }
        .filter(|z| z.is_finite());
        for leg in &mut self.legs {
            leg.expire(ts_ns, &self.ex, &mut self.stats);
        }
        if self.legs.iter().any(Leg::busy) {
            return;
        }
        let (py, px) = (self.legs[0].pos, self.legs[1].pos);
        if py != 0 || px != 0 {
            let stopped = self
                .legs
                .iter()
                .zip([y, x])
                .any(|(l, t)| l.protect(t.1, t.2, ts_ns, 0) == Some(Protect::Stop));
            let held = ts_ns.saturating_sub(self.legs[0].entry_ts_ns.max(self.legs[1].entry_ts_ns));
            let reason = if (py == 0) != (px == 0) {
                Some(StatArbReason::ExitUnhedged)
            } else if stopped {
                Some(StatArbReason::ExitLegStop)
            } else if self.max_hold_ns > 0 && held >= self.max_hold_ns {
                Some(StatArbReason::ExitMaxHold)
            } else {
                match self.z {
                    Some(z) if z.abs() <= self.cfg.exit_z => Some(StatArbReason::ExitRevert),
                    Some(z) if z.abs() >= self.cfg.stop_z => Some(StatArbReason::ExitStopZ),
                    _ => None,
                }
            };
            if let Some(r) = reason {
                self.close_all(out, ts_ns, r);
            }
            return;
        }
        let (Some(z), Some(f)) = (self.z, self.fit) else { return };
        if (self.cfg.require_cointegration && !f.cointegrated) || !fresh {
            return;
        }
        let (side_y, reason) = if z.abs() >= self.cfg.stop_z {
            return;
        } else if z >= self.cfg.entry_z {
            (Side::Sell, StatArbReason::ShortSpread)
        } else if z <= -self.cfg.entry_z {
            (Side::Buy, StatArbReason::LongSpread)
        } else {
            return;
        };
        let side_x = if f.b > 0.0 { side_y.opposite() } else { side_y };
        let notional_x = Money::from_f64(self.ex.notional.to_f64() * f.b.abs());
        // Both legs or neither: check room, cooldown and sizes before emitting.
        if out.remaining() < 2 {
            self.stats.buffer_full += 1;
            return;
        }
        if !self.legs.iter().all(|l| l.cooled(ts_ns, &self.ex)) {
            self.stats.cooled_down += 1;
            return;
        }
        let touch = |side: Side, t: (f64, crpbot_core::Px, crpbot_core::Px, i64)| {
            if side == Side::Buy { t.2 } else { t.1 }
        };
        let qy = lots_for_notional(&self.legs[0].inst, touch(side_y, y), self.ex.notional);
        let qx =
            notional_x.map_or(0, |n| lots_for_notional(&self.legs[1].inst, touch(side_x, x), n));
        if qy <= 0 || qx <= 0 {
            self.stats.zero_size += 1;
            return;
        }
        for (i, (side, t, n)) in
            [(side_y, y, None), (side_x, x, notional_x)].into_iter().enumerate()
        {
            let mut c = Ctx {
                ids: &mut self.ids,
                ex: &self.ex,
                stats: &mut self.stats,
                out: &mut *out,
                ts_ns,
                bid: t.1,
                ask: t.2,
            };
            enter(&mut self.legs[i], &mut c, side, n, self.stop_ppm, 0, reason as u16);
        }
    }

    fn on_trade(&mut self, _t: &Trade, _sig: &Signals, _out: &mut IntentBuf) {}

    fn on_fill(&mut self, f: &Fill) {
        if f.strategy != self.ids.sid() {
            return;
        }
        if let Some(leg) = self.legs.iter_mut().find(|l| l.inst.id == f.instrument) {
            self.stats.fills += 1;
            leg.on_fill(f);
        }
    }

    fn name(&self) -> &'static str {
        "statarb"
    }

    fn id(&self) -> StrategyId {
        self.ids.sid()
    }

    fn stats(&self) -> StrategyStats {
        self.stats
    }

    fn position(&self, id: InstrumentId) -> i64 {
        self.legs.iter().find(|l| l.inst.id == id).map_or(0, |l| l.pos)
    }
}
