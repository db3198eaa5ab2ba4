//! `crpbot run` (first form): a live session into live books, the best bid/ask CSV of
//! `replay`, and a status line on stderr every few seconds. `--venue sim` runs the built-in
//! market simulator instead, paced to the wall clock: the embedded offline default.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use crpbot_core::{Clock, LiveClock, Registry, Venue};
use crpbot_feeds::replay::{BboCsv, Published, ReplaySink};
use crpbot_feeds::session::{FrameTap, LiveBooks, SessionConfig, SessionHandle, spawn};

/// Endpoint and session options shared by `run` and `record`.
#[derive(Debug, Args)]
pub struct LiveArgs {
    /// Venue: binance-spot, binance-usdm, coinbase (or sim, for `run` only).
    #[arg(long)]
    pub venue: Venue,
    /// Comma-separated venue symbols (BTCUSDT,ETHUSDT or BTC-USD,ETH-USD); required except
    /// with `--venue sim`.
    #[arg(long, value_delimiter = ',')]
    pub symbols: Vec<String>,
    /// Stop after this many seconds (default: run until killed).
    #[arg(long)]
    pub duration: Option<f64>,
    /// Websocket base URL (default: the venue's; ws:// works for local mocks).
    #[arg(long)]
    pub ws_url: Option<String>,
    /// REST base URL for depth snapshots (default: the venue's; http:// works).
    #[arg(long)]
    pub rest_url: Option<String>,
    /// Seconds between status lines on stderr.
    #[arg(long, default_value_t = 5.0)]
    pub status_every: f64,
    /// Instrument configuration (TOML `[[instrument]]` tables) overlaid on the defaults.
    #[arg(long)]
    pub instruments: Option<PathBuf>,
}

/// Arguments of `crpbot run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    live: LiveArgs,
    /// Write the best bid/ask after each applied depth message to this CSV file.
    #[arg(long)]
    bbo_out: Option<PathBuf>,
    /// Simulator seed (with --venue sim).
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

struct NoSink;
impl ReplaySink for NoSink {
    fn on_book(&mut self, _p: &Published<'_>) {}
}

impl LiveArgs {
    pub(super) fn registry(&self) -> anyhow::Result<Registry> {
        Ok(match &self.instruments {
            Some(p) => Registry::from_toml(
                &std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
            )?,
            None => Registry::with_defaults(),
        })
    }

    fn config(&self) -> SessionConfig {
        let symbols: Vec<&str> = self.symbols.iter().map(String::as_str).collect();
        let mut cfg = SessionConfig::new(self.venue, &symbols);
        if let Some(u) = &self.ws_url {
            cfg.ws_url = u.clone();
        }
        if let Some(u) = &self.rest_url {
            cfg.rest_url = u.clone();
        }
        cfg
    }
}

/// Runs a session until the duration ends, feeding `sink`; prints status lines.
pub fn live_loop(
    cmd: &str,
    args: &LiveArgs,
    tap: Option<Box<dyn FrameTap>>,
    sink: &mut impl ReplaySink,
) -> anyhow::Result<crpbot_feeds::session::SessionStats> {
    let registry = args.registry()?;
    let cfg = args.config();
    let (ws_url, rest_url) = (cfg.ws_url.clone(), cfg.rest_url.clone());
    let (handle, mut rx) = spawn(cfg, &registry, tap)?;
    let mut books = LiveBooks::new(&registry, handle.resync_requester());
    let start = Instant::now();
    let end = args.duration.map(|s| start + Duration::from_secs_f64(s.max(0.0)));
    let every = Duration::from_secs_f64(args.status_every.max(0.1));
    let mut next_status = start + every;
    let mut last_msgs = 0u64;
    loop {
        if books.drain(&mut rx, sink) == 0 {
            // Idle: a short pause keeps this first form off a busy core.
            std::thread::sleep(Duration::from_micros(200));
        }
        let now = Instant::now();
        let s = handle.stats();
        if s.connects == 0 && s.connect_failures >= 3 {
            handle.stop();
            bail!(
                "cannot connect to {ws_url} ({} attempts failed); check the network or pass \
                 --ws-url/--rest-url (REST: {rest_url})",
                s.connect_failures
            );
        }
        if now >= next_status {
            let secs = every.as_secs_f64();
            eprintln!(
                "{cmd}: {}",
                status_line(&handle, &registry, (s.messages - last_msgs) as f64 / secs)
            );
            last_msgs = s.messages;
            next_status = now + every;
        }
        if end.is_some_and(|e| now >= e) {
            break;
        }
    }
    let stats = handle.join();
    books.drain(&mut rx, sink);
    Ok(stats)
}

fn status_line(handle: &SessionHandle, registry: &Registry, rate: f64) -> String {
    use std::fmt::Write as _;
    let s = handle.stats();
    let mut line = format!("{rate:.0} msg/s");
    for &id in handle.instruments() {
        let state = handle.book_state(id).map_or("?".to_owned(), |st| format!("{st:?}"));
        let _ = write!(line, ", {} {state}", registry.get(id).symbol);
    }
    let _ = write!(
        line,
        ", resyncs {}, gaps {}, reconnects {}, rejected {}",
        s.resyncs, s.gaps, s.reconnects, s.rejected
    );
    if s.last_gap_ns > 0 {
        let ago = (LiveClock.now_ns() - s.last_gap_ns) as f64 / 1e9;
        let sym = registry
            .try_get(crpbot_core::InstrumentId(s.last_gap_instrument))
            .map_or("?".to_owned(), |i| i.symbol.to_string());
        let _ = write!(line, ", last gap {ago:.1}s ago ({sym})");
    } else {
        line.push_str(", last gap none");
    }
    line
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let sim = args.live.venue == Venue::Sim;
    if !sim && args.live.symbols.is_empty() {
        bail!("--symbols is required with --venue {}", args.live.venue);
    }
    let stats = match &args.bbo_out {
        Some(path) => {
            let registry = args.live.registry()?;
            let file =
                File::create(path).with_context(|| format!("creating {}", path.display()))?;
            let mut csv = BboCsv::new(BufWriter::with_capacity(1 << 20, file), &registry)?;
            let stats = if sim {
                super::run_sim::sim_loop(&args.live, args.seed, &mut csv)?
            } else {
                live_loop("crpbot run", &args.live, None, &mut csv)?
            };
            eprintln!("crpbot run: {} rows written to {}", csv.rows(), path.display());
            csv.finish().with_context(|| format!("writing {}", path.display()))?;
            stats
        }
        None if sim => super::run_sim::sim_loop(&args.live, args.seed, &mut NoSink)?,
        None => live_loop("crpbot run", &args.live, None, &mut NoSink)?,
    };
    println!(
        "{{\"messages\":{},\"rejected\":{},\"connects\":{},\"reconnects\":{},\"gaps\":{},\"resyncs\":{},\"snapshots\":{},\"stalls\":{},\"ring_full\":{}}}",
        stats.messages,
        stats.rejected,
        stats.connects,
        stats.reconnects,
        stats.gaps,
        stats.resyncs,
        stats.snapshots,
        stats.stalls,
        stats.ring_full
    );
    Ok(ExitCode::SUCCESS)
}
