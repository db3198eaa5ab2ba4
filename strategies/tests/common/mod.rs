//! Shared helpers for the swing tests: locate the real data in place, or skip.
#![allow(dead_code)]

use std::path::PathBuf;

use crpbot_strategies::swing::{Candle, load_klines, locate_data_dir};

/// Path of a file under the data directory, or `None` after printing one clear skip line.
pub fn data_file(rel: &str) -> Option<PathBuf> {
    match locate_data_dir() {
        Some(d) if d.join(rel).is_file() => Some(d.join(rel)),
        _ => {
            eprintln!("SKIP: shared data file {rel} not found (set CRPBOT_DATA_DIR)");
            None
        }
    }
}

/// BTCUSDT 1h candles, or `None` (skip).
pub fn btc_1h() -> Option<Vec<Candle>> {
    data_file("klines/BTCUSDT_1h.csv.gz").map(|p| load_klines(p).expect("load BTC 1h"))
}

/// Read a fixture JSON.
pub fn fixture(name: &str) -> serde_json::Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name);
    let s = std::fs::read_to_string(&p).expect("fixture");
    serde_json::from_str(&s).expect("fixture json")
}

/// Relative closeness with an absolute floor for values near zero.
pub fn close(a: f64, b: f64, rel: f64) -> bool {
    let scale = a.abs().max(b.abs()).max(1e-9);
    (a - b).abs() <= rel * scale || (a - b).abs() <= 1e-9
}
