//! Fast-lane signals against hand-computed values on small books and trade lists.
#![allow(clippy::unwrap_used)]

use crpbot_book::{Book, BookConfig, Level};
use crpbot_core::{InstrumentId, Px, Qty, Side, Trade};
use crpbot_strategies::fast::{
    InstrumentSignals, OfiTracker, SignalConfig, TradeFlow, TradeFlowParams, VolumeProfile,
    ofi_between, price_impact,
};

const S: i64 = 1_000_000_000;

fn book(bids: &[(i64, i64)], asks: &[(i64, i64)]) -> Book {
    let mut b = Book::new(BookConfig { window_ticks: 256, far_capacity: 16 });
    set(&mut b, bids, asks);
    b
}

fn set(b: &mut Book, bids: &[(i64, i64)], asks: &[(i64, i64)]) {
    b.clear();
    for &(p, q) in bids {
        b.set(Side::Buy, Px(p), Qty(q)).unwrap();
    }
    for &(p, q) in asks {
        b.set(Side::Sell, Px(p), Qty(q)).unwrap();
    }
}

fn trade(ts: i64, px: i64, qty: i64, aggressor: Side) -> Trade {
    Trade {
        ts_exch_ns: ts,
        ts_local_ns: ts,
        trade_id: 0,
        px: Px(px),
        qty: Qty(qty),
        instrument: InstrumentId(0),
        aggressor,
        _pad: [0; 5],
    }
}

/// Four successive books, two levels a side; e_n per level worked out by hand from
/// e = 1{Pb_n ≥ Pb_n−1}·qb_n − 1{Pb_n ≤ Pb_n−1}·qb_n−1 − 1{Pa_n ≤ Pa_n−1}·qa_n + 1{Pa_n ≥ Pa_n−1}·qa_n−1.
/// (bids, asks) as (price, size) pairs.
type Sides = (&'static [(i64, i64)], &'static [(i64, i64)]);

const BOOKS: [Sides; 4] = [
    // B0
    (&[(100, 5), (99, 3)], &[(101, 4), (102, 6)]),
    // B1: bid 100 grows 5→7 (+2), ask 101 shrinks 4→2 (+2): e1 = 4, e2 = 0.
    (&[(100, 7), (99, 3)], &[(101, 2), (102, 6)]),
    // B2: ask 101 lifted; asks become 102:6, 103:1. Level 1 ask price rises: +q_{n−1} = +2;
    // level 2 ask rises 102→103: +6. e1 = 2, e2 = 6.
    (&[(100, 7), (99, 3)], &[(102, 6), (103, 1)]),
    // B3: bid 100 gone (bids 99:3, 98:4), new ask 101:5 (asks 101:5, 102:6).
    // Level 1: bid falls 100→99: −7; ask falls 102→101: −5 → e1 = −12.
    // Level 2: bid falls 99→98: −3; ask falls 103→102: −6 → e2 = −9.
    (&[(99, 3), (98, 4)], &[(101, 5), (102, 6)]),
];

#[test]
fn ofi_matches_the_definition_level_by_level() {
    let expected: [(i128, [i128; 2]); 3] = [(4, [4, 0]), (8, [2, 6]), (-21, [-12, -9])];
    let mut b = book(BOOKS[0].0, BOOKS[0].1);
    let mut two = OfiTracker::new(2, 10 * S, S / 10);
    let mut one = OfiTracker::new(1, 10 * S, S / 10);
    assert_eq!(two.update(&b, 0), None);
    assert_eq!(one.update(&b, 0), None);
    for (k, (bids, asks)) in BOOKS[1..].iter().enumerate() {
        set(&mut b, bids, asks);
        let ts = (k as i64 + 1) * S;
        assert_eq!(two.update(&b, ts), Some(expected[k].0), "event {k}");
        assert_eq!(two.per_level(), &expected[k].1, "event {k}");
        assert_eq!(one.update(&b, ts), Some(expected[k].1[0]), "event {k}");
    }
    // Window (10 s): all three events.
    let w = two.window();
    assert_eq!((w.sum, w.abs_sum, w.events), (4 + 8 - 21, 4 + 8 + 21, 3));
    assert_eq!(two.window_norm(), Some(-9.0 / 33.0));
    // 11.5 s later only the last event (at 3 s) remains in a 10 s window of 100 ms buckets.
    set(&mut b, BOOKS[3].0, BOOKS[3].1);
    assert_eq!(two.update(&b, 12_500_000_000), Some(0));
    assert_eq!(two.window().sum, -21);
}

#[test]
fn ofi_missing_levels_count_as_zero_size_at_the_present_price() {
    let l = |p, q| Level::new(Px(p), Qty(q));
    let mut e = [0i128; 2];
    // A second bid level appears (+4) and the second ask level disappears (+6).
    let ofi = ofi_between(
        2,
        &[l(100, 5)],
        &[l(101, 4), l(102, 6)],
        &[l(100, 5), l(99, 4)],
        &[l(101, 4)],
        &mut e,
    );
    assert_eq!((ofi, e), (10, [0, 10]));
    // One-sided and empty books: no OFI, and the next book starts afresh.
    let mut t = OfiTracker::new(2, 10 * S, S);
    let mut b = book(&[(100, 5)], &[(101, 4)]);
    assert_eq!(t.update(&b, 0), None);
    set(&mut b, &[(100, 5)], &[]);
    assert_eq!(t.update(&b, 1), None);
    set(&mut b, &[(100, 9)], &[(101, 4)]);
    assert_eq!(t.update(&b, 2), None);
    set(&mut b, &[(100, 10)], &[(101, 4)]);
    assert_eq!(t.update(&b, 3), Some(1));
}

#[test]
fn book_signals_microprice_spread_imbalance() {
    let mut sig =
        InstrumentSignals::new(&SignalConfig { imbalance_levels: 1, ..Default::default() });
    let b = book(&[(100, 1), (99, 4)], &[(102, 3), (103, 2)]);
    let s = *sig.on_book(&b, S);
    assert_eq!(s.mid, Some(101.0));
    // (100·3 + 102·1) / (1 + 3) = 100.5
    assert_eq!(s.microprice, Some(100.5));
    let spread = s.spread_bps.unwrap();
    assert!((spread - 2.0 / 101.0 * 1e4).abs() < 1e-9, "{spread}");
    // Top 1: (1 − 3) / 4 = −0.5; top 20: (5 − 5) / 10 = 0.
    assert_eq!(s.imbalance, Some(-0.5));
    assert_eq!(s.depth_imbalance, Some(0.0));
    assert_eq!(s.ofi_event, None);
    // One-sided: no book signals.
    let one = book(&[(100, 1)], &[]);
    let s = *sig.on_book(&one, 2 * S);
    assert_eq!(
        (s.mid, s.microprice, s.spread_bps, s.imbalance, s.ofi_event),
        (None, None, None, None, None)
    );
}

#[test]
fn vwap_session_and_rolling_and_deviation() {
    let cfg = SignalConfig { vwap_window_ms: 2_000, vwap_bucket_ms: 1_000, ..Default::default() };
    let mut sig = InstrumentSignals::new(&cfg);
    sig.on_trade(&trade(0, 100, 2, Side::Buy));
    sig.on_trade(&trade(S + S / 2, 110, 1, Side::Sell));
    let s = *sig.on_trade(&trade(2 * S + S / 2, 105, 2, Side::Buy));
    // Session: (200 + 110 + 210) / 5 = 104. Rolling (buckets 1 and 2): (110 + 210) / 3.
    assert_eq!(s.vwap_session, Some(104.0));
    assert!((s.vwap_rolling.unwrap() - 320.0 / 3.0).abs() < 1e-12);
    // Flow: buys 4 of 5 lots.
    assert_eq!(s.buy_share, Some(0.8));
    // Mid 106 against the VWAPs.
    let b = book(&[(105, 1)], &[(107, 1)]);
    let s = *sig.on_book(&b, 2 * S + S / 2);
    assert!((s.vwap_session_dev_bps.unwrap() - 2.0 / 104.0 * 1e4).abs() < 1e-9);
    assert!((s.vwap_dev_bps.unwrap() - (106.0 - 320.0 / 3.0) / (320.0 / 3.0) * 1e4).abs() < 1e-9);
}

#[test]
fn volume_profile_poc_value_area_and_nodes() {
    let mut vp = VolumeProfile::new(1, 64, 0.70, 1.5, 0.5);
    for (px, q) in [(100, 1), (101, 3), (102, 6), (103, 4), (104, 2), (105, 1), (106, 3)] {
        assert!(vp.add(Px(px), q));
    }
    // Total 20, target 14. POC 102 (6); up 103 (4 ≥ 3) → 10; down 101 (3 > 2) → 13;
    // up 104 (2 > 1) → 15 ≥ 14. Value area 101..=104.
    let va = vp.value_area().unwrap();
    assert_eq!((va.poc, va.val, va.vah), (Px(102), Px(101), Px(104)));
    assert_eq!((va.poc_qty, va.area_qty, va.total_qty), (6, 15, 20));
    // Mean of non-empty buckets 20/7 ≈ 2.86: HVN ≥ 4.29 → 102; LVN ≤ 1.43 inside → 105.
    let (mut hvn, mut lvn) = ([Px(0); 4], [Px(0); 4]);
    assert_eq!(vp.nodes(&mut hvn, &mut lvn), (1, 1));
    assert_eq!((hvn[0], lvn[0]), (Px(102), Px(105)));
    // Buckets of 2 ticks: [100,101]=4, [102,103]=10, [104,105]=3, [106,107]=3 → POC 102,
    // target 14: up (3 ≥ 4? no) → down 100 (4) → 14. VA = 100..=102.
    let mut vp2 = VolumeProfile::new(2, 8, 0.70, 1.5, 0.5);
    for (px, q) in [(100, 1), (101, 3), (102, 6), (103, 4), (104, 2), (105, 1), (106, 3)] {
        vp2.add(Px(px), q);
    }
    let va = vp2.value_area().unwrap();
    assert_eq!((va.poc, va.val, va.vah, va.area_qty), (Px(102), Px(100), Px(102), 14));
    // Outside the 8 buckets (centred on bucket 50 → buckets 46..=53, prices 92..=107).
    assert!(!vp2.add(Px(200), 1));
    assert!(!vp2.add(Px(91), 1));
    assert!(vp2.add(Px(92), 1));
    assert_eq!(vp2.out_of_range(), 2);
}

#[test]
fn whale_trades_above_k_times_the_rolling_mean() {
    let p = TradeFlowParams {
        vwap_window_ns: 60 * S,
        vwap_bucket_ns: S,
        flow_window_ns: 10 * S,
        short_window_ns: 5 * S,
        fast_bucket_ns: S / 10,
        whale_k: 3.0,
        whale_min_samples: 3,
    };
    let mut f = TradeFlow::new(&p);
    // Too few samples for the first three; then mean 1 → 2 is not > 3.
    for (i, q) in [1, 1, 1, 2].into_iter().enumerate() {
        assert!(!f.on_trade(&trade(i as i64, 100, q, Side::Buy)));
    }
    // Mean (1+1+1+2)/4 = 1.25 → threshold 3.75: 10 is a whale, 3 is not.
    assert!(f.on_trade(&trade(5, 100, 10, Side::Buy)));
    assert!(!f.on_trade(&trade(6, 100, 3, Side::Sell)));
    // Mean 18/6 = 3 → threshold 9: a 10-lot sell is a whale.
    assert!(f.on_trade(&trade(7, 100, 10, Side::Sell)));
    assert_eq!(f.flow().whale_buy_qty, 10);
    assert_eq!(f.flow().whale_sell_qty, 10);
    assert_eq!(f.flow().whale_net(), 0);
    assert_eq!(f.whale_count(), 2);
    // 11 s later the 10 s flow window is empty.
    f.advance(11 * S + 7);
    assert_eq!(f.flow().whale_buy_qty, 0);
}

#[test]
fn price_impact_from_market_fill() {
    let b = book(&[(9_990, 3), (9_980, 1)], &[(10_000, 1), (10_010, 2), (10_020, 5)]);
    // Buy 4: 1@10000 + 2@10010 + 1@10020 = 40040 → avg 10010 → 10/10000 = 10 bps.
    let i = price_impact(&b, Side::Buy, Qty(4)).unwrap();
    assert_eq!((i.filled, i.levels, i.worst_px), (Qty(4), 3, Px(10_020)));
    assert!((i.avg_px_ticks - 10_010.0).abs() < 1e-9);
    assert!((i.impact_bps - 10.0).abs() < 1e-9);
    // Sell 4 into a 4-lot bid side: 3@9990 + 1@9980 → avg 9987.5 → 2.5/9990 × 1e4 bps.
    let i = price_impact(&b, Side::Sell, Qty(10)).unwrap();
    assert_eq!(i.filled, Qty(4));
    assert!((i.impact_bps - 2.5 / 9_990.0 * 1e4).abs() < 1e-9);
    assert_eq!(price_impact(&book(&[(1, 1)], &[]), Side::Buy, Qty(1)), None);
    assert_eq!(price_impact(&b, Side::Buy, Qty(0)), None);
}

#[test]
fn volume_ratio_compares_short_and_long_rates() {
    let cfg = SignalConfig {
        vwap_window_ms: 10_000,
        vwap_bucket_ms: 1_000,
        short_window_ms: 1_000,
        fast_bucket_ms: 100,
        ..Default::default()
    };
    let mut sig = InstrumentSignals::new(&cfg);
    // 1 lot a second for 10 s, then 5 lots in the last second.
    for i in 0..10 {
        sig.on_trade(&trade(i * S, 100, 1, Side::Buy));
    }
    let s = *sig.on_trade(&trade(9 * S + S / 2, 100, 5, Side::Buy));
    // Elapsed 9.5 s + one 1 s bucket → long span clamps to 10 s: 15 lots / 10 s = 1.5/s.
    // Short: 6 lots over 1 s = 6/s → ratio 4.
    assert!((s.volume_ratio.unwrap() - 4.0).abs() < 1e-9, "{:?}", s.volume_ratio);
}
