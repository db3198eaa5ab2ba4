//! The async swing lane in `crpbot demo`: its orders reach the journal as intents of the
//! swing strategy with risk verdicts, and a synthesiser that never answers (an LLM mock on
//! 127.0.0.1 that accepts and stays silent) times out without holding up the hot lane.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use common::crpbot;
use serde_json::Value;

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("crpbot-swing-lane-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn dump(journal: &Path, ty: &str) -> Vec<Value> {
    let out =
        crpbot().args(["journal", "dump"]).arg(journal).args(["--type", ty]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `crpbot demo` paced for `secs` seconds with 100 ms swing bars (50 bars after ~5 s).
fn demo(dir: &Path, secs: &str, extra: &[&str]) -> (Value, Duration) {
    let report = dir.join("report.json");
    let start = Instant::now();
    let out = crpbot()
        .args(["demo", "--duration", secs, "--seed", "7", "--plain", "--journal"])
        .arg(dir.join("journal"))
        .arg("--report")
        .arg(&report)
        .args(["--kill-flag"])
        .arg(dir.join("kill"))
        .args(["--swing-bar-ms", "100", "--swing-every-ms", "1000"])
        .args(extra)
        .env_remove("CRPBOT_LLM_KEY")
        .env_remove("DEEPSEEK_API_KEY")
        .output()
        .unwrap();
    let took = start.elapsed();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let off = extra.contains(&"--no-swing");
    let line = if off { "swing lane: off" } else { "swing lane: {" };
    assert!(stdout.contains(line), "{stdout}");
    (serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap(), took)
}

#[test]
fn demo_swing_orders_are_journaled_with_verdicts() {
    let dir = tmp("orders");
    let (report, _) = demo(&dir, "12", &[]);
    let sw = &report["swing"];
    assert!(sw["trades_seen"].as_u64().unwrap() > 0, "{sw}");
    assert!(sw["bars"].as_u64().unwrap() >= 50, "{sw}");
    assert!(sw["analyses"].as_u64().unwrap() > 0, "{sw}");
    assert_eq!(sw["errors"], 0, "{sw}");
    assert_eq!(sw["timeouts"], 0, "{sw}");
    let sent = sw["orders_sent"].as_u64().unwrap();
    assert!(sent > 0, "{sw}");
    let journal = dir.join("journal");
    let swing_intents: Vec<Value> =
        dump(&journal, "intent").into_iter().filter(|i| i["strategy"] == 8).collect();
    // Orders sent in the last instants may still be in the ring when the hot lane stops.
    assert!(!swing_intents.is_empty() && swing_intents.len() as u64 <= sent, "{sw}");
    let verdicts: BTreeSet<u64> = dump(&journal, "verdict")
        .into_iter()
        .filter(|v| v["strategy"] == 8)
        .map(|v| v["client_id"].as_u64().unwrap())
        .collect();
    let mut ids = BTreeSet::new();
    for i in &swing_intents {
        let id = i["client_id"].as_u64().unwrap();
        assert_eq!(id >> 48, 8, "swing client ids carry the strategy id: {i}");
        assert!(ids.insert(id), "duplicate client id {i}");
        assert!(verdicts.contains(&id), "no verdict for {i}");
        assert!(i["reason"] == 801 || i["reason"] == 802, "{i}");
        assert_eq!(i["order_type"], "Limit", "{i}");
        let (px, stop, tp): (f64, f64, f64) = (
            i["px"].as_str().unwrap().parse().unwrap(),
            i["stop_px"].as_str().unwrap().parse().unwrap(),
            i["take_profit_px"].as_str().unwrap().parse().unwrap(),
        );
        if i["side"] == "Buy" {
            assert!(stop < px && px < tp, "{i}");
        } else {
            assert!(tp < px && px < stop, "{i}");
        }
    }
    assert_eq!(verdicts.len(), ids.len());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn demo_no_swing_has_no_swing_orders() {
    let dir = tmp("off");
    let (report, _) = demo(&dir, "3", &["--no-swing"]);
    assert!(report["swing"].is_null());
    let journal = dir.join("journal");
    assert!(dump(&journal, "intent").iter().all(|i| i["strategy"] != 8));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An LLM that accepts connections and never answers: every synthesis misses the swing
/// lane's 200 ms hard timeout; the demo still runs to its end and trades in the fast lane.
#[test]
fn silent_llm_times_out_without_stalling_the_hot_lane() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for mut s in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = s.set_read_timeout(Some(Duration::from_millis(50)));
            let _ = s.read(&mut buf);
            held.push(s); // never answered, never closed
        }
    });
    let dir = tmp("llm");
    let url = format!("http://127.0.0.1:{port}");
    let report = dir.join("report.json");
    let start = Instant::now();
    let out = crpbot()
        .args(["demo", "--duration", "10", "--seed", "7", "--plain", "--journal"])
        .arg(dir.join("journal"))
        .arg("--report")
        .arg(&report)
        .arg("--kill-flag")
        .arg(dir.join("kill"))
        .args(["--swing-bar-ms", "100", "--swing-every-ms", "500", "--swing-synth", "llm"])
        .args(["--swing-timeout-ms", "200", "--llm-timeout-secs", "30", "--llm-base-url", &url])
        .env("CRPBOT_LLM_KEY", "sk-fake-swing-lane-test")
        .output()
        .unwrap();
    let took = start.elapsed();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Generous: the point is that it finishes (a 30 s LLM deadline is never waited for).
    assert!(took < Duration::from_secs(10 + 25), "took {took:?}");
    let report: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let sw = &report["swing"];
    assert!(sw["timeouts"].as_u64().unwrap() >= 1, "{sw}");
    assert_eq!(sw["orders_sent"], 0, "{sw}");
    assert!(report["trading"]["counters"]["intents"].as_u64().unwrap() > 0, "{report}");
    std::fs::remove_dir_all(&dir).unwrap();
}
