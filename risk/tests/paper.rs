//! Paper venue: hand-computed fills, queue position, latency, partial fills, exact PnL.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use crpbot_book::Book;
use crpbot_core::{
    ClientOrderId, Fill, InstrumentId, Liquidity, Money, OrderIntent, OrderType, Px, Qty, Side,
    StrategyId, Trade,
};
use crpbot_risk::{PaperConfig, PaperVenue};

const I0: InstrumentId = InstrumentId(0);

fn venue(cfg: PaperConfig) -> PaperVenue {
    PaperVenue::new(cfg, &instruments(2))
}

fn book(bids: &[(i64, i64)], asks: &[(i64, i64)]) -> Book {
    let mut b = Book::default();
    for &(p, q) in bids {
        b.set(Side::Buy, Px(p), Qty(q)).unwrap();
    }
    for &(p, q) in asks {
        b.set(Side::Sell, Px(p), Qty(q)).unwrap();
    }
    b
}

fn order(id: u64, side: Side, ty: OrderType, px: i64, qty: i64, ts: i64) -> OrderIntent {
    OrderIntent { ts_ns: ts, ..intent(ClientOrderId(id), I0, StrategyId(0), side, ty, px, qty) }
}

fn trade(px: i64, qty: i64, aggressor: Side, ts: i64) -> Trade {
    Trade {
        ts_exch_ns: ts,
        ts_local_ns: ts,
        trade_id: 1,
        px: Px(px),
        qty: Qty(qty),
        instrument: I0,
        aggressor,
        _pad: [0; 5],
    }
}

/// 1 quote unit = 10⁸.
const U: i64 = 100_000_000;

#[test]
fn market_order_walks_three_levels_with_fees_and_slippage() {
    let cfg = PaperConfig { slippage_bps: 10, ..PaperConfig::default() };
    let mut v = venue(cfg);
    let b = book(&[(9_990, 50)], &[(10_000, 2), (10_050, 3), (10_100, 5)]);
    let mut fills = Vec::with_capacity(16);
    v.submit(&order(1, Side::Buy, OrderType::Market, 0, 8, T0)).unwrap();
    assert_eq!(v.on_book(&b, I0, T0, &mut fills), 3);
    // Level prices +10 bps, rounded up to the tick: 100.00 → 100.10, 100.50 → 100.6005 →
    // 100.61, 101.00 → 101.101 → 101.11. Fee 0.1 % of each notional.
    let got: Vec<(i64, i64, i64, bool)> =
        fills.iter().map(|f: &Fill| (f.px.0, f.qty.0, f.fee.0, f.last)).collect();
    assert_eq!(
        got,
        [
            (10_010, 2, 20_020_000, false), // 200.20 → fee 0.2002
            (10_061, 3, 30_183_000, false), // 301.83 → fee 0.30183
            (10_111, 3, 30_333_000, true),  // 303.33 → fee 0.30333
        ]
    );
    assert!(fills.iter().all(|f| f.liquidity == Liquidity::Taker));
    let p = v.position(StrategyId(0), I0);
    assert_eq!((p.qty, p.cost), (8, Money(80_536_000_000)));
    assert_eq!(v.fees_paid(), Money(80_536_000));
    assert_eq!(v.balance(), Money(100_000 * U - 80_536_000));
    // Marked at the bid 99.90: 799.20 − 805.36 = −6.16.
    assert_eq!(v.unrealized(), Money(-616_000_000));
    assert_eq!(v.equity(), Money(100_000 * U - 80_536_000 - 616_000_000));
    assert!(!v.is_working(ClientOrderId(1)));
}

#[test]
fn round_trip_pnl_is_exact() {
    let cfg = PaperConfig { taker_fee_ppm: 1000, ..PaperConfig::default() };
    let mut v = venue(cfg);
    let mut fills = Vec::with_capacity(16);
    let b = book(&[(9_990, 50)], &[(10_000, 2), (10_050, 3)]);
    v.submit(&order(1, Side::Buy, OrderType::Market, 0, 5, T0)).unwrap();
    v.on_book(&b, I0, T0, &mut fills);
    // Cost 200.00 + 301.50 = 501.50; entry fees 0.2 + 0.3015.
    let b2 = book(&[(10_200, 1), (10_100, 10)], &[(10_300, 5)]);
    v.submit(&order(2, Side::Sell, OrderType::Market, 0, 5, T0 + SEC)).unwrap();
    v.on_book(&b2, I0, T0 + SEC, &mut fills);
    // Proceeds 102.00 + 404.00 = 506.00: gross +4.50; exit fees 0.102 + 0.404.
    let fees = 20_000_000 + 30_150_000 + 10_200_000 + 40_400_000;
    let t = v.closed_trades();
    assert_eq!(t.len(), 1);
    assert_eq!((t[0].gross, t[0].fees, t[0].net), (450_000_000, fees, 450_000_000 - fees));
    assert_eq!((t[0].direction, t[0].open_ts_ns, t[0].close_ts_ns), (1, T0, T0 + SEC));
    assert_eq!(v.balance(), Money(100_000 * U + 450_000_000 - fees));
    assert_eq!(v.equity(), v.balance());
    assert_eq!(v.position(StrategyId(0), I0).qty, 0);
}

#[test]
fn resting_order_fills_only_after_the_queue_ahead_trades() {
    let mut v = venue(PaperConfig::default());
    let mut fills = Vec::with_capacity(16);
    let b = book(&[(9_900, 10)], &[(10_000, 5)]);
    v.submit(&order(7, Side::Buy, OrderType::Limit, 9_900, 3, T0)).unwrap();
    assert_eq!(v.on_book(&b, I0, T0, &mut fills), 0);
    assert_eq!(v.queue_ahead(ClientOrderId(7)), Some(10));
    // 6 traded at our price: 4 ahead, nothing for us.
    assert_eq!(v.on_trade(&trade(9_900, 6, Side::Sell, T0 + 1), &mut fills), 0);
    assert_eq!(v.queue_ahead(ClientOrderId(7)), Some(4));
    // The book shows the level at 4 after the trade: no double count.
    v.on_book(&book(&[(9_900, 4)], &[(10_000, 5)]), I0, T0 + 2, &mut fills);
    assert_eq!(v.queue_ahead(ClientOrderId(7)), Some(4));
    // A trade above our bid (a sell hitting a better bid) is not ours.
    assert_eq!(v.on_trade(&trade(9_901, 50, Side::Sell, T0 + 3), &mut fills), 0);
    // The level shrinks to 2 (worst case: the cancels were ahead of us only as far as needed).
    v.on_book(&book(&[(9_900, 2)], &[(10_000, 5)]), I0, T0 + 4, &mut fills);
    assert_eq!(v.queue_ahead(ClientOrderId(7)), Some(2));
    // Next trade of 3: 2 clear the queue, 1 fills us as maker (fee 0.1 % of 99.00).
    assert_eq!(v.on_trade(&trade(9_900, 3, Side::Sell, T0 + 5), &mut fills), 1);
    assert_eq!(
        (fills[0].qty, fills[0].px, fills[0].liquidity),
        (Qty(1), Px(9_900), Liquidity::Maker)
    );
    assert_eq!((fills[0].fee, fills[0].last), (Money(9_900_000), false));
    assert_eq!(v.remaining(ClientOrderId(7)), Some(2));
    // Then a big trade fills the rest.
    assert_eq!(v.on_trade(&trade(9_900, 10, Side::Sell, T0 + 6), &mut fills), 1);
    assert_eq!((fills[1].qty, fills[1].last), (Qty(2), true));
    assert!(!v.is_working(ClientOrderId(7)));
    assert_eq!(v.position(StrategyId(0), I0).qty, 3);
}

#[test]
fn resting_order_fills_when_traded_through_or_crossed() {
    let mut v = venue(PaperConfig::default());
    let mut fills = Vec::with_capacity(16);
    let b = book(&[(9_900, 10)], &[(10_000, 5)]);
    v.submit(&order(1, Side::Buy, OrderType::Limit, 9_900, 3, T0)).unwrap();
    v.submit(&order(2, Side::Sell, OrderType::Limit, 10_000, 2, T0)).unwrap();
    v.on_book(&b, I0, T0, &mut fills);
    // A sell trade below our bid: traded through, filled completely.
    assert_eq!(v.on_trade(&trade(9_899, 1, Side::Sell, T0 + 1), &mut fills), 1);
    assert_eq!(fills[0].qty, Qty(3));
    // The bid side crossing our ask fills it at our price.
    v.on_book(&book(&[(10_001, 1)], &[(10_002, 5)]), I0, T0 + 2, &mut fills);
    assert_eq!((fills[1].px, fills[1].qty, fills[1].side), (Px(10_000), Qty(2), Side::Sell));
}

#[test]
fn latency_delays_going_live_against_the_later_book() {
    let cfg = PaperConfig { latency_ns: 5_000_000, taker_fee_ppm: 0, ..PaperConfig::default() };
    let mut v = venue(cfg);
    let mut fills = Vec::with_capacity(16);
    v.submit(&order(1, Side::Buy, OrderType::Market, 0, 1, T0)).unwrap();
    let early = book(&[(9_990, 5)], &[(10_000, 5)]);
    assert_eq!(v.on_book(&early, I0, T0 + 4_999_999, &mut fills), 0);
    assert!(v.is_working(ClientOrderId(1)));
    let later = book(&[(10_040, 5)], &[(10_050, 5)]);
    assert_eq!(v.on_book(&later, I0, T0 + 5_000_000, &mut fills), 1);
    assert_eq!((fills[0].px, fills[0].ts_ns), (Px(10_050), T0 + 5_000_000));
    // Books of other instruments do not activate it.
    v.submit(&order(2, Side::Buy, OrderType::Market, 0, 1, T0)).unwrap();
    assert_eq!(v.on_book(&later, InstrumentId(1), T0 + SEC, &mut fills), 0);
    assert!(v.is_working(ClientOrderId(2)));
}

#[test]
fn partial_fills_market_ioc_and_limit_rests() {
    let mut v = venue(PaperConfig { taker_fee_ppm: 0, ..PaperConfig::default() });
    let mut fills = Vec::with_capacity(16);
    let b = book(&[(9_990, 7)], &[(10_000, 2), (10_020, 3), (10_050, 9)]);
    // Market buy of 20 with a cap at 100.20: takes 2 + 3, the rest is cancelled (IOC).
    v.submit(&order(1, Side::Buy, OrderType::Market, 10_020, 20, T0)).unwrap();
    assert_eq!(v.on_book(&b, I0, T0, &mut fills), 2);
    assert!(!v.is_working(ClientOrderId(1)));
    let mut closed = Vec::with_capacity(4);
    assert_eq!(v.drain_closed(&mut closed), 1);
    assert_eq!(closed, [ClientOrderId(1)]);
    // Limit buy of 6 at 100.20: takes 5 (same book: no impact model), rests 1 at 100.20 with
    // nothing ahead on the bid at that price.
    v.submit(&order(2, Side::Buy, OrderType::Limit, 10_020, 6, T0)).unwrap();
    assert_eq!(v.on_book(&b, I0, T0 + 1, &mut fills), 2);
    assert_eq!(v.remaining(ClientOrderId(2)), Some(1));
    assert_eq!(v.queue_ahead(ClientOrderId(2)), Some(0));
    assert_eq!(v.position(StrategyId(0), I0).qty, 10);
    assert_eq!(fills.iter().map(|f| f.qty.0).sum::<i64>(), 10);
}

#[test]
fn modify_and_cancel() {
    let mut v = venue(PaperConfig::default());
    let mut fills = Vec::with_capacity(16);
    let b = book(&[(9_900, 10)], &[(10_000, 5)]);
    let o = order(1, Side::Buy, OrderType::Limit, 9_900, 3, T0);
    v.submit(&o).unwrap();
    v.on_book(&b, I0, T0, &mut fills);
    v.on_trade(&trade(9_900, 4, Side::Sell, T0 + 1), &mut fills);
    assert_eq!(v.queue_ahead(ClientOrderId(1)), Some(6));
    // Size down keeps the place; a price change re-queues at the back.
    v.submit(&modify(&o, 9_900, 2)).unwrap();
    assert_eq!(v.queue_ahead(ClientOrderId(1)), Some(6));
    v.submit(&OrderIntent { ts_ns: T0 + 2, ..modify(&o, 9_890, 2) }).unwrap();
    v.on_book(&book(&[(9_900, 6), (9_890, 4)], &[(10_000, 5)]), I0, T0 + 2, &mut fills);
    assert_eq!(v.queue_ahead(ClientOrderId(1)), Some(4));
    v.submit(&cancel(&o)).unwrap();
    assert!(!v.is_working(ClientOrderId(1)));
    assert!(v.submit(&cancel(&o)).is_err());
    assert!(
        v.submit(&OrderIntent { qty: Qty(0), ..order(2, Side::Buy, OrderType::Limit, 1, 1, T0) })
            .is_err()
    );
}

#[test]
fn equity_curve_is_sampled() {
    let mut v = venue(PaperConfig { equity_sample_ns: SEC, ..PaperConfig::default() });
    let mut fills = Vec::new();
    let b = book(&[(9_900, 10)], &[(10_000, 5)]);
    for k in 0..25 {
        v.on_book(&b, I0, T0 + k * SEC / 10, &mut fills);
    }
    let ts: Vec<i64> = v.equity_curve().iter().map(|s| s.0).collect();
    assert_eq!(ts, [T0, T0 + SEC, T0 + 2 * SEC]);
}
