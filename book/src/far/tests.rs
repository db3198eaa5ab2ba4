//! [`Far`] against a `BTreeMap`: random sets, removals, pushes and pops over enough levels to
//! split and merge blocks many times, with every invariant checked after each step.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

/// Every read of the store agrees with the map, and the invariants hold.
fn same(far: &Far, map: &BTreeMap<i64, i64>, probe: i64) -> Result<(), TestCaseError> {
    far.check();
    prop_assert_eq!(far.len(), map.len());
    prop_assert_eq!(far.last(), map.keys().next_back().copied());
    prop_assert_eq!(far.get(probe), map.get(&probe).copied().unwrap_or(0));
    let mut c = far.cursor();
    let walked: Vec<(i64, i64)> = std::iter::from_fn(|| far.next_down(&mut c)).collect();
    let expect: Vec<(i64, i64)> = map.iter().rev().map(|(&k, &q)| (k, q)).collect();
    prop_assert_eq!(&walked, &expect);
    let mut visited = Vec::new();
    let full = far.walk_down(&mut |k, q| {
        visited.push((k, q));
        true
    });
    prop_assert!(full);
    prop_assert_eq!(&visited, &expect);
    // A walk stopped early stops where asked.
    let mut n = 0;
    let full = far.walk_down(&mut |_, _| {
        n += 1;
        n < 3
    });
    prop_assert_eq!(full, map.len() < 3);
    prop_assert_eq!(n, map.len().min(3));
    Ok(())
}

#[derive(Clone, Debug)]
enum Op {
    /// Set `key` (0 removes).
    Set(i64, i64),
    /// Push above the largest key by `gap`.
    Push(i64, i64),
    /// Pop the largest key.
    Pop,
    /// Remove every level.
    Clear,
    /// Insert a run of keys `from, from + step, ...` (fills blocks fast).
    Run { from: i64, step: i64, n: usize },
    /// Remove every `k`-th level (thins blocks, forcing merges).
    Thin(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let key = prop_oneof![0i64..200, 0i64..5_000];
    let qty = prop_oneof![1 => Just(0i64), 3 => 1i64..1_000];
    prop_oneof![
        30 => (key, qty).prop_map(|(k, q)| Op::Set(k, q)),
        5 => (1i64..50, 1i64..1_000).prop_map(|(g, q)| Op::Push(g, q)),
        5 => Just(Op::Pop),
        1 => Just(Op::Clear),
        2 => (0i64..5_000, 1i64..4, 1usize..300).prop_map(|(from, step, n)| Op::Run { from, step, n }),
        2 => (1usize..5).prop_map(Op::Thin),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn far_matches_a_btreemap(
        capacity in prop_oneof![Just(0usize), Just(100), Just(5_000)],
        ops in proptest::collection::vec(op(), 1..200),
    ) {
        let mut far = Far::new(capacity);
        let mut map = BTreeMap::new();
        let mut most = 0;
        for op in ops {
            let probe = match op {
                Op::Set(k, q) => {
                    far.set(k, q);
                    if q == 0 { map.remove(&k); } else { map.insert(k, q); }
                    k
                }
                Op::Push(gap, q) => {
                    let k = map.keys().next_back().map_or(0, |&k| k + gap);
                    far.push_max(k, q);
                    map.insert(k, q);
                    k
                }
                Op::Pop => {
                    let got = far.pop_max();
                    let expect = map.pop_last();
                    prop_assert_eq!(got, expect);
                    expect.map_or(0, |(k, _)| k)
                }
                Op::Clear => {
                    far.clear();
                    map.clear();
                    0
                }
                Op::Run { from, step, n } => {
                    for i in 0..n as i64 {
                        let k = from + i * step;
                        far.set(k, k + 1);
                        map.insert(k, k + 1);
                    }
                    from
                }
                Op::Thin(every) => {
                    let gone: Vec<i64> = map.keys().copied().step_by(every).collect();
                    for k in &gone {
                        far.set(*k, 0);
                        map.remove(k);
                    }
                    gone.first().copied().unwrap_or(0)
                }
            };
            most = most.max(map.len());
            same(&far, &map, probe)?;
            same(&far, &map, probe + 1)?;
            // Within the reservation nothing grows, whatever the pattern.
            if most <= capacity {
                prop_assert_eq!(far.grows, 0);
            }
        }
        // A clone keeps the reservation: refilling it up to `most` does not grow it either.
        let mut copy = far.clone();
        prop_assert_eq!(copy.grows, far.grows);
        let before = copy.grows;
        copy.clear();
        for k in 0..most.min(capacity) as i64 {
            copy.set(k, 1);
        }
        copy.check();
        if most <= capacity {
            prop_assert_eq!(copy.grows, before);
        }
    }
}

#[test]
fn splits_merges_and_growth() {
    let mut far = Far::new(0);
    // Ascending pushes fill blocks completely.
    for k in 0..1_000 {
        far.push_max(k * 2, 1);
    }
    far.check();
    assert_eq!(far.len(), 1_000);
    assert_eq!(far.order.len(), 1_000usize.div_ceil(BLOCK));
    assert!(far.grows >= 1, "past a zero reservation the store grows, counted");
    // Odd keys between them: every block splits at least once.
    for k in 0..1_000 {
        far.set(k * 2 + 1, 2);
    }
    far.check();
    assert_eq!(far.len(), 2_000);
    assert_eq!(far.get(7), 2);
    assert_eq!(far.get(8), 1);
    // Thin to one level in ten: blocks merge back, the balance rule bounds their number.
    for k in 0..2_000 {
        if k % 10 != 0 {
            far.set(k, 0);
        }
    }
    far.check();
    assert_eq!(far.len(), 200);
    assert!(far.order.len() <= 2 * 200 / BLOCK + 1);
    // Popping everything empties it; pushing again reuses freed blocks without growing.
    let grows = far.grows;
    while far.pop_max().is_some() {}
    far.check();
    assert_eq!((far.len(), far.last()), (0, None));
    for k in 0..2_000 {
        far.push_max(k, 1);
    }
    far.check();
    assert_eq!(far.grows, grows);
}

#[test]
fn reservation_holds_capacity_levels_in_the_worst_pattern() {
    let capacity = 4_096;
    let mut far = Far::new(capacity);
    // Fill, thin to half-empty blocks everywhere, refill in between: never grows.
    for round in 0..4 {
        for k in 0..capacity as i64 {
            if far.len() == capacity {
                break;
            }
            far.set(k * 4 + round, 1);
        }
        let keys: Vec<i64> = {
            let mut c = far.cursor();
            std::iter::from_fn(|| far.next_down(&mut c)).map(|(k, _)| k).collect()
        };
        for (i, k) in keys.iter().enumerate() {
            if far.len() > capacity / 2 && i % 2 == 0 {
                far.set(*k, 0);
            }
        }
        far.check();
        assert!(far.len() <= capacity);
    }
    assert_eq!(far.grows, 0);
}

#[test]
fn an_emptied_block_merges_with_its_right_neighbour() {
    let mut far = Far::new(1_000);
    for k in 0..2 * BLOCK as i64 {
        far.push_max(k, k + 1);
    }
    assert_eq!(far.order.len(), 2);
    // Thin the first block to one level: one level and a full block still hold BLOCK + 1.
    for k in 1..BLOCK as i64 {
        far.set(k, 0);
        far.check();
    }
    assert_eq!((far.order.len(), far.blen(far.block_at(0))), (2, 1));
    // Its last level goes: the empty block takes its neighbour's levels and first key.
    far.set(0, 0);
    far.check();
    assert_eq!(far.order.len(), 1);
    assert_eq!(far.firsts, [BLOCK as i64]);
    assert_eq!(far.get(BLOCK as i64), BLOCK as i64 + 1);
}
