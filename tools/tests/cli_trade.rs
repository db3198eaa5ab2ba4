//! `crpbot replay --strategies ... --report`: the four fast strategies through the circuit
//! breaker and the paper venue on both real recordings; deterministic, fees visible, every
//! intent, verdict and fill journaled.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{crpbot, data_dir};

use std::path::PathBuf;

#[test]
fn strategies_report_is_deterministic_and_shows_fees() {
    let Some(data) = data_dir() else { return };
    let dir = std::env::temp_dir().join(format!("crpbot-cli-trade-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let l2 = data.join("binance-spot-l2");
    let run = |report: &PathBuf, journal: Option<&PathBuf>| {
        let mut cmd = crpbot();
        cmd.args([
            "replay",
            "--venue",
            "binance-spot",
            "--strategies",
            "ofi,scalp,meanrev,statarb",
            "--report",
        ])
        .arg(report);
        for f in [
            "btcusdt_20240808.gz",
            "btcusdt_20240809.gz",
            "ethusdt_20240808.gz",
            "ethusdt_20240809.gz",
        ] {
            cmd.arg("--input").arg(l2.join(f));
        }
        if let Some(j) = journal {
            cmd.arg("--journal").arg(j);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        std::fs::read(report).unwrap()
    };
    let (r1, r2) = (dir.join("r1.json"), dir.join("r2.json"));
    let journal = dir.join("j");
    let a = run(&r1, Some(&journal));
    let b = run(&r2, None);
    assert_eq!(a, b, "same input, same report");
    let v: serde_json::Value = serde_json::from_slice(&a).unwrap();
    let c = &v["counters"];
    let intents = c["intents"].as_u64().unwrap();
    assert!(intents > 0, "{c}");
    let rejected: u64 =
        c["rejected"].as_object().unwrap().values().map(|n| n.as_u64().unwrap()).sum();
    assert_eq!(
        c["accepted"].as_u64().unwrap() + rejected,
        intents,
        "every intent gets one verdict"
    );
    for strat in ["ofi/", "scalp/", "meanrev/", "statarb/"] {
        assert!(
            c["intents_by_reason"].as_object().unwrap().keys().any(|k| k.starts_with(strat)),
            "{strat} never traded: {c}"
        );
    }
    assert!(v["fees_paid"].as_f64().unwrap() > 0.0);
    let overall = &v["metrics"]["overall"];
    for k in [
        "trades",
        "win_rate",
        "profit_factor",
        "expectancy",
        "sharpe",
        "sortino",
        "calmar",
        "omega",
        "max_drawdown",
        "max_drawdown_duration_ns",
        "var95",
        "cvar95",
        "fees",
    ] {
        assert!(overall.get(k).is_some(), "report lacks {k}: {overall}");
    }
    assert!(overall["fees"].as_f64().unwrap() > 0.0);
    // Every intent and verdict is in the journal, and fills match the counter.
    let stats = crpbot().args(["journal", "stats"]).arg(&journal).output().unwrap();
    let s: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(s["per_type"]["intent"].as_u64(), Some(intents));
    assert_eq!(s["per_type"]["verdict"].as_u64(), Some(intents));
    assert_eq!(s["per_type"]["fill"], c["fills"]);
    // Each intent follows the signals it was decided on; each fill is followed by the position
    // it changed, and each batch of fills by the account's equity.
    assert_eq!(s["per_type"]["signal"].as_u64(), Some(intents));
    assert_eq!(s["per_type"]["position"], c["fills"]);
    let equity = s["per_type"]["equity"].as_u64().unwrap();
    assert!(equity >= 1 && equity <= c["fills"].as_u64().unwrap(), "{s}");
    let dump = crpbot()
        .args(["journal", "dump"])
        .arg(&journal)
        .args(["--type", "signal", "--limit", "1"])
        .output()
        .unwrap();
    let first: serde_json::Value =
        serde_json::from_slice(dump.stdout.split(|&b| b == b'\n').next().unwrap()).unwrap();
    assert!(first["microprice_ticks"].as_f64().unwrap() > 0.0, "{first}");
    assert!(first["imbalance"].as_f64().unwrap().abs() <= 1.0, "{first}");
    // Replaying the journal through the engine (fused and pair) re-makes every decision record.
    for topology in ["fused", "pair"] {
        let out = crpbot()
            .args(["replay", "--topology", topology, "--from-journal"])
            .arg(&journal)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let r: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert!(out.status.success(), "{r}\n{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(r["first_decision_divergence"], serde_json::Value::Null, "{r}");
        assert_eq!(r["first_divergence"], serde_json::Value::Null, "{r}");
        let records = ["intent", "verdict", "fill", "signal", "position", "equity"]
            .iter()
            .map(|t| s["per_type"][t].as_u64().unwrap())
            .sum::<u64>();
        assert_eq!(r["decisions_compared"].as_u64(), Some(records), "{r}");
        assert_eq!(r["topology"], topology);
    }
    // The journal's strategies re-run with --report: the same metrics report as the original
    // replay, byte for byte. Other strategies: a report of their own, decisions not checked.
    let again = dir.join("again.json");
    let out = crpbot()
        .args(["replay", "--from-journal"])
        .arg(&journal)
        .arg("--report")
        .arg(&again)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read(&again).unwrap(), a, "report from the journal differs");
    let ofi = dir.join("ofi.json");
    let out = crpbot()
        .args(["replay", "--from-journal"])
        .arg(&journal)
        .args(["--strategies", "ofi", "--report"])
        .arg(&ofi)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let r: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert!(out.status.success(), "{r}");
    assert_eq!(
        (r["decisions_checked"].as_bool(), r["strategies"].as_str()),
        (Some(false), Some("ofi"))
    );
    let rep: serde_json::Value = serde_json::from_slice(&std::fs::read(&ofi).unwrap()).unwrap();
    assert!(rep["counters"]["intents"].as_u64().unwrap() > 0, "{rep}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn unknown_strategy_is_refused() {
    let out = crpbot()
        .args(["replay", "--venue", "sim", "--duration", "1", "--strategies", "martingale"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown strategy"));
}
