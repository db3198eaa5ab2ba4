//! The real recordings for tests: `$CRPBOT_DATA_DIR`, else `<repo>/../shared/data`.
#![allow(dead_code)]

use std::path::PathBuf;

/// The data directory, or `None` with the one-line skip message printed.
pub fn data_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("CRPBOT_DATA_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data")),
    };
    if dir.join("binance-spot-l2").is_dir() {
        Some(dir)
    } else {
        println!("skipping: ../shared/data not found (set CRPBOT_DATA_DIR)");
        None
    }
}
