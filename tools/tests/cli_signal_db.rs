//! `crpbot signal --db` and `crpbot signals replay --synth llm` against a mock LLM server on
//! 127.0.0.1: signals and usage are stored, the stored spend closes the budget across
//! invocations, and the API key reaches neither the store nor the output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use common::{crpbot, data_dir};
use crpbot_strategies::swing::signal::{LlmUsageRow, SignalStore};
use serde_json::Value;

const KEY: &str = "sk-db-test-KEY-7f3a91c2";
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

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!(
            "crpbot-cli-signal-db-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
        ));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `crpbot` with no LLM key in the environment.
fn bare() -> Command {
    let mut c = crpbot();
    c.env_remove("CRPBOT_LLM_KEY").env_remove("DEEPSEEK_API_KEY");
    c
}

fn ok_json(out: &Output) -> Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The math signal's entry (the close) at `AT`, to answer around.
fn close_at(f: &Path) -> f64 {
    let out = bare().args(["signal", "--at", AT, "--json", "--candles"]).arg(f).output().unwrap();
    ok_json(&out)["entry"].as_f64().unwrap()
}

/// A mock chat-completions server. Every request gets a 200 whose message content is
/// `content` with `{AUTH}` replaced by the request's `Authorization` header value (so a key
/// echoed back by a hostile server is in the response). Returns the base URL and the
/// requests seen.
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
            let head = loop {
                let n = s.read(&mut b).unwrap_or(0);
                if n == 0 {
                    break None;
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
                        break Some(head.to_string());
                    }
                }
            };
            let Some(head) = head else { continue };
            log.lock().unwrap().push(String::from_utf8_lossy(&req).to_string());
            let auth = head
                .lines()
                .find_map(|l| l.strip_prefix("Authorization: "))
                .unwrap_or("")
                .to_string();
            let body = serde_json::json!({
                "id": "x", "object": "chat.completion", "created": 1, "model": "deepseek-flash",
                "choices": [{"index": 0, "message": {"role": "assistant",
                             "content": content.replace("{AUTH}", &auth)},
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

fn long_answer(close: f64, reasoning: &str) -> String {
    serde_json::json!({
        "direction": "LONG", "confidence": 90, "entry": close, "stop_loss": close * 0.98,
        "take_profit": close * 1.04, "reasoning": reasoning,
        "key_factors": ["kalman", "hurst"],
    })
    .to_string()
}

/// `crpbot signal --db DB` with the key, against `url`, at `AT`.
fn llm_signal(f: &Path, db: &Path, url: &str) -> Output {
    bare()
        .env("CRPBOT_LLM_KEY", KEY)
        .args(["signal", "--at", AT, "--json", "--llm-base-url", url, "--candles"])
        .arg(f)
        .arg("--db")
        .arg(db)
        .output()
        .unwrap()
}

fn list(db: &Path) -> Vec<Value> {
    let out = bare().args(["signals", "list", "--json", "--db"]).arg(db).output().unwrap();
    let mut v = ok_json(&out).as_array().unwrap().clone();
    v.reverse(); // oldest first
    v
}

fn stats(db: &Path) -> Value {
    ok_json(&bare().args(["signals", "stats", "--json", "--db"]).arg(db).output().unwrap())
}

fn now_ms() -> i64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    i64::try_from(d.as_millis()).unwrap()
}

#[test]
fn signal_db_stores_and_the_stored_spend_closes_the_budget() {
    let Some(f) = klines() else { return };
    let dir = TempDir::new("budget");
    let db = dir.0.join("s.sqlite");
    let (url, seen) = mock(long_answer(close_at(&f), "trend and persistence agree"));

    // 1. An LLM signal, accepted, stored with its usage.
    let v = ok_json(&llm_signal(&f, &db, &url));
    assert_eq!(
        (v["direction"].as_str(), v["validation"]["status"].as_str()),
        (Some("LONG"), Some("accepted"))
    );
    assert_eq!(v["signal_id"], 1);
    assert_eq!(seen.lock().unwrap().len(), 1);
    let rows = list(&db);
    assert_eq!(rows.len(), 1);
    let s = &rows[0];
    assert_eq!((s["id"].as_i64(), s["validation"].as_str()), (Some(1), Some("ok")));
    assert_eq!(s["signal"]["variant"], "llm-deepseek-flash");
    assert_eq!(s["signal"]["direction"], "LONG");
    assert_eq!(s["signal"]["reasoning"], "trend and persistence agree");
    assert_eq!(s["signal"]["bar_open_time_ms"].as_i64(), Some(AT.parse().unwrap()));
    let usage = &stats(&db)["stats"]["usage"];
    assert_eq!((usage["requests"].as_u64(), usage["prompt_tokens"].as_u64()), (Some(1), Some(900)));
    let cost = usage["cost_usd"].as_f64().unwrap();
    assert!(cost > 0.0 && (cost - v["llm_usage"][0]["cost_usd"].as_f64().unwrap()).abs() < 1e-12);

    // 2. Today's stored spend reaches the daily cap: the next invocation is a HOLD and the
    //    server, which would answer, is never asked.
    SignalStore::open(&db)
        .unwrap()
        .insert_llm_usage(&LlmUsageRow {
            ts_ms: now_ms(),
            model: "deepseek-flash".into(),
            prompt_tokens: 0,
            completion_tokens: 0,
            cache_hit_tokens: 0,
            cost_usd: 5.0,
            status: "test".into(),
        })
        .unwrap();
    let v = ok_json(&llm_signal(&f, &db, &url));
    assert_eq!(
        (v["direction"].as_str(), v["validation"]["status"].as_str()),
        (Some("HOLD"), Some("hold"))
    );
    let why = v["hold_reason"].as_str().unwrap();
    assert!(why.contains("budget exhausted: daily spend"), "{why}");
    assert!(v["llm_usage"].as_array().unwrap().is_empty());
    assert_eq!(seen.lock().unwrap().len(), 1, "a request reached the server past the cap");
    let rows = list(&db);
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[1]["id"].as_i64(), rows[1]["signal"]["direction"].as_str()),
        (Some(2), Some("HOLD"))
    );
    assert!(rows[1]["signal"]["hold_reason"].as_str().unwrap().contains("budget exhausted"));

    // 3. The math synthesiser (no key) stores its signal too; without --db nothing is stored.
    let out = bare()
        .args(["signal", "--at", AT, "--json", "--candles"])
        .arg(&f)
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    let v = ok_json(&out);
    assert_eq!((v["variant"].as_str(), v["signal_id"].as_i64()), (Some("math-v1"), Some(3)));
    let out = bare().args(["signal", "--at", AT, "--json", "--candles"]).arg(&f).output().unwrap();
    assert!(ok_json(&out).get("signal_id").is_none());
    assert_eq!(list(&db).len(), 3);
}

/// The mock echoes the `Authorization` header (the key) in the model's reasoning and key
/// factors; after `crpbot signal --db` and an A/B `crpbot signals replay` with the LLM, the
/// key is in no byte of the store's files, stdout or stderr.
#[test]
fn the_key_reaches_neither_the_store_nor_the_output() {
    let Some(f) = klines() else { return };
    let dir = TempDir::new("scan");
    let db = dir.0.join("s.sqlite");
    let close = close_at(&f);
    let content = serde_json::json!({
        "direction": "LONG", "confidence": 90, "entry": close, "stop_loss": close * 0.98,
        "take_profit": close * 1.04, "reasoning": "header was {AUTH}",
        "key_factors": ["{AUTH}"],
    })
    .to_string();
    let (url, seen) = mock(content);
    let mut outputs = vec![llm_signal(&f, &db, &url)];
    ok_json(&outputs[0]);
    let replay = bare()
        .env("CRPBOT_LLM_KEY", KEY)
        .args(["signals", "--db"])
        .arg(&db)
        .args(["replay", "--synth", "math", "--synth", "llm", "--every", "24"])
        .args(["--from", "2024-05-01", "--to", "2024-05-02", "--llm-base-url", &url, "--candles"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(replay.status.success(), "{}", String::from_utf8_lossy(&replay.stderr));
    outputs.push(replay);
    // The key was sent and echoed back (so the scan below is not vacuous).
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|r| r.contains(&format!("Authorization: Bearer {KEY}"))));
    let stored = list(&db);
    assert!(stored.iter().any(|s| {
        s["signal"]["raw_response"].as_str().is_some_and(|r| r.contains("[REDACTED]"))
    }));
    for out in &outputs {
        for (name, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            let text = String::from_utf8_lossy(bytes);
            assert!(!text.contains(KEY), "key in {name}: {text}");
        }
    }
    let mut scanned = 0;
    for entry in std::fs::read_dir(&dir.0).unwrap() {
        let p = entry.unwrap().path();
        let bytes = std::fs::read(&p).unwrap();
        let hit = bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes());
        assert!(!hit, "key in {}", p.display());
        scanned += bytes.len();
    }
    assert!(scanned > 0);
}

/// An A/B replay of math against the LLM stores both arms' signals and one usage row per
/// LLM call, seeded and counted like `crpbot signal`.
#[test]
fn llm_replay_stores_usage_per_call() {
    let Some(f) = klines() else { return };
    let dir = TempDir::new("replay");
    let db = dir.0.join("s.sqlite");
    let (url, seen) = mock(long_answer(close_at(&f), "replayed"));
    let out = bare()
        .env("CRPBOT_LLM_KEY", KEY)
        .args(["signals", "--db"])
        .arg(&db)
        .args(["replay", "--synth", "math", "--synth", "llm", "--every", "24", "--json"])
        .args(["--from", "2024-05-01", "--to", "2024-05-03", "--llm-base-url", &url, "--candles"])
        .arg(&f)
        .output()
        .unwrap();
    let rep = ok_json(&out);
    assert_eq!((rep["analyses"].as_u64(), rep["signals"].as_u64()), (Some(3), Some(6)));
    assert_eq!(rep["llm_usage"]["rows"], 3);
    assert_eq!(seen.lock().unwrap().len(), 3);
    let st = stats(&db);
    assert_eq!(st["stats"]["usage"]["requests"], 3);
    let cost = st["stats"]["usage"]["cost_usd"].as_f64().unwrap();
    assert!((cost - rep["llm_usage"]["cost_usd"].as_f64().unwrap()).abs() < 1e-12 && cost > 0.0);
    let variants: Vec<(&str, u64)> = st["stats"]["by_variant"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["key"].as_str().unwrap(), g["signals"].as_u64().unwrap()))
        .collect();
    assert_eq!(variants, vec![("llm-deepseek-flash", 3), ("math-v1", 3)]);
    // The LLM's signals carry the replay time, not the wall clock.
    for s in list(&db) {
        let g = &s["signal"];
        assert_eq!(
            g["created_ms"].as_i64().unwrap(),
            g["bar_open_time_ms"].as_i64().unwrap() + 3_600_000
        );
    }
}
