//! `crpbot`: the command-line entry point of the crpbot trading core.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod engine;
mod shutdown;
mod swing_lane;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// crpbot: a low-latency crypto trading core.
#[derive(Debug, Parser)]
#[command(name = "crpbot", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Replay recorded market data through the decoders, book sync and books.
    Replay(cmd::replay::ReplayArgs),
    /// Inspect a journal: verify, dump, stats.
    Journal(cmd::journal::JournalArgs),
    /// Every indicator and theory of the swing lane at one bar, as JSON.
    Analyze(cmd::swing::AnalyzeArgs),
    /// Walk-forward backtest of a swing strategy on candles, as JSON.
    SwingBacktest(cmd::swing::SwingBacktestArgs),
    /// Record a venue's raw feed into daily gzip files and/or a journal (replayable with `replay`).
    Record(cmd::record::RecordArgs),
    /// Paper-trade a venue (or the simulator): books, fast strategies, circuit breaker, paper
    /// venue, journal.
    Run(cmd::run::RunArgs),
    /// The whole pipeline on the built-in simulator for ~30 s with a live view and a final
    /// report (no key, no network).
    Demo(cmd::demo::DemoArgs),
    /// Latency harness: per-stage percentiles of the engine on a recording or the simulator
    /// at a fixed rate, per topology; side-by-side comparisons with --compare.
    Bench(cmd::bench::BenchArgs),
    /// Engage the kill switch of a running `crpbot run`/`demo` (creates its kill flag file).
    Kill(cmd::operator::FlagArgs),
    /// Clear the kill switch and re-arm the breaker (removes the kill flag file).
    Rearm(cmd::operator::FlagArgs),
    /// One validated swing signal at one bar (LLM or math synthesiser), as JSON.
    Signal(cmd::signal::SignalArgs),
    /// Swing-signal store: list, show, stats, export --csv, replay candles.
    Signals(cmd::signals::SignalsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Control-plane logs (connect, snapshot, resync, shutdown) on stderr; `CRPBOT_LOG` filters.
    let filter = tracing_subscriber::EnvFilter::try_from_env("CRPBOT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let result = match cli.command {
        Command::Replay(args) => cmd::replay::run(args),
        Command::Journal(args) => cmd::journal::run(args),
        Command::Analyze(args) => cmd::swing::analyze(args),
        Command::SwingBacktest(args) => cmd::swing::backtest(args),
        Command::Record(args) => cmd::record::run(args),
        Command::Run(args) => cmd::run::run(args),
        Command::Bench(args) => cmd::bench::run(args),
        Command::Demo(args) => cmd::demo::run(args),
        Command::Kill(args) => cmd::operator::kill(args),
        Command::Rearm(args) => cmd::operator::rearm(args),
        Command::Signal(args) => cmd::signal::run(args),
        Command::Signals(args) => cmd::signals::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("crpbot: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
