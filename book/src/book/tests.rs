//! Unit tests of [`Book`] with hand-built books.

use super::*;
use crate::MAX_PX;
use crate::reference::RefBook;

const B: Side = Side::Buy;
const S: Side = Side::Sell;

fn small() -> Book {
    Book::new(BookConfig { window_ticks: 64, far_capacity: 4 })
}

fn set(book: &mut Book, side: Side, px: i64, qty: i64) {
    book.set(side, Px(px), Qty(qty)).unwrap();
    book.check();
}

fn levels(book: &Book, side: Side) -> Vec<(i64, i64)> {
    book.levels(side).map(|l| (l.px.0, l.qty.0)).collect()
}

#[test]
fn empty_book_reads() {
    let book = Book::default();
    assert_eq!(book.best_bid(), None);
    assert_eq!(book.best_ask(), None);
    assert_eq!(book.mid_x2(), None);
    assert_eq!(book.mid_ticks(), None);
    assert_eq!(book.spread_ticks(), None);
    assert_eq!(book.spread_bps(), None);
    assert_eq!(book.microprice(), None);
    assert_eq!(book.depth_imbalance(5), None);
    assert_eq!(book.cross_state(), CrossState::Empty);
    assert_eq!(book.cum_qty_to(B, Px(1)), Qty(0));
    assert_eq!(book.market_fill(B, Qty(1)), None);
    assert_eq!(book.level_count(B), 0);
    assert_eq!(book.levels(S).count(), 0);
    let mut out = [Level::default(); 3];
    assert_eq!(book.top(B, &mut out), 0);
    book.check();
}

#[test]
fn config_is_normalized() {
    assert_eq!(
        Book::new(BookConfig { window_ticks: 0, far_capacity: 0 }).config().window_ticks,
        64
    );
    assert_eq!(
        Book::new(BookConfig { window_ticks: 1000, far_capacity: 0 }).config().window_ticks,
        1024
    );
    assert_eq!(
        Book::new(BookConfig { window_ticks: u32::MAX, far_capacity: 0 }).config().window_ticks,
        1 << 20
    );
}

#[test]
fn sets_replaces_and_removes() {
    let mut book = small();
    set(&mut book, B, 100, 5);
    set(&mut book, B, 100, 7);
    assert_eq!(book.qty_at(B, Px(100)), Qty(7));
    assert_eq!(book.level_count(B), 1);
    set(&mut book, B, 99, 1);
    set(&mut book, B, 100, 0);
    assert_eq!(book.best_bid(), Some(Level::new(Px(99), Qty(1))));
    assert_eq!(book.level_count(B), 1);
    set(&mut book, B, 99, 0);
    assert_eq!(book.best_bid(), None);
    assert_eq!(book.cross_state(), CrossState::Empty);
}

#[test]
fn removing_unknown_levels_is_a_no_op() {
    let mut book = small();
    set(&mut book, S, 200, 3);
    for px in [1, 150, 199, 201, 260, 100_000] {
        set(&mut book, S, px, 0);
        set(&mut book, B, px, 0);
    }
    assert_eq!(levels(&book, S), [(200, 3)]);
    assert_eq!(book.level_count(B), 0);
}

#[test]
fn errors_leave_the_book_unchanged_and_are_counted() {
    let mut book = small();
    set(&mut book, B, 100, 5);
    assert_eq!(book.set(B, Px(100), Qty(-1)), Err(ApplyError::NegativeQty));
    assert_eq!(book.set(B, Px(0), Qty(1)), Err(ApplyError::NonPositivePrice));
    assert_eq!(book.set(S, Px(-5), Qty(0)), Err(ApplyError::NonPositivePrice));
    assert_eq!(book.set(S, Px(MAX_PX.0 + 1), Qty(1)), Err(ApplyError::PriceTooHigh));
    assert_eq!(book.set(S, Px(i64::MAX), Qty(1)), Err(ApplyError::PriceTooHigh));
    assert_eq!(book.set(S, Px(i64::MIN), Qty(1)), Err(ApplyError::NonPositivePrice));
    assert_eq!(book.set(S, Px(i64::MIN), Qty(-1)), Err(ApplyError::NegativeQty));
    assert!(book.set(S, MAX_PX, Qty(1)).is_ok());
    set(&mut book, S, MAX_PX.0, 0);
    assert_eq!(levels(&book, B), [(100, 5)]);
    assert_eq!(book.level_count(S), 0);
    assert_eq!(book.stats().rejected, 7);
    assert_eq!(book.qty_at(B, Px(-3)), Qty(0));
    // The error is Copy and has a message.
    let e = ApplyError::NegativeQty;
    let e2 = e;
    assert_eq!(e.to_string(), "negative level size");
    assert_eq!(e, e2);
}

#[test]
fn far_levels_are_kept_exactly() {
    let mut book = small();
    set(&mut book, B, 10_000, 1);
    set(&mut book, B, 5_000, 2); // far below
    set(&mut book, B, 9_990, 3); // in window
    set(&mut book, B, 7, 4); // very far
    set(&mut book, S, 10_010, 1);
    set(&mut book, S, 90_000, 9); // far above (ask side far)
    assert_eq!(levels(&book, B), [(10_000, 1), (9_990, 3), (5_000, 2), (7, 4)]);
    assert_eq!(levels(&book, S), [(10_010, 1), (90_000, 9)]);
    assert_eq!(book.qty_at(B, Px(5_000)), Qty(2));
    assert_eq!(book.qty_at(S, Px(90_000)), Qty(9));
    assert_eq!(book.qty_at(B, Px(5_001)), Qty(0));
    assert_eq!(book.stats().far_levels, 3);
    // Update and remove far levels in place.
    set(&mut book, B, 5_000, 6);
    assert_eq!(book.qty_at(B, Px(5_000)), Qty(6));
    set(&mut book, B, 7, 0);
    assert_eq!(levels(&book, B), [(10_000, 1), (9_990, 3), (5_000, 6)]);
    assert_eq!(book.cum_qty_to(B, Px(5_000)), Qty(10));
    assert_eq!(book.cum_qty_to(S, Px(100_000)), Qty(10));
}

#[test]
fn window_emptying_recentres_onto_the_far_store() {
    let mut book = small();
    set(&mut book, B, 10_000, 1);
    set(&mut book, B, 9_999, 2);
    set(&mut book, B, 3_000, 3);
    set(&mut book, B, 2_990, 4);
    let before = book.stats().recentres;
    set(&mut book, B, 10_000, 0);
    set(&mut book, B, 9_999, 0);
    assert_eq!(book.best_bid(), Some(Level::new(Px(3_000), Qty(3))));
    assert!(book.stats().recentres > before);
    assert_eq!(book.stats().far_levels, 0, "both far levels migrated into the window");
    assert_eq!(levels(&book, B), [(3_000, 3), (2_990, 4)]);
    // The ask side does the same upwards in price.
    set(&mut book, S, 20_000, 1);
    set(&mut book, S, 30_000, 5);
    set(&mut book, S, 20_000, 0);
    assert_eq!(book.best_ask(), Some(Level::new(Px(30_000), Qty(5))));
    assert_eq!(book.level_count(S), 1);
}

#[test]
fn market_moves_recentre_and_migrate() {
    let mut book = small();
    // A ladder of bids, then the touch walks up far beyond the window.
    for px in 1_000..1_040 {
        set(&mut book, B, px, px - 999);
    }
    for px in (1_040..1_400).step_by(7) {
        set(&mut book, B, px, 1);
    }
    let s = book.stats();
    assert!(s.recentres >= 3, "{s:?}");
    assert!(s.migrated_levels > 0, "{s:?}");
    assert_eq!(book.level_count(B), 40 + (1_040..1_400).step_by(7).count());
    // Then it walks all the way down again, removing as it goes.
    let ups: Vec<i64> = (1_040..1_400).step_by(7).collect();
    for &px in ups.iter().rev() {
        set(&mut book, B, px, 0);
    }
    let expect: Vec<(i64, i64)> = (1_000..1_040).rev().map(|px| (px, px - 999)).collect();
    assert_eq!(levels(&book, B), expect);
    // A jump far above the window on the ask side, then back.
    set(&mut book, S, 2_000, 1);
    set(&mut book, S, 500, 2);
    set(&mut book, S, 500, 0);
    assert_eq!(book.best_ask(), Some(Level::new(Px(2_000), Qty(1))));
}

#[test]
fn far_growth_is_counted_not_dropped() {
    // Far capacity 4: the reservation is whole blocks (3 of 64 slots here), so it takes a few
    // hundred far levels to outgrow it.
    let mut book = small();
    set(&mut book, B, 100_000, 1);
    for i in 0..1_000 {
        set(&mut book, B, 1_000 + i * 50, i + 1);
    }
    assert_eq!(book.level_count(B), 1_001);
    assert_eq!(book.stats().far_levels, 1_000);
    assert!(book.stats().far_grows >= 1);
    assert_eq!(book.qty_at(B, Px(1_000 + 999 * 50)), Qty(1_000));
    assert_eq!(levels(&book, B).last(), Some(&(1_000, 1)));
}

#[test]
fn clear_keeps_working() {
    let mut book = small();
    set(&mut book, B, 100, 1);
    set(&mut book, B, 5, 1);
    set(&mut book, S, 101, 1);
    book.clear();
    book.check();
    assert_eq!(book.cross_state(), CrossState::Empty);
    assert_eq!(book.level_count(B) + book.level_count(S), 0);
    assert_eq!(book.qty_at(B, Px(100)), Qty(0));
    set(&mut book, B, 7_000, 3);
    set(&mut book, S, 7_001, 4);
    assert_eq!(book.mid_x2(), Some(14_001));
}

#[test]
fn cross_states() {
    let mut book = small();
    set(&mut book, S, 100, 1);
    assert_eq!(book.cross_state(), CrossState::OneSided);
    assert!(book.cross_state().is_valid());
    set(&mut book, B, 99, 1);
    assert_eq!(book.cross_state(), CrossState::Normal);
    set(&mut book, B, 100, 1);
    assert_eq!(book.cross_state(), CrossState::Locked);
    assert!(!book.cross_state().is_valid());
    assert_eq!(book.spread_ticks(), Some(0));
    set(&mut book, B, 101, 1);
    assert_eq!(book.cross_state(), CrossState::Crossed);
    assert_eq!(book.spread_ticks(), Some(-1));
    // Still stored as told.
    assert_eq!(levels(&book, B), [(101, 1), (100, 1), (99, 1)]);
    set(&mut book, B, 101, 0);
    set(&mut book, B, 100, 0);
    assert_eq!(book.cross_state(), CrossState::Normal);
}

#[test]
fn touch_reads() {
    let mut book = Book::default();
    set(&mut book, B, 6_183_763, 300);
    set(&mut book, S, 6_183_765, 100);
    assert_eq!(book.mid_x2(), Some(12_367_528));
    assert_eq!(book.mid_ticks(), Some(6_183_764.0));
    assert_eq!(book.spread_ticks(), Some(2));
    let bps = book.spread_bps().unwrap();
    assert!((bps - 2.0 / 6_183_764.0 * 1e4).abs() < 1e-12);
    // (bid*ask_qty + ask*bid_qty)/(bid_qty+ask_qty) = (6183763*100 + 6183765*300)/400
    assert_eq!(book.microprice(), Some(6_183_764.5));
}

#[test]
fn top_n_and_imbalance() {
    let mut book = small();
    for (px, q) in [(100, 1), (99, 2), (98, 3), (50, 4)] {
        set(&mut book, B, px, q);
    }
    for (px, q) in [(101, 10), (103, 20)] {
        set(&mut book, S, px, q);
    }
    let mut out = [Level::default(); 3];
    assert_eq!(book.top(B, &mut out), 3);
    assert_eq!(out, [(100, 1), (99, 2), (98, 3)].map(|(p, q)| Level::new(Px(p), Qty(q))));
    let mut big = [Level::default(); 10];
    assert_eq!(book.top(B, &mut big), 4);
    assert_eq!(big[3], Level::new(Px(50), Qty(4)));
    assert_eq!(book.top(S, &mut []), 0);
    // 1 level: (1 - 10) / 11; 4 levels: (10 - 30) / 40.
    assert_eq!(book.depth_imbalance(1), Some(-9.0 / 11.0));
    assert_eq!(book.depth_imbalance(4), Some(-0.5));
    assert_eq!(book.depth_imbalance(0), None);
}

#[test]
fn cum_qty_to_is_inclusive_from_the_touch() {
    let mut book = small();
    for (px, q) in [(100, 1), (99, 2), (90, 3), (10, 4)] {
        set(&mut book, B, px, q);
    }
    assert_eq!(book.cum_qty_to(B, Px(101)), Qty(0));
    assert_eq!(book.cum_qty_to(B, Px(100)), Qty(1));
    assert_eq!(book.cum_qty_to(B, Px(99)), Qty(3));
    assert_eq!(book.cum_qty_to(B, Px(11)), Qty(6));
    assert_eq!(book.cum_qty_to(B, Px(10)), Qty(10));
    assert_eq!(book.cum_qty_to(B, Px(1)), Qty(10));
    assert_eq!(book.cum_qty_to(S, Px(1_000)), Qty(0));
}

#[test]
fn market_fill_walks_the_opposite_side() {
    let mut book = small();
    for (px, q) in [(100, 2), (99, 3), (10, 5)] {
        set(&mut book, B, px, q);
    }
    // Sell 4: 2 @ 100 + 2 @ 99 = 398; avg 99.5; slippage 0.5.
    let f = book.market_fill(S, Qty(4)).unwrap();
    assert_eq!(f.filled, Qty(4));
    assert_eq!(f.levels, 2);
    assert_eq!(f.notional, 398);
    assert_eq!(f.worst_px, Px(99));
    assert_eq!(f.avg_px_ticks, 99.5);
    assert_eq!(f.slippage_ticks, 0.5);
    // Through the far level and beyond: partial.
    let f = book.market_fill(S, Qty(100)).unwrap();
    assert_eq!((f.filled, f.levels, f.worst_px, f.notional), (Qty(10), 3, Px(10), 547));
    assert_eq!(f.slippage_ticks, (1_000.0 - 547.0) / 10.0);
    // Exactly the touch size: one level, no slippage.
    let f = book.market_fill(S, Qty(2)).unwrap();
    assert_eq!((f.levels, f.slippage_ticks, f.avg_px_ticks), (1, 0.0, 100.0));
    assert_eq!(book.market_fill(S, Qty(0)), None);
    assert_eq!(book.market_fill(S, Qty(-1)), None);
    assert_eq!(book.market_fill(B, Qty(1)), None);
    // A buy walks the asks upwards.
    set(&mut book, S, 105, 1);
    set(&mut book, S, 107, 1);
    let f = book.market_fill(B, Qty(2)).unwrap();
    assert_eq!((f.avg_px_ticks, f.slippage_ticks, f.worst_px), (106.0, 1.0, Px(107)));
}

#[test]
fn big_snapshot_spanning_thousands_of_dollars() {
    // 1000 levels a side, 5 ticks apart on average but spread over ~5,000 USDT.
    let mut book = Book::default();
    let mut reference = RefBook::new();
    let mid = 6_000_000i64;
    let gap = |i: i64| if i < 900 { i * 3 } else { 2_700 + (i - 900) * 5_000 };
    for i in 0..1000i64 {
        let gap = gap(i);
        for (side, px) in [(B, mid - 1 - gap), (S, mid + 1 + gap)] {
            book.set(side, Px(px), Qty(i + 1)).unwrap();
            reference.set(side, Px(px), Qty(i + 1)).unwrap();
        }
    }
    book.check();
    for side in [B, S] {
        assert_eq!(book.level_count(side), 1000);
        assert!(book.levels(side).eq(reference.levels(side)));
    }
    // 3/4 of the window is behind the touch; the levels deeper than that are far (61 a side
    // with the default 2^18-tick window).
    let behind = i64::from(book.config().window_ticks) * 3 / 4;
    let far = (0..1000).filter(|&i| gap(i) > behind).count() as u64;
    assert!(far > 0);
    assert_eq!(book.stats().far_levels, 2 * far);
    assert_eq!(book.stats().far_grows, 0);
    assert_eq!(book.market_fill(B, Qty(1_000_000)), reference.market_fill(B, Qty(1_000_000)));
}

#[test]
fn debug_is_short() {
    let text = format!("{:?}", small());
    assert!(text.starts_with("Book {") && text.len() < 400, "{text}");
    let text = format!("{:?}", small().levels(B));
    assert!(text.starts_with("Levels"));
}

#[test]
fn long_random_walk_matches_reference() {
    let mut book = Book::default();
    let mut r = RefBook::new();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mid = 1_000_000i64;
    for i in 0..450_000 {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let r64 = state.wrapping_mul(0x2545_f491_4f6c_dd1d);
        let side = if r64 & 1 == 0 { B } else { S };
        let dist = match (r64 >> 1) % 10 {
            0 => ((r64 >> 8) % 2_000) as i64 * 400,
            1..=3 => ((r64 >> 8) % 2_000) as i64,
            _ => ((r64 >> 8) % 50) as i64,
        };
        // The touch wanders (crossing sometimes); far prices stay on a fixed grid of 2,000.
        let drift = if (r64 >> 1).is_multiple_of(10) { 0 } else { ((r64 >> 40) % 64) as i64 - 32 };
        let px = match side {
            B => mid + drift - 1 - dist,
            S => mid + drift + 1 + dist,
        };
        let qty = if (r64 >> 32).is_multiple_of(3) { 0 } else { ((r64 >> 20) % 1_000) as i64 + 1 };
        book.set(side, Px(px), Qty(qty)).unwrap();
        r.set(side, Px(px), Qty(qty)).unwrap();
        if i % 5_000 == 0 {
            book.check();
            assert!(book.levels(B).eq(r.levels(B)), "step {i}");
            assert!(book.levels(S).eq(r.levels(S)), "step {i}");
            assert!(book.stats().far_levels < 4_000, "step {i} {:?}", book.stats());
        }
    }
}
