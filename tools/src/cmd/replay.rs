//! `crpbot replay`: recorded market data through the same decoders, sync and books as live.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use crpbot_core::{Registry, Venue};
use crpbot_feeds::replay::{BboCsv, BinanceReplay, Published, ReplaySink};

/// Arguments of `crpbot replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Venue of the recording: binance-spot or binance-usdm.
    #[arg(long, default_value = "binance-spot")]
    venue: Venue,
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
}

struct NoSink;
impl ReplaySink for NoSink {
    fn on_book(&mut self, _p: &Published<'_>) {}
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
    if !matches!(args.venue, Venue::BinanceSpot | Venue::BinanceUsdm) {
        bail!(
            "replay of {} recordings is not supported yet (binance-spot, binance-usdm)",
            args.venue
        );
    }
    let inputs = if args.inputs.is_empty() {
        let dir = super::data_dir().join("binance-spot-l2");
        let files: Vec<PathBuf> = [
            "btcusdt_20240808.gz",
            "btcusdt_20240809.gz",
            "ethusdt_20240808.gz",
            "ethusdt_20240809.gz",
        ]
        .iter()
        .map(|f| dir.join(f))
        .collect();
        if !files.iter().all(|f| f.is_file()) {
            bail!(
                "no --input given and the default recordings are not in {} (set CRPBOT_DATA_DIR)",
                dir.display()
            );
        }
        eprintln!("crpbot replay: no --input given; replaying the recordings in {}", dir.display());
        files
    } else {
        args.inputs
    };
    let mut replay = BinanceReplay::new(&registry, args.venue);
    let stats = match &args.bbo_out {
        Some(path) => {
            let file =
                File::create(path).with_context(|| format!("creating {}", path.display()))?;
            let mut csv = BboCsv::new(BufWriter::with_capacity(1 << 20, file), &registry)?;
            let stats = replay.run(&inputs, &mut csv);
            csv.finish().with_context(|| format!("writing {}", path.display()))?;
            stats
        }
        None => replay.run(&inputs, &mut NoSink),
    };
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
