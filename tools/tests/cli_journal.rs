//! `crpbot replay --journal`, `crpbot journal verify|dump|stats` and `crpbot replay
//! --from-journal` end to end, on the real recording.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{crpbot, data_dir};

use std::path::{Path, PathBuf};
use std::process::Output;

use crpbot_core::{InstrumentId, Venue};
use crpbot_journal::codec::{self, ControlKind};
use crpbot_journal::{Journal, JournalConfig, RecordType};

fn tmp(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("crpbot-cli-journal-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn json(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().expect("a JSON line")).expect("JSON")
}

fn from_journal(dir: &Path) -> (Output, serde_json::Value) {
    let out = crpbot().args(["replay", "--from-journal"]).arg(dir).output().unwrap();
    let v = json(&out);
    (out, v)
}

#[test]
fn journaled_replay_verifies_dumps_and_replays_identically() {
    let Some(data) = data_dir() else { return };
    let dir = tmp("real");
    let journal = dir.join("j");
    let input = data.join("binance-spot-l2/ethusdt_20240808.gz");
    let out = crpbot()
        .args(["replay", "--input"])
        .arg(&input)
        .arg("--journal")
        .arg(&journal)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = json(&out);

    let v = crpbot().args(["journal", "verify"]).arg(&journal).output().unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    let verify = json(&v);
    assert_eq!(verify["ok"], true);

    let s = json(&crpbot().args(["journal", "stats"]).arg(&journal).output().unwrap());
    assert_eq!(s["per_type"]["raw_frame"], summary["messages"]);
    assert_eq!(s["per_type"]["control"], 2, "start and stop");
    assert_eq!(s["records"], verify["records"]);

    let d = crpbot()
        .args(["journal", "dump"])
        .arg(&journal)
        .args(["--type", "market", "--limit", "2"])
        .output()
        .unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&d.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|l| l["type"] == "market" && l["symbol"] == "ETHUSDT"));
    let csv = crpbot()
        .args(["journal", "dump"])
        .arg(&journal)
        .args(["--format", "csv", "--limit", "1"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&csv.stdout).starts_with("seq,ts_ns,type,fields\n1,"));

    // Replay from the journal three times: no divergence, identical hash, same book results.
    let mut hashes = Vec::new();
    for _ in 0..3 {
        let (out, r) = from_journal(&journal);
        assert!(out.status.success(), "{r}");
        assert_eq!(r["first_divergence"], serde_json::Value::Null);
        assert_eq!(r["book_updates_applied"], summary["book_updates_applied"]);
        assert_eq!(r["gaps"], 0);
        hashes.push(r["events_hash"].as_str().unwrap().to_owned());
    }
    assert!(hashes.windows(2).all(|w| w[0] == w[1]), "{hashes:?}");

    // Flip one byte inside the first segment's records: verify fails and names the offset.
    let seg = std::fs::read_dir(&journal)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jseg"))
        .min()
        .unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[4096] ^= 0x40;
    std::fs::write(&seg, &bytes).unwrap();
    let bad = crpbot().args(["journal", "verify"]).arg(&journal).output().unwrap();
    assert!(!bad.status.success());
    let report = json(&bad);
    assert_eq!(report["ok"], false);
    assert!(report["first_bad"]["offset"].as_u64().is_some(), "{report}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn replay_from_journal_reports_the_first_divergence() {
    let dir = tmp("diverge");
    let frame = br#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":7,"p":"100.00","q":"1.00000000","T":1,"m":false,"M":true}}"#;
    {
        let mut w = Journal::open(&dir, JournalConfig::with_segment_bytes(1 << 20)).unwrap();
        let mut buf = Vec::new();
        codec::encode_control(ControlKind::Start, "test", &mut buf);
        w.append(RecordType::CONTROL, 1, 0, &buf).unwrap();
        codec::encode_raw_frame(Venue::BinanceSpot, None, frame, &mut buf);
        w.append(RecordType::RAW_FRAME, 1, 5, &buf).unwrap();
        // The journal claims a different trade price than the frame says.
        let wrong = crpbot_core::MarketEvent::Trade(crpbot_core::Trade {
            ts_exch_ns: 1_000_000,
            ts_local_ns: 5,
            trade_id: 7,
            px: crpbot_core::Px(10_001),
            qty: crpbot_core::Qty(100_000_000),
            instrument: InstrumentId(0),
            aggressor: crpbot_core::Side::Buy,
            _pad: [0; 5],
        });
        let mut b = [0u8; codec::MAX_TYPED_LEN];
        let n = codec::encode_market(&wrong, &mut b);
        w.append(RecordType::MARKET_EVENT, 1, 5, &b[..n]).unwrap();
        w.sync().unwrap();
    }
    let (out, r) = from_journal(&dir);
    assert!(!out.status.success());
    assert_eq!(r["first_divergence"]["event_index"], 0, "{r}");
    assert!(r["first_divergence"]["detail"].as_str().unwrap().contains("px: Px(10001)"), "{r}");
    std::fs::remove_dir_all(&dir).ok();
}

/// A Coinbase capture through the engine into a journal, then back from the journal through the
/// engine (pair layout): the same events and the same decisions.
#[test]
fn coinbase_capture_journals_and_replays_identically() {
    let Some(data) = data_dir() else { return };
    let capture = data.join("venue-captures/COINBASE.jsonl.zst");
    if !capture.is_file() {
        eprintln!("skipping: {} not found", capture.display());
        return;
    }
    let dir = tmp("coinbase");
    let journal = dir.join("j");
    let out = crpbot()
        .args(["replay", "--venue", "coinbase", "--strategies", "ofi,scalp", "--input"])
        .arg(&capture)
        .arg("--journal")
        .arg(&journal)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = json(&out);
    assert_eq!(summary["gaps"], 0, "{summary}");
    assert!(summary["levels_applied"].as_u64().unwrap() > 10_000, "{summary}");
    let out = crpbot()
        .args(["replay", "--venue", "coinbase", "--topology", "pair", "--from-journal"])
        .arg(&journal)
        .output()
        .unwrap();
    let r = json(&out);
    assert!(out.status.success(), "{r}");
    assert_eq!(r["first_divergence"], serde_json::Value::Null, "{r}");
    assert_eq!(r["first_decision_divergence"], serde_json::Value::Null, "{r}");
    assert_eq!(r["levels_applied"], summary["levels_applied"], "{r}");
    assert_eq!(r["strategies"], "ofi,scalp");
    assert!(r["events_compared"].as_u64().unwrap() > 10_000, "{r}");
    std::fs::remove_dir_all(&dir).ok();
}
