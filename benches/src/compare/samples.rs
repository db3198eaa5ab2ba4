//! Turning raw samples into [`ComparisonEntry`]s and ratios.

use hdrhistogram::Histogram;

use crate::harness::ComparisonEntry;

/// Nearest-rank quantile of sorted samples (`q` in 0..=1); 0 for none.
pub(crate) fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// An entry from raw samples (sorted in place). `mean_ns` is given by the caller when the
/// samples are not equally weighted (e.g. total time / total updates).
pub(crate) fn entry_from_samples(
    name: &str,
    samples: &mut [f64],
    mean_ns: Option<f64>,
) -> ComparisonEntry {
    samples.sort_by(f64::total_cmp);
    let mean = mean_ns.unwrap_or_else(|| {
        if samples.is_empty() { 0.0 } else { samples.iter().sum::<f64>() / samples.len() as f64 }
    });
    ComparisonEntry {
        name: name.to_owned(),
        median_ns: quantile(samples, 0.5),
        p99_ns: quantile(samples, 0.99),
        mean_ns: mean,
        samples: samples.len() as u64,
    }
}

/// An entry from a latency histogram.
pub(crate) fn entry_from_histogram(name: &str, h: &Histogram<u64>) -> ComparisonEntry {
    let empty = h.is_empty();
    let q = |q: f64| if empty { 0.0 } else { h.value_at_quantile(q) as f64 };
    ComparisonEntry {
        name: name.to_owned(),
        median_ns: q(0.5),
        p99_ns: q(0.99),
        mean_ns: if empty { 0.0 } else { h.mean() },
        samples: h.len(),
    }
}

/// `("slow/fast", median(slow) / median(fast))` for each `(slow, fast)` pair of entry names
/// present with a positive `fast` median.
pub(crate) fn ratios(entries: &[ComparisonEntry], pairs: &[(&str, &str)]) -> Vec<(String, f64)> {
    let median = |n: &str| entries.iter().find(|e| e.name == n).map(|e| e.median_ns);
    pairs
        .iter()
        .filter_map(|&(slow, fast)| {
            let (s, f) = (median(slow)?, median(fast)?);
            (f > 0.0).then(|| (format!("{slow}/{fast}"), s / f))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 50.0);
        assert_eq!(quantile(&v, 0.99), 99.0);
        assert_eq!(quantile(&v, 1.0), 100.0);
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
        let mut s = vec![3.0, 1.0, 2.0];
        let e = entry_from_samples("x", &mut s, None);
        assert_eq!((e.median_ns, e.p99_ns, e.mean_ns, e.samples), (2.0, 3.0, 2.0, 3));
        let r = ratios(
            &[e.clone(), ComparisonEntry { name: "y".into(), median_ns: 5.0, ..e }],
            &[("y", "x"), ("x", "missing")],
        );
        assert_eq!(r, vec![("y/x".to_owned(), 2.5)]);
    }
}
