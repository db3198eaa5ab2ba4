//! `crpbot run` (first form): a live session into live books, the best bid/ask CSV of
//! `replay`, and a status line on stderr every few seconds. `--venue sim` runs the built-in
//! market simulator instead, paced to the wall clock: the embedded offline default.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use crpbot_core::{Clock, LiveClock, Registry, Venue};
use crpbot_feeds::replay::ReplaySink;
use crpbot_feeds::session::{FrameTap, LiveBooks, SessionConfig, SessionHandle, spawn};
use crpbot_risk::KillFlag;

use super::engine_args::EngineArgs;
use crate::engine::{
    self, Controls, CoreOptions, EngineConfig, JournalOptions, LiveFeed, Pace, SourceSpec, Status,
};

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
    /// Fast strategies to paper-trade (comma-separated: ofi,scalp,meanrev,statarb; `none` for
    /// books only).
    #[arg(long, value_delimiter = ',', default_value = "ofi,scalp,meanrev,statarb")]
    strategies: Vec<String>,
    /// Journal market events and every decision to this directory.
    #[arg(long)]
    journal: Option<PathBuf>,
    /// Journal to the page cache only (default: each risk verdict is msync'd before the next
    /// order leaves).
    #[arg(long)]
    page_cache_only: bool,
    /// Kill-switch flag file (`crpbot kill` creates it, `crpbot rearm` removes it).
    #[arg(long, default_value = "crpbot.kill")]
    kill_flag: PathBuf,
    /// Write the trading report (JSON) here at the end.
    #[arg(long)]
    report: Option<PathBuf>,
    #[command(flatten)]
    engine: EngineArgs,
    /// Run the async swing lane beside the hot lane (candles, analysis, validated signals as
    /// orders through the same circuit breaker).
    #[arg(long)]
    swing: bool,
    #[command(flatten)]
    swing_args: crate::swing_lane::SwingArgs,
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
    let registry = args.live.registry()?;
    let strategies: Vec<String> =
        args.strategies.iter().filter(|s| s.as_str() != "none").cloned().collect();
    let mut session = None;
    let mut status_ids = Vec::new();
    let source = if sim {
        SourceSpec::Sim { seed: args.seed, duration_s: args.live.duration, pace: Pace::RealTime }
    } else {
        let cfg = args.live.config();
        let (handle, rx) = spawn(cfg, &registry, None)?;
        let resync = handle.resync_requester();
        status_ids = handle.instruments().to_vec();
        session = Some((handle, args.live.config()));
        SourceSpec::Session(LiveFeed::new(rx, resync))
    };
    let (swing_link, swing_lane) = if args.swing {
        let cfg = args.swing_args.config("crpbot run", 60_000, 60_000);
        let (link, handle) = crate::swing_lane::spawn(cfg, &registry)?;
        (Some(link), Some(handle))
    } else {
        (None, None)
    };
    let controls = Controls::default();
    crate::shutdown::install(&controls)?;
    let kill = KillFlag::at(&args.kill_flag);
    let start_text = format!(
        "crpbot run --venue {} strategies={} topology={}",
        args.live.venue,
        strategies.join(","),
        args.engine.topology_name()
    );
    let cfg = EngineConfig {
        core: CoreOptions {
            strategies,
            bbo_out: args.bbo_out.clone(),
            start_ns: LiveClock.now_ns(),
            status_ids,
            sim_preset: sim,
        },
        journal: JournalOptions {
            dir: args.journal.clone(),
            raw_frames: false,
            durable_decisions: !args.page_cache_only,
            ack_every: 0,
            venue: Some(args.live.venue),
            start_text,
        },
        max_wall: args.live.duration.map(|s| Duration::from_secs_f64(s.max(0.0))),
        swing: swing_link,
        ..args.engine.config(source, registry.clone())
    };
    let every = Duration::from_secs_f64(args.live.status_every.max(0.1));
    let mut next_status = Instant::now() + every;
    let mut last_events = 0u64;
    let mut killed = false;
    let mut connect_error = None;
    let report = engine::run(cfg, &controls, None, |status, controls| {
        let now = Instant::now();
        // Kill flag: engage on creation; its removal plus a re-arm request re-arms.
        if kill.is_engaged() != killed {
            killed = !killed;
            if killed {
                eprintln!(
                    "crpbot run: kill flag {} present: trading halted",
                    kill.path().display()
                );
            } else {
                eprintln!("crpbot run: kill flag removed: re-arm requested");
            }
        }
        controls.kill.store(killed, std::sync::atomic::Ordering::Relaxed);
        if let Some((h, cfg)) = &session {
            let s = h.stats();
            if s.connects == 0 && s.connect_failures >= 3 {
                connect_error = Some(format!(
                    "cannot connect to {} ({} attempts failed); check the network or pass \
                     --ws-url/--rest-url (REST: {})",
                    cfg.ws_url, s.connect_failures, cfg.rest_url
                ));
                return false;
            }
        }
        if now >= next_status {
            let events = status.map_or(0, |s| s.events);
            let rate = (events - last_events.min(events)) as f64 / every.as_secs_f64();
            last_events = events;
            next_status = now + every;
            let line = match &session {
                Some((h, _)) => status_line(h, &registry, rate),
                None => sim_status_line(status, &registry, rate),
            };
            eprintln!("crpbot run: {line}{}", status.map(trading_status).unwrap_or_default());
        }
        true
    });
    let swing = swing_lane.map(crate::swing_lane::SwingLaneHandle::stop_and_join);
    let report = report?;
    if let Some(e) = connect_error {
        if let Some((h, _)) = session {
            h.stop();
        }
        bail!(e);
    }
    if let (Some(t), Some(path)) = (&report.trading, &args.report) {
        let mut t = t.clone();
        if let (Some(o), Some(sw)) = (t.as_object_mut(), &swing) {
            o.insert("swing".into(), serde_json::to_value(sw)?);
        }
        std::fs::write(path, serde_json::to_vec_pretty(&t)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(rows) = report.books["bbo_rows"].as_u64()
        && let Some(path) = &args.bbo_out
    {
        eprintln!("crpbot run: {rows} rows written to {}", path.display());
    }
    if let Some(e) = report.journal["error"].as_str() {
        eprintln!("crpbot run: journal error (trading was halted): {e}");
    }
    let summary = match session {
        Some((h, _)) => {
            let s = h.join();
            serde_json::json!({
                "messages": s.messages, "rejected": s.rejected, "connects": s.connects,
                "reconnects": s.reconnects, "gaps": s.gaps, "resyncs": s.resyncs,
                "snapshots": s.snapshots, "stalls": s.stalls, "ring_full": s.ring_full,
            })
        }
        None => serde_json::json!({
            "messages": report.feed["batches"], "rejected": 0, "connects": 0, "reconnects": 0,
            "gaps": 0, "resyncs": 0, "snapshots": registry.iter().filter(|i| i.venue == Venue::Sim).count(),
            "stalls": 0, "ring_full": 0,
        }),
    };
    let mut summary = summary;
    if let Some(o) = summary.as_object_mut() {
        o.insert("events".into(), report.events.into());
        o.insert("topology".into(), report.topology.clone().into());
        o.insert("journal".into(), report.journal.clone());
        o.insert("stopped_by_signal".into(), report.stopped_early.into());
        if let Some(t) = &report.trading {
            o.insert("trading".into(), t["counters"].clone());
            o.insert("final_equity".into(), t["final_equity"].clone());
        }
        if let Some(sw) = &swing {
            o.insert("swing".into(), serde_json::to_value(sw)?);
        }
    }
    println!("{summary}");
    Ok(ExitCode::SUCCESS)
}

fn sim_status_line(status: Option<&Status>, registry: &Registry, rate: f64) -> String {
    use std::fmt::Write as _;
    let mut line = format!("{rate:.0} msg/s");
    if let Some(s) = status {
        for &(id, _, _, state) in s.books.iter().take(s.n_books) {
            let name =
                registry.try_get(crpbot_core::InstrumentId(id)).map_or("?", |i| i.symbol.as_str());
            let _ = write!(line, ", {name} {:?}", state);
        }
    }
    line.push_str(", resyncs 0, gaps 0, reconnects 0, rejected 0, last gap none");
    line
}

fn trading_status(s: &Status) -> String {
    let t = &s.trader;
    if t.intents == 0 && t.equity == 0 {
        return String::new();
    }
    format!(
        "; equity {:.2}, intents {}, accepted {}, fills {}, round trips {}{}",
        t.equity as f64 / 1e8,
        t.intents,
        t.accepted,
        t.fills,
        t.closed_trades,
        if t.halted { ", HALTED" } else { "" }
    )
}
