//! Allocation tests: a counting global allocator proves that a warmed-up [`Book`] applies
//! updates and answers reads without allocating, on random updates and on the real recordings
//! (which are also replayed against [`RefBook`], comparing every read after every message).
//!
//! The counter is per thread, so tests running in parallel do not disturb each other.
#![allow(unsafe_code, clippy::unwrap_used)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use crpbot_book::reference::RefBook;
use crpbot_book::{Book, BookConfig, CrossState, Level};
use crpbot_core::{Px, Qty, Side};

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

/// Runs `f` and returns how many allocator calls this thread made meanwhile.
fn count<R>(f: impl FnOnce() -> R) -> (R, u64) {
    ALLOCS.with(|c| c.set(0));
    ENABLED.with(|e| e.set(true));
    let r = f();
    ENABLED.with(|e| e.set(false));
    (r, ALLOCS.with(Cell::get))
}

#[test]
fn the_counter_sees_allocations() {
    let (v, n) = count(|| vec![1u8; 100]);
    assert_eq!(v.len(), 100);
    assert!(n >= 1, "allocation not counted: {n}");
}

/// Reads a strategy would make after each update.
fn reads(book: &Book, top: &mut [Level; 10]) -> i64 {
    let mut acc = book.top(Side::Buy, top) as i64 + book.top(Side::Sell, top) as i64;
    acc += book.mid_x2().unwrap_or(0);
    acc += book.depth_imbalance(10).map_or(0, |x| (x * 100.0) as i64);
    acc += book.market_fill(Side::Buy, Qty(1_000)).map_or(0, |f| f.filled.0);
    acc += book.cum_qty_to(Side::Sell, Px(1_000_100)).0;
    acc += book.microprice().map_or(0, |m| m as i64);
    acc += book.levels(Side::Buy).count() as i64;
    acc
}

#[test]
fn random_updates_within_capacity_do_not_allocate() {
    let mut book = Book::new(BookConfig::default());
    let mut top = [Level::default(); 10];
    // xorshift64*: deterministic, no allocation.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let mid = 1_000_000i64;
    // Warm up: a snapshot-like book with near and far levels, then the same process.
    let step = |book: &mut Book, rnd: &mut dyn FnMut() -> u64| {
        let r = rnd();
        let side = if r & 1 == 0 { Side::Buy } else { Side::Sell };
        let dist = match (r >> 1) % 10 {
            0 => ((r >> 8) % 2_000) as i64 * 400, // mostly far: beyond the default window
            1..=3 => ((r >> 8) % 2_000) as i64,
            _ => ((r >> 8) % 50) as i64,
        };
        // The touch wanders (crossing sometimes); far prices stay on a fixed grid of 2,000.
        let drift = if (r >> 1).is_multiple_of(10) { 0 } else { ((r >> 40) % 64) as i64 - 32 };
        let px = match side {
            Side::Buy => mid + drift - 1 - dist,
            Side::Sell => mid + drift + 1 + dist,
        };
        let qty = if (r >> 32).is_multiple_of(3) { 0 } else { ((r >> 20) % 1_000) as i64 + 1 };
        book.set(side, Px(px), Qty(qty)).unwrap();
    };
    for _ in 0..200_000 {
        step(&mut book, &mut rnd);
    }
    let (acc, n) = count(|| {
        let mut acc = 0;
        for i in 0..200_000 {
            step(&mut book, &mut rnd);
            if i % 16 == 0 {
                acc += reads(&book, &mut top);
            }
        }
        book.clear();
        for _ in 0..50_000 {
            step(&mut book, &mut rnd);
        }
        acc
    });
    assert_ne!(acc, 0);
    assert_eq!(n, 0, "allocations on the warmed-up update path: {:?}", book.stats());
    assert_eq!(book.stats().far_grows, 0);
    assert!(book.stats().far_levels > 0 && book.stats().recentres > 0, "{:?}", book.stats());
}

fn assert_same(book: &Book, r: &RefBook, ctx: &str) {
    assert_eq!(book.best_bid(), r.best_bid(), "{ctx}");
    assert_eq!(book.best_ask(), r.best_ask(), "{ctx}");
    assert_eq!(book.cross_state(), r.cross_state(), "{ctx}");
    assert_eq!(book.microprice(), r.microprice(), "{ctx}");
    assert_eq!(book.spread_bps(), r.spread_bps(), "{ctx}");
    for n in [1, 5, 20] {
        assert_eq!(book.depth_imbalance(n), r.depth_imbalance(n), "{ctx}");
    }
    for side in [Side::Buy, Side::Sell] {
        assert_eq!(book.level_count(side), r.level_count(side), "{ctx}");
        let (mut a, mut b) = ([Level::default(); 20], [Level::default(); 20]);
        let (na, nb) = (book.top(side, &mut a), r.top(side, &mut b));
        assert_eq!(a[..na], b[..nb], "{ctx}");
        for q in [1_000, 100_000, 10_000_000] {
            assert_eq!(book.market_fill(side, Qty(q)), r.market_fill(side, Qty(q)), "{ctx}");
        }
        if let Some(l) = a[..na].last() {
            assert_eq!(book.cum_qty_to(side, l.px), r.cum_qty_to(side, l.px), "{ctx}");
        }
    }
}

/// The default window, and a 2^10-tick one (10.24 USDT at a 0.01 tick) under which the real
/// feeds re-centre often and keep thousands of levels in the far store.
const REAL_DATA_CONFIGS: [BookConfig; 2] = [
    BookConfig { window_ticks: 1 << 18, far_capacity: 8192 },
    BookConfig { window_ticks: 1 << 10, far_capacity: 8192 },
];

#[test]
fn real_recordings_match_reference_without_allocating() {
    let Some(dir) = common::data_dir() else { return };
    assert_eq!(REAL_DATA_CONFIGS[0], BookConfig::default());
    for symbol in ["btcusdt", "ethusdt"] {
        let rec = common::load(&dir, symbol);
        assert_eq!(rec.breaks, 0, "{symbol}: sequence breaks");
        assert!(rec.n_messages > 6_000, "{symbol}: {} messages", rec.n_messages);
        for config in REAL_DATA_CONFIGS {
            replay_and_compare(&rec, config);
        }
    }
}

fn replay_and_compare(rec: &common::Recording, config: BookConfig) {
    let symbol = rec.symbol;
    let mut book = Book::new(config);
    let mut r = RefBook::new();
    book.clear();
    for u in &rec.snapshot {
        book.apply(u).unwrap();
        r.apply(u).unwrap();
    }
    assert_eq!(book.level_count(Side::Buy), 1000);
    assert!(book.levels(Side::Buy).eq(r.levels(Side::Buy)));
    assert!(book.levels(Side::Sell).eq(r.levels(Side::Sell)));
    assert_same(&book, &r, "snapshot");
    let mut top = [Level::default(); 10];
    let mut allocs = 0;
    let (mut with_ticker, mut ticker_matches) = (0usize, 0usize);
    assert_eq!(rec.msg_ids.len(), rec.messages().count());
    for (i, (msg, &(first, last))) in rec.messages().zip(&rec.msg_ids).enumerate() {
        let (acc, n) = count(|| {
            for u in msg {
                book.apply(u).unwrap();
            }
            reads(&book, &mut top)
        });
        assert_ne!(acc, 0);
        allocs += n;
        for u in msg {
            r.apply(u).unwrap();
        }
        let ctx = format!("{symbol} message {i} (u={})", msg[0].update_id);
        assert_same(&book, &r, &ctx);
        assert_eq!(book.cross_state(), CrossState::Normal, "{ctx}");
        // Golden: the venue's own best bid/offer at the end of this diff.
        if let Some(t) = rec.ticker_in(first, last) {
            with_ticker += 1;
            let bid = book.best_bid().map(|l| (l.px, l.qty));
            let ask = book.best_ask().map(|l| (l.px, l.qty));
            ticker_matches += usize::from(bid == Some(t.bid) && ask == Some(t.ask));
        }
        if i % 500 == 0 {
            assert!(book.levels(Side::Buy).eq(r.levels(Side::Buy)), "{ctx}");
            assert!(book.levels(Side::Sell).eq(r.levels(Side::Sell)), "{ctx}");
        }
    }
    assert!(book.levels(Side::Buy).eq(r.levels(Side::Buy)));
    assert!(book.levels(Side::Sell).eq(r.levels(Side::Sell)));
    let stats = book.stats();
    println!(
        "{symbol} (window {}): {} messages, {} level updates, {} sizes off the lot grid, {} \
         levels now, {stats:?}",
        config.window_ticks,
        rec.n_messages,
        rec.diffs.len(),
        rec.off_lot_qty,
        book.level_count(Side::Buy) + book.level_count(Side::Sell)
    );
    println!(
        "{symbol}: best bid/ask equal bookTicker after {ticker_matches} of {with_ticker} diffs"
    );
    assert!(with_ticker > 1_000, "{symbol}: only {with_ticker} diffs with a bookTicker");
    assert!(
        ticker_matches * 1000 >= with_ticker * 999,
        "{symbol}: book matched bookTicker for {ticker_matches} of {with_ticker} diffs"
    );
    assert_eq!(allocs, 0, "{symbol}: allocations while replaying");
    assert_eq!(stats.far_grows, 0);
    if config.window_ticks < 1 << 16 {
        // The small window: the far store and re-centring are exercised on real data.
        assert!(stats.recentres > 10 && stats.far_updates > 10_000, "{symbol}: {stats:?}");
    }
}
