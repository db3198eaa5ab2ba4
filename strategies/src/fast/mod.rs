//! The fast lane: streaming, allocation-free signals on book and trade events, and the
//! strategies built on them.
//!
//! # Signals
//! * [`OfiTracker`]: multi-level order-flow imbalance (Cont–Kukanov–Stoikov), per event and
//!   over a rolling window;
//! * [`TradeFlow`]: session and rolling VWAP, aggressive buy/sell pressure, volume rates and
//!   whale trades; [`LevelWhales`]: whale orders resting in the book;
//! * [`VolumeProfile`]: POC, value area, high/low volume nodes over fixed price buckets;
//! * [`price_impact`]: the cost of a market order of a given size;
//! * microprice, spread and depth imbalance straight from [`crpbot_book::Book`];
//! * [`InstrumentSignals`] / [`SignalBank`] tie them together into a `Copy` [`Signals`]
//!   snapshot per instrument.
//!
//! Every rolling window is a [`BucketWindow`]: a ring of time buckets allocated at
//! construction, with exact integer sums.
//!
//! Invariant: after construction nothing here allocates, locks, logs or reads a clock; time
//! comes from event timestamps. Boundary: reads books and trades, emits order intents; never
//! reaches risk configuration.

mod flow;
mod ofi;
mod profile;
mod signals;
mod window;

pub use flow::{FlowAcc, LevelWhales, TradeFlow, TradeFlowParams, VolAcc};
pub use ofi::{MAX_OFI_LEVELS, OfiAcc, OfiTracker, ofi_between, ofi_level_side};
pub use profile::{ValueArea, VolumeProfile};
pub use signals::{
    InstrumentSignals, PriceImpact, SignalBank, SignalConfig, Signals, price_impact,
};
pub use window::{Acc, BucketWindow};
