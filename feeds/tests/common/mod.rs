//! Shared helpers for the real-data tests.
#![allow(dead_code)]

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
