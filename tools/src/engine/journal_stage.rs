//! The journal stage: the single writer of the journal, and the end of every message's
//! latency stamps.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use crpbot_core::pipeline::{Emit, Stage};
use crpbot_core::{Registry, Venue};
use crpbot_risk::KillSwitch;

use super::check::RecordCheck;
use super::{JournalItem, Rec, StampSink, now_ns};
use crate::cmd::journal::JournalSink;

/// Journal options of an engine run.
#[derive(Clone, Debug, Default)]
pub struct JournalOptions {
    /// Directory (none: no journal).
    pub dir: Option<PathBuf>,
    /// Journal raw inbound frames too (recordings only).
    pub raw_frames: bool,
    /// Make every risk verdict durable (msync) before the core stage may send the next order.
    pub durable_decisions: bool,
    /// Venue of the raw frames.
    pub venue: Option<Venue>,
    /// Text of the start control record (the command line).
    pub start_text: String,
    /// Crash tests: every this many records, sync and print `ack <seq>` on stdout — the
    /// sequence numbers a kill -9 must not lose (0: never).
    pub ack_every: u64,
}

/// What the journal stage hands back.
#[derive(Debug, Default)]
pub struct JournalResult {
    /// Records written.
    pub records: u64,
    /// The first error, if writing halted.
    pub error: Option<String>,
}

/// The journal stage's result slot.
#[derive(Clone, Debug, Default)]
pub struct JournalResultHandle(Arc<Mutex<Option<JournalResult>>>);

impl JournalResultHandle {
    /// Takes the result once the pipeline has joined.
    pub fn take(&self) -> Option<JournalResult> {
        self.0.lock().ok().and_then(|mut g| g.take())
    }
}

/// The journal stage.
pub struct JournalStage {
    sink: Option<JournalSink>,
    raw: rtrb::Consumer<u8>,
    scratch: Vec<u8>,
    observer: Option<Box<dyn StampSink>>,
    kill: KillSwitch,
    durable: bool,
    ack_every: u64,
    /// Verdicts made durable (the core stage waits on it in durable mode).
    durable_verdicts: Arc<AtomicU64>,
    last_ts: i64,
    result: JournalResultHandle,
    /// Replay from a journal: compare every record with the journal's.
    check: Option<RecordCheck>,
}

impl std::fmt::Debug for JournalStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JournalStage").finish_non_exhaustive()
    }
}

impl JournalStage {
    /// Opens (and recovers) the journal, if any.
    pub fn open(
        opts: &JournalOptions,
        _registry: &Registry,
        raw: rtrb::Consumer<u8>,
        observer: Option<Box<dyn StampSink>>,
        kill: KillSwitch,
    ) -> anyhow::Result<JournalStage> {
        let sink = match &opts.dir {
            Some(dir) => Some(
                JournalSink::open(
                    dir,
                    opts.venue.unwrap_or(Venue::Sim),
                    &opts.start_text,
                    crpbot_core::Clock::now_ns(&crpbot_core::LiveClock),
                )
                .with_context(|| format!("journal {}", dir.display()))?,
            ),
            None => None,
        };
        Ok(JournalStage {
            sink,
            raw,
            scratch: Vec::with_capacity(1 << 20),
            observer,
            kill,
            durable: opts.durable_decisions,
            ack_every: opts.ack_every,
            durable_verdicts: Arc::default(),
            last_ts: 0,
            result: JournalResultHandle::default(),
            check: None,
        })
    }

    /// Compares every record the core makes with `check`'s expected ones.
    pub fn set_check(&mut self, check: RecordCheck) {
        self.check = Some(check);
    }

    /// The count of verdicts made durable so far.
    pub fn durable_verdicts(&self) -> Arc<AtomicU64> {
        self.durable_verdicts.clone()
    }

    /// The result slot.
    pub fn result_handle(&self) -> JournalResultHandle {
        self.result.clone()
    }

    fn take_raw(&mut self, len: usize) -> bool {
        self.scratch.clear();
        match self.raw.read_chunk(len) {
            Ok(chunk) => {
                let (a, b) = chunk.as_slices();
                self.scratch.extend_from_slice(a);
                self.scratch.extend_from_slice(b);
                chunk.commit_all();
                true
            }
            Err(_) => false,
        }
    }
}

impl Stage for JournalStage {
    type In = JournalItem;
    type Out = ();

    fn on_item<E: Emit<()>>(&mut self, item: JournalItem, _out: &mut E) {
        if let Some(c) = self.check.as_mut() {
            c.on_rec(&item.rec);
        }
        match item.rec {
            Rec::Done => {
                if let Some(o) = self.observer.as_mut() {
                    let mut st = item.st;
                    st.journaled = now_ns();
                    o.record(&st);
                }
                return;
            }
            Rec::Raw { ts_ns, len, instrument } => {
                // The bytes were written before the marker was emitted (release/acquire through
                // the rings), so they are there; a short read would be a bug, counted as an error.
                let ok = self.take_raw(len as usize);
                if let (true, Some(j)) = (ok, self.sink.as_mut()) {
                    let frame = std::mem::take(&mut self.scratch);
                    j.raw_frame(ts_ns, &frame, instrument);
                    self.scratch = frame;
                }
            }
            rec => {
                let Some(j) = self.sink.as_mut() else { return };
                match rec {
                    Rec::Market(ev) => {
                        self.last_ts = ev.ts_local_ns();
                        j.market(&ev);
                    }
                    Rec::Intent(i) => j.intent(&i),
                    Rec::Verdict(v) => {
                        j.verdict(&v);
                        if self.durable && j.sync() {
                            self.durable_verdicts.fetch_add(1, Ordering::Release);
                        }
                    }
                    Rec::Fill(f) => j.fill(&f),
                    Rec::Signal(s) => j.signal(&s),
                    Rec::Position(p) => j.position(&p),
                    Rec::Equity(e) => j.equity(&e),
                    Rec::Control { kind, ts_ns } => {
                        j.control(kind, "", ts_ns);
                        // Operator events are risk-critical: durable before anything follows.
                        j.sync();
                    }
                    Rec::Raw { .. } | Rec::Done => {}
                }
            }
        }
        if self.ack_every > 0
            && let Some(j) = self.sink.as_mut()
            && j.written() % self.ack_every == 0
            && j.sync()
        {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "ack {}", j.last_seq());
            let _ = out.flush();
        }
        if self.sink.as_ref().is_some_and(JournalSink::failed) && !self.kill.is_engaged() {
            // Disk full or a sync error: trading halts; it is never retried-and-ignored.
            self.kill.engage();
        }
    }

    fn finish<E: Emit<()>>(&mut self, _out: &mut E) {
        if let Some(c) = self.check.as_mut() {
            c.finish();
        }
        let mut result = JournalResult::default();
        if let Some(j) = self.sink.take() {
            result.records = j.written() + 1;
            result.error = j.error_text();
            if let Err(e) = j.finish(self.last_ts) {
                result.error.get_or_insert_with(|| format!("{e:#}"));
            }
        }
        if let Ok(mut g) = self.result.0.lock() {
            *g = Some(result);
        }
    }
}
