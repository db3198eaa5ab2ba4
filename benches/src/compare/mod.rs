//! Side-by-side comparisons, each in ONE process run on the SAME input, quoted as ratios of
//! medians (these machines are shared and noisy; ratios are stable, absolute figures are not).
//!
//! * [`book_vs_btreemap`]: `crpbot_book::Book` vs the `BTreeMap` reference book, per level
//!   update, on the real recording's depth updates;
//! * [`hop()`]: one-way latency between two threads over rtrb vs crossbeam-channel (bounded) vs
//!   `std::sync::mpsc::sync_channel`;
//! * [`decode()`]: crpbot's Binance decoder vs simd-json alone vs serde_json into typed structs,
//!   per depth message, on the real frames.
//!
//! Each is bounded by a time budget or a message count; with the suggested
//! [`SUGGESTED_BUDGET`] and [`SUGGESTED_HOP_MESSAGES`] all three finish in about 10 s on a
//! 2-core machine (input loading included).

mod book;
mod decode;
mod hop;
mod samples;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use crate::harness::{Comparison, ComparisonEntry};
pub use book::book_vs_btreemap;
pub use decode::decode;
pub use hop::hop;

/// A budget per time-bounded comparison that keeps `crpbot bench --compare` well under a
/// minute on 2 cores.
pub const SUGGESTED_BUDGET: Duration = Duration::from_secs(3);

/// Messages per queue for [`hop()`] (about 0.1–1 s per queue on a loaded 2-core VM).
pub const SUGGESTED_HOP_MESSAGES: usize = 100_000;

/// A comparison could not be run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompareError {
    /// No input files were given.
    #[error("no input files given")]
    NoInputs,
    /// An input file could not be opened or read.
    #[error("cannot read {path}: {error}")]
    Input {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        error: std::io::Error,
    },
    /// The inputs hold no Binance depth updates (after synchronisation).
    #[error("no depth updates in the inputs")]
    NoDepth,
    /// A measuring thread could not be started.
    #[error("cannot spawn a measuring thread: {0}")]
    Spawn(std::io::Error),
    /// A measuring thread panicked.
    #[error("a measuring thread panicked")]
    Panicked,
    /// A histogram could not be created.
    #[error(transparent)]
    Recorder(#[from] crate::harness::RecorderError),
}

/// The Binance spot recordings of `symbol` (e.g. `"btcusdt"`) under
/// `<data_dir>/binance-spot-l2`, sorted by name (i.e. by day). Empty if there are none.
///
/// # Examples
/// ```
/// use std::path::Path;
/// let files = crpbot_benches::compare::recordings(Path::new("/nonexistent"), "btcusdt");
/// assert!(files.is_empty());
/// ```
pub fn recordings(data_dir: &Path, symbol: &str) -> Vec<PathBuf> {
    let dir = data_dir.join("binance-spot-l2");
    let prefix = format!("{}_", symbol.to_ascii_lowercase());
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".gz"))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Fails with [`CompareError::Input`] for the first input that cannot be opened, or
/// [`CompareError::NoInputs`] for none.
fn check_inputs(inputs: &[PathBuf]) -> Result<(), CompareError> {
    if inputs.is_empty() {
        return Err(CompareError::NoInputs);
    }
    for path in inputs {
        std::fs::File::open(path)
            .map_err(|error| CompareError::Input { path: path.clone(), error })?;
    }
    Ok(())
}
