//! `crpbot demo` (README's first command) and `crpbot bench` end to end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{crpbot, data_dir};

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("crpbot-demo-bench-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn demo(dir: &std::path::Path, name: &str, fast: bool) -> serde_json::Value {
    let report = dir.join(format!("{name}.json"));
    let mut cmd = crpbot();
    cmd.args(["demo", "--duration", "5", "--seed", "7", "--plain", "--report"])
        .arg(&report)
        .arg("--journal")
        .arg(dir.join(format!("{name}-journal")))
        .arg("--kill-flag")
        .arg(dir.join("kill"));
    if fast {
        cmd.arg("--fast");
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("final report") && stdout.contains("tick_to_decision"), "{stdout}");
    assert!(stdout.contains("replay it: crpbot journal"), "{stdout}");
    serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap()
}

#[test]
fn demo_twice_with_one_seed_makes_the_same_trades() {
    let dir = tmp("demo");
    let a = demo(&dir, "a", false);
    let b = demo(&dir, "b", true);
    // Paced or not, the same seed gives the same decisions (event time, not wall time).
    assert_eq!(a["trading"], b["trading"]);
    let counters = &a["trading"]["counters"];
    assert!(counters["intents"].as_u64().unwrap() > 0, "{counters}");
    assert!(counters["fills"].as_u64().unwrap() > 0, "{counters}");
    assert!(a["trading"]["fees_paid"].as_f64().unwrap() > 0.0);
    let stages = a["latency"]["runs"][0]["stages"].as_array().unwrap();
    assert!(
        stages.iter().any(|s| s["stage"] == "tick_to_decision" && s["count"].as_u64() > Some(0))
    );
    println!("demo --duration 5 --seed 7: {counters}");
    std::fs::remove_dir_all(&dir).ok();
}

fn check_bench_json(path: &std::path::Path, runs: usize) -> serde_json::Value {
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    assert!(j["machine"]["cpu_model"].is_string(), "{j}");
    assert!(j["machine"]["cores"].as_u64() > Some(0), "{j}");
    assert!(j["machine"]["kernel"].is_string(), "{j}");
    assert!(j["git_rev"].is_string(), "{j}");
    let r = j["runs"].as_array().unwrap();
    assert_eq!(r.len(), runs);
    for run in r {
        assert!(run["throughput_msgs_per_s"].as_f64() > Some(0.0));
        for stage in ["decode", "book", "signals", "risk", "journal", "tick_to_decision"] {
            let s = run["stages"].as_array().unwrap().iter().find(|s| s["stage"] == stage);
            let s = s.unwrap_or_else(|| panic!("no stage {stage}"));
            assert!(s["count"].as_u64() > Some(0), "{stage}: {s}");
            assert!(s["p99_ns"].as_u64() >= s["p50_ns"].as_u64(), "{stage}: {s}");
        }
    }
    j
}

#[test]
fn bench_on_a_recording_reports_every_stage_for_every_topology() {
    let Some(data) = data_dir() else { return };
    let dir = tmp("bench-rec");
    let json = dir.join("bench.json");
    let out = crpbot()
        .args(["bench", "--input"])
        .arg(data.join("binance-spot-l2/ethusdt_20240808.gz"))
        .args(["--topologies", "fused,pair,split", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let j = check_bench_json(&json, 3);
    // One thread, two or three: the same decisions.
    let trading = |run: &serde_json::Value| {
        let notes = run["notes"].as_array().unwrap();
        notes.iter().find(|n| n.as_str().unwrap().starts_with("trading counters")).cloned()
    };
    let runs = j["runs"].as_array().unwrap();
    let names: Vec<_> = runs.iter().map(|r| r["topology"].as_str().unwrap()).collect();
    assert_eq!(names, ["fused", "pair", "split"]);
    assert!(trading(&runs[0]).is_some(), "{}", runs[0]);
    assert_eq!(trading(&runs[0]), trading(&runs[1]));
    assert_eq!(trading(&runs[0]), trading(&runs[2]));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bench_at_a_fixed_rate_on_the_simulator() {
    let dir = tmp("bench-rate");
    let json = dir.join("bench.json");
    let out = crpbot()
        .args(["bench", "--rate", "10k", "--duration", "1", "--topologies", "fused", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let j = check_bench_json(&json, 1);
    assert_eq!(j["runs"][0]["rate"].as_u64(), Some(10_000));
    // The schedule is judged on the send window, with the late sends counted.
    let notes = j["runs"][0]["notes"].as_array().unwrap();
    assert!(
        notes
            .iter()
            .filter_map(|n| n.as_str())
            .any(|n| (n.starts_with("rate kept") || n.starts_with("could not keep the rate"))
                && n.contains("send window")
                && n.contains("10000 messages")),
        "{notes:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
