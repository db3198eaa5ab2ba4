//! Risk check latency: criterion, plus HdrHistogram percentiles of 1,000,000 timed checks
//! (histogram built with fixed bounds so recording never allocates).
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use crpbot_core::{
    BookState, ClientOrderId, InstrumentId, IntentAction, OrderIntent, OrderType, Px, Qty,
    Registry, Side, StrategyId,
};
use crpbot_risk::{MarketCtx, RiskConfig, RiskEngine};

const T0: i64 = 1_711_800_000 * 1_000_000_000;

fn setup() -> (RiskEngine, MarketCtx, OrderIntent) {
    let insts: Vec<_> = Registry::with_defaults().iter().copied().collect();
    let cfg = RiskConfig { rate_burst: u32::MAX, rate_per_sec: 1e9, ..RiskConfig::default() };
    let (eng, _token) = RiskEngine::new(&cfg, &insts, T0).unwrap();
    let ctx = MarketCtx {
        now_ns: T0,
        book_ts_ns: T0,
        bid: Px(6_000_000),
        ask: Px(6_000_001),
        state: BookState::Synced,
    };
    let it = OrderIntent {
        ts_ns: T0,
        client_id: ClientOrderId(1),
        px: Px(6_000_000),
        qty: Qty(10_000),
        stop_px: Px(5_990_000),
        take_profit_px: Px(0),
        instrument: InstrumentId(0),
        strategy: StrategyId(0),
        reason: 0,
        side: Side::Buy,
        order_type: OrderType::Limit,
        action: IntentAction::New,
        reduce_only: false,
        _pad: [0; 6],
    };
    (eng, ctx, it)
}

/// A full accept path: check a new order (accepted, becomes working), then cancel-ack it so
/// the working set stays bounded. Also measured: a rejection at the last limit step.
fn bench(c: &mut Criterion) {
    let (mut eng, ctx, it) = setup();
    let mut id = 1u64;
    c.bench_function("risk_check_accept_then_close", |b| {
        b.iter(|| {
            id += 1;
            let i = OrderIntent {
                client_id: ClientOrderId(id),
                qty: Qty(10_000 + (id % 64) as i64),
                ..it
            };
            let v = eng.check(black_box(&i), black_box(&ctx));
            eng.on_order_closed(i.client_id);
            v
        })
    });
    let (mut eng, ctx, it) = setup();
    let big = OrderIntent { qty: Qty(100_000_000), ..it };
    c.bench_function("risk_check_reject_position", |b| {
        b.iter(|| eng.check(black_box(&big), black_box(&ctx)))
    });

    // HdrHistogram of single checks (accepted path only; includes ~20 ns of Instant overhead).
    let (mut eng, ctx, it) = setup();
    let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 1_000_000_000, 3).unwrap();
    let mut id = 1_000_000u64;
    for _ in 0..1_000_000 {
        id += 1;
        let i =
            OrderIntent { client_id: ClientOrderId(id), qty: Qty(10_000 + (id % 64) as i64), ..it };
        let t = Instant::now();
        let v = eng.check(black_box(&i), black_box(&ctx));
        let dt = t.elapsed().as_nanos() as u64;
        black_box(v);
        eng.on_order_closed(i.client_id);
        let _ = h.record(dt.max(1));
    }
    println!(
        "risk check (accept) ns: p50 {} p99 {} p99.9 {} p99.99 {} max {}",
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
        h.value_at_quantile(0.9999),
        h.max()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
