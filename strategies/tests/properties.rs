//! Property tests against naive reference models.
use std::collections::BTreeMap;

use crpbot_strategies::swing::portfolio::project_capped_simplex;
use crpbot_strategies::swing::{Candle, Interval, PartialPolicy, resample, ta};
use proptest::prelude::*;

fn series() -> impl Strategy<Value = Vec<Candle>> {
    // Random 15m bars with random gaps (outages), prices as small integers / 100.
    prop::collection::vec((1u8..4, 100u32..200, 0u32..30, 0u32..30, 0u32..60, 0u32..1000), 1..200)
        .prop_map(|v| {
            let mut t = 1_600_000_000_000i64 - 1_600_000_000_000i64 % 900_000;
            v.into_iter()
                .map(|(gap, o, up, down, c, vol)| {
                    t += i64::from(gap) * 900_000;
                    let open = f64::from(o);
                    let close = f64::from(o - down.min(o) + c.min(up + down));
                    let high = open.max(close) + f64::from(up);
                    let low = (open.min(close) - f64::from(down)).max(0.0);
                    Candle::new(t, open, high, low, close, f64::from(vol))
                })
                .collect()
        })
}

proptest! {
    #[test]
    fn resample_matches_naive_grouping(bars in series(), target in prop::sample::select(vec![Interval::H1, Interval::H4, Interval::D1])) {
        let got = resample(&bars, Interval::M15, target, PartialPolicy::Flag).expect("resample");
        let mut groups: BTreeMap<i64, Vec<Candle>> = BTreeMap::new();
        for b in &bars {
            groups.entry(b.open_time_ms.div_euclid(target.ms()) * target.ms()).or_default().push(*b);
        }
        prop_assert_eq!(got.len(), groups.len());
        for (g, (t, members)) in got.iter().zip(&groups) {
            prop_assert_eq!(g.open_time_ms, *t);
            prop_assert_eq!(g.open, members[0].open);
            prop_assert_eq!(g.close, members[members.len() - 1].close);
            prop_assert_eq!(g.high, members.iter().map(|m| m.high).fold(f64::MIN, f64::max));
            prop_assert_eq!(g.low, members.iter().map(|m| m.low).fold(f64::MAX, f64::min));
            prop_assert_eq!(g.volume, members.iter().map(|m| m.volume).sum::<f64>());
            prop_assert_eq!(g.complete, members.len() as i64 == target.ms() / Interval::M15.ms());
        }
        let dropped = resample(&bars, Interval::M15, target, PartialPolicy::Drop).expect("drop");
        prop_assert_eq!(dropped.len(), got.iter().filter(|g| g.complete).count());
    }

    #[test]
    fn capped_simplex_projection_is_feasible(v in prop::collection::vec(-5.0f64..5.0, 4..12), cap in 0.3f64..1.0) {
        let w = project_capped_simplex(&v, cap);
        prop_assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        prop_assert!(w.iter().all(|x| *x >= 0.0 && *x <= cap + 1e-12));
        // Order preserving: a larger input never gets a smaller weight.
        for i in 0..v.len() {
            for j in 0..v.len() {
                if v[i] > v[j] { prop_assert!(w[i] >= w[j] - 1e-12); }
            }
        }
    }

    #[test]
    fn rolling_max_min_and_sma_match_naive(x in prop::collection::vec(-1e3f64..1e3, 1..120), p in 1usize..30) {
        let mx = ta::max(&x, p);
        let mn = ta::min(&x, p);
        let sm = ta::sma(&x, p);
        for i in 0..x.len() {
            if i + 1 < p {
                prop_assert!(mx[i].is_nan() && mn[i].is_nan() && sm[i].is_nan());
            } else {
                let w = &x[i + 1 - p..=i];
                prop_assert_eq!(mx[i], w.iter().copied().fold(f64::MIN, f64::max));
                prop_assert_eq!(mn[i], w.iter().copied().fold(f64::MAX, f64::min));
                prop_assert!((sm[i] - w.iter().sum::<f64>() / p as f64).abs() < 1e-9);
            }
        }
    }
}
