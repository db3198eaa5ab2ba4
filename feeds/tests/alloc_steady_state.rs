//! No allocation on the update path once warmed up, proven over the real recording: decode
//! (simd-json), book synchronisation and book apply of every message after the first 2,000.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::Ordering;

use crpbot_core::{InstrumentId, Registry, Venue};
use crpbot_feeds::replay::{BinanceReplay, Published, ReplaySink};

mod counting;
use counting::{ALLOCS, COUNTING};

struct Touch(u64);
impl ReplaySink for Touch {
    fn on_book(&mut self, p: &Published<'_>) {
        // Read the book the way a strategy would.
        if let Some(b) = p.book.book.best_bid() {
            self.0 = self.0.wrapping_add(b.px.0 as u64);
        }
    }
}

#[test]
fn replay_update_path_allocates_nothing_after_warm_up() {
    let Some(dir) = common::data_dir() else { return };
    let reg = Registry::with_defaults();
    for symbol in ["btcusdt", "ethusdt"] {
        let mut lines = Vec::new();
        for day in ["20240808", "20240809"] {
            lines.extend(common::load_lines(
                &dir.join(format!("binance-spot-l2/{symbol}_{day}.gz")),
            ));
        }
        let ctx: Option<InstrumentId> = reg.lookup(Venue::BinanceSpot, symbol.as_bytes());
        let mut replay = BinanceReplay::new(&reg, Venue::BinanceSpot);
        let mut sink = Touch(0);
        let warm = 2_000;
        for (i, (ts, payload)) in lines.iter_mut().enumerate() {
            if i == warm {
                COUNTING.store(true, Ordering::SeqCst);
            }
            replay.feed(payload, *ts, ctx, &mut sink).expect("decodes");
        }
        COUNTING.store(false, Ordering::SeqCst);
        let allocs = ALLOCS.swap(0, Ordering::SeqCst);
        let stats = replay.stats();
        println!(
            "{symbol}: {} messages after warm-up, {} depth updates applied in all, {allocs} allocations",
            lines.len() - warm,
            stats.book_updates_applied
        );
        assert_eq!(stats.gaps, 0);
        assert_eq!(allocs, 0, "{symbol}: the update path allocated {allocs} times after warm-up");
    }
}
