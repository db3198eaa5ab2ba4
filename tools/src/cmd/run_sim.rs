//! `crpbot run --venue sim`: the built-in market simulator ([`Simulator`]) paced to the wall
//! clock (one simulated second per second) into books, with the same best bid/ask CSV, status
//! lines and summary as a live session. No network: the embedded offline default.

use std::time::{Duration, Instant};

use anyhow::Context;
use crpbot_core::MarketEvent;
use crpbot_feeds::binance::DepthHeader;
use crpbot_feeds::books::{BookEffect, BookSet};
use crpbot_feeds::replay::{Published, ReplaySink};
use crpbot_feeds::session::SessionStats;
use crpbot_feeds::sim::{SimConfig, Simulator};

use super::run::LiveArgs;

/// Runs the simulator with `seed` until `args.duration` (wall = simulated seconds; none: until
/// killed), feeding `sink` exactly as `crpbot replay --venue sim` does; prints status lines.
/// Returns session-shaped counters (`messages` = batches, `snapshots` = initial snapshots).
pub fn sim_loop(
    args: &LiveArgs,
    seed: u64,
    sink: &mut impl ReplaySink,
) -> anyhow::Result<SessionStats> {
    let registry = args.registry()?;
    let duration_ns = args.duration.map(|s| (s.max(0.0) * 1e9) as i64);
    let cfg = SimConfig { duration_ns, ..SimConfig::new(seed) };
    let mut sim = Simulator::new(&registry, cfg).context("simulator configuration")?;
    let ids: Vec<_> = sim.instruments().collect();
    let mut books = BookSet::new(registry.len(), Default::default());
    let mut batch = Vec::with_capacity(1024);
    let mut stats = SessionStats { running: true, ..SessionStats::default() };
    let start = Instant::now();
    let t0 = sim.now_ns();
    let every = Duration::from_secs_f64(args.status_every.max(0.1));
    let mut next_status = start + every;
    let mut last_msgs = 0u64;
    let mut finished = false;
    while !finished {
        let target = t0.saturating_add(start.elapsed().as_nanos() as i64);
        while sim.now_ns() <= target {
            let Some(ts) = sim.next_batch(&mut batch) else {
                finished = true;
                break;
            };
            stats.messages += 1;
            for ev in &batch {
                sink.on_event(ev);
                let effect = books.apply(ev);
                if let MarketEvent::Snapshot(_) = ev {
                    stats.snapshots += 1;
                }
                if let (BookEffect::Updated, MarketEvent::Level(l)) = (effect, ev)
                    && !l.is_snapshot()
                    && let Some(book) = books.get(l.instrument)
                {
                    let depth = DepthHeader {
                        instrument: l.instrument,
                        first_update_id: l.update_id,
                        final_update_id: l.update_id,
                        prev_final_update_id: None,
                        ts_exch_ns: ts,
                        ts_local_ns: l.ts_local_ns,
                    };
                    sink.on_book(&Published { depth: &depth, book });
                }
            }
        }
        let now = Instant::now();
        if now >= next_status {
            let rate = (stats.messages - last_msgs) as f64 / every.as_secs_f64();
            let mut line = format!("{rate:.0} msg/s");
            for &id in &ids {
                let state = books.get(id).map_or("?".to_owned(), |b| format!("{:?}", b.state));
                line.push_str(&format!(", {} {state}", registry.get(id).symbol));
            }
            line.push_str(", resyncs 0, gaps 0, reconnects 0, rejected 0, last gap none");
            eprintln!("crpbot run: {line}");
            last_msgs = stats.messages;
            next_status = now + every;
        }
        if !finished {
            std::thread::sleep(Duration::from_micros(500));
        }
    }
    stats.running = false;
    Ok(stats)
}
