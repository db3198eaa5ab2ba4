//! The trading path of a replay: fast strategies → inline circuit breaker → paper venue.
//!
//! Every intent passes `RiskEngine::check`; only accepted intents reach the paper venue. Fills
//! go back to the risk engine and to the strategies. With a journal, every intent (after the
//! signals it was decided on), verdict and fill (followed by the position it changed and the
//! account's equity) is recorded. Time is the replayed local receive time, so a run is deterministic.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use crpbot_core::{
    BookState, ClientOrderId, EquitySnapshot, Fill, OrderIntent, PositionSnapshot, Registry,
    RiskVerdict, SignalRecord, StrategyId, Trade,
};
use crpbot_feeds::replay::Published;
use crpbot_risk::metrics::Report;
use crpbot_risk::{
    MarketCtx, OperatorToken, PaperConfig, PaperVenue, RiskConfig, RiskEngine, VerdictCode,
};
use crpbot_strategies::fast::{FastConfig, FastLane, IntentBuf, STRATEGY_OFFSETS, reason_name};
use serde::Serialize;

/// Where the trading path's decisions go (the journal, directly or through a ring).
pub trait RecordSink {
    /// An order intent, before its verdict.
    fn intent(&mut self, i: &OrderIntent);
    /// A risk verdict.
    fn verdict(&mut self, v: &RiskVerdict);
    /// A fill.
    fn fill(&mut self, f: &Fill);
    /// The signals an intent was decided on (just before the intent).
    fn signal(&mut self, s: &SignalRecord);
    /// A position after a fill changed it.
    fn position(&mut self, p: &PositionSnapshot);
    /// The account after the fills of one event.
    fn equity(&mut self, e: &EquitySnapshot);
    /// Called between the strategies and the risk checks of one event (latency stamps).
    #[inline]
    fn signalled(&mut self) {}
}

/// The four fast strategies, in `StrategyId` order.
pub const STRATEGY_NAMES: [&str; 4] = ["ofi", "scalp", "meanrev", "statarb"];

/// Codes are `u16`; counts by code live in fixed arrays on the decision path and become named
/// maps only in the report.
const CODE_SLOTS: usize = 1024;

/// Strategy ids counted per reason: the fast four (0–3) and the external lanes (the swing lane
/// is 8); an id past this is counted in the totals only.
const STRATEGY_SLOTS: usize = 16;

/// The report name of a strategy id: the fast four, `swing` for the swing lane's orders.
pub fn strategy_name(id: u16) -> &'static str {
    match STRATEGY_NAMES.get(usize::from(id)) {
        Some(name) => name,
        None if StrategyId(id) == crate::swing_lane::SWING_STRATEGY => "swing",
        None => "other",
    }
}

/// Reason names of the fast strategies and of the swing lane's orders.
fn any_reason_name(code: u16) -> Option<&'static str> {
    match code {
        crate::swing_lane::REASON_LONG => Some("swing.long"),
        crate::swing_lane::REASON_SHORT => Some("swing.short"),
        _ => reason_name(code),
    }
}

/// Counters of a trading run (the report's view).
#[derive(Clone, Debug, Default, Serialize)]
pub struct TradeCounters {
    /// Intents the strategies emitted.
    pub intents: u64,
    /// Intents the circuit breaker accepted.
    pub accepted: u64,
    /// Rejections per verdict code name.
    pub rejected: BTreeMap<String, u64>,
    /// Intents per strategy and reason name.
    pub intents_by_reason: BTreeMap<String, u64>,
    /// Fills.
    pub fills: u64,
    /// Accepted intents the paper venue refused.
    pub venue_refused: u64,
    /// Whether trading ended halted.
    pub halted: bool,
}

/// A trader's state in a few integers (`Money` units of 1e-8), for status lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TraderStatus {
    /// Equity including open positions.
    pub equity: i64,
    /// Fees paid.
    pub fees: i64,
    /// Intents emitted.
    pub intents: u64,
    /// Intents accepted by the breaker.
    pub accepted: u64,
    /// Fills.
    pub fills: u64,
    /// Round trips closed.
    pub closed_trades: u64,
    /// Whether the breaker is halted.
    pub halted: bool,
    /// Per strategy (in [`STRATEGY_NAMES`] order).
    pub per_strategy: [StrategyStatus; 4],
}

/// One strategy's state, for status lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StrategyStatus {
    /// Intents emitted.
    pub intents: u64,
    /// Instruments with an open position.
    pub open_positions: u32,
    /// Round trips closed.
    pub round_trips: u32,
    /// Realized PnL net of fees (`Money`).
    pub net_pnl: i64,
}

/// Strategies, risk and the paper venue, driven by a replay.
pub struct Trader {
    lane: FastLane,
    risk: RiskEngine,
    operator: OperatorToken,
    paper: PaperVenue,
    intents: IntentBuf,
    fills: Vec<Fill>,
    closed: Vec<ClientOrderId>,
    halt_orders: Vec<OrderIntent>,
    counters: TradeCounters,
    /// Rejections by verdict code (decision path: no allocation).
    rejected_by_code: Vec<u64>,
    /// Intents by strategy and reason code (decision path: no allocation).
    intents_by_code: Vec<[u64; CODE_SLOTS]>,
    initial_equity: i64,
    instrument_ids: Vec<crpbot_core::InstrumentId>,
    /// The last published touch of each instrument (by index).
    touches: Vec<MarketCtx>,
}

/// The context of an instrument never published: no prices, stale.
const NO_TOUCH: MarketCtx = MarketCtx {
    now_ns: 0,
    book_ts_ns: 0,
    bid: crpbot_core::Px(0),
    ask: crpbot_core::Px(0),
    state: BookState::Stale,
};

impl std::fmt::Debug for Trader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trader").field("counters", &self.counters).finish_non_exhaustive()
    }
}

impl Trader {
    /// The strategies named in `selected` (from [`STRATEGY_NAMES`]) on a base configuration
    /// (`FastConfig::default()`, or `FastConfig::for_sim()` on the simulator).
    pub fn with_config(
        registry: &Registry,
        selected: &[String],
        start_ns: i64,
        base: FastConfig,
    ) -> anyhow::Result<Trader> {
        for s in selected {
            if !STRATEGY_NAMES.contains(&s.as_str()) {
                bail!("unknown strategy {s:?} (one of {})", STRATEGY_NAMES.join(", "));
            }
        }
        let on = |name: &str| selected.iter().any(|s| s == name);
        let mut cfg = base;
        cfg.ofi.enabled = on("ofi");
        cfg.scalp.enabled = on("scalp");
        cfg.meanrev.enabled = on("meanrev");
        cfg.statarb.enabled = on("statarb");
        let lane = FastLane::new(&cfg, registry, StrategyId(0)).context("building strategies")?;
        let risk_cfg = RiskConfig {
            fast_strategies: STRATEGY_OFFSETS.iter().map(|&(_, o)| o).collect(),
            ..RiskConfig::default()
        };
        let instruments: Vec<_> = registry.iter().copied().collect();
        let (risk, operator) = RiskEngine::new(&risk_cfg, &instruments, start_ns)
            .context("building the risk engine")?;
        let paper = PaperVenue::new(PaperConfig::default(), &instruments);
        let initial_equity = paper.equity().0;
        Ok(Trader {
            lane,
            risk,
            operator,
            paper,
            intents: IntentBuf::new(),
            fills: Vec::with_capacity(1024),
            closed: Vec::with_capacity(1024),
            halt_orders: Vec::with_capacity(1024),
            counters: TradeCounters::default(),
            rejected_by_code: vec![0; CODE_SLOTS],
            intents_by_code: vec![[0; CODE_SLOTS]; STRATEGY_SLOTS],
            initial_equity,
            instrument_ids: registry.iter().map(|i| i.id).collect(),
            touches: vec![NO_TOUCH; registry.len()],
        })
    }

    /// A published, valid book.
    pub fn on_book(&mut self, p: &Published<'_>, journal: &mut impl RecordSink) {
        let id = p.depth.instrument;
        let book = &p.book.book;
        let now = p.book.ts_local_ns;
        if let (Some(b), Some(a)) = (book.best_bid(), book.best_ask()) {
            self.risk.on_mark(id, b.px, a.px, now);
        }
        self.fills.clear();
        self.paper.on_book(book, id, now, &mut self.fills);
        self.settle(journal);
        self.intents.clear();
        self.lane.on_book(id, book, p.depth.ts_exch_ns, &mut self.intents);
        journal.signalled();
        if let Some(t) = self.touches.get_mut(id.index()) {
            *t = MarketCtx::from_book(book, p.book.state, p.book.ts_local_ns, now);
        }
        self.decide(now, journal);
    }

    /// A trade.
    /// An order from outside the fast lane (the swing lane): checked by the same breaker
    /// against its instrument's last touch, journaled like every other intent.
    pub fn on_external(
        &mut self,
        intent: &OrderIntent,
        now_ns: i64,
        journal: &mut impl RecordSink,
    ) {
        self.intents.clear();
        let _ = self.intents.push(*intent);
        self.decide(now_ns, journal);
    }

    pub fn on_trade(&mut self, t: &Trade, journal: &mut impl RecordSink) {
        self.fills.clear();
        self.paper.on_trade(t, &mut self.fills);
        self.settle(journal);
        self.intents.clear();
        self.lane.on_trade(t, &mut self.intents);
        journal.signalled();
        self.decide(t.ts_local_ns, journal);
    }

    /// Checks every pending intent against the last touch of *its own* instrument (a pair
    /// strategy emits both legs on a book of one of them; the other leg must be marked and
    /// collared by its own book). An instrument never published has no touch: fail closed.
    fn decide(&mut self, now_ns: i64, journal: &mut impl RecordSink) {
        for intent in self.intents.as_slice() {
            let mut ctx = self.touches.get(intent.instrument.index()).copied().unwrap_or(NO_TOUCH);
            ctx.now_ns = now_ns;
            self.counters.intents += 1;
            if let Some(slot) = self
                .intents_by_code
                .get_mut(usize::from(intent.strategy.0))
                .and_then(|codes| codes.get_mut(usize::from(intent.reason)))
            {
                *slot += 1;
            }
            let verdict = self.risk.check(intent, &ctx);
            let accepted = verdict.is_accepted();
            journal.signal(&self.signal_record(intent));
            journal.intent(intent);
            journal.verdict(&RiskVerdict {
                ts_ns: ctx.now_ns,
                client_id: intent.client_id,
                instrument: intent.instrument,
                strategy: intent.strategy,
                code: verdict.code as u16,
                accepted,
                _pad: [0; 1],
            });
            if accepted {
                self.counters.accepted += 1;
                if self.paper.submit(intent).is_err() {
                    self.counters.venue_refused += 1;
                    self.risk.on_order_closed(intent.client_id);
                }
            } else {
                if let Some(slot) = self.rejected_by_code.get_mut(verdict.code as usize) {
                    *slot += 1;
                }
            }
        }
    }

    /// The signals of the intent's instrument as they stood at the decision.
    fn signal_record(&self, intent: &OrderIntent) -> SignalRecord {
        let s = self.lane.signals().get(intent.instrument).map(|s| s.signals());
        let f = |v: Option<f64>| SignalRecord::fixed(v);
        SignalRecord {
            ts_ns: intent.ts_ns,
            client_id: intent.client_id,
            microprice: f(s.and_then(|s| s.microprice)),
            imbalance: f(s.and_then(|s| s.imbalance)),
            ofi_norm: f(s.and_then(|s| s.ofi_norm)),
            vwap_dev_bps: f(s.and_then(|s| s.vwap_dev_bps)),
            instrument: intent.instrument,
            strategy: intent.strategy,
            reason: intent.reason,
            _pad: [0; 2],
        }
    }

    fn settle(&mut self, journal: &mut impl RecordSink) {
        for f in &self.fills {
            self.counters.fills += 1;
            journal.fill(f);
            let p = self.paper.position(f.strategy, f.instrument);
            journal.position(&PositionSnapshot {
                ts_ns: f.ts_ns,
                qty_lots: p.qty,
                cost: p.cost,
                realized: p.realized,
                fees: p.fees,
                instrument: f.instrument,
                strategy: f.strategy,
                _pad: [0; 4],
            });
            let _ = self.risk.on_fill(f);
            self.lane.on_fill(f);
        }
        if let Some(last) = self.fills.last() {
            journal.equity(&EquitySnapshot {
                ts_ns: last.ts_ns,
                equity: self.paper.equity(),
                fees: self.paper.fees_paid(),
                closed_trades: u32::try_from(self.paper.closed_trades().len()).unwrap_or(u32::MAX),
                open_positions: self.open_positions(),
                halted: self.risk.halted().is_some(),
                _pad: [0; 7],
            });
        }
        self.closed.clear();
        self.paper.drain_closed(&mut self.closed);
        for id in &self.closed {
            self.risk.on_order_closed(*id);
        }
        if self.risk.halted().is_some() {
            self.counters.halted = true;
            self.halt_orders.clear();
            if self.risk.take_halt_actions(0, &mut self.halt_orders) > 0 {
                for o in &self.halt_orders {
                    let _ = self.paper.submit(o);
                }
            }
        }
    }

    /// The kill switch of the circuit breaker (engage it from a control thread).
    pub fn kill_switch(&self) -> crpbot_risk::KillSwitch {
        self.risk.kill_switch()
    }

    /// Re-arms a halted breaker with the operator token this trader holds (refused while the
    /// kill switch is engaged or a loss floor is still breached).
    pub fn rearm(&mut self, now_ns: i64) -> Result<(), crpbot_risk::RearmError> {
        self.risk.rearm(&self.operator, now_ns)
    }

    /// A cheap summary for status lines: (equity, fees paid, intents, accepted, fills, halted).
    pub fn status(&self) -> TraderStatus {
        TraderStatus {
            equity: self.paper.equity().0,
            fees: self.paper.fees_paid().0,
            intents: self.counters.intents,
            accepted: self.counters.accepted,
            fills: self.counters.fills,
            closed_trades: self.paper.closed_trades().len() as u64,
            halted: self.risk.halted().is_some(),
            per_strategy: self.per_strategy(),
        }
    }

    /// Positions open, over every strategy id the report counts and every instrument.
    fn open_positions(&self) -> u32 {
        let mut n = 0u32;
        for k in 0..STRATEGY_SLOTS {
            let sid = StrategyId(k as u16);
            for &i in &self.instrument_ids {
                n += u32::from(self.paper.position(sid, i).qty != 0);
            }
        }
        n
    }

    fn per_strategy(&self) -> [StrategyStatus; 4] {
        let mut out = [StrategyStatus::default(); 4];
        for (k, st) in out.iter_mut().enumerate() {
            st.intents = self.intents_by_code.get(k).map_or(0, |c| c.iter().sum());
            let sid = StrategyId(k as u16);
            st.open_positions = self
                .instrument_ids
                .iter()
                .filter(|&&i| self.paper.position(sid, i).qty != 0)
                .count() as u32;
        }
        for t in self.paper.closed_trades() {
            if let Some(st) = out.get_mut(usize::from(t.strategy)) {
                st.round_trips += 1;
                st.net_pnl += t.net;
            }
        }
        out
    }

    /// The metrics report and the counters.
    pub fn report(&self) -> serde_json::Value {
        let mut counters = self.counters.clone();
        for (code, &n) in self.rejected_by_code.iter().enumerate() {
            if n > 0 {
                let name = u16::try_from(code)
                    .ok()
                    .and_then(VerdictCode::from_u16)
                    .map_or_else(|| format!("code_{code}"), |c| c.name().to_owned());
                counters.rejected.insert(name, n);
            }
        }
        for (strategy, codes) in self.intents_by_code.iter().enumerate() {
            for (code, &n) in codes.iter().enumerate() {
                if n > 0 {
                    let reason =
                        u16::try_from(code).ok().and_then(any_reason_name).unwrap_or("unknown");
                    let strategy = strategy_name(u16::try_from(strategy).unwrap_or(u16::MAX));
                    counters.intents_by_reason.insert(format!("{strategy}/{reason}"), n);
                }
            }
        }
        let report =
            Report::new(self.paper.closed_trades(), self.initial_equity, self.paper.equity_curve());
        serde_json::json!({
            "metrics": report,
            "counters": counters,
            "fees_paid": self.paper.fees_paid().to_f64(),
            "final_equity": self.paper.equity().to_f64(),
            "risk": format!("{:?}", self.risk.snapshot()),
        })
    }
}
