//! The report's JSON: documented field names present, and a lossless round trip.
#![allow(clippy::unwrap_used)]

use crpbot_benches::harness::{
    BenchReport, Comparison, ComparisonEntry, LatencyRecorder, RunResult, Stamps,
};
use serde_json::Value;

fn sample_report() -> BenchReport {
    let mut rec = LatencyRecorder::new().unwrap();
    for i in 1..=1_000u64 {
        rec.record(&Stamps {
            ingress: 10,
            decoded: 10 + i,
            booked: 20 + 2 * i,
            signalled: 30 + 3 * i,
            verdict: 40 + 4 * i,
            journaled: 50 + 5 * i,
        });
    }
    let mut report = BenchReport::new("crpbot bench --test");
    // Exactly representable floats, so the comparison below is exact.
    report.machine.load_avg = Some([0.5, 1.25, 2.0]);
    report.runs.push(RunResult {
        topology: "fused".into(),
        wait: "spin".into(),
        input: "synthetic".into(),
        rate: Some(100_000),
        messages: 1_000,
        events: 3_000,
        elapsed_s: 0.5,
        throughput_msgs_per_s: 2_000.0,
        stages: rec.summary(),
        notes: vec!["a note".into()],
    });
    report.comparisons.push(Comparison {
        name: "book_vs_btreemap".into(),
        unit: "ns per level update".into(),
        entries: vec![
            ComparisonEntry {
                name: "crpbot".into(),
                median_ns: 16.0,
                p99_ns: 40.0,
                mean_ns: 18.5,
                samples: 300,
            },
            ComparisonEntry {
                name: "btreemap".into(),
                median_ns: 80.0,
                p99_ns: 160.0,
                mean_ns: 85.25,
                samples: 300,
            },
        ],
        ratios: vec![("btreemap/crpbot".into(), 5.0)],
        notes: vec![],
    });
    report
}

#[test]
fn json_has_the_documented_fields_and_round_trips() {
    let report = sample_report();
    let text = report.to_json_pretty().unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    // The fields the integrator's acceptance test reads.
    assert!(v["machine"]["cpu_model"].is_string());
    assert!(v["machine"]["cores"].as_u64().unwrap() >= 1);
    assert!(v["machine"]["kernel"].is_string());
    assert!(v["git_rev"].is_string());
    assert!(v["started_utc"].as_str().unwrap().ends_with('Z'));
    assert_eq!(v["command"], "crpbot bench --test");
    let run = &v["runs"][0];
    assert_eq!(run["throughput_msgs_per_s"], 2_000.0);
    assert_eq!(run["rate"], 100_000);
    let stages = run["stages"].as_array().unwrap();
    let names: Vec<&str> = stages.iter().map(|s| s["stage"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["decode", "book", "signals", "risk", "journal", "tick_to_decision", "end_to_end"]
    );
    for s in stages {
        for key in ["count", "p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns"] {
            assert!(s[key].is_u64(), "{key} in {s}");
        }
        assert!(s["mean_ns"].is_f64());
        assert_eq!(s["count"], 1_000);
    }
    // book = booked − decoded = 10 + i: p99 of 11..=1010 is 1000 (exact below 2048).
    assert_eq!(stages[1]["p99_ns"], 1_000);
    let cmp = &v["comparisons"][0];
    assert_eq!(cmp["entries"][1]["median_ns"], 80.0);
    assert_eq!(cmp["ratios"][0][0], "btreemap/crpbot");
    assert_eq!(cmp["ratios"][0][1], 5.0);

    let back = BenchReport::from_json(&text).unwrap();
    assert_eq!(back, report);
}

#[test]
fn tables_show_every_run_and_comparison() {
    let report = sample_report();
    let mut out = Vec::new();
    report.print_table(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    println!("{text}");
    for needle in [
        "command: crpbot bench --test",
        "load average at start: 0.50 1.25 2.00",
        "run 1: topology fused | wait spin | input synthetic | rate 100,000 msg/s",
        "throughput 2.00 k msg/s",
        "tick_to_decision",
        "comparison book_vs_btreemap (ns per level update)",
        "ratio btreemap/crpbot: 5.00x",
        "note: a note",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    // decode = i ns for i in 1..=1000: p50 500 ns, max 1.00 µs.
    let decode = text.lines().find(|l| l.trim_start().starts_with("decode")).unwrap();
    let cols: Vec<&str> = decode.split_whitespace().collect();
    assert_eq!(cols[..4], ["decode", "1000", "500", "ns"], "{decode}");
    assert!(decode.ends_with("1.00 µs"), "{decode}");
}
