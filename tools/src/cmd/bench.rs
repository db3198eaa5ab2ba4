//! `crpbot bench`: the latency harness on the real engine. Each message is stamped at ingress
//! and at every stage boundary (decode, book apply, signals, risk verdict, journal append) by
//! the stages themselves; the journal thread records the stamps into pre-sized HdrHistograms
//! (no allocation while recording; coordinated-omission correction at fixed rates). Each
//! topology and wait strategy asked for is run in turn on the same input; `--compare` adds the
//! side-by-side comparisons (book vs BTreeMap, rtrb vs crossbeam vs std mpsc, our decoder vs
//! simd-json vs serde_json) in the same process.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use crpbot_benches::compare;
use crpbot_benches::harness::{BenchReport, LatencyRecorder, RunResult, Stamps};
use crpbot_core::pipeline::WaitStrategy;
use crpbot_core::{Registry, Venue};

use super::engine_args::{TopologyArg, WaitArg};
use crate::engine::{
    self, Controls, CoreOptions, EngineConfig, JournalOptions, Pace, SourceSpec, StampSink,
};

/// Arguments of `crpbot bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Recordings to replay at maximum speed (default, without --rate: the four Binance spot
    /// recordings of the data directory).
    #[arg(long = "input")]
    inputs: Vec<PathBuf>,
    /// Drive the simulator at a fixed rate instead (messages/s: 10k, 100k, 1M, or a number).
    #[arg(long, value_parser = parse_rate)]
    rate: Option<u64>,
    /// Seconds of simulator input (with --rate).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Topologies to run, in turn (fused, pair, split).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "fused,pair,split")]
    topologies: Vec<TopologyArg>,
    /// Wait strategies to run each topology with (spin, spin-then-park, yield). Default: spin
    /// for fused; spin-then-park for pair and split unless --cores gives each thread its own
    /// core.
    #[arg(long, value_enum, value_delimiter = ',')]
    waits: Vec<WaitArg>,
    /// Cores to pin the stage threads to, in stage order.
    #[arg(long, value_delimiter = ',')]
    cores: Vec<usize>,
    /// Strategies on the core stage (comma-separated; `none` for books only).
    #[arg(long, value_delimiter = ',', default_value = "ofi,scalp,meanrev,statarb")]
    strategies: Vec<String>,
    /// Journal directory root (each run journals into a fresh subdirectory, removed afterwards
    /// unless --keep-journal). Default: the system temp directory.
    #[arg(long)]
    journal_root: Option<PathBuf>,
    /// Keep the runs' journals.
    #[arg(long)]
    keep_journal: bool,
    /// Also run the side-by-side comparisons (book, hop, decode) on the same input.
    #[arg(long)]
    compare: bool,
    /// Seconds per comparison.
    #[arg(long, default_value_t = 3.0)]
    compare_budget: f64,
    /// Write the report (machine, git revision, every figure) as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Simulator seed (with --rate).
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

fn parse_rate(s: &str) -> Result<u64, String> {
    let t = s.trim().to_ascii_lowercase();
    let (num, mult) = if let Some(n) = t.strip_suffix('k') {
        (n, 1_000)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 1_000_000)
    } else {
        (t.as_str(), 1)
    };
    let v: u64 = num.parse().map_err(|_| format!("bad rate {s:?} (e.g. 10k, 100k, 1M)"))?;
    match v.checked_mul(mult) {
        Some(r) if r > 0 => Ok(r),
        _ => Err(format!("bad rate {s:?}")),
    }
}

/// Records stamps on the journal thread; hands the recorder back when the stage is dropped.
struct Observer {
    rec: Option<LatencyRecorder>,
    back: mpsc::Sender<LatencyRecorder>,
}

impl StampSink for Observer {
    #[inline]
    fn record(&mut self, st: &Stamps) {
        if let Some(r) = self.rec.as_mut() {
            r.record(st);
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

const PARK: WaitStrategy =
    WaitStrategy::SpinThenPark { spins: 4096, park: Duration::from_millis(1) };

pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let registry = Registry::with_defaults();
    let inputs = if args.rate.is_none() && args.inputs.is_empty() {
        let data = super::data_dir().join("binance-spot-l2");
        let files: Vec<PathBuf> = [
            "btcusdt_20240808.gz",
            "btcusdt_20240809.gz",
            "ethusdt_20240808.gz",
            "ethusdt_20240809.gz",
        ]
        .iter()
        .map(|f| data.join(f))
        .collect();
        if !files.iter().all(|f| f.is_file()) {
            bail!(
                "no --input and no recordings in {} (set CRPBOT_DATA_DIR or use --rate)",
                data.display()
            );
        }
        files
    } else {
        args.inputs.clone()
    };
    let strategies: Vec<String> =
        args.strategies.iter().filter(|s| s.as_str() != "none").cloned().collect();
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let mut report = BenchReport::new(command);
    let root = args.journal_root.clone().unwrap_or_else(std::env::temp_dir);
    let mut runs = Vec::new();
    for &topology in &args.topologies {
        let waits: Vec<WaitStrategy> = if args.waits.is_empty() {
            let threads = topology.threads();
            // Spin needs a core per thread; otherwise park (a fused run is one thread).
            vec![if threads == 1 || args.cores.len() >= threads {
                WaitStrategy::Spin
            } else {
                PARK
            }]
        } else {
            args.waits
                .iter()
                .map(|w| match w {
                    WaitArg::Spin => WaitStrategy::Spin,
                    WaitArg::SpinThenPark => PARK,
                    WaitArg::Yield => WaitStrategy::Yield,
                })
                .collect()
        };
        for wait in waits {
            runs.push((topology, wait));
        }
    }
    for (k, (topology, wait)) in runs.into_iter().enumerate() {
        let topo_name = topology.name();
        let wait_name = match wait {
            WaitStrategy::Spin => "spin",
            WaitStrategy::SpinThenPark { .. } => "spin-then-park",
            WaitStrategy::Yield => "yield",
        };
        let dir = root.join(format!("crpbot-bench-{}-{k}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (source, input_name) = match args.rate {
            Some(r) => (
                SourceSpec::Sim {
                    seed: args.seed,
                    duration_s: Some(args.duration),
                    pace: Pace::Rate(r),
                },
                format!("simulator at {r} msg/s for {} s", args.duration),
            ),
            None => (
                SourceSpec::Binance {
                    venue: Venue::BinanceSpot,
                    inputs: inputs.clone(),
                    merged: true,
                },
                inputs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
            ),
        };
        let mut rec = LatencyRecorder::new().context("latency recorder")?;
        if let Some(r) = args.rate {
            rec = rec.with_expected_interval(1_000_000_000 / r.max(1));
        }
        let (tx, rx) = mpsc::channel();
        let observer = Observer { rec: Some(rec), back: tx };
        let cfg = EngineConfig {
            source,
            registry: registry.clone(),
            topology,
            wait,
            cores: args.cores.clone(),
            ring_capacity: EngineConfig::RING_CAPACITY,
            core: CoreOptions { strategies: strategies.clone(), ..CoreOptions::default() },
            journal: JournalOptions {
                dir: Some(dir.clone()),
                raw_frames: false,
                durable_decisions: false,
                ack_every: 0,
                venue: Some(Venue::BinanceSpot),
                start_text: format!("crpbot bench topology={topo_name}"),
            },
            max_wall: args.rate.map(|_| Duration::from_secs_f64(args.duration + 30.0)),
            swing: None,
            check: None,
        };
        eprintln!("crpbot bench: {topo_name}/{wait_name} on {input_name} ...");
        let controls = Controls::default();
        let out = engine::run(cfg, &controls, Some(Box::new(observer)), |_, _| true)?;
        let rec = rx.recv().context("the journal stage did not return the latency recorder")?;
        if !args.keep_journal {
            let _ = std::fs::remove_dir_all(&dir);
        }
        let mut notes = Vec::new();
        if let Some(r) = args.rate {
            // The schedule, judged on the send window (start-up and drain excluded): kept if
            // at most 1 % of the messages left more than one interval late.
            let expected = (r as f64 * args.duration) as u64;
            let window = out.feed["send_window_s"].as_f64().unwrap_or(out.elapsed_s);
            let achieved = out.messages as f64 / window.max(1e-9);
            let late = out.feed["late_sends"].as_u64().unwrap_or(0);
            let max_late = out.feed["max_late_ns"].as_u64().unwrap_or(0);
            let schedule = format!(
                "{achieved:.0} msg/s over the {window:.3} s send window ({} of {expected} messages); {late} sent more than one interval late, the latest by {:.1} µs",
                out.messages,
                max_late as f64 / 1e3
            );
            if late * 100 > out.messages || out.messages < expected {
                notes.push(format!(
                    "could not keep the rate: {schedule}; latencies are corrected for coordinated omission at the target interval"
                ));
            } else {
                notes.push(format!("rate kept: {schedule}"));
            }
        }
        if let Some(t) = &out.trading {
            notes.push(format!("trading counters: {}", t["counters"]));
        }
        notes.push(format!("journal records: {}", out.journal["records"]));
        notes.push(format!("rings: {}", out.rings));
        report.runs.push(RunResult {
            topology: topo_name.to_owned(),
            wait: wait_name.to_owned(),
            input: input_name,
            rate: args.rate,
            messages: out.messages,
            events: out.events,
            elapsed_s: out.elapsed_s,
            throughput_msgs_per_s: out.messages as f64 / out.elapsed_s.max(1e-9),
            stages: rec.summary(),
            notes,
        });
    }
    if args.compare {
        let budget = Duration::from_secs_f64(args.compare_budget.max(0.1));
        let files: Vec<PathBuf> = if inputs.is_empty() {
            compare::recordings(&super::data_dir(), "btcusdt")
        } else {
            inputs.clone()
        };
        eprintln!("crpbot bench: comparisons ({} s each) ...", budget.as_secs_f64());
        match compare::book_vs_btreemap(&files, &registry, budget) {
            Ok(c) => report.comparisons.push(c),
            Err(e) => eprintln!("crpbot bench: book comparison: {e}"),
        }
        match compare::hop(compare::SUGGESTED_HOP_MESSAGES, true) {
            Ok(c) => report.comparisons.push(c),
            Err(e) => eprintln!("crpbot bench: hop comparison: {e}"),
        }
        match compare::decode(&files, &registry, budget) {
            Ok(c) => report.comparisons.push(c),
            Err(e) => eprintln!("crpbot bench: decode comparison: {e}"),
        }
    }
    let mut stdout = std::io::stdout().lock();
    report.print_table(&mut stdout)?;
    if let Some(path) = &args.json {
        std::fs::write(path, report.to_json_pretty()?)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("crpbot bench: report written to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
