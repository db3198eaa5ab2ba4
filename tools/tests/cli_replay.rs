//! `crpbot replay` end to end: the real binary on real and on broken recordings.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{crpbot, data_dir};

use std::io::Write;
use std::path::PathBuf;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("crpbot-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn summary(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let line = stdout.lines().last().expect("one JSON summary line");
    serde_json::from_str(line).unwrap()
}

#[test]
fn replays_the_real_recordings_into_a_bbo_csv() {
    let Some(data) = data_dir() else { return };
    let dir = tmp("real");
    let csv = dir.join("bbo.csv");
    let l2 = data.join("binance-spot-l2");
    let mut cmd = crpbot();
    cmd.args(["replay", "--venue", "binance-spot"]);
    for f in
        ["btcusdt_20240808.gz", "btcusdt_20240809.gz", "ethusdt_20240808.gz", "ethusdt_20240809.gz"]
    {
        cmd.arg("--input").arg(l2.join(f));
    }
    let out = cmd.arg("--bbo-out").arg(&csv).output().unwrap();
    let s = summary(&out);
    for key in [
        "messages",
        "book_updates_applied",
        "stale_dropped",
        "gaps",
        "resyncs",
        "crossed",
        "elapsed_s",
    ] {
        assert!(s.get(key).is_some(), "summary lacks {key}: {s}");
    }
    assert_eq!(s["gaps"], 0);
    assert_eq!(s["crossed"], 0);
    assert_eq!(s["messages"], 179_318);
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("ts_local_ns,ts_exch_ns,symbol,update_id,bid_px,bid_qty,ask_px,ask_qty")
    );
    assert_eq!(lines.count() as u64, s["book_updates_applied"].as_u64().unwrap());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_input_is_counted_with_line_numbers_and_the_replay_goes_on() {
    let dir = tmp("bad");
    let good_depth = r#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1723161255208,"s":"BTCUSDT","U":11,"u":12,"b":[["100.00","1"]],"a":[["101.00","2"]]}}"#;
    let snapshot = r#"{"lastUpdateId":10,"bids":[["99.00","1"]],"asks":[["102.00","1"]]}"#;
    let next_depth = r#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1723161255308,"s":"BTCUSDT","U":13,"u":13,"b":[],"a":[["101.00","0"]]}}"#;
    let plain = dir.join("btcusdt_bad.txt");
    let text = format!(
        "1 {good_depth}\n2 {snapshot}\nthis is garbage\n4 {{\"stream\":\"btcusdt@kline_1m\",\"data\":{{\"e\":\"kline\"}}}}\n5 {{not json\n6 {next_depth}\n"
    );
    std::fs::write(&plain, text).unwrap();
    // A gzip file cut in the middle.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for i in 0..5000 {
        writeln!(enc, "{} {{\"result\":null,\"id\":{i}}}", 1000 + i).unwrap();
    }
    let gz = enc.finish().unwrap();
    let truncated = dir.join("btcusdt_trunc.gz");
    std::fs::write(&truncated, &gz[..gz.len() * 2 / 3]).unwrap();

    let csv = dir.join("bbo.csv");
    let out = crpbot()
        .args(["replay", "--venue", "binance-spot", "--input"])
        .arg(&truncated)
        .arg("--input")
        .arg(&plain)
        .arg("--bbo-out")
        .arg(&csv)
        .output()
        .unwrap();
    let s = summary(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Truncated gzip (1), garbage line 3, unknown stream line 4, bad JSON line 5.
    assert_eq!(s["errors"], 4, "{s}\n{stderr}");
    let issues = s["issues"].as_array().unwrap();
    let lines: Vec<u64> = issues.iter().skip(1).map(|i| i["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [3, 4, 5]);
    assert!(issues[0]["file"].as_str().unwrap().ends_with("btcusdt_trunc.gz"));
    assert!(stderr.contains("btcusdt_bad.txt:3"), "{stderr}");
    // The replay went on: the diff after the bad lines was applied and published.
    assert_eq!(s["book_updates_applied"], 2);
    assert_eq!(s["gaps"], 0);
    let rows = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(rows.lines().count(), 3);
    assert!(rows.ends_with("BTCUSDT,13,100.00,1.00000000,102.00,1.00000000\n"), "{rows}");
    std::fs::remove_dir_all(&dir).ok();
}
