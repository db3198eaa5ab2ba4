//! `crpbot replay`: recorded market data through the same decoders, sync and books as live.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use crpbot_core::{Clock, InstrumentId, LiveClock, MarketEvent, Registry, Venue};
use crpbot_feeds::coinbase::CoinbaseReplay;
use crpbot_feeds::replay::{BboCsv, BinanceReplay, Published, ReplaySink};
use crpbot_feeds::sim::{SimConfig, replay_sim};

use crpbot_journal::codec;
use crpbot_journal::{Reader, RecordType};

use super::engine_args::EngineArgs;
use super::journal::JournalSink;
use super::trade::Trader;
use crate::engine::{self, Controls, CoreOptions, EngineConfig, JournalOptions, Pace, SourceSpec};

/// Arguments of `crpbot replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Venue of the recording: binance-spot, binance-usdm, coinbase (JSONL zstd captures), or
    /// sim (the built-in market simulator: no input, see --seed and --duration).
    #[arg(long, default_value = "binance-spot")]
    venue: Venue,
    /// Simulator seed (with --venue sim).
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Simulated seconds (with --venue sim).
    #[arg(long, default_value_t = 30)]
    duration: i64,
    /// Recording files (`<ts_ns> <json>` lines, gzip or plain), replayed in the order given.
    /// Default: the four Binance spot recordings of BTCUSDT and ETHUSDT in the data directory
    /// ($CRPBOT_DATA_DIR or ../shared/data).
    #[arg(long = "input")]
    inputs: Vec<PathBuf>,
    /// Write the best bid/ask after each applied depth message to this CSV file.
    #[arg(long)]
    bbo_out: Option<PathBuf>,
    /// Instrument configuration (TOML `[[instrument]]` tables) overlaid on the defaults.
    #[arg(long)]
    instruments: Option<PathBuf>,
    /// Journal every raw frame, market event and book state change to this directory.
    #[arg(long)]
    journal: Option<PathBuf>,
    /// Run these fast strategies (comma-separated: ofi,scalp,meanrev,statarb) through the
    /// circuit breaker and the paper venue; the inputs are merged by receive time.
    #[arg(long, value_delimiter = ',')]
    strategies: Vec<String>,
    /// Write the strategies' metrics report (JSON) here.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Replay the raw frames of a journal instead of recordings, and check that the replay
    /// produces exactly the market events the journal holds (reports the first divergence).
    #[arg(long, conflicts_with = "inputs")]
    from_journal: Option<PathBuf>,
    /// Make every risk verdict durable (msync) before the next order (default for replays:
    /// page cache only — nothing leaves a replay).
    #[arg(long)]
    durable: bool,
    /// Crash tests: every N journal records, sync and print `ack <seq>` on stdout.
    #[arg(long, default_value_t = 0, hide = true)]
    ack_every: u64,
    #[command(flatten)]
    engine: EngineArgs,
}

/// Where a replay's output goes: the BBO CSV, the journal, the trading path.
struct Outputs<W: std::io::Write> {
    csv: Option<BboCsv<W>>,
    journal: Option<JournalSink>,
    trader: Option<Trader>,
}

impl<W: std::io::Write> ReplaySink for Outputs<W> {
    fn on_book(&mut self, p: &Published<'_>) {
        if let Some(csv) = &mut self.csv {
            csv.on_book(p);
        }
        if let Some(t) = &mut self.trader {
            t.on_book(p, &mut self.journal);
        }
    }
    fn on_event(&mut self, ev: &MarketEvent) {
        if let Some(j) = &mut self.journal {
            j.market(ev);
        }
        if let (Some(t), MarketEvent::Trade(tr)) = (&mut self.trader, ev) {
            t.on_trade(tr, &mut self.journal);
        }
    }
    fn on_raw(&mut self, ts_local_ns: i64, frame: &[u8], context: Option<InstrumentId>) {
        if let Some(j) = &mut self.journal {
            j.raw_frame(ts_local_ns, frame, context);
        }
    }
}

pub fn run(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let registry = match &args.instruments {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            Registry::from_toml(&text)?
        }
        None => Registry::with_defaults(),
    };
    if let Some(dir) = &args.from_journal {
        return from_journal(dir, &registry, args.venue, args.bbo_out.as_deref());
    }
    let inputs = if args.inputs.is_empty() && args.venue != Venue::Sim {
        default_inputs(args.venue)?
    } else {
        args.inputs.clone()
    };
    if args.strategies.is_empty() && args.report.is_some() {
        bail!("--report needs --strategies");
    }
    if args.venue != Venue::Coinbase {
        return run_engine(&args, registry, inputs);
    }
    let csv = match &args.bbo_out {
        Some(path) => {
            let file =
                File::create(path).with_context(|| format!("creating {}", path.display()))?;
            Some(BboCsv::new(BufWriter::with_capacity(1 << 20, file), &registry)?)
        }
        None => None,
    };
    let clock = LiveClock;
    let journal = match &args.journal {
        Some(dir) => {
            let text = format!("crpbot replay --venue {} ({} inputs)", args.venue, inputs.len());
            Some(JournalSink::open(dir, args.venue, &text, clock.now_ns())?)
        }
        None => None,
    };
    let trader = if args.strategies.is_empty() {
        if args.report.is_some() {
            bail!("--report needs --strategies");
        }
        None
    } else {
        Some(Trader::new(&registry, &args.strategies, 0)?)
    };
    let mut out = Outputs { csv, journal, trader };
    let stats = match args.venue {
        Venue::BinanceSpot | Venue::BinanceUsdm if out.trader.is_some() => {
            BinanceReplay::new(&registry, args.venue).run_merged(&inputs, &mut out)
        }
        Venue::BinanceSpot | Venue::BinanceUsdm => {
            BinanceReplay::new(&registry, args.venue).run(&inputs, &mut out)
        }
        Venue::Coinbase => CoinbaseReplay::new(&registry).run(&inputs, &mut out),
        Venue::Sim => {
            let cfg = SimConfig {
                duration_ns: Some(args.duration.saturating_mul(1_000_000_000)),
                ..SimConfig::new(args.seed)
            };
            replay_sim(&registry, cfg, &mut out)?
        }
    };
    if let (Some(csv), Some(path)) = (out.csv, &args.bbo_out) {
        csv.finish().with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(t) = &out.trader {
        let report = t.report();
        match &args.report {
            Some(path) => std::fs::write(path, serde_json::to_vec_pretty(&report)?)
                .with_context(|| format!("writing {}", path.display()))?,
            None => eprintln!("{report}"),
        }
    }
    if let Some(j) = out.journal {
        let n = j.finish(clock.now_ns())?;
        eprintln!("crpbot replay: journaled {n} records");
    }
    for issue in &stats.issues {
        eprintln!("crpbot replay: {}:{}: {}", issue.file, issue.line, issue.error);
    }
    if stats.errors > stats.issues.len() as u64 {
        eprintln!(
            "crpbot replay: ... and {} more bad inputs",
            stats.errors - stats.issues.len() as u64
        );
    }
    println!("{}", serde_json::to_string(&stats)?);
    Ok(ExitCode::SUCCESS)
}

/// Binance recordings and the simulator: the engine (feed | core | journal), fused or split.
fn run_engine(
    args: &ReplayArgs,
    registry: Registry,
    inputs: Vec<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let source = match args.venue {
        Venue::Sim => SourceSpec::Sim {
            seed: args.seed,
            duration_s: Some(args.duration as f64),
            pace: Pace::MaxSpeed,
        },
        // Strategies trading several instruments need the inputs merged by receive time.
        venue => SourceSpec::Binance {
            venue,
            inputs: inputs.clone(),
            merged: !args.strategies.is_empty(),
        },
    };
    let start_text = format!(
        "crpbot replay --venue {} ({} inputs) strategies={} topology={}",
        args.venue,
        inputs.len(),
        args.strategies.join(","),
        args.engine.topology_name()
    );
    let cfg = EngineConfig {
        source,
        registry,
        topology: args.engine.topology(),
        wait: args.engine.wait(),
        cores: args.engine.cores.clone(),
        ring_capacity: 1 << 14,
        core: CoreOptions {
            strategies: args.strategies.clone(),
            bbo_out: args.bbo_out.clone(),
            start_ns: 0,
            status_ids: Vec::new(),
            sim_preset: args.venue == Venue::Sim,
        },
        journal: JournalOptions {
            dir: args.journal.clone(),
            raw_frames: args.venue != Venue::Sim,
            durable_decisions: args.durable,
            ack_every: args.ack_every,
            venue: Some(args.venue),
            start_text,
        },
        max_wall: None,
        swing: None,
    };
    let controls = Controls::default();
    crate::shutdown::install(&controls)?;
    let report = engine::run(cfg, &controls, None, |_, _| true)?;
    if let Some(t) = &report.trading {
        match &args.report {
            Some(path) => std::fs::write(path, serde_json::to_vec_pretty(t)?)
                .with_context(|| format!("writing {}", path.display()))?,
            None => eprintln!("{t}"),
        }
    }
    if let Some(n) = report.journal.get("records").and_then(serde_json::Value::as_u64)
        && args.journal.is_some()
    {
        eprintln!("crpbot replay: journaled {n} records");
    }
    if let Some(e) = report.journal.get("error").and_then(serde_json::Value::as_str) {
        bail!("journal: {e}");
    }
    let mut summary = report.feed.clone();
    if let Some(issues) = summary.get("issues").and_then(serde_json::Value::as_array) {
        for i in issues {
            eprintln!(
                "crpbot replay: {}:{}: {}",
                i["file"].as_str().unwrap_or("?"),
                i["line"],
                i["error"].as_str().unwrap_or("?")
            );
        }
    }
    if let Some(o) = summary.as_object_mut() {
        o.insert("crossed".into(), report.books["crossed"].clone());
        o.insert("levels_applied".into(), report.books["levels_applied"].clone());
        o.insert("elapsed_s".into(), report.elapsed_s.into());
        o.insert("topology".into(), report.topology.clone().into());
        o.insert("events".into(), report.events.into());
    }
    if report.stopped_early {
        eprintln!("crpbot replay: stopped by signal; journal sealed");
    }
    println!("{}", serde_json::to_string(&summary)?);
    Ok(ExitCode::SUCCESS)
}

/// The recordings replayed when no `--input` is given.
fn default_inputs(venue: Venue) -> anyhow::Result<Vec<PathBuf>> {
    let data = super::data_dir();
    let files: Vec<PathBuf> = match venue {
        Venue::BinanceSpot => [
            "btcusdt_20240808.gz",
            "btcusdt_20240809.gz",
            "ethusdt_20240808.gz",
            "ethusdt_20240809.gz",
        ]
        .iter()
        .map(|f| data.join("binance-spot-l2").join(f))
        .collect(),
        Venue::Coinbase => vec![data.join("venue-captures/COINBASE.jsonl.zst")],
        other => bail!("no default recording for {other}: give --input FILE"),
    };
    if !files.iter().all(|f| f.is_file()) {
        bail!(
            "no --input given and the default recordings are not in {} (set CRPBOT_DATA_DIR)",
            data.display()
        );
    }
    eprintln!(
        "crpbot replay: no --input given; replaying {}",
        files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ")
    );
    Ok(files)
}

/// Compares a replay's events with the journaled ones, in order, and hashes them.
struct Compare<W: std::io::Write> {
    expected: Vec<MarketEvent>,
    next: usize,
    divergence: Option<(usize, String)>,
    hash: u64,
    csv: Option<BboCsv<W>>,
    /// The journaled strategies, re-run on the replayed books.
    trader: Option<Trader>,
    decisions: DecisionCheck,
}

/// A journaled decision.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Decision {
    Intent(crpbot_core::OrderIntent),
    Verdict(crpbot_core::RiskVerdict),
    Fill(crpbot_core::Fill),
    Signal(crpbot_core::SignalRecord),
    Position(crpbot_core::PositionSnapshot),
    Equity(crpbot_core::EquitySnapshot),
}

/// Compares the replayed trading path's decisions with the journaled ones, in order.
struct DecisionCheck {
    expected: Vec<Decision>,
    next: usize,
    divergence: Option<(usize, String)>,
}

impl DecisionCheck {
    fn check(&mut self, made: Decision) {
        if self.divergence.is_none() {
            match self.expected.get(self.next) {
                Some(e) if *e == made => {}
                Some(e) => {
                    self.divergence =
                        Some((self.next, format!("journal has {e:?}, replay made {made:?}")));
                }
                None => {
                    self.divergence =
                        Some((self.next, format!("replay made an extra decision {made:?}")));
                }
            }
        }
        self.next += 1;
    }
}

impl super::trade::RecordSink for DecisionCheck {
    fn intent(&mut self, i: &crpbot_core::OrderIntent) {
        self.check(Decision::Intent(*i));
    }
    fn verdict(&mut self, v: &crpbot_core::RiskVerdict) {
        self.check(Decision::Verdict(*v));
    }
    fn fill(&mut self, f: &crpbot_core::Fill) {
        self.check(Decision::Fill(*f));
    }
    fn signal(&mut self, s: &crpbot_core::SignalRecord) {
        self.check(Decision::Signal(*s));
    }
    fn position(&mut self, p: &crpbot_core::PositionSnapshot) {
        self.check(Decision::Position(*p));
    }
    fn equity(&mut self, e: &crpbot_core::EquitySnapshot) {
        self.check(Decision::Equity(*e));
    }
}

impl<W: std::io::Write> ReplaySink for Compare<W> {
    fn on_book(&mut self, p: &Published<'_>) {
        if let Some(csv) = &mut self.csv {
            csv.on_book(p);
        }
        if let Some(t) = &mut self.trader {
            t.on_book(p, &mut self.decisions);
        }
    }
    fn on_event(&mut self, ev: &MarketEvent) {
        if let (Some(t), MarketEvent::Trade(tr)) = (&mut self.trader, ev) {
            t.on_trade(tr, &mut self.decisions);
        }
        let mut buf = [0u8; codec::MAX_TYPED_LEN];
        let n = codec::encode_market(ev, &mut buf);
        self.hash = buf[..n]
            .iter()
            .fold(self.hash, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
        if self.divergence.is_none() {
            match self.expected.get(self.next) {
                Some(e) if e == ev => {}
                Some(e) => {
                    self.divergence =
                        Some((self.next, format!("journal has {e:?}, replay made {ev:?}")))
                }
                None => {
                    self.divergence =
                        Some((self.next, format!("replay made an extra event {ev:?}")))
                }
            }
        }
        self.next += 1;
    }
}

fn live_only_state(s: &crpbot_core::BookStateChange) -> bool {
    use crpbot_core::{BookState, StateReason};
    s.state == BookState::Resyncing
        || (s.state == BookState::Stale
            && matches!(s.reason, StateReason::Stall | StateReason::Disconnect))
}

fn from_journal(
    dir: &std::path::Path,
    registry: &Registry,
    venue: Venue,
    bbo_out: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    let binance_venue = matches!(venue, Venue::BinanceSpot | Venue::BinanceUsdm);
    let mut live_only = 0u64;
    let mut expected = Vec::new();
    let mut decisions = Vec::new();
    let mut strategies: Vec<String> = Vec::new();
    let mut reader =
        Reader::open(dir).with_context(|| format!("opening journal {}", dir.display()))?;
    while let Some(rec) = reader.next_record() {
        let rec = rec.with_context(|| format!("reading journal {}", dir.display()))?;
        match codec::decode(rec.record_type, rec.ver, rec.payload)? {
            // Session-side events a replay of the frames cannot make, so not compared: a live
            // Binance session marks the moment it requested a snapshot (`Resyncing`; a replay
            // has the snapshot in its input and requests nothing), and a live session marks its
            // books stale on a stall, a dropped connection and at its end.
            codec::Decoded::Market(MarketEvent::State(s))
                if binance_venue && live_only_state(&s) =>
            {
                live_only += 1;
            }
            codec::Decoded::Market(ev) => expected.push(ev),
            codec::Decoded::Intent(i) => decisions.push(Decision::Intent(i)),
            codec::Decoded::Verdict(v) => decisions.push(Decision::Verdict(v)),
            codec::Decoded::Fill(f) => decisions.push(Decision::Fill(f)),
            codec::Decoded::Signal(s) => decisions.push(Decision::Signal(s)),
            codec::Decoded::Position(p) => decisions.push(Decision::Position(p)),
            codec::Decoded::Equity(e) => decisions.push(Decision::Equity(e)),
            // The run's start record names its strategies: replay them to check decisions.
            codec::Decoded::Control { kind: codec::ControlKind::Start, text } => {
                if let Some(list) =
                    text.split_whitespace().find_map(|w| w.strip_prefix("strategies="))
                {
                    strategies =
                        list.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect();
                }
            }
            _ => {}
        }
    }
    let trader =
        if strategies.is_empty() { None } else { Some(Trader::new(registry, &strategies, 0)?) };
    let csv = match bbo_out {
        Some(path) => {
            let file =
                File::create(path).with_context(|| format!("creating {}", path.display()))?;
            Some(BboCsv::new(BufWriter::with_capacity(1 << 20, file), registry)?)
        }
        None => None,
    };
    let mut cmp = Compare {
        expected,
        next: 0,
        divergence: None,
        hash: 0xcbf2_9ce4_8422_2325,
        csv,
        trader,
        decisions: DecisionCheck { expected: decisions, next: 0, divergence: None },
    };
    let mut binance = matches!(venue, Venue::BinanceSpot | Venue::BinanceUsdm)
        .then(|| BinanceReplay::new(registry, venue));
    let mut coinbase = (venue == Venue::Coinbase).then(|| CoinbaseReplay::new(registry));
    if binance.is_none() && coinbase.is_none() {
        bail!(
            "replay from a journal of {venue} frames is not supported (binance-spot, binance-usdm, coinbase)"
        );
    }
    let mut reader =
        Reader::open(dir).with_context(|| format!("opening journal {}", dir.display()))?;
    let mut frame = Vec::with_capacity(1 << 16);
    let (mut frames, mut bad) = (0u64, 0u64);
    let start = std::time::Instant::now();
    while let Some(rec) = reader.next_record() {
        let rec = rec.with_context(|| format!("reading journal {}", dir.display()))?;
        if rec.record_type != RecordType::RAW_FRAME {
            continue;
        }
        let codec::Decoded::RawFrame { venue: v, instrument, frame: bytes } =
            codec::decode(rec.record_type, rec.ver, rec.payload)?
        else {
            continue;
        };
        if v != venue {
            continue;
        }
        frames += 1;
        frame.clear();
        frame.extend_from_slice(bytes);
        let ok = match (&mut binance, &mut coinbase) {
            (Some(r), _) => r.feed(&mut frame, rec.ts_ns, instrument, &mut cmp).is_ok(),
            (_, Some(r)) => r.feed(&mut frame, rec.ts_ns, &mut cmp).is_ok(),
            _ => false,
        };
        if !ok {
            bad += 1;
        }
    }
    let mut stats = match (&mut binance, &mut coinbase) {
        (Some(r), _) => r.stats(),
        (_, Some(r)) => r.stats(),
        _ => Default::default(),
    };
    stats.elapsed_s = start.elapsed().as_secs_f64();
    if cmp.decisions.divergence.is_none() && cmp.decisions.next != cmp.decisions.expected.len() {
        cmp.decisions.divergence = Some((
            cmp.decisions.next,
            format!(
                "journal holds {} decisions, replay made {}",
                cmp.decisions.expected.len(),
                cmp.decisions.next
            ),
        ));
    }
    if cmp.divergence.is_none() && cmp.next != cmp.expected.len() {
        cmp.divergence = Some((
            cmp.next,
            format!("journal holds {} events, replay made {}", cmp.expected.len(), cmp.next),
        ));
    }
    if let (Some(csv), Some(path)) = (cmp.csv.take(), bbo_out) {
        csv.finish().with_context(|| format!("writing {}", path.display()))?;
    }
    let mut out = serde_json::to_value(&stats)?;
    if let Some(o) = out.as_object_mut() {
        o.insert("journal_frames".into(), frames.into());
        o.insert("undecodable_frames".into(), bad.into());
        o.insert("events_compared".into(), cmp.next.into());
        o.insert("live_only_events".into(), live_only.into());
        o.insert("events_hash".into(), format!("{:016x}", cmp.hash).into());
        o.insert("strategies".into(), strategies.join(",").into());
        o.insert("decisions_compared".into(), cmp.decisions.next.into());
        o.insert(
            "first_decision_divergence".into(),
            cmp.decisions.divergence.as_ref().map_or(
                serde_json::Value::Null,
                |(i, d)| serde_json::json!({"decision_index": i, "detail": d}),
            ),
        );
        o.insert(
            "first_divergence".into(),
            cmp.divergence.as_ref().map_or(
                serde_json::Value::Null,
                |(i, d)| serde_json::json!({"event_index": i, "detail": d}),
            ),
        );
    }
    println!("{out}");
    let same = cmp.divergence.is_none() && cmp.decisions.divergence.is_none();
    Ok(if same { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
