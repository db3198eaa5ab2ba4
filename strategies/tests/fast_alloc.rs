//! Allocation test: after warm-up, the signal set and all four strategies (through
//! [`FastLane`], including fills fed back) process a stream of books and trades without a
//! single allocation — on a synthetic random walk of BTC and ETH books, and on the real
//! recordings. The counter is per thread and only switched on around the lane's calls.
#![allow(unsafe_code, clippy::unwrap_used)]

mod fast_common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use crpbot_book::{Book, BookConfig};
use crpbot_core::{Fill, Liquidity, Money, Px, Qty, Registry, Side, StrategyId, Trade, Venue};
use crpbot_strategies::fast::{FastConfig, FastLane, IntentBuf};

struct Counting;

thread_local! {
    static ENABLED: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn note() {
    if ENABLED.try_with(Cell::get).unwrap_or(false) {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
    }
}

// SAFETY: every method forwards to `System` unchanged; the bookkeeping only touches
// const-initialised thread-locals without destructors, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: as `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract, passed on as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note();
        // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract, passed on as is.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn counting(on: bool) {
    ENABLED.with(|e| e.set(on));
}

fn allocs() -> u64 {
    ALLOCS.with(Cell::get)
}

/// xorshift64*: a seeded, deterministic stream.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> i64 {
        (self.next() % n) as i64
    }
}

/// Small config windows so the strategies warm up and trade within the stream.
fn cfg() -> FastConfig {
    let mut c = FastConfig::default();
    c.signals.whale_min_samples = 5;
    c.ofi.cooldown_ms = 1_000;
    c.scalp.cooldown_ms = 1_000;
    c.meanrev.width_min_history = 5;
    c.meanrev.cooldown_ms = 1_000;
    c.statarb.window = 30;
    c.statarb.min_samples = 30;
    c.statarb.require_cointegration = false;
    c.statarb.cooldown_ms = 1_000;
    c
}

#[test]
fn lane_does_not_allocate_after_warm_up_on_a_synthetic_stream() {
    // The counter itself works.
    let before = allocs();
    counting(true);
    let v: Vec<u8> = Vec::with_capacity(16);
    std::hint::black_box(&v);
    counting(false);
    drop(v);
    assert_eq!(allocs() - before, 1);
    let reg = Registry::with_defaults();
    let ids = [
        reg.lookup(Venue::BinanceSpot, b"BTCUSDT").unwrap(),
        reg.lookup(Venue::BinanceSpot, b"ETHUSDT").unwrap(),
    ];
    let mut lane = FastLane::new(&cfg(), &reg, StrategyId(1)).unwrap();
    let mut books = [Book::new(BookConfig::default()), Book::new(BookConfig::default())];
    let mut mid = [6_000_000i64, 300_000];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = IntentBuf::new();
    let (mut intents, mut counted) = (0u64, 0u64);
    let warm_up = 5_000;
    for step in 0..60_000i64 {
        let k = (step % 2) as usize;
        let ts = step * 50_000_000; // 50 ms apart
        mid[k] += rng.below(21) - 10;
        let b = &mut books[k];
        b.clear();
        for lvl in 0..10 {
            let q = 1 + rng.below(300_000_000);
            b.set(Side::Buy, Px(mid[k] - 1 - lvl), Qty(q)).unwrap();
            let q = 1 + rng.below(300_000_000);
            b.set(Side::Sell, Px(mid[k] + 1 + lvl), Qty(q)).unwrap();
        }
        let cap = if rng.below(50) == 0 { 2_000_000_000 } else { 50_000_000 };
        let t = Trade {
            ts_exch_ns: ts,
            ts_local_ns: ts,
            trade_id: step as u64,
            px: Px(mid[k] + if rng.below(2) == 0 { 1 } else { -1 }),
            qty: Qty(1 + rng.below(cap)),
            instrument: ids[k],
            aggressor: if rng.below(2) == 0 { Side::Buy } else { Side::Sell },
            _pad: [0; 5],
        };
        let measure = step >= warm_up;
        let before = allocs();
        counting(measure);
        lane.on_trade(&t, &mut out);
        lane.on_book(ids[k], &books[k], ts, &mut out);
        for i in out.as_slice() {
            let book = &books[if i.instrument == ids[0] { 0 } else { 1 }];
            let touch = if i.side == Side::Buy { book.best_ask() } else { book.best_bid() };
            lane.on_fill(&Fill {
                ts_ns: ts,
                client_id: i.client_id,
                px: touch.unwrap().px,
                qty: i.qty,
                fee: Money::ZERO,
                instrument: i.instrument,
                strategy: i.strategy,
                side: i.side,
                liquidity: Liquidity::Taker,
                last: true,
                _pad: [0; 1],
            });
        }
        counting(false);
        if measure {
            counted += allocs() - before;
            intents += out.len() as u64;
        }
        out.clear();
    }
    assert!(intents > 20, "the stream must make the strategies trade ({intents} intents)");
    let by: Vec<(&str, u64)> =
        lane.strategies().iter().map(|s| (s.name(), s.stats().entries)).collect();
    println!("intents after warm-up: {intents}; entries per strategy: {by:?}");
    assert!(by.iter().all(|(_, n)| *n > 0), "every strategy should enter: {by:?}");
    assert_eq!(counted, 0, "allocations after warm-up");
}

#[test]
fn lane_does_not_allocate_on_the_real_recordings_after_warm_up() {
    let Some(dir) = fast_common::data_dir() else { return };
    let reg = Registry::with_defaults();
    let lane = FastLane::new(&FastConfig::default(), &reg, StrategyId(1)).unwrap();
    let mut sink = fast_common::LaneSink::new(lane);
    sink.record = false;
    // Count only inside the lane's calls, and only after the first 2,000 books.
    fn around(on: bool) {
        WARM.with(|w| {
            if w.get() {
                counting(on);
            }
        });
    }
    thread_local! {
        static WARM: Cell<bool> = const { Cell::new(false) };
    }
    struct Gate(fast_common::LaneSink);
    impl crpbot_feeds::replay::ReplaySink for Gate {
        fn on_book(&mut self, p: &crpbot_feeds::replay::Published<'_>) {
            if self.0.books == 2_000 {
                WARM.with(|w| w.set(true));
            }
            self.0.on_book(p);
        }
        fn on_event(&mut self, ev: &crpbot_core::MarketEvent) {
            self.0.on_event(ev);
        }
    }
    sink.around = around;
    let mut gate = Gate(sink);
    let before = allocs();
    fast_common::replay_merged(&dir, &reg, &mut gate);
    WARM.with(|w| w.set(false));
    counting(false);
    let entries: u64 = gate.0.lane.strategies().iter().map(|s| s.stats().entries).sum();
    assert!(gate.0.books > 12_000 && entries > 0);
    assert_eq!(allocs() - before, 0, "allocations inside the lane after warm-up");
}
