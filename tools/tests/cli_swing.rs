//! `crpbot analyze` and `crpbot swing-backtest` on the real candles, and their bad-input errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::crpbot;

use std::path::PathBuf;

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

/// A one-shot HTTP server on 127.0.0.1 answering every request with a body chosen by path.
fn serve_context(requests: usize) -> (u16, std::thread::JoinHandle<()>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        for _ in 0..requests {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap();
            let req = String::from_utf8_lossy(&buf[..n]);
            // PROTOCOLS.md §5 sample bodies.
            let body = if req.starts_with("GET /global") {
                r#"{"data": {"market_cap_percentage": {"btc": 37.53026055852505, "eth": 18.514861036921754}, "market_cap_change_percentage_24h_usd": -1.348771609207866, "updated_at": 1662035545}}"#
            } else {
                r#"{"name": "Fear and Greed Index", "data": [{"value": "20", "value_classification": "Extreme Fear", "timestamp": "1762560000", "time_until_update": "30392"}], "metadata": {"error": null}}"#
            };
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            s.write_all(resp.as_bytes()).unwrap();
        }
    });
    (port, handle)
}

#[test]
fn analyze_fetches_market_context_or_says_it_is_offline() {
    let Some(f) = klines() else { return };
    let (port, server) = serve_context(2);
    let out = crpbot()
        .args(["analyze", "--candles"])
        .arg(&f)
        .args(["--context", "--coingecko-url", &format!("http://127.0.0.1:{port}/global")])
        .args(["--fear-greed-url", &format!("http://127.0.0.1:{port}/fng/?limit=1")])
        .output()
        .unwrap();
    server.join().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ctx = &v["context"];
    assert_ne!(ctx["source"], "neutral_offline", "{ctx}");
    assert!(ctx["global"].is_object() && ctx["fear_greed"].is_object(), "{ctx}");
    // Nobody listening: the neutral result, labelled, with the errors.
    let out = crpbot()
        .args(["analyze", "--candles"])
        .arg(&f)
        .args([
            "--context",
            "--coingecko-url",
            "http://127.0.0.1:9/global",
            "--fear-greed-url",
            "http://127.0.0.1:9/fng",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["context"]["source"], "neutral_offline");
    assert_eq!(v["context"]["signal"], 0.0);
    assert_eq!(v["context"]["errors"].as_array().unwrap().len(), 2);
}
