//! The async swing lane beside the hot lane: trades in (from the core stage's [`SwingLink`]),
//! candles per instrument, `analyze` + a synthesiser (math, or LLM) under a hard timeout,
//! validation, and validated signals out as [`OrderIntent`]s that pass the same circuit
//! breaker and paper venue as the fast lane.
//!
//! It runs on its own unpinned thread with a small multi-thread tokio runtime. Every queue
//! between it and the hot lane is a bounded SPSC ring: a full trades ring drops on the hot
//! lane's side (counted there), a full orders ring drops here (counted in
//! [`SwingLaneReport::orders_dropped`]); nothing the swing lane does can stall the hot lane.
//!
//! Time: bars and the analysis cadence run on the trades' local receive time (event time),
//! so a fast simulator run builds the same bars as a paced one; the synthesiser's budget runs
//! on the wall clock (money is spent now).

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use crpbot_core::{
    ClientOrderId, Instrument, IntentAction, Money, OrderIntent, OrderType, Px, Qty, Registry,
    Side, StrategyId, Trade,
};
use crpbot_strategies::fast::lots_for_notional;
use crpbot_strategies::swing::signal::{
    ApiKey, Direction, MathParams, MathSynth, MathWeights, RateLimiter, SignalStore, SwingSignal,
    SynthInput, Synthesizer, ValidationConfig, validate_signal,
};
use crpbot_strategies::swing::{Candle, analyze};
use serde::Serialize;

use crate::cmd::signal::{LlmArgs, llm_synth, wall_ms};
use crate::engine::SwingLink;

/// The swing lane's strategy id (the fast lane uses 0–3; the risk engine has 16).
pub const SWING_STRATEGY: StrategyId = StrategyId(8);
/// Reason code of a swing LONG entry.
pub const REASON_LONG: u16 = 801;
/// Reason code of a swing SHORT entry.
pub const REASON_SHORT: u16 = 802;

/// Which synthesiser the lane runs.
#[derive(Debug, Clone)]
pub enum SynthChoice {
    /// The deterministic math synthesiser (default weights and parameters).
    Math,
    /// The LLM synthesiser at these endpoint options with this key.
    Llm {
        /// Endpoint, model and the LLM client's own deadline.
        args: LlmArgs,
        /// The API key.
        key: ApiKey,
    },
}

/// Configuration of the swing lane.
#[derive(Debug, Clone)]
pub struct SwingLaneConfig {
    /// Bar length, ms of event time.
    pub bar_ms: i64,
    /// Analysis cadence per instrument, ms of event time.
    pub every_ms: i64,
    /// Complete bars the theories look at (at least 50, what `analyze` requires).
    pub window: usize,
    /// Order size as a quote notional (e.g. USDT).
    pub notional_usd: f64,
    /// Hard deadline of one analysis + synthesis.
    pub timeout: Duration,
    /// Synthesiser.
    pub synth: SynthChoice,
    /// Strategy id of the lane's orders.
    pub strategy: StrategyId,
    /// Limit at the signal's entry (default) or market.
    pub order_type: OrderType,
    /// Signal store: every synthesised signal is stored with its validation outcome.
    pub db: Option<PathBuf>,
    /// Trades ring capacity (hot lane → swing lane).
    pub trades_capacity: usize,
    /// Orders ring capacity (swing lane → hot lane).
    pub orders_capacity: usize,
    /// How often the trades ring is drained.
    pub drain_every: Duration,
}

impl Default for SwingLaneConfig {
    fn default() -> Self {
        Self {
            bar_ms: 60_000,
            every_ms: 60_000,
            window: 50,
            notional_usd: 1_000.0,
            timeout: Duration::from_secs(30),
            synth: SynthChoice::Math,
            strategy: SWING_STRATEGY,
            order_type: OrderType::Limit,
            db: None,
            trades_capacity: 1 << 16,
            orders_capacity: 64,
            drain_every: Duration::from_millis(100),
        }
    }
}

/// What the swing lane did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SwingLaneReport {
    /// Trades taken from the ring.
    pub trades_seen: u64,
    /// Complete bars built (all instruments).
    pub bars: u64,
    /// Analyses completed within the timeout.
    pub analyses: u64,
    /// Signals synthesised (HOLD included).
    pub signals: u64,
    /// Actionable signals validation accepted.
    pub accepted: u64,
    /// Orders pushed to the hot lane.
    pub orders_sent: u64,
    /// Orders dropped (full orders ring).
    pub orders_dropped: u64,
    /// Analyses that missed the hard timeout (their late result is discarded).
    pub timeouts: u64,
    /// Failures: analysis errors, signals that cannot become an order, store errors, panics.
    pub errors: u64,
    /// Signals stored (with `db`).
    pub stored: u64,
    /// The last error, for the report.
    pub last_error: Option<String>,
}

/// Why a signal could not become an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderError {
    /// The signal says HOLD.
    Hold,
    /// A price is not finite and positive, or out of range of the tick grid.
    BadPrice(&'static str),
    /// The stop or target is not on its side of the entry (after rounding to ticks).
    WrongSide,
    /// The notional buys less than one lot.
    ZeroQty,
}

impl std::fmt::Display for OrderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OrderError::Hold => f.write_str("the signal is HOLD"),
            OrderError::BadPrice(what) => write!(f, "{what} is not a usable price"),
            OrderError::WrongSide => {
                f.write_str("stop or target is on the wrong side of the entry")
            }
            OrderError::ZeroQty => f.write_str("the notional buys less than one lot"),
        }
    }
}

impl std::error::Error for OrderError {}

/// `price` in whole ticks of `inst`, rounded to the nearest tick (as the simulator rounds
/// its float prices); `None` when not finite, not positive or beyond 2^53 ticks.
#[must_use]
pub fn price_ticks(inst: &Instrument, price: f64) -> Option<Px> {
    let t = (price / inst.price.increment_f64()).round();
    (1.0..9.0e15).contains(&t).then_some(Px(t as i64))
}

/// The order for an actionable signal: side from the direction, price at the entry (limit)
/// or as a cap (market), qty = `notional` at the entry rounded down to whole lots, stop and
/// take-profit from the signal, rounded to ticks.
///
/// # Errors
/// [`OrderError`] for a HOLD, unusable prices, a stop/target on the wrong side, or a zero qty.
pub fn order_from_signal(
    sig: &SwingSignal,
    inst: &Instrument,
    notional: Money,
    strategy: StrategyId,
    client_id: ClientOrderId,
    order_type: OrderType,
    ts_ns: i64,
) -> Result<OrderIntent, OrderError> {
    let (side, reason) = match sig.direction {
        Direction::Long => (Side::Buy, REASON_LONG),
        Direction::Short => (Side::Sell, REASON_SHORT),
        Direction::Hold => return Err(OrderError::Hold),
    };
    let px = price_ticks(inst, sig.entry).ok_or(OrderError::BadPrice("entry"))?;
    let stop = price_ticks(inst, sig.stop_loss).ok_or(OrderError::BadPrice("stop"))?;
    let tp = price_ticks(inst, sig.take_profit).ok_or(OrderError::BadPrice("target"))?;
    let ok = match side {
        Side::Buy => stop < px && tp > px,
        Side::Sell => stop > px && tp < px,
    };
    if !ok {
        return Err(OrderError::WrongSide);
    }
    let qty = lots_for_notional(inst, px, notional);
    if qty <= 0 {
        return Err(OrderError::ZeroQty);
    }
    Ok(OrderIntent {
        ts_ns,
        client_id,
        px,
        qty: Qty(qty),
        stop_px: stop,
        take_profit_px: tp,
        instrument: inst.id,
        strategy,
        reason,
        side,
        order_type,
        action: IntentAction::New,
        reduce_only: false,
        _pad: [0; 6],
    })
}

/// Pushes `order` into the orders ring; a full ring drops it and counts it.
pub fn push_order(
    tx: &mut rtrb::Producer<OrderIntent>,
    order: OrderIntent,
    report: &mut SwingLaneReport,
) -> bool {
    if tx.push(order).is_ok() {
        report.orders_sent += 1;
        true
    } else {
        report.orders_dropped += 1;
        false
    }
}

/// Candles of one instrument from its trades: a bar is complete once a trade of a later
/// bucket arrives. The first (partial) bucket is discarded; buckets without trades make no
/// bar. At most `keep` complete bars are kept.
#[derive(Debug, Clone)]
pub struct BarBuilder {
    bar_ms: i64,
    keep: usize,
    first_bucket: Option<i64>,
    open: Option<Candle>,
    bars: VecDeque<Candle>,
}

impl BarBuilder {
    /// Bars of `bar_ms` (at least 1), keeping the newest `keep`.
    #[must_use]
    pub fn new(bar_ms: i64, keep: usize) -> Self {
        Self {
            bar_ms: bar_ms.max(1),
            keep: keep.max(1),
            first_bucket: None,
            open: None,
            bars: VecDeque::new(),
        }
    }

    /// Adds a trade at `ts_ms` (price and size as floats); returns whether a bar completed.
    /// A trade older than the open bar is ignored.
    pub fn push(&mut self, ts_ms: i64, price: f64, qty: f64, taker_buy: bool) -> bool {
        let bucket = ts_ms - ts_ms.rem_euclid(self.bar_ms);
        let first = *self.first_bucket.get_or_insert(bucket);
        let mut completed = false;
        if let Some(c) = self.open
            && bucket > c.open_time_ms
        {
            if c.open_time_ms != first {
                self.bars.push_back(c);
                completed = true;
                if self.bars.len() > self.keep {
                    self.bars.pop_front();
                }
            }
            self.open = None;
        }
        let bar_ms = self.bar_ms;
        let c = self.open.get_or_insert_with(|| {
            let mut c = Candle::new(bucket, price, price, price, price, 0.0);
            c.close_time_ms = bucket + bar_ms - 1;
            c
        });
        if bucket < c.open_time_ms {
            return completed;
        }
        c.high = c.high.max(price);
        c.low = c.low.min(price);
        c.close = price;
        c.volume += qty;
        c.quote_volume += qty * price;
        c.trades += 1;
        if taker_buy {
            c.taker_buy_base_volume += qty;
            c.taker_buy_quote_volume += qty * price;
        }
        completed
    }

    /// The complete bars, oldest first.
    #[must_use]
    pub fn bars(&self) -> Vec<Candle> {
        self.bars.iter().copied().collect()
    }

    /// Number of complete bars held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.bars.len()
    }

    /// Whether no complete bar is held.
    #[cfg(test)]
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.bars.is_empty()
    }
}

type SynthBox = Box<dyn Synthesizer>;
type JobOut = (SynthBox, Result<SwingSignal, String>);

/// One instrument's state in the lane.
struct Track {
    inst: Instrument,
    bars: BarBuilder,
    next_due_ms: i64,
    last_ts_ns: i64,
}

/// The lane's state (owned by the lane thread; the synthesiser is dropped there, outside the
/// runtime, since an LLM synthesiser owns a runtime of its own).
struct Lane {
    cfg: SwingLaneConfig,
    trades: rtrb::Consumer<Trade>,
    orders: rtrb::Producer<OrderIntent>,
    tracks: Vec<Option<Track>>,
    synth: Option<SynthBox>,
    pending: Option<tokio::task::JoinHandle<JobOut>>,
    limiter: RateLimiter,
    vcfg: ValidationConfig,
    store: Option<SignalStore>,
    notional: Money,
    seq: u64,
    report: SwingLaneReport,
    stop: Arc<AtomicBool>,
}

impl Lane {
    fn fail(&mut self, what: String) {
        self.report.errors += 1;
        self.report.last_error = Some(what);
    }

    fn drain(&mut self) {
        while let Ok(t) = self.trades.pop() {
            self.report.trades_seen += 1;
            let Some(Some(tr)) = self.tracks.get_mut(t.instrument.index()) else { continue };
            let price = tr.inst.price.to_f64(t.px.0);
            let qty = tr.inst.qty.to_f64(t.qty.0);
            let taker_buy = t.aggressor == Side::Buy;
            tr.last_ts_ns = t.ts_local_ns;
            if tr.bars.push(t.ts_local_ns.div_euclid(1_000_000), price, qty, taker_buy) {
                self.report.bars += 1;
            }
        }
    }

    /// The next instrument due for an analysis (enough bars, cadence reached).
    fn due(&self) -> Option<usize> {
        self.tracks.iter().position(|t| {
            t.as_ref().is_some_and(|t| {
                t.bars.len() >= self.cfg.window && t.last_ts_ns / 1_000_000 >= t.next_due_ms
            })
        })
    }

    async fn reclaim(&mut self) {
        if self.pending.as_ref().is_some_and(tokio::task::JoinHandle::is_finished)
            && let Some(h) = self.pending.take()
        {
            match h.await {
                // A late result is stale: the bars have moved on; discard it.
                Ok((synth, _late)) => self.synth = Some(synth),
                Err(e) => self.fail(format!("swing synthesiser panicked: {e}")),
            }
        }
    }

    async fn analyse(&mut self, k: usize) {
        let Some(synth) = self.synth.take() else { return };
        let Some(Some(tr)) = self.tracks.get_mut(k) else { return };
        let now_ms = tr.last_ts_ns / 1_000_000;
        tr.next_due_ms = now_ms.saturating_add(self.cfg.every_ms.max(1));
        let candles = tr.bars.bars();
        let inst = tr.inst;
        let window = self.cfg.window;
        let mut handle = tokio::task::spawn_blocking(move || {
            let mut synth = synth;
            let symbol = inst.symbol.as_str().to_owned();
            let out = match analyze(&candles, window, None) {
                Ok(a) => {
                    let input = SynthInput { symbol: &symbol, analysis: &a, recent_outcomes: &[] };
                    let mut s = synth.synthesize(&input, wall_ms());
                    s.created_ms = now_ms;
                    Ok(s)
                }
                Err(e) => Err(format!("analyze {symbol}: {e}")),
            };
            (synth, out)
        });
        match tokio::time::timeout(self.cfg.timeout, &mut handle).await {
            Ok(Ok((synth, out))) => {
                self.synth = Some(synth);
                match out {
                    Ok(sig) => {
                        self.report.analyses += 1;
                        self.on_signal(sig, &inst, now_ms);
                    }
                    Err(e) => self.fail(e),
                }
            }
            Ok(Err(e)) => self.fail(format!("swing synthesiser panicked: {e}")),
            Err(_) => {
                self.report.timeouts += 1;
                self.pending = Some(handle);
            }
        }
    }

    fn on_signal(&mut self, sig: SwingSignal, inst: &Instrument, now_ms: i64) {
        self.report.signals += 1;
        let original = self.store.is_some().then(|| sig.clone());
        let (sig, outcome) = validate_signal(sig, &self.vcfg, &mut self.limiter, now_ms);
        if let (Some(st), Some(orig)) = (self.store.as_mut(), original) {
            let v = match (outcome.status, &outcome.reason) {
                ("rejected", Some(why)) => format!("rejected: {why}"),
                _ => "ok".to_owned(),
            };
            match st.insert_signal(&orig, Some(&v)) {
                Ok(_) => self.report.stored += 1,
                Err(e) => self.fail(format!("storing a swing signal: {e}")),
            }
        }
        if outcome.status != "accepted" {
            return;
        }
        self.report.accepted += 1;
        self.seq = (self.seq + 1) & ((1 << 48) - 1);
        let id = ClientOrderId((u64::from(self.cfg.strategy.0) << 48) | self.seq);
        let ts_ns = now_ms.saturating_mul(1_000_000);
        match order_from_signal(
            &sig,
            inst,
            self.notional,
            self.cfg.strategy,
            id,
            self.cfg.order_type,
            ts_ns,
        ) {
            Ok(o) => {
                push_order(&mut self.orders, o, &mut self.report);
            }
            Err(e) => self.fail(format!("swing order for {}: {e}", inst.symbol.as_str())),
        }
    }

    async fn run(mut self) -> Self {
        let mut tick = tokio::time::interval(self.cfg.drain_every.max(Duration::from_millis(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let stopping = self.stop.load(Ordering::Acquire);
            self.drain();
            self.reclaim().await;
            while !stopping
                && self.synth.is_some()
                && let Some(k) = self.due()
            {
                self.analyse(k).await;
                self.drain();
            }
            if stopping {
                return self;
            }
        }
    }
}

/// The running swing lane.
#[derive(Debug)]
pub struct SwingLaneHandle {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<SwingLaneReport>>,
}

impl SwingLaneHandle {
    /// Stops the lane (after one last drain of the trades ring) and returns its report. An
    /// analysis still running past its timeout is abandoned (its thread ends on its own
    /// deadline).
    pub fn stop_and_join(mut self) -> SwingLaneReport {
        self.stop.store(true, Ordering::Release);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            _ => SwingLaneReport {
                errors: 1,
                last_error: Some("the swing lane thread panicked".into()),
                ..SwingLaneReport::default()
            },
        }
    }
}

fn make_synth(choice: &SynthChoice) -> anyhow::Result<SynthBox> {
    Ok(match choice {
        SynthChoice::Math => {
            Box::new(MathSynth::new(MathWeights::default(), MathParams::default()))
        }
        SynthChoice::Llm { args, key } => Box::new(llm_synth(args, key.clone())?),
    })
}

/// Starts the swing lane on its own thread: the hot lane's end of the queues, and the
/// lane's handle.
///
/// # Errors
/// A bad configuration (window below 50, non-positive bar or notional), the synthesiser or
/// the store cannot be built, or the thread cannot start.
pub fn spawn(
    cfg: SwingLaneConfig,
    registry: &Registry,
) -> anyhow::Result<(SwingLink, SwingLaneHandle)> {
    anyhow::ensure!(
        cfg.window >= crpbot_strategies::swing::analyze::MIN_WINDOW,
        "--swing window {} is below the 50 bars the analysis needs",
        cfg.window
    );
    anyhow::ensure!(cfg.bar_ms > 0 && cfg.every_ms > 0, "swing bar and cadence must be > 0 ms");
    let notional = Money::from_f64(cfg.notional_usd)
        .filter(|m| m.0 > 0)
        .context("the swing notional must be a positive amount")?;
    let synth = make_synth(&cfg.synth)?;
    let store = match &cfg.db {
        Some(p) => Some(SignalStore::open(p).with_context(|| format!("opening {}", p.display()))?),
        None => None,
    };
    let (trades_tx, trades_rx) = rtrb::RingBuffer::new(cfg.trades_capacity.max(1));
    let (orders_tx, orders_rx) = rtrb::RingBuffer::new(cfg.orders_capacity.max(1));
    let keep = cfg.window.saturating_mul(3);
    let tracks = registry
        .iter()
        .map(|i| {
            let t = Track {
                inst: *i,
                bars: BarBuilder::new(cfg.bar_ms, keep),
                next_due_ms: i64::MIN,
                last_ts_ns: i64::MIN,
            };
            (i.id.index(), t)
        })
        .fold(Vec::new(), |mut v: Vec<Option<Track>>, (k, t)| {
            if v.len() <= k {
                v.resize_with(k + 1, || None);
            }
            v[k] = Some(t);
            v
        });
    let vcfg = ValidationConfig::default();
    let stop = Arc::new(AtomicBool::new(false));
    let lane = Lane {
        limiter: RateLimiter::from_config(&vcfg),
        vcfg,
        trades: trades_rx,
        orders: orders_tx,
        tracks,
        synth: Some(synth),
        pending: None,
        store,
        notional,
        seq: 0,
        report: SwingLaneReport::default(),
        stop: stop.clone(),
        cfg,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(2)
        .thread_name("crpbot-swing")
        .enable_time()
        .build()
        .context("building the swing lane runtime")?;
    let thread = std::thread::Builder::new()
        .name("crpbot-swing-lane".into())
        .spawn(move || {
            let lane = rt.block_on(lane.run());
            let report = lane.report.clone();
            // Outside the runtime: dropping an LLM synthesiser drops its own runtime.
            drop(lane);
            rt.shutdown_background();
            report
        })
        .context("starting the swing lane thread")?;
    let link = SwingLink { trades: trades_tx, orders: orders_rx };
    Ok((link, SwingLaneHandle { stop, thread: Some(thread) }))
}

/// The swing-lane flags shared by `crpbot run` and `crpbot demo` (each command has its own
/// on/off flag and its own bar and cadence defaults).
#[derive(Debug, Clone, clap::Args)]
pub struct SwingArgs {
    /// Swing bar length in ms of event time (default: 60000 for run, 250 for demo).
    #[arg(long)]
    pub swing_bar_ms: Option<i64>,
    /// Swing analysis cadence per instrument in ms of event time (default: 60000 for run,
    /// 2000 for demo).
    #[arg(long)]
    pub swing_every_ms: Option<i64>,
    /// Swing synthesiser: math (default) or llm (needs CRPBOT_LLM_KEY or DEEPSEEK_API_KEY;
    /// falls back to math without one, said on stderr). Endpoint: --llm-base-url.
    #[arg(long, value_enum, default_value = "math")]
    pub swing_synth: crate::cmd::signal::SynthKind,
    /// Complete bars the swing theories look at (at least 50).
    #[arg(long, default_value_t = 50)]
    pub swing_window: usize,
    /// Hard deadline of one swing analysis + synthesis, ms (a late result is discarded).
    #[arg(long, default_value_t = 10_000)]
    pub swing_timeout_ms: u64,
    /// Swing order size as a quote notional.
    #[arg(long, default_value_t = 1_000.0)]
    pub swing_notional: f64,
    /// Store every swing signal with its validation outcome in this signal store (SQLite).
    #[arg(long)]
    pub swing_db: Option<PathBuf>,
    #[command(flatten)]
    pub llm: LlmArgs,
}

impl SwingArgs {
    /// The lane configuration, with the command's default bar length and cadence.
    #[must_use]
    pub fn config(&self, cmd: &str, bar_ms: i64, every_ms: i64) -> SwingLaneConfig {
        use crate::cmd::signal::SynthKind;
        let synth = match (self.swing_synth, ApiKey::from_env()) {
            (SynthKind::Llm, Some(key)) => SynthChoice::Llm { args: self.llm.clone(), key },
            (SynthKind::Llm, None) => {
                eprintln!(
                    "{cmd}: no LLM key (set CRPBOT_LLM_KEY or DEEPSEEK_API_KEY); the swing \
                     lane uses the math synthesiser"
                );
                SynthChoice::Math
            }
            (SynthKind::Math, _) => SynthChoice::Math,
        };
        SwingLaneConfig {
            bar_ms: self.swing_bar_ms.unwrap_or(bar_ms),
            every_ms: self.swing_every_ms.unwrap_or(every_ms),
            window: self.swing_window,
            notional_usd: self.swing_notional,
            timeout: Duration::from_millis(self.swing_timeout_ms.max(1)),
            synth,
            db: self.swing_db.clone(),
            ..SwingLaneConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crpbot_core::Venue;

    fn btc(reg: &Registry) -> Instrument {
        *reg.get(reg.lookup(Venue::Sim, b"BTC-SIM").unwrap())
    }

    fn signal(direction: Direction, entry: f64, stop: f64, target: f64) -> SwingSignal {
        SwingSignal {
            symbol: "BTC-SIM".into(),
            bar_open_time_ms: 0,
            created_ms: 0,
            direction,
            confidence: 70.0,
            entry,
            stop_loss: stop,
            take_profit: target,
            reasoning: String::new(),
            key_factors: Vec::new(),
            variant: "test".into(),
            regime: crpbot_strategies::swing::signal::Regime::Trending,
            theories: Default::default(),
            raw_response: None,
            hold_reason: None,
        }
    }

    #[test]
    fn bars_from_trades_hand_checked() {
        let mut b = BarBuilder::new(1_000, 10);
        // Bucket 0 is partial (the lane starts mid-bar): discarded.
        assert!(!b.push(500, 9.0, 1.0, true));
        // Bucket 1000: O 10 H 12 L 9.5 C 11, V 1+2+0.5+1 = 4.5, taker buys 1+0.5.
        assert!(!b.push(1_000, 10.0, 1.0, true));
        assert!(!b.push(1_200, 12.0, 2.0, false));
        assert!(!b.push(1_500, 9.5, 0.5, true));
        assert!(!b.push(1_999, 11.0, 1.0, false));
        assert!(b.is_empty());
        // Bucket 3000 (2000 had no trade: no bar) completes bucket 1000.
        assert!(b.push(3_100, 13.0, 1.0, true));
        // An out-of-order older trade is ignored.
        assert!(!b.push(1_100, 1.0, 100.0, true));
        assert!(b.push(4_000, 14.0, 1.0, true));
        let bars = b.bars();
        assert_eq!(bars.len(), 2);
        let c = bars[0];
        assert_eq!((c.open_time_ms, c.close_time_ms), (1_000, 1_999));
        assert_eq!((c.open, c.high, c.low, c.close), (10.0, 12.0, 9.5, 11.0));
        assert_eq!((c.volume, c.trades, c.taker_buy_base_volume), (4.5, 4, 1.5));
        assert_eq!(c.quote_volume, 10.0 + 24.0 + 4.75 + 11.0);
        let d = bars[1];
        assert_eq!(
            (d.open_time_ms, d.open, d.close, d.volume, d.trades),
            (3_000, 13.0, 13.0, 1.0, 1)
        );
    }

    #[test]
    fn bars_keep_the_newest() {
        let mut b = BarBuilder::new(10, 3);
        for k in 0..10 {
            b.push(k * 10, k as f64 + 1.0, 1.0, false);
        }
        let opens: Vec<i64> = b.bars().iter().map(|c| c.open_time_ms).collect();
        assert_eq!(opens, vec![60, 70, 80]);
    }

    #[test]
    fn long_signal_to_order_in_ticks_and_lots() {
        let reg = Registry::with_defaults();
        let inst = btc(&reg);
        let sig = signal(Direction::Long, 60_000.004, 59_500.0, 61_000.126);
        let id = ClientOrderId((8 << 48) | 1);
        let o = order_from_signal(
            &sig,
            &inst,
            Money::from_units(1_000),
            SWING_STRATEGY,
            id,
            OrderType::Limit,
            7,
        )
        .unwrap();
        assert_eq!(o.side, Side::Buy);
        // Tick 0.01: 60000.004 → 6_000_000 ticks; 61000.126 → 6_100_013.
        assert_eq!(
            (o.px, o.stop_px, o.take_profit_px),
            (Px(6_000_000), Px(5_950_000), Px(6_100_013))
        );
        // Lot 0.00001: 1000 / 60000 = 0.016666… → 1666 lots (rounded down).
        assert_eq!(o.qty, Qty(1_666));
        assert_eq!(
            (o.strategy, o.client_id, o.reason, o.ts_ns),
            (StrategyId(8), id, REASON_LONG, 7)
        );
        assert_eq!(
            (o.order_type, o.action, o.reduce_only),
            (OrderType::Limit, IntentAction::New, false)
        );
    }

    #[test]
    fn short_signal_and_refusals() {
        let reg = Registry::with_defaults();
        let inst = btc(&reg);
        let n = Money::from_units(1_000);
        let id = ClientOrderId(1);
        let mk = |s: &SwingSignal| {
            order_from_signal(s, &inst, n, SWING_STRATEGY, id, OrderType::Market, 0)
        };
        let o = mk(&signal(Direction::Short, 100.0, 101.0, 98.0)).unwrap();
        assert_eq!(
            (o.side, o.px, o.stop_px, o.take_profit_px),
            (Side::Sell, Px(10_000), Px(10_100), Px(9_800))
        );
        assert_eq!((o.qty, o.reason), (Qty(1_000_000), REASON_SHORT));
        assert_eq!(mk(&signal(Direction::Hold, 100.0, 99.0, 101.0)), Err(OrderError::Hold));
        assert_eq!(
            mk(&signal(Direction::Long, f64::NAN, 99.0, 101.0)),
            Err(OrderError::BadPrice("entry"))
        );
        assert_eq!(
            mk(&signal(Direction::Long, 100.0, -1.0, 101.0)),
            Err(OrderError::BadPrice("stop"))
        );
        // Within one tick of the entry the stop rounds onto it: wrong side.
        assert_eq!(mk(&signal(Direction::Long, 100.0, 99.999, 101.0)), Err(OrderError::WrongSide));
        assert_eq!(mk(&signal(Direction::Short, 100.0, 99.0, 98.0)), Err(OrderError::WrongSide));
        let tiny = order_from_signal(
            &signal(Direction::Long, 60_000.0, 59_000.0, 62_000.0),
            &inst,
            Money(10),
            SWING_STRATEGY,
            id,
            OrderType::Limit,
            0,
        );
        assert_eq!(tiny, Err(OrderError::ZeroQty));
    }

    #[test]
    fn full_orders_ring_drops_and_counts() {
        let reg = Registry::with_defaults();
        let inst = btc(&reg);
        let (mut tx, mut rx) = rtrb::RingBuffer::new(1);
        let mut report = SwingLaneReport::default();
        let sig = signal(Direction::Long, 100.0, 99.0, 102.0);
        let o = |k| {
            order_from_signal(
                &sig,
                &inst,
                Money::from_units(100),
                SWING_STRATEGY,
                ClientOrderId(k),
                OrderType::Limit,
                0,
            )
            .unwrap()
        };
        assert!(push_order(&mut tx, o(1), &mut report));
        assert!(!push_order(&mut tx, o(2), &mut report));
        assert_eq!((report.orders_sent, report.orders_dropped), (1, 1));
        assert_eq!(rx.pop().unwrap().client_id, ClientOrderId(1));
        assert!(rx.pop().is_err());
    }

    /// The whole lane on synthetic trades: a steady up-trend of 60 one-second bars gives
    /// analyses, and the lane stops cleanly with its report.
    #[test]
    fn lane_analyses_synthetic_trades() {
        let reg = Registry::with_defaults();
        let inst = btc(&reg);
        let cfg = SwingLaneConfig { bar_ms: 1_000, every_ms: 5_000, ..SwingLaneConfig::default() };
        let (mut link, handle) = spawn(cfg, &reg).unwrap();
        for k in 0..2_000i64 {
            let px = 6_000_000 + k * 50 + (k % 7) * 30;
            let t = Trade {
                ts_exch_ns: k * 40_000_000,
                ts_local_ns: k * 40_000_000,
                trade_id: k as u64,
                px: Px(px),
                qty: Qty(100 + k % 13),
                instrument: inst.id,
                aggressor: if k % 3 == 0 { Side::Sell } else { Side::Buy },
                _pad: [0; 5],
            };
            while link.trades.push(t).is_err() {
                std::thread::yield_now();
            }
        }
        // Wait for the lane to take every trade (it analyses in the same round, before it
        // can see the stop), then stop it. The deadline only keeps a broken lane from hanging.
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while link.trades.slots() < link.trades.buffer().capacity()
            && std::time::Instant::now() < deadline
        {
            std::thread::yield_now();
        }
        let report = handle.stop_and_join();
        assert_eq!(report.trades_seen, 2_000);
        // 2000 trades × 40 ms = 80 s: buckets 0..79, the first is partial, the last open.
        assert_eq!(report.bars, 78);
        assert_eq!(report.timeouts, 0);
        assert_eq!(report.errors, 0, "{:?}", report.last_error);
        assert!(report.analyses >= 1, "{report:?}");
        assert_eq!(report.signals, report.analyses);
        assert_eq!(report.orders_sent + report.orders_dropped, report.accepted);
    }
}
