//! `crpbot demo`: the whole pipeline on the built-in simulator, no key and no network — books,
//! all four fast strategies, the circuit breaker, the paper venue and a journal in a temporary
//! directory — with a live terminal view each second and a final report: the strategies'
//! metrics, the latency table, and where the journal is and how to replay it.
//!
//! Deterministic: the simulator is seeded and every decision runs on event time, so
//! `crpbot demo --duration 5 --seed 7` makes the same trades every time (wall-clock pacing only
//! decides *when* they are shown).

use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use crpbot_benches::harness::{BenchReport, LatencyRecorder, RunResult, StageId, Stamps};
use crpbot_core::{Registry, Venue};

use super::engine_args::EngineArgs;
use super::trade::STRATEGY_NAMES;
use crate::engine::{
    self, Controls, CoreOptions, EngineConfig, JournalOptions, Pace, SourceSpec, StampSink, Status,
};

/// Arguments of `crpbot demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Simulated (and wall) seconds.
    #[arg(long, default_value_t = 30.0)]
    duration: f64,
    /// Simulator seed.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Journal directory (default: a new directory under the system temp directory).
    #[arg(long)]
    journal: Option<PathBuf>,
    /// Run the simulator as fast as possible instead of one simulated second per second.
    #[arg(long)]
    fast: bool,
    /// Print plain status lines instead of redrawing the terminal.
    #[arg(long)]
    plain: bool,
    /// Write the final report (trading metrics + latency) as JSON here.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Kill-switch flag file (`crpbot kill` / `crpbot rearm` work during the demo).
    #[arg(long, default_value = "crpbot.kill")]
    kill_flag: PathBuf,
    #[command(flatten)]
    engine: EngineArgs,
    /// Do not run the async swing lane (on by default in the demo: 250 ms bars, an analysis
    /// per instrument every 2 s of event time once 50 bars exist).
    #[arg(long)]
    no_swing: bool,
    #[command(flatten)]
    swing: crate::swing_lane::SwingArgs,
}

/// Records latency on the journal thread and publishes the running tick-to-decision
/// percentiles for the view every 1,024 messages (quantile reads: no allocation).
struct Observer {
    rec: Option<LatencyRecorder>,
    back: mpsc::Sender<LatencyRecorder>,
    live: Arc<[AtomicU64; 2]>,
    n: u64,
}

impl StampSink for Observer {
    fn record(&mut self, st: &Stamps) {
        let Some(r) = self.rec.as_mut() else { return };
        r.record(st);
        self.n += 1;
        if self.n.is_multiple_of(1024) {
            let h = r.histogram(StageId::TickToDecision);
            self.live[0].store(h.value_at_quantile(0.5), Ordering::Relaxed);
            self.live[1].store(h.value_at_quantile(0.99), Ordering::Relaxed);
        }
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        if let Some(r) = self.rec.take() {
            let _ = self.back.send(r);
        }
    }
}

fn money(m: i64) -> f64 {
    m as f64 / 1e8
}

/// `HH:MM:SS.mmm` UTC of an event time.
fn time_of_day(ts_ns: i64) -> String {
    let ms = ts_ns.rem_euclid(86_400_000_000_000) / 1_000_000;
    format!("{:02}:{:02}:{:02}.{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

fn view(
    s: &Status,
    registry: &Registry,
    rate: f64,
    lat: [u64; 2],
    elapsed: f64,
    killed: bool,
) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "crpbot demo — simulator, t = {elapsed:5.1} s (market {}), {rate:>8.0} msg/s, {} events, tick-to-decision p50 {} p99 {}",
        time_of_day(s.ts_ns),
        s.events,
        fmt_ns(lat[0]),
        fmt_ns(lat[1])
    );
    let _ = writeln!(o, "  {:<10} {:>14} {:>14}  state", "instrument", "bid", "ask");
    for &(id, bid, ask, state) in s.books.iter().take(s.n_books) {
        if let Some(inst) = registry.try_get(crpbot_core::InstrumentId(id)) {
            let _ = writeln!(
                o,
                "  {:<10} {:>14} {:>14}  {state:?}",
                inst.symbol.as_str(),
                inst.price.format(bid.0),
                inst.price.format(ask.0)
            );
        }
    }
    let t = &s.trader;
    let _ = writeln!(
        o,
        "  {:<8} {:>8} {:>6} {:>12} {:>14}",
        "strategy", "intents", "open", "round trips", "realized PnL"
    );
    for (k, name) in STRATEGY_NAMES.iter().enumerate() {
        let p = &t.per_strategy[k];
        let _ = writeln!(
            o,
            "  {:<8} {:>8} {:>6} {:>12} {:>14.2}",
            name,
            p.intents,
            p.open_positions,
            p.round_trips,
            money(p.net_pnl)
        );
    }
    let risk =
        if t.halted { if killed { "HALTED (kill switch)" } else { "HALTED" } } else { "armed" };
    let _ = writeln!(
        o,
        "  equity {:.2}  fees {:.2}  intents {} accepted {} fills {}  risk: {risk}",
        money(t.equity),
        money(t.fees),
        t.intents,
        t.accepted,
        t.fills
    );
    o
}

fn fmt_ns(ns: u64) -> String {
    crpbot_benches::harness::fmt_ns(ns)
}

pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let registry = Registry::with_defaults();
    let journal = args.journal.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("crpbot-demo-{}-{}", std::process::id(), args.seed))
    });
    let _ = std::fs::remove_dir_all(&journal);
    let (tx, rx) = mpsc::channel();
    let live: Arc<[AtomicU64; 2]> = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let observer = Observer {
        rec: Some(LatencyRecorder::new().context("latency recorder")?),
        back: tx,
        live: live.clone(),
        n: 0,
    };
    let (swing_link, swing_lane) = if args.no_swing {
        (None, None)
    } else {
        let cfg = args.swing.config("crpbot demo", 250, 2_000);
        let (link, handle) = crate::swing_lane::spawn(cfg, &registry)?;
        (Some(link), Some(handle))
    };
    let cfg = EngineConfig {
        core: CoreOptions {
            strategies: STRATEGY_NAMES.iter().map(|s| (*s).to_owned()).collect(),
            sim_preset: true,
            ..CoreOptions::default()
        },
        journal: JournalOptions {
            dir: Some(journal.clone()),
            raw_frames: false,
            durable_decisions: true,
            ack_every: 0,
            venue: Some(Venue::Sim),
            start_text: format!(
                "crpbot demo --seed {} --duration {} strategies={} topology={}",
                args.seed,
                args.duration,
                STRATEGY_NAMES.join(","),
                args.engine.topology_name()
            ),
        },
        swing: swing_link,
        ..args.engine.config(
            SourceSpec::Sim {
                seed: args.seed,
                duration_s: Some(args.duration),
                pace: if args.fast { Pace::MaxSpeed } else { Pace::RealTime },
            },
            registry.clone(),
        )
    };
    let controls = Controls::default();
    crate::shutdown::install(&controls)?;
    let kill = crpbot_risk::KillFlag::at(&args.kill_flag);
    let redraw = !args.plain && std::io::stderr().is_terminal();
    let start = Instant::now();
    let mut next = start + Duration::from_secs(1);
    let mut last_events = 0u64;
    let mut last_t = start;
    let report = engine::run(cfg, &controls, Some(Box::new(observer)), |status, controls| {
        controls.kill.store(kill.is_engaged(), Ordering::Relaxed);
        let now = Instant::now();
        if now < next {
            return true;
        }
        next = now + Duration::from_secs(1);
        if let Some(s) = status {
            let dt = now.duration_since(last_t).as_secs_f64().max(1e-3);
            let rate = (s.events.saturating_sub(last_events)) as f64 / dt;
            last_events = s.events;
            last_t = now;
            let lat = [live[0].load(Ordering::Relaxed), live[1].load(Ordering::Relaxed)];
            let text =
                view(s, &registry, rate, lat, start.elapsed().as_secs_f64(), kill.is_engaged());
            let mut err = std::io::stderr().lock();
            if redraw {
                let _ = write!(err, "\x1b[H\x1b[2J{text}");
            } else {
                let _ = write!(err, "{text}");
            }
        }
        true
    });
    let swing = swing_lane.map(crate::swing_lane::SwingLaneHandle::stop_and_join);
    let report = report?;
    let rec = rx.recv().context("the journal stage did not return the latency recorder")?;
    let mut bench = BenchReport::new(std::env::args().collect::<Vec<_>>().join(" "));
    bench.runs.push(RunResult {
        topology: report.topology.clone(),
        wait: match args.engine.wait() {
            crpbot_core::pipeline::WaitStrategy::Spin => "spin",
            crpbot_core::pipeline::WaitStrategy::SpinThenPark { .. } => "spin-then-park",
            crpbot_core::pipeline::WaitStrategy::Yield => "yield",
        }
        .to_owned(),
        input: format!("simulator seed {} for {} s", args.seed, args.duration),
        rate: None,
        messages: report.messages,
        events: report.events,
        elapsed_s: report.elapsed_s,
        throughput_msgs_per_s: report.messages as f64 / report.elapsed_s.max(1e-9),
        stages: rec.summary(),
        notes: vec!["paced at one simulated second per second: throughput is the simulator's rate, not capacity (see crpbot bench)".into()],
    });
    let trading = report.trading.clone().unwrap_or_default();
    let mut out = std::io::stdout().lock();
    writeln!(out, "\n=== crpbot demo: final report ===")?;
    let m = &trading["metrics"]["overall"];
    writeln!(
        out,
        "trades {}  win rate {}  profit factor {}  expectancy {}  Sharpe {}  max drawdown {}  fees paid {:.2}  final equity {:.2}",
        m["trades"],
        m["win_rate"],
        m["profit_factor"],
        m["expectancy"],
        trading["metrics"]["curve"]["sharpe_annualized"],
        m["max_drawdown"],
        trading["fees_paid"].as_f64().unwrap_or(0.0),
        trading["final_equity"].as_f64().unwrap_or(0.0)
    )?;
    if let Some(per) = trading["metrics"]["strategies"].as_array() {
        for v in per {
            writeln!(
                out,
                "  {}: trades {} win rate {} net {}",
                v["strategy"], v["trades"], v["win_rate"], v["net_pnl"]
            )?;
        }
    }
    writeln!(out, "counters: {}", trading["counters"])?;
    match &swing {
        Some(sw) => writeln!(out, "swing lane: {}", serde_json::to_value(sw)?)?,
        None => writeln!(out, "swing lane: off")?,
    }
    writeln!(out)?;
    bench.print_table(&mut out)?;
    writeln!(out, "\njournal: {} ({} records)", journal.display(), report.journal["records"])?;
    writeln!(
        out,
        "replay it: crpbot journal stats {0}; crpbot journal dump {0} --type intent",
        journal.display()
    )?;
    if let Some(path) = &args.report {
        let j = serde_json::json!({ "trading": trading, "latency": bench, "journal": journal.display().to_string(), "engine": {"messages": report.messages, "events": report.events, "elapsed_s": report.elapsed_s, "topology": report.topology}, "swing": swing });
        std::fs::write(path, serde_json::to_vec_pretty(&j)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
