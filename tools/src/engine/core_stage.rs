//! The core stage: books, fast strategies, the inline circuit breaker and the paper venue.
//! Everything it decides goes to the journal stage as records, in order.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crpbot_journal::codec::ControlKind;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use crpbot_core::pipeline::{Emit, Full, HaltFlag, Stage};
use crpbot_core::{
    BookState, EquitySnapshot, Fill, InstrumentId, MarketEvent, OrderIntent, PositionSnapshot, Px,
    Registry, RiskVerdict, SignalRecord,
};
use crpbot_feeds::replay::{BboCsv, Published, ReplaySink};
use crpbot_feeds::session::{LiveBooks, ResyncRequester};
use crpbot_risk::KillSwitch;
use crpbot_strategies::fast::FastConfig;

use super::{FeedItem, JournalItem, Rec, Stamps, now_ns};
use crate::cmd::trade::{RecordSink, Trader, TraderStatus};

/// What the core stage runs besides the books.
#[derive(Clone, Debug, Default)]
pub struct CoreOptions {
    /// Fast strategies by name (empty: books only, no trading).
    pub strategies: Vec<String>,
    /// Best bid/ask CSV after each published book.
    pub bbo_out: Option<PathBuf>,
    /// Risk-engine start time (ns) for day boundaries (replay: the first event's time).
    pub start_ns: i64,
    /// Strategy configuration for the simulator (`FastConfig::for_sim`: its instruments, time
    /// scales compressed to fit a short session).
    pub sim_preset: bool,
    /// Instruments shown in status snapshots (the source's; at most [`STATUS_INSTRUMENTS`]).
    pub status_ids: Vec<InstrumentId>,
}

/// The hot lane's end of the async swing lane: trades go out (dropped and counted when the
/// queue is full — the swing lane can never stall the hot lane), swing orders come in and
/// pass the same circuit breaker as every fast-lane intent.
pub struct SwingLink {
    /// Trades for the swing lane's candles.
    pub trades: rtrb::Producer<crpbot_core::Trade>,
    /// Orders from validated swing signals.
    pub orders: rtrb::Consumer<OrderIntent>,
}

impl std::fmt::Debug for SwingLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SwingLink").finish_non_exhaustive()
    }
}

/// Up to this many instruments appear in status snapshots.
pub const STATUS_INSTRUMENTS: usize = 8;

/// A status snapshot for the control thread (sent about twice per second of event time).
#[derive(Clone, Copy, Debug, Default)]
pub struct Status {
    /// Event time of the snapshot.
    pub ts_ns: i64,
    /// Events processed.
    pub events: u64,
    /// Books published.
    pub published: u64,
    /// Per instrument: (id, best bid, best ask, book state).
    pub books: [(u16, Px, Px, BookState); STATUS_INSTRUMENTS],
    /// Instruments filled in `books`.
    pub n_books: usize,
    /// Trader summary (zeros without strategies).
    pub trader: TraderStatus,
}

/// What the core stage hands back when it finishes.
#[derive(Debug)]
pub struct CoreResult {
    /// Events processed.
    pub events: u64,
    /// Book counters.
    pub books: serde_json::Value,
    /// Trading report.
    pub trading: Option<serde_json::Value>,
}

/// The core stage's result slot (filled in `finish`).
#[derive(Clone, Debug, Default)]
pub struct CoreResultHandle(Arc<Mutex<Option<CoreResult>>>);

impl CoreResultHandle {
    /// Takes the result once the pipeline has joined.
    pub fn take(&self) -> Option<CoreResult> {
        self.0.lock().ok().and_then(|mut g| g.take())
    }
}

/// The core stage (books + trading).
pub struct CoreStage {
    books: LiveBooks,
    trader: Option<Trader>,
    csv: Option<BboCsv<BufWriter<File>>>,
    csv_path: Option<PathBuf>,
    halt: HaltFlag,
    kill: KillSwitch,
    operator_kill: Arc<AtomicBool>,
    operator_killed: bool,
    /// A replay waits for room downstream instead of halting.
    live: bool,
    status_tx: rtrb::Producer<Status>,
    next_status_ns: i64,
    ids: Vec<InstrumentId>,
    events: u64,
    dropped_records: u64,
    /// Durable mode: verdicts made durable by the journal stage, and verdicts sent.
    durable: Option<Arc<AtomicU64>>,
    verdicts_sent: u64,
    held: Vec<MarketEvent>,
    swing: Option<SwingLink>,
    swing_trades_dropped: u64,
    swing_orders: u64,
    result: CoreResultHandle,
    /// The message being processed (stamps of its last event).
    cur: Stamps,
}

impl std::fmt::Debug for CoreStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreStage").field("events", &self.events).finish_non_exhaustive()
    }
}

impl CoreStage {
    /// Builds books (and the trading path if strategies are named).
    pub fn new(
        registry: &Registry,
        opts: &CoreOptions,
        resync: ResyncRequester,
        halt: HaltFlag,
        live: bool,
        status_tx: rtrb::Producer<Status>,
    ) -> anyhow::Result<CoreStage> {
        let trader = if opts.strategies.is_empty() {
            None
        } else {
            let base = if opts.sim_preset { FastConfig::for_sim() } else { FastConfig::default() };
            Some(Trader::with_config(registry, &opts.strategies, opts.start_ns, base)?)
        };
        let csv = match &opts.bbo_out {
            Some(path) => {
                let file =
                    File::create(path).with_context(|| format!("creating {}", path.display()))?;
                Some(BboCsv::new(BufWriter::with_capacity(1 << 20, file), registry)?)
            }
            None => None,
        };
        let kill = trader.as_ref().map(Trader::kill_switch).unwrap_or_default();
        Ok(CoreStage {
            // Full books for the source's instruments only (all of them for a live session).
            books: LiveBooks::for_instruments(registry, &opts.status_ids, resync),
            trader,
            csv,
            csv_path: opts.bbo_out.clone(),
            halt,
            kill,
            operator_kill: Arc::default(),
            operator_killed: false,
            live,
            status_tx,
            next_status_ns: i64::MIN,
            ids: opts.status_ids.iter().copied().take(STATUS_INSTRUMENTS).collect(),
            events: 0,
            dropped_records: 0,
            durable: None,
            verdicts_sent: 0,
            held: Vec::with_capacity(1 << 14),
            swing: None,
            swing_trades_dropped: 0,
            swing_orders: 0,
            result: CoreResultHandle::default(),
            cur: Stamps::default(),
        })
    }

    /// The breaker's kill switch (a default, unused switch without strategies).
    pub fn kill_switch(&self) -> KillSwitch {
        self.kill.clone()
    }

    /// The operator's kill state (see [`super::Controls::kill`]).
    pub fn set_operator_kill(&mut self, kill: Arc<AtomicBool>) {
        self.operator_kill = kill;
    }

    /// Durable decisions: after each verdict, wait until the journal stage has made it durable
    /// (its count in `durable_verdicts`) before the order may leave. Fused, the journal stage
    /// ran inside the send, so the wait is one load; split, it is the journal thread's msync.
    pub fn set_durable(&mut self, durable_verdicts: Arc<AtomicU64>) {
        self.durable = Some(durable_verdicts);
    }

    /// Connects the swing lane.
    pub fn set_swing(&mut self, link: SwingLink) {
        self.swing = Some(link);
    }

    /// The result slot.
    pub fn result_handle(&self) -> CoreResultHandle {
        self.result.clone()
    }

    fn control<E: Emit<JournalItem>>(&mut self, out: &mut E, kind: ControlKind, ts_ns: i64) {
        Out {
            out,
            live: self.live,
            dropped: &mut self.dropped_records,
            cur: &mut self.cur,
            durable: None,
            held: &mut self.held,
        }
        .send(Rec::Control { kind, ts_ns });
    }

    fn status(&mut self, ts_ns: i64) {
        let mut s = Status { ts_ns, events: self.events, ..Status::default() };
        s.published = self.books.stats().published;
        for &id in &self.ids {
            if let Some(tb) = self.books.books().get(id) {
                let bid = tb.book.best_bid().map_or(Px(0), |l| l.px);
                let ask = tb.book.best_ask().map_or(Px(0), |l| l.px);
                if let Some(slot) = s.books.get_mut(s.n_books) {
                    *slot = (id.0, bid, ask, tb.state);
                    s.n_books += 1;
                }
            }
        }
        if let Some(t) = &self.trader {
            s.trader = t.status();
        }
        // Status is advisory: a full ring drops the snapshot.
        let _ = self.status_tx.push(s);
    }
}

/// Routes the trading path's records into the journal edge.
struct Out<'a, E: Emit<JournalItem>> {
    out: &'a mut E,
    live: bool,
    dropped: &'a mut u64,
    cur: &'a mut Stamps,
    durable: Option<(&'a AtomicU64, &'a mut u64, &'a KillSwitch)>,
    /// Market records of the current message, held until its decision is made (or until a
    /// decision record must follow them), so the journal stage's time is its own.
    held: &'a mut Vec<MarketEvent>,
}

impl<E: Emit<JournalItem>> Out<'_, E> {
    /// Queues a record: market records are held (in order) until [`Out::flush`]; any other
    /// record flushes them first, so the journal's order is the order of events.
    #[inline]
    fn send(&mut self, rec: Rec) {
        if let Rec::Market(ev) = rec {
            if self.held.len() == self.held.capacity() {
                self.flush();
            }
            self.held.push(ev);
            return;
        }
        self.flush();
        self.emit(rec);
    }

    /// Sends the held market records.
    #[inline]
    fn flush(&mut self) {
        for k in 0..self.held.len() {
            let ev = self.held[k];
            self.emit(Rec::Market(ev));
        }
        self.held.clear();
    }

    #[inline]
    fn emit(&mut self, rec: Rec) {
        let mut item = JournalItem { rec, st: Stamps::default() };
        if let Rec::Done = rec {
            item.st = *self.cur;
        }
        let mut spins = 0u32;
        loop {
            match self.out.emit(item) {
                Ok(()) => return,
                // Live: a decision edge already waited (and latched the halt); it hands back only
                // when the consumer is gone or the pipeline aborts.
                Err(Full(back)) if !self.live => {
                    item = back;
                    spins = spins.saturating_add(1);
                    if spins < 64 {
                        std::hint::spin_loop();
                    } else {
                        std::thread::yield_now();
                    }
                    if spins > 50_000_000 {
                        *self.dropped += 1;
                        return;
                    }
                }
                Err(Full(_)) => {
                    *self.dropped += 1;
                    return;
                }
            }
        }
    }
}

impl<E: Emit<JournalItem>> RecordSink for Out<'_, E> {
    fn intent(&mut self, i: &OrderIntent) {
        self.send(Rec::Intent(*i));
    }
    fn verdict(&mut self, v: &RiskVerdict) {
        self.send(Rec::Verdict(*v));
        if let Some((done, sent, kill)) = self.durable.as_mut() {
            **sent += 1;
            let mut spins = 0u32;
            // A failed sync never counts: the journal stage engages the kill switch instead,
            // which ends the wait (and trading).
            while done.load(Ordering::Acquire) < **sent && !kill.is_engaged() {
                spins = spins.saturating_add(1);
                if spins < 256 {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
        }
    }
    fn fill(&mut self, f: &Fill) {
        self.send(Rec::Fill(*f));
    }
    fn signal(&mut self, s: &SignalRecord) {
        self.send(Rec::Signal(*s));
    }
    fn position(&mut self, p: &PositionSnapshot) {
        self.send(Rec::Position(*p));
    }
    fn equity(&mut self, e: &EquitySnapshot) {
        self.send(Rec::Equity(*e));
    }
    fn signalled(&mut self) {
        self.cur.signalled = now_ns();
    }
}

/// The books' callbacks: market records to the journal, published books to the trader.
struct Sink<'a, 'b, E: Emit<JournalItem>> {
    out: Out<'a, E>,
    trader: Option<&'b mut Trader>,
    csv: Option<&'b mut BboCsv<BufWriter<File>>>,
}

impl<E: Emit<JournalItem>> ReplaySink for Sink<'_, '_, E> {
    fn on_book(&mut self, p: &Published<'_>) {
        self.out.cur.booked = now_ns();
        if let Some(csv) = self.csv.as_mut() {
            csv.on_book(p);
        }
        if let Some(t) = self.trader.as_mut() {
            t.on_book(p, &mut self.out);
        }
    }
    fn on_event(&mut self, ev: &MarketEvent) {
        self.out.send(Rec::Market(*ev));
        if let (Some(t), MarketEvent::Trade(tr)) = (self.trader.as_mut(), ev) {
            self.out.cur.booked = now_ns();
            t.on_trade(tr, &mut self.out);
        }
    }
}

impl Stage for CoreStage {
    type In = FeedItem;
    type Out = JournalItem;

    fn on_item<E: Emit<JournalItem>>(&mut self, item: FeedItem, out: &mut E) {
        let (ev, st, last) = match item {
            FeedItem::Event { ev, st, last } => (ev, st, last),
            FeedItem::Raw { ts_ns, len, instrument } => {
                Out {
                    out,
                    live: self.live,
                    dropped: &mut self.dropped_records,
                    cur: &mut self.cur,
                    durable: None,
                    held: &mut self.held,
                }
                .send(Rec::Raw { ts_ns, len, instrument });
                return;
            }
        };
        self.events += 1;
        let ts = ev.ts_local_ns();
        if self.halt.is_halted() && !self.kill.is_engaged() {
            // A full decision ring latched the pipeline halt: stop trading.
            self.kill.engage();
            self.control(out, ControlKind::Halt, ts);
        }
        let op = self.operator_kill.load(Ordering::Relaxed);
        if op != self.operator_killed {
            self.operator_killed = op;
            if op {
                self.kill.engage();
                self.control(out, ControlKind::KillEngaged, ts);
            } else {
                self.kill.clear();
                if let Some(t) = self.trader.as_mut()
                    && t.rearm(ts).is_ok()
                {
                    self.control(out, ControlKind::Rearm, ts);
                }
            }
        }
        self.cur.ingress = st.ingress;
        self.cur.decoded = st.decoded;
        let mut sink = Sink {
            out: Out {
                out,
                live: self.live,
                dropped: &mut self.dropped_records,
                cur: &mut self.cur,
                durable: self.durable.as_deref().map(|d| (d, &mut self.verdicts_sent, &self.kill)),
                held: &mut self.held,
            },
            trader: self.trader.as_mut(),
            csv: self.csv.as_mut(),
        };
        self.books.apply(&ev, &mut sink);
        if let Some(link) = self.swing.as_mut() {
            if let MarketEvent::Trade(t) = ev
                && link.trades.push(t).is_err()
            {
                self.swing_trades_dropped += 1;
            }
            if last && let Some(t) = sink.trader.as_mut() {
                while let Ok(order) = link.orders.pop() {
                    self.swing_orders += 1;
                    t.on_external(&order, ts, &mut sink.out);
                }
            }
        }
        if last {
            // The decision point: only messages that reached the strategies have one (a venue
            // best-bid/ask message, or a level update of an unsynced book, has none).
            let c = &mut sink.out.cur;
            if c.signalled != 0 {
                c.verdict = now_ns();
            }
            sink.out.flush();
            sink.out.send(Rec::Done);
            self.cur = Stamps::default();
        }
        if ts >= self.next_status_ns {
            self.next_status_ns = ts.saturating_add(500_000_000);
            self.status(ts);
        }
    }

    fn finish<E: Emit<JournalItem>>(&mut self, _out: &mut E) {
        self.status(self.next_status_ns);
        let csv_rows = self.csv.as_ref().map(BboCsv::rows);
        if let (Some(csv), Some(path)) = (self.csv.take(), &self.csv_path)
            && let Err(e) = csv.finish()
        {
            eprintln!("crpbot: writing {}: {e}", path.display());
        }
        let st = self.books.stats();
        let bs = self.books.books().stats();
        let result = CoreResult {
            events: self.events,
            books: serde_json::json!({
                "events": st.events,
                "published": st.published,
                "resync_requests": st.resync_requests,
                "levels_applied": bs.levels,
                "crossed": bs.crossed,
                "rejected_levels": bs.rejected,
                "bbo_rows": csv_rows,
                "journal_records_dropped": self.dropped_records,
                "swing_trades_dropped": self.swing_trades_dropped,
                "swing_orders": self.swing_orders,
            }),
            trading: self.trader.as_ref().map(Trader::report),
        };
        if let Ok(mut g) = self.result.0.lock() {
            *g = Some(result);
        }
    }
}
