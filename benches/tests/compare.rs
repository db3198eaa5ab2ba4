//! The comparisons run end to end on small inputs and give finite positive figures. No timing
//! thresholds: only that every number is a number and the outputs agree.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use crpbot_benches::compare::{self, CompareError, Comparison};
use crpbot_core::Registry;

fn check(c: &Comparison, names: &[&str], ratios: &[&str]) {
    println!("{c:#?}");
    let got: Vec<&str> = c.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(got, names);
    for e in &c.entries {
        assert!(e.samples > 0, "{e:?}");
        for v in [e.median_ns, e.p99_ns, e.mean_ns] {
            assert!(v.is_finite() && v > 0.0, "{e:?}");
        }
        assert!(e.p99_ns >= e.median_ns, "{e:?}");
    }
    let got: Vec<&str> = c.ratios.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(got, ratios);
    for (n, r) in &c.ratios {
        assert!(r.is_finite() && *r > 0.0, "{n} = {r}");
    }
    assert!(!c.notes.iter().any(|n| n.contains("WARNING")), "{:?}", c.notes);
}

#[test]
fn hop_measures_all_three_queues() {
    let c = compare::hop(2_000, true).unwrap();
    check(&c, &["rtrb", "crossbeam", "std_mpsc"], &["crossbeam/rtrb", "std_mpsc/rtrb"]);
    assert!(c.entries.iter().all(|e| e.samples == 2_000));
    let c = compare::hop(50, false).unwrap();
    assert!(c.notes.iter().any(|n| n.contains("not pinned")));
}

#[test]
fn book_vs_btreemap_on_one_recorded_day() {
    let Some(dir) = common::data_dir() else { return };
    let reg = Registry::with_defaults();
    let inputs = compare::recordings(&dir, "ethusdt");
    assert_eq!(inputs.len(), 2, "{inputs:?}");
    let c = compare::book_vs_btreemap(&inputs[..1], &reg, Duration::from_millis(50)).unwrap();
    check(&c, &["crpbot", "btreemap"], &["btreemap/crpbot"]);
    let r = c.ratio("btreemap/crpbot").unwrap();
    let want = c.entry("btreemap").unwrap().median_ns / c.entry("crpbot").unwrap().median_ns;
    assert!((r - want).abs() < 1e-9);
}

#[test]
fn decode_on_one_recorded_day() {
    let Some(dir) = common::data_dir() else { return };
    let reg = Registry::with_defaults();
    let inputs = compare::recordings(&dir, "btcusdt");
    let c = compare::decode(&inputs[..1], &reg, Duration::from_millis(50)).unwrap();
    check(&c, &["crpbot", "simd_json", "serde_json"], &["serde_json/crpbot", "simd_json/crpbot"]);
    // Every sample of a pass is one message per decoder.
    let n = c.entries[0].samples;
    assert!(c.entries.iter().all(|e| e.samples == n));
    assert!(!c.notes.iter().any(|n| n.contains("decode failures")), "{:?}", c.notes);
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let reg = Registry::with_defaults();
    let budget = Duration::from_millis(1);
    assert!(matches!(compare::book_vs_btreemap(&[], &reg, budget), Err(CompareError::NoInputs)));
    let missing = std::path::PathBuf::from("/nonexistent/btcusdt_x.gz");
    assert!(matches!(
        compare::decode(std::slice::from_ref(&missing), &reg, budget),
        Err(CompareError::Input { .. })
    ));
    // A readable file with no depth updates.
    let dir = std::env::temp_dir().join(format!("crpbot-benches-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("btcusdt_empty.txt");
    std::fs::write(&file, "1 {\"result\":null,\"id\":1}\nnot a line\n").unwrap();
    let inputs = vec![file];
    assert!(matches!(compare::decode(&inputs, &reg, budget), Err(CompareError::NoDepth)));
    assert!(matches!(compare::book_vs_btreemap(&inputs, &reg, budget), Err(CompareError::NoDepth)));
    std::fs::remove_dir_all(&dir).unwrap();
}
