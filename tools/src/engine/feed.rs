//! The feed stage: reads venue messages (recording, simulator or live session), decodes and
//! synchronises them into normalized events, stamps ingress and decode, and emits them.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use crpbot_core::pipeline::{Emit, Full, Progress, Source};
use crpbot_core::{InstrumentId, MarketEvent, Registry, Venue};
use crpbot_feeds::coinbase::{CoinbaseFrames, CoinbaseReplay};
use crpbot_feeds::replay::{BinanceReplay, FrameOrder, Frames, Published, ReplaySink};
use crpbot_feeds::session::ResyncRequester;
use crpbot_feeds::sim::{SimConfig, Simulator};

use super::{FeedItem, Stamps, now_ns};

/// Under `Pace::Rate`, a message due within this many nanoseconds is waited for by spinning.
const SPIN_GAP_NS: u64 = 200_000;

/// How well a fixed-rate source kept its schedule.
#[derive(Clone, Copy, Debug, Default)]
struct Lateness {
    /// Sends more than one interval behind their due time.
    late: u64,
    /// The largest delay behind a due time.
    max_ns: u64,
    /// Time of the last send from the start of the run.
    last_send_ns: u64,
}

impl Lateness {
    fn on_send(&mut self, late_ns: u64, interval_ns: u64, now_ns: u64) {
        self.late += u64::from(late_ns > interval_ns);
        self.max_ns = self.max_ns.max(late_ns);
        self.last_send_ns = now_ns;
    }
}

/// How fast a simulator source produces messages.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pace {
    /// As fast as the pipeline takes them.
    MaxSpeed,
    /// One simulated second per wall second.
    RealTime,
    /// A fixed number of messages per wall second (the benchmark's `--rate`).
    Rate(u64),
}

/// The consumer end of a live session's event ring (the session thread decodes and
/// synchronises; the session handle stays with the control thread for status and stop).
pub struct LiveFeed {
    rx: rtrb::Consumer<MarketEvent>,
    resync: ResyncRequester,
}

impl LiveFeed {
    /// The session's ring and its resync requester.
    pub fn new(rx: rtrb::Consumer<MarketEvent>, resync: ResyncRequester) -> LiveFeed {
        LiveFeed { rx, resync }
    }
}

impl std::fmt::Debug for LiveFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveFeed").finish_non_exhaustive()
    }
}

/// Where market data comes from.
#[derive(Debug)]
pub enum SourceSpec {
    /// Binance recordings (`<ts_ns> <json>` lines), in order or merged by receive time.
    Binance { venue: Venue, inputs: Vec<PathBuf>, merged: bool },
    /// The built-in simulator.
    Sim { seed: u64, duration_s: Option<f64>, pace: Pace },
    /// A live venue session's ring.
    Session(LiveFeed),
    /// Coinbase captures or recordings, in order (the feed keeps its own Coinbase books for the
    /// connection-level sync; the core's books are built from the same events).
    Coinbase { inputs: Vec<PathBuf> },
    /// The raw frames of a journal (`replay --from-journal`; Binance or Coinbase), in journal
    /// order.
    Journal { venue: Venue, dir: PathBuf },
}

impl SourceSpec {
    /// True for a live session (decision edges halt on back-pressure).
    pub fn is_live(&self) -> bool {
        matches!(self, SourceSpec::Session(_))
    }
}

/// Feed counters shared with the control thread.
#[derive(Debug, Default)]
pub struct FeedShared {
    finished: AtomicBool,
    messages: AtomicU64,
    summary: Mutex<Option<serde_json::Value>>,
}

/// The control thread's view of the feed.
#[derive(Clone, Debug, Default)]
pub struct FeedStatsHandle(Arc<FeedShared>);

/// Final feed counters.
#[derive(Debug)]
pub struct FeedSummary {
    /// Venue messages read.
    pub messages: u64,
    /// Source-specific counters.
    pub json: serde_json::Value,
}

impl FeedStatsHandle {
    /// True once the source has ended (input exhausted, duration reached or stop requested).
    pub fn finished(&self) -> bool {
        self.0.finished.load(Ordering::Acquire)
    }

    /// Messages read so far.
    pub fn messages(&self) -> u64 {
        self.0.messages.load(Ordering::Relaxed)
    }

    /// The final counters.
    pub fn summary(&self) -> FeedSummary {
        let json = self.0.summary.lock().ok().and_then(|mut g| g.take()).unwrap_or_default();
        FeedSummary { messages: self.messages(), json }
    }
}

enum Kind {
    Binance {
        replay: Box<BinanceReplay>,
        frames: Frames,
    },
    Sim {
        sim: Box<Simulator>,
        batch: Vec<MarketEvent>,
        pace: Pace,
        t0_sim: i64,
        start: Option<Instant>,
        sent: u64,
        /// `Pace::Rate`: how well the schedule was kept.
        lateness: Lateness,
    },
    Live {
        rx: rtrb::Consumer<MarketEvent>,
    },
    Coinbase {
        replay: Box<CoinbaseReplay>,
        frames: CoinbaseFrames,
    },
    Journal {
        reader: Box<crpbot_journal::Reader>,
        replay: JournalReplay,
        venue: Venue,
        frame: Vec<u8>,
        frames: u64,
        undecodable: u64,
        read_error: Option<String>,
    },
}

/// The feed stage (a pipeline [`Source`]).
pub struct FeedSource {
    kind: Kind,
    /// Items of the current message not yet accepted downstream.
    pending: Vec<FeedItem>,
    next: usize,
    raw: Option<rtrb::Producer<u8>>,
    raw_dropped: u64,
    stop: Arc<AtomicBool>,
    shared: FeedStatsHandle,
    messages: u64,
    done: bool,
}

impl std::fmt::Debug for FeedSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedSource").field("messages", &self.messages).finish_non_exhaustive()
    }
}

impl FeedSource {
    /// Opens the source. Returns it and the resync requester the book stage must use.
    pub fn new(
        spec: SourceSpec,
        registry: &Registry,
        raw: Option<rtrb::Producer<u8>>,
        stop: Arc<AtomicBool>,
    ) -> anyhow::Result<(FeedSource, ResyncRequester)> {
        let (kind, resync, raw) = match spec {
            SourceSpec::Binance { venue, inputs, merged } => {
                let resync = ResyncRequester::detached(registry.len());
                let mut replay =
                    Box::new(BinanceReplay::events_only(registry, venue, resync.clone()));
                let order = if merged { FrameOrder::Merged } else { FrameOrder::InOrder };
                let frames = replay.open_frames(&inputs, order);
                (Kind::Binance { replay, frames }, resync, raw)
            }
            SourceSpec::Sim { seed, duration_s, pace } => {
                let cfg = match pace {
                    // A fixed wall rate: `duration_s` of it, however much simulated time.
                    Pace::Rate(r) => SimConfig {
                        duration_ns: None,
                        max_batches: duration_s.map(|s| (s.max(0.0) * r as f64) as u64),
                        ..SimConfig::new(seed)
                    },
                    _ => SimConfig {
                        duration_ns: duration_s.map(|s| (s.max(0.0) * 1e9) as i64),
                        ..SimConfig::new(seed)
                    },
                };
                let sim = Simulator::new(registry, cfg).context("simulator configuration")?;
                let t0_sim = sim.now_ns();
                let kind = Kind::Sim {
                    sim: Box::new(sim),
                    batch: Vec::with_capacity(1 << 14),
                    pace,
                    t0_sim,
                    start: None,
                    sent: 0,
                    lateness: Lateness::default(),
                };
                // The simulator has no raw frames.
                (kind, ResyncRequester::detached(registry.len()), None)
            }
            // Live raw frames are journaled by `crpbot record` (the session's frame tap).
            SourceSpec::Session(LiveFeed { rx, resync }) => (Kind::Live { rx }, resync, None),
            SourceSpec::Coinbase { inputs } => {
                let replay = Box::new(CoinbaseReplay::new(registry));
                let frames = replay.open_frames(&inputs);
                (Kind::Coinbase { replay, frames }, ResyncRequester::detached(registry.len()), raw)
            }
            SourceSpec::Journal { venue, dir } => {
                let reader = crpbot_journal::Reader::open(&dir)
                    .with_context(|| format!("opening journal {}", dir.display()))?;
                let resync = ResyncRequester::detached(registry.len());
                let replay = match venue {
                    Venue::Coinbase => {
                        JournalReplay::Coinbase(Box::new(CoinbaseReplay::new(registry)))
                    }
                    Venue::BinanceSpot | Venue::BinanceUsdm => JournalReplay::Binance(Box::new(
                        BinanceReplay::events_only(registry, venue, resync.clone()),
                    )),
                    other => anyhow::bail!(
                        "replay from a journal of {other} frames is not supported (binance-spot, binance-usdm, coinbase)"
                    ),
                };
                let kind = Kind::Journal {
                    reader: Box::new(reader),
                    replay,
                    venue,
                    frame: Vec::with_capacity(1 << 20),
                    frames: 0,
                    undecodable: 0,
                    read_error: None,
                };
                // The frames are already in the journal being read.
                (kind, resync, None)
            }
        };
        let feed = FeedSource {
            kind,
            pending: Vec::with_capacity(1 << 15),
            next: 0,
            raw,
            raw_dropped: 0,
            stop,
            shared: FeedStatsHandle::default(),
            messages: 0,
            done: false,
        };
        Ok((feed, resync))
    }

    /// The control thread's handle on the counters.
    pub fn stats_handle(&self) -> FeedStatsHandle {
        self.shared.clone()
    }

    /// Emits pending items; false if the ring handed one back (kept for the next poll).
    fn flush<E: Emit<FeedItem>>(&mut self, out: &mut E) -> bool {
        while let Some(&item) = self.pending.get(self.next) {
            match out.emit(item) {
                Ok(()) => self.next += 1,
                Err(Full(_)) => return false,
            }
        }
        self.pending.clear();
        self.next = 0;
        true
    }

    /// Reads one message into `pending`; false at the end of the input.
    fn read_one(&mut self) -> Option<bool> {
        // The frame is read from its file before the ingress stamp (a live frame is in memory
        // when it arrives): the stages time decoding, not gzip.
        if let Kind::Binance { replay, frames } = &mut self.kind {
            replay.prepare_next(frames);
        }
        // A paced simulator message is not due yet: nothing arrived (the wait, spun or parked,
        // is before the ingress stamp, as a live frame's would be).
        if let Kind::Sim { sim, pace, t0_sim, start, sent, lateness, .. } = &mut self.kind {
            let start = *start.get_or_insert_with(Instant::now);
            let due = match *pace {
                Pace::MaxSpeed => true,
                Pace::RealTime => {
                    sim.now_ns() <= t0_sim.saturating_add(start.elapsed().as_nanos() as i64)
                }
                Pace::Rate(r) => {
                    let due_ns = (u128::from(*sent) * 1_000_000_000 / u128::from(r.max(1))) as u64;
                    // Gaps shorter than a park are spun out here: a parked source overshoots
                    // them by the kernel's wake-up latency and the rate would turn into bursts.
                    loop {
                        let now = start.elapsed().as_nanos() as u64;
                        if now >= due_ns {
                            lateness.on_send(now - due_ns, 1_000_000_000 / r.max(1), now);
                            break true;
                        }
                        if due_ns - now > SPIN_GAP_NS {
                            break false;
                        }
                        std::hint::spin_loop();
                    }
                }
            };
            if !due {
                return None;
            }
        }
        let ingress = now_ns();
        let before = self.pending.len();
        let alive = match &mut self.kind {
            Kind::Binance { replay, frames } => {
                let mut c = Collector {
                    pending: &mut self.pending,
                    raw: self.raw.as_mut(),
                    raw_dropped: &mut self.raw_dropped,
                };
                replay.feed_next(frames, &mut c)
            }
            Kind::Sim { sim, batch, sent, .. } => match sim.next_batch(batch) {
                Some(_) => {
                    *sent += 1;
                    for ev in batch.iter() {
                        self.pending.push(FeedItem::Event {
                            ev: *ev,
                            st: Stamps::default(),
                            last: false,
                        });
                    }
                    true
                }
                None => false,
            },
            Kind::Coinbase { replay, frames } => {
                let mut c = Collector {
                    pending: &mut self.pending,
                    raw: self.raw.as_mut(),
                    raw_dropped: &mut self.raw_dropped,
                };
                replay.feed_next(frames, &mut c)
            }
            Kind::Journal { reader, replay, venue, frame, frames, undecodable, read_error } => {
                let mut c = Collector {
                    pending: &mut self.pending,
                    raw: None,
                    raw_dropped: &mut self.raw_dropped,
                };
                next_journal_frame(
                    reader,
                    replay,
                    *venue,
                    frame,
                    frames,
                    undecodable,
                    read_error,
                    &mut c,
                )
            }
            Kind::Live { rx } => {
                let Ok(ev) = rx.pop() else {
                    if rx.is_abandoned() {
                        return Some(false);
                    }
                    return None;
                };
                self.pending.push(FeedItem::Event { ev, st: Stamps::default(), last: false });
                true
            }
        };
        if alive {
            self.messages += 1;
            let decoded = now_ns();
            let mut last_event = None;
            for (k, item) in self.pending.iter_mut().enumerate().skip(before) {
                if let FeedItem::Event { st, .. } = item {
                    *st = Stamps { ingress, decoded, ..Stamps::default() };
                    last_event = Some(k);
                }
            }
            if let Some(FeedItem::Event { last, .. }) =
                last_event.and_then(|k| self.pending.get_mut(k))
            {
                *last = true;
            }
        }
        Some(alive)
    }

    fn finish(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        let json = match &mut self.kind {
            Kind::Binance { replay, .. } => {
                let mut j = serde_json::to_value(replay.stats()).unwrap_or_default();
                if let Some(o) = j.as_object_mut() {
                    o.insert("raw_frames_dropped".into(), self.raw_dropped.into());
                }
                j
            }
            Kind::Sim { sim, lateness, pace, .. } => {
                let s = sim.stats();
                let mut j = serde_json::json!({"batches": s.batches, "levels": s.levels, "trades": s.trades, "bursts": s.bursts});
                if let (Pace::Rate(_), Some(o)) = (pace, j.as_object_mut()) {
                    o.insert("send_window_s".into(), (lateness.last_send_ns as f64 / 1e9).into());
                    o.insert("late_sends".into(), lateness.late.into());
                    o.insert("max_late_ns".into(), lateness.max_ns.into());
                }
                j
            }
            // The session's counters are with its handle, on the control thread.
            Kind::Live { .. } => serde_json::json!({ "events": self.messages }),
            Kind::Coinbase { replay, .. } => {
                let mut j = serde_json::to_value(replay.stats()).unwrap_or_default();
                if let Some(o) = j.as_object_mut() {
                    o.insert("raw_frames_dropped".into(), self.raw_dropped.into());
                }
                j
            }
            Kind::Journal { replay, frames, undecodable, read_error, .. } => {
                let stats = match replay {
                    JournalReplay::Binance(r) => r.stats(),
                    JournalReplay::Coinbase(r) => r.stats(),
                };
                let mut j = serde_json::to_value(stats).unwrap_or_default();
                if let Some(o) = j.as_object_mut() {
                    o.insert("journal_frames".into(), (*frames).into());
                    o.insert("undecodable_frames".into(), (*undecodable).into());
                    o.insert("journal_read_error".into(), read_error.clone().into());
                }
                j
            }
        };
        if let Ok(mut g) = self.shared.0.summary.lock() {
            *g = Some(json);
        }
        self.shared.0.messages.store(self.messages, Ordering::Relaxed);
        self.shared.0.finished.store(true, Ordering::Release);
    }
}

impl Drop for FeedSource {
    fn drop(&mut self) {
        self.finish();
    }
}

impl Source for FeedSource {
    type Out = FeedItem;

    fn poll<E: Emit<FeedItem>>(&mut self, out: &mut E) -> Progress {
        if self.done {
            return Progress::Finished;
        }
        if !self.flush(out) {
            return Progress::Busy;
        }
        if self.stop.load(Ordering::Relaxed) {
            self.finish();
            return Progress::Finished;
        }
        // A few messages per poll keeps the control checks cheap.
        for _ in 0..16 {
            match self.read_one() {
                None => {
                    self.flush(out);
                    return Progress::Idle;
                }
                Some(false) => {
                    if self.flush(out) {
                        self.finish();
                        return Progress::Finished;
                    }
                    return Progress::Busy;
                }
                Some(true) => {
                    if !self.flush(out) {
                        return Progress::Busy;
                    }
                }
            }
        }
        self.shared.0.messages.store(self.messages, Ordering::Relaxed);
        Progress::Busy
    }
}

/// The decoder and synchroniser a journal's frames go through.
enum JournalReplay {
    Binance(Box<BinanceReplay>),
    Coinbase(Box<CoinbaseReplay>),
}

/// Feeds the next raw frame of `venue` from the journal; false at its end (or at a record that
/// cannot be read, kept in `read_error`: what follows a bad record is not trusted).
#[allow(clippy::too_many_arguments)]
fn next_journal_frame(
    reader: &mut crpbot_journal::Reader,
    replay: &mut JournalReplay,
    venue: Venue,
    frame: &mut Vec<u8>,
    frames: &mut u64,
    undecodable: &mut u64,
    read_error: &mut Option<String>,
    sink: &mut Collector<'_>,
) -> bool {
    use crpbot_journal::{RecordType, codec};
    loop {
        let (ts_ns, instrument) = match reader.next_record() {
            None => return false,
            Some(Err(e)) => {
                *read_error = Some(e.to_string());
                return false;
            }
            Some(Ok(rec)) => {
                if rec.record_type != RecordType::RAW_FRAME {
                    continue;
                }
                match codec::decode(rec.record_type, rec.ver, rec.payload) {
                    Ok(codec::Decoded::RawFrame { venue: v, instrument, frame: bytes })
                        if v == venue =>
                    {
                        frame.clear();
                        frame.extend_from_slice(bytes);
                        (rec.ts_ns, instrument)
                    }
                    Ok(_) => continue,
                    Err(_) => {
                        *undecodable += 1;
                        continue;
                    }
                }
            }
        };
        *frames += 1;
        let ok = match replay {
            JournalReplay::Binance(r) => r.feed(frame, ts_ns, instrument, sink).is_ok(),
            JournalReplay::Coinbase(r) => {
                // A journal has no connection markers: as in a recording.
                if crpbot_feeds::coinbase::starts_connection(frame) {
                    r.on_connect(ts_ns, sink);
                }
                r.feed(frame, ts_ns, sink).is_ok()
            }
        };
        if !ok {
            *undecodable += 1;
        }
        return true;
    }
}

/// Collects one message's events (and its raw frame) from the replay callbacks.
struct Collector<'a> {
    pending: &'a mut Vec<FeedItem>,
    raw: Option<&'a mut rtrb::Producer<u8>>,
    raw_dropped: &'a mut u64,
}

impl ReplaySink for Collector<'_> {
    fn on_book(&mut self, _p: &Published<'_>) {}

    fn on_event(&mut self, ev: &MarketEvent) {
        self.pending.push(FeedItem::Event { ev: *ev, st: Stamps::default(), last: false });
    }

    fn on_raw(&mut self, ts_local_ns: i64, frame: &[u8], context: Option<InstrumentId>) {
        let Some(raw) = self.raw.as_mut() else { return };
        let Ok(len) = u32::try_from(frame.len()) else {
            *self.raw_dropped += 1;
            return;
        };
        if frame.len() > raw.buffer().capacity() {
            *self.raw_dropped += 1;
            return;
        }
        // Wait for the journal thread to make room (it drains independently in `split`; in
        // `fused` the ring is empty here, every earlier frame already written).
        let mut spins = 0u32;
        while raw.slots() < frame.len() {
            if raw.is_abandoned() {
                *self.raw_dropped += 1;
                return;
            }
            spins += 1;
            if spins < 1000 { std::hint::spin_loop() } else { std::thread::yield_now() }
        }
        if let Ok(chunk) = raw.write_chunk_uninit(frame.len()) {
            chunk.fill_from_iter(frame.iter().copied());
            self.pending.push(FeedItem::Raw { ts_ns: ts_local_ns, len, instrument: context });
        } else {
            *self.raw_dropped += 1;
        }
    }
}
