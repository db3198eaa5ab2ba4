//! Swing lane (placeholder docs, expanded below).

pub mod analyze;
pub mod backtest;
pub mod candles;
pub mod indicators;
pub mod linalg;
pub mod portfolio;
pub mod rng;
pub mod special;
pub mod ta;
pub mod theories;

pub use analyze::{Analysis, AnalyzeError, AnalyzeOptions, analyze, analyze_with};
pub use backtest::{BacktestError, Costs, Metrics, Report, WalkForward, swing_backtest};
pub use candles::{
    Candle, CandleError, Interval, LoadError, PartialPolicy, ResampleError, Trade,
    candles_from_trades, load_klines, load_trades, locate_data_dir, resample, validate_candles,
};
pub use indicators::{INDICATOR_NAMES, Indicators};
