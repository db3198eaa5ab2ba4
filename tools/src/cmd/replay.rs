//! `crpbot replay`: recorded market data through the same decoders, sync and books as live.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use crpbot_core::{Registry, Venue};

use super::engine_args::EngineArgs;
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
        return super::from_journal::run(
            dir,
            registry,
            args.venue,
            super::from_journal::Outputs {
                bbo_out: args.bbo_out.as_deref(),
                strategies: &args.strategies,
                report: args.report.as_deref(),
            },
            &args.engine,
        );
    }
    let inputs = if args.inputs.is_empty() && args.venue != Venue::Sim {
        default_inputs(args.venue)?
    } else {
        args.inputs.clone()
    };
    if args.strategies.is_empty() && args.report.is_some() {
        bail!("--report needs --strategies");
    }
    run_engine(&args, registry, inputs)
}

/// Every replay of recordings or the simulator: the engine (feed | core | journal) in the
/// `--topology` asked for.
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
        Venue::Coinbase => SourceSpec::Coinbase { inputs: inputs.clone() },
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
        ..args.engine.config(source, registry)
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
