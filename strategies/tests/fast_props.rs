//! Property tests: on random valid books (including one-sided and empty ones) and random
//! trades, the signals are never NaN or infinite, one-sided or empty books give no book signal
//! and no intent, and the streaming OFI equals a naive recomputation from its definition.
#![allow(clippy::unwrap_used)]

use crpbot_book::{Book, BookConfig, Level};
use crpbot_core::{Px, Qty, Registry, Side, StrategyId, Trade, Venue};
use crpbot_strategies::fast::{
    FastConfig, FastLane, InstrumentSignals, IntentBuf, OfiTracker, SignalConfig, Signals,
};
use proptest::prelude::*;

/// A two-sided, one-sided or empty uncrossed book: (bid offsets below 1000, ask offsets above).
/// (bids, asks) as (offset, size) pairs.
type Sides = (Vec<(i64, i64)>, Vec<(i64, i64)>);

fn arb_book() -> impl Strategy<Value = Sides> {
    let side = || prop::collection::vec((0i64..40, 1i64..1_000_000_000), 0..8);
    (side(), side())
}

#[derive(Clone, Debug)]
enum Ev {
    Book(Vec<(i64, i64)>, Vec<(i64, i64)>),
    Trade(i64, i64, bool),
}

fn arb_ev() -> impl Strategy<Value = Ev> {
    prop_oneof![
        arb_book().prop_map(|(b, a)| Ev::Book(b, a)),
        (-50i64..50, 1i64..5_000_000_000, any::<bool>()).prop_map(|(p, q, s)| Ev::Trade(p, q, s)),
    ]
}

fn load(book: &mut Book, base: i64, bids: &[(i64, i64)], asks: &[(i64, i64)]) {
    book.clear();
    for &(o, q) in bids {
        book.set(Side::Buy, Px(base - o), Qty(q)).unwrap();
    }
    for &(o, q) in asks {
        book.set(Side::Sell, Px(base + 1 + o), Qty(q)).unwrap();
    }
}

fn finite(s: &Signals) -> bool {
    [
        s.mid,
        s.microprice,
        s.spread_bps,
        s.imbalance,
        s.depth_imbalance,
        s.ofi_norm,
        s.vwap_session,
        s.vwap_rolling,
        s.vwap_dev_bps,
        s.vwap_session_dev_bps,
        s.buy_share,
        s.volume_ratio,
    ]
    .iter()
    .all(|v| v.is_none_or(f64::is_finite))
}

/// e_n by the letter of the definition, from two (price, size) lists best first.
fn naive_ofi(pb: &[Level], pa: &[Level], cb: &[Level], ca: &[Level], n: usize) -> i128 {
    let mut total = 0i128;
    for i in 0..n {
        let side = |prev: Option<&Level>, cur: Option<&Level>, bid: bool| -> i128 {
            let (p0, q0) = prev.map_or((None, 0), |l| (Some(l.px.0), i128::from(l.qty.0)));
            let (p1, q1) = cur.map_or((None, 0), |l| (Some(l.px.0), i128::from(l.qty.0)));
            let (p0, p1) = match (p0, p1) {
                (None, None) => return 0,
                (Some(a), None) => (a, a),
                (None, Some(b)) => (b, b),
                (Some(a), Some(b)) => (a, b),
            };
            if bid {
                (if p1 >= p0 { q1 } else { 0 }) - (if p1 <= p0 { q0 } else { 0 })
            } else {
                -(if p1 <= p0 { q1 } else { 0 }) + (if p1 >= p0 { q0 } else { 0 })
            }
        };
        total += side(pb.get(i), cb.get(i), true) + side(pa.get(i), ca.get(i), false);
    }
    total
}

fn top(book: &Book, side: Side, n: usize) -> Vec<Level> {
    book.levels(side).take(n).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn signals_stay_finite_and_empty_books_trade_nothing(evs in prop::collection::vec(arb_ev(), 1..60)) {
        let reg = Registry::with_defaults();
        let id = reg.lookup(Venue::BinanceSpot, b"BTCUSDT").unwrap();
        let mut cfg = FastConfig::default();
        cfg.signals.whale_min_samples = 2;
        cfg.ofi.cooldown_ms = 0;
        cfg.scalp.cooldown_ms = 0;
        let mut lane = FastLane::new(&cfg, &reg, StrategyId(1)).unwrap();
        let mut sig = InstrumentSignals::new(&SignalConfig { whale_min_samples: 2, ..Default::default() });
        let mut book = Book::new(BookConfig { window_ticks: 1024, far_capacity: 64 });
        let base = 6_000_000;
        let mut out = IntentBuf::new();
        for (k, ev) in evs.iter().enumerate() {
            let ts = k as i64 * 137_000_000;
            match ev {
                Ev::Book(b, a) => {
                    load(&mut book, base, b, a);
                    let s = *sig.on_book(&book, ts);
                    prop_assert!(finite(&s), "{s:?}");
                    let two_sided = !b.is_empty() && !a.is_empty();
                    prop_assert_eq!(s.mid.is_some(), two_sided);
                    if !two_sided {
                        prop_assert!(s.ofi_event.is_none() && s.imbalance.is_none());
                    }
                    out.clear();
                    lane.on_book(id, &book, ts, &mut out);
                    if !two_sided {
                        prop_assert!(out.is_empty(), "intent on a one-sided book: {:?}", out.as_slice());
                    }
                    let ls = lane.signals().get(id).unwrap().signals();
                    prop_assert!(finite(ls));
                }
                Ev::Trade(o, q, buy) => {
                    let t = Trade {
                        ts_exch_ns: ts, ts_local_ns: ts, trade_id: k as u64,
                        px: Px(base + o), qty: Qty(*q), instrument: id,
                        aggressor: if *buy { Side::Buy } else { Side::Sell }, _pad: [0; 5],
                    };
                    prop_assert!(finite(sig.on_trade(&t)));
                    out.clear();
                    lane.on_trade(&t, &mut out);
                    prop_assert!(out.is_empty());
                }
            }
        }
    }

    #[test]
    fn streaming_ofi_equals_the_definition(books in prop::collection::vec(arb_book(), 2..30), n in 1usize..6) {
        let mut t = OfiTracker::new(n, 1_000_000_000_000, 1_000_000_000);
        let mut book = Book::new(BookConfig { window_ticks: 1024, far_capacity: 64 });
        let mut prev: Option<(Vec<Level>, Vec<Level>)> = None;
        let mut sum = 0i128;
        for (k, (b, a)) in books.iter().enumerate() {
            load(&mut book, 10_000, b, a);
            let got = t.update(&book, k as i64);
            let (cb, ca) = (top(&book, Side::Buy, n), top(&book, Side::Sell, n));
            let two_sided = !cb.is_empty() && !ca.is_empty();
            let want = match (&prev, two_sided) {
                (Some((pb, pa)), true) => Some(naive_ofi(pb, pa, &cb, &ca, n)),
                _ => None,
            };
            prop_assert_eq!(got, want);
            sum += want.unwrap_or(0);
            prev = two_sided.then_some((cb, ca));
        }
        prop_assert_eq!(t.window().sum, sum);
    }
}
