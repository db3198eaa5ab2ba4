//! R1: boundary tables (limit − ε, limit, limit + ε) for every limit, for new orders and for
//! modifies of a working order. Instruments have tick 0.01 and lot 1; 1 lot at 100.00 is 100
//! quote units; equity is 100,000.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use crpbot_core::{InstrumentId, OrderIntent, OrderType, Px, Side, StrategyId};
use crpbot_risk::{RiskConfig, VerdictCode as C};

/// Runs each row on a fresh engine as a new order, then as a modify of a 1-lot working order
/// (with the same base price) to the row's price and size.
fn table(cfg: &RiskConfig, base: i64, rows: &[(i64, C)], make: fn(&mut Fx, i64) -> OrderIntent) {
    for &(v, want) in rows {
        let mut fx = Fx::new(cfg.clone());
        let it = make(&mut fx, v);
        assert_eq!(fx.code(&it), want, "new order, value {v}");

        let mut fx = Fx::new(cfg.clone());
        let first = make(&mut fx, base);
        assert_eq!(fx.code(&first), C::Accepted, "base order for modify");
        let target = make(&mut fx, v);
        let m = OrderIntent {
            action: crpbot_core::IntentAction::Modify,
            client_id: first.client_id,
            ..target
        };
        assert_eq!(fx.code(&m), want, "modify, value {v}");
    }
}

fn buy_qty(fx: &mut Fx, q: i64) -> OrderIntent {
    fx.limit(0, Side::Buy, 10_000, q)
}

#[test]
fn position_notional() {
    // 30 % of 100,000 = 30,000 = 300 lots at 100.00.
    let cfg = RiskConfig { position_notional_frac: 0.30, ..loose() };
    let rows = [(299, C::Accepted), (300, C::Accepted), (301, C::PositionNotional)];
    table(&cfg, 1, &rows, buy_qty);
    // Sells are bounded the same way on their side.
    table(&cfg, 1, &rows, |fx, q| fx.limit(0, Side::Sell, 10_000, q));
}

#[test]
fn position_counts_working_orders_and_fills() {
    let cfg = RiskConfig { position_notional_frac: 0.30, ..loose() };
    for (q, want) in [(99, C::Accepted), (100, C::Accepted), (101, C::PositionNotional)] {
        let mut fx = Fx::new(cfg.clone());
        // Longs are marked at the bid: keep it at the fill price so equity stays 100,000.
        fx.ctx.bid = Px(10_000);
        fx.ctx.ask = Px(10_002);
        let a = fx.limit(0, Side::Buy, 10_000, 120);
        assert_eq!(fx.code(&a), C::Accepted);
        fx.fill(&a, 10_000, 120, true); // position 120
        let b = fx.limit(0, Side::Buy, 10_000, 80);
        assert_eq!(fx.code(&b), C::Accepted); // working 80
        let c = fx.limit(0, Side::Buy, 10_000, q);
        assert_eq!(fx.code(&c), want, "120 held + 80 working + {q}");
        // Selling against the long is always within the limit on the sell side.
        let d = fx.limit(0, Side::Sell, 10_000, 400);
        assert_eq!(fx.code(&d), C::Accepted);
    }
}

#[test]
fn trade_risk_with_stop_and_fast_strategies() {
    // 2 % of 100,000 = 2,000; stop 1.00 below: 1 quote unit per lot.
    let cfg = RiskConfig { trade_risk_frac: 0.02, fast_trade_risk_frac: 0.005, ..loose() };
    let rows = [(1999, C::Accepted), (2000, C::Accepted), (2001, C::TradeRisk)];
    table(&cfg, 1, &rows, |fx, q| OrderIntent { stop_px: Px(9_900), ..buy_qty(fx, q) });
    // Fast strategy 3: 0.5 % = 500.
    let rows = [(499, C::Accepted), (500, C::Accepted), (501, C::TradeRisk)];
    table(&cfg, 1, &rows, |fx, q| OrderIntent {
        stop_px: Px(9_900),
        strategy: StrategyId(3),
        ..buy_qty(fx, q)
    });
    // No stop: the default 100 bps of 100.00 = 1.00 per lot, same boundary.
    let rows = [(1999, C::Accepted), (2000, C::Accepted), (2001, C::TradeRisk)];
    table(&cfg, 1, &rows, buy_qty);
    // Stop on the wrong side.
    let mut fx = Fx::new(cfg);
    let it = OrderIntent { stop_px: Px(10_000), ..buy_qty(&mut fx, 1) };
    assert_eq!(fx.code(&it), C::InvalidStop);
}

#[test]
fn trade_risk_includes_fees() {
    // Fee 0.1 % on entry (100.00) and exit at the stop (99.00): 0.1 + 0.099 = 0.199 per lot,
    // so 1.199 per lot; 2000 / 1.199 = 1668.05 lots.
    let cfg = RiskConfig { trade_risk_frac: 0.02, fee_ppm: 1000, ..loose() };
    let rows = [(1667, C::Accepted), (1668, C::Accepted), (1669, C::TradeRisk)];
    table(&cfg, 1, &rows, |fx, q| OrderIntent { stop_px: Px(9_900), ..buy_qty(fx, q) });
    let mut fx = Fx::new(RiskConfig { trade_risk_frac: 0.02, fee_ppm: 1000, ..loose() });
    let it = OrderIntent { stop_px: Px(9_900), ..buy_qty(&mut fx, 1669) };
    let v = fx.check(&it);
    // 1669 × 1.199 = 2001.131 quote units, in 10⁻⁸ units.
    assert_eq!((v.observed, v.limit), (200_113_100_000, 200_000_000_000));
}

#[test]
fn loss_room_above_the_daily_floor() {
    // Daily floor 95,500: room 4,500 at 1.00 per lot.
    let cfg = loose();
    let rows = [(4499, C::Accepted), (4500, C::Accepted), (4501, C::LossRoom)];
    table(&cfg, 1, &rows, |fx, q| OrderIntent { stop_px: Px(9_900), ..buy_qty(fx, q) });
}

#[test]
fn max_order_qty_and_notional() {
    let cfg = RiskConfig { max_order_qty: vec![500], ..loose() };
    let rows = [(499, C::Accepted), (500, C::Accepted), (501, C::OrderQty)];
    table(&cfg, 1, &rows, buy_qty);
    // Other instruments use the default (unlimited).
    let mut fx = Fx::new(cfg);
    let it = fx.limit(1, Side::Buy, 10_000, 501);
    assert_eq!(fx.code(&it), C::Accepted);

    let cfg = RiskConfig { max_order_notional: 50_000.0, ..loose() };
    let rows = [(499, C::Accepted), (500, C::Accepted), (501, C::OrderNotional)];
    table(&cfg, 1, &rows, buy_qty);
}

#[test]
fn price_collar() {
    // Mid 100.00, collar 100 bps = 1.00.
    let cfg = RiskConfig { collar_bps: 100, ..loose() };
    let rows = [(10_099, C::Accepted), (10_100, C::Accepted), (10_101, C::PriceCollar)];
    table(&cfg, 10_000, &rows, |fx, px| fx.limit(0, Side::Buy, px, 1));
    let rows = [(9_901, C::Accepted), (9_900, C::Accepted), (9_899, C::PriceCollar)];
    table(&cfg, 10_000, &rows, |fx, px| fx.limit(0, Side::Sell, px, 1));
    // A market order's cap is collared too; without a cap the touch is used.
    let mut fx = Fx::new(RiskConfig { collar_bps: 100, ..loose() });
    let id = fx.id();
    let m = intent(id, InstrumentId(0), StrategyId(0), Side::Buy, OrderType::Market, 10_101, 1);
    assert_eq!(fx.code(&m), C::PriceCollar);
    let id = fx.id();
    let m = intent(id, InstrumentId(0), StrategyId(0), Side::Buy, OrderType::Market, 0, 1);
    assert_eq!(fx.code(&m), C::Accepted);
}

#[test]
fn open_positions_per_strategy() {
    // Max 3 (5 for fast strategy 3): the 3rd accepted, the 4th rejected.
    let cfg = RiskConfig { max_open_positions: 3, fast_max_open_positions: 5, ..loose() };
    let mut fx = Fx::with_n(cfg.clone(), 8);
    for (k, want) in [(0, C::Accepted), (1, C::Accepted), (2, C::Accepted), (3, C::OpenPositions)] {
        let it = fx.limit(k, Side::Buy, 10_000, 1);
        assert_eq!(fx.code(&it), want, "opening #{}", k + 1);
    }
    // Adding to an already open slot is fine; other strategies have their own count.
    let it = fx.limit(0, Side::Buy, 10_000, 2);
    assert_eq!(fx.code(&it), C::Accepted);
    let mut fast = |k: u16| {
        let id = fx.id();
        let it = intent(id, InstrumentId(k), StrategyId(3), Side::Buy, OrderType::Limit, 10_000, 1);
        fx.code(&it)
    };
    let got: Vec<C> = (0..6).map(&mut fast).collect();
    assert_eq!(got[..5], [C::Accepted; 5]);
    assert_eq!(got[5], C::OpenPositions);
    // A closed position frees its slot: cancel-ack one of strategy 0's orders.
    let mut fx = Fx::with_n(cfg, 8);
    let orders: Vec<_> = (0..3).map(|k| fx.limit(k, Side::Buy, 10_000, 1)).collect();
    for o in &orders {
        assert_eq!(fx.code(o), C::Accepted);
    }
    let fourth = fx.limit(3, Side::Buy, 10_000, 1);
    assert_eq!(fx.code(&fourth), C::OpenPositions);
    assert!(fx.eng.on_order_closed(orders[0].client_id));
    let fourth = fx.limit(3, Side::Buy, 10_000, 1);
    assert_eq!(fx.code(&fourth), C::Accepted);
}

#[test]
fn order_rate_bucket() {
    // Burst 20: the 19th and 20th accepted, the 21st rejected; 0.5 s later one more.
    let cfg = RiskConfig { rate_burst: 20, rate_per_sec: 2.0, ..loose() };
    let mut fx = Fx::new(cfg);
    for n in 1..=21 {
        let it = fx.limit(0, Side::Buy, 10_000, n);
        let want = if n <= 20 { C::Accepted } else { C::RateLimited };
        assert_eq!(fx.code(&it), want, "order #{n}");
    }
    fx.ctx.now_ns += SEC / 2 - 1;
    let it = fx.limit(0, Side::Buy, 10_000, 100);
    assert_eq!(fx.code(&it), C::RateLimited);
    fx.ctx.now_ns += 1;
    assert_eq!(fx.code(&it), C::Accepted);
    // A modify takes a token too.
    let m = modify(&it, 10_000, 101);
    assert_eq!(fx.code(&m), C::RateLimited);
}

#[test]
fn staleness_threshold() {
    for (age, want) in
        [(2 * SEC - 1, C::Accepted), (2 * SEC, C::Accepted), (2 * SEC + 1, C::StaleBook)]
    {
        let mut fx = Fx::new(loose());
        fx.ctx.now_ns = T0 + age;
        let it = fx.limit(0, Side::Buy, 10_000, 1);
        assert_eq!(fx.code(&it), want, "book age {age}");
    }
}

#[test]
fn correlation_threshold() {
    for (rho, want) in [(0.699_999, C::Accepted), (0.7, C::Accepted), (0.700_001, C::Correlation)] {
        let mut fx = Fx::new(loose());
        fx.eng.set_correlation(InstrumentId(0), InstrumentId(1), rho);
        let a = fx.limit(0, Side::Buy, 10_000, 1);
        assert_eq!(fx.code(&a), C::Accepted);
        let b = fx.limit(1, Side::Buy, 10_000, 1);
        assert_eq!(fx.code(&b), want, "rho {rho}");
        // The opposite side is never blocked.
        let c = fx.limit(1, Side::Sell, 10_000, 1);
        assert_eq!(fx.code(&c), C::Accepted);
    }
    // NaN fails closed (fully correlated).
    let mut fx = Fx::new(loose());
    fx.eng.set_correlation(InstrumentId(0), InstrumentId(2), f64::NAN);
    let a = fx.limit(0, Side::Sell, 10_000, 1);
    assert_eq!(fx.code(&a), C::Accepted);
    let b = fx.limit(2, Side::Sell, 10_000, 1);
    assert_eq!(fx.code(&b), C::Correlation);
}

#[test]
fn duplicate_window() {
    for (dt, want) in
        [(SEC - 1, C::DuplicateIntent), (SEC, C::DuplicateIntent), (SEC + 1, C::Accepted)]
    {
        let mut fx = Fx::new(loose());
        let a = fx.limit(0, Side::Buy, 10_000, 7);
        assert_eq!(fx.code(&a), C::Accepted);
        fx.ctx.now_ns += dt;
        fx.ctx.book_ts_ns = fx.ctx.now_ns;
        let b = fx.limit(0, Side::Buy, 10_000, 7);
        assert_eq!(fx.code(&b), want, "after {dt} ns");
    }
}
