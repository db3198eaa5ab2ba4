//! One module per subcommand.

pub mod bench;
pub mod demo;
pub mod engine_args;
pub mod from_journal;
pub mod journal;
pub mod operator;
pub mod record;
pub mod replay;
pub mod run;
pub mod signal;
pub mod signals;
pub mod swing;
pub mod trade;

use std::path::PathBuf;

/// `$CRPBOT_DATA_DIR`, else `../shared/data` relative to the current directory, else relative
/// to the source tree (so `cargo run` works from anywhere inside the checkout).
pub fn data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CRPBOT_DATA_DIR") {
        return PathBuf::from(d);
    }
    let cwd = PathBuf::from("../shared/data");
    if cwd.is_dir() {
        return cwd;
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data"))
}
