//! Helpers shared by the CLI tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The `crpbot` binary under test.
pub fn crpbot() -> Command {
    Command::new(env!("CARGO_BIN_EXE_crpbot"))
}

/// `$CRPBOT_DATA_DIR`, else `<repo>/../shared/data`; `None` (after one clear line) if the
/// Binance recordings are not there.
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
