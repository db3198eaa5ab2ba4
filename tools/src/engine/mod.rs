//! The hot lane, assembled: feed (read + decode + sync) → core (books + strategies + circuit
//! breaker + paper venue) → journal writer, on the pipeline runtime of crpbot-core, fused on
//! one thread, as feed + core | journal on two, or split over three pinned cores
//! ([`Layout`], `--topology`). `run`, `replay`, `demo` and `bench`
//! all drive this one engine, so what the benchmark times is what trades.
//!
//! # Items between stages
//!
//! * feed → core: [`FeedItem`] (a normalized [`MarketEvent`] or a raw-frame marker, with the
//!   message's latency [`Stamps`]), a data edge: the feed keeps what a full ring hands back
//!   and retries (a replay never drops; a live session's own ring is upstream of this).
//! * core → journal: [`JournalItem`] (market event, signal, intent, verdict, fill, position,
//!   equity, raw-frame marker, end-of-message stamp). In a replay a full ring makes the core wait (back-pressure reaches
//!   the file reader); live, the edge is a decision edge: full latches the halt (J10).
//! * Raw frames travel as bytes in a separate SPSC byte ring from feed to journal; the marker
//!   item says how many bytes to take, so frames land in the journal in message order in both
//!   topologies.
//!
//! # Halts
//!
//! A journal append or sync error, and a latched pipeline halt (full decision ring), engage the
//! breaker's kill switch: trading stops at the next check; market data keeps flowing.

mod check;
mod core_stage;
mod feed;
mod journal_stage;
mod stamps;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use crpbot_core::pipeline::{
    EdgeKind, HaltFlag, PipelineBuilder, PipelineConfig, PipelineReport, Topology, WaitStrategy,
};
use crpbot_core::{
    EquitySnapshot, Fill, InstrumentId, MarketEvent, OrderIntent, PositionSnapshot, Registry,
    RiskVerdict, SignalRecord,
};
use serde::Serialize;

use check::RecordCheck;
pub use check::{CheckResult, Expected};
pub use core_stage::{CoreOptions, CoreStage, Status, SwingLink};
pub use feed::{FeedSource, LiveFeed, Pace, SourceSpec};
pub use journal_stage::{JournalOptions, JournalStage};
pub use stamps::{StampSink, Stamps, now_ns};

/// One item from the feed stage to the core stage.
#[derive(Clone, Copy, Debug)]
pub enum FeedItem {
    /// A normalized event; `last` marks the final event of its venue message (the message's
    /// stamps are complete there).
    Event { ev: MarketEvent, st: Stamps, last: bool },
    /// `len` bytes of a raw frame are waiting in the byte ring.
    Raw { ts_ns: i64, len: u32, instrument: Option<InstrumentId> },
}

/// A record for the journal stage.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rec {
    /// A market event.
    Market(MarketEvent),
    /// An order intent.
    Intent(OrderIntent),
    /// A risk verdict.
    Verdict(RiskVerdict),
    /// A fill.
    Fill(Fill),
    /// The signals an intent was decided on.
    Signal(SignalRecord),
    /// A position after a fill.
    Position(PositionSnapshot),
    /// The account after a fill.
    Equity(EquitySnapshot),
    /// A raw frame of `len` bytes waiting in the byte ring.
    Raw { ts_ns: i64, len: u32, instrument: Option<InstrumentId> },
    /// The end of one venue message's processing (latency stamps only; nothing journaled).
    Done,
    /// An operator or halt event (kill switch engaged, re-armed, halted by the core).
    Control { kind: crpbot_journal::codec::ControlKind, ts_ns: i64 },
}

/// One item from the core stage to the journal stage.
#[derive(Clone, Copy, Debug)]
pub struct JournalItem {
    /// What to write.
    pub rec: Rec,
    /// The message's stamps (meaningful on [`Rec::Done`]).
    pub st: Stamps,
}

/// How the three stages map onto threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Layout {
    /// Feed, core and journal stages on one thread (direct calls).
    Fused,
    /// Feed and core on one thread, the journal writer on another: the split for two cores
    /// (the hot path keeps one core; journal appends leave it).
    Pair,
    /// One thread per stage, joined by SPSC rings (needs three cores).
    Split,
}

impl Layout {
    /// Threads the layout runs.
    pub const fn threads(self) -> usize {
        match self {
            Layout::Fused => 1,
            Layout::Pair => 2,
            Layout::Split => 3,
        }
    }

    /// Its name on the command line and in reports.
    pub const fn name(self) -> &'static str {
        match self {
            Layout::Fused => "fused",
            Layout::Pair => "pair",
            Layout::Split => "split",
        }
    }
}

/// Everything that configures one engine run.
#[derive(Debug)]
pub struct EngineConfig {
    /// Where market data comes from.
    pub source: SourceSpec,
    /// Instruments.
    pub registry: Registry,
    /// Thread layout.
    pub topology: Layout,
    /// How idle threads wait.
    pub wait: WaitStrategy,
    /// Cores to pin the stage threads to (split: one per stage; fused: the first).
    pub cores: Vec<usize>,
    /// Items per ring.
    pub ring_capacity: usize,
    /// What the core stage runs.
    pub core: CoreOptions,
    /// Journal directory and options (none: nothing written; stamps still recorded).
    pub journal: JournalOptions,
    /// Stop after this much wall time (none: until the source ends or a stop is requested).
    pub max_wall: Option<Duration>,
    /// The async swing lane's queues, if it runs.
    pub swing: Option<SwingLink>,
    /// Replay from a journal: the records to compare the run's with.
    pub check: Option<Expected>,
}

impl EngineConfig {
    /// Items per ring between stages.
    pub const RING_CAPACITY: usize = 1 << 14;
}

/// What an engine run produced.
#[derive(Debug, Serialize)]
pub struct EngineReport {
    /// "fused" or "split".
    pub topology: String,
    /// Venue messages read by the feed.
    pub messages: u64,
    /// Normalized events through the core stage.
    pub events: u64,
    /// Wall time from start to join.
    pub elapsed_s: f64,
    /// Feed-side counters (replay summary or simulator/session counters) as JSON.
    pub feed: serde_json::Value,
    /// Book counters.
    pub books: serde_json::Value,
    /// The trading report (metrics, counters), if strategies ran.
    pub trading: Option<serde_json::Value>,
    /// Journal records written and where.
    pub journal: serde_json::Value,
    /// Ring counters (full events, hand-backs, halts latched) per edge.
    pub rings: serde_json::Value,
    /// Whether the run was stopped by a signal or the kill switch engaged.
    pub stopped_early: bool,
    /// Replay from a journal: the comparison with the journal's records.
    pub check: Option<CheckResult>,
}

/// Shared controls between the engine threads and the control thread.
#[derive(Clone, Debug, Default)]
pub struct Controls {
    /// Set by SIGINT/SIGTERM or a duration: stop reading, drain, seal.
    pub stop: Arc<AtomicBool>,
    /// The operator's kill switch (kill flag file present): while true, trading is halted;
    /// when it goes false the core stage re-arms the breaker with its operator token.
    pub kill: Arc<AtomicBool>,
}

/// Runs the engine to completion. `observer` receives every message's stamps on the journal
/// thread (the latency harness); `on_tick` runs on the calling (control) thread about every
/// 100 ms with the newest status snapshot, and may request a stop by returning false.
pub fn run(
    cfg: EngineConfig,
    controls: &Controls,
    observer: Option<Box<dyn StampSink>>,
    mut on_tick: impl FnMut(Option<&Status>, &Controls) -> bool,
) -> anyhow::Result<EngineReport> {
    let (halt, _reset) = HaltFlag::new();
    let start = Instant::now();
    let live = cfg.source.is_live();
    let (raw_tx, raw_rx) =
        rtrb::RingBuffer::<u8>::new(if cfg.journal.raw_frames { 16 << 20 } else { 1 });
    let (status_tx, mut status_rx) = rtrb::RingBuffer::<Status>::new(64);
    let mut core_opts = cfg.core.clone();
    core_opts.sim_preset |= matches!(cfg.source, SourceSpec::Sim { .. });
    if core_opts.status_ids.is_empty() {
        let venue = match &cfg.source {
            SourceSpec::Binance { venue, .. } | SourceSpec::Journal { venue, .. } => Some(*venue),
            SourceSpec::Coinbase { .. } => Some(crpbot_core::Venue::Coinbase),
            SourceSpec::Sim { .. } => Some(crpbot_core::Venue::Sim),
            SourceSpec::Session(_) => None,
        };
        core_opts.status_ids =
            cfg.registry.iter().filter(|i| Some(i.venue) == venue).map(|i| i.id).collect();
    }
    let (feed, resync) = FeedSource::new(
        cfg.source,
        &cfg.registry,
        cfg.journal.raw_frames.then_some(raw_tx),
        controls.stop.clone(),
    )?;
    let feed_stats = feed.stats_handle();
    let mut core =
        CoreStage::new(&cfg.registry, &core_opts, resync, halt.clone(), live, status_tx)?;
    let kill = core.kill_switch();
    core.set_operator_kill(controls.kill.clone());
    if let Some(link) = cfg.swing {
        core.set_swing(link);
    }
    let core_result = core.result_handle();
    let mut journal = JournalStage::open(&cfg.journal, &cfg.registry, raw_rx, observer, kill)?;
    let check = cfg.check.map(|expected| {
        let c = RecordCheck::new(expected);
        let handle = c.handle();
        journal.set_check(c);
        handle
    });
    if cfg.journal.durable_decisions && cfg.journal.dir.is_some() {
        core.set_durable(journal.durable_verdicts());
    }
    let journal_result = journal.result_handle();
    let topology_name = cfg.topology.name();
    let pcfg = PipelineConfig {
        topology: if cfg.topology == Layout::Fused { Topology::Fused } else { Topology::Split },
        cores: cfg.cores.clone(),
        wait: cfg.wait,
        ring_capacity: cfg.ring_capacity,
        ..PipelineConfig::default()
    };
    let journal_edge = if live { EdgeKind::Decision } else { EdgeKind::Data { spins: 1 << 12 } };
    let chain = PipelineBuilder::new(pcfg, halt).source("feed", feed);
    // `pair`: the feed calls the core directly; only the journal is across a ring.
    let chain = match cfg.topology {
        Layout::Pair => chain.then("core", core),
        Layout::Fused | Layout::Split => {
            chain.split("core", core, EdgeKind::Data { spins: 1 << 12 })
        }
    };
    let pipeline =
        chain.split("journal", journal, journal_edge).start().context("starting the pipeline")?;
    let mut stopped_early = false;
    let mut last: Option<Status> = None;
    let deadline = cfg.max_wall.map(|d| start + d);
    while !feed_stats.finished() {
        std::thread::sleep(Duration::from_millis(20));
        while let Ok(s) = status_rx.pop() {
            last = Some(s);
        }
        let go_on = on_tick(last.as_ref(), controls);
        let timed_out = deadline.is_some_and(|d| Instant::now() >= d);
        if !go_on || timed_out || controls.stop.load(Ordering::Relaxed) {
            stopped_early |= !timed_out;
            controls.stop.store(true, Ordering::Relaxed);
            pipeline.stop();
            break;
        }
    }
    let report = pipeline.join().map_err(|e| anyhow::anyhow!("pipeline: {e}"))?;
    while let Ok(s) = status_rx.pop() {
        last = Some(s);
    }
    let _ = on_tick(last.as_ref(), controls);
    let elapsed_s = start.elapsed().as_secs_f64();
    let core_out = core_result.take().context("core stage did not report")?;
    let journal_out = journal_result.take().context("journal stage did not report")?;
    let feed_out = feed_stats.summary();
    if let Some(e) = &journal_out.error {
        eprintln!("crpbot: journal: {e}");
    }
    Ok(EngineReport {
        topology: topology_name.to_owned(),
        messages: feed_out.messages,
        events: core_out.events,
        elapsed_s,
        feed: feed_out.json,
        books: core_out.books,
        trading: core_out.trading,
        journal: serde_json::json!({
            "dir": cfg.journal.dir.as_ref().map(|d| d.display().to_string()),
            "records": journal_out.records,
            "error": journal_out.error,
        }),
        rings: rings_json(&report),
        stopped_early,
        check: check.and_then(|h| h.take()),
    })
}

fn rings_json(r: &PipelineReport) -> serde_json::Value {
    serde_json::Value::Array(
        r.edges
            .iter()
            .map(|e| {
                serde_json::json!({
                    "into_group": e.consumer_group,
                    "pushed": e.counters.pushed,
                    "full_events": e.counters.full_events,
                    "handed_back": e.counters.handed_back,
                    "halts_latched": e.counters.halts_latched,
                })
            })
            .collect(),
    )
}
