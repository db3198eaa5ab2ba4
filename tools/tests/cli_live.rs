//! `crpbot run` and `crpbot record` end to end against the feeds crate's local mock exchange
//! (127.0.0.1 only), and the clear failure when the venue cannot be reached.
#![allow(clippy::unwrap_used)] // test code

#[path = "../../feeds/tests/mock/mod.rs"]
mod mock;

use std::process::Command;

use mock::{Mock, MockConfig, script};

fn crpbot() -> Command {
    Command::new(env!("CARGO_BIN_EXE_crpbot"))
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("crpbot-cli-live-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The mock's best bid and ask as CSV text (`bid_px,bid_qty,ask_px,ask_qty`).
fn mock_top(m: &Mock) -> String {
    let b = m.book();
    let (bids, asks) = b.sides();
    let s = m.script;
    format!(
        "{},{},{},{}",
        s.px.format(bids[0].0.0),
        s.qty.format(bids[0].1.0),
        s.px.format(asks[0].0.0),
        s.qty.format(asks[0].1.0)
    )
}

/// The tests of this file run one at a time: each runs a mock exchange and the binary, and on
/// two loaded cores parallel runs starve each other (the mocks pace in real time).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[test]
fn run_writes_the_bbo_csv_of_the_live_book_and_record_replays() {
    let _serial = serial();
    let Some(script) = script() else { return };
    let cfg = MockConfig {
        limit_frames: Some(6_000),
        drop_every: Some(150),
        await_snapshot_after_drop: true,
        pace: Some(std::time::Duration::from_millis(5)),
        ..Default::default()
    };
    let m = Mock::start(script, cfg);
    let dir = tmp("run");
    let csv = dir.join("bbo.csv");
    let out = crpbot()
        .args(["run", "--venue", "binance-spot", "--symbols", "BTCUSDT", "--duration", "3"])
        .args(["--status-every", "1", "--ws-url", &m.ws_url(), "--rest-url", &m.rest_url()])
        .arg("--bbo-out")
        .arg(&csv)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("msg/s") && stderr.contains("BTCUSDT Synced"), "{stderr}");
    let st = m.state.lock().unwrap();
    assert!(st.done, "the mock's script did not finish in 3 s");
    let last_u = st.last_u;
    drop(st);
    let text = std::fs::read_to_string(&csv).unwrap();
    let last = text.lines().last().unwrap();
    assert!(
        last.contains(&format!(",BTCUSDT,{last_u},")),
        "{last}\n{stderr}\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(last.ends_with(&mock_top(&m)), "{last} vs {}", mock_top(&m));
    let summary: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
    assert!(summary["gaps"].as_u64().unwrap() >= 1, "{summary}");
    assert_eq!(summary["gaps"], summary["resyncs"]);
    drop(m);

    // Record the same stream, then replay the recording to the same final best bid/ask.
    let m = Mock::start(
        script,
        MockConfig {
            limit_frames: Some(6_000),
            pace: Some(std::time::Duration::from_millis(5)),
            ..Default::default()
        },
    );
    let rec = tmp("rec");
    let out = crpbot()
        .args(["record", "--venue", "binance-spot", "--symbols", "BTCUSDT", "--duration", "3"])
        .args(["--ws-url", &m.ws_url(), "--rest-url", &m.rest_url(), "--out"])
        .arg(&rec)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let files: Vec<_> = std::fs::read_dir(&rec).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1);
    let csv2 = rec.join("replay.csv");
    let out = crpbot()
        .args(["replay", "--venue", "binance-spot", "--input"])
        .arg(&files[0])
        .arg("--bbo-out")
        .arg(&csv2)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let replayed = std::fs::read_to_string(&csv2).unwrap();
    let last = replayed.lines().last().unwrap();
    assert!(
        last.ends_with(&mock_top(&m)),
        "{last} vs {} ({:?})",
        mock_top(&m),
        m.state.lock().unwrap().last_u
    );
    std::fs::remove_dir_all(&dir).ok();
    std::fs::remove_dir_all(&rec).ok();
}

/// `record --journal`: raw frames, snapshots and market events into a journal that verifies, and
/// whose raw frames re-decode to exactly its market events (with a gap and its resync inside).
#[test]
fn record_journals_frames_and_events_that_replay_identically() {
    let _serial = serial();
    let Some(script) = script() else { return };
    let m = Mock::start(
        script,
        MockConfig {
            limit_frames: Some(4_000),
            drop_every: Some(150),
            await_snapshot_after_drop: true,
            pace: Some(std::time::Duration::from_millis(5)),
            ..Default::default()
        },
    );
    let dir = tmp("rec-journal");
    let journal = dir.join("journal");
    let out = crpbot()
        .args(["record", "--venue", "binance-spot", "--symbols", "BTCUSDT", "--duration", "3"])
        .args(["--ws-url", &m.ws_url(), "--rest-url", &m.rest_url(), "--journal"])
        .arg(&journal)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let summary: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
    let records = summary["journal_records"].as_u64().unwrap();
    let messages = summary["messages"].as_u64().unwrap();
    assert!(messages > 100 && records > messages, "{summary}");
    assert!(summary.get("files").is_none(), "no --out, no files: {summary}");
    drop(m);

    let verify = crpbot().args(["journal", "verify"]).arg(&journal).output().unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));

    let replay = crpbot()
        .args(["replay", "--venue", "binance-spot", "--from-journal"])
        .arg(&journal)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&replay.stdout);
    let r: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert!(replay.status.success(), "{r}\n{}", String::from_utf8_lossy(&replay.stderr));
    assert_eq!(r["first_divergence"], serde_json::Value::Null, "{r}");
    // Every websocket frame and every REST snapshot was journaled.
    let frames = r["journal_frames"].as_u64().unwrap();
    assert_eq!(frames, messages + summary["snapshots"].as_u64().unwrap(), "{r} vs {summary}");
    assert!(r["events_compared"].as_u64().unwrap() > 100, "{r}");
    assert!(r["gaps"].as_u64().unwrap() >= 1, "the drops are in the journal: {r}");

    // --no-raw: market events only; nothing to re-decode.
    let m = Mock::start(
        script,
        MockConfig {
            limit_frames: Some(500),
            pace: Some(std::time::Duration::from_millis(2)),
            ..Default::default()
        },
    );
    let events_only = dir.join("events-only");
    let out = crpbot()
        .args(["record", "--venue", "binance-spot", "--symbols", "BTCUSDT", "--duration", "2"])
        .args(["--ws-url", &m.ws_url(), "--rest-url", &m.rest_url(), "--no-raw", "--journal"])
        .arg(&events_only)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dump = crpbot().args(["journal", "stats"]).arg(&events_only).output().unwrap();
    let stats: serde_json::Value = serde_json::from_slice(&dump.stdout).unwrap();
    assert!(dump.status.success(), "{stats}");
    assert!(stats["per_type"].get("raw_frame").is_none(), "{stats}");
    assert!(stats["per_type"]["market"].as_u64().unwrap() > 0, "{stats}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn unreachable_venue_fails_with_a_clear_message() {
    let _serial = serial();
    // A port nothing listens on (bound, then closed).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = crpbot()
        .args(["run", "--venue", "binance-spot", "--symbols", "BTCUSDT", "--duration", "30"])
        .args(["--ws-url", &format!("ws://127.0.0.1:{port}")])
        .args(["--rest-url", &format!("http://127.0.0.1:{port}")])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("cannot connect to ws://127.0.0.1:"), "{stderr}");
}
