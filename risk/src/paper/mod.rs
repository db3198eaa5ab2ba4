//! The paper venue: fills accepted orders against the live book.
//!
//! * **Latency.** An order submitted at `intent.ts_ns` goes live at `ts_ns + latency_ns`, at
//!   the first [`PaperVenue::on_book`] of its instrument at or after that time, against the
//!   book as it is then. `submit` itself never fills (to model zero latency, call `on_book`
//!   again after submitting).
//! * **Taking.** A marketable order walks the opposite side level by level (one [`Fill`] per
//!   level), capped by its limit price (or a market order's non-zero price cap); a market
//!   order's unfilled rest is cancelled (IOC), a limit order's rest joins the book. Taker fills
//!   pay `slippage_bps` on the level price (rounded to the worse tick) and the taker fee. The
//!   venue has no market impact: each taking order sees the whole book of the last update.
//! * **Resting and queue position.** A resting order joins the back of its level: the size
//!   ahead is the book's size at that price when it goes live. It decreases by public trades
//!   at that price; a level shrinking is assumed to be cancels *behind* us unless the level
//!   becomes smaller than the size ahead, which is then cut to the level (the worst case,
//!   hftbacktest's risk-averse model). Trade volume beyond the size ahead fills the order (as
//!   maker). A trade through the price, or the opposite touch crossing it, fills the rest.
//! * **Accounting.** Positions per strategy × instrument ([`Position`]: average cost, exact
//!   integer [`Money`]), fees, balance, equity (longs at the bid, shorts at the ask), an
//!   equity curve sampled every `equity_sample_ns`, and the list of round trips
//!   ([`ClosedTrade`]) for [`crate::metrics`].
//!
//! No allocation per event: fills go into a caller-provided `Vec` (reserve its capacity), and
//! the order table, equity curve and trade list are preallocated; growing past their capacity
//! allocates and is counted in [`PaperStats`].

mod exec;

use crpbot_core::{
    ClientOrderId, Fill, Instrument, InstrumentId, IntentAction, Money, OrderIntent, Px, Side,
    StrategyId,
};
use serde::Serialize;

use crate::ledger::Position;

/// Paper venue settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PaperConfig {
    /// Starting equity.
    pub initial_equity: Money,
    /// Strategies are `StrategyId(0..n_strategies)`.
    pub n_strategies: u16,
    /// Order-entry latency (default 0).
    pub latency_ns: i64,
    /// Maker fee in parts per million of notional (default 1000 = 0.1 %; negative = rebate).
    pub maker_fee_ppm: i64,
    /// Taker fee in parts per million (default 1000 = 0.1 %).
    pub taker_fee_ppm: i64,
    /// Slippage added to taker fills, in basis points of the level price (default 0).
    pub slippage_bps: i64,
    /// Equity curve sampling period (default 1 s).
    pub equity_sample_ns: i64,
    /// Working orders held without growing (default 1024).
    pub order_capacity: usize,
    /// Equity samples held without growing (default 1,000,000).
    pub equity_capacity: usize,
    /// Round trips held without growing (default 100,000).
    pub trade_capacity: usize,
}

impl Default for PaperConfig {
    fn default() -> PaperConfig {
        PaperConfig {
            initial_equity: Money::from_units(100_000),
            n_strategies: 16,
            latency_ns: 0,
            maker_fee_ppm: 1000,
            taker_fee_ppm: 1000,
            slippage_bps: 0,
            equity_sample_ns: 1_000_000_000,
            order_capacity: 1024,
            equity_capacity: 1_000_000,
            trade_capacity: 100_000,
        }
    }
}

/// One completed round trip (flat → position → flat, or up to a flip).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ClosedTrade {
    /// Strategy id.
    pub strategy: u16,
    /// Instrument id.
    pub instrument: u16,
    /// +1 long, −1 short.
    pub direction: i8,
    /// First fill time.
    pub open_ts_ns: i64,
    /// Closing fill time.
    pub close_ts_ns: i64,
    /// Realized PnL before fees, in 10⁻⁸ quote units.
    pub gross: i64,
    /// Fees paid over the round trip.
    pub fees: i64,
    /// `gross − fees`.
    pub net: i64,
}

/// Counters of a [`PaperVenue`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PaperStats {
    /// Fills produced.
    pub fills: u64,
    /// Submissions refused ([`SubmitError`]).
    pub refused: u64,
    /// Market-order remainders cancelled for lack of liquidity.
    pub ioc_cancelled: u64,
    /// Times a preallocated table grew (each is an allocation).
    pub grows: u64,
}

/// Why the paper venue refused a submission.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// Unknown instrument or strategy, or a non-positive size.
    #[error("invalid order")]
    Invalid,
    /// The client id is already working.
    #[error("duplicate client id")]
    Duplicate,
    /// Modify or cancel of an order that is not working.
    #[error("unknown order")]
    Unknown,
}

/// Where an order is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Submitted, live at `live_ts_ns`.
    Pending,
    /// Resting on the book.
    Resting,
}

#[derive(Clone, Copy, Debug)]
struct PaperOrder {
    it: OrderIntent,
    remaining: i64,
    live_ts_ns: i64,
    queue_ahead: i64,
    stage: Stage,
}

/// An open round trip of one slot.
#[derive(Clone, Copy, Debug, Default)]
struct OpenTrade {
    open_ts_ns: i64,
    gross: i64,
    fees: i64,
}

/// The paper venue. See the module docs for the fill model.
#[derive(Debug)]
pub struct PaperVenue {
    cfg: PaperConfig,
    instruments: Vec<Instrument>,
    n_inst: usize,
    n_strat: usize,
    orders: Vec<PaperOrder>,
    slots: Vec<Position>,
    open: Vec<OpenTrade>,
    marks: Vec<(Px, Px)>,
    balance: Money,
    fees_paid: Money,
    curve: Vec<(i64, Money)>,
    next_sample_ns: i64,
    trades: Vec<ClosedTrade>,
    closed: Vec<ClientOrderId>,
    stats: PaperStats,
}

impl PaperVenue {
    /// A venue for `instruments` (dense ids from 0).
    ///
    /// # Examples
    /// ```
    /// use crpbot_core::{Money, Registry};
    /// use crpbot_risk::{PaperConfig, PaperVenue};
    /// let insts: Vec<_> = Registry::with_defaults().iter().copied().collect();
    /// let venue = PaperVenue::new(PaperConfig::default(), &insts);
    /// assert_eq!(venue.equity(), Money::from_units(100_000));
    /// ```
    pub fn new(cfg: PaperConfig, instruments: &[Instrument]) -> PaperVenue {
        let n_inst = instruments.len();
        let n_strat = usize::from(cfg.n_strategies);
        PaperVenue {
            cfg,
            instruments: instruments.to_vec(),
            n_inst,
            n_strat,
            orders: Vec::with_capacity(cfg.order_capacity),
            slots: vec![Position::default(); n_inst * n_strat],
            open: vec![OpenTrade::default(); n_inst * n_strat],
            marks: vec![(Px(0), Px(0)); n_inst],
            balance: cfg.initial_equity,
            fees_paid: Money::ZERO,
            curve: Vec::with_capacity(cfg.equity_capacity),
            next_sample_ns: i64::MIN,
            trades: Vec::with_capacity(cfg.trade_capacity),
            closed: Vec::with_capacity(cfg.order_capacity),
            stats: PaperStats::default(),
        }
    }

    /// Submits an accepted intent: a new order goes pending until `ts_ns + latency`; a modify
    /// replaces price and size (a price change or a size increase re-queues the order, with
    /// the latency; a pure size decrease keeps its place); a cancel removes the order now.
    pub fn submit(&mut self, it: &OrderIntent) -> Result<(), SubmitError> {
        let r = self.submit_inner(it);
        if r.is_err() {
            self.stats.refused += 1;
        }
        r
    }

    fn submit_inner(&mut self, it: &OrderIntent) -> Result<(), SubmitError> {
        match it.action {
            IntentAction::Cancel => {
                if self.cancel(it.client_id) {
                    Ok(())
                } else {
                    Err(SubmitError::Unknown)
                }
            }
            IntentAction::Modify => {
                let k = self.find(it.client_id).ok_or(SubmitError::Unknown)?;
                if it.qty.0 <= 0 {
                    return Err(SubmitError::Invalid);
                }
                let o = &mut self.orders[k];
                let requeue = it.px != o.it.px || it.qty.0 > o.remaining;
                o.it.px = it.px;
                o.remaining = it.qty.0;
                o.it.qty = it.qty;
                if requeue {
                    o.stage = Stage::Pending;
                    o.live_ts_ns = it.ts_ns.saturating_add(self.cfg.latency_ns);
                }
                Ok(())
            }
            IntentAction::New => {
                if it.instrument.index() >= self.n_inst
                    || usize::from(it.strategy.0) >= self.n_strat
                    || it.qty.0 <= 0
                    || it.px.0 < 0
                {
                    return Err(SubmitError::Invalid);
                }
                if self.find(it.client_id).is_some() {
                    return Err(SubmitError::Duplicate);
                }
                if self.orders.len() == self.orders.capacity() {
                    self.stats.grows += 1;
                }
                self.orders.push(PaperOrder {
                    it: *it,
                    remaining: it.qty.0,
                    live_ts_ns: it.ts_ns.saturating_add(self.cfg.latency_ns),
                    queue_ahead: 0,
                    stage: Stage::Pending,
                });
                Ok(())
            }
        }
    }

    /// Cancels a working order now; `false` if it is not working.
    pub fn cancel(&mut self, id: ClientOrderId) -> bool {
        match self.find(id) {
            Some(k) => {
                self.orders.swap_remove(k);
                true
            }
            None => false,
        }
    }

    fn find(&self, id: ClientOrderId) -> Option<usize> {
        self.orders.iter().position(|o| o.it.client_id == id)
    }

    /// True when `id` is working (pending or resting).
    pub fn is_working(&self, id: ClientOrderId) -> bool {
        self.find(id).is_some()
    }

    /// Size ahead of a resting order in its queue (`None` if not resting).
    pub fn queue_ahead(&self, id: ClientOrderId) -> Option<i64> {
        self.find(id)
            .map(|k| self.orders[k])
            .filter(|o| o.stage == Stage::Resting)
            .map(|o| o.queue_ahead)
    }

    /// Remaining size of a working order.
    pub fn remaining(&self, id: ClientOrderId) -> Option<i64> {
        self.find(id).map(|k| self.orders[k].remaining)
    }

    /// The position of `strategy` in `instrument`.
    pub fn position(&self, strategy: StrategyId, instrument: InstrumentId) -> Position {
        let (s, i) = (usize::from(strategy.0), instrument.index());
        if s < self.n_strat && i < self.n_inst {
            self.slots[s * self.n_inst + i]
        } else {
            Position::default()
        }
    }

    /// Initial equity + realized PnL − fees.
    pub fn balance(&self) -> Money {
        self.balance
    }

    /// Total fees paid.
    pub fn fees_paid(&self) -> Money {
        self.fees_paid
    }

    /// Open PnL of every position at its liquidation side (longs at the bid, shorts at the
    /// ask of the last book seen).
    pub fn unrealized(&self) -> Money {
        let mut u = 0i64;
        for (k, p) in self.slots.iter().enumerate() {
            if p.qty != 0 {
                let i = k % self.n_inst;
                let (bid, ask) = self.marks[i];
                u += p.unrealized(&self.instruments[i], bid, ask).map_or(0, |m| m.0);
            }
        }
        Money(u)
    }

    /// Balance plus open PnL.
    pub fn equity(&self) -> Money {
        Money(self.balance.0 + self.unrealized().0)
    }

    /// The sampled equity curve: `(ts_ns, equity)`.
    pub fn equity_curve(&self) -> &[(i64, Money)] {
        &self.curve
    }

    /// Completed round trips, in closing order.
    pub fn closed_trades(&self) -> &[ClosedTrade] {
        &self.trades
    }

    /// Moves the ids of orders the venue ended without a final fill (market-order remainders
    /// cancelled for lack of liquidity) into `out`, for the breaker's
    /// `RiskEngine::on_order_closed`. Returns how many.
    pub fn drain_closed(&mut self, out: &mut Vec<ClientOrderId>) -> usize {
        let n = self.closed.len();
        out.extend_from_slice(&self.closed);
        self.closed.clear();
        n
    }

    /// Counters.
    pub fn stats(&self) -> PaperStats {
        self.stats
    }

    /// The venue's settings.
    pub fn config(&self) -> &PaperConfig {
        &self.cfg
    }

    /// Books a fill: position, balance, fees, round trips; appends it to `out`.
    fn book_fill(&mut self, f: Fill, out: &mut Vec<Fill>) {
        let s = usize::from(f.strategy.0) * self.n_inst + f.instrument.index();
        let inst = self.instruments[f.instrument.index()];
        let before = self.slots[s].qty;
        let Some(pnl) = self.slots[s].apply(&inst, f.side, f.px, f.qty, f.fee) else {
            return;
        };
        let after = self.slots[s].qty;
        self.balance.0 += pnl.0 - f.fee.0;
        self.fees_paid.0 += f.fee.0;
        let t = &mut self.open[s];
        if before == 0 {
            *t = OpenTrade { open_ts_ns: f.ts_ns, gross: 0, fees: 0 };
        }
        t.gross += pnl.0;
        t.fees += f.fee.0;
        if before != 0 && (after == 0 || (after > 0) != (before > 0)) {
            let done = *t;
            if self.trades.len() == self.trades.capacity() {
                self.stats.grows += 1;
            }
            self.trades.push(ClosedTrade {
                strategy: f.strategy.0,
                instrument: f.instrument.0,
                direction: if before > 0 { 1 } else { -1 },
                open_ts_ns: done.open_ts_ns,
                close_ts_ns: f.ts_ns,
                gross: done.gross,
                fees: done.fees,
                net: done.gross - done.fees,
            });
            *t = OpenTrade { open_ts_ns: f.ts_ns, gross: 0, fees: 0 };
        }
        if out.len() == out.capacity() {
            self.stats.grows += 1;
        }
        out.push(f);
        self.stats.fills += 1;
    }

    /// Fee of `ppm` on a fill's notional, rounded half away from zero.
    fn fee(&self, inst: &Instrument, px: Px, qty: i64, ppm: i64) -> Money {
        let n = Money::notional(inst, px, crpbot_core::Qty(qty)).unwrap_or(Money::ZERO);
        Money(crate::ledger::mul_div_round(n.0, ppm, 1_000_000).unwrap_or(0))
    }

    /// Samples the equity curve when a period has passed.
    fn sample(&mut self, ts_ns: i64) {
        if ts_ns >= self.next_sample_ns {
            let eq = self.equity();
            if self.curve.len() == self.curve.capacity() {
                self.stats.grows += 1;
            }
            self.curve.push((ts_ns, eq));
            let p = self.cfg.equity_sample_ns.max(1);
            self.next_sample_ns = ts_ns - ts_ns.rem_euclid(p) + p;
        }
    }
}

fn side_sign(side: Side) -> i64 {
    side.sign()
}
