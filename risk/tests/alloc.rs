//! A counting allocator proves that, after warm-up, `RiskEngine::check`, the engine's event
//! methods and the paper venue's event handling allocate nothing.
#![allow(unsafe_code, clippy::unwrap_used)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::*;
use crpbot_book::Book;
use crpbot_core::{
    ClientOrderId, InstrumentId, Money, OrderIntent, OrderType, Px, Qty, Side, StrategyId, Trade,
};
use crpbot_risk::{PaperConfig, PaperVenue};

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

fn counted<R>(f: impl FnOnce() -> R) -> (R, u64) {
    ALLOCS.with(|c| c.set(0));
    ENABLED.with(|e| e.set(true));
    let r = f();
    ENABLED.with(|e| e.set(false));
    (r, ALLOCS.with(Cell::get))
}

#[test]
fn breaker_and_paper_venue_do_not_allocate_after_warm_up() {
    let mut fx = Fx::new(loose());
    let mut venue = PaperVenue::new(
        PaperConfig { equity_capacity: 10_000, trade_capacity: 10_000, ..PaperConfig::default() },
        &instruments(3),
    );
    let mut book = Book::default();
    book.set(Side::Buy, Px(9_999), Qty(50)).unwrap();
    book.set(Side::Sell, Px(10_001), Qty(50)).unwrap();
    book.set(Side::Sell, Px(10_002), Qty(50)).unwrap();
    let mut fills = Vec::with_capacity(1024);
    let mut closed = Vec::with_capacity(1024);
    let mut actions: Vec<OrderIntent> = Vec::with_capacity(1024);
    let ((), n) = counted(|| {
        for k in 0..2_000i64 {
            let now = T0 + k * 1_000_000;
            fx.ctx.now_ns = now;
            fx.ctx.book_ts_ns = now;
            let side = if k % 2 == 0 { Side::Buy } else { Side::Sell };
            let ty = if k % 3 == 0 { OrderType::Market } else { OrderType::Limit };
            let px = if side == Side::Buy { 10_001 } else { 9_999 };
            let it = OrderIntent {
                ts_ns: now,
                ..intent(
                    ClientOrderId(10 + k as u64),
                    InstrumentId(0),
                    StrategyId(0),
                    side,
                    ty,
                    px,
                    1 + k % 1500,
                )
            };
            let v = fx.check(&it);
            if v.is_accepted() {
                venue.submit(&it).unwrap();
            }
            fills.clear();
            venue.on_book(&book, InstrumentId(0), now, &mut fills);
            venue.on_trade(
                &Trade {
                    ts_exch_ns: now,
                    ts_local_ns: now,
                    trade_id: k as u64,
                    px: Px(9_999),
                    qty: Qty(5),
                    instrument: InstrumentId(0),
                    aggressor: Side::Sell,
                    _pad: [0; 5],
                },
                &mut fills,
            );
            for f in &fills {
                fx.eng.on_fill(f);
            }
            closed.clear();
            venue.drain_closed(&mut closed);
            for id in &closed {
                fx.eng.on_order_closed(*id);
            }
            fx.eng.on_mark(InstrumentId(0), Px(9_999), Px(10_001), now);
            if k % 100 == 50 {
                // Cancel whatever is still working.
                let c = OrderIntent { action: crpbot_core::IntentAction::Cancel, ..it };
                if fx.check(&c).is_accepted() && venue.cancel(c.client_id) {
                    fx.eng.on_order_closed(c.client_id);
                }
            }
        }
        fx.eng.kill();
        fx.eng.take_halt_actions(T0, &mut actions);
    });
    assert_eq!(n, 0, "allocations after construction");
    assert!(fx.eng.counters().count(crpbot_risk::VerdictCode::Accepted) > 100);
    assert!(venue.stats().fills > 100);
    assert_eq!(venue.stats().grows, 0);
    assert!(venue.fees_paid() > Money::ZERO);
}
