//! `crpbot analyze` and `crpbot swing-backtest` on the real candles, and their bad-input errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

fn crpbot() -> Command {
    Command::new(env!("CARGO_BIN_EXE_crpbot"))
}

fn klines() -> Option<PathBuf> {
    let dir = std::env::var_os("CRPBOT_DATA_DIR").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data"))
    });
    let f = dir.join("klines/BTCUSDT_1h.csv.gz");
    if f.is_file() {
        Some(f)
    } else {
        eprintln!("skipping: real data not found at {} (set CRPBOT_DATA_DIR)", dir.display());
        None
    }
}

#[test]
fn analyze_prints_every_theory_and_indicator() {
    let Some(f) = klines() else { return };
    let out = crpbot()
        .args(["analyze", "--candles"])
        .arg(&f)
        .args(["--window", "200", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "adf",
        "hurst",
        "acf",
        "pacf",
        "ljung_box",
        "levene",
        "entropy",
        "markov",
        "kalman",
        "bayes",
        "monte_carlo",
        "random_forest",
        "variance",
        "context",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(v["acf"]["values"].as_array().unwrap().len(), 21);
    for ind in [
        "rsi_14",
        "macd",
        "macd_signal",
        "macd_hist",
        "atr_14",
        "bb_upper",
        "bb_middle",
        "bb_lower",
        "adx_14",
        "plus_di_14",
        "minus_di_14",
        "obv",
        "mfi_14",
    ] {
        assert!(v["indicators"][ind].is_number(), "indicator {ind}: {}", v["indicators"][ind]);
    }
    // --at picks an earlier bar.
    let at = v["open_time_ms"].as_i64().unwrap() - 3_600_000;
    let out = crpbot()
        .args(["analyze", "--candles"])
        .arg(&f)
        .args(["--at", &at.to_string()])
        .output()
        .unwrap();
    let w: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(w["open_time_ms"], at);
}

#[test]
fn swing_backtest_reports_walk_forward() {
    let Some(f) = klines() else { return };
    let out = crpbot()
        .args(["swing-backtest", "--candles"])
        .arg(&f)
        .args(["--strategy", "meanrev", "--walk-forward", "180d/30d", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["folds"].as_array().unwrap().len() > 50, "2018-2025 hourly in 30-day folds");
}

#[test]
fn bad_input_gives_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("crpbot-cli-swing-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.csv");
    std::fs::write(&empty, "").unwrap();
    let out = crpbot().args(["analyze", "--candles"]).arg(&empty).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("crpbot: error:"));
    let header = "open_time_ms,open,high,low,close,volume,close_time_ms,quote_volume,trades,taker_buy_base_volume,taker_buy_quote_volume\n";
    let backwards = dir.join("backwards.csv");
    std::fs::write(&backwards, format!("{header}7200000,1,2,0.5,1.5,10,10799999,15,3,5,7\n3600000,1,2,0.5,1.5,10,7199999,15,3,5,7\n")).unwrap();
    let out = crpbot().args(["analyze", "--candles"]).arg(&backwards).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    if let Some(f) = klines() {
        let out = crpbot()
            .args(["analyze", "--candles"])
            .arg(&f)
            .args(["--window", "100000000"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let out = crpbot()
            .args(["swing-backtest", "--candles"])
            .arg(&f)
            .args(["--strategy", "nope"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
    }
    std::fs::remove_dir_all(&dir).ok();
}
