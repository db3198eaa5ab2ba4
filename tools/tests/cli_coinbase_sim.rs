//! `crpbot run --venue coinbase` end to end against the feeds crate's Coinbase mock exchange
//! (127.0.0.1 only, replaying the real capture with one dropped `l2_data` update), and
//! `crpbot run --venue sim`, whose paced simulator stream must equal `crpbot replay --venue
//! sim` for the same seed and duration.
#![allow(clippy::unwrap_used)] // test code

#[path = "../../feeds/tests/mock_cb/mod.rs"]
mod mock_cb;

use std::process::Command;
use std::time::Duration;

use mock_cb::{CbConfig, Mock, script};

fn crpbot() -> Command {
    Command::new(env!("CARGO_BIN_EXE_crpbot"))
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("crpbot-cli-cb-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn summary(stdout: &[u8]) -> serde_json::Value {
    serde_json::from_str(String::from_utf8_lossy(stdout).lines().last().unwrap()).unwrap()
}

/// The tests of this file run one at a time: each runs a mock exchange and the binary, and on
/// two loaded cores parallel runs starve each other (the mocks pace in real time).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[test]
fn run_coinbase_resyncs_after_a_gap_and_ends_at_the_mocks_top_of_book() {
    let _serial = serial();
    let Some(script) = script() else { return };
    let cfg =
        CbConfig { drop_update: Some(300), pace: Duration::from_micros(500), ..Default::default() };
    let m = Mock::start(script, cfg);
    let dir = tmp("run");
    let csv = dir.join("bbo.csv");
    let out = crpbot()
        .args(["run", "--venue", "coinbase", "--symbols", "BTC-USD,ETH-USD", "--duration", "4"])
        .args(["--status-every", "1", "--ws-url", &m.ws_url(), "--bbo-out"])
        .arg(&csv)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("msg/s")
            && stderr.contains("BTC-USD Synced")
            && stderr.contains("ETH-USD Synced"),
        "{stderr}"
    );
    let st = m.state.lock().unwrap();
    assert!(st.done, "the mock's capture did not finish in 4 s");
    let last_seq = st.last_seq.clone();
    drop(st);
    let text = std::fs::read_to_string(&csv).unwrap();
    for p in ["BTC-USD", "ETH-USD"] {
        let last = text.lines().rfind(|l| l.contains(&format!(",{p},"))).unwrap();
        let (bids, asks) = m.book(p).sides();
        let top = format!(
            ",{p},{},{},{},{},{}",
            last_seq[p],
            script.px.format(bids[0].0),
            script.qty.format(bids[0].1),
            script.px.format(asks[0].0),
            script.qty.format(asks[0].1)
        );
        assert!(last.ends_with(&top), "{last} vs {top}");
    }
    let s = summary(&out.stdout);
    assert_eq!((s["gaps"].as_u64(), s["reconnects"].as_u64()), (Some(1), Some(1)), "{s}");
    assert_eq!(s["resyncs"].as_u64(), Some(2), "{s}");
    assert_eq!(s["snapshots"].as_u64(), Some(4), "{s}");
    println!("crpbot run --venue coinbase: {s}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn run_sim_streams_the_same_books_as_replay_sim() {
    let _serial = serial();
    let dir = tmp("sim");
    let (a, b) = (dir.join("run.csv"), dir.join("replay.csv"));
    let out = crpbot()
        .args(["run", "--venue", "sim", "--seed", "3", "--duration", "1.5"])
        .args(["--status-every", "0.5", "--bbo-out"])
        .arg(&a)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("msg/s") && stderr.contains("BTC-SIM Synced"), "{stderr}");
    let s = summary(&out.stdout);
    assert_eq!(s["snapshots"].as_u64(), Some(4), "{s}");
    let out2 = crpbot()
        .args(["replay", "--venue", "sim", "--seed", "3", "--duration", "1", "--bbo-out"])
        .arg(&b)
        .output()
        .unwrap();
    assert!(out2.status.success(), "{}", String::from_utf8_lossy(&out2.stderr));
    let (ra, rb) = (std::fs::read_to_string(&a).unwrap(), std::fs::read_to_string(&b).unwrap());
    // `run` went on for 1.5 simulated seconds: its first second equals the replay's.
    let rb: Vec<&str> = rb.lines().collect();
    let ra: Vec<&str> = ra.lines().take(rb.len()).collect();
    assert!(rb.len() > 500, "{} rows", rb.len());
    assert!(ra == rb, "run --venue sim differs from replay --venue sim");
    println!("crpbot run --venue sim: {} rows equal to replay's first second; {s}", rb.len());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn record_coinbase_then_replay_ends_at_the_mocks_top_of_book() {
    let _serial = serial();
    let Some(script) = script() else { return };
    let cfg =
        CbConfig { drop_update: Some(300), pace: Duration::from_micros(500), ..Default::default() };
    let m = Mock::start(script, cfg);
    let dir = tmp("record");
    let rec_dir = dir.join("rec");
    let out = crpbot()
        .args(["record", "--venue", "coinbase", "--symbols", "BTC-USD,ETH-USD", "--duration", "4"])
        .args(["--ws-url", &m.ws_url(), "--out"])
        .arg(&rec_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let st = m.state.lock().unwrap();
    assert!(st.done, "the mock's capture did not finish in 4 s");
    let last_seq = st.last_seq.clone();
    drop(st);
    let files: Vec<_> = std::fs::read_dir(&rec_dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1, "one file per venue and UTC day: {files:?}");
    let csv = dir.join("bbo.csv");
    let out = crpbot()
        .args(["replay", "--venue", "coinbase", "--input"])
        .arg(&files[0])
        .arg("--bbo-out")
        .arg(&csv)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let s = summary(&out.stdout);
    // The recording holds the dropped update's gap, then the new connection's snapshots.
    assert_eq!(s["errors"], 0, "{s}");
    assert_eq!(s["gaps"], 1, "{s}");
    assert_eq!(s["crossed"], 0, "{s}");
    let text = std::fs::read_to_string(&csv).unwrap();
    for p in ["BTC-USD", "ETH-USD"] {
        let last = text.lines().rfind(|l| l.contains(&format!(",{p},"))).unwrap();
        let (bids, asks) = m.book(p).sides();
        let top = format!(
            ",{p},{},{},{},{},{}",
            last_seq[p],
            script.px.format(bids[0].0),
            script.qty.format(bids[0].1),
            script.px.format(asks[0].0),
            script.qty.format(asks[0].1)
        );
        assert!(last.ends_with(&top), "{last} vs {top}");
    }
    println!("crpbot record + replay --venue coinbase: {s}");
    std::fs::remove_dir_all(&dir).ok();
}
