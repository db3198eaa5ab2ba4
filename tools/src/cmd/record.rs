//! `crpbot record`: raw venue frames (and REST snapshots) with local receive timestamps into
//! daily gzip files `<venue>_<yyyymmdd>.gz` (`--out`), replayable with `crpbot replay`, and/or
//! into a journal (`--journal`): the raw frames (unless `--no-raw`) and the normalized market
//! events, which `crpbot replay --from-journal` re-decodes and checks against each other.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use clap::Args;
use crpbot_core::{Clock, LiveClock, MarketEvent, Registry, Venue};
use crpbot_feeds::replay::{Published, ReplaySink};
use crpbot_feeds::session::FrameTap;
use crpbot_feeds::session::record::DayFileRecorder;

use super::journal::JournalSink;
use super::run::{LiveArgs, live_loop};

/// Arguments of `crpbot record`.
#[derive(Debug, Args)]
pub struct RecordArgs {
    #[command(flatten)]
    live: LiveArgs,
    /// Output directory of the daily gzip files (created if missing).
    #[arg(long, required_unless_present = "journal")]
    out: Option<PathBuf>,
    /// Journal directory: raw frames and REST snapshots (unless `--no-raw`) and the normalized
    /// market events, with start and stop records.
    #[arg(long)]
    journal: Option<PathBuf>,
    /// Journal the market events only, not the raw frames.
    #[arg(long, requires = "journal")]
    no_raw: bool,
}

/// The journal is written from two threads: the session thread's frame tap (raw frames, in
/// arrival order) and this thread (the decoded events). A mutex is fine here: recording is an
/// I/O tool, not the trading hot path, and a frame is journaled before its events exist.
type SharedJournal = Arc<Mutex<Option<JournalSink>>>;

fn with_journal(j: &SharedJournal, f: impl FnOnce(&mut JournalSink)) {
    // A poisoned lock means a writer panicked mid-append: the journal's recovery handles the
    // torn tail; keep writing what follows.
    let mut g = j.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(sink) = g.as_mut() {
        f(sink);
    }
}

/// Journals every raw frame, and each REST snapshot body as a raw frame attributed to its
/// instrument (as replay expects it).
struct JournalTap {
    journal: SharedJournal,
    registry: Registry,
    venue: Venue,
}

impl FrameTap for JournalTap {
    fn frame(&mut self, ts_local_ns: i64, frame: &[u8]) {
        with_journal(&self.journal, |j| j.raw_frame(ts_local_ns, frame, None));
    }

    fn snapshot(&mut self, ts_local_ns: i64, symbol: &str, body: &[u8]) {
        let instrument = self.registry.lookup(self.venue, symbol.as_bytes());
        with_journal(&self.journal, |j| j.raw_frame(ts_local_ns, body, instrument));
    }
}

/// Both taps, in order.
struct Tee(Vec<Box<dyn FrameTap>>);

impl FrameTap for Tee {
    fn frame(&mut self, ts_local_ns: i64, frame: &[u8]) {
        self.0.iter_mut().for_each(|t| t.frame(ts_local_ns, frame));
    }

    fn snapshot(&mut self, ts_local_ns: i64, symbol: &str, body: &[u8]) {
        self.0.iter_mut().for_each(|t| t.snapshot(ts_local_ns, symbol, body));
    }

    fn finish(&mut self) {
        self.0.iter_mut().for_each(|t| t.finish());
    }
}

/// Journals the normalized events (or nothing, without `--journal`).
struct EventSink(Option<SharedJournal>);

impl ReplaySink for EventSink {
    fn on_book(&mut self, _p: &Published<'_>) {}

    fn on_event(&mut self, ev: &MarketEvent) {
        if let Some(j) = &self.0 {
            with_journal(j, |s| s.market(ev));
        }
    }
}

pub fn run(args: RecordArgs) -> anyhow::Result<ExitCode> {
    if args.live.venue == Venue::Sim {
        bail!("the simulator is deterministic from its seed: nothing to record");
    }
    let registry = args.live.registry()?;
    let clock = LiveClock;
    let mut taps: Vec<Box<dyn FrameTap>> = Vec::new();
    let mut files = None;
    if let Some(out) = &args.out {
        let recorder = DayFileRecorder::new(out, args.live.venue)
            .with_context(|| format!("creating {}", out.display()))?;
        files = Some(recorder.stats());
        taps.push(Box::new(recorder));
    }
    let journal: Option<SharedJournal> = match &args.journal {
        Some(dir) => {
            let text = format!(
                "record venue={} symbols={} raw={}",
                args.live.venue,
                args.live.symbols.join(","),
                !args.no_raw
            );
            let sink = JournalSink::open(dir, args.live.venue, &text, clock.now_ns())?;
            Some(Arc::new(Mutex::new(Some(sink))))
        }
        None => None,
    };
    if let (Some(j), false) = (&journal, args.no_raw) {
        taps.push(Box::new(JournalTap {
            journal: Arc::clone(j),
            registry: registry.clone(),
            venue: args.live.venue,
        }));
    }
    let tap: Option<Box<dyn FrameTap>> = match taps.len() {
        0 => None,
        1 => taps.pop(),
        _ => Some(Box::new(Tee(taps))),
    };
    // The books are kept too, so the session's resync logic runs exactly as in `run`.
    let mut sink = EventSink(journal.clone());
    let stats = live_loop("crpbot record", &args.live, tap, &mut sink)?;
    let mut errors = 0;
    let mut summary = serde_json::json!({
        "messages": stats.messages,
        "snapshots": stats.snapshots,
        "reconnects": stats.reconnects,
    });
    if let Some(rec) = &files {
        errors += rec.errors.load(Relaxed);
        summary["lines"] = rec.lines.load(Relaxed).into();
        summary["bytes"] = rec.bytes.load(Relaxed).into();
        summary["files"] = rec.files.load(Relaxed).into();
        summary["write_errors"] = rec.errors.load(Relaxed).into();
    }
    let mut journal_error = None;
    if let Some(j) = journal {
        let sink = j.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(sink) = sink {
            match sink.finish(clock.now_ns()) {
                Ok(n) => summary["journal_records"] = n.into(),
                Err(e) => journal_error = Some(e),
            }
        }
    }
    println!("{summary}");
    if errors > 0 {
        bail!("{errors} lines could not be written to the recording directory");
    }
    if let Some(e) = journal_error {
        return Err(e.context("journal"));
    }
    Ok(ExitCode::SUCCESS)
}
