//! `crpbot signal` on the real BTCUSDT 1h candles: the math signal without a key, the
//! fallback from `--synth llm`, and the LLM path against a mock server on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use common::{crpbot, data_dir};
use serde_json::Value;

const KEY: &str = "sk-cli-test-KEY-4b8e2d";
const AT: &str = "1714521600000"; // 2024-05-01 00:00 UTC

fn klines() -> Option<PathBuf> {
    let f = data_dir()?.join("klines/BTCUSDT_1h.csv.gz");
    if f.is_file() {
        Some(f)
    } else {
        eprintln!("skipping: {} not found (set CRPBOT_DATA_DIR)", f.display());
        None
    }
}

/// `crpbot signal` with no LLM key in the environment.
fn signal_cmd(f: &PathBuf) -> Command {
    let mut c = crpbot();
    c.args(["signal", "--candles"]).arg(f);
    c.env_remove("CRPBOT_LLM_KEY").env_remove("DEEPSEEK_API_KEY");
    c
}

fn json_of(out: &Output) -> Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn assert_complete(v: &Value) {
    for k in [
        "symbol",
        "bar_open_time_ms",
        "created_ms",
        "direction",
        "confidence",
        "entry",
        "stop_loss",
        "take_profit",
        "reasoning",
        "key_factors",
        "variant",
        "regime",
        "theories",
        "raw_response",
        "hold_reason",
        "validation",
        "llm_usage",
    ] {
        assert!(v.get(k).is_some(), "missing {k} in {v}");
    }
    assert!(["LONG", "SHORT", "HOLD"].contains(&v["direction"].as_str().unwrap()));
    assert!(
        ["accepted", "rejected", "hold"].contains(&v["validation"]["status"].as_str().unwrap())
    );
    let c = v["confidence"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&c));
    for p in ["entry", "stop_loss", "take_profit"] {
        assert!(v[p].as_f64().unwrap() > 0.0, "{p}");
    }
    assert!(v["theories"].as_object().unwrap().len() >= 9);
    if v["direction"] != "HOLD" {
        assert_eq!(v["validation"]["status"], "accepted");
    } else {
        assert!(v["hold_reason"].is_string());
    }
}

#[test]
fn math_signal_without_a_key() {
    let Some(f) = klines() else { return };
    let out = signal_cmd(&f).args(["--at", AT, "--json"]).output().unwrap();
    let v = json_of(&out);
    assert_complete(&v);
    assert_eq!((v["symbol"].as_str(), v["variant"].as_str()), (Some("BTCUSDT"), Some("math-v1")));
    assert_eq!(v["bar_open_time_ms"].as_i64(), Some(AT.parse().unwrap()));
    assert!(v["reasoning"].as_str().unwrap().contains("top contributors"));
    assert_eq!(v["key_factors"].as_array().unwrap().len(), 3);
    assert!(v["llm_usage"].as_array().unwrap().is_empty());
    // Deterministic: the same bar gives the same signal (but for the creation time).
    let mut again = json_of(&signal_cmd(&f).args(["--at", AT, "--json"]).output().unwrap());
    again["created_ms"] = v["created_ms"].clone();
    assert_eq!(again, v);
    // The last bar, pretty-printed, with a chosen symbol.
    let v = json_of(&signal_cmd(&f).args(["--symbol", "XBT"]).output().unwrap());
    assert_complete(&v);
    assert_eq!(v["symbol"], "XBT");
}

#[test]
fn llm_without_a_key_falls_back_to_math() {
    let Some(f) = klines() else { return };
    let out = signal_cmd(&f).args(["--synth", "llm", "--at", AT, "--json"]).output().unwrap();
    let v = json_of(&out);
    assert_eq!(v["variant"], "math-v1");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("falling back to the math synthesiser"), "{err}");
}

/// A one-shot mock chat-completions server answering with `content`; returns its base URL
/// and the requests it saw.
fn mock(content: String) -> (String, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut s) = conn else { continue };
            let mut req = Vec::new();
            let mut b = [0u8; 8192];
            // Headers, then Content-Length bytes of body.
            loop {
                let n = s.read(&mut b).unwrap_or(0);
                if n == 0 {
                    break;
                }
                req.extend_from_slice(&b[..n]);
                let text = String::from_utf8_lossy(&req).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.strip_prefix("Content-Length: ").map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    if body.len() >= len {
                        break;
                    }
                }
            }
            log.lock().unwrap().push(String::from_utf8_lossy(&req).to_string());
            let body = serde_json::json!({
                "id": "x", "object": "chat.completion", "created": 1, "model": "deepseek-flash",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 900, "completion_tokens": 120,
                          "prompt_cache_hit_tokens": 0, "prompt_cache_miss_tokens": 900},
            })
            .to_string();
            let resp = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len());
            let _ = s.write_all(resp.as_bytes());
        }
    });
    (url, seen)
}

#[test]
fn llm_signal_against_a_mock_server() {
    let Some(f) = klines() else { return };
    // The close of the bar (the math signal's entry) to answer around.
    let close = json_of(&signal_cmd(&f).args(["--at", AT, "--json"]).output().unwrap())["entry"]
        .as_f64()
        .unwrap();
    let answer = serde_json::json!({
        "direction": "LONG", "confidence": 90, "entry": close, "stop_loss": close * 0.98,
        "take_profit": close * 1.04, "reasoning": "trend and persistence agree",
        "key_factors": ["kalman", "hurst"],
    })
    .to_string();
    let (url, seen) = mock(answer);
    for (var, synth) in [("CRPBOT_LLM_KEY", None), ("DEEPSEEK_API_KEY", Some("llm"))] {
        let mut c = signal_cmd(&f);
        c.env(var, KEY).args(["--llm-base-url", &url, "--at", AT, "--json"]);
        if let Some(s) = synth {
            c.args(["--synth", s]);
        }
        let out = c.output().unwrap();
        let v = json_of(&out);
        assert_complete(&v);
        assert_eq!(v["variant"], "llm-deepseek-flash");
        assert_eq!(
            (v["direction"].as_str(), v["validation"]["status"].as_str()),
            (Some("LONG"), Some("accepted"))
        );
        assert_eq!(v["confidence"].as_f64(), Some(90.0));
        assert_eq!(v["reasoning"], "trend and persistence agree");
        assert!(v["raw_response"].as_str().unwrap().contains("\"confidence\":90"));
        let usage = v["llm_usage"].as_array().unwrap();
        assert_eq!((usage.len(), usage[0]["status"].as_str()), (1, Some("ok")));
        assert!(usage[0]["cost_usd"].as_f64().unwrap() > 0.0);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!all.contains(KEY), "key leaked: {all}");
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|r| r.starts_with("POST /chat/completions HTTP/1.1")
        && r.contains(&format!("Authorization: Bearer {KEY}"))
        && r.contains("\"response_format\":{\"type\":\"json_object\"}")));
}

#[test]
fn llm_unreachable_is_a_hold_not_an_error() {
    let Some(f) = klines() else { return };
    // A port with nothing listening (bound, then closed).
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = signal_cmd(&f)
        .env("CRPBOT_LLM_KEY", KEY)
        .args(["--llm-base-url", &format!("http://127.0.0.1:{port}"), "--at", AT, "--json"])
        .output()
        .unwrap();
    let v = json_of(&out);
    assert_complete(&v);
    assert_eq!(
        (v["direction"].as_str(), v["validation"]["status"].as_str()),
        (Some("HOLD"), Some("hold"))
    );
    assert!(v["hold_reason"].as_str().unwrap().starts_with("transport:"), "{v}");
}

#[test]
fn bad_input_is_a_clear_error() {
    let out = crpbot().args(["signal", "--candles", "/nonexistent/x.csv"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loading /nonexistent/x.csv"));
    let Some(f) = klines() else { return };
    let out = signal_cmd(&f).args(["--at", "123"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no candle opens at 123"));
}
