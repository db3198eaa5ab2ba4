//! Runs the simulator through the books, as a replay does (`crpbot replay --venue sim`).

use std::time::Instant;

use crpbot_book::BookConfig;
use crpbot_core::{MarketEvent, Registry};

use super::{SimConfig, SimConfigError, Simulator};
use crate::binance::DepthHeader;
use crate::books::{BookEffect, BookSet};
use crate::replay::{Published, ReplaySink, ReplayStats};

/// Runs a simulator built from `cfg` until its `duration_ns` or `max_batches` (one of them
/// should be set, or this never returns) and feeds every event to a [`BookSet`] and `sink`,
/// publishing each batch whose book is valid, exactly as [`crate::replay::BinanceReplay`] does
/// for a recording. In the summary, `messages` counts batches and `book_updates_applied` the
/// batches that carried levels.
///
/// # Examples
/// ```
/// use crpbot_core::Registry;
/// use crpbot_feeds::replay::{Published, ReplaySink};
/// use crpbot_feeds::sim::{SimConfig, replay_sim};
/// struct Count(u64);
/// impl ReplaySink for Count {
///     fn on_book(&mut self, _: &Published<'_>) { self.0 += 1; }
/// }
/// let cfg = SimConfig { max_batches: Some(1_000), ..SimConfig::new(1) };
/// let mut n = Count(0);
/// let stats = replay_sim(&Registry::with_defaults(), cfg, &mut n).unwrap();
/// assert_eq!((stats.crossed, stats.snapshots), (0, 4));
/// assert!(n.0 > 900);
/// ```
pub fn replay_sim(
    registry: &Registry,
    cfg: SimConfig,
    sink: &mut impl ReplaySink,
) -> Result<ReplayStats, SimConfigError> {
    let start = Instant::now();
    let mut sim = Simulator::new(registry, cfg)?;
    let mut books = BookSet::new(registry.len(), BookConfig::default());
    let mut batch = Vec::with_capacity(1024);
    let mut stats = ReplayStats::default();
    while let Some(ts) = sim.next_batch(&mut batch) {
        stats.messages += 1;
        let mut carried_levels = false;
        for ev in &batch {
            sink.on_event(ev);
            let effect = books.apply(ev);
            match ev {
                MarketEvent::Snapshot(_) => stats.snapshots += 1,
                MarketEvent::Trade(_) => stats.trades += 1,
                MarketEvent::Level(l) if !l.is_snapshot() => carried_levels = true,
                _ => {}
            }
            if let (BookEffect::Updated, MarketEvent::Level(l)) = (effect, ev) {
                let header = DepthHeader {
                    instrument: l.instrument,
                    first_update_id: l.update_id,
                    final_update_id: l.update_id,
                    prev_final_update_id: None,
                    ts_exch_ns: ts,
                    ts_local_ns: l.ts_local_ns,
                };
                if let Some(book) = books.get(l.instrument) {
                    sink.on_book(&Published { depth: &header, book });
                }
            }
        }
        if carried_levels {
            stats.book_updates_applied += 1;
        }
    }
    let bs = books.stats();
    stats.levels_applied = bs.levels;
    stats.crossed = bs.crossed;
    stats.errors = bs.rejected;
    stats.elapsed_s = start.elapsed().as_secs_f64();
    Ok(stats)
}
