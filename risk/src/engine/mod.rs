//! The circuit breaker: [`RiskEngine`].

mod check;
mod state;

use crpbot_book::Book;
use crpbot_core::{
    BookState, ClientOrderId, Instrument, InstrumentId, Money, Px, Side, StrategyId,
};

use crate::bucket::TokenBucket;
use crate::code::{HaltCause, VerdictCode};
use crate::config::{self, DailyAnchor, DailyBase, RiskConfig, RiskConfigError};
use crate::idmap::IdMap;
use crate::ledger::{Position, frac_ppm};
use crate::operator::{KillSwitch, OperatorToken, RearmError};
use crate::prague::next_prague_midnight_ns;

/// Client ids at or above this are the engine's own flatten orders.
pub const FLATTEN_ID_BASE: u64 = 0xF000_0000_0000_0000;

/// What the breaker needs to know about the instrument's market at check time. Plain `Copy`
/// values so the check is independent of how the book is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MarketCtx {
    /// The caller's clock now (staleness, rate, duplicate window and day roll use it).
    pub now_ns: i64,
    /// When the book was last updated (local receive time).
    pub book_ts_ns: i64,
    /// Best bid (`Px(0)` when none).
    pub bid: Px,
    /// Best ask (`Px(0)` when none).
    pub ask: Px,
    /// The book's synchronisation state.
    pub state: BookState,
}

impl MarketCtx {
    /// The context of `book` as last updated at `book_ts_ns`, read at `now_ns`.
    ///
    /// # Examples
    /// ```
    /// use crpbot_book::Book;
    /// use crpbot_core::{BookState, Px, Qty, Side};
    /// use crpbot_risk::MarketCtx;
    /// let mut book = Book::default();
    /// book.set(Side::Buy, Px(100), Qty(1)).unwrap();
    /// let ctx = MarketCtx::from_book(&book, BookState::Synced, 5, 7);
    /// assert_eq!((ctx.bid, ctx.ask), (Px(100), Px(0))); // no ask: fails closed in check
    /// ```
    pub fn from_book(book: &Book, state: BookState, book_ts_ns: i64, now_ns: i64) -> MarketCtx {
        MarketCtx {
            now_ns,
            book_ts_ns,
            bid: book.best_bid().map_or(Px(0), |l| l.px),
            ask: book.best_ask().map_or(Px(0), |l| l.px),
            state,
        }
    }
}

/// A snapshot of the account as the breaker sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RiskSnapshot {
    /// Initial equity + realized PnL − fees.
    pub balance: Money,
    /// Open PnL at the liquidation side.
    pub unrealized: Money,
    /// `balance + unrealized`.
    pub equity: Money,
    /// Equity must stay at or above this today.
    pub daily_floor: Money,
    /// Equity must stay at or above this always.
    pub total_floor: Money,
    /// Next Prague midnight (UTC ns), when the daily floor is recomputed.
    pub next_day_ns: i64,
    /// Why the breaker is halted, if it is.
    pub halt: Option<HaltCause>,
    /// Working orders tracked.
    pub working_orders: u32,
}

/// Counters of verdicts by code (`count(code)`), fills and bad events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RiskCounters {
    by_code: [u64; 96],
    /// Fills whose instrument or strategy was unknown, or that overflowed.
    pub bad_fills: u64,
    /// Times an operator re-armed the breaker.
    pub rearms: u64,
    /// Halts latched.
    pub halts: u64,
}

impl RiskCounters {
    #[inline]
    fn slot(code: VerdictCode) -> usize {
        let c = code as usize;
        ((c / 100) * 16 + (c % 100)).min(95)
    }

    /// Verdicts issued with `code`.
    pub fn count(&self, code: VerdictCode) -> u64 {
        self.by_code[Self::slot(code)]
    }
}

/// Limits converted to integers at construction.
#[derive(Clone, Copy, Debug)]
struct Limits {
    initial: Money,
    trade_ppm: i64,
    fast_trade_ppm: i64,
    default_stop_bps: i64,
    fee_ppm: i64,
    position_ppm: i64,
    max_open: u32,
    fast_max_open: u32,
    daily_ppm: i64,
    daily_anchor: DailyAnchor,
    daily_base: DailyBase,
    total_floor: Money,
    max_order_notional: Money,
    collar_bps: i64,
    stale_ns: i64,
    dup_window_ns: i64,
    corr_ppm: i32,
}

/// Per strategy × instrument state.
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    pos: Position,
    work_buy: i64,
    work_sell: i64,
    reduce_buy: i64,
    reduce_sell: i64,
    flatten: i64,
    open: bool,
}

/// Per instrument (account-wide) state.
#[derive(Clone, Copy, Debug, Default)]
struct InstState {
    bid: Px,
    ask: Px,
    net: i64,
    work_buy: i64,
    work_sell: i64,
    open_buy: i64,
    open_sell: i64,
    long_qty: i64,
    long_cost: Money,
    short_qty: i64,
    short_cost: Money,
    unreal: Money,
}

/// A working order.
#[derive(Clone, Copy, Debug)]
struct Working {
    client_id: u64,
    px: Px,
    qty: i64,
    slot: u32,
    side: Side,
    reduce_only: bool,
    flatten: bool,
    cancel_pending: bool,
    used: bool,
}

/// An accepted new order remembered for duplicate detection.
#[derive(Clone, Copy, Debug, Default)]
struct Recent {
    client_id: u64,
    key: u64,
    ts_ns: i64,
    px: Px,
    qty: i64,
    instrument: u16,
    strategy: u16,
    side: u8,
    used: bool,
}

/// The inline circuit breaker every order intent passes before the venue.
///
/// All storage (per-instrument and per-strategy arrays, the working-order table, duplicate
/// memory) is allocated in [`RiskEngine::new`]; [`RiskEngine::check`] and the event methods
/// never allocate and make no syscalls. See the crate docs for the rules.
#[derive(Debug)]
pub struct RiskEngine {
    lim: Limits,
    instruments: Vec<Instrument>,
    n_inst: usize,
    n_strat: usize,
    fast: Vec<bool>,
    max_qty: Vec<i64>,
    corr: Vec<i32>,
    slots: Vec<Slot>,
    insts: Vec<InstState>,
    open_count: Vec<u32>,
    orders: Vec<Working>,
    free: Vec<u32>,
    by_id: IdMap,
    ring: Vec<Recent>,
    ring_next: usize,
    seen_ids: IdMap,
    seen_keys: IdMap,
    bucket: TokenBucket,
    balance: Money,
    unreal_total: Money,
    daily_floor: Money,
    next_day_ns: i64,
    halt: Option<HaltCause>,
    kill: KillSwitch,
    token_id: u64,
    flatten_seq: u64,
    counters: RiskCounters,
}

impl RiskEngine {
    /// A breaker for `instruments` (indexed by their ids, which must be dense from 0) starting
    /// at `start_ns`, and the one [`OperatorToken`] that can re-arm it.
    ///
    /// # Examples
    /// ```
    /// use crpbot_core::Registry;
    /// use crpbot_risk::{RiskConfig, RiskEngine};
    /// let reg = Registry::with_defaults();
    /// let insts: Vec<_> = reg.iter().copied().collect();
    /// let (engine, _token) = RiskEngine::new(&RiskConfig::default(), &insts, 1).unwrap();
    /// assert_eq!(engine.snapshot().equity.to_f64(), 100_000.0);
    /// ```
    pub fn new(
        cfg: &RiskConfig,
        instruments: &[Instrument],
        start_ns: i64,
    ) -> Result<(RiskEngine, OperatorToken), RiskConfigError> {
        if instruments.is_empty() {
            return Err(RiskConfigError::NoInstruments);
        }
        let initial = config::amount("initial_equity", cfg.initial_equity)?;
        let total_ppm = config::ppm("total_loss_frac", cfg.total_loss_frac, 1.0)?;
        let ns_per_token = 1e9 / cfg.rate_per_sec;
        if !cfg.rate_per_sec.is_finite() || cfg.rate_per_sec <= 0.0 || ns_per_token < 1.0 {
            return Err(RiskConfigError::Amount { field: "rate_per_sec", value: cfg.rate_per_sec });
        }
        let lim = Limits {
            initial,
            trade_ppm: config::ppm("trade_risk_frac", cfg.trade_risk_frac, 1.0)?,
            fast_trade_ppm: config::ppm("fast_trade_risk_frac", cfg.fast_trade_risk_frac, 1.0)?,
            default_stop_bps: config::positive("default_stop_bps", cfg.default_stop_bps.into())?,
            fee_ppm: i64::from(cfg.fee_ppm),
            position_ppm: config::ppm("position_notional_frac", cfg.position_notional_frac, 10.0)?,
            max_open: config::positive("max_open_positions", cfg.max_open_positions.into())? as u32,
            fast_max_open: config::positive(
                "fast_max_open_positions",
                cfg.fast_max_open_positions.into(),
            )? as u32,
            daily_ppm: config::ppm("daily_loss_frac", cfg.daily_loss_frac, 1.0)?,
            daily_anchor: cfg.daily_anchor,
            daily_base: cfg.daily_base,
            total_floor: Money(initial.0 - frac_ppm(initial, total_ppm).0),
            max_order_notional: config::amount("max_order_notional", cfg.max_order_notional)?,
            collar_bps: config::positive("collar_bps", cfg.collar_bps.into())?,
            stale_ns: config::positive("stale_ns", cfg.stale_ns)?,
            dup_window_ns: config::positive("dup_window_ns", cfg.dup_window_ns)?,
            corr_ppm: config::ppm("corr_threshold", cfg.corr_threshold, 1.0)? as i32,
        };
        let n_strat =
            usize::from(config::positive("n_strategies", cfg.n_strategies.into())? as u16);
        let mut fast = vec![false; n_strat];
        for &s in &cfg.fast_strategies {
            *fast.get_mut(usize::from(s)).ok_or(RiskConfigError::UnknownStrategy(s))? = true;
        }
        config::positive("default_max_order_qty", cfg.default_max_order_qty)?;
        for &q in &cfg.max_order_qty {
            config::positive("max_order_qty", q)?;
        }
        let n_inst = instruments.len();
        let max_qty = (0..n_inst)
            .map(|i| cfg.max_order_qty.get(i).copied().unwrap_or(cfg.default_max_order_qty))
            .collect();
        let max_working = config::positive("max_working_orders", cfg.max_working_orders.into())?;
        let dup_mem = config::positive("dup_id_memory", cfg.dup_id_memory.into())? as usize;
        let max_working = max_working as usize;
        let bucket = TokenBucket::new(cfg.rate_burst, ns_per_token as i64, start_ns)
            .ok_or(RiskConfigError::NotPositive { field: "rate_burst" })?;
        let token = OperatorToken::issue();
        let mut corr = vec![0i32; n_inst * n_inst];
        for i in 0..n_inst {
            corr[i * n_inst + i] = 1_000_000;
        }
        let engine = RiskEngine {
            lim,
            instruments: instruments.to_vec(),
            n_inst,
            n_strat,
            fast,
            max_qty,
            corr,
            slots: vec![Slot::default(); n_inst * n_strat],
            insts: vec![InstState::default(); n_inst],
            open_count: vec![0; n_strat],
            orders: Vec::with_capacity(max_working),
            free: Vec::with_capacity(max_working),
            by_id: IdMap::new(max_working),
            ring: vec![Recent::default(); dup_mem],
            ring_next: 0,
            seen_ids: IdMap::new(dup_mem),
            seen_keys: IdMap::new(dup_mem),
            bucket,
            balance: initial,
            unreal_total: Money::ZERO,
            daily_floor: Money::ZERO,
            next_day_ns: next_prague_midnight_ns(start_ns),
            halt: None,
            kill: KillSwitch::default(),
            token_id: token.id,
            flatten_seq: 0,
            counters: RiskCounters { by_code: [0; 96], bad_fills: 0, rearms: 0, halts: 0 },
        };
        let mut engine = engine;
        engine.daily_floor = engine.daily_floor_from(initial, initial);
        Ok((engine, token))
    }

    /// The capacity of the working-order table.
    fn max_working(&self) -> usize {
        self.orders.capacity()
    }

    /// Sets the correlation of two instruments (symmetric). Values that are NaN or outside
    /// `[-1, 1]` are stored as 1.0 (fail closed: treated as fully correlated). Unknown
    /// instruments are ignored.
    pub fn set_correlation(&mut self, a: InstrumentId, b: InstrumentId, rho: f64) {
        let (a, b) = (a.index(), b.index());
        if a >= self.n_inst || b >= self.n_inst || a == b {
            return;
        }
        let v = if rho.is_finite() && (-1.0..=1.0).contains(&rho) {
            (rho * 1e6).round() as i32
        } else {
            1_000_000
        };
        self.corr[a * self.n_inst + b] = v;
        self.corr[b * self.n_inst + a] = v;
    }

    /// A handle to the engine's kill switch, for the control thread.
    pub fn kill_switch(&self) -> KillSwitch {
        self.kill.clone()
    }

    /// Operator kill: latches HALTED (no token needed — stopping is always allowed). Call
    /// [`RiskEngine::take_halt_actions`] next to cancel and flatten.
    pub fn kill(&mut self) {
        self.halt_with(HaltCause::Kill);
    }

    /// Latches HALTED for `cause` (e.g. [`HaltCause::Feed`] when the caller sees the feed
    /// stale past its deadline). A halt already latched keeps its first cause.
    pub fn halt(&mut self, cause: HaltCause) {
        self.halt_with(cause);
    }

    /// Re-arms a halted breaker. Needs this engine's [`OperatorToken`], a cleared kill switch
    /// and equity at or above both loss floors. Counted in [`RiskCounters::rearms`]; the caller
    /// journals it.
    pub fn rearm(&mut self, token: &OperatorToken, now_ns: i64) -> Result<(), RearmError> {
        if token.id != self.token_id {
            return Err(RearmError::WrongToken);
        }
        if self.kill.is_engaged() {
            return Err(RearmError::KillEngaged);
        }
        self.roll_day(now_ns);
        let eq = self.equity();
        if eq < self.daily_floor || eq < self.lim.total_floor {
            return Err(RearmError::StillBreached);
        }
        self.halt = None;
        self.counters.rearms += 1;
        Ok(())
    }

    /// Why the breaker is halted, if it is.
    pub fn halted(&self) -> Option<HaltCause> {
        self.halt
    }

    /// Equity: balance plus open PnL.
    #[inline]
    pub fn equity(&self) -> Money {
        Money(self.balance.0.saturating_add(self.unreal_total.0))
    }

    /// The account as the breaker sees it.
    pub fn snapshot(&self) -> RiskSnapshot {
        RiskSnapshot {
            balance: self.balance,
            unrealized: self.unreal_total,
            equity: self.equity(),
            daily_floor: self.daily_floor,
            total_floor: self.lim.total_floor,
            next_day_ns: self.next_day_ns,
            halt: self.halt,
            working_orders: (self.orders.len() - self.free.len()) as u32,
        }
    }

    /// The position of `strategy` in `instrument` (default when unknown).
    pub fn position(&self, strategy: StrategyId, instrument: InstrumentId) -> Position {
        self.slot_index(strategy, instrument).map_or_else(Position::default, |s| self.slots[s].pos)
    }

    /// Open positions (positions or working opening orders) of `strategy`.
    pub fn open_positions(&self, strategy: StrategyId) -> u32 {
        self.open_count.get(usize::from(strategy.0)).copied().unwrap_or(0)
    }

    /// Verdict and event counters.
    pub fn counters(&self) -> &RiskCounters {
        &self.counters
    }

    /// True when `id` is a working order known to the breaker.
    pub fn is_working(&self, id: ClientOrderId) -> bool {
        self.by_id.get(id.0).is_some()
    }

    #[inline]
    fn slot_index(&self, strategy: StrategyId, instrument: InstrumentId) -> Option<usize> {
        let (s, i) = (usize::from(strategy.0), instrument.index());
        (s < self.n_strat && i < self.n_inst).then_some(s * self.n_inst + i)
    }

    /// The daily floor for a day anchored at `anchor`.
    fn daily_floor_from(&self, anchor: Money, initial: Money) -> Money {
        let base = match self.lim.daily_base {
            DailyBase::Anchor => anchor,
            DailyBase::Initial => initial,
        };
        Money(anchor.0.saturating_sub(frac_ppm(base, self.lim.daily_ppm).0))
    }

    /// Recomputes the daily floor when `now_ns` has passed a Prague midnight.
    #[inline]
    fn roll_day(&mut self, now_ns: i64) {
        if now_ns >= self.next_day_ns {
            let anchor = match self.lim.daily_anchor {
                DailyAnchor::Equity => self.equity(),
                DailyAnchor::Balance => self.balance,
            };
            self.daily_floor = self.daily_floor_from(anchor, self.lim.initial);
            self.next_day_ns = next_prague_midnight_ns(now_ns);
        }
    }

    /// Advances the clock: rolls the trading day at Prague midnight and checks the floors.
    /// Returns the halt cause if this latched a halt.
    pub fn on_clock(&mut self, now_ns: i64) -> Option<HaltCause> {
        self.roll_day(now_ns);
        self.breach_check()
    }
}
