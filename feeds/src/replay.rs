//! Replay of recorded Binance feeds through the decoder, the synchroniser and the books.
//!
//! Files are replayed in the order given. Each file's REST snapshot line carries no symbol: it
//! belongs to the instrument of the file's other messages (or, before any, to the symbol that
//! prefixes the file name, as in `btcusdt_20240808.gz`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use crpbot_core::{InstrumentId, MarketEvent, Registry, StateReason, Venue};
use serde::Serialize;

use crate::binance::{BinanceDecoder, BinanceMsg, DecodeError, DecoderConfig, DepthHeader};
use crate::books::{BookEffect, BookSet, TrackedBook};
use crate::recording::{LineError, Recording};
use crate::session::ResyncRequester;
use crate::sync::{Continuity, DepthSync, SnapshotOutcome, SyncSink};

/// One bad input, located.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InputIssue {
    /// File it came from.
    pub file: String,
    /// 1-based line number.
    pub line: u64,
    /// What was wrong.
    pub error: String,
}

/// The summary of a replay (printed by `crpbot replay` as one JSON line).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ReplayStats {
    /// Lines read that carried a message.
    pub messages: u64,
    /// Depth messages applied to a book.
    pub book_updates_applied: u64,
    /// Level updates applied to books (snapshots included).
    pub levels_applied: u64,
    /// Depth messages dropped as older than the book.
    pub stale_dropped: u64,
    /// Sequence gaps detected.
    pub gaps: u64,
    /// Snapshots that restored a lost sync.
    pub resyncs: u64,
    /// Messages after which a synced book came out crossed or locked.
    pub crossed: u64,
    /// Snapshots applied.
    pub snapshots: u64,
    /// Venue best bid/offer messages.
    pub bbo: u64,
    /// Trades.
    pub trades: u64,
    /// Control messages (subscription replies, server shutdown notices).
    pub control: u64,
    /// Bad lines and messages, all kinds.
    pub errors: u64,
    /// The first bad inputs (at most [`ReplayStats::MAX_ISSUES`]), with their line numbers.
    pub issues: Vec<InputIssue>,
    /// Wall time of the replay in seconds.
    pub elapsed_s: f64,
}

impl ReplayStats {
    /// How many issues are kept verbatim.
    pub const MAX_ISSUES: usize = 100;

    fn issue(&mut self, file: &Path, line: u64, error: String) {
        self.errors += 1;
        if self.issues.len() < Self::MAX_ISSUES {
            self.issues.push(InputIssue { file: file.display().to_string(), line, error });
        }
    }
}

/// A book just updated by a whole depth message and valid to publish.
#[derive(Debug)]
pub struct Published<'a> {
    /// The depth message applied last.
    pub depth: &'a DepthHeader,
    /// The book after it.
    pub book: &'a TrackedBook,
}

/// Receives what a replay produces.
pub trait ReplaySink {
    /// After each applied depth message whose book is valid.
    fn on_book(&mut self, published: &Published<'_>);
    /// Every normalized event (levels, trades, venue BBOs, state changes), in order.
    fn on_event(&mut self, _event: &MarketEvent) {}
    /// Every raw frame (local receive time, bytes, and the instrument a REST snapshot would be
    /// attributed to) before it is decoded, e.g. to journal it.
    fn on_raw(&mut self, _ts_local_ns: i64, _frame: &[u8], _context: Option<InstrumentId>) {}
}

/// Replays Binance recordings (`venue` is `BinanceSpot` or `BinanceUsdm`).
#[derive(Debug)]
pub struct BinanceReplay {
    registry: Registry,
    venue: Venue,
    decoder: BinanceDecoder,
    syncs: Vec<Option<DepthSync>>,
    books: BookSet,
    stats: ReplayStats,
    /// Events-only mode: the books live in a later pipeline stage, which asks for resyncs.
    detached: Option<ResyncRequester>,
}

impl BinanceReplay {
    /// A replay of `venue` with the instruments of `registry`.
    pub fn new(registry: &Registry, venue: Venue) -> BinanceReplay {
        // Full books for the venue's instruments; the others never see an event here.
        let active: Vec<InstrumentId> =
            registry.iter().filter(|i| i.venue == venue).map(|i| i.id).collect();
        let books = BookSet::with_active(registry.len(), &active, Default::default());
        BinanceReplay::with_books(registry, venue, books)
    }

    fn with_books(registry: &Registry, venue: Venue, books: BookSet) -> BinanceReplay {
        let rule = if venue == Venue::BinanceUsdm { Continuity::Usdm } else { Continuity::Spot };
        let syncs = registry
            .iter()
            .map(|i| (i.venue == venue).then(|| DepthSync::new(i.id, rule, 1024, 1 << 16)))
            .collect();
        BinanceReplay {
            registry: registry.clone(),
            venue,
            decoder: BinanceDecoder::new(registry, venue, DecoderConfig::default()),
            syncs,
            books,
            stats: ReplayStats::default(),
            detached: None,
        }
    }

    /// A replay that decodes and synchronises but keeps no books: every event goes to the
    /// sink's [`ReplaySink::on_event`] (nothing reaches `on_book`), for a pipeline whose book
    /// stage runs elsewhere ([`LiveBooks`](crate::session::LiveBooks)). That stage reports a
    /// crossed or refused book through `resync`; the next depth message of the instrument
    /// then invalidates its synchroniser (reason `Crossed`), as a live session does.
    pub fn events_only(
        registry: &Registry,
        venue: Venue,
        resync: ResyncRequester,
    ) -> BinanceReplay {
        let none = BookSet::new(0, crpbot_book::BookConfig { window_ticks: 64, far_capacity: 0 });
        let mut r = BinanceReplay::with_books(registry, venue, none);
        r.detached = Some(resync);
        r
    }

    /// The books.
    pub fn books(&self) -> &BookSet {
        &self.books
    }

    /// The synchroniser of an instrument.
    pub fn sync(&self, id: InstrumentId) -> Option<&DepthSync> {
        self.syncs.get(id.index()).and_then(Option::as_ref)
    }

    /// The registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Replays the files in order and returns the summary.
    pub fn run(&mut self, inputs: &[PathBuf], sink: &mut impl ReplaySink) -> ReplayStats {
        let start = Instant::now();
        for path in inputs {
            self.run_file(path, sink);
        }
        self.finish(start)
    }

    /// Replays the files merged by local receive time (a k-way merge), as a live process
    /// would have seen them: what strategies that trade several instruments need.
    pub fn run_merged(&mut self, inputs: &[PathBuf], sink: &mut impl ReplaySink) -> ReplayStats {
        let start = Instant::now();
        let mut frames = self.open_frames(inputs, FrameOrder::Merged);
        while self.feed_next(&mut frames, sink) {}
        self.finish(start)
    }

    /// Opens `inputs` for frame-at-a-time replay with [`BinanceReplay::feed_next`] (files that
    /// cannot be opened are counted as issues).
    pub fn open_frames(&mut self, inputs: &[PathBuf], order: FrameOrder) -> Frames {
        let mut heads = Vec::with_capacity(inputs.len());
        for path in inputs {
            match Recording::open(path) {
                Ok(rec) => heads.push(Head {
                    path: path.clone(),
                    rec,
                    ctx: self.file_context(path),
                    buf: Vec::with_capacity(1 << 16),
                    ts: 0,
                    line: 0,
                    done: false,
                }),
                Err(e) => self.stats.issue(path, 0, format!("cannot open: {e}")),
            }
        }
        for h in &mut heads {
            h.advance(&mut self.stats);
        }
        Frames { heads, order, consumed: None }
    }

    /// Decodes and applies the next frame of `frames` (raw frame to `sink.on_raw` first);
    /// false when every input is exhausted.
    pub fn feed_next(&mut self, frames: &mut Frames, sink: &mut impl ReplaySink) -> bool {
        self.prepare_next(frames);
        // Merged: the earliest receive time, ties to the earlier input (deterministic).
        // InOrder: the first input not yet exhausted.
        let next = match frames.order {
            FrameOrder::Merged => frames
                .heads
                .iter()
                .enumerate()
                .filter(|(_, h)| !h.done)
                .min_by_key(|(i, h)| (h.ts, *i))
                .map(|(i, _)| i),
            FrameOrder::InOrder => frames.heads.iter().position(|h| !h.done),
        };
        let Some(i) = next else { return false };
        let h = &mut frames.heads[i];
        sink.on_raw(h.ts, &h.buf, h.ctx);
        match self.feed(&mut h.buf, h.ts, h.ctx, sink) {
            Ok(Some(id)) => h.ctx = Some(id),
            Ok(None) => {}
            Err(e) => self.stats.issue(&h.path, h.line, e.to_string()),
        }
        frames.consumed = Some(i);
        true
    }

    /// Reads (inflates) the line after the frame fed last, so that the next
    /// [`BinanceReplay::feed_next`] starts with its frame in memory: a latency harness calls it
    /// before stamping ingress, so reading the file is not charged to decoding. Idempotent.
    pub fn prepare_next(&mut self, frames: &mut Frames) {
        if let Some(i) = frames.consumed.take()
            && let Some(h) = frames.heads.get_mut(i)
        {
            h.advance(&mut self.stats);
        }
    }

    fn finish(&mut self, start: Instant) -> ReplayStats {
        let mut s = self.stats.clone();
        for sync in self.syncs.iter().flatten() {
            let st = sync.stats();
            s.book_updates_applied += st.applied;
            s.stale_dropped += st.stale_dropped;
            s.gaps += st.gaps;
            s.resyncs += st.resyncs;
            s.snapshots += st.snapshots;
        }
        let bs = self.books.stats();
        s.levels_applied = bs.levels;
        s.crossed = bs.crossed;
        s.elapsed_s = start.elapsed().as_secs_f64();
        s
    }

    fn file_context(&self, path: &Path) -> Option<InstrumentId> {
        let name = path.file_name()?.to_str()?;
        let symbol = name.split(['_', '.', '-']).next()?;
        self.registry.lookup(self.venue, symbol.as_bytes())
    }

    fn run_file(&mut self, path: &Path, sink: &mut impl ReplaySink) {
        let mut rec = match Recording::open(path) {
            Ok(r) => r,
            Err(e) => {
                self.stats.issue(path, 0, format!("cannot open: {e}"));
                return;
            }
        };
        let mut context = self.file_context(path);
        while let Some(line) = rec.next() {
            let line = match line {
                Ok(l) => l,
                Err(e) => {
                    let n = rec.line_no();
                    let fatal = matches!(e, LineError::Io(_));
                    self.stats.issue(path, n, e.to_string());
                    if fatal {
                        break;
                    }
                    continue;
                }
            };
            let line_no = line.line_no;
            sink.on_raw(line.ts_local_ns, line.payload, context);
            match self.feed(line.payload, line.ts_local_ns, context, sink) {
                Ok(Some(id)) => context = Some(id),
                Ok(None) => {}
                Err(e) => self.stats.issue(path, line_no, e.to_string()),
            }
        }
    }

    /// Decodes and applies one message (a frame, parsed in place). `context` is the instrument
    /// of a REST snapshot, which carries no symbol. Returns the message's instrument.
    ///
    /// Once warmed up this allocates nothing: the decoder, the synchronisers and the books
    /// reuse storage sized at construction.
    pub fn feed(
        &mut self,
        frame: &mut [u8],
        ts_local_ns: i64,
        context: Option<InstrumentId>,
        sink: &mut impl ReplaySink,
    ) -> Result<Option<InstrumentId>, DecodeError> {
        self.stats.messages += 1;
        let msg = self.decoder.decode(frame, ts_local_ns, context)?;
        Ok(self.on_msg(msg, sink))
    }

    /// The summary so far (with `elapsed_s` 0).
    pub fn stats(&mut self) -> ReplayStats {
        let mut s = self.finish(Instant::now());
        s.elapsed_s = 0.0;
        s
    }

    /// Handles one decoded message; returns its instrument.
    fn on_msg(&mut self, msg: BinanceMsg, sink: &mut impl ReplaySink) -> Option<InstrumentId> {
        let Self { decoder, syncs, books, stats, detached, .. } = self;
        match msg {
            BinanceMsg::Depth(h) if detached.is_some() => {
                let sync = syncs.get_mut(h.instrument.index())?.as_mut()?;
                let mut fwd = |ev: MarketEvent| sink.on_event(&ev);
                if detached.as_ref().is_some_and(|r| r.take(h.instrument)) {
                    sync.invalidate(StateReason::Crossed, h.ts_local_ns, &mut fwd);
                }
                sync.on_diff(&h, decoder.levels(), &mut fwd);
                Some(h.instrument)
            }
            BinanceMsg::Snapshot(h) if detached.is_some() => {
                let sync = syncs.get_mut(h.instrument.index())?.as_mut()?;
                let mut fwd = |ev: MarketEvent| sink.on_event(&ev);
                let _outcome: SnapshotOutcome = sync.on_snapshot(&h, decoder.levels(), &mut fwd);
                Some(h.instrument)
            }
            BinanceMsg::Depth(h) => {
                let sync = syncs.get_mut(h.instrument.index())?.as_mut()?;
                let mut apply = Apply { books, sink, effect: BookEffect::None };
                sync.on_diff(&h, decoder.levels(), &mut apply);
                apply.react(sync, h.ts_local_ns);
                Some(h.instrument)
            }
            BinanceMsg::Snapshot(h) => {
                let sync = syncs.get_mut(h.instrument.index())?.as_mut()?;
                let mut apply = Apply { books, sink, effect: BookEffect::None };
                // A snapshot too old to bridge is counted by the synchroniser; a live session
                // fetches another, a recording waits for its next one.
                let _outcome: SnapshotOutcome = sync.on_snapshot(&h, decoder.levels(), &mut apply);
                apply.react(sync, h.ts_local_ns);
                Some(h.instrument)
            }
            BinanceMsg::Bbo(b) => {
                stats.bbo += 1;
                sink.on_event(&MarketEvent::Bbo(b));
                Some(b.instrument)
            }
            BinanceMsg::Trade(t) => {
                stats.trades += 1;
                sink.on_event(&MarketEvent::Trade(t));
                Some(t.instrument)
            }
            BinanceMsg::Mark(m) => {
                sink.on_event(&MarketEvent::Mark(m));
                Some(m.instrument)
            }
            BinanceMsg::ServerShutdown { .. } | BinanceMsg::Control => {
                stats.control += 1;
                None
            }
        }
    }
}

/// How [`Frames`] orders its inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameOrder {
    /// Each file to its end, in the order given (`crpbot replay` without strategies).
    InOrder,
    /// Merged by local receive time across files (what multi-instrument strategies need).
    Merged,
}

/// Open recordings read one frame at a time ([`BinanceReplay::feed_next`]): the pollable
/// form of a replay, for a pipeline source.
#[derive(Debug)]
pub struct Frames {
    heads: Vec<Head>,
    order: FrameOrder,
    /// The input whose frame was fed last and not yet replaced by its next line.
    consumed: Option<usize>,
}

impl Frames {
    /// True when every input is exhausted.
    pub fn is_done(&self) -> bool {
        self.consumed.is_none() && self.heads.iter().all(|h| h.done)
    }
}

#[derive(Debug)]
struct Head {
    path: PathBuf,
    rec: Recording,
    ctx: Option<InstrumentId>,
    buf: Vec<u8>,
    ts: i64,
    line: u64,
    done: bool,
}

impl Head {
    /// Reads the next good line into `buf` (bad lines are counted; an I/O error ends the file).
    fn advance(&mut self, stats: &mut ReplayStats) {
        loop {
            match self.rec.next() {
                None => {
                    self.done = true;
                    return;
                }
                Some(Ok(l)) => {
                    self.buf.clear();
                    self.buf.extend_from_slice(l.payload);
                    self.ts = l.ts_local_ns;
                    self.line = l.line_no;
                    return;
                }
                Some(Err(e)) => {
                    let fatal = matches!(e, LineError::Io(_));
                    stats.issue(&self.path, self.rec.line_no(), e.to_string());
                    if fatal {
                        self.done = true;
                        return;
                    }
                }
            }
        }
    }
}

/// Applies a synchroniser's output to the books and publishes each whole, valid diff.
struct Apply<'a, S: ReplaySink> {
    books: &'a mut BookSet,
    sink: &'a mut S,
    /// The most serious effect since the last whole diff.
    effect: BookEffect,
}

impl<S: ReplaySink> SyncSink for Apply<'_, S> {
    fn event(&mut self, ev: MarketEvent) {
        self.sink.on_event(&ev);
        let effect = self.books.apply(&ev);
        self.effect = match (ev, self.effect) {
            // A state change starts a new episode, unless a crossing or rejection is pending.
            (MarketEvent::State(_), BookEffect::Crossed | BookEffect::Rejected) => self.effect,
            (MarketEvent::State(_), _) => BookEffect::None,
            _ => worst(self.effect, effect),
        };
    }

    fn applied(&mut self, header: &DepthHeader) {
        if self.effect == BookEffect::Updated
            && let Some(book) = self.books.get(header.instrument)
        {
            self.sink.on_book(&Published { depth: header, book });
        }
        if !matches!(self.effect, BookEffect::Crossed | BookEffect::Rejected) {
            self.effect = BookEffect::None;
        }
    }
}

impl<S: ReplaySink> Apply<'_, S> {
    /// A crossed or rejected result invalidates the synchronisation: the book is stale until
    /// a new snapshot.
    fn react(self, sync: &mut DepthSync, ts_local_ns: i64) {
        let reason = match self.effect {
            BookEffect::Crossed => StateReason::Crossed,
            BookEffect::Rejected => StateReason::BadLevel,
            _ => return,
        };
        let (books, sink) = (self.books, self.sink);
        sync.invalidate(reason, ts_local_ns, &mut |ev: MarketEvent| {
            sink.on_event(&ev);
            books.apply(&ev);
        });
    }
}

/// The most serious of two effects (a rejection or crossing anywhere in a message wins).
fn worst(a: BookEffect, b: BookEffect) -> BookEffect {
    fn rank(e: BookEffect) -> u8 {
        match e {
            BookEffect::None => 0,
            BookEffect::Updated => 1,
            BookEffect::Unpublishable => 2,
            BookEffect::Crossed => 3,
            BookEffect::Rejected => 4,
        }
    }
    if rank(b) >= rank(a) { b } else { a }
}

/// Writes the best bid/ask after each published depth message as CSV:
/// `ts_local_ns,ts_exch_ns,symbol,update_id,bid_px,bid_qty,ask_px,ask_qty`, prices and sizes
/// as exact decimal text of the instrument's tick and lot.
#[derive(Debug)]
pub struct BboCsv<W: std::io::Write> {
    out: W,
    registry: Registry,
    row: String,
    rows: u64,
    error: Option<std::io::Error>,
}

impl<W: std::io::Write> BboCsv<W> {
    /// The CSV header line (without newline).
    pub const HEADER: &'static str =
        "ts_local_ns,ts_exch_ns,symbol,update_id,bid_px,bid_qty,ask_px,ask_qty";

    /// A writer that has written the header.
    pub fn new(mut out: W, registry: &Registry) -> std::io::Result<BboCsv<W>> {
        writeln!(out, "{}", Self::HEADER)?;
        Ok(BboCsv {
            out,
            registry: registry.clone(),
            row: String::with_capacity(128),
            rows: 0,
            error: None,
        })
    }

    /// Rows written.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Flushes and returns the writer, or the first write error.
    pub fn finish(mut self) -> std::io::Result<W> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()?;
        Ok(self.out)
    }

    fn format_row(&mut self, p: &Published<'_>) -> std::fmt::Result {
        use std::fmt::Write as _;
        let inst = self.registry.get(p.depth.instrument);
        let (Some(bid), Some(ask)) = (p.book.book.best_bid(), p.book.book.best_ask()) else {
            return Ok(());
        };
        let r = &mut self.row;
        r.clear();
        write!(
            r,
            "{},{},{},{},",
            p.depth.ts_local_ns, p.depth.ts_exch_ns, inst.symbol, p.depth.final_update_id
        )?;
        inst.price.write(bid.px.0, r)?;
        r.push(',');
        inst.qty.write(bid.qty.0, r)?;
        r.push(',');
        inst.price.write(ask.px.0, r)?;
        r.push(',');
        inst.qty.write(ask.qty.0, r)?;
        r.push('\n');
        Ok(())
    }
}

impl<W: std::io::Write> ReplaySink for BboCsv<W> {
    fn on_book(&mut self, p: &Published<'_>) {
        if self.error.is_some() || self.format_row(p).is_err() {
            return;
        }
        match self.out.write_all(self.row.as_bytes()) {
            Ok(()) => self.rows += 1,
            Err(e) => self.error = Some(e),
        }
    }
}
