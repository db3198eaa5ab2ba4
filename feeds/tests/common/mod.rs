//! Shared helpers for the real-data tests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

/// `$CRPBOT_DATA_DIR`, else `<repo>/../shared/data`; `None` (after one clear line) if absent.
pub fn data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("CRPBOT_DATA_DIR").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data"))
    });
    if dir.join("binance-spot-l2").is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping: real data not found at {} (set CRPBOT_DATA_DIR)", dir.display());
        None
    }
}

/// The four Binance spot recordings, BTC then ETH, each in day order.
pub fn binance_spot_files(dir: &std::path::Path) -> Vec<PathBuf> {
    ["btcusdt_20240808.gz", "btcusdt_20240809.gz", "ethusdt_20240808.gz", "ethusdt_20240809.gz"]
        .iter()
        .map(|f| dir.join("binance-spot-l2").join(f))
        .collect()
}

/// Every line of a recording as (ts_local_ns, payload bytes), loaded once, untimed.
pub fn load_lines(path: &std::path::Path) -> Vec<(i64, Vec<u8>)> {
    let mut rec = crpbot_feeds::recording::Recording::open(path).expect("open recording");
    let mut out = Vec::new();
    while let Some(line) = rec.next() {
        let line = line.expect("clean recording");
        out.push((line.ts_local_ns, line.payload.to_vec()));
    }
    out
}
