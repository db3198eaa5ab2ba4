//! R3 fail closed, R4 burst, R5 duplicates, R6 kill/halt/re-arm, FTMO floors across Prague
//! midnight and DST.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use crpbot_core::{
    BookState, InstrumentId, IntentAction, OrderIntent, OrderType, Px, Qty, Side, StrategyId,
};
use crpbot_risk::{
    DailyAnchor, DailyBase, FLATTEN_ID_BASE, HaltCause, RearmError, RiskConfig, RiskConfigError,
    RiskEngine, VerdictCode as C,
};

#[test]
fn fail_closed_each_with_its_own_code() {
    let mut fx = Fx::new(loose());
    let base = fx.limit(0, Side::Buy, 10_000, 1);
    let cases: Vec<(OrderIntent, C)> = vec![
        (OrderIntent { ts_ns: 0, ..base }, C::InvalidTimestamp),
        (OrderIntent { ts_ns: -5, ..base }, C::InvalidTimestamp),
        (OrderIntent { qty: Qty(0), ..base }, C::ZeroQty),
        (OrderIntent { qty: Qty(-1), ..base }, C::NegativeQty),
        (OrderIntent { px: Px(0), ..base }, C::ZeroPrice),
        (OrderIntent { px: Px(-1), ..base }, C::NegativePrice),
        (OrderIntent { stop_px: Px(-1), ..base }, C::NegativeStop),
        (OrderIntent { take_profit_px: Px(-1), ..base }, C::NegativeStop),
        (OrderIntent { instrument: InstrumentId(9), ..base }, C::UnknownInstrument),
        (OrderIntent { strategy: StrategyId(99), ..base }, C::UnknownStrategy),
        (OrderIntent { px: Px(i64::MAX), ..base }, C::PriceCollar),
    ];
    for (it, want) in cases {
        assert_eq!(fx.code(&it), want, "{it:?}");
    }
    type Edit = fn(&mut crpbot_risk::MarketCtx);
    let ctxs: [(Edit, C); 10] = [
        (|c: &mut crpbot_risk::MarketCtx| c.bid = Px(0), C::NoMid),
        (|c: &mut crpbot_risk::MarketCtx| c.ask = Px(0), C::NoMid),
        (|c: &mut crpbot_risk::MarketCtx| c.ask = Px(-3), C::NoMid),
        (|c: &mut crpbot_risk::MarketCtx| c.bid = Px(10_001), C::CrossedBook),
        (|c: &mut crpbot_risk::MarketCtx| c.bid = Px(10_002), C::CrossedBook),
        (|c: &mut crpbot_risk::MarketCtx| c.state = BookState::Stale, C::BookNotSynced),
        (|c: &mut crpbot_risk::MarketCtx| c.state = BookState::Syncing, C::BookNotSynced),
        (|c: &mut crpbot_risk::MarketCtx| c.book_ts_ns = 0, C::StaleBook),
        (|c: &mut crpbot_risk::MarketCtx| c.now_ns += 10 * SEC, C::StaleBook),
        (|c: &mut crpbot_risk::MarketCtx| c.now_ns = 0, C::InvalidTimestamp),
    ];
    for (f, want) in ctxs {
        let mut fx = Fx::new(loose());
        f(&mut fx.ctx);
        let it = fx.limit(0, Side::Buy, 10_000, 1);
        assert_eq!(fx.code(&it), want);
        assert_eq!(fx.eng.counters().count(C::Accepted), 0);
    }
    // Codes are distinct across all of the above.
    let all = [
        C::InvalidTimestamp,
        C::ZeroQty,
        C::NegativeQty,
        C::ZeroPrice,
        C::NegativePrice,
        C::NegativeStop,
        C::UnknownInstrument,
        C::UnknownStrategy,
        C::NoMid,
        C::CrossedBook,
        C::BookNotSynced,
        C::StaleBook,
        C::NonPositiveEquity,
    ];
    let set: std::collections::HashSet<u16> = all.iter().map(|c| *c as u16).collect();
    assert_eq!(set.len(), all.len());
}

#[test]
fn non_positive_equity_fails_closed() {
    // With floors at zero, drive equity to exactly zero: 2000 lots bought at 100.00, bid 50.00.
    let cfg = RiskConfig { daily_loss_frac: 1.0, total_loss_frac: 1.0, ..loose() };
    let mut fx = Fx::new(cfg);
    let a = fx.limit(0, Side::Buy, 10_000, 2000);
    assert_eq!(fx.code(&a), C::Accepted);
    fx.fill(&a, 10_000, 2000, true);
    fx.ctx.bid = Px(5_000);
    fx.ctx.ask = Px(5_002);
    let b = fx.limit(0, Side::Buy, 5_001, 1);
    assert_eq!(fx.code(&b), C::NonPositiveEquity);
    assert_eq!(fx.eng.snapshot().equity.0, 0);
}

#[test]
fn bad_config_is_refused() {
    let insts = instruments(1);
    let bad = [
        RiskConfig { initial_equity: f64::NAN, ..loose() },
        RiskConfig { initial_equity: 0.0, ..loose() },
        RiskConfig { initial_equity: -1.0, ..loose() },
        RiskConfig { trade_risk_frac: f64::NAN, ..loose() },
        RiskConfig { daily_loss_frac: 0.0, ..loose() },
        RiskConfig { total_loss_frac: f64::INFINITY, ..loose() },
        RiskConfig { rate_per_sec: f64::NAN, ..loose() },
        RiskConfig { rate_burst: 0, ..loose() },
        RiskConfig { stale_ns: 0, ..loose() },
        RiskConfig { max_order_qty: vec![-1], ..loose() },
        RiskConfig { fast_strategies: vec![40], ..loose() },
        RiskConfig { corr_threshold: f64::NAN, ..loose() },
    ];
    for cfg in bad {
        assert!(RiskEngine::new(&cfg, &insts, T0).is_err(), "{cfg:?}");
    }
    assert_eq!(RiskEngine::new(&loose(), &[], T0).err(), Some(RiskConfigError::NoInstruments));
}

#[test]
fn burst_of_10k_orders_stays_within_budget() {
    // Default budget: burst 20, 2 per second → at most 40 in any 10 s window (80 % of 50/10 s).
    let cfg = RiskConfig { rate_burst: 20, rate_per_sec: 2.0, ..loose() };
    let mut fx = Fx::new(cfg);
    let mut accepted_ts = Vec::new();
    for n in 0..10_000i64 {
        fx.ctx.now_ns = T0 + n * (SEC / 10_000); // 10,000 orders within 1 s
        fx.ctx.book_ts_ns = fx.ctx.now_ns;
        let it = fx.limit(0, Side::Buy, 5_000 + n, 1);
        if fx.check(&it).is_accepted() {
            accepted_ts.push(fx.ctx.now_ns);
        }
    }
    assert!(accepted_ts.len() <= 22, "{} accepted in 1 s", accepted_ts.len());
    assert!(accepted_ts.len() >= 20);
    // Keep hammering for 30 s: every 10 s window holds at most 40.
    for n in 0..30_000i64 {
        fx.ctx.now_ns = T0 + SEC + n * (SEC / 1000);
        fx.ctx.book_ts_ns = fx.ctx.now_ns;
        let it = fx.limit(0, Side::Buy, 15_000 + n % 5_000, 1);
        if fx.check(&it).is_accepted() {
            accepted_ts.push(fx.ctx.now_ns);
        }
    }
    for (k, &t) in accepted_ts.iter().enumerate() {
        let in_window = accepted_ts[k..].iter().take_while(|&&u| u < t + 10 * SEC).count();
        assert!(in_window <= 40, "{in_window} orders in 10 s from {t}");
    }
    assert_eq!(fx.eng.counters().count(C::RateLimited) as usize, 40_000 - accepted_ts.len());
}

#[test]
fn duplicates() {
    let mut fx = Fx::new(loose());
    let a = fx.limit(0, Side::Buy, 10_000, 5);
    assert_eq!(fx.code(&a), C::Accepted);
    // Same client id: rejected, whatever the content, while working and after it is done.
    let same_id = OrderIntent { qty: Qty(6), ..a };
    assert_eq!(fx.code(&same_id), C::DuplicateClientId);
    fx.fill(&a, 10_000, 5, true);
    assert!(!fx.eng.is_working(a.client_id));
    assert_eq!(fx.code(&same_id), C::DuplicateClientId);
    // Same content, new id, within the window: rejected; another strategy is not a duplicate.
    let b = fx.limit(0, Side::Buy, 10_000, 5);
    assert_eq!(fx.code(&b), C::DuplicateIntent);
    let c = OrderIntent { strategy: StrategyId(1), ..fx.limit(0, Side::Buy, 10_000, 5) };
    assert_eq!(fx.code(&c), C::Accepted);
    // Rejected ids are not burned: a rejected intent may be retried with the same id.
    let d = OrderIntent { qty: Qty(0), ..fx.limit(1, Side::Buy, 10_000, 1) };
    assert_eq!(fx.code(&d), C::ZeroQty);
    assert_eq!(fx.code(&OrderIntent { qty: Qty(1), ..d }), C::Accepted);
    // Ids are remembered for dup_id_memory orders.
    let cfg = RiskConfig { dup_id_memory: 4, ..loose() };
    let mut fx = Fx::new(cfg);
    let first = fx.limit(0, Side::Buy, 10_000, 1);
    assert_eq!(fx.code(&first), C::Accepted);
    assert!(fx.eng.on_order_closed(first.client_id));
    for q in 2..=4 {
        let it = fx.limit(0, Side::Buy, 10_000, q);
        assert_eq!(fx.code(&it), C::Accepted);
    }
    assert_eq!(fx.code(&OrderIntent { qty: Qty(50), ..first }), C::DuplicateClientId);
    let it = fx.limit(0, Side::Buy, 10_000, 5);
    assert_eq!(fx.code(&it), C::Accepted); // evicts `first`
    assert_eq!(fx.code(&OrderIntent { qty: Qty(51), ..first }), C::Accepted);
}

fn reduce_only(fx: &mut Fx, side: Side, qty: i64) -> OrderIntent {
    let id = fx.id();
    OrderIntent {
        reduce_only: true,
        ..intent(id, InstrumentId(0), StrategyId(0), side, OrderType::Market, 0, qty)
    }
}

#[test]
fn kill_rejects_next_order_allows_exits_and_needs_the_operator() {
    let mut fx = Fx::new(loose());
    let a = fx.limit(0, Side::Buy, 10_000, 10);
    assert_eq!(fx.code(&a), C::Accepted);
    fx.fill(&a, 10_000, 10, true);
    let w = fx.limit(1, Side::Buy, 10_000, 3);
    assert_eq!(fx.code(&w), C::Accepted);

    // From the control thread's switch: the very next order is rejected.
    let switch = fx.eng.kill_switch();
    switch.engage();
    let b = fx.limit(2, Side::Buy, 10_000, 1);
    assert_eq!(fx.code(&b), C::HaltedKill);
    assert_eq!(fx.eng.halted(), Some(HaltCause::Kill));
    // Modify of a working opening order is rejected; its cancel passes.
    assert_eq!(fx.code(&modify(&w, 10_000, 4)), C::HaltedKill);
    assert_eq!(fx.code(&cancel(&w)), C::Accepted);
    // Reduce-only exits pass; one that would flip the position does not.
    let r = reduce_only(&mut fx, Side::Sell, 4);
    assert_eq!(fx.code(&r), C::Accepted);
    let r2 = reduce_only(&mut fx, Side::Sell, 7);
    assert_eq!(fx.code(&r2), C::NotReducing);
    let r3 = reduce_only(&mut fx, Side::Buy, 1);
    assert_eq!(fx.code(&r3), C::NotReducing);

    // Halt actions: the working order is already cancel-pending; the reduce-only sell of 4 is
    // cancelled; the position of 10 is flattened by a reduce-only market sell.
    let mut out = Vec::with_capacity(16);
    let n = fx.eng.take_halt_actions(T0, &mut out);
    assert_eq!(n, 2);
    assert_eq!((out[0].action, out[0].client_id), (IntentAction::Cancel, r.client_id));
    let flat = out[1];
    assert!(flat.reduce_only && flat.client_id.0 >= FLATTEN_ID_BASE);
    assert_eq!((flat.side, flat.qty, flat.order_type), (Side::Sell, Qty(10), OrderType::Market));
    // Idempotent: nothing new until something changes.
    assert_eq!(fx.eng.take_halt_actions(T0, &mut out), 0);

    // Re-arm: another engine's token is refused; the switch must be cleared first.
    let (_other, other_token) = RiskEngine::new(&loose(), &instruments(3), T0).unwrap();
    assert_eq!(fx.eng.rearm(&other_token, T0), Err(RearmError::WrongToken));
    assert_eq!(fx.eng.rearm(&fx.token, T0), Err(RearmError::KillEngaged));
    switch.clear();
    let c = fx.limit(2, Side::Buy, 10_000, 1);
    assert_eq!(fx.code(&c), C::HaltedKill, "clearing the switch alone does not re-arm");
    fx.eng.rearm(&fx.token, T0).unwrap();
    assert_eq!(fx.code(&c), C::Accepted);
    assert_eq!(fx.eng.counters().rearms, 1);

    // The kill() API does the same.
    fx.eng.kill();
    let d = fx.limit(2, Side::Buy, 10_000, 2);
    assert_eq!(fx.code(&d), C::HaltedKill);
    // Feed halts carry their own code.
    let mut fx = Fx::new(loose());
    fx.eng.halt(HaltCause::Feed);
    let e = fx.limit(0, Side::Buy, 10_000, 1);
    assert_eq!(fx.code(&e), C::HaltedFeed);
}

/// Buys 100 lots at 100.00 (filled): equity = 100,000 + 100 × (bid − 100.00).
fn long_100(cfg: RiskConfig) -> Fx {
    let mut fx = Fx::new(cfg);
    let a = fx.limit(0, Side::Buy, 10_000, 100);
    assert_eq!(fx.code(&a), C::Accepted);
    fx.fill(&a, 10_000, 100, true);
    fx
}

#[test]
fn daily_floor_on_equity_with_open_pnl() {
    // Floor 95,500: bid 55.01 → 95,501; 55.00 → 95,500 (not below: no breach); 54.99 → breach.
    for (bid, halted) in [(5_501, None), (5_500, None), (5_499, Some(HaltCause::DailyLoss))] {
        let mut fx = long_100(loose());
        assert_eq!(fx.eng.on_mark(InstrumentId(0), Px(bid), Px(bid + 2), T0), halted);
        assert_eq!(fx.eng.halted(), halted, "bid {bid}");
        assert_eq!(fx.eng.snapshot().equity.to_f64(), 100_000.0 + (bid - 10_000) as f64);
    }
    // The breach is also seen through a check's own market context.
    let mut fx = long_100(loose());
    fx.ctx.bid = Px(5_499);
    fx.ctx.ask = Px(5_501);
    let it = fx.limit(0, Side::Buy, 5_500, 1);
    assert_eq!(fx.code(&it), C::HaltedDailyLoss);
    // Exits still pass; halt actions flatten; re-arm is refused while still below the floor.
    let id = fx.id();
    let exit = OrderIntent {
        reduce_only: true,
        ..intent(id, InstrumentId(0), StrategyId(0), Side::Sell, OrderType::Market, 0, 100)
    };
    assert_eq!(fx.code(&exit), C::Accepted);
    assert_eq!(fx.eng.rearm(&fx.token, T0), Err(RearmError::StillBreached));
    let mut out = Vec::with_capacity(8);
    fx.eng.take_halt_actions(T0, &mut out);
    assert_eq!(out.len(), 2, "the working exit is cancelled and replaced by a flatten");
    assert_eq!((out[0].action, out[0].client_id), (IntentAction::Cancel, exit.client_id));
    assert_eq!((out[1].side, out[1].qty, out[1].reduce_only), (Side::Sell, Qty(100), true));
}

#[test]
fn total_floor() {
    // Daily limit out of the way: total floor 91,000 = bid 10.00.
    let cfg = RiskConfig { daily_loss_frac: 0.5, ..loose() };
    for (bid, halted) in [(1_001, None), (1_000, None), (999, Some(HaltCause::TotalLoss))] {
        let mut fx = long_100(cfg.clone());
        fx.eng.on_mark(InstrumentId(0), Px(bid), Px(bid + 2), T0);
        assert_eq!(fx.eng.halted(), halted, "bid {bid}");
    }
    let fx = long_100(cfg);
    assert_eq!(fx.eng.snapshot().total_floor.to_f64(), 91_000.0);
}

#[test]
fn daily_floor_recomputed_at_prague_midnight_across_dst() {
    // T0 = Sat 2024-03-30 12:00 UTC. Next Prague midnight: 23:00 UTC (CET); the one after
    // is Sun 2024-03-31 22:00 UTC (CEST, the clocks went forward at 01:00 UTC).
    let h = 3600 * SEC;
    let mut fx = long_100(loose());
    fx.eng.on_mark(InstrumentId(0), Px(9_700), Px(9_702), T0); // equity 99,700
    assert_eq!(fx.eng.snapshot().daily_floor.to_f64(), 95_500.0);
    assert_eq!(fx.eng.snapshot().next_day_ns, T0 + 11 * h);
    fx.eng.on_clock(T0 + 11 * h - 1);
    assert_eq!(fx.eng.snapshot().daily_floor.to_f64(), 95_500.0);
    fx.eng.on_clock(T0 + 11 * h);
    // 99,700 − 4.5 % × 99,700 = 95,213.5.
    assert_eq!(fx.eng.snapshot().daily_floor.to_f64(), 95_213.5);
    assert_eq!(fx.eng.snapshot().next_day_ns, T0 + 34 * h);
    fx.eng.on_mark(InstrumentId(0), Px(9_800), Px(9_802), T0 + 34 * h - 1); // equity 99,800
    assert_eq!(fx.eng.snapshot().daily_floor.to_f64(), 95_213.5);
    fx.eng.on_clock(T0 + 34 * h);
    assert_eq!(fx.eng.snapshot().daily_floor.to_f64(), 99_800.0 * 0.955);
    assert_eq!(fx.eng.snapshot().next_day_ns, T0 + 58 * h);
}

#[test]
fn ftmo_balance_anchor_breaches_right_after_midnight() {
    // FTMO's literal rule: floor = balance at midnight − 5 % × initial. A floating loss carried
    // over midnight is not in the anchor.
    let cfg = RiskConfig {
        daily_loss_frac: 0.05,
        daily_anchor: DailyAnchor::Balance,
        daily_base: DailyBase::Initial,
        ..loose()
    };
    let mut fx = long_100(cfg);
    // Realize −2,000: sell 50 at 60.00.
    fx.ctx.bid = Px(6_000);
    fx.ctx.ask = Px(6_002);
    let id = fx.id();
    let s = OrderIntent {
        reduce_only: true,
        ..intent(id, InstrumentId(0), StrategyId(0), Side::Sell, OrderType::Market, 0, 50)
    };
    assert_eq!(fx.code(&s), C::Accepted);
    fx.fill(&s, 6_000, 50, true);
    // Balance 98,000; open 50 lots at bid 60.00: −2,000 → equity 96,000 > floor 95,000.
    fx.eng.on_mark(InstrumentId(0), Px(6_000), Px(6_002), T0);
    assert_eq!(fx.eng.snapshot().balance.to_f64(), 98_000.0);
    assert_eq!(fx.eng.halted(), None);
    // At midnight the floor becomes 98,000 − 5,000 = 93,000; equity 96,000: fine.
    fx.eng.on_clock(T0 + 11 * 3600 * SEC);
    assert_eq!(fx.eng.snapshot().daily_floor.to_f64(), 93_000.0);
    // A further drop to bid 0.01 → equity 98,000 − 50 × 99.99 = 93,000.5 (still fine)…
    fx.eng.on_mark(InstrumentId(0), Px(1), Px(3), T0 + 11 * 3600 * SEC + 1);
    assert_eq!(fx.eng.halted(), None);
    assert_eq!(fx.eng.snapshot().equity.to_f64(), 93_000.5);
}
