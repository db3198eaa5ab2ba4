//! Property tests: random operation sequences applied to [`Book`] and to the naive
//! [`RefBook`] must give identical reads after every step, and keep the book's storage
//! invariants.

use proptest::prelude::*;

use super::*;
use crate::reference::RefBook;

#[derive(Clone, Debug)]
enum Op {
    /// Set a level at `base + off` (qty 0 removes).
    Set { side: Side, off: i64, qty: i64 },
    /// Remove the current best of a side (exercises the bitmap search and far fallback).
    RemoveBest { side: Side },
    /// Move the base price: a big jump forces re-centring.
    Jump(i64),
    /// Clear both sides (a snapshot).
    Clear,
    /// An update that must be refused and leave both books unchanged.
    Invalid { side: Side, px: i64, qty: i64 },
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Buy), Just(Side::Sell)]
}

fn offset() -> impl Strategy<Value = i64> {
    prop_oneof![
        6 => -24i64..24,          // at and around the touch
        3 => -300i64..300,        // beyond small windows
        1 => -40_000i64..40_000,  // far from the touch, beyond the default window too
    ]
}

fn qty() -> impl Strategy<Value = i64> {
    prop_oneof![2 => Just(0i64), 5 => 1i64..1_000, 1 => Just(i64::MAX / 4)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        20 => (side(), offset(), qty()).prop_map(|(side, off, qty)| Op::Set { side, off, qty }),
        4 => side().prop_map(|side| Op::RemoveBest { side }),
        2 => prop_oneof![-70_000i64..70_000, -200i64..200].prop_map(Op::Jump),
        1 => Just(Op::Clear),
        1 => (side(), -5i64..5, -5i64..0).prop_map(|(side, px, qty)| Op::Invalid { side, px, qty }),
    ]
}

fn config() -> impl Strategy<Value = BookConfig> {
    (
        prop_oneof![Just(64u32), Just(128), Just(1024), Just(1 << 16)],
        prop_oneof![Just(0u32), Just(4), Just(64)],
    )
        .prop_map(|(window_ticks, far_capacity)| BookConfig { window_ticks, far_capacity })
}

/// Every read of the two books agrees.
fn same_reads(book: &Book, r: &RefBook, probe: Px) -> Result<(), TestCaseError> {
    book.check();
    prop_assert_eq!(book.best_bid(), r.best_bid());
    prop_assert_eq!(book.best_ask(), r.best_ask());
    prop_assert_eq!(book.cross_state(), r.cross_state());
    prop_assert_eq!(book.mid_x2(), r.mid_x2());
    prop_assert_eq!(book.mid_ticks(), r.mid_ticks());
    prop_assert_eq!(book.spread_ticks(), r.spread_ticks());
    prop_assert_eq!(book.spread_bps(), r.spread_bps());
    prop_assert_eq!(book.microprice(), r.microprice());
    for n in [0, 1, 3, 10, 10_000] {
        prop_assert_eq!(book.depth_imbalance(n), r.depth_imbalance(n));
    }
    for side in [Side::Buy, Side::Sell] {
        prop_assert_eq!(book.level_count(side), r.level_count(side));
        prop_assert!(book.levels(side).eq(r.levels(side)), "levels differ on {:?}", side);
        let (mut a, mut b) = ([Level::default(); 5], [Level::default(); 5]);
        let (na, nb) = (book.top(side, &mut a), r.top(side, &mut b));
        prop_assert_eq!(&a[..na], &b[..nb]);
        prop_assert_eq!(book.qty_at(side, probe), r.qty_at(side, probe));
        let touch = r.best(side).map_or(probe.0, |l| l.px.0);
        for px in [probe.0, touch, touch - 5, touch + 5, touch - 500, touch + 500, 1] {
            prop_assert_eq!(book.cum_qty_to(side, Px(px)), r.cum_qty_to(side, Px(px)));
        }
        for q in [1, 500, 5_000, i64::MAX] {
            prop_assert_eq!(book.market_fill(side, Qty(q)), r.market_fill(side, Qty(q)));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn book_matches_reference(cfg in config(), ops in proptest::collection::vec(op(), 1..300)) {
        let mut book = Book::new(cfg);
        let mut r = RefBook::new();
        let mut base = 1_000_000i64;
        for op in ops {
            let probe = match op {
                Op::Set { side, off, qty } => {
                    let px = Px(base + off);
                    prop_assert_eq!(book.set(side, px, Qty(qty)), r.set(side, px, Qty(qty)));
                    px
                }
                Op::RemoveBest { side } => {
                    let px = r.best(side).map_or(Px(base), |l| l.px);
                    prop_assert_eq!(book.set(side, px, Qty(0)), r.set(side, px, Qty(0)));
                    px
                }
                Op::Jump(d) => {
                    base = (base + d).clamp(100_000, 10_000_000);
                    Px(base)
                }
                Op::Clear => {
                    book.clear();
                    r.clear();
                    Px(base)
                }
                Op::Invalid { side, px, qty } => {
                    let got = book.set(side, Px(px), Qty(qty));
                    prop_assert!(got.is_err());
                    prop_assert_eq!(got, r.set(side, Px(px), Qty(qty)));
                    Px(px)
                }
            };
            same_reads(&book, &r, probe)?;
        }
        let stats = book.stats();
        prop_assert_eq!(stats.far_levels + stats.window_levels, (r.level_count(Side::Buy) + r.level_count(Side::Sell)) as u64);
    }
}
