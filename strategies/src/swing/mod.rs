//! Swing lane (placeholder docs, expanded below).

pub mod candles;
pub mod indicators;
pub mod linalg;
pub mod rng;
pub mod special;
pub mod ta;
pub mod theories;

pub use candles::{
    Candle, CandleError, Interval, LoadError, PartialPolicy, ResampleError, Trade,
    candles_from_trades, load_klines, load_trades, locate_data_dir, resample, validate_candles,
};
pub use indicators::{INDICATOR_NAMES, Indicators};
